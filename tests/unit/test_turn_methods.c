/* TURN Refresh (RFC 8656 §8), CreatePermission (§9) and ChannelBind (§11) with real credentials:
 * success paths, the fast-path hooks before the answer, and each error (400, 403, 437, 441, 443).
 */
#include "test_turn_harness.h"

static void h_add_lifetime(struct stun_builder *b, const void *arg)
{
	stun_put_u32(b, STUN_ATTR_LIFETIME, *(const uint32_t *)arg);
}

static void h_add_refresh_family(struct stun_builder *b, const void *arg)
{
	stun_put_family(b, STUN_ATTR_REQUESTED_ADDRESS_FAMILY, *(const uint8_t *)arg);
}

/* RFC 8656 §8.2: Refresh with LIFETIME 0 deletes the allocation and answers LIFETIME 0. */
static void test_refresh_with_lifetime_zero_deletes_the_allocation(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:41001", NULL);
	uint32_t zero = 0, lifetime = 1;
	struct nts_addr relay = h_allocate(h, &o);
	int del;

	assert_int_equal(h_request(h, &o, TURN_REFRESH, h_add_lifetime, &zero), 0);
	assert_int_equal(stun_attr_get_u32(stun_find(&h->resp, STUN_ATTR_LIFETIME), &lifetime), 0);
	assert_int_equal(lifetime, 0);
	assert_null(turn_alloc_find(h->t, &o));
	assert_null(turn_alloc_find_by_relay(h->t, &relay));
	assert_int_equal(h->stats.allocations_current, 0);
	assert_int_equal(h->stats.allocations_deleted, 1);
	del = h_find_ev(h, "alloc_del", 0);
	assert_true(del >= 0);
	/* The next request on the 5-tuple finds nothing. */
	assert_int_equal(h_request(h, &o, TURN_REFRESH, h_add_lifetime, &zero), 437);
	h_free(h);
}

/* RFC 8656 §8.2: a Refresh extends the lifetime (clamped to the maximum). */
static void test_refresh_extends_the_lifetime(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:41002", NULL);
	uint32_t want = 1200, lifetime = 0;
	struct turn_alloc *a;

	h_allocate(h, &o);
	a = turn_alloc_find(h->t, &o);
	assert_int_equal(h_request(h, &o, TURN_REFRESH, h_add_lifetime, &want), 0);
	assert_int_equal(stun_attr_get_u32(stun_find(&h->resp, STUN_ATTR_LIFETIME), &lifetime), 0);
	assert_int_equal(lifetime, 1200);
	assert_int_equal(a->expires_ms, turn_now_ms(h->t) + 1200 * 1000ULL);
	h_free(h);
}

/* RFC 8656 §8: requests other than Allocate need an allocation on the 5-tuple (437). */
static void test_requests_without_an_allocation_get_437(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:41003", NULL);
	uint32_t want = 600;

	assert_int_equal(h_request(h, &o, TURN_REFRESH, h_add_lifetime, &want), 437);
	assert_int_equal(h_permit(h, &o, "127.0.0.1:0"), 437);
	h_free(h);
}

/* RFC 8656 §8.2: REQUESTED-ADDRESS-FAMILY of a family the allocation does not have gets 443. */
static void test_refresh_with_another_family_gets_443(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:41004", NULL);
	uint8_t v6 = AF_INET6, v4 = AF_INET;

	h_allocate(h, &o);
	assert_int_equal(h_request(h, &o, TURN_REFRESH, h_add_refresh_family, &v6), 443);
	assert_int_equal(h_request(h, &o, TURN_REFRESH, h_add_refresh_family, &v4), 0);
	h_free(h);
}

static void h_add_dual(struct stun_builder *b, const void *arg)
{
	stun_put_transport(b, 17);
	stun_put_family(b, STUN_ATTR_ADDITIONAL_ADDRESS_FAMILY, AF_INET6);
}

/* RFC 8656 §8.2: on a dual-stack allocation either family may be named in a Refresh, and
 * permissions may be created for peers of both families. */
static void test_dual_stack_allocation_refreshes_and_permits_both_families(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:41018", NULL);
	uint8_t v6 = AF_INET6, v4 = AF_INET;

	assert_int_equal(h_request(h, &o, TURN_ALLOCATE, h_add_dual, NULL), 0);
	assert_int_equal(h_request(h, &o, TURN_REFRESH, h_add_refresh_family, &v6), 0);
	assert_int_equal(h_request(h, &o, TURN_REFRESH, h_add_refresh_family, &v4), 0);
	assert_int_equal(h_permit(h, &o, "[::1]:0"), 0);
	assert_int_equal(h_permit(h, &o, "127.0.0.1:0"), 0);
	assert_int_equal(h->stats.permissions_current, 2);
	h_free(h);
}

/* RFC 8656 §5: requests on an allocation must carry the credentials that created it (441). */
static void test_request_with_other_credentials_gets_441(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:41005", NULL);
	uint32_t want = 600;

	h_allocate(h, &o);
	assert_int_equal(h_request_tid(h, &o, TURN_REFRESH, NULL, h_add_lifetime, &want, &h_bob),
			 441);
	h_free(h);
}

/* RFC 8656 §9.2: CreatePermission installs one permission per XOR-PEER-ADDRESS, with the hook
 * called before the success answer is sent. */
static void h_add_two_peers(struct stun_builder *b, const void *arg)
{
	const struct nts_addr *p = arg;

	stun_put_xor_addr(b, STUN_ATTR_XOR_PEER_ADDRESS, &p[0]);
	stun_put_xor_addr(b, STUN_ATTR_XOR_PEER_ADDRESS, &p[1]);
}

static void test_create_permission_installs_every_peer_before_answering(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:41006", NULL);
	struct nts_addr peers[2];
	struct turn_alloc *a;
	unsigned before;
	int ev;

	h_allocate(h, &o);
	a = turn_alloc_find(h->t, &o);
	h_addr(&peers[0], "127.0.0.5:1000");
	h_addr(&peers[1], "127.0.0.6:2000");
	before = h->ncap;
	assert_int_equal(h_request(h, &o, TURN_CREATE_PERMISSION, h_add_two_peers, peers), 0);
	assert_non_null(turn_perm_find(h->t, a, &peers[0]));
	assert_non_null(turn_perm_find(h->t, a, &peers[1]));
	assert_int_equal(h->stats.permissions_current, 2);
	ev = h_find_ev(h, "perm_set", 0);
	assert_true(ev >= 0);
	/* The answer is the capture at index `before` (nonce challenges are forgotten). */
	assert_int_equal(h->ev[ev].captured_before, before);
	h_free(h);
}

/* Issue 4 item 5 / RFC 8656 §9.2: peers denied by policy get 403, all or nothing. */
static void test_create_permission_for_denied_peers_gets_403(void **state)
{
	static const char *denied[] = {"10.0.0.1:9",	    "169.254.169.254:80", "0.0.0.0:9",
				       "192.168.1.1:9",	    "100.64.0.1:9",	  "224.0.0.1:9",
				       "255.255.255.255:9", "10.0.0.1:0"};
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:41007", NULL);
	struct nts_addr peers[2];
	struct turn_alloc *a;

	h_allocate(h, &o);
	a = turn_alloc_find(h->t, &o);
	for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++)
		assert_int_equal(h_permit(h, &o, denied[i]), 403);
	/* One allowed and one denied: nothing is installed. */
	h_addr(&peers[0], "127.0.0.1:9");
	h_addr(&peers[1], "10.0.0.1:9");
	assert_int_equal(h_request(h, &o, TURN_CREATE_PERMISSION, h_add_two_peers, peers), 403);
	assert_null(turn_perm_find(h->t, a, &peers[0]));
	assert_int_equal(h->stats.permissions_current, 0);
	/* The port of a permission's address is ignored (§9): port 0 is fine for an allowed IP. */
	assert_int_equal(h_permit(h, &o, "127.0.0.1:0"), 0);
	h_free(h);
}

static void h_add_v6_family(struct stun_builder *b, const void *arg)
{
	stun_put_transport(b, 17);
	stun_put_family(b, STUN_ATTR_REQUESTED_ADDRESS_FAMILY, AF_INET6);
}

/* Issue 4 item 5: without --allow-peer, loopback in any spelling is denied (IPv6 relay). */
static void test_loopback_forms_denied_without_allow_peer(void **state)
{
	static const char *v6_denied[] = {"[::1]:9",	 "[::ffff:127.0.0.1]:9",
					  "[::]:9",	 "[fc00::1]:9",
					  "[fe80::1]:9", "[64:ff9b::7f00:1]:9"};
	struct harness *h = h_new(false);
	struct nts_origin o4 = h_origin("127.0.0.1:41008", NULL);
	struct nts_origin o6 = h_origin("127.0.0.1:41009", NULL);

	h_allocate(h, &o4);
	assert_int_equal(h_permit(h, &o4, "127.0.0.1:9"), 403);
	assert_int_equal(h_permit(h, &o4, "127.0.0.2:9"), 403);
	assert_int_equal(h_permit(h, &o4, "127.0.0.1:0"), 403);
	assert_int_equal(h_request(h, &o6, TURN_ALLOCATE, h_add_v6_family, NULL), 0);
	for (size_t i = 0; i < sizeof(v6_denied) / sizeof(v6_denied[0]); i++)
		assert_int_equal(h_permit(h, &o6, v6_denied[i]), 403);
	assert_int_equal(h->stats.permissions_current, 0);
	h_free(h);
}

/* RFC 8656 §9.1: a peer of a family the allocation has no relay for gets 443. */
static void test_create_permission_family_mismatch_gets_443(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:41010", NULL);

	h_allocate(h, &o);
	assert_int_equal(h_permit(h, &o, "[::1]:0"), 443);
	h_free(h);
}

static void h_add_no_peer(struct stun_builder *b, const void *arg)
{
}

/* RFC 8656 §9.2: CreatePermission without XOR-PEER-ADDRESS is a 400. */
static void test_create_permission_without_peer_gets_400(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:41011", NULL);

	h_allocate(h, &o);
	assert_int_equal(h_request(h, &o, TURN_CREATE_PERMISSION, h_add_no_peer, NULL), 400);
	h_free(h);
}

/* Memory bound: at most TURN_MAX_PERMS permissions per allocation; past it 508. */
static void test_permissions_are_capped_per_allocation(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:41012", NULL);
	char peer[32];

	h_allocate(h, &o);
	for (int i = 0; i < TURN_MAX_PERMS; i++) {
		snprintf(peer, sizeof(peer), "127.0.1.%d:0", i + 1);
		assert_int_equal(h_permit(h, &o, peer), 0);
	}
	assert_int_equal(h_permit(h, &o, "127.0.2.1:0"), 508);
	/* Refreshing an existing one still works. */
	assert_int_equal(h_permit(h, &o, "127.0.1.1:0"), 0);
	assert_int_equal(h->stats.permissions_current, TURN_MAX_PERMS);
	h_free(h);
}

/* RFC 8656 §11.2: ChannelBind binds the channel, installs the permission, hooks before answer. */
static void test_channel_bind_binds_and_installs_the_permission(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:41013", NULL);
	struct nts_addr peer;
	struct turn_alloc *a;
	unsigned before;
	int ev;

	h_allocate(h, &o);
	a = turn_alloc_find(h->t, &o);
	h_addr(&peer, "127.0.0.7:5000");
	before = h->ncap;
	assert_int_equal(h_channel_bind(h, &o, 0x4000, &peer), 0);
	assert_non_null(turn_chan_find_num(h->t, a, 0x4000));
	assert_non_null(turn_chan_find_peer(h->t, a, &peer));
	assert_non_null(turn_perm_find(h->t, a, &peer));
	assert_int_equal(h->stats.channels_current, 1);
	ev = h_find_ev(h, "channel_set", 0);
	assert_true(ev >= 0);
	assert_int_equal(h->ev[ev].channel, 0x4000);
	assert_int_equal(h->ev[ev].captured_before, before);
	assert_true(h_find_ev(h, "perm_set", 0) >= 0);
	h_free(h);
}

/* RFC 8656 §11.2: numbers below 0x4000 or past the RFC 5766 range 0x7FFF (accepted for deployed
 * clients, see STUN_CHANNEL_MAX), or a missing attribute, get 400. */
static void test_channel_bind_bad_number_gets_400(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:41014", NULL);
	struct nts_addr peer;

	h_allocate(h, &o);
	h_addr(&peer, "127.0.0.7:5000");
	assert_int_equal(h_channel_bind(h, &o, 0x3FFF, &peer), 400);
	assert_int_equal(h_channel_bind(h, &o, 0x8000, &peer), 400);
	assert_int_equal(h_channel_bind(h, &o, 0xFFFF, &peer), 400);
	assert_int_equal(h_request(h, &o, TURN_CHANNEL_BIND, h_add_peer, &peer), 400);
	assert_int_equal(h->stats.channels_current, 0);
	assert_int_equal(h_channel_bind(h, &o, 0x7FFF, &peer), 0);
	h_free(h);
}

/* RFC 8656 §11.2: a number bound to another peer, or a peer bound to another number, gets 400;
 * the same pair again refreshes. */
static void test_channel_bind_conflicts_get_400_and_same_pair_refreshes(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:41015", NULL);
	struct nts_addr p1, p2, p1_other_port;
	struct turn_alloc *a;
	struct turn_chan *c;

	h_allocate(h, &o);
	a = turn_alloc_find(h->t, &o);
	h_addr(&p1, "127.0.0.7:5000");
	h_addr(&p2, "127.0.0.8:5000");
	h_addr(&p1_other_port, "127.0.0.7:5001");
	assert_int_equal(h_channel_bind(h, &o, 0x4001, &p1), 0);
	assert_int_equal(h_channel_bind(h, &o, 0x4001, &p2), 400);
	assert_int_equal(h_channel_bind(h, &o, 0x4002, &p1), 400);
	/* Same IP, other port: a different transport address, may take another number. */
	assert_int_equal(h_channel_bind(h, &o, 0x4002, &p1_other_port), 0);
	c = turn_chan_find_num(h->t, a, 0x4001);
	turn_tick(h->t, turn_now_ms(h->t) + 100 * 1000);
	assert_int_equal(h_channel_bind(h, &o, 0x4001, &p1), 0);
	assert_ptr_equal(turn_chan_find_num(h->t, a, 0x4001), c);
	assert_int_equal(c->expires_ms, turn_now_ms(h->t) + TURN_CHANNEL_LIFETIME * 1000ULL);
	assert_int_equal(h->stats.channels_current, 2);
	h_free(h);
}

/* Issue 4 item 5: ChannelBind to a denied peer gets 403; to another family 443. */
static void test_channel_bind_denied_peer_gets_403_and_family_mismatch_443(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:41016", NULL);
	struct nts_addr denied, v6;

	h_allocate(h, &o);
	h_addr(&denied, "169.254.169.254:80");
	h_addr(&v6, "[::1]:5000");
	assert_int_equal(h_channel_bind(h, &o, 0x4003, &denied), 403);
	assert_int_equal(h_channel_bind(h, &o, 0x4003, &v6), 443);
	assert_int_equal(h->stats.channels_current, 0);
	h_free(h);
}

/* Answers to authenticated requests carry MESSAGE-INTEGRITY even for errors (RFC 8489 §9.2.4). */
static void test_errors_after_authentication_are_signed(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:41017", NULL);
	uint8_t key[32];
	int klen;

	h_allocate(h, &o);
	assert_int_equal(h_permit(h, &o, "10.0.0.1:9"), 403);
	klen = stun_long_term_key(STUN_PWALG_MD5, H_USER, strlen(H_USER), H_REALM, strlen(H_REALM),
				  H_PASS, strlen(H_PASS), key);
	assert_true(stun_check_integrity(&h->resp, key, (size_t)klen));
	assert_int_equal(h->stats.errors[STUN_STAT_TURN_CREATE_PERMISSION], 1);
	h_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_refresh_with_lifetime_zero_deletes_the_allocation),
	    cmocka_unit_test(test_refresh_extends_the_lifetime),
	    cmocka_unit_test(test_requests_without_an_allocation_get_437),
	    cmocka_unit_test(test_refresh_with_another_family_gets_443),
	    cmocka_unit_test(test_dual_stack_allocation_refreshes_and_permits_both_families),
	    cmocka_unit_test(test_request_with_other_credentials_gets_441),
	    cmocka_unit_test(test_create_permission_installs_every_peer_before_answering),
	    cmocka_unit_test(test_create_permission_for_denied_peers_gets_403),
	    cmocka_unit_test(test_loopback_forms_denied_without_allow_peer),
	    cmocka_unit_test(test_create_permission_family_mismatch_gets_443),
	    cmocka_unit_test(test_create_permission_without_peer_gets_400),
	    cmocka_unit_test(test_permissions_are_capped_per_allocation),
	    cmocka_unit_test(test_channel_bind_binds_and_installs_the_permission),
	    cmocka_unit_test(test_channel_bind_bad_number_gets_400),
	    cmocka_unit_test(test_channel_bind_conflicts_get_400_and_same_pair_refreshes),
	    cmocka_unit_test(test_channel_bind_denied_peer_gets_403_and_family_mismatch_443),
	    cmocka_unit_test(test_errors_after_authentication_are_signed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
