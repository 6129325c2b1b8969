/* Bandwidth-limit slots: which index of nts_fp_alloc_limit and nts_fp_account_limit each limited
 * allocation and account owns, so the XDP program finds their buckets by index (an inlined ARRAY
 * lookup) instead of hashing two keys per packet. docs/architecture.md "Map contracts" has the
 * rules; see fastpath_priv.h.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fastpath/fastpath_priv.h"

/* Sizes the owner table from the map (slot 0 is never used; at most NTS_FP_LIMIT_SLOTS). */
static int slots_init(struct fp_slots *s, int fd)
{
	struct bpf_map_info info = {0};
	uint32_t len = sizeof(info);

	memset(s, 0, sizeof(*s));
	if (fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	if (info.type != BPF_MAP_TYPE_ARRAY || info.max_entries < 2)
		return 0; /* not slots: limited allocations stay in userspace */
	s->n =
	    info.max_entries - 1 < NTS_FP_LIMIT_SLOTS ? info.max_entries - 1 : NTS_FP_LIMIT_SLOTS;
	s->owner = calloc((size_t)s->n + 1, sizeof(*s->owner));
	s->next = 1;
	return s->owner ? 0 : -ENOMEM;
}

static uint32_t slots_take(struct fp_slots *s, uint64_t owner)
{
	for (uint32_t i = 0; i < s->n; i++) {
		uint32_t slot = s->next;

		s->next = slot == s->n ? 1 : slot + 1;
		if (!s->owner[slot]) {
			s->owner[slot] = owner;
			if (slot > s->hi)
				s->hi = slot;
			return slot;
		}
	}
	return 0;
}

static uint32_t slots_find(const struct fp_slots *s, uint64_t owner)
{
	for (uint32_t i = 1; i <= s->hi; i++)
		if (s->owner[i] == owner)
			return i;
	return 0;
}

/* Writes an all-zero value (owner 0: free, no rates) and forgets the owner. */
static void slots_clear(struct fp_slots *s, int fd, uint32_t slot)
{
	uint8_t zero[sizeof(struct nts_fp_limit_val) > sizeof(struct nts_fp_account_val)
			 ? sizeof(struct nts_fp_limit_val)
			 : sizeof(struct nts_fp_account_val)] = {0};

	if (!slot || slot > s->n)
		return;
	bpf_map_update_elem(fd, &slot, zero, BPF_ANY);
	s->owner[slot] = 0;
}

#define SLOT_STALE 1ull /* generation 0, which no ntsd takes */

struct limit_scan {
	struct fastpath *fp;
	struct fp_slots *s;
	int fd;
	bool alloc; /* the allocation map (else the account map) */
	int err;
};

/* Owners are the values' second 8 bytes in both maps. */
_Static_assert(offsetof(struct nts_fp_limit_val, owner) ==
		   offsetof(struct nts_fp_account_val, owner),
	       "owner sits at the same offset in both slot maps");

static int scan_slot(void *arg, const void *key, const void *val)
{
	struct limit_scan *ls = arg;
	struct fastpath *fp = ls->fp;
	uint32_t slot;
	uint64_t owner;

	memcpy(&slot, key, sizeof(slot));
	memcpy(&owner, (const uint8_t *)val + offsetof(struct nts_fp_limit_val, owner),
	       sizeof(owner));
	if (!owner || !slot || slot > ls->s->n)
		return 0;
	if (fp_gen_of(owner) != fp->gen || fp->gen_kept) {
		/* Another generation's (reserved until its entries are gone) or ours, handed
		 * over by an upgrade (adopted when TURN's state is replayed). */
		ls->s->owner[slot] = owner;
		if (slot > ls->s->hi)
			ls->s->hi = slot;
		if (ls->alloc && fp_gen_of(owner) == fp->gen) {
			struct fp_slot_adopt *n =
			    realloc(fp->adopt, (fp->nadopt + 1) * sizeof(*fp->adopt));

			if (!n) {
				ls->err = -ENOMEM;
				return -1;
			}
			fp->adopt = n;
			fp->adopt[fp->nadopt++] = (struct fp_slot_adopt){owner, slot};
		}
		return 0;
	}
	/* This generation is new: the value is a leftover of an earlier one with the same
	 * number (wrapped around), nobody's now. Marked with an owner no generation has
	 * (generations start at 1) and cleared after the walk. */
	ls->s->owner[slot] = SLOT_STALE;
	return 0;
}

static int adopt_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct fp_slot_adopt *)a)->kid,
		 y = ((const struct fp_slot_adopt *)b)->kid;

	return x < y ? -1 : x > y;
}

static int scan_map(struct fastpath *fp, struct fp_slots *s, int fd, bool alloc)
{
	struct limit_scan ls = {.fp = fp, .s = s, .fd = fd, .alloc = alloc};
	uint32_t token = 0;
	bool have = false, done = false;
	int rc;

	if (!s->owner)
		return 0;
	rc = fp_map_walk(fd, &token, &have, ~0u, scan_slot, &ls, &done);
	if (!rc)
		rc = ls.err;
	for (uint32_t i = 1; i <= s->n; i++)
		if (s->owner[i] == SLOT_STALE)
			slots_clear(s, fd, i);
	return rc;
}

int fp_limit_scan(struct fastpath *fp)
{
	int rc;

	fp_limit_free(fp);
	if ((rc = slots_init(&fp->alloc_slots, fp->fds.limit)) ||
	    (rc = slots_init(&fp->account_slots, fp->fds.account)))
		return rc;
	/* Without both maps as slots no limit can be written (sync.c keeps limited allocations'
	 * channels in userspace). */
	if (!fp->alloc_slots.owner || !fp->account_slots.owner) {
		fp_limit_free(fp);
		return 0;
	}
	if ((rc = scan_map(fp, &fp->alloc_slots, fp->fds.limit, true)) ||
	    (rc = scan_map(fp, &fp->account_slots, fp->fds.account, false)))
		return rc;
	if (fp->nadopt)
		qsort(fp->adopt, fp->nadopt, sizeof(*fp->adopt), adopt_cmp);
	return 0;
}

static void release_foreign(struct fastpath *fp, struct fp_slots *s, int fd)
{
	for (uint32_t i = 1; s->owner && i <= s->hi; i++)
		if (s->owner[i] && fp_gen_of(s->owner[i]) != fp->gen)
			slots_clear(s, fd, i);
}

void fp_limit_release_foreign(struct fastpath *fp)
{
	release_foreign(fp, &fp->alloc_slots, fp->fds.limit);
	release_foreign(fp, &fp->account_slots, fp->fds.account);
}

uint32_t fp_limit_adopted(const struct fastpath *fp, uint64_t kid)
{
	struct fp_slot_adopt k = {.kid = kid}, *hit;

	if (!fp->nadopt)
		return 0;
	hit = bsearch(&k, fp->adopt, fp->nadopt, sizeof(k), adopt_cmp);
	/* Still ours: nothing else takes an adopted slot while its owner is recorded. */
	return hit && fp->alloc_slots.owner[hit->slot] == kid ? hit->slot : 0;
}

uint32_t fp_limit_slot_take(struct fastpath *fp, uint64_t kid)
{
	return fp->alloc_slots.owner ? slots_take(&fp->alloc_slots, kid) : 0;
}

int fp_limit_slot_write(struct fastpath *fp, uint32_t slot, uint64_t kid,
			const struct fastpath_limits *l, uint32_t account_slot)
{
	struct nts_fp_limit_val v = {0};

	v.owner = kid;
	v.bps = l->bps;
	v.pps = l->pps;
	v.account_slot = account_slot;
	v.account = account_slot ? fp->account_slots.owner[account_slot] : 0;
	return bpf_map_update_elem(fp->fds.limit, &slot, &v, BPF_ANY) ? -errno : 0;
}

void fp_limit_slot_free(struct fastpath *fp, uint32_t slot)
{
	if (fp->alloc_slots.owner)
		slots_clear(&fp->alloc_slots, fp->fds.limit, slot);
}

uint32_t fp_account_slot_get(struct fastpath *fp, uint64_t key, uint64_t bps)
{
	struct fp_slots *s = &fp->account_slots;
	struct nts_fp_account_val v = {0};
	uint32_t slot;
	bool fresh;

	if (!s->owner)
		return 0;
	slot = slots_find(s, key);
	if (slot && bpf_map_lookup_elem(fp->fds.account, &slot, &v) == 0 && v.owner == key &&
	    v.bps == bps)
		return slot;
	fresh = !slot;
	if (fresh && !(slot = slots_take(s, key)))
		return 0;
	memset(&v, 0, sizeof(v));
	v.owner = key;
	v.bps = bps;
	if (bpf_map_update_elem(fp->fds.account, &slot, &v, BPF_ANY)) {
		if (fresh)
			s->owner[slot] = 0;
		return 0;
	}
	return slot;
}

void fp_account_slot_free(struct fastpath *fp, uint64_t key)
{
	struct fp_slots *s = &fp->account_slots;

	if (s->owner)
		slots_clear(s, fp->fds.account, slots_find(s, key));
}

void fp_limit_free(struct fastpath *fp)
{
	free(fp->alloc_slots.owner);
	free(fp->account_slots.owner);
	free(fp->adopt);
	memset(&fp->alloc_slots, 0, sizeof(fp->alloc_slots));
	memset(&fp->account_slots, 0, sizeof(fp->account_slots));
	fp->adopt = NULL;
	fp->nadopt = 0;
}
