/* One test per malformation of a STUN message (RFC 8489 §5, §14): each yields its own clean parse
 * error, and well-formed edge cases (repeated XOR-PEER-ADDRESS, unknown optional attributes,
 * trailing bytes) still parse.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <stdlib.h>

#include "stun/stun.h"

static const uint8_t tid[STUN_TID_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

/* Writes a Binding request header whose length field is hdr_len, followed by body; returns size. */
static size_t raw_msg(uint8_t *buf, uint16_t hdr_len, const uint8_t *body, size_t body_len)
{
	buf[0] = 0x00;
	buf[1] = 0x01;
	buf[2] = (uint8_t)(hdr_len >> 8);
	buf[3] = (uint8_t)hdr_len;
	buf[4] = 0x21;
	buf[5] = 0x12;
	buf[6] = 0xa4;
	buf[7] = 0x42;
	memcpy(buf + 8, tid, sizeof(tid));
	if (body_len)
		memcpy(buf + 20, body, body_len);
	return 20 + body_len;
}

/* Parses header + body with the header length equal to the body length. */
static int parse_body(struct stun_msg *m, const uint8_t *body, size_t body_len)
{
	static uint8_t buf[2048];

	assert_true(body_len + 20 <= sizeof(buf));
	size_t n = raw_msg(buf, (uint16_t)body_len, body, body_len);
	return stun_parse(m, buf, n);
}

static const uint8_t lifetime[] = {0x00, 0x0d, 0x00, 0x04, 0x00, 0x00, 0x02, 0x58};

static void test_truncated_header_is_rejected(void **state)
{
	uint8_t buf[64];
	struct stun_msg m;
	size_t n = raw_msg(buf, 8, lifetime, sizeof(lifetime));

	for (size_t cut = 0; cut < 20; cut++)
		assert_int_equal(stun_parse(&m, buf, cut), STUN_ERR_TRUNCATED);
	assert_false(stun_is_stun(buf, 19));
	assert_int_equal(stun_parse(&m, NULL, 0), STUN_ERR_TRUNCATED);
	assert_int_equal(stun_parse(&m, buf, n), 0);
}

static void test_length_beyond_buffer_is_truncated(void **state)
{
	uint8_t buf[64];
	struct stun_msg m;
	size_t n = raw_msg(buf, 8, lifetime, sizeof(lifetime));

	assert_int_equal(stun_parse(&m, buf, n - 4), STUN_ERR_TRUNCATED);
	assert_false(stun_is_stun(buf, n - 4));
	assert_true(stun_is_stun(buf, n));
}

static void test_wrong_magic_cookie_is_not_stun(void **state)
{
	uint8_t buf[64];
	struct stun_msg m;
	size_t n = raw_msg(buf, 8, lifetime, sizeof(lifetime));

	buf[7] = 0x43;
	assert_int_equal(stun_parse(&m, buf, n), STUN_ERR_NOT_STUN);
	assert_false(stun_is_stun(buf, n));
}

/* RFC 8489 §6: the two most significant bits of every STUN message are zero. */
static void test_top_bits_set_is_not_stun(void **state)
{
	uint8_t buf[64];
	struct stun_msg m;
	size_t n = raw_msg(buf, 8, lifetime, sizeof(lifetime));

	buf[0] = 0x40; /* ChannelData territory */
	assert_int_equal(stun_parse(&m, buf, n), STUN_ERR_NOT_STUN);
	buf[0] = 0x80;
	assert_int_equal(stun_parse(&m, buf, n), STUN_ERR_NOT_STUN);
}

static void test_length_not_multiple_of_four_is_bad_length(void **state)
{
	uint8_t buf[64];
	struct stun_msg m;
	size_t n = raw_msg(buf, 6, lifetime, sizeof(lifetime));

	assert_int_equal(stun_parse(&m, buf, n), STUN_ERR_BAD_LENGTH);
	assert_false(stun_is_stun(buf, n));
}

static void test_attribute_past_the_end_is_overrun(void **state)
{
	/* LIFETIME claims 8 bytes of value, the message has 4. */
	static const uint8_t body[] = {0x00, 0x0d, 0x00, 0x08, 0x00, 0x00, 0x02, 0x58};
	struct stun_msg m;

	assert_int_equal(parse_body(&m, body, sizeof(body)), STUN_ERR_ATTR_OVERRUN);
}

/* RFC 8489 §14: values are padded to 4 bytes, the last one too. */
static void test_unpadded_last_attribute_is_bad_padding(void **state)
{
	static const uint8_t body[] = {0x00, 0x08, 0x00, 0x00, 0x00, 0x06, 0x00,
				       0x05, 'a',  'l',	 'i',  'c',  'e'};
	struct stun_msg m;

	/* header length 13 = 8 + 5: the message ends right after the value, without padding */
	assert_int_equal(parse_body(&m, body, sizeof(body)), STUN_ERR_BAD_PADDING);
}

static void test_padding_content_is_ignored(void **state)
{
	static const uint8_t body[] = {0x00, 0x06, 0x00, 0x05, 'a',  'l',
				       'i',  'c',  'e',	 0xff, 0xee, 0xdd};
	struct stun_msg m;

	assert_int_equal(parse_body(&m, body, sizeof(body)), 0);
	assert_int_equal(stun_find(&m, STUN_ATTR_USERNAME)->len, 5);
}

/* RFC 8489 §14.5: only FINGERPRINT (and MESSAGE-INTEGRITY-SHA256, §14.6) may follow it. */
static void test_attribute_after_integrity_is_rejected(void **state)
{
	uint8_t body[64] = {0x00, 0x08, 0x00, 0x14};
	struct stun_msg m;

	memcpy(body + 24, lifetime, sizeof(lifetime));
	assert_int_equal(parse_body(&m, body, 32), STUN_ERR_AFTER_INTEGRITY);
}

static void test_attribute_after_integrity_sha256_is_rejected(void **state)
{
	uint8_t body[64] = {0x00, 0x1c, 0x00, 0x20};
	struct stun_msg m;

	memcpy(body + 36, "\x00\x08\x00\x14", 4); /* MESSAGE-INTEGRITY after -SHA256 */
	assert_int_equal(parse_body(&m, body, 60), STUN_ERR_AFTER_INTEGRITY);
}

static void test_sha256_and_fingerprint_may_follow_integrity(void **state)
{
	uint8_t body[128] = {0x00, 0x08, 0x00, 0x14};
	struct stun_msg m;

	memcpy(body + 24, "\x00\x1c\x00\x20", 4);
	memcpy(body + 60, "\x80\x28\x00\x04", 4);
	assert_int_equal(parse_body(&m, body, 68), 0);
	assert_int_equal(m.integrity, 0);
	assert_int_equal(m.integrity_sha256, 1);
	assert_int_equal(m.fingerprint, 2);
}

static void test_attribute_after_fingerprint_is_rejected(void **state)
{
	uint8_t body[64] = {0x80, 0x28, 0x00, 0x04};
	struct stun_msg m;

	memcpy(body + 8, lifetime, sizeof(lifetime));
	assert_int_equal(parse_body(&m, body, 16), STUN_ERR_AFTER_FINGERPRINT);
}

/* Our choice (stun.h): a repeated known attribute is a 400, not silently ignored. */
static void test_duplicated_attribute_is_rejected(void **state)
{
	uint8_t body[64];
	struct stun_msg m;

	memcpy(body, lifetime, 8);
	memcpy(body + 8, lifetime, 8);
	assert_int_equal(parse_body(&m, body, 16), STUN_ERR_DUPLICATE);
}

/* RFC 8656 §9.1: CreatePermission carries one or more XOR-PEER-ADDRESS. */
static void test_repeated_xor_peer_address_is_allowed(void **state)
{
	static const uint8_t body[] = {
	    0x00, 0x12, 0x00, 0x08, 0x00, 0x01, 0x11, 0x11, 0x01, 0x02, 0x03, 0x04,
	    0x00, 0x12, 0x00, 0x08, 0x00, 0x01, 0x22, 0x22, 0x05, 0x06, 0x07, 0x08,
	};
	struct stun_msg m;

	assert_int_equal(parse_body(&m, body, sizeof(body)), 0);
	const struct stun_attr *a = stun_find(&m, STUN_ATTR_XOR_PEER_ADDRESS);
	const struct stun_attr *b = stun_find_next(&m, STUN_ATTR_XOR_PEER_ADDRESS, a);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(b->value[2], 0x22);
	assert_null(stun_find_next(&m, STUN_ATTR_XOR_PEER_ADDRESS, b));
}

static void test_zero_length_address_is_bad_attr(void **state)
{
	static const uint8_t body[] = {0x00, 0x20, 0x00, 0x00};
	struct stun_msg m;

	assert_int_equal(parse_body(&m, body, sizeof(body)), STUN_ERR_BAD_ATTR);
}

/* RFC 8489 §14.1: family 0x01 goes with 4 address bytes, 0x02 with 16, no other family exists. */
static void test_address_length_must_match_family(void **state)
{
	uint8_t body[24] = {0x00, 0x12, 0x00, 0x14, 0x00, 0x01};
	struct stun_msg m;

	assert_int_equal(parse_body(&m, body, 24), STUN_ERR_BAD_ATTR); /* IPv4 in 20 bytes */
	body[3] = 0x08;
	body[5] = 0x02;
	assert_int_equal(parse_body(&m, body, 12), STUN_ERR_BAD_ATTR); /* IPv6 in 8 bytes */
	body[5] = 0x03;
	assert_int_equal(parse_body(&m, body, 12), STUN_ERR_BAD_ATTR); /* unknown family */
	body[5] = 0x01;
	assert_int_equal(parse_body(&m, body, 12), 0);
}

static void test_fixed_length_attributes_with_wrong_length_are_bad_attr(void **state)
{
	static const struct {
		uint16_t type, len;
	} bad[] = {
	    {STUN_ATTR_LIFETIME, 3},
	    {STUN_ATTR_LIFETIME, 8},
	    {STUN_ATTR_CHANNEL_NUMBER, 2},
	    {STUN_ATTR_REQUESTED_TRANSPORT, 0},
	    {STUN_ATTR_MESSAGE_INTEGRITY, 16},
	    {STUN_ATTR_MESSAGE_INTEGRITY_SHA256, 12},
	    {STUN_ATTR_MESSAGE_INTEGRITY_SHA256, 18},
	    {STUN_ATTR_MESSAGE_INTEGRITY_SHA256, 36},
	    {STUN_ATTR_FINGERPRINT, 8},
	    {STUN_ATTR_USERHASH, 31},
	    {STUN_ATTR_RESERVATION_TOKEN, 4},
	    {STUN_ATTR_DONT_FRAGMENT, 4},
	    {STUN_ATTR_EVEN_PORT, 0},
	    {STUN_ATTR_ERROR_CODE, 3},
	    {STUN_ATTR_UNKNOWN_ATTRIBUTES, 3},
	    {STUN_ATTR_PASSWORD_ALGORITHM, 2},
	    {STUN_ATTR_ICMP, 4},
	};
	uint8_t body[64];
	struct stun_msg m;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(body, 0, sizeof(body));
		body[0] = (uint8_t)(bad[i].type >> 8);
		body[1] = (uint8_t)bad[i].type;
		body[3] = (uint8_t)bad[i].len;
		size_t n = 4 + ((bad[i].len + 3u) & ~3u);
		print_message("# %s len %u\n", stun_attr_name(bad[i].type), bad[i].len);
		assert_int_equal(parse_body(&m, body, n), STUN_ERR_BAD_ATTR);
	}
}

/* RFC 8489 §14.8: the class is 3..6 and the number 0..99. */
static void test_error_code_out_of_range_is_bad_attr(void **state)
{
	uint8_t body[] = {0x00, 0x09, 0x00, 0x04, 0x00, 0x00, 0x07, 0x00};
	struct stun_msg m;

	assert_int_equal(parse_body(&m, body, sizeof(body)), STUN_ERR_BAD_ATTR);
	body[6] = 4;
	body[7] = 100;
	assert_int_equal(parse_body(&m, body, sizeof(body)), STUN_ERR_BAD_ATTR);
	body[7] = 1;
	assert_int_equal(parse_body(&m, body, sizeof(body)), 0);
}

static void test_password_algorithms_with_overlong_parameters_is_bad_attr(void **state)
{
	/* second entry claims 8 parameter bytes, 4 remain */
	static const uint8_t body[] = {0x80, 0x02, 0x00, 0x0c, 0x00, 0x01, 0x00, 0x00,
				       0x00, 0x02, 0x00, 0x08, 0xaa, 0xbb, 0xcc, 0xdd};
	struct stun_msg m;

	assert_int_equal(parse_body(&m, body, sizeof(body)), STUN_ERR_BAD_ATTR);
}

static void test_too_many_attributes_is_rejected(void **state)
{
	/* STUN_MAX_ATTRS + 1 comprehension-optional unknown attributes of zero length. */
	uint8_t body[4 * (STUN_MAX_ATTRS + 1)];
	struct stun_msg m;

	for (size_t i = 0; i <= STUN_MAX_ATTRS; i++) {
		body[4 * i] = 0x80;
		body[4 * i + 1] = 0x30;
		body[4 * i + 2] = 0;
		body[4 * i + 3] = 0;
	}
	assert_int_equal(parse_body(&m, body, 4 * STUN_MAX_ATTRS), 0);
	assert_int_equal(m.nattrs, STUN_MAX_ATTRS);
	assert_int_equal(parse_body(&m, body, sizeof(body)), STUN_ERR_TOO_MANY);
}

/* RFC 8489 §6.3.1: unknown comprehension-required attributes are listed for a 420 answer. */
static void test_unknown_comprehension_required_attributes_are_listed(void **state)
{
	static const uint8_t body[] = {
	    0x00, 0x30, 0x00, 0x00,		/* unknown, comprehension-required */
	    0x80, 0x30, 0x00, 0x04, 1, 2, 3, 4, /* unknown, comprehension-optional */
	    0x00, 0x31, 0x00, 0x01, 9, 0, 0, 0, /* unknown, comprehension-required */
	    0x00, 0x30, 0x00, 0x00,		/* repeated: listed once, not a duplicate error */
	};
	struct stun_msg m;

	assert_int_equal(parse_body(&m, body, sizeof(body)), 0);
	assert_int_equal(m.nunknown, 2);
	assert_int_equal(m.unknown[0], 0x0030);
	assert_int_equal(m.unknown[1], 0x0031);
	assert_int_equal(m.nattrs, 4);
}

static void test_unknown_list_is_capped(void **state)
{
	uint8_t body[4 * (STUN_MAX_UNKNOWN + 4)];
	struct stun_msg m;

	for (size_t i = 0; i < STUN_MAX_UNKNOWN + 4; i++) {
		body[4 * i] = 0x00;
		body[4 * i + 1] = (uint8_t)(0x40 + i);
		body[4 * i + 2] = 0;
		body[4 * i + 3] = 0;
	}
	assert_int_equal(parse_body(&m, body, sizeof(body)), 0);
	assert_int_equal(m.nunknown, STUN_MAX_UNKNOWN);
}

static void test_trailing_bytes_are_not_part_of_the_message(void **state)
{
	uint8_t buf[64];
	struct stun_msg m;
	size_t n = raw_msg(buf, 8, lifetime, sizeof(lifetime));

	memset(buf + n, 0xee, 12);
	assert_int_equal(stun_parse(&m, buf, n + 12), 0);
	assert_int_equal(m.len, n);
	assert_int_equal(m.nattrs, 1);
}

/* RFC 8489 §5: method and class bits are interleaved in the type field. */
static void test_type_field_decodes_method_and_class(void **state)
{
	uint8_t buf[64];
	struct stun_msg m;
	size_t n = raw_msg(buf, 0, NULL, 0);

	buf[0] = 0x01;
	buf[1] = 0x19; /* ChannelBind error response */
	assert_int_equal(stun_parse(&m, buf, n), 0);
	assert_int_equal(m.method, TURN_CHANNEL_BIND);
	assert_int_equal(m.cls, STUN_ERROR);
	buf[0] = 0x3f;
	buf[1] = 0xef; /* method 0xFFF, class success */
	assert_int_equal(stun_parse(&m, buf, n), 0);
	assert_int_equal(m.method, 0xFFF);
	assert_int_equal(m.cls, STUN_SUCCESS);
	assert_int_equal(m.nattrs, 0);
	assert_memory_equal(m.tid, tid, sizeof(tid));
}

/* Every prefix and every single-byte corruption of a valid message parses or fails cleanly
 * (ASan/UBSan builds catch any read past the buffer, which is heap-allocated to the exact size). */
static void test_every_prefix_and_corruption_fails_cleanly(void **state)
{
	static const uint8_t body[] = {
	    0x00, 0x06, 0x00, 0x05, 'a',  'l',	'i',  'c',  'e',  0,	0,    0,    0x00, 0x20,
	    0x00, 0x08, 0x00, 0x01, 0x11, 0x11, 0x01, 0x02, 0x03, 0x04, 0x80, 0x02, 0x00, 0x08,
	    0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x08, 0x00, 0x14, 1,	  2,
	    3,	  4,	5,    6,    7,	  8,	9,    10,   11,	  12,	13,   14,   15,	  16,
	    17,	  18,	19,   20,   0x80, 0x28, 0x00, 0x04, 1,	  2,	3,    4,
	};
	uint8_t full[128];
	struct stun_msg m;
	size_t n = raw_msg(full, sizeof(body), body, sizeof(body));

	assert_int_equal(stun_parse(&m, full, n), 0);
	for (size_t cut = 0; cut < n; cut++) {
		uint8_t *p = malloc(cut ? cut : 1);
		assert_non_null(p);
		memcpy(p, full, cut);
		assert_int_not_equal(stun_parse(&m, p, cut), 0);
		free(p);
	}
	for (size_t i = 0; i < n; i++) {
		for (int bit = 0; bit < 8; bit++) {
			uint8_t *p = malloc(n);
			assert_non_null(p);
			memcpy(p, full, n);
			p[i] ^= (uint8_t)(1 << bit);
			if (stun_parse(&m, p, n) == 0) {
				stun_check_fingerprint(&m);
				stun_check_integrity(&m, (const uint8_t *)"k", 1);
			}
			free(p);
		}
	}
}

static void test_parse_errors_have_distinct_names(void **state)
{
	for (int a = STUN_ERR_BAD_ATTR; a <= 0; a++)
		for (int b = a + 1; b <= 0; b++)
			assert_string_not_equal(stun_parse_strerror(a), stun_parse_strerror(b));
	assert_string_equal(stun_parse_strerror(STUN_ERR_DUPLICATE), "duplicated attribute");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_truncated_header_is_rejected),
	    cmocka_unit_test(test_length_beyond_buffer_is_truncated),
	    cmocka_unit_test(test_wrong_magic_cookie_is_not_stun),
	    cmocka_unit_test(test_top_bits_set_is_not_stun),
	    cmocka_unit_test(test_length_not_multiple_of_four_is_bad_length),
	    cmocka_unit_test(test_attribute_past_the_end_is_overrun),
	    cmocka_unit_test(test_unpadded_last_attribute_is_bad_padding),
	    cmocka_unit_test(test_padding_content_is_ignored),
	    cmocka_unit_test(test_attribute_after_integrity_is_rejected),
	    cmocka_unit_test(test_attribute_after_integrity_sha256_is_rejected),
	    cmocka_unit_test(test_sha256_and_fingerprint_may_follow_integrity),
	    cmocka_unit_test(test_attribute_after_fingerprint_is_rejected),
	    cmocka_unit_test(test_duplicated_attribute_is_rejected),
	    cmocka_unit_test(test_repeated_xor_peer_address_is_allowed),
	    cmocka_unit_test(test_zero_length_address_is_bad_attr),
	    cmocka_unit_test(test_address_length_must_match_family),
	    cmocka_unit_test(test_fixed_length_attributes_with_wrong_length_are_bad_attr),
	    cmocka_unit_test(test_error_code_out_of_range_is_bad_attr),
	    cmocka_unit_test(test_password_algorithms_with_overlong_parameters_is_bad_attr),
	    cmocka_unit_test(test_too_many_attributes_is_rejected),
	    cmocka_unit_test(test_unknown_comprehension_required_attributes_are_listed),
	    cmocka_unit_test(test_unknown_list_is_capped),
	    cmocka_unit_test(test_trailing_bytes_are_not_part_of_the_message),
	    cmocka_unit_test(test_type_field_decodes_method_and_class),
	    cmocka_unit_test(test_every_prefix_and_corruption_fails_cleanly),
	    cmocka_unit_test(test_parse_errors_have_distinct_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
