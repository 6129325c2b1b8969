// SPDX-License-Identifier: GPL-2.0
/* Bench traffic generator: run by nts-loadgen through BPF_PROG_RUN with BPF_F_TEST_XDP_LIVE_FRAMES on the
 * client namespace's veth. Each crafted frame gets a fresh sequence number and send timestamp, then is
 * transmitted (XDP_TX becomes a redirect out of the ingress device in live-frames mode). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "../tools/loadgen/bench_proto.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bench_gen_cfg);
} bench_gen_cfg SEC(".maps");

__u64 bench_gen_seq = 0;

SEC("xdp")
int bench_gen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 key = 0;
	struct bench_gen_cfg *cfg = bpf_map_lookup_elem(&bench_gen_cfg, &key);
	struct bench_hdr *h;
	__u32 off;

	if (!cfg)
		return XDP_ABORTED;
	off = cfg->hdr_off & 0xff;
	h = data + off;
	if ((void *)(h + 1) > data_end)
		return XDP_ABORTED;
	h->seq = __sync_fetch_and_add(&bench_gen_seq, 1);
	h->ts = bpf_ktime_get_ns();
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
