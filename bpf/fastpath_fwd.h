/* XDP fast path, forwarding: rewrites a routed packet's Ethernet, IP and UDP headers, adds or
 * strips the 4-byte ChannelData header, counts it and sends it (XDP_TX or redirect). One shared
 * tail serves IPv4 and IPv6 with constant header sizes.
 */
#ifndef NTS_BPF_FASTPATH_FWD_H
#define NTS_BPF_FASTPATH_FWD_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "fastpath_csum.h"
#include "fastpath_limit.h"
#include "fastpath_maps.h"
#include "fastpath_route.h"
#include "fastpath_state.h"

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

/* Copies the arriving IP header (hlen bytes, a compile-time constant) into hdr, then routes
 * before anything changes. Returns the egress ifindex (>0), or <=0 to pass. */
static __always_inline int fwd_load_route(struct fp_state *s, void *hdr, const __u32 hlen)
{
	void *data = (void *)(long)s->ctx->data, *data_end = (void *)(long)s->ctx->data_end;

	if (data + sizeof(struct ethhdr) + hlen > data_end)
		return 0;
	COPY_PKT(hdr, data + sizeof(struct ethhdr), hlen);
	return route(s);
}

/* Writes Ethernet (MACs from the next-hop cache), the rewritten IP header iph (hlen bytes, a
 * compile-time constant, so clang folds the copies), UDP and, towards the client, the ChannelData
 * header after moving the frame start by its 4 bytes; then counts and sends the packet. */
static __always_inline int fwd_tail(struct fp_state *s, int ifindex, __be16 proto, const void *iph,
				    const __u32 hlen, __u16 new_udp_len, __u16 udp_check)
{
	struct xdp_md *ctx = s->ctx;
	struct nts_fp_stats *st = s->st;
	const struct pkt *p = &s->pkt;
	const struct fwd *f = &s->fwd;
	void *data, *data_end;
	struct udphdr udp __attribute__((aligned(4)));
	/* struct ethhdr is packed: this one is 4-byte aligned (COPY_PKT), its fields 16-bit. */
	__u16 eth[ETH_HLEN / 2 + 1] __attribute__((aligned(4)));
	__u32 cd;

	udp.source = bpf_htons(f->sport);
	udp.dest = bpf_htons(f->dport);
	udp.len = bpf_htons(new_udp_len);
	udp.check = udp_check;
	COPY16(eth, f->nh->dmac, ETH_ALEN);
	COPY16((__u8 *)eth + ETH_ALEN, f->nh->smac, ETH_ALEN);
	eth[ETH_HLEN / 2 - 1] = proto; /* after both addresses */
	eth[ETH_HLEN / 2] = 0;
	cd = cd_word(f);

	/* Routed, so it would leave: over its bandwidth limit it is dropped here, as userspace
	 * drops it, before anything is rewritten. */
	if (f->limit_slot && !limit_take(f, f->cd_len)) {
		COUNT(st, drop_rate_limited);
		return XDP_DROP;
	}
	PROFILE_STOP(3);
	if (p->trailer && bpf_xdp_adjust_tail(ctx, -(int)p->trailer))
		return pass(&st->pass_adjust);
	if (bpf_xdp_adjust_head(ctx, f->to_client ? -CD_HDR_LEN : CD_HDR_LEN))
		return pass(&st->pass_adjust);
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	/* The frame held these bytes before the move, so the checks cannot fail. */
	if (data + ETH_HLEN + hlen + sizeof(udp) > data_end)
		return XDP_ABORTED;
	COPY_PKT(data, eth, ETH_HLEN);
	COPY_PKT(data + ETH_HLEN, iph, hlen);
	COPY_PKT(data + ETH_HLEN + hlen, &udp, sizeof(udp));
	if (f->to_client) {
		if (data + ETH_HLEN + hlen + sizeof(udp) + CD_HDR_LEN > data_end)
			return XDP_ABORTED;
		COPY_PKT(data + ETH_HLEN + hlen + sizeof(udp), &cd, CD_HDR_LEN);
	}
	PROFILE_STOP(4);
	if ((__u32)ifindex == ctx->ingress_ifindex) {
		count_forward(st, f, f->cd_len);
		COUNT(st, tx);
		return XDP_TX;
	}
	/* The packet is rewritten: passing it up would hand the stack a datagram addressed to
	 * someone else. A cached next hop may name an interface taken out of the devmap since. */
	if (bpf_redirect_map(&nts_fp_tx, ifindex, XDP_DROP) != XDP_REDIRECT) {
		COUNT(st, drop_redirect_failed);
		return XDP_DROP;
	}
	count_forward(st, f, f->cd_len);
	COUNT(st, redirect);
	return XDP_REDIRECT;
}

/* Rewrites an IPv4 packet: routes first (no change before we know it can leave), then new
 * addresses, TTL, total length and header checksum (RFC 1624). */
static __noinline int forward_ipv4(struct fp_state *s)
{
	__u16 new_udp_len = fwd_udp_len(s);
	const struct fwd *f = &s->fwd;
	struct iphdr oldh, newh;
	int ifindex;

	ifindex = fwd_load_route(s, &oldh, sizeof(oldh));
	if (ifindex <= 0)
		return XDP_PASS;
	newh = oldh;
	newh.ttl--;
	newh.tot_len = bpf_htons(sizeof(newh) + new_udp_len);
	newh.saddr = ip_v4(f->src);
	newh.daddr = ip_v4(f->dst);
	newh.check = csum_update(oldh.check,
				 csum_add_words(csum_sub_words(0, (__u32 *)&oldh, IPV4_HDR_WORDS),
						(__u32 *)&newh, IPV4_HDR_WORDS));
	return fwd_tail(s, ifindex, bpf_htons(ETH_P_IP), &newh, sizeof(newh), new_udp_len,
			udp_csum_new4(&s->pkt, f, new_udp_len));
}

/* The same for IPv6: hop limit instead of TTL, no header checksum. */
static __noinline int forward_ipv6(struct fp_state *s)
{
	__u16 new_udp_len = fwd_udp_len(s);
	const struct fwd *f = &s->fwd;
	struct ipv6hdr newh;
	int ifindex;

	ifindex = fwd_load_route(s, &newh, sizeof(newh));
	if (ifindex <= 0)
		return XDP_PASS;
	newh.hop_limit--;
	newh.payload_len = bpf_htons(new_udp_len);
	__builtin_memcpy(&newh.saddr, f->src->addr, sizeof(newh.saddr));
	__builtin_memcpy(&newh.daddr, f->dst->addr, sizeof(newh.daddr));
	return fwd_tail(s, ifindex, bpf_htons(ETH_P_IPV6), &newh, sizeof(newh), new_udp_len,
			udp_csum_new6(&s->pkt, f, new_udp_len));
}

/* Checks TTL and address family, then rewrites by family. */
static __always_inline int forward(struct fp_state *s)
{
	const struct pkt *p = &s->pkt;
	const struct fwd *f = &s->fwd;

	if (p->ttl <= 1)
		return pass(&s->st->pass_ttl);
	if (ip_is_v4(f->dst) == (int)p->v6 || ip_is_v4(f->src) == (int)p->v6)
		return pass(&s->st->pass_family);
	return p->v6 ? forward_ipv6(s) : forward_ipv4(s);
}

#endif /* NTS_BPF_FASTPATH_FWD_H */
