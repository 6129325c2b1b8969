/* Peer policy (user/turn/policy.c): the secure default deny list (the IANA special-purpose ranges
 * that are not globally reachable), every embedded-IPv4 form that let other servers relay to
 * loopback or metadata services, the host's own addresses, and operator rules. Only the policy
 * decision is exercised: no traffic is sent to any of these addresses.
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

/* Embedded-IPv4 forms, each of which reached internal services through some TURN server. */
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

	assert_true(allows(p, "192.0.1.255:3478"));
	assert_true(allows(p, "192.0.3.0:3478"));
	assert_true(allows(p, "198.17.255.255:9")); /* either side of 198.18.0.0/15 */
	assert_true(allows(p, "198.20.0.0:9"));
	assert_true(allows(p, "198.51.99.255:9"));
	assert_true(allows(p, "198.51.101.0:9"));
	assert_true(allows(p, "203.0.112.255:9"));
	assert_true(allows(p, "203.0.114.0:9"));
	assert_true(allows(p, "192.88.98.255:9"));
	assert_true(allows(p, "192.88.100.0:9"));
	assert_true(allows(p, "1.0.0.1:53"));
	assert_true(allows(p, "172.15.255.255:1"));
	assert_true(allows(p, "172.32.0.0:1"));
	assert_true(allows(p, "100.63.255.255:1"));
	assert_true(allows(p, "100.128.0.0:1"));
	assert_true(allows(p, "223.255.255.255:1"));
	assert_true(allows(p, "[2001:db7:ffff::1]:3478")); /* either side of 2001:db8::/32 */
	assert_true(allows(p, "[2001:db9::1]:3478"));
	assert_true(allows(p, "[2001:200::1]:1")); /* just past 2001::/23 */
	assert_true(allows(p, "[2a00:1450::1]:1"));
	assert_true(allows(p, "[fbff:ffff::1]:1"));
	assert_true(allows(p, "[::ffff:1.0.0.1]:1"));
	turn_policy_destroy(p);
}

/* IANA IPv4 special-purpose registry: documentation, benchmarking, the 6to4 relay anycast and the
 * reserved block are not globally reachable. */
static void test_default_denies_documentation_benchmarking_and_reserved_ipv4(void **state)
{
	static const char *const denied[] = {
	    "192.0.2.1:3478", "192.0.2.255:1", "198.18.0.1:9",	  "198.19.255.255:9",
	    "198.51.100.7:9", "203.0.113.1:9", "192.88.99.1:9",	  "192.0.0.170:1",
	    "240.0.0.1:1",    "192.0.0.9:1",   "192.0.0.10:3478", "203.0.113.255:1",
	};
	struct turn_policy *p = default_policy();

	for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
		if (allows(p, denied[i]))
			fail_msg("%s allowed", denied[i]);
	}
	turn_policy_destroy(p);
}

/* IANA IPv6 special-purpose registry: documentation, discard-only, dummy, benchmarking and the
 * rest of the IETF protocol assignments, segment routing SIDs. */
static void test_default_denies_documentation_benchmarking_and_reserved_ipv6(void **state)
{
	static const char *const denied[] = {
	    "[2001:db8::1]:3478", "[2001:db8:ffff::1]:1", "[100::1]:1",	     "[100:0:0:1::1]:1",
	    "[2001:2::1]:9",	  "[2001:2:0:1::2]:9",	  "[2001:10::1]:1",  "[2001:1::1]:1",
	    "[2001:1::2]:3478",	  "[2001:5::1]:1",	  "[2001:1ff::1]:1", "[3fff::1]:1",
	    "[3fff:fff::1]:1",	  "[5f00::1]:1",
	};
	struct turn_policy *p = default_policy();

	for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
		if (allows(p, denied[i]))
			fail_msg("%s allowed", denied[i]);
	}
	turn_policy_destroy(p);
}

/* The globally reachable assignments inside 2001::/23 stay allowed (Teredo by its client IPv4). */
static void test_default_allows_reachable_blocks_inside_2001_23(void **state)
{
	struct turn_policy *p = default_policy();

	assert_true(allows(p, "[2001:3::1]:1"));			    /* AMT */
	assert_true(allows(p, "[2001:4:112::1]:53"));			    /* AS112-v6 */
	assert_true(allows(p, "[2001:20::1]:1"));			    /* ORCHIDv2 */
	assert_true(allows(p, "[2001:30::1]:1"));			    /* DRIP DETs */
	assert_true(allows(p, "[2001:0:4136:e378:8000:63bf:feff:fffe]:1")); /* Teredo 1.0.0.1 */
	turn_policy_destroy(p);
}

/* The new ranges in every embedded spelling: mapped, translated, compatible, 6to4, NAT64, Teredo.
 */
static void test_default_denies_embedded_forms_of_documentation_and_benchmarking(void **state)
{
	static const char *const denied[] = {
	    "[::ffff:198.18.0.1]:9",
	    "[::ffff:0:192.0.2.1]:9",
	    "[::198.51.100.7]:9",
	    "[2002:cb00:7101::1]:9",   /* 6to4 of 203.0.113.1 */
	    "[2002:c612:1::]:9",       /* 6to4 of 198.18.0.1 */
	    "[64:ff9b::198.19.0.2]:9", /* NAT64 */
	    "[64:ff9b::192.88.99.1]:9",
	    "[2001:0:4136:e378:8000:63bf:39ed:fffe]:9", /* Teredo of 198.18.0.1 */
	};
	struct turn_policy *p = default_policy();

	for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
		if (allows(p, denied[i]))
			fail_msg("%s allowed", denied[i]);
	}
	turn_policy_destroy(p);
}

/* The benchmarking range the netns tests and the bench relay to, when the operator allows it. */
static void test_allow_rule_opens_benchmarking_range(void **state)
{
	static const char *const allow[] = {"198.18.0.0/15", "2001:2::/48"};
	struct turn_policy *p = policy_with(allow, 2, NULL, 0);

	assert_true(allows(p, "198.19.0.2:3480"));
	assert_true(allows(p, "[::ffff:198.19.0.2]:3480"));
	assert_true(allows(p, "[2001:2:0:1::2]:3480"));
	assert_false(allows(p, "198.51.100.7:9"));
	turn_policy_destroy(p);
}

static void set_hosts(struct turn_policy *p, const char *const *hosts, unsigned n)
{
	struct nts_cidr c[8];

	assert_true(n <= 8);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(nts_cidr_parse(&c[i], hosts[i]), 0);
	assert_int_equal(turn_policy_set_host_addrs(p, c, n), 0);
}

/* The host's own addresses are refused even when public and allowed by a wider prefix. */
static void test_host_addresses_are_refused_inside_allowed_prefixes(void **state)
{
	static const char *const allow[] = {"198.18.0.0/15", "2001:db8::/32"};
	static const char *const hosts[] = {"198.18.0.5", "2001:db8::5", "1.2.3.4", "2a00:1::4"};
	struct turn_policy *p = policy_with(allow, 2, NULL, 0);

	assert_true(allows(p, "198.18.0.5:9"));
	assert_true(allows(p, "1.2.3.4:9"));
	set_hosts(p, hosts, 4);
	assert_false(allows(p, "198.18.0.5:9"));
	assert_false(allows(p, "[2001:db8::5]:9"));
	assert_false(allows(p, "1.2.3.4:9"));
	assert_false(allows(p, "[2a00:1::4]:9"));
	assert_true(allows(p, "198.18.0.6:9")); /* neighbours are not the host */
	assert_true(allows(p, "[2001:db8::6]:9"));
	assert_true(allows(p, "1.2.3.5:9"));
	assert_true(allows(p, "[2a00:1::5]:9"));
	turn_policy_destroy(p);
}

/* A host address is caught in every embedded spelling of it. */
static void test_host_addresses_are_refused_in_embedded_forms(void **state)
{
	static const char *const hosts[] = {"1.2.3.4", "::ffff:5.6.7.8"}; /* stored canonical */
	static const char *const denied[] = {
	    "[::ffff:1.2.3.4]:9",
	    "[::ffff:0:1.2.3.4]:9",
	    "[::1.2.3.4]:9",
	    "[2002:102:304::1]:9",
	    "[64:ff9b::1.2.3.4]:9",
	    "[2001:0:4136:e378:8000:63bf:fefd:fcfb]:9",
	    "5.6.7.8:9",
	};
	struct turn_policy *p = default_policy();

	set_hosts(p, hosts, 2);
	for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
		if (allows(p, denied[i]))
			fail_msg("%s allowed", denied[i]);
	}
	turn_policy_destroy(p);
}

/* Only an --allow-peer naming the address itself (/32, /128) lets a host address through. */
static void test_allow_naming_a_host_address_exactly_overrides(void **state)
{
	static const char *const allow[] = {"198.18.0.5/32", "2001:db8::5/128", "198.18.0.0/15",
					    "2001:db8::/32"};
	static const char *const hosts[] = {"198.18.0.5", "2001:db8::5", "198.18.0.7",
					    "2001:db8::7"};
	struct turn_policy *p = policy_with(allow, 4, NULL, 0);

	set_hosts(p, hosts, 4);
	assert_true(allows(p, "198.18.0.5:9"));
	assert_true(allows(p, "[::ffff:198.18.0.5]:9"));
	assert_true(allows(p, "[2001:db8::5]:9"));
	assert_false(allows(p, "198.18.0.7:9"));
	assert_false(allows(p, "[2001:db8::7]:9"));
	turn_policy_destroy(p);
}

/* An explicit --deny-peer still beats an exact --allow-peer of a host address. */
static void test_deny_beats_exact_allow_of_a_host_address(void **state)
{
	static const char *const allow[] = {"198.18.0.5/32"};
	static const char *const deny[] = {"198.18.0.0/24"};
	static const char *const hosts[] = {"198.18.0.5"};
	struct turn_policy *p = policy_with(allow, 1, deny, 1);

	set_hosts(p, hosts, 1);
	assert_false(allows(p, "198.18.0.5:9"));
	turn_policy_destroy(p);
}

/* The set is replaced wholesale: an address removed from the host is a peer again. */
static void test_host_address_set_is_replaced_wholesale(void **state)
{
	static const char *const allow[] = {"198.18.0.0/15", "2001:db8::/32"};
	static const char *const first[] = {"198.18.0.1", "2001:db8::1"};
	static const char *const second[] = {"198.18.0.2", "2001:db8::2"};
	struct turn_policy *p = policy_with(allow, 2, NULL, 0);
	struct nts_addr a;

	set_hosts(p, first, 2);
	assert_false(allows(p, "198.18.0.1:9"));
	assert_false(allows(p, "[2001:db8::1]:9"));
	set_hosts(p, second, 2);
	assert_true(allows(p, "198.18.0.1:9"));
	assert_true(allows(p, "[2001:db8::1]:9"));
	assert_false(allows(p, "198.18.0.2:9"));
	assert_false(allows(p, "[2001:db8::2]:9"));
	a = addr("[2001:db8::2]:1");
	assert_true(turn_policy_is_host(p, &a));
	assert_int_equal(turn_policy_set_host_addrs(p, NULL, 0), 0);
	assert_true(allows(p, "198.18.0.2:9"));
	assert_true(allows(p, "[2001:db8::2]:9"));
	assert_false(turn_policy_is_host(p, &a));
	turn_policy_destroy(p);
}

/* A prefix (an address on a loopback device: the kernel treats its whole prefix as local) makes
 * every address in it the host's. */
static void test_host_prefix_covers_every_address_in_it(void **state)
{
	static const char *const allow[] = {"198.18.0.0/15", "2001:db8::/32"};
	static const char *const hosts[] = {"198.18.9.1/24", "2001:db8:9::1/64"};
	struct turn_policy *p = policy_with(allow, 2, NULL, 0);

	set_hosts(p, hosts, 2);
	assert_false(allows(p, "198.18.9.200:9"));
	assert_false(allows(p, "[::ffff:198.18.9.200]:9"));
	assert_false(allows(p, "[2001:db8:9::abcd]:9"));
	assert_true(allows(p, "198.18.10.1:9"));
	assert_true(allows(p, "[2001:db8:a::1]:9"));
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

	assert_true(allows(p, "[2002:100:1::1]:1"));	/* 6to4 of 1.0.0.1 */
	assert_true(allows(p, "[64:ff9b::1.0.0.1]:1")); /* NAT64 of 1.0.0.1 */
	assert_true(allows(p, "[::1.0.0.1]:1"));
	assert_true(allows(p, "[2001:0:4136:e378:8000:63bf:feff:fffe]:1")); /* Teredo 1.0.0.1 */
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
	    cmocka_unit_test(test_default_denies_documentation_benchmarking_and_reserved_ipv4),
	    cmocka_unit_test(test_default_denies_documentation_benchmarking_and_reserved_ipv6),
	    cmocka_unit_test(test_default_allows_reachable_blocks_inside_2001_23),
	    cmocka_unit_test(test_default_denies_embedded_forms_of_documentation_and_benchmarking),
	    cmocka_unit_test(test_allow_rule_opens_benchmarking_range),
	    cmocka_unit_test(test_host_addresses_are_refused_inside_allowed_prefixes),
	    cmocka_unit_test(test_host_addresses_are_refused_in_embedded_forms),
	    cmocka_unit_test(test_allow_naming_a_host_address_exactly_overrides),
	    cmocka_unit_test(test_deny_beats_exact_allow_of_a_host_address),
	    cmocka_unit_test(test_host_address_set_is_replaced_wholesale),
	    cmocka_unit_test(test_host_prefix_covers_every_address_in_it),
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
