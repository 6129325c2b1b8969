/* XDP fast path, parsing: the Ethernet + IPv4/IPv6 + UDP parsers that fill the state's struct pkt
 * or pass the packet with a counted reason. Only packets without IPv4 options, fragments or IPv6
 * extension headers are parsed; everything else is the kernel stack's.
 */
#ifndef NTS_BPF_FASTPATH_PARSE_H
#define NTS_BPF_FASTPATH_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "fastpath_state.h"

#define IP_MF 0x2000
#define IP_OFFMASK 0x1fff

/* Parses Ethernet + IPv4 + UDP into s->pkt: -1 to go on, or the pass action for anything else. */
static __always_inline int parse_ipv4(struct fp_state *s)
{
	void *data = (void *)(long)s->ctx->data, *data_end = (void *)(long)s->ctx->data_end;
	struct nts_fp_stats *st = s->st;
	struct pkt *p = &s->pkt;
	struct iphdr *iph = data + sizeof(struct ethhdr);
	struct udphdr *udp;
	__u16 tot;

	if ((void *)(iph + 1) > data_end)
		return pass(&st->pass_malformed);
	if (iph->version != 4 || iph->ihl < IPV4_HDR_WORDS)
		return pass(&st->pass_malformed);
	if (iph->ihl != IPV4_HDR_WORDS)
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
	KEY_PORTS(*p, sport, dport, bpf_ntohs(udp->source), bpf_ntohs(udp->dest));
	p->udp_len = bpf_ntohs(udp->len);
	p->udp_csum = udp->check;
	/* The program is not frags-aware: the frame is linear, data_end is its end. */
	p->trailer = (data_end - data) - sizeof(struct ethhdr) - tot;
	p->ttl = iph->ttl;
	p->v6 = 0;
	return -1;
}

/* An IPv6 address from the packet into struct pkt (8-byte aligned) in two 64-bit words: the
 * verifier allows unaligned packet loads where the CPU does them efficiently (fastpath_state.h). */
static __always_inline void ip_copy64(struct nts_fp_ip *dst, const void *src)
{
	__u64 *d = __builtin_assume_aligned(dst->addr, 8);

	d[0] = ((const __u64 *)src)[0];
	d[1] = ((const __u64 *)src)[1];
}

/* Parses Ethernet + IPv6 + UDP (no extension headers) into s->pkt. */
static __always_inline int parse_ipv6(struct fp_state *s)
{
	void *data = (void *)(long)s->ctx->data, *data_end = (void *)(long)s->ctx->data_end;
	struct nts_fp_stats *st = s->st;
	struct pkt *p = &s->pkt;
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
	ip_copy64(&p->src, &ip6->saddr);
	ip_copy64(&p->dst, &ip6->daddr);
	KEY_PORTS(*p, sport, dport, bpf_ntohs(udp->source), bpf_ntohs(udp->dest));
	p->udp_len = plen;
	p->udp_csum = udp->check;
	p->trailer = (data_end - data) - sizeof(struct ethhdr) - sizeof(*ip6) - plen;
	p->ttl = ip6->hop_limit;
	p->v6 = 1;
	return -1;
}

#endif /* NTS_BPF_FASTPATH_PARSE_H */
