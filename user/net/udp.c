/* UDP listeners: recvmmsg batches in, replies queued per socket and sent with sendmmsg when the
 * loop iteration ends. Wildcard binds use IP_PKTINFO / IPV6_RECVPKTINFO so each message knows the
 * concrete local address it reached, and the reply leaves from that same address. UDP_GRO lets
 * the kernel hand over a run of same-sized datagrams of one flow as one buffer, split here; a run
 * of same-sized replies to one client leaves as one GSO message.
 */
#include "net/net_priv.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/log.h"
#include "util/sock.h"

_Static_assert(NET_UDP_SENDQ <= NTS_UDP_SEND_MAX, "a flush is one nts_udp_send_batch()");

#define UDP_CMSG_SPACE                                                                             \
	(CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(struct in_pktinfo)) +          \
	 CMSG_SPACE(sizeof(int)))

/* A listener's recvmmsg ring, set up once: after a read only what the kernel changed in the
 * entries it filled is reset. */
struct net_udp_rx {
	struct mmsghdr msgs[NET_UDP_BATCH];
	struct iovec iovs[NET_UDP_BATCH];
	struct sockaddr_storage peers[NET_UDP_BATCH];
	uint8_t ctl[NET_UDP_BATCH][UDP_CMSG_SPACE] __attribute__((aligned(8)));
	uint8_t buf[NET_UDP_BATCH][NET_UDP_BUF];
};

static struct net_udp_rx *udp_rx_new(void)
{
	struct net_udp_rx *rx = malloc(sizeof(*rx));

	if (!rx)
		return NULL;
	for (int i = 0; i < NET_UDP_BATCH; i++) {
		rx->iovs[i] = (struct iovec){rx->buf[i], sizeof(rx->buf[i])};
		rx->msgs[i].msg_hdr = (struct msghdr){.msg_name = &rx->peers[i],
						      .msg_namelen = sizeof(rx->peers[i]),
						      .msg_iov = &rx->iovs[i],
						      .msg_iovlen = 1,
						      .msg_control = rx->ctl[i],
						      .msg_controllen = sizeof(rx->ctl[i])};
	}
	return rx;
}

/* Reads the destination address of a received datagram from its packet-info control message and
 * the segment size of a GRO batch (0: a single datagram). */
static void udp_parse_cmsg(const struct net_udp *u, struct msghdr *mh, struct nts_addr *local,
			   size_t *seg)
{
	*local = u->local;
	*seg = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
			int v;
			memcpy(&v, CMSG_DATA(c), sizeof(v));
			*seg = v > 0 ? (size_t)v : 0;
		} else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			memcpy(local->ip, &pi.ipi_addr, 4);
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			memcpy(local->ip, &pi.ipi6_addr, 16);
		}
	}
}

/* Fills a control message that makes the kernel send from `from` (wildcard sockets only). */
static size_t udp_put_src_cmsg(const struct net_udp *u, const struct nts_addr *from, uint8_t *ctl,
			       size_t cap)
{
	struct msghdr mh = {.msg_control = ctl, .msg_controllen = cap};
	struct cmsghdr *c;

	if (!u->wildcard || from->family != u->local.family || nts_addr_is_any(from))
		return 0;
	memset(ctl, 0, cap);
	c = CMSG_FIRSTHDR(&mh);
	if (from->family == AF_INET) {
		struct in_pktinfo pi = {0};
		memcpy(&pi.ipi_spec_dst, from->ip, 4);
		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		return CMSG_SPACE(sizeof(pi));
	}
	struct in6_pktinfo pi6 = {0};
	memcpy(&pi6.ipi6_addr, from->ip, 16);
	c->cmsg_level = IPPROTO_IPV6;
	c->cmsg_type = IPV6_PKTINFO;
	c->cmsg_len = CMSG_LEN(sizeof(pi6));
	memcpy(CMSG_DATA(c), &pi6, sizeof(pi6));
	return CMSG_SPACE(sizeof(pi6));
}

static void udp_on_readable(void *arg, int fd, uint32_t events)
{
	struct net_udp *u = arg;
	struct net_udp_rx *rx = u->rx;
	struct mmsghdr *msgs = rx->msgs;

	/* Bounded work per wakeup so one busy socket cannot starve the others (level-triggered). */
	for (int round = 0; round < 4; round++) {
		int n = recvmmsg(fd, msgs, NET_UDP_BATCH, MSG_DONTWAIT, NULL);

		if (n <= 0) {
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				log_debug("udp recvmmsg: %s", strerror(errno));
			return;
		}
		for (int i = 0; i < n; i++) {
			struct nts_origin o = {.transport = NTS_UDP, .fd = fd};
			struct msghdr *mh = &msgs[i].msg_hdr;
			const uint8_t *p = rx->buf[i];
			size_t left = msgs[i].msg_len, seg;
			int bad =
			    mh->msg_flags & MSG_TRUNC ||
			    nts_addr_from_sockaddr(&o.client, (struct sockaddr *)&rx->peers[i]);

			udp_parse_cmsg(u, mh, &o.server, &seg);
			/* The kernel shrank these to what it wrote: restore them. */
			mh->msg_namelen = sizeof(rx->peers[i]);
			mh->msg_controllen = sizeof(rx->ctl[i]);
			if (bad) {
				u->n->stats->udp_dropped_malformed++;
				continue;
			}
			if (!seg || seg > left)
				seg = left;
			/* A GRO batch: datagrams of seg bytes, the last one possibly shorter. */
			do {
				size_t len = left < seg ? left : seg;

				net_dispatch(&u->n->dispatch, &o, p, len);
				p += len;
				left -= len;
			} while (left);
		}
		if (n < NET_UDP_BATCH)
			return;
	}
}

static int udp_sendmsg_now(struct net_udp *u, const struct nts_addr *to,
			   const struct nts_addr *from, const struct iovec *iov, int iovcnt)
{
	struct sockaddr_storage ss;
	uint8_t ctl[UDP_CMSG_SPACE] __attribute__((aligned(8)));
	struct msghdr mh = {.msg_name = &ss, .msg_iov = (struct iovec *)iov, .msg_iovlen = iovcnt};

	mh.msg_namelen = nts_addr_to_sockaddr(to, &ss);
	mh.msg_controllen = udp_put_src_cmsg(u, from, ctl, sizeof(ctl));
	mh.msg_control = mh.msg_controllen ? ctl : NULL;
	if (sendmsg(u->fd, &mh, MSG_DONTWAIT) < 0)
		return -errno;
	return 0;
}

void net_udp_flush(struct net_udp *u)
{
	struct mmsghdr msgs[NET_UDP_SENDQ];
	struct iovec iovs[NET_UDP_SENDQ];
	struct sockaddr_storage to[NET_UDP_SENDQ];
	uint8_t ctl[NET_UDP_SENDQ][UDP_CMSG_SPACE] __attribute__((aligned(8)));

	if (!u->nq)
		return;
	for (unsigned i = 0; i < u->nq; i++) {
		struct net_udp_pending *p = &u->q[i];
		size_t cl = udp_put_src_cmsg(u, &p->from, ctl[i], sizeof(ctl[i]));
		iovs[i] = (struct iovec){p->data, p->len};
		msgs[i].msg_hdr =
		    (struct msghdr){.msg_name = &to[i],
				    .msg_namelen = nts_addr_to_sockaddr(&p->to, &to[i]),
				    .msg_iov = &iovs[i],
				    .msg_iovlen = 1,
				    .msg_control = cl ? ctl[i] : NULL,
				    .msg_controllen = cl};
	}
	nts_udp_send_batch(u->fd, msgs, u->nq, &u->gso);
	u->nq = 0;
}

int net_udp_send(struct net_udp *u, const struct nts_origin *o, const struct iovec *iov, int iovcnt)
{
	struct net_udp_pending *p;
	size_t total = 0;

	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	if (total > NET_UDP_QBUF) {
		net_udp_flush(u); /* keep the order of what was queued before */
		return udp_sendmsg_now(u, &o->client, &o->server, iov, iovcnt);
	}
	if (u->nq == NET_UDP_SENDQ)
		net_udp_flush(u);
	p = &u->q[u->nq++];
	p->len = 0;
	for (int i = 0; i < iovcnt; i++) {
		memcpy(p->data + p->len, iov[i].iov_base, iov[i].iov_len);
		p->len = (uint16_t)(p->len + iov[i].iov_len);
	}
	p->to = o->client;
	p->from = o->server;
	return 0;
}

struct net_udp *net_udp_by_fd(struct net_server *n, int fd)
{
	for (unsigned i = 0; i < n->nudp; i++)
		if (n->udp[i]->fd == fd)
			return n->udp[i];
	for (unsigned i = 0; i < n->nalt_udp; i++)
		if (n->alt_udp[i]->fd == fd)
			return n->alt_udp[i];
	return NULL;
}

/* reuseport: one of the workers' sockets on addr (docs/architecture.md "Threading model"). */
static int udp_socket(const struct nts_addr *addr, bool wildcard, bool reuseport)
{
	struct sockaddr_storage ss;
	socklen_t sl = nts_addr_to_sockaddr(addr, &ss);
	int one = 1, fd;

	fd = socket(addr->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		goto fail;
	if (addr->family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		goto fail;
	if (wildcard && addr->family == AF_INET &&
	    setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) < 0)
		goto fail;
	if (wildcard && addr->family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)) < 0)
		goto fail;
	/* Optional (Linux 5.0+): without it every datagram is its own read. */
	setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0)
		goto fail;
	return fd;
fail:;
	int rc = -errno;
	close(fd);
	return rc;
}

struct net_udp *net_udp_new_fd(struct net_server *n, int fd, int *rcp)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct net_udp *u;
	int rc;

	u = calloc(1, sizeof(*u));
	if (!u) {
		close(fd);
		*rcp = -ENOMEM;
		return NULL;
	}
	u->n = n;
	u->fd = fd;
	u->q = calloc(NET_UDP_SENDQ, sizeof(*u->q));
	u->rx = udp_rx_new();
	if (!u->q || !u->rx) {
		rc = -ENOMEM;
		goto fail;
	}
	if (getsockname(u->fd, (struct sockaddr *)&ss, &sl) < 0 ||
	    nts_addr_from_sockaddr(&u->local, (struct sockaddr *)&ss) < 0) {
		rc = -errno;
		goto fail;
	}
	u->wildcard = nts_addr_is_any(&u->local);
	rc = nts_sock_set_buffers(u->fd, n->cfg->udp_buffer);
	if (rc)
		log_warn("udp socket buffers: %s", strerror(-rc));
	rc = loop_add(n->loop, u->fd, EPOLLIN, udp_on_readable, u);
	if (rc)
		goto fail;
	return u;
fail:
	close(u->fd);
	free(u->q);
	free(u->rx);
	free(u);
	*rcp = rc;
	return NULL;
}

struct net_udp *net_udp_new(struct net_server *n, const struct nts_addr *addr, int *rcp)
{
	int fd = net_reuseport_probe(n, addr, SOCK_DGRAM);

	if (fd == 0)
		fd = udp_socket(addr, nts_addr_is_any(addr), n->reuseport);
	if (fd < 0) {
		*rcp = fd;
		return NULL;
	}
	return net_udp_new_fd(n, fd, rcp);
}

int net_udp_open(struct net_server *n, const struct nts_addr *addr)
{
	struct net_udp *u;
	int rc = 0;

	if (n->nudp >= NTS_MAX_LISTEN)
		return -ENOSPC;
	u = net_udp_new(n, addr, &rc);
	if (!u)
		return rc;
	n->udp[n->nudp++] = u;
	return 0;
}

int net_udp_open_fd(struct net_server *n, int fd)
{
	struct net_udp *u;
	int rc = 0;

	if (n->nudp >= NTS_MAX_LISTEN) {
		close(fd);
		return -ENOSPC;
	}
	u = net_udp_new_fd(n, fd, &rc);
	if (!u)
		return rc;
	n->udp[n->nudp++] = u;
	return 0;
}

void net_udp_close(struct net_udp *u)
{
	net_udp_flush(u);
	loop_del(u->n->loop, u->fd);
	close(u->fd);
	free(u->q);
	free(u->rx);
	free(u);
}
