// SPDX-License-Identifier: GPL-2.0
/* Steers each datagram on a --listen UDP socket to one relay worker: the kernel's hash of the
 * datagram's addresses and ports (the same for every request and ChannelData of one client) picks
 * a slot of nts_workers, which holds worker i's socket of this listen address at index i. The slot
 * depends only on the hash and the number of workers, so it stays the same as workers start and
 * as sockets join the group (docs/architecture.md "Threading model").
 */
#include <linux/bpf.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

#define NTS_REUSEPORT_SLOTS 64 /* NTS_MAX_WORKERS (user/util/config.h) */

struct {
	__uint(type, BPF_MAP_TYPE_REUSEPORT_SOCKARRAY);
	__uint(max_entries, NTS_REUSEPORT_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} nts_workers SEC(".maps");

/* Set by the loader before load: the number of workers (1..NTS_REUSEPORT_SLOTS). */
const volatile __u32 nts_nworkers = 1;

SEC("sk_reuseport")
int nts_reuseport(struct sk_reuseport_md *md)
{
	__u32 n = nts_nworkers ? nts_nworkers : 1;
	__u32 slot = md->hash % n;

	/* An empty slot (a worker still starting) leaves the choice to the kernel's own hash. */
	bpf_sk_select_reuseport(md, &nts_workers, &slot, 0);
	return SK_PASS;
}

#define NTS_ETH_P_IP 0x0800
#define NTS_ETH_P_IPV6 0x86DD

/* TCP and TLS listeners: the worker follows the client's address alone (an IPv6 client's /64),
 * not its port. An RFC 6062 data connection (ConnectionBind) then reaches the worker that holds
 * its allocation, and each source's connections (--max-tcp-per-source) are counted in one place.
 */
SEC("sk_reuseport")
int nts_reuseport_source(struct sk_reuseport_md *md)
{
	__u32 n = nts_nworkers ? nts_nworkers : 1, h = 2166136261u, slot;
	__u8 src[8];
	int len;

	if (md->eth_protocol == bpf_htons(NTS_ETH_P_IP)) {
		len = 4; /* struct iphdr: saddr at 12 */
		if (bpf_skb_load_bytes_relative(md, 12, src, 4, BPF_HDR_START_NET))
			return SK_PASS;
	} else if (md->eth_protocol == bpf_htons(NTS_ETH_P_IPV6)) {
		len = 8; /* struct ipv6hdr: saddr at 8; its /64 */
		if (bpf_skb_load_bytes_relative(md, 8, src, 8, BPF_HDR_START_NET))
			return SK_PASS;
	} else {
		return SK_PASS;
	}
	for (int i = 0; i < 8; i++)
		if (i < len)
			h = (h ^ src[i]) * 16777619u;
	slot = h % n;
	bpf_sk_select_reuseport(md, &nts_workers, &slot, 0);
	return SK_PASS;
}
