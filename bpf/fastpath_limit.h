/* XDP fast path, bandwidth limits: takes a forwarded datagram from its allocation's buckets and
 * then its account's (include/nts/bucket.h, the same code ntsd's userspace relay runs), each under
 * its value's spin lock so every CPU sees one bucket. Only entries flagged NTS_FP_F_LIMITED come
 * here; an allocation without a limit costs no lookup.
 */
#ifndef NTS_BPF_FASTPATH_LIMIT_H
#define NTS_BPF_FASTPATH_LIMIT_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "nts/bucket.h"
#include "fastpath_maps.h"
#include "fastpath_state.h"

/* 1: the datagram (len application bytes) is within its limits and its tokens are taken; 0: over
 * a limit, nothing taken. A missing entry (ntsd is removing the limit) limits nothing. */
static __always_inline int limit_take(const struct fwd *f, __u32 len)
{
	struct nts_fp_limit_val *l = bpf_map_lookup_elem(&nts_fp_limit, &f->alloc_id);
	struct nts_fp_account_val *acc;
	struct nts_bucket *b;
	__u64 account, bps, pps;
	int ok;

	if (!l)
		return 1;
	b = f->to_client ? &l->dir[NTS_FP_DIR_P2C] : &l->dir[NTS_FP_DIR_C2P];
	bpf_spin_lock(&l->lock);
	ok = nts_bucket_take(b, f->now, l->bps, l->pps, len);
	account = l->account;
	bps = l->bps;
	pps = l->pps;
	bpf_spin_unlock(&l->lock);
	if (!ok || !account)
		return ok;
	acc = bpf_map_lookup_elem(&nts_fp_account, &account);
	if (!acc)
		return 1;
	bpf_spin_lock(&acc->lock);
	ok = nts_bucket_take(f->to_client ? &acc->dir[NTS_FP_DIR_P2C] : &acc->dir[NTS_FP_DIR_C2P],
			     f->now, acc->bps, 0, len);
	bpf_spin_unlock(&acc->lock);
	if (ok)
		return 1;
	/* The account refused it: the allocation's tokens go back, as in userspace. */
	bpf_spin_lock(&l->lock);
	nts_bucket_give(b, bps, pps, len);
	bpf_spin_unlock(&l->lock);
	return 0;
}

#endif /* NTS_BPF_FASTPATH_LIMIT_H */
