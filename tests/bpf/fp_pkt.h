/* Packet crafting and checking for the fast-path BPF tests: Ethernet + IPv4/IPv6 + UDP frames with
 * correct checksums, and full recomputation of checksums on the program's output.
 * Header-only: included by tests/bpf/test_fastpath*.c.
 */
#ifndef NTS_TESTS_FP_PKT_H
#define NTS_TESTS_FP_PKT_H

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* buf starts 2 bytes into an 8-aligned struct so that the IP header after the 14-byte Ethernet
 * header is 4-aligned, as the kernel lays out packets (NET_IP_ALIGN). */
struct fp_frame {
	uint8_t ip_align[2];
	uint8_t buf[4096];
	size_t len;
} __attribute__((aligned(8)));

/* What to put in a crafted frame. */
struct fp_spec {
	bool v6;
	const char *src, *dst; /* IP literals */
	uint16_t sport, dport;
	const uint8_t *payload;
	size_t payload_len;
	uint8_t ttl;	  /* default 64 */
	uint8_t tos;	  /* IPv4 TOS / IPv6 traffic class */
	bool zero_csum;	  /* IPv4 UDP without checksum */
	bool more_frags;  /* IPv4 MF bit */
	bool ip_options;  /* IPv4 header with 4 bytes of options (NOPs) */
	bool v6_frag_hdr; /* IPv6 fragment extension header before UDP */
	size_t trailer;	  /* link-layer padding after the IP packet */
	uint8_t proto;	  /* default UDP */
};

static inline uint32_t fp_sum(const void *p, size_t len, uint32_t sum)
{
	const uint8_t *b = p;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	return sum;
}

static inline uint16_t fp_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* UDP checksum over the pseudo-header (RFC 768 / RFC 8200 §8.1), with the checksum field as is:
 * returns the folded sum; a valid datagram folds to 0xffff. */
static inline uint16_t fp_udp_sum(bool v6, const void *src, const void *dst, const uint8_t *udp,
				  size_t udp_len)
{
	uint32_t sum = fp_sum(src, v6 ? 16 : 4, 0);

	sum = fp_sum(dst, v6 ? 16 : 4, sum);
	sum += IPPROTO_UDP + (uint32_t)udp_len;
	return fp_fold(fp_sum(udp, udp_len, sum));
}

static inline void fp_build(struct fp_frame *f, const struct fp_spec *s)
{
	uint8_t *p = f->buf;
	struct ethhdr *eth = (struct ethhdr *)p;
	size_t l3, l4, udp_len = 8 + s->payload_len;
	struct udphdr *udp;
	uint8_t src[16], dst[16];
	uint16_t c;

	memset(f, 0, sizeof(*f));
	memcpy(eth->h_dest, "\x02\x00\x00\x00\x00\x01", 6);
	memcpy(eth->h_source, "\x02\x00\x00\x00\x00\x02", 6);
	eth->h_proto = htons(s->v6 ? ETH_P_IPV6 : ETH_P_IP);
	l3 = sizeof(*eth);
	inet_pton(s->v6 ? AF_INET6 : AF_INET, s->src, src);
	inet_pton(s->v6 ? AF_INET6 : AF_INET, s->dst, dst);
	if (s->v6) {
		struct ipv6hdr *ip6 = (struct ipv6hdr *)(p + l3);
		size_t ext = s->v6_frag_hdr ? 8 : 0;

		ip6->version = 6;
		ip6->priority = s->tos >> 4;
		ip6->flow_lbl[0] = (uint8_t)((s->tos & 0xf) << 4) | 0x1;
		ip6->flow_lbl[1] = 0x23;
		ip6->flow_lbl[2] = 0x45;
		ip6->payload_len = htons((uint16_t)(udp_len + ext));
		ip6->nexthdr =
		    s->v6_frag_hdr ? IPPROTO_FRAGMENT : (s->proto ? s->proto : IPPROTO_UDP);
		ip6->hop_limit = s->ttl ? s->ttl : 64;
		memcpy(&ip6->saddr, src, 16);
		memcpy(&ip6->daddr, dst, 16);
		l4 = l3 + sizeof(*ip6);
		if (ext) {
			p[l4] = IPPROTO_UDP; /* next header; offset 0, M=1 */
			p[l4 + 3] = 1;
			p[l4 + 7] = 0x42;
			l4 += ext;
		}
	} else {
		struct iphdr *iph = (struct iphdr *)(p + l3);
		size_t hl = s->ip_options ? 24 : 20;

		iph->version = 4;
		iph->ihl = hl / 4;
		iph->tos = s->tos;
		iph->tot_len = htons((uint16_t)(hl + udp_len));
		iph->id = htons(0x1234);
		iph->frag_off = htons(0x4000 | (s->more_frags ? 0x2000 : 0)); /* DF */
		iph->ttl = s->ttl ? s->ttl : 64;
		iph->protocol = s->proto ? s->proto : IPPROTO_UDP;
		memcpy(&iph->saddr, src, 4);
		memcpy(&iph->daddr, dst, 4);
		if (s->ip_options)
			memset(p + l3 + 20, 1, 4); /* NOP options */
		iph->check = htons((uint16_t)~fp_fold(fp_sum(iph, hl, 0)));
		l4 = l3 + hl;
	}
	udp = (struct udphdr *)(p + l4);
	udp->source = htons(s->sport);
	udp->dest = htons(s->dport);
	udp->len = htons((uint16_t)udp_len);
	memcpy(p + l4 + 8, s->payload, s->payload_len);
	if (!(s->zero_csum && !s->v6)) {
		c = (uint16_t)~fp_udp_sum(s->v6, src, dst, p + l4, udp_len);
		udp->check = htons(c ? c : 0xffff);
	}
	f->len = l4 + udp_len + s->trailer;
}

/* Builds a ChannelData message (RFC 8656 §12.4) with pad bytes after the data. */
static inline size_t fp_channeldata(uint8_t *out, uint16_t channel, const uint8_t *data, size_t len,
				    size_t pad)
{
	out[0] = channel >> 8;
	out[1] = channel & 0xff;
	out[2] = (uint8_t)(len >> 8);
	out[3] = len & 0xff;
	memcpy(out + 4, data, len);
	memset(out + 4 + len, 0, pad);
	return 4 + len + pad;
}

#endif
