/* Read-only views of the TURN state for listings (ntsctl allocations, /metrics), kernel counter
 * folding, and the replay of every channel and permission into newly attached fast-path maps.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "turn/turn_internal.h"

static uint64_t turn_expires_unix(struct turn_server *t, uint64_t expires_ms)
{
	uint64_t now = turn_now_ms(t);

	return turn_unix_now() + (expires_ms > now ? (expires_ms - now + 999) / 1000 : 0);
}

int turn_foreach_alloc(struct turn_server *t, int (*fn)(void *arg, const struct turn_alloc_info *a),
		       void *arg)
{
	struct turn_list *l, *next;

	for (l = t->allocs.next; l != &t->allocs; l = next) {
		struct turn_alloc *a = turn_container_of(l, struct turn_alloc, link);
		struct turn_alloc_info ai;
		int rc;

		next = l->next;
		memset(&ai, 0, sizeof(ai));
		ai.id = a->id;
		ai.origin = a->origin;
		for (unsigned i = 0; i < a->nrelay; i++)
			ai.relay[i] = a->relay[i].advertised;
		ai.nrelay = a->nrelay;
		ai.relay_transport = a->tcp ? NTS_TCP : NTS_UDP;
		ai.username = a->user->name;
		ai.account = turn_alloc_account(a);
		ai.expires_unix = turn_expires_unix(t, a->expires_ms);
		ai.npermissions = a->nperms;
		for (struct turn_list *c = a->chans.next; c != &a->chans; c = c->next)
			ai.nchannels += !turn_container_of(c, struct turn_chan, link)->cooling;
		ai.c2p_packets = a->c2p_packets;
		ai.c2p_bytes = a->c2p_bytes;
		ai.p2c_packets = a->p2c_packets;
		ai.p2c_bytes = a->p2c_bytes;
		rc = fn(arg, &ai);
		if (rc)
			return rc;
	}
	return 0;
}

int turn_foreach_perm(struct turn_server *t, uint64_t id,
		      int (*fn)(void *arg, const struct turn_perm_info *p), void *arg)
{
	struct turn_alloc *a = turn_alloc_find_by_id(t, id);
	struct turn_perm_info pi;
	struct turn_list *l;
	int rc;

	if (!a)
		return -ENOENT;
	for (l = a->perms.next; l != &a->perms; l = l->next) {
		struct turn_perm *p = turn_container_of(l, struct turn_perm, link);
		struct turn_relay *r = turn_alloc_relay(a, p->peer.family);

		memset(&pi, 0, sizeof(pi));
		if (r)
			pi.relay = r->local;
		pi.peer = p->peer;
		pi.expires_ns = p->expires_ms * 1000000ULL;
		rc = fn(arg, &pi);
		if (rc)
			return rc;
	}
	for (l = a->chans.next; l != &a->chans; l = l->next) {
		struct turn_chan *c = turn_container_of(l, struct turn_chan, link);
		struct turn_relay *r = turn_alloc_relay(a, c->peer.family);

		if (c->cooling)
			continue;
		memset(&pi, 0, sizeof(pi));
		if (r)
			pi.relay = r->local;
		pi.peer = c->peer;
		pi.channel = c->num;
		pi.expires_ns = c->expires_ms * 1000000ULL;
		rc = fn(arg, &pi);
		if (rc)
			return rc;
	}
	return 0;
}

const char *turn_add_kernel_counters(struct turn_server *t, uint64_t alloc_id, uint64_t c2p_packets,
				     uint64_t c2p_bytes, uint64_t p2c_packets, uint64_t p2c_bytes)
{
	struct turn_alloc *a = turn_alloc_find_by_id(t, alloc_id);

	if (!a)
		return NULL;
	a->c2p_packets += c2p_packets;
	a->c2p_bytes += c2p_bytes;
	a->p2c_packets += p2c_packets;
	a->p2c_bytes += p2c_bytes;
	/* Metered by the caller, with the kernel counter they come from: never reported again. */
	a->reported_c2p += c2p_bytes;
	a->reported_p2c += p2c_bytes;
	return turn_alloc_account(a);
}

const char *turn_alloc_account_of(struct turn_server *t, uint64_t alloc_id)
{
	struct turn_alloc *a = turn_alloc_find_by_id(t, alloc_id);

	return a ? turn_alloc_account(a) : NULL;
}

void turn_replay_hooks(struct turn_server *t)
{
	for (struct turn_list *l = t->allocs.next; l != &t->allocs; l = l->next) {
		struct turn_alloc *a = turn_container_of(l, struct turn_alloc, link);

		for (struct turn_list *p = a->perms.next; p != &a->perms; p = p->next) {
			struct turn_perm *pm = turn_container_of(p, struct turn_perm, link);
			struct turn_relay *r = turn_alloc_relay(a, pm->peer.family);

			if (t->hooks.permission_set && r)
				t->hooks.permission_set(t->hooks_arg, a->id,
							a->tcp ? NTS_TCP : NTS_UDP, &r->local,
							&pm->peer, pm->expires_ms * 1000000ULL);
		}
		for (struct turn_list *c = a->chans.next; c != &a->chans; c = c->next) {
			struct turn_chan *ch = turn_container_of(c, struct turn_chan, link);
			struct turn_channel_info ci;

			if (ch->cooling || !t->hooks.channel_set)
				continue;
			turn_chan_info(ch, &ci);
			t->hooks.channel_set(t->hooks_arg, &ci);
		}
	}
}
