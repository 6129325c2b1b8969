/* Opening the pinned maps, reading counters back, and collecting expired entries. See fastpath.h.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	STAT(drop_no_permission),
	{ NULL, 0 },
};
/* clang-format on */

static void fds_close(struct fastpath_fds *f)
{
	int *all[] = {&f->client, &f->peer, &f->perm, &f->relay, &f->alloc, &f->stats, &f->tx};

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
	fp->fds = (struct fastpath_fds){-1, -1, -1, -1, -1, -1, -1};
	fp->ncpus = libbpf_num_possible_cpus();
	if (fp->ncpus <= 0) {
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

int fastpath_open(const char *pin_dir, struct fastpath **out)
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
	    (rc = open_pin(pin_dir, NTS_FP_MAP_TX, &fp->fds.tx))) {
		fastpath_close(fp);
		return rc;
	}
	*out = fp;
	return 0;
}

int fastpath_from_fds(const struct fastpath_fds *fds, struct fastpath **out)
{
	struct fastpath *fp = fp_new();
	const int in[] = {fds->client, fds->peer,  fds->perm, fds->relay,
			  fds->alloc,  fds->stats, fds->tx};
	int *dst[] = {&fp->fds.client, &fp->fds.peer,  &fp->fds.perm, &fp->fds.relay,
		      &fp->fds.alloc,  &fp->fds.stats, &fp->fds.tx};

	if (!fp)
		return -ENOMEM;
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		*dst[i] = in[i] >= 0 ? fcntl(in[i], F_DUPFD_CLOEXEC, 0) : -1;
		if (in[i] >= 0 && *dst[i] < 0) {
			int rc = -errno;

			fastpath_close(fp);
			return rc;
		}
	}
	*out = fp;
	return 0;
}

void fastpath_close(struct fastpath *fp)
{
	if (!fp)
		return;
	fp_alloc_free_all(fp);
	fds_close(&fp->fds);
	free(fp);
}

const struct fastpath_fds *fastpath_fds(const struct fastpath *fp)
{
	return &fp->fds;
}

static void counters_delta(struct nts_fp_alloc_counters *d, const struct nts_fp_alloc_counters *now,
			   const struct nts_fp_alloc_counters *last)
{
	d->c2p_packets = now->c2p_packets - last->c2p_packets;
	d->c2p_bytes = now->c2p_bytes - last->c2p_bytes;
	d->p2c_packets = now->p2c_packets - last->p2c_packets;
	d->p2c_bytes = now->p2c_bytes - last->p2c_bytes;
}

static int fold_alloc(struct fastpath *fp, struct fp_alloc *a, fastpath_usage_fn fn, void *arg)
{
	struct nts_fp_alloc_counters now, d;

	if (!a->counters)
		return 0;
	if (bpf_map_lookup_elem(fp->fds.alloc, &a->id, &now))
		return -errno;
	counters_delta(&d, &now, &a->last);
	if (d.c2p_packets == 0 && d.p2c_packets == 0)
		return 0;
	a->last = now;
	fn(arg, a->id, &d);
	return 0;
}

int fastpath_fold(struct fastpath *fp, fastpath_usage_fn fn, void *arg)
{
	int rc = 0;

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

/* The maps with an expiry, and where it sits in their values. */
static const struct {
	size_t fd_off, key_size, val_size, expires_off;
} gc_maps[] = {
    {offsetof(struct fastpath_fds, client), sizeof(struct nts_fp_client_key),
     sizeof(struct nts_fp_client_val), offsetof(struct nts_fp_client_val, expires_ns)},
    {offsetof(struct fastpath_fds, peer), sizeof(struct nts_fp_peer_key),
     sizeof(struct nts_fp_peer_val), offsetof(struct nts_fp_peer_val, expires_ns)},
    {offsetof(struct fastpath_fds, perm), sizeof(struct nts_fp_perm_key),
     sizeof(struct nts_fp_perm_val), offsetof(struct nts_fp_perm_val, expires_ns)},
    {offsetof(struct fastpath_fds, relay), sizeof(struct nts_fp_relay_key),
     sizeof(struct nts_fp_relay_val), offsetof(struct nts_fp_relay_val, expires_ns)},
};

int fastpath_gc(struct fastpath *fp, uint64_t now_ns, unsigned budget)
{
	uint8_t next[64], val[64];
	int deleted = 0;

	while (budget--) {
		unsigned m = fp->gc_map % (sizeof(gc_maps) / sizeof(gc_maps[0]));
		int fd = *(int *)((char *)&fp->fds + gc_maps[m].fd_off);
		uint64_t expires;

		if (bpf_map_get_next_key(fd, fp->gc_have_key ? fp->gc_key : NULL, next)) {
			fp->gc_map++; /* end of this map: the next one from its start */
			fp->gc_have_key = false;
			continue;
		}
		memcpy(fp->gc_key, next, gc_maps[m].key_size);
		fp->gc_have_key = true;
		if (bpf_map_lookup_elem(fd, next, val))
			continue;
		memcpy(&expires, val + gc_maps[m].expires_off, sizeof(expires));
		if (expires < now_ns && bpf_map_delete_elem(fd, next) == 0)
			deleted++;
	}
	return deleted;
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
