/* Relay workers' shared TURN state (user/turn/shared.c): quotas exact over every worker and over
 * threads, allocation ids that name their worker, one number per account, and EVEN-PORT
 * reservations any worker redeems (RFC 8656 §7.2).
 */
#include <pthread.h>

#include "test_turn_harness.h"

#include "util/tlv.h"

static void h_add_lifetime(struct stun_builder *b, const void *arg)
{
	stun_put_u32(b, STUN_ATTR_LIFETIME, *(const uint32_t *)arg);
}

/* Two workers' TURN servers over one shared state, driven from this thread. */
static void h_two(struct harness *h[2], struct turn_shared *s, uint32_t max_user)
{
	for (unsigned i = 0; i < 2; i++) {
		h[i] = calloc(1, sizeof(*h[i]));
		assert_non_null(h[i]);
		h_config(&h[i]->cfg, true);
		h[i]->cfg.max_allocations_per_user = max_user;
		h_start(h[i]);
		turn_set_worker(h[i]->t, s, i, 2);
	}
}

/* --max-allocations-per-user counts a user's allocations on every worker: the one past it gets
 * 486 whichever worker it reaches, and a deleted one gives its place back. */
static void test_user_quota_holds_over_workers(void **state)
{
	struct turn_shared *s = turn_shared_create();
	struct harness *h[2];
	struct nts_origin o[4] = {
	    h_origin("127.0.0.1:41001", NULL), h_origin("127.0.0.1:41002", NULL),
	    h_origin("127.0.0.1:41003", NULL), h_origin("127.0.0.1:41004", NULL)};
	uint32_t zero = 0;

	assert_non_null(s);
	h_two(h, s, 3);
	h_allocate(h[0], &o[0]);
	h_allocate(h[1], &o[1]);
	h_allocate(h[0], &o[2]);
	assert_int_equal(h_request(h[1], &o[3], TURN_ALLOCATE, h_add_udp, NULL), 486);
	assert_int_equal(h_request(h[0], &o[3], TURN_ALLOCATE, h_add_udp, NULL), 486);
	assert_int_equal(h_request(h[1], &o[1], TURN_REFRESH, h_add_lifetime, &zero), 0);
	h_allocate(h[0], &o[3]);
	for (unsigned i = 0; i < 2; i++)
		h_free(h[i]);
	turn_shared_destroy(s);
}

/* Worker i of n numbers its allocations i modulo n: the control thread finds an allocation's
 * worker from its id, and no two workers' ids collide in the fast path's maps. */
static void test_allocation_ids_name_their_worker(void **state)
{
	struct turn_shared *s = turn_shared_create();
	struct harness *h[2];

	h_two(h, s, 100);
	for (unsigned k = 0; k < 6; k++) {
		struct nts_origin o = h_origin(k & 1 ? "127.0.0.1:41011" : "127.0.0.1:41010", NULL);

		o.client.port = (uint16_t)(41010 + k);
		h_allocate(h[k & 1], &o);
	}
	for (unsigned i = 0; i < 2; i++) {
		for (struct turn_list *e = h[i]->t->allocs.next; e != &h[i]->t->allocs; e = e->next)
			assert_int_equal(turn_container_of(e, struct turn_alloc, link)->id % 2, i);
		h_free(h[i]);
	}
	turn_shared_destroy(s);
}

/* An account has one number on every worker: the fast path's bucket of it is shared. */
static void test_account_numbers_agree_over_workers(void **state)
{
	struct turn_shared *s = turn_shared_create();
	uint64_t a = turn_shared_account_id(s, "ACa"), b = turn_shared_account_id(s, "ACb");

	assert_true(a && b && a != b);
	assert_int_equal(turn_shared_account_id(s, "ACa"), a);
	turn_shared_destroy(s);
}

static void h_add_even_r(struct stun_builder *b, const void *arg)
{
	stun_put_transport(b, 17);
	stun_put_even_port(b, true);
}

static void h_add_token(struct stun_builder *b, const void *arg)
{
	stun_put_transport(b, 17);
	stun_put_u64(b, STUN_ATTR_RESERVATION_TOKEN, *(const uint64_t *)arg);
}

/* RFC 8656 §7.2: the Allocate that redeems a RESERVATION-TOKEN comes from another client, which
 * may be another worker's: it gets the reserved port there, and the token works once. */
static void test_reservation_redeemed_on_another_worker(void **state)
{
	struct turn_shared *s = turn_shared_create();
	struct harness *h[2];
	struct nts_origin o1 = h_origin("127.0.0.1:41021", NULL);
	struct nts_origin o2 = h_origin("127.0.0.1:41022", NULL);
	struct nts_origin o3 = h_origin("127.0.0.1:41023", NULL);
	struct nts_addr r1, r2;
	uint64_t token;

	h_two(h, s, 100);
	assert_int_equal(h_request(h[0], &o1, TURN_ALLOCATE, h_add_even_r, NULL), 0);
	assert_int_equal(
	    stun_attr_get_xor_addr(&h[0]->resp,
				   stun_find(&h[0]->resp, STUN_ATTR_XOR_RELAYED_ADDRESS), &r1),
	    0);
	assert_int_equal(
	    stun_attr_get_u64(stun_find(&h[0]->resp, STUN_ATTR_RESERVATION_TOKEN), &token), 0);
	assert_int_equal(h_request(h[1], &o2, TURN_ALLOCATE, h_add_token, &token), 0);
	assert_int_equal(
	    stun_attr_get_xor_addr(&h[1]->resp,
				   stun_find(&h[1]->resp, STUN_ATTR_XOR_RELAYED_ADDRESS), &r2),
	    0);
	assert_int_equal(r2.port, r1.port + 1);
	assert_int_equal(h_request(h[0], &o3, TURN_ALLOCATE, h_add_token, &token), 508);
	for (unsigned i = 0; i < 2; i++)
		h_free(h[i]);
	turn_shared_destroy(s);
}

/* An upgrade hands the workers' reservations over with worker 0's state: after it, a client of
 * another worker of the new process redeems the token and gets the reserved port. */
static void test_reservation_survives_an_upgrade(void **state)
{
	struct turn_shared *s1 = turn_shared_create(), *s2 = turn_shared_create();
	struct harness *h[2], *n[2];
	struct nts_origin o1 = h_origin("127.0.0.1:41031", NULL);
	struct nts_origin o2 = h_origin("127.0.0.1:41032", NULL);
	struct h_fdtab tab = {0};
	const struct turn_state_fds fds = {.put = h_tab_put, .get = h_tab_get, .arg = &tab};
	struct nts_tlv_buf b[2];
	struct nts_addr r1, r2;
	uint64_t token;

	tab.listener = h_peer_socket(&r2);
	h_two(h, s1, 100);
	assert_int_equal(h_request(h[1], &o1, TURN_ALLOCATE, h_add_even_r, NULL), 0);
	assert_int_equal(
	    stun_attr_get_xor_addr(&h[1]->resp,
				   stun_find(&h[1]->resp, STUN_ATTR_XOR_RELAYED_ADDRESS), &r1),
	    0);
	assert_int_equal(
	    stun_attr_get_u64(stun_find(&h[1]->resp, STUN_ATTR_RESERVATION_TOKEN), &token), 0);
	for (unsigned i = 0; i < 2; i++) { /* one section per worker, as the upgrade writes */
		assert_int_equal(nts_tlv_init(&b[i]), 0);
		assert_int_equal(turn_state_export(h[i]->t, &b[i], &fds), 0);
		assert_int_equal(nts_tlv_finish(&b[i]), 0);
	}
	h_two(n, s2, 100);
	for (unsigned i = 0; i < 2; i++) {
		struct nts_tlv_rd body;
		struct nts_tlv rec;
		uint16_t version;
		int rc = nts_tlv_open(b[i].p, b[i].len, &version, &body);

		while (!rc && (rc = nts_tlv_next(&body, &rec)) > 0)
			rc = turn_state_import(n[i]->t, &rec, &fds);
		assert_int_equal(rc, 0);
		nts_tlv_free(&b[i]);
		h_free(h[i]);
	}
	turn_shared_destroy(s1); /* the old process's copies close */
	assert_int_equal(h_request(n[0], &o2, TURN_ALLOCATE, h_add_token, &token), 0);
	assert_int_equal(
	    stun_attr_get_xor_addr(&n[0]->resp,
				   stun_find(&n[0]->resp, STUN_ATTR_XOR_RELAYED_ADDRESS), &r2),
	    0);
	assert_int_equal(r2.port, r1.port + 1);
	for (unsigned i = 0; i < 2; i++)
		h_free(n[i]);
	close(tab.listener);
	turn_shared_destroy(s2);
}

struct taker {
	struct turn_shared *s;
	unsigned ok;
};

static void *h_take_many(void *arg)
{
	struct taker *t = arg;

	for (unsigned i = 0; i < 2000; i++)
		if (turn_shared_take(t->s, "alice", "ACq", 0, 1500, 0) == 0)
			t->ok++;
	return NULL;
}

/* Workers take quota at the same time: exactly the quota is granted (ThreadSanitizer checks the
 * locking in `make test SAN=thread`). */
static void test_quota_exact_under_concurrent_takes(void **state)
{
	struct turn_shared *s = turn_shared_create();
	struct taker t[2] = {{.s = s}, {.s = s}};
	pthread_t th[2];

	for (unsigned i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, h_take_many, &t[i]), 0);
	for (unsigned i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(t[0].ok + t[1].ok, 1500);
	assert_int_equal(turn_shared_account_count(s, "ACq"), 1500);
	turn_shared_put(s, "alice", "ACq");
	assert_int_equal(turn_shared_account_count(s, "ACq"), 1499);
	turn_shared_destroy(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_user_quota_holds_over_workers),
	    cmocka_unit_test(test_allocation_ids_name_their_worker),
	    cmocka_unit_test(test_account_numbers_agree_over_workers),
	    cmocka_unit_test(test_reservation_redeemed_on_another_worker),
	    cmocka_unit_test(test_reservation_survives_an_upgrade),
	    cmocka_unit_test(test_quota_exact_under_concurrent_takes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
