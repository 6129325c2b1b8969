/* Client streams (TCP, or TLS through the same ops): input framing with partial reads and
 * many frames per read (RFC 8489 §6.2.2, RFC 8656 §12.5), a bounded output queue, idle timeout, and
 * closing deferred to the end of the loop iteration so no handler ever sees a freed stream.
 */
#include "net/net_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "stun/stun.h"
#include "turn/turn.h"
#include "util/log.h"

static ssize_t tcp_read(struct net_stream *s, void *buf, size_t len)
{
	ssize_t n = recv(s->origin.fd, buf, len, MSG_DONTWAIT);

	return n < 0 ? -errno : n;
}

static ssize_t tcp_write(struct net_stream *s, const void *buf, size_t len)
{
	ssize_t n = send(s->origin.fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);

	return n < 0 ? -errno : n;
}

const struct net_stream_ops net_stream_tcp_ops = {.read = tcp_read, .write = tcp_write};

static bool stream_layer_wants_write(struct net_stream *s)
{
	return s->ops->want_write && s->ops->want_write(s);
}

static void stream_on_event(void *arg, int fd, uint32_t events);

static void stream_update_events(struct net_stream *s)
{
	loop_mod(s->n->loop, s->origin.fd,
		 (s->paused ? 0 : EPOLLIN) | (s->want_out ? EPOLLOUT : 0));
}

static void stream_set_out(struct net_stream *s, bool want)
{
	want = want || stream_layer_wants_write(s);
	if (s->want_out == want || s->dead)
		return;
	s->want_out = want;
	stream_update_events(s);
}

void net_stream_pause(struct net_stream *s, bool paused)
{
	if (s->paused == paused || s->dead)
		return;
	s->paused = paused;
	stream_update_events(s);
	/* Bytes the layer (TLS) already took off the socket raise no event: read them at the end of
	 * this loop iteration (net_stream_kick). */
	if (!paused && !s->kicked && s->ops->has_pending && s->ops->has_pending(s)) {
		s->kicked = true;
		s->kick_next = s->n->kicked;
		s->n->kicked = s;
	}
}

void net_stream_kick(struct net_server *n)
{
	while (n->kicked) {
		struct net_stream *s = n->kicked;

		n->kicked = s->kick_next;
		s->kicked = false;
		if (!s->dead && !s->paused)
			stream_on_event(s, s->origin.fd, EPOLLIN);
	}
}

int net_stream_set_raw(struct net_stream *s, const struct turn_raw_ops *ops, void *arg)
{
	if (s->dead)
		return -EPIPE;
	s->raw = ops;
	s->raw_arg = arg;
	return 0;
}

void net_stream_close(struct net_stream *s, const char *why)
{
	struct net_server *n = s->n;
	char buf[NTS_ADDRSTRLEN];

	if (s->dead)
		return;
	s->dead = true;
	loop_del(n->loop, s->origin.fd);
	if (s->prev)
		s->prev->next = s->next;
	else
		n->streams = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->prev = NULL;
	s->next = n->dead;
	n->dead = s;
	n->nstreams--;
	atomic_fetch_sub_explicit(n->total, 1, memory_order_relaxed);
	log_debug("%s %s closed: %s", nts_transport_name(s->origin.transport),
		  nts_addr_fmt(&s->origin.client, buf, sizeof(buf), true), why);
}

/* Frees closed streams; TURN drops the allocations they owned (RFC 8656 §3.1) before the memory
 * goes. */
void net_stream_reap(struct net_server *n)
{
	net_stream_kick(n); /* nothing freed below may still be listed there */
	while (n->dead) {
		struct net_stream *s = n->dead;
		n->dead = s->next;
		if (s->raw && s->raw->closed)
			s->raw->closed(s->raw_arg);
		if (n->dispatch.turn)
			turn_stream_closed(n->dispatch.turn, s);
		if (s->ops->free)
			s->ops->free(s);
		close(s->origin.fd);
		free(s->in);
		free(s->out);
		free(s);
	}
}

/* Writes queued output; 0, or -errno when the stream must close. */
static int stream_flush_out(struct net_stream *s)
{
	bool had_out = s->out_len != 0;

	while (s->out_len) {
		ssize_t w = s->ops->write(s, s->out + s->out_off, s->out_len);
		if (w == -EAGAIN || w == -EWOULDBLOCK || w == -EINTR)
			break;
		if (w <= 0)
			return w < 0 ? (int)w : -EPIPE;
		s->out_off += (size_t)w;
		s->out_len -= (size_t)w;
	}
	if (!s->out_len)
		s->out_off = 0;
	stream_set_out(s, s->out_len != 0);
	/* RFC 6062 data connections: the peer side reads again once the client caught up. */
	if (had_out && !s->out_len && s->raw && s->raw->drained)
		s->raw->drained(s->raw_arg);
	return 0;
}

static int stream_queue(struct net_stream *s, const uint8_t *p, size_t len)
{
	if (s->out_len + len > NET_STREAM_OUT_MAX)
		return -ENOBUFS;
	if (s->out && s->out_off + s->out_len + len > s->out_cap) {
		memmove(s->out, s->out + s->out_off, s->out_len);
		s->out_off = 0;
	}
	if (s->out_len + len > s->out_cap) {
		size_t cap = s->out_cap ? s->out_cap : 4096;
		uint8_t *nb;
		while (cap < s->out_len + len)
			cap *= 2;
		nb = realloc(s->out, cap);
		if (!nb)
			return -ENOMEM;
		s->out = nb;
		s->out_cap = cap;
	}
	memcpy(s->out + s->out_off + s->out_len, p, len);
	s->out_len += len;
	return 0;
}

int net_stream_send(struct net_stream *s, const struct iovec *iov, int iovcnt)
{
	struct iovec one;
	size_t total = 0;
	int rc = 0;

	if (s->dead)
		return -EPIPE;
	/* One message, one write: a TLS record each (clients such as coturn's read a message per
	 * record) and one TCP segment rather than a header segment then a payload one. */
	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	if (iovcnt > 1 && total <= NET_STREAM_GATHER) {
		uint8_t *p = s->n->gather;

		if (!p && !(p = s->n->gather = malloc(NET_STREAM_GATHER)))
			return -ENOMEM;
		for (int i = 0; i < iovcnt; i++) {
			memcpy(p, iov[i].iov_base, iov[i].iov_len);
			p += iov[i].iov_len;
		}
		one = (struct iovec){.iov_base = s->n->gather, .iov_len = total};
		iov = &one;
		iovcnt = 1;
	}
	for (int i = 0; i < iovcnt && !rc; i++) {
		const uint8_t *p = iov[i].iov_base;
		size_t len = iov[i].iov_len;
		/* Write straight through while nothing is queued, so order is kept and copies are
		 * rare. */
		while (len && !s->out_len) {
			ssize_t w = s->ops->write(s, p, len);
			if (w == -EAGAIN || w == -EWOULDBLOCK || w == -EINTR)
				break;
			if (w <= 0) {
				net_stream_close(s, "write failed");
				return -EPIPE;
			}
			p += w;
			len -= (size_t)w;
		}
		if (len)
			rc = stream_queue(s, p, len);
	}
	if (rc) {
		net_stream_close(s, rc == -ENOBUFS ? "output queue full" : "out of memory");
		return rc;
	}
	s->last_active_ms = loop_now_ms(s->n->loop);
	stream_set_out(s, s->out_len != 0);
	return 0;
}

static int stream_grow_in(struct net_stream *s, size_t want)
{
	size_t cap = s->in_cap;
	uint8_t *nb;

	if (want <= cap)
		return 0;
	if (want > NET_STREAM_IN_MAX)
		return -EMSGSIZE;
	while (cap < want)
		cap = cap * 2 > NET_STREAM_IN_MAX ? NET_STREAM_IN_MAX : cap * 2;
	nb = realloc(s->in, cap);
	if (!nb)
		return -ENOMEM;
	s->in = nb;
	s->in_cap = cap;
	return 0;
}

/* Dispatches every complete frame of buf[0, len) (the stream's own buffer or the worker's rx) and
 * returns how many bytes they took; a partial frame at the end is left, with room made for it in
 * the stream's buffer. The stream may be dead on return. */
static size_t stream_dispatch(struct net_stream *s, const uint8_t *buf, size_t len)
{
	size_t off = 0;

	while (!s->dead && off < len) {
		const uint8_t *p = buf + off;
		if (s->raw) {
			/* RFC 6062 §5.4: after ConnectionBind the bytes are the application's. */
			s->raw->input(s->raw_arg, p, len - off);
			return len;
		}
		long fl = stun_stream_frame_len(p, len - off);
		if (fl < 0 || fl > NET_STREAM_IN_MAX) {
			s->n->stats->tcp_closed_bad_framing++;
			net_stream_close(s, "bad framing");
			return off;
		}
		if (fl == 0 || (size_t)fl > len - off) {
			if (fl > 0 && stream_grow_in(s, (size_t)fl) < 0)
				net_stream_close(s, "out of memory");
			break;
		}
		net_dispatch(&s->n->dispatch, &s->origin, p, (size_t)fl);
		off += (size_t)fl;
	}
	return off;
}

/* Dispatches every complete frame in the input buffer and keeps the partial rest. */
static void stream_process_input(struct net_stream *s)
{
	size_t off = stream_dispatch(s, s->in, s->in_len);

	if (s->dead)
		return;
	memmove(s->in, s->in + off, s->in_len - off);
	s->in_len -= off;
}

/* The same for len bytes in the worker's rx buffer (the stream's partial frame, then what was
 * read after it): only a partial frame at the end is copied back into the stream's buffer. */
static void stream_process_rx(struct net_stream *s, size_t len)
{
	const uint8_t *rx = s->n->rx;
	size_t off = stream_dispatch(s, rx, len);

	if (s->dead || off == len)
		return;
	if (stream_grow_in(s, len - off) < 0) {
		net_stream_close(s, "out of memory");
		return;
	}
	memcpy(s->in, rx + off, len - off);
	s->in_len = len - off;
}

static void stream_on_event(void *arg, int fd, uint32_t events)
{
	struct net_stream *s = arg;

	if (events & EPOLLOUT) {
		/* A TLS read (handshake) that waited for room to write goes on now. */
		if (stream_layer_wants_write(s))
			events |= EPOLLIN;
		if (stream_flush_out(s) < 0) {
			net_stream_close(s, "write failed");
			return;
		}
	}
	if (!(events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
		return;
	if (s->paused) {
		/* Not reading (backpressure); a reset or hang-up still ends the stream. */
		if (events & (EPOLLERR | EPOLLHUP))
			net_stream_close(s, "reset while paused");
		return;
	}
	/* Bounded rounds per wakeup; level-triggered epoll brings us back for the rest. Bytes a
	 * layer (TLS) already took off the socket are drained regardless: epoll cannot see them. */
	for (int round = 0; !s->dead && !s->paused &&
			    (round < 8 || (s->ops->has_pending && s->ops->has_pending(s)));
	     round++) {
		/* One large read into the worker's buffer after the partial frame the stream holds
		 * (fewer reads and window updates than the stream's own 4 KiB allow); the frames
		 * are dispatched from there. A partial frame of more than half of it is completed
		 * in the stream's own buffer. */
		bool rx = s->in_len <= NET_STREAM_RX / 2 &&
			  (s->n->rx || (s->n->rx = malloc(NET_STREAM_RX)));
		ssize_t r;

		if (!rx && s->in_len == s->in_cap && stream_grow_in(s, s->in_cap + 1) < 0) {
			/* Only possible if a frame claims more than NET_STREAM_IN_MAX: framing
			 * error. */
			s->n->stats->tcp_closed_bad_framing++;
			net_stream_close(s, "bad framing");
			return;
		}
		if (rx)
			memcpy(s->n->rx, s->in, s->in_len);
		r = rx ? s->ops->read(s, s->n->rx + s->in_len, NET_STREAM_RX - s->in_len)
		       : s->ops->read(s, s->in + s->in_len, s->in_cap - s->in_len);
		if (r == -EAGAIN || r == -EWOULDBLOCK || r == -EINTR)
			break;
		if (r <= 0) {
			net_stream_close(s, r == 0 ? "closed by client" : "read failed");
			return;
		}
		s->last_active_ms = loop_now_ms(s->n->loop);
		if (rx) {
			r += (ssize_t)s->in_len;
			s->in_len = 0;
			stream_process_rx(s, (size_t)r);
		} else {
			s->in_len += (size_t)r;
			stream_process_input(s);
		}
	}
	/* A TLS write that waited for the peer's data (a key update) may go on now. */
	if (!s->dead && (s->out_len || stream_layer_wants_write(s)) && stream_flush_out(s) < 0)
		net_stream_close(s, "write failed");
}

struct net_stream *net_stream_create(struct net_server *n, int fd, enum nts_transport t,
				     const struct net_stream_ops *ops, void *layer)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct net_stream *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->n = n;
	s->ops = ops;
	s->layer = layer;
	s->origin = (struct nts_origin){.transport = t, .fd = fd, .stream = s};
	s->in = malloc(NET_STREAM_IN_MIN);
	s->in_cap = NET_STREAM_IN_MIN;
	if (!s->in || getpeername(fd, (struct sockaddr *)&ss, &sl) < 0 ||
	    nts_addr_from_sockaddr(&s->origin.client, (struct sockaddr *)&ss) < 0)
		goto fail;
	sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0 ||
	    nts_addr_from_sockaddr(&s->origin.server, (struct sockaddr *)&ss) < 0)
		goto fail;
	if (loop_add(n->loop, fd, EPOLLIN, stream_on_event, s) < 0)
		goto fail;
	s->last_active_ms = s->authed_ms = loop_now_ms(n->loop);
	s->next = n->streams;
	if (n->streams)
		n->streams->prev = s;
	n->streams = s;
	n->nstreams++;
	atomic_fetch_add_explicit(n->total, 1, memory_order_relaxed);
	return s;
fail:
	free(s->in);
	free(s);
	return NULL;
}

/* Closes streams that hold the service without a reason to. A stream owning an allocation or
 * carrying an RFC 6062 data connection (ConnectionBind) is closed when idle in both directions, and
 * an allocation lives until its lifetime runs out without a Refresh (RFC 8656 §7); closing the
 * stream earlier would delete it (§3.1), so such streams get at least the longest lifetime. Any
 * other stream (a TLS handshake, an unauthenticated client, one whose allocation is gone) is closed
 * --auth-timeout after it opened or last passed authentication, however busy it is: idle
 * connections cost the attacker nothing and would otherwise fill the connection caps. */
void net_stream_idle_tick(void *arg, uint64_t now_ms)
{
	struct net_server *n = arg;
	uint64_t limit = (uint64_t)n->cfg->tcp_idle_timeout * 1000;
	uint64_t turn_limit = (uint64_t)n->cfg->max_lifetime * 1000;
	uint64_t auth_limit = (uint64_t)n->cfg->auth_timeout * 1000;

	if (turn_limit < limit)
		turn_limit = limit;
	for (struct net_stream *s = n->streams, *next; s; s = next) {
		bool owns = s->raw || (s->turn_used && n->dispatch.turn &&
				       turn_stream_owns_allocation(n->dispatch.turn, s));

		next = s->next;
		if (!owns && auth_limit && now_ms - s->authed_ms >= auth_limit)
			net_stream_close(s, "no allocation within --auth-timeout");
		else if (now_ms - s->last_active_ms >= (owns ? turn_limit : limit))
			net_stream_close(s, "idle");
	}
}
