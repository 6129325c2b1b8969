/* Mirrors TURN channels and permissions into the pinned maps and remembers, per allocation, what it
 * wrote so that deleting an allocation removes all of it. See fastpath.h.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fastpath/fastpath_priv.h"

static struct fp_alloc **bucket_of(struct fastpath *fp, uint64_t id)
{
	return &fp->buckets[(id * 0x9E3779B97F4A7C15ull) >> (64 - FP_BUCKET_BITS)];
}

struct fp_alloc *fp_alloc_find(struct fastpath *fp, uint64_t id)
{
	for (struct fp_alloc *a = *bucket_of(fp, id); a; a = a->next)
		if (a->id == id)
			return a;
	return NULL;
}

/* Finds or creates the allocation's record and its kernel counters entry. */
static struct fp_alloc *alloc_get(struct fastpath *fp, uint64_t id)
{
	struct fp_alloc *a = fp_alloc_find(fp, id);
	uint64_t kid = fp_kid(fp, id);
	struct fp_alloc **b;

	if (a)
		return a;
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->id = id;
	/* A fresh entry: counts left by an earlier ntsd under the same id are not this one's. A
	 * continued generation (an upgrade, a second attach) keeps the entry, which goes on
	 * counting, and folds from what it holds now (fastpath_alloc_set_folded() may say less). */
	memset(fp->pcpu, 0, fp->ncpus * sizeof(struct nts_fp_alloc_counters));
	if (fp->fds.alloc >= 0 && bpf_map_update_elem(fp->fds.alloc, &kid, fp->pcpu,
						      fp->gen_kept ? BPF_NOEXIST : BPF_ANY) == 0) {
		a->counters = true;
	} else if (fp->fds.alloc >= 0 && fp->gen_kept && errno == EEXIST &&
		   bpf_map_lookup_elem(fp->fds.alloc, &kid, fp->pcpu) == 0) {
		a->counters = true;
		fp_counters_sum(fp, &a->last, fp->pcpu);
	}
	/* Before any entry names the allocation, so that its packets count in one place. */
	a->direct = a->counters && fp_direct_claim(fp, kid, &a->last);
	/* An upgrade's allocation keeps the slot its entries name until its limits are written
	 * again (as they are when TURN's state is replayed): limited, with limits to be replaced.
	 */
	a->slot = fp->gen_kept ? fp_limit_adopted(fp, kid) : 0;
	a->limited = a->slot != 0;
	b = bucket_of(fp, id);
	a->next = *b;
	*b = a;
	fp->nallocs++;
	return a;
}

static void alloc_free(struct fastpath *fp, struct fp_alloc *a)
{
	struct fp_alloc **p = bucket_of(fp, a->id);

	while (*p && *p != a)
		p = &(*p)->next;
	if (*p)
		*p = a->next;
	free(a->chans);
	free(a->perms);
	free(a);
	fp->nallocs--;
}

void fp_alloc_free_all(struct fastpath *fp)
{
	for (size_t i = 0; i < FP_BUCKETS; i++)
		while (fp->buckets[i])
			alloc_free(fp, fp->buckets[i]);
}

/* Deletes key from map fd if its entry still belongs to allocation kid: a key of ours may have been
 * taken since by another allocation (a relay port reused, a TCP and a UDP relay on the same
 * number) or by another generation, whose entries must survive our delete. Lookup then delete:
 * the program writes only the next-hop cache of a value (never alloc_id), and ntsd is the one
 * process that writes entries, so nothing can give the key a new owner between the two calls. */
static void map_delete_own(struct fastpath *fp, int fd, const void *key, size_t alloc_off,
			   uint64_t kid)
{
	uint8_t val[sizeof(struct nts_fp_client_val) > sizeof(struct nts_fp_peer_val)
			? sizeof(struct nts_fp_client_val)
			: sizeof(struct nts_fp_peer_val)];
	uint64_t owner;

	if (bpf_map_lookup_elem(fd, key, val))
		return;
	memcpy(&owner, val + alloc_off, sizeof(owner));
	if (owner == kid && bpf_map_delete_elem(fd, key) == 0)
		fp_cache_bump(fp);
}

#define DELETE_OWN(fp, map, key, kid)                                                              \
	map_delete_own((fp), (fp)->fds.map, (key), offsetof(struct nts_fp_##map##_val, alloc_id),  \
		       (kid))

void fastpath_ip_from_addr(struct nts_fp_ip *ip, const struct nts_addr *a)
{
	memset(ip, 0, sizeof(*ip));
	if (a->family == AF_INET) {
		ip->addr[10] = 0xff;
		ip->addr[11] = 0xff;
		memcpy(ip->addr + 12, a->ip, 4);
	} else {
		memcpy(ip->addr, a->ip, 16);
	}
}

void fastpath_ip_to_addr(struct nts_addr *a, const struct nts_fp_ip *ip, uint16_t port)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	memset(a, 0, sizeof(*a));
	if (memcmp(ip->addr, mapped, sizeof(mapped)) == 0) {
		a->family = AF_INET;
		memcpy(a->ip, ip->addr + 12, 4);
	} else {
		a->family = AF_INET6;
		memcpy(a->ip, ip->addr, 16);
	}
	a->port = port;
}

/* Records relay as one of the allocation's relays and extends its kernel entry to expires_ns, so
 * that traffic to it without any permission can be dropped in the kernel. */
static int relay_note(struct fastpath *fp, struct fp_alloc *a, const struct nts_addr *relay,
		      uint64_t expires_ns)
{
	struct nts_fp_relay_key k = {0};
	struct nts_fp_relay_val v = {.alloc_id = fp_kid(fp, a->id)};
	unsigned i;

	/* A wildcard relay's packets leave from a source the routing table picks, which the kernel
	 * fast path cannot reproduce: it stays in userspace. */
	if (a->no_drop || nts_addr_is_any(relay))
		return 0;
	fastpath_ip_from_addr(&k.relay_ip, relay);
	k.relay_port = relay->port;
	for (i = 0; i < a->nrelay; i++)
		if (memcmp(&a->relays[i], &k, sizeof(k)) == 0)
			break;
	if (i == a->nrelay) {
		if (a->nrelay == FP_MAX_RELAYS)
			return -E2BIG;
		a->relays[a->nrelay] = k;
		a->relay_expires[a->nrelay++] = 0;
	}
	if (expires_ns <= a->relay_expires[i])
		return 0;
	v.expires_ns = expires_ns;
	if (bpf_map_update_elem(fp->fds.relay, &k, &v, BPF_ANY))
		return -errno;
	a->relay_expires[i] = expires_ns;
	return 0;
}

/* Our allocation uses relay: entries an earlier ntsd left there go (fastpath_priv.h). */
static void relay_take(struct fastpath *fp, const struct nts_addr *relay)
{
	struct nts_fp_relay_key k = {0};

	if (!fp->nforeign_ents)
		return;
	fastpath_ip_from_addr(&k.relay_ip, relay);
	k.relay_port = relay->port;
	fp_foreign_take(fp, &k);
}

/* A permission the kernel does not know about would have its peer's traffic dropped: stop
 * dropping anything for this allocation (userspace still applies RFC 8656 §9 itself). */
static void relay_disable(struct fastpath *fp, struct fp_alloc *a)
{
	a->no_drop = true;
	for (unsigned i = 0; i < a->nrelay; i++)
		DELETE_OWN(fp, relay, &a->relays[i], fp_kid(fp, a->id));
	a->nrelay = 0;
}

static void perm_key(struct nts_fp_perm_key *k, const struct nts_addr *relay,
		     const struct nts_addr *peer)
{
	memset(k, 0, sizeof(*k));
	fastpath_ip_from_addr(&k->relay_ip, relay);
	fastpath_ip_from_addr(&k->peer_ip, peer);
	k->relay_port = relay->port;
}

static struct fp_perm *perm_find(struct fp_alloc *a, const struct nts_fp_perm_key *k)
{
	for (unsigned i = 0; i < a->nperms; i++)
		if (memcmp(&a->perms[i].k, k, sizeof(*k)) == 0)
			return &a->perms[i];
	return NULL;
}

/* Writes the kernel's permission entry (until map_expires) and records it; turn_expires is
 * TURN's own expiry, 0 when the permission is only implied by a channel binding. */
static int perm_write(struct fastpath *fp, struct fp_alloc *a, const struct nts_fp_perm_key *k,
		      uint64_t map_expires, uint64_t turn_expires)
{
	struct nts_fp_perm_val v = {.expires_ns = map_expires, .alloc_id = fp_kid(fp, a->id)};
	struct fp_perm *p;

	if (bpf_map_update_elem(fp->fds.perm, k, &v, BPF_ANY))
		return errno == E2BIG ? -ENOSPC : -errno;
	p = perm_find(a, k);
	if (!p) {
		if (a->nperms == a->capperms) {
			unsigned cap = a->capperms ? a->capperms * 2 : 4;
			struct fp_perm *n = realloc(a->perms, cap * sizeof(*n));

			if (!n)
				return -ENOMEM;
			a->perms = n;
			a->capperms = cap;
		}
		p = &a->perms[a->nperms++];
		p->k = *k;
		p->expires = 0;
	}
	if (turn_expires)
		p->expires = turn_expires;
	return 0;
}

static void perm_key_of_chan(struct nts_fp_perm_key *k, const struct fp_chan *c)
{
	memset(k, 0, sizeof(*k));
	k->relay_ip = c->pk.relay_ip;
	k->peer_ip = c->pk.peer_ip;
	k->relay_port = c->pk.relay_port;
}

/* RFC 8656 §9/§12: relaying on a channel needs both the binding and the peer's permission. */
static uint64_t chan_effective(struct fp_alloc *a, const struct fp_chan *c)
{
	struct nts_fp_perm_key k;
	struct fp_perm *p;

	perm_key_of_chan(&k, c);
	p = perm_find(a, &k);
	if (p && p->expires)
		return p->expires < c->expires ? p->expires : c->expires;
	return c->perm_gone ? 0 : c->expires;
}

static int chan_write(struct fastpath *fp, struct fp_alloc *a, struct fp_chan *c)
{
	int rc;

	/* Its limit is not in the kernel: only userspace, which enforces it, may relay. */
	if (a->no_chans) {
		DELETE_OWN(fp, client, &c->ck, fp_kid(fp, a->id));
		DELETE_OWN(fp, peer, &c->pk, fp_kid(fp, a->id));
		return 0;
	}
	c->cv.limit_slot = a->limited ? a->slot : 0;
	c->pv.limit_slot = (uint16_t)c->cv.limit_slot;
	c->cv.expires_ns = c->pv.expires_ns = chan_effective(a, c);
	rc = bpf_map_update_elem(fp->fds.client, &c->ck, &c->cv, BPF_ANY) ? -errno : 0;
	if (!rc && bpf_map_update_elem(fp->fds.peer, &c->pk, &c->pv, BPF_ANY)) {
		rc = -errno;
		bpf_map_delete_elem(fp->fds.client, &c->ck);
	}
	/* Whatever was written, the CPUs' copies of the old entries must go. */
	fp_cache_bump(fp);
	return rc == -E2BIG ? -ENOSPC : rc;
}

/* Rewrites the channels to the peer of permission k after its expiry changed or it went away. */
static void chans_of_perm_update(struct fastpath *fp, struct fp_alloc *a,
				 const struct nts_fp_perm_key *k, bool gone)
{
	struct nts_fp_perm_key ck;

	for (unsigned i = 0; i < a->nchans; i++) {
		perm_key_of_chan(&ck, &a->chans[i]);
		if (memcmp(&ck, k, sizeof(ck)) != 0)
			continue;
		a->chans[i].perm_gone = gone;
		chan_write(fp, a, &a->chans[i]);
	}
}

int fastpath_permission_set(struct fastpath *fp, uint64_t alloc_id, const struct nts_addr *relay,
			    const struct nts_addr *peer, uint64_t expires_ns)
{
	struct fp_alloc *a = alloc_get(fp, alloc_id);
	struct nts_fp_perm_key k;
	int rc;

	if (!a)
		return -ENOMEM;
	relay_take(fp, relay);
	perm_key(&k, relay, peer);
	/* The permission goes in before the relay entry: a relay known without its permission would
	 * drop the permitted peer's traffic. */
	rc = perm_write(fp, a, &k, expires_ns, expires_ns);
	if (rc == 0)
		rc = relay_note(fp, a, relay, expires_ns);
	if (rc) {
		relay_disable(fp, a);
		return rc;
	}
	chans_of_perm_update(fp, a, &k, false);
	return 0;
}

void fastpath_permission_del(struct fastpath *fp, uint64_t alloc_id, const struct nts_addr *relay,
			     const struct nts_addr *peer)
{
	struct fp_alloc *a = fp_alloc_find(fp, alloc_id);
	struct nts_fp_perm_key k;
	struct fp_perm *p;

	perm_key(&k, relay, peer);
	DELETE_OWN(fp, perm, &k, fp_kid(fp, alloc_id));
	if (!a)
		return;
	p = perm_find(a, &k);
	if (p)
		*p = a->perms[--a->nperms];
	/* A channel outliving its permission is no longer relayed (userspace drops its data). */
	chans_of_perm_update(fp, a, &k, true);
}

static struct fp_chan *chan_get(struct fp_alloc *a, const struct nts_fp_client_key *ck)
{
	for (unsigned i = 0; i < a->nchans; i++)
		if (memcmp(&a->chans[i].ck, ck, sizeof(*ck)) == 0)
			return &a->chans[i];
	if (a->nchans == a->capchans) {
		unsigned cap = a->capchans ? a->capchans * 2 : 4;
		struct fp_chan *n = realloc(a->chans, cap * sizeof(*n));

		if (!n)
			return NULL;
		a->chans = n;
		a->capchans = cap;
	}
	memset(&a->chans[a->nchans], 0, sizeof(a->chans[0]));
	return &a->chans[a->nchans++];
}

static void channel_keys(struct nts_fp_client_key *ck, struct nts_fp_peer_key *pk,
			 const struct nts_addr *client, const struct nts_addr *server,
			 const struct nts_addr *relay, const struct nts_addr *peer,
			 uint16_t channel)
{
	memset(ck, 0, sizeof(*ck));
	memset(pk, 0, sizeof(*pk));
	fastpath_ip_from_addr(&ck->client_ip, client);
	fastpath_ip_from_addr(&ck->server_ip, server);
	ck->client_port = client->port;
	ck->server_port = server->port;
	ck->channel = channel;
	fastpath_ip_from_addr(&pk->relay_ip, relay);
	fastpath_ip_from_addr(&pk->peer_ip, peer);
	pk->relay_port = relay->port;
	pk->peer_port = peer->port;
}

int fastpath_channel_set(struct fastpath *fp, uint64_t alloc_id, const struct nts_addr *client,
			 const struct nts_addr *server, const struct nts_addr *relay,
			 const struct nts_addr *peer, uint16_t channel, uint64_t expires_ns)
{
	struct fp_alloc *a = alloc_get(fp, alloc_id);
	struct nts_fp_client_key ck;
	struct nts_fp_peer_key pk;
	struct nts_fp_perm_key permk;
	struct fp_chan *c;
	int rc;

	if (!a)
		return -ENOMEM;
	relay_take(fp, relay);
	/* RFC 8656 §11.2: a channel binding also installs a permission for the peer. Recording it
	 * here too guarantees the kernel never drops a bound peer's traffic; an extra permission
	 * only ever sends packets to userspace, which decides. */
	perm_key(&permk, relay, peer);
	rc = perm_write(fp, a, &permk, expires_ns, 0);
	if (rc == 0)
		rc = relay_note(fp, a, relay, expires_ns);
	if (rc) {
		relay_disable(fp, a);
		return rc;
	}
	/* No header-size changes in the kernel, and no source address choice: userspace relays
	 * channels across families, over TCP (no client address) and from wildcard relays. */
	if (client->family != peer->family || client->family != server->family ||
	    relay->family != peer->family || nts_addr_is_any(client) || nts_addr_is_any(server) ||
	    nts_addr_is_any(relay) || nts_addr_is_any(peer))
		return 0;
	channel_keys(&ck, &pk, client, server, relay, peer, channel);
	c = chan_get(a, &ck);
	if (!c)
		return -ENOMEM;
	c->ck = ck;
	c->pk = pk;
	c->cv = (struct nts_fp_client_val){.relay_ip = pk.relay_ip,
					   .peer_ip = pk.peer_ip,
					   .relay_port = relay->port,
					   .peer_port = peer->port,
					   .alloc_id = fp_kid(fp, alloc_id)};
	c->pv = (struct nts_fp_peer_val){.client_ip = ck.client_ip,
					 .server_ip = ck.server_ip,
					 .client_port = client->port,
					 .server_port = server->port,
					 .channel = channel,
					 .alloc_id = fp_kid(fp, alloc_id)};
	c->expires = expires_ns;
	c->perm_gone = false;
	return chan_write(fp, a, c);
}

void fastpath_channel_del(struct fastpath *fp, uint64_t alloc_id, const struct nts_addr *client,
			  const struct nts_addr *server, const struct nts_addr *relay,
			  const struct nts_addr *peer, uint16_t channel)
{
	struct fp_alloc *a = fp_alloc_find(fp, alloc_id);
	struct nts_fp_client_key ck;
	struct nts_fp_peer_key pk;

	channel_keys(&ck, &pk, client, server, relay, peer, channel);
	DELETE_OWN(fp, client, &ck, fp_kid(fp, alloc_id));
	DELETE_OWN(fp, peer, &pk, fp_kid(fp, alloc_id));
	if (!a)
		return;
	for (unsigned i = 0; i < a->nchans; i++) {
		if (memcmp(&a->chans[i].ck, &ck, sizeof(ck)) == 0) {
			a->chans[i] = a->chans[--a->nchans];
			break;
		}
	}
}

/* Writes the allocation's limit slot (fresh buckets) with its account's, taking slots as needed.
 * 0 or -errno (-ENOSPC: no slot free, or the maps have none). */
static int limit_write(struct fastpath *fp, struct fp_alloc *a, const struct fastpath_limits *l)
{
	uint32_t account_slot = 0;
	uint64_t kid = fp_kid(fp, a->id);

	if (l->account && l->account_bps) {
		account_slot = fp_account_slot_get(fp, fp_kid(fp, l->account), l->account_bps);
		if (!account_slot)
			return -ENOSPC;
	}
	if (!a->slot)
		a->slot = fp_limit_slot_take(fp, kid);
	if (!a->slot)
		return -ENOSPC;
	return fp_limit_slot_write(fp, a->slot, kid, l, account_slot);
}

/* Frees the allocation's slot once no entry names it. */
static void limit_release(struct fastpath *fp, struct fp_alloc *a)
{
	if (a->slot)
		fp_limit_slot_free(fp, a->slot);
	a->slot = 0;
}

static void chans_rewrite(struct fastpath *fp, struct fp_alloc *a)
{
	for (unsigned i = 0; i < a->nchans; i++)
		chan_write(fp, a, &a->chans[i]);
}

int fastpath_alloc_limits(struct fastpath *fp, uint64_t alloc_id, const struct fastpath_limits *l)
{
	struct fp_alloc *a = alloc_get(fp, alloc_id);
	bool limited = l->bps || l->pps || (l->account && l->account_bps);
	int rc;

	if (!a)
		return -ENOMEM;
	if (a->limited == limited && !a->no_chans &&
	    (!limited || memcmp(&a->limits, l, sizeof(*l)) == 0))
		return 0;
	if (limited) {
		/* The slot's value first, then the entries that name it. */
		rc = limit_write(fp, a, l);
		a->no_chans = rc != 0;
		a->limited = rc == 0;
		a->limits = *l;
		chans_rewrite(fp, a);
		if (rc)
			limit_release(fp, a);
		return rc;
	}
	/* The entries first, then the slot. */
	a->limited = false;
	a->no_chans = false;
	memset(&a->limits, 0, sizeof(a->limits));
	chans_rewrite(fp, a);
	limit_release(fp, a);
	return 0;
}

void fastpath_account_del(struct fastpath *fp, uint64_t account)
{
	fp_account_slot_free(fp, fp_kid(fp, account));
}

void fastpath_alloc_del(struct fastpath *fp, uint64_t alloc_id)
{
	struct fp_alloc *a = fp_alloc_find(fp, alloc_id);
	uint64_t kid = fp_kid(fp, alloc_id);

	if (!a)
		return;
	/* The keys may already serve a newer allocation: only our own entries go. */
	for (unsigned i = 0; i < a->nchans; i++) {
		DELETE_OWN(fp, client, &a->chans[i].ck, kid);
		DELETE_OWN(fp, peer, &a->chans[i].pk, kid);
	}
	for (unsigned i = 0; i < a->nperms; i++)
		DELETE_OWN(fp, perm, &a->perms[i].k, kid);
	for (unsigned i = 0; i < a->nrelay; i++)
		DELETE_OWN(fp, relay, &a->relays[i], kid);
	if (a->direct)
		fp_direct_free(fp, kid);
	if (a->counters)
		bpf_map_delete_elem(fp->fds.alloc, &kid);
	limit_release(fp, a);
	alloc_free(fp, a);
}
