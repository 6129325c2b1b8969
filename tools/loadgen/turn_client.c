/* Minimal TURN client for the load generator: Allocate with the long-term mechanism (RFC 8489 §9.2)
 * using ephemeral TURN REST credentials, then ChannelBind (RFC 8656 §11), for many sessions at once. */
#include <arpa/inet.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lg.h"

#define LG_COOKIE 0x2112A442u
#define LG_RTO_NS 500000000ull
#define LG_MAX_TRIES 5

enum {
	LG_ALLOCATE_REQ = 0x0003,
	LG_ALLOCATE_OK = 0x0103,
	LG_ALLOCATE_ERR = 0x0113,
	LG_BIND_REQ = 0x0009,
	LG_BIND_OK = 0x0109,
	LG_BIND_ERR = 0x0119,
	LG_REFRESH_REQ = 0x0004,
	LG_A_USERNAME = 0x0006,
	LG_A_INTEGRITY = 0x0008,
	LG_A_ERROR = 0x0009,
	LG_A_CHANNEL = 0x000C,
	LG_A_LIFETIME = 0x000D,
	LG_A_PEER = 0x0012,
	LG_A_REALM = 0x0014,
	LG_A_NONCE = 0x0015,
	LG_A_RELAYED = 0x0016,
	LG_A_TRANSPORT = 0x0019,
};

/* A STUN message under construction. */
struct lg_msg {
	uint8_t b[512];
	size_t len;
};

static void lg_put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static uint16_t lg_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void lg_msg_init(struct lg_msg *m, uint16_t type, uint8_t tid[12])
{
	uint32_t c = htonl(LG_COOKIE);

	for (int i = 0; i < 12; i++)
		tid[i] = (uint8_t)rand();
	lg_put16(m->b, type);
	lg_put16(m->b + 2, 0);
	memcpy(m->b + 4, &c, 4);
	memcpy(m->b + 8, tid, 12);
	m->len = 20;
}

static void lg_msg_attr(struct lg_msg *m, uint16_t type, const void *v, size_t len)
{
	size_t pad = (4 - len % 4) % 4;

	if (m->len + 4 + len + pad > sizeof(m->b))
		return;
	lg_put16(m->b + m->len, type);
	lg_put16(m->b + m->len + 2, (uint16_t)len);
	memcpy(m->b + m->len + 4, v, len);
	memset(m->b + m->len + 4 + len, 0, pad);
	m->len += 4 + len + pad;
	lg_put16(m->b + 2, (uint16_t)(m->len - 20));
}

/* XOR-PEER-ADDRESS for an IPv4 address (RFC 8489 §14.2). */
static void lg_msg_xor_peer(struct lg_msg *m, const struct sockaddr_in *a)
{
	uint8_t v[8] = {0, 1};
	uint32_t ip = a->sin_addr.s_addr ^ htonl(LG_COOKIE);

	lg_put16(v + 2, ntohs(a->sin_port) ^ (LG_COOKIE >> 16));
	memcpy(v + 4, &ip, 4);
	lg_msg_attr(m, LG_A_PEER, v, 8);
}

/* MESSAGE-INTEGRITY: HMAC-SHA1 over the message with the length already covering the attribute. */
static void lg_msg_integrity(struct lg_msg *m, const uint8_t *key, size_t klen)
{
	uint8_t mac[20];
	unsigned mlen = 0;

	lg_put16(m->b + 2, (uint16_t)(m->len + 24 - 20));
	HMAC(EVP_sha1(), key, (int)klen, m->b, m->len, mac, &mlen);
	lg_msg_attr(m, LG_A_INTEGRITY, mac, 20);
}

/* Ephemeral credentials (TURN REST): user "<expiry>:<id>", password base64(HMAC-SHA1(secret, user)),
 * and the long-term key MD5(user:realm:password) (RFC 8489 §9.2.2). */
static void lg_session_key(struct lg_session *s, const struct lg_opts *o, char *user, size_t ulen)
{
	uint8_t mac[20], b64[64];
	unsigned mlen = 0;
	char buf[512];

	/* One username per session: the server binds the allocation to it (RFC 8656 §5). */
	if (!s->expiry)
		s->expiry = (uint64_t)time(NULL) + 3600;
	snprintf(user, ulen, "%llu:%s", (unsigned long long)s->expiry, o->account);
	HMAC(EVP_sha1(), o->secret, (int)strlen(o->secret), (const uint8_t *)user, strlen(user), mac,
	     &mlen);
	EVP_EncodeBlock(b64, mac, 20);
	snprintf(buf, sizeof(buf), "%s:%s:%s", user, s->realm, (char *)b64);
	EVP_Digest(buf, strlen(buf), s->key, NULL, EVP_md5(), NULL);
}

/* Retransmits the last request unchanged (same transaction id, RFC 8489 §6.2.1), so a server that
 * already acted on it answers from its cache instead of with 437. */
static int lg_session_resend(struct lg_session *s)
{
	s->resent = s->tries > 0;
	s->sent_ns = lg_now_ns();
	s->tries++;
	if (send(s->fd, s->last, s->last_len, 0) < 0)
		return -errno;
	return 0;
}

static int lg_session_send(struct lg_session *s, const struct lg_opts *o)
{
	uint8_t transport[4] = {17, 0, 0, 0};
	struct lg_msg m;
	char user[160];

	if (s->state == LG_ALLOC1) {
		lg_msg_init(&m, LG_ALLOCATE_REQ, s->tid);
		lg_msg_attr(&m, LG_A_TRANSPORT, transport, 4);
	} else {
		lg_session_key(s, o, user, sizeof(user));
		lg_msg_init(&m, s->state == LG_BIND ? LG_BIND_REQ : LG_ALLOCATE_REQ, s->tid);
		if (s->state == LG_BIND) {
			uint8_t ch[4] = {s->channel >> 8, (uint8_t)s->channel, 0, 0};

			lg_msg_attr(&m, LG_A_CHANNEL, ch, 4);
			lg_msg_xor_peer(&m, &s->peer);
		} else {
			lg_msg_attr(&m, LG_A_TRANSPORT, transport, 4);
		}
		lg_msg_attr(&m, LG_A_USERNAME, user, strlen(user));
		lg_msg_attr(&m, LG_A_REALM, s->realm, strlen(s->realm));
		lg_msg_attr(&m, LG_A_NONCE, s->nonce, strlen(s->nonce));
		lg_msg_integrity(&m, s->key, 16);
	}
	memcpy(s->last, m.b, m.len);
	s->last_len = (uint16_t)m.len;
	return lg_session_resend(s);
}

static void lg_copy_str(char *dst, size_t cap, const uint8_t *v, size_t len)
{
	if (len >= cap)
		len = cap - 1;
	memcpy(dst, v, len);
	dst[len] = 0;
}

/* Reads a response's ERROR-CODE, REALM, NONCE and XOR-RELAYED-ADDRESS into s; returns the error
 * code (0 if none) or -1 when the message is not a response to s's outstanding request. */
static int lg_session_attrs(struct lg_session *s, const uint8_t *b, size_t len)
{
	uint16_t alen;
	size_t off;
	int err = 0;

	if (len < 20 || memcmp(b + 8, s->tid, 12) != 0)
		return -1;
	for (off = 20; off + 4 <= len; off += 4 + ((alen + 3u) & ~3u)) {
		uint16_t at = lg_get16(b + off);
		const uint8_t *v = b + off + 4;

		alen = lg_get16(b + off + 2);
		if (off + 4 + alen > len)
			return -1;
		if (at == LG_A_ERROR && alen >= 4)
			err = (v[2] & 7) * 100 + v[3];
		else if (at == LG_A_REALM)
			lg_copy_str(s->realm, sizeof(s->realm), v, alen);
		else if (at == LG_A_NONCE)
			lg_copy_str(s->nonce, sizeof(s->nonce), v, alen);
		else if (at == LG_A_RELAYED && alen == 8) {
			uint32_t ip;

			memcpy(&ip, v + 4, 4);
			s->relay.sin_family = AF_INET;
			s->relay.sin_port = htons(lg_get16(v + 2) ^ (LG_COOKIE >> 16));
			s->relay.sin_addr.s_addr = ip ^ htonl(LG_COOKIE);
		}
	}
	return err;
}

/* Handles a response on session s; advances its state. */
static void lg_session_input(struct lg_session *s, const struct lg_opts *o, const uint8_t *b,
			     size_t len)
{
	int err = lg_session_attrs(s, b, len);
	bool was_resent = s->resent;
	uint16_t type;

	if (err < 0)
		return;
	type = lg_get16(b);

	s->tries = 0;
	if (type == LG_ALLOCATE_ERR && err == 401 && s->state == LG_ALLOC1 && s->nonce[0]) {
		s->state = LG_ALLOC2;
		lg_session_send(s, o);
	} else if (type == LG_ALLOCATE_ERR && err == 437 && s->state == LG_ALLOC2 && was_resent) {
		/* Our retransmitted Allocate met the allocation its first copy made (a server that does
		 * not replay the cached answer): the 5-tuple is allocated, go on to ChannelBind. */
		s->state = LG_BIND;
		lg_session_send(s, o);
	} else if (err == 438 && s->state != LG_ALLOC1 && s->stale++ < 2) {
		lg_session_send(s, o); /* stale nonce: retry with the new one (RFC 8489 §9.2.4) */
	} else if (type == LG_ALLOCATE_OK && s->state == LG_ALLOC2 && s->relay.sin_port) {
		s->state = LG_BIND;
		lg_session_send(s, o);
	} else if (type == LG_BIND_OK && s->state == LG_BIND) {
		s->state = LG_DONE;
	} else {
		s->error = err ? err : -EPROTO;
		s->fail_state = s->state;
		s->fail_type = type;
		s->state = LG_FAILED;
	}
}

int lg_sessions_open(struct lg_session *s, unsigned n, const struct lg_opts *o)
{
	int buf = 4 << 20;

	for (unsigned i = 0; i < n; i++) {
		struct sockaddr_in a = o->client_ip;
		socklen_t al = sizeof(a);

		memset(&s[i], 0, sizeof(s[i]));
		s[i].fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (s[i].fd < 0)
			return -errno;
		a.sin_port = 0;
		if (bind(s[i].fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
		    connect(s[i].fd, (const struct sockaddr *)&o->server, sizeof(o->server)) < 0 ||
		    getsockname(s[i].fd, (struct sockaddr *)&a, &al) < 0)
			return -errno;
		if (n <= 64) {
			setsockopt(s[i].fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf));
			setsockopt(s[i].fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf));
		}
		s[i].local_port = ntohs(a.sin_port);
		s[i].channel = 0x4000 + (i % 0x1000);
		s[i].peer = o->peer;
		s[i].peer.sin_port = htons(ntohs(o->peer.sin_port) + i);
		snprintf(s[i].realm, sizeof(s[i].realm), "%s", o->realm);
	}
	return 0;
}

unsigned lg_sessions_setup(struct lg_session *s, unsigned n, const struct lg_opts *o,
			   uint64_t deadline_ns)
{
	unsigned next = 0, active = 0, done = 0, failed = 0;
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event evs[256];
	uint8_t buf[1500];
	uint64_t last_scan = 0;

	if (ep < 0)
		return 0;
	while (done + failed < n && lg_now_ns() < deadline_ns) {
		while (active < o->window && next < n) {
			struct epoll_event ev = {.events = EPOLLIN, .data.u32 = next};

			epoll_ctl(ep, EPOLL_CTL_ADD, s[next].fd, &ev);
			s[next].state = LG_ALLOC1;
			lg_session_send(&s[next], o);
			next++, active++;
		}
		int k = epoll_wait(ep, evs, 256, 50);

		for (int i = 0; i < k; i++) {
			struct lg_session *x = &s[evs[i].data.u32];
			ssize_t r;

			while ((r = recv(x->fd, buf, sizeof(buf), 0)) > 0 && x->state < LG_DONE)
				lg_session_input(x, o, buf, (size_t)r);
			if (x->state >= LG_DONE) {
				epoll_ctl(ep, EPOLL_CTL_DEL, x->fd, NULL);
				active--;
				x->state == LG_DONE ? done++ : failed++;
			}
		}
		uint64_t now = lg_now_ns();

		if (now - last_scan < LG_RTO_NS / 10)
			continue;
		last_scan = now;
		for (unsigned i = 0; i < next; i++) {
			struct lg_session *x = &s[i];

			if (x->state >= LG_DONE || x->state == LG_IDLE || now - x->sent_ns < LG_RTO_NS)
				continue;
			if (x->tries >= LG_MAX_TRIES) {
				x->state = LG_FAILED, x->error = -ETIMEDOUT;
				epoll_ctl(ep, EPOLL_CTL_DEL, x->fd, NULL);
				active--, failed++;
			} else {
				lg_session_resend(x);
			}
		}
	}
	close(ep);
	return done;
}

/* Sends Refresh with LIFETIME 0 (RFC 8656 §7.3) on session s. */
static void lg_session_refresh0(struct lg_session *s, const struct lg_opts *o)
{
	uint8_t zero[4] = {0};
	struct lg_msg m;
	char user[160];

	lg_session_key(s, o, user, sizeof(user));
	lg_msg_init(&m, LG_REFRESH_REQ, s->tid);
	lg_msg_attr(&m, LG_A_LIFETIME, zero, 4);
	lg_msg_attr(&m, LG_A_USERNAME, user, strlen(user));
	lg_msg_attr(&m, LG_A_REALM, s->realm, strlen(s->realm));
	lg_msg_attr(&m, LG_A_NONCE, s->nonce, strlen(s->nonce));
	lg_msg_integrity(&m, s->key, 16);
	send(s->fd, m.b, m.len, 0);
}

/* Deletes every allocation made, so a later run whose socket gets the same local port does not
 * meet a stale allocation (437). Three rounds of 300 ms at most; a 438 answer carries the new nonce
 * for the next round. */
static void lg_sessions_release(struct lg_session *s, unsigned n, const struct lg_opts *o)
{
	uint8_t buf[1500];

	for (int round = 0; round < 3; round++) {
		unsigned pending = 0;

		for (unsigned i = 0; i < n; i++)
			if (s[i].fd > 0 && (s[i].state == LG_DONE || s[i].state == LG_BIND)) {
				lg_session_refresh0(&s[i], o);
				pending++;
			}
		for (uint64_t end = lg_now_ns() + 300000000ull; pending && lg_now_ns() < end;) {
			for (unsigned i = 0; i < n; i++) {
				ssize_t r;

				while (s[i].fd > 0 && (r = recv(s[i].fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
					uint16_t type = lg_get16(buf);

					if ((s[i].state != LG_DONE && s[i].state != LG_BIND) ||
					    lg_session_attrs(&s[i], buf, (size_t)r) < 0)
						continue;
					/* Success, or an error: a 438 leaves the new nonce for the next round. */
					if (type == 0x0104)
						s[i].state = LG_IDLE;
					pending--;
				}
			}
			lg_sleep_until(lg_now_ns() + 2000000ull);
		}
		if (!pending)
			break;
	}
}

void lg_sessions_close(struct lg_session *s, unsigned n, const struct lg_opts *o)
{
	if (o)
		lg_sessions_release(s, n, o);
	for (unsigned i = 0; i < n; i++)
		if (s[i].fd > 0)
			close(s[i].fd);
}
