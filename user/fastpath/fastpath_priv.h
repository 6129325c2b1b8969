/* Internals of user/fastpath shared by its files: the handle and the per-allocation record of
 * what was written to the maps (so an allocation's deletion removes all of it).
 */
#ifndef NTS_FASTPATH_PRIV_H
#define NTS_FASTPATH_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "fastpath/fastpath.h"

#define FP_BUCKET_BITS 12
#define FP_BUCKETS (1u << FP_BUCKET_BITS)
#define FP_MAX_RELAYS 2 /* one relayed address per family (RFC 8656 §7.2) */

/* A channel as written to the kernel, with its own expiry: the entries carry the earlier of the
 * channel's and its permission's expiry, so the kernel never relays what userspace would drop. */
struct fp_chan {
	struct nts_fp_client_key ck;
	struct nts_fp_client_val cv;
	struct nts_fp_peer_key pk;
	struct nts_fp_peer_val pv;
	uint64_t expires;
	bool perm_gone; /* its permission was deleted while the channel stayed bound */
};

/* A permission: expires is TURN's (0 when it is only implied by a channel binding). */
struct fp_perm {
	struct nts_fp_perm_key k;
	uint64_t expires;
};

struct fp_alloc {
	uint64_t id;
	struct fp_alloc *next;
	struct nts_fp_relay_key relays[FP_MAX_RELAYS];
	uint64_t relay_expires[FP_MAX_RELAYS];
	unsigned nrelay;
	struct fp_chan *chans;
	unsigned nchans, capchans;
	struct fp_perm *perms;
	unsigned nperms, capperms;
	struct nts_fp_alloc_counters last; /* kernel counters at the last fold */
	bool counters;			   /* its entry exists in the alloc map */
	bool direct;			   /* it owns its slot in nts_fp_alloc_direct (direct.c) */
	bool no_drop;			   /* a permission could not be written: never drop */
	struct fastpath_limits limits;	   /* as last written to its limit slot */
	uint32_t slot;			   /* its slot in nts_fp_alloc_limit; 0: none */
	bool limited;			   /* that slot is written: chans carry it */
	bool no_chans; /* its limit could not be written: channels stay in userspace */
};

/* Owners of the bandwidth-limit slots (limit.c), as written to the kernel: slot i of
 * nts_fp_alloc_limit / nts_fp_account_limit is free when owner[i] is 0. Slots of other
 * generations stay reserved until their entries are gone; an upgrade's own are adopted. */
struct fp_slots {
	uint64_t *owner; /* [n + 1]; slot 0 means none */
	uint32_t n;	 /* usable slots: 1..n */
	uint32_t next;	 /* where the search for a free slot starts */
	uint32_t hi;	 /* highest slot ever taken (bounds searches by owner) */
};

/* A slot of this generation's allocation found in the maps an upgrade handed over. */
struct fp_slot_adopt {
	uint64_t kid;
	uint32_t slot;
};

/* An entry of another generation, found when the maps were adopted. */
struct fp_foreign {
	struct nts_fp_relay_key relay; /* the relay address it uses (the sort key) */
	uint8_t map;		       /* FP_MAP_CLIENT... */
	uint8_t key[sizeof(struct nts_fp_client_key)];
};
enum { FP_MAP_CLIENT, FP_MAP_PEER, FP_MAP_PERM, FP_MAP_RELAY, FP_NMAPS };

struct fastpath {
	struct fastpath_fds fds;
	struct fp_alloc *buckets[FP_BUCKETS];
	unsigned nallocs;
	int ncpus;
	uint32_t gen;	    /* this handle's generation (NTS_FP_GEN_SHIFT) */
	bool gen_kept;	    /* continued from an earlier handle or ntsd: its counters stay */
	void *pcpu;	    /* ncpus * counters: per-CPU value buffer of the alloc map */
	void *pdirect;	    /* ncpus * struct nts_fp_alloc_direct_val: the same for direct */
	uint64_t fold_pkts; /* kernel-forwarded packets (global counters) at the last fold */
	bool fold_seen;
	/* Entries of other generations (a killed ntsd's): how many the last full scan saw, and
	 * where they are (sorted by relay address), purged when one of ours takes the address. */
	uint64_t foreign;
	struct fp_foreign *foreign_ents;
	size_t nforeign_ents;
	/* Incremental scan for expired entries: which map, and the batch position in it. */
	unsigned gc_map;
	uint32_t gc_token;
	bool gc_have_token;
	uint64_t gc_foreign;   /* foreign entries seen so far in the current pass */
	uint64_t gc_last_ns;   /* fastpath_gc_foreign's last run */
	uint32_t alloc_map_id; /* kernel id of the alloc map (0: not looked up yet) */
	struct fp_slots alloc_slots, account_slots;
	struct fp_slot_adopt *adopt; /* sorted by kid */
	size_t nadopt;
	uint64_t *epoch; /* nts_fp_epoch mapped shared (NULL: no channel caches in these pins) */
};

/* fastpath_open: a reader (ntsctl), no scan; it must not write entries. */
#define FP_GEN_READER 0xffffffffu

/* The id written into the maps for TURN allocation id, and back. */
static inline uint64_t fp_kid(const struct fastpath *fp, uint64_t id)
{
	return (uint64_t)fp->gen << NTS_FP_GEN_SHIFT | (id & ((1ull << NTS_FP_GEN_SHIFT) - 1));
}

static inline uint32_t fp_gen_of(uint64_t kid)
{
	return (uint32_t)(kid >> NTS_FP_GEN_SHIFT);
}

/* After writing or deleting channel entries: every CPU's copy of them is retired (fastpath_cache.h
 * in bpf/). An atomic add on the shared mapping, so ntsds handing over never reuse a value. */
static inline void fp_cache_bump(struct fastpath *fp)
{
	if (fp->epoch)
		__atomic_add_fetch(fp->epoch, 1, __ATOMIC_SEQ_CST);
}

struct fp_alloc *fp_alloc_find(struct fastpath *fp, uint64_t id);
void fp_alloc_free_all(struct fastpath *fp);

/* Walks a hash map in batches (bpf_map_lookup_batch) from *token (have_token false: the start),
 * examining up to max entries; fn returns 1 to delete the entry, 0 to keep it, <0 to stop.
 * Sets *done at the end of the map. 0 or -errno. */
typedef int (*fp_walk_fn)(void *arg, const void *key, const void *val);
int fp_map_walk(int fd, uint32_t *token, bool *have_token, unsigned max, fp_walk_fn fn, void *arg,
		bool *done);
/* Picks the generation (above any in the maps, or keep when non-zero) and records the other
 * generations' entries and relay addresses. Only reads the maps. 0 or -errno. */
int fp_adopt_scan(struct fastpath *fp, uint32_t keep);
/* nts_fp_alloc_direct (direct.c): claims kid's slot for a new allocation, or continues it for an
 * allocation an upgrade handed over (adding what it counted to *kept); true when the allocation
 * counts there. */
bool fp_direct_claim(struct fastpath *fp, uint64_t kid, struct nts_fp_alloc_counters *kept);
/* Frees kid's slot if kid owns it. */
void fp_direct_free(struct fastpath *fp, uint64_t kid);
/* Adds what kid's slot counted for kid to *sum (nothing when another owns it). */
void fp_direct_add(struct fastpath *fp, uint64_t kid, struct nts_fp_alloc_counters *sum);
/* Frees the slots of other generations (foreign: true), or, for a new generation, the slots a
 * wrapped-around earlier one with its number left (foreign: false). */
void fp_direct_release(struct fastpath *fp, bool foreign);
/* Adds one CPU's counters to a sum. */
static inline void fp_counters_add(struct nts_fp_alloc_counters *sum,
				   const struct nts_fp_alloc_counters *c)
{
	sum->c2p_packets += c->c2p_packets;
	sum->c2p_bytes += c->c2p_bytes;
	sum->p2c_packets += c->p2c_packets;
	sum->p2c_bytes += c->p2c_bytes;
}

/* Sums the per-CPU copies of an alloc map value (maps.c). */
void fp_counters_sum(const struct fastpath *fp, struct nts_fp_alloc_counters *sum,
		     const void *pcpu);
/* Deletes other generations' entries that use relay (a new allocation of ours took it). */
void fp_foreign_take(struct fastpath *fp, const struct nts_fp_relay_key *relay);

/* Bandwidth-limit slots (limit.c). Reads the slot maps after the generation is chosen: reserves
 * other generations' slots, keeps this generation's for fp_limit_adopted() when it continues
 * one, frees the rest. 0 or -errno. */
int fp_limit_scan(struct fastpath *fp);
/* Frees other generations' slots (none of their entries is left). */
void fp_limit_release_foreign(struct fastpath *fp);
/* The slot an upgrade handed over for allocation kid, or 0. */
uint32_t fp_limit_adopted(const struct fastpath *fp, uint64_t kid);
/* Takes a free allocation slot for kid (its value still to be written): the slot, or 0 when none
 * is free or the maps have no slots. */
uint32_t fp_limit_slot_take(struct fastpath *fp, uint64_t kid);
/* Writes the allocation slot's value: owner kid, the limits, its account's slot. 0 or -errno. */
int fp_limit_slot_write(struct fastpath *fp, uint32_t slot, uint64_t kid,
			const struct fastpath_limits *l, uint32_t account_slot);
/* Frees an allocation slot (its entries no longer name it). */
void fp_limit_slot_free(struct fastpath *fp, uint32_t slot);
/* The account's slot with its bucket at rate bps (written unless it is there at that rate, so its
 * tokens stay): the slot, or 0 when it cannot be had. */
uint32_t fp_account_slot_get(struct fastpath *fp, uint64_t key, uint64_t bps);
/* Frees the account's slot, if it has one. */
void fp_account_slot_free(struct fastpath *fp, uint64_t key);
void fp_limit_free(struct fastpath *fp);

#endif
