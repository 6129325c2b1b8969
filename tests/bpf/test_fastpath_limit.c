/* Bandwidth limits in the XDP program (bpf/fastpath_limit.h): a limited allocation's datagrams are
 * taken from buckets shared by every CPU (docs/architecture.md "Bandwidth limits"); within the
 * limit they are relayed exactly as before, over it they are dropped and counted in
 * drop_rate_limited, each direction on its own; an account's bucket is shared by its allocations;
 * an allocation without a limit has no slot to look up, and a slot serves only its owner.
 */
#include <sched.h>
#include <unistd.h>

#include "fp_limit.h"

#define ALLOC2 9
#define ACCOUNT 3

/* Within its limits a limited allocation's datagrams are relayed byte for byte as without one. */
static void within_limit_relays(const struct net *n, void **state)
{
	struct fx *fx = *state;
	struct fp_spec s = {0};
	struct fp_frame in, out;
	uint8_t cd[256];
	size_t cdlen = fp_channeldata(cd, CHANNEL, data, DLEN, 0);

	bind_channel(fx, n, n->peer, now_ns() + FAR);
	set_limits(fx, ALLOC, 1000000, 1000, 0, 0); /* a burst of 100 kB and 100 datagrams */
	assert_int_equal(limit_val(fx, client_val(fx, n, CHANNEL).limit_slot).owner,
			 kid_of(fx, ALLOC));
	for (int i = 0; i < 50; i++) {
		s = (struct fp_spec){0};
		client_frame(&in, n, CHANNEL, 0, &s);
		assert_int_equal(run(fx, &in, &out), XDP_TX);
		check_out(&out, n->v6, n->server, n->peer, RELAY_PORT, PEER_PORT, data, DLEN,
			  PEER_MAC, 0, false);
		s = (struct fp_spec){0};
		peer_frame(&in, n, n->peer, &s);
		assert_int_equal(run(fx, &in, &out), XDP_TX);
		check_out(&out, n->v6, n->server, n->client, SERVER_PORT, CLIENT_PORT, cd, cdlen,
			  CLIENT_MAC, 0, false);
	}
	assert_int_equal(stats(fx).drop_rate_limited, 0);
	assert_int_equal(stats(fx).c2p_packets, 50);
	assert_int_equal(stats(fx).p2c_packets, 50);
}

static void test_ipv4_within_limit_relays_unchanged(void **state)
{
	within_limit_relays(&net4, state);
}

static void test_ipv6_within_limit_relays_unchanged(void **state)
{
	within_limit_relays(&net6, state);
}

/* Over --max-pps-per-allocation 1 (a tenth of a datagram of burst: the first passes and owes the
 * rest of its second), each direction drops and counts the datagrams after its first. */
static void over_limit_drops(const struct net *n, void **state)
{
	struct fx *fx = *state;
	struct nts_fp_stats st;

	bind_channel(fx, n, n->peer, now_ns() + FAR);
	set_limits(fx, ALLOC, 0, 1, 0, 0);
	assert_int_equal(run_client(fx, n, CHANNEL), XDP_TX);
	for (int i = 0; i < 4; i++)
		assert_int_equal(run_client(fx, n, CHANNEL), XDP_DROP);
	assert_int_equal(run_peer(fx, n), XDP_TX);
	assert_int_equal(run_peer(fx, n), XDP_DROP);
	st = stats(fx);
	assert_int_equal(st.drop_rate_limited, 5);
	assert_int_equal(st.c2p_packets, 1);
	assert_int_equal(st.p2c_packets, 1);
}

static void test_ipv4_over_limit_is_dropped_and_counted(void **state)
{
	over_limit_drops(&net4, state);
}

static void test_ipv6_over_limit_is_dropped_and_counted(void **state)
{
	over_limit_drops(&net6, state);
}

/* The byte rate: 100 B/s holds 10 bytes, so one 54-byte datagram passes and the next waits. */
static void test_byte_limit_counts_application_bytes(void **state)
{
	struct fx *fx = *state;
	struct nts_fp_limit_val v;

	bind_channel(fx, &net4, net4.peer, now_ns() + FAR);
	set_limits(fx, ALLOC, 100, 0, 0, 0);
	assert_int_equal(run_client(fx, &net4, CHANNEL), XDP_TX);
	v = limit_val(fx, client_val(fx, &net4, CHANNEL).limit_slot);
	/* The ChannelData payload is what counts, not the 4-byte header or the UDP/IP headers. */
	assert_true(v.dir[NTS_FP_DIR_C2P].bytes <= (10 - (int64_t)DLEN + 1) * NTS_BUCKET_UNIT);
	assert_true(v.dir[NTS_FP_DIR_C2P].bytes >= (10 - (int64_t)DLEN) * NTS_BUCKET_UNIT);
	assert_int_equal(v.dir[NTS_FP_DIR_P2C].at_ns, 0);
	assert_int_equal(run_client(fx, &net4, CHANNEL), XDP_DROP);
}

/* The bucket is one for every CPU: what the first CPU took, the second does not get again (a
 * per-CPU bucket would let it through). */
static void test_bucket_is_shared_by_cpus(void **state)
{
	struct fx *fx = *state;
	cpu_set_t one, saved;

	if (sched_getaffinity(0, sizeof(saved), &saved) || CPU_COUNT(&saved) < 2)
		skip();
	bind_channel(fx, &net4, net4.peer, now_ns() + FAR);
	set_limits(fx, ALLOC, 0, 1, 0, 0);
	for (int cpu = 0, runs = 0; cpu < CPU_SETSIZE && runs < 2; cpu++) {
		if (!CPU_ISSET(cpu, &saved))
			continue;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
		assert_int_equal(run_client(fx, &net4, CHANNEL), runs == 0 ? XDP_TX : XDP_DROP);
		runs++;
	}
	assert_int_equal(sched_setaffinity(0, sizeof(saved), &saved), 0);
	assert_int_equal(stats(fx).drop_rate_limited, 1);
}

/* An account's bucket is shared by its allocations: what one used, the other cannot; the refused
 * datagram's tokens go back to its allocation's own bucket. */
static void test_account_bucket_is_shared_by_its_allocations(void **state)
{
	struct fx *fx = *state;
	const uint64_t acct = kid_of(fx, ACCOUNT);
	struct nts_addr c = addr(net4.client, CLIENT_PORT), s = addr(net4.server, SERVER_PORT),
			r2 = addr(net4.server, RELAY_PORT + 1), p = addr(net4.peer, PEER_PORT);
	struct nts_fp_limit_val lv;
	struct nts_fp_account_val av;
	uint32_t slot2;

	bind_channel(fx, &net4, net4.peer, now_ns() + FAR);
	assert_int_equal(
	    fastpath_channel_set(fx->fp, ALLOC2, &c, &s, &r2, &p, CHANNEL + 1, now_ns() + FAR), 0);
	set_limits(fx, ALLOC, 0, 0, ACCOUNT, 100);
	set_limits(fx, ALLOC2, 1000000, 1000, ACCOUNT, 100);
	slot2 = client_val(fx, &net4, CHANNEL + 1).limit_slot;
	assert_int_not_equal(slot2, client_val(fx, &net4, CHANNEL).limit_slot);
	lv = limit_val(fx, slot2);
	assert_int_equal(lv.account, acct);
	assert_int_equal(lv.account_slot,
			 limit_val(fx, client_val(fx, &net4, CHANNEL).limit_slot).account_slot);
	av = account_val(fx, lv.account_slot);
	assert_int_equal(av.owner, acct);
	assert_int_equal(av.bps, 100);
	assert_int_equal(run_client(fx, &net4, CHANNEL), XDP_TX);
	assert_int_equal(run_client(fx, &net4, CHANNEL + 1), XDP_DROP);
	lv = limit_val(fx, slot2);
	assert_int_equal(lv.dir[NTS_FP_DIR_C2P].bytes, 100000 * NTS_BUCKET_UNIT); /* given back */
	assert_int_equal(lv.dir[NTS_FP_DIR_C2P].packets, 100 * NTS_BUCKET_UNIT);
	assert_int_equal(stats(fx).drop_rate_limited, 1);
	/* A second allocation of the account keeps the bucket's tokens: no new burst. */
	set_limits(fx, ALLOC2, 0, 0, ACCOUNT, 100);
	assert_int_equal(run_client(fx, &net4, CHANNEL + 1), XDP_DROP);
	/* A freed account slot limits nobody, even before the allocations are rewritten. */
	fastpath_account_del(fx->fp, ACCOUNT);
	assert_int_equal(account_val(fx, lv.account_slot).owner, 0);
	assert_int_equal(run_client(fx, &net4, CHANNEL + 1), XDP_TX);
}

/* Without a limit an entry names no slot and no slot is taken; limiting a live channel writes the
 * slot, then names it in the entries, and lifting the limit clears the entries, then frees the
 * slot. */
static void test_limits_follow_the_allocation(void **state)
{
	struct fx *fx = *state;
	uint32_t slot;

	bind_channel(fx, &net6, net6.peer, now_ns() + FAR);
	set_limits(fx, ALLOC, 0, 0, 0, 0);
	assert_int_equal(client_val(fx, &net6, CHANNEL).limit_slot, 0);
	set_limits(fx, ALLOC, 0, 1, 0, 0);
	slot = client_val(fx, &net6, CHANNEL).limit_slot;
	assert_int_not_equal(slot, 0);
	assert_int_equal(limit_val(fx, slot).owner, kid_of(fx, ALLOC));
	assert_int_equal(limit_val(fx, slot).pps, 1);
	assert_int_equal(run_client(fx, &net6, CHANNEL), XDP_TX);
	assert_int_equal(run_client(fx, &net6, CHANNEL), XDP_DROP);
	/* A channel bound later names the slot too. */
	bind_channel(fx, &net6, net6.peer, now_ns() + FAR);
	assert_int_equal(client_val(fx, &net6, CHANNEL).limit_slot, slot);
	set_limits(fx, ALLOC, 0, 0, 0, 0);
	assert_int_equal(client_val(fx, &net6, CHANNEL).limit_slot, 0);
	assert_int_equal(limit_val(fx, slot).owner, 0);
	assert_int_equal(run_client(fx, &net6, CHANNEL), XDP_TX);
	/* The allocation's end frees its slot too. */
	set_limits(fx, ALLOC, 0, 1, 0, 0);
	slot = client_val(fx, &net6, CHANNEL).limit_slot;
	fastpath_alloc_del(fx->fp, ALLOC);
	assert_int_equal(limit_val(fx, slot).owner, 0);
}

/* An entry naming a slot that another allocation owns (left by a killed ntsd, or raced with a
 * slot's reuse) is not limited by that allocation's bucket: the value names its owner. */
static void test_slot_of_another_allocation_limits_nothing(void **state)
{
	struct fx *fx = *state;
	const struct fastpath_fds *f = fastpath_fds(fx->fp);
	struct nts_addr c = addr(net4.client, CLIENT_PORT), s = addr(net4.server, SERVER_PORT),
			r2 = addr(net4.server, RELAY_PORT + 1), p = addr(net4.peer, PEER_PORT);
	struct nts_fp_client_key k = fp_client_key(&net4, CLIENT_PORT);
	struct nts_fp_client_val v;

	bind_channel(fx, &net4, net4.peer, now_ns() + FAR);
	assert_int_equal(
	    fastpath_channel_set(fx->fp, ALLOC2, &c, &s, &r2, &p, CHANNEL + 1, now_ns() + FAR), 0);
	set_limits(fx, ALLOC2, 0, 1, 0, 0);
	assert_int_equal(run_client(fx, &net4, CHANNEL + 1), XDP_TX);
	assert_int_equal(run_client(fx, &net4, CHANNEL + 1), XDP_DROP);
	/* ALLOC's entry names ALLOC2's (empty) bucket. */
	v = client_val(fx, &net4, CHANNEL);
	v.limit_slot = client_val(fx, &net4, CHANNEL + 1).limit_slot;
	assert_int_equal(bpf_map_update_elem(f->client, &k, &v, BPF_EXIST), 0);
	fastpath_cache_flush(fx->fp);
	for (int i = 0; i < 3; i++)
		assert_int_equal(run_client(fx, &net4, CHANNEL), XDP_TX);
	assert_int_equal(stats(fx).drop_rate_limited, 1);
}

/* An upgrade's ntsd (the same generation) takes over the slots its entries name: the allocation
 * stays limited throughout and keeps its slot when its limits are written again (fresh buckets);
 * a new generation (a killed ntsd's successor) leaves them to the old entries and takes others. */
static void test_slots_survive_an_upgrade_and_a_restart(void **state)
{
	struct fx *fx = *state;
	const struct fastpath_fds *f = fastpath_fds(fx->fp);
	const char *names[] = {NTS_FP_MAP_CLIENT, NTS_FP_MAP_PEER,  NTS_FP_MAP_PERM,
			       NTS_FP_MAP_RELAY,  NTS_FP_MAP_ALLOC, NTS_FP_MAP_STATS,
			       NTS_FP_MAP_TX,	  NTS_FP_MAP_LIMIT, NTS_FP_MAP_ACCOUNT};
	const int fds[] = {f->client, f->peer, f->perm,	 f->relay,  f->alloc,
			   f->stats,  f->tx,   f->limit, f->account};
	char dir[] = "/sys/fs/bpf/nts-test-limit-XXXXXX", path[128];
	struct fastpath_limits l = {.pps = 1};
	struct nts_addr c = addr(net4.client, CLIENT_PORT), s = addr(net4.server, SERVER_PORT),
			r2 = addr(net4.server, RELAY_PORT + 1), p = addr(net4.peer, PEER_PORT);
	struct fastpath *up, *next;
	uint32_t slot;

	if (!mkdtemp(dir))
		skip();
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		assert_int_equal(bpf_obj_pin(fds[i], path), 0);
	}
	bind_channel(fx, &net4, net4.peer, now_ns() + FAR);
	set_limits(fx, ALLOC, 0, 1, 0, 0);
	slot = client_val(fx, &net4, CHANNEL).limit_slot;
	assert_int_equal(run_client(fx, &net4, CHANNEL), XDP_TX);
	assert_int_equal(run_client(fx, &net4, CHANNEL), XDP_DROP);

	assert_int_equal(fastpath_open_gen(dir, fastpath_generation(fx->fp), &up), 0);
	assert_int_equal(run_client(fx, &net4, CHANNEL), XDP_DROP); /* still limited */
	assert_int_equal(fastpath_alloc_limits(up, ALLOC, &l), 0);
	assert_int_equal(client_val(fx, &net4, CHANNEL).limit_slot, slot);
	assert_int_equal(run_client(fx, &net4, CHANNEL), XDP_TX); /* the buckets start full */
	/* Another allocation of the upgraded ntsd gets another slot. */
	assert_int_equal(
	    fastpath_channel_set(up, ALLOC2, &c, &s, &r2, &p, CHANNEL + 1, now_ns() + FAR), 0);
	assert_int_equal(fastpath_alloc_limits(up, ALLOC2, &l), 0);
	assert_int_not_equal(client_val(fx, &net4, CHANNEL + 1).limit_slot, slot);
	fastpath_close(up);

	assert_int_equal(fastpath_open_gen(dir, 0, &next), 0);
	assert_int_equal(
	    fastpath_channel_set(next, ALLOC + 100, &c, &s, &r2, &p, CHANNEL + 2, now_ns() + FAR),
	    0);
	assert_int_equal(fastpath_alloc_limits(next, ALLOC + 100, &l), 0);
	assert_int_not_equal(client_val(fx, &net4, CHANNEL + 2).limit_slot, slot);
	assert_int_equal(run_client(fx, &net4, CHANNEL), XDP_DROP); /* the old entry's bucket */
	fastpath_close(next);
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
}

/* What the program hands to userspace takes no tokens (userspace's own buckets count it): an
 * expired channel's datagram passes, and the next one on the refreshed channel is relayed. */
static void test_passed_datagrams_take_no_tokens(void **state)
{
	struct fx *fx = *state;
	struct fp_spec s = {0};
	struct fp_frame in;

	bind_channel(fx, &net4, net4.peer, 1);
	set_limits(fx, ALLOC, 0, 1, 0, 0);
	client_frame(&in, &net4, CHANNEL, 0, &s);
	assert_passed(fx, &in);
	assert_passed(fx, &in);
	bind_channel(fx, &net4, net4.peer, now_ns() + FAR);
	assert_int_equal(run_client(fx, &net4, CHANNEL), XDP_TX);
	assert_int_equal(stats(fx).drop_rate_limited, 0);
}

/* Maps pinned by an older ntsctl have no limit slot maps: a limit cannot be written there, so the
 * limited allocation's channels leave the kernel (userspace enforces it), and come back when the
 * limit is lifted. */
static void test_without_limit_map_limited_channels_stay_in_userspace(void **state)
{
	struct fx *fx = *state;
	struct fastpath_fds fds = *fastpath_fds(fx->fp);
	struct fastpath_limits l = {.pps = 1};
	struct fastpath *old;
	struct nts_addr c = addr(net4.client, CLIENT_PORT), s = addr(net4.server, SERVER_PORT),
			r = addr(net4.server, RELAY_PORT), p = addr(net4.peer, PEER_PORT);
	struct fp_spec sp = {0};
	struct fp_frame in;

	fds.limit = fds.account = -1;
	assert_int_equal(fastpath_from_fds(&fds, &old), 0);
	assert_int_equal(fastpath_channel_set(old, ALLOC, &c, &s, &r, &p, CHANNEL, now_ns() + FAR),
			 0);
	assert_int_equal(run_client(fx, &net4, CHANNEL), XDP_TX);
	assert_true(fastpath_alloc_limits(old, ALLOC, &l) < 0);
	client_frame(&in, &net4, CHANNEL, 0, &sp);
	assert_passed(fx, &in);
	l.pps = 0;
	assert_int_equal(fastpath_alloc_limits(old, ALLOC, &l), 0);
	assert_int_equal(run_client(fx, &net4, CHANNEL), XDP_TX);
	fastpath_close(old);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(t) cmocka_unit_test_setup(t, setup)
	    T(test_ipv4_within_limit_relays_unchanged),
	    T(test_ipv6_within_limit_relays_unchanged),
	    T(test_ipv4_over_limit_is_dropped_and_counted),
	    T(test_ipv6_over_limit_is_dropped_and_counted),
	    T(test_byte_limit_counts_application_bytes),
	    T(test_bucket_is_shared_by_cpus),
	    T(test_account_bucket_is_shared_by_its_allocations),
	    T(test_limits_follow_the_allocation),
	    T(test_slot_of_another_allocation_limits_nothing),
	    T(test_slots_survive_an_upgrade_and_a_restart),
	    T(test_passed_datagrams_take_no_tokens),
	    T(test_without_limit_map_limited_channels_stay_in_userspace),
#undef T
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
