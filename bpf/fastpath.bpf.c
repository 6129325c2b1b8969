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

#define AF_INET 2
#define AF_INET6 10
#define IP_MF 0x2000
#define IP_OFFMASK 0x1fff

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

/* What the parser learned about a UDP packet; addresses as they appear in the maps. */
struct pkt {
	struct nts_fp_ip src, dst;
	__u16 sport, dport; /* host order */
	__u16 udp_len;	    /* UDP header + payload */
	__u16 udp_csum;	    /* as on the wire */
	__u16 trailer;	    /* link-layer padding after the IP packet */
	__u8 ttl;
	__u8 v6;
};

/* Where a forwarded packet goes, with the ChannelData header to add (p2c) or remove (c2p). */
struct fwd {
	struct nts_fp_ip src, dst;
	__u16 sport, dport;
	__u16 channel; /* ChannelData header fields (network order when written) */
	__u16 cd_len;
	__u8 to_client; /* 1: prepend the header (p2c); 0: strip it (c2p) */
	__u64 alloc_id;
	__u64 now;		   /* bpf_ktime_get_coarse_ns() */
	struct nts_fp_nexthop *nh; /* the entry's next-hop cache (in the map value) */
};

#define COUNT(st, field) ((st)->field++)

static __always_inline int pass(__u64 *counter)
{
	(*counter)++;
	return XDP_PASS;
}

static __always_inline void ip_from_v4(struct nts_fp_ip *ip, __be32 a)
{
	__u32 *w = (__u32 *)ip->addr;

	w[0] = 0;
	w[1] = 0;
	w[2] = bpf_htonl(0xffff);
	w[3] = a;
}

static __always_inline int ip_is_v4(const struct nts_fp_ip *ip)
{
	const __u32 *w = (const __u32 *)ip->addr;

	return w[0] == 0 && w[1] == 0 && w[2] == bpf_htonl(0xffff);
}

static __always_inline __u16 csum_fold(__u64 sum)
{
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

/* One's-complement sum of n 32-bit words, for incremental checksums (RFC 1624 eq. 3) computed
 * inline: cheaper than the bpf_csum_diff helper for the few words a rewrite changes. */
static __always_inline __u64 csum_add_words(__u64 sum, const __u32 *w, int n)
{
#pragma unroll
	for (int i = 0; i < n; i++)
		sum += w[i];
	return sum;
}

static __always_inline __u64 csum_sub_words(__u64 sum, const __u32 *w, int n)
{
#pragma unroll
	for (int i = 0; i < n; i++)
		sum += (__u32)~w[i];
	return sum;
}

/* HC' = ~(~HC + ~m + m') given the sum ~m + m' of the changed words. */
static __always_inline __u16 csum_update(__u16 check, __u64 diff)
{
	return (__u16)~csum_fold(diff + (__u16)~check);
}

/* Parses Ethernet + IPv4 + UDP into p: -1 to go on, or the pass action for anything else. */
static __always_inline int parse_ipv4(struct xdp_md *ctx, struct nts_fp_stats *st, struct pkt *p)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct iphdr *iph = data + sizeof(struct ethhdr);
	struct udphdr *udp;
	__u16 tot;

	if ((void *)(iph + 1) > data_end)
		return pass(&st->pass_malformed);
	if (iph->version != 4 || iph->ihl < 5)
		return pass(&st->pass_malformed);
	if (iph->ihl != 5)
		return pass(&st->pass_ip_options);
	if (iph->frag_off & bpf_htons(IP_MF | IP_OFFMASK))
		return pass(&st->pass_fragment);
	if (iph->protocol != IPPROTO_UDP)
		return pass(&st->pass_not_udp);
	udp = (void *)(iph + 1);
	if ((void *)(udp + 1) > data_end)
		return pass(&st->pass_malformed);
	tot = bpf_ntohs(iph->tot_len);
	if (tot < sizeof(*iph) + sizeof(*udp) || (void *)iph + tot > data_end ||
	    bpf_ntohs(udp->len) != tot - sizeof(*iph))
		return pass(&st->pass_malformed);
	ip_from_v4(&p->src, iph->saddr);
	ip_from_v4(&p->dst, iph->daddr);
	p->sport = bpf_ntohs(udp->source);
	p->dport = bpf_ntohs(udp->dest);
	p->udp_len = bpf_ntohs(udp->len);
	p->udp_csum = udp->check;
	/* The program is not frags-aware: the frame is linear, data_end is its end. */
	p->trailer = (data_end - data) - sizeof(struct ethhdr) - tot;
	p->ttl = iph->ttl;
	p->v6 = 0;
	return -1;
}

/* Parses Ethernet + IPv6 + UDP (no extension headers). */
static __always_inline int parse_ipv6(struct xdp_md *ctx, struct nts_fp_stats *st, struct pkt *p)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct ipv6hdr *ip6 = data + sizeof(struct ethhdr);
	struct udphdr *udp;
	__u16 plen;

	if ((void *)(ip6 + 1) > data_end)
		return pass(&st->pass_malformed);
	if (ip6->version != 6)
		return pass(&st->pass_malformed);
	if (ip6->nexthdr == IPPROTO_FRAGMENT || ip6->nexthdr == IPPROTO_HOPOPTS ||
	    ip6->nexthdr == IPPROTO_ROUTING || ip6->nexthdr == IPPROTO_DSTOPTS)
		return pass(&st->pass_fragment);
	if (ip6->nexthdr != IPPROTO_UDP)
		return pass(&st->pass_not_udp);
	udp = (void *)(ip6 + 1);
	if ((void *)(udp + 1) > data_end)
		return pass(&st->pass_malformed);
	plen = bpf_ntohs(ip6->payload_len);
	if (plen < sizeof(*udp) || (void *)udp + plen > data_end || bpf_ntohs(udp->len) != plen ||
	    udp->check == 0)
		return pass(&st->pass_malformed);
	__builtin_memcpy(p->src.addr, &ip6->saddr, 16);
	__builtin_memcpy(p->dst.addr, &ip6->daddr, 16);
	p->sport = bpf_ntohs(udp->source);
	p->dport = bpf_ntohs(udp->dest);
	p->udp_len = plen;
	p->udp_csum = udp->check;
	p->trailer = (data_end - data) - sizeof(struct ethhdr) - sizeof(*ip6) - plen;
	p->ttl = ip6->hop_limit;
	p->v6 = 1;
	return -1;
}

/* Fills fib for the rewritten packet of tot_len bytes (L3). */
static __always_inline int fib_fill(struct xdp_md *ctx, const struct pkt *p, const struct fwd *f,
				    __u16 tot_len, struct bpf_fib_lookup *fib)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;

	__builtin_memset(fib, 0, sizeof(*fib));
	fib->l4_protocol = IPPROTO_UDP;
	fib->sport = bpf_htons(f->sport);
	fib->dport = bpf_htons(f->dport);
	fib->ifindex = ctx->ingress_ifindex;
	fib->tot_len = tot_len;
	if (p->v6) {
		struct ipv6hdr *ip6 = data + sizeof(struct ethhdr);

		if ((void *)(ip6 + 1) > data_end)
			return -1;
		fib->family = AF_INET6;
		fib->flowinfo = *(__be32 *)ip6 & bpf_htonl(0x0fffffff);
		__builtin_memcpy(fib->ipv6_src, f->src.addr, 16);
		__builtin_memcpy(fib->ipv6_dst, f->dst.addr, 16);
	} else {
		struct iphdr *iph = data + sizeof(struct ethhdr);

		if ((void *)(iph + 1) > data_end)
			return -1;
		fib->family = AF_INET;
		fib->tos = iph->tos;
		fib->ipv4_src = ((__u32 *)f->src.addr)[3];
		fib->ipv4_dst = ((__u32 *)f->dst.addr)[3];
	}
	return 0;
}

/* Routes the rewritten packet: the entry's cached next hop while it is fresh, else
 * bpf_fib_lookup, whose answer (with the egress MTU, probed with a maximal length) goes into the
 * cache, where the caller reads the MACs. Returns the egress ifindex (>0) or 0 to pass. */
static __noinline int route(struct xdp_md *ctx, struct nts_fp_stats *st, const struct pkt *p,
			    const struct fwd *f)
{
	__u16 tot_len = (p->v6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr)) +
			(f->to_client ? p->udp_len + 4 : p->udp_len - 4);
	struct nts_fp_nexthop *nh = f->nh;
	struct bpf_fib_lookup fib;
	__u8 smac[ETH_ALEN], dmac[ETH_ALEN];
	__u32 ifindex;
	__u16 mtu = 0xffff;
	long rc;

	if (!nh)
		return 0;
	if (nh->at_ns && f->now - nh->at_ns < NTS_FP_NEXTHOP_TTL_NS &&
	    nh->ingress == ctx->ingress_ifindex) {
		if (tot_len > nh->mtu) {
			COUNT(st, pass_too_big);
			return 0;
		}
		return nh->ifindex;
	}
	if (fib_fill(ctx, p, f, tot_len, &fib))
		return 0;
	rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
	if (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED) {
		COUNT(st, pass_too_big);
		return 0;
	}
	if (rc != BPF_FIB_LKUP_RET_SUCCESS) {
		COUNT(st, pass_fib);
		return 0;
	}
	ifindex = fib.ifindex;
	if (ifindex != ctx->ingress_ifindex && !bpf_map_lookup_elem(&nts_fp_tx, &ifindex)) {
		COUNT(st, pass_no_tx_port);
		return 0;
	}
	/* The MTU check comes before the neighbour in the lookup: a maximal length reports it. */
	__builtin_memcpy(smac, fib.smac, ETH_ALEN);
	__builtin_memcpy(dmac, fib.dmac, ETH_ALEN);
	if (fib_fill(ctx, p, f, 0xffff, &fib))
		return 0;
	if (bpf_fib_lookup(ctx, &fib, sizeof(fib), 0) == BPF_FIB_LKUP_RET_FRAG_NEEDED)
		mtu = fib.mtu_result;
	/* Other CPUs may read it meanwhile: the time goes in last, and an entry torn between two
	 * equal answers is still right. The caller takes the MACs from here. */
	nh->ingress = ctx->ingress_ifindex;
	nh->ifindex = ifindex;
	nh->mtu = mtu;
	__builtin_memcpy(nh->smac, smac, ETH_ALEN);
	__builtin_memcpy(nh->dmac, dmac, ETH_ALEN);
	nh->at_ns = f->now;
	return ifindex;
}

/* The UDP checksum after the rewrite: addresses, ports, length (pseudo-header and header) change,
 * and the 4-byte ChannelData header leaves or joins the payload at an even offset, so the payload's
 * 16-bit words keep their alignment. IPv4 and IPv6 differ only in the address words. */
static __always_inline __u16 udp_csum_finish(__u16 c)
{
	return c ? c : 0xffff; /* RFC 768 / RFC 8200 §8.1: a computed 0 is sent as all ones */
}

static __always_inline __u32 ports_word(__u16 sport, __u16 dport)
{
	return (__u32)bpf_htons(sport) | ((__u32)bpf_htons(dport) << 16);
}

static __always_inline __u32 cd_word(const struct fwd *f)
{
	return (__u32)bpf_htons(f->channel) | ((__u32)bpf_htons(f->cd_len) << 16);
}

/* The words that change outside the addresses: ports, the length (pseudo-header and header),
 * and the ChannelData header, which only the ChannelData side's datagram holds. */
static __always_inline __u64 udp_csum_diff_rest(const struct pkt *p, const struct fwd *f,
						__u16 new_udp_len, __u64 sum)
{
	__u32 cd = cd_word(f);

	sum += (__u32)~ports_word(p->sport, p->dport);
	sum += (__u32) ~((__u32)bpf_htons(p->udp_len) * 0x10001);
	sum += ports_word(f->sport, f->dport);
	sum += (__u32)bpf_htons(new_udp_len) * 0x10001;
	return f->to_client ? sum + cd : sum + (__u32)~cd;
}

static __always_inline __u16 udp_csum_new4(const struct pkt *p, const struct fwd *f,
					   __u16 new_udp_len)
{
	__u64 sum;

	if (p->udp_csum == 0)
		return 0; /* RFC 768: an IPv4 datagram without a checksum stays without one */
	sum = csum_sub_words(0, (const __u32 *)p->src.addr + 3, 1);
	sum = csum_sub_words(sum, (const __u32 *)p->dst.addr + 3, 1);
	sum = csum_add_words(sum, (const __u32 *)f->src.addr + 3, 1);
	sum = csum_add_words(sum, (const __u32 *)f->dst.addr + 3, 1);
	return udp_csum_finish(
	    csum_update(p->udp_csum, udp_csum_diff_rest(p, f, new_udp_len, sum)));
}

static __always_inline __u16 udp_csum_new6(const struct pkt *p, const struct fwd *f,
					   __u16 new_udp_len)
{
	__u64 sum;

	sum = csum_sub_words(0, (const __u32 *)p->src.addr, 4);
	sum = csum_sub_words(sum, (const __u32 *)p->dst.addr, 4);
	sum = csum_add_words(sum, (const __u32 *)f->src.addr, 4);
	sum = csum_add_words(sum, (const __u32 *)f->dst.addr, 4);
	return udp_csum_finish(
	    csum_update(p->udp_csum, udp_csum_diff_rest(p, f, new_udp_len, sum)));
}

/* Counts the relayed packet globally and for its allocation. */
static __always_inline void count_forward(struct nts_fp_stats *st, const struct fwd *f, __u16 bytes)
{
	struct nts_fp_alloc_counters *ac = bpf_map_lookup_elem(&nts_fp_alloc, &f->alloc_id);

	if (f->to_client) {
		st->p2c_packets++;
		st->p2c_bytes += bytes;
		if (ac) {
			ac->p2c_packets++;
			ac->p2c_bytes += bytes;
		}
	} else {
		st->c2p_packets++;
		st->c2p_bytes += bytes;
		if (ac) {
			ac->c2p_packets++;
			ac->c2p_bytes += bytes;
		}
	}
}

/* Rewrites an IPv4 packet: routes first (no change before we know it can leave), then moves the
 * headers by 4 bytes and writes them back with new addresses, ports, TTL and checksums. */
static __noinline int forward_ipv4(struct xdp_md *ctx, struct nts_fp_stats *st, const struct pkt *p,
				   const struct fwd *f)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	__u16 new_udp_len = f->to_client ? p->udp_len + 4 : p->udp_len - 4;
	struct iphdr oldh, newh;
	struct udphdr udp;
	struct ethhdr eth;
	__u32 cd;
	int ifindex;

	if ((void *)data + sizeof(eth) + sizeof(oldh) > data_end)
		return XDP_PASS;
	__builtin_memcpy(&oldh, data + sizeof(eth), sizeof(oldh));
	ifindex = route(ctx, st, p, f);
	if (ifindex <= 0)
		return XDP_PASS;

	newh = oldh;
	newh.ttl--;
	newh.tot_len = bpf_htons(sizeof(newh) + new_udp_len);
	newh.saddr = ((__u32 *)f->src.addr)[3];
	newh.daddr = ((__u32 *)f->dst.addr)[3];
	newh.check = csum_update(
	    oldh.check, csum_add_words(csum_sub_words(0, (__u32 *)&oldh, 5), (__u32 *)&newh, 5));
	udp.source = bpf_htons(f->sport);
	udp.dest = bpf_htons(f->dport);
	udp.len = bpf_htons(new_udp_len);
	udp.check = udp_csum_new4(p, f, new_udp_len);
	__builtin_memcpy(eth.h_dest, f->nh->dmac, ETH_ALEN);
	__builtin_memcpy(eth.h_source, f->nh->smac, ETH_ALEN);
	eth.h_proto = bpf_htons(ETH_P_IP);
	cd = cd_word(f);

	if (p->trailer && bpf_xdp_adjust_tail(ctx, -(int)p->trailer))
		return pass(&st->pass_adjust);
	if (bpf_xdp_adjust_head(ctx, f->to_client ? -4 : 4))
		return pass(&st->pass_adjust);
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	/* The frame held these bytes before the move, so the checks cannot fail. */
	if (data + sizeof(eth) + sizeof(newh) + sizeof(udp) > data_end)
		return XDP_ABORTED;
	__builtin_memcpy(data, &eth, sizeof(eth));
	__builtin_memcpy(data + sizeof(eth), &newh, sizeof(newh));
	__builtin_memcpy(data + sizeof(eth) + sizeof(newh), &udp, sizeof(udp));
	if (f->to_client) {
		if (data + sizeof(eth) + sizeof(newh) + sizeof(udp) + 4 > data_end)
			return XDP_ABORTED;
		__builtin_memcpy(data + sizeof(eth) + sizeof(newh) + sizeof(udp), &cd, 4);
	}
	count_forward(st, f, f->cd_len);
	if ((__u32)ifindex == ctx->ingress_ifindex) {
		COUNT(st, tx);
		return XDP_TX;
	}
	COUNT(st, redirect);
	return bpf_redirect_map(&nts_fp_tx, ifindex, XDP_PASS);
}

/* The same for IPv6: hop limit instead of TTL, no header checksum. */
static __noinline int forward_ipv6(struct xdp_md *ctx, struct nts_fp_stats *st, const struct pkt *p,
				   const struct fwd *f)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	__u16 new_udp_len = f->to_client ? p->udp_len + 4 : p->udp_len - 4;
	struct ipv6hdr newh;
	struct udphdr udp;
	struct ethhdr eth;
	__u32 cd;
	int ifindex;

	if ((void *)data + sizeof(eth) + sizeof(newh) > data_end)
		return XDP_PASS;
	__builtin_memcpy(&newh, data + sizeof(eth), sizeof(newh));
	ifindex = route(ctx, st, p, f);
	if (ifindex <= 0)
		return XDP_PASS;

	newh.hop_limit--;
	newh.payload_len = bpf_htons(new_udp_len);
	__builtin_memcpy(&newh.saddr, f->src.addr, 16);
	__builtin_memcpy(&newh.daddr, f->dst.addr, 16);
	udp.source = bpf_htons(f->sport);
	udp.dest = bpf_htons(f->dport);
	udp.len = bpf_htons(new_udp_len);
	udp.check = udp_csum_new6(p, f, new_udp_len);
	__builtin_memcpy(eth.h_dest, f->nh->dmac, ETH_ALEN);
	__builtin_memcpy(eth.h_source, f->nh->smac, ETH_ALEN);
	eth.h_proto = bpf_htons(ETH_P_IPV6);
	cd = cd_word(f);

	if (p->trailer && bpf_xdp_adjust_tail(ctx, -(int)p->trailer))
		return pass(&st->pass_adjust);
	if (bpf_xdp_adjust_head(ctx, f->to_client ? -4 : 4))
		return pass(&st->pass_adjust);
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (data + sizeof(eth) + sizeof(newh) + sizeof(udp) > data_end)
		return XDP_ABORTED;
	__builtin_memcpy(data, &eth, sizeof(eth));
	__builtin_memcpy(data + sizeof(eth), &newh, sizeof(newh));
	__builtin_memcpy(data + sizeof(eth) + sizeof(newh), &udp, sizeof(udp));
	if (f->to_client) {
		if (data + sizeof(eth) + sizeof(newh) + sizeof(udp) + 4 > data_end)
			return XDP_ABORTED;
		__builtin_memcpy(data + sizeof(eth) + sizeof(newh) + sizeof(udp), &cd, 4);
	}
	count_forward(st, f, f->cd_len);
	if ((__u32)ifindex == ctx->ingress_ifindex) {
		COUNT(st, tx);
		return XDP_TX;
	}
	COUNT(st, redirect);
	return bpf_redirect_map(&nts_fp_tx, ifindex, XDP_PASS);
}

static __always_inline int forward(struct xdp_md *ctx, struct nts_fp_stats *st, const struct pkt *p,
				   const struct fwd *f)
{
	if (p->ttl <= 1)
		return pass(&st->pass_ttl);
	if (ip_is_v4(&f->dst) == (int)p->v6 || ip_is_v4(&f->src) == (int)p->v6)
		return pass(&st->pass_family);
	return p->v6 ? forward_ipv6(ctx, st, p, f) : forward_ipv4(ctx, st, p, f);
}

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
