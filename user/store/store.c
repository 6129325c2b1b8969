/* Store handle: open, pragmas, schema migrations, secrets and settings; see store.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_priv.h"
#include "util/fs.h"
#include "util/log.h"

/* Migration i takes the schema from version i to i + 1. Append only; never edit a shipped step. */
static const char *const store_migrations[STORE_SCHEMA_VERSION] = {
    /* 0 -> 1: accounts, their usage, signing secrets. */
    "CREATE TABLE accounts ("
    " sid TEXT PRIMARY KEY,"
    " friendly_name TEXT NOT NULL,"
    " token_salt BLOB NOT NULL,"
    " token_hash BLOB NOT NULL," /* HMAC-SHA256(salt, AuthToken) */
    " status TEXT NOT NULL CHECK (status IN ('active', 'suspended')),"
    " created INTEGER NOT NULL,"
    " updated INTEGER NOT NULL);"
    "CREATE TABLE usage ("
    " sid TEXT PRIMARY KEY REFERENCES accounts(sid),"
    " allocations INTEGER NOT NULL DEFAULT 0,"
    " bytes INTEGER NOT NULL DEFAULT 0,"
    " updated INTEGER NOT NULL);"
    "CREATE TABLE secrets ("
    " id INTEGER PRIMARY KEY,"
    " secret TEXT NOT NULL,"
    " created INTEGER NOT NULL);",
    /* 1 -> 2: settings published by ntsd for offline tools. */
    "CREATE TABLE settings ("
    " key TEXT PRIMARY KEY,"
    " value TEXT NOT NULL);",
    /* 2 -> 3: closed accounts and per-account limits (0: the daemon's default). SQLite cannot
     * widen a CHECK constraint in place, so the table is copied. */
    "CREATE TABLE accounts_v3 ("
    " sid TEXT PRIMARY KEY,"
    " friendly_name TEXT NOT NULL,"
    " token_salt BLOB NOT NULL,"
    " token_hash BLOB NOT NULL,"
    " status TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'closed')),"
    " created INTEGER NOT NULL,"
    " updated INTEGER NOT NULL,"
    " max_allocations INTEGER NOT NULL DEFAULT 0,"
    " max_bps INTEGER NOT NULL DEFAULT 0);"
    "INSERT INTO accounts_v3 (sid, friendly_name, token_salt, token_hash, status, created,"
    " updated) SELECT sid, friendly_name, token_salt, token_hash, status, created, updated"
    " FROM accounts;"
    "DROP TABLE accounts;"
    "ALTER TABLE accounts_v3 RENAME TO accounts;",
    /* 3 -> 4: subaccounts (owner_sid: the master that made it; NULL for a master) and API keys
     * (sid "SK" + 32 hex digits; the secret kept only as HMAC-SHA256(salt, secret), like
     * AuthTokens). */
    "ALTER TABLE accounts ADD COLUMN owner_sid TEXT REFERENCES accounts(sid);"
    "CREATE INDEX accounts_owner ON accounts(owner_sid);"
    "CREATE TABLE api_keys ("
    " sid TEXT PRIMARY KEY,"
    " account_sid TEXT NOT NULL REFERENCES accounts(sid),"
    " friendly_name TEXT NOT NULL,"
    " secret_salt BLOB NOT NULL,"
    " secret_hash BLOB NOT NULL,"
    " created INTEGER NOT NULL,"
    " updated INTEGER NOT NULL);"
    "CREATE INDEX api_keys_account ON api_keys(account_sid);",
    /* 4 -> 5: usage per account, per UTC day ('YYYY-MM-DD') and per region ('' for a node
     * without one): bytes each way from both relay paths, allocations made and
     * allocation-seconds held. The Usage Records API reads it. */
    "CREATE TABLE usage_daily ("
    " sid TEXT NOT NULL REFERENCES accounts(sid),"
    " day TEXT NOT NULL,"
    " region TEXT NOT NULL DEFAULT '',"
    " bytes_to_peer INTEGER NOT NULL DEFAULT 0,"
    " bytes_to_client INTEGER NOT NULL DEFAULT 0,"
    " allocations INTEGER NOT NULL DEFAULT 0,"
    " allocation_seconds INTEGER NOT NULL DEFAULT 0,"
    " updated INTEGER NOT NULL,"
    " PRIMARY KEY (sid, day, region));",
    /* 5 -> 6: marks of the kernel fast path's per-allocation counters already counted in the
     * usage, written in the same transaction as that usage, so that the next ntsd adds exactly
     * what the kernel relayed after them (docs/architecture.md, "Usage"). The usage table of
     * version 1 stays: every flush adds to it too, as the all-time total per account. */
    "CREATE TABLE usage_kernel ("
    " alloc_key INTEGER PRIMARY KEY," /* generation << 40 | allocation id, as in the map */
    " map_id INTEGER NOT NULL,"	      /* kernel id of the counter map */
    " sid TEXT NOT NULL REFERENCES accounts(sid),"
    " to_peer INTEGER NOT NULL,"
    " to_client INTEGER NOT NULL,"
    " updated INTEGER NOT NULL);",
    /* 6 -> 7: a fleet of ntsd sharing the database (docs/fleet.md). nodes: each node's registry
     * row, rewritten by its heartbeat. signing_secrets: the ephemeral-credential secrets with the
     * time from which nodes sign with each (all verify with it before) and the time it retires;
     * it starts with the secret of version 1. changes: one counter that every change of an
     * account, an API key or a signing secret bumps (the triggers), the new value landing in the
     * changed row's change_seq: a node polls the counter and reads back only what changed. */
    "CREATE TABLE nodes ("
    " name TEXT PRIMARY KEY,"
    " region TEXT NOT NULL DEFAULT '',"
    " addresses TEXT NOT NULL DEFAULT ''," /* "udp 198.18.0.1:3478 tcp ..." */
    " capacity INTEGER NOT NULL DEFAULT 0,"
    " state TEXT NOT NULL CHECK (state IN ('active', 'draining', 'stopped')),"
    " version TEXT NOT NULL DEFAULT '',"
    " started_at INTEGER NOT NULL,"
    " heartbeat_at INTEGER NOT NULL,"
    " allocations INTEGER NOT NULL DEFAULT 0,"
    " pps_user INTEGER NOT NULL DEFAULT 0,"
    " pps_kernel INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE signing_secrets ("
    " id INTEGER PRIMARY KEY,"
    " secret TEXT NOT NULL UNIQUE,"
    " activates_at INTEGER NOT NULL,"
    " retires_at INTEGER);" /* NULL: not retiring */
    "INSERT INTO signing_secrets (secret, activates_at)"
    " SELECT secret, 0 FROM secrets ORDER BY id LIMIT 1;"
    "CREATE TABLE changes ("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " seq INTEGER NOT NULL);"
    "INSERT INTO changes (id, seq) VALUES (1, 0);"
    "ALTER TABLE accounts ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE api_keys ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX accounts_change_seq ON accounts(change_seq);"
    "CREATE TRIGGER accounts_insert_seq AFTER INSERT ON accounts BEGIN"
    " UPDATE changes SET seq = seq + 1 WHERE id = 1;"
    " UPDATE accounts SET change_seq = (SELECT seq FROM changes WHERE id = 1)"
    "  WHERE sid = NEW.sid; END;"
    /* Not OF change_seq: the trigger's own update does not fire it again. */
    "CREATE TRIGGER accounts_update_seq AFTER UPDATE OF friendly_name, token_salt,"
    " token_hash, status, max_allocations, max_bps, owner_sid ON accounts BEGIN"
    " UPDATE changes SET seq = seq + 1 WHERE id = 1;"
    " UPDATE accounts SET change_seq = (SELECT seq FROM changes WHERE id = 1)"
    "  WHERE sid = NEW.sid; END;"
    "CREATE TRIGGER api_keys_insert_seq AFTER INSERT ON api_keys BEGIN"
    " UPDATE changes SET seq = seq + 1 WHERE id = 1;"
    " UPDATE api_keys SET change_seq = (SELECT seq FROM changes WHERE id = 1)"
    "  WHERE sid = NEW.sid; END;"
    "CREATE TRIGGER api_keys_update_seq AFTER UPDATE OF friendly_name, secret_salt,"
    " secret_hash, account_sid ON api_keys BEGIN"
    " UPDATE changes SET seq = seq + 1 WHERE id = 1;"
    " UPDATE api_keys SET change_seq = (SELECT seq FROM changes WHERE id = 1)"
    "  WHERE sid = NEW.sid; END;"
    "CREATE TRIGGER api_keys_delete_seq AFTER DELETE ON api_keys BEGIN"
    " UPDATE changes SET seq = seq + 1 WHERE id = 1; END;"
    "CREATE TRIGGER signing_secrets_insert_seq AFTER INSERT ON signing_secrets BEGIN"
    " UPDATE changes SET seq = seq + 1 WHERE id = 1; END;"
    "CREATE TRIGGER signing_secrets_update_seq AFTER UPDATE ON signing_secrets BEGIN"
    " UPDATE changes SET seq = seq + 1 WHERE id = 1; END;"
    "CREATE TRIGGER signing_secrets_delete_seq AFTER DELETE ON signing_secrets BEGIN"
    " UPDATE changes SET seq = seq + 1 WHERE id = 1; END;",
};

int store_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
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

int store_exec(struct nts_store *s, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		log_error("store: %s", msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return store_errno(rc);
	}
	return 0;
}

int store_prepare(struct nts_store *s, const char *sql, sqlite3_stmt **st)
{
	int rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);

	if (rc != SQLITE_OK) {
		log_error("store: prepare: %s", sqlite3_errmsg(s->db));
		return store_errno(rc);
	}
	return 0;
}

int store_schema_version(struct nts_store *s)
{
	sqlite3_stmt *st;
	int v, err = store_prepare(s, "PRAGMA user_version", &st);

	if (err)
		return err;
	v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -EIO;
	sqlite3_finalize(st);
	return v;
}

/* Applies the missing migrations, each in its own transaction with its version bump. */
static int store_migrate(struct nts_store *s)
{
	int v = store_schema_version(s), from = v;
	char bump[64];
	int err;

	if (v < 0)
		return v;
	if (v > STORE_SCHEMA_VERSION) {
		log_error("store: database schema %d is newer than this build (%d)", v,
			  STORE_SCHEMA_VERSION);
		return -EPROTO;
	}
	for (; v < STORE_SCHEMA_VERSION; v++) {
		int now;

		err = store_exec(s, "BEGIN IMMEDIATE");
		if (err)
			return err;
		/* Another process sharing the file (a fleet's node starting at the same time) may
		 * have migrated since: the version read under the write lock is the one that
		 * counts. */
		now = store_schema_version(s);
		if (now != v) {
			store_exec(s, "ROLLBACK");
			if (now < v || now > STORE_SCHEMA_VERSION)
				return now < 0 ? now : -EPROTO;
			v = now - 1;
			continue;
		}
		snprintf(bump, sizeof(bump), "PRAGMA user_version = %d", v + 1);
		err = store_exec(s, store_migrations[v]);
		if (!err)
			err = store_exec(s, bump);
		if (!err)
			err = store_exec(s, "COMMIT");
		if (err) {
			store_exec(s, "ROLLBACK");
			return err;
		}
		if (from > 0) /* a fresh file is not news */
			log_info("store: migrated schema to version %d", v + 1);
	}
	return 0;
}

/* Creates the database file 0600 (whatever the umask) before SQLite writes a byte: SQLite gives the
 * -wal and -shm files the database file's mode. Files left looser by older versions are tightened.
 */
static int store_create_private(const char *path)
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

int store_open(const char *path, struct nts_store **out)
{
	struct nts_store *s;
	int rc, err;

	*out = NULL;
	err = nts_mkdir_parent(path, 0700);
	if (!err)
		err = store_create_private(path);
	if (err)
		return err;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	rc = sqlite3_open_v2(
	    path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		log_error("store: %s: %s", path,
			  s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		err = store_errno(rc);
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 2000);
	/* WAL lets ntsctl read while ntsd writes; NORMAL sync is durable enough in WAL mode. */
	err = store_exec(s, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
			    " PRAGMA foreign_keys = ON;");
	if (!err)
		err = store_migrate(s);
	if (err)
		goto fail;
	*out = s;
	return 0;
fail:
	sqlite3_close(s->db);
	free(s);
	return err;
}

void store_set_busy_timeout(struct nts_store *s, int ms)
{
	sqlite3_busy_timeout(s->db, ms);
}

void store_close(struct nts_store *s)
{
	if (!s)
		return;
	store_usage_flush(s);
	store_usage_free(s);
	sqlite3_close(s->db);
	free(s);
}

static int store_secret_load(struct nts_store *s, char *out, size_t outlen)
{
	sqlite3_stmt *st;
	int err = store_prepare(s, "SELECT secret FROM secrets ORDER BY id LIMIT 1", &st);
	const unsigned char *v;

	if (err)
		return err;
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return -ENOENT;
	}
	v = sqlite3_column_text(st, 0);
	if (!v || strlen((const char *)v) >= outlen)
		err = v ? -ENOSPC : -EIO;
	else
		strcpy(out, (const char *)v);
	sqlite3_finalize(st);
	return err;
}

int store_secret_get_or_create(struct nts_store *s, char *out, size_t outlen)
{
	uint8_t raw[STORE_SECRET_LEN / 2];
	char hex[STORE_SECRET_LEN + 1];
	sqlite3_stmt *st;
	int err = store_secret_load(s, out, outlen);

	if (err != -ENOENT)
		return err;
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -EIO;
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	err = store_prepare(s, "INSERT INTO secrets (secret, created) VALUES (?, strftime('%s'))",
			    &st);
	if (err)
		return err;
	sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
	err = sqlite3_step(st) == SQLITE_DONE ? 0 : store_errno(sqlite3_errcode(s->db));
	sqlite3_finalize(st);
	if (err)
		return err;
	/* Re-read: if two processes raced, both end up with the oldest row. */
	return store_secret_load(s, out, outlen);
}

int store_setting_set(struct nts_store *s, const char *key, const char *value)
{
	sqlite3_stmt *st;
	int err = store_prepare(s,
				"INSERT INTO settings (key, value) VALUES (?, ?)"
				" ON CONFLICT(key) DO UPDATE SET value = excluded.value",
				&st);

	if (err)
		return err;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	err = sqlite3_step(st) == SQLITE_DONE ? 0 : store_errno(sqlite3_errcode(s->db));
	sqlite3_finalize(st);
	return err;
}

int store_setting_get(struct nts_store *s, const char *key, char *out, size_t outlen)
{
	sqlite3_stmt *st;
	const unsigned char *v;
	int err = store_prepare(s, "SELECT value FROM settings WHERE key = ?", &st);

	if (err)
		return err;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return -ENOENT;
	}
	v = sqlite3_column_text(st, 0);
	if (!v || strlen((const char *)v) >= outlen)
		err = v ? -ENOSPC : -EIO;
	else
		strcpy(out, (const char *)v);
	sqlite3_finalize(st);
	return err;
}
