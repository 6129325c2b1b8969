/* Internals of the database layer (db.c, db_sqlite.c, db_pg.c and db_pg_stmt.c): the handle,
 * statements and the operations each backend provides. Not for the store's other files; they use
 * db.h.
 */
#ifndef NTS_STORE_DB_PRIV_H
#define NTS_STORE_DB_PRIV_H

#include "store/db.h"

#define DB_CACHE_MAX 64 /* statements kept per connection; more are prepared per use */

enum db_param_type {
	DB_PARAM_NULL,
	DB_PARAM_TEXT,
	DB_PARAM_INT64,
	DB_PARAM_BLOB,
};

struct db_param {
	enum db_param_type type;
	const void *p; /* text or blob, owned by the caller until the first step */
	size_t len;
	int64_t i;
};

struct db_stmt {
	struct db *db;
	const char *sql; /* the caller's constant: the key of the cache */
	bool cached, in_use, started;
	int nparams; /* the highest parameter bound */
	struct db_param params[DB_PARAMS_MAX];
	void *handle; /* the backend's statement */
};

struct db_ops {
	void (*close)(struct db *db);
	int (*exec)(struct db *db, const char *sql);
	int (*begin)(struct db *db);
	int (*commit)(struct db *db);
	void (*rollback)(struct db *db);
	int (*migrate_begin)(struct db *db);
	int (*version_get)(struct db *db);
	int (*version_set)(struct db *db, int version);
	void (*busy_timeout)(struct db *db, int ms);
	/* Creates st->handle for st->sql; 0 or -errno. */
	int (*prepare)(struct db_stmt *st);
	void (*finalize)(struct db_stmt *st);
	/* Runs (binding st->params) when !st->started, then moves on: 1, 0 or -errno. */
	int (*step)(struct db_stmt *st);
	void (*reset)(struct db_stmt *st);
	const char *(*text)(struct db_stmt *st, int col);
	int64_t (*int64)(struct db_stmt *st, int col);
	const void *(*blob)(struct db_stmt *st, int col, size_t *len);
	int64_t (*changes)(struct db_stmt *st);
	/* Optional (NULL: statements run one by one). */
	int (*batch_begin)(struct db *db);
	int (*batch_end)(struct db *db);
};

struct db {
	const struct db_ops *ops;
	enum db_dialect dialect;
	void *impl; /* sqlite3 *, or the PostgreSQL connection state */
	struct db_stmt *cache[DB_CACHE_MAX];
	size_t ncache;
};

int db_sqlite_open(const char *path, struct db *db);
int db_pg_open(const char *url, struct db *db);

#endif
