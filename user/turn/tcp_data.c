/* RFC 6062 data connections: the peer socket's events in each state (connect completion, hang-up
 * while waiting for ConnectionBind, relaying), and the raw byte relay with bounded buffers: the
 * peer is not read while the client's output queue is above TURN_TCP_CLIENT_HIGH, and the client
 * is not read while bytes for the peer wait (at most one client read's worth).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "turn/tcp_relay.h"

/* Watches the peer socket for what the state needs; a paused, idle one is taken off the loop so a
 * hang-up cannot spin it. */
static void turn_tcp_watch(struct turn_tcp_conn *c)
{
	struct turn_server *t = c->t;
	uint32_t ev = 0;

	if (c->fd < 0)
		return;
	if (!c->peer_paused && !c->peer_eof)
		ev |= EPOLLIN;
	if (c->c2p_len)
		ev |= EPOLLOUT;
	if (!ev) {
		if (c->watched)
			loop_del(t->loop, c->fd);
		c->watched = false;
		return;
	}
	if (c->watched)
		loop_mod(t->loop, c->fd, ev);
	else
		c->watched = loop_add(t->loop, c->fd, ev, turn_tcp_data_event, c) == 0;
}

static size_t turn_tcp_client_queued(struct turn_tcp_conn *c)
{
	return c->t->shooks.queued(c->t->shooks_arg, c->data);
}

static void turn_tcp_count(struct turn_tcp_conn *c, bool to_peer, size_t len)
{
	struct turn_alloc *a = c->alloc;

	if (!a)
		return;
	if (to_peer) {
		a->c2p_packets++;
		a->c2p_bytes += len;
	} else {
		a->p2c_packets++;
		a->p2c_bytes += len;
	}
	turn_alloc_touch(c->t, a);
}

/* Peer -> client, while the client keeps up. */
static void turn_tcp_peer_read(struct turn_tcp_conn *c)
{
	struct turn_server *t = c->t;
	uint8_t buf[TURN_TCP_READ];

	for (int round = 0; round < 4; round++) {
		struct iovec iov = {.iov_base = buf};
		ssize_t n;

		if (turn_tcp_client_queued(c) >= TURN_TCP_CLIENT_HIGH) {
			c->peer_paused = true;
			break;
		}
		n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			break;
		if (n <= 0) {
			/* §5.5: the peer closed; the client gets what is queued, then its close. */
			c->peer_eof = true;
			if (n < 0 || !turn_tcp_client_queued(c)) {
				turn_tcp_conn_close(c);
				return;
			}
			break;
		}
		iov.iov_len = (size_t)n;
		turn_tcp_count(c, false, (size_t)n);
		if (t->send(t->send_arg, &c->data_origin, &iov, 1) < 0)
			return; /* net closed the client; turn_tcp_closed() follows */
	}
	turn_tcp_watch(c);
}

/* Client bytes that waited for the peer socket. */
static void turn_tcp_peer_flush(struct turn_tcp_conn *c)
{
	while (c->c2p_len) {
		ssize_t w =
		    send(c->fd, c->c2p + c->c2p_off, c->c2p_len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			break;
		if (w <= 0) {
			turn_tcp_conn_close(c);
			return;
		}
		c->c2p_off += (size_t)w;
		c->c2p_len -= (size_t)w;
	}
	if (!c->c2p_len) {
		free(c->c2p);
		c->c2p = NULL;
		c->c2p_off = 0;
		if (c->data)
			c->t->shooks.pause(c->t->shooks_arg, c->data, false);
	}
	turn_tcp_watch(c);
}

void turn_tcp_data_event(void *arg, int fd, uint32_t events)
{
	struct turn_tcp_conn *c = arg;
	int err = 0;
	socklen_t len = sizeof(err);

	switch (c->state) {
	case TURN_TCP_CONNECTING:
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		turn_tcp_connect_done(c, !err && !(events & (EPOLLERR | EPOLLHUP)));
		return;
	case TURN_TCP_PENDING:
		if (events & (EPOLLERR | EPOLLHUP))
			turn_tcp_conn_free(c); /* the peer left before ConnectionBind */
		return;
	default:
		if (events & EPOLLOUT) {
			turn_tcp_peer_flush(c);
			if (c->fd < 0)
				return;
		}
		if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
			turn_tcp_peer_read(c);
	}
}

void turn_tcp_data_start(struct turn_tcp_conn *c)
{
	c->peer_paused = false;
	turn_tcp_watch(c); /* what the peer sent before the bind is read now (§5.4) */
}

/* Client -> peer; what the peer socket does not take waits, and the client is paused. */
static void turn_tcp_client_input(void *arg, const uint8_t *buf, size_t len)
{
	struct turn_tcp_conn *c = arg;
	ssize_t w = 0;

	if (c->fd < 0 || !len)
		return;
	turn_tcp_count(c, true, len);
	if (!c->c2p_len) {
		w = send(c->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			turn_tcp_conn_close(c);
			return;
		}
		if (w < 0)
			w = 0;
	}
	if ((size_t)w < len) {
		uint8_t *nb = realloc(c->c2p, c->c2p_off + c->c2p_len + len - (size_t)w);

		if (!nb) {
			turn_tcp_conn_close(c);
			return;
		}
		c->c2p = nb;
		memcpy(c->c2p + c->c2p_off + c->c2p_len, buf + w, len - (size_t)w);
		c->c2p_len += len - (size_t)w;
		c->t->shooks.pause(c->t->shooks_arg, c->data, true);
		turn_tcp_watch(c);
	}
}

/* The client caught up: read the peer again, or finish a peer's close. */
static void turn_tcp_client_drained(void *arg)
{
	struct turn_tcp_conn *c = arg;

	if (c->fd < 0)
		return;
	if (c->peer_eof) {
		turn_tcp_conn_close(c);
		return;
	}
	if (c->peer_paused) {
		c->peer_paused = false;
		turn_tcp_watch(c);
	}
}

/* §5.5: the client data connection is gone: so is the peer's. */
static void turn_tcp_client_closed(void *arg)
{
	struct turn_tcp_conn *c = arg;

	c->data = NULL;
	turn_tcp_conn_free(c);
}

const struct turn_raw_ops turn_tcp_raw_ops = {
    .input = turn_tcp_client_input,
    .drained = turn_tcp_client_drained,
    .closed = turn_tcp_client_closed,
};
