/* PostgreSQL prepared statements (db_pg.c has the connection): each is prepared on the connection
 * the first time it runs there, with the types of the parameters then bound, and again after a
 * reconnection; inside a batch (libpq's pipeline mode) statements are queued and their results
 * read back at each sync. Rows are read from the whole result.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/db_pg_priv.h"
#include "util/log.h"

/* ?N -> $N and ? -> $k (the k-th), outside quotes. */
static char *db_pg_sql(const char *sql)
{
	size_t n = strlen(sql), o = 0;
	char *out = malloc(n * 3 + 1);
	bool quoted = false;
	int k = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (sql[i] == '\'')
			quoted = !quoted;
		if (quoted || sql[i] != '?') {
			out[o++] = sql[i];
			continue;
		}
		out[o++] = '$';
		if (sql[i + 1] >= '0' && sql[i + 1] <= '9')
			continue; /* ?N: the digits follow */
		o += (size_t)sprintf(out + o, "%d", ++k);
	}
	out[o] = '\0';
	return out;
}

int db_pg_prepare(struct db_stmt *st)
{
	struct db_pg_stmt *ps = calloc(1, sizeof(*ps));

	if (!ps)
		return -ENOMEM;
	ps->sql = db_pg_sql(st->sql);
	if (!ps->sql) {
		free(ps);
		return -ENOMEM;
	}
	st->handle = ps;
	return 0;
}

static void db_pg_clear_row(struct db_pg_stmt *ps)
{
	for (int i = 0; i < DB_COLUMNS_MAX; i++) {
		PQfreemem(ps->blob[i]);
		ps->blob[i] = NULL;
	}
}

void db_pg_reset(struct db_stmt *st)
{
	struct db_pg_stmt *ps = st->handle;

	db_pg_clear_row(ps);
	PQclear(ps->res);
	ps->res = NULL;
	ps->row = ps->nrows = 0;
}

static void db_pg_deallocate(struct db *db, struct db_pg_stmt *ps)
{
	struct db_pg *pg = db_pg(db);
	char sql[48];

	PGresult *res;

	if (ps->gen != pg->gen || !db_pg_up(pg))
		return;
	snprintf(sql, sizeof(sql), "DEALLOCATE %s", ps->name);
	if (db_pg_wait(pg, PQsendQuery(pg->conn, sql), &res) == 0)
		PQclear(res);
	ps->gen = 0;
}

void db_pg_finalize(struct db_stmt *st)
{
	struct db_pg_stmt *ps = st->handle;

	db_pg_reset(st);
	if (!st->cached)
		db_pg_deallocate(st->db, ps);
	free(ps->sql);
	free(ps);
	st->handle = NULL;
}

static unsigned db_pg_type(const struct db_param *p)
{
	return p->type == DB_PARAM_INT64  ? DB_PG_INT8
	       : p->type == DB_PARAM_BLOB ? DB_PG_BYTEA
					  : DB_PG_TEXT;
}

/* Sends a sync and reads the results of the statements queued before it, keeping the first
 * error. Syncing every DB_PG_BATCH_SYNC statements keeps the server's answers from filling the
 * socket while libpq, blocking, still sends (libpq manual, "Pipeline Mode"). 0 or -errno. */
static int db_pg_batch_sync(struct db *db)
{
	struct db_pg *pg = db_pg(db);
	uint64_t deadline = db_pg_now_ms() + DB_PG_WAIT_MS;
	bool timed_out = false;
	unsigned nulls = 0;

	if (!PQpipelineSync(pg->conn)) {
		if (!pg->batch_err)
			pg->batch_err = db_pg_check(db, NULL);
		return pg->batch_err;
	}
	/* Each statement's results end with a NULL; the sync's own result ends the lot. */
	while (nulls <= pg->queued + 1) {
		PGresult *res = db_pg_next(pg, deadline, &timed_out);
		ExecStatusType st;

		if (timed_out) {
			log_warn("store: PostgreSQL did not answer within %d ms; dropping the "
				 "connection",
				 DB_PG_WAIT_MS);
			pg->broken = pg->lost = true;
			if (!pg->batch_err)
				pg->batch_err = -ETIMEDOUT;
			return pg->batch_err;
		}
		if (!res) {
			nulls++;
			if (PQstatus(pg->conn) != CONNECTION_OK)
				break;
			continue;
		}
		st = PQresultStatus(res);
		if (st == PGRES_PIPELINE_SYNC) {
			PQclear(res);
			pg->queued = 0;
			return pg->batch_err;
		}
		if (st != PGRES_PIPELINE_ABORTED && !pg->batch_err)
			pg->batch_err = db_pg_check(db, res);
		PQclear(res);
	}
	if (!pg->batch_err)
		pg->batch_err = PQstatus(pg->conn) != CONNECTION_OK ? db_pg_check(db, NULL) : -EIO;
	return pg->batch_err;
}

int db_pg_batch_begin(struct db *db)
{
	struct db_pg *pg = db_pg(db);
	int err = db_pg_ready(db);

	if (err)
		return err;
	if (!PQenterPipelineMode(pg->conn))
		return -EIO;
	pg->batch = true;
	pg->queued = 0;
	pg->batch_err = 0;
	return 0;
}

int db_pg_batch_end(struct db *db)
{
	struct db_pg *pg = db_pg(db);
	int err = pg->batch_err ? pg->batch_err : db_pg_batch_sync(db);

	if (db_pg_up(pg) && !PQexitPipelineMode(pg->conn) && !err)
		err = -EIO;
	pg->batch = false;
	if (err)
		pg->gen++; /* a queued PREPARE may have failed: prepare everything again */
	return err;
}

/* Prepares st on this connection, with the types of the parameters now bound. */
static int db_pg_prepare_now(struct db_stmt *st)
{
	struct db_pg *pg = db_pg(st->db);
	struct db_pg_stmt *ps = st->handle;
	unsigned types[DB_PARAMS_MAX];
	PGresult *res;
	int err;

	/* A NULL keeps the type its parameter had, else it is text (the server cannot infer one
	 * in "?1 IS NULL OR col = ?1"). */
	for (int i = 0; i < st->nparams; i++)
		types[i] = st->params[i].type == DB_PARAM_NULL && i < ps->ntypes
			       ? ps->types[i]
			       : db_pg_type(&st->params[i]);
	if (ps->gen == pg->gen && ps->ntypes == st->nparams &&
	    !memcmp(types, ps->types, sizeof(types[0]) * (size_t)st->nparams))
		return 0;
	if (pg->batch) {
		/* Queued with the statement; a failure fails the batch, which then has every
		 * statement prepared again (db_pg_batch_end()). */
		snprintf(ps->name, sizeof(ps->name), "nts%u", ++pg->next_name);
		if (!PQsendPrepare(pg->conn, ps->name, ps->sql, st->nparams, types))
			return db_pg_check(st->db, NULL);
		pg->queued++;
		ps->gen = pg->gen;
		ps->ntypes = st->nparams;
		memcpy(ps->types, types, sizeof(types));
		return 0;
	}
	db_pg_deallocate(st->db, ps);
	snprintf(ps->name, sizeof(ps->name), "nts%u", ++pg->next_name);
	err = db_pg_wait(pg, PQsendPrepare(pg->conn, ps->name, ps->sql, st->nparams, types), &res);
	if (!err)
		err = db_pg_check(st->db, res);
	PQclear(res);
	if (err)
		return err;
	ps->gen = pg->gen;
	ps->ntypes = st->nparams;
	memcpy(ps->types, types, sizeof(types));
	return 0;
}

static int db_pg_run(struct db_stmt *st)
{
	struct db_pg *pg = db_pg(st->db);
	struct db_pg_stmt *ps = st->handle;
	const char *values[DB_PARAMS_MAX];
	char ints[DB_PARAMS_MAX][24];
	int lengths[DB_PARAMS_MAX], formats[DB_PARAMS_MAX];
	int err = db_pg_ready(st->db);

	if (!err)
		err = db_pg_prepare_now(st);
	if (err)
		return err;
	for (int i = 0; i < st->nparams; i++) {
		const struct db_param *p = &st->params[i];

		values[i] = p->type == DB_PARAM_NULL ? NULL : p->p;
		lengths[i] = (int)p->len;
		formats[i] = p->type == DB_PARAM_BLOB; /* binary: the bytes as they are */
		if (p->type == DB_PARAM_INT64) {
			snprintf(ints[i], sizeof(ints[i]), "%" PRId64, p->i);
			values[i] = ints[i];
		}
	}
	db_pg_reset(st);
	if (pg->batch) {
		if (!PQsendQueryPrepared(pg->conn, ps->name, st->nparams, values, lengths, formats,
					 0))
			return db_pg_check(st->db, NULL);
		return ++pg->queued >= DB_PG_BATCH_SYNC ? db_pg_batch_sync(st->db) : 0;
	}
	err = db_pg_wait(
	    pg, PQsendQueryPrepared(pg->conn, ps->name, st->nparams, values, lengths, formats, 0),
	    &ps->res);
	if (!err)
		err = db_pg_check(st->db, ps->res);
	if (err) {
		PQclear(ps->res);
		ps->res = NULL;
		return err;
	}
	ps->row = -1;
	ps->nrows = PQntuples(ps->res);
	return 0;
}

int db_pg_step(struct db_stmt *st)
{
	struct db_pg_stmt *ps = st->handle;
	int err;

	if (!st->started) {
		err = db_pg_run(st);
		if (err)
			return err;
	}
	if (!ps->res)
		return db_pg(st->db)->batch ? 0 : -EIO; /* a queued statement has no rows */
	db_pg_clear_row(ps);
	if (ps->row + 1 >= ps->nrows) {
		ps->row = ps->nrows;
		return 0;
	}
	ps->row++;
	return 1;
}

static bool db_pg_has(struct db_pg_stmt *ps, int col)
{
	return ps->res && ps->row >= 0 && ps->row < ps->nrows && col >= 0 &&
	       col < PQnfields(ps->res) && !PQgetisnull(ps->res, ps->row, col);
}

const char *db_pg_text(struct db_stmt *st, int col)
{
	struct db_pg_stmt *ps = st->handle;

	return db_pg_has(ps, col) ? PQgetvalue(ps->res, ps->row, col) : NULL;
}

int64_t db_pg_int64(struct db_stmt *st, int col)
{
	const char *v = db_pg_text(st, col);

	return v ? strtoll(v, NULL, 10) : 0;
}

const void *db_pg_blob(struct db_stmt *st, int col, size_t *len)
{
	struct db_pg_stmt *ps = st->handle;
	const char *v = db_pg_text(st, col);

	*len = 0;
	if (!v || col >= DB_COLUMNS_MAX)
		return NULL;
	PQfreemem(ps->blob[col]);
	ps->blob[col] = PQunescapeBytea((const unsigned char *)v, len);
	if (!ps->blob[col])
		*len = 0;
	return ps->blob[col];
}

int64_t db_pg_changes(struct db_stmt *st)
{
	struct db_pg_stmt *ps = st->handle;
	const char *n = ps->res ? PQcmdTuples(ps->res) : "";

	return *n ? strtoll(n, NULL, 10) : 0;
}
