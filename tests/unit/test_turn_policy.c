/* Peer policy (user/turn/policy.c): the secure default deny list of DESIGN.md, every embedded-IPv4
 * form that let other servers relay to loopback or metadata services (issue 4 item 5), and operator
 * rules. Only the policy decision is exercised: no traffic is sent to any of these addresses.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "turn/policy.h"

static struct nts_addr addr(const char *s)
{
	struct nts_addr a;

	assert_int_equal(nts_addr_parse(&a, s, false), 0);
	return a;
}

static bool allows(const struct turn_policy *p, const char *s)
{
	struct nts_addr a = addr(s);

	return turn_policy_allows(p, &a);
}

static struct turn_policy *default_policy(void)
{
	struct turn_policy *p = NULL;

	assert_int_equal(turn_policy_create(&p, NULL, 0, NULL, 0), 0);
	assert_non_null(p);
	return p;
}

static struct turn_policy *policy_with(const char *const *allow, unsigned na,
				       const char *const *deny, unsigned nd)
{
	struct nts_cidr a[4], d[4];
	struct turn_policy *p = NULL;

	for (unsigned i = 0; i < na; i++)
		assert_int_equal(nts_cidr_parse(&a[i], allow[i]), 0);
	for (unsigned i = 0; i < nd; i++)
		assert_int_equal(nts_cidr_parse(&d[i], deny[i]), 0);
	assert_int_equal(turn_policy_create(&p, a, na, d, nd), 0);
	return p;
}

static void canonical_is(const char *in, const char *want)
{
	struct nts_addr a = addr(in), c;
	char buf[NTS_ADDRSTRLEN];

	turn_policy_canonical(&a, &c);
	assert_string_equal(nts_addr_fmt(&c, buf, sizeof(buf), true), want);
}

/* The forms issue 4 names, each of which reached internal services through some TURN server. */
static void test_default_denies_the_forms_that_broke_other_servers(void **state)
{
	struct turn_policy *p = default_policy();

	assert_false(allows(p, "0.0.0.0:80"));
	assert_false(allows(p, "[::]:80"));
	assert_false(allows(p, "[::1]:80"));
	assert_false(allows(p, "[::ffff:127.0.0.1]:80"));
	assert_false(allows(p, "127.0.0.2:80"));
	assert_false(allows(p, "169.254.169.254:80"));
	assert_false(allows(p, "10.0.0.1:80"));
	assert_false(allows(p, "[fc00::1]:80"));
	turn_policy_destroy(p);
}

static void test_default_denies_every_listed_ipv4_range(void **state)
{
	static const char *const denied[] = {
	    "0.255.255.255:1",	"127.255.255.254:1", "10.255.255.255:1", "172.16.0.1:1",
	    "172.31.255.255:1", "192.168.1.1:1",     "100.64.0.1:1",	 "100.127.255.255:1",
	    "169.254.0.1:1",	"192.0.0.8:1",	     "224.0.0.1:1",	 "239.255.255.250:1",
	    "240.0.0.1:1",	"255.255.255.255:1",
	};
	struct turn_policy *p = default_policy();

	for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
		if (allows(p, denied[i]))
			fail_msg("%s allowed", denied[i]);
	}
	turn_policy_destroy(p);
}

static void test_default_denies_ipv6_special_ranges(void **state)
{
	struct turn_policy *p = default_policy();

	assert_false(allows(p, "[fe80::1]:1"));
	assert_false(allows(p, "[febf::1]:1"));
	assert_false(allows(p, "[fdff:ffff::1]:1"));
	assert_false(allows(p, "[ff02::1]:1"));
	assert_false(allows(p, "[fec0::1]:1"));
	assert_false(allows(p, "[ff0e::101]:1"));
	turn_policy_destroy(p);
}

/* The edges of each range are outside it: the list must not over-block public space. */
static void test_default_allows_public_addresses_next_to_denied_ranges(void **state)
{
	struct turn_policy *p = default_policy();

	assert_true(allows(p, "192.0.2.1:3478")); /* TEST-NET-1, only a policy decision here */
	assert_true(allows(p, "198.51.100.7:9")); /* TEST-NET-2 */
	assert_true(allows(p, "198.18.0.1:9"));	  /* benchmarking range the netns tests use */
	assert_true(allows(p, "1.0.0.1:53"));
	assert_true(allows(p, "172.15.255.255:1"));
	assert_true(allows(p, "172.32.0.0:1"));
	assert_true(allows(p, "100.63.255.255:1"));
	assert_true(allows(p, "100.128.0.0:1"));
	assert_true(allows(p, "192.0.1.255:1"));
	assert_true(allows(p, "223.255.255.255:1"));
	assert_true(allows(p, "[2001:db8::1]:3478"));
	assert_true(allows(p, "[fbff:ffff::1]:1"));
	assert_true(allows(p, "[::ffff:192.0.2.1]:1"));
	turn_policy_destroy(p);
}

/* RFC 8656 §9.1: permissions name an IP; a relayed datagram needs a real port, port 0 is never one.
 */
static void test_port_zero_peer_is_denied(void **state)
{
	struct turn_policy *p = default_policy();
	struct nts_addr a;

	assert_int_equal(nts_addr_parse(&a, "192.0.2.1", true), 0);
	assert_false(turn_policy_allows(p, &a));
	turn_policy_destroy(p);
}

static void test_canonical_extracts_embedded_ipv4(void **state)
{
	canonical_is("[::ffff:127.0.0.1]:5", "127.0.0.1:5"); /* IPv4-mapped */
	canonical_is("[::ffff:0:10.1.2.3]:5", "10.1.2.3:5"); /* IPv4-translated (SIIT) */
	canonical_is("[::127.0.0.1]:5", "127.0.0.1:5");	     /* IPv4-compatible */
	canonical_is("[::0.0.0.2]:5", "0.0.0.2:5");
	canonical_is("[2002:7f00:1::1]:5", "127.0.0.1:5"); /* 6to4 */
	canonical_is("[2002:a9fe:a9fe:1:2:3:4:5]:5", "169.254.169.254:5");
	canonical_is("[64:ff9b::a00:1]:5", "10.0.0.1:5");     /* NAT64 well-known */
	canonical_is("[64:ff9b:1::7f00:1]:5", "127.0.0.1:5"); /* NAT64 local-use */
	/* Teredo: server 65.54.227.120, client 127.0.0.1 stored inverted as 80ff:fffe */
	canonical_is("[2001:0:4136:e378:8000:63bf:80ff:fffe]:5", "127.0.0.1:5");
}

static void test_canonical_keeps_other_addresses(void **state)
{
	canonical_is("[::]:5", "[::]:5");
	canonical_is("[::1]:5", "[::1]:5");
	canonical_is("[2001:db8::7f00:1]:5", "[2001:db8::7f00:1]:5");
	canonical_is("[fc00::1]:5", "[fc00::1]:5");
	canonical_is("192.0.2.1:5", "192.0.2.1:5");
}

static void test_default_denies_embedded_forms_of_denied_ipv4(void **state)
{
	struct turn_policy *p = default_policy();

	assert_false(allows(p, "[::ffff:10.0.0.1]:1"));
	assert_false(allows(p, "[::ffff:169.254.169.254]:1"));
	assert_false(allows(p, "[::ffff:0.0.0.0]:1"));
	assert_false(allows(p, "[::ffff:0:127.0.0.1]:1"));
	assert_false(allows(p, "[::127.0.0.1]:1"));
	assert_false(allows(p, "[::0.0.0.2]:1"));
	assert_false(allows(p, "[::192.168.0.1]:1"));
	assert_false(allows(p, "[2002:7f00:1::]:1"));
	assert_false(allows(p, "[2002:c0a8:101::1]:1"));
	assert_false(allows(p, "[2002:a9fe:a9fe::]:1"));
	assert_false(allows(p, "[64:ff9b::127.0.0.1]:1"));
	assert_false(allows(p, "[64:ff9b::100.64.0.1]:1"));
	assert_false(allows(p, "[64:ff9b:1::a00:1]:1"));
	assert_false(allows(p, "[2001:0:4136:e378:8000:63bf:80ff:fffe]:1"));
	assert_false(allows(p, "[2001:0:4136:e378:8000:63bf:f5ff:fffe]:1")); /* 10.0.0.1 */
	turn_policy_destroy(p);
}

static void test_embedded_forms_of_public_ipv4_are_allowed(void **state)
{
	struct turn_policy *p = default_policy();

	assert_true(allows(p, "[2002:c000:201::1]:1"));	  /* 6to4 of 192.0.2.1 */
	assert_true(allows(p, "[64:ff9b::192.0.2.1]:1")); /* NAT64 of 192.0.2.1 */
	assert_true(allows(p, "[::192.0.2.1]:1"));
	assert_true(allows(p, "[2001:0:4136:e378:8000:63bf:3fff:fdfe]:1")); /* Teredo 192.0.2.1 */
	turn_policy_destroy(p);
}

/* `--allow-peer 127.0.0.0/8` (the interop tests) opens loopback in every spelling of it. */
static void test_allow_rule_matches_original_and_canonical_forms(void **state)
{
	static const char *const allow[] = {"127.0.0.0/8"};
	struct turn_policy *p = policy_with(allow, 1, NULL, 0);

	assert_true(allows(p, "127.0.0.1:5000"));
	assert_true(allows(p, "127.0.0.2:5000"));
	assert_true(allows(p, "[::ffff:127.0.0.1]:5000"));
	assert_true(allows(p, "[2002:7f00:1::]:5000"));
	assert_false(allows(p, "[::1]:5000")); /* IPv6 loopback is not in 127/8 */
	assert_false(allows(p, "10.0.0.1:5000"));
	turn_policy_destroy(p);
}

static void test_allow_rule_in_ipv6_opens_ipv6_loopback(void **state)
{
	static const char *const allow[] = {"::1"};
	struct turn_policy *p = policy_with(allow, 1, NULL, 0);

	assert_true(allows(p, "[::1]:5000"));
	assert_false(allows(p, "127.0.0.1:5000"));
	turn_policy_destroy(p);
}

static void test_explicit_deny_beats_allow(void **state)
{
	static const char *const allow[] = {"127.0.0.0/8", "192.0.2.0/24"};
	static const char *const deny[] = {"127.0.0.5/32", "192.0.2.128/25"};
	struct turn_policy *p = policy_with(allow, 2, deny, 2);

	assert_true(allows(p, "127.0.0.4:1"));
	assert_false(allows(p, "127.0.0.5:1"));
	assert_false(allows(p, "[::ffff:127.0.0.5]:1"));
	assert_true(allows(p, "192.0.2.1:1"));
	assert_false(allows(p, "192.0.2.200:1"));
	turn_policy_destroy(p);
}

static void test_deny_rule_blocks_public_space_in_every_form(void **state)
{
	static const char *const deny[] = {"198.51.100.0/24"};
	struct turn_policy *p = policy_with(NULL, 0, deny, 1);

	assert_false(allows(p, "198.51.100.9:1"));
	assert_false(allows(p, "[::ffff:198.51.100.9]:1"));
	assert_false(allows(p, "[64:ff9b::198.51.100.9]:1"));
	assert_true(allows(p, "198.51.101.9:1"));
	turn_policy_destroy(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_default_denies_the_forms_that_broke_other_servers),
	    cmocka_unit_test(test_default_denies_every_listed_ipv4_range),
	    cmocka_unit_test(test_default_denies_ipv6_special_ranges),
	    cmocka_unit_test(test_default_allows_public_addresses_next_to_denied_ranges),
	    cmocka_unit_test(test_port_zero_peer_is_denied),
	    cmocka_unit_test(test_canonical_extracts_embedded_ipv4),
	    cmocka_unit_test(test_canonical_keeps_other_addresses),
	    cmocka_unit_test(test_default_denies_embedded_forms_of_denied_ipv4),
	    cmocka_unit_test(test_embedded_forms_of_public_ipv4_are_allowed),
	    cmocka_unit_test(test_allow_rule_matches_original_and_canonical_forms),
	    cmocka_unit_test(test_allow_rule_in_ipv6_opens_ipv6_loopback),
	    cmocka_unit_test(test_explicit_deny_beats_allow),
	    cmocka_unit_test(test_deny_rule_blocks_public_space_in_every_form),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
