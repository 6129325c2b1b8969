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
	bool no_drop;			   /* a permission could not be written: never drop */
};

struct fastpath {
	struct fastpath_fds fds;
	struct fp_alloc *buckets[FP_BUCKETS];
	unsigned nallocs;
	int ncpus;
	/* Incremental expiry scan: which map, and the last key visited. */
	unsigned gc_map;
	uint8_t gc_key[64];
	bool gc_have_key;
};

struct fp_alloc *fp_alloc_find(struct fastpath *fp, uint64_t id);
void fp_alloc_free_all(struct fastpath *fp);

#endif
