/* The fleet's decisions: which signing secret signs and which verify at a given time
 * (user/store/store_fleet.c), and which node an Allocate is redirected to (user/ntsd/fleet_pick.c;
 * docs/fleet.md).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ntsd/fleet.h"

static struct store_signing_secret secret(int64_t id, int64_t activates, int64_t retires)
{
	struct store_signing_secret k = {
	    .id = id, .activates_at = activates, .retires_at = retires};

	snprintf(k.secret, sizeof(k.secret), "s%lld", (long long)id);
	return k;
}

/* Before the new secret activates, the old one signs and both verify. */
static void test_secret_not_yet_active_verifies_but_does_not_sign(void **state)
{
	struct store_signing_secret k[] = {secret(1, 0, 1100), secret(2, 1000, 0)};
	size_t order[2];
	int64_t next;

	assert_int_equal(store_signing_secret_order(k, 2, 990, order, &next), 2);
	assert_int_equal(order[0], 0);
	assert_int_equal(order[1], 1);
	assert_int_equal(next, 1000);
}

/* From its activation the new one signs; the old verifies until it retires, then drops out. */
static void test_activated_secret_signs_and_retired_one_drops_out(void **state)
{
	struct store_signing_secret k[] = {secret(1, 0, 1100), secret(2, 1000, 0)};
	size_t order[2];
	int64_t next;

	assert_int_equal(store_signing_secret_order(k, 2, 1000, order, &next), 2);
	assert_int_equal(order[0], 1);
	assert_int_equal(order[1], 0);
	assert_int_equal(next, 1100);
	assert_int_equal(store_signing_secret_order(k, 2, 1100, order, &next), 1);
	assert_int_equal(order[0], 1);
	assert_int_equal(next, 0);
}

/* With only future secrets (clocks apart), the oldest signs rather than none. */
static void test_only_future_secrets_the_oldest_signs(void **state)
{
	struct store_signing_secret k[] = {secret(1, 2000, 0), secret(2, 3000, 0)};
	size_t order[2];
	int64_t next;

	assert_int_equal(store_signing_secret_order(k, 2, 1000, order, &next), 2);
	assert_int_equal(order[0], 0);
	assert_int_equal(next, 2000);
}

/* Rotating again before the last rotation activated: the secret that was still to activate is
 * retiring now and must never sign, even once its activation time comes after the newest's. */
static void test_superseded_pending_secret_never_signs(void **state)
{
	struct store_signing_secret k[] = {secret(1, 0, 90000), secret(2, 3600, 86410),
					   secret(3, 10, 0)};
	size_t order[3];
	int64_t next;

	assert_int_equal(store_signing_secret_order(k, 3, 5, order, &next), 3);
	assert_int_equal(order[0], 0);
	assert_int_equal(store_signing_secret_order(k, 3, 10, order, &next), 3);
	assert_int_equal(order[0], 2);
	assert_int_equal(store_signing_secret_order(k, 3, 3600, order, &next), 3);
	assert_int_equal(order[0], 2);
}

static struct store_node node(const char *name, const char *region, uint64_t allocs,
			      const char *addrs)
{
	struct store_node n = {.state = STORE_NODE_ACTIVE,
			       .capacity = 100,
			       .heartbeat_at = 1000,
			       .allocations = allocs};

	snprintf(n.name, sizeof(n.name), "%s", name);
	snprintf(n.region, sizeof(n.region), "%s", region);
	snprintf(n.addresses, sizeof(n.addresses), "%s", addrs);
	return n;
}

static void test_node_address_by_transport_and_family(void **state)
{
	const char *addrs = "udp 198.18.0.1:3478 tcp 198.18.0.1:3479 udp [2001:db8::1]:3478 "
			    "tls 198.18.0.1:5349";
	struct nts_addr a;
	char text[NTS_ADDRSTRLEN];

	assert_int_equal(fleet_node_addr(addrs, NTS_TCP, AF_INET, &a), 0);
	assert_string_equal(nts_addr_fmt(&a, text, sizeof(text), true), "198.18.0.1:3479");
	assert_int_equal(fleet_node_addr(addrs, NTS_UDP, AF_INET6, &a), 0);
	assert_string_equal(nts_addr_fmt(&a, text, sizeof(text), true), "[2001:db8::1]:3478");
	assert_int_equal(fleet_node_addr(addrs, NTS_TLS, AF_INET, &a), 0);
	assert_int_equal(a.port, 5349);
	assert_int_equal(fleet_node_addr(addrs, NTS_TLS, AF_INET6, &a), -ENOENT);
	assert_int_equal(fleet_node_addr("udp 0.0.0.0:3478", NTS_UDP, AF_INET, &a), -ENOENT);
}

/* The least loaded by share of capacity, in the region, never this node itself. */
static void test_alternate_is_the_least_loaded_active_node_of_the_region(void **state)
{
	struct store_node n[] = {
	    node("self", "eu", 0, "udp 198.18.0.1:3478"),
	    node("busy", "eu", 80, "udp 198.18.0.2:3478"),
	    node("idle", "eu", 10, "udp 198.18.0.3:3478"),
	    node("far", "us", 0, "udp 198.18.0.4:3478"),
	};
	struct nts_addr a;

	assert_int_equal(fleet_pick_alternate(n, 4, "self", "eu", 1005, NTS_UDP, AF_INET, &a), 2);
	assert_int_equal(a.ip[3], 3);
	/* A bigger node with more allocations can still be the less loaded. */
	n[1].capacity = 1000;
	assert_int_equal(fleet_pick_alternate(n, 4, "self", "eu", 1005, NTS_UDP, AF_INET, &a), 1);
}

static void test_draining_dead_full_or_unreachable_nodes_are_not_named(void **state)
{
	struct store_node n[] = {
	    node("self", "eu", 0, "udp 198.18.0.1:3478"),
	    node("draining", "eu", 0, "udp 198.18.0.2:3478"),
	    node("dead", "eu", 0, "udp 198.18.0.3:3478"),
	    node("full", "eu", 100, "udp 198.18.0.4:3478"),
	    node("tcp-only", "eu", 0, "tcp 198.18.0.5:3478"),
	};
	struct nts_addr a;

	n[1].state = STORE_NODE_DRAINING;
	n[2].heartbeat_at = 1000 - FLEET_DEAD_AFTER_S - 1;
	assert_int_equal(fleet_pick_alternate(n, 5, "self", "eu", 1000, NTS_UDP, AF_INET, &a),
			 -ENOENT);
	assert_int_equal(fleet_pick_alternate(n, 5, "self", "eu", 1000, NTS_TCP, AF_INET, &a), 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_secret_not_yet_active_verifies_but_does_not_sign),
	    cmocka_unit_test(test_activated_secret_signs_and_retired_one_drops_out),
	    cmocka_unit_test(test_only_future_secrets_the_oldest_signs),
	    cmocka_unit_test(test_superseded_pending_secret_never_signs),
	    cmocka_unit_test(test_node_address_by_transport_and_family),
	    cmocka_unit_test(test_alternate_is_the_least_loaded_active_node_of_the_region),
	    cmocka_unit_test(test_draining_dead_full_or_unreachable_nodes_are_not_named),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
