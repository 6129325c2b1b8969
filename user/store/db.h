/* The store's database layer: one small interface over SQLite (a file path) and PostgreSQL (a
 * postgresql:// or postgres:// URL, through libpq), so that store_*.c holds SQL and no driver
 * calls. Statements are prepared once per connection and kept; errors are -errno.
 */
#ifndef NTS_STORE_DB_H
#define NTS_STORE_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DB_PARAMS_MAX 16 /* positional parameters ?1..?16 of one statement */
#define DB_COLUMNS_MAX 16

enum db_dialect {
	DB_SQLITE,
	DB_POSTGRES,
};

struct db;
struct db_stmt;

/* True when target names a PostgreSQL server (postgresql://… or postgres://…). */
bool db_target_is_postgres(const char *target);
/* Opens target: a PostgreSQL URL, or else an SQLite file (created 0600, parent directory 0700,
 * WAL). 0 or -errno (-ENOTCONN: the server cannot be reached). */
int db_open(const char *target, struct db **out);
/* Finalizes every statement and closes. NULL is fine. */
void db_close(struct db *db);
enum db_dialect db_dialect(const struct db *db);
/* How long a statement waits for another connection's lock before -EBUSY (0: not at all for
 * SQLite; PostgreSQL keeps a short wait, its row locks last one statement of another node). */
void db_set_busy_timeout(struct db *db, int ms);

/* Runs sql (one or more statements, no parameters, no rows). 0 or -errno (logged). */
int db_exec(struct db *db, const char *sql);
/* A write transaction: SQLite takes the write lock at once (BEGIN IMMEDIATE). 0 or -errno. */
int db_begin(struct db *db);
int db_commit(struct db *db);
/* Rolls back an open transaction; harmless when none is open or the connection is gone. */
void db_rollback(struct db *db);

/* Starts the transaction that migrates the schema, taken by one process (or node) at a time:
 * SQLite's write lock, or a PostgreSQL transaction-scoped advisory lock. Ends with db_commit()
 * or db_rollback(). 0 or -errno. */
int db_migrate_begin(struct db *db);
/* The schema version (SQLite: PRAGMA user_version; PostgreSQL: the nts_schema table), or
 * -errno. */
int db_schema_version(struct db *db);
int db_schema_version_set(struct db *db, int version);
/* The migration step sql in this connection's dialect: sql itself for SQLite; for PostgreSQL
 * with the SQLite types mapped (INTEGER PRIMARY KEY [AUTOINCREMENT] -> BIGSERIAL PRIMARY KEY,
 * INTEGER -> BIGINT, BLOB -> BYTEA). A malloc'd string (free it) or NULL. */
char *db_dialect_sql(const struct db *db, const char *sql);

/* Within a transaction, queues the statements that follow until db_batch_end(), so that many
 * writes cost one round trip to a server (PostgreSQL's pipeline mode): their db_step() returns 0
 * (no rows, db_changes() unknown) or a sending error, and db_batch_end() the first error of the
 * lot. SQLite runs them at once. 0 or -errno; after a db_batch_begin() of 0, db_batch_end() must
 * follow. */
int db_batch_begin(struct db *db);
int db_batch_end(struct db *db);

/* The statement for sql, which must be a string constant: prepared at its first use on this
 * connection and kept (a nested use of the same sql gets a statement of its own). Parameters
 * are ?N (or ?, numbered in order). Release it with db_done(). 0 or -errno. */
int db_prepare(struct db *db, const char *sql, struct db_stmt **out);
/* Binds parameter i (from 1). Pointers must stay valid until the first db_step(); text NULL
 * binds SQL NULL, of type text (PostgreSQL: or of the type the parameter had before; bind no
 * parameter the SQL does not use). */
void db_bind_text(struct db_stmt *st, int i, const char *text);
void db_bind_int64(struct db_stmt *st, int i, int64_t v);
void db_bind_blob(struct db_stmt *st, int i, const void *p, size_t len);
/* Runs the statement (first call) or moves to its next row: 1 with a row, 0 when done, -errno. */
int db_step(struct db_stmt *st);
/* Columns of the current row (from 0). NULL reads as NULL text, 0, or an empty blob; pointers
 * stay valid until the next db_step() or db_done(). */
const char *db_column_text(struct db_stmt *st, int col);
int64_t db_column_int64(struct db_stmt *st, int col);
const void *db_column_blob(struct db_stmt *st, int col, size_t *len);
/* Rows the last INSERT, UPDATE or DELETE changed. */
int64_t db_changes(struct db_stmt *st);
/* Resets st for its next use and releases it. NULL is fine. */
void db_done(struct db_stmt *st);
/* Runs st to its end, discarding rows, and releases it: 0 or -errno. */
int db_run(struct db_stmt *st);

#endif
