/* XDP fast path, channel caches: each CPU keeps a direct-mapped copy of the channel entries it
 * relays in front of the hash maps (include/nts/fastpath_maps.h, "The channel caches"). A hit costs
 * a fold of the key's words, an inlined ARRAY lookup and a compare, where a hash lookup hashes the
 * key with jhash and walks a bucket; a miss looks the hash map up as before and copies the entry.
 * The copies are per CPU and XDP runs with bottom halves disabled, so no two programs write one
 * copy at once; a copy is good while nts_fp_epoch keeps the value read before its hash lookup (ntsd
 * increments it after every channel write or delete) and for NTS_FP_CACHE_TTL_NS at most. Flows
 * whose keys fold to one slot take turns in it: each miss costs what the lookup cost without the
 * cache, plus the copy, and never sends a packet anywhere its own entry does not say.
 */
#ifndef NTS_BPF_FASTPATH_CACHE_H
#define NTS_BPF_FASTPATH_CACHE_H

#include <stddef.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "fastpath_maps.h"

/* Both copies have the same layout: epoch, fill time, key, then the value at CACHE_VAL_OFF. */
#define CACHE_KEY_OFF 16
#define CACHE_VAL_OFF 56
/* nts_fp_cache_slot() folds the keys' words after two leading addresses. */
_Static_assert(offsetof(struct nts_fp_client_key, server_ip) == sizeof(struct nts_fp_ip) &&
		   offsetof(struct nts_fp_client_key, client_port) ==
		       2 * sizeof(struct nts_fp_ip) &&
		   offsetof(struct nts_fp_peer_key, peer_ip) == sizeof(struct nts_fp_ip) &&
		   offsetof(struct nts_fp_peer_key, relay_port) == 2 * sizeof(struct nts_fp_ip),
	       "keys start with two addresses");
_Static_assert(offsetof(struct nts_fp_client_cached, key) == CACHE_KEY_OFF &&
		   offsetof(struct nts_fp_peer_cached, key) == CACHE_KEY_OFF &&
		   offsetof(struct nts_fp_client_cached, val) == CACHE_VAL_OFF &&
		   offsetof(struct nts_fp_peer_cached, val) == CACHE_VAL_OFF,
	       "cached entries share one layout");

struct cache_head {
	__u64 epoch;
	__u64 filled_ns;
};

/* Compares klen bytes (a multiple of 4) at a and b, both 8-byte aligned, 64 bits at a time (keys are
 * written so: KEY_PORTS64, struct pkt) on two accumulators: half the dependent chain. */
static __always_inline int cache_key_equal(const void *a, const void *b, const __u32 klen)
{
	const __u64 *x = __builtin_assume_aligned(a, 8), *y = __builtin_assume_aligned(b, 8);
	const __u32 n = klen / 8;
	__u64 d = 0, e = 0;

	for (__u32 i = 0; i + 1 < n; i += 2) {
		d |= x[i] ^ y[i];
		e |= x[i + 1] ^ y[i + 1];
	}
	if (n % 2)
		d |= x[n - 1] ^ y[n - 1];
	if (klen % 8)
		e |= ((const __u32 *)a)[klen / 4 - 1] ^ ((const __u32 *)b)[klen / 4 - 1];
	return (d | e) == 0;
}

static __always_inline __u64 cache_epoch(void)
{
	__u32 zero = 0;
	__u64 *e = bpf_map_lookup_elem(&nts_fp_epoch, &zero);

	return e ? *(volatile __u64 *)e : 0;
}

/* The entry for key (klen bytes, vlen of value) from this CPU's copy in cache, else from hash
 * (copied into cache for the next packets). NULL when hash has none. now: the coarse clock. */
static __always_inline void *cache_find(void *cache, void *hash, const void *key, const __u32 klen,
					const __u32 vlen, __u64 now)
{
	__u32 slot = nts_fp_cache_slot(key, klen / sizeof(__u32));
	__u64 epoch = cache_epoch();
	struct cache_head *c = bpf_map_lookup_elem(cache, &slot);
	void *v;

	if (c && c->epoch == epoch && now - c->filled_ns < NTS_FP_CACHE_TTL_NS &&
	    cache_key_equal((__u8 *)c + CACHE_KEY_OFF, key, klen))
		return (__u8 *)c + CACHE_VAL_OFF;
	v = bpf_map_lookup_elem(hash, key);
	if (v && c) {
		__builtin_memcpy(__builtin_assume_aligned((__u8 *)c + CACHE_KEY_OFF, 8),
				 __builtin_assume_aligned(key, 8), klen);
		__builtin_memcpy(__builtin_assume_aligned((__u8 *)c + CACHE_VAL_OFF, 8),
				 __builtin_assume_aligned(v, 8), vlen);
		c->epoch = epoch;
		c->filled_ns = now;
	}
	return v;
}

/* The lookups of the two directions, inlined into each direction's step: the deepest chain of
 * calls (a direction, IPv6 forwarding, routing) then takes about 450 of the verifier's 512 bytes of
 * stack, and the hit path saves a call, its spills and reloads. */
static __always_inline struct nts_fp_client_val *client_find(const struct nts_fp_client_key *key,
							     __u64 now)
{
	return cache_find(&nts_fp_client_cache, &nts_fp_client, key, sizeof(*key),
			  sizeof(struct nts_fp_client_val), now);
}

static __always_inline struct nts_fp_peer_val *peer_find(const struct nts_fp_peer_key *key,
							 __u64 now)
{
	return cache_find(&nts_fp_peer_cache, &nts_fp_peer, key, sizeof(*key),
			  sizeof(struct nts_fp_peer_val), now);
}

#endif /* NTS_BPF_FASTPATH_CACHE_H */
