/* nts-xdp-micro: the XDP program's own time per relayed datagram, without generator, veths or sink
 * (README "The XDP fast path: where the cycles go"). Two allocations are bound so that the
 * program's output for one is the other's input: a ChannelData frame relayed client -> peer is a
 * peer datagram of the second allocation, which relays it back as the first frame.
 * bpf_prog_test_run repeats the program over the same buffer, so each run relays the previous run's
 * output (both directions alike, IPv4), and reports the mean time per run; RUNS calls of REPEAT
 * runs give the percentiles printed. Built with the fast path's profiling stops (BPF_EXTRA=
 * -DNTS_FP_PROFILE_STOP=n, bpf/fastpath_state.h), the frames are dropped at step n instead and
 * --profile skips the checks of what was relayed.
 * usage: nts-xdp-micro [--size B] [--profile]
 */
#include <getopt.h>

#include "fp_fixture.h"

#define REPEAT 60 /* the frame's TTL (64) falls by one per run */
#define RUNS 20000

static size_t micro_size = 100;
static bool micro_profile;

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void bounce(void **state)
{
	struct fx *fx = *state;
	const char *a = "198.18.0.2", *b = "198.18.0.3"; /* both neighbours on fpa0 */
	struct nts_addr c1 = addr(a, 40000), s1 = addr(b, 3478), r1 = addr(b, 50000),
			p1 = addr(a, 60000);
	static uint8_t payload[1400] = {0x80, 0x60}; /* RTP-like: not ChannelData-looking */
	static uint8_t cd[sizeof(payload) + 8];
	static uint32_t ns[RUNS];
	struct fp_spec s = {.src = a, .dst = b, .sport = 40000, .dport = 3478};
	struct fp_frame in, out;
	struct nts_fp_stats st;

	/* The second allocation relays from p1 at r1 back to c1 at s1, on the same channel. */
	assert_int_equal(
	    fastpath_channel_set(fx->fp, 1, &c1, &s1, &r1, &p1, CHANNEL, now_ns() + FAR), 0);
	assert_int_equal(
	    fastpath_channel_set(fx->fp, 2, &s1, &c1, &p1, &r1, CHANNEL, now_ns() + FAR), 0);
	s.payload = cd;
	s.payload_len = fp_channeldata(cd, CHANNEL, payload, micro_size, 0);
	fp_build(&in, &s);
	for (int i = 0; i < RUNS; i++) {
		struct xdp_md ctx = {.data_end = in.len, .ingress_ifindex = fx->if_a};
		struct bpf_test_run_opts o = {.sz = sizeof(o),
					      .data_in = in.buf,
					      .data_size_in = in.len,
					      .data_out = out.buf,
					      .data_size_out = sizeof(out.buf),
					      .ctx_in = &ctx,
					      .ctx_size_in = sizeof(ctx),
					      .repeat = REPEAT};

		assert_int_equal(bpf_prog_test_run_opts(fx->prog_fd, &o), 0);
		if (!micro_profile)
			assert_int_equal(o.retval, XDP_TX);
		ns[i] = o.duration;
	}
	if (!micro_profile) {
		/* Every run relayed: half of them each way. */
		st = stats(fx);
		assert_int_equal(st.c2p_packets, (uint64_t)RUNS * REPEAT / 2);
		assert_int_equal(st.p2c_packets, (uint64_t)RUNS * REPEAT / 2);
		assert_int_equal(st.c2p_bytes, (uint64_t)RUNS * REPEAT / 2 * micro_size);
	}
	qsort(ns, RUNS, sizeof(ns[0]), u32_cmp);
	printf("{\"size\": %zu, \"profile\": %s, \"ns_per_pkt_p10\": %u, \"ns_per_pkt_p50\": %u, "
	       "\"ns_per_pkt_p90\": %u}\n",
	       micro_size, micro_profile ? "true" : "false", ns[RUNS / 10], ns[RUNS / 2],
	       ns[RUNS * 9 / 10]);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"size", required_argument, NULL, 's'}, {"profile", no_argument, NULL, 'p'}, {0}};
	const struct CMUnitTest run[] = {cmocka_unit_test_setup(bounce, setup)};
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 's')
			micro_size = strtoul(optarg, NULL, 10);
		else if (c == 'p')
			micro_profile = true;
		else
			return 2;
	}
	if (micro_size < 4 || micro_size > 1400) {
		fprintf(stderr, "nts-xdp-micro: --size is 4 to 1400 bytes\n");
		return 2;
	}
	return cmocka_run_group_tests(run, group_setup, group_teardown);
}
