/* XDP fast path, per-packet state: what a UDP packet holds (struct pkt), where it goes
 * (struct fwd), and struct fp_state, which carries both with the context and the counters through
 * every step; plus the named sizes and the counting helpers all steps use.
 */
#ifndef NTS_BPF_FASTPATH_STATE_H
#define NTS_BPF_FASTPATH_STATE_H

#include <linux/bpf.h>
#include <linux/ip.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "nts/fastpath_maps.h"

#define IPV4_HDR_WORDS (sizeof(struct iphdr) / sizeof(__u32)) /* ihl without options */
#define IP_LEN_MAX 0xffff /* the largest IPv4 total length or IPv6 payload length */

/* RFC 8656 §12: a ChannelData message starts with a 4-byte header, the channel number (its top
 * two bits 01) and the length of the data that follows. */
#define CD_HDR_LEN NTS_FP_CHANNELDATA_HDR
#define CD_CHANNEL_MASK 0xc0 /* top bits of the first byte */
#define CD_CHANNEL_BITS 0x40
struct cd_hdr {
	__be16 channel;
	__be16 len;
};
_Static_assert(sizeof(struct cd_hdr) == CD_HDR_LEN, "ChannelData header is 4 bytes");

/* struct nts_fp_ip as 32-bit words: IPv4 is the last one of ::ffff:a.b.c.d. */
#define IP_WORDS (sizeof(struct nts_fp_ip) / sizeof(__u32))
#define IP_V4_WORD 3
#define IP_V4MAPPED_WORD 0x0000ffff /* the word before it, host order */

/* What the parser learned about a UDP packet; addresses as they appear in the maps, 8-byte
 * aligned and written 64 bits at a time (ip_from_v4, parse_ipv6) so that the channel caches
 * compare them, and a miss copies them into a key, in 64-bit words, each load served by one
 * store (bpf/fastpath_cache.h). */
struct pkt {
	struct nts_fp_ip src, dst;
	__u16 sport, dport; /* host order; written as one word (KEY_PORTS), read so (pkt_ports) */
	__u16 udp_len;	    /* UDP header + payload */
	__u16 udp_csum;	    /* as on the wire */
	__u16 trailer;	    /* link-layer padding after the IP packet */
	__u8 ttl;
	__u8 v6;
} __attribute__((aligned(8)));

/* Where a forwarded packet goes, with the ChannelData header to add (p2c) or remove (c2p). */
struct fwd {
	const struct nts_fp_ip *src, *dst; /* in the entry (its map value): not copied */
	__u32 ports;	  /* the written datagram's UDP ports, as the word they are in it */
	__u32 cd;	  /* the ChannelData header, as the word it is in the datagram */
	__u16 cd_len;	  /* its length field (the application data's), host order */
	__u8 to_client;	  /* 1: prepend the header (p2c); 0: strip it (c2p) */
	__u32 limit_slot; /* its buckets in nts_fp_alloc_limit; 0: no limit */
	__u64 alloc_id;
	__u64 now;		   /* bpf_ktime_get_coarse_ns() */
	struct nts_fp_nexthop *nh; /* the entry's next-hop cache (in the map value) */
};

/* Everything the steps share for one packet: parse fills pkt, a lookup fills fwd, route and
 * forward read both. Lives on the program's stack; steps get a pointer to it. */
struct fp_state {
	struct xdp_md *ctx;
	struct nts_fp_stats *st; /* this CPU's global counters */
	struct pkt pkt;
	struct fwd fwd;
	__u32 ingress; /* ctx->ingress_ifindex, read once (three dependent loads) */
};

/* Header fields in packets are 16-bit aligned (Ethernet, IP, UDP, ChannelData): copies that say
 * so move two bytes per instruction where clang would otherwise move (and, for loads, shift and
 * merge) one byte at a time through a pointer of unknown alignment. dst and src must both be at
 * least 2-byte aligned (stack objects declared so). */
#define COPY16(dst, src, len)                                                                      \
	__builtin_memcpy(__builtin_assume_aligned((dst), 2), __builtin_assume_aligned((src), 2),   \
			 (len))

/* Header copies between the packet and a 4-byte aligned stack object, four bytes per instruction:
 * the IP header sits 2 bytes past a 4-byte boundary in the frame, and the verifier lets a program
 * access packet data at any alignment on architectures with efficient unaligned access (x86-64,
 * arm64; elsewhere it refuses the program at load, and ntsd relays in userspace). */
#define COPY_PKT(dst, src, len)                                                                    \
	__builtin_memcpy(__builtin_assume_aligned((dst), 4), __builtin_assume_aligned((src), 4),   \
			 (len))

#define COUNT(st, field) ((st)->field++)

/* Profiling builds only (README "The XDP fast path: where the cycles go"): with
 * -DNTS_FP_PROFILE_STOP=n the program drops a relayed datagram at step n, so that the bench's
 * program time of builds stopping at 1, 2... adds up the cost of each step. 1: channel found;
 * 2: entry checked, destination known; 3: routed, headers computed; 4: headers written. */
#ifdef NTS_FP_PROFILE_STOP
#define PROFILE_STOP(n)                                                                            \
	do {                                                                                       \
		if (NTS_FP_PROFILE_STOP == (n))                                                    \
			return XDP_DROP;                                                           \
	} while (0)
#else
#define PROFILE_STOP(n)                                                                            \
	do {                                                                                       \
	} while (0)
#endif

/* Two 16-bit fields that share an aligned 32-bit word, as that word: the parser writes the ports
 * with it (KEY_PORTS) because the cache lookup reads them back as one 32-bit word (pkt_ports), and
 * a load that spans two narrower stores still in flight cannot be forwarded from them: it waits
 * until both reach the cache, which costs more than the rest of the lookup. */
static __always_inline __u32 u16_pair(__u16 first, __u16 second)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return (__u32)first | ((__u32)second << 16);
#else
	return ((__u32)first << 16) | second;
#endif
}

/* Two 32-bit words that share an aligned 64-bit word, as that word. */
static __always_inline __u64 u32_pair(__u32 first, __u32 second)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return (__u64)first | ((__u64)second << 32);
#else
	return ((__u64)first << 32) | second;
#endif
}

/* Stores a and b at the adjacent 16-bit fields first and second of s (ports) as the one aligned
 * 32-bit word they share. */
#define KEY_PORTS(s, first, second, a, b)                                                          \
	do {                                                                                       \
		_Static_assert(__builtin_offsetof(__typeof__(s), first) % sizeof(__u32) == 0 &&    \
				   __builtin_offsetof(__typeof__(s), second) ==                    \
				       __builtin_offsetof(__typeof__(s), first) + sizeof(__u16),   \
			       "one aligned word of two fields");                                  \
		*(__u32 *)&(s).first = u16_pair((a), (b));                                         \
	} while (0)

/* The packet's ports as the word the parser wrote them in: u16_pair(sport, dport). */
static __always_inline __u32 pkt_ports(const struct pkt *p)
{
	return *(const __u32 *)&p->sport;
}

static __always_inline int pass(__u64 *counter)
{
	(*counter)++;
	return XDP_PASS;
}

/* ip must be 8-byte aligned (struct pkt's addresses). */
static __always_inline void ip_from_v4(struct nts_fp_ip *ip, __be32 a)
{
	__u64 *w = __builtin_assume_aligned(ip->addr, 8);

	w[0] = 0;
	w[1] = u32_pair(bpf_htonl(IP_V4MAPPED_WORD), a);
}

/* What tells an IPv4-mapped address (::ffff:0:0/96) from others, in an entry's address (8-byte
 * aligned in every map value and in struct pkt): its first 64 bits are zero and the 32 after
 * them ::ffff. Zero for a mapped address. */
_Static_assert(__builtin_offsetof(struct nts_fp_client_val, relay_ip) % 8 == 0 &&
		   __builtin_offsetof(struct nts_fp_client_val, peer_ip) % 8 == 0 &&
		   __builtin_offsetof(struct nts_fp_peer_val, client_ip) % 8 == 0 &&
		   __builtin_offsetof(struct nts_fp_peer_val, server_ip) % 8 == 0,
	       "entries' addresses 8-byte aligned");
static __always_inline __u64 ip_v4_diff(const struct nts_fp_ip *ip)
{
	const __u64 *d = __builtin_assume_aligned(ip->addr, 8);

	return d[0] | (((const __u32 *)ip->addr)[2] ^ bpf_htonl(IP_V4MAPPED_WORD));
}

/* The IPv4 address of a mapped address, as on the wire. */
static __always_inline __be32 ip_v4(const struct nts_fp_ip *ip)
{
	return ((const __u32 *)ip->addr)[IP_V4_WORD];
}

/* The forwarded datagram's UDP length: the ChannelData header joins (p2c) or leaves (c2p). */
static __always_inline __u16 fwd_udp_len(const struct fp_state *s)
{
	return s->fwd.to_client ? s->pkt.udp_len + CD_HDR_LEN : s->pkt.udp_len - CD_HDR_LEN;
}

#endif /* NTS_BPF_FASTPATH_STATE_H */
