/* TURN lifetimes on the timer wheel, driven with fake time through turn_tick(): permissions (300 s,
 * RFC 8656 §9), channels (600 s and the 5-minute hold of §12), allocations (§7), reservations,
 * with the fast-path hooks on expiry; plus the wheel itself and the replay of live state.
 */
#include "test_turn_harness.h"

static uint64_t h_base(struct harness *h)
{
	return turn_now_ms(h->t);
}

/* RFC 8656 §9: a permission lasts 300 s; then peer traffic is dropped and the hook told. */
static void test_permission_expires_after_300_seconds(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:43001", NULL);
	struct nts_addr relay = h_allocate(h, &o), peer_addr;
	int peer = h_peer_socket(&peer_addr);
	struct turn_alloc *a = turn_alloc_find(h->t, &o);
	uint64_t t0 = h_base(h);
	unsigned before;

	assert_int_equal(h_permit(h, &o, "127.0.0.1:0"), 0);
	turn_tick(h->t, t0 + (TURN_PERM_LIFETIME - 1) * 1000ULL);
	assert_non_null(turn_perm_find(h->t, a, &peer_addr));
	turn_tick(h->t, t0 + (TURN_PERM_LIFETIME + 1) * 1000ULL);
	assert_null(turn_perm_find(h->t, a, &peer_addr));
	assert_int_equal(h->stats.permissions_current, 0);
	assert_true(h_find_ev(h, "perm_del", 0) >= 0);
	before = h->ncap;
	h_sendto(peer, &relay, "late", 4);
	h_relay_readable(h, &relay);
	assert_int_equal(h->ncap, before);
	assert_int_equal(h->stats.peer_dropped_no_permission, 1);
	close(peer);
	h_free(h);
}

/* RFC 8656 §7.2: no allocation outlives the server's maximum lifetime (3600 s in the harness),
 * whatever the caller of turn_alloc_refresh() asks for. */
static void test_refresh_beyond_the_maximum_lifetime_is_clamped(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:43009", NULL);
	struct turn_alloc *a;

	h_allocate(h, &o);
	a = turn_alloc_find(h->t, &o);
	turn_alloc_refresh(h->t, a, 100000);
	assert_int_equal(a->expires_ms, turn_now_ms(h->t) + 3600 * 1000ULL);
	turn_alloc_refresh(h->t, a, 700);
	assert_int_equal(a->expires_ms, turn_now_ms(h->t) + 700 * 1000ULL);
	h_free(h);
}

/* RFC 8656 §12: a channel lasts 600 s; after expiry its number and peer are held for 5 minutes
 * against other bindings, the same pair may be bound again, and then both are free. */
static void test_channel_expires_after_600_seconds_and_is_held_5_minutes(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:43002", NULL);
	struct nts_addr p1, p2;
	struct turn_alloc *a;
	uint64_t t0;
	uint32_t lifetime = 3600;

	h_allocate(h, &o);
	a = turn_alloc_find(h->t, &o);
	turn_alloc_refresh(h->t, a, lifetime); /* only the channel is to expire here */
	h_addr(&p1, "127.0.0.7:5000");
	h_addr(&p2, "127.0.0.8:5000");
	t0 = h_base(h);
	assert_int_equal(h_channel_bind(h, &o, 0x4000, &p1), 0);
	turn_tick(h->t, t0 + (TURN_CHANNEL_LIFETIME - 1) * 1000ULL);
	assert_int_equal(h->stats.channels_current, 1);
	turn_tick(h->t, t0 + (TURN_CHANNEL_LIFETIME + 1) * 1000ULL);
	assert_int_equal(h->stats.channels_current, 0);
	assert_true(h_find_ev(h, "channel_del", 0) >= 0);
	/* Held: neither the number for another peer nor the peer for another number. */
	assert_int_equal(h_channel_bind(h, &o, 0x4000, &p2), 400);
	assert_int_equal(h_channel_bind(h, &o, 0x4001, &p1), 400);
	/* After the hold both are free. */
	turn_tick(h->t, t0 + (TURN_CHANNEL_LIFETIME + TURN_CHANNEL_COOLDOWN + 2) * 1000ULL);
	assert_null(turn_chan_find_num(h->t, a, 0x4000));
	assert_int_equal(h_channel_bind(h, &o, 0x4000, &p2), 0);
	assert_int_equal(h_channel_bind(h, &o, 0x4001, &p1), 0);
	assert_int_equal(h->stats.channels_current, 2);
	h_free(h);
}

/* RFC 8656 §12.4/§9: past the permission's 300 s a bound channel still carries client data to the
 * peer, but the peer's answers need the permission (a client refreshes it with ChannelBind). */
static void test_channel_without_permission_relays_only_towards_the_peer(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:43007", NULL);
	struct nts_addr relay = h_allocate(h, &o), peer_addr;
	int peer = h_peer_socket(&peer_addr);
	uint8_t buf[64];
	uint64_t t0 = h_base(h);
	unsigned before;

	assert_int_equal(h_channel_bind(h, &o, 0x4000, &peer_addr), 0);
	turn_tick(h->t, t0 + (TURN_PERM_LIFETIME + 1) * 1000ULL);
	assert_int_equal(h->stats.permissions_current, 0);
	assert_int_equal(h->stats.channels_current, 1);
	turn_handle_channeldata(h->t, &o, 0x4000, (const uint8_t *)"ping", 4);
	turn_relay_flush(h->t);
	assert_int_equal(h_recv(peer, buf, sizeof(buf), NULL), 4);
	before = h->ncap;
	h_sendto(peer, &relay, "pong", 4);
	h_relay_readable(h, &relay);
	assert_int_equal(h->ncap, before);
	assert_int_equal(h->stats.peer_dropped_no_permission, 1);
	close(peer);
	h_free(h);
}

/* RFC 8656 §12: rebinding the same pair while it is held revives it. */
static void test_held_channel_can_be_rebound_to_the_same_peer(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:43003", NULL);
	struct nts_addr p1;
	struct turn_alloc *a;
	uint64_t t0;

	h_allocate(h, &o);
	a = turn_alloc_find(h->t, &o);
	turn_alloc_refresh(h->t, a, 3600);
	h_addr(&p1, "127.0.0.7:5000");
	t0 = h_base(h);
	assert_int_equal(h_channel_bind(h, &o, 0x4000, &p1), 0);
	turn_tick(h->t, t0 + (TURN_CHANNEL_LIFETIME + 1) * 1000ULL);
	assert_int_equal(h->stats.channels_current, 0);
	assert_int_equal(h_channel_bind(h, &o, 0x4000, &p1), 0);
	assert_int_equal(h->stats.channels_current, 1);
	assert_false(turn_chan_find_num(h->t, a, 0x4000)->cooling);
	/* And it lives its full lifetime again (not cut by the old hold timer). */
	turn_tick(h->t, t0 + (TURN_CHANNEL_LIFETIME + TURN_CHANNEL_COOLDOWN + 2) * 1000ULL);
	assert_int_equal(h->stats.channels_current, 1);
	h_free(h);
}

/* RFC 8656 §7: an allocation not refreshed expires with everything it holds. */
static void test_allocation_expires_with_its_permissions_and_channels(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:43004", NULL);
	struct nts_addr relay = h_allocate(h, &o), p1;
	uint64_t t0 = h_base(h), id = turn_alloc_find(h->t, &o)->id;
	int ev;

	h_addr(&p1, "127.0.0.7:5000");
	assert_int_equal(h_channel_bind(h, &o, 0x4000, &p1), 0);
	turn_tick(h->t, t0 + 599 * 1000ULL);
	assert_non_null(turn_alloc_find(h->t, &o));
	turn_tick(h->t, t0 + 601 * 1000ULL);
	assert_null(turn_alloc_find(h->t, &o));
	assert_null(turn_alloc_find_by_relay(h->t, &relay));
	assert_int_equal(h->stats.allocations_expired, 1);
	assert_int_equal(h->stats.allocations_current, 0);
	assert_int_equal(h->stats.channels_current, 0);
	assert_int_equal(h->stats.permissions_current, 0);
	ev = h_find_ev(h, "alloc_del", 0);
	assert_true(ev >= 0);
	assert_int_equal(h->ev[ev].alloc_id, id);
	assert_true(h_find_ev(h, "channel_del", 0) >= 0);
	assert_true(h_find_ev(h, "perm_del", 0) >= 0);
	h_free(h);
}

static void h_add_lifetime(struct stun_builder *b, const void *arg)
{
	stun_put_u32(b, STUN_ATTR_LIFETIME, *(const uint32_t *)arg);
}

/* RFC 8656 §8: a Refresh pushes expiry back. */
static void test_refresh_postpones_expiry(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:43005", NULL);
	uint64_t t0;
	uint32_t want = 600;

	h_allocate(h, &o);
	t0 = h_base(h);
	turn_tick(h->t, t0 + 500 * 1000ULL);
	assert_int_equal(h_request(h, &o, TURN_REFRESH, h_add_lifetime, &want), 0);
	turn_tick(h->t, t0 + 700 * 1000ULL);
	assert_non_null(turn_alloc_find(h->t, &o));
	turn_tick(h->t, t0 + 1102 * 1000ULL);
	assert_null(turn_alloc_find(h->t, &o));
	h_free(h);
}

/* Many allocations with permissions and channels (the tables grow past their first size) all
 * expire on the wheel and leave every table empty. */
static void test_many_allocations_expire_and_leave_nothing_behind(void **state)
{
	struct harness *h = h_new(true);
	struct nts_addr peer;
	char src[32];
	uint64_t t0 = h_base(h);
	const unsigned n = 90; /* within the harness's 100 relay ports */

	h->cfg.max_allocations_per_user = 1000;
	for (unsigned i = 0; i < n; i++) {
		struct nts_origin o;

		snprintf(src, sizeof(src), "127.0.%u.%u:%u", i / 200, i % 200 + 1, 44000 + i);
		o = h_origin(src, NULL);
		h_allocate(h, &o);
		snprintf(src, sizeof(src), "127.1.0.%u:%u", i % 250 + 1, 6000 + i);
		h_addr(&peer, src);
		assert_int_equal(h_channel_bind(h, &o, (uint16_t)(0x4000 + i), &peer), 0);
	}
	assert_int_equal(h->stats.allocations_current, n);
	assert_int_equal(h->stats.channels_current, n);
	assert_int_equal(h->t->by_5tuple.n, n);
	assert_true(h->t->by_5tuple.mask + 1 >= n);
	turn_tick(h->t, t0 + 601 * 1000ULL);
	assert_int_equal(h->stats.allocations_current, 0);
	assert_int_equal(h->stats.allocations_expired, n);
	assert_int_equal(h->stats.channels_current, 0);
	assert_int_equal(h->stats.permissions_current, 0);
	assert_int_equal(h->t->by_5tuple.n, 0);
	assert_int_equal(h->t->by_relay.n, 0);
	assert_int_equal(h->t->by_id.n, 0);
	assert_int_equal(h->t->perms.n, 0);
	assert_int_equal(h->t->chan_num.n, 0);
	assert_int_equal(h->t->chan_peer.n, 0);
	assert_int_equal(h->t->users.n, 0);
	h_free(h);
}

/* The wheel fires each timer once, in the first tick at or after its second, never early, also
 * across big jumps and when re-armed or cancelled. */
struct h_fired {
	unsigned n;
	struct turn_timer *last;
};
static void h_fire(void *arg, struct turn_timer *tm)
{
	struct h_fired *f = arg;

	f->n++;
	f->last = tm;
}

static void test_timer_wheel_fires_once_never_early(void **state)
{
	struct turn_wheel *w = calloc(1, sizeof(*w));
	struct turn_timer a = {0}, b = {0}, c = {0};
	struct h_fired f = {0};

	turn_wheel_init(w, 1000000);
	turn_timer_arm(w, &a, 1000000 + 5500);		 /* due at second 1006 */
	turn_timer_arm(w, &b, 1000000 + 3000 * 1000ULL); /* far: 3000 s */
	turn_timer_arm(w, &c, 1000000 + 10 * 1000ULL);
	turn_timer_cancel(&c);
	turn_wheel_advance(w, 1000000 + 5000, h_fire, &f);
	assert_int_equal(f.n, 0);
	turn_wheel_advance(w, 1000000 + 6000, h_fire, &f);
	assert_int_equal(f.n, 1);
	assert_ptr_equal(f.last, &a);
	turn_wheel_advance(w, 1000000 + 2999 * 1000ULL, h_fire, &f);
	assert_int_equal(f.n, 1);
	turn_timer_arm(w, &b, 1000000 + 9000 * 1000ULL); /* re-armed beyond one lap */
	turn_wheel_advance(w, 1000000 + 5000 * 1000ULL, h_fire, &f);
	assert_int_equal(f.n, 1);
	turn_wheel_advance(w, 1000000 + 9001 * 1000ULL, h_fire, &f);
	assert_int_equal(f.n, 2);
	assert_ptr_equal(f.last, &b);
	turn_wheel_advance(w, 1000000 + 20000 * 1000ULL, h_fire, &f);
	assert_int_equal(f.n, 2);
	free(w);
}

static int h_collect_perm(void *arg, const struct turn_perm_info *p)
{
	unsigned *counts = arg;

	counts[p->channel ? 1 : 0]++;
	return 0;
}

/* turn_replay_hooks() sends every live permission and channel again; foreach_perm lists them. */
static void test_replay_hooks_and_foreach_perm_cover_live_state(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:43006", NULL);
	struct nts_addr p1, p2;
	unsigned counts[2] = {0}, from;
	struct turn_alloc *a;

	h_allocate(h, &o);
	a = turn_alloc_find(h->t, &o);
	h_addr(&p1, "127.0.0.7:5000");
	h_addr(&p2, "127.0.0.8:5000");
	assert_int_equal(h_channel_bind(h, &o, 0x4000, &p1), 0);
	assert_int_equal(h_permit(h, &o, "127.0.0.8:0"), 0);
	from = h->nev;
	turn_replay_hooks(h->t);
	assert_int_equal(h->nev - from, 3); /* two permissions, one channel */
	assert_true(h_find_ev(h, "channel_set", from) >= 0);
	assert_int_equal(turn_foreach_perm(h->t, a->id, h_collect_perm, counts), 0);
	assert_int_equal(counts[0], 2);
	assert_int_equal(counts[1], 1);
	assert_int_equal(turn_foreach_perm(h->t, a->id + 100, h_collect_perm, counts), -ENOENT);
	h_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_refresh_beyond_the_maximum_lifetime_is_clamped),
	    cmocka_unit_test(test_permission_expires_after_300_seconds),
	    cmocka_unit_test(test_channel_expires_after_600_seconds_and_is_held_5_minutes),
	    cmocka_unit_test(test_channel_without_permission_relays_only_towards_the_peer),
	    cmocka_unit_test(test_held_channel_can_be_rebound_to_the_same_peer),
	    cmocka_unit_test(test_allocation_expires_with_its_permissions_and_channels),
	    cmocka_unit_test(test_refresh_postpones_expiry),
	    cmocka_unit_test(test_many_allocations_expire_and_leave_nothing_behind),
	    cmocka_unit_test(test_timer_wheel_fires_once_never_early),
	    cmocka_unit_test(test_replay_hooks_and_foreach_perm_cover_live_state),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
