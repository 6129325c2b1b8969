// SPDX-License-Identifier: GPL-2.0
/* Bench sink on the peer namespace's veth: counts benchmark datagrams that arrive correctly relayed
 * (right destination, length, magic and payload pattern), records their one-way latency and drops
 * them, so the peer's own stack is not what is measured. Everything else goes to the stack. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "../bench_proto.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bench_sink_cfg);
} bench_sink_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bench_sink_stats);
} bench_sink_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bench_hist);
} bench_sink_hist SEC(".maps");

static __always_inline __u32 bench_lat_bucket(__u64 ns)
{
	if (ns < (__u64)BENCH_LAT_FINE * BENCH_LAT_FINE_NS)
		return ns / BENCH_LAT_FINE_NS;
	ns -= (__u64)BENCH_LAT_FINE * BENCH_LAT_FINE_NS;
	if (ns < (__u64)BENCH_LAT_COARSE * BENCH_LAT_COARSE_NS)
		return BENCH_LAT_FINE + ns / BENCH_LAT_COARSE_NS;
	return BENCH_LAT_BUCKETS - 1;
}

/* Returns the UDP header of a benchmark datagram for cfg, or NULL. */
static __always_inline struct udphdr *bench_sink_udp(void *data, void *data_end,
						     const struct bench_sink_cfg *cfg)
{
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip + 1);
	__u16 dport;

	if ((void *)(udp + 1) > data_end)
		return NULL;
	if (eth->h_proto != bpf_htons(ETH_P_IP) || ip->ihl != 5 || ip->protocol != IPPROTO_UDP)
		return NULL;
	if (ip->daddr != cfg->dst_ip || (cfg->src_ip && ip->saddr != cfg->src_ip))
		return NULL;
	dport = bpf_ntohs(udp->dest);
	if (dport < cfg->port_lo || dport > cfg->port_hi)
		return NULL;
	return udp;
}

SEC("xdp")
int bench_sink(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 key = 0;
	struct bench_sink_cfg *cfg = bpf_map_lookup_elem(&bench_sink_cfg, &key);
	struct bench_sink_stats *st = bpf_map_lookup_elem(&bench_sink_stats, &key);
	struct bench_hist *hist;
	struct bench_hdr *h;
	struct udphdr *udp;
	__u8 *tail;
	__u32 plen, i;
	__u64 now;

	if (!cfg || !st)
		return XDP_PASS;
	udp = bench_sink_udp(data, data_end, cfg);
	if (!udp)
		goto pass;
	h = (void *)(udp + 1);
	if ((void *)(h + 1) > data_end || h->magic != BENCH_MAGIC_KERNEL)
		goto pass;
	now = bpf_ktime_get_ns();
	plen = (__u32)bpf_ntohs(udp->len) - sizeof(*udp);
	if (plen != cfg->payload_len || plen < BENCH_HDR_LEN + BENCH_TAIL_LEN || plen > 1472)
		goto bad;
	tail = (__u8 *)h + (plen & 0x7ff) - BENCH_TAIL_LEN;
	if ((void *)(tail + BENCH_TAIL_LEN) > data_end)
		goto bad;
	for (i = 0; i < BENCH_TAIL_LEN; i++)
		if (tail[i] != bench_pattern(plen - BENCH_TAIL_LEN + i, 0))
			goto bad;
	st->pkts++;
	st->bytes += plen;
	hist = bpf_map_lookup_elem(&bench_sink_hist, &key);
	if (hist && h->ts && now >= h->ts) {
		__u32 idx = bench_lat_bucket(now - h->ts);

		/* Hide the division's range from clang so the verifier sees this bound. */
		asm volatile("" : "+r"(idx));
		if (idx < BENCH_LAT_BUCKETS)
			__sync_fetch_and_add(&hist->b[idx], 1);
	}
	return XDP_DROP;
bad:
	st->bad++;
	return XDP_DROP;
pass:
	st->passed++;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
