/* Usage per account and UTC day: counted in memory on the hot path, in pending tables that
 * store_flush.c writes in one transaction per flush into usage_daily (per day and region) and usage
 * (the all-time total per account), with the kernel counter marks that say which kernel-relayed
 * bytes that usage already holds; and read back.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store_priv.h"
#include "util/log.h"

#define STORE_TABLE_MIN 64 /* first size of a pending table */

/* --- days: proleptic Gregorian calendar, day 0 = 1970-01-01 (H. Hinnant's civil algorithms) */

static int64_t store_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void store_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

char *store_day_fmt(int64_t day, char *out)
{
	int64_t y;
	unsigned m, d;

	store_civil_from_days(day, &y, &m, &d);
	if (y < 0 || y > 9999)
		y = y < 0 ? 0 : 9999; /* outside what the text form holds: clamp */
	snprintf(out, STORE_DAY_LEN + 1, "%04d-%02u-%02u", (int)y, m, d);
	return out;
}

int store_day_parse(const char *t, int64_t *day)
{
	static const unsigned mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	unsigned y = 0, m, d;

	if (!t || strlen(t) != STORE_DAY_LEN || t[4] != '-' || t[7] != '-')
		return -EINVAL;
	for (int i = 0; i < STORE_DAY_LEN; i++)
		if (i != 4 && i != 7 && (t[i] < '0' || t[i] > '9'))
			return -EINVAL;
	for (int i = 0; i < 4; i++)
		y = y * 10 + (unsigned)(t[i] - '0');
	m = (unsigned)(t[5] - '0') * 10 + (unsigned)(t[6] - '0');
	d = (unsigned)(t[8] - '0') * 10 + (unsigned)(t[9] - '0');
	if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return -EINVAL;
	if (m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return -EINVAL;
	*day = store_days_from_civil(y, m, d);
	return 0;
}

/* --- pending tables */

static uint64_t store_mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

static uint64_t store_usage_hash(const char *sid, int64_t day)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *sid; sid++)
		h = (h ^ (uint8_t)*sid) * 1099511628211ULL;
	return store_mix(h ^ (uint64_t)day);
}

struct store_usage_pending *store_usage_slot(struct store_usage_pending *t, size_t cap,
					     const char *sid, int64_t day)
{
	size_t i = store_usage_hash(sid, day) & (cap - 1);

	while (t[i].sid[0] && (t[i].day != day || strcmp(t[i].sid, sid) != 0))
		i = (i + 1) & (cap - 1);
	return &t[i];
}

static struct store_mark_pending *store_mark_slot(struct store_mark_pending *t, size_t cap,
						  uint64_t key)
{
	size_t i = store_mix(key) & (cap - 1);

	while (t[i].m.key && t[i].m.key != key)
		i = (i + 1) & (cap - 1);
	return &t[i];
}

/* Makes room for one more entry (at most 3/4 full). 0, -ENOMEM or -ENOSPC. */
static int store_usage_grow(struct nts_store *s)
{
	struct store_usage_pending *t;
	size_t cap;

	if (s->nusage + 1 <= s->usage_cap / 4 * 3)
		return 0;
	if (s->nusage >= STORE_USAGE_PENDING_MAX)
		return -ENOSPC;
	cap = s->usage_cap ? s->usage_cap * 2 : STORE_TABLE_MIN;
	t = calloc(cap, sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < s->usage_cap; i++)
		if (s->usage[i].sid[0])
			*store_usage_slot(t, cap, s->usage[i].sid, s->usage[i].day) = s->usage[i];
	free(s->usage);
	s->usage = t;
	s->usage_cap = cap;
	return 0;
}

static int store_marks_grow(struct nts_store *s)
{
	struct store_mark_pending *t;
	size_t cap;

	if (s->nmarks + 1 <= s->marks_cap / 4 * 3)
		return 0;
	if (s->nmarks >= STORE_USAGE_PENDING_MAX)
		return -ENOSPC;
	cap = s->marks_cap ? s->marks_cap * 2 : STORE_TABLE_MIN;
	t = calloc(cap, sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < s->marks_cap; i++)
		if (s->marks[i].m.key)
			*store_mark_slot(t, cap, s->marks[i].m.key) = s->marks[i];
	free(s->marks);
	s->marks = t;
	s->marks_cap = cap;
	return 0;
}

void store_usage_free(struct nts_store *s)
{
	free(s->usage);
	free(s->marks);
	free(s->unsure);
	s->usage = NULL;
	s->marks = NULL;
	s->unsure = NULL;
	s->nusage = s->usage_cap = s->nmarks = s->marks_cap = 0;
}

void store_usage_set_region(struct nts_store *s, const char *region)
{
	snprintf(s->region, sizeof(s->region), "%s", region ? region : "");
}

/* Room for one more pending entry in a table that grow() manages: when full, write what is
 * pending first. false when there is still no room (the database refuses writes). */
static bool store_make_room(struct nts_store *s, int (*grow)(struct nts_store *))
{
	int err = grow(s);

	if (err == -ENOSPC && store_usage_flush(s) == 0)
		err = grow(s);
	if (err)
		log_warn("store: usage not recorded (%s): the database has refused writes for a "
			 "while",
			 strerror(-err));
	return err == 0;
}

void store_usage_add(struct nts_store *s, const char *account, int64_t day,
		     const struct store_usage *u)
{
	struct store_usage_pending *p;

	if (!s || !store_sid_valid(account) ||
	    !(u->bytes_to_peer | u->bytes_to_client | u->allocations | u->allocation_seconds))
		return;
	if (s->usage_cap) {
		p = store_usage_slot(s->usage, s->usage_cap, account, day);
		if (p->sid[0])
			goto add;
	}
	if (!store_make_room(s, store_usage_grow))
		return;
	p = store_usage_slot(s->usage, s->usage_cap, account, day);
	memcpy(p->sid, account, STORE_SID_LEN + 1);
	p->day = day;
	s->nusage++;
add:
	p->u.bytes_to_peer += u->bytes_to_peer;
	p->u.bytes_to_client += u->bytes_to_client;
	p->u.allocations += u->allocations;
	p->u.allocation_seconds += u->allocation_seconds;
}

void store_usage_add_held(struct nts_store *s, const char *account, uint64_t from_ms,
			  uint64_t to_ms, uint64_t live, uint64_t *carry_ms)
{
	const uint64_t day_ms = 86400000;

	while (live && from_ms < to_ms) {
		int64_t day = (int64_t)(from_ms / day_ms);
		uint64_t midnight = ((uint64_t)day + 1) * day_ms;
		uint64_t until = to_ms < midnight ? to_ms : midnight;
		struct store_usage add = {0};

		*carry_ms += (until - from_ms) * live;
		add.allocation_seconds = *carry_ms / 1000;
		*carry_ms %= 1000;
		store_usage_add(s, account, day, &add);
		from_ms = until;
	}
}

static struct store_mark_pending *store_mark_get(struct nts_store *s, uint64_t key)
{
	struct store_mark_pending *p;

	if (!key)
		return NULL;
	if (s->marks_cap) {
		p = store_mark_slot(s->marks, s->marks_cap, key);
		if (p->m.key)
			return p;
	}
	if (!store_make_room(s, store_marks_grow))
		return NULL;
	p = store_mark_slot(s->marks, s->marks_cap, key);
	p->m.key = key;
	s->nmarks++;
	return p;
}

void store_kernel_mark_set(struct nts_store *s, const struct store_kernel_mark *m)
{
	struct store_mark_pending *p = s ? store_mark_get(s, m->key) : NULL;

	if (p) {
		p->m = *m;
		p->forget = false;
	}
}

void store_kernel_mark_forget(struct nts_store *s, uint64_t key)
{
	struct store_mark_pending *p = s ? store_mark_get(s, key) : NULL;

	if (p)
		p->forget = true;
}

/* --- reading */

int store_kernel_mark_foreach(struct nts_store *s,
			      int (*fn)(void *arg, const struct store_kernel_mark *m), void *arg)
{
	struct store_kernel_mark m;
	struct db_stmt *st;
	int rc,
	    err = db_prepare(
		s->db, "SELECT alloc_key, map_id, sid, to_peer, to_client FROM usage_kernel", &st);

	if (err)
		return err;
	while ((rc = db_step(st)) > 0) {
		const char *sid = db_column_text(st, 2);

		memset(&m, 0, sizeof(m));
		m.key = (uint64_t)db_column_int64(st, 0);
		m.map_id = (uint32_t)db_column_int64(st, 1);
		snprintf(m.sid, sizeof(m.sid), "%s", sid ? sid : "");
		m.to_peer = (uint64_t)db_column_int64(st, 3);
		m.to_client = (uint64_t)db_column_int64(st, 4);
		if (fn(arg, &m))
			break;
	}
	db_done(st);
	return rc < 0 ? rc : 0;
}

int store_usage_foreach(struct nts_store *s, const struct store_usage_query *q,
			int (*fn)(void *arg, const char *sid, int64_t day, const char *region,
				  const struct store_usage *u),
			void *arg)
{
	char first[STORE_DAY_LEN + 1], last[STORE_DAY_LEN + 1];
	struct store_usage u;
	struct db_stmt *st;
	int64_t day;
	int rc,
	    err = db_prepare(s->db,
			     "SELECT sid, day, region, bytes_to_peer, bytes_to_client, allocations,"
			     " allocation_seconds FROM usage_daily"
			     " WHERE (sid = ?1 OR (?2 != 0 AND sid IN"
			     " (SELECT sid FROM accounts WHERE owner_sid = ?1)))"
			     " AND day BETWEEN ?3 AND ?4 ORDER BY day, region, sid",
			     &st);

	if (err)
		return err;
	db_bind_text(st, 1, q->sid);
	db_bind_int64(st, 2, q->include_subaccounts);
	db_bind_text(st, 3, store_day_fmt(q->first_day, first));
	db_bind_text(st, 4, store_day_fmt(q->last_day, last));
	while ((rc = db_step(st)) > 0) {
		const char *sid = db_column_text(st, 0);
		const char *text = db_column_text(st, 1);
		const char *region = db_column_text(st, 2);

		if (!sid || store_day_parse(text, &day) != 0)
			continue; /* not written by nts */
		u.bytes_to_peer = (uint64_t)db_column_int64(st, 3);
		u.bytes_to_client = (uint64_t)db_column_int64(st, 4);
		u.allocations = (uint64_t)db_column_int64(st, 5);
		u.allocation_seconds = (uint64_t)db_column_int64(st, 6);
		if (fn(arg, sid, day, region ? region : "", &u))
			break;
	}
	db_done(st);
	return rc < 0 ? rc : 0;
}

int store_usage_owner(struct nts_store *s, const char *sid, char owner[STORE_SID_LEN + 1])
{
	struct db_stmt *st;
	const char *o;
	int rc, err = db_prepare(s->db, "SELECT owner_sid FROM accounts WHERE sid = ?", &st);

	if (err)
		return err;
	db_bind_text(st, 1, sid);
	rc = db_step(st);
	if (rc > 0) {
		o = db_column_text(st, 0);
		snprintf(owner, STORE_SID_LEN + 1, "%s", o ? o : "");
	}
	db_done(st);
	return rc > 0 ? 0 : rc == 0 ? -ENOENT : rc;
}
