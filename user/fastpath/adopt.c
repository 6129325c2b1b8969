/* Entries of other generations (left by a killed ntsd): the scan when maps are adopted, their
 * removal when one of ours takes their relay address, and the batched collection of expired
 * entries. See fastpath.h and fastpath_priv.h.
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
	if (info.type == BPF_MAP_TYPE_PERCPU_HASH || info.type == BPF_MAP_TYPE_LRU_PERCPU_HASH)
		vsize = ((vsize + 7) & ~(size_t)7) * (ncpus > 0 ? ncpus : 1);
	while (!*done && seen < max) {
		uint32_t count = chunk;
		LIBBPF_OPTS(bpf_map_batch_opts, opts);

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

/* What the adoption scan collects: every relay address with the generation that used it. */
struct scan {
	struct fastpath *fp;
	struct {
		struct nts_fp_relay_key k;
		uint32_t gen;
	} * relays;
	size_t n, cap;
	uint32_t maxgen;
	uint64_t entries;
	int err;
};

static void scan_note(struct scan *s, const struct nts_fp_ip *ip, uint16_t port, uint64_t kid)
{
	uint32_t gen = fp_gen_of(kid);

	s->entries++;
	if (gen > s->maxgen)
		s->maxgen = gen;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		void *n = realloc(s->relays, cap * sizeof(*s->relays));

		if (!n) {
			s->err = -ENOMEM;
			return;
		}
		s->relays = n;
		s->cap = cap;
	}
	memset(&s->relays[s->n], 0, sizeof(s->relays[0]));
	s->relays[s->n].k.relay_ip = *ip;
	s->relays[s->n].k.relay_port = port;
	s->relays[s->n++].gen = gen;
}

static int scan_client(void *arg, const void *key, const void *val)
{
	const struct nts_fp_client_val *v = val;

	scan_note(arg, &v->relay_ip, v->relay_port, v->alloc_id);
	return 0;
}

static int scan_peer(void *arg, const void *key, const void *val)
{
	const struct nts_fp_peer_key *k = key;

	scan_note(arg, &k->relay_ip, k->relay_port,
		  ((const struct nts_fp_peer_val *)val)->alloc_id);
	return 0;
}

static int scan_perm(void *arg, const void *key, const void *val)
{
	const struct nts_fp_perm_key *k = key;

	scan_note(arg, &k->relay_ip, k->relay_port,
		  ((const struct nts_fp_perm_val *)val)->alloc_id);
	return 0;
}

static int scan_relay(void *arg, const void *key, const void *val)
{
	const struct nts_fp_relay_key *k = key;

	scan_note(arg, &k->relay_ip, k->relay_port,
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

/* Per-allocation counters of other generations (nobody folds them). */
static int gc_alloc(void *arg, const void *key, const void *val)
{
	const struct fastpath *fp = arg;
	uint64_t kid;

	memcpy(&kid, key, sizeof(kid));
	return fp_gen_of(kid) != fp->gen;
}

int fp_adopt_scan(struct fastpath *fp, uint32_t keep)
{
	struct scan s = {.fp = fp};
	size_t n = 0;
	int rc;

	if ((rc = walk_all(fp->fds.client, scan_client, &s)) ||
	    (rc = walk_all(fp->fds.peer, scan_peer, &s)) ||
	    (rc = walk_all(fp->fds.perm, scan_perm, &s)) ||
	    (rc = walk_all(fp->fds.relay, scan_relay, &s)) || (rc = s.err))
		goto out;
	fp->gen = keep ? keep : (s.maxgen >= NTS_FP_GEN_MAX ? 1 : s.maxgen + 1);
	fp->foreign = 0;
	for (size_t i = 0; i < s.n; i++) {
		if (s.relays[i].gen == fp->gen)
			continue;
		fp->foreign++;
		memmove(&s.relays[n++], &s.relays[i].k, sizeof(struct nts_fp_relay_key));
	}
	if (!fp->foreign)
		walk_all(fp->fds.alloc, gc_alloc, fp);
	/* The array now starts with n relay keys packed at the element stride: compact them. */
	free(fp->foreign_relays);
	fp->foreign_relays = NULL;
	fp->nforeign_relays = 0;
	if (n) {
		struct nts_fp_relay_key *keys = malloc(n * sizeof(*keys));

		if (!keys) {
			rc = -ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < n; i++)
			memcpy(&keys[i], &s.relays[i], sizeof(keys[i]));
		qsort(keys, n, sizeof(*keys), relay_cmp);
		fp->nforeign_relays = 1;
		for (size_t i = 1; i < n; i++)
			if (relay_cmp(&keys[i], &keys[fp->nforeign_relays - 1]))
				keys[fp->nforeign_relays++] = keys[i];
		fp->foreign_relays = keys;
	}
out:
	free(s.relays);
	return rc;
}

/* Purge of one relay address: entries of other generations that use it. */
struct purge {
	const struct fastpath *fp;
	const struct nts_fp_relay_key *r;
};

static bool purge_match(const struct purge *p, const struct nts_fp_ip *ip, uint16_t port,
			uint64_t kid)
{
	return fp_gen_of(kid) != p->fp->gen && port == p->r->relay_port &&
	       memcmp(ip, &p->r->relay_ip, sizeof(*ip)) == 0;
}

static int purge_client(void *arg, const void *key, const void *val)
{
	const struct nts_fp_client_val *v = val;

	return purge_match(arg, &v->relay_ip, v->relay_port, v->alloc_id);
}

static int purge_peer(void *arg, const void *key, const void *val)
{
	const struct nts_fp_peer_key *k = key;

	return purge_match(arg, &k->relay_ip, k->relay_port,
			   ((const struct nts_fp_peer_val *)val)->alloc_id);
}

static int purge_perm(void *arg, const void *key, const void *val)
{
	const struct nts_fp_perm_key *k = key;

	return purge_match(arg, &k->relay_ip, k->relay_port,
			   ((const struct nts_fp_perm_val *)val)->alloc_id);
}

static int purge_relay(void *arg, const void *key, const void *val)
{
	const struct nts_fp_relay_key *k = key;

	return purge_match(arg, &k->relay_ip, k->relay_port,
			   ((const struct nts_fp_relay_val *)val)->alloc_id);
}

void fp_foreign_take(struct fastpath *fp, const struct nts_fp_relay_key *relay)
{
	struct nts_fp_relay_key k = {0};
	struct nts_fp_relay_key *hit;
	struct purge p = {.fp = fp, .r = &k};
	size_t i;

	if (!fp->nforeign_relays)
		return;
	k.relay_ip = relay->relay_ip;
	k.relay_port = relay->relay_port;
	hit = bsearch(&k, fp->foreign_relays, fp->nforeign_relays, sizeof(k), relay_cmp);
	if (!hit)
		return;
	/* A new allocation must never see an old client's traffic (nor the other way round). */
	walk_all(fp->fds.relay, purge_relay, &p);
	walk_all(fp->fds.perm, purge_perm, &p);
	walk_all(fp->fds.peer, purge_peer, &p);
	walk_all(fp->fds.client, purge_client, &p);
	i = hit - fp->foreign_relays;
	memmove(hit, hit + 1, (fp->nforeign_relays - i - 1) * sizeof(k));
	fp->nforeign_relays--;
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
		if (rc)
			return rc;
		if (!done)
			break;
		if (++fp->gc_map % GC_NMAPS == 0) {
			/* A full pass: what is left of other generations. */
			fp->foreign = fp->gc_foreign;
			fp->gc_foreign = 0;
			if (!fp->foreign) {
				/* Nothing of theirs relays any more: their counters go too. */
				walk_all(fp->fds.alloc, gc_alloc, fp);
				free(fp->foreign_relays);
				fp->foreign_relays = NULL;
				fp->nforeign_relays = 0;
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
