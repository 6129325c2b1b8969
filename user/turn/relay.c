/* The relay data path: relay sockets on the loop, peer datagrams read with recvmmsg and checked
 * against permissions (RFC 8656 §9), delivered as ChannelData (§12) or Data indications (§10.3);
 * client data (Send, ChannelData) from all allocations queued towards peers and sent at the
 * loop's flush, with sendmmsg per relay socket (a run of same-sized datagrams to one peer as one
 * GSO message).
 * Relay sockets take UDP_GRO, so a run of same-sized datagrams from one peer is one read.
 */
#include <errno.h>
#include <netinet/udp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "turn/turn_internal.h"
#include "util/log.h"
#include "util/sock.h"

_Static_assert(TURN_SEND_BATCH <= NTS_UDP_SEND_MAX,
	       "a flush is one nts_udp_send_batch() per socket");

int turn_relay_start(struct turn_server *t, struct turn_relay *r)
{
	int rc = nts_sock_set_buffers(r->fd, t->cfg->relay_buffer), one = 1;

	if (rc)
		log_debug("relay socket buffers: %s", strerror(-rc));
	/* Optional (Linux 5.0+): without it every datagram is its own read. */
	setsockopt(r->fd, SOL_UDP, UDP_GRO, &one, sizeof(one));
	rc = turn_icmp_enable(r); /* RFC 8656 §11: icmp.c */
	if (rc)
		log_debug("relay socket IP_RECVERR: %s", strerror(-rc));
	return loop_add(t->loop, r->fd, EPOLLIN, turn_relay_readable, r);
}

void turn_relay_stop(struct turn_server *t, struct turn_relay *r)
{
	if (r->fd < 0)
		return;
	if (t->tx->n)
		turn_relay_flush(t); /* datagrams queued on r->fd leave before it closes */
	loop_del(t->loop, r->fd);
	close(r->fd);
	r->fd = -1;
}

/* Sends what is queued: one batch per relay socket, each in queueing order (datagrams of one
 * flow keep their order; distinct sockets are distinct flows). */
void turn_relay_flush(struct turn_server *t)
{
	struct turn_tx *tx = t->tx;
	struct mmsghdr msgs[TURN_SEND_BATCH];
	struct iovec iov[TURN_SEND_BATCH];
	bool taken[TURN_SEND_BATCH] = {false};

	for (unsigned i = 0; i < tx->n; i++) {
		unsigned k = 0;

		if (taken[i])
			continue;
		for (unsigned j = i; j < tx->n; j++) {
			if (taken[j] || tx->slot_fd[j] != tx->slot_fd[i])
				continue;
			taken[j] = true;
			iov[k] = tx->iov[j];
			msgs[k] = tx->msg[j];
			msgs[k].msg_hdr.msg_iov = &iov[k];
			k++;
		}
		/* A full socket buffer drops the rest, as a router would; a datagram the kernel
		 * refuses (EMSGSIZE under DONT-FRAGMENT...) is skipped. */
		nts_udp_send_batch(tx->slot_fd[i], msgs, k, &tx->gso);
	}
	tx->n = 0;
	tx->fd = -1;
}

static void turn_relay_sendto(int fd, const struct nts_addr *peer, const uint8_t *data, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = nts_addr_to_sockaddr(peer, &ss);

	/* A pending ICMP error report (icmp.c) fails one send with its errno: then try again. */
	for (int tries = 0; tries < 3; tries++)
		if (sendto(fd, data, len, MSG_DONTWAIT, (struct sockaddr *)&ss, sl) >= 0 ||
		    errno == EAGAIN)
			break;
}

void turn_relay_send(struct turn_server *t, struct turn_relay *r, const struct nts_addr *peer,
		     const uint8_t *data, size_t len)
{
	struct turn_tx *tx = t->tx;
	unsigned i;

	if (len > TURN_TX_SLOT) {
		turn_relay_flush(t); /* keep the order of what was queued before */
		turn_relay_sendto(r->fd, peer, data, len);
		return;
	}
	i = tx->n++;
	tx->fd = r->fd;
	tx->slot_fd[i] = r->fd;
	memcpy(tx->buf[i], data, len);
	tx->iov[i] = (struct iovec){.iov_base = tx->buf[i], .iov_len = len};
	memset(&tx->msg[i], 0, sizeof(tx->msg[i]));
	tx->msg[i].msg_hdr.msg_name = &tx->dst[i];
	tx->msg[i].msg_hdr.msg_namelen = nts_addr_to_sockaddr(peer, &tx->dst[i]);
	tx->msg[i].msg_hdr.msg_iov = &tx->iov[i];
	tx->msg[i].msg_hdr.msg_iovlen = 1;
	if (tx->n == TURN_SEND_BATCH)
		turn_relay_flush(t);
}

static void turn_count_c2p(struct turn_server *t, struct turn_alloc *a, size_t len)
{
	a->c2p_packets++;
	a->c2p_bytes += len;
	t->stats->user_c2p_packets++;
	t->stats->user_c2p_bytes += len;
	turn_alloc_touch(t, a);
}

void turn_handle_channeldata(struct turn_server *t, const struct nts_origin *o, uint16_t channel,
			     const uint8_t *data, size_t len)
{
	struct turn_alloc *a = turn_alloc_find(t, o);
	struct turn_chan *c;
	struct turn_relay *r;

	if (!a || turn_alloc_end_if_expired(t, a))
		return;
	c = turn_chan_find_num(t, a, channel);
	/* RFC 8656 §12.4: data on an unbound channel is discarded; a bound one is relayed (the
	 * permission is checked on the way back, §9, as the fast path does too). */
	if (!c || c->cooling)
		return;
	r = turn_alloc_relay(a, c->peer.family);
	if (!r || !turn_limit_take(t, a, TURN_DIR_C2P, len))
		return;
	turn_relay_send(t, r, &c->peer, data, len);
	turn_count_c2p(t, a, len);
}

/* Client Send indication payload towards peer (permission already checked). */
void turn_relay_send_indication(struct turn_server *t, struct turn_alloc *a, struct turn_relay *r,
				const struct nts_addr *peer, const uint8_t *data, size_t len)
{
	if (!turn_limit_take(t, a, TURN_DIR_C2P, len))
		return;
	turn_relay_send(t, r, peer, data, len);
	turn_count_c2p(t, a, len);
}

static void turn_relay_to_client(struct turn_server *t, struct turn_alloc *a,
				 const struct nts_addr *peer, const uint8_t *data, size_t len)
{
	static const uint8_t zeros[4];
	struct turn_chan *c = turn_chan_find_peer(t, a, peer);
	struct stun_builder b;
	uint8_t hdr[STUN_CHANNELDATA_HDR], tid[STUN_TID_LEN];
	struct iovec iov[3];

	if (c && !c->cooling && len <= 0xFFFF) {
		size_t frame = stun_channeldata_header(hdr, c->num, (uint16_t)len,
						       a->origin.transport != NTS_UDP);
		size_t pad = frame - sizeof(hdr) - len;

		iov[0] = (struct iovec){.iov_base = hdr, .iov_len = sizeof(hdr)};
		iov[1] = (struct iovec){.iov_base = (void *)data, .iov_len = len};
		iov[2] = (struct iovec){.iov_base = (void *)zeros, .iov_len = pad};
		t->send(t->send_arg, &a->origin, iov, pad ? 3 : 2);
	} else {
		/* RFC 8656 §10.3: a Data indication with XOR-PEER-ADDRESS and DATA (whose 16-bit
		 * message length leaves room for a little less than 64 KiB of data). */
		if (len > 0xFFFF - 32)
			return;
		uint64_t r1 = turn_mix64(t->seed ^ ++t->next_tid), r2 = turn_mix64(r1);

		memcpy(tid, &r1, 8);
		memcpy(tid + 8, &r2, 4);
		stun_build_init(&b, t->scratch, STUN_HEADER_LEN + 64 + 65536, TURN_DATA,
				STUN_INDICATION, tid);
		stun_put_xor_addr(&b, STUN_ATTR_XOR_PEER_ADDRESS, peer);
		stun_put_attr(&b, STUN_ATTR_DATA, data, len);
		if (turn_send_stun(t, &a->origin, &b, NULL) < 0)
			return;
	}
	a->p2c_packets++;
	a->p2c_bytes += len;
	t->stats->user_p2c_packets++;
	t->stats->user_p2c_bytes += len;
	turn_alloc_touch(t, a);
}

static void turn_relay_from_peer(struct turn_server *t, struct turn_relay *r,
				 const struct nts_addr *src, const uint8_t *data, size_t len)
{
	/* RFC 8656 §9: only peers with a permission (by IP) reach the client. */
	if (!turn_perm_find(t, r->alloc, src)) {
		t->stats->peer_dropped_no_permission++;
		return;
	}
	if (turn_limit_take(t, r->alloc, TURN_DIR_P2C, len))
		turn_relay_to_client(t, r->alloc, src, data, len);
}

/* The segment size of a Linux UDP_GRO batch, 0 for a single datagram. */
static size_t turn_relay_gro_size(struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
			int v;

			memcpy(&v, CMSG_DATA(c), sizeof(v));
			return v > 0 ? (size_t)v : 0;
		}
	}
	return 0;
}

/* Sets up the shared recvmmsg ring once; reads then only restore what the kernel changed. */
static void turn_relay_rx_init(struct turn_rx *rx)
{
	for (int i = 0; i < TURN_RECV_BATCH; i++) {
		rx->iov[i] = (struct iovec){.iov_base = rx->buf[i], .iov_len = sizeof(rx->buf[i])};
		rx->msg[i].msg_hdr = (struct msghdr){.msg_name = &rx->src[i],
						     .msg_namelen = sizeof(rx->src[i]),
						     .msg_iov = &rx->iov[i],
						     .msg_iovlen = 1,
						     .msg_control = rx->ctl[i],
						     .msg_controllen = sizeof(rx->ctl[i])};
	}
}

void turn_relay_readable(void *arg, int fd, uint32_t events)
{
	struct turn_relay *r = arg;
	struct turn_alloc *a = r->alloc;
	struct turn_server *t;
	struct turn_rx *rx;

	t = a->server;
	if (turn_alloc_end_if_expired(t, a))
		return;
	rx = t->rx;
	if (!rx->msg[0].msg_hdr.msg_iov)
		turn_relay_rx_init(rx);
	/* A failing stream send may close the stream, and with it this allocation: defer that. */
	t->busy = a;
	t->busy_dead = false;
	if (events & EPOLLERR) /* queued ICMP errors (epoll reports EPOLLERR unasked) */
		turn_icmp_drain(t, r);
	for (int round = 0; round < TURN_RECV_ROUNDS && !t->busy_dead; round++) {
		int n = recvmmsg(fd, rx->msg, TURN_RECV_BATCH, MSG_DONTWAIT, NULL);

		if (n <= 0)
			break;
		for (int i = 0; i < n; i++) {
			struct msghdr *mh = &rx->msg[i].msg_hdr;
			struct nts_addr src;
			const uint8_t *p = rx->buf[i];
			size_t left = rx->msg[i].msg_len, seg = turn_relay_gro_size(mh);
			bool bad = mh->msg_flags & MSG_TRUNC ||
				   nts_addr_from_sockaddr(&src, (struct sockaddr *)&rx->src[i]) < 0;

			/* The kernel shrank these to what it wrote: restore them. */
			mh->msg_namelen = sizeof(rx->src[i]);
			mh->msg_controllen = sizeof(rx->ctl[i]);
			if (bad || t->busy_dead)
				continue;
			if (!seg || seg > left)
				seg = left;
			/* A GRO batch: datagrams of seg bytes, the last one possibly shorter. */
			do {
				size_t len = left < seg ? left : seg;

				turn_relay_from_peer(t, r, &src, p, len);
				p += len;
				left -= len;
			} while (left && !t->busy_dead);
		}
		if (n < TURN_RECV_BATCH)
			break;
	}
	t->busy = NULL;
	if (t->busy_dead)
		turn_alloc_delete(t, a, false);
}
