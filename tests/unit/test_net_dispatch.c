/* Dispatch of client input (user/net/dispatch.c): Binding answers, error answers for unknown
 * methods and attributes, silent drops, and the counters, with the answers captured instead of
 * sent.
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
	uint8_t buf[1024];
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

struct env {
	struct nts_stats stats;
	struct capture cap;
	struct net_dispatch d;
	struct nts_origin o;
};

static struct env *env_new(enum nts_transport t, const char *client)
{
	static struct env e;

	memset(&e, 0, sizeof(e));
	e.d = (struct net_dispatch){
	    .stats = &e.stats, .software = "nts/test", .send = capture_send, .send_arg = &e.cap};
	e.o.transport = t;
	assert_int_equal(nts_addr_parse(&e.o.client, client, false), 0);
	nts_addr_parse(&e.o.server, e.o.client.family == AF_INET ? "198.18.0.1:3478" : "[::1]:3478",
		       false);
	return &e;
}

static const uint8_t tid[STUN_TID_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

/* Builds a request of method with an optional extra attribute, and FINGERPRINT if asked. */
static size_t build(uint8_t *buf, size_t cap, uint16_t method, uint16_t cls, uint16_t extra_type,
		    bool fingerprint)
{
	struct stun_builder b;
	int len;

	stun_build_init(&b, buf, cap, method, cls, tid);
	if (extra_type)
		stun_put_u32(&b, extra_type, 0x01020304);
	if (fingerprint)
		stun_put_fingerprint(&b);
	len = stun_build_finish(&b);
	assert_true(len > 0);
	return (size_t)len;
}

static void test_binding_request_gets_xor_mapped_address_software_fingerprint(void **state)
{
	struct env *e = env_new(NTS_UDP, "198.18.5.6:40000");
	uint8_t req[64];
	size_t n = build(req, sizeof(req), STUN_BINDING, STUN_REQUEST, 0, true);
	struct stun_msg m;
	struct nts_addr mapped;
	const struct stun_attr *sw;

	net_dispatch(&e->d, &e->o, req, n);
	assert_int_equal(e->cap.count, 1);
	assert_int_equal(stun_parse(&m, e->cap.buf, e->cap.len), 0);
	assert_int_equal(m.method, STUN_BINDING);
	assert_int_equal(m.cls, STUN_SUCCESS);
	assert_memory_equal(m.tid, tid, STUN_TID_LEN);
	/* RFC 8489 §7.3.1: the reflexive transport address, XORed. */
	assert_int_equal(
	    stun_attr_get_xor_addr(&m, stun_find(&m, STUN_ATTR_XOR_MAPPED_ADDRESS), &mapped), 0);
	assert_true(nts_addr_equal(&mapped, &e->o.client, true));
	sw = stun_find(&m, STUN_ATTR_SOFTWARE);
	assert_non_null(sw);
	assert_int_equal(sw->len, 8);
	assert_memory_equal(sw->value, "nts/test", 8);
	assert_true(stun_check_fingerprint(&m));
	assert_int_equal(e->stats.requests[STUN_STAT_STUN_BINDING], 1);
	assert_int_equal(e->stats.errors[STUN_STAT_STUN_BINDING], 0);
}

static void test_binding_over_tcp_ipv6_maps_the_ipv6_source(void **state)
{
	struct env *e = env_new(NTS_TCP, "[2001:db8::7]:5555");
	uint8_t req[64];
	size_t n = build(req, sizeof(req), STUN_BINDING, STUN_REQUEST, 0, false);
	struct stun_msg m;
	struct nts_addr mapped;

	net_dispatch(&e->d, &e->o, req, n);
	assert_int_equal(e->cap.count, 1);
	assert_int_equal(stun_parse(&m, e->cap.buf, e->cap.len), 0);
	assert_int_equal(
	    stun_attr_get_xor_addr(&m, stun_find(&m, STUN_ATTR_XOR_MAPPED_ADDRESS), &mapped), 0);
	assert_int_equal(mapped.family, AF_INET6);
	assert_true(nts_addr_equal(&mapped, &e->o.client, true));
}

static void test_binding_indication_is_counted_but_not_answered(void **state)
{
	struct env *e = env_new(NTS_UDP, "198.18.5.6:40000");
	uint8_t req[64];
	size_t n = build(req, sizeof(req), STUN_BINDING, STUN_INDICATION, 0, true);

	net_dispatch(&e->d, &e->o, req, n);
	assert_int_equal(e->cap.count, 0);
	assert_int_equal(e->stats.requests[STUN_STAT_STUN_BINDING], 1);
}

static void test_unknown_comprehension_required_attribute_gets_420_listing_it(void **state)
{
	struct env *e = env_new(NTS_UDP, "198.18.5.6:40000");
	uint8_t req[64];
	size_t n = build(req, sizeof(req), STUN_BINDING, STUN_REQUEST, 0x7ffe, true);
	struct stun_msg m;
	uint16_t unknown[4];
	int code;
	const char *reason;
	size_t rlen;

	net_dispatch(&e->d, &e->o, req, n);
	assert_int_equal(e->cap.count, 1);
	assert_int_equal(stun_parse(&m, e->cap.buf, e->cap.len), 0);
	assert_int_equal(m.cls, STUN_ERROR);
	assert_int_equal(
	    stun_attr_get_error(stun_find(&m, STUN_ATTR_ERROR_CODE), &code, &reason, &rlen), 0);
	/* RFC 8489 §6.3.1.1 */
	assert_int_equal(code, 420);
	assert_int_equal(
	    stun_attr_get_unknown(stun_find(&m, STUN_ATTR_UNKNOWN_ATTRIBUTES), unknown, 4), 1);
	assert_int_equal(unknown[0], 0x7ffe);
	assert_int_equal(e->stats.errors[STUN_STAT_STUN_BINDING], 1);
}

static void test_unknown_comprehension_optional_attribute_is_ignored(void **state)
{
	struct env *e = env_new(NTS_UDP, "198.18.5.6:40000");
	uint8_t req[64];
	size_t n = build(req, sizeof(req), STUN_BINDING, STUN_REQUEST, 0xc0fe, true);
	struct stun_msg m;

	net_dispatch(&e->d, &e->o, req, n);
	assert_int_equal(e->cap.count, 1);
	assert_int_equal(stun_parse(&m, e->cap.buf, e->cap.len), 0);
	assert_int_equal(m.cls, STUN_SUCCESS);
}

static void test_unknown_method_request_gets_400_no_larger_than_needed(void **state)
{
	struct env *e = env_new(NTS_UDP, "198.18.5.6:40000");
	uint8_t req[64];
	size_t n = build(req, sizeof(req), 0x0055, STUN_REQUEST, 0, false);
	struct stun_msg m;
	int code;
	const char *reason;
	size_t rlen;

	net_dispatch(&e->d, &e->o, req, n);
	assert_int_equal(e->cap.count, 1);
	assert_int_equal(stun_parse(&m, e->cap.buf, e->cap.len), 0);
	assert_int_equal(m.method, 0x0055);
	assert_int_equal(m.cls, STUN_ERROR);
	stun_attr_get_error(stun_find(&m, STUN_ATTR_ERROR_CODE), &code, &reason, &rlen);
	assert_int_equal(code, 400);
	/* Unauthenticated answers never exceed the request plus a REALM and NONCE (< 64 bytes). */
	assert_true(e->cap.len <= n + 64);
	assert_int_equal(e->stats.errors[STUN_STAT_OTHER], 1);
}

static void test_turn_method_without_turn_gets_400(void **state)
{
	struct env *e = env_new(NTS_UDP, "198.18.5.6:40000");
	uint8_t req[64];
	size_t n = build(req, sizeof(req), TURN_ALLOCATE, STUN_REQUEST, 0, false);
	struct stun_msg m;

	net_dispatch(&e->d, &e->o, req, n);
	assert_int_equal(e->cap.count, 1);
	assert_int_equal(stun_parse(&m, e->cap.buf, e->cap.len), 0);
	assert_int_equal(m.cls, STUN_ERROR);
	assert_int_equal(e->stats.requests[STUN_STAT_TURN_ALLOCATE], 1);
}

static void test_wrong_fingerprint_is_dropped_and_counted(void **state)
{
	struct env *e = env_new(NTS_UDP, "198.18.5.6:40000");
	uint8_t req[64];
	size_t n = build(req, sizeof(req), STUN_BINDING, STUN_REQUEST, 0, true);

	req[n - 1] ^= 0x55;
	net_dispatch(&e->d, &e->o, req, n);
	assert_int_equal(e->cap.count, 0);
	assert_int_equal(e->stats.udp_dropped_malformed, 1);
	assert_int_equal(e->stats.requests[STUN_STAT_STUN_BINDING], 0);
}

static void test_non_stun_udp_is_dropped_and_counted(void **state)
{
	struct env *e = env_new(NTS_UDP, "198.18.5.6:40000");
	const uint8_t junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	uint8_t req[64];
	size_t n = build(req, sizeof(req), STUN_BINDING, STUN_REQUEST, 0, false);

	net_dispatch(&e->d, &e->o, junk, sizeof(junk) - 1);
	net_dispatch(&e->d, &e->o, req, n - 1); /* truncated */
	net_dispatch(&e->d, &e->o, req, 10);
	assert_int_equal(e->cap.count, 0);
	assert_int_equal(e->stats.udp_dropped_malformed, 3);
}

static void test_responses_from_clients_are_dropped_silently(void **state)
{
	struct env *e = env_new(NTS_UDP, "198.18.5.6:40000");
	uint8_t req[64];
	size_t n = build(req, sizeof(req), STUN_BINDING, STUN_SUCCESS, 0, false);

	net_dispatch(&e->d, &e->o, req, n);
	n = build(req, sizeof(req), STUN_BINDING, STUN_ERROR, 0, false);
	net_dispatch(&e->d, &e->o, req, n);
	assert_int_equal(e->cap.count, 0);
	assert_int_equal(e->stats.udp_dropped_malformed, 0);
	assert_int_equal(e->stats.requests[STUN_STAT_STUN_BINDING], 0);
}

static void test_channeldata_longer_than_its_datagram_is_dropped(void **state)
{
	struct env *e = env_new(NTS_UDP, "198.18.5.6:40000");
	/* Says 8 bytes of data, carries 4 (RFC 8656 §12.4). */
	const uint8_t cd[] = {0x40, 0x00, 0x00, 0x08, 1, 2, 3, 4};

	net_dispatch(&e->d, &e->o, cd, sizeof(cd));
	net_dispatch(&e->d, &e->o, cd, 3);
	assert_int_equal(e->cap.count, 0);
	assert_int_equal(e->stats.udp_dropped_malformed, 2);
}

static void test_channeldata_on_rfc5766_channels_is_not_malformed(void **state)
{
	struct env *e = env_new(NTS_UDP, "198.18.5.6:40000");
	/* 0x61d2 (RFC 5766's range, which coturn's uclient picks from), odd length, no padding. */
	uint8_t cd[4 + 121] = {0x61, 0xd2, 0x00, 121};

	net_dispatch(&e->d, &e->o, cd, sizeof(cd));
	assert_int_equal(e->stats.udp_dropped_malformed, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_binding_request_gets_xor_mapped_address_software_fingerprint),
	    cmocka_unit_test(test_binding_over_tcp_ipv6_maps_the_ipv6_source),
	    cmocka_unit_test(test_binding_indication_is_counted_but_not_answered),
	    cmocka_unit_test(test_unknown_comprehension_required_attribute_gets_420_listing_it),
	    cmocka_unit_test(test_unknown_comprehension_optional_attribute_is_ignored),
	    cmocka_unit_test(test_unknown_method_request_gets_400_no_larger_than_needed),
	    cmocka_unit_test(test_turn_method_without_turn_gets_400),
	    cmocka_unit_test(test_wrong_fingerprint_is_dropped_and_counted),
	    cmocka_unit_test(test_non_stun_udp_is_dropped_and_counted),
	    cmocka_unit_test(test_responses_from_clients_are_dropped_silently),
	    cmocka_unit_test(test_channeldata_longer_than_its_datagram_is_dropped),
	    cmocka_unit_test(test_channeldata_on_rfc5766_channels_is_not_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
