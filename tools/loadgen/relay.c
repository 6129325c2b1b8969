/* `nts-loadgen relay`: N allocations (over UDP, TCP or TLS: --transport), then ChannelData
 * client -> peer and UDP peer -> client (through the relayed address) at a fixed offered rate from
 * one process holding sockets in both namespaces. Every payload is checked byte for byte; loss,
 * reordering and one-way latency per direction. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lg.h"
#include "stun/stun.h"

#define LG_BATCH 32
#define LG_DRAIN_NS 300000000ull

/* One direction's receive-side accounting. */
struct lg_dir {
	uint64_t sent, recv, bad, reorder, dup;
	uint64_t *next_seq; /* per flow: highest sequence seen + 1 */
	struct bench_hist hist;
};

struct lg_relay {
	const struct lg_opts *o;
	struct lg_session *s;
	int *peer_fd;
	uint64_t *c2p_seq, *p2c_seq; /* next sequence number to send, per flow */
	struct lg_dir c2p, p2c;
	uint8_t txbuf[LG_BATCH][1408];
	uint8_t rxbuf[LG_BATCH][1500];
};

/* Writes header and pattern for flow/seq into p (size bytes). */
static void lg_fill(uint8_t *p, unsigned size, uint32_t flow, uint64_t seq)
{
	struct bench_hdr h = {BENCH_MAGIC_USER, flow, seq, lg_now_ns()};

	memcpy(p, &h, sizeof(h));
	for (unsigned i = BENCH_HDR_LEN; i < size; i++)
		p[i] = bench_pattern(i, seq);
}

/* Checks a received payload for flow; updates d. */
static void lg_check(struct lg_dir *d, const uint8_t *p, size_t len, unsigned size, uint32_t flow)
{
	struct bench_hdr h;
	uint64_t now = lg_now_ns();

	if (len != size) {
		d->bad++;
		return;
	}
	memcpy(&h, p, sizeof(h));
	if (h.magic != BENCH_MAGIC_USER || h.flow != flow) {
		d->bad++;
		return;
	}
	for (unsigned i = BENCH_HDR_LEN; i < size; i++)
		if (p[i] != bench_pattern(i, h.seq)) {
			d->bad++;
			return;
		}
	d->recv++;
	if (h.seq + 1 < d->next_seq[flow])
		d->reorder++;
	else if (h.seq + 1 == d->next_seq[flow])
		d->dup++;
	else
		d->next_seq[flow] = h.seq + 1;
	if (now >= h.ts)
		lg_hist_add(&d->hist, now - h.ts);
}

/* Client -> peer: n ChannelData frames of flow f, laid out back to back (padded to 4 over a
 * stream, RFC 8656 §12.5) and sent a batch at a time on the session's transport. */
static void lg_send_client(struct lg_relay *r, unsigned f, unsigned n)
{
	const struct lg_opts *o = r->o;
	bool stream = r->s[f].stream != NULL;
	size_t flen = stun_channeldata_frame_len((uint16_t)o->size, stream);
	uint8_t *buf = &r->txbuf[0][0];

	for (unsigned left = n; left;) {
		unsigned k = left < LG_BATCH ? left : LG_BATCH;

		for (unsigned i = 0; i < k; i++) {
			uint8_t *p = buf + i * flen;

			stun_channeldata_header(p, r->s[f].channel, (uint16_t)o->size, stream);
			lg_fill(p + STUN_CHANNELDATA_HDR, o->size, f, r->c2p_seq[f]++);
			memset(p + STUN_CHANNELDATA_HDR + o->size, 0,
			       flen - STUN_CHANNELDATA_HDR - o->size);
		}
		lg_transport_send(&r->s[f], buf, flen, k);
		r->c2p.sent += k;
		left -= k;
	}
}

/* Peer -> client: n UDP datagrams of flow f to its relayed address, in batches. */
static void lg_send_peer(struct lg_relay *r, unsigned f, unsigned n)
{
	uint8_t(*bufs)[1408] = r->txbuf;
	struct mmsghdr mm[LG_BATCH];
	struct iovec iov[LG_BATCH];
	const struct lg_opts *o = r->o;

	for (unsigned left = n; left;) {
		unsigned k = left < LG_BATCH ? left : LG_BATCH;

		memset(mm, 0, sizeof(mm));
		for (unsigned i = 0; i < k; i++) {
			lg_fill(bufs[i], o->size, f, r->p2c_seq[f]++);
			mm[i].msg_hdr.msg_name = &r->s[f].relay;
			mm[i].msg_hdr.msg_namelen = sizeof(r->s[f].relay);
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = o->size;
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
		}
		/* A full socket buffer drops the rest: offered, not delivered. */
		(void)sendmmsg(r->peer_fd[f], mm, k, 0);
		r->p2c.sent += k;
		left -= k;
	}
}

/* Sends n packets of flow f in both directions (n each). */
static void lg_send_flow(struct lg_relay *r, unsigned f, unsigned n)
{
	lg_send_client(r, f, n);
	if (r->o->reverse)
		lg_send_peer(r, f, n);
}

/* A datagram or stream frame on flow f's client side: ChannelData on the bound channel
 * (RFC 8656 §12.4). */
struct lg_client_rx {
	struct lg_relay *r;
	unsigned f;
};

static void lg_client_frame(void *arg, const uint8_t *p, size_t len)
{
	struct lg_client_rx *a = arg;
	struct lg_session *s = &a->r->s[a->f];
	const uint8_t *data;
	uint16_t ch, dlen;
	size_t flen;

	if (stun_channeldata_parse(p, len, s->stream != NULL, &ch, &data, &dlen, &flen) ||
	    ch != s->channel) {
		a->r->p2c.bad++;
		return;
	}
	lg_check(&a->r->p2c, data, dlen, a->r->o->size, a->f);
}

/* Reads everything pending: client sessions carry ChannelData, peer sockets plain UDP. */
static void lg_drain(struct lg_relay *r, unsigned f, bool peer_side)
{
	uint8_t(*bufs)[1500] = r->rxbuf;
	struct mmsghdr mm[LG_BATCH];
	struct iovec iov[LG_BATCH];
	const struct lg_opts *o = r->o;
	int k;

	if (!peer_side) {
		struct lg_client_rx a = {r, f};

		if (lg_transport_recv(&r->s[f], lg_client_frame, &a) < 0)
			r->p2c.bad++; /* the stream broke */
		return;
	}
	do {
		memset(mm, 0, sizeof(mm));
		for (int i = 0; i < LG_BATCH; i++) {
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = sizeof(bufs[i]);
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
		}
		k = recvmmsg(r->peer_fd[f], mm, LG_BATCH, MSG_DONTWAIT, NULL);
		for (int i = 0; i < k; i++)
			lg_check(&r->c2p, bufs[i], mm[i].msg_len, o->size, f);
	} while (k == LG_BATCH);
}

static void lg_dir_json(struct lg_json *j, const char *pfx, const struct lg_dir *d)
{
	char k[64];

#define LG_F(name, v)                                                                              \
	do {                                                                                       \
		snprintf(k, sizeof(k), "%s_%s", pfx, name);                                        \
		lg_json_num(j, k, v);                                                              \
	} while (0)
	LG_F("sent", (double)d->sent);
	LG_F("recv", (double)d->recv);
	LG_F("loss",
	     d->sent ? (double)(d->sent - (d->recv < d->sent ? d->recv : d->sent)) / d->sent : 0);
	LG_F("bad", (double)d->bad);
	LG_F("reorder", (double)d->reorder);
	LG_F("dup", (double)d->dup);
	LG_F("p50_us", lg_hist_pct(&d->hist, 0.5));
	LG_F("p99_us", lg_hist_pct(&d->hist, 0.99));
	LG_F("p999_us", lg_hist_pct(&d->hist, 0.999));
#undef LG_F
}

/* Sends at o->rate for o->duration seconds, receiving as it goes, then drains. */
static void lg_relay_run(struct lg_relay *r, int ep)
{
	const struct lg_opts *o = r->o;
	uint64_t start = lg_now_ns(), end = start + (uint64_t)(o->duration * 1e9), due_sent = 0;
	uint64_t last_rx = start;
	struct epoll_event evs[64];

	for (;;) {
		uint64_t now = lg_now_ns();

		if (now < end) {
			/* Flat out (rate 0): one batch per flow and direction per turn of the loop.
			 */
			uint64_t due = o->rate > 0
					   ? (uint64_t)((double)(now - start) * o->rate / 1e9)
					   : due_sent + (uint64_t)o->allocs * LG_BATCH;
			uint64_t n = due - due_sent;

			for (unsigned f = 0; n && f < o->allocs; f++) {
				/* Spread the due packets over the flows, remainder to the first
				 * ones. */
				uint64_t share = n / o->allocs + (f < n % o->allocs);

				if (share)
					lg_send_flow(r, (f + (unsigned)due_sent) % o->allocs,
						     (unsigned)share);
			}
			due_sent = due;
		} else if (now - last_rx > LG_DRAIN_NS || now - end > 3 * LG_DRAIN_NS ||
			   (r->c2p.recv + r->c2p.bad >= r->c2p.sent &&
			    r->p2c.recv + r->p2c.bad >= r->p2c.sent)) {
			break;
		}
		int k = epoll_wait(ep, evs, 64, o->rate > 0 || now >= end ? 1 : 0);

		for (int i = 0; i < k; i++) {
			uint32_t id = evs[i].data.u32;

			lg_drain(r, id >> 1, id & 1);
			last_rx = lg_now_ns();
		}
	}
}

int lg_cmd_relay(const struct lg_opts *o)
{
	struct lg_relay r = {.o = o};
	struct lg_json j;
	unsigned n = o->allocs, done;
	uint64_t t0, t1;
	int ep = -1, rc = -1, e;

	r.s = calloc(n, sizeof(*r.s));
	r.peer_fd = calloc(n, sizeof(int));
	r.c2p_seq = calloc(n, sizeof(uint64_t));
	r.p2c_seq = calloc(n, sizeof(uint64_t));
	r.c2p.next_seq = calloc(n, sizeof(uint64_t));
	r.p2c.next_seq = calloc(n, sizeof(uint64_t));
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (!r.s || !r.peer_fd || !r.c2p_seq || !r.p2c_seq || !r.c2p.next_seq || !r.p2c.next_seq ||
	    ep < 0)
		goto out;
	if ((e = lg_netns_enter(o->client_ns)) < 0 || (e = lg_sessions_open(r.s, n, o)) < 0) {
		fprintf(stderr, "nts-loadgen: %s client sockets: %s\n", o->transport, strerror(-e));
		goto out;
	}
	if (lg_netns_enter(o->peer_ns) < 0) {
		fprintf(stderr, "nts-loadgen: peer namespace: %s\n", strerror(errno));
		goto out;
	}
	for (unsigned f = 0; f < n; f++) {
		struct sockaddr_in a = r.s[f].peer;
		int buf = 4 << 20;

		r.peer_fd[f] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (r.peer_fd[f] < 0 || bind(r.peer_fd[f], (struct sockaddr *)&a, sizeof(a)) < 0) {
			fprintf(stderr, "nts-loadgen: peer socket: %s\n", strerror(errno));
			goto out;
		}
		setsockopt(r.peer_fd[f], SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf));
		setsockopt(r.peer_fd[f], SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf));
	}
	t0 = lg_now_ns();
	done = lg_sessions_setup(r.s, n, o, t0 + 10000000000ull);
	t1 = lg_now_ns();
	if (done < n) {
		for (unsigned f = 0; f < n; f++)
			if (r.s[f].state != LG_DONE) {
				fprintf(stderr,
					"nts-loadgen: allocation %u failed: state %d error %d\n", f,
					r.s[f].state, r.s[f].error);
				break;
			}
		goto out;
	}
	for (unsigned f = 0; f < n; f++) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = f << 1};

		epoll_ctl(ep, EPOLL_CTL_ADD, r.s[f].fd, &ev);
		ev.data.u32 = f << 1 | 1;
		epoll_ctl(ep, EPOLL_CTL_ADD, r.peer_fd[f], &ev);
	}
	lg_relay_run(&r, ep);
	lg_json_begin(&j);
	lg_json_str(&j, "test", "relay");
	lg_json_str(&j, "transport", o->transport);
	lg_json_num(&j, "allocs", n);
	lg_json_num(&j, "size", o->size);
	lg_json_num(&j, "rate", o->rate);
	lg_json_num(&j, "duration", o->duration);
	lg_json_num(&j, "setup_s", (double)(t1 - t0) / 1e9);
	lg_dir_json(&j, "c2p", &r.c2p);
	if (o->reverse)
		lg_dir_json(&j, "p2c", &r.p2c);
	lg_json_end(&j);
	rc = 0;
out:
	if (ep >= 0)
		close(ep);
	if (r.s)
		lg_sessions_close(r.s, n, o);
	for (unsigned f = 0; r.peer_fd && f < n; f++)
		if (r.peer_fd[f] > 0)
			close(r.peer_fd[f]);
	free(r.s), free(r.peer_fd), free(r.c2p_seq), free(r.p2c_seq);
	free(r.c2p.next_seq), free(r.p2c.next_seq);
	return rc;
}
