/* Opening the pinned maps (or taking a loader's descriptors), folding the per-allocation counters
 * into usage reports, and reading the global counters and a map's fill back. Expired entries are
 * collected in adopt.c, entries written in sync.c. See fastpath.h.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fastpath/fastpath_priv.h"

/* clang-format off */
#define STAT(f) { #f, offsetof(struct nts_fp_stats, f) }
const struct fastpath_stat_field fastpath_stat_fields[] = {
	STAT(c2p_packets), STAT(c2p_bytes), STAT(p2c_packets), STAT(p2c_bytes),
	STAT(tx), STAT(redirect),
	STAT(pass_not_udp), STAT(pass_fragment), STAT(pass_ip_options), STAT(pass_malformed),
	STAT(pass_no_match), STAT(pass_channel_length), STAT(pass_expired),
	STAT(pass_permission), STAT(pass_ttl), STAT(pass_family), STAT(pass_fib),
	STAT(pass_too_big), STAT(pass_no_tx_port), STAT(pass_adjust),
	STAT(drop_no_permission), STAT(drop_redirect_failed),
	STAT(pass_generic),
	STAT(drop_rate_limited),
	{ NULL, 0 },
};
/* clang-format on */

static void fds_close(struct fastpath_fds *f)
{
	int *all[] = {&f->client, &f->peer,  &f->perm,	  &f->relay, &f->alloc, &f->stats,
		      &f->tx,	  &f->limit, &f->account, &f->epoch, &f->direct};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (*all[i] >= 0)
			close(*all[i]);
		*all[i] = -1;
	}
}

static struct fastpath *fp_new(void)
{
	struct fastpath *fp = calloc(1, sizeof(*fp));

	if (!fp)
		return NULL;
	fp->fds = (struct fastpath_fds){-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1};
	fp->ncpus = libbpf_num_possible_cpus();
	if (fp->ncpus > 0) {
		fp->pcpu = calloc(fp->ncpus, sizeof(struct nts_fp_alloc_counters));
		fp->pdirect = calloc(fp->ncpus, sizeof(struct nts_fp_alloc_direct_val));
	}
	if (!fp->pcpu || !fp->pdirect) {
		free(fp->pcpu);
		free(fp->pdirect);
		free(fp);
		return NULL;
	}
	return fp;
}

static int open_pin(const char *dir, const char *name, int *fd)
{
	char path[512];

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	*fd = bpf_obj_get(path);
	return *fd < 0 ? -errno : 0;
}

/* The bandwidth-limit slot maps are absent from pins an older ntsctl attach made: without them no
 * limit can be written, so limited allocations keep their channels in userspace (sync.c). */
static int open_optional(const char *dir, const char *name, int *fd)
{
	int rc = open_pin(dir, name, fd);

	*fd = rc ? -1 : *fd;
	return rc == -ENOENT ? 0 : rc;
}

/* Maps nts_fp_epoch (an mmapable ARRAY of one __u64) shared, for fp_cache_bump's atomic adds. */
static int epoch_map(struct fastpath *fp)
{
	void *m;

	if (fp->fds.epoch < 0)
		return 0;
	m = mmap(NULL, sizeof(*fp->epoch), PROT_READ | PROT_WRITE, MAP_SHARED, fp->fds.epoch, 0);
	if (m == MAP_FAILED)
		return -errno;
	fp->epoch = m;
	return 0;
}

void fastpath_cache_flush(struct fastpath *fp)
{
	fp_cache_bump(fp);
}

int fastpath_open(const char *pin_dir, struct fastpath **out)
{
	return fastpath_open_gen(pin_dir, FP_GEN_READER, out);
}

int fastpath_open_gen(const char *pin_dir, uint32_t gen, struct fastpath **out)
{
	struct fastpath *fp = fp_new();
	int rc;

	if (!fp)
		return -ENOMEM;
	if ((rc = open_pin(pin_dir, NTS_FP_MAP_CLIENT, &fp->fds.client)) ||
	    (rc = open_pin(pin_dir, NTS_FP_MAP_PEER, &fp->fds.peer)) ||
	    (rc = open_pin(pin_dir, NTS_FP_MAP_PERM, &fp->fds.perm)) ||
	    (rc = open_pin(pin_dir, NTS_FP_MAP_RELAY, &fp->fds.relay)) ||
	    (rc = open_pin(pin_dir, NTS_FP_MAP_ALLOC, &fp->fds.alloc)) ||
	    (rc = open_pin(pin_dir, NTS_FP_MAP_STATS, &fp->fds.stats)) ||
	    (rc = open_pin(pin_dir, NTS_FP_MAP_TX, &fp->fds.tx)) ||
	    (rc = open_optional(pin_dir, NTS_FP_MAP_LIMIT, &fp->fds.limit)) ||
	    (rc = open_optional(pin_dir, NTS_FP_MAP_ACCOUNT, &fp->fds.account)) ||
	    (rc = open_optional(pin_dir, NTS_FP_MAP_EPOCH, &fp->fds.epoch)) ||
	    (rc = open_optional(pin_dir, NTS_FP_MAP_ALLOC_DIRECT, &fp->fds.direct)) ||
	    (gen != FP_GEN_READER && (rc = epoch_map(fp))) ||
	    (gen != FP_GEN_READER && (rc = fp_adopt_scan(fp, gen & NTS_FP_GEN_MAX)))) {
		fastpath_close(fp);
		return rc;
	}
	*out = fp;
	return 0;
}

int fastpath_from_fds(const struct fastpath_fds *fds, struct fastpath **out)
{
	struct fastpath *fp = fp_new();
	const int in[] = {fds->client, fds->peer,  fds->perm,	 fds->relay, fds->alloc, fds->stats,
			  fds->tx,     fds->limit, fds->account, fds->epoch, fds->direct};
	int *dst[] = {&fp->fds.client,	&fp->fds.peer,	&fp->fds.perm,	&fp->fds.relay,
		      &fp->fds.alloc,	&fp->fds.stats, &fp->fds.tx,	&fp->fds.limit,
		      &fp->fds.account, &fp->fds.epoch, &fp->fds.direct};

	int rc;

	if (!fp)
		return -ENOMEM;
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		*dst[i] = in[i] >= 0 ? fcntl(in[i], F_DUPFD_CLOEXEC, 0) : -1;
		if (in[i] >= 0 && *dst[i] < 0) {
			rc = -errno;
			fastpath_close(fp);
			return rc;
		}
	}
	rc = epoch_map(fp);
	if (!rc)
		rc = fp_adopt_scan(fp, 0);
	if (rc) {
		fastpath_close(fp);
		return rc;
	}
	*out = fp;
	return 0;
}

void fastpath_close(struct fastpath *fp)
{
	if (!fp)
		return;
	fp_alloc_free_all(fp);
	fp_limit_free(fp);
	if (fp->epoch)
		munmap(fp->epoch, sizeof(*fp->epoch));
	fds_close(&fp->fds);
	free(fp->foreign_ents);
	free(fp->pcpu);
	free(fp->pdirect);
	free(fp);
}

const struct fastpath_fds *fastpath_fds(const struct fastpath *fp)
{
	return &fp->fds;
}

uint32_t fastpath_generation(const struct fastpath *fp)
{
	return fp->gen;
}

static void counters_delta(struct nts_fp_alloc_counters *d, const struct nts_fp_alloc_counters *now,
			   const struct nts_fp_alloc_counters *last)
{
	d->c2p_packets = now->c2p_packets - last->c2p_packets;
	d->c2p_bytes = now->c2p_bytes - last->c2p_bytes;
	d->p2c_packets = now->p2c_packets - last->p2c_packets;
	d->p2c_bytes = now->p2c_bytes - last->p2c_bytes;
}

void fp_counters_sum(const struct fastpath *fp, struct nts_fp_alloc_counters *sum, const void *pcpu)
{
	const struct nts_fp_alloc_counters *v = pcpu;

	memset(sum, 0, sizeof(*sum));
	for (int c = 0; c < fp->ncpus; c++)
		fp_counters_add(sum, &v[c]);
}

static void fold_report(struct fp_alloc *a, const struct nts_fp_alloc_counters *now,
			fastpath_usage_fn fn, void *arg)
{
	struct nts_fp_alloc_counters d;

	counters_delta(&d, now, &a->last);
	if (d.c2p_packets == 0 && d.p2c_packets == 0)
		return;
	a->last = *now;
	fn(arg, a->id, &d);
}

static int fold_alloc(struct fastpath *fp, struct fp_alloc *a, fastpath_usage_fn fn, void *arg)
{
	struct nts_fp_alloc_counters now;
	uint64_t kid = fp_kid(fp, a->id);

	if (!a->counters)
		return 0;
	if (bpf_map_lookup_elem(fp->fds.alloc, &kid, fp->pcpu))
		return -errno;
	fp_counters_sum(fp, &now, fp->pcpu);
	if (a->direct)
		fp_direct_add(fp, kid, &now);
	fold_report(a, &now, fn, arg);
	return 0;
}

struct fold_walk {
	struct fastpath *fp;
	fastpath_usage_fn fn;
	void *arg;
};

static int fold_entry(void *arg, const void *key, const void *val)
{
	struct fold_walk *w = arg;
	struct nts_fp_alloc_counters now;
	struct fp_alloc *a;
	uint64_t kid;

	memcpy(&kid, key, sizeof(kid));
	if (fp_gen_of(kid) != w->fp->gen)
		return 0;
	a = fp_alloc_find(w->fp, kid & ((1ull << NTS_FP_GEN_SHIFT) - 1));
	if (!a || !a->counters)
		return 0;
	fp_counters_sum(w->fp, &now, val);
	if (a->direct)
		fp_direct_add(w->fp, kid, &now);
	fold_report(a, &now, w->fn, w->arg);
	return 0;
}

/* Up to this many allocations, one lookup each; above, the map is read in batches. */
#define FP_FOLD_BY_KEY 64

int fastpath_fold(struct fastpath *fp, fastpath_usage_fn fn, void *arg)
{
	struct fold_walk w = {fp, fn, arg};
	struct nts_fp_stats s;
	uint64_t pkts;
	uint32_t token = 0;
	bool have = false, done = false;
	int rc = 0;

	/* Nothing forwarded since the last fold (one syscall): no allocation has anything new. */
	if (fastpath_stats_read(fp, &s) == 0) {
		pkts = s.c2p_packets + s.p2c_packets;
		if (fp->fold_seen && pkts == fp->fold_pkts)
			return 0;
		fp->fold_pkts = pkts;
		fp->fold_seen = true;
	}
	if (fp->nallocs > FP_FOLD_BY_KEY)
		return fp_map_walk(fp->fds.alloc, &token, &have, ~0u, fold_entry, &w, &done);
	for (size_t i = 0; i < FP_BUCKETS; i++)
		for (struct fp_alloc *a = fp->buckets[i]; a; a = a->next)
			if (!rc)
				rc = fold_alloc(fp, a, fn, arg);
			else
				fold_alloc(fp, a, fn, arg);
	return rc;
}

int fastpath_fold_one(struct fastpath *fp, uint64_t alloc_id, fastpath_usage_fn fn, void *arg)
{
	struct fp_alloc *a = fp_alloc_find(fp, alloc_id);

	return a ? fold_alloc(fp, a, fn, arg) : -ENOENT;
}

int fastpath_alloc_counters(struct fastpath *fp, uint64_t alloc_id,
			    struct nts_fp_alloc_counters *sum)
{
	uint64_t kid = fp_kid(fp, alloc_id);

	if (bpf_map_lookup_elem(fp->fds.alloc, &kid, fp->pcpu))
		return -errno;
	fp_counters_sum(fp, sum, fp->pcpu);
	fp_direct_add(fp, kid, sum);
	return 0;
}

static int fp_alloc_map_id(struct fastpath *fp, uint32_t *id)
{
	struct bpf_map_info info;
	uint32_t len = sizeof(info);

	if (!fp->alloc_map_id) {
		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(fp->fds.alloc, &info, &len))
			return -errno;
		fp->alloc_map_id = info.id;
	}
	*id = fp->alloc_map_id;
	return 0;
}

int fastpath_fold_mark(struct fastpath *fp, uint64_t alloc_id, struct fastpath_fold_mark *m)
{
	struct fp_alloc *a = fp_alloc_find(fp, alloc_id);

	if (!a || !a->counters)
		return -ENOENT;
	m->key = fp_kid(fp, alloc_id);
	m->folded = a->last;
	return fp_alloc_map_id(fp, &m->map_id);
}

int fastpath_counters_by_key(struct fastpath *fp, uint64_t key, struct nts_fp_alloc_counters *sum,
			     uint32_t *map_id)
{
	if (bpf_map_lookup_elem(fp->fds.alloc, &key, fp->pcpu))
		return -errno;
	fp_counters_sum(fp, sum, fp->pcpu);
	fp_direct_add(fp, key, sum);
	return fp_alloc_map_id(fp, map_id);
}

int fastpath_stats_read(const struct fastpath *fp, struct nts_fp_stats *sum)
{
	size_t per = (sizeof(struct nts_fp_stats) + 7) & ~(size_t)7;
	uint8_t *vals = calloc(fp->ncpus, per);
	uint32_t zero = 0;
	int rc = 0;

	if (!vals)
		return -ENOMEM;
	memset(sum, 0, sizeof(*sum));
	if (bpf_map_lookup_elem(fp->fds.stats, &zero, vals)) {
		rc = -errno;
	} else {
		for (int c = 0; c < fp->ncpus; c++) {
			const uint64_t *v = (const uint64_t *)(vals + c * per);
			uint64_t *s = (uint64_t *)sum;

			for (size_t i = 0; i < sizeof(*sum) / sizeof(uint64_t); i++)
				s[i] += v[i];
		}
	}
	free(vals);
	return rc;
}

int fastpath_map_fill(int fd, uint32_t *count, uint32_t *max_entries)
{
	struct bpf_map_info info = {0};
	uint32_t len = sizeof(info), n = 0;
	uint8_t key[64], next[64];
	void *prev = NULL;

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	if (info.key_size > sizeof(key))
		return -E2BIG;
	while (n <= info.max_entries && bpf_map_get_next_key(fd, prev, next) == 0) {
		memcpy(key, next, info.key_size);
		prev = key;
		n++;
	}
	*count = n;
	*max_entries = info.max_entries;
	return 0;
}

int fastpath_alloc_set_folded(struct fastpath *fp, uint64_t alloc_id,
			      const struct nts_fp_alloc_counters *last)
{
	struct fp_alloc *a = fp_alloc_find(fp, alloc_id);

	if (!a || !a->counters)
		return -ENOENT;
	a->last = *last;
	return 0;
}
