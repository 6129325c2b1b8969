/* Each CPU's debts to the shared limit buckets (nts_fp_limit_debt, nts_fp_account_debt;
 * bpf/fastpath_limit.h): a CPU admits a datagram while the bucket less its own debt holds tokens,
 * pays its debt to the bucket once the debt passes 1 ms of the rate and before it refills the
 * bucket, and pays a bucket's debts when another bucket's slot takes their entry.
 */
#include <sched.h>

#include "fp_limit.h"

#define ALLOC2 9

/* From here on the test runs on one CPU, whose debts it reads back: that CPU. */
static int pin_cpu(cpu_set_t *saved)
{
	cpu_set_t one;
	int cpu = 0;

	assert_int_equal(sched_getaffinity(0, sizeof(*saved), saved), 0);
	while (cpu < CPU_SETSIZE - 1 && !CPU_ISSET(cpu, saved))
		cpu++;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
	return cpu;
}

static void unpin(const cpu_set_t *saved)
{
	assert_int_equal(sched_setaffinity(0, sizeof(*saved), saved), 0);
}

static int debt_fd(struct fx *fx)
{
	return bpf_map__fd(fx->skel->maps.nts_fp_limit_debt);
}

/* The debt entry the allocation bucket at slot maps to, as cpu holds it. */
static struct nts_fp_debt debt_get(struct fx *fx, uint32_t slot, int cpu)
{
	int ncpus = libbpf_num_possible_cpus();
	struct nts_fp_debt *v = calloc((size_t)ncpus, sizeof(*v)), d;
	uint32_t i = slot & (NTS_FP_DEBT_SLOTS - 1);

	assert_non_null(v);
	assert_true(cpu < ncpus);
	assert_int_equal(bpf_map_lookup_elem(debt_fd(fx), &i, v), 0);
	d = v[cpu];
	free(v);
	return d;
}

/* Writes d into the entry slot maps to, on every CPU. */
static void debt_set(struct fx *fx, uint32_t slot, const struct nts_fp_debt *d)
{
	int ncpus = libbpf_num_possible_cpus();
	struct nts_fp_debt *v = calloc((size_t)ncpus, sizeof(*v));
	uint32_t i = slot & (NTS_FP_DEBT_SLOTS - 1);

	assert_non_null(v);
	for (int c = 0; c < ncpus; c++)
		v[c] = *d;
	assert_int_equal(bpf_map_update_elem(debt_fd(fx), &i, v, BPF_ANY), 0);
	free(v);
}

/* The slot's client -> peer bucket set to bytes tokens, last refilled at at_ns. */
static void bucket_set(struct fx *fx, uint32_t slot, int64_t bytes, uint64_t at_ns)
{
	struct nts_fp_limit_val v = limit_val(fx, slot);

	v.dir[NTS_FP_DIR_C2P].bytes = bytes;
	v.dir[NTS_FP_DIR_C2P].at_ns = at_ns;
	assert_int_equal(bpf_map_update_elem(fastpath_fds(fx->fp)->limit, &slot, &v, BPF_ANY), 0);
}

static int64_t bucket_bytes(struct fx *fx, uint32_t slot)
{
	return limit_val(fx, slot).dir[NTS_FP_DIR_C2P].bytes;
}

/* A limited channel of ALLOC at bps bytes per second; its limit slot. */
static uint32_t limited(struct fx *fx, uint64_t bps)
{
	bind_channel(fx, &net4, net4.peer, now_ns() + FAR);
	set_limits(fx, ALLOC, bps, 0, 0, 0);
	return client_val(fx, &net4, CHANNEL).limit_slot;
}

#define TOKENS(bytes) ((int64_t)(bytes) * NTS_BUCKET_UNIT)
#define LATER (now_ns() + 1000000000ull) /* a refill time that keeps the bucket from refilling */

/* The bucket holds 10 bytes; a CPU owing 10 has none, one owing 9 has one: its datagram passes
 * and owes its 54 bytes too (less than 1 ms of 1 MB/s, so not paid yet), and the next is held. */
static void test_own_debt_holds_back_own_datagrams(void **state)
{
	struct fx *fx = *state;
	uint32_t slot = limited(fx, 1000000);
	struct nts_fp_debt d = {.owner = kid_of(fx, ALLOC), .slot = slot, .bps = 1000000};
	cpu_set_t saved;
	int cpu = pin_cpu(&saved);

	bucket_set(fx, slot, TOKENS(10), LATER);
	d.bytes[NTS_FP_DIR_C2P] = TOKENS(10);
	debt_set(fx, slot, &d);
	assert_int_equal(run_client(fx, &net4, CHANNEL), XDP_DROP);
	d.bytes[NTS_FP_DIR_C2P] = TOKENS(9);
	debt_set(fx, slot, &d);
	assert_int_equal(run_client(fx, &net4, CHANNEL), XDP_TX);
	assert_int_equal(debt_get(fx, slot, cpu).bytes[NTS_FP_DIR_C2P], TOKENS(9 + DLEN));
	assert_int_equal(bucket_bytes(fx, slot), TOKENS(10));
	assert_int_equal(run_client(fx, &net4, CHANNEL), XDP_DROP);
	assert_int_equal(stats(fx).drop_rate_limited, 2);
	unpin(&saved);
}

/* At 100 kB/s a millisecond is 100 bytes: the first datagram's 54 stay owed, the second's take the
 * debt past it and both are paid to the bucket. */
static void test_debt_is_paid_past_a_millisecond_of_the_rate(void **state)
{
	struct fx *fx = *state;
	uint32_t slot = limited(fx, 100000);
	cpu_set_t saved;
	int cpu = pin_cpu(&saved);

	bucket_set(fx, slot, TOKENS(1000), LATER);
	assert_int_equal(run_client(fx, &net4, CHANNEL), XDP_TX);
	assert_int_equal(debt_get(fx, slot, cpu).bytes[NTS_FP_DIR_C2P], TOKENS(DLEN));
	assert_int_equal(bucket_bytes(fx, slot), TOKENS(1000));
	assert_int_equal(run_client(fx, &net4, CHANNEL), XDP_TX);
	assert_int_equal(debt_get(fx, slot, cpu).bytes[NTS_FP_DIR_C2P], 0);
	assert_int_equal(bucket_bytes(fx, slot), TOKENS(1000 - 2 * DLEN));
	unpin(&saved);
}

/* The CPU that refills a bucket pays its debt first: owing 50 kB to an empty bucket last refilled
 * 10 ms ago (10 kB at 1 MB/s), it is still in debt after the refill and its datagram is held. */
static void test_refill_starts_from_the_paid_debt(void **state)
{
	struct fx *fx = *state;
	uint32_t slot = limited(fx, 1000000);
	struct nts_fp_debt d = {.owner = kid_of(fx, ALLOC), .slot = slot, .bps = 1000000};
	struct timespec ts;
	cpu_set_t saved;
	int cpu = pin_cpu(&saved);
	uint64_t at;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts); /* the program's clock */
	at = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec - 10000000ull;
	bucket_set(fx, slot, 0, at);
	d.bytes[NTS_FP_DIR_C2P] = TOKENS(50000);
	debt_set(fx, slot, &d);
	assert_int_equal(run_client(fx, &net4, CHANNEL), XDP_DROP);
	assert_int_equal(debt_get(fx, slot, cpu).bytes[NTS_FP_DIR_C2P], 0);
	assert_true(bucket_bytes(fx, slot) < 0);
	assert_true(bucket_bytes(fx, slot) >= TOKENS(10000 - 50000));
	assert_true(limit_val(fx, slot).dir[NTS_FP_DIR_C2P].at_ns > at);
	unpin(&saved);
}

/* An entry another bucket's slot maps to is taken over: the debts it held go to their bucket while
 * that bucket's owner is the one they were taken for, and are dropped otherwise. */
static void test_entry_taken_over_pays_its_debts(void **state)
{
	struct fx *fx = *state;
	struct nts_addr c = addr(net4.client, CLIENT_PORT), s = addr(net4.server, SERVER_PORT),
			r2 = addr(net4.server, RELAY_PORT + 1), p = addr(net4.peer, PEER_PORT);
	uint32_t slot = limited(fx, 1000000), slot2;
	struct nts_fp_debt d = {.owner = kid_of(fx, ALLOC2), .bps = 1000000};
	cpu_set_t saved;
	int cpu = pin_cpu(&saved);

	assert_int_equal(
	    fastpath_channel_set(fx->fp, ALLOC2, &c, &s, &r2, &p, CHANNEL + 1, now_ns() + FAR), 0);
	set_limits(fx, ALLOC2, 1000000, 0, 0, 0);
	slot2 = client_val(fx, &net4, CHANNEL + 1).limit_slot;
	assert_int_not_equal(slot2, slot);
	bucket_set(fx, slot2, TOKENS(100000), LATER);
	/* As if slot2 mapped to slot's entry and had taken 5000 bytes there. */
	d.slot = slot2;
	d.bytes[NTS_FP_DIR_C2P] = TOKENS(5000);
	debt_set(fx, slot, &d);
	assert_int_equal(run_client(fx, &net4, CHANNEL), XDP_TX);
	assert_int_equal(bucket_bytes(fx, slot2), TOKENS(100000 - 5000));
	d = debt_get(fx, slot, cpu);
	assert_int_equal(d.owner, kid_of(fx, ALLOC));
	assert_int_equal(d.slot, slot);
	assert_int_equal(d.bytes[NTS_FP_DIR_C2P], TOKENS(DLEN));
	/* Debts taken for an earlier owner of slot2, or at other rates (before ntsd rewrote the
	 * slot), are not the present bucket's. */
	d = (struct nts_fp_debt){.owner = kid_of(fx, ALLOC2 + 1), .slot = slot2, .bps = 1000000};
	d.bytes[NTS_FP_DIR_C2P] = TOKENS(7000);
	debt_set(fx, slot, &d);
	assert_int_equal(run_client(fx, &net4, CHANNEL), XDP_TX);
	d = (struct nts_fp_debt){.owner = kid_of(fx, ALLOC2), .slot = slot2, .bps = 2000000};
	d.bytes[NTS_FP_DIR_C2P] = TOKENS(7000);
	debt_set(fx, slot, &d);
	assert_int_equal(run_client(fx, &net4, CHANNEL), XDP_TX);
	assert_int_equal(bucket_bytes(fx, slot2), TOKENS(100000 - 5000));
	unpin(&saved);
}

/* A limit rewritten with other rates starts from fresh buckets: what a CPU owed at the old rates
 * is not charged to them (1 ms of a high rate could hold a low one back for long). */
static void test_new_rates_start_without_the_old_debts(void **state)
{
	struct fx *fx = *state;
	uint32_t slot = limited(fx, 1000000);
	struct nts_fp_debt d = {.owner = kid_of(fx, ALLOC), .slot = slot, .bps = 1000000};
	cpu_set_t saved;
	int cpu = pin_cpu(&saved);

	d.bytes[NTS_FP_DIR_C2P] = TOKENS(5000);
	debt_set(fx, slot, &d);
	set_limits(fx, ALLOC, 1000, 0, 0, 0); /* 100 bytes of burst */
	assert_int_equal(client_val(fx, &net4, CHANNEL).limit_slot, slot);
	bucket_set(fx, slot, TOKENS(100), LATER);
	assert_int_equal(run_client(fx, &net4, CHANNEL), XDP_TX);
	d = debt_get(fx, slot, cpu);
	assert_int_equal(d.bps, 1000);
	assert_int_equal(d.bytes[NTS_FP_DIR_C2P], 0); /* 54 bytes: over 1 ms of 1 kB/s, paid */
	assert_int_equal(bucket_bytes(fx, slot), TOKENS(100 - DLEN));
	unpin(&saved);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(t) cmocka_unit_test_setup(t, setup)
	    T(test_own_debt_holds_back_own_datagrams),
	    T(test_debt_is_paid_past_a_millisecond_of_the_rate),
	    T(test_refill_starts_from_the_paid_debt),
	    T(test_entry_taken_over_pays_its_debts),
	    T(test_new_rates_start_without_the_old_debts),
#undef T
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
