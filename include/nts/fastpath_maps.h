/* The fast path's maps: keys, values and counters, defined once for bpf/ (whose map declarations
 * are in bpf/fastpath_maps.h) and user/. Addresses are 16 bytes (IPv4 as ::ffff:a.b.c.d), ports
 * and channels in host order so that `bpftool map dump pinned /sys/fs/bpf/nts/<map>` reads
 * naturally. Expiry is CLOCK_MONOTONIC ns.
 */
#ifndef NTS_FASTPATH_MAPS_H
#define NTS_FASTPATH_MAPS_H

#include <linux/bpf.h>
#include <linux/types.h>

#include "nts/bucket.h"

/* Map names, as pinned under the pin dir (bpffs): <pin_dir>/<name>. */
#define NTS_FP_MAP_CLIENT "nts_fp_client"
#define NTS_FP_MAP_PEER "nts_fp_peer"
#define NTS_FP_MAP_PERM "nts_fp_perm"
#define NTS_FP_MAP_RELAY "nts_fp_relay"
#define NTS_FP_MAP_ALLOC "nts_fp_alloc"
#define NTS_FP_MAP_STATS "nts_fp_stats"
#define NTS_FP_MAP_TX "nts_fp_tx"
#define NTS_FP_MAP_LIMIT "nts_fp_alloc_limit"
#define NTS_FP_MAP_ACCOUNT "nts_fp_account_limit"
#define NTS_FP_MAP_CLIENT_CACHE "nts_fp_client_cache"
#define NTS_FP_MAP_PEER_CACHE "nts_fp_peer_cache"
#define NTS_FP_MAP_EPOCH "nts_fp_epoch"
#define NTS_FP_MAP_ALLOC_DIRECT "nts_fp_alloc_direct"
#define NTS_FP_MAP_CLOCK "nts_fp_clock"
#define NTS_FP_MAP_LIMIT_DEBT "nts_fp_limit_debt"
#define NTS_FP_MAP_ACCOUNT_DEBT "nts_fp_account_debt"
#define NTS_FP_PROG_NAME "nts_fastpath"

#define NTS_FP_DEFAULT_CHANNELS 262144 /* client and peer map size */
#define NTS_FP_DEFAULT_ALLOCS 65536    /* relay and per-allocation counter map size */
#define NTS_FP_TX_PORTS 64	       /* interfaces the program may redirect to */
#define NTS_FP_CHANNELDATA_HDR 4       /* RFC 8656 §12: channel number and length, 2 bytes each */

/* alloc_id in the maps = generation << NTS_FP_GEN_SHIFT | TURN's allocation id. Every ntsd that
 * opens the maps takes a generation above those already present, so entries left by a killed
 * ntsd are told apart from the allocations of the next one (whose ids start again at 1). */
#define NTS_FP_GEN_SHIFT 40
#define NTS_FP_GEN_MAX 0xffffffu

/* An IP address: 16 bytes, IPv4 mapped into ::ffff:0:0/96. */
struct nts_fp_ip {
	__u8 addr[16];
} __attribute__((aligned(4)));

/* The next hop of an entry's forwarded packets, as bpf_fib_lookup last answered for it: written
 * by the XDP program (ntsd writes zeros), reused for NTS_FP_NEXTHOP_TTL_NS while packets keep
 * arriving on the same interface, so route and neighbour changes are seen within that time. */
#define NTS_FP_NEXTHOP_TTL_NS 50000000ull
struct nts_fp_nexthop {
	__u64 at_ns;   /* bpf_ktime_get_coarse_ns() of the lookup; 0: none */
	__u32 ingress; /* arrival interface it was looked up for */
	__u32 ifindex; /* egress interface */
	__u16 mtu;     /* egress MTU (L3) */
	__u8 smac[6];
	__u8 dmac[6];
	__u16 pad;
};

/* A channel's entries carry limit_slot: 0 when its allocation has no bandwidth limit (the program
 * then looks nothing up, so unlimited traffic costs nothing extra), else the index of its
 * allocation's buckets in nts_fp_alloc_limit (an ARRAY: the lookup is an inlined address
 * computation). ntsd writes the slot's value before an entry names it and clears the entries
 * before it frees the slot; the value names its owner (alloc_id), so an entry that names a slot
 * owned by someone else since (a killed ntsd's, left to expire) is not limited by it. 16 bits, as
 * the peer entry has them: at most NTS_FP_LIMIT_SLOTS limited allocations are in the kernel at
 * once (the rest relay in userspace, which enforces their limits). */
#define NTS_FP_LIMIT_SLOTS 65535

/* Client -> peer: ChannelData from client to server on channel. */
struct nts_fp_client_key {
	struct nts_fp_ip client_ip;
	struct nts_fp_ip server_ip;
	__u16 client_port;
	__u16 server_port;
	__u16 channel;
	__u16 pad;
};
struct nts_fp_client_val {
	struct nts_fp_ip relay_ip;
	struct nts_fp_ip peer_ip;
	__u16 relay_port;
	__u16 peer_port;
	__u32 limit_slot; /* NTS_FP_LIMIT_SLOTS; 0: no limit */
	__u64 expires_ns;
	__u64 alloc_id;
	struct nts_fp_nexthop nh;
};

/* Peer -> client: UDP from peer to a relay address with a bound channel. */
struct nts_fp_peer_key {
	struct nts_fp_ip relay_ip;
	struct nts_fp_ip peer_ip;
	__u16 relay_port;
	__u16 peer_port;
};
struct nts_fp_peer_val {
	struct nts_fp_ip client_ip;
	struct nts_fp_ip server_ip;
	__u16 client_port;
	__u16 server_port;
	__u16 channel;
	__u16 limit_slot; /* NTS_FP_LIMIT_SLOTS; 0: no limit */
	__u64 expires_ns;
	__u64 alloc_id;
	struct nts_fp_nexthop nh;
};

/* The channel caches: per-CPU, direct-mapped copies of nts_fp_client and nts_fp_peer entries in
 * front of the hash maps (docs/architecture.md "Map contracts"). Each CPU's program copies an entry
 * it found in the hash map into the slot its key hashes to, and uses the copy while the copy is
 * younger than NTS_FP_CACHE_TTL_NS and nts_fp_epoch still holds the value it held before the hash
 * lookup. Whoever writes or deletes a channel entry increments nts_fp_epoch afterwards (an ARRAY
 * of one __u64, mmapable: ntsd adds to it atomically through its mapping), which retires every
 * copy at once; the age bound only limits what a writer that forgot to would leave behind. The
 * copies' next hops are refreshed per CPU; the hash map's own next hop when a packet misses. */
#define NTS_FP_CACHE_BITS 11
#define NTS_FP_CACHE_SLOTS (1u << NTS_FP_CACHE_BITS) /* per CPU and direction */
#define NTS_FP_CACHE_TTL_NS 10000000ull
struct nts_fp_client_cached {
	__u64 epoch;	 /* nts_fp_epoch when copied */
	__u64 filled_ns; /* bpf_ktime_get_coarse_ns() when copied; 0: empty */
	struct nts_fp_client_key key;
	struct nts_fp_client_val val;
};
struct nts_fp_peer_cached {
	__u64 epoch;
	__u64 filled_ns;
	struct nts_fp_peer_key key;
	struct nts_fp_peer_val val;
};

/* The program's clock (nts_fp_clock, a PERCPU_ARRAY of one): each CPU's last reading of the coarse
 * monotonic clock and the jiffies it was read at (bpf/fastpath_clock.h). Only the program uses it. */
struct nts_fp_clock {
	__u64 jiffies;
	__u64 ns;
};

/* The slot of the XOR x of a key's words that tell flows apart (nts_fp_cache_slot): Fibonacci
 * hashing, the product's top bits. The program folds the same words from where the packet's
 * parser left them (bpf/fastpath_cache.h). */
static inline __u32 nts_fp_cache_fold(__u32 x)
{
	return (x * 0x9e3779b1u) >> (32 - NTS_FP_CACHE_BITS);
}

/* The slot of a key (words: its size in 32-bit words; both keys start with two addresses, words
 * 0-3 and 4-7): the fold of the XOR of the words that tell flows apart, the last word of each
 * address (an IPv4 address, the low half of an IPv6 interface identifier) and the ports and
 * channel after them. Four words or five instead of all ten keep the program's chain of dependent
 * operations short. Flows whose keys share a slot take turns in it. */
static inline __u32 nts_fp_cache_slot(const __u32 *w, const __u32 words)
{
	__u32 x = w[3] ^ w[7], y = 0;

	for (__u32 i = 8; i < words; i++)
		y ^= w[i];
	return nts_fp_cache_fold(x ^ y);
}

/* Permissions (RFC 8656 §9): peer IP address on a relay transport address; any peer port. */
struct nts_fp_perm_key {
	struct nts_fp_ip relay_ip;
	struct nts_fp_ip peer_ip;
	__u16 relay_port;
	__u16 pad;
};
struct nts_fp_perm_val {
	__u64 expires_ns;
	__u64 alloc_id;
};

/* Known relay transport addresses: only traffic to these may be dropped for lack of permission,
 * so unrelated traffic on the host is never dropped. */
struct nts_fp_relay_key {
	struct nts_fp_ip relay_ip;
	__u16 relay_port;
	__u16 pad;
};
struct nts_fp_relay_val {
	__u64 expires_ns; /* latest expiry of its permissions and channels */
	__u64 alloc_id;
};

/* Per-allocation traffic relayed in the kernel: nts_fp_alloc, a PERCPU_HASH keyed by the
 * allocation id as ntsd writes it in the entries' alloc_id (NTS_FP_GEN_SHIFT), which every
 * allocation has, and nts_fp_alloc_direct below; user space sums the CPUs' copies. */
struct nts_fp_alloc_counters {
	__u64 c2p_packets;
	__u64 c2p_bytes; /* application data bytes (ChannelData payload) */
	__u64 p2c_packets;
	__u64 p2c_bytes;
};

/* The counters of most allocations are not in nts_fp_alloc but in nts_fp_alloc_direct, a
 * direct-mapped PERCPU_ARRAY in front of it: an allocation's slot there is
 * nts_fp_alloc_direct_slot(alloc_id), and the program counts in it while the slot's owner is the
 * packet's alloc_id (an inlined ARRAY lookup and a compare, where nts_fp_alloc hashes the id), in
 * nts_fp_alloc otherwise. ntsd claims the slot of each allocation it creates when the slot is free
 * (owner: the alloc_id, counters zero, on every CPU) and frees it (all zero) when it deletes the
 * allocation; of two live allocations whose ids share a slot, the second counts in nts_fp_alloc.
 * An allocation's counters are the sum of its nts_fp_alloc value and of its nts_fp_alloc_direct
 * slot's while the slot names it, each summed over the CPUs. */
#define NTS_FP_ALLOC_DIRECT_BITS 14
#define NTS_FP_ALLOC_DIRECT_SLOTS (1u << NTS_FP_ALLOC_DIRECT_BITS)
struct nts_fp_alloc_direct_val {
	__u64 owner; /* alloc_id; 0: free */
	struct nts_fp_alloc_counters c;
};

/* Fibonacci hashing of the id: the product's top bits. */
static inline __u32 nts_fp_alloc_direct_slot(__u64 alloc_id)
{
	return (__u32)((alloc_id * 0x9e3779b97f4a7c15ull) >> (64 - NTS_FP_ALLOC_DIRECT_BITS));
}

/* Bandwidth limits (docs/architecture.md "Bandwidth limits"). The buckets are shared by every CPU
 * (tokens taken with atomic adds, refilled under the value's spin lock), so a limit holds however
 * the NIC spreads the flows; the program writes only the buckets, ntsd the rest (resetting the
 * buckets when a limit changes). Directions index the buckets: */
#define NTS_FP_DIR_C2P 0
#define NTS_FP_DIR_P2C 1

/* nts_fp_alloc_limit: ARRAY indexed by limit_slot, a slot owned by one allocation while it has a
 * limit of its own or an account with one (owner 0: free). Rates are application bytes (ChannelData
 * payload) and datagrams per second, each direction separately; 0: none. */
struct nts_fp_limit_val {
	struct bpf_spin_lock lock;
	__u32 account_slot; /* its account's slot in nts_fp_account_limit; 0: none */
	__u64 owner;	    /* alloc_id of the allocation the slot serves; 0: free */
	__u64 bps, pps;
	__u64 account; /* owner of that account slot: generation << NTS_FP_GEN_SHIFT | number */
	struct nts_bucket dir[2];
};

/* nts_fp_account_limit: ARRAY indexed by an account slot, shared by all the account's limited
 * allocations; owner is generation << NTS_FP_GEN_SHIFT | ntsd's number of the AccountSid. */
struct nts_fp_account_val {
	struct bpf_spin_lock lock;
	__u32 pad;
	__u64 owner; /* 0: free */
	__u64 bps;
	struct nts_bucket dir[2];
};

/* Each CPU's debts to the shared buckets (nts_fp_limit_debt for nts_fp_alloc_limit,
 * nts_fp_account_debt for nts_fp_account_limit; PERCPU_ARRAYs of NTS_FP_DEBT_SLOTS, direct-mapped
 * by the bucket's slot): the tokens this CPU's datagrams took and has not yet subtracted from the
 * shared bucket. The program subtracts them once they reach NTS_FP_DEBT_NS of the rate, when it
 * refills the bucket, and when another bucket takes the entry; meanwhile a bucket holds for this
 * CPU what it holds less its debt (bpf/fastpath_limit.h). Debts are owed to the bucket of one
 * owner at the rates they were taken at: a slot ntsd rewrote with other rates (and fresh buckets)
 * owes nothing of them. Only the program uses them. */
#define NTS_FP_DEBT_BITS 12
#define NTS_FP_DEBT_SLOTS (1u << NTS_FP_DEBT_BITS)
#define NTS_FP_DEBT_NS 1000000ull /* 1 ms of the rate */
struct nts_fp_debt {
	__u64 owner; /* the bucket's owner when the debts were taken; 0: none */
	__u32 slot;  /* the bucket's slot */
	__u32 pad;
	__u64 bps, pps;		    /* its rates then */
	__s64 bytes[2], packets[2]; /* by direction, in tokens (struct nts_bucket) */
};

/* Global counters (one PERCPU_ARRAY slot; user space sums over CPUs). pass_*: handed to the
 * kernel stack untouched, by reason; drop_*: dropped. */
struct nts_fp_stats {
	__u64 c2p_packets, c2p_bytes; /* client -> peer forwarded */
	__u64 p2c_packets, p2c_bytes; /* peer -> client forwarded */
	__u64 tx, redirect;	      /* how forwarded packets left: XDP_TX or devmap redirect */
	__u64 pass_not_udp;	      /* not IPv4/IPv6 UDP (ARP, TCP, ICMP, VLAN...) */
	__u64 pass_fragment;	      /* IPv4 fragment or IPv6 extension header */
	__u64 pass_ip_options;	      /* IPv4 header with options */
	__u64 pass_malformed;	      /* lengths that do not add up */
	__u64 pass_no_match;	      /* UDP that is neither a bound channel nor to a relay */
	__u64 pass_channel_length;    /* ChannelData length not exactly the UDP payload (padding) */
	__u64 pass_expired;	      /* entry found but expired */
	__u64 pass_permission;	      /* peer with a permission but no channel: Data indication */
	__u64 pass_ttl;		      /* TTL / hop limit would reach 0 */
	__u64 pass_family;	      /* client and peer of different families */
	__u64 pass_fib;		      /* no route, no neighbour, forwarding disabled */
	__u64 pass_too_big;	      /* over the egress MTU */
	__u64 pass_no_tx_port;	      /* egress interface not in the devmap */
	__u64 pass_adjust;	      /* bpf_xdp_adjust_head/tail failed */
	__u64 drop_no_permission; /* peer traffic to a relay with neither channel nor permission */
	__u64 drop_redirect_failed; /* rewritten, but the egress left the devmap: never passed up */
	__u64 pass_generic; /* peer datagram on a channel in skb mode: GRO may have merged it */
	__u64 drop_rate_limited; /* over its allocation's or account's bandwidth limit */
};

#endif
