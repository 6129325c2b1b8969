/* The STUN builder: every attribute of RFC 8489 / RFC 8656 / RFC 6062 round-trips through the
 * parser and its decoder; errors are sticky and a short buffer is never written past its capacity.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>
#include <stdlib.h>

#include "stun/stun.h"

static const uint8_t tid[STUN_TID_LEN] = {0xa0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0xbb};
static const uint8_t key[] = "secret-key";

static struct nts_addr addr(const char *s)
{
	struct nts_addr a;

	assert_int_equal(nts_addr_parse(&a, s, false), 0);
	return a;
}

static const struct stun_attr *must_find(const struct stun_msg *m, uint16_t type)
{
	const struct stun_attr *a = stun_find(m, type);

	assert_non_null(a);
	return a;
}

/* A message using every builder function; returns its length or the builder error. */
static int build_everything(uint8_t *buf, size_t cap)
{
	static const uint16_t unknown[] = {0x0030, 0x0031, 0x0032};
	static const uint16_t algs[] = {STUN_PWALG_MD5, STUN_PWALG_SHA256};
	struct stun_builder b;
	struct nts_addr v4 = addr("198.18.0.1:3478"), v6 = addr("[2001:db8::1]:49152");
	struct nts_addr peer2 = addr("198.18.0.2:9");

	stun_build_init(&b, buf, cap, TURN_ALLOCATE, STUN_ERROR, tid);
	stun_put_addr(&b, STUN_ATTR_MAPPED_ADDRESS, &v4);
	stun_put_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &v6);
	stun_put_attr(&b, STUN_ATTR_USERNAME, "user", 4);
	stun_put_attr(&b, STUN_ATTR_USERHASH, "0123456789abcdef0123456789abcdef", 32);
	stun_put_error(&b, 438, NULL);
	stun_put_attr(&b, STUN_ATTR_REALM, "nts", 3);
	stun_put_attr(&b, STUN_ATTR_NONCE, "nonce-1", 7);
	stun_put_password_algs(&b, algs, 2);
	stun_put_password_alg(&b, STUN_PWALG_SHA256);
	stun_put_unknown(&b, unknown, 3);
	stun_put_attr(&b, STUN_ATTR_SOFTWARE, "nts/test", 8);
	stun_put_addr(&b, STUN_ATTR_ALTERNATE_SERVER, &v6);
	stun_put_attr(&b, STUN_ATTR_ALTERNATE_DOMAIN, "turn.example", 12);
	stun_put_channel(&b, 0x4001);
	stun_put_u32(&b, STUN_ATTR_LIFETIME, 600);
	stun_put_xor_addr(&b, STUN_ATTR_XOR_PEER_ADDRESS, &v4);
	stun_put_xor_addr(&b, STUN_ATTR_XOR_PEER_ADDRESS, &peer2);
	stun_put_attr(&b, STUN_ATTR_DATA, "\x01\x02\x03", 3);
	stun_put_xor_addr(&b, STUN_ATTR_XOR_RELAYED_ADDRESS, &v4);
	stun_put_xor_addr(&b, STUN_ATTR_XOR_RELAYED_ADDRESS, &v6);
	stun_put_family(&b, STUN_ATTR_REQUESTED_ADDRESS_FAMILY, AF_INET6);
	stun_put_even_port(&b, true);
	stun_put_transport(&b, 17);
	stun_put_attr(&b, STUN_ATTR_DONT_FRAGMENT, NULL, 0);
	stun_put_u64(&b, STUN_ATTR_RESERVATION_TOKEN, 0x0102030405060708ull);
	stun_put_family(&b, STUN_ATTR_ADDITIONAL_ADDRESS_FAMILY, AF_INET6);
	stun_put_address_error(&b, AF_INET6, 440, NULL);
	stun_put_icmp(&b, 3, 13, 0xdeadbeef);
	stun_put_u32(&b, STUN_ATTR_CONNECTION_ID, 77);
	stun_put_integrity(&b, key, sizeof(key) - 1);
	stun_put_integrity_sha256(&b, key, sizeof(key) - 1);
	stun_put_fingerprint(&b);
	return stun_build_finish(&b);
}

static void test_every_attribute_round_trips(void **state)
{
	uint8_t buf[1024];
	struct stun_msg m;
	struct nts_addr a;
	int n = build_everything(buf, sizeof(buf)), code;
	const char *reason;
	size_t rlen, pos = 0;
	uint16_t u16, types[8], alg;
	uint32_t u32;
	uint64_t u64;
	uint8_t u8;
	bool r;

	assert_true(n > 0);
	assert_int_equal(stun_parse(&m, buf, (size_t)n), 0);
	assert_int_equal(m.method, TURN_ALLOCATE);
	assert_int_equal(m.cls, STUN_ERROR);
	assert_int_equal(m.nunknown, 0);

	assert_int_equal(stun_attr_get_addr(must_find(&m, STUN_ATTR_MAPPED_ADDRESS), &a), 0);
	struct nts_addr v4 = addr("198.18.0.1:3478"), v6 = addr("[2001:db8::1]:49152");
	assert_true(nts_addr_equal(&a, &v4, true));
	assert_int_equal(
	    stun_attr_get_xor_addr(&m, must_find(&m, STUN_ATTR_XOR_MAPPED_ADDRESS), &a), 0);
	assert_true(nts_addr_equal(&a, &v6, true));
	/* the XOR form is not the plain form on the wire */
	assert_int_equal(stun_attr_get_addr(must_find(&m, STUN_ATTR_XOR_MAPPED_ADDRESS), &a), 0);
	assert_false(nts_addr_equal(&a, &v6, true));

	assert_int_equal(
	    stun_attr_get_error(must_find(&m, STUN_ATTR_ERROR_CODE), &code, &reason, &rlen), 0);
	assert_int_equal(code, 438);
	assert_int_equal(rlen, strlen("Stale Nonce"));
	assert_memory_equal(reason, "Stale Nonce", rlen);

	const struct stun_attr *pa = must_find(&m, STUN_ATTR_PASSWORD_ALGORITHMS);
	assert_int_equal(stun_attr_next_password_alg(pa, &pos, &alg), 1);
	assert_int_equal(alg, STUN_PWALG_MD5);
	assert_int_equal(stun_attr_next_password_alg(pa, &pos, &alg), 1);
	assert_int_equal(alg, STUN_PWALG_SHA256);
	assert_int_equal(stun_attr_next_password_alg(pa, &pos, &alg), 0);
	assert_int_equal(stun_attr_get_password_alg(must_find(&m, STUN_ATTR_PASSWORD_ALGORITHM),
						    &alg, NULL, NULL),
			 0);
	assert_int_equal(alg, STUN_PWALG_SHA256);

	assert_int_equal(
	    stun_attr_get_unknown(must_find(&m, STUN_ATTR_UNKNOWN_ATTRIBUTES), types, 8), 3);
	assert_int_equal(types[0], 0x0030);
	assert_int_equal(types[2], 0x0032);
	assert_int_equal(
	    stun_attr_get_unknown(must_find(&m, STUN_ATTR_UNKNOWN_ATTRIBUTES), types, 2), 2);

	assert_int_equal(stun_attr_get_addr(must_find(&m, STUN_ATTR_ALTERNATE_SERVER), &a), 0);
	assert_true(nts_addr_equal(&a, &v6, true));
	assert_int_equal(must_find(&m, STUN_ATTR_ALTERNATE_DOMAIN)->len, 12);
	assert_int_equal(stun_attr_get_channel(must_find(&m, STUN_ATTR_CHANNEL_NUMBER), &u16), 0);
	assert_int_equal(u16, 0x4001);
	assert_int_equal(stun_attr_get_u32(must_find(&m, STUN_ATTR_LIFETIME), &u32), 0);
	assert_int_equal(u32, 600);

	const struct stun_attr *p1 = must_find(&m, STUN_ATTR_XOR_PEER_ADDRESS);
	const struct stun_attr *p2 = stun_find_next(&m, STUN_ATTR_XOR_PEER_ADDRESS, p1);
	assert_non_null(p2);
	assert_int_equal(stun_attr_get_xor_addr(&m, p2, &a), 0);
	assert_true(nts_addr_equal(
	    &a, &(struct nts_addr){.ip = {198, 18, 0, 2}, .port = 9, .family = AF_INET}, true));
	const struct stun_attr *d = must_find(&m, STUN_ATTR_DATA);
	assert_int_equal(d->len, 3);
	assert_memory_equal(d->value, "\x01\x02\x03", 3);
	const struct stun_attr *r2 = stun_find_next(&m, STUN_ATTR_XOR_RELAYED_ADDRESS,
						    must_find(&m, STUN_ATTR_XOR_RELAYED_ADDRESS));
	assert_int_equal(stun_attr_get_xor_addr(&m, r2, &a), 0);
	assert_true(nts_addr_equal(&a, &v6, true));

	assert_int_equal(
	    stun_attr_get_family(must_find(&m, STUN_ATTR_REQUESTED_ADDRESS_FAMILY), &u8), 0);
	assert_int_equal(u8, AF_INET6);
	assert_int_equal(stun_attr_get_even_port(must_find(&m, STUN_ATTR_EVEN_PORT), &r), 0);
	assert_true(r);
	assert_int_equal(stun_attr_get_transport(must_find(&m, STUN_ATTR_REQUESTED_TRANSPORT), &u8),
			 0);
	assert_int_equal(u8, 17);
	assert_int_equal(must_find(&m, STUN_ATTR_DONT_FRAGMENT)->len, 0);
	assert_int_equal(stun_attr_get_u64(must_find(&m, STUN_ATTR_RESERVATION_TOKEN), &u64), 0);
	assert_true(u64 == 0x0102030405060708ull);
	assert_int_equal(
	    stun_attr_get_family(must_find(&m, STUN_ATTR_ADDITIONAL_ADDRESS_FAMILY), &u8), 0);
	assert_int_equal(u8, AF_INET6);
	assert_int_equal(stun_attr_get_address_error(must_find(&m, STUN_ATTR_ADDRESS_ERROR_CODE),
						     &u8, &code, &reason, &rlen),
			 0);
	assert_int_equal(u8, AF_INET6);
	assert_int_equal(code, 440);
	assert_memory_equal(reason, "Address Family not Supported", rlen);

	uint8_t itype;
	uint16_t icode;
	assert_int_equal(stun_attr_get_icmp(must_find(&m, STUN_ATTR_ICMP), &itype, &icode, &u32),
			 0);
	assert_int_equal(itype, 3);
	assert_int_equal(icode, 13);
	assert_int_equal(u32, 0xdeadbeef);
	assert_int_equal(stun_attr_get_connection_id(must_find(&m, STUN_ATTR_CONNECTION_ID), &u32),
			 0);
	assert_int_equal(u32, 77);

	assert_true(stun_check_integrity(&m, key, sizeof(key) - 1));
	assert_true(stun_check_integrity_sha256(&m, key, sizeof(key) - 1));
	assert_true(stun_check_fingerprint(&m));
	assert_false(stun_check_integrity(&m, key, sizeof(key) - 2));
	assert_false(stun_check_integrity_sha256(&m, key, sizeof(key) - 2));
}

/* A buffer too small by any amount gives -ENOSPC and no byte is written at or past its capacity. */
static void test_short_buffer_gives_enospc_and_never_writes_past_cap(void **state)
{
	uint8_t full[1024];
	int n = build_everything(full, sizeof(full));

	assert_true(n > 0);
	for (size_t cap = 0; cap < (size_t)n; cap++) {
		uint8_t *buf = malloc(cap + 64);
		assert_non_null(buf);
		memset(buf, 0xa5, cap + 64);
		assert_int_equal(build_everything(buf, cap), -ENOSPC);
		for (size_t i = cap; i < cap + 64; i++)
			assert_int_equal(buf[i], 0xa5);
		free(buf);
	}
	uint8_t exact[1024];
	assert_int_equal(build_everything(exact, (size_t)n), n);
	assert_memory_equal(exact, full, (size_t)n);
}

static void test_enospc_is_sticky(void **state)
{
	uint8_t buf[32];
	struct stun_builder b;

	stun_build_init(&b, buf, sizeof(buf), STUN_BINDING, STUN_SUCCESS, tid);
	assert_int_equal(stun_put_attr(&b, STUN_ATTR_SOFTWARE, "0123456789", 10), -ENOSPC);
	assert_int_equal(stun_put_u32(&b, STUN_ATTR_LIFETIME, 1), -ENOSPC); /* would fit */
	assert_int_equal(stun_put_fingerprint(&b), -ENOSPC);
	assert_int_equal(stun_build_finish(&b), -ENOSPC);
	assert_int_equal(b.len, 20);
}

static void test_header_shorter_than_twenty_bytes_is_enospc(void **state)
{
	uint8_t buf[19];
	struct stun_builder b;

	memset(buf, 0xa5, sizeof(buf));
	stun_build_init(&b, buf, sizeof(buf), STUN_BINDING, STUN_REQUEST, tid);
	assert_int_equal(stun_put_fingerprint(&b), -ENOSPC);
	assert_int_equal(stun_build_finish(&b), -ENOSPC);
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0xa5);
}

static void test_invalid_arguments_are_sticky_errors(void **state)
{
	uint8_t buf[256];
	struct stun_builder b;
	struct nts_addr bad = {.family = AF_UNIX};

	stun_build_init(&b, buf, sizeof(buf), STUN_BINDING, STUN_ERROR, tid);
	assert_int_equal(stun_put_error(&b, 299, NULL), -EINVAL);
	assert_int_equal(stun_build_finish(&b), -EINVAL);
	stun_build_init(&b, buf, sizeof(buf), STUN_BINDING, STUN_ERROR, tid);
	assert_int_equal(stun_put_error(&b, 700, "x"), -EINVAL);
	stun_build_init(&b, buf, sizeof(buf), STUN_BINDING, STUN_ERROR, tid);
	assert_int_equal(stun_put_family(&b, STUN_ATTR_REQUESTED_ADDRESS_FAMILY, AF_UNIX),
			 -EAFNOSUPPORT);
	assert_int_equal(stun_put_u32(&b, STUN_ATTR_LIFETIME, 1), -EAFNOSUPPORT);
	stun_build_init(&b, buf, sizeof(buf), STUN_BINDING, STUN_ERROR, tid);
	assert_int_equal(stun_put_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &bad), -EAFNOSUPPORT);
	stun_build_init(&b, buf, sizeof(buf), 0x1000, STUN_REQUEST, tid); /* methods are 12 bits */
	assert_int_equal(stun_build_finish(&b), -EINVAL);
}

/* RFC 8489 §14.8: class = code / 100, number = code % 100, then the reason phrase. */
static void test_error_code_layout_and_custom_reason(void **state)
{
	uint8_t buf[128];
	struct stun_builder b;

	stun_build_init(&b, buf, sizeof(buf), TURN_ALLOCATE, STUN_ERROR, tid);
	stun_put_error(&b, 486, "Quota");
	assert_int_equal(stun_build_finish(&b), 20 + 4 + 12);
	assert_memory_equal(buf + 20, "\x00\x09\x00\x09\x00\x00\x04\x56Quota\0\0\0", 16);
	assert_int_equal(buf[0], 0x01);
	assert_int_equal(buf[1], 0x13); /* Allocate error response */
}

/* RFC 8489 §14: padding bytes are zeros unless asked otherwise; the length excludes them. */
static void test_padding_and_header_length(void **state)
{
	uint8_t buf[128];
	struct stun_builder b;

	stun_build_init(&b, buf, sizeof(buf), STUN_BINDING, STUN_INDICATION, tid);
	stun_put_attr(&b, STUN_ATTR_SOFTWARE, "abcde", 5);
	stun_put_attr_pad(&b, STUN_ATTR_NONCE, "x", 1, 0x20);
	assert_int_equal(stun_build_finish(&b), 20 + 12 + 8);
	assert_memory_equal(buf, "\x00\x11\x00\x14\x21\x12\xa4\x42", 8);
	assert_memory_equal(buf + 20,
			    "\x80\x22\x00\x05"
			    "abcde\0\0\0"
			    "\x00\x15\x00\x01"
			    "x   ",
			    20);
}

static void test_unknown_attributes_odd_count_is_padded(void **state)
{
	static const uint16_t t[] = {0x0030};
	uint8_t buf[64];
	struct stun_builder b;
	struct stun_msg m;
	uint16_t out[4];

	stun_build_init(&b, buf, sizeof(buf), STUN_BINDING, STUN_ERROR, tid);
	stun_put_error(&b, 420, NULL);
	stun_put_unknown(&b, t, 1);
	int n = stun_build_finish(&b);
	assert_int_equal(stun_parse(&m, buf, (size_t)n), 0);
	assert_int_equal(stun_attr_get_unknown(must_find(&m, STUN_ATTR_UNKNOWN_ATTRIBUTES), out, 4),
			 1);
	assert_int_equal(out[0], 0x0030);
}

static void test_every_method_and_class_round_trips(void **state)
{
	static const uint16_t methods[] = {STUN_BINDING,
					   TURN_ALLOCATE,
					   TURN_REFRESH,
					   TURN_SEND,
					   TURN_DATA,
					   TURN_CREATE_PERMISSION,
					   TURN_CHANNEL_BIND,
					   TURN_CONNECT,
					   TURN_CONNECTION_BIND,
					   TURN_CONNECTION_ATTEMPT,
					   0xFFF};
	static const uint16_t classes[] = {STUN_REQUEST, STUN_INDICATION, STUN_SUCCESS, STUN_ERROR};
	uint8_t buf[32];
	struct stun_builder b;
	struct stun_msg m;

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		for (size_t j = 0; j < 4; j++) {
			stun_build_init(&b, buf, sizeof(buf), methods[i], classes[j], tid);
			assert_int_equal(stun_build_finish(&b), 20);
			assert_int_equal(stun_parse(&m, buf, 20), 0);
			assert_int_equal(m.method, methods[i]);
			assert_int_equal(m.cls, classes[j]);
		}
	}
}

/* Decoders check lengths themselves, for attributes that did not go through stun_parse. */
static void test_decoders_reject_malformed_values(void **state)
{
	static const uint8_t v[40] = {0x03, 0x01, 0x00, 0x10, 0x00, 0x01};
	struct stun_attr a = {.type = 0, .len = 3, .value = v};
	struct nts_addr ad;
	uint32_t u32;
	uint64_t u64;
	uint8_t u8;
	uint16_t u16, types[2];
	int code;
	size_t pos = 0;

	assert_int_equal(stun_attr_get_u32(&a, &u32), -EINVAL);
	assert_int_equal(stun_attr_get_u64(&a, &u64), -EINVAL);
	assert_int_equal(stun_attr_get_addr(&a, &ad), -EINVAL);
	assert_int_equal(stun_attr_get_unknown(&a, types, 2), -EINVAL);
	assert_int_equal(stun_attr_get_error(&a, &code, NULL, NULL), -EINVAL);
	a.len = 4;
	assert_int_equal(stun_attr_get_family(&a, &u8), -EAFNOSUPPORT);	       /* family 3 -> 440 */
	assert_int_equal(stun_attr_get_error(&a, &code, NULL, NULL), -EINVAL); /* class 0 */
	assert_int_equal(stun_attr_get_password_alg(&a, &u16, NULL, NULL), -EINVAL); /* 16 > 0 */
	a.len = 8;
	assert_int_equal(stun_attr_get_addr(&a, &ad), 0); /* family 1 in 8 bytes is fine */
	a.len = 6; /* an entry claiming 16 parameter bytes with 2 present */
	assert_int_equal(stun_attr_next_password_alg(&a, &pos, &u16), -EINVAL);
	a.len = 0;
	assert_int_equal(stun_attr_get_even_port(&a, &(bool){false}), -EINVAL);
	assert_int_equal(stun_attr_get_channel(&a, &u16), -EINVAL);
	assert_int_equal(stun_attr_get_transport(&a, &u8), -EINVAL);
	assert_int_equal(stun_attr_get_icmp(&a, &u8, &u16, &u32), -EINVAL);
	assert_int_equal(stun_attr_get_u32(NULL, &u32), -EINVAL);
}

static void test_long_term_key_lengths_and_unknown_alg(void **state)
{
	uint8_t out[32];

	assert_int_equal(stun_long_term_key(STUN_PWALG_MD5, "u", 1, "r", 1, "p", 1, out), 16);
	assert_int_equal(stun_long_term_key(STUN_PWALG_SHA256, "u", 1, "r", 1, "p", 1, out), 32);
	assert_int_equal(stun_long_term_key(3, "u", 1, "r", 1, "p", 1, out), -EINVAL);
	/* empty parts are allowed: MD5("::"), reference value from coreutils md5sum */
	assert_int_equal(stun_long_term_key(STUN_PWALG_MD5, "", 0, "", 0, "", 0, out), 16);
	assert_memory_equal(out, "\x45\x01\xc0\x91\xb0\x36\x6d\x76\xea\x32\x18\xb6\xcf\xdd\x80\x97",
			    16);
}

struct sent {
	int calls;
	size_t len;
};

static int record_send(void *arg, const struct nts_origin *o, const struct iovec *iov, int iovcnt)
{
	struct sent *s = arg;

	s->calls++;
	s->len = iovcnt == 1 ? iov[0].iov_len : 0;
	return 0;
}

/* stun_build_send hands a finished message to the sender whole, and a failed build to nobody. */
static void test_build_send_sends_finished_messages_only(void **state)
{
	struct nts_origin o = {.transport = NTS_UDP};
	struct sent s = {0};
	struct stun_builder b;
	uint8_t buf[64];

	stun_build_init(&b, buf, sizeof(buf), STUN_BINDING, STUN_SUCCESS, tid);
	stun_put_u32(&b, STUN_ATTR_LIFETIME, 600);
	assert_int_equal(stun_build_send(&b, record_send, &s, &o), 28);
	assert_int_equal(s.calls, 1);
	assert_int_equal(s.len, 28);
	stun_build_init(&b, buf, 24, STUN_BINDING, STUN_SUCCESS, tid);
	stun_put_u32(&b, STUN_ATTR_LIFETIME, 600);
	assert_int_equal(stun_build_send(&b, record_send, &s, &o), -ENOSPC);
	assert_int_equal(s.calls, 1);
}

/* The method table: each client method has its own counter slot and label, server-only and unknown
 * methods share "other"; Send is the one indication, Binding the one method TURN does not handle.
 */
static void test_method_table_gives_counter_slots_and_handlers(void **state)
{
	const struct stun_method_def *d = stun_method_find(TURN_CREATE_PERMISSION);

	assert_non_null(d);
	assert_string_equal(d->name, "CreatePermission");
	assert_string_equal(stun_method_stat_name(stun_method_stat(TURN_CREATE_PERMISSION)),
			    "create_permission");
	assert_true(d->from_client && d->turn && !d->indication);
	assert_true(stun_method_find(TURN_SEND)->indication);
	assert_false(stun_method_find(STUN_BINDING)->turn);
	assert_int_equal(stun_method_stat(STUN_BINDING), 0);
	assert_false(stun_method_find(TURN_DATA)->from_client);
	assert_int_equal(stun_method_stat(TURN_DATA), STUN_STAT_OTHER);
	assert_int_equal(stun_method_stat(TURN_CONNECTION_ATTEMPT), STUN_STAT_OTHER);
	assert_null(stun_method_find(0x123));
	assert_int_equal(stun_method_stat(0x123), STUN_STAT_OTHER);
	assert_string_equal(stun_method_stat_name(STUN_STAT_OTHER), "other");
	assert_string_equal(stun_method_stat_name(STUN_STAT_COUNT + 5), "other");
	/* Every slot has a distinct label, as /metrics needs. */
	for (unsigned i = 0; i < STUN_STAT_COUNT; i++)
		for (unsigned j = i + 1; j < STUN_STAT_COUNT; j++)
			assert_string_not_equal(stun_method_stat_name(i), stun_method_stat_name(j));
}

static void test_names_and_reasons(void **state)
{
	static const int codes[] = {300, 400, 401, 403, 420, 437, 438, 440,
				    441, 442, 443, 446, 447, 486, 500, 508};

	assert_string_equal(stun_method_name(STUN_BINDING), "Binding");
	assert_string_equal(stun_method_name(TURN_CREATE_PERMISSION), "CreatePermission");
	assert_string_equal(stun_method_name(0x123), "Unknown");
	assert_string_equal(stun_attr_name(STUN_ATTR_XOR_PEER_ADDRESS), "XOR-PEER-ADDRESS");
	assert_string_equal(stun_attr_name(STUN_ATTR_MESSAGE_INTEGRITY_SHA256),
			    "MESSAGE-INTEGRITY-SHA256");
	assert_string_equal(stun_attr_name(0x7777), "UNKNOWN");
	assert_string_equal(stun_reason(401), "Unauthorized");
	assert_string_equal(stun_reason(438), "Stale Nonce");
	assert_string_equal(stun_reason(508), "Insufficient Capacity");
	assert_string_equal(stun_reason(499), "Error");
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		assert_string_not_equal(stun_reason(codes[i]), "Error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_attribute_round_trips),
	    cmocka_unit_test(test_short_buffer_gives_enospc_and_never_writes_past_cap),
	    cmocka_unit_test(test_enospc_is_sticky),
	    cmocka_unit_test(test_header_shorter_than_twenty_bytes_is_enospc),
	    cmocka_unit_test(test_invalid_arguments_are_sticky_errors),
	    cmocka_unit_test(test_error_code_layout_and_custom_reason),
	    cmocka_unit_test(test_padding_and_header_length),
	    cmocka_unit_test(test_unknown_attributes_odd_count_is_padded),
	    cmocka_unit_test(test_every_method_and_class_round_trips),
	    cmocka_unit_test(test_decoders_reject_malformed_values),
	    cmocka_unit_test(test_long_term_key_lengths_and_unknown_alg),
	    cmocka_unit_test(test_build_send_sends_finished_messages_only),
	    cmocka_unit_test(test_method_table_gives_counter_slots_and_handlers),
	    cmocka_unit_test(test_names_and_reasons),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
