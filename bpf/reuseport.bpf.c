// SPDX-License-Identifier: GPL-2.0
/* Steers each datagram on a --listen UDP socket to one relay worker: the kernel's hash of the
 * datagram's addresses and ports (the same for every request and ChannelData of one client) picks
 * a slot of nts_workers, which holds worker i's socket of this listen address at index i. The slot
 * depends only on the hash and the number of workers, so it stays the same as workers start and
 * as sockets join the group (docs/architecture.md "Threading model").
 */
#include <linux/bpf.h>
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
