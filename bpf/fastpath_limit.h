/* XDP fast path, bandwidth limits: takes a forwarded datagram from its allocation's buckets and
 * then its account's. The buckets are values every CPU shares: tokens are taken with atomic adds,
 * and the value's bpf_spin_lock serialises only the refill, once per tick of the coarse clock
 * (include/nts/bucket.h computes it, the same arithmetic ntsd's userspace relay runs). Only
 * entries with a limit_slot come here (an allocation without a limit costs no lookup), and both
 * buckets are found by index in ARRAY maps: lookups the verifier inlines, no hashing. limit_take is
 * a call of its own, so its stack is not added to the forwarding path's of unlimited entries.
 */
#ifndef NTS_BPF_FASTPATH_LIMIT_H
#define NTS_BPF_FASTPATH_LIMIT_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "nts/bucket.h"
#include "fastpath_maps.h"
#include "fastpath_state.h"

#define LIMIT_READ(x) (*(volatile typeof(x) *)&(x))

/* Refills at most every LIMIT_REFILL_NS: the time in between is not lost (the next refill adds
 * all of it), only credited up to that much later, a small fraction of the 100 ms burst. Refilling
 * on every datagram took the spin lock on nearly every one (the clock moves between any two). */
#define LIMIT_REFILL_NS 20000ull

/* Adds what the time since the last refill earned: the first datagram after LIMIT_REFILL_NS takes
 * the lock; the others see at_ns recent enough. Concurrent takes subtract atomically meanwhile, so
 * the earned tokens are added atomically too, computed from a count that can only have dropped
 * since: a bucket never exceeds its burst. */
static __always_inline void limit_refill(struct bpf_spin_lock *lock, struct nts_bucket *b,
					 __u64 now, __u64 bps, __u64 pps)
{
	__u64 elapsed, at = LIMIT_READ(b->at_ns);
	__s64 t;

	if (at && now < at + LIMIT_REFILL_NS)
		return;
	bpf_spin_lock(lock);
	if (now > b->at_ns) {
		elapsed = b->at_ns ? now - b->at_ns : NTS_BUCKET_BURST_NS;
		if (bps) {
			t = b->bytes;
			__sync_fetch_and_add(&b->bytes, nts_bucket_fill(t, bps, elapsed) - t);
		}
		if (pps) {
			t = b->packets;
			__sync_fetch_and_add(&b->packets, nts_bucket_fill(t, pps, elapsed) - t);
		}
		b->at_ns = now;
	}
	bpf_spin_unlock(lock);
}

/* As nts_bucket_take(), for a bucket every CPU uses at once: 1 when the datagram passes (its
 * tokens taken), 0 when the bucket is empty. CPUs that find it not quite empty at the same
 * moment may each pass one datagram, which the debt then holds back. */
static __always_inline int limit_bucket_take(struct bpf_spin_lock *lock, struct nts_bucket *b,
					     __u64 now, __u64 bps, __u64 pps, __u32 len)
{
	bps = nts_bucket_rate(bps);
	pps = nts_bucket_rate(pps);
	limit_refill(lock, b, now, bps, pps);
	if ((bps && LIMIT_READ(b->bytes) <= 0) || (pps && LIMIT_READ(b->packets) <= 0))
		return 0;
	if (bps)
		__sync_fetch_and_add(&b->bytes, -(__s64)len * NTS_BUCKET_UNIT);
	if (pps)
		__sync_fetch_and_add(&b->packets, -NTS_BUCKET_UNIT);
	return 1;
}

/* 1: the datagram (len application bytes) is within its limits and its tokens are taken; 0: over
 * a limit, nothing taken. A slot that is not the allocation's (freed, or taken by another since the
 * entry was written) limits nothing, as a missing account slot does. */
static __noinline int limit_take(const struct fwd *f, __u32 len)
{
	__u32 slot = f->limit_slot;
	struct nts_fp_limit_val *l = bpf_map_lookup_elem(&nts_fp_alloc_limit, &slot);
	struct nts_fp_account_val *acc;
	struct nts_bucket *b;

	if (!l || l->owner != f->alloc_id)
		return 1;
	b = &l->dir[f->to_client ? NTS_FP_DIR_P2C : NTS_FP_DIR_C2P];
	if (!limit_bucket_take(&l->lock, b, f->now, l->bps, l->pps, len))
		return 0;
	slot = l->account_slot;
	if (!slot)
		return 1;
	acc = bpf_map_lookup_elem(&nts_fp_account_limit, &slot);
	if (!acc || acc->owner != l->account ||
	    limit_bucket_take(&acc->lock, &acc->dir[f->to_client ? NTS_FP_DIR_P2C : NTS_FP_DIR_C2P],
			      f->now, acc->bps, 0, len))
		return 1;
	/* The account refused it: the allocation's tokens go back, as in userspace. */
	if (l->bps)
		__sync_fetch_and_add(&b->bytes, (__s64)len * NTS_BUCKET_UNIT);
	if (l->pps)
		__sync_fetch_and_add(&b->packets, NTS_BUCKET_UNIT);
	return 0;
}

#endif /* NTS_BPF_FASTPATH_LIMIT_H */
