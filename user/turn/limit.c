/* Bandwidth limits in the userspace relay: every relayed UDP datagram is taken from its
 * allocation's buckets (--max-bps-per-allocation, --max-pps-per-allocation) and then from its
 * account's (ntsctl account set --max-bps; relay workers share one), each direction separately;
 * over a limit it is dropped and counted. RFC 6062 TCP relays are not limited. The buckets are
 * include/nts/bucket.h, the code the XDP program runs on the datagrams it relays; rates are read
 * at each datagram, so a changed account limit holds at once.
 */
#include <errno.h>
#include <string.h>

#include "turn/turn_internal.h"

void turn_limits_of(const struct turn_server *t, const struct turn_alloc *a, struct turn_limits *l)
{
	l->bps = t->cfg->max_bps_per_allocation;
	l->pps = t->cfg->max_pps_per_allocation;
	l->account_bps = a->acct ? a->acct->policy.max_bps : 0;
	l->account = l->account_bps ? a->acct->id : 0;
}

static void turn_limit_count(struct turn_server *t, int dir)
{
	if (dir == TURN_DIR_C2P)
		t->stats->user_c2p_rate_limited++;
	else
		t->stats->user_p2c_rate_limited++;
}

bool turn_limit_take(struct turn_server *t, struct turn_alloc *a, int dir, size_t len)
{
	struct turn_limits l;
	uint64_t now;

	turn_limits_of(t, a, &l);
	if (!l.bps && !l.pps && !l.account_bps)
		return true;
	now = turn_now_ms(t) * 1000000ull; /* the loop's clock: one read per iteration */
	if ((l.bps || l.pps) && !nts_bucket_take(&a->bucket[dir], now, l.bps, l.pps, (__u32)len)) {
		turn_limit_count(t, dir);
		return false;
	}
	if (!l.account_bps)
		return true;
	/* Relay workers take from the account's one shared bucket: its rate holds over all its
	 * allocations, whichever worker holds each. */
	if (a->acct->shared
		? turn_shared_bucket_take(a->acct->shared, dir, now, l.account_bps, (__u32)len)
		: nts_bucket_take(&a->acct->bucket[dir], now, l.account_bps, 0, (__u32)len))
		return true;
	/* The account refused it: the allocation's tokens go back (the XDP program does the same).
	 */
	if (l.bps || l.pps)
		nts_bucket_give(&a->bucket[dir], l.bps, l.pps, (__u32)len);
	turn_limit_count(t, dir);
	return false;
}

int turn_alloc_limits(struct turn_server *t, uint64_t id, struct turn_limits *l)
{
	struct turn_alloc *a = turn_alloc_find_by_id(t, id);

	if (!a)
		return -ENOENT;
	turn_limits_of(t, a, l);
	return 0;
}

void turn_limits_changed(struct turn_server *t)
{
	struct turn_limits l;

	for (struct turn_list *e = t->allocs.next; e != &t->allocs; e = e->next) {
		struct turn_alloc *a = turn_container_of(e, struct turn_alloc, link);

		memset(a->bucket, 0, sizeof(a->bucket)); /* a new rate starts with a full bucket */
		if (a->tcp || !t->hooks.limits_set)
			continue; /* RFC 6062 relays have no kernel entries */
		turn_limits_of(t, a, &l);
		t->hooks.limits_set(t->hooks_arg, a->id, &l);
	}
}
