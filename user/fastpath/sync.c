/* Mirrors TURN channels and permissions into the pinned maps and remembers, per allocation, what it
 * wrote so that deleting an allocation removes all of it. See fastpath.h.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
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
	struct nts_fp_alloc_counters zero = {0};
	struct fp_alloc *a = fp_alloc_find(fp, id);
	struct fp_alloc **b;

	if (a)
		return a;
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->id = id;
	/* A fresh entry: counts left by an earlier ntsd under the same id are not this one's. */
	if (fp->fds.alloc >= 0 && bpf_map_update_elem(fp->fds.alloc, &id, &zero, BPF_ANY) == 0)
		a->counters = true;
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
	struct nts_fp_relay_val v = {.alloc_id = a->id};
	unsigned i;

	if (a->no_drop)
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

/* A permission the kernel does not know about would have its peer's traffic dropped: stop
 * dropping anything for this allocation (userspace still applies RFC 8656 §9 itself). */
static void relay_disable(struct fastpath *fp, struct fp_alloc *a)
{
	struct nts_fp_relay_val v;

	a->no_drop = true;
	for (unsigned i = 0; i < a->nrelay; i++)
		if (bpf_map_lookup_elem(fp->fds.relay, &a->relays[i], &v) == 0 &&
		    v.alloc_id == a->id)
			bpf_map_delete_elem(fp->fds.relay, &a->relays[i]);
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

static int perm_write(struct fastpath *fp, struct fp_alloc *a, const struct nts_fp_perm_key *k,
		      uint64_t expires_ns)
{
	struct nts_fp_perm_val v = {.expires_ns = expires_ns, .alloc_id = a->id};
	unsigned i;

	if (bpf_map_update_elem(fp->fds.perm, k, &v, BPF_ANY))
		return errno == E2BIG ? -ENOSPC : -errno;
	for (i = 0; i < a->nperms; i++)
		if (memcmp(&a->perms[i], k, sizeof(*k)) == 0)
			return 0;
	if (a->nperms == a->capperms) {
		unsigned cap = a->capperms ? a->capperms * 2 : 4;
		struct nts_fp_perm_key *n = realloc(a->perms, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		a->perms = n;
		a->capperms = cap;
	}
	a->perms[a->nperms++] = *k;
	return 0;
}

int fastpath_permission_set(struct fastpath *fp, uint64_t alloc_id, const struct nts_addr *relay,
			    const struct nts_addr *peer, uint64_t expires_ns)
{
	struct fp_alloc *a = alloc_get(fp, alloc_id);
	struct nts_fp_perm_key k;
	int rc;

	if (!a)
		return -ENOMEM;
	perm_key(&k, relay, peer);
	/* The permission goes in before the relay entry: a relay known without its permission would
	 * drop the permitted peer's traffic. */
	rc = perm_write(fp, a, &k, expires_ns);
	if (rc == 0)
		rc = relay_note(fp, a, relay, expires_ns);
	if (rc)
		relay_disable(fp, a);
	return rc;
}

void fastpath_permission_del(struct fastpath *fp, uint64_t alloc_id, const struct nts_addr *relay,
			     const struct nts_addr *peer)
{
	struct fp_alloc *a = fp_alloc_find(fp, alloc_id);
	struct nts_fp_perm_key k;

	perm_key(&k, relay, peer);
	bpf_map_delete_elem(fp->fds.perm, &k);
	if (!a)
		return;
	for (unsigned i = 0; i < a->nperms; i++) {
		if (memcmp(&a->perms[i], &k, sizeof(k)) == 0) {
			a->perms[i] = a->perms[--a->nperms];
			break;
		}
	}
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

static int chan_note(struct fp_alloc *a, const struct nts_fp_client_key *ck,
		     const struct nts_fp_peer_key *pk)
{
	for (unsigned i = 0; i < a->nchans; i++)
		if (memcmp(&a->chans[i].ck, ck, sizeof(*ck)) == 0)
			return 0;
	if (a->nchans == a->capchans) {
		unsigned cap = a->capchans ? a->capchans * 2 : 4;
		struct fp_chan *n = realloc(a->chans, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		a->chans = n;
		a->capchans = cap;
	}
	a->chans[a->nchans].ck = *ck;
	a->chans[a->nchans++].pk = *pk;
	return 0;
}

int fastpath_channel_set(struct fastpath *fp, uint64_t alloc_id, const struct nts_addr *client,
			 const struct nts_addr *server, const struct nts_addr *relay,
			 const struct nts_addr *peer, uint16_t channel, uint64_t expires_ns)
{
	struct fp_alloc *a = alloc_get(fp, alloc_id);
	struct nts_fp_client_key ck;
	struct nts_fp_peer_key pk;
	struct nts_fp_client_val cv = {.expires_ns = expires_ns, .alloc_id = alloc_id};
	struct nts_fp_peer_val pv = {.expires_ns = expires_ns, .alloc_id = alloc_id};
	struct nts_fp_perm_key permk;
	int rc;

	if (!a)
		return -ENOMEM;
	/* RFC 8656 §11.2: a channel binding also installs a permission for the peer. Recording it
	 * here too guarantees the kernel never drops a bound peer's traffic; an extra permission
	 * only ever sends packets to userspace, which decides. */
	perm_key(&permk, relay, peer);
	rc = perm_write(fp, a, &permk, expires_ns);
	if (rc == 0)
		rc = relay_note(fp, a, relay, expires_ns);
	if (rc) {
		relay_disable(fp, a);
		return rc;
	}
	if (client->family != peer->family || client->family != server->family ||
	    relay->family != peer->family)
		return 0; /* no header-size changes in the kernel: userspace relays these */
	channel_keys(&ck, &pk, client, server, relay, peer, channel);
	cv.relay_ip = pk.relay_ip;
	cv.peer_ip = pk.peer_ip;
	cv.relay_port = relay->port;
	cv.peer_port = peer->port;
	pv.client_ip = ck.client_ip;
	pv.server_ip = ck.server_ip;
	pv.client_port = client->port;
	pv.server_port = server->port;
	pv.channel = channel;
	rc = chan_note(a, &ck, &pk);
	if (rc)
		return rc;
	if (bpf_map_update_elem(fp->fds.client, &ck, &cv, BPF_ANY))
		return errno == E2BIG ? -ENOSPC : -errno;
	if (bpf_map_update_elem(fp->fds.peer, &pk, &pv, BPF_ANY)) {
		rc = errno == E2BIG ? -ENOSPC : -errno;
		bpf_map_delete_elem(fp->fds.client, &ck);
		return rc;
	}
	return 0;
}

void fastpath_channel_del(struct fastpath *fp, uint64_t alloc_id, const struct nts_addr *client,
			  const struct nts_addr *server, const struct nts_addr *relay,
			  const struct nts_addr *peer, uint16_t channel)
{
	struct fp_alloc *a = fp_alloc_find(fp, alloc_id);
	struct nts_fp_client_key ck;
	struct nts_fp_peer_key pk;

	channel_keys(&ck, &pk, client, server, relay, peer, channel);
	bpf_map_delete_elem(fp->fds.client, &ck);
	bpf_map_delete_elem(fp->fds.peer, &pk);
	if (!a)
		return;
	for (unsigned i = 0; i < a->nchans; i++) {
		if (memcmp(&a->chans[i].ck, &ck, sizeof(ck)) == 0) {
			a->chans[i] = a->chans[--a->nchans];
			break;
		}
	}
}

void fastpath_alloc_del(struct fastpath *fp, uint64_t alloc_id)
{
	struct fp_alloc *a = fp_alloc_find(fp, alloc_id);

	if (!a)
		return;
	for (unsigned i = 0; i < a->nchans; i++) {
		bpf_map_delete_elem(fp->fds.client, &a->chans[i].ck);
		bpf_map_delete_elem(fp->fds.peer, &a->chans[i].pk);
	}
	for (unsigned i = 0; i < a->nperms; i++)
		bpf_map_delete_elem(fp->fds.perm, &a->perms[i]);
	for (unsigned i = 0; i < a->nrelay; i++) {
		struct nts_fp_relay_val v;

		/* The port may already serve a newer allocation: only remove our own entry. */
		if (bpf_map_lookup_elem(fp->fds.relay, &a->relays[i], &v) == 0 &&
		    v.alloc_id == a->id)
			bpf_map_delete_elem(fp->fds.relay, &a->relays[i]);
	}
	if (a->counters)
		bpf_map_delete_elem(fp->fds.alloc, &a->id);
	alloc_free(fp, a);
}
