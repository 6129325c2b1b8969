/* XDP fast path, parsing: what a UDP packet holds (struct pkt), where it goes (struct fwd), and the
 * Ethernet + IPv4/IPv6 + UDP parsers that fill pkt or pass the packet with a counted reason.
 * Included by fastpath.bpf.c only; needs nts/fastpath_maps.h and the linux/bpf headers first.
 */
#ifndef NTS_BPF_FASTPATH_PARSE_H
#define NTS_BPF_FASTPATH_PARSE_H

#define AF_INET 2
#define AF_INET6 10
#define IP_MF 0x2000
#define IP_OFFMASK 0x1fff

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

#endif /* NTS_BPF_FASTPATH_PARSE_H */
