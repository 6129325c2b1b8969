/* XDP fast path, routing: bpf_fib_lookup for the rewritten packet, with the per-entry next-hop
 * cache (egress ifindex, MACs, MTU) kept in the map value for NTS_FP_NEXTHOP_TTL_NS, and the
 * devmap nts_fp_tx deciding which other interfaces a packet may leave by.
 */
#ifndef NTS_BPF_FASTPATH_ROUTE_H
#define NTS_BPF_FASTPATH_ROUTE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "fastpath_maps.h"
#include "fastpath_state.h"

#define AF_INET 2
#define AF_INET6 10

/* Fills fib for the rewritten packet of tot_len bytes (L3). */
static __always_inline int fib_fill(const struct fp_state *s, __u16 tot_len,
				    struct bpf_fib_lookup *fib)
{
	struct xdp_md *ctx = s->ctx;
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	const struct pkt *p = &s->pkt;
	const struct fwd *f = &s->fwd;

	__builtin_memset(fib, 0, sizeof(*fib));
	fib->l4_protocol = IPPROTO_UDP;
	__builtin_memcpy(&fib->sport, &f->ports, sizeof(f->ports)); /* sport, then dport */
	fib->ifindex = s->ingress;
	fib->tot_len = tot_len;
	if (p->v6) {
		struct ipv6hdr *ip6 = data + sizeof(struct ethhdr);

		if ((void *)(ip6 + 1) > data_end)
			return -1;
		fib->family = AF_INET6;
		fib->flowinfo =
		    *(__be32 *)ip6 & bpf_htonl(IPV6_FLOWINFO_PRIORITY | IPV6_FLOWINFO_FLOWLABEL);
		__builtin_memcpy(fib->ipv6_src, f->src->addr, sizeof(f->src->addr));
		__builtin_memcpy(fib->ipv6_dst, f->dst->addr, sizeof(f->dst->addr));
	} else {
		struct iphdr *iph = data + sizeof(struct ethhdr);

		if ((void *)(iph + 1) > data_end)
			return -1;
		fib->family = AF_INET;
		fib->tos = iph->tos;
		fib->ipv4_src = ip_v4(f->src);
		fib->ipv4_dst = ip_v4(f->dst);
	}
	return 0;
}

/* The route of a packet of tot_len bytes (L3) whose next hop is not cached or is stale:
 * bpf_fib_lookup, whose answer (with the egress MTU, probed with a maximal length) goes into the
 * cache, where the caller reads the MACs. A call of its own: its 100 bytes of stack are in the
 * deepest call chain only when the cache is refreshed. Returns the egress ifindex (>0) or 0. */
static __noinline int route_lookup(struct fp_state *s, __u16 tot_len)
{
	struct xdp_md *ctx = s->ctx;
	struct nts_fp_stats *st = s->st;
	const struct fwd *f = &s->fwd;
	struct nts_fp_nexthop *nh = f->nh;
	struct bpf_fib_lookup fib;
	__u8 smac[ETH_ALEN], dmac[ETH_ALEN];
	__u32 ifindex;
	__u16 mtu = IP_LEN_MAX; /* none reported */
	long rc;

	if (!nh)
		return 0;
	if (fib_fill(s, tot_len, &fib))
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
	if (ifindex != s->ingress && !bpf_map_lookup_elem(&nts_fp_tx, &ifindex)) {
		COUNT(st, pass_no_tx_port);
		return 0;
	}
	/* The MTU check comes before the neighbour in the lookup: a maximal length reports it. */
	__builtin_memcpy(smac, fib.smac, ETH_ALEN);
	__builtin_memcpy(dmac, fib.dmac, ETH_ALEN);
	if (fib_fill(s, IP_LEN_MAX, &fib))
		return 0;
	if (bpf_fib_lookup(ctx, &fib, sizeof(fib), 0) == BPF_FIB_LKUP_RET_FRAG_NEEDED)
		mtu = fib.mtu_result;
	/* Other CPUs may read it meanwhile: the time goes in last, and an entry torn between two
	 * equal answers is still right. The caller takes the MACs from here. */
	nh->ingress = s->ingress;
	nh->ifindex = ifindex;
	nh->mtu = mtu;
	__builtin_memcpy(nh->smac, smac, ETH_ALEN);
	__builtin_memcpy(nh->dmac, dmac, ETH_ALEN);
	nh->at_ns = f->now;
	return ifindex;
}

/* Routes the rewritten packet (IP header of hlen bytes, a constant per family): the entry's cached
 * next hop while it is fresh (inline, the common case), else route_lookup. Returns the egress
 * ifindex (>0) or 0 to pass. */
static __always_inline int route(struct fp_state *s, const __u16 hlen)
{
	const struct fwd *f = &s->fwd;
	const struct nts_fp_nexthop *nh = f->nh;
	__u16 tot_len = hlen + fwd_udp_len(s);

	if (nh && nh->at_ns && f->now - nh->at_ns < NTS_FP_NEXTHOP_TTL_NS &&
	    nh->ingress == s->ingress) {
		if (tot_len > nh->mtu) {
			COUNT(s->st, pass_too_big);
			return 0;
		}
		return nh->ifindex;
	}
	return route_lookup(s, tot_len);
}

#endif /* NTS_BPF_FASTPATH_ROUTE_H */
