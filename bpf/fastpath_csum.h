/* XDP fast path, checksums: inline one's-complement arithmetic (RFC 1071, RFC 1624) and the
 * incremental UDP checksum of a relayed datagram whose addresses, ports, length and ChannelData
 * header change.
 */
#ifndef NTS_BPF_FASTPATH_CSUM_H
#define NTS_BPF_FASTPATH_CSUM_H

#include <linux/types.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "fastpath_state.h"

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

static __always_inline __u16 udp_csum_finish(__u16 c)
{
	return c ? c : 0xffff; /* RFC 768 / RFC 8200 §8.1: a computed 0 is sent as all ones */
}

static __always_inline __u32 ports_word(__u16 sport, __u16 dport)
{
	return (__u32)bpf_htons(sport) | ((__u32)bpf_htons(dport) << 16);
}

/* The ChannelData header (struct cd_hdr) as the one 32-bit word it is in the datagram. */
static __always_inline __u32 cd_word(__u16 channel, __u16 len)
{
	return (__u32)bpf_htons(channel) | ((__u32)bpf_htons(len) << 16);
}

/* The UDP length as a 32-bit word holding it twice: it is summed once in the pseudo-header and
 * once in the UDP header. */
static __always_inline __u32 udp_len_twice(__u16 udp_len)
{
	return (__u32)bpf_htons(udp_len) * 0x10001;
}

/* The words that change outside the addresses: ports, the length (pseudo-header and header),
 * and the ChannelData header, which only the ChannelData side's datagram holds. The header is
 * 4 bytes at the start of the payload, so the payload after it keeps its 16-bit alignment and its
 * words need no update. */
static __always_inline __u64 udp_csum_diff_rest(const struct pkt *p, const struct fwd *f,
						__u16 new_udp_len, __u64 sum)
{
	sum += (__u32)~ports_word(p->sport, p->dport);
	sum += (__u32)~udp_len_twice(p->udp_len);
	sum += f->ports;
	sum += udp_len_twice(new_udp_len);
	return f->to_client ? sum + f->cd : sum + (__u32)~f->cd;
}

/* The one's-complement sum ~m + m' over the address words that change, the same words in the IP
 * pseudo-header of the UDP checksum and, for IPv4, in the IP header: the IPv4 addresses, or the
 * full IPv6 addresses (RFC 8200 §8.1). */
static __always_inline __u64 csum_addr_diff(const struct pkt *p, const struct fwd *f, const int v6)
{
	__u64 sum;

	if (!v6) {
		sum = csum_sub_words(0, (const __u32 *)p->src.addr + IP_V4_WORD, 1);
		sum = csum_sub_words(sum, (const __u32 *)p->dst.addr + IP_V4_WORD, 1);
		sum = csum_add_words(sum, (const __u32 *)f->src->addr + IP_V4_WORD, 1);
		return csum_add_words(sum, (const __u32 *)f->dst->addr + IP_V4_WORD, 1);
	}
	sum = csum_sub_words(0, (const __u32 *)p->src.addr, IP_WORDS);
	sum = csum_sub_words(sum, (const __u32 *)p->dst.addr, IP_WORDS);
	sum = csum_add_words(sum, (const __u32 *)f->src->addr, IP_WORDS);
	return csum_add_words(sum, (const __u32 *)f->dst->addr, IP_WORDS);
}

/* The UDP checksum of the rewritten datagram, from the arriving one's and the change of its
 * address words (csum_addr_diff). */
static __always_inline __u16 udp_csum_new(const struct pkt *p, const struct fwd *f,
					  __u16 new_udp_len, __u64 addr_diff)
{
	if (p->udp_csum == 0)
		return 0; /* RFC 768: an IPv4 datagram without a checksum stays without one (IPv6
			     ones always have one: the parser passes the others) */
	return udp_csum_finish(
	    csum_update(p->udp_csum, udp_csum_diff_rest(p, f, new_udp_len, addr_diff)));
}

#endif /* NTS_BPF_FASTPATH_CSUM_H */
