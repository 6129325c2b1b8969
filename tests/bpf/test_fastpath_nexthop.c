/* The next hop cached in the fast path's entries (struct nts_fp_nexthop): what bpf_fib_lookup
 * answered goes into the entry, the MTU is still checked per packet, a stale answer is looked up
 * again, and ntsd rewriting an entry forgets it.
 */
#include "fp_fixture.h"

static struct nts_fp_peer_val peer_val(struct fx *fx, const struct net *n)
{
	struct nts_fp_peer_key k = fp_peer_key(n, n->peer, RELAY_PORT, PEER_PORT);
	struct nts_fp_peer_val v;

	assert_int_equal(bpf_map_lookup_elem(fastpath_fds(fx->fp)->peer, &k, &v), 0);
	return v;
}

/* The first forwarded packet fills the cache; a later one over the MTU still passes. */
static void cache_keeps_mtu_check(const struct net *n, void **state)
{
	struct fx *fx = *state;
	static uint8_t big[1500];
	struct fp_spec s = {0};
	struct fp_frame in, out;
	struct nts_fp_peer_val v;

	bind_channel(fx, n, n->peer, now_ns() + FAR);
	assert_int_equal(peer_val(fx, n).nh.at_ns, 0);
	peer_frame(&in, n, n->peer, &s);
	assert_int_equal(run(fx, &in, &out), XDP_TX);
	v = peer_val(fx, n);
	assert_true(v.nh.at_ns > 0);
	assert_int_equal(v.nh.ifindex, fx->if_a);
	assert_int_equal(v.nh.ingress, fx->if_a);
	assert_int_equal(v.nh.mtu, 1500);
	assert_memory_equal(v.nh.dmac, CLIENT_MAC, 6);
	s = (struct fp_spec){.payload = big, .payload_len = 1500 - (n->v6 ? 40 : 20) - 8};
	peer_frame(&in, n, n->peer, &s);
	assert_passed(fx, &in);
	assert_int_equal(stats(fx).pass_too_big, 1);
	s = (struct fp_spec){0};
	peer_frame(&in, n, n->peer, &s);
	assert_int_equal(run(fx, &in, &out), XDP_TX);
	assert_int_equal(stats(fx).p2c_packets, 2);
}

static void test_ipv4_cached_next_hop_still_checks_mtu(void **state)
{
	cache_keeps_mtu_check(&net4, state);
}

static void test_ipv6_cached_next_hop_still_checks_mtu(void **state)
{
	cache_keeps_mtu_check(&net6, state);
}

/* An answer older than NTS_FP_NEXTHOP_TTL_NS is not used: the neighbour is looked up again. */
static void test_stale_next_hop_is_looked_up_again(void **state)
{
	struct fx *fx = *state;
	struct nts_fp_peer_key k = fp_peer_key(&net4, net4.peer, RELAY_PORT, PEER_PORT);
	struct fp_spec s = {0};
	struct fp_frame in, out;
	struct nts_fp_peer_val v;
	uint8_t cd[256];
	size_t cdlen = fp_channeldata(cd, CHANNEL, data, DLEN, 0);

	bind_channel(fx, &net4, net4.peer, now_ns() + FAR);
	peer_frame(&in, &net4, net4.peer, &s);
	assert_int_equal(run(fx, &in, &out), XDP_TX);
	v = peer_val(fx, &net4);
	v.nh.at_ns = 1; /* long ago */
	memcpy(v.nh.dmac, "\x02\xee\xee\xee\xee\xee", 6);
	v.nh.mtu = 100;
	assert_int_equal(bpf_map_update_elem(fastpath_fds(fx->fp)->peer, &k, &v, BPF_EXIST), 0);
	fastpath_cache_flush(fx->fp);
	assert_int_equal(run(fx, &in, &out), XDP_TX);
	check_out(&out, false, net4.server, net4.client, SERVER_PORT, CLIENT_PORT, cd, cdlen,
		  CLIENT_MAC, 0, false);
	v = peer_val(fx, &net4);
	assert_memory_equal(v.nh.dmac, CLIENT_MAC, 6);
	assert_int_equal(v.nh.mtu, 1500);
}

/* ntsd refreshing a channel writes the entry anew, without a next hop. */
static void test_rewritten_entry_forgets_next_hop(void **state)
{
	struct fx *fx = *state;
	struct fp_spec s = {0};
	struct fp_frame in, out;

	bind_channel(fx, &net6, net6.peer, now_ns() + FAR);
	peer_frame(&in, &net6, net6.peer, &s);
	assert_int_equal(run(fx, &in, &out), XDP_TX);
	assert_true(peer_val(fx, &net6).nh.at_ns > 0);
	bind_channel(fx, &net6, net6.peer, now_ns() + FAR);
	assert_int_equal(peer_val(fx, &net6).nh.at_ns, 0);
	/* The client side has its own cache: filled by its first packet, used by the next. */
	s = (struct fp_spec){0};
	client_frame(&in, &net6, CHANNEL, 0, &s);
	assert_int_equal(run(fx, &in, &out), XDP_TX);
	assert_int_equal(run(fx, &in, &out), XDP_TX);
	check_out(&out, true, net6.server, net6.peer, RELAY_PORT, PEER_PORT, data, DLEN, PEER_MAC,
		  0, false);
	assert_int_equal(stats(fx).c2p_packets, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(t) cmocka_unit_test_setup(t, setup)
	    T(test_ipv4_cached_next_hop_still_checks_mtu),
	    T(test_ipv6_cached_next_hop_still_checks_mtu),
	    T(test_stale_next_hop_is_looked_up_again),
	    T(test_rewritten_entry_forgets_next_hop),
#undef T
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
