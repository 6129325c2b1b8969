/* Socket tuning and batched UDP sends; see sock.h. */
#include "util/sock.h"

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>

#define SOCK_GSO_SEGS 64     /* UDP_MAX_SEGMENTS of older kernels */
#define SOCK_GSO_BYTES 65000 /* a GSO message must fit one IP datagram (65535 - headers) */
#define SOCK_CTL_MAX 64	     /* caller's control data (packet info) merged into a run */
#define SOCK_CTL_OUT (SOCK_CTL_MAX + CMSG_SPACE(sizeof(uint16_t)))

/* The FORCE option ignores net.core.{r,w}mem_max but needs CAP_NET_ADMIN; without it the plain
 * option still raises the buffer up to that limit. */
static int sock_set_one(int fd, int force_opt, int opt, int v)
{
	if (!setsockopt(fd, SOL_SOCKET, force_opt, &v, sizeof(v)))
		return 0;
	if (!setsockopt(fd, SOL_SOCKET, opt, &v, sizeof(v)))
		return 0;
	return -errno;
}

int nts_sock_set_buffers(int fd, uint32_t bytes)
{
	/* The kernel doubles the value it is given (bookkeeping overhead): ask for half. */
	int v = bytes / 2 > INT_MAX ? INT_MAX : (int)(bytes / 2);
	int rc;

	if (!bytes)
		return 0;
	rc = sock_set_one(fd, SO_RCVBUFFORCE, SO_RCVBUF, v);
	if (!rc)
		rc = sock_set_one(fd, SO_SNDBUFFORCE, SO_SNDBUF, v);
	return rc;
}

/* A kernel that predates UDP_SEGMENT (Linux 4.18) would ignore the control message and send one
 * large datagram: only trust GSO where the socket option exists. */
static enum nts_udp_gso sock_gso_probe(int fd)
{
	int v;
	socklen_t l = sizeof(v);

	return getsockopt(fd, SOL_UDP, UDP_SEGMENT, &v, &l) ? NTS_GSO_NO : NTS_GSO_YES;
}

static bool sock_same_dest(const struct msghdr *a, const struct msghdr *b)
{
	return a->msg_namelen == b->msg_namelen && a->msg_controllen == b->msg_controllen &&
	       !memcmp(a->msg_name, b->msg_name, a->msg_namelen) &&
	       (!a->msg_controllen || !memcmp(a->msg_control, b->msg_control, a->msg_controllen));
}

/* How many messages from msgs[i] on form one GSO run: same destination, control data and size,
 * the last one possibly shorter, iovecs adjacent. */
static unsigned sock_run_len(const struct mmsghdr *msgs, unsigned i, unsigned n)
{
	const struct msghdr *h = &msgs[i].msg_hdr;
	size_t seg = h->msg_iov[0].iov_len, total = seg;
	unsigned k = 1;

	if (!seg || h->msg_controllen > SOCK_CTL_MAX)
		return 1;
	while (i + k < n && k < SOCK_GSO_SEGS) {
		const struct msghdr *m = &msgs[i + k].msg_hdr;
		size_t len = m->msg_iov[0].iov_len;

		if (m->msg_iov != h->msg_iov + k || len > seg || !len ||
		    total + len > SOCK_GSO_BYTES || !sock_same_dest(h, m))
			break;
		total += len;
		k++;
		if (len < seg)
			break; /* a shorter datagram ends the run */
	}
	return k;
}

/* Turns the run msgs[i..i+k) into one message whose control data asks for seg-sized segments. */
static void sock_make_run(struct mmsghdr *out, uint8_t *ctl, const struct mmsghdr *msgs, unsigned i,
			  unsigned k)
{
	const struct msghdr *h = &msgs[i].msg_hdr;
	uint16_t seg = (uint16_t)h->msg_iov[0].iov_len;
	struct msghdr tmp = {.msg_control = ctl + h->msg_controllen,
			     .msg_controllen = CMSG_SPACE(sizeof(seg))};
	struct cmsghdr *c;

	memset(ctl, 0, SOCK_CTL_OUT);
	if (h->msg_controllen)
		memcpy(ctl, h->msg_control, h->msg_controllen);
	c = CMSG_FIRSTHDR(&tmp);
	c->cmsg_level = SOL_UDP;
	c->cmsg_type = UDP_SEGMENT;
	c->cmsg_len = CMSG_LEN(sizeof(seg));
	memcpy(CMSG_DATA(c), &seg, sizeof(seg));
	out->msg_hdr = *h;
	out->msg_hdr.msg_iovlen = k;
	out->msg_hdr.msg_control = ctl;
	out->msg_hdr.msg_controllen = h->msg_controllen + CMSG_SPACE(sizeof(seg));
}

/* sendmmsg until done (0), a full socket buffer (-EAGAIN) or an error on a GSO run (its -errno);
 * *at is where it stopped. A failing single datagram is skipped. *sent counts datagrams. */
static int sock_sendmmsg(int fd, struct mmsghdr *m, unsigned n, const unsigned *segs, unsigned *at,
			 unsigned *sent)
{
	unsigned done = 0;
	bool retried = false;
	int rc = 0;

	*sent = 0;
	while (done < n) {
		int r = sendmmsg(fd, m + done, n - done, MSG_DONTWAIT);

		if (r > 0) {
			for (int j = 0; j < r; j++)
				*sent += segs ? segs[done + (unsigned)j] : 1;
			done += (unsigned)r;
			retried = false;
		} else if (r < 0 && errno == EINTR) {
			continue;
		} else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
			rc = -EAGAIN;
			break;
		} else if (segs && segs[done] > 1) {
			rc = r < 0 ? -errno : -EIO;
			break;
		} else if (!retried) {
			/* With IP_RECVERR (relay sockets, RFC 8656 §11) an ICMP error about an
			 * earlier datagram fails the next send once, with its errno: try this one
			 * again. */
			retried = true;
		} else {
			done++; /* EMSGSIZE under DONT-FRAGMENT, unreachable destination...: skip */
			retried = false;
		}
	}
	*at = done;
	return rc;
}

unsigned nts_udp_send_batch(int fd, struct mmsghdr *msgs, unsigned n, enum nts_udp_gso *gso)
{
	struct mmsghdr out[NTS_UDP_SEND_MAX];
	uint8_t ctl[NTS_UDP_SEND_MAX][SOCK_CTL_OUT] __attribute__((aligned(8)));
	unsigned first[NTS_UDP_SEND_MAX], segs[NTS_UDP_SEND_MAX], nout = 0, sent = 0, off = 0;

	if (n > NTS_UDP_SEND_MAX)
		n = NTS_UDP_SEND_MAX;
	if (*gso == NTS_GSO_UNKNOWN)
		*gso = sock_gso_probe(fd);
	if (*gso != NTS_GSO_YES) {
		sock_sendmmsg(fd, msgs, n, NULL, &off, &sent);
		return sent;
	}
	for (unsigned i = 0; i < n; i += segs[nout++]) {
		segs[nout] = sock_run_len(msgs, i, n);
		first[nout] = i;
		if (segs[nout] > 1)
			sock_make_run(&out[nout], ctl[nout], msgs, i, segs[nout]);
		else
			out[nout] = msgs[i];
	}
	while (off < nout) {
		unsigned at, part;
		int rc = sock_sendmmsg(fd, out + off, nout - off, segs + off, &at, &part);

		sent += part;
		off += at;
		if (rc == 0 || rc == -EAGAIN)
			break; /* done, or the buffer is full: drop the rest, as a router would */
		/* The kernel refused this run (a segment over the path MTU, no GSO on this route):
		 * send its datagrams one by one, and stop asking if GSO itself is unavailable. */
		if (rc == -EIO || rc == -ENOPROTOOPT || rc == -EOPNOTSUPP)
			*gso = NTS_GSO_NO;
		rc = sock_sendmmsg(fd, msgs + first[off], segs[off], NULL, &at, &part);
		sent += part;
		if (rc == -EAGAIN)
			break;
		off++;
	}
	return sent;
}
