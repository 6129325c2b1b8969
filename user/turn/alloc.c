/* Allocations: the 5-tuple, stream, relay-address and username tables, creation, refresh, deletion
 * (with its hooks and counters) and the per-second usage reports.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "turn/tcp_relay.h"
#include "util/log.h"

/* The per-allocation memory documented in turn_internal.h (x86-64). */
_Static_assert(sizeof(struct turn_alloc) <= 592, "update the memory notes in turn_internal.h");

static uint64_t turn_5tuple_hash(const struct turn_server *t, const struct nts_origin *o)
{
	uint64_t h = nts_addr_hash(&o->client, true, t->seed);

	h ^= turn_mix64(nts_addr_hash(&o->server, true, t->seed ^ 0x5bd1e995ULL) + o->transport);
	return h;
}

static uint64_t turn_stream_hash(const struct turn_server *t, const struct net_stream *s)
{
	return turn_mix64((uint64_t)(uintptr_t)s ^ t->seed);
}

static uint64_t turn_user_hash(const struct turn_server *t, const char *name)
{
	uint64_t h = 1469598103934665603ULL ^ t->seed;

	for (; *name; name++)
		h = (h ^ (uint8_t)*name) * 1099511628211ULL;
	return turn_mix64(h);
}

static bool turn_origin_same(const struct nts_origin *a, const struct nts_origin *b)
{
	return a->transport == b->transport && nts_addr_equal(&a->client, &b->client, true) &&
	       nts_addr_equal(&a->server, &b->server, true);
}

struct turn_alloc *turn_alloc_find(struct turn_server *t, const struct nts_origin *o)
{
	uint64_t h = turn_5tuple_hash(t, o);

	for (struct turn_hnode *n = turn_htab_chain(&t->by_5tuple, h); n; n = n->next) {
		struct turn_alloc *a = turn_container_of(n, struct turn_alloc, by_5tuple);

		if (n->hash == h && turn_origin_same(&a->origin, o))
			return a;
	}
	return NULL;
}

struct turn_alloc *turn_alloc_find_by_id(struct turn_server *t, uint64_t id)
{
	uint64_t h = turn_mix64(id ^ t->seed);

	for (struct turn_hnode *n = turn_htab_chain(&t->by_id, h); n; n = n->next) {
		struct turn_alloc *a = turn_container_of(n, struct turn_alloc, by_id);

		if (n->hash == h && a->id == id)
			return a;
	}
	return NULL;
}

struct turn_relay *turn_alloc_find_by_relay(struct turn_server *t, const struct nts_addr *local)
{
	uint64_t h = nts_addr_hash(local, true, t->seed);

	for (struct turn_hnode *n = turn_htab_chain(&t->by_relay, h); n; n = n->next) {
		struct turn_relay *r = turn_container_of(n, struct turn_relay, node);

		if (n->hash == h && nts_addr_equal(&r->local, local, true))
			return r;
	}
	return NULL;
}

struct turn_relay *turn_alloc_relay(struct turn_alloc *a, uint8_t af)
{
	for (unsigned i = 0; i < a->nrelay; i++)
		if (a->relay[i].local.family == af)
			return &a->relay[i];
	return NULL;
}

static struct turn_user *turn_user_find(struct turn_server *t, const char *name, uint64_t h)
{
	for (struct turn_hnode *n = turn_htab_chain(&t->users, h); n; n = n->next) {
		struct turn_user *u = turn_container_of(n, struct turn_user, node);

		if (n->hash == h && !strcmp(u->name, name))
			return u;
	}
	return NULL;
}

unsigned turn_user_count(struct turn_server *t, const char *username)
{
	struct turn_user *u = turn_user_find(t, username, turn_user_hash(t, username));

	return u ? u->nallocs : 0;
}

static struct turn_user *turn_user_get(struct turn_server *t, const char *name)
{
	uint64_t h = turn_user_hash(t, name);
	struct turn_user *u = turn_user_find(t, name, h);
	size_t len = strlen(name);

	if (u)
		return u;
	u = calloc(1, sizeof(*u) + len + 1);
	if (!u)
		return NULL;
	memcpy(u->name, name, len + 1);
	turn_htab_insert(&t->users, &u->node, h);
	return u;
}

static void turn_user_put(struct turn_server *t, struct turn_user *u)
{
	if (--u->nallocs)
		return;
	turn_htab_remove(&t->users, &u->node);
	free(u);
}

void turn_alloc_touch(struct turn_server *t, struct turn_alloc *a)
{
	if (turn_list_empty(&a->dirty))
		turn_list_add(&t->dirty, &a->dirty);
}

/* Reports a's bytes since the last report, and its end when ended. */
static void turn_alloc_report(struct turn_server *t, struct turn_alloc *a, bool ended)
{
	struct turn_usage u = {.ended = ended,
			       .c2p_bytes = a->c2p_bytes - a->reported_c2p,
			       .p2c_bytes = a->p2c_bytes - a->reported_p2c};

	if (t->usage && (u.ended || u.c2p_bytes || u.p2c_bytes))
		t->usage(t->usage_arg, turn_alloc_account(a), &u);
	a->reported_c2p = a->c2p_bytes;
	a->reported_p2c = a->p2c_bytes;
}

void turn_report_usage(struct turn_server *t)
{
	while (!turn_list_empty(&t->dirty)) {
		struct turn_alloc *a = turn_container_of(t->dirty.next, struct turn_alloc, dirty);

		turn_list_del(&a->dirty);
		turn_alloc_report(t, a, false);
	}
}

/* Milliseconds an allocation lives for lifetime_s, at most the maximum lifetime. Requests get
 * theirs from turn_lifetime(), already below it; this bounds every other caller too. */
static uint64_t turn_clamp_lifetime(struct turn_server *t, uint32_t lifetime_s)
{
	uint32_t max = turn_max_lifetime(t);

	return (uint64_t)(lifetime_s > max ? max : lifetime_s) * 1000;
}

struct turn_alloc *turn_alloc_create(struct turn_server *t, const struct nts_origin *o,
				     const char *username, const char *account,
				     const struct turn_relay *relay, unsigned nrelay,
				     uint32_t lifetime_s)
{
	struct turn_alloc *a = calloc(1, sizeof(*a));
	unsigned i;

	if (a && turn_account_attach(t, a, account) == 0) {
		a->user = turn_user_get(t, username);
		if (!a->user)
			turn_account_detach(t, a);
	}
	if (!a || !a->user) {
		free(a);
		for (i = 0; i < nrelay; i++)
			close(relay[i].fd);
		return NULL;
	}
	a->user->nallocs++;
	a->id = t->next_id;
	t->next_id += t->id_stride;
	a->server = t;
	a->origin = *o;
	turn_list_init(&a->perms);
	turn_list_init(&a->chans);
	turn_list_init(&a->dirty);
	a->timer.kind = TURN_T_ALLOC;
	turn_list_add(&t->allocs, &a->link);
	turn_htab_insert(&t->by_5tuple, &a->by_5tuple, turn_5tuple_hash(t, o));
	turn_htab_insert(&t->by_id, &a->by_id, turn_mix64(a->id ^ t->seed));
	if (o->stream)
		turn_htab_insert(&t->by_stream, &a->by_stream, turn_stream_hash(t, o->stream));
	for (i = 0; i < nrelay; i++) {
		struct turn_relay *r = &a->relay[i];

		*r = relay[i];
		r->alloc = a;
		turn_htab_insert(&t->by_relay, &r->node, nts_addr_hash(&r->local, true, t->seed));
		a->nrelay++;
		if (turn_relay_start(t, r) < 0) {
			/* Remaining sockets are not ours yet: close them before failing. */
			for (unsigned j = i + 1; j < nrelay; j++)
				close(relay[j].fd);
			turn_alloc_delete(t, a, false);
			return NULL;
		}
	}
	turn_alloc_refresh(t, a, lifetime_s);
	t->nallocs++;
	t->stats->allocations_created++;
	t->stats->allocations_current++;
	if (t->usage)
		t->usage(t->usage_arg, turn_alloc_account(a),
			 &(struct turn_usage){.created = true});
	return a;
}

void turn_alloc_refresh(struct turn_server *t, struct turn_alloc *a, uint32_t lifetime_s)
{
	a->expires_ms = turn_alloc_cap_ms(a, turn_now_ms(t) + turn_clamp_lifetime(t, lifetime_s));
	turn_timer_arm(t->wheel, &a->timer, a->expires_ms);
}

void turn_alloc_delete(struct turn_server *t, struct turn_alloc *a, bool expired)
{
	bool counted = a->timer.kind == TURN_T_ALLOC && a->expires_ms;

	if (a->tcp)
		turn_tcp_alloc_deleted(t, a); /* RFC 6062 §5.5: its data connections go with it */
	while (!turn_list_empty(&a->chans))
		turn_chan_delete(t, turn_container_of(a->chans.next, struct turn_chan, link));
	while (!turn_list_empty(&a->perms))
		turn_perm_delete(t, turn_container_of(a->perms.next, struct turn_perm, link));
	turn_timer_cancel(&a->timer);
	for (unsigned i = 0; i < a->nrelay; i++) {
		turn_relay_stop(t, &a->relay[i]);
		turn_htab_remove(&t->by_relay, &a->relay[i].node);
	}
	turn_htab_remove(&t->by_5tuple, &a->by_5tuple);
	turn_htab_remove(&t->by_id, &a->by_id);
	if (a->origin.stream)
		turn_htab_remove(&t->by_stream, &a->by_stream);
	turn_list_del(&a->link);
	turn_list_del(&a->dirty);
	if (counted) {
		turn_alloc_report(t, a, true);
		if (t->hooks.alloc_del)
			t->hooks.alloc_del(t->hooks_arg, a->id);
		t->nallocs--;
		t->stats->allocations_current--;
		if (expired)
			t->stats->allocations_expired++;
		else
			t->stats->allocations_deleted++;
	}
	if (a->shared_held)
		turn_shared_put(t->shared, a->user->name, a->acct ? a->acct->sid : NULL);
	turn_user_put(t, a->user);
	turn_account_detach(t, a);
	free(a->last_resp);
	free(a);
}

bool turn_alloc_end_if_expired(struct turn_server *t, struct turn_alloc *a)
{
	if (!a->cred_end_ms || turn_now_ms(t) < a->cred_end_ms)
		return false;
	turn_alloc_delete(t, a, true);
	return true;
}

bool turn_stream_owns_allocation(struct turn_server *t, const struct net_stream *s)
{
	uint64_t h = turn_stream_hash(t, s);

	for (struct turn_hnode *n = turn_htab_chain(&t->by_stream, h); n; n = n->next) {
		struct turn_alloc *a = turn_container_of(n, struct turn_alloc, by_stream);

		if (a->by_stream.hash == h && a->origin.stream == s)
			return true;
	}
	return false;
}

void turn_stream_closed(struct turn_server *t, const struct net_stream *s)
{
	uint64_t h = turn_stream_hash(t, s);
	struct turn_hnode *n = turn_htab_chain(&t->by_stream, h);

	while (n) {
		struct turn_alloc *a = turn_container_of(n, struct turn_alloc, by_stream);

		n = n->next;
		if (a->by_stream.hash != h || a->origin.stream != s)
			continue;
		if (a == t->busy)
			t->busy_dead = true; /* turn_relay_readable() deletes it when done */
		else
			turn_alloc_delete(t, a, false);
	}
}
