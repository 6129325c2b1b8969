/* The direct-mapped per-allocation counters, nts_fp_alloc_direct (include/nts/fastpath_maps.h):
 * claiming an allocation's slot when it is created, freeing it when it goes, adding what a slot
 * counted to an allocation's sum, and freeing what generations that are gone left behind. Each
 * slot is written whole, on every CPU at once; the program only adds to the counters of a slot
 * whose owner is the packet's allocation.
 */
#include <bpf/bpf.h>
#include <errno.h>
#include <string.h>

#include "fastpath/fastpath_priv.h"

/* Reads the slot's per-CPU values into fp->pdirect. 0 or -errno. */
static int direct_read(struct fastpath *fp, uint32_t slot)
{
	return bpf_map_lookup_elem(fp->fds.direct, &slot, fp->pdirect) ? -errno : 0;
}

/* Writes owner with zero counters on every CPU (owner 0: free). */
static int direct_write(struct fastpath *fp, uint32_t slot, uint64_t owner)
{
	struct nts_fp_alloc_direct_val *v = fp->pdirect;

	memset(v, 0, fp->ncpus * sizeof(*v));
	for (int c = 0; c < fp->ncpus; c++)
		v[c].owner = owner;
	return bpf_map_update_elem(fp->fds.direct, &slot, v, BPF_ANY) ? -errno : 0;
}

/* The slot's owner: ntsd writes all CPUs' copies alike, so the first says it. */
static uint64_t direct_owner(const struct fastpath *fp)
{
	return ((const struct nts_fp_alloc_direct_val *)fp->pdirect)[0].owner;
}

static void direct_sum(const struct fastpath *fp, uint64_t kid, struct nts_fp_alloc_counters *sum)
{
	const struct nts_fp_alloc_direct_val *v = fp->pdirect;

	for (int c = 0; c < fp->ncpus; c++)
		if (v[c].owner == kid)
			fp_counters_add(sum, &v[c].c);
}

bool fp_direct_claim(struct fastpath *fp, uint64_t kid, struct nts_fp_alloc_counters *kept)
{
	uint32_t slot = nts_fp_alloc_direct_slot(kid);
	uint64_t owner;

	if (fp->fds.direct < 0 || direct_read(fp, slot))
		return false;
	owner = direct_owner(fp);
	if (owner == kid && fp->gen_kept) {
		/* Handed over by an upgrade: it goes on counting here. */
		direct_sum(fp, kid, kept);
		return true;
	}
	/* Taken by a live allocation whose id shares the slot: this one counts in the hash map.
	 * (A new generation freed its number's leftovers when it opened the maps.) */
	if (owner && owner != kid)
		return false;
	return direct_write(fp, slot, kid) == 0;
}

void fp_direct_free(struct fastpath *fp, uint64_t kid)
{
	uint32_t slot = nts_fp_alloc_direct_slot(kid);

	if (fp->fds.direct >= 0 && direct_read(fp, slot) == 0 && direct_owner(fp) == kid)
		direct_write(fp, slot, 0);
}

void fp_direct_add(struct fastpath *fp, uint64_t kid, struct nts_fp_alloc_counters *sum)
{
	if (fp->fds.direct >= 0 && direct_read(fp, nts_fp_alloc_direct_slot(kid)) == 0)
		direct_sum(fp, kid, sum);
}

struct direct_release {
	struct fastpath *fp;
	bool foreign;
	uint32_t slots[256]; /* found in one walk step, freed after it */
	unsigned n;
};

static int release_slot(void *arg, const void *key, const void *val)
{
	struct direct_release *r = arg;
	uint64_t owner = ((const struct nts_fp_alloc_direct_val *)val)->owner;

	if (!owner || (fp_gen_of(owner) != r->fp->gen) != r->foreign)
		return 0;
	if (r->n == sizeof(r->slots) / sizeof(r->slots[0]))
		return -1; /* the rest on the next walk */
	memcpy(&r->slots[r->n++], key, sizeof(uint32_t));
	return 0;
}

void fp_direct_release(struct fastpath *fp, bool foreign)
{
	struct direct_release r = {.fp = fp, .foreign = foreign};
	uint32_t token;
	bool have, done = false;

	if (fp->fds.direct < 0)
		return;
	/* Each walk frees up to 256 slots (fp->pdirect is the walk's scratch meanwhile); a walk
	 * that found none, or ended, is the last. At most one walk per 256 slots, plus one. */
	for (unsigned walks = 0; walks <= NTS_FP_ALLOC_DIRECT_SLOTS / 256 && !done; walks++) {
		token = 0;
		have = false;
		r.n = 0;
		if (fp_map_walk(fp->fds.direct, &token, &have, ~0u, release_slot, &r, &done) < 0)
			return;
		for (unsigned i = 0; i < r.n; i++)
			direct_write(fp, r.slots[i], 0);
		if (r.n < sizeof(r.slots) / sizeof(r.slots[0]))
			done = true;
	}
}
