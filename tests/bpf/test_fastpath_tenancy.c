/* The fast path's maps stay per tenant: a delete removes only the entries of the allocation that
 * asks (another may own the key by now), entries an earlier ntsd left are checked against the
 * current peer policy, a flush removes every entry, and a packet rewritten for a redirect that
 * fails is dropped and counted, never passed up the stack.
 */
#include "fp_fixture.h"

#define OTHER_ALLOC 8 /* a second allocation that took the first one's keys */

static struct nts_fp_perm_key perm_key(const struct net *n, const char *peer)
{
	struct nts_addr r = addr(n->server, RELAY_PORT), p = addr(peer, 0);
	struct nts_fp_perm_key k = {0};

	fastpath_ip_from_addr(&k.relay_ip, &r);
	fastpath_ip_from_addr(&k.peer_ip, &p);
	k.relay_port = RELAY_PORT;
	return k;
}

/* Binds CHANNEL for allocation id (as bind_channel does for ALLOC). */
static void bind_channel_as(struct fastpath *fp, uint64_t id, const struct net *n, const char *peer)
{
	struct nts_addr c = addr(n->client, CLIENT_PORT), s = addr(n->server, SERVER_PORT),
			r = addr(n->server, RELAY_PORT), p = addr(peer, PEER_PORT);

	assert_int_equal(fastpath_channel_set(fp, id, &c, &s, &r, &p, CHANNEL, now_ns() + FAR), 0);
}

static bool has_client(struct fx *fx, const struct net *n)
{
	struct nts_fp_client_key k = fp_client_key(n, CLIENT_PORT);
	struct nts_fp_client_val v;

	return bpf_map_lookup_elem(fastpath_fds(fx->fp)->client, &k, &v) == 0;
}

static bool has_peer(struct fx *fx, const struct net *n, const char *peer)
{
	struct nts_fp_peer_key k = fp_peer_key(n, peer, RELAY_PORT, PEER_PORT);
	struct nts_fp_peer_val v;

	return bpf_map_lookup_elem(fastpath_fds(fx->fp)->peer, &k, &v) == 0;
}

static bool has_perm(struct fx *fx, const struct net *n, const char *peer)
{
	struct nts_fp_perm_key k = perm_key(n, peer);
	struct nts_fp_perm_val v;

	return bpf_map_lookup_elem(fastpath_fds(fx->fp)->perm, &k, &v) == 0;
}

static void assert_other_alloc_relays(struct fx *fx, const struct net *n)
{
	struct fp_spec s = {0};
	struct fp_frame in, out;
	uint8_t cd[256];
	size_t cdlen = fp_channeldata(cd, CHANNEL, data, DLEN, 0);

	assert_true(has_client(fx, n));
	assert_true(has_peer(fx, n, n->peer));
	assert_true(has_perm(fx, n, n->peer));
	peer_frame(&in, n, n->peer, &s);
	assert_int_equal(run(fx, &in, &out), XDP_TX);
	check_out(&out, n->v6, n->server, n->client, SERVER_PORT, CLIENT_PORT, cd, cdlen,
		  CLIENT_MAC, 0, false);
}

/* Allocation ALLOC's late channel delete finds OTHER_ALLOC's entries under its keys: they stay. */
static void channel_del_keeps_other_alloc(const struct net *n, void **state)
{
	struct fx *fx = *state;
	struct nts_addr c = addr(n->client, CLIENT_PORT), s = addr(n->server, SERVER_PORT),
			r = addr(n->server, RELAY_PORT), p = addr(n->peer, PEER_PORT);

	bind_channel_as(fx->fp, ALLOC, n, n->peer);
	bind_channel_as(fx->fp, OTHER_ALLOC, n, n->peer);
	fastpath_channel_del(fx->fp, ALLOC, &c, &s, &r, &p, CHANNEL);
	fastpath_permission_del(fx->fp, ALLOC, &r, &p);
	assert_other_alloc_relays(fx, n);
	/* Its owner's delete still removes them. */
	fastpath_channel_del(fx->fp, OTHER_ALLOC, &c, &s, &r, &p, CHANNEL);
	fastpath_permission_del(fx->fp, OTHER_ALLOC, &r, &p);
	assert_false(has_client(fx, n));
	assert_false(has_peer(fx, n, n->peer));
	assert_false(has_perm(fx, n, n->peer));
}

static void test_ipv4_channel_delete_keeps_other_allocations_entries(void **state)
{
	channel_del_keeps_other_alloc(&net4, state);
}

static void test_ipv6_channel_delete_keeps_other_allocations_entries(void **state)
{
	channel_del_keeps_other_alloc(&net6, state);
}

/* Deleting allocation ALLOC removes nothing OTHER_ALLOC wrote since under the same keys. */
static void alloc_del_keeps_other_alloc(const struct net *n, void **state)
{
	struct fx *fx = *state;

	bind_channel_as(fx->fp, ALLOC, n, n->peer);
	bind_channel_as(fx->fp, OTHER_ALLOC, n, n->peer);
	fastpath_alloc_del(fx->fp, ALLOC);
	assert_other_alloc_relays(fx, n);
}

static void test_ipv4_allocation_delete_keeps_other_allocations_entries(void **state)
{
	alloc_del_keeps_other_alloc(&net4, state);
}

static void test_ipv6_allocation_delete_keeps_other_allocations_entries(void **state)
{
	alloc_del_keeps_other_alloc(&net6, state);
}

/* A policy that refuses one address (the peer behind fpb0). */
static bool refuse_peer_b(void *arg, const struct nts_addr *peer)
{
	const struct net *n = arg;
	struct nts_addr b = addr(n->peer_b, peer->port);

	return !nts_addr_equal(peer, &b, false);
}

/* An earlier ntsd's entries for a peer the current policy refuses go when the maps are adopted;
 * those of an allowed peer keep relaying. */
static void adopted_entries_follow_policy(const struct net *n, void **state)
{
	struct fx *fx = *state;
	const struct nts_addr r = addr(n->server, RELAY_PORT), pb = addr(n->peer_b, PEER_PORT),
			      c2 = addr(n->client, CLIENT_PORT + 1),
			      s = addr(n->server, SERVER_PORT);
	struct fastpath *next;
	struct fp_spec sp = {0};
	struct fp_frame in, out;

	bind_channel_as(fx->fp, ALLOC, n, n->peer);
	assert_int_equal(
	    fastpath_channel_set(fx->fp, ALLOC, &c2, &s, &r, &pb, CHANNEL, now_ns() + FAR), 0);
	/* The next ntsd (a new generation) with a policy that refuses peer_b. */
	assert_int_equal(fastpath_from_fds(fastpath_fds(fx->fp), &next), 0);
	assert_int_equal(fastpath_foreign_recheck(next, refuse_peer_b, (void *)n), 3);
	fastpath_close(next);
	assert_false(has_peer(fx, n, n->peer_b));
	assert_false(has_perm(fx, n, n->peer_b));
	assert_true(has_peer(fx, n, n->peer));
	assert_true(has_perm(fx, n, n->peer));
	/* The refused peer's traffic is dropped in the kernel; the allowed one's still relayed. */
	peer_frame(&in, n, n->peer_b, &sp);
	assert_int_equal(run(fx, &in, &out), XDP_DROP);
	sp = (struct fp_spec){0};
	peer_frame(&in, n, n->peer, &sp);
	assert_int_equal(run(fx, &in, &out), XDP_TX);
}

static void test_ipv4_adopted_entries_are_checked_against_peer_policy(void **state)
{
	adopted_entries_follow_policy(&net4, state);
}

static void test_ipv6_adopted_entries_are_checked_against_peer_policy(void **state)
{
	adopted_entries_follow_policy(&net6, state);
}

/* ntsctl fastpath flush: every channel, permission and relay entry goes; traffic is passed. */
static void test_flush_removes_every_entry(void **state)
{
	struct fx *fx = *state;
	const struct fastpath_fds *f = fastpath_fds(fx->fp);
	struct fastpath *reader;
	uint32_t count, max;
	struct fp_spec s = {0};
	struct fp_frame in;

	bind_channel(fx, &net4, net4.peer, now_ns() + FAR);
	bind_channel(fx, &net6, net6.peer, now_ns() + FAR);
	assert_int_equal(fastpath_from_fds(f, &reader), 0);
	assert_int_equal(fastpath_flush(reader), 8); /* 2 x (client, peer, perm, relay) */
	fastpath_close(reader);
	for (int i = 0; i < 4; i++) {
		int fds[] = {f->client, f->peer, f->perm, f->relay};

		assert_int_equal(fastpath_map_fill(fds[i], &count, &max), 0);
		assert_int_equal(count, 0);
	}
	peer_frame(&in, &net4, net4.peer, &s);
	assert_passed(fx, &in);
	assert_int_equal(stats(fx).pass_no_match, 1);
}

/* The coarse clock the program reads (bpf_ktime_get_coarse_ns). */
static uint64_t coarse_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A next hop cached for fpb0, which has left the devmap since: the rewritten packet is dropped
 * and counted, not passed up with someone else's addresses. */
static void redirect_failure_drops(const struct net *n, void **state)
{
	struct fx *fx = *state;
	const struct fastpath_fds *f = fastpath_fds(fx->fp);
	struct fp_spec s = {0};
	struct fp_frame in, out;
	struct nts_fp_stats st;
	uint32_t b = fx->if_b;

	bind_channel(fx, n, n->peer_b, now_ns() + FAR);
	s = (struct fp_spec){0};
	client_frame(&in, n, CHANNEL, 0, &s);
	assert_int_equal(run(fx, &in, &out), XDP_REDIRECT);
	assert_int_equal(bpf_map_delete_elem(f->tx, &b), 0);
	/* The client entry cached fpb0 as its next hop; keep that answer fresh. */
	{
		struct nts_fp_client_key ck = fp_client_key(n, CLIENT_PORT);
		struct nts_fp_client_val cv;

		assert_int_equal(bpf_map_lookup_elem(f->client, &ck, &cv), 0);
		assert_int_equal(cv.nh.ifindex, fx->if_b);
		cv.nh.at_ns = coarse_ns();
		assert_int_equal(bpf_map_update_elem(f->client, &ck, &cv, BPF_EXIST), 0);
		fastpath_cache_flush(fx->fp);
	}
	assert_int_equal(run(fx, &in, &out), XDP_DROP);
	st = stats(fx);
	assert_int_equal(st.drop_redirect_failed, 1);
	assert_int_equal(st.redirect, 1);
	assert_int_equal(st.c2p_packets, 1);
}

static void test_ipv4_failed_redirect_is_dropped_and_counted(void **state)
{
	redirect_failure_drops(&net4, state);
}

static void test_ipv6_failed_redirect_is_dropped_and_counted(void **state)
{
	redirect_failure_drops(&net6, state);
}

/* A second instance of the program on the fixture's maps, as ntsctl attach --mode skb loads it. */
static int generic_prog(struct fx *fx, struct fastpath_bpf **out)
{
	struct fastpath_bpf *g = fastpath_bpf__open();
	struct bpf_map *m;

	assert_non_null(g);
	g->rodata->nts_fp_generic = 1;
	bpf_object__for_each_map(m, g->obj)
	{
		struct bpf_map *orig =
		    bpf_object__find_map_by_name(fx->skel->obj, bpf_map__name(m));

		if (bpf_map__type(m) == BPF_MAP_TYPE_ARRAY && strstr(bpf_map__name(m), ".rodata"))
			continue;
		assert_non_null(orig);
		assert_int_equal(bpf_map__reuse_fd(m, bpf_map__fd(orig)), 0);
	}
	assert_int_equal(fastpath_bpf__load(g), 0);
	*out = g;
	return bpf_program__fd(g->progs.nts_fastpath);
}

/* In skb mode GRO may have merged a peer's datagrams into the one the program sees
 * (tests/netns/xdp_gro.sh): on a channel it goes to userspace untouched and is counted; client
 * ChannelData is still relayed, and peers without permission still dropped. */
static void generic_leaves_peer_datagrams(const struct net *n, void **state)
{
	struct fx *fx = *state;
	struct fastpath_bpf *g;
	int native_fd = fx->prog_fd;
	struct fp_spec s = {0};
	struct fp_frame in, out;

	fx->prog_fd = generic_prog(fx, &g);
	bind_channel(fx, n, n->peer, now_ns() + FAR);
	peer_frame(&in, n, n->peer, &s);
	assert_passed(fx, &in);
	assert_int_equal(stats(fx).pass_generic, 1);
	assert_int_equal(stats(fx).p2c_packets, 0);
	s = (struct fp_spec){0};
	client_frame(&in, n, CHANNEL, 0, &s);
	assert_int_equal(run(fx, &in, &out), XDP_TX);
	s = (struct fp_spec){0};
	peer_frame(&in, n, n->no_neigh, &s);
	assert_int_equal(run(fx, &in, &out), XDP_DROP);
	fx->prog_fd = native_fd;
	fastpath_bpf__destroy(g);
}

static void test_ipv4_generic_instance_leaves_peer_datagrams_to_userspace(void **state)
{
	generic_leaves_peer_datagrams(&net4, state);
}

static void test_ipv6_generic_instance_leaves_peer_datagrams_to_userspace(void **state)
{
	generic_leaves_peer_datagrams(&net6, state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(t) cmocka_unit_test_setup(t, setup)
	    T(test_ipv4_channel_delete_keeps_other_allocations_entries),
	    T(test_ipv6_channel_delete_keeps_other_allocations_entries),
	    T(test_ipv4_allocation_delete_keeps_other_allocations_entries),
	    T(test_ipv6_allocation_delete_keeps_other_allocations_entries),
	    T(test_ipv4_adopted_entries_are_checked_against_peer_policy),
	    T(test_ipv6_adopted_entries_are_checked_against_peer_policy),
	    T(test_flush_removes_every_entry),
	    T(test_ipv4_failed_redirect_is_dropped_and_counted),
	    T(test_ipv6_failed_redirect_is_dropped_and_counted),
	    T(test_ipv4_generic_instance_leaves_peer_datagrams_to_userspace),
	    T(test_ipv6_generic_instance_leaves_peer_datagrams_to_userspace),
#undef T
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
