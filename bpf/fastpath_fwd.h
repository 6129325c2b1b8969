/* XDP fast path, forwarding: rewrites a routed packet's Ethernet, IP and UDP headers in place,
 * adds or strips the 4-byte ChannelData header, counts it and sends it (XDP_TX or redirect). The
 * few header words that survive or enter a checksum are read into registers before the frame
 * start moves; nothing is staged on the stack, where writing a field and reading back the word
 * around it would stall the CPU's store forwarding.
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

/* The allocation's counters: its direct-mapped slot while the slot names it, else its entry in
 * nts_fp_alloc (include/nts/fastpath_maps.h). NULL when it has neither. */
static __always_inline struct nts_fp_alloc_counters *alloc_counters(const struct fwd *f)
{
	__u32 slot = nts_fp_alloc_direct_slot(f->alloc_id);
	struct nts_fp_alloc_direct_val *d = bpf_map_lookup_elem(&nts_fp_alloc_direct, &slot);

	if (d && d->owner == f->alloc_id)
		return &d->c;
	return bpf_map_lookup_elem(&nts_fp_alloc, &f->alloc_id);
}

/* Counts the relayed packet globally and for its allocation. */
static __always_inline void count_forward(struct nts_fp_stats *st, const struct fwd *f, __u16 bytes)
{
	struct nts_fp_alloc_counters *ac = alloc_counters(f);

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

/* Takes the routed datagram: over its bandwidth limit it is dropped here, as userspace drops it,
 * before anything is rewritten; then the link-layer trailer goes and the frame start moves by the
 * ChannelData header (towards the client it grows by it, towards the peer it loses it). -1 to
 * go on, else the action. */
static __always_inline int fwd_move(struct fp_state *s)
{
	struct xdp_md *ctx = s->ctx;
	struct nts_fp_stats *st = s->st;
	const struct fwd *f = &s->fwd;

	if (f->limit_slot && !limit_take(f, f->cd_len)) {
		COUNT(st, drop_rate_limited);
		return XDP_DROP;
	}
	PROFILE_STOP(3);
	if (s->pkt.trailer && bpf_xdp_adjust_tail(ctx, -(int)s->pkt.trailer))
		return pass(&st->pass_adjust);
	if (bpf_xdp_adjust_head(ctx, f->to_client ? -CD_HDR_LEN : CD_HDR_LEN))
		return pass(&st->pass_adjust);
	return -1;
}

/* Counts the written datagram and sends it back out of its arrival interface or redirects it. */
static __always_inline int fwd_send(struct fp_state *s, int ifindex)
{
	struct nts_fp_stats *st = s->st;
	const struct fwd *f = &s->fwd;

	PROFILE_STOP(4);
	if ((__u32)ifindex == s->ingress) {
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

/* nts_fp_nexthop's MACs in the aligned pieces fwd_finish reads them in. */
_Static_assert(__builtin_offsetof(struct nts_fp_nexthop, dmac) % 4 == 0 &&
		   __builtin_offsetof(struct nts_fp_nexthop, smac) % 4 == 2,
	       "next-hop MACs: dmac 4-byte aligned, smac 2 bytes past");

/* After the IP header (hlen bytes at data + ETH_HLEN): writes Ethernet (MACs from the next-hop
 * cache), UDP and, towards the client, the ChannelData header; then counts and sends. The caller
 * checked that the frame holds Ethernet, IP and UDP. */
static __always_inline int fwd_finish(struct fp_state *s, void *data, void *data_end,
				      const __u32 hlen, int ifindex, __be16 proto,
				      __u16 new_udp_len, __u16 udp_check)
{
	const struct fwd *f = &s->fwd;
	const struct nts_fp_nexthop *nh = f->nh;
	void *udp = data + ETH_HLEN + hlen;

	*(__u32 *)data = *(const __u32 *)nh->dmac;
	*(__u16 *)(data + 4) = *(const __u16 *)(nh->dmac + 4);
	*(__u16 *)(data + 6) = *(const __u16 *)nh->smac;
	*(__u32 *)(data + 8) = *(const __u32 *)(nh->smac + 2);
	*(__be16 *)(data + 12) = proto;
	*(__u32 *)udp = f->ports;
	*(__u32 *)(udp + 4) = (__u32)bpf_htons(new_udp_len) | ((__u32)udp_check << 16);
	if (f->to_client) {
		if (udp + sizeof(struct udphdr) + CD_HDR_LEN > data_end)
			return XDP_ABORTED; /* it held them before the move */
		*(__u32 *)(udp + sizeof(struct udphdr)) = f->cd;
	}
	return fwd_send(s, ifindex);
}

/* Rewrites an IPv4 datagram in place: routes first (no change before we know it can leave), then
 * computes the header checksum incrementally (RFC 1624) from the words that change, held in
 * registers (total length, TTL, addresses: ~m + m' each), moves the frame start and writes
 * every header. The words are read from the packet before the move, which shifts the headers
 * over the old ones. Inlined once, into nts_fastpath (IPv6 forwarding is a call of its own). */
static __always_inline int forward_ipv4(struct fp_state *s)
{
	void *data = (void *)(long)s->ctx->data, *data_end = (void *)(long)s->ctx->data_end;
	__u16 new_udp_len = fwd_udp_len(s);
	const struct fwd *f = &s->fwd;
	__u32 w1, vt, tl, ttl_proto, new_tl, new_ttl_proto;
	__u16 check;
	__u64 addr;
	void *ip;
	int ifindex, act;

	ip = data + sizeof(struct ethhdr);
	if (ip + sizeof(struct iphdr) > data_end)
		return XDP_PASS;
	vt = *(__u16 *)ip;		/* version, IHL, TOS */
	tl = *(__u16 *)(ip + 2);	/* total length */
	w1 = *(__u32 *)(ip + 4);	/* identification, flags, fragment offset */
	ttl_proto = *(__u16 *)(ip + 8); /* TTL, protocol */
	check = *(__u16 *)(ip + 10);
	ifindex = route(s, sizeof(struct iphdr));
	if (ifindex <= 0)
		return XDP_PASS;
	new_tl = bpf_htons(sizeof(struct iphdr) + new_udp_len);
	new_ttl_proto = bpf_htons(bpf_ntohs(ttl_proto) - 0x100); /* TTL - 1 (forward: TTL > 1) */
	addr = csum_addr_diff(&s->pkt, f, 0);
	check = csum_update(check, addr + (__u16)~tl + new_tl + (__u16)~ttl_proto + new_ttl_proto);
	act = fwd_move(s);
	if (act >= 0)
		return act;
	data = (void *)(long)s->ctx->data;
	data_end = (void *)(long)s->ctx->data_end;
	ip = data + ETH_HLEN;
	/* The frame held these bytes before the move, so the checks cannot fail. */
	if (ip + sizeof(struct iphdr) + sizeof(struct udphdr) > data_end)
		return XDP_ABORTED;
	*(__u16 *)ip = vt;
	*(__u16 *)(ip + 2) = new_tl;
	*(__u32 *)(ip + 4) = w1;
	*(__u16 *)(ip + 8) = new_ttl_proto;
	*(__u16 *)(ip + 10) = check;
	*(__be32 *)(ip + 12) = ip_v4(f->src);
	*(__be32 *)(ip + 16) = ip_v4(f->dst);
	return fwd_finish(s, data, data_end, sizeof(struct iphdr), ifindex, bpf_htons(ETH_P_IP),
			  new_udp_len, udp_csum_new(&s->pkt, f, new_udp_len, addr));
}
/* The same for IPv6: hop limit instead of TTL, no header checksum; the first word (version,
 * traffic class, flow label) and the next header are kept. */
static __noinline int forward_ipv6(struct fp_state *s)
{
	void *data = (void *)(long)s->ctx->data, *data_end = (void *)(long)s->ctx->data_end;
	__u16 new_udp_len = fwd_udp_len(s);
	const struct fwd *f = &s->fwd;
	__u32 w0, next_hop, new_next_hop;
	int ifindex, act;
	void *ip;

	ip = data + sizeof(struct ethhdr);
	if (ip + sizeof(struct ipv6hdr) > data_end)
		return XDP_PASS;
	w0 = *(__u32 *)ip;
	next_hop = *(__u16 *)(ip + 6); /* next header, hop limit */
	ifindex = route(s, sizeof(struct ipv6hdr));
	if (ifindex <= 0)
		return XDP_PASS;
	new_next_hop = bpf_htons(bpf_ntohs(next_hop) - 1); /* hop limit - 1 (forward: > 1) */
	act = fwd_move(s);
	if (act >= 0)
		return act;
	data = (void *)(long)s->ctx->data;
	data_end = (void *)(long)s->ctx->data_end;
	ip = data + ETH_HLEN;
	/* The frame held these bytes before the move, so the checks cannot fail. */
	if (ip + sizeof(struct ipv6hdr) + sizeof(struct udphdr) > data_end)
		return XDP_ABORTED;
	*(__u32 *)ip = w0;
	*(__be16 *)(ip + 4) = bpf_htons(new_udp_len);
	*(__u16 *)(ip + 6) = new_next_hop;
	__builtin_memcpy(ip + 8, f->src->addr, sizeof(f->src->addr));
	__builtin_memcpy(ip + 24, f->dst->addr, sizeof(f->dst->addr));
	return fwd_finish(s, data, data_end, sizeof(struct ipv6hdr), ifindex, bpf_htons(ETH_P_IPV6),
			  new_udp_len,
			  udp_csum_new(&s->pkt, f, new_udp_len, csum_addr_diff(&s->pkt, f, 1)));
}

/* Checks TTL and address family, then rewrites by family. */
static __always_inline int forward(struct fp_state *s)
{
	const struct pkt *p = &s->pkt;
	const struct fwd *f = &s->fwd;

	if (p->ttl <= 1)
		return pass(&s->st->pass_ttl);
	/* Both of the entry's addresses of the packet's family. */
	if (p->v6 ? !ip_v4_diff(f->src) || !ip_v4_diff(f->dst)
		  : ip_v4_diff(f->src) | ip_v4_diff(f->dst))
		return pass(&s->st->pass_family);
	return p->v6 ? forward_ipv6(s) : forward_ipv4(s);
}

#endif /* NTS_BPF_FASTPATH_FWD_H */
