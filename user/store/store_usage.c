/* Per-account usage: counted in memory on the hot path, written in one transaction per flush. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "store/store_priv.h"
#include "util/log.h"

void store_usage_add(struct nts_store *s, const char *account, uint64_t allocations, uint64_t bytes)
{
	struct store_usage_pending *u = NULL;

	if (!s || !store_sid_valid(account) || (allocations == 0 && bytes == 0))
		return;
	for (unsigned i = 0; i < s->nusage; i++) {
		if (memcmp(s->usage[i].sid, account, STORE_SID_LEN) == 0) {
			u = &s->usage[i];
			break;
		}
	}
	if (!u) {
		if (s->nusage == STORE_USAGE_SLOTS && store_usage_flush(s) != 0)
			return; /* the database refuses writes: drop rather than grow */
		u = &s->usage[s->nusage++];
		memcpy(u->sid, account, STORE_SID_LEN + 1);
		u->allocations = u->bytes = 0;
	}
	u->allocations += allocations;
	u->bytes += bytes;
}

int store_usage_flush(struct nts_store *s)
{
	/* Only accounts that exist get a row: ephemeral credentials signed with a --secret may
	 * name ids that are not accounts here. */
	static const char sql[] =
	    "INSERT INTO usage (sid, allocations, bytes, updated)"
	    " SELECT sid, ?2, ?3, ?4 FROM accounts WHERE sid = ?1"
	    " ON CONFLICT(sid) DO UPDATE SET allocations = allocations + excluded.allocations,"
	    " bytes = bytes + excluded.bytes, updated = excluded.updated";
	sqlite3_stmt *st = NULL;
	int err;

	if (!s || s->nusage == 0)
		return 0;
	err = store_exec(s, "BEGIN IMMEDIATE");
	if (err)
		return err;
	err = store_prepare(s, sql, &st);
	for (unsigned i = 0; !err && i < s->nusage; i++) {
		sqlite3_bind_text(st, 1, s->usage[i].sid, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, (int64_t)s->usage[i].allocations);
		sqlite3_bind_int64(st, 3, (int64_t)s->usage[i].bytes);
		sqlite3_bind_int64(st, 4, (int64_t)time(NULL));
		if (sqlite3_step(st) != SQLITE_DONE)
			err = store_errno(sqlite3_errcode(s->db));
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	if (!err)
		err = store_exec(s, "COMMIT");
	if (err) {
		store_exec(s, "ROLLBACK");
		log_warn("store: usage flush failed (%s); will retry", strerror(-err));
		return err;
	}
	s->nusage = 0;
	return 0;
}
