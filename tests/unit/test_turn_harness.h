/* Shared harness for the TURN unit tests: a loop, real long-term credentials (static user alice and
 * an ephemeral secret), a capture send function standing in for user/net, requests built with the
 * codec, and real UDP peer sockets on 127.0.0.1. Included by tests/unit/test_turn_*.c.
 */
#ifndef NTS_TEST_TURN_HARNESS_H
#define NTS_TEST_TURN_HARNESS_H

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "auth/auth.h"
#include "stun/stun.h"
#include "turn/turn.h"
#include "turn/turn_internal.h"

#define H_USER "alice"
#define H_PASS "wonderland"
#define H_REALM "nts.test"
#define H_MAX_CAP 64

struct h_capture {
	struct nts_origin origin;
	uint8_t buf[2048];
	size_t len;
};

struct h_hook_event {
	char what[16];
	uint64_t alloc_id;
	uint16_t channel;
	struct nts_addr peer;
	unsigned captured_before;     /* answers captured when the hook ran */
	enum nts_transport transport; /* permission_set's relay transport */
};

struct harness {
	struct nts_loop *loop;
	struct nts_config cfg;
	struct auth_ctx *auth;
	struct nts_stats stats;
	struct turn_server *t;
	struct h_capture cap[H_MAX_CAP];
	unsigned ncap;
	struct stun_msg resp; /* the last answer, parsed */
	struct h_hook_event ev[256];
	unsigned nev;
	uint64_t usage_allocs, usage_ended, usage_bytes, usage_c2p;
	uint32_t tid_counter;
	bool close_stream_on_send; /* act as net does when a stream's queue overflows */
	unsigned send_attempts;
};

static inline int h_send(void *arg, const struct nts_origin *o, const struct iovec *iov, int iovcnt)
{
	struct harness *h = arg;
	struct h_capture *c;

	h->send_attempts++;
	if (h->close_stream_on_send && o->stream) {
		turn_stream_closed(h->t, o->stream);
		return -ENOBUFS;
	}
	if (h->ncap == H_MAX_CAP)
		return -ENOBUFS;
	c = &h->cap[h->ncap++];
	c->origin = *o;
	c->len = 0;
	for (int i = 0; i < iovcnt; i++) {
		if (c->len + iov[i].iov_len > sizeof(c->buf))
			return -EMSGSIZE;
		memcpy(c->buf + c->len, iov[i].iov_base, iov[i].iov_len);
		c->len += iov[i].iov_len;
	}
	return 0;
}

static inline void h_ev(struct harness *h, const char *what, uint64_t id, uint16_t ch,
			const struct nts_addr *peer)
{
	struct h_hook_event *e;

	if (h->nev == sizeof(h->ev) / sizeof(h->ev[0]))
		return;
	e = &h->ev[h->nev++];
	snprintf(e->what, sizeof(e->what), "%s", what);
	e->alloc_id = id;
	e->channel = ch;
	if (peer)
		e->peer = *peer;
	e->captured_before = h->ncap;
}

static inline int h_hook_channel_set(void *arg, const struct turn_channel_info *c)
{
	h_ev(arg, "channel_set", c->alloc_id, c->channel, &c->peer);
	return 0;
}
static inline void h_hook_channel_del(void *arg, const struct turn_channel_info *c)
{
	h_ev(arg, "channel_del", c->alloc_id, c->channel, &c->peer);
}
static inline int h_hook_perm_set(void *arg, uint64_t id, enum nts_transport tr,
				  const struct nts_addr *relay, const struct nts_addr *peer,
				  uint64_t expires_ns)
{
	struct harness *h = arg;

	h_ev(h, "perm_set", id, 0, peer);
	if (h->nev)
		h->ev[h->nev - 1].transport = tr;
	return 0;
}
static inline void h_hook_perm_del(void *arg, uint64_t id, const struct nts_addr *relay,
				   const struct nts_addr *peer)
{
	h_ev(arg, "perm_del", id, 0, peer);
}
static inline void h_hook_alloc_del(void *arg, uint64_t id)
{
	h_ev(arg, "alloc_del", id, 0, NULL);
}
static inline void h_hook_usage(void *arg, const char *account, const struct turn_usage *u)
{
	struct harness *h = arg;

	h->usage_allocs += u->created;
	h->usage_ended += u->ended;
	h->usage_bytes += u->c2p_bytes + u->p2c_bytes;
	h->usage_c2p += u->c2p_bytes;
}

static const struct turn_hooks h_hooks = {
    .channel_set = h_hook_channel_set,
    .channel_del = h_hook_channel_del,
    .permission_set = h_hook_perm_set,
    .permission_del = h_hook_perm_del,
    .alloc_del = h_hook_alloc_del,
};

/* Index of the first hook event named what at or after from, or -1. */
static inline int h_find_ev(const struct harness *h, const char *what, unsigned from)
{
	for (unsigned i = from; i < h->nev; i++)
		if (!strcmp(h->ev[i].what, what))
			return (int)i;
	return -1;
}

static inline void h_addr(struct nts_addr *a, const char *s)
{
	assert_int_equal(nts_addr_parse(a, s, true), 0);
}

/* Fills the test configuration: relays on loopback within a port range picked from the pid so that
 * concurrent test binaries do not share ports; peers on 127.0.0.0/8 allowed when allow_loopback. */
static inline void h_config(struct nts_config *cfg, bool allow_loopback)
{
	uint16_t base = (uint16_t)(20000 + (getpid() % 400) * 100);

	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->realm, sizeof(cfg->realm), H_REALM);
	cfg->relay_port_min = base;
	cfg->relay_port_max = base + 99;
	cfg->max_allocations_per_user = 10;
	cfg->max_allocations = 65536;
	cfg->default_lifetime = 600;
	cfg->max_lifetime = 3600;
	cfg->unauth_rate = 100000;
	if (allow_loopback) {
		assert_int_equal(nts_cidr_parse(&cfg->allow_peer[0], "127.0.0.0/8"), 0);
		assert_int_equal(nts_cidr_parse(&cfg->allow_peer[1], "::1/128"), 0);
		cfg->nallow_peer = 2;
	}
}

/* Creates the server from h->cfg (call h_config first and adjust). */
static inline void h_start(struct harness *h)
{
	const char *users[] = {H_USER ":" H_PASS, "bob:builder"};
	const char *secrets[] = {"s3cret"};

	h->loop = loop_create();
	assert_non_null(h->loop);
	h->auth = auth_create(H_REALM, secrets, 1, users, 2);
	assert_non_null(h->auth);
	h->t = turn_create(h->loop, &h->cfg, h->auth, &h->stats, h_send, h);
	assert_non_null(h->t);
	turn_set_hooks(h->t, &h_hooks, h);
	turn_set_usage_hook(h->t, h_hook_usage, h);
}

static inline struct harness *h_new(bool allow_loopback)
{
	struct harness *h = calloc(1, sizeof(*h));

	assert_non_null(h);
	h_config(&h->cfg, allow_loopback);
	h_start(h);
	return h;
}

static inline void h_free(struct harness *h)
{
	turn_destroy(h->t);
	auth_destroy(h->auth);
	loop_destroy(h->loop);
	free(h);
}

/* A UDP client origin 127.0.0.1:port -> 127.0.0.1:3478 (or the given addresses). */
static inline struct nts_origin h_origin(const char *client, const char *server)
{
	struct nts_origin o;

	memset(&o, 0, sizeof(o));
	o.transport = NTS_UDP;
	o.fd = -1;
	h_addr(&o.client, client);
	h_addr(&o.server, server ? server : "127.0.0.1:3478");
	return o;
}

typedef void (*h_add_fn)(struct stun_builder *b, const void *arg);

struct h_creds {
	const char *user, *pass;
};
static const struct h_creds h_alice = {H_USER, H_PASS};
static const struct h_creds h_bob = {"bob", "builder"};

static inline void h_tid(struct harness *h, uint8_t tid[STUN_TID_LEN])
{
	memset(tid, 0x5a, STUN_TID_LEN);
	h->tid_counter++;
	memcpy(tid, &h->tid_counter, sizeof(h->tid_counter));
}

/* Parses answer i into h->resp. */
static inline void h_parse(struct harness *h, unsigned i)
{
	assert_true(i < h->ncap);
	assert_int_equal(stun_parse(&h->resp, h->cap[i].buf, h->cap[i].len), 0);
}

static inline int h_error_code(const struct stun_msg *m)
{
	int code = 0;
	const char *reason;
	size_t rlen;

	if (stun_attr_get_error(stun_find(m, STUN_ATTR_ERROR_CODE), &code, &reason, &rlen) < 0)
		return 0;
	return code;
}

/* Builds a message (tid given or fresh), optionally authenticated with creds and nonce, into buf.
 */
static inline size_t h_build(struct harness *h, uint8_t *buf, size_t cap, uint16_t method,
			     uint16_t cls, const uint8_t *tid, h_add_fn add, const void *arg,
			     const struct h_creds *creds, const uint8_t *nonce, size_t nonce_len)
{
	struct stun_builder b;
	uint8_t t_[STUN_TID_LEN], key[32];
	int n, klen;

	if (!tid) {
		h_tid(h, t_);
		tid = t_;
	}
	stun_build_init(&b, buf, cap, method, cls, tid);
	if (add)
		add(&b, arg);
	if (creds) {
		stun_put_attr(&b, STUN_ATTR_USERNAME, creds->user, strlen(creds->user));
		stun_put_attr(&b, STUN_ATTR_REALM, H_REALM, strlen(H_REALM));
		stun_put_attr(&b, STUN_ATTR_NONCE, nonce, nonce_len);
		klen = stun_long_term_key(STUN_PWALG_MD5, creds->user, strlen(creds->user), H_REALM,
					  strlen(H_REALM), creds->pass, strlen(creds->pass), key);
		assert_true(klen > 0);
		stun_put_integrity(&b, key, (size_t)klen);
		stun_put_fingerprint(&b);
	}
	n = stun_build_finish(&b);
	assert_true(n > 0);
	return (size_t)n;
}

/* Delivers buf to the server as net would (parse, then turn_handle_message). */
static inline int h_deliver(struct harness *h, const struct nts_origin *o, const uint8_t *buf,
			    size_t len)
{
	struct stun_msg m;

	assert_int_equal(stun_parse(&m, buf, len), 0);
	return turn_handle_message(h->t, o, &m);
}

static inline void h_add_udp(struct stun_builder *b, const void *arg)
{
	stun_put_transport(b, 17);
}

/* Gets a nonce for o from a 401 (the server keeps nothing). Returns its length. */
static inline size_t h_nonce(struct harness *h, const struct nts_origin *o, uint8_t *nonce)
{
	uint8_t buf[256];
	size_t len = h_build(h, buf, sizeof(buf), TURN_ALLOCATE, STUN_REQUEST, NULL, h_add_udp,
			     NULL, NULL, NULL, 0);
	const struct stun_attr *n;
	unsigned before = h->ncap;

	assert_int_equal(h_deliver(h, o, buf, len), 0);
	assert_int_equal(h->ncap, before + 1);
	h_parse(h, before);
	assert_int_equal(h_error_code(&h->resp), 401);
	n = stun_find(&h->resp, STUN_ATTR_NONCE);
	assert_non_null(n);
	memcpy(nonce, n->value, n->len);
	h->ncap = before; /* forget the challenge */
	return n->len;
}

/* Sends an authenticated request and returns the answer's error code (0 for success), with the
 * answer parsed in h->resp. tid may be NULL. */
static inline int h_request_tid(struct harness *h, const struct nts_origin *o, uint16_t method,
				const uint8_t *tid, h_add_fn add, const void *arg,
				const struct h_creds *creds)
{
	uint8_t nonce[256], buf[1024];
	size_t nlen;

	if (h->ncap > H_MAX_CAP - 4)
		h->ncap = 0; /* long tests: keep room for the next answers */
	nlen = h_nonce(h, o, nonce);
	size_t len =
	    h_build(h, buf, sizeof(buf), method, STUN_REQUEST, tid, add, arg, creds, nonce, nlen);
	unsigned before = h->ncap;

	assert_int_equal(h_deliver(h, o, buf, len), 0);
	assert_int_equal(h->ncap, before + 1);
	h_parse(h, before);
	if (h->resp.cls == STUN_SUCCESS)
		return 0;
	assert_int_equal(h->resp.cls, STUN_ERROR);
	return h_error_code(&h->resp);
}

static inline int h_request(struct harness *h, const struct nts_origin *o, uint16_t method,
			    h_add_fn add, const void *arg)
{
	return h_request_tid(h, o, method, NULL, add, arg, &h_alice);
}

/* Allocates for o (UDP transport, defaults); returns the relayed address. */
static inline struct nts_addr h_allocate(struct harness *h, const struct nts_origin *o)
{
	struct nts_addr relay;

	assert_int_equal(h_request(h, o, TURN_ALLOCATE, h_add_udp, NULL), 0);
	assert_int_equal(stun_attr_get_xor_addr(
			     &h->resp, stun_find(&h->resp, STUN_ATTR_XOR_RELAYED_ADDRESS), &relay),
			 0);
	return relay;
}

static inline void h_add_peer(struct stun_builder *b, const void *arg)
{
	stun_put_xor_addr(b, STUN_ATTR_XOR_PEER_ADDRESS, arg);
}

struct h_bind {
	uint16_t channel;
	struct nts_addr peer;
};
static inline void h_add_bind(struct stun_builder *b, const void *arg)
{
	const struct h_bind *c = arg;

	stun_put_channel(b, c->channel);
	stun_put_xor_addr(b, STUN_ATTR_XOR_PEER_ADDRESS, &c->peer);
}

static inline int h_permit(struct harness *h, const struct nts_origin *o, const char *peer)
{
	struct nts_addr p;

	h_addr(&p, peer);
	return h_request(h, o, TURN_CREATE_PERMISSION, h_add_peer, &p);
}

static inline int h_channel_bind(struct harness *h, const struct nts_origin *o, uint16_t ch,
				 const struct nts_addr *peer)
{
	struct h_bind c = {.channel = ch, .peer = *peer};

	return h_request(h, o, TURN_CHANNEL_BIND, h_add_bind, &c);
}

/* A UDP socket on 127.0.0.1 (a peer); its address in *a. */
static inline int h_peer_socket(struct nts_addr *a)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	assert_int_equal(nts_addr_from_sockaddr(a, (struct sockaddr *)&sin), 0);
	return fd;
}

/* Receives one datagram on fd (bounded wait of 2 s); returns its length or -1 (nothing came). */
static inline ssize_t h_recv(int fd, uint8_t *buf, size_t cap, struct nts_addr *from)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	ssize_t n;

	if (poll(&p, 1, 2000) != 1)
		return -1;
	n = recvfrom(fd, buf, cap, MSG_DONTWAIT, (struct sockaddr *)&ss, &sl);
	if (n >= 0 && from)
		nts_addr_from_sockaddr(from, (struct sockaddr *)&ss);
	return n;
}

/* True when nothing is waiting on fd right now (loopback delivery is synchronous). */
static inline bool h_nothing(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, 0) == 0;
}

static inline void h_sendto(int fd, const struct nts_addr *to, const void *data, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = nts_addr_to_sockaddr(to, &ss);

	assert_int_equal(sendto(fd, data, len, 0, (struct sockaddr *)&ss, sl), (ssize_t)len);
}

/* Runs the relay socket handler of relay address r as the loop would on EPOLLIN. */
static inline void h_relay_readable(struct harness *h, const struct nts_addr *relay)
{
	struct turn_relay *r = turn_alloc_find_by_relay(h->t, relay);

	assert_non_null(r);
	turn_relay_readable(r, r->fd, EPOLLIN);
}

/* The socket table of an upgrade's stream (turn_state_export/import): put records the old side's
 * sockets, get hands out duplicates as SCM_RIGHTS would; the shared slot 0 is the listen socket. */
struct h_fdtab {
	int fds[64];
	size_t n;
	int listener; /* what the new side serves the clients' listen socket as */
};

static inline int h_tab_put(void *arg, int fd, bool shared)
{
	struct h_fdtab *t = arg;

	if (shared)
		return 0; /* slot 0: the listen socket (the harness's origins have none) */
	assert_true(t->n < 64);
	t->fds[t->n] = fd;
	return (int)t->n++;
}

static inline int h_tab_get(void *arg, uint32_t index, bool shared)
{
	struct h_fdtab *t = arg;

	if (shared)
		return index == 0 ? t->listener : -EBADF;
	return index < t->n ? dup(t->fds[index]) : -EBADF;
}

#endif
