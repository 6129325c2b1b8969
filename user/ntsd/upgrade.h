/* Upgrading without dropping calls (docs/architecture.md): the running ntsd starts a new binary
 * and hands it its sockets (SCM_RIGHTS) and its state (the checked record stream of
 * user/util/tlv.h) over a Unix socketpair; the new one rebuilds, confirms and serves.
 */
#ifndef NTS_NTSD_UPGRADE_H
#define NTS_NTSD_UPGRADE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ntsd/daemon.h"
#include "util/tlv.h"

#define NTSD_UPGRADE_ENV "NTS_UPGRADE_FD" /* the handover socket of a new ntsd */
#define NTSD_UPGRADE_TIMEOUT_MS 10000	  /* the new ntsd confirms within this, or it is killed */

/* Registers the "upgrade" control command ({"binary": PATH}, optional). 0 or -errno. */
int ntsd_upgrade_register(struct ntsd *d);
/* SIGUSR2: an upgrade to the default binary, logged. */
void ntsd_upgrade_signal(struct ntsd *d);
/* Keeps the binary found at /proc/self/exe now (the file then at that path is the default new
 * binary; it starts with d->argv, the command line). 0 or -errno. */
int ntsd_upgrade_init(struct ntsd *d);
/* Old side (`ntsctl upgrade`, SIGUSR2): hands everything over to binary (NULL: the default).
 * 0 with *pid set once the new ntsd serves (this one must stop now, its loop is stopped), or
 * -errno with err filled, and this ntsd keeps serving. */
int ntsd_upgrade_start(struct ntsd *d, const char *binary, pid_t *pid, char *err, size_t errlen);
/* New side, before the modules start: when started by an upgrade, receives the sockets and the
 * stream and checks all of it (d->upgrade set). 0 (also when not an upgrade) or -errno. */
int ntsd_upgrade_receive(struct ntsd *d);
/* The number of relay workers whose state the handover being taken carries (1: one loop's
 * stream), or 0 when none is being taken. Without --workers, the new ntsd runs as many. */
unsigned ntsd_upgrade_workers(const struct ntsd *d);
/* New side, once auth, net and turn exist: adopts the listeners, the control socket, the nonce
 * key, TURN's state and the counters. 0 or -errno. */
int ntsd_upgrade_adopt(struct ntsd *d);
/* The listening socket of the token API handed over, or -1 (taken by the caller). */
int ntsd_upgrade_take_api_fd(struct ntsd *d);
/* New side, after start (rc its result): restores the fast path's folded counters, confirms to
 * the old ntsd and waits for it to let go, then tells systemd. Returns only when this ntsd is to
 * serve; on any failure it exits at once (status 1), touching nothing the old one still uses. */
void ntsd_upgrade_finish(struct ntsd *d, int rc);
/* Checks a whole stream as the new side would before using it (nfds sockets came with it).
 * 0, -EPROTO (unknown version or mandatory record), -EBADMSG (corrupt or inconsistent). */
int ntsd_upgrade_check(const uint8_t *buf, size_t len, size_t nfds);

#endif
