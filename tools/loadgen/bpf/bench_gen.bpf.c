// SPDX-License-Identifier: GPL-2.0
/* Bench traffic generator: run by nts-loadgen through BPF_PROG_RUN with BPF_F_TEST_XDP_LIVE_FRAMES
 * on the client namespace's veth. Each frame gets its flow's template bytes back (pages are
 * recycled as the path left them), a sequence number and a send timestamp, and is transmitted
 * (XDP_TX becomes a redirect out of the ingress device in live-frames mode). Pacing: frames ahead
 * of schedule are dropped unsent. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "../bench_proto.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bench_gen_cfg);
} bench_gen_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bench_gen_state);
} bench_gen_state SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BENCH_MAX_FLOWS);
	__type(key, __u32);
	__type(value, struct bench_gen_tmpl);
} bench_gen_tmpl SEC(".maps");

/* True when the frame may go now (token schedule: one per interval, no catch-up bursts). */
static __always_inline int bench_gen_due(struct bench_gen_state *st, __u64 interval, __u64 now)
{
	if (!interval)
		return 1;
	if (now < st->next_ns)
		return 0;
	st->next_ns += interval;
	if (st->next_ns + 1000000 < now)
		st->next_ns = now;
	return 1;
}

SEC("xdp")
int bench_gen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 key = 0, flow;
	struct bench_gen_cfg *cfg = bpf_map_lookup_elem(&bench_gen_cfg, &key);
	struct bench_gen_state *st = bpf_map_lookup_elem(&bench_gen_state, &key);
	struct bench_gen_tmpl *t;
	struct bench_hdr *h;
	__u64 now = bpf_ktime_get_ns();

	if (!cfg || !st || !cfg->nflows)
		return XDP_ABORTED;
	if (!bench_gen_due(st, cfg->interval_ns, now))
		return XDP_DROP;
	flow = st->seq % cfg->nflows;
	t = bpf_map_lookup_elem(&bench_gen_tmpl, &flow);
	if (!t || data + BENCH_TMPL_LEN > data_end)
		return XDP_ABORTED;
	__builtin_memcpy(data, t->b, BENCH_TMPL_LEN);
	h = data + (cfg->hdr_off & 0x3f);
	if ((void *)(h + 1) > data_end)
		return XDP_ABORTED;
	h->seq = st->seq++;
	h->ts = now;
	st->sent++;
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
