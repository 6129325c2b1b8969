/* The handover channel of an upgrade: see upgrade_priv.h. */
#include "ntsd/upgrade_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
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

pid_t ntsd_up_spawn(struct ntsd *d, const char *bin, int child_sock)
{
	char env[32];
	sigset_t none;
	pid_t pid = fork();

	if (pid != 0)
		return pid < 0 ? -errno : pid;
	/* The child: the new ntsd, with the same command line and the handover socket. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	fcntl(child_sock, F_SETFD, 0);
	snprintf(env, sizeof(env), "%d", child_sock);
	setenv(NTSD_UPGRADE_ENV, env, 1);
	execv(bin, d->argv);
	_exit(127);
}

void ntsd_up_reap(pid_t pid, char *why, size_t len)
{
	int st = 0;

	kill(pid, SIGKILL);
	if (waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 127)
		snprintf(why, len, "it could not be executed");
	else if (WIFEXITED(st))
		snprintf(why, len, "it exited with status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st) && WTERMSIG(st) != SIGKILL)
		snprintf(why, len, "it was killed by %s", strsignal(WTERMSIG(st)));
}
