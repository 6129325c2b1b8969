/* Address parsing, formatting and CIDR matching (user/util/addr.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "util/addr.h"

static void test_parse_ipv4_with_port(void **state)
{
	struct nts_addr a;
	char buf[NTS_ADDRSTRLEN];

	assert_int_equal(nts_addr_parse(&a, "198.18.0.1:3478", false), 0);
	assert_int_equal(a.family, AF_INET);
	assert_int_equal(a.port, 3478);
	assert_string_equal(nts_addr_fmt(&a, buf, sizeof(buf), true), "198.18.0.1:3478");
}

static void test_parse_bracketed_ipv6_with_port(void **state)
{
	struct nts_addr a;
	char buf[NTS_ADDRSTRLEN];

	assert_int_equal(nts_addr_parse(&a, "[2001:db8::1]:443", false), 0);
	assert_int_equal(a.family, AF_INET6);
	assert_int_equal(a.port, 443);
	assert_string_equal(nts_addr_fmt(&a, buf, sizeof(buf), true), "[2001:db8::1]:443");
}

static void test_parse_rejects_garbage_and_bad_ports(void **state)
{
	struct nts_addr a;

	assert_int_not_equal(nts_addr_parse(&a, "example.com:80", false), 0);
	assert_int_not_equal(nts_addr_parse(&a, "1.2.3.4:65536", false), 0);
	assert_int_not_equal(nts_addr_parse(&a, "1.2.3.4:", false), 0);
	assert_int_not_equal(nts_addr_parse(&a, "1.2.3.4", false), 0);
	assert_int_equal(nts_addr_parse(&a, "1.2.3.4", true), 0);
	assert_int_not_equal(nts_addr_parse(&a, "[::1", false), 0);
	assert_int_not_equal(nts_addr_parse(&a, "[::1]x", false), 0);
}

static void test_sockaddr_round_trip(void **state)
{
	struct nts_addr a, b;
	struct sockaddr_storage ss;

	assert_int_equal(nts_addr_parse(&a, "[::1]:9", false), 0);
	nts_addr_to_sockaddr(&a, &ss);
	assert_int_equal(nts_addr_from_sockaddr(&b, (struct sockaddr *)&ss), 0);
	assert_true(nts_addr_equal(&a, &b, true));
	b.port = 10;
	assert_false(nts_addr_equal(&a, &b, true));
	assert_true(nts_addr_equal(&a, &b, false));
	assert_int_not_equal(nts_addr_hash(&a, true, 1), nts_addr_hash(&b, true, 1));
}

static void test_cidr_contains_prefix_boundaries(void **state)
{
	struct nts_cidr c;
	struct nts_addr a;

	assert_int_equal(nts_cidr_parse(&c, "100.64.0.0/10"), 0);
	assert_int_equal(nts_addr_parse(&a, "100.127.255.255", true), 0);
	assert_true(nts_cidr_contains(&c, &a));
	assert_int_equal(nts_addr_parse(&a, "100.128.0.0", true), 0);
	assert_false(nts_cidr_contains(&c, &a));
	assert_int_equal(nts_cidr_parse(&c, "fc00::/7"), 0);
	assert_int_equal(nts_addr_parse(&a, "fdff::1", true), 0);
	assert_true(nts_cidr_contains(&c, &a));
	assert_int_equal(nts_addr_parse(&a, "10.0.0.1", true), 0);
	assert_false(nts_cidr_contains(&c, &a)); /* family mismatch never matches */
	assert_int_not_equal(nts_cidr_parse(&c, "10.0.0.0/33"), 0);
	assert_int_not_equal(nts_cidr_parse(&c, "10.0.0.0/"), 0);
}

/* The unspecified address of either family is the wildcard; any other byte set is not. */
static void test_is_any_only_for_the_unspecified_address(void **state)
{
	struct nts_addr a;

	assert_int_equal(nts_addr_parse(&a, "0.0.0.0:3478", false), 0);
	assert_true(nts_addr_is_any(&a));
	assert_int_equal(nts_addr_parse(&a, "[::]:3478", false), 0);
	assert_true(nts_addr_is_any(&a));
	assert_int_equal(nts_addr_parse(&a, "0.0.0.1:3478", false), 0);
	assert_false(nts_addr_is_any(&a));
	assert_int_equal(nts_addr_parse(&a, "[::1]:3478", false), 0);
	assert_false(nts_addr_is_any(&a));
	/* IPv4 looks at its four bytes only. */
	assert_int_equal(nts_addr_parse(&a, "0.0.0.0:1", false), 0);
	a.ip[4] = 1;
	assert_true(nts_addr_is_any(&a));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ipv4_with_port),
		cmocka_unit_test(test_parse_bracketed_ipv6_with_port),
		cmocka_unit_test(test_parse_rejects_garbage_and_bad_ports),
		cmocka_unit_test(test_sockaddr_round_trip),
		cmocka_unit_test(test_cidr_contains_prefix_boundaries),
		cmocka_unit_test(test_is_any_only_for_the_unspecified_address),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
