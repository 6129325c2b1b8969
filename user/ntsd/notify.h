/* The service manager's readiness protocol (sd_notify(3)): READY once the listeners accept,
 * RELOADING around a reload, STOPPING on the way out, STATUS lines, and the watchdog keep-alive.
 * Every call does nothing when ntsd was not started by systemd (no NOTIFY_SOCKET).
 */
#ifndef NTS_NTSD_NOTIFY_H
#define NTS_NTSD_NOTIFY_H

#include <sys/types.h>

#include "ntsd/daemon.h"

/* Under systemd, a loop tick sends WATCHDOG=1 at half of WATCHDOG_USEC when the unit sets
 * WatchdogSec= (so a stuck loop, not just a dead process, gets ntsd restarted) and a STATUS= line
 * with the live allocations, at least every 10 s. 0 or -errno. */
int ntsd_notify_start(struct ntsd *d);
/* READY=1 with a STATUS= line (the listeners, or what a reload did). */
void ntsd_notify_ready(const char *status);
/* RELOADING=1 with MONOTONIC_USEC=, as Type=notify-reload expects; READY=1 ends it. */
void ntsd_notify_reloading(void);
/* STOPPING=1 with a STATUS= line. */
void ntsd_notify_stopping(const char *status);
/* MAINPID= (this process) and READY=1: an upgrade's new ntsd confirms it serves the service.
 * 0 (also without NOTIFY_SOCKET) or -errno. */
int ntsd_notify_mainpid(void);
/* MAINPID=pid from the main process an upgrade replaces, before it lets the new one go: systemd
 * then takes the new one's messages (NotifyAccess=main) and never sees the service's main
 * process end. 0 (also without NOTIFY_SOCKET) or -errno. */
int ntsd_notify_handed_over(pid_t pid);
/* STATUS= and ERRNO= for a start that failed (rc is -errno). */
void ntsd_notify_failed(int rc);

#endif
