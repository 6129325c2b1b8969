/* TURN client sessions for the load generator, on the shared STUN codec (user/stun) and ephemeral
 * credentials (auth_make_ephemeral): Allocate with the long-term mechanism (RFC 8489 §9.2), then
 * ChannelBind (RFC 8656 §11), many sessions at once; Refresh with LIFETIME 0 at the end. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth.h"
#include "lg.h"
#include "stun/stun.h"

#define LG_RTO_NS 500000000ull
#define LG_MAX_TRIES 5

/* Ephemeral username "<expiry>:<account>" (one per session: the server binds the allocation to it,
 * RFC 8656 §5) and the long-term key MD5(username:realm:password) (RFC 8489 §9.2.2). */
static int lg_session_key(struct lg_session *s, const struct lg_opts *o)
{
	char pass[64];
	int r;

	if (!s->expiry)
		s->expiry = (uint64_t)time(NULL) + 3600;
	r = auth_make_ephemeral(o->auth, o->account, s->expiry, s->user, sizeof(s->user), pass,
				sizeof(pass));
	if (r < 0)
		return r;
	r = stun_long_term_key(STUN_PWALG_MD5, s->user, strlen(s->user), s->realm, strlen(s->realm),
			       pass, strlen(pass), s->key);
	return r < 0 ? r : 0;
}

/* Retransmits the last request unchanged (same transaction id, RFC 8489 §6.2.1), so a server that
 * already acted on it can answer from its cache. */
static int lg_session_resend(struct lg_session *s)
{
	int r;

	s->resent = s->tries > 0;
	s->sent_ns = lg_now_ns();
	/* Over TCP and TLS the transport retransmits, the client does not (RFC 8489 §6.2.2): a
	 * late answer only uses up the tries. */
	if (s->stream && s->tries++ > 0)
		return 0;
	if (!s->stream)
		s->tries++;
	r = lg_transport_send(s, s->last, s->last_len, 1);
	return r < 0 ? r : 0;
}

/* Builds and sends the request of s's state (method: Allocate, ChannelBind or Refresh). */
static int lg_session_request(struct lg_session *s, const struct lg_opts *o, uint16_t method)
{
	struct stun_builder b;
	struct nts_addr peer;
	int len;

	for (int i = 0; i < STUN_TID_LEN; i++)
		s->tid[i] = (uint8_t)rand();
	stun_build_init(&b, s->last, sizeof(s->last), method, STUN_REQUEST, s->tid);
	if (method == TURN_ALLOCATE)
		stun_put_transport(&b, IPPROTO_UDP);
	if (method == TURN_CHANNEL_BIND) {
		nts_addr_from_sockaddr(&peer, (const struct sockaddr *)&s->peer);
		stun_put_channel(&b, s->channel);
		stun_put_xor_addr(&b, STUN_ATTR_XOR_PEER_ADDRESS, &peer);
	}
	if (method == TURN_REFRESH)
		stun_put_u32(&b, STUN_ATTR_LIFETIME, 0);
	if (s->state != LG_ALLOC1) {
		if (lg_session_key(s, o) < 0)
			return -EINVAL;
		stun_put_attr(&b, STUN_ATTR_USERNAME, s->user, strlen(s->user));
		stun_put_attr(&b, STUN_ATTR_REALM, s->realm, strlen(s->realm));
		stun_put_attr(&b, STUN_ATTR_NONCE, s->nonce, strlen(s->nonce));
		stun_put_integrity(&b, s->key, 16);
	}
	len = stun_build_finish(&b);
	if (len < 0)
		return len;
	s->last_len = (uint16_t)len;
	s->tries = 0; /* a new transaction */
	return lg_session_resend(s);
}

static int lg_session_send(struct lg_session *s, const struct lg_opts *o)
{
	return lg_session_request(s, o, s->state == LG_BIND ? TURN_CHANNEL_BIND : TURN_ALLOCATE);
}

static void lg_copy_str(char *dst, size_t cap, const struct stun_attr *a)
{
	size_t len = a->len < cap ? a->len : cap - 1;

	memcpy(dst, a->value, len);
	dst[len] = 0;
}

/* Parses a response to s's outstanding request: keeps REALM, NONCE and XOR-RELAYED-ADDRESS; returns
 * the error code (0 if none) and the method and class, or -1 when it is not such a response. */
static int lg_session_attrs(struct lg_session *s, const uint8_t *buf, size_t len, uint16_t *method,
			    uint16_t *cls)
{
	struct stun_msg m;
	const struct stun_attr *a;
	struct nts_addr relay;
	int code = 0;

	if (stun_parse(&m, buf, len) || memcmp(m.tid, s->tid, STUN_TID_LEN) != 0)
		return -1;
	*method = m.method;
	*cls = m.cls;
	if ((a = stun_find(&m, STUN_ATTR_ERROR_CODE)) && stun_attr_get_error(a, &code, NULL, NULL))
		code = 400;
	if ((a = stun_find(&m, STUN_ATTR_REALM)))
		lg_copy_str(s->realm, sizeof(s->realm), a);
	if ((a = stun_find(&m, STUN_ATTR_NONCE)))
		lg_copy_str(s->nonce, sizeof(s->nonce), a);
	if ((a = stun_find(&m, STUN_ATTR_XOR_RELAYED_ADDRESS)) &&
	    !stun_attr_get_xor_addr(&m, a, &relay) && relay.family == AF_INET) {
		struct sockaddr_storage ss;

		nts_addr_to_sockaddr(&relay, &ss);
		memcpy(&s->relay, &ss, sizeof(s->relay));
	}
	return code;
}

/* Handles a response on session s; advances its state. */
static void lg_session_input(struct lg_session *s, const struct lg_opts *o, const uint8_t *b,
			     size_t len)
{
	uint16_t method = 0, cls = 0;
	int err = lg_session_attrs(s, b, len, &method, &cls);
	bool was_resent = s->resent, alloc = method == TURN_ALLOCATE;

	if (err < 0)
		return;
	s->tries = 0;
	if (alloc && cls == STUN_ERROR && err == 401 && s->state == LG_ALLOC1 && s->nonce[0]) {
		s->state = LG_ALLOC2;
		lg_session_send(s, o);
	} else if (alloc && cls == STUN_ERROR && err == 437 && s->state == LG_ALLOC2 &&
		   was_resent) {
		/* Our retransmitted Allocate met the allocation its first copy made (a server that
		 * does not replay the cached answer): the 5-tuple is allocated, go on to
		 * ChannelBind. */
		s->state = LG_BIND;
		lg_session_send(s, o);
	} else if (cls == STUN_ERROR && err == 438 && s->state != LG_ALLOC1 && s->stale++ < 2) {
		lg_session_send(s, o); /* stale nonce: retry with the new one (RFC 8489 §9.2.4) */
	} else if (alloc && cls == STUN_SUCCESS && s->state == LG_ALLOC2 && s->relay.sin_port) {
		s->state = LG_BIND;
		lg_session_send(s, o);
	} else if (method == TURN_CHANNEL_BIND && cls == STUN_SUCCESS && s->state == LG_BIND) {
		s->state = LG_DONE;
	} else {
		s->error = err ? err : -EPROTO;
		s->fail_state = s->state;
		s->fail_type = (uint16_t)(method | cls);
		s->state = LG_FAILED;
	}
}

int lg_sessions_open(struct lg_session *s, unsigned n, const struct lg_opts *o)
{
	int buf = 4 << 20, r;

	for (unsigned i = 0; i < n; i++) {
		struct sockaddr_in a = o->client_ip;
		socklen_t al = sizeof(a);

		memset(&s[i], 0, sizeof(s[i]));
		a.sin_port = 0;
		if (o->client_ips > 1)
			a.sin_addr.s_addr = htonl(ntohl(a.sin_addr.s_addr) + i % o->client_ips);
		if ((r = lg_transport_open(&s[i], o, &a)) < 0)
			return r;
		if (getsockname(s[i].fd, (struct sockaddr *)&a, &al) < 0)
			return -errno;
		if (n <= 64 && !s[i].stream) {
			setsockopt(s[i].fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf));
			setsockopt(s[i].fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf));
		}
		s[i].local_port = ntohs(a.sin_port);
		s[i].channel = (uint16_t)(STUN_CHANNEL_MIN + (i % 0x1000));
		s[i].peer = o->peer;
		s[i].peer.sin_port = htons((uint16_t)(ntohs(o->peer.sin_port) + i));
		snprintf(s[i].realm, sizeof(s[i].realm), "%s", o->realm);
	}
	return 0;
}

/* A response on a session being set up (ChannelData is not one). */
struct lg_input_arg {
	struct lg_session *s;
	const struct lg_opts *o;
};

static void lg_session_frame(void *arg, const uint8_t *frame, size_t len)
{
	struct lg_input_arg *a = arg;

	if (a->s->state < LG_DONE && !stun_is_channeldata(frame, len))
		lg_session_input(a->s, a->o, frame, len);
}

/* Collects responses for up to 50 ms and counts the sessions that finished. */
static void lg_sessions_poll(struct lg_session *s, int ep, const struct lg_opts *o,
			     unsigned *active, unsigned *done, unsigned *failed)
{
	struct epoll_event evs[256];
	int k = epoll_wait(ep, evs, 256, 50);

	for (int i = 0; i < k; i++) {
		struct lg_session *x = &s[evs[i].data.u32];
		struct lg_input_arg a = {x, o};

		if (lg_transport_recv(x, lg_session_frame, &a) < 0 && x->state < LG_DONE) {
			x->fail_state = x->state;
			x->state = LG_FAILED, x->error = -EPIPE;
		}
		if (x->state >= LG_DONE) {
			epoll_ctl(ep, EPOLL_CTL_DEL, x->fd, NULL);
			(*active)--;
			x->state == LG_DONE ? (*done)++ : (*failed)++;
		}
	}
}

unsigned lg_sessions_setup(struct lg_session *s, unsigned n, const struct lg_opts *o,
			   uint64_t deadline_ns)
{
	unsigned next = 0, active = 0, done = 0, failed = 0;
	int ep = epoll_create1(EPOLL_CLOEXEC);
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
		lg_sessions_poll(s, ep, o, &active, &done, &failed);
		uint64_t now = lg_now_ns();

		if (now - last_scan < LG_RTO_NS / 10)
			continue;
		last_scan = now;
		for (unsigned i = 0; i < next; i++) {
			struct lg_session *x = &s[i];

			if (x->state >= LG_DONE || x->state == LG_IDLE ||
			    now - x->sent_ns < LG_RTO_NS)
				continue;
			if (x->tries >= LG_MAX_TRIES) {
				x->fail_state = x->state;
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

/* Deletes every allocation made (Refresh with LIFETIME 0, RFC 8656 §7.3), so a later run whose
 * socket gets the same local port does not meet a stale allocation (437). Three rounds of 300 ms
 * at most; a 438 answer leaves the new nonce for the next round. */
/* A Refresh answer during release: counts it once. */
struct lg_release_arg {
	struct lg_session *s;
	unsigned *pending;
};

static void lg_release_frame(void *arg, const uint8_t *frame, size_t len)
{
	struct lg_release_arg *a = arg;
	uint16_t method, cls;

	if ((a->s->state != LG_DONE && a->s->state != LG_BIND) || stun_is_channeldata(frame, len) ||
	    lg_session_attrs(a->s, frame, len, &method, &cls) < 0 || method != TURN_REFRESH)
		return;
	if (cls == STUN_SUCCESS)
		a->s->state = LG_IDLE; /* released */
	(*a->pending)--;
}

static void lg_sessions_release(struct lg_session *s, unsigned n, const struct lg_opts *o)
{
	for (int round = 0; round < 3; round++) {
		unsigned pending = 0;

		for (unsigned i = 0; i < n; i++)
			if (s[i].fd > 0 && (s[i].state == LG_DONE || s[i].state == LG_BIND) &&
			    lg_session_request(&s[i], o, TURN_REFRESH) == 0)
				pending++;
		for (uint64_t end = lg_now_ns() + 300000000ull; pending && lg_now_ns() < end;) {
			for (unsigned i = 0; i < n; i++) {
				struct lg_release_arg a = {&s[i], &pending};

				if (s[i].fd > 0)
					lg_transport_recv(&s[i], lg_release_frame, &a);
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
		lg_transport_close(&s[i]);
}
