/* The PostgreSQL database layer's shared parts (user/store/db_pg.c: the connection, its
 * reconnection, transactions and the operations table; user/store/db_pg_stmt.c: prepared
 * statements, pipelined batches and result rows).
 */
#ifndef NTS_STORE_DB_PG_PRIV_H
#define NTS_STORE_DB_PG_PRIV_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/db_priv.h"

#define DB_PG_BATCH_SYNC 256 /* statements of a batch between two syncs (results read back) */
#define DB_PG_WAIT_MS 3000   /* no answer by then: the connection is dropped (a hung server) */
/* Type oids of the parameters (server/catalog/pg_type.dat). */
#define DB_PG_BYTEA 17
#define DB_PG_INT8 20
#define DB_PG_TEXT 25

struct db_pg {
	PGconn *conn;
	unsigned gen;	    /* bumped at each new connection: statements are prepared again */
	unsigned next_name; /* of prepared statements */
	bool in_tx;	    /* a transaction is open: a lost connection waits for its rollback */
	bool lost;	    /* said in the log that the server is unreachable */
	bool connecting;    /* a reconnection is under way */
	PostgresPollingStatusType polling; /* what it waits for */
	uint64_t connect_ms;		   /* when it started (monotonic) */
	bool batch;			   /* in libpq's pipeline mode (db_batch_begin()) */
	unsigned queued;		   /* statements sent since the last sync */
	int batch_err;			   /* the first error of the batch */
	bool broken;			   /* given up on (no answer in time): reconnect */
	bool migrating;			   /* waits without a deadline (for the migration lock) */
	uint64_t retry_ms;		   /* no reconnection attempt before (monotonic) */
	unsigned backoff_ms;
	int lock_ms;
};

struct db_pg_stmt {
	char *sql; /* with $N */
	char name[24];
	unsigned gen; /* the connection it was prepared on (0: none) */
	int ntypes;
	unsigned types[DB_PARAMS_MAX];
	PGresult *res;
	int row, nrows;
	unsigned char *blob[DB_COLUMNS_MAX];
};

static inline struct db_pg *db_pg(struct db *db)
{
	return db->impl;
}

/* db_pg.c */
uint64_t db_pg_now_ms(void);
bool db_pg_up(struct db_pg *pg);
PGresult *db_pg_next(struct db_pg *pg, uint64_t deadline, bool *timed_out);
int db_pg_wait(struct db_pg *pg, int sent, PGresult **out);
int db_pg_ready(struct db *db);
int db_pg_check(struct db *db, PGresult *res);

/* db_pg_stmt.c */
int db_pg_prepare(struct db_stmt *st);
void db_pg_finalize(struct db_stmt *st);
int db_pg_step(struct db_stmt *st);
void db_pg_reset(struct db_stmt *st);
const char *db_pg_text(struct db_stmt *st, int col);
int64_t db_pg_int64(struct db_stmt *st, int col);
const void *db_pg_blob(struct db_stmt *st, int col, size_t *len);
int64_t db_pg_changes(struct db_stmt *st);
int db_pg_batch_begin(struct db *db);
int db_pg_batch_end(struct db *db);

#endif /* NTS_STORE_DB_PG_PRIV_H */
