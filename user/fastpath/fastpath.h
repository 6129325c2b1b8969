/* Map sync with the kernel fast path: opens the pinned maps, mirrors channels and permissions into
 * them, reads the counters back, collects expired entries. Loading/attaching the XDP program (for
 * ntsctl and tests) is in loader.c. Addresses are struct nts_addr as TURN keeps them.
 */
#ifndef NTS_FASTPATH_FASTPATH_H
#define NTS_FASTPATH_FASTPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nts/fastpath_maps.h"
#include "util/addr.h"

struct fastpath;

/* File descriptors of the fast path's maps (-1 when absent; limit and account may be absent from
 * maps an older ntsctl pinned, and limited allocations then stay in userspace). */
struct fastpath_fds {
	int client, peer, perm, relay, alloc, stats, tx, limit, account;
	int epoch;  /* nts_fp_epoch; -1 in pins an older ntsctl attach made (no channel caches) */
	int direct; /* nts_fp_alloc_direct; -1 there too (every allocation counts in alloc) */
};

/* Opens the maps pinned under pin_dir to read them (counters, fill): the handle must not write
 * entries. 0, -ENOENT when nothing is pinned there, or -errno. */
int fastpath_open(const char *pin_dir, struct fastpath **out);
/* Opens them to mirror TURN's state (ntsd): with generation gen (NTS_FP_GEN_SHIFT), or 0 for a
 * new one above those in the maps. Entries of other generations belong to an earlier (killed)
 * ntsd: they keep relaying until they expire or one of ours takes their relay address. */
int fastpath_open_gen(const char *pin_dir, uint32_t gen, struct fastpath **out);
/* This handle's generation. */
uint32_t fastpath_generation(const struct fastpath *fp);
/* Wraps map fds of a loaded object (duplicated; the caller keeps its own), with a new
 * generation, as fastpath_open_gen. 0 or -errno. */
int fastpath_from_fds(const struct fastpath_fds *fds, struct fastpath **out);
void fastpath_close(struct fastpath *fp);
/* The (borrowed) map fds. */
const struct fastpath_fds *fastpath_fds(const struct fastpath *fp);

/* Retires every CPU's cached copies of the channel entries (nts_fp_epoch): for whoever wrote
 * nts_fp_client or nts_fp_peer by other means than this handle (which does it itself). */
void fastpath_cache_flush(struct fastpath *fp);

/* Converts between struct nts_addr and the maps' 16-byte form (IPv4 mapped). */
void fastpath_ip_from_addr(struct nts_fp_ip *ip, const struct nts_addr *a);
void fastpath_ip_to_addr(struct nts_addr *a, const struct nts_fp_ip *ip, uint16_t port);

/* A channel (RFC 8656 §12) between client (at server) and peer through relay, until expires_ns
 * (CLOCK_MONOTONIC). Client and peer of different families are not accelerated: only the
 * permission is recorded. 0 or -errno (-ENOSPC when the map is full). */
int fastpath_channel_set(struct fastpath *fp, uint64_t alloc_id, const struct nts_addr *client,
			 const struct nts_addr *server, const struct nts_addr *relay,
			 const struct nts_addr *peer, uint16_t channel, uint64_t expires_ns);
/* Removes a channel's entries (both directions). */
void fastpath_channel_del(struct fastpath *fp, uint64_t alloc_id, const struct nts_addr *client,
			  const struct nts_addr *server, const struct nts_addr *relay,
			  const struct nts_addr *peer, uint16_t channel);
/* A permission for peer's IP address on relay (RFC 8656 §9). 0 or -errno. */
int fastpath_permission_set(struct fastpath *fp, uint64_t alloc_id, const struct nts_addr *relay,
			    const struct nts_addr *peer, uint64_t expires_ns);
void fastpath_permission_del(struct fastpath *fp, uint64_t alloc_id, const struct nts_addr *relay,
			     const struct nts_addr *peer);
/* The bandwidth limits of an allocation (docs/architecture.md "Bandwidth limits"): bytes and
 * datagrams per second each way of its own, and its account's bucket (account: a number unique
 * to the account in this ntsd, 0: none). All zero: no limit. */
struct fastpath_limits {
	uint64_t bps, pps;
	uint64_t account, account_bps;
};
/* Sets the allocation's limits in the kernel, keeping its buckets while they stay the same, and
 * flags its channel entries so the program takes their datagrams from the buckets. When a limit
 * cannot be written, the allocation's channels leave the kernel (userspace enforces the limit).
 * 0 or -errno. */
int fastpath_alloc_limits(struct fastpath *fp, uint64_t alloc_id, const struct fastpath_limits *l);
/* The account's bucket is no longer needed (no allocation of it has an account limit). */
void fastpath_account_del(struct fastpath *fp, uint64_t account);
/* Removes everything the allocation put in the maps (fold its counters first if they matter). */
void fastpath_alloc_del(struct fastpath *fp, uint64_t alloc_id);

/* Reports, per allocation with kernel traffic since the last call, the increase of its counters.
 * Costs one syscall when the kernel forwarded nothing since the last call. */
typedef void (*fastpath_usage_fn)(void *arg, uint64_t alloc_id,
				  const struct nts_fp_alloc_counters *delta);
int fastpath_fold(struct fastpath *fp, fastpath_usage_fn fn, void *arg);
/* The same for one allocation. */
int fastpath_fold_one(struct fastpath *fp, uint64_t alloc_id, fastpath_usage_fn fn, void *arg);
/* Where the kernel keeps an allocation's counters and what they read at its last fold (everything
 * up to it was reported): enough for another process to fold the rest exactly once. */
struct fastpath_fold_mark {
	uint64_t key;	 /* the counter's key in the map: generation << NTS_FP_GEN_SHIFT | id */
	uint32_t map_id; /* the counter map's kernel id: a new map counts from zero again */
	struct nts_fp_alloc_counters folded;
};
/* The mark of alloc_id. 0, -ENOENT (no kernel counter for it) or -errno. */
int fastpath_fold_mark(struct fastpath *fp, uint64_t alloc_id, struct fastpath_fold_mark *m);
/* The counters under key, of any generation, summed over CPUs, and the map's kernel id. 0,
 * -ENOENT or -errno. */
int fastpath_counters_by_key(struct fastpath *fp, uint64_t key, struct nts_fp_alloc_counters *sum,
			     uint32_t *map_id);
/* Sets what the last fold of alloc_id saw (an upgrade hands fastpath_fold_mark()'s over, so the
 * next ntsd, continuing the generation, reports only what came after). 0 or -ENOENT. */
int fastpath_alloc_set_folded(struct fastpath *fp, uint64_t alloc_id,
			      const struct nts_fp_alloc_counters *last);
/* An allocation's kernel counters summed over CPUs. 0 or -errno. */
int fastpath_alloc_counters(struct fastpath *fp, uint64_t alloc_id,
			    struct nts_fp_alloc_counters *sum);
/* Global counters summed over CPUs. 0 or -errno. */
int fastpath_stats_read(const struct fastpath *fp, struct nts_fp_stats *sum);
/* Deletes expired entries (left behind e.g. by an ntsd that was killed), examining up to budget
 * entries of each map in batches and at most one pass per call, resuming where the previous call
 * stopped. Returns the number deleted or -errno. */
int fastpath_gc(struct fastpath *fp, uint64_t now_ns, unsigned budget);
/* Entries of other generations the last full scan saw (0: nothing to collect). */
uint64_t fastpath_foreign_entries(const struct fastpath *fp);
/* fastpath_gc at most every every_ns, and only while other generations' entries remain: our
 * own entries leave through the TURN hooks. Returns the number deleted or -errno. */
int fastpath_gc_foreign(struct fastpath *fp, uint64_t now_ns, uint64_t every_ns, unsigned budget);
/* Whether the peer policy in force allows relaying to peer (port 0 for a permission). */
typedef bool (*fastpath_peer_allowed_fn)(void *arg, const struct nts_addr *peer);
/* Deletes the channels and permissions of other generations (an earlier ntsd's, adopted with the
 * maps) whose peer allowed refuses: they were checked against that ntsd's policy, not ours.
 * Returns the number deleted or -errno. */
int fastpath_foreign_recheck(struct fastpath *fp, fastpath_peer_allowed_fn allowed, void *arg);
/* Deletes every channel, permission and relay entry, of every generation (ntsctl fastpath
 * flush): their traffic goes to userspace. Counters stay. Returns the number deleted or -errno. */
int fastpath_flush(struct fastpath *fp);
/* Counts the entries of a hash map (bounded by its max_entries). 0 or -errno. */
int fastpath_map_fill(int fd, uint32_t *count, uint32_t *max_entries);

/* Names and offsets of the counters in struct nts_fp_stats, for listings (NULL-terminated). */
struct fastpath_stat_field {
	const char *name;
	size_t offset;
};
extern const struct fastpath_stat_field fastpath_stat_fields[];

#endif
