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
_Static_assert(sizeof(struct nts_fp_client_key) == 40 && sizeof(struct nts_fp_peer_key) == 36 &&
		   offsetof(struct nts_fp_client_key, channel) == 36,
	       "keys: two addresses, then 8 bytes (ports, channel) or 4 (ports)");

struct cache_head {
	__u64 epoch;
	__u64 filled_ns;
};

/* A key as the parser left it: the two addresses it starts with, in struct pkt (8-byte aligned,
 * written 64 bits at a time), and the words after them (ports, and the client key's channel) in
 * a register. A hit compares them with the copy where they are; only a miss writes the key out for
 * the hash lookup. klen: the key's size, 36 or 40 bytes. */
struct cache_key {
	const struct nts_fp_ip *ip0, *ip1;
	__u64 tail; /* the key's bytes 32..klen-1 as they lie in memory */
};

/* nts_fp_cache_slot() of the key, from its parts: the words after the addresses are the tail's
 * (the peer key's one word, with zero above it). */
static __always_inline __u32 cache_slot(const struct cache_key *k)
{
	__u32 x = ((const __u32 *)k->ip0->addr)[3] ^ ((const __u32 *)k->ip1->addr)[3];

	return nts_fp_cache_fold(x ^ (__u32)k->tail ^ (__u32)(k->tail >> 32));
}

/* Whether the copy's key c (8-byte aligned, klen bytes) is k: 64 bits at a time on two
 * accumulators, half the dependent chain. */
static __always_inline int cache_key_equal(const void *c, const struct cache_key *k,
					   const __u32 klen)
{
	const __u64 *x = __builtin_assume_aligned(c, 8);
	const __u64 *a = __builtin_assume_aligned(k->ip0->addr, 8);
	const __u64 *b = __builtin_assume_aligned(k->ip1->addr, 8);
	__u64 d = (x[0] ^ a[0]) | (x[1] ^ a[1]), e = (x[2] ^ b[0]) | (x[3] ^ b[1]);

	if (klen == 40)
		d |= x[4] ^ k->tail;
	else
		d |= ((const __u32 *)c)[8] ^ (__u32)k->tail;
	return (d | e) == 0;
}

/* Writes k out as the klen-byte key it stands for (buf: 8-byte aligned). */
static __always_inline void cache_key_write(void *buf, const struct cache_key *k, const __u32 klen)
{
	__u64 *w = __builtin_assume_aligned(buf, 8);

	w[0] = ((const __u64 *)k->ip0->addr)[0];
	w[1] = ((const __u64 *)k->ip0->addr)[1];
	w[2] = ((const __u64 *)k->ip1->addr)[0];
	w[3] = ((const __u64 *)k->ip1->addr)[1];
	if (klen == 40)
		w[4] = k->tail;
	else
		((__u32 *)buf)[8] = (__u32)k->tail;
}

static __always_inline __u64 cache_epoch(void)
{
	__u32 zero = 0;
	__u64 *e = bpf_map_lookup_elem(&nts_fp_epoch, &zero);

	return e ? *(volatile __u64 *)e : 0;
}

/* The entry for key k (klen bytes, vlen of value) from hash, copied into c (this CPU's slot for
 * it, NULL when there is none) for the next packets; buf (klen bytes, 8-byte aligned) holds the
 * key for the lookup. NULL when hash has none. */
static __always_inline void *cache_fill(struct cache_head *c, void *hash, const struct cache_key *k,
					void *buf, const __u32 klen, const __u32 vlen, __u64 epoch,
					__u64 now)
{
	void *v;

	cache_key_write(buf, k, klen);
	v = bpf_map_lookup_elem(hash, buf);
	if (v && c) {
		__builtin_memcpy(__builtin_assume_aligned((__u8 *)c + CACHE_KEY_OFF, 8),
				 __builtin_assume_aligned(buf, 8), klen);
		__builtin_memcpy(__builtin_assume_aligned((__u8 *)c + CACHE_VAL_OFF, 8),
				 __builtin_assume_aligned(v, 8), vlen);
		c->epoch = epoch;
		c->filled_ns = now;
	}
	return v;
}

/* A miss of each direction is a call of its own: the key it writes out is on its own stack, not
 * on that of the direction's step, which the hit path keeps small. */
static __noinline struct nts_fp_client_val *
client_fill(struct cache_head *c, const struct cache_key *k, __u64 epoch, __u64 now)
{
	struct nts_fp_client_key key __attribute__((aligned(8)));

	return cache_fill(c, &nts_fp_client, k, &key, sizeof(key), sizeof(struct nts_fp_client_val),
			  epoch, now);
}

static __noinline struct nts_fp_peer_val *peer_fill(struct cache_head *c, const struct cache_key *k,
						    __u64 epoch, __u64 now)
{
	struct nts_fp_peer_key key __attribute__((aligned(8)));

	return cache_fill(c, &nts_fp_peer, k, &key, sizeof(key), sizeof(struct nts_fp_peer_val),
			  epoch, now);
}

/* This CPU's copy in cache of the entry for key k (klen bytes) when it holds it, is current and
 * young enough; else NULL, with *slot and *epoch for a fill. now: the coarse clock. */
static __always_inline void *cache_hit(void *cache, const struct cache_key *k, const __u32 klen,
				       __u64 now, struct cache_head **slot, __u64 *epoch)
{
	__u32 i = cache_slot(k);
	struct cache_head *c = bpf_map_lookup_elem(cache, &i);

	*epoch = cache_epoch();
	*slot = c;
	if (c && c->epoch == *epoch && now - c->filled_ns < NTS_FP_CACHE_TTL_NS &&
	    cache_key_equal((__u8 *)c + CACHE_KEY_OFF, k, klen))
		return (__u8 *)c + CACHE_VAL_OFF;
	return NULL;
}

/* The lookups of the two directions: the hit inlined into each direction's step, the miss a
 * call (client_fill, peer_fill). */
static __always_inline struct nts_fp_client_val *client_find(const struct cache_key *k, __u64 now)
{
	struct cache_head *c;
	__u64 epoch;
	void *v =
	    cache_hit(&nts_fp_client_cache, k, sizeof(struct nts_fp_client_key), now, &c, &epoch);

	return v ? v : client_fill(c, k, epoch, now);
}

static __always_inline struct nts_fp_peer_val *peer_find(const struct cache_key *k, __u64 now)
{
	struct cache_head *c;
	__u64 epoch;
	void *v = cache_hit(&nts_fp_peer_cache, k, sizeof(struct nts_fp_peer_key), now, &c, &epoch);

	return v ? v : peer_fill(c, k, epoch, now);
}

#endif /* NTS_BPF_FASTPATH_CACHE_H */
