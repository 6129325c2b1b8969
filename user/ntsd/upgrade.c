/* Upgrading without dropping calls, the process handover: the old ntsd starts the new binary,
 * sends its sockets and the state stream (upgrade_state.c writes and reads it), and waits for the
 * confirmation; the new one receives, checks, adopts and confirms. See upgrade.h and
 * docs/architecture.md for the protocol.
 */
#include "ntsd/upgrade.h"
#include "ntsd/upgrade_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl/ctl.h"
#include "ntsd/notify.h"
#include "ntsd/workers.h"
#include "store/store.h"
#include "util/log.h"

int ntsd_upgrade_init(struct ntsd *d)
{
	ssize_t n = readlink("/proc/self/exe", d->exe, sizeof(d->exe) - 1);

	if (n < 0)
		return -errno;
	d->exe[n] = 0;
	return 0;
}

/* Sends the sockets and the stream, then waits for the new ntsd's confirmation. */
static int up_handover(int sock, pid_t pid, const struct up_fdtab *ft, int memfd, size_t len,
		       char *err, size_t errlen)
{
	struct up_msg m;
	int fds[UP_FDS_PER_MSG];
	size_t n;
	int rc = 0;

	for (size_t i = 0; i < ft->n && !rc; i += UP_FDS_PER_MSG) {
		n = ft->n - i < UP_FDS_PER_MSG ? ft->n - i : UP_FDS_PER_MSG;
		rc = ntsd_up_send(sock, UP_FDS, n, ft->fds + i, n);
	}
	if (!rc)
		rc = ntsd_up_send(sock, UP_STATE, len, &memfd, 1);
	if (rc == -EPIPE || rc == -ECONNRESET) {
		snprintf(err, errlen, "the new ntsd went away during the handover");
		return rc;
	}
	if (rc) {
		snprintf(err, errlen, "cannot send the state: %s", strerror(-rc));
		return rc;
	}
	rc = ntsd_up_recv(sock, nts_monotonic_ms() + NTSD_UPGRADE_TIMEOUT_MS, &m, fds, &n);
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
	if (!rc && m.kind == UP_FAIL) {
		snprintf(err, errlen, "the new ntsd refused the state: %s", strerror((int)m.arg));
		return m.arg && m.arg < 4096 ? -(int)m.arg : -EPROTO;
	}
	if (!rc && m.kind != UP_READY)
		rc = -EPROTO;
	if (rc == -ETIMEDOUT)
		snprintf(err, errlen, "the new ntsd did not confirm within %d s",
			 NTSD_UPGRADE_TIMEOUT_MS / 1000);
	else if (rc == -EPIPE)
		snprintf(err, errlen, "the new ntsd went away during the handover");
	else if (rc)
		snprintf(err, errlen, "handover failed: %s", strerror(-rc));
	if (rc)
		return rc;
	/* Under systemd the new ntsd becomes the main process before it may speak: its own
	 * MAINPID= and READY=1 then pass the unit's default NotifyAccess=main, and systemd never
	 * sees the main process exit while the service runs on. */
	if (ntsd_notify_handed_over(pid) < 0)
		log_warn("upgrade: cannot tell systemd the new main pid");
	return ntsd_up_send(sock, UP_GO, 0, NULL, 0);
}

int ntsd_upgrade_start(struct ntsd *d, const char *binary, pid_t *pid, char *err, size_t errlen)
{
	const char *bin = binary && *binary ? binary : d->exe;
	struct nts_tlv_buf b = {0};
	struct up_fdtab ft = {0};
	int sv[2] = {-1, -1}, memfd = -1, rc;
	char why[96] = "";

	*pid = -1;
	if (!bin[0] || access(bin, X_OK) < 0) {
		rc = bin[0] ? -errno : -ENOENT;
		snprintf(err, errlen, "cannot execute %s: %s", bin[0] ? bin : "(no binary)",
			 strerror(-rc));
		return rc;
	}
	/* Relay workers stay parked from here: handed over, they stop without reading again. */
	ntsd_workers_pause(d);
	/* Nothing pending stays behind: kernel counters folded, usage written. */
	ntsd_fold_fastpath(d);
	rc = ntsd_up_encode(d, &b, &ft);
	if (rc) {
		snprintf(err, errlen, "cannot encode the state: %s", strerror(-rc));
		goto out;
	}
	ntsd_usage_accrue(d);
	if (d->store && (rc = store_usage_flush(d->store)) < 0) {
		snprintf(err, errlen, "cannot write pending usage to the database: %s",
			 strerror(-rc));
		goto out;
	}
	memfd = ntsd_up_memfd(&b);
	if (memfd < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		rc = memfd < 0 ? memfd : -errno;
		snprintf(err, errlen, "cannot prepare the handover: %s", strerror(-rc));
		goto out;
	}
	*pid = ntsd_up_spawn(d, bin, sv[1]);
	close(sv[1]);
	if (*pid < 0) {
		rc = *pid;
		snprintf(err, errlen, "cannot start %s: %s", bin, strerror(-rc));
		goto out;
	}
	log_info("upgrade: handing %zu sockets and %zu bytes of state to %s (pid %d)", ft.n, b.len,
		 bin, (int)*pid);
	rc = up_handover(sv[0], *pid, &ft, memfd, b.len, err, errlen);
	if (rc) {
		ntsd_up_reap(*pid, why, sizeof(why));
		if (why[0])
			snprintf(err + strlen(err), errlen - strlen(err), " (%s)", why);
		*pid = -1;
		goto out;
	}
	/* The new ntsd serves now: the socket file is its, and this one stops. */
	ctl_server_keep_path(d->ctl);
	d->handed_over = true;
	loop_stop(d->loop);
out:
	if (rc)
		ntsd_workers_resume(d);
	if (sv[0] >= 0)
		close(sv[0]);
	if (memfd >= 0)
		close(memfd);
	free(ft.fds);
	nts_tlv_free(&b);
	return rc;
}

static int up_read_state(struct ntsd_upgrade *u, int memfd, uint64_t len)
{
	struct stat st;
	size_t off = 0;

	if (fstat(memfd, &st) < 0 || (uint64_t)st.st_size != len ||
	    len > NTS_TLV_HDR_LEN + (uint64_t)NTS_TLV_MAX_BODY)
		return -EBADMSG;
	u->buf = malloc(len ? len : 1);
	if (!u->buf)
		return -ENOMEM;
	while (off < len) {
		ssize_t n = pread(memfd, u->buf + off, len - off, (off_t)off);

		if (n <= 0)
			return n < 0 ? -errno : -EBADMSG;
		off += (size_t)n;
	}
	u->len = len;
	return 0;
}

static int up_receive(struct ntsd_upgrade *u)
{
	uint64_t deadline = nts_monotonic_ms() + NTSD_UPGRADE_TIMEOUT_MS;
	int fds[UP_FDS_PER_MSG];
	struct up_msg m;
	size_t n;
	int rc;

	for (;;) {
		rc = ntsd_up_recv(u->sock, deadline, &m, fds, &n);
		if (rc)
			return rc;
		if (m.kind == UP_STATE && n == 1) {
			rc = up_read_state(u, fds[0], m.arg);
			close(fds[0]);
			return rc;
		}
		if (m.kind != UP_FDS || n != m.arg || n == 0) {
			while (n)
				close(fds[--n]);
			return -EPROTO;
		}
		int *p = realloc(u->fds, (u->nfds + n) * sizeof(*p));

		if (!p) {
			while (n)
				close(fds[--n]);
			return -ENOMEM;
		}
		u->fds = p;
		memcpy(u->fds + u->nfds, fds, n * sizeof(int));
		u->nfds += n;
	}
}

int ntsd_upgrade_receive(struct ntsd *d)
{
	const char *env = getenv(NTSD_UPGRADE_ENV), *flip;
	struct ntsd_upgrade *u;
	char *end;
	long sock;
	int rc;

	if (!env)
		return 0;
	sock = strtol(env, &end, 10);
	unsetenv(NTSD_UPGRADE_ENV);
	if (*end || sock < 3 || sock > INT_MAX || fcntl((int)sock, F_SETFD, FD_CLOEXEC) < 0) {
		log_error("upgrade: %s is not a handover socket", NTSD_UPGRADE_ENV);
		return -EBADF;
	}
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->sock = (int)sock;
	u->api_fd = -1;
	d->upgrade = u;
	rc = up_receive(u);
	/* Tests corrupt one byte here to see a damaged stream refused. */
	flip = getenv("NTS_UPGRADE_TEST_FLIP");
	if (!rc && flip && strtoul(flip, NULL, 10) < u->len)
		u->buf[strtoul(flip, NULL, 10)] ^= 0x5a;
	if (!rc)
		rc = ntsd_upgrade_check(u->buf, u->len, u->nfds);
	if (!rc) {
		u->taken = calloc(u->nfds ? u->nfds : 1, 1);
		rc = u->taken ? 0 : -ENOMEM;
	}
	if (rc) {
		const char *why = rc == -EPROTO	   ? "unknown stream version or record"
				  : rc == -EBADMSG ? "corrupt stream"
						   : strerror(-rc);

		log_error("upgrade: refusing the handover: %s", why);
		ntsd_up_send(u->sock, UP_FAIL, (uint64_t)-rc, NULL, 0);
		return rc;
	}
	log_info("upgrade: received %zu sockets and %zu bytes of state", u->nfds, u->len);
	return 0;
}

int ntsd_upgrade_take_api_fd(struct ntsd *d)
{
	int fd = d->upgrade ? d->upgrade->api_fd : -1;

	if (d->upgrade)
		d->upgrade->api_fd = -1;
	return fd;
}

void ntsd_upgrade_finish(struct ntsd *d, int rc)
{
	struct ntsd_upgrade *u = d->upgrade;
	struct up_msg m;
	int fds[UP_FDS_PER_MSG];
	size_t n = 0;

	if (rc) {
		log_error("upgrade: cannot start (%s); the running ntsd keeps serving",
			  strerror(-rc));
		ntsd_up_send(u->sock, UP_FAIL, (uint64_t)-rc, NULL, 0);
		_exit(1); /* nothing torn down: the sockets and maps are still the old ntsd's */
	}
	ntsd_up_restore_folded(d);
	rc = ntsd_up_send(u->sock, UP_READY, (uint64_t)getpid(), NULL, 0);
	if (!rc)
		rc = ntsd_up_recv(u->sock, nts_monotonic_ms() + NTSD_UPGRADE_TIMEOUT_MS, &m, fds,
				  &n);
	while (n)
		close(fds[--n]);
	if (rc || m.kind != UP_GO) {
		log_error("upgrade: the running ntsd did not let go (%s); it keeps serving",
			  rc ? strerror(-rc) : "unexpected message");
		_exit(1);
	}
	/* Sockets no module claimed (none, unless the configuration changed) are closed. */
	for (size_t i = 0; i < u->nfds; i++)
		if (!u->taken[i] && u->fds[i] >= 0 && u->fds[i] != u->api_fd)
			close(u->fds[i]);
	if (u->api_fd >= 0)
		close(u->api_fd);
	close(u->sock);
	rc = ntsd_notify_mainpid();
	if (rc)
		log_warn("upgrade: cannot notify systemd: %s", strerror(-rc));
	log_info("upgrade: serving (pid %d)", (int)getpid());
	free(u->fds);
	free(u->taken);
	free(u->buf);
	free(u);
	d->upgrade = NULL;
}

/* "upgrade" {"binary": PATH}: the reply goes out before this ntsd stops. */
static json_t *up_cmd(void *arg, json_t *args, char *err, size_t errlen)
{
	struct ntsd *d = arg;
	const char *bin = json_string_value(json_object_get(args, "binary"));
	pid_t pid;

	if (ntsd_upgrade_start(d, bin, &pid, err, errlen)) {
		log_warn("upgrade: %s; still serving", err);
		return NULL;
	}
	log_info("upgrade: pid %d serves now; stopping", (int)pid);
	return json_pack("{s:i, s:s}", "pid", (int)pid, "binary", bin && *bin ? bin : d->exe);
}

int ntsd_upgrade_register(struct ntsd *d)
{
	return ctl_register(d->ctl, "upgrade", up_cmd, d);
}

void ntsd_upgrade_signal(struct ntsd *d)
{
	char err[256];
	pid_t pid;

	log_info("SIGUSR2: upgrading to %s", d->exe);
	if (ntsd_upgrade_start(d, NULL, &pid, err, sizeof(err)))
		log_warn("upgrade: %s; still serving", err);
	else
		log_info("upgrade: pid %d serves now; stopping", (int)pid);
}
