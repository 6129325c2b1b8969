/* Client transports of the load generator: a connected UDP socket per session, or a TCP or TLS
 * connection per session with RFC 8656 §12.5 stream framing (STUN messages and ChannelData padded
 * to 4, many frames per read and frames split across reads). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "lg.h"
#include "stun/stun.h"

#define LG_TRANSPORT_TIMEOUT_S 5
#define LG_WRITE_WAIT_MS 2000

bool lg_transport_stream(const struct lg_opts *o)
{
	return o->transport && strcmp(o->transport, "udp") != 0;
}

int lg_transport_init(struct lg_opts *o)
{
	if (!o->transport || !strcmp(o->transport, "udp") || !strcmp(o->transport, "tcp"))
		return 0;
	if (strcmp(o->transport, "tls"))
		return -EINVAL;
	o->tls = SSL_CTX_new(TLS_client_method());
	if (!o->tls)
		return -ENOMEM;
	SSL_CTX_set_min_proto_version(o->tls, TLS1_2_VERSION);
	SSL_CTX_set_verify(o->tls, SSL_VERIFY_NONE, NULL);
	/* lg_transport_offer writes what the socket takes and keeps the rest, like a TCP send. */
	SSL_CTX_set_mode(o->tls,
			 SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	return 0;
}

void lg_transport_free(struct lg_opts *o)
{
	SSL_CTX_free(o->tls);
	o->tls = NULL;
}

static int lg_conn_tls(struct lg_session *s, const struct lg_opts *o)
{
	s->stream->ssl = SSL_new(o->tls);
	if (!s->stream->ssl || SSL_set_fd(s->stream->ssl, s->fd) != 1)
		return -ENOMEM;
	return SSL_connect(s->stream->ssl) == 1 ? 0 : -ECONNREFUSED;
}

int lg_transport_open(struct lg_session *s, const struct lg_opts *o, const struct sockaddr_in *addr)
{
	bool stream = lg_transport_stream(o);
	struct timeval tv = {.tv_sec = LG_TRANSPORT_TIMEOUT_S};
	int one = 1, r;

	s->fd = socket(AF_INET, (stream ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		return -errno;
	if (stream) {
		s->stream = calloc(1, sizeof(*s->stream));
		if (!s->stream)
			return -ENOMEM;
		setsockopt(s->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	if (bind(s->fd, (const struct sockaddr *)addr, sizeof(*addr)) < 0 ||
	    connect(s->fd, (const struct sockaddr *)&o->server, sizeof(o->server)) < 0)
		return -errno;
	if (stream && o->tls && (r = lg_conn_tls(s, o)) < 0)
		return r;
	return fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK) < 0 ? -errno : 0;
}

/* Writes what the stream takes of buf now: bytes written (0 when full) or -errno. */
static ssize_t lg_stream_write_some(struct lg_session *s, const uint8_t *buf, size_t len)
{
	SSL *ssl = s->stream->ssl;
	ssize_t n;

	if (ssl) {
		int w = SSL_write(ssl, buf, (int)len), e;

		if (w > 0)
			return w;
		e = SSL_get_error(ssl, w);
		return e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ ? 0 : -EPIPE;
	}
	n = send(s->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	return n;
}

/* Writes the stream's unwritten tail. 0 when it is all out, -EAGAIN when some is left, -errno. */
static int lg_stream_flush(struct lg_session *s)
{
	struct lg_stream *st = s->stream;

	while (st->tx_off < st->tx_len) {
		ssize_t n = lg_stream_write_some(s, st->tx + st->tx_off, st->tx_len - st->tx_off);

		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EAGAIN;
		st->tx_off += (size_t)n;
	}
	st->tx_off = st->tx_len = 0;
	return 0;
}

int lg_transport_flush(struct lg_session *s)
{
	return s->stream ? lg_stream_flush(s) : 0;
}

int lg_transport_offer(struct lg_session *s, const uint8_t *buf, size_t frame_len, unsigned k)
{
	struct lg_stream *st = s->stream;
	size_t len = frame_len * k;
	ssize_t n;
	int r;

	if (!st)
		return lg_transport_send(s, buf, frame_len, k);
	if (len > sizeof(st->tx))
		return -EMSGSIZE;
	if ((r = lg_stream_flush(s)) < 0)
		return r == -EAGAIN ? 0 : r;
	n = lg_stream_write_some(s, buf, len);
	if (n < 0)
		return (int)n;
	memcpy(st->tx, buf + n, len - (size_t)n);
	st->tx_off = 0, st->tx_len = len - (size_t)n;
	return (int)k;
}

/* Writes len bytes on s's stream after its tail, waiting for room (bounded). 0 or -errno. */
static int lg_stream_write(struct lg_session *s, const uint8_t *buf, size_t len)
{
	uint64_t end = lg_now_ns() + LG_WRITE_WAIT_MS * 1000000ull;
	bool taken = false;
	int r;

	for (;;) {
		struct pollfd p = {.fd = s->fd, .events = POLLOUT};

		if (!taken) {
			r = lg_transport_offer(s, buf, len, 1);
			if (r < 0)
				return r;
			taken = r > 0;
		}
		if (taken) {
			r = lg_stream_flush(s);
			if (r != -EAGAIN)
				return r;
		}
		if (lg_now_ns() >= end)
			return -ETIMEDOUT;
		poll(&p, 1, 10);
	}
}

int lg_transport_send(struct lg_session *s, const uint8_t *buf, size_t frame_len, unsigned k)
{
	struct mmsghdr mm[64];
	struct iovec iov[64];
	int r;

	if (s->stream) {
		r = lg_stream_write(s, buf, frame_len * k);
		return r < 0 ? r : (int)k;
	}
	if (k > 64)
		k = 64;
	memset(mm, 0, sizeof(mm[0]) * k);
	for (unsigned i = 0; i < k; i++) {
		iov[i].iov_base = (void *)(buf + i * frame_len);
		iov[i].iov_len = frame_len;
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	r = sendmmsg(s->fd, mm, k, 0);
	/* A full socket buffer drops the rest: offered, not delivered. */
	return r < 0 && errno != EAGAIN ? -errno : (int)k;
}

/* Reads what the stream has into its buffer. Bytes read (0: nothing pending) or -EPIPE. */
static ssize_t lg_stream_read(struct lg_session *s)
{
	struct lg_stream *st = s->stream;
	size_t room = sizeof(st->rx) - st->have;
	ssize_t n;

	if (!room)
		return -EPIPE; /* a frame longer than any the server sends */
	if (st->ssl) {
		int r = SSL_read(st->ssl, st->rx + st->have, (int)room), e;

		if (r > 0)
			n = r;
		else if ((e = SSL_get_error(st->ssl, r)) == SSL_ERROR_WANT_READ ||
			 e == SSL_ERROR_WANT_WRITE)
			return 0;
		else
			return -EPIPE;
	} else {
		n = recv(s->fd, st->rx + st->have, room, MSG_DONTWAIT);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -EPIPE;
		if (n == 0)
			return -EPIPE;
	}
	st->have += (size_t)n;
	return n;
}

int lg_transport_recv(struct lg_session *s, lg_frame_fn fn, void *arg)
{
	uint8_t buf[1500];
	int frames = 0;
	ssize_t n;

	if (!s->stream) {
		while ((n = recv(s->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0 && frames < 4096) {
			fn(arg, buf, (size_t)n);
			frames++;
		}
		return frames;
	}
	for (int reads = 0; reads < 64 && (n = lg_stream_read(s)) != 0; reads++) {
		struct lg_stream *st = s->stream;
		size_t off = 0;
		long flen;

		if (n < 0)
			return (int)n;
		while ((flen = stun_stream_frame_len(st->rx + off, st->have - off)) > 0 &&
		       (size_t)flen <= st->have - off) {
			fn(arg, st->rx + off, (size_t)flen);
			off += (size_t)flen;
			frames++;
		}
		if (flen < 0)
			return -EPIPE;
		memmove(st->rx, st->rx + off, st->have - off);
		st->have -= off;
	}
	return frames;
}

void lg_transport_close(struct lg_session *s)
{
	if (s->stream && s->stream->ssl) {
		SSL_shutdown(s->stream->ssl);
		SSL_free(s->stream->ssl);
	}
	free(s->stream);
	s->stream = NULL;
	if (s->fd > 0)
		close(s->fd);
	s->fd = -1;
}
