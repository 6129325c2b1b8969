/* The handover channel of an upgrade: see upgrade_priv.h. */
#include "ntsd/upgrade_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ntsd/upgrade.h"
#include "util/loop.h"

int ntsd_up_send(int sock, enum up_kind kind, uint64_t arg, const int *fds, size_t nfds)
{
	struct up_msg m = {UP_MAGIC, kind, arg};
	struct iovec iov = {&m, sizeof(m)};
	union {
		char buf[CMSG_SPACE(sizeof(int) * UP_FDS_PER_MSG)];
		struct cmsghdr align;
	} c;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

	if (nfds) {
		struct cmsghdr *cm;

		memset(&c, 0, sizeof(c));
		mh.msg_control = c.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL) == (ssize_t)sizeof(m) ? 0 : -errno;
}

int ntsd_up_recv(int sock, uint64_t deadline_ms, struct up_msg *m, int *fds, size_t *nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * UP_FDS_PER_MSG)];
		struct cmsghdr align;
	} c;
	struct iovec iov = {m, sizeof(*m)};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf, .msg_controllen = sizeof(c)};
	struct pollfd pfd = {.fd = sock, .events = POLLIN};
	uint64_t now;
	ssize_t n;

	*nfds = 0;
	for (;;) {
		now = nts_monotonic_ms();
		if (now >= deadline_ms)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, (int)(deadline_ms - now)) < 0 && errno != EINTR)
			return -errno;
		if (pfd.revents)
			break;
	}
	n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno == ECONNRESET))
		return -EPIPE;
	if (n < 0)
		return errno == EAGAIN ? -ETIMEDOUT : -errno;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			memcpy(fds + *nfds, CMSG_DATA(cm), k * sizeof(int));
			*nfds += k;
		}
	if (n != (ssize_t)sizeof(*m) || m->magic != UP_MAGIC || (mh.msg_flags & MSG_CTRUNC)) {
		for (size_t i = 0; i < *nfds; i++)
			close(fds[i]);
		*nfds = 0;
		return -EPROTO;
	}
	return 0;
}

int ntsd_up_memfd(const struct nts_tlv_buf *b)
{
	int fd = memfd_create("nts-upgrade", MFD_CLOEXEC);
	size_t off = 0;

	if (fd < 0)
		return -errno;
	while (off < b->len) {
		ssize_t n = write(fd, b->p + off, b->len - off);

		if (n <= 0) {
			close(fd);
			return n < 0 ? -errno : -EIO;
		}
		off += (size_t)n;
	}
	return fd;
}

/* The new ntsd is started as a grandchild whose parent exits at once, so that it belongs to init or
 * the nearest subreaper, not to this ntsd: under systemd that is the service manager itself,
 * which supervises a main process that is its own child (MAINPID=) by its exit, and one that is
 * not only by guesswork (a stop then went straight to SIGKILL). The pipe brings back the
 * grandchild's pid, then closes at its exec (O_CLOEXEC) or carries exec's error. */
pid_t ntsd_up_spawn(struct ntsd *d, const char *bin, int child_sock)
{
	int32_t v[2] = {-EIO, 0};
	char env[32];
	sigset_t none;
	size_t got = 0;
	int pfd[2], st;
	pid_t mid, pid;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	mid = fork();
	if (mid < 0) {
		v[0] = -errno;
		close(pfd[0]);
		close(pfd[1]);
		return v[0];
	}
	if (mid == 0) {
		close(pfd[0]);
		pid = fork();
		if (pid != 0) {
			v[0] = pid < 0 ? -errno : pid;
			_exit(write(pfd[1], &v[0], sizeof(v[0])) == sizeof(v[0]) ? 0 : 1);
		}
		/* The new ntsd, with the same command line and the handover socket. */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		/* Not the policy of the thread that started it (a relay loop's with one worker). */
		sched_setscheduler(0, SCHED_OTHER, &(struct sched_param){0});
		fcntl(child_sock, F_SETFD, 0);
		snprintf(env, sizeof(env), "%d", child_sock);
		setenv(NTSD_UPGRADE_ENV, env, 1);
		execv(bin, d->argv);
		v[1] = errno ? -errno : -ENOEXEC;
		_exit(write(pfd[1], &v[1], sizeof(v[1])) == sizeof(v[1]) ? 127 : 126);
	}
	close(pfd[1]);
	while (waitpid(mid, &st, 0) < 0 && errno == EINTR)
		;
	/* The pid, then exec's error if it failed (EOF once it succeeded). */
	while (got < sizeof(v)) {
		ssize_t n = read(pfd[0], (char *)v + got, sizeof(v) - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(pfd[0]);
	if (got < sizeof(v[0]))
		return -EIO;
	if (v[0] > 0 && got == sizeof(v))
		return v[1] < 0 ? v[1] : -ENOEXEC; /* it has exited (127): init reaps it */
	return v[0];
}

void ntsd_up_reap(pid_t pid, char *why, size_t len)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	struct pollfd p;

	kill(pid, SIGKILL);
	if (fd < 0)
		return;
	/* Not this ntsd's child (see ntsd_up_spawn()): init reaps it, and its exit status is
	 * init's; wait (bounded) until it is gone. */
	p = (struct pollfd){.fd = fd, .events = POLLIN};
	poll(&p, 1, 2000);
	close(fd);
}
