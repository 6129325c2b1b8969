/* The codec for classic STUN and NAT discovery: RFC 3489 messages (no magic cookie, a 128-bit
 * transaction id), the RFC 5780 attributes (CHANGE-REQUEST, RESPONSE-PORT, PADDING,
 * RESPONSE-ORIGIN, OTHER-ADDRESS), RFC 3489's SOURCE-ADDRESS and CHANGED-ADDRESS, and the ICMP
 * attribute of RFC 8656 §18.13 byte by byte.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "stun/stun.h"

static const uint8_t tid[STUN_TID_LEN] = {0xa0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0xbb};
static const uint8_t tid3489[STUN_TID3489_LEN] = {0xde, 0xad, 0xbe, 0xef, 0xa0, 1, 2,  3,
						  4,	5,    6,    7,	  8,	9, 10, 0xbb};

static const struct stun_attr *must_find(const struct stun_msg *m, uint16_t type)
{
	const struct stun_attr *a = stun_find(m, type);

	assert_non_null(a);
	return a;
}

/* RFC 3489 §11.1: the header is type, length and a 128-bit id; stun_parse() refuses it (RFC 8489
 * needs the cookie), stun_parse_rfc3489() takes it and says so. */
static void test_rfc3489_message_parses_only_with_the_rfc3489_parser(void **state)
{
	uint8_t buf[64];
	struct stun_builder b;
	struct stun_msg m;
	int len;

	stun_build_init_rfc3489(&b, buf, sizeof(buf), STUN_BINDING, STUN_REQUEST, tid3489);
	stun_put_change_request(&b, STUN_CHANGE_IP | STUN_CHANGE_PORT);
	len = stun_build_finish(&b);
	assert_int_equal(len, 20 + 8);
	assert_memory_equal(buf, "\x00\x01\x00\x08", 4);
	assert_memory_equal(buf + 4, tid3489, STUN_TID3489_LEN);
	assert_int_equal(stun_parse(&m, buf, (size_t)len), STUN_ERR_NOT_STUN);
	assert_int_equal(stun_parse_rfc3489(&m, buf, (size_t)len), 0);
	assert_true(m.rfc3489);
	assert_int_equal(m.method, STUN_BINDING);
	assert_int_equal(m.cls, STUN_REQUEST);
	assert_memory_equal(m.tid, tid3489 + 4, STUN_TID_LEN);
	/* RFC 3489 §11.2.4: change IP is 0x04, change port 0x02, in the last byte. */
	assert_memory_equal(buf + 20, "\x00\x03\x00\x04\x00\x00\x00\x06", 8);
}

/* An RFC 5389 message through the RFC 3489 parser is just that: rfc3489 stays false. */
static void test_rfc3489_parser_marks_messages_with_the_cookie_as_modern(void **state)
{
	uint8_t buf[64];
	struct stun_builder b;
	struct stun_msg m;
	int len;

	stun_build_init(&b, buf, sizeof(buf), STUN_BINDING, STUN_REQUEST, tid);
	len = stun_build_finish(&b);
	assert_int_equal(stun_parse_rfc3489(&m, buf, (size_t)len), 0);
	assert_false(m.rfc3489);
	/* Top bits set or a length past the end is not STUN in either form. */
	buf[0] = 0x80;
	assert_int_equal(stun_parse_rfc3489(&m, buf, (size_t)len), STUN_ERR_NOT_STUN);
	buf[0] = 0;
	assert_int_equal(stun_parse_rfc3489(&m, buf, (size_t)len - 1), STUN_ERR_TRUNCATED);
}

/* RFC 5780 §7: the discovery attributes round-trip; the address ones are plain (not XOR). */
static void test_rfc5780_attributes_round_trip(void **state)
{
	uint8_t buf[256];
	struct stun_builder b;
	struct stun_msg m;
	struct nts_addr other, origin, got;
	unsigned change = 99;
	uint16_t port = 0;
	int len;

	nts_addr_parse(&other, "198.18.0.2:3479", false);
	nts_addr_parse(&origin, "[2001:db8::1]:3478", false);
	stun_build_init(&b, buf, sizeof(buf), STUN_BINDING, STUN_SUCCESS, tid);
	stun_put_change_request(&b, STUN_CHANGE_PORT | 0x80); /* stray bits are not sent */
	stun_put_response_port(&b, 40000);
	stun_put_padding(&b, 7);
	stun_put_addr(&b, STUN_ATTR_OTHER_ADDRESS, &other);
	stun_put_addr(&b, STUN_ATTR_RESPONSE_ORIGIN, &origin);
	stun_put_addr(&b, STUN_ATTR_SOURCE_ADDRESS, &origin);
	stun_put_addr(&b, STUN_ATTR_CHANGED_ADDRESS, &other);
	len = stun_build_finish(&b);
	assert_true(len > 0);
	assert_int_equal(stun_parse(&m, buf, (size_t)len), 0);
	assert_int_equal(m.nunknown, 0); /* all known: none lands in a 420 */
	assert_int_equal(
	    stun_attr_get_change_request(must_find(&m, STUN_ATTR_CHANGE_REQUEST), &change), 0);
	assert_int_equal(change, STUN_CHANGE_PORT);
	assert_int_equal(stun_attr_get_response_port(must_find(&m, STUN_ATTR_RESPONSE_PORT), &port),
			 0);
	assert_int_equal(port, 40000);
	/* RFC 5780 §7.5: the port, then two bytes of padding. */
	assert_memory_equal(must_find(&m, STUN_ATTR_RESPONSE_PORT)->value, "\x9c\x40\x00\x00", 4);
	assert_int_equal(must_find(&m, STUN_ATTR_PADDING)->len, 7);
	assert_memory_equal(must_find(&m, STUN_ATTR_PADDING)->value, "\0\0\0\0\0\0\0", 7);
	assert_int_equal(stun_attr_get_addr(must_find(&m, STUN_ATTR_OTHER_ADDRESS), &got), 0);
	assert_true(nts_addr_equal(&got, &other, true));
	assert_int_equal(stun_attr_get_addr(must_find(&m, STUN_ATTR_RESPONSE_ORIGIN), &got), 0);
	assert_true(nts_addr_equal(&got, &origin, true));
	/* Plain form: 0x00, family, port, address, as RFC 8489 §14.1. */
	assert_memory_equal(must_find(&m, STUN_ATTR_OTHER_ADDRESS)->value,
			    "\x00\x01\x0d\x97\xc6\x12\x00\x02", 8);
	assert_string_equal(stun_attr_name(STUN_ATTR_OTHER_ADDRESS), "OTHER-ADDRESS");
	assert_string_equal(stun_attr_name(STUN_ATTR_RESPONSE_ORIGIN), "RESPONSE-ORIGIN");
	assert_string_equal(stun_attr_name(STUN_ATTR_CHANGE_REQUEST), "CHANGE-REQUEST");
}

/* CHANGE-REQUEST and RESPONSE-PORT are 4 bytes exactly; other lengths are malformed. */
static void test_change_request_and_response_port_of_the_wrong_length_are_refused(void **state)
{
	uint8_t buf[64];
	struct stun_builder b;
	struct stun_msg m;
	struct stun_attr a = {.type = STUN_ATTR_CHANGE_REQUEST, .len = 2, .value = buf};
	unsigned change;
	uint16_t port;
	int len;

	memset(buf, 0, sizeof(buf));
	assert_int_equal(stun_attr_get_change_request(&a, &change), -EINVAL);
	assert_int_equal(stun_attr_get_change_request(NULL, &change), -EINVAL);
	a.type = STUN_ATTR_RESPONSE_PORT;
	assert_int_equal(stun_attr_get_response_port(&a, &port), -EINVAL);
	stun_build_init(&b, buf, sizeof(buf), STUN_BINDING, STUN_REQUEST, tid);
	stun_put_attr(&b, STUN_ATTR_CHANGE_REQUEST, "\0\0\0\0\0\0\0\0", 8);
	len = stun_build_finish(&b);
	assert_int_equal(stun_parse(&m, buf, (size_t)len), STUN_ERR_BAD_ATTR);
}

/* RFC 8656 §18.13: 16 reserved bits, a 7-bit type, a 9-bit code, 32 bits of error data: port
 * unreachable is type 3 code 3 (ICMPv4) or type 1 code 4 (ICMPv6); packet too big carries the MTU.
 */
static void test_icmp_attribute_layout(void **state)
{
	static const struct {
		uint8_t type;
		uint16_t code;
		uint32_t data;
		uint8_t wire[8];
	} cases[] = {
	    {3, 3, 0, {0, 0, 0x06, 0x03, 0, 0, 0, 0}},
	    {1, 4, 0, {0, 0, 0x02, 0x04, 0, 0, 0, 0}},
	    {2, 0, 1280, {0, 0, 0x04, 0x00, 0, 0, 0x05, 0x00}},
	    {3, 4, 1400, {0, 0, 0x06, 0x04, 0, 0, 0x05, 0x78}},
	    {127, 511, 0xffffffff, {0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t buf[64];
		struct stun_builder b;
		struct stun_msg m;
		uint8_t type;
		uint16_t code;
		uint32_t data;
		int len;

		stun_build_init(&b, buf, sizeof(buf), TURN_DATA, STUN_INDICATION, tid);
		stun_put_icmp(&b, cases[i].type, cases[i].code, cases[i].data);
		len = stun_build_finish(&b);
		assert_int_equal(len, 20 + 12);
		assert_memory_equal(buf + 20, "\x80\x04\x00\x08", 4);
		assert_memory_equal(buf + 24, cases[i].wire, 8);
		assert_int_equal(stun_parse(&m, buf, (size_t)len), 0);
		assert_int_equal(
		    stun_attr_get_icmp(must_find(&m, STUN_ATTR_ICMP), &type, &code, &data), 0);
		assert_int_equal(type, cases[i].type);
		assert_int_equal(code, cases[i].code);
		assert_int_equal(data, cases[i].data);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc3489_message_parses_only_with_the_rfc3489_parser),
	    cmocka_unit_test(test_rfc3489_parser_marks_messages_with_the_cookie_as_modern),
	    cmocka_unit_test(test_rfc5780_attributes_round_trip),
	    cmocka_unit_test(test_change_request_and_response_port_of_the_wrong_length_are_refused),
	    cmocka_unit_test(test_icmp_attribute_layout),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
