/* Accounts as TURN sees them: the AccountSid of ephemeral credentials, what the operator decided
 * for it (state, allocation quota) and its live allocations, all in memory so that Allocate and
 * Refresh never wait on the database. ntsd loads the table from user/store at start and updates it
 * from the control commands; an account not in the table is active with the default quota.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "turn/turn_internal.h"

static uint64_t turn_account_hash(const struct turn_server *t, const char *sid)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ turn_mix64(t->seed ^ 0xac);

	for (; *sid; sid++)
		h = (h ^ (uint8_t)*sid) * 1099511628211ULL;
	return turn_mix64(h);
}

struct turn_account *turn_account_find(struct turn_server *t, const char *sid)
{
	uint64_t h = turn_account_hash(t, sid);

	for (struct turn_hnode *n = turn_htab_chain(&t->accounts, h); n; n = n->next) {
		struct turn_account *acc = turn_container_of(n, struct turn_account, node);

		if (n->hash == h && !strcmp(acc->sid, sid))
			return acc;
	}
	return NULL;
}

static struct turn_account *turn_account_get(struct turn_server *t, const char *sid)
{
	struct turn_account *acc = turn_account_find(t, sid);
	size_t len = strlen(sid);

	if (acc)
		return acc;
	acc = calloc(1, sizeof(*acc) + len + 1);
	if (!acc)
		return NULL;
	memcpy(acc->sid, sid, len + 1);
	/* Workers number an account alike: the fast path's bucket of it is one. */
	if (t->shared) {
		acc->shared = turn_shared_account(t->shared, sid);
		acc->id = acc->shared ? turn_shared_account_id(t->shared, sid) : 0;
	} else {
		acc->id = ++t->next_account_id;
	}
	if (!acc->id) {
		free(acc);
		return NULL;
	}
	turn_list_init(&acc->allocs);
	turn_htab_insert(&t->accounts, &acc->node, turn_account_hash(t, sid));
	return acc;
}

/* Frees acc once nothing needs it: no allocation and no operator decision to remember. */
static void turn_account_release(struct turn_server *t, struct turn_account *acc)
{
	if (acc->nallocs || acc->configured)
		return;
	/* Workers: the bucket stays while another worker's allocation of it lives. */
	if (acc->policy.max_bps && t->hooks.account_del &&
	    (!t->shared || !turn_shared_account_count(t->shared, acc->sid)))
		t->hooks.account_del(t->hooks_arg, acc->id);
	turn_htab_remove(&t->accounts, &acc->node);
	free(acc);
}

int turn_account_attach(struct turn_server *t, struct turn_alloc *a, const char *sid)
{
	turn_list_init(&a->acct_link);
	if (!sid || !*sid)
		return 0; /* static users belong to no account */
	a->acct = turn_account_get(t, sid);
	if (!a->acct)
		return -ENOMEM;
	a->acct->nallocs++;
	turn_list_add(&a->acct->allocs, &a->acct_link);
	return 0;
}

void turn_account_detach(struct turn_server *t, struct turn_alloc *a)
{
	struct turn_account *acc = a->acct;

	if (!acc)
		return;
	turn_list_del(&a->acct_link);
	acc->nallocs--;
	a->acct = NULL;
	turn_account_release(t, acc);
}

bool turn_account_refused(struct turn_server *t, const char *sid)
{
	struct turn_account *acc;

	if (!sid || !*sid)
		return false;
	acc = turn_account_find(t, sid);
	return acc && acc->policy.state != TURN_ACCOUNT_ACTIVE;
}

uint32_t turn_account_max(struct turn_server *t, const char *sid)
{
	struct turn_account *acc = sid && *sid ? turn_account_find(t, sid) : NULL;

	if (!sid || !*sid)
		return 0;
	return acc && acc->policy.max_allocations ? acc->policy.max_allocations
						  : t->cfg->max_allocations_per_account;
}

bool turn_account_full(struct turn_server *t, const char *sid)
{
	struct turn_account *acc;
	uint32_t max;

	if (!sid || !*sid)
		return false;
	acc = turn_account_find(t, sid);
	if (!acc)
		return false; /* no allocation yet */
	max = turn_account_max(t, sid);
	return max && acc->nallocs >= max;
}

/* Ends a, or marks it for the relay read that is serving it (turn_relay_readable() deletes it). */
static void turn_alloc_end(struct turn_server *t, struct turn_alloc *a)
{
	if (a == t->busy)
		t->busy_dead = true;
	else
		turn_alloc_delete(t, a, false);
}

/* acc's --max-bps changed: userspace reads it at each datagram; the fast path's entries of every
 * allocation of acc are rewritten now (README: within a second on both paths). */
static void turn_account_limits_changed(struct turn_server *t, struct turn_account *acc,
					uint64_t old_bps)
{
	struct turn_limits l;

	memset(acc->bucket, 0, sizeof(acc->bucket)); /* a new rate starts with a full bucket */
	if (!t->hooks.limits_set)
		return;
	for (struct turn_list *e = acc->allocs.next; e != &acc->allocs; e = e->next) {
		struct turn_alloc *a = turn_container_of(e, struct turn_alloc, acct_link);

		if (a->tcp)
			continue; /* RFC 6062 relays have no kernel entries */
		turn_limits_of(t, a, &l);
		t->hooks.limits_set(t->hooks_arg, a->id, &l);
	}
	if (old_bps && !acc->policy.max_bps && t->hooks.account_del)
		t->hooks.account_del(t->hooks_arg, acc->id);
}

int turn_account_set(struct turn_server *t, const char *sid, const struct turn_account_policy *p)
{
	struct turn_account *acc;
	uint64_t old_bps;
	int ended = 0;

	if (!sid || !*sid || !p)
		return -EINVAL;
	acc = turn_account_get(t, sid);
	if (!acc)
		return -ENOMEM;
	old_bps = acc->policy.max_bps;
	acc->policy = *p;
	acc->configured = true;
	if (p->state == TURN_ACCOUNT_ACTIVE) {
		if (p->max_bps != old_bps)
			turn_account_limits_changed(t, acc, old_bps);
		return 0;
	}
	/* acc is configured now, so the last detach below does not free it. */
	for (struct turn_list *l = acc->allocs.next, *next; l != &acc->allocs; l = next) {
		next = l->next;
		turn_alloc_end(t, turn_container_of(l, struct turn_alloc, acct_link));
		ended++;
	}
	return ended;
}

unsigned turn_account_count(struct turn_server *t, const char *sid)
{
	struct turn_account *acc = sid && *sid ? turn_account_find(t, sid) : NULL;

	return acc ? acc->nallocs : 0;
}

int turn_alloc_delete_id(struct turn_server *t, uint64_t id)
{
	struct turn_alloc *a = turn_alloc_find_by_id(t, id);

	if (!a)
		return -ENOENT;
	turn_alloc_end(t, a);
	return 0;
}

void turn_accounts_free(struct turn_server *t)
{
	for (size_t i = 0; t->accounts.b && i <= t->accounts.mask; i++) {
		while (t->accounts.b[i]) {
			struct turn_account *acc =
			    turn_container_of(t->accounts.b[i], struct turn_account, node);

			turn_htab_remove(&t->accounts, &acc->node);
			free(acc);
		}
	}
}
