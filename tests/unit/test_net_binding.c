/* Binding answers (user/net/binding.c): RFC 3489 requests without the magic cookie, and RFC 5780
 * NAT behaviour discovery (OTHER-ADDRESS, RESPONSE-ORIGIN, CHANGE-REQUEST, RESPONSE-PORT, PADDING)
 * with a stand-in for the alternate sockets, the answers captured instead of sent.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "net/net.h"
#include "net/net_priv.h"
#include "stun/stun.h"

struct capture {
	unsigned count;
	uint8_t buf[2048];
	size_t len;
	struct nts_origin to;
};

static int capture_send(void *arg, const struct nts_origin *o, const struct iovec *iov, int iovcnt)
{
	struct capture *c = arg;

	c->count++;
	c->len = 0;
	for (int i = 0; i < iovcnt; i++) {
		assert_true(c->len + iov[i].iov_len <= sizeof(c->buf));
		memcpy(c->buf + c->len, iov[i].iov_base, iov[i].iov_len);
		c->len += iov[i].iov_len;
	}
	c->to = *o;
	return 0;
}

/* The four sockets of an RFC 5780 group as fds 10..13 (bit 0: alternate port, bit 1: alternate
 * IP), the request arriving on fd 10 at 198.18.0.1:3478; the alternate IP is 198.18.0.2. */
struct alt_fake {
	unsigned calls, last_change;
};

static void alt_addr(unsigned role, struct nts_addr *a)
{
	nts_addr_parse(a, role & 2 ? "198.18.0.2:3478" : "198.18.0.1:3478", false);
	a->port = (uint16_t)(a->port + (role & 1));
}

static int alt_fake_fn(void *arg, const struct nts_origin *o, unsigned change,
		       struct nts_origin *from, struct nts_addr *other)
{
	struct alt_fake *f = arg;
	unsigned role = (unsigned)(o->fd - 10);

	f->calls++;
	f->last_change = change;
	role ^= (change & STUN_CHANGE_IP ? 2u : 0u) ^ (change & STUN_CHANGE_PORT ? 1u : 0u);
	*from = *o;
	from->fd = 10 + (int)role;
	alt_addr(role, &from->server);
	alt_addr((unsigned)(o->fd - 10) ^ 3, other);
	return 0;
}

struct env {
	struct nts_stats stats;
	struct capture cap;
	struct alt_fake alt;
	struct net_dispatch d;
	struct nts_origin o;
};

static struct env *env_new(enum nts_transport t, bool with_alt)
{
	static struct env e;

	memset(&e, 0, sizeof(e));
	e.d = (struct net_dispatch){.stats = &e.stats, .send = capture_send, .send_arg = &e.cap};
	if (with_alt) {
		e.d.alt = alt_fake_fn;
		e.d.alt_arg = &e.alt;
	}
	e.o.transport = t;
	e.o.fd = 10;
	nts_addr_parse(&e.o.client, "198.18.5.6:40000", false);
	nts_addr_parse(&e.o.server, "198.18.0.1:3478", false);
	return &e;
}

static const uint8_t tid[STUN_TID_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
static const uint8_t tid3489[STUN_TID3489_LEN] = {0xa0, 0xa1, 0xa2, 0xa3, 1, 2,	 3,  4,
						  5,	6,    7,    8,	  9, 10, 11, 12};

/* An RFC 5389 (or with rfc3489, cookie-less) request with CHANGE-REQUEST bits change when
 * change_attr, RESPONSE-PORT port when nonzero, and PADDING of padding bytes when nonzero. */
static size_t request(uint8_t *buf, size_t cap, uint16_t method, bool rfc3489, bool change_attr,
		      unsigned change, uint16_t port, size_t padding)
{
	struct stun_builder b;
	int len;

	if (rfc3489)
		stun_build_init_rfc3489(&b, buf, cap, method, STUN_REQUEST, tid3489);
	else
		stun_build_init(&b, buf, cap, method, STUN_REQUEST, tid);
	if (change_attr)
		stun_put_change_request(&b, change);
	if (port)
		stun_put_response_port(&b, port);
	if (padding)
		stun_put_padding(&b, padding);
	len = stun_build_finish(&b);
	assert_true(len > 0);
	return (size_t)len;
}

static void answer(struct env *e, struct stun_msg *m, bool rfc3489)
{
	assert_int_equal(e->cap.count, 1);
	if (rfc3489)
		assert_int_equal(stun_parse_rfc3489(m, e->cap.buf, e->cap.len), 0);
	else
		assert_int_equal(stun_parse(m, e->cap.buf, e->cap.len), 0);
	assert_int_equal(m->rfc3489, rfc3489);
	assert_int_equal(m->method, STUN_BINDING);
}

static void assert_addr_attr(const struct stun_msg *m, uint16_t type, const char *want)
{
	struct nts_addr a, w;

	assert_int_equal(stun_attr_get_addr(stun_find(m, type), &a), 0);
	nts_addr_parse(&w, want, false);
	assert_true(nts_addr_equal(&a, &w, true));
}

/* RFC 3489 §8.2, §11.2.1, §11.2.5: MAPPED-ADDRESS and SOURCE-ADDRESS, the 128-bit id echoed, no
 * RFC 5389 attribute; no CHANGED-ADDRESS without an alternate. */
static void test_rfc3489_binding_gets_mapped_and_source_address_and_its_128_bit_id(void **state)
{
	struct env *e = env_new(NTS_UDP, false);
	uint8_t req[128];
	size_t n = request(req, sizeof(req), STUN_BINDING, true, true, 0, 0, 0);
	struct stun_msg m;

	net_dispatch(&e->d, &e->o, req, n);
	answer(e, &m, true);
	assert_int_equal(m.cls, STUN_SUCCESS);
	assert_memory_equal(e->cap.buf + 4, tid3489, STUN_TID3489_LEN);
	assert_addr_attr(&m, STUN_ATTR_MAPPED_ADDRESS, "198.18.5.6:40000");
	assert_addr_attr(&m, STUN_ATTR_SOURCE_ADDRESS, "198.18.0.1:3478");
	assert_null(stun_find(&m, STUN_ATTR_CHANGED_ADDRESS));
	assert_null(stun_find(&m, STUN_ATTR_XOR_MAPPED_ADDRESS));
	assert_int_equal(m.fingerprint, -1);
	assert_int_equal(e->cap.len, 20 + 12 + 12); /* no amplification beyond the plain form */
	assert_int_equal(e->stats.requests[STUN_STAT_STUN_BINDING], 1);
}

/* RFC 3489 §11.2.3: CHANGED-ADDRESS is where a change of IP and port answers from. */
static void test_rfc3489_binding_with_alternate_gets_changed_address(void **state)
{
	struct env *e = env_new(NTS_UDP, true);
	uint8_t req[128];
	size_t n = request(req, sizeof(req), STUN_BINDING, true, true, STUN_CHANGE_IP, 0, 0);
	struct stun_msg m;

	net_dispatch(&e->d, &e->o, req, n);
	answer(e, &m, true);
	assert_addr_attr(&m, STUN_ATTR_CHANGED_ADDRESS, "198.18.0.2:3479");
	/* Answered from the alternate IP, and SOURCE-ADDRESS says so. */
	assert_int_equal(e->cap.to.fd, 12);
	assert_addr_attr(&m, STUN_ATTR_SOURCE_ADDRESS, "198.18.0.2:3478");
}

/* RFC 8489 §12: TURN needs the cookie; a cookie-less Allocate, indication or any request over a
 * stream is not an RFC 3489 Binding and is dropped as malformed. */
static void test_rfc3489_anything_but_a_udp_binding_request_is_dropped(void **state)
{
	struct env *e = env_new(NTS_UDP, false);
	uint8_t req[128];
	size_t n = request(req, sizeof(req), TURN_ALLOCATE, true, false, 0, 0, 0);

	net_dispatch(&e->d, &e->o, req, n);
	e->o.transport = NTS_TCP;
	n = request(req, sizeof(req), STUN_BINDING, true, false, 0, 0, 0);
	net_dispatch(&e->d, &e->o, req, n);
	assert_int_equal(e->cap.count, 0);
}

/* RFC 3489 §11.2.2: RESPONSE-ADDRESS would reflect answers at anyone; it stays unknown, and the
 * 420 listing it is in RFC 3489's format (the 128-bit id, the list repeated to fill 32 bits). */
static void test_rfc3489_response_address_gets_420_with_the_128_bit_id(void **state)
{
	struct env *e = env_new(NTS_UDP, true);
	uint8_t req[128];
	struct stun_builder b;
	struct nts_addr victim;
	struct stun_msg m;
	uint16_t types[4];
	int len;

	nts_addr_parse(&victim, "192.0.2.1:53", false);
	stun_build_init_rfc3489(&b, req, sizeof(req), STUN_BINDING, STUN_REQUEST, tid3489);
	stun_put_addr(&b, STUN_ATTR_RESPONSE_ADDRESS, &victim);
	len = stun_build_finish(&b);
	net_dispatch(&e->d, &e->o, req, (size_t)len);
	answer(e, &m, true);
	assert_int_equal(m.cls, STUN_ERROR);
	assert_memory_equal(e->cap.buf + 4, tid3489, STUN_TID3489_LEN);
	assert_true(nts_addr_equal(&e->cap.to.client, &e->o.client, true));
	assert_int_equal(
	    stun_attr_get_unknown(stun_find(&m, STUN_ATTR_UNKNOWN_ATTRIBUTES), types, 4), 2);
	assert_int_equal(types[0], STUN_ATTR_RESPONSE_ADDRESS);
	assert_int_equal(types[1], STUN_ATTR_RESPONSE_ADDRESS);
	assert_int_equal(m.fingerprint, -1);
}

/* RFC 5780 §7.2: a server without an alternate answers a CHANGE-REQUEST asking for a change with
 * 420 listing it; RFC 3489 §11.2.10 wants an even list, so the type is repeated there. */
static void test_change_request_without_alternate_gets_420_listing_it(void **state)
{
	struct env *e = env_new(NTS_UDP, false);
	uint8_t req[128];
	size_t n = request(req, sizeof(req), STUN_BINDING, false, true, STUN_CHANGE_PORT, 0, 0);
	struct stun_msg m;
	uint16_t types[4];
	int code;

	net_dispatch(&e->d, &e->o, req, n);
	answer(e, &m, false);
	assert_int_equal(m.cls, STUN_ERROR);
	assert_int_equal(
	    stun_attr_get_error(stun_find(&m, STUN_ATTR_ERROR_CODE), &code, NULL, NULL), 0);
	assert_int_equal(code, 420);
	assert_int_equal(
	    stun_attr_get_unknown(stun_find(&m, STUN_ATTR_UNKNOWN_ATTRIBUTES), types, 4), 1);
	assert_int_equal(types[0], STUN_ATTR_CHANGE_REQUEST);
	assert_int_equal(e->stats.errors[STUN_STAT_STUN_BINDING], 1);

	e->cap.count = 0;
	n = request(req, sizeof(req), STUN_BINDING, true, true, STUN_CHANGE_IP, 0, 0);
	net_dispatch(&e->d, &e->o, req, n);
	answer(e, &m, true);
	assert_int_equal(
	    stun_attr_get_unknown(stun_find(&m, STUN_ATTR_UNKNOWN_ATTRIBUTES), types, 4), 2);
	assert_int_equal(types[0], STUN_ATTR_CHANGE_REQUEST);
	assert_int_equal(types[1], STUN_ATTR_CHANGE_REQUEST);
}

/* A CHANGE-REQUEST asking for nothing (RFC 3489 clients send one in every test) is answered; with
 * no alternate the answer has neither OTHER-ADDRESS nor RESPONSE-ORIGIN. */
static void test_change_request_for_no_change_is_answered_without_discovery(void **state)
{
	struct env *e = env_new(NTS_UDP, false);
	uint8_t req[128];
	size_t n = request(req, sizeof(req), STUN_BINDING, false, true, 0, 0, 0);
	struct stun_msg m;

	net_dispatch(&e->d, &e->o, req, n);
	answer(e, &m, false);
	assert_int_equal(m.cls, STUN_SUCCESS);
	assert_null(stun_find(&m, STUN_ATTR_OTHER_ADDRESS));
	assert_null(stun_find(&m, STUN_ATTR_RESPONSE_ORIGIN));
	assert_int_equal(e->cap.len, 20 + 12 + 8); /* XOR-MAPPED-ADDRESS, FINGERPRINT */
}

/* RFC 5780 §7.3, §7.4: with an alternate, RESPONSE-ORIGIN and OTHER-ADDRESS (the socket that
 * differs in both IP and port) in every answer. */
static void test_binding_with_alternate_has_response_origin_and_other_address(void **state)
{
	struct env *e = env_new(NTS_UDP, true);
	uint8_t req[128];
	size_t n = request(req, sizeof(req), STUN_BINDING, false, false, 0, 0, 0);
	struct stun_msg m;

	net_dispatch(&e->d, &e->o, req, n);
	answer(e, &m, false);
	assert_int_equal(m.cls, STUN_SUCCESS);
	assert_addr_attr(&m, STUN_ATTR_RESPONSE_ORIGIN, "198.18.0.1:3478");
	assert_addr_attr(&m, STUN_ATTR_OTHER_ADDRESS, "198.18.0.2:3479");
	assert_int_equal(e->cap.to.fd, 10);
	assert_true(stun_check_fingerprint(&m));
}

/* RFC 5780 §7.2: each CHANGE-REQUEST is answered from the socket it selects; the request may
 * arrive on any of the four, OTHER-ADDRESS is always relative to the one it reached. */
static void test_change_request_bits_select_the_socket_answering(void **state)
{
	static const struct {
		int in_fd;
		unsigned change;
		int out_fd;
		const char *origin, *other;
	} cases[] = {
	    {10, STUN_CHANGE_PORT, 11, "198.18.0.1:3479", "198.18.0.2:3479"},
	    {10, STUN_CHANGE_IP, 12, "198.18.0.2:3478", "198.18.0.2:3479"},
	    {10, STUN_CHANGE_IP | STUN_CHANGE_PORT, 13, "198.18.0.2:3479", "198.18.0.2:3479"},
	    {13, STUN_CHANGE_IP, 11, "198.18.0.1:3479", "198.18.0.1:3478"},
	    {12, STUN_CHANGE_PORT, 13, "198.18.0.2:3479", "198.18.0.1:3479"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct env *e = env_new(NTS_UDP, true);
		uint8_t req[128];
		size_t n =
		    request(req, sizeof(req), STUN_BINDING, false, true, cases[i].change, 0, 0);
		struct stun_msg m;

		e->o.fd = cases[i].in_fd;
		alt_addr((unsigned)(cases[i].in_fd - 10), &e->o.server);
		net_dispatch(&e->d, &e->o, req, n);
		answer(e, &m, false);
		assert_int_equal(e->alt.last_change, cases[i].change);
		assert_int_equal(e->cap.to.fd, cases[i].out_fd);
		assert_addr_attr(&m, STUN_ATTR_RESPONSE_ORIGIN, cases[i].origin);
		assert_addr_attr(&m, STUN_ATTR_OTHER_ADDRESS, cases[i].other);
	}
}

/* Over TCP there is no other socket to answer from: a change gets 420, and no OTHER-ADDRESS. */
static void test_change_request_over_tcp_gets_420(void **state)
{
	struct env *e = env_new(NTS_TCP, true);
	uint8_t req[128];
	size_t n = request(req, sizeof(req), STUN_BINDING, false, true, STUN_CHANGE_IP, 0, 0);
	struct stun_msg m;

	net_dispatch(&e->d, &e->o, req, n);
	answer(e, &m, false);
	assert_int_equal(m.cls, STUN_ERROR);
	assert_int_equal(e->alt.calls, 0);
}

/* RFC 5780 §7.5: RESPONSE-PORT sends the answer to the client's IP at that port. */
static void test_response_port_sends_the_answer_to_that_port(void **state)
{
	struct env *e = env_new(NTS_UDP, true);
	uint8_t req[128];
	size_t n = request(req, sizeof(req), STUN_BINDING, false, false, 0, 5000, 0);
	struct stun_msg m;
	struct nts_addr to;

	net_dispatch(&e->d, &e->o, req, n);
	answer(e, &m, false);
	nts_addr_parse(&to, "198.18.5.6:5000", false);
	assert_true(nts_addr_equal(&e->cap.to.client, &to, true));
	/* XOR-MAPPED-ADDRESS still names where the request came from. */
	struct nts_addr mapped;
	assert_int_equal(
	    stun_attr_get_xor_addr(&m, stun_find(&m, STUN_ATTR_XOR_MAPPED_ADDRESS), &mapped), 0);
	assert_true(nts_addr_equal(&mapped, &e->o.client, true));
}

/* Without an alternate, RESPONSE-PORT and PADDING are not honoured: 420 listing both. */
static void test_response_port_and_padding_without_alternate_get_420(void **state)
{
	struct env *e = env_new(NTS_UDP, false);
	uint8_t req[256];
	size_t n = request(req, sizeof(req), STUN_BINDING, false, false, 0, 5000, 100);
	struct stun_msg m;
	uint16_t types[4];

	net_dispatch(&e->d, &e->o, req, n);
	answer(e, &m, false);
	assert_int_equal(m.cls, STUN_ERROR);
	assert_int_equal(
	    stun_attr_get_unknown(stun_find(&m, STUN_ATTR_UNKNOWN_ATTRIBUTES), types, 4), 2);
	assert_int_equal(types[0], STUN_ATTR_RESPONSE_PORT);
	assert_int_equal(types[1], STUN_ATTR_PADDING);
	assert_true(e->cap.len <= n);
}

/* RFC 5780 §7.6: the answer is padded, but never beyond the request's size (no amplification). */
static void test_padding_pads_the_answer_up_to_the_request_size(void **state)
{
	struct env *e = env_new(NTS_UDP, true);
	uint8_t req[2048];
	size_t n = request(req, sizeof(req), STUN_BINDING, false, false, 0, 0, 1000);
	struct stun_msg m;
	const struct stun_attr *pad;

	net_dispatch(&e->d, &e->o, req, n);
	answer(e, &m, false);
	pad = stun_find(&m, STUN_ATTR_PADDING);
	assert_non_null(pad);
	assert_true(pad->len > 900);
	assert_true(e->cap.len <= n);
	assert_true(stun_check_fingerprint(&m));

	/* A tiny PADDING leaves no room: the answer goes unpadded rather than larger. */
	e->cap.count = 0;
	n = request(req, sizeof(req), STUN_BINDING, false, false, 0, 0, 4);
	net_dispatch(&e->d, &e->o, req, n);
	answer(e, &m, false);
	assert_null(stun_find(&m, STUN_ATTR_PADDING));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
		test_rfc3489_binding_gets_mapped_and_source_address_and_its_128_bit_id),
	    cmocka_unit_test(test_rfc3489_binding_with_alternate_gets_changed_address),
	    cmocka_unit_test(test_rfc3489_anything_but_a_udp_binding_request_is_dropped),
	    cmocka_unit_test(test_rfc3489_response_address_gets_420_with_the_128_bit_id),
	    cmocka_unit_test(test_change_request_without_alternate_gets_420_listing_it),
	    cmocka_unit_test(test_change_request_for_no_change_is_answered_without_discovery),
	    cmocka_unit_test(test_binding_with_alternate_has_response_origin_and_other_address),
	    cmocka_unit_test(test_change_request_bits_select_the_socket_answering),
	    cmocka_unit_test(test_change_request_over_tcp_gets_420),
	    cmocka_unit_test(test_response_port_sends_the_answer_to_that_port),
	    cmocka_unit_test(test_response_port_and_padding_without_alternate_get_420),
	    cmocka_unit_test(test_padding_pads_the_answer_up_to_the_request_size),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
