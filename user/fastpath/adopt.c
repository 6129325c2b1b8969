/* Entries of other generations (left by a killed ntsd): the scan when maps are adopted, their
 * removal when one of ours takes their relay address or the peer policy refuses their peer, the
 * batched collection of expired entries, and the flush of everything. See fastpath.h and
 * fastpath_priv.h.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "fastpath/fastpath_priv.h"

#define FP_WALK_CHUNK 256

int fp_map_walk(int fd, uint32_t *token, bool *have_token, unsigned max, fp_walk_fn fn, void *arg,
		bool *done)
{
	struct bpf_map_info info = {0};
	uint32_t len = sizeof(info), chunk = FP_WALK_CHUNK, out;
	size_t vsize;
	uint8_t *keys = NULL, *vals = NULL;
	unsigned seen = 0;
	int rc = 0, ncpus = libbpf_num_possible_cpus();

	*done = false;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	vsize = info.value_size;
	if (info.type == BPF_MAP_TYPE_PERCPU_HASH || info.type == BPF_MAP_TYPE_LRU_PERCPU_HASH ||
	    info.type == BPF_MAP_TYPE_PERCPU_ARRAY)
		vsize = ((vsize + 7) & ~(size_t)7) * (ncpus > 0 ? ncpus : 1);
	while (!*done && seen < max) {
		uint32_t count = chunk;
		struct bpf_map_batch_opts opts = {.sz = sizeof(opts)};

		if (!keys) {
			keys = malloc((size_t)chunk * info.key_size);
			vals = malloc((size_t)chunk * vsize);
			if (!keys || !vals) {
				rc = -ENOMEM;
				break;
			}
		}
		rc = bpf_map_lookup_batch(fd, *have_token ? token : NULL, &out, keys, vals, &count,
					  &opts);
		if (rc < 0 && errno == ENOSPC && chunk < (1u << 16)) {
			/* One bucket holds more entries than the chunk: a bigger one. */
			chunk *= 4;
			free(keys);
			free(vals);
			keys = vals = NULL;
			rc = 0;
			continue;
		}
		if (rc < 0 && errno != ENOENT) {
			rc = -errno;
			break;
		}
		*done = rc < 0; /* ENOENT: the last entries came with it */
		rc = 0;
		for (uint32_t i = 0; i < count && rc >= 0; i++) {
			const uint8_t *k = keys + (size_t)i * info.key_size;

			rc = fn(arg, k, vals + (size_t)i * vsize);
			if (rc == 1)
				bpf_map_delete_elem(fd, k);
		}
		seen += count;
		if (rc < 0) {
			rc = 0;
			break;
		}
		rc = 0;
		if (*done) {
			*have_token = false;
		} else {
			*token = out;
			*have_token = true;
		}
	}
	free(keys);
	free(vals);
	return rc;
}

/* What the adoption scan collects: every entry with its relay address and generation. */
struct scan {
	struct fastpath *fp;
	struct {
		struct fp_foreign e;
		uint32_t gen;
	} * ents;
	size_t n, cap;
	uint32_t maxgen;
	uint8_t map;
	int err;
};

static void scan_note(struct scan *s, const void *key, size_t key_size, const struct nts_fp_ip *ip,
		      uint16_t port, uint64_t kid)
{
	uint32_t gen = fp_gen_of(kid);

	if (gen > s->maxgen)
		s->maxgen = gen;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		void *n = realloc(s->ents, cap * sizeof(*s->ents));

		if (!n) {
			s->err = -ENOMEM;
			return;
		}
		s->ents = n;
		s->cap = cap;
	}
	memset(&s->ents[s->n], 0, sizeof(s->ents[0]));
	s->ents[s->n].e.relay.relay_ip = *ip;
	s->ents[s->n].e.relay.relay_port = port;
	s->ents[s->n].e.map = s->map;
	memcpy(s->ents[s->n].e.key, key, key_size);
	s->ents[s->n++].gen = gen;
}

static int scan_client(void *arg, const void *key, const void *val)
{
	const struct nts_fp_client_val *v = val;

	scan_note(arg, key, sizeof(struct nts_fp_client_key), &v->relay_ip, v->relay_port,
		  v->alloc_id);
	return 0;
}

static int scan_peer(void *arg, const void *key, const void *val)
{
	const struct nts_fp_peer_key *k = key;

	scan_note(arg, key, sizeof(*k), &k->relay_ip, k->relay_port,
		  ((const struct nts_fp_peer_val *)val)->alloc_id);
	return 0;
}

static int scan_perm(void *arg, const void *key, const void *val)
{
	const struct nts_fp_perm_key *k = key;

	scan_note(arg, key, sizeof(*k), &k->relay_ip, k->relay_port,
		  ((const struct nts_fp_perm_val *)val)->alloc_id);
	return 0;
}

static int scan_relay(void *arg, const void *key, const void *val)
{
	const struct nts_fp_relay_key *k = key;

	scan_note(arg, key, sizeof(*k), &k->relay_ip, k->relay_port,
		  ((const struct nts_fp_relay_val *)val)->alloc_id);
	return 0;
}

static int relay_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct nts_fp_relay_key));
}

static int walk_all(int fd, fp_walk_fn fn, void *arg)
{
	uint32_t token = 0;
	bool have = false, done = false;

	return fp_map_walk(fd, &token, &have, ~0u, fn, arg, &done);
}

/* Per-allocation counters of other generations (keyed by generation << NTS_FP_GEN_SHIFT | id, like
 * alloc_id; nobody folds them). Their limit slots go with them (limit.c). */
static int gc_alloc(void *arg, const void *key, const void *val)
{
	const struct fastpath *fp = arg;
	uint64_t kid;

	memcpy(&kid, key, sizeof(kid));
	return fp_gen_of(kid) != fp->gen;
}

int fp_adopt_scan(struct fastpath *fp, uint32_t keep)
{
	static const fp_walk_fn fns[FP_NMAPS] = {scan_client, scan_peer, scan_perm, scan_relay};
	const int fds[FP_NMAPS] = {fp->fds.client, fp->fds.peer, fp->fds.perm, fp->fds.relay};
	struct scan s = {.fp = fp};
	struct fp_foreign *ents;
	size_t n = 0;
	int rc = 0;

	for (s.map = 0; s.map < FP_NMAPS && !rc; s.map++) {
		rc = walk_all(fds[s.map], fns[s.map], &s);
		if (!rc)
			rc = s.err;
	}
	if (rc)
		goto out;
	fp->gen = keep ? keep : (s.maxgen >= NTS_FP_GEN_MAX ? 1 : s.maxgen + 1);
	fp->gen_kept = keep != 0;
	rc = fp_limit_scan(fp);
	if (rc)
		goto out;
	if (!fp->gen_kept)
		fp_direct_release(fp, false);
	/* Keep the other generations' entries, packed in place, sorted by relay address. */
	for (size_t i = 0; i < s.n; i++)
		if (s.ents[i].gen != fp->gen)
			memmove((struct fp_foreign *)s.ents + n++, &s.ents[i].e,
				sizeof(s.ents[i].e));
	fp->foreign = n;
	free(fp->foreign_ents);
	fp->foreign_ents = NULL;
	fp->nforeign_ents = 0;
	if (!n) {
		walk_all(fp->fds.alloc, gc_alloc, fp);
		fp_direct_release(fp, true);
		fp_limit_release_foreign(fp);
		goto out;
	}
	ents = realloc(s.ents, n * sizeof(*ents));
	if (!ents) {
		rc = -ENOMEM;
		goto out;
	}
	s.ents = NULL;
	qsort(ents, n, sizeof(*ents), relay_cmp);
	fp->foreign_ents = ents;
	fp->nforeign_ents = n;
out:
	free(s.ents);
	return rc;
}

/* Where alloc_id sits in each map's values. */
static const size_t alloc_id_off[FP_NMAPS] = {
    offsetof(struct nts_fp_client_val, alloc_id), offsetof(struct nts_fp_peer_val, alloc_id),
    offsetof(struct nts_fp_perm_val, alloc_id), offsetof(struct nts_fp_relay_val, alloc_id)};

void fp_foreign_take(struct fastpath *fp, const struct nts_fp_relay_key *relay)
{
	const int fds[FP_NMAPS] = {fp->fds.client, fp->fds.peer, fp->fds.perm, fp->fds.relay};
	struct fp_foreign k = {0}, *hit, *lo, *hi, *end = fp->foreign_ents + fp->nforeign_ents;
	uint8_t val[sizeof(struct nts_fp_client_val)];
	uint64_t kid;
	bool deleted = false;

	if (!fp->nforeign_ents)
		return;
	k.relay.relay_ip = relay->relay_ip;
	k.relay.relay_port = relay->relay_port;
	hit = bsearch(&k, fp->foreign_ents, fp->nforeign_ents, sizeof(k), relay_cmp);
	if (!hit)
		return;
	for (lo = hit; lo > fp->foreign_ents && relay_cmp(lo - 1, &k) == 0; lo--)
		;
	for (hi = hit; hi < end && relay_cmp(hi, &k) == 0; hi++)
		;
	/* A new allocation must never see an old client's traffic (nor the other way round). The
	 * key may have been written since by one of ours: only other generations' values go. */
	for (struct fp_foreign *e = lo; e < hi; e++) {
		if (bpf_map_lookup_elem(fds[e->map], e->key, val))
			continue;
		memcpy(&kid, val + alloc_id_off[e->map], sizeof(kid));
		if (fp_gen_of(kid) != fp->gen && bpf_map_delete_elem(fds[e->map], e->key) == 0)
			deleted = true;
	}
	if (deleted)
		fp_cache_bump(fp);
	memmove(lo, hi, (end - hi) * sizeof(*lo));
	fp->nforeign_ents -= hi - lo;
}

/* The maps with an expiry, and where it sits in their values. */
static const struct {
	size_t fd_off, expires_off, alloc_off;
} gc_maps[] = {
    {offsetof(struct fastpath_fds, client), offsetof(struct nts_fp_client_val, expires_ns),
     offsetof(struct nts_fp_client_val, alloc_id)},
    {offsetof(struct fastpath_fds, peer), offsetof(struct nts_fp_peer_val, expires_ns),
     offsetof(struct nts_fp_peer_val, alloc_id)},
    {offsetof(struct fastpath_fds, perm), offsetof(struct nts_fp_perm_val, expires_ns),
     offsetof(struct nts_fp_perm_val, alloc_id)},
    {offsetof(struct fastpath_fds, relay), offsetof(struct nts_fp_relay_val, expires_ns),
     offsetof(struct nts_fp_relay_val, alloc_id)},
};
#define GC_NMAPS (sizeof(gc_maps) / sizeof(gc_maps[0]))

struct gc {
	struct fastpath *fp;
	unsigned m;
	uint64_t now;
	int deleted;
};

static int gc_entry(void *arg, const void *key, const void *val)
{
	struct gc *g = arg;
	uint64_t expires, kid;

	memcpy(&expires, (const uint8_t *)val + gc_maps[g->m].expires_off, sizeof(expires));
	memcpy(&kid, (const uint8_t *)val + gc_maps[g->m].alloc_off, sizeof(kid));
	if (expires < g->now) {
		g->deleted++;
		return 1;
	}
	if (fp_gen_of(kid) != g->fp->gen)
		g->fp->gc_foreign++;
	return 0;
}

int fastpath_gc(struct fastpath *fp, uint64_t now_ns, unsigned budget)
{
	struct gc g = {.fp = fp, .now = now_ns};
	unsigned start = fp->gc_map;

	/* At most one pass over each map per call: empty maps cost one batch call each. */
	do {
		bool done = false;
		int rc;

		g.m = fp->gc_map % GC_NMAPS;
		rc = fp_map_walk(*(int *)((char *)&fp->fds + gc_maps[g.m].fd_off), &fp->gc_token,
				 &fp->gc_have_token, budget, gc_entry, &g, &done);
		if (g.deleted)
			fp_cache_bump(fp);
		if (rc)
			return rc;
		if (!done)
			break;
		if (++fp->gc_map % GC_NMAPS == 0) {
			/* A full pass: what is left of other generations. */
			fp->foreign = fp->gc_foreign;
			fp->gc_foreign = 0;
			if (!fp->foreign) {
				/* Nothing of theirs relays any more: their counters and
				 * limits go too. */
				walk_all(fp->fds.alloc, gc_alloc, fp);
				fp_direct_release(fp, true);
				fp_limit_release_foreign(fp);
				free(fp->foreign_ents);
				fp->foreign_ents = NULL;
				fp->nforeign_ents = 0;
			}
		}
	} while (fp->gc_map - start < GC_NMAPS);
	return g.deleted;
}

uint64_t fastpath_foreign_entries(const struct fastpath *fp)
{
	return fp->foreign;
}

int fastpath_gc_foreign(struct fastpath *fp, uint64_t now_ns, uint64_t every_ns, unsigned budget)
{
	if (!fp->foreign || now_ns - fp->gc_last_ns < every_ns)
		return 0;
	fp->gc_last_ns = now_ns;
	return fastpath_gc(fp, now_ns, budget);
}

struct recheck {
	struct fastpath *fp;
	fastpath_peer_allowed_fn allowed;
	void *arg;
	int deleted;
};

/* 1 (delete) when kid is another generation's and the policy refuses the peer at ip:port. */
static int recheck_peer(struct recheck *r, uint64_t kid, const struct nts_fp_ip *ip, uint16_t port)
{
	struct nts_addr peer;

	if (fp_gen_of(kid) == r->fp->gen)
		return 0;
	fastpath_ip_to_addr(&peer, ip, port);
	if (r->allowed(r->arg, &peer))
		return 0;
	r->deleted++;
	return 1;
}

static int recheck_client(void *arg, const void *key, const void *val)
{
	const struct nts_fp_client_val *v = val;

	return recheck_peer(arg, v->alloc_id, &v->peer_ip, v->peer_port);
}

static int recheck_peer_entry(void *arg, const void *key, const void *val)
{
	const struct nts_fp_peer_key *k = key;

	return recheck_peer(arg, ((const struct nts_fp_peer_val *)val)->alloc_id, &k->peer_ip,
			    k->peer_port);
}

static int recheck_perm(void *arg, const void *key, const void *val)
{
	const struct nts_fp_perm_key *k = key;

	return recheck_peer(arg, ((const struct nts_fp_perm_val *)val)->alloc_id, &k->peer_ip, 0);
}

int fastpath_foreign_recheck(struct fastpath *fp, fastpath_peer_allowed_fn allowed, void *arg)
{
	const fp_walk_fn fns[] = {recheck_client, recheck_peer_entry, recheck_perm};
	const int fds[] = {fp->fds.client, fp->fds.peer, fp->fds.perm};
	struct recheck r = {.fp = fp, .allowed = allowed, .arg = arg};

	/* The relay entries stay: without a permission their peers' traffic is dropped, as ours
	 * would be (RFC 8656 §9). Our own entries were checked when TURN installed them. */
	if (!fp->foreign)
		return 0;
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		int rc = walk_all(fds[i], fns[i], &r);

		if (rc)
			return rc;
	}
	return r.deleted;
}

static int flush_entry(void *arg, const void *key, const void *val)
{
	(*(int *)arg)++;
	return 1;
}

int fastpath_flush(struct fastpath *fp)
{
	/* The relays go first: a relay entry whose permissions are gone would drop their peers. */
	const int fds[] = {fp->fds.relay, fp->fds.perm, fp->fds.client, fp->fds.peer};
	int deleted = 0;

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		int rc = walk_all(fds[i], flush_entry, &deleted);

		if (rc)
			return rc;
	}
	return deleted;
}
