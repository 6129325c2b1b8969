/* The direct-mapped per-allocation counters (nts_fp_alloc_direct, include/nts/fastpath_maps.h):
 * an allocation counts in its slot, one whose id shares a taken slot counts in nts_fp_alloc, every
 * reader sums both, deleting the allocation frees its slot, a new generation frees what a gone
 * one left, and a handle that continues the generation (an upgrade) goes on counting there.
 */
#include <sys/stat.h>
#include <unistd.h>

#include "fp_fixture.h"

#define CLIENT_PORT_2 40002
#define RELAY_PORT_2 50002

/* The slot's values summed over the CPUs whose copy names owner; *owned: how many CPUs' do. */
static struct nts_fp_alloc_counters slot_sum(struct fx *fx, uint64_t owner, int *owned)
{
	int ncpus = libbpf_num_possible_cpus();
	struct nts_fp_alloc_direct_val *v = calloc((size_t)ncpus, sizeof(*v));
	uint32_t slot = nts_fp_alloc_direct_slot(owner);
	struct nts_fp_alloc_counters sum = {0};

	assert_non_null(v);
	assert_int_equal(bpf_map_lookup_elem(fastpath_fds(fx->fp)->direct, &slot, v), 0);
	*owned = 0;
	for (int c = 0; c < ncpus; c++) {
		if (v[c].owner != owner)
			continue;
		(*owned)++;
		sum.c2p_packets += v[c].c.c2p_packets;
		sum.p2c_packets += v[c].c.p2c_packets;
		sum.c2p_bytes += v[c].c.c2p_bytes;
		sum.p2c_bytes += v[c].c.p2c_bytes;
	}
	free(v);
	return sum;
}

/* nts_fp_alloc's value for kid, summed over the CPUs. */
static struct nts_fp_alloc_counters hash_sum(struct fx *fx, uint64_t kid)
{
	int ncpus = libbpf_num_possible_cpus();
	struct nts_fp_alloc_counters *v = calloc((size_t)ncpus, sizeof(*v)), sum = {0};

	assert_non_null(v);
	assert_int_equal(bpf_map_lookup_elem(fastpath_fds(fx->fp)->alloc, &kid, v), 0);
	for (int c = 0; c < ncpus; c++) {
		sum.c2p_packets += v[c].c2p_packets;
		sum.p2c_packets += v[c].p2c_packets;
	}
	free(v);
	return sum;
}

/* A client -> peer frame from cport (CHANNEL). */
static void c2p_frame(struct fp_frame *f, uint16_t cport)
{
	uint8_t cd[256];
	struct fp_spec s = {
	    .src = net4.client, .dst = net4.server, .sport = cport, .dport = SERVER_PORT};

	s.payload = cd;
	s.payload_len = fp_channeldata(cd, CHANNEL, data, DLEN, 0);
	fp_build(f, &s);
}

/* The allocation's packets count in its slot, not in nts_fp_alloc; the readers add them. */
static void test_packets_count_in_the_allocations_slot(void **state)
{
	struct fx *fx = *state;
	struct nts_fp_alloc_counters d;
	struct fp_spec s = {0};
	struct fp_frame in, out;
	int owned;

	bind_channel(fx, &net4, net4.peer, now_ns() + FAR);
	c2p_frame(&in, CLIENT_PORT);
	assert_int_equal(run(fx, &in, &out), XDP_TX);
	assert_int_equal(run(fx, &in, &out), XDP_TX);
	peer_frame(&in, &net4, net4.peer, &s);
	assert_int_equal(run(fx, &in, &out), XDP_TX);
	d = slot_sum(fx, kid_of(fx, ALLOC), &owned);
	assert_int_equal(owned, libbpf_num_possible_cpus());
	assert_int_equal(d.c2p_packets, 2);
	assert_int_equal(d.c2p_bytes, 2 * DLEN);
	assert_int_equal(d.p2c_packets, 1);
	d = hash_sum(fx, kid_of(fx, ALLOC));
	assert_int_equal(d.c2p_packets + d.p2c_packets, 0);
	assert_int_equal(fastpath_alloc_counters(fx->fp, ALLOC, &d), 0);
	assert_int_equal(d.c2p_packets, 2);
	assert_int_equal(d.p2c_packets, 1);
}

/* Two allocations whose ids share a slot: the first owns it, the second counts in nts_fp_alloc,
 * and each reads back its own packets only. */
static void test_second_allocation_on_a_slot_counts_in_the_hash(void **state)
{
	struct fx *fx = *state;
	struct nts_addr c2 = addr(net4.client, CLIENT_PORT_2), sv = addr(net4.server, SERVER_PORT),
			r2 = addr(net4.server, RELAY_PORT_2), p = addr(net4.peer, PEER_PORT);
	uint32_t slot = nts_fp_alloc_direct_slot(kid_of(fx, ALLOC));
	struct nts_fp_alloc_counters d;
	struct fp_frame in, out;
	uint64_t other = 0;
	int owned;

	for (uint64_t id = ALLOC + 1; id < ALLOC + 1000000 && !other; id++)
		if (nts_fp_alloc_direct_slot(kid_of(fx, id)) == slot)
			other = id;
	assert_int_not_equal(other, 0);
	bind_channel(fx, &net4, net4.peer, now_ns() + FAR);
	assert_int_equal(
	    fastpath_channel_set(fx->fp, other, &c2, &sv, &r2, &p, CHANNEL, now_ns() + FAR), 0);
	c2p_frame(&in, CLIENT_PORT);
	assert_int_equal(run(fx, &in, &out), XDP_TX);
	c2p_frame(&in, CLIENT_PORT_2);
	for (int i = 0; i < 3; i++)
		assert_int_equal(run(fx, &in, &out), XDP_TX);
	assert_int_equal(slot_sum(fx, kid_of(fx, ALLOC), &owned).c2p_packets, 1);
	assert_int_equal(hash_sum(fx, kid_of(fx, other)).c2p_packets, 3);
	assert_int_equal(fastpath_alloc_counters(fx->fp, ALLOC, &d), 0);
	assert_int_equal(d.c2p_packets, 1);
	assert_int_equal(fastpath_alloc_counters(fx->fp, other, &d), 0);
	assert_int_equal(d.c2p_packets, 3);
	/* Once the first is gone the slot is free, and the next allocation there takes it. */
	fastpath_alloc_del(fx->fp, ALLOC);
	slot_sum(fx, 0, &owned);
	assert_int_equal(owned, libbpf_num_possible_cpus());
	fastpath_alloc_del(fx->fp, other);
	bind_channel(fx, &net4, net4.peer, now_ns() + FAR);
	slot_sum(fx, kid_of(fx, ALLOC), &owned);
	assert_int_equal(owned, libbpf_num_possible_cpus());
	assert_int_equal(fastpath_alloc_counters(fx->fp, ALLOC, &d), 0);
	assert_int_equal(d.c2p_packets, 0); /* the earlier one's packets went with it */
}

static void count_usage(void *arg, uint64_t alloc_id, const struct nts_fp_alloc_counters *d)
{
	struct nts_fp_alloc_counters *sum = arg;

	assert_int_equal(alloc_id, ALLOC);
	sum->c2p_packets += d->c2p_packets;
	sum->c2p_bytes += d->c2p_bytes;
}

/* Folding reports what the slot counted, once. */
static void test_fold_reports_the_slots_packets_once(void **state)
{
	struct fx *fx = *state;
	struct nts_fp_alloc_counters sum = {0};
	struct fp_frame in, out;

	bind_channel(fx, &net4, net4.peer, now_ns() + FAR);
	c2p_frame(&in, CLIENT_PORT);
	assert_int_equal(run(fx, &in, &out), XDP_TX);
	assert_int_equal(fastpath_fold(fx->fp, count_usage, &sum), 0);
	assert_int_equal(run(fx, &in, &out), XDP_TX);
	assert_int_equal(fastpath_fold(fx->fp, count_usage, &sum), 0);
	assert_int_equal(fastpath_fold(fx->fp, count_usage, &sum), 0);
	assert_int_equal(sum.c2p_packets, 2);
	assert_int_equal(sum.c2p_bytes, 2 * DLEN);
}

/* Writes owner (zero counters) into its slot on every CPU, as a gone ntsd would have left it. */
static void leave_slot(struct fx *fx, uint64_t owner, uint64_t packets)
{
	int ncpus = libbpf_num_possible_cpus();
	struct nts_fp_alloc_direct_val *v = calloc((size_t)ncpus, sizeof(*v));
	uint32_t slot = nts_fp_alloc_direct_slot(owner);

	assert_non_null(v);
	for (int c = 0; c < ncpus; c++)
		v[c].owner = owner;
	v[0].c.c2p_packets = packets;
	assert_int_equal(bpf_map_update_elem(fastpath_fds(fx->fp)->direct, &slot, v, BPF_ANY), 0);
	free(v);
}

/* A new handle with nothing of other generations left frees their slots, and the slots an
 * earlier generation with its own number left (its allocations start again at 1). */
static void test_new_generation_frees_gone_generations_slots(void **state)
{
	struct fx *fx = *state;
	uint32_t next = fastpath_generation(fx->fp); /* empty maps: the next handle's too */
	uint64_t gone = (uint64_t)(next + 5) << NTS_FP_GEN_SHIFT | 3,
		 wrapped = (uint64_t)next << NTS_FP_GEN_SHIFT | 99;
	struct fastpath *fp;
	int owned;

	leave_slot(fx, gone, 10);
	leave_slot(fx, wrapped, 20);
	assert_int_equal(fastpath_from_fds(fastpath_fds(fx->fp), &fp), 0);
	assert_int_equal(fastpath_generation(fp), next);
	fastpath_close(fx->fp);
	fx->fp = fp;
	slot_sum(fx, gone, &owned);
	assert_int_equal(owned, 0);
	slot_sum(fx, wrapped, &owned);
	assert_int_equal(owned, 0);
}

/* Pins the fixture's maps under dir, the direct map among them. */
static void pin_all(struct fx *fx, const char *dir, bool pin)
{
	const struct fastpath_fds *f = fastpath_fds(fx->fp);
	const char *names[] = {NTS_FP_MAP_CLIENT, NTS_FP_MAP_PEER,	  NTS_FP_MAP_PERM,
			       NTS_FP_MAP_RELAY,  NTS_FP_MAP_ALLOC,	  NTS_FP_MAP_STATS,
			       NTS_FP_MAP_TX,	  NTS_FP_MAP_ALLOC_DIRECT};
	const int fds[] = {f->client, f->peer,	f->perm, f->relay,
			   f->alloc,  f->stats, f->tx,	 f->direct};
	char path[128];

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (pin)
			assert_int_equal(bpf_obj_pin(fds[i], path), 0);
		else
			unlink(path);
	}
}

/* A handle that continues the generation (an upgrade's new ntsd) keeps the allocation in its slot
 * with what it counted, and its fold starts from there. */
static void test_continued_generation_keeps_counting_in_the_slot(void **state)
{
	struct fx *fx = *state;
	char dir[] = "/sys/fs/bpf/nts-test-direct-XXXXXX";
	struct nts_addr c = addr(net4.client, CLIENT_PORT), sv = addr(net4.server, SERVER_PORT),
			r = addr(net4.server, RELAY_PORT), p = addr(net4.peer, PEER_PORT);
	struct nts_fp_alloc_counters sum = {0}, d;
	struct fp_frame in, out;
	struct fastpath *fp2;
	int owned;

	if (!mkdtemp(dir))
		skip();
	pin_all(fx, dir, true);
	bind_channel(fx, &net4, net4.peer, now_ns() + FAR);
	c2p_frame(&in, CLIENT_PORT);
	assert_int_equal(run(fx, &in, &out), XDP_TX);
	assert_int_equal(fastpath_open_gen(dir, fastpath_generation(fx->fp), &fp2), 0);
	assert_int_equal(fastpath_channel_set(fp2, ALLOC, &c, &sv, &r, &p, CHANNEL, now_ns() + FAR),
			 0);
	assert_int_equal(run(fx, &in, &out), XDP_TX);
	assert_int_equal(slot_sum(fx, kid_of(fx, ALLOC), &owned).c2p_packets, 2);
	assert_int_equal(fastpath_alloc_counters(fp2, ALLOC, &d), 0);
	assert_int_equal(d.c2p_packets, 2);
	/* The packet before the handover was the old handle's to fold. */
	assert_int_equal(fastpath_fold(fp2, count_usage, &sum), 0);
	assert_int_equal(sum.c2p_packets, 1);
	fastpath_close(fp2);
	pin_all(fx, dir, false);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_packets_count_in_the_allocations_slot, setup),
	    cmocka_unit_test_setup(test_second_allocation_on_a_slot_counts_in_the_hash, setup),
	    cmocka_unit_test_setup(test_fold_reports_the_slots_packets_once, setup),
	    cmocka_unit_test_setup(test_new_generation_frees_gone_generations_slots, setup),
	    cmocka_unit_test_setup(test_continued_generation_keeps_counting_in_the_slot, setup),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
