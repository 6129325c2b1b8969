/* The fast path across an ntsd restart and at allocation deletion: entries a killed ntsd left
 * keep relaying under the next one until one of its allocations takes their relay address, the
 * generations keep equal TURN ids apart, expired leftovers are collected, and the last packets of
 * a channel are folded before TURN forgets the allocation.
 */
#include <unistd.h>

#include "fp_fixture.h"

/* What a new ntsd sees when it adopts the maps: a handle of a new generation. */
static struct fastpath *restarted(struct fx *fx)
{
	struct fastpath *fp;

	assert_int_equal(fastpath_from_fds(fastpath_fds(fx->fp), &fp), 0);
	return fp;
}

/* The issue requires bound channels to keep flowing while ntsd is down and after a new one
 * starts: the new ntsd does not know them, but they are left alone. */
static void test_old_channels_keep_relaying_after_restart(void **state)
{
	struct fx *fx = *state;
	struct fp_spec s = {0};
	struct fp_frame in, out;
	struct fastpath *fp2;

	bind_channel(fx, &net4, net4.peer, now_ns() + FAR);
	fp2 = restarted(fx);
	assert_int_not_equal(fastpath_generation(fp2), fastpath_generation(fx->fp));
	/* client, peer, permission and relay entries of the earlier generation */
	assert_int_equal(fastpath_foreign_entries(fp2), 4);
	client_frame(&in, &net4, CHANNEL, 0, &s);
	assert_int_equal(run(fx, &in, &out), XDP_TX);
	check_out(&out, false, net4.server, net4.peer, RELAY_PORT, PEER_PORT, data, DLEN, PEER_MAC,
		  0, false);
	s = (struct fp_spec){0};
	peer_frame(&in, &net4, net4.peer, &s);
	assert_int_equal(run(fx, &in, &out), XDP_TX);
	/* Nothing is expired: a collection keeps them. */
	assert_int_equal(fastpath_gc(fp2, now_ns(), 100), 0);
	assert_int_equal(fastpath_foreign_entries(fp2), 4);
	fastpath_close(fp2);
}

/* A new allocation that gets the same relay port (and, as ids restart at 1, the same TURN id)
 * never sees the old client's traffic, nor the old peer's. */
static void test_new_allocation_on_old_relay_port_purges_old_entries(void **state)
{
	struct fx *fx = *state;
	const struct fastpath_fds *f = fastpath_fds(fx->fp);
	struct nts_addr r = addr(net4.server, RELAY_PORT), pb = addr(net4.peer_b, PEER_PORT);
	struct fp_spec s = {0};
	struct fp_frame in, out;
	struct fastpath *fp2;
	uint32_t count, max;

	bind_channel(fx, &net4, net4.peer, now_ns() + FAR);
	bind_channel(fx, &net6, net6.peer, now_ns() + FAR); /* another relay address: stays */
	fp2 = restarted(fx);
	assert_int_equal(fastpath_permission_set(fp2, ALLOC, &r, &pb, now_ns() + FAR), 0);
	/* The old client's ChannelData is no longer relayed from the new allocation's port. */
	client_frame(&in, &net4, CHANNEL, 0, &s);
	assert_passed(fx, &in);
	/* The old peer has no permission on the new allocation: RFC 8656 §9, dropped. */
	s = (struct fp_spec){0};
	peer_frame(&in, &net4, net4.peer, &s);
	assert_int_equal(run(fx, &in, &out), XDP_DROP);
	/* The new allocation's permitted peer goes to userspace (a Data indication). */
	s = (struct fp_spec){0};
	peer_frame(&in, &net4, net4.peer_b, &s);
	assert_passed(fx, &in);
	assert_int_equal(stats(fx).pass_permission, 1);
	/* The IPv6 relay's channel was not touched. */
	s = (struct fp_spec){0};
	client_frame(&in, &net6, CHANNEL, 0, &s);
	assert_int_equal(run(fx, &in, &out), XDP_TX);
	assert_int_equal(fastpath_map_fill(f->client, &count, &max), 0);
	assert_int_equal(count, 1);
	assert_int_equal(fastpath_map_fill(f->perm, &count, &max), 0);
	assert_int_equal(count, 2); /* the IPv6 one of old, peer_b's of new */
	/* Deleting the new allocation leaves the old generation's IPv6 entries alone. */
	fastpath_alloc_del(fp2, ALLOC);
	assert_int_equal(fastpath_map_fill(f->client, &count, &max), 0);
	assert_int_equal(count, 1);
	fastpath_close(fp2);
}

/* A key an earlier ntsd used and the new one wrote again is the new one's: purging the old
 * relay address leaves it alone. */
static void test_purge_keeps_keys_rewritten_by_new_generation(void **state)
{
	struct fx *fx = *state;
	struct nts_addr c = addr(net4.client, CLIENT_PORT), sv = addr(net4.server, SERVER_PORT),
			r2 = addr(net4.server, RELAY_PORT + 1), r = addr(net4.server, RELAY_PORT),
			p = addr(net4.peer, PEER_PORT), pb = addr(net4.peer_b, PEER_PORT);
	struct fp_spec s = {0};
	struct fp_frame in, out;
	struct fastpath *fp2;

	bind_channel(fx, &net4, net4.peer, now_ns() + FAR);
	fp2 = restarted(fx);
	/* The same client and channel, now on another relay port of a new allocation. */
	assert_int_equal(
	    fastpath_channel_set(fp2, ALLOC, &c, &sv, &r2, &p, CHANNEL, now_ns() + FAR), 0);
	/* Another new allocation takes the old relay port. */
	assert_int_equal(fastpath_permission_set(fp2, ALLOC + 1, &r, &pb, now_ns() + FAR), 0);
	client_frame(&in, &net4, CHANNEL, 0, &s);
	assert_int_equal(run(fx, &in, &out), XDP_TX);
	check_out(&out, false, net4.server, net4.peer, RELAY_PORT + 1, PEER_PORT, data, DLEN,
		  PEER_MAC, 0, false);
	fastpath_close(fp2);
}

/* Expired leftovers of an earlier generation are collected, then their counters go. */
static void test_expired_leftovers_are_collected(void **state)
{
	struct fx *fx = *state;
	const struct fastpath_fds *f = fastpath_fds(fx->fp);
	uint64_t now = now_ns();
	struct fastpath *fp2;
	uint32_t count, max;

	bind_channel(fx, &net4, net4.peer, now - 1);
	fp2 = restarted(fx);
	assert_int_equal(fastpath_foreign_entries(fp2), 4);
	assert_int_equal(fastpath_gc_foreign(fp2, now, 0, 100), 4);
	assert_int_equal(fastpath_foreign_entries(fp2), 0);
	/* Nothing left to collect: no more scans. */
	assert_int_equal(fastpath_gc_foreign(fp2, now + FAR, 0, 100), 0);
	assert_int_equal(fastpath_map_fill(f->alloc, &count, &max), 0);
	assert_int_equal(count, 0);
	fastpath_close(fp2);
}

/* The same ntsd opening the maps again keeps its generation: its entries stay its own. */
static void test_reopen_with_same_generation_owns_entries(void **state)
{
	struct fx *fx = *state;
	struct fastpath *fp2;
	char dir[] = "/sys/fs/bpf/nts-test-restart-XXXXXX";
	const struct fastpath_fds *f = fastpath_fds(fx->fp);
	const char *names[] = {NTS_FP_MAP_CLIENT, NTS_FP_MAP_PEER,  NTS_FP_MAP_PERM,
			       NTS_FP_MAP_RELAY,  NTS_FP_MAP_ALLOC, NTS_FP_MAP_STATS,
			       NTS_FP_MAP_TX};
	const int fds[] = {f->client, f->peer, f->perm, f->relay, f->alloc, f->stats, f->tx};
	char path[128];

	if (!mkdtemp(dir))
		skip();
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		assert_int_equal(bpf_obj_pin(fds[i], path), 0);
	}
	bind_channel(fx, &net4, net4.peer, now_ns() + FAR);
	assert_int_equal(fastpath_open_gen(dir, fastpath_generation(fx->fp), &fp2), 0);
	assert_int_equal(fastpath_foreign_entries(fp2), 0);
	fastpath_close(fp2);
	assert_int_equal(fastpath_open_gen(dir, 0, &fp2), 0);
	assert_int_equal(fastpath_foreign_entries(fp2), 4);
	assert_int_equal(fastpath_generation(fp2), fastpath_generation(fx->fp) + 1);
	fastpath_close(fp2);
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
}

static void count_usage(void *arg, uint64_t alloc_id, const struct nts_fp_alloc_counters *d)
{
	struct nts_fp_alloc_counters *sum = arg;

	assert_int_equal(alloc_id, ALLOC);
	sum->c2p_packets += d->c2p_packets;
	sum->c2p_bytes += d->c2p_bytes;
}

/* ntsd folds right after deleting a channel's entries (TURN deletes the channels before it
 * forgets the allocation): the packets relayed up to then are all reported. */
static void test_fold_after_channel_delete_reports_last_packets(void **state)
{
	struct fx *fx = *state;
	struct nts_addr c = addr(net4.client, CLIENT_PORT), sv = addr(net4.server, SERVER_PORT),
			r = addr(net4.server, RELAY_PORT), p = addr(net4.peer, PEER_PORT);
	struct nts_fp_alloc_counters sum = {0};
	struct fp_spec s = {0};
	struct fp_frame in, out;

	bind_channel(fx, &net4, net4.peer, now_ns() + FAR);
	client_frame(&in, &net4, CHANNEL, 0, &s);
	assert_int_equal(run(fx, &in, &out), XDP_TX);
	assert_int_equal(run(fx, &in, &out), XDP_TX);
	fastpath_channel_del(fx->fp, ALLOC, &c, &sv, &r, &p, CHANNEL);
	assert_passed(fx, &in);
	assert_int_equal(fastpath_fold_one(fx->fp, ALLOC, count_usage, &sum), 0);
	assert_int_equal(sum.c2p_packets, 2);
	assert_int_equal(sum.c2p_bytes, 2 * DLEN);
}

/* Folding costs one syscall when nothing was forwarded; it still reports what was. */
static void test_fold_skips_when_kernel_forwarded_nothing(void **state)
{
	struct fx *fx = *state;
	struct nts_fp_alloc_counters sum = {0};
	struct fp_spec s = {0};
	struct fp_frame in, out;

	bind_channel(fx, &net4, net4.peer, now_ns() + FAR);
	assert_int_equal(fastpath_fold(fx->fp, count_usage, &sum), 0);
	assert_int_equal(sum.c2p_packets, 0);
	client_frame(&in, &net4, CHANNEL, 0, &s);
	assert_int_equal(run(fx, &in, &out), XDP_TX);
	assert_int_equal(fastpath_fold(fx->fp, count_usage, &sum), 0);
	assert_int_equal(fastpath_fold(fx->fp, count_usage, &sum), 0);
	assert_int_equal(sum.c2p_packets, 1);
}

static void count_one(void *arg, uint64_t alloc_id, const struct nts_fp_alloc_counters *d)
{
	uint64_t *seen = arg;

	seen[0]++;
	seen[1] = alloc_id;
	seen[2] += d->c2p_packets;
}

/* Many allocations: the counters are read in batches; only the one with traffic reports. */
static void test_fold_of_many_allocations_reports_each_once(void **state)
{
	struct fx *fx = *state;
	struct nts_addr p = addr(net4.peer_b, PEER_PORT);
	struct fp_spec s = {0};
	struct fp_frame in, out;
	uint64_t seen[3] = {0};

	for (uint16_t i = 1; i <= 100; i++) {
		struct nts_addr r = addr(net4.server, RELAY_PORT + i);

		assert_int_equal(fastpath_permission_set(fx->fp, ALLOC + i, &r, &p, now_ns() + FAR),
				 0);
	}
	bind_channel(fx, &net4, net4.peer, now_ns() + FAR);
	client_frame(&in, &net4, CHANNEL, 0, &s);
	assert_int_equal(run(fx, &in, &out), XDP_TX);
	assert_int_equal(run(fx, &in, &out), XDP_TX);
	assert_int_equal(fastpath_fold(fx->fp, count_one, seen), 0);
	assert_int_equal(fastpath_fold(fx->fp, count_one, seen), 0);
	assert_int_equal(seen[0], 1);
	assert_int_equal(seen[1], ALLOC);
	assert_int_equal(seen[2], 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(t) cmocka_unit_test_setup(t, setup)
	    T(test_old_channels_keep_relaying_after_restart),
	    T(test_new_allocation_on_old_relay_port_purges_old_entries),
	    T(test_purge_keeps_keys_rewritten_by_new_generation),
	    T(test_expired_leftovers_are_collected),
	    T(test_reopen_with_same_generation_owns_entries),
	    T(test_fold_after_channel_delete_reports_last_packets),
	    T(test_fold_skips_when_kernel_forwarded_nothing),
	    T(test_fold_of_many_allocations_reports_each_once),
#undef T
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
