// SPDX-License-Identifier: GPL-2.0
/* The XDP fast path: relays ChannelData between TURN clients and their peers for bound channels
 * (RFC 8656 §12), drops peer traffic to a relay without any permission (RFC 8656 §9), and hands
 * everything else to the kernel stack untouched. parse -> lookup -> route -> rewrite -> forward.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <xdp/xdp_helpers.h>

#include "nts/fastpath_maps.h"

char LICENSE[] SEC("license") = "GPL";

/* max_entries below are defaults; the loader sets them from configuration before load. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NTS_FP_DEFAULT_CHANNELS);
	__type(key, struct nts_fp_client_key);
	__type(value, struct nts_fp_client_val);
} nts_fp_client SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NTS_FP_DEFAULT_CHANNELS);
	__type(key, struct nts_fp_peer_key);
	__type(value, struct nts_fp_peer_val);
} nts_fp_peer SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NTS_FP_DEFAULT_CHANNELS);
	__type(key, struct nts_fp_perm_key);
	__type(value, struct nts_fp_perm_val);
} nts_fp_perm SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NTS_FP_DEFAULT_ALLOCS);
	__type(key, struct nts_fp_relay_key);
	__type(value, struct nts_fp_relay_val);
} nts_fp_relay SEC(".maps");

/* Per CPU: each CPU counts into its own copy, without atomics or cache-line bouncing. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, NTS_FP_DEFAULT_ALLOCS);
	__type(key, __u64);
	__type(value, struct nts_fp_alloc_counters);
} nts_fp_alloc SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nts_fp_stats);
} nts_fp_stats SEC(".maps");

/* Interfaces forwarded packets may leave by (other than the arrival one): ifindex -> ifindex. */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, NTS_FP_TX_PORTS);
	__type(key, __u32);
	__type(value, __u32);
} nts_fp_tx SEC(".maps");

/* libxdp multiprog: run before lower-priority programs; continue the chain on XDP_PASS. */
struct {
	__uint(priority, 20);
	__uint(XDP_PASS, 1);
} XDP_RUN_CONFIG(nts_fastpath);

#include "fastpath_parse.h"
#include "fastpath_csum.h"
#include "fastpath_route.h"
#include "fastpath_fwd.h"

/* Client -> peer (RFC 8656 §12.4): ChannelData to a listen address on a bound channel.
 * Returns -1 when no channel matches (the packet may still be peer traffic). */
static __noinline int client_to_peer(struct xdp_md *ctx, struct nts_fp_stats *st,
				     const struct pkt *p)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct nts_fp_client_key key = {};
	struct nts_fp_client_val *v;
	struct fwd f = {};
	__u8 *cd;
	__u16 channel, len;

	/* Constant offsets per family keep the verifier's packet range checks simple. */
	if (p->v6)
		cd = data + sizeof(struct ethhdr) + sizeof(struct ipv6hdr) + sizeof(struct udphdr);
	else
		cd = data + sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct udphdr);
	if ((void *)(cd + 4) > data_end || p->udp_len < sizeof(struct udphdr) + 4)
		return -1;
	if ((cd[0] & 0xc0) != 0x40)
		return -1;
	channel = ((__u16)cd[0] << 8) | cd[1];
	len = ((__u16)cd[2] << 8) | cd[3];
	key.client_ip = p->src;
	key.server_ip = p->dst;
	key.client_port = p->sport;
	key.server_port = p->dport;
	key.channel = channel;
	v = bpf_map_lookup_elem(&nts_fp_client, &key);
	if (!v)
		return -1;
	/* RFC 8656 §12.5: over UDP the data may be followed by padding; only the exact length is
	 * relayed here so the peer receives exactly what userspace would send. */
	if (len != p->udp_len - sizeof(struct udphdr) - 4)
		return pass(&st->pass_channel_length);
	f.now = bpf_ktime_get_coarse_ns();
	if (v->expires_ns < f.now)
		return pass(&st->pass_expired);
	f.src = v->relay_ip;
	f.dst = v->peer_ip;
	f.sport = v->relay_port;
	f.dport = v->peer_port;
	f.channel = channel;
	f.cd_len = len;
	f.to_client = 0;
	f.alloc_id = v->alloc_id;
	f.nh = &v->nh;
	return forward(ctx, st, p, &f);
}

/* Peer traffic without a channel (RFC 8656 §9): a permission sends it to userspace for a Data
 * indication; a known relay without permission drops it; anything else is not ours. */
static __noinline int peer_without_channel(struct nts_fp_stats *st, const struct pkt *p, __u64 now)
{
	struct nts_fp_perm_key pkey = {};
	struct nts_fp_relay_key rkey = {};
	struct nts_fp_perm_val *pv;
	struct nts_fp_relay_val *rv;

	pkey.relay_ip = p->dst;
	pkey.peer_ip = p->src;
	pkey.relay_port = p->dport;
	pv = bpf_map_lookup_elem(&nts_fp_perm, &pkey);
	if (pv)
		return pv->expires_ns < now ? pass(&st->pass_expired) : pass(&st->pass_permission);
	rkey.relay_ip = p->dst;
	rkey.relay_port = p->dport;
	rv = bpf_map_lookup_elem(&nts_fp_relay, &rkey);
	if (!rv)
		return pass(&st->pass_no_match);
	if (rv->expires_ns < now)
		return pass(&st->pass_expired);
	/* RFC 8656 §9: data from a peer without a permission is silently discarded. */
	COUNT(st, drop_no_permission);
	return XDP_DROP;
}

/* Peer -> client (RFC 8656 §12.6 / §10.3): UDP from a peer to a relay address. */
static __noinline int peer_to_client(struct xdp_md *ctx, struct nts_fp_stats *st,
				     const struct pkt *p)
{
	struct nts_fp_peer_key key = {};
	struct nts_fp_peer_val *v;
	struct fwd f = {};
	__u64 now;

	key.relay_ip = p->dst;
	key.peer_ip = p->src;
	key.relay_port = p->dport;
	key.peer_port = p->sport;
	v = bpf_map_lookup_elem(&nts_fp_peer, &key);
	now = bpf_ktime_get_coarse_ns();
	if (!v)
		return peer_without_channel(st, p, now);
	if (v->expires_ns < now)
		return pass(&st->pass_expired);
	if (p->udp_len > 0xffff - 4)
		return pass(&st->pass_too_big);
	f.src = v->server_ip;
	f.dst = v->client_ip;
	f.sport = v->server_port;
	f.dport = v->client_port;
	f.channel = v->channel;
	f.cd_len = p->udp_len - sizeof(struct udphdr);
	f.to_client = 1;
	f.alloc_id = v->alloc_id;
	f.now = now;
	f.nh = &v->nh;
	return forward(ctx, st, p, &f);
}

SEC("xdp")
int nts_fastpath(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct nts_fp_stats *st;
	struct pkt p = {};
	__u32 zero = 0;
	int act;

	st = bpf_map_lookup_elem(&nts_fp_stats, &zero);
	if (!st)
		return XDP_PASS;
	if ((void *)(eth + 1) > data_end)
		return pass(&st->pass_not_udp);
	if (eth->h_proto == bpf_htons(ETH_P_IP))
		act = parse_ipv4(ctx, st, &p);
	else if (eth->h_proto == bpf_htons(ETH_P_IPV6))
		act = parse_ipv6(ctx, st, &p);
	else
		return pass(&st->pass_not_udp);
	if (act >= 0)
		return act;
	act = client_to_peer(ctx, st, &p);
	if (act >= 0)
		return act;
	return peer_to_client(ctx, st, &p);
}
