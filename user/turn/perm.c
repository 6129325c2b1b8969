/* Permissions (RFC 8656 §9) and channels (§12) of an allocation: O(1) tables keyed by (allocation,
 * peer IP), (allocation, channel number) and (allocation, peer address); bounded per allocation;
 * lifetimes on the timer wheel; the fast-path hooks run on every change.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "turn/tcp_relay.h"
#include "turn/turn_internal.h"
#include "util/log.h"

/* The per-allocation memory documented in turn_internal.h (x86-64). */
_Static_assert(sizeof(struct turn_perm) <= 112 && sizeof(struct turn_chan) <= 136,
	       "update the memory notes in turn_internal.h");

static uint64_t turn_perm_hash(const struct turn_server *t, uint64_t id, const struct nts_addr *p)
{
	return nts_addr_hash(p, false, t->seed) ^ turn_mix64(id);
}

static uint64_t turn_chan_num_hash(const struct turn_server *t, uint64_t id, uint16_t num)
{
	return turn_mix64((id << 16 | num) ^ t->seed);
}

static uint64_t turn_chan_peer_hash(const struct turn_server *t, uint64_t id,
				    const struct nts_addr *p)
{
	return nts_addr_hash(p, true, t->seed) ^ turn_mix64(id + 0x9e3779b97f4a7c15ULL);
}

struct turn_perm *turn_perm_find(struct turn_server *t, const struct turn_alloc *a,
				 const struct nts_addr *peer)
{
	uint64_t h = turn_perm_hash(t, a->id, peer);

	for (struct turn_hnode *n = turn_htab_chain(&t->perms, h); n; n = n->next) {
		struct turn_perm *p = turn_container_of(n, struct turn_perm, node);

		if (n->hash == h && p->alloc == a && nts_addr_equal(&p->peer, peer, false))
			return p;
	}
	return NULL;
}

static void turn_perm_hook_set(struct turn_server *t, struct turn_perm *p)
{
	struct turn_alloc *a = p->alloc;
	struct turn_relay *r = turn_alloc_relay(a, p->peer.family);

	if (!t->hooks.permission_set || !r)
		return;
	if (t->hooks.permission_set(t->hooks_arg, a->id, a->tcp ? NTS_TCP : NTS_UDP, &r->local,
				    &p->peer, p->expires_ms * 1000000ULL) < 0)
		log_debug("turn: permission hook failed for allocation %llu",
			  (unsigned long long)a->id);
}

int turn_perm_install(struct turn_server *t, struct turn_alloc *a, const struct nts_addr *peer)
{
	struct turn_perm *p = turn_perm_find(t, a, peer);

	if (!p) {
		if (a->nperms >= TURN_MAX_PERMS)
			return -ENOSPC;
		p = calloc(1, sizeof(*p));
		if (!p)
			return -ENOMEM;
		p->alloc = a;
		p->peer = *peer;
		p->peer.port = 0;
		p->timer.kind = TURN_T_PERM;
		turn_htab_insert(&t->perms, &p->node, turn_perm_hash(t, a->id, &p->peer));
		turn_list_add(&a->perms, &p->link);
		a->nperms++;
		t->stats->permissions_current++;
	}
	p->expires_ms = turn_alloc_cap_ms(a, turn_now_ms(t) + TURN_PERM_LIFETIME * 1000ULL);
	turn_timer_arm(t->wheel, &p->timer, p->expires_ms);
	turn_perm_hook_set(t, p);
	return 0;
}

void turn_perm_delete(struct turn_server *t, struct turn_perm *p)
{
	struct turn_alloc *a = p->alloc;
	struct turn_relay *r = turn_alloc_relay(a, p->peer.family);

	if (t->hooks.permission_del && r)
		t->hooks.permission_del(t->hooks_arg, a->id, &r->local, &p->peer);
	turn_timer_cancel(&p->timer);
	turn_htab_remove(&t->perms, &p->node);
	turn_list_del(&p->link);
	a->nperms--;
	t->stats->permissions_current--;
	free(p);
}

void turn_perm_expired(struct turn_server *t, struct turn_perm *p)
{
	turn_perm_delete(t, p);
}

struct turn_chan *turn_chan_find_num(struct turn_server *t, const struct turn_alloc *a,
				     uint16_t num)
{
	uint64_t h = turn_chan_num_hash(t, a->id, num);

	for (struct turn_hnode *n = turn_htab_chain(&t->chan_num, h); n; n = n->next) {
		struct turn_chan *c = turn_container_of(n, struct turn_chan, by_num);

		if (n->hash == h && c->alloc == a && c->num == num)
			return c;
	}
	return NULL;
}

struct turn_chan *turn_chan_find_peer(struct turn_server *t, const struct turn_alloc *a,
				      const struct nts_addr *peer)
{
	uint64_t h = turn_chan_peer_hash(t, a->id, peer);

	for (struct turn_hnode *n = turn_htab_chain(&t->chan_peer, h); n; n = n->next) {
		struct turn_chan *c = turn_container_of(n, struct turn_chan, by_peer);

		if (n->hash == h && c->alloc == a && nts_addr_equal(&c->peer, peer, true))
			return c;
	}
	return NULL;
}

void turn_chan_info(const struct turn_chan *c, struct turn_channel_info *ci)
{
	const struct turn_alloc *a = c->alloc;

	memset(ci, 0, sizeof(*ci));
	ci->alloc_id = a->id;
	if (a->origin.transport == NTS_UDP)
		ci->client = a->origin.client;
	ci->server = a->origin.server;
	for (unsigned i = 0; i < a->nrelay; i++)
		if (a->relay[i].local.family == c->peer.family)
			ci->relay = a->relay[i].local;
	ci->peer = c->peer;
	ci->channel = c->num;
	ci->expires_ns = c->expires_ms * 1000000ULL;
}

int turn_chan_bind(struct turn_server *t, struct turn_alloc *a, uint16_t num,
		   const struct nts_addr *peer)
{
	struct turn_chan *c = turn_chan_find_num(t, a, num);
	struct turn_channel_info ci;

	if (!c) {
		if (a->nchans >= TURN_MAX_CHANNELS)
			return -ENOSPC;
		c = calloc(1, sizeof(*c));
		if (!c)
			return -ENOMEM;
		c->alloc = a;
		c->num = num;
		c->peer = *peer;
		c->cooling = true; /* counted as live just below */
		turn_htab_insert(&t->chan_num, &c->by_num, turn_chan_num_hash(t, a->id, num));
		turn_htab_insert(&t->chan_peer, &c->by_peer, turn_chan_peer_hash(t, a->id, peer));
		turn_list_add(&a->chans, &c->link);
		a->nchans++;
	}
	if (c->cooling) {
		c->cooling = false;
		t->stats->channels_current++;
	}
	c->timer.kind = TURN_T_CHAN;
	c->expires_ms = turn_alloc_cap_ms(a, turn_now_ms(t) + TURN_CHANNEL_LIFETIME * 1000ULL);
	turn_timer_arm(t->wheel, &c->timer, c->expires_ms);
	if (t->hooks.channel_set) {
		turn_chan_info(c, &ci);
		if (t->hooks.channel_set(t->hooks_arg, &ci) < 0)
			log_debug("turn: channel hook failed for allocation %llu",
				  (unsigned long long)a->id);
	}
	return 0;
}

static void turn_chan_unbind(struct turn_server *t, struct turn_chan *c)
{
	struct turn_channel_info ci;

	if (c->cooling)
		return;
	c->cooling = true;
	t->stats->channels_current--;
	if (t->hooks.channel_del) {
		turn_chan_info(c, &ci);
		t->hooks.channel_del(t->hooks_arg, &ci);
	}
}

void turn_chan_delete(struct turn_server *t, struct turn_chan *c)
{
	turn_chan_unbind(t, c);
	turn_timer_cancel(&c->timer);
	turn_htab_remove(&t->chan_num, &c->by_num);
	turn_htab_remove(&t->chan_peer, &c->by_peer);
	turn_list_del(&c->link);
	c->alloc->nchans--;
	free(c);
}

void turn_chan_expired(struct turn_server *t, struct turn_chan *c)
{
	if (c->timer.kind == TURN_T_CHAN_COOL) {
		turn_chan_delete(t, c);
		return;
	}
	/* RFC 8656 §12: the number and the peer stay unavailable to other bindings for 5 minutes.
	 */
	turn_chan_unbind(t, c);
	c->timer.kind = TURN_T_CHAN_COOL;
	turn_timer_arm(t->wheel, &c->timer, c->expires_ms + TURN_CHANNEL_COOLDOWN * 1000ULL);
}

/* A permission names an IP only (RFC 8656 §9): judge it with any port. */
static bool turn_peer_ip_denied(struct turn_server *t, const struct nts_addr *ip)
{
	struct nts_addr a = *ip;

	if (!a.port)
		a.port = 9;
	return turn_policy_denies(t, &a);
}

void turn_drop_denied_peers(struct turn_server *t)
{
	unsigned nperm = 0, nchan = 0;

	for (struct turn_list *al = t->allocs.next; al != &t->allocs; al = al->next) {
		struct turn_alloc *a = turn_container_of(al, struct turn_alloc, link);
		struct turn_list *l;

		/* Channels first: the kernel's entry for a channel goes before its permission's. */
		for (l = a->chans.next; l != &a->chans; l = l->next) {
			struct turn_chan *c = turn_container_of(l, struct turn_chan, link);

			if (!c->cooling && turn_policy_denies(t, &c->peer)) {
				turn_chan_expired(t, c);
				nchan++;
			}
		}
		for (l = a->perms.next; l != &a->perms;) {
			struct turn_perm *p = turn_container_of(l, struct turn_perm, link);

			l = l->next;
			if (turn_peer_ip_denied(t, &p->peer)) {
				turn_perm_expired(t, p);
				nperm++;
			}
		}
	}
	nperm += turn_tcp_drop_denied(t);
	if (nperm || nchan)
		log_info(
		    "turn: peer policy changed: %u permissions or connections and %u channels to "
		    "refused peers removed",
		    nperm, nchan);
}
