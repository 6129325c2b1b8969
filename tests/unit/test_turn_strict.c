/* --strict-expiry: an allocation made with an ephemeral credential ends when the credential
 * expires. Refresh cannot extend it past that, permissions and channels (and so their fast-path
 * entries) never outlive it, and relaying stops at that moment on the userspace path. Static users
 * and the default (off) are not affected.
 */
#include "test_turn_harness.h"

#define SID "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

struct h_token {
	char user[AUTH_MAX_USERNAME], pass[64];
	struct h_creds creds;
};

/* A token of SID valid for ttl more seconds. */
static void h_token(struct harness *h, uint64_t ttl, struct h_token *tk)
{
	assert_int_equal(auth_make_ephemeral(h->auth, SID, turn_unix_now() + ttl, tk->user,
					     sizeof(tk->user), tk->pass, sizeof(tk->pass)),
			 0);
	tk->creds = (struct h_creds){tk->user, tk->pass};
}

static struct harness *h_strict(bool strict)
{
	struct harness *h = calloc(1, sizeof(*h));

	h_config(&h->cfg, true);
	h->cfg.strict_expiry = strict;
	h_start(h);
	return h;
}

static uint32_t h_lifetime(struct harness *h)
{
	uint32_t v = 0;

	assert_int_equal(stun_attr_get_u32(stun_find(&h->resp, STUN_ATTR_LIFETIME), &v), 0);
	return v;
}

static void h_add_lifetime_3600(struct stun_builder *b, const void *arg)
{
	stun_put_u32(b, STUN_ATTR_LIFETIME, 3600);
}

/* The largest expiry a permission or channel was mirrored to the kernel with. */
static uint64_t max_kernel_ns;
static int hook_perm_set(void *arg, uint64_t id, enum nts_transport tr,
			 const struct nts_addr *relay, const struct nts_addr *peer,
			 uint64_t expires_ns)
{
	max_kernel_ns = expires_ns > max_kernel_ns ? expires_ns : max_kernel_ns;
	return 0;
}
static int hook_channel_set(void *arg, const struct turn_channel_info *c)
{
	max_kernel_ns = c->expires_ns > max_kernel_ns ? c->expires_ns : max_kernel_ns;
	return 0;
}
static const struct turn_hooks expiry_hooks = {
    .permission_set = hook_perm_set,
    .channel_set = hook_channel_set,
    .alloc_del = h_hook_alloc_del,
};

/* Allocate grants no more than the credential has left; Refresh cannot extend past it. */
static void test_strict_expiry_caps_allocate_and_refresh_at_the_credential(void **state)
{
	struct harness *h = h_strict(true);
	struct nts_origin o = h_origin("127.0.0.1:45001", NULL);
	struct turn_alloc *a;
	struct h_token tk;

	h_token(h, 5, &tk);
	assert_int_equal(h_request_tid(h, &o, TURN_ALLOCATE, NULL, h_add_udp, NULL, &tk.creds), 0);
	assert_in_range(h_lifetime(h), 4, 5);
	a = turn_alloc_find(h->t, &o);
	assert_non_null(a);
	assert_true(a->cred_end_ms > 0);
	assert_true(a->expires_ms <= a->cred_end_ms);
	assert_int_equal(
	    h_request_tid(h, &o, TURN_REFRESH, NULL, h_add_lifetime_3600, NULL, &tk.creds), 0);
	assert_in_range(h_lifetime(h), 4, 5);
	assert_int_equal(a->expires_ms, a->cred_end_ms);
	h_free(h);
}

/* Permissions and channels, as mirrored into the kernel, expire no later than the credential; at
 * that second the allocation is gone (fast-path entries through alloc_del). */
static void test_strict_expiry_bounds_kernel_entries_and_ends_the_allocation(void **state)
{
	struct harness *h = h_strict(true);
	struct nts_origin o = h_origin("127.0.0.1:45002", NULL);
	struct h_bind bind = {.channel = 0x4000};
	struct turn_alloc *a;
	struct h_token tk;
	uint64_t end_ms, id;

	turn_set_hooks(h->t, &expiry_hooks, h);
	max_kernel_ns = 0;
	h_token(h, 5, &tk);
	assert_int_equal(h_request_tid(h, &o, TURN_ALLOCATE, NULL, h_add_udp, NULL, &tk.creds), 0);
	a = turn_alloc_find(h->t, &o);
	end_ms = a->cred_end_ms;
	id = a->id;
	h_addr(&bind.peer, "127.0.0.1:9");
	assert_int_equal(
	    h_request_tid(h, &o, TURN_CREATE_PERMISSION, NULL, h_add_peer, &bind.peer, &tk.creds),
	    0);
	assert_int_equal(
	    h_request_tid(h, &o, TURN_CHANNEL_BIND, NULL, h_add_bind, &bind, &tk.creds), 0);
	assert_true(max_kernel_ns > 0);
	assert_true(max_kernel_ns <= end_ms * 1000000ULL);
	turn_tick(h->t, end_ms - 1);
	assert_non_null(turn_alloc_find(h->t, &o));
	turn_tick(h->t, end_ms + 1000);
	assert_null(turn_alloc_find(h->t, &o));
	assert_true(h_find_ev(h, "alloc_del", 0) >= 0);
	assert_int_equal(h->ev[h_find_ev(h, "alloc_del", 0)].alloc_id, id);
	h_free(h);
}

/* Relaying stops when the credential expires, before the timer wheel's tick gets to it. */
static void test_strict_expiry_stops_relaying_at_the_expiry(void **state)
{
	struct harness *h = h_strict(true);
	struct nts_origin o = h_origin("127.0.0.1:45003", NULL);
	struct h_bind bind = {.channel = 0x4000};
	int peer = h_peer_socket(&bind.peer);
	struct h_token tk;
	uint8_t buf[64];
	uint64_t end_ms;

	h_token(h, 5, &tk);
	assert_int_equal(h_request_tid(h, &o, TURN_ALLOCATE, NULL, h_add_udp, NULL, &tk.creds), 0);
	assert_int_equal(
	    h_request_tid(h, &o, TURN_CHANNEL_BIND, NULL, h_add_bind, &bind, &tk.creds), 0);
	end_ms = turn_alloc_find(h->t, &o)->cred_end_ms;
	turn_tick(h->t, end_ms - 1);
	turn_handle_channeldata(h->t, &o, 0x4000, (const uint8_t *)"before", 6);
	turn_relay_flush(h->t);
	assert_int_equal(h_recv(peer, buf, sizeof(buf), NULL), 6);
	turn_tick(h->t, end_ms); /* the clock reaches the expiry */
	turn_handle_channeldata(h->t, &o, 0x4000, (const uint8_t *)"after", 5);
	turn_relay_flush(h->t);
	assert_null(turn_alloc_find(h->t, &o));
	assert_true(h_nothing(peer));
	close(peer);
	h_free(h);
}

/* Static users have no credential expiry: their allocations keep the normal lifetime. */
static void test_strict_expiry_leaves_static_users_alone(void **state)
{
	struct harness *h = h_strict(true);
	struct nts_origin o = h_origin("127.0.0.1:45004", NULL);

	h_allocate(h, &o);
	assert_int_equal(h_lifetime(h), 600);
	assert_int_equal(turn_alloc_find(h->t, &o)->cred_end_ms, 0);
	h_free(h);
}

/* Off by default: an ephemeral credential's allocation gets the normal lifetime. */
static void test_without_strict_expiry_the_allocation_outlives_the_credential(void **state)
{
	struct harness *h = h_strict(false);
	struct nts_origin o = h_origin("127.0.0.1:45005", NULL);
	struct h_token tk;

	h_token(h, 5, &tk);
	assert_int_equal(h_request_tid(h, &o, TURN_ALLOCATE, NULL, h_add_udp, NULL, &tk.creds), 0);
	assert_int_equal(h_lifetime(h), 600);
	h_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_strict_expiry_caps_allocate_and_refresh_at_the_credential),
	    cmocka_unit_test(test_strict_expiry_bounds_kernel_entries_and_ends_the_allocation),
	    cmocka_unit_test(test_strict_expiry_stops_relaying_at_the_expiry),
	    cmocka_unit_test(test_strict_expiry_leaves_static_users_alone),
	    cmocka_unit_test(test_without_strict_expiry_the_allocation_outlives_the_credential),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
