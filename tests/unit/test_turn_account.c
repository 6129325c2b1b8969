/* Accounts in TURN: the allocation quota counted per AccountSid over all its tokens, the
 * operator's suspend/close ending live allocations (fast-path entries included, through
 * alloc_del) and refusing the account's unexpired credentials, and ending one allocation by id.
 */
#include "test_turn_harness.h"

#define SID_A "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SID_B "ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

/* Ephemeral credentials (TURN REST: "<expiry>:<AccountSid>") as the token API mints them; n makes
 * each one a different username, as every token is. */
struct h_token {
	char user[AUTH_MAX_USERNAME], pass[64];
	struct h_creds creds;
};

static void h_token(struct harness *h, const char *sid, unsigned n, struct h_token *tk)
{
	assert_int_equal(auth_make_ephemeral(h->auth, sid, turn_unix_now() + 3600 + n, tk->user,
					     sizeof(tk->user), tk->pass, sizeof(tk->pass)),
			 0);
	tk->creds = (struct h_creds){tk->user, tk->pass};
}

static int h_allocate_as(struct harness *h, const struct nts_origin *o, const struct h_token *tk)
{
	return h_request_tid(h, o, TURN_ALLOCATE, NULL, h_add_udp, NULL, &tk->creds);
}

static struct nts_origin h_client(unsigned i)
{
	char c[32];

	snprintf(c, sizeof(c), "127.0.0.1:%u", 44000 + i);
	return h_origin(c, NULL);
}

static const struct turn_account_policy h_suspended = {.state = TURN_ACCOUNT_SUSPENDED};

/* One token per allocation (a new username each) cannot get past the account's quota: 486. */
static void test_account_quota_counts_every_token_of_the_account(void **state)
{
	struct harness *h = calloc(1, sizeof(*h));
	struct h_token tk;
	struct nts_origin o;

	h_config(&h->cfg, true);
	h->cfg.max_allocations_per_account = 3;
	h_start(h);
	for (unsigned i = 0; i < 3; i++) {
		h_token(h, SID_A, i, &tk);
		o = h_client(i);
		assert_int_equal(h_allocate_as(h, &o, &tk), 0);
	}
	h_token(h, SID_A, 3, &tk);
	o = h_client(3);
	assert_int_equal(h_allocate_as(h, &o, &tk), 486);
	assert_int_equal(turn_account_count(h->t, SID_A), 3);
	/* Another account is not affected. */
	h_token(h, SID_B, 0, &tk);
	o = h_client(4);
	assert_int_equal(h_allocate_as(h, &o, &tk), 0);
	h_free(h);
}

/* Once an allocation of the account ends, the quota has room again. */
static void test_account_quota_frees_with_deleted_allocations(void **state)
{
	struct harness *h = calloc(1, sizeof(*h));
	struct h_token tk;
	struct nts_origin o0 = h_client(0), o1 = h_client(1);

	h_config(&h->cfg, true);
	h->cfg.max_allocations_per_account = 1;
	h_start(h);
	h_token(h, SID_A, 0, &tk);
	assert_int_equal(h_allocate_as(h, &o0, &tk), 0);
	h_token(h, SID_A, 1, &tk);
	assert_int_equal(h_allocate_as(h, &o1, &tk), 486);
	turn_alloc_delete(h->t, turn_alloc_find(h->t, &o0), false);
	assert_int_equal(h_allocate_as(h, &o1, &tk), 0);
	h_free(h);
}

/* ntsctl account set SID --max-allocations N overrides the default for that account only. */
static void test_account_override_replaces_the_default_quota(void **state)
{
	struct harness *h = calloc(1, sizeof(*h));
	const struct turn_account_policy five = {.max_allocations = 5};
	struct h_token tk;
	struct nts_origin o;

	h_config(&h->cfg, true);
	h->cfg.max_allocations_per_account = 2;
	h_start(h);
	assert_int_equal(turn_account_set(h->t, SID_A, &five), 0);
	for (unsigned i = 0; i < 5; i++) {
		h_token(h, SID_A, i, &tk);
		o = h_client(i);
		assert_int_equal(h_allocate_as(h, &o, &tk), 0);
	}
	h_token(h, SID_A, 5, &tk);
	o = h_client(5);
	assert_int_equal(h_allocate_as(h, &o, &tk), 486);
	h_token(h, SID_B, 0, &tk);
	for (unsigned i = 10; i < 13; i++) {
		o = h_client(i);
		assert_int_equal(h_allocate_as(h, &o, &tk), i < 12 ? 0 : 486);
	}
	h_free(h);
}

/* Suspension ends every live allocation of the account now, each through alloc_del (which removes
 * its fast-path entries), and leaves other accounts and static users alone. */
static void test_suspend_ends_every_allocation_of_the_account(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o0 = h_client(0), o1 = h_client(1), o2 = h_client(2),
			  ostatic = h_client(3);
	struct h_token tk;
	uint64_t id0, id1;

	h_token(h, SID_A, 0, &tk);
	assert_int_equal(h_allocate_as(h, &o0, &tk), 0);
	h_token(h, SID_A, 1, &tk);
	assert_int_equal(h_allocate_as(h, &o1, &tk), 0);
	h_token(h, SID_B, 0, &tk);
	assert_int_equal(h_allocate_as(h, &o2, &tk), 0);
	h_allocate(h, &ostatic);
	id0 = turn_alloc_find(h->t, &o0)->id;
	id1 = turn_alloc_find(h->t, &o1)->id;
	h->nev = 0;
	assert_int_equal(turn_account_set(h->t, SID_A, &h_suspended), 2);
	assert_null(turn_alloc_find(h->t, &o0));
	assert_null(turn_alloc_find(h->t, &o1));
	assert_non_null(turn_alloc_find(h->t, &o2));
	assert_non_null(turn_alloc_find(h->t, &ostatic));
	assert_int_equal(h->nev, 2);
	assert_string_equal(h->ev[0].what, "alloc_del");
	assert_string_equal(h->ev[1].what, "alloc_del");
	assert_true((h->ev[0].alloc_id == id0 && h->ev[1].alloc_id == id1) ||
		    (h->ev[0].alloc_id == id1 && h->ev[1].alloc_id == id0));
	assert_int_equal(h->stats.allocations_current, 2);
	assert_int_equal(turn_account_count(h->t, SID_A), 0);
	h_free(h);
}

/* A suspended or closed account's unexpired credentials get 401 on Allocate; activation undoes
 * suspension. */
static void test_suspended_account_token_gets_401_on_allocate(void **state)
{
	struct harness *h = h_new(true);
	const struct turn_account_policy active = {.state = TURN_ACCOUNT_ACTIVE};
	const struct turn_account_policy closed = {.state = TURN_ACCOUNT_CLOSED};
	struct nts_origin o = h_client(0);
	struct h_token tk;

	h_token(h, SID_A, 0, &tk);
	assert_int_equal(turn_account_set(h->t, SID_A, &h_suspended), 0);
	assert_int_equal(h_allocate_as(h, &o, &tk), 401);
	assert_non_null(stun_find(&h->resp, STUN_ATTR_NONCE));
	assert_int_equal(turn_account_set(h->t, SID_A, &active), 0);
	assert_int_equal(h_allocate_as(h, &o, &tk), 0);
	assert_int_equal(turn_account_set(h->t, SID_A, &closed), 1);
	assert_int_equal(h_allocate_as(h, &o, &tk), 401);
	h_free(h);
}

/* Refresh of a suspended account gets 401 too (checked before the allocation is looked up). */
static void test_suspended_account_token_gets_401_on_refresh(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_client(0);
	struct h_token tk;

	h_token(h, SID_A, 0, &tk);
	assert_int_equal(h_allocate_as(h, &o, &tk), 0);
	assert_int_equal(turn_account_set(h->t, SID_A, &h_suspended), 1);
	assert_int_equal(h_request_tid(h, &o, TURN_REFRESH, NULL, NULL, NULL, &tk.creds), 401);
	h_free(h);
}

/* Suspension also stops relaying: the relay socket is closed with the allocation. */
static void test_suspend_stops_relaying(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_client(0);
	struct nts_addr relay, peer_addr;
	int peer = h_peer_socket(&peer_addr);
	struct h_token tk;

	h_token(h, SID_A, 0, &tk);
	assert_int_equal(h_allocate_as(h, &o, &tk), 0);
	assert_int_equal(stun_attr_get_xor_addr(
			     &h->resp, stun_find(&h->resp, STUN_ATTR_XOR_RELAYED_ADDRESS), &relay),
			 0);
	assert_non_null(turn_alloc_find_by_relay(h->t, &relay));
	assert_int_equal(turn_account_set(h->t, SID_A, &h_suspended), 1);
	assert_null(turn_alloc_find_by_relay(h->t, &relay));
	close(peer);
	h_free(h);
}

/* ntsctl allocations delete ID: ends that allocation only, through alloc_del. */
static void test_delete_by_id_ends_one_allocation(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o0 = h_client(0), o1 = h_client(1);
	uint64_t id;

	h_allocate(h, &o0);
	h_allocate(h, &o1);
	id = turn_alloc_find(h->t, &o0)->id;
	h->nev = 0;
	assert_int_equal(turn_alloc_delete_id(h->t, id), 0);
	assert_null(turn_alloc_find(h->t, &o0));
	assert_non_null(turn_alloc_find(h->t, &o1));
	assert_int_equal(h_find_ev(h, "alloc_del", 0), 0);
	assert_int_equal(h->ev[0].alloc_id, id);
	assert_int_equal(turn_alloc_delete_id(h->t, id), -ENOENT);
	h_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_account_quota_counts_every_token_of_the_account),
	    cmocka_unit_test(test_account_quota_frees_with_deleted_allocations),
	    cmocka_unit_test(test_account_override_replaces_the_default_quota),
	    cmocka_unit_test(test_suspend_ends_every_allocation_of_the_account),
	    cmocka_unit_test(test_suspended_account_token_gets_401_on_allocate),
	    cmocka_unit_test(test_suspended_account_token_gets_401_on_refresh),
	    cmocka_unit_test(test_suspend_stops_relaying),
	    cmocka_unit_test(test_delete_by_id_ends_one_allocation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
