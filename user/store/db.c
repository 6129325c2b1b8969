/* Database layer, the part both backends share: statement cache, parameters, dialect of the
 * migration steps; see db.h. db_sqlite.c and db_pg.c talk to the drivers.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/db_priv.h"

bool db_target_is_postgres(const char *target)
{
	return target && (strncmp(target, "postgresql://", 13) == 0 ||
			  strncmp(target, "postgres://", 11) == 0);
}

int db_open(const char *target, struct db **out)
{
	struct db *db = calloc(1, sizeof(*db));
	int err;

	*out = NULL;
	if (!db)
		return -ENOMEM;
	err = db_target_is_postgres(target) ? db_pg_open(target, db) : db_sqlite_open(target, db);
	if (err) {
		free(db);
		return err;
	}
	*out = db;
	return 0;
}

static void db_stmt_free(struct db_stmt *st)
{
	if (st->handle)
		st->db->ops->finalize(st);
	free(st);
}

void db_close(struct db *db)
{
	if (!db)
		return;
	for (size_t i = 0; i < db->ncache; i++)
		db_stmt_free(db->cache[i]);
	db->ops->close(db);
	free(db);
}

enum db_dialect db_dialect(const struct db *db)
{
	return db->dialect;
}

void db_set_busy_timeout(struct db *db, int ms)
{
	db->ops->busy_timeout(db, ms);
}

int db_exec(struct db *db, const char *sql)
{
	return db->ops->exec(db, sql);
}

int db_begin(struct db *db)
{
	return db->ops->begin(db);
}

int db_commit(struct db *db)
{
	return db->ops->commit(db);
}

void db_rollback(struct db *db)
{
	db->ops->rollback(db);
}

int db_batch_begin(struct db *db)
{
	return db->ops->batch_begin ? db->ops->batch_begin(db) : 0;
}

int db_batch_end(struct db *db)
{
	return db->ops->batch_end ? db->ops->batch_end(db) : 0;
}

int db_migrate_begin(struct db *db)
{
	return db->ops->migrate_begin(db);
}

int db_schema_version(struct db *db)
{
	return db->ops->version_get(db);
}

int db_schema_version_set(struct db *db, int version)
{
	return db->ops->version_set(db, version);
}

/* SQLite type names and what PostgreSQL calls them, longest first. */
static const struct {
	const char *sqlite, *pg;
} db_pg_types[] = {
    {"INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY"},
    {"INTEGER PRIMARY KEY", "BIGSERIAL PRIMARY KEY"},
    {"INTEGER", "BIGINT"},
    {"BLOB", "BYTEA"},
};

static bool db_word_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

char *db_dialect_sql(const struct db *db, const char *sql)
{
	size_t n = strlen(sql), cap = n * 2 + 1, o = 0;
	char *out;
	bool quoted = false;

	if (db->dialect == DB_SQLITE)
		return strdup(sql);
	out = malloc(cap);
	if (!out)
		return NULL;
	for (size_t i = 0; i < n;) {
		size_t k;

		if (sql[i] == '\'')
			quoted = !quoted;
		for (k = 0; !quoted && k < sizeof(db_pg_types) / sizeof(db_pg_types[0]); k++) {
			size_t len = strlen(db_pg_types[k].sqlite);

			if (strncmp(sql + i, db_pg_types[k].sqlite, len) == 0 &&
			    (i == 0 || !db_word_char(sql[i - 1])) && !db_word_char(sql[i + len]))
				break;
		}
		if (!quoted && k < sizeof(db_pg_types) / sizeof(db_pg_types[0])) {
			size_t plen = strlen(db_pg_types[k].pg);

			memcpy(out + o, db_pg_types[k].pg, plen); /* never longer than 2x */
			o += plen;
			i += strlen(db_pg_types[k].sqlite);
			continue;
		}
		out[o++] = sql[i++];
	}
	out[o] = '\0';
	return out;
}

int db_prepare(struct db *db, const char *sql, struct db_stmt **out)
{
	struct db_stmt *st = NULL;
	int err;

	*out = NULL;
	for (size_t i = 0; i < db->ncache; i++) {
		if (db->cache[i]->sql == sql) {
			st = db->cache[i];
			break;
		}
	}
	if (st && !st->in_use) {
		st->in_use = true;
		*out = st;
		return 0;
	}
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->db = db;
	st->sql = sql;
	err = db->ops->prepare(st);
	if (err) {
		free(st);
		return err;
	}
	if (db->ncache < DB_CACHE_MAX) {
		bool present = false;

		for (size_t i = 0; i < db->ncache; i++)
			present |= db->cache[i]->sql == sql;
		if (!present) {
			st->cached = true;
			db->cache[db->ncache++] = st;
		}
	}
	st->in_use = true;
	*out = st;
	return 0;
}

static struct db_param *db_param(struct db_stmt *st, int i)
{
	if (i < 1 || i > DB_PARAMS_MAX)
		return NULL;
	if (i > st->nparams)
		st->nparams = i;
	return &st->params[i - 1];
}

void db_bind_text(struct db_stmt *st, int i, const char *text)
{
	struct db_param *p = db_param(st, i);

	if (p)
		*p = (struct db_param){text ? DB_PARAM_TEXT : DB_PARAM_NULL, text,
				       text ? strlen(text) : 0, 0};
}

void db_bind_int64(struct db_stmt *st, int i, int64_t v)
{
	struct db_param *p = db_param(st, i);

	if (p)
		*p = (struct db_param){DB_PARAM_INT64, NULL, 0, v};
}

void db_bind_blob(struct db_stmt *st, int i, const void *data, size_t len)
{
	struct db_param *p = db_param(st, i);

	if (p)
		*p = (struct db_param){DB_PARAM_BLOB, data, len, 0};
}

int db_step(struct db_stmt *st)
{
	int rc = st->db->ops->step(st);

	st->started = true;
	return rc;
}

const char *db_column_text(struct db_stmt *st, int col)
{
	return st->db->ops->text(st, col);
}

int64_t db_column_int64(struct db_stmt *st, int col)
{
	return st->db->ops->int64(st, col);
}

const void *db_column_blob(struct db_stmt *st, int col, size_t *len)
{
	return st->db->ops->blob(st, col, len);
}

int64_t db_changes(struct db_stmt *st)
{
	return st->db->ops->changes(st);
}

void db_done(struct db_stmt *st)
{
	if (!st)
		return;
	if (st->handle)
		st->db->ops->reset(st);
	memset(st->params, 0, sizeof(st->params));
	st->nparams = 0;
	st->started = false;
	st->in_use = false;
	if (!st->cached)
		db_stmt_free(st);
}

int db_run(struct db_stmt *st)
{
	int rc;

	while ((rc = db_step(st)) > 0)
		;
	db_done(st);
	return rc;
}
