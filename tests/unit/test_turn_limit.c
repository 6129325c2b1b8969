/* Bandwidth limits: the token bucket both relay paths run (include/nts/bucket.h: a full bucket
 * holds 100 ms of the rate, a datagram passes while the bucket is not empty), and the userspace
 * relay's use of it (user/turn/limit.c): per allocation (--max-bps-per-allocation,
 * --max-pps-per-allocation) and per account (ntsctl account set --max-bps), each direction on its
 * own, over-limit datagrams dropped and counted, account changes mirrored to the fast path.
 */
#include "test_turn_harness.h"

#define MS 1000000ull /* ns */
#define T0 (1000 * MS)
#define UNIT NTS_BUCKET_UNIT
#define SID_A "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

/* --- the bucket --- */

/* Unused, a bucket is full: 100 ms of 10000 B/s = 1000 bytes pass at once, then nothing. */
static void test_bucket_starts_full_with_100ms_of_its_rate(void **state)
{
	struct nts_bucket b = {0};
	unsigned passed = 0;

	for (int i = 0; i < 20; i++)
		passed += nts_bucket_take(&b, T0, 10000, 0, 100);
	assert_int_equal(passed, 10);
	assert_int_equal(b.bytes, 0);
}

/* Empty, it lets the rate through: 10000 B/s is 100 bytes every 10 ms. */
static void test_bucket_refills_at_its_rate(void **state)
{
	struct nts_bucket b = {0};
	unsigned passed = 0;

	while (nts_bucket_take(&b, T0, 10000, 0, 100))
		;
	/* One second in 1 ms steps, a 100-byte datagram offered at each: 10000 bytes pass. */
	for (uint64_t t = 1; t <= 1000; t++)
		passed += nts_bucket_take(&b, T0 + t * MS, 10000, 0, 100);
	assert_int_equal(passed, 100);
}

/* A refused datagram takes nothing: the next one that fits still passes. */
static void test_bucket_refusal_takes_no_tokens(void **state)
{
	struct nts_bucket b = {0};

	assert_true(nts_bucket_take(&b, T0, 10000, 0, 1000)); /* empties it */
	assert_false(nts_bucket_take(&b, T0, 10000, 0, 100));
	assert_int_equal(b.bytes, 0);
	assert_true(nts_bucket_take(&b, T0 + 1 * MS, 10000, 0, 100)); /* 10 bytes came back */
	assert_int_equal(b.bytes, (10 - 100) * UNIT);
}

/* A datagram larger than the whole burst passes once the bucket is full; its debt holds the
 * following ones back, so the rate still holds. */
static void test_bucket_datagram_larger_than_burst_passes_and_owes(void **state)
{
	struct nts_bucket b = {0};

	assert_true(nts_bucket_take(&b, T0, 1000, 0, 1200)); /* burst: 100 bytes */
	assert_int_equal(b.bytes, (100 - 1200) * UNIT);
	assert_false(nts_bucket_take(&b, T0 + 1000 * MS, 1000, 0, 1200)); /* -100 after 1 s */
	assert_true(nts_bucket_take(&b, T0 + 1101 * MS, 1000, 0, 1200));
}

/* The packet rate: 50 pps holds 5 datagrams, then one every 20 ms, whatever their size (the first
 * one as soon as the bucket is no longer empty; it owes the rest of its 20 ms). */
static void test_bucket_packet_rate(void **state)
{
	struct nts_bucket b = {0};
	unsigned passed = 0;

	for (int i = 0; i < 10; i++)
		passed += nts_bucket_take(&b, T0, 0, 50, 60000);
	assert_int_equal(passed, 5);
	assert_true(nts_bucket_take(&b, T0 + 1 * MS, 0, 50, 1));
	assert_false(nts_bucket_take(&b, T0 + 20 * MS, 0, 50, 1));
	assert_true(nts_bucket_take(&b, T0 + 21 * MS, 0, 50, 1));
}

/* Both limits: a datagram needs tokens of each kind. */
static void test_bucket_bytes_and_packets_both_hold(void **state)
{
	struct nts_bucket b = {0};
	unsigned passed = 0;

	/* 1000 B/s and 1000 pps: the bytes (100 per burst) run out first with 50-byte datagrams. */
	for (int i = 0; i < 10; i++)
		passed += nts_bucket_take(&b, T0, 1000, 1000, 50);
	assert_int_equal(passed, 2);
	b = (struct nts_bucket){0};
	passed = 0;
	/* 100000 B/s and 20 pps: the packets (2 per burst) run out first. */
	for (int i = 0; i < 10; i++)
		passed += nts_bucket_take(&b, T0, 100000, 20, 50);
	assert_int_equal(passed, 2);
}

/* However long it sat idle, a bucket holds no more than one burst. */
static void test_bucket_never_holds_more_than_one_burst(void **state)
{
	struct nts_bucket b = {0};
	unsigned passed = 0;

	assert_true(nts_bucket_take(&b, T0, 10000, 0, 100));
	for (int i = 0; i < 30; i++)
		passed += nts_bucket_take(&b, T0 + 3600000 * MS, 10000, 0, 100);
	assert_int_equal(passed, 10);
}

/* A clock that does not move forward adds nothing (and never takes the bucket back in time). */
static void test_bucket_clock_going_back_adds_nothing(void **state)
{
	struct nts_bucket b = {0};

	while (nts_bucket_take(&b, T0, 10000, 0, 100))
		;
	assert_false(nts_bucket_take(&b, T0 - 50 * MS, 10000, 0, 100));
	assert_int_equal(b.at_ns, T0);
	assert_true(nts_bucket_take(&b, T0 + 10 * MS, 10000, 0, 100));
}

/* What a refused datagram took from another bucket goes back, up to a full bucket. */
static void test_bucket_give_returns_tokens_up_to_full(void **state)
{
	struct nts_bucket b = {0};

	assert_true(nts_bucket_take(&b, T0, 10000, 10, 300));
	nts_bucket_give(&b, 10000, 10, 300);
	assert_int_equal(b.bytes, 1000 * UNIT);
	assert_int_equal(b.packets, 1 * UNIT);
	nts_bucket_give(&b, 10000, 10, 300);
	assert_int_equal(b.bytes, 1000 * UNIT);
	assert_int_equal(b.packets, 1 * UNIT);
}

/* Rates above NTS_BUCKET_RATE_MAX count as it: no overflow, still a limit. */
static void test_bucket_huge_rate_is_capped_not_overflowed(void **state)
{
	struct nts_bucket b = {0};

	assert_true(nts_bucket_take(&b, T0, UINT64_MAX, UINT64_MAX, 65535));
	assert_int_equal(b.bytes,
			 (int64_t)(NTS_BUCKET_RATE_MAX * NTS_BUCKET_BURST_NS) - 65535 * UNIT);
	assert_true(b.packets > 0);
}

/* --- the userspace relay --- */

struct limit_ev {
	uint64_t alloc_id;
	struct turn_limits l;
};
static struct limit_ev limit_evs[16];
static unsigned nlimit_evs, naccount_dels;
static uint64_t account_del_id;

static void h_hook_limits(void *arg, uint64_t id, const struct turn_limits *l)
{
	if (nlimit_evs < 16)
		limit_evs[nlimit_evs++] = (struct limit_ev){id, *l};
}

static void h_hook_account_del(void *arg, uint64_t account)
{
	naccount_dels++;
	account_del_id = account;
}

static const struct turn_hooks limit_hooks = {
    .limits_set = h_hook_limits,
    .account_del = h_hook_account_del,
};

static struct harness *h_new_limited(uint32_t bps, uint32_t pps)
{
	struct harness *h = calloc(1, sizeof(*h));

	assert_non_null(h);
	h_config(&h->cfg, true);
	h->cfg.max_bps_per_allocation = bps;
	h->cfg.max_pps_per_allocation = pps;
	h_start(h);
	turn_set_hooks(h->t, &limit_hooks, h);
	nlimit_evs = naccount_dels = 0;
	return h;
}

/* Datagrams the peer socket has waiting (each sent by the relay's flush). */
static unsigned h_drain(int fd)
{
	uint8_t buf[2048];
	unsigned n = 0;

	while (!h_nothing(fd) && recv(fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		n++;
	return n;
}

/* Client -> peer over --max-bps-per-allocation 1000 (100-byte burst): of five 100-byte
 * ChannelData messages one reaches the peer; the four others are counted; 100 ms later one more
 * fits. */
static void test_channeldata_over_allocation_bps_is_dropped_and_counted(void **state)
{
	struct harness *h = h_new_limited(1000, 0);
	struct nts_origin o = h_origin("127.0.0.1:42301", NULL);
	struct nts_addr peer_addr;
	int peer = h_peer_socket(&peer_addr);
	uint8_t data[100];
	struct turn_alloc *a;

	memset(data, 'x', sizeof(data));
	h_allocate(h, &o);
	a = turn_alloc_find(h->t, &o);
	assert_int_equal(h_channel_bind(h, &o, 0x4001, &peer_addr), 0);
	for (int i = 0; i < 5; i++)
		turn_handle_channeldata(h->t, &o, 0x4001, data, sizeof(data));
	turn_relay_flush(h->t);
	assert_int_equal(h_drain(peer), 1);
	assert_int_equal(a->c2p_packets, 1);
	assert_int_equal(h->stats.user_c2p_rate_limited, 4);
	assert_int_equal(h->stats.user_p2c_rate_limited, 0);
	turn_tick(h->t, turn_now_ms(h->t) + 100);
	turn_handle_channeldata(h->t, &o, 0x4001, data, sizeof(data));
	turn_relay_flush(h->t);
	assert_int_equal(h_drain(peer), 1);
	close(peer);
	h_free(h);
}

/* Peer -> client over --max-pps-per-allocation 10 (a burst of one datagram): of five datagrams one
 * reaches the client as ChannelData; the other direction has a bucket of its own. */
static void test_peer_datagrams_over_allocation_pps_are_dropped_and_counted(void **state)
{
	struct harness *h = h_new_limited(0, 10);
	struct nts_origin o = h_origin("127.0.0.1:42302", NULL);
	struct nts_addr relay = h_allocate(h, &o), peer_addr;
	int peer = h_peer_socket(&peer_addr);
	unsigned before;

	assert_int_equal(h_channel_bind(h, &o, 0x4001, &peer_addr), 0);
	before = h->ncap;
	for (int i = 0; i < 5; i++)
		h_sendto(peer, &relay, "hello", 5);
	h_relay_readable(h, &relay);
	assert_int_equal(h->ncap, before + 1);
	assert_int_equal(h->stats.user_p2c_rate_limited, 4);
	/* Client -> peer still has its own datagram. */
	turn_handle_channeldata(h->t, &o, 0x4001, (const uint8_t *)"hi", 2);
	turn_relay_flush(h->t);
	assert_int_equal(h_drain(peer), 1);
	assert_int_equal(h->stats.user_c2p_rate_limited, 0);
	close(peer);
	h_free(h);
}

/* A Send indication (RFC 8656 §10.2) is client data too: the same bucket. */
static void test_send_indication_over_limit_is_dropped(void **state)
{
	struct harness *h = h_new_limited(0, 10);
	struct nts_origin o = h_origin("127.0.0.1:42303", NULL);
	struct nts_addr relay = h_allocate(h, &o), peer_addr;
	int peer = h_peer_socket(&peer_addr);
	struct turn_alloc *a = turn_alloc_find(h->t, &o);

	(void)relay;
	assert_int_equal(h_permit(h, &o, "127.0.0.1"), 0);
	for (int i = 0; i < 3; i++)
		turn_relay_send_indication(h->t, a, turn_alloc_relay(a, AF_INET), &peer_addr,
					   (const uint8_t *)"data", 4);
	turn_relay_flush(h->t);
	assert_int_equal(h_drain(peer), 1);
	assert_int_equal(h->stats.user_c2p_rate_limited, 2);
	close(peer);
	h_free(h);
}

/* Ephemeral credentials of account sid. */
static void h_token(struct harness *h, const char *sid, unsigned n, char *user, char *pass)
{
	assert_int_equal(auth_make_ephemeral(h->auth, sid, turn_unix_now() + 3600 + n, user,
					     AUTH_MAX_USERNAME, pass, 64),
			 0);
}

/* The account's --max-bps is shared by all its allocations: one allocation's traffic empties it
 * for the other; an allocation's own bucket gets back what the account refused. Setting it
 * mirrors the limits of the live allocations to the fast path at once. */
static void test_account_bps_is_shared_by_its_allocations(void **state)
{
	struct harness *h = h_new_limited(0, 0);
	struct nts_origin o1 = h_origin("127.0.0.1:42304", NULL),
			  o2 = h_origin("127.0.0.1:42305", NULL);
	char user[2][AUTH_MAX_USERNAME], pass[2][64];
	struct h_creds c1, c2;
	struct nts_addr peer_addr;
	int peer = h_peer_socket(&peer_addr);
	struct turn_account_policy p = {.state = TURN_ACCOUNT_ACTIVE, .max_bps = 1000};
	uint8_t data[100];
	struct turn_alloc *a1, *a2;

	memset(data, 'y', sizeof(data));
	h_token(h, SID_A, 0, user[0], pass[0]);
	h_token(h, SID_A, 1, user[1], pass[1]);
	c1 = (struct h_creds){user[0], pass[0]};
	c2 = (struct h_creds){user[1], pass[1]};
	assert_int_equal(h_request_tid(h, &o1, TURN_ALLOCATE, NULL, h_add_udp, NULL, &c1), 0);
	assert_int_equal(h_request_tid(h, &o2, TURN_ALLOCATE, NULL, h_add_udp, NULL, &c2), 0);
	a1 = turn_alloc_find(h->t, &o1);
	a2 = turn_alloc_find(h->t, &o2);
	assert_int_equal(h_request_tid(h, &o1, TURN_CHANNEL_BIND, NULL, h_add_bind,
				       &(struct h_bind){.channel = 0x4001, .peer = peer_addr}, &c1),
			 0);
	assert_int_equal(h_request_tid(h, &o2, TURN_CHANNEL_BIND, NULL, h_add_bind,
				       &(struct h_bind){.channel = 0x4001, .peer = peer_addr}, &c2),
			 0);
	assert_int_equal(turn_account_set(h->t, SID_A, &p), 0);
	assert_int_equal(nlimit_evs, 2);
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(limit_evs[i].l.account_bps, 1000);
		assert_int_not_equal(limit_evs[i].l.account, 0);
		assert_int_equal(limit_evs[i].l.account, limit_evs[0].l.account);
		assert_int_equal(limit_evs[i].l.bps, 0);
	}
	turn_handle_channeldata(h->t, &o1, 0x4001, data, sizeof(data));
	turn_handle_channeldata(h->t, &o2, 0x4001, data, sizeof(data));
	turn_relay_flush(h->t);
	assert_int_equal(h_drain(peer), 1);
	assert_int_equal(a1->c2p_packets + a2->c2p_packets, 1);
	assert_int_equal(h->stats.user_c2p_rate_limited, 1);
	/* Back to no limit: the allocations are told, the account's kernel bucket goes. */
	p.max_bps = 0;
	assert_int_equal(turn_account_set(h->t, SID_A, &p), 0);
	assert_int_equal(nlimit_evs, 4);
	assert_int_equal(limit_evs[3].l.account, 0);
	assert_int_equal(naccount_dels, 1);
	assert_int_equal(account_del_id, limit_evs[0].l.account);
	turn_handle_channeldata(h->t, &o2, 0x4001, data, sizeof(data));
	turn_relay_flush(h->t);
	assert_int_equal(h_drain(peer), 1);
	close(peer);
	h_free(h);
}

/* Relay workers: an account's --max-bps is one bucket over every worker. At 1000 B/s (a 100-byte
 * burst) ten 10-byte datagrams through each of two workers: the first worker's empty the bucket,
 * and the second's get only what refilled in the gap between the two loops' clocks (one bucket per
 * worker would pass all twenty). */
static void test_account_bps_is_shared_over_workers(void **state)
{
	struct turn_shared *s = turn_shared_create();
	struct harness *h[2];
	struct nts_origin o[2] = {h_origin("127.0.0.1:42314", NULL),
				  h_origin("127.0.0.1:42315", NULL)};
	char user[2][AUTH_MAX_USERNAME], pass[2][64];
	struct nts_addr peer_addr;
	int peer = h_peer_socket(&peer_addr);
	struct turn_account_policy p = {.state = TURN_ACCOUNT_ACTIVE, .max_bps = 1000};
	uint8_t data[10];
	unsigned passed;
	uint64_t gap;

	memset(data, 'w', sizeof(data));
	for (unsigned i = 0; i < 2; i++) {
		struct h_creds c = {user[i], pass[i]};

		h[i] = h_new_limited(0, 0);
		turn_set_worker(h[i]->t, s, i, 2);
		h_token(h[i], SID_A, i, user[i], pass[i]);
		assert_int_equal(
		    h_request_tid(h[i], &o[i], TURN_ALLOCATE, NULL, h_add_udp, NULL, &c), 0);
		assert_int_equal(
		    h_request_tid(h[i], &o[i], TURN_CHANNEL_BIND, NULL, h_add_bind,
				  &(struct h_bind){.channel = 0x4001, .peer = peer_addr}, &c),
		    0);
	}
	for (unsigned i = 0; i < 2; i++)
		assert_int_equal(turn_account_set(h[i]->t, SID_A, &p), 0);
	for (unsigned i = 0; i < 2; i++) {
		for (unsigned k = 0; k < 10; k++)
			turn_handle_channeldata(h[i]->t, &o[i], 0x4001, data, sizeof(data));
		turn_relay_flush(h[i]->t);
	}
	gap = turn_now_ms(h[1]->t) - turn_now_ms(h[0]->t); /* ms: that many bytes refilled */
	passed = h_drain(peer);
	assert_true(gap < 50);
	assert_true(passed >= 10 && passed <= 10 + (gap + 9) / 10);
	assert_int_equal(h[0]->stats.user_c2p_rate_limited + h[1]->stats.user_c2p_rate_limited,
			 20 - passed);
	close(peer);
	for (unsigned i = 0; i < 2; i++)
		h_free(h[i]);
	turn_shared_destroy(s);
}

/* turn_alloc_limits: what the fast path writes before it mirrors a channel. */
static void test_alloc_limits_reports_configured_limits(void **state)
{
	struct harness *h = h_new_limited(125000, 50);
	struct nts_origin o = h_origin("127.0.0.1:42306", NULL);
	struct turn_limits l;

	h_allocate(h, &o);
	assert_int_equal(turn_alloc_limits(h->t, turn_alloc_find(h->t, &o)->id, &l), 0);
	assert_int_equal(l.bps, 125000);
	assert_int_equal(l.pps, 50);
	assert_int_equal(l.account, 0); /* a static user: no account */
	assert_int_equal(turn_alloc_limits(h->t, 999999, &l), -ENOENT);
	h_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bucket_starts_full_with_100ms_of_its_rate),
	    cmocka_unit_test(test_bucket_refills_at_its_rate),
	    cmocka_unit_test(test_bucket_refusal_takes_no_tokens),
	    cmocka_unit_test(test_bucket_datagram_larger_than_burst_passes_and_owes),
	    cmocka_unit_test(test_bucket_packet_rate),
	    cmocka_unit_test(test_bucket_bytes_and_packets_both_hold),
	    cmocka_unit_test(test_bucket_never_holds_more_than_one_burst),
	    cmocka_unit_test(test_bucket_clock_going_back_adds_nothing),
	    cmocka_unit_test(test_bucket_give_returns_tokens_up_to_full),
	    cmocka_unit_test(test_bucket_huge_rate_is_capped_not_overflowed),
	    cmocka_unit_test(test_channeldata_over_allocation_bps_is_dropped_and_counted),
	    cmocka_unit_test(test_peer_datagrams_over_allocation_pps_are_dropped_and_counted),
	    cmocka_unit_test(test_send_indication_over_limit_is_dropped),
	    cmocka_unit_test(test_account_bps_is_shared_by_its_allocations),
	    cmocka_unit_test(test_account_bps_is_shared_over_workers),
	    cmocka_unit_test(test_alloc_limits_reports_configured_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
