/* Database layer on PostgreSQL through libpq (the server's own client library: the wire
 * protocol, TLS, SCRAM and every conninfo option, maintained with the server). Statements are
 * prepared once per connection with the types of their first parameters; ?N becomes $N
 * (db_pg_stmt.c).
 *
 * ntsd calls the store from its event loop, so nothing here may stall for long: connecting gives
 * up after connect_timeout, a dead peer is noticed within tcp_user_timeout, a statement is
 * cancelled after statement_timeout (all overridable in the URL), a server that does not answer
 * within DB_PG_WAIT_MS (hung, or its host frozen) loses the connection, and once it is lost
 * every call fails at once with -ENOTCONN while a reconnection goes on without blocking
 * (PQresetStart/PQresetPoll, advanced by at most DB_PG_SLICE_MS per call), attempts spaced by an
 * exponential backoff. Resolving a host name still blocks: give the URL an address.
 */
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/db_pg_priv.h"
#include "util/log.h"

#define DB_PG_BACKOFF_MIN_MS 250
#define DB_PG_BACKOFF_MAX_MS 8000
#define DB_PG_LOCK_MS 200		  /* lock_timeout while ntsd asks for no wait at all */
#define DB_PG_SLICE_MS 50		  /* longest wait of one call on a reconnection under way */
#define DB_PG_CONNECT_MS 3000		  /* a reconnection not done by then has failed */
#define DB_PG_MIGRATE_LOCK 0x6e74730001LL /* pg_advisory_xact_lock key of schema migrations */

uint64_t db_pg_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void db_pg_notice(void *arg, const char *message)
{
	log_debug("store: postgresql: %s", message);
}

bool db_pg_up(struct db_pg *pg)
{
	return !pg->broken && !pg->connecting && PQstatus(pg->conn) == CONNECTION_OK;
}

/* The next result of what was sent, waiting at most until deadline (0: no deadline); NULL when
 * there is none left or, with *timed_out set, none came in time. */
PGresult *db_pg_next(struct db_pg *pg, uint64_t deadline, bool *timed_out)
{
	while (PQisBusy(pg->conn)) {
		struct pollfd p = {.fd = PQsocket(pg->conn), .events = POLLIN};
		uint64_t now = db_pg_now_ms();

		if (deadline && now >= deadline) {
			*timed_out = true;
			return NULL;
		}
		if (poll(&p, 1, deadline ? (int)(deadline - now) : -1) < 0 && errno != EINTR)
			break;
		if (!PQconsumeInput(pg->conn))
			break; /* PQgetResult() says what went wrong */
	}
	return PQgetResult(pg->conn);
}

/* Collects the results of what was sent (sent: the PQsend* call's return) into *out: the first
 * error, else the last result. Without an answer within DB_PG_WAIT_MS the connection is given up
 * (the next call reconnects): -ETIMEDOUT. Else 0 (check *out). */
int db_pg_wait(struct db_pg *pg, int sent, PGresult **out)
{
	uint64_t deadline = pg->migrating ? 0 : db_pg_now_ms() + DB_PG_WAIT_MS;
	bool timed_out = false;
	PGresult *r;

	*out = NULL;
	if (!sent)
		return 0;
	while ((r = db_pg_next(pg, deadline, &timed_out))) {
		ExecStatusType st = PQresultStatus(*out);

		if (*out && st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
			PQclear(r); /* keep the first error */
			continue;
		}
		PQclear(*out);
		*out = r;
	}
	if (!timed_out)
		return 0;
	PQclear(*out);
	*out = NULL;
	log_warn("store: PostgreSQL did not answer within %d ms; dropping the connection",
		 DB_PG_WAIT_MS);
	pg->broken = true;
	pg->lost = true;
	return -ETIMEDOUT;
}

/* Sends sql (no parameters) and waits for its result: 0, -ETIMEDOUT, or -errno of its error. */
static int db_pg_query(struct db *db, const char *sql, PGresult **out);

/* Per-session settings; run on each new connection. */
static int db_pg_session(struct db_pg *pg)
{
	char sql[64];
	PGresult *res;
	int ok;

	snprintf(sql, sizeof(sql), "SET lock_timeout = %d", pg->lock_ms);
	ok = db_pg_wait(pg, PQsendQuery(pg->conn, sql), &res) == 0 &&
	     PQresultStatus(res) == PGRES_COMMAND_OK;
	PQclear(res);
	return ok ? 0 : -ENOTCONN;
}

static void db_pg_lost(struct db_pg *pg, const char *why)
{
	if (!pg->lost)
		log_warn("store: PostgreSQL unreachable (%s); reconnecting with backoff",
			 why && *why ? why : "connection lost");
	pg->lost = true;
}

/* A reconnection attempt failed: the next one after the backoff. */
static void db_pg_retry_later(struct db_pg *pg, uint64_t now)
{
	char why[256];

	snprintf(why, sizeof(why), "%s", PQerrorMessage(pg->conn));
	why[strcspn(why, "\n")] = '\0';
	db_pg_lost(pg, why);
	pg->connecting = false;
	pg->backoff_ms = pg->backoff_ms ? pg->backoff_ms * 2 : DB_PG_BACKOFF_MIN_MS;
	if (pg->backoff_ms > DB_PG_BACKOFF_MAX_MS)
		pg->backoff_ms = DB_PG_BACKOFF_MAX_MS;
	pg->retry_ms = now + pg->backoff_ms;
}

/* Advances the reconnection for at most DB_PG_SLICE_MS (libpq's nonblocking connection
 * protocol: wait for what the last poll asked, then poll again). 0 once connected. */
static int db_pg_reconnect(struct db_pg *pg, uint64_t now)
{
	uint64_t until = now + DB_PG_SLICE_MS;

	if (!pg->connecting) {
		if (!PQresetStart(pg->conn)) {
			db_pg_retry_later(pg, now);
			return -ENOTCONN;
		}
		pg->connecting = true;
		pg->polling = PGRES_POLLING_WRITING;
		pg->connect_ms = now;
	}
	for (;;) {
		struct pollfd p = {.fd = PQsocket(pg->conn)};
		int wait = (int)(until > now ? until - now : 0);

		p.events = pg->polling == PGRES_POLLING_READING ? POLLIN : POLLOUT;
		if (p.fd < 0 || poll(&p, 1, wait) <= 0)
			break;
		pg->polling = PQresetPoll(pg->conn);
		if (pg->polling == PGRES_POLLING_OK) {
			pg->connecting = false;
			return db_pg_session(pg);
		}
		if (pg->polling == PGRES_POLLING_FAILED)
			break;
		now = db_pg_now_ms();
	}
	now = db_pg_now_ms();
	if (pg->polling == PGRES_POLLING_FAILED || now - pg->connect_ms >= DB_PG_CONNECT_MS)
		db_pg_retry_later(pg, now);
	return -ENOTCONN;
}

/* 0 when the connection is up (reconnecting if it is time to), else -ENOTCONN at once. */
int db_pg_ready(struct db *db)
{
	struct db_pg *pg = db_pg(db);
	uint64_t now;

	if (db_pg_up(pg))
		return 0;
	if (pg->in_tx)
		return -ENOTCONN;
	now = db_pg_now_ms();
	if (!pg->connecting && now < pg->retry_ms)
		return -ENOTCONN;
	pg->broken = false; /* PQresetStart() closes it */
	if (db_pg_reconnect(pg, now) != 0)
		return -ENOTCONN;
	pg->gen++;
	pg->backoff_ms = 0;
	if (pg->lost)
		log_info("store: reconnected to PostgreSQL");
	pg->lost = false;
	return 0;
}

/* Maps a result to 0 or -errno by its SQLSTATE (PostgreSQL manual, appendix A), logging it. */
int db_pg_check(struct db *db, PGresult *res)
{
	struct db_pg *pg = db_pg(db);
	ExecStatusType status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	const char *state, *msg;
	char why[256];
	int err = -EIO;

	if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)
		return 0;
	msg = res ? PQresultErrorMessage(res) : PQerrorMessage(pg->conn);
	snprintf(why, sizeof(why), "%s", msg ? msg : "");
	why[strcspn(why, "\n")] = '\0';
	if (PQstatus(pg->conn) != CONNECTION_OK) {
		db_pg_lost(pg, why);
		return -ENOTCONN;
	}
	if (!res)
		return -ENOMEM;
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (!state)
		state = "";
	if (strncmp(state, "23", 2) == 0)
		err = -EEXIST; /* integrity constraint */
	else if (!strcmp(state, "40001") || !strcmp(state, "40P01") || !strcmp(state, "55P03"))
		err = -EBUSY; /* serialization failure, deadlock, lock not available */
	else if (!strcmp(state, "57014"))
		err = -ETIMEDOUT; /* statement_timeout */
	else if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0)
		err = -ENOTCONN; /* connection exception, server shutting down */
	else if (strncmp(state, "53", 2) == 0)
		err = -ENOSPC; /* insufficient resources */
	else if (!strcmp(state, "42501") || strncmp(state, "28", 2) == 0)
		err = -EACCES;
	if (err == -EBUSY || err == -ETIMEDOUT || err == -ENOTCONN)
		log_warn("store: postgresql: %s", why);
	else
		log_error("store: postgresql: %s", why);
	return err;
}

static int db_pg_exec(struct db *db, const char *sql)
{
	PGresult *res;
	int err = db_pg_ready(db);

	if (err)
		return err;
	err = db_pg_query(db, sql, &res);
	PQclear(res);
	return err;
}

static int db_pg_query(struct db *db, const char *sql, PGresult **out)
{
	struct db_pg *pg = db_pg(db);
	int err = db_pg_wait(pg, PQsendQuery(pg->conn, sql), out);

	return err ? err : db_pg_check(db, *out);
}

static int db_pg_begin(struct db *db)
{
	int err = db_pg_exec(db, "BEGIN");

	if (!err)
		db_pg(db)->in_tx = true;
	return err;
}

static int db_pg_commit(struct db *db)
{
	struct db_pg *pg = db_pg(db);
	PGresult *res;
	int err = -ENOTCONN;

	if (db_pg_up(pg)) {
		err = db_pg_query(db, "COMMIT", &res);
		/* COMMIT of a failed transaction succeeds as a ROLLBACK. */
		if (!err && strcmp(PQcmdStatus(res), "COMMIT") != 0)
			err = -EIO;
		PQclear(res);
	}
	pg->in_tx = false;
	pg->migrating = false;
	return err;
}

static void db_pg_rollback(struct db *db)
{
	struct db_pg *pg = db_pg(db);

	PGresult *res;

	if (pg->in_tx && db_pg_up(pg) && db_pg_query(db, "ROLLBACK", &res) != -ETIMEDOUT)
		PQclear(res);
	pg->in_tx = false;
	pg->migrating = false;
}

/* Every node may start at once against an empty database: the first to take the advisory lock
 * migrates, the others wait for it (no statement or lock timeout here) and then find the
 * schema current. The lock ends with the transaction. */
static int db_pg_migrate_begin(struct db *db)
{
	char sql[256];
	int err = db_pg_begin(db);

	snprintf(sql, sizeof(sql),
		 "SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = 0;"
		 " SELECT pg_advisory_xact_lock(%lld);"
		 " CREATE TABLE IF NOT EXISTS nts_schema (version INTEGER NOT NULL)",
		 DB_PG_MIGRATE_LOCK);
	if (!err) {
		db_pg(db)->migrating = true;
		err = db_pg_exec(db, sql);
	}
	if (err)
		db_pg_rollback(db);
	return err;
}

static int db_pg_version_get(struct db *db)
{
	PGresult *res;
	int v, err = db_pg_ready(db);

	if (err)
		return err;
	err = db_pg_query(db, "SELECT max(version) FROM nts_schema", &res);
	v = err ? err : PQntuples(res) ? atoi(PQgetvalue(res, 0, 0)) : 0;
	PQclear(res);
	return v;
}

static int db_pg_version_set(struct db *db, int version)
{
	char sql[96];

	snprintf(sql, sizeof(sql), "DELETE FROM nts_schema; INSERT INTO nts_schema VALUES (%d)",
		 version);
	return db_pg_exec(db, sql);
}

static void db_pg_busy_timeout(struct db *db, int ms)
{
	struct db_pg *pg = db_pg(db);

	pg->lock_ms = ms > 0 ? ms : DB_PG_LOCK_MS;
	if (db_pg_up(pg))
		db_pg_session(pg);
}

static void db_pg_close(struct db *db)
{
	struct db_pg *pg = db_pg(db);

	if (!pg)
		return;
	PQfinish(pg->conn);
	free(pg);
	db->impl = NULL;
}

static const struct db_ops db_pg_ops = {
    .close = db_pg_close,
    .exec = db_pg_exec,
    .begin = db_pg_begin,
    .commit = db_pg_commit,
    .rollback = db_pg_rollback,
    .migrate_begin = db_pg_migrate_begin,
    .version_get = db_pg_version_get,
    .version_set = db_pg_version_set,
    .busy_timeout = db_pg_busy_timeout,
    .prepare = db_pg_prepare,
    .finalize = db_pg_finalize,
    .step = db_pg_step,
    .reset = db_pg_reset,
    .text = db_pg_text,
    .int64 = db_pg_int64,
    .blob = db_pg_blob,
    .changes = db_pg_changes,
    .batch_begin = db_pg_batch_begin,
    .batch_end = db_pg_batch_end,
};

int db_pg_open(const char *url, struct db *db)
{
	/* Defaults first: the URL (expanded last) overrides any of them. */
	static const char *const keys[] = {
	    "connect_timeout",
	    "tcp_user_timeout",
	    "keepalives_idle",
	    "keepalives_interval",
	    "keepalives_count",
	    "application_name",
	    "options",
	    "dbname",
	    NULL,
	};
	const char *values[] = {"2", "3000", "5", "2", "2", "ntsd", "-c statement_timeout=2000",
				url, NULL};
	struct db_pg *pg = calloc(1, sizeof(*pg));
	char why[256];

	if (!pg)
		return -ENOMEM;
	pg->lock_ms = 2000;
	pg->gen = 1;
	pg->conn = PQconnectdbParams(keys, values, 1);
	if (!pg->conn) {
		free(pg);
		return -ENOMEM;
	}
	PQsetNoticeProcessor(pg->conn, db_pg_notice, NULL);
	if (PQstatus(pg->conn) != CONNECTION_OK || db_pg_session(pg) != 0) {
		snprintf(why, sizeof(why), "%s", PQerrorMessage(pg->conn));
		why[strcspn(why, "\n")] = '\0';
		log_error("store: cannot connect to PostgreSQL: %s", why);
		PQfinish(pg->conn);
		free(pg);
		return -ENOTCONN;
	}
	db->ops = &db_pg_ops;
	db->dialect = DB_POSTGRES;
	db->impl = pg;
	return 0;
}
