/* Store: the fleet's node registry (register, heartbeat, listing order, removal), signing secrets
 * (seeded from the database's secret, rotation with activation and retirement), and the change
 * counter that account, key and secret changes bump (docs/fleet.md).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store_fixture.h"

struct fixture {
	char dir[64];
	char path[128];
	struct nts_store *s;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/nts-fleet-XXXXXX");
	if (!f || !mkdtemp(f->dir))
		return -1;
	if (store_fixture_target(f->path, sizeof(f->path), f->dir, "nts.db") != 0 ||
	    store_open(f->path, &f->s) != 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	int rc = store_fixture_cleanup(f->s, f->dir);

	free(f);
	return rc;
}

struct nodes {
	struct store_node v[8];
	unsigned n;
};

static int collect_node(void *arg, const struct store_node *n)
{
	struct nodes *l = arg;

	if (l->n < 8)
		l->v[l->n++] = *n;
	return 0;
}

static struct store_node node(const char *name, const char *region, int64_t beat)
{
	struct store_node n = {
	    .state = STORE_NODE_ACTIVE, .capacity = 100, .started_at = 1000, .heartbeat_at = beat};

	snprintf(n.name, sizeof(n.name), "%s", name);
	snprintf(n.region, sizeof(n.region), "%s", region);
	snprintf(n.addresses, sizeof(n.addresses), "udp 198.18.0.1:3478 tcp 198.18.0.1:3478");
	snprintf(n.version, sizeof(n.version), "0.1.0");
	return n;
}

static void test_node_registers_and_heartbeat_rewrites_its_row(void **state)
{
	struct fixture *f = *state;
	struct store_node a = node("a", "eu", 1001);
	struct nodes l = {.n = 0};

	assert_int_equal(store_node_put(f->s, &a), 0);
	a.heartbeat_at = 1003;
	a.allocations = 7;
	a.pps_user = 50;
	a.pps_kernel = 900;
	a.state = STORE_NODE_DRAINING;
	assert_int_equal(store_node_put(f->s, &a), 0);
	assert_int_equal(store_node_foreach(f->s, collect_node, &l), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0].name, "a");
	assert_string_equal(l.v[0].region, "eu");
	assert_string_equal(l.v[0].addresses, a.addresses);
	assert_string_equal(l.v[0].version, "0.1.0");
	assert_int_equal(l.v[0].state, STORE_NODE_DRAINING);
	assert_int_equal(l.v[0].capacity, 100);
	assert_int_equal(l.v[0].started_at, 1000);
	assert_int_equal(l.v[0].heartbeat_at, 1003);
	assert_int_equal(l.v[0].allocations, 7);
	assert_int_equal(l.v[0].pps_user, 50);
	assert_int_equal(l.v[0].pps_kernel, 900);
}

static void test_nodes_list_by_region_then_name(void **state)
{
	struct fixture *f = *state;
	struct store_node c = node("c", "eu", 1), b = node("b", "us", 1), a = node("a", "us", 1);
	struct nodes l = {.n = 0};

	assert_int_equal(store_node_put(f->s, &b), 0);
	assert_int_equal(store_node_put(f->s, &c), 0);
	assert_int_equal(store_node_put(f->s, &a), 0);
	assert_int_equal(store_node_foreach(f->s, collect_node, &l), 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.v[0].name, "c");
	assert_string_equal(l.v[1].name, "a");
	assert_string_equal(l.v[2].name, "b");
	assert_int_equal(store_node_delete(f->s, "a"), 0);
	assert_int_equal(store_node_delete(f->s, "a"), -ENOENT);
}

static void test_node_name_must_be_printable(void **state)
{
	struct fixture *f = *state;
	struct store_node n = node("", "eu", 1);

	assert_int_equal(store_node_put(f->s, &n), -EINVAL);
	snprintf(n.name, sizeof(n.name), "a\nb");
	assert_int_equal(store_node_put(f->s, &n), -EINVAL);
}

struct secrets {
	struct store_signing_secret v[8];
	unsigned n;
};

static int collect_secret(void *arg, const struct store_signing_secret *k)
{
	struct secrets *l = arg;

	if (l->n < 8)
		l->v[l->n++] = *k;
	return 0;
}

static void test_first_signing_secret_is_the_database_secret(void **state)
{
	struct fixture *f = *state;
	char secret[STORE_SECRET_LEN + 1];
	struct secrets l = {.n = 0};

	assert_int_equal(store_signing_secret_ensure(f->s), 0);
	assert_int_equal(store_signing_secret_ensure(f->s), 0); /* once */
	assert_int_equal(store_secret_get_or_create(f->s, secret, sizeof(secret)), 0);
	assert_int_equal(store_signing_secret_foreach(f->s, collect_secret, &l), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0].secret, secret);
	assert_int_equal(l.v[0].activates_at, 0);
	assert_int_equal(l.v[0].retires_at, 0);
}

/* The old secret retires when the last token it signed (before the new one activates) expires. */
static void test_rotation_retires_the_old_secret_after_the_longest_token(void **state)
{
	struct fixture *f = *state;
	struct store_signing_secret k;
	struct secrets l = {.n = 0};

	assert_int_equal(store_signing_secret_rotate(f->s, 5000, 5060, 86400, &k), 0);
	assert_int_equal(strlen(k.secret), STORE_SECRET_LEN);
	assert_int_equal(store_signing_secret_foreach(f->s, collect_secret, &l), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.v[0].retires_at, 5060 + 86400);
	assert_string_equal(l.v[1].secret, k.secret);
	assert_int_equal(l.v[1].activates_at, 5060);
	assert_int_equal(l.v[1].retires_at, 0);
}

static void test_rotation_deletes_secrets_already_retired(void **state)
{
	struct fixture *f = *state;
	struct secrets l = {.n = 0};

	assert_int_equal(store_signing_secret_rotate(f->s, 1000, 1010, 100, NULL), 0);
	assert_int_equal(store_signing_secret_rotate(f->s, 1020, 1030, 100, NULL), 0);
	/* Now 1111: the first (retiring at 1110) goes, the second (1130) stays. */
	assert_int_equal(store_signing_secret_rotate(f->s, 1111, 1120, 100, NULL), 0);
	assert_int_equal(store_signing_secret_foreach(f->s, collect_secret, &l), 0);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.v[0].activates_at, 1010);
	assert_int_equal(l.v[0].retires_at, 1130);
	assert_int_equal(l.v[1].retires_at, 1220);
	assert_int_equal(l.v[2].retires_at, 0);
}

/* ntsctl --db token create signs with what the nodes sign with at that moment. */
static void test_current_secret_follows_the_activation(void **state)
{
	struct fixture *f = *state;
	char first[STORE_SECRET_LEN + 1], cur[STORE_SECRET_LEN + 1];
	struct store_signing_secret k;

	assert_int_equal(store_signing_secret_current(f->s, 1000, first, sizeof(first)), 0);
	assert_int_equal(store_signing_secret_rotate(f->s, 1000, 1060, 86400, &k), 0);
	assert_int_equal(store_signing_secret_current(f->s, 1059, cur, sizeof(cur)), 0);
	assert_string_equal(cur, first);
	assert_int_equal(store_signing_secret_current(f->s, 1060, cur, sizeof(cur)), 0);
	assert_string_equal(cur, k.secret);
	assert_int_equal(store_signing_secret_current(f->s, 1060, cur, 8), -ENOSPC);
}

struct changed {
	char sids[8][STORE_SID_LEN + 1];
	unsigned n;
};

static int collect_changed(void *arg, const char *sid)
{
	struct changed *c = arg;

	if (c->n < 8)
		snprintf(c->sids[c->n++], STORE_SID_LEN + 1, "%s", sid);
	return 0;
}

static void test_account_changes_bump_the_counter_and_are_listed(void **state)
{
	struct fixture *f = *state;
	struct store_account a, b, sub;
	char token[STORE_TOKEN_LEN + 1];
	struct changed c = {.n = 0};
	uint64_t seq0, seq1, seq2;

	assert_int_equal(store_change_seq(f->s, &seq0), 0);
	assert_int_equal(store_account_create(f->s, "a", &a, token), 0);
	assert_int_equal(store_account_create(f->s, "b", &b, token), 0);
	assert_int_equal(store_subaccount_create(f->s, a.sid, "sub", &sub, token), 0);
	assert_int_equal(store_change_seq(f->s, &seq1), 0);
	assert_true(seq1 >= seq0 + 3);
	/* Suspending master a changes a; its subaccount is listed with it, b is not. */
	assert_int_equal(store_account_set_suspended(f->s, a.sid, true), 0);
	assert_int_equal(store_change_seq(f->s, &seq2), 0);
	assert_true(seq2 > seq1);
	assert_int_equal(store_account_foreach_changed(f->s, seq1, collect_changed, &c), 0);
	assert_int_equal(c.n, 2);
	assert_true(!strcmp(c.sids[0], a.sid) || !strcmp(c.sids[1], a.sid));
	assert_true(!strcmp(c.sids[0], sub.sid) || !strcmp(c.sids[1], sub.sid));
	c.n = 0;
	assert_int_equal(store_account_foreach_changed(f->s, seq2, collect_changed, &c), 0);
	assert_int_equal(c.n, 0);
}

static void test_key_and_secret_changes_bump_the_counter(void **state)
{
	struct fixture *f = *state;
	char token[STORE_TOKEN_LEN + 1], secret[STORE_KEY_SECRET_LEN + 1];
	struct store_account a;
	struct store_key k;
	uint64_t s0, s1, s2, s3;

	assert_int_equal(store_account_create(f->s, "a", &a, token), 0);
	assert_int_equal(store_change_seq(f->s, &s0), 0);
	assert_int_equal(store_key_create(f->s, a.sid, "k", &k, secret), 0);
	assert_int_equal(store_change_seq(f->s, &s1), 0);
	assert_true(s1 > s0);
	assert_int_equal(store_key_delete(f->s, k.sid), 0);
	assert_int_equal(store_change_seq(f->s, &s2), 0);
	assert_true(s2 > s1);
	assert_int_equal(store_signing_secret_rotate(f->s, 10, 20, 30, NULL), 0);
	assert_int_equal(store_change_seq(f->s, &s3), 0);
	assert_true(s3 > s2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_node_registers_and_heartbeat_rewrites_its_row,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nodes_list_by_region_then_name, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_node_name_must_be_printable, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_first_signing_secret_is_the_database_secret, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(
		test_rotation_retires_the_old_secret_after_the_longest_token, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rotation_deletes_secrets_already_retired, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_current_secret_follows_the_activation, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_account_changes_bump_the_counter_and_are_listed,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_key_and_secret_changes_bump_the_counter, setup,
					    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
