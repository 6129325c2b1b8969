/* sd_notify(3) for ntsd; see notify.h. libsystemd reads NOTIFY_SOCKET on each call, so this file
 * keeps no state of its own: without the variable every call returns at once.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "ntsd/notify.h"
#include "ntsd/workers.h"
#include "util/log.h"

#define NOTIFY_STATUS_MS 10000 /* STATUS= refresh when no watchdog asks for a shorter period */

/* The keep-alive, when the unit asks for one, and a STATUS= line with the live allocations, which
 * `systemctl status ntsd` shows. */
static void notify_tick(void *arg, uint64_t now_ms)
{
	struct ntsd *d = arg;
	struct nts_stats st;
	uint64_t usec = 0;

	ntsd_stats_sum(d, &st); /* every relay worker's */
	sd_notifyf(0, "%sSTATUS=serving, allocations: %llu",
		   sd_watchdog_enabled(0, &usec) > 0 ? "WATCHDOG=1\n" : "",
		   (unsigned long long)st.allocations_current);
}

int ntsd_notify_start(struct ntsd *d)
{
	uint64_t usec = 0;
	uint64_t ms = NOTIFY_STATUS_MS;
	int rc;

	if (!getenv("NOTIFY_SOCKET"))
		return 0; /* not under systemd: nothing to tell */
	rc = sd_watchdog_enabled(0, &usec);
	if (rc < 0)
		return rc;
	if (rc > 0) {
		/* Half the period, as sd_watchdog_enabled(3) recommends; a 1 ms floor keeps the
		 * tick valid for absurdly short settings. */
		ms = usec / 2000;
		if (ms == 0)
			ms = 1;
		if (ms > NOTIFY_STATUS_MS)
			ms = NOTIFY_STATUS_MS;
		log_info("systemd watchdog: %llu ms, keep-alive every %llu ms",
			 (unsigned long long)(usec / 1000), (unsigned long long)ms);
	}
	return loop_add_tick(d->loop, (uint32_t)ms, notify_tick, d);
}

void ntsd_notify_ready(const char *status)
{
	sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

void ntsd_notify_reloading(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	sd_notifyf(0, "RELOADING=1\nSTATUS=reloading\nMONOTONIC_USEC=%llu",
		   (unsigned long long)ts.tv_sec * 1000000ull +
		       (unsigned long long)ts.tv_nsec / 1000ull);
}

void ntsd_notify_stopping(const char *status)
{
	sd_notifyf(0, "STOPPING=1\nSTATUS=%s", status);
}

int ntsd_notify_mainpid(void)
{
	int rc = sd_notifyf(0, "MAINPID=%d\nREADY=1", (int)getpid());

	return rc < 0 ? rc : 0;
}

int ntsd_notify_handed_over(pid_t pid)
{
	int rc = sd_notifyf(0, "MAINPID=%d\nSTATUS=upgraded: pid %d serves", (int)pid, (int)pid);

	return rc < 0 ? rc : 0;
}

void ntsd_notify_failed(int rc)
{
	sd_notifyf(0, "STATUS=start failed: %s\nERRNO=%d", strerror(-rc), -rc);
}
