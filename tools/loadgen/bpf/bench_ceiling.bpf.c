// SPDX-License-Identifier: GPL-2.0
/* Bench "wire ceiling": the least an in-kernel relay must do for ChannelData (RFC 8656 §12.4) —
 * strip the 4-byte header, write fresh Ethernet/IPv4/UDP headers towards the peer and redirect to
 * the peer-facing device — with no lookup, no policy and no counters. Shows the topology's packet
 * limit. */
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
	__type(value, struct bench_ceiling_cfg);
} bench_ceiling_cfg SEC(".maps");

static __always_inline __u16 bench_ip_csum(struct iphdr *ip)
{
	__u16 *w = (__u16 *)ip;
	__u32 sum = 0;
	int i;

	ip->check = 0;
#pragma unroll
	for (i = 0; i < (int)sizeof(*ip) / 2; i++)
		sum += w[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

SEC("xdp")
int bench_ceiling(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 key = 0;
	struct bench_ceiling_cfg *cfg = bpf_map_lookup_elem(&bench_ceiling_cfg, &key);
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip + 1);
	__u8 *cd = (void *)(udp + 1);
	__u16 channel, dlen;

	if (!cfg || (void *)(cd + 4) > data_end)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IP) || ip->ihl != 5 || ip->protocol != IPPROTO_UDP ||
	    ip->daddr != cfg->listen_ip || udp->dest != bpf_htons(cfg->listen_port) ||
	    (cd[0] & 0xC0) != 0x40)
		return XDP_PASS;
	channel = ((__u16)cd[0] << 8) | cd[1];
	dlen = ((__u16)cd[2] << 8) | cd[3];
	if (dlen > 1472)
		return XDP_PASS;
	if (bpf_xdp_adjust_head(ctx, 4))
		return XDP_ABORTED;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	ip = (void *)(eth + 1);
	udp = (void *)(ip + 1);
	if ((void *)(udp + 1) > data_end)
		return XDP_ABORTED;
	__builtin_memcpy(eth->h_source, cfg->src_mac, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, cfg->dst_mac, ETH_ALEN);
	eth->h_proto = bpf_htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->tos = 0;
	ip->tot_len = bpf_htons(sizeof(*ip) + sizeof(*udp) + dlen);
	ip->id = 0;
	ip->frag_off = bpf_htons(0x4000); /* DF */
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	ip->saddr = cfg->relay_ip;
	ip->daddr = cfg->peer_ip;
	ip->check = bench_ip_csum(ip);
	udp->source = bpf_htons(cfg->relay_port);
	udp->dest = bpf_htons(cfg->peer_port + (channel - 0x4000));
	udp->len = bpf_htons(sizeof(*udp) + dlen);
	udp->check = 0;
	return bpf_redirect(cfg->ifindex, 0);
}

char LICENSE[] SEC("license") = "GPL";
