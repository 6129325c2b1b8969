/* Writing pending usage: one transaction per flush adds the pending usage rows (store_usage.c) to
 * usage_daily and usage, sets or deletes the kernel counter marks, and records the flush as
 * (writer, seq) in usage_flushes. The usage rows add, so a flush must land exactly once: when the
 * answer to its COMMIT is lost (the server or the connection died meanwhile), the transaction may
 * or may not have committed. The usage it wrote is then kept aside, and the next flush reads
 * usage_flushes first: if the flush is there, that usage is taken back out of the pending table
 * before anything is written again. The marks hold absolute values and are simply written again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "store/store_priv.h"
#include "util/log.h"

#define STORE_FLUSHES_KEEP_S (7 * 86400) /* a dead writer's last flush record, then dropped */

/* Writes the pending usage rows with the statements daily and total. */
static int store_flush_usage(struct nts_store *s, const char *daily, const char *total, int64_t now)
{
	char day[STORE_DAY_LEN + 1];
	struct db_stmt *st;
	int err = 0;

	for (size_t i = 0; !err && i < s->usage_cap; i++) {
		const struct store_usage_pending *p = &s->usage[i];

		if (!p->sid[0] || !(p->u.bytes_to_peer | p->u.bytes_to_client | p->u.allocations |
				    p->u.allocation_seconds))
			continue;
		err = db_prepare(s->db, daily, &st);
		if (err)
			break;
		db_bind_text(st, 1, p->sid);
		db_bind_text(st, 2, store_day_fmt(p->day, day));
		db_bind_text(st, 3, s->region);
		db_bind_int64(st, 4, (int64_t)p->u.bytes_to_peer);
		db_bind_int64(st, 5, (int64_t)p->u.bytes_to_client);
		db_bind_int64(st, 6, (int64_t)p->u.allocations);
		db_bind_int64(st, 7, (int64_t)p->u.allocation_seconds);
		db_bind_int64(st, 8, now);
		err = db_run(st);
		if (err)
			break;
		err = db_prepare(s->db, total, &st);
		if (err)
			break;
		db_bind_text(st, 1, p->sid);
		db_bind_int64(st, 2, (int64_t)p->u.allocations);
		db_bind_int64(st, 3, (int64_t)(p->u.bytes_to_peer + p->u.bytes_to_client));
		db_bind_int64(st, 4, now);
		err = db_run(st);
	}
	return err;
}

static int store_flush_marks(struct nts_store *s, const char *set, const char *del, int64_t now)
{
	struct db_stmt *st;
	int err = 0;

	for (size_t i = 0; !err && i < s->marks_cap; i++) {
		const struct store_mark_pending *p = &s->marks[i];

		if (!p->m.key)
			continue;
		err = db_prepare(s->db, p->forget ? del : set, &st);
		if (err)
			break;
		db_bind_int64(st, 1, (int64_t)p->m.key);
		if (!p->forget) {
			db_bind_int64(st, 2, p->m.map_id);
			db_bind_text(st, 3, p->m.sid);
			db_bind_int64(st, 4, (int64_t)p->m.to_peer);
			db_bind_int64(st, 5, (int64_t)p->m.to_client);
			db_bind_int64(st, 6, now);
		}
		err = db_run(st);
	}
	return err;
}

/* Records this flush and drops the records no flush will ask about again: this writer's earlier
 * ones, and any writer's that stopped long ago. */
static int store_flush_record(struct nts_store *s, int64_t now)
{
	struct db_stmt *st;
	int err = db_prepare(
	    s->db, "INSERT INTO usage_flushes (writer, seq, at) VALUES (?1, ?2, ?3)", &st);

	if (err)
		return err;
	db_bind_int64(st, 1, s->flush_writer);
	db_bind_int64(st, 2, s->flush_seq);
	db_bind_int64(st, 3, now);
	err = db_run(st);
	if (err)
		return err;
	err = db_prepare(
	    s->db, "DELETE FROM usage_flushes WHERE (writer = ?1 AND seq < ?2) OR at < ?3", &st);
	if (err)
		return err;
	db_bind_int64(st, 1, s->flush_writer);
	db_bind_int64(st, 2, s->flush_seq);
	db_bind_int64(st, 3, now - STORE_FLUSHES_KEEP_S);
	return db_run(st);
}

/* Settles the flush whose COMMIT went unanswered: if it committed, its usage leaves the pending
 * table (which only grew since). 0, or -errno when the database cannot tell yet. */
static int store_flush_settle(struct nts_store *s)
{
	struct db_stmt *st;
	int rc, err = db_prepare(
		    s->db, "SELECT seq FROM usage_flushes WHERE writer = ?1 AND seq = ?2", &st);

	if (err)
		return err;
	db_bind_int64(st, 1, s->flush_writer);
	db_bind_int64(st, 2, s->unsure_seq);
	rc = db_step(st);
	db_done(st);
	if (rc < 0)
		return rc;
	for (size_t i = 0; rc > 0 && i < s->unsure_cap; i++) {
		const struct store_usage_pending *w = &s->unsure[i];
		struct store_usage_pending *p;

		if (!w->sid[0])
			continue;
		p = store_usage_slot(s->usage, s->usage_cap, w->sid, w->day);
		if (!p->sid[0])
			continue; /* cannot happen: pending rows leave only with a flush */
		p->u.bytes_to_peer -= w->u.bytes_to_peer;
		p->u.bytes_to_client -= w->u.bytes_to_client;
		p->u.allocations -= w->u.allocations;
		p->u.allocation_seconds -= w->u.allocation_seconds;
	}
	log_info("store: a usage flush whose commit went unanswered had %s",
		 rc > 0 ? "committed; not written again" : "not committed; writing it now");
	free(s->unsure);
	s->unsure = NULL;
	s->unsure_cap = 0;
	return 0;
}

/* Keeps a copy of the usage a flush with an unanswered COMMIT wrote. */
static void store_flush_unsure(struct nts_store *s)
{
	if (!s->nusage)
		return; /* marks only: they are absolute and simply written again */
	s->unsure = malloc(s->usage_cap * sizeof(*s->unsure));
	if (!s->unsure) {
		log_error("store: no memory to keep a usage flush apart; it may be counted twice");
		return;
	}
	memcpy(s->unsure, s->usage, s->usage_cap * sizeof(*s->unsure));
	s->unsure_cap = s->usage_cap;
	s->unsure_seq = s->flush_seq;
}

int store_usage_flush(struct nts_store *s)
{
	/* Only accounts that exist get a row: ephemeral credentials signed with a --secret may
	 * name ids that are not accounts here. Columns are qualified in the updates, which
	 * PostgreSQL requires. */
	static const char *const sql[4] = {
	    "INSERT INTO usage_daily (sid, day, region, bytes_to_peer, bytes_to_client,"
	    " allocations, allocation_seconds, updated)"
	    " SELECT sid, ?2, ?3, ?4, ?5, ?6, ?7, ?8 FROM accounts WHERE sid = ?1"
	    " ON CONFLICT(sid, day, region) DO UPDATE SET"
	    " bytes_to_peer = usage_daily.bytes_to_peer + excluded.bytes_to_peer,"
	    " bytes_to_client = usage_daily.bytes_to_client + excluded.bytes_to_client,"
	    " allocations = usage_daily.allocations + excluded.allocations,"
	    " allocation_seconds = usage_daily.allocation_seconds + excluded.allocation_seconds,"
	    " updated = excluded.updated",
	    "INSERT INTO usage (sid, allocations, bytes, updated)"
	    " SELECT sid, ?2, ?3, ?4 FROM accounts WHERE sid = ?1"
	    " ON CONFLICT(sid) DO UPDATE SET allocations = usage.allocations + "
	    "excluded.allocations,"
	    " bytes = usage.bytes + excluded.bytes, updated = excluded.updated",
	    "INSERT INTO usage_kernel (alloc_key, map_id, sid, to_peer, to_client, updated)"
	    " SELECT ?1, ?2, sid, ?4, ?5, ?6 FROM accounts WHERE sid = ?3"
	    " ON CONFLICT(alloc_key) DO UPDATE SET map_id = excluded.map_id, sid = excluded.sid,"
	    " to_peer = excluded.to_peer, to_client = excluded.to_client,"
	    " updated = excluded.updated",
	    "DELETE FROM usage_kernel WHERE alloc_key = ?1",
	};
	int64_t now = (int64_t)time(NULL);
	bool committing = false;
	int err, batch_err;

	if (!s || (s->nusage == 0 && s->nmarks == 0))
		return 0;
	while (!s->flush_writer) {
		if (getrandom(&s->flush_writer, sizeof(s->flush_writer), 0) !=
		    sizeof(s->flush_writer))
			return -EIO;
		s->flush_writer &= INT64_MAX;
	}
	s->flush_seq++;
	err = db_begin(s->db);
	if (!err && s->unsure)
		err = store_flush_settle(s);
	if (!err)
		err = db_batch_begin(s->db);
	if (!err) {
		/* A round trip per few hundred statements (PostgreSQL), not one each. */
		err = store_flush_usage(s, sql[0], sql[1], now);
		if (!err)
			err = store_flush_marks(s, sql[2], sql[3], now);
		if (!err)
			err = store_flush_record(s, now);
		batch_err = db_batch_end(s->db);
		if (!err)
			err = batch_err;
	}
	if (!err) {
		committing = true;
		err = db_commit(s->db);
	}
	if (err) {
		db_rollback(s->db);
		if (committing)
			store_flush_unsure(s);
		/* Said once per outage: ntsd retries at every tick while the database is away. */
		if (!s->usage_failing)
			log_warn("store: usage flush failed (%s); kept in memory, will retry",
				 strerror(-err));
		s->usage_failing = true;
		return err;
	}
	if (s->usage_failing)
		log_info("store: pending usage written");
	s->usage_failing = false;
	if (s->usage)
		memset(s->usage, 0, s->usage_cap * sizeof(*s->usage));
	if (s->marks)
		memset(s->marks, 0, s->marks_cap * sizeof(*s->marks));
	s->nusage = s->nmarks = 0;
	return 0;
}
