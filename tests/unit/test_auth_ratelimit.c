/* Per-source limit on unauthenticated requests (user/auth/ratelimit.c): token
 * buckets in a fixed table. Time is passed in, so refill is tested with exact millisecond values,
 * not clocks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>

#include "auth/ratelimit.h"

#define SEED 0x1234567890abcdefULL
#define T0 1000000ULL

static struct nts_addr addr(const char *s)
{
	struct nts_addr a;

	assert_int_equal(nts_addr_parse(&a, s, true), 0);
	return a;
}

static unsigned drain(struct ratelimit *rl, const struct nts_addr *a, uint64_t now, unsigned max)
{
	unsigned n = 0;

	while (n < max && ratelimit_allow(rl, a, now))
		n++;
	return n;
}

static void test_burst_is_allowed_then_refused(void **state)
{
	struct ratelimit *rl = ratelimit_create(10, 5, 0, SEED);
	struct nts_addr a = addr("198.18.0.1:1");

	assert_non_null(rl);
	assert_int_equal(drain(rl, &a, T0, 100), 5);
	assert_false(ratelimit_allow(rl, &a, T0));
	ratelimit_destroy(rl);
}

/* 10 per second is one token per 100 ms; partial refills accumulate. */
static void test_tokens_refill_at_the_configured_rate(void **state)
{
	struct ratelimit *rl = ratelimit_create(10, 5, 0, SEED);
	struct nts_addr a = addr("198.18.0.1:1");

	assert_non_null(rl);
	assert_int_equal(drain(rl, &a, T0, 100), 5);
	assert_false(ratelimit_allow(rl, &a, T0 + 99));
	assert_true(ratelimit_allow(rl, &a, T0 + 100));
	assert_false(ratelimit_allow(rl, &a, T0 + 150));
	assert_true(ratelimit_allow(rl, &a, T0 + 200));
	assert_int_equal(drain(rl, &a, T0 + 500, 100), 3);
	ratelimit_destroy(rl);
}

static void test_refill_is_capped_at_the_burst(void **state)
{
	struct ratelimit *rl = ratelimit_create(10, 5, 0, SEED);
	struct nts_addr a = addr("198.18.0.1:1");

	assert_non_null(rl);
	assert_int_equal(drain(rl, &a, T0, 100), 5);
	assert_int_equal(drain(rl, &a, T0 + 3600 * 1000ULL, 100), 5);
	ratelimit_destroy(rl);
}

/* The port is not part of the key: a client cannot escape by changing source ports. */
static void test_source_ports_share_a_bucket(void **state)
{
	struct ratelimit *rl = ratelimit_create(10, 3, 0, SEED);
	struct nts_addr a = addr("198.18.0.1:1"), b = addr("198.18.0.1:2");

	assert_non_null(rl);
	assert_int_equal(drain(rl, &a, T0, 100), 3);
	assert_false(ratelimit_allow(rl, &b, T0));
	ratelimit_destroy(rl);
}

/* Two sources in different slots (found under the fixed seed) do not affect each other. */
static void test_sources_in_different_slots_are_independent(void **state)
{
	struct ratelimit *rl = ratelimit_create(10, 3, 0, SEED);
	struct nts_addr a = addr("198.18.0.1:1"), b = addr("198.18.0.2:1");
	char s[32];

	assert_non_null(rl);
	for (unsigned i = 2; ratelimit_slot(rl, &a) == ratelimit_slot(rl, &b); i++) {
		snprintf(s, sizeof(s), "198.18.%u.%u", i / 250, i % 250 + 1);
		b = addr(s);
	}
	assert_int_equal(drain(rl, &a, T0, 100), 3);
	assert_int_equal(drain(rl, &b, T0, 100), 3);
	ratelimit_destroy(rl);
}

/* IPv6 sources are keyed by /64; IPv4-mapped sources by their IPv4 address. */
static void test_ipv6_sources_share_their_slash_64(void **state)
{
	struct ratelimit *rl = ratelimit_create(10, 3, 0, SEED);
	struct nts_addr a = addr("[2001:db8:1:2::1]:1"), b = addr("[2001:db8:1:2:ffff::9]:7");
	struct nts_addr m1 = addr("[::ffff:198.18.0.1]:1"), v4 = addr("198.18.0.1:1");

	assert_non_null(rl);
	assert_int_equal(ratelimit_slot(rl, &a), ratelimit_slot(rl, &b));
	assert_int_equal(ratelimit_slot(rl, &m1), ratelimit_slot(rl, &v4));
	assert_int_equal(drain(rl, &a, T0, 100), 3);
	assert_false(ratelimit_allow(rl, &b, T0));
	ratelimit_destroy(rl);
}

/* Distinct IPv4-mapped sources must not collapse into one /64 bucket. */
static void test_ipv4_mapped_sources_are_spread(void **state)
{
	struct ratelimit *rl = ratelimit_create(10, 3, 0, SEED);
	unsigned first, distinct = 0;
	char s[64];

	assert_non_null(rl);
	struct nts_addr a = addr("[::ffff:198.18.0.1]:1");
	first = ratelimit_slot(rl, &a);
	for (unsigned i = 2; i < 10; i++) {
		snprintf(s, sizeof(s), "[::ffff:198.18.0.%u]:1", i);
		a = addr(s);
		distinct += ratelimit_slot(rl, &a) != first;
	}
	assert_true(distinct >= 7); /* 8 tries, 4096 slots: at most one may collide by chance */
	ratelimit_destroy(rl);
}

/* Memory is bounded: slot indexes stay inside the table, rounded to a power of two. */
static void test_slots_stay_inside_the_table(void **state)
{
	struct ratelimit *rl = ratelimit_create(10, 3, 100, SEED);
	char s[32];

	assert_non_null(rl);
	for (unsigned i = 0; i < 1000; i++) {
		snprintf(s, sizeof(s), "198.18.%u.%u", i / 256, i % 256);
		struct nts_addr a = addr(s);
		assert_true(ratelimit_slot(rl, &a) < 128);
	}
	ratelimit_destroy(rl);
	assert_null(ratelimit_create(10, 3, (1u << 24) + 1, SEED));
}

static void test_rate_zero_disables_the_limit(void **state)
{
	struct ratelimit *rl = ratelimit_create(0, 0, 0, 0);
	struct nts_addr a = addr("198.18.0.1:1");

	assert_non_null(rl);
	assert_int_equal(drain(rl, &a, T0, 10000), 10000);
	ratelimit_destroy(rl);
}

/* Burst 0 means "one second worth" (the rate). */
static void test_default_burst_is_the_rate(void **state)
{
	struct ratelimit *rl = ratelimit_create(50, 0, 0, 0);
	struct nts_addr a = addr("198.18.0.1:1");

	assert_non_null(rl);
	assert_int_equal(drain(rl, &a, T0, 1000), 50);
	ratelimit_destroy(rl);
}

/* A clock that steps back does not refill (or underflow) the bucket. */
static void test_time_going_backwards_does_not_refill(void **state)
{
	struct ratelimit *rl = ratelimit_create(10, 2, 0, SEED);
	struct nts_addr a = addr("198.18.0.1:1");

	assert_non_null(rl);
	assert_int_equal(drain(rl, &a, T0, 100), 2);
	assert_false(ratelimit_allow(rl, &a, T0 - 5000));
	assert_false(ratelimit_allow(rl, &a, T0 + 99));
	assert_true(ratelimit_allow(rl, &a, T0 + 100));
	ratelimit_destroy(rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_burst_is_allowed_then_refused),
	    cmocka_unit_test(test_tokens_refill_at_the_configured_rate),
	    cmocka_unit_test(test_refill_is_capped_at_the_burst),
	    cmocka_unit_test(test_source_ports_share_a_bucket),
	    cmocka_unit_test(test_sources_in_different_slots_are_independent),
	    cmocka_unit_test(test_ipv6_sources_share_their_slash_64),
	    cmocka_unit_test(test_ipv4_mapped_sources_are_spread),
	    cmocka_unit_test(test_slots_stay_inside_the_table),
	    cmocka_unit_test(test_rate_zero_disables_the_limit),
	    cmocka_unit_test(test_default_burst_is_the_rate),
	    cmocka_unit_test(test_time_going_backwards_does_not_refill),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
