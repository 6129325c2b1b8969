/* XDP fast path, forwarding: rewrites a routed packet's Ethernet, IP and UDP headers, adds or
 * strips the 4-byte ChannelData header, counts it and sends it (XDP_TX or redirect). One shared
 * tail serves IPv4 and IPv6 with constant header sizes. Included by fastpath.bpf.c after its maps.
 */
#ifndef NTS_BPF_FASTPATH_FWD_H
#define NTS_BPF_FASTPATH_FWD_H

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
static __always_inline int fwd_load_route(struct xdp_md *ctx, struct nts_fp_stats *st,
					  const struct pkt *p, const struct fwd *f, void *hdr,
					  const __u32 hlen)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;

	if (data + sizeof(struct ethhdr) + hlen > data_end)
		return 0;
	__builtin_memcpy(hdr, data + sizeof(struct ethhdr), hlen);
	return route(ctx, st, p, f);
}

/* Writes Ethernet (MACs from the next-hop cache), the rewritten IP header iph (hlen bytes, a
 * compile-time constant, so clang folds the copies), UDP and, towards the client, the ChannelData
 * header after moving the frame start by 4 bytes; then counts and sends the packet. */
static __always_inline int fwd_tail(struct xdp_md *ctx, struct nts_fp_stats *st,
				    const struct pkt *p, const struct fwd *f, int ifindex,
				    __be16 proto, const void *iph, const __u32 hlen,
				    __u16 new_udp_len, __u16 udp_check)
{
	void *data, *data_end;
	struct udphdr udp;
	struct ethhdr eth;
	__u32 cd;

	udp.source = bpf_htons(f->sport);
	udp.dest = bpf_htons(f->dport);
	udp.len = bpf_htons(new_udp_len);
	udp.check = udp_check;
	__builtin_memcpy(eth.h_dest, f->nh->dmac, ETH_ALEN);
	__builtin_memcpy(eth.h_source, f->nh->smac, ETH_ALEN);
	eth.h_proto = proto;
	cd = cd_word(f);

	if (p->trailer && bpf_xdp_adjust_tail(ctx, -(int)p->trailer))
		return pass(&st->pass_adjust);
	if (bpf_xdp_adjust_head(ctx, f->to_client ? -4 : 4))
		return pass(&st->pass_adjust);
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	/* The frame held these bytes before the move, so the checks cannot fail. */
	if (data + sizeof(eth) + hlen + sizeof(udp) > data_end)
		return XDP_ABORTED;
	__builtin_memcpy(data, &eth, sizeof(eth));
	__builtin_memcpy(data + sizeof(eth), iph, hlen);
	__builtin_memcpy(data + sizeof(eth) + hlen, &udp, sizeof(udp));
	if (f->to_client) {
		if (data + sizeof(eth) + hlen + sizeof(udp) + 4 > data_end)
			return XDP_ABORTED;
		__builtin_memcpy(data + sizeof(eth) + hlen + sizeof(udp), &cd, 4);
	}
	count_forward(st, f, f->cd_len);
	if ((__u32)ifindex == ctx->ingress_ifindex) {
		COUNT(st, tx);
		return XDP_TX;
	}
	COUNT(st, redirect);
	return bpf_redirect_map(&nts_fp_tx, ifindex, XDP_PASS);
}

/* Rewrites an IPv4 packet: routes first (no change before we know it can leave), then new
 * addresses, TTL, total length and header checksum (RFC 1624). */
static __noinline int forward_ipv4(struct xdp_md *ctx, struct nts_fp_stats *st, const struct pkt *p,
				   const struct fwd *f)
{
	__u16 new_udp_len = f->to_client ? p->udp_len + 4 : p->udp_len - 4;
	struct iphdr oldh, newh;
	int ifindex;

	ifindex = fwd_load_route(ctx, st, p, f, &oldh, sizeof(oldh));
	if (ifindex <= 0)
		return XDP_PASS;
	newh = oldh;
	newh.ttl--;
	newh.tot_len = bpf_htons(sizeof(newh) + new_udp_len);
	newh.saddr = ((__u32 *)f->src.addr)[3];
	newh.daddr = ((__u32 *)f->dst.addr)[3];
	newh.check = csum_update(
	    oldh.check, csum_add_words(csum_sub_words(0, (__u32 *)&oldh, 5), (__u32 *)&newh, 5));
	return fwd_tail(ctx, st, p, f, ifindex, bpf_htons(ETH_P_IP), &newh, sizeof(newh),
			new_udp_len, udp_csum_new4(p, f, new_udp_len));
}

/* The same for IPv6: hop limit instead of TTL, no header checksum. */
static __noinline int forward_ipv6(struct xdp_md *ctx, struct nts_fp_stats *st, const struct pkt *p,
				   const struct fwd *f)
{
	__u16 new_udp_len = f->to_client ? p->udp_len + 4 : p->udp_len - 4;
	struct ipv6hdr newh;
	int ifindex;

	ifindex = fwd_load_route(ctx, st, p, f, &newh, sizeof(newh));
	if (ifindex <= 0)
		return XDP_PASS;
	newh.hop_limit--;
	newh.payload_len = bpf_htons(new_udp_len);
	__builtin_memcpy(&newh.saddr, f->src.addr, 16);
	__builtin_memcpy(&newh.daddr, f->dst.addr, 16);
	return fwd_tail(ctx, st, p, f, ifindex, bpf_htons(ETH_P_IPV6), &newh, sizeof(newh),
			new_udp_len, udp_csum_new6(p, f, new_udp_len));
}

/* Checks TTL and address family, then rewrites by family. */
static __always_inline int forward(struct xdp_md *ctx, struct nts_fp_stats *st, const struct pkt *p,
				   const struct fwd *f)
{
	if (p->ttl <= 1)
		return pass(&st->pass_ttl);
	if (ip_is_v4(&f->dst) == (int)p->v6 || ip_is_v4(&f->src) == (int)p->v6)
		return pass(&st->pass_family);
	return p->v6 ? forward_ipv6(ctx, st, p, f) : forward_ipv4(ctx, st, p, f);
}

#endif /* NTS_BPF_FASTPATH_FWD_H */
