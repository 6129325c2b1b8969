/* Database layer on SQLite: a file created 0600 in a 0700 directory, WAL, a busy timeout, the
 * schema version in PRAGMA user_version; see db.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/db_priv.h"
#include "util/fs.h"
#include "util/log.h"

static sqlite3 *db_sqlite(struct db *db)
{
	return db->impl;
}

/* Maps an SQLite result code to -errno (SQLITE_BUSY -> -EBUSY, SQLITE_FULL -> -ENOSPC...). */
static int db_sqlite_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return 0;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_CANTOPEN:
		return -ENOENT;
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		return -EPROTO;
	case SQLITE_TOOBIG:
		return -E2BIG;
	default:
		return -EIO;
	}
}

static int db_sqlite_exec(struct db *db, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db_sqlite(db), sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		log_error("store: %s", msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return db_sqlite_errno(rc);
	}
	return 0;
}

static int db_sqlite_begin(struct db *db)
{
	return db_sqlite_exec(db, "BEGIN IMMEDIATE");
}

static int db_sqlite_commit(struct db *db)
{
	return db_sqlite_exec(db, "COMMIT");
}

static void db_sqlite_rollback(struct db *db)
{
	if (!sqlite3_get_autocommit(db_sqlite(db)))
		db_sqlite_exec(db, "ROLLBACK");
}

static int db_sqlite_version_get(struct db *db)
{
	sqlite3_stmt *st;
	int v, rc = sqlite3_prepare_v2(db_sqlite(db), "PRAGMA user_version", -1, &st, NULL);

	if (rc != SQLITE_OK)
		return db_sqlite_errno(rc);
	v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -EIO;
	sqlite3_finalize(st);
	return v;
}

static int db_sqlite_version_set(struct db *db, int version)
{
	char sql[64];

	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", version);
	return db_sqlite_exec(db, sql);
}

static void db_sqlite_busy_timeout(struct db *db, int ms)
{
	sqlite3_busy_timeout(db_sqlite(db), ms);
}

static int db_sqlite_prepare(struct db_stmt *st)
{
	sqlite3_stmt *h;
	int rc = sqlite3_prepare_v2(db_sqlite(st->db), st->sql, -1, &h, NULL);

	if (rc != SQLITE_OK) {
		log_error("store: prepare: %s", sqlite3_errmsg(db_sqlite(st->db)));
		return db_sqlite_errno(rc);
	}
	st->handle = h;
	return 0;
}

static void db_sqlite_finalize(struct db_stmt *st)
{
	sqlite3_finalize(st->handle);
	st->handle = NULL;
}

/* Parameters the statement does not use are ignored (SQLITE_RANGE), as callers may bind a
 * shared set. */
static void db_sqlite_bind(struct db_stmt *st)
{
	sqlite3_stmt *h = st->handle;

	for (int i = 0; i < st->nparams; i++) {
		const struct db_param *p = &st->params[i];

		switch (p->type) {
		case DB_PARAM_NULL:
			sqlite3_bind_null(h, i + 1);
			break;
		case DB_PARAM_TEXT:
			sqlite3_bind_text(h, i + 1, p->p, (int)p->len, SQLITE_STATIC);
			break;
		case DB_PARAM_INT64:
			sqlite3_bind_int64(h, i + 1, p->i);
			break;
		case DB_PARAM_BLOB:
			sqlite3_bind_blob(h, i + 1, p->p, (int)p->len, SQLITE_STATIC);
			break;
		}
	}
}

static int db_sqlite_step(struct db_stmt *st)
{
	int rc;

	if (!st->started)
		db_sqlite_bind(st);
	rc = sqlite3_step(st->handle);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return db_sqlite_errno(sqlite3_errcode(db_sqlite(st->db)));
}

static void db_sqlite_reset(struct db_stmt *st)
{
	sqlite3_reset(st->handle);
	sqlite3_clear_bindings(st->handle);
}

static const char *db_sqlite_text(struct db_stmt *st, int col)
{
	return (const char *)sqlite3_column_text(st->handle, col);
}

static int64_t db_sqlite_int64(struct db_stmt *st, int col)
{
	return sqlite3_column_int64(st->handle, col);
}

static const void *db_sqlite_blob(struct db_stmt *st, int col, size_t *len)
{
	const void *p = sqlite3_column_blob(st->handle, col);

	*len = (size_t)sqlite3_column_bytes(st->handle, col);
	return p;
}

static int64_t db_sqlite_changes(struct db_stmt *st)
{
	return sqlite3_changes(db_sqlite(st->db));
}

/* The schema migrates under SQLite's write lock: a second process waits (busy timeout), then
 * reads the version the first one left. */
static int db_sqlite_migrate_begin(struct db *db)
{
	return db_sqlite_begin(db);
}

static void db_sqlite_close(struct db *db)
{
	sqlite3_close(db_sqlite(db));
	db->impl = NULL;
}

static const struct db_ops db_sqlite_ops = {
    .close = db_sqlite_close,
    .exec = db_sqlite_exec,
    .begin = db_sqlite_begin,
    .commit = db_sqlite_commit,
    .rollback = db_sqlite_rollback,
    .migrate_begin = db_sqlite_migrate_begin,
    .version_get = db_sqlite_version_get,
    .version_set = db_sqlite_version_set,
    .busy_timeout = db_sqlite_busy_timeout,
    .prepare = db_sqlite_prepare,
    .finalize = db_sqlite_finalize,
    .step = db_sqlite_step,
    .reset = db_sqlite_reset,
    .text = db_sqlite_text,
    .int64 = db_sqlite_int64,
    .blob = db_sqlite_blob,
    .changes = db_sqlite_changes,
};

/* Creates the database file 0600 (whatever the umask) before SQLite writes a byte: SQLite gives the
 * -wal and -shm files the database file's mode. Files left looser by older versions are tightened.
 */
static int db_sqlite_create_private(const char *path)
{
	char side[PATH_MAX];
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);

	if (fd < 0)
		return -errno;
	if (fchmod(fd, 0600) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	close(fd);
	snprintf(side, sizeof(side), "%s-wal", path);
	chmod(side, 0600);
	snprintf(side, sizeof(side), "%s-shm", path);
	chmod(side, 0600);
	return 0;
}

int db_sqlite_open(const char *path, struct db *db)
{
	sqlite3 *h = NULL;
	int rc, err = nts_mkdir_parent(path, 0700);

	if (!err)
		err = db_sqlite_create_private(path);
	if (err)
		return err;
	rc = sqlite3_open_v2(
	    path, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		log_error("store: %s: %s", path, h ? sqlite3_errmsg(h) : sqlite3_errstr(rc));
		sqlite3_close(h);
		return db_sqlite_errno(rc);
	}
	db->ops = &db_sqlite_ops;
	db->dialect = DB_SQLITE;
	db->impl = h;
	sqlite3_busy_timeout(h, 2000);
	/* WAL lets ntsctl read while ntsd writes; NORMAL sync is durable enough in WAL mode. */
	err = db_sqlite_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
				 " PRAGMA foreign_keys = ON;");
	if (err) {
		sqlite3_close(h);
		db->impl = NULL;
	}
	return err;
}
