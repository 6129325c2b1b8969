/* XDP fast path, bandwidth limits: takes a forwarded datagram from its allocation's buckets and
 * then its account's. The buckets are values every CPU shares. Each CPU keeps what its datagrams
 * took as a debt of its own (struct nts_fp_debt, include/nts/fastpath_maps.h) and subtracts it from
 * the shared bucket with one atomic add once it reaches NTS_FP_DEBT_NS of the rate, before it
 * refills the bucket, and when another bucket takes its entry: a locked add per datagram and
 * bucket cost more than the rest of the limit (README "Bandwidth limits"). A CPU admits a datagram
 * while the bucket less its own debt is above zero, so on one CPU the datagrams admitted are those
 * of one shared count; another CPU's debt, less than 1 % of the burst, is seen late. The refill,
 * once per LIMIT_REFILL_NS, runs under the value's bpf_spin_lock (include/nts/bucket.h computes it,
 * the same arithmetic ntsd's userspace relay runs). Only entries with a limit_slot come here (an
 * allocation without a limit costs no lookup), and the buckets and debts are found by index in
 * ARRAY maps: lookups the verifier inlines, no hashing. limit_take is a call of its own, so its
 * stack is not added to the forwarding path's of unlimited entries.
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

/* Subtracts this CPU's debt from the shared count. */
static __always_inline void debt_pay(__s64 *count, __s64 *debt)
{
	if (*debt) {
		__sync_fetch_and_add(count, -*debt);
		*debt = 0;
	}
}

/* Adds what the time since the last refill earned: the first datagram after LIMIT_REFILL_NS takes
 * the lock, having paid its CPU's debts; the others see at_ns recent enough. Concurrent takes
 * subtract atomically meanwhile, so the earned tokens are added atomically too, computed from a
 * count that can only have dropped since: a bucket never exceeds its burst. */
static __always_inline void limit_refill(struct bpf_spin_lock *lock, struct nts_bucket *b,
					 __u64 now, __u64 bps, __u64 pps, __s64 *db, __s64 *dp)
{
	__u64 elapsed, at = LIMIT_READ(b->at_ns);
	__s64 t;

	if (at && now < at + LIMIT_REFILL_NS)
		return;
	debt_pay(&b->bytes, db);
	debt_pay(&b->packets, dp);
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

/* Takes tokens into this CPU's debt, paid once it exceeds NTS_FP_DEBT_NS of the rate. */
static __always_inline void debt_take(__s64 *count, __s64 *debt, __s64 tokens, __u64 rate)
{
	*debt += tokens;
	if (*debt > (__s64)(rate * NTS_FP_DEBT_NS))
		debt_pay(count, debt);
}

/* As nts_bucket_take(), for a bucket every CPU uses at once, with this CPU's debts db and dp: 1
 * when the datagram passes (its tokens taken), 0 when the bucket is empty. CPUs that find it not
 * quite empty at the same moment may each pass one datagram, which the debt then holds back. */
static __always_inline int limit_bucket_take(struct bpf_spin_lock *lock, struct nts_bucket *b,
					     __u64 now, __u64 bps, __u64 pps, __u32 len, __s64 *db,
					     __s64 *dp)
{
	bps = nts_bucket_rate(bps);
	pps = nts_bucket_rate(pps);
	limit_refill(lock, b, now, bps, pps, db, dp);
	if ((bps && LIMIT_READ(b->bytes) - *db <= 0) || (pps && LIMIT_READ(b->packets) - *dp <= 0))
		return 0;
	if (bps)
		debt_take(&b->bytes, db, (__s64)len * NTS_BUCKET_UNIT, bps);
	if (pps)
		debt_take(&b->packets, dp, NTS_BUCKET_UNIT, pps);
	return 1;
}

/* Pays the debts of an entry another bucket takes over, to their bucket while it is the one they
 * were taken for (its owner and rates). Calls of their own: they run only when two buckets share
 * an entry, or ntsd rewrote a bucket. */
static __noinline void debt_evict_alloc(struct nts_fp_debt *d)
{
	__u32 slot = d->slot;
	struct nts_fp_limit_val *l = bpf_map_lookup_elem(&nts_fp_alloc_limit, &slot);

	if (!l || l->owner != d->owner || l->bps != d->bps || l->pps != d->pps)
		return;
	debt_pay(&l->dir[0].bytes, &d->bytes[0]);
	debt_pay(&l->dir[0].packets, &d->packets[0]);
	debt_pay(&l->dir[1].bytes, &d->bytes[1]);
	debt_pay(&l->dir[1].packets, &d->packets[1]);
}

static __noinline void debt_evict_account(struct nts_fp_debt *d)
{
	__u32 slot = d->slot;
	struct nts_fp_account_val *a = bpf_map_lookup_elem(&nts_fp_account_limit, &slot);

	if (!a || a->owner != d->owner || a->bps != d->bps)
		return;
	debt_pay(&a->dir[0].bytes, &d->bytes[0]);
	debt_pay(&a->dir[1].bytes, &d->bytes[1]);
}

/* This CPU's debts to the bucket at slot of owner at rates bps and pps (in debts, for
 * nts_fp_alloc_limit or, account, nts_fp_account_limit): the entry the slot maps to, taken over
 * from the bucket that had it. */
static __always_inline struct nts_fp_debt *debt_of(void *debts, __u32 slot, __u64 owner, __u64 bps,
						   __u64 pps, const int account)
{
	__u32 i = slot & (NTS_FP_DEBT_SLOTS - 1);
	struct nts_fp_debt *d = bpf_map_lookup_elem(debts, &i);

	if (!d || (d->owner == owner && d->slot == slot && d->bps == bps && d->pps == pps))
		return d;
	if (d->owner) {
		if (account)
			debt_evict_account(d);
		else
			debt_evict_alloc(d);
	}
	d->owner = owner;
	d->slot = slot;
	d->bps = bps;
	d->pps = pps;
	d->bytes[0] = d->bytes[1] = 0;
	d->packets[0] = d->packets[1] = 0;
	return d;
}

/* 1: the datagram (len application bytes) is within its limits and its tokens are taken; 0: over
 * a limit, nothing taken. A slot that is not the allocation's (freed, or taken by another since the
 * entry was written) limits nothing, as a missing account slot does. */
static __noinline int limit_take(const struct fwd *f, __u32 len)
{
	const __u32 dir = f->to_client ? NTS_FP_DIR_P2C : NTS_FP_DIR_C2P;
	__u32 slot = f->limit_slot;
	struct nts_fp_limit_val *l = bpf_map_lookup_elem(&nts_fp_alloc_limit, &slot);
	struct nts_fp_account_val *acc;
	struct nts_fp_debt *d, *ad;

	if (!l || l->owner != f->alloc_id)
		return 1;
	d = debt_of(&nts_fp_limit_debt, slot, f->alloc_id, l->bps, l->pps, 0);
	if (!d) /* cannot happen: the index is below the map's size */
		return 1;
	if (!limit_bucket_take(&l->lock, &l->dir[dir], f->now, l->bps, l->pps, len, &d->bytes[dir],
			       &d->packets[dir]))
		return 0;
	slot = l->account_slot;
	if (!slot)
		return 1;
	acc = bpf_map_lookup_elem(&nts_fp_account_limit, &slot);
	if (!acc || acc->owner != l->account)
		return 1;
	ad = debt_of(&nts_fp_account_debt, slot, l->account, acc->bps, 0, 1);
	if (!ad || limit_bucket_take(&acc->lock, &acc->dir[dir], f->now, acc->bps, 0, len,
				     &ad->bytes[dir], &ad->packets[dir]))
		return 1;
	/* The account refused it: the allocation's tokens go back, as in userspace. */
	if (l->bps)
		d->bytes[dir] -= (__s64)len * NTS_BUCKET_UNIT;
	if (l->pps)
		d->packets[dir] -= NTS_BUCKET_UNIT;
	return 0;
}

#endif /* NTS_BPF_FASTPATH_LIMIT_H */
