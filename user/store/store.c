/* Store handle: open, schema migrations, secrets and settings; see store.h. */
#include <errno.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store_priv.h"
#include "util/log.h"

/* Migration i takes the schema from version i to i + 1. Append only; never edit a shipped step.
 * The steps are SQLite's; PostgreSQL runs them with the types mapped (db_dialect_sql()), or, where
 * that is not enough, the step of the same index in store_migrations_pg. */
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
    /* 7 -> 8: each usage flush records itself (writer: random per process, seq: its count)
     * in its own transaction, so that a flush whose COMMIT went unanswered is known to have
     * committed or not before its usage is written again (user/store/store_flush.c). */
    "CREATE TABLE usage_flushes ("
    " writer INTEGER NOT NULL,"
    " seq INTEGER NOT NULL,"
    " at INTEGER NOT NULL,"
    " PRIMARY KEY (writer, seq));",
};

/* PostgreSQL's form of the steps that differ by more than type names. It has no rowid, so the
 * tables listed by insertion order (accounts, api_keys) get one of their own; it can widen a
 * CHECK constraint in place. */
static const char *const store_migrations_pg[STORE_SCHEMA_VERSION] = {
    [0] = "CREATE TABLE accounts ("
	  " sid TEXT PRIMARY KEY,"
	  " rowid BIGSERIAL UNIQUE,"
	  " friendly_name TEXT NOT NULL,"
	  " token_salt BYTEA NOT NULL,"
	  " token_hash BYTEA NOT NULL,"
	  " status TEXT NOT NULL CHECK (status IN ('active', 'suspended')),"
	  " created BIGINT NOT NULL,"
	  " updated BIGINT NOT NULL);"
	  "CREATE TABLE usage ("
	  " sid TEXT PRIMARY KEY REFERENCES accounts(sid),"
	  " allocations BIGINT NOT NULL DEFAULT 0,"
	  " bytes BIGINT NOT NULL DEFAULT 0,"
	  " updated BIGINT NOT NULL);"
	  "CREATE TABLE secrets ("
	  " id BIGSERIAL PRIMARY KEY,"
	  " secret TEXT NOT NULL,"
	  " created BIGINT NOT NULL);",
    [2] = "ALTER TABLE accounts DROP CONSTRAINT accounts_status_check;"
	  "ALTER TABLE accounts ADD CONSTRAINT accounts_status_check"
	  " CHECK (status IN ('active', 'suspended', 'closed'));"
	  "ALTER TABLE accounts ADD COLUMN max_allocations BIGINT NOT NULL DEFAULT 0;"
	  "ALTER TABLE accounts ADD COLUMN max_bps BIGINT NOT NULL DEFAULT 0;",
    [3] = "ALTER TABLE accounts ADD COLUMN owner_sid TEXT REFERENCES accounts(sid);"
	  "CREATE INDEX accounts_owner ON accounts(owner_sid);"
	  "CREATE TABLE api_keys ("
	  " sid TEXT PRIMARY KEY,"
	  " rowid BIGSERIAL UNIQUE,"
	  " account_sid TEXT NOT NULL REFERENCES accounts(sid),"
	  " friendly_name TEXT NOT NULL,"
	  " secret_salt BYTEA NOT NULL,"
	  " secret_hash BYTEA NOT NULL,"
	  " created BIGINT NOT NULL,"
	  " updated BIGINT NOT NULL);"
	  "CREATE INDEX api_keys_account ON api_keys(account_sid);",
    /* Triggers run functions; a BEFORE trigger stamps the row it changes. */
    [6] = "CREATE TABLE nodes ("
	  " name TEXT PRIMARY KEY,"
	  " region TEXT NOT NULL DEFAULT '',"
	  " addresses TEXT NOT NULL DEFAULT '',"
	  " capacity BIGINT NOT NULL DEFAULT 0,"
	  " state TEXT NOT NULL CHECK (state IN ('active', 'draining', 'stopped')),"
	  " version TEXT NOT NULL DEFAULT '',"
	  " started_at BIGINT NOT NULL,"
	  " heartbeat_at BIGINT NOT NULL,"
	  " allocations BIGINT NOT NULL DEFAULT 0,"
	  " pps_user BIGINT NOT NULL DEFAULT 0,"
	  " pps_kernel BIGINT NOT NULL DEFAULT 0);"
	  "CREATE TABLE signing_secrets ("
	  " id BIGSERIAL PRIMARY KEY,"
	  " secret TEXT NOT NULL UNIQUE,"
	  " activates_at BIGINT NOT NULL,"
	  " retires_at BIGINT);"
	  "INSERT INTO signing_secrets (secret, activates_at)"
	  " SELECT secret, 0 FROM secrets ORDER BY id LIMIT 1;"
	  "CREATE TABLE changes ("
	  " id BIGINT PRIMARY KEY CHECK (id = 1),"
	  " seq BIGINT NOT NULL);"
	  "INSERT INTO changes (id, seq) VALUES (1, 0);"
	  "ALTER TABLE accounts ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;"
	  "ALTER TABLE api_keys ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;"
	  "CREATE INDEX accounts_change_seq ON accounts(change_seq);"
	  "CREATE FUNCTION nts_change_stamp() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
	  " UPDATE changes SET seq = seq + 1 WHERE id = 1 RETURNING seq INTO NEW.change_seq;"
	  " RETURN NEW; END $$;"
	  "CREATE FUNCTION nts_change_bump() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
	  " UPDATE changes SET seq = seq + 1 WHERE id = 1; RETURN NULL; END $$;"
	  "CREATE TRIGGER accounts_insert_seq BEFORE INSERT ON accounts"
	  " FOR EACH ROW EXECUTE FUNCTION nts_change_stamp();"
	  "CREATE TRIGGER accounts_update_seq BEFORE UPDATE OF friendly_name, token_salt,"
	  " token_hash, status, max_allocations, max_bps, owner_sid ON accounts"
	  " FOR EACH ROW EXECUTE FUNCTION nts_change_stamp();"
	  "CREATE TRIGGER api_keys_insert_seq BEFORE INSERT ON api_keys"
	  " FOR EACH ROW EXECUTE FUNCTION nts_change_stamp();"
	  "CREATE TRIGGER api_keys_update_seq BEFORE UPDATE OF friendly_name, secret_salt,"
	  " secret_hash, account_sid ON api_keys FOR EACH ROW EXECUTE FUNCTION nts_change_stamp();"
	  "CREATE TRIGGER api_keys_delete_seq AFTER DELETE ON api_keys"
	  " FOR EACH ROW EXECUTE FUNCTION nts_change_bump();"
	  "CREATE TRIGGER signing_secrets_seq AFTER INSERT OR UPDATE OR DELETE ON signing_secrets"
	  " FOR EACH ROW EXECUTE FUNCTION nts_change_bump();",
};

int store_schema_version(struct nts_store *s)
{
	return db_schema_version(s->db);
}

/* Runs migration step v in the connection's dialect. */
static int store_migrate_step(struct nts_store *s, int v)
{
	const char *pg = db_dialect(s->db) == DB_POSTGRES ? store_migrations_pg[v] : NULL;
	char *sql = pg ? NULL : db_dialect_sql(s->db, store_migrations[v]);
	int err;

	if (!pg && !sql)
		return -ENOMEM;
	err = db_exec(s->db, pg ? pg : sql);
	free(sql);
	return err;
}

/* Applies the missing migrations in one transaction that one process (or fleet node) at a time
 * takes (db_migrate_begin()): whoever comes first migrates, the others find the schema current. */
static int store_migrate(struct nts_store *s)
{
	int v, from, err = db_migrate_begin(s->db);

	if (err)
		return err;
	v = from = db_schema_version(s->db);
	if (v < 0) {
		db_rollback(s->db);
		return v;
	}
	if (v > STORE_SCHEMA_VERSION) {
		db_rollback(s->db);
		log_error("store: database schema %d is newer than this build (%d)", v,
			  STORE_SCHEMA_VERSION);
		return -EPROTO;
	}
	err = 0;
	for (; !err && v < STORE_SCHEMA_VERSION; v++)
		err = store_migrate_step(s, v);
	if (!err && from < STORE_SCHEMA_VERSION)
		err = db_schema_version_set(s->db, STORE_SCHEMA_VERSION);
	if (!err)
		err = db_commit(s->db);
	if (err) {
		db_rollback(s->db);
		return err;
	}
	/* A fresh SQLite file is not news; a shared database's first schema is. */
	if (from < STORE_SCHEMA_VERSION && (from > 0 || db_dialect(s->db) == DB_POSTGRES))
		log_info("store: migrated schema from version %d to %d", from,
			 STORE_SCHEMA_VERSION);
	return 0;
}

int store_open(const char *target, struct nts_store **out)
{
	struct nts_store *s;
	int err;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	err = db_open(target, &s->db);
	if (!err)
		err = store_migrate(s);
	if (err) {
		db_close(s->db);
		free(s);
		return err;
	}
	*out = s;
	return 0;
}

void store_set_busy_timeout(struct nts_store *s, int ms)
{
	db_set_busy_timeout(s->db, ms);
}

void store_close(struct nts_store *s)
{
	if (!s)
		return;
	store_usage_flush(s);
	store_usage_free(s);
	db_close(s->db);
	free(s);
}

/* Reads the one text column of the row sql selects with ?1 = key (NULL: none) into out.
 * 0, -ENOENT, -ENOSPC or -errno. */
static int store_get_text(struct nts_store *s, const char *sql, const char *key, char *out,
			  size_t outlen)
{
	struct db_stmt *st;
	const char *v;
	int rc, err = db_prepare(s->db, sql, &st);

	if (err)
		return err;
	if (key)
		db_bind_text(st, 1, key);
	rc = db_step(st);
	if (rc <= 0) {
		db_done(st);
		return rc < 0 ? rc : -ENOENT;
	}
	v = db_column_text(st, 0);
	if (!v || strlen(v) >= outlen)
		err = v ? -ENOSPC : -EIO;
	else
		strcpy(out, v);
	db_done(st);
	return err;
}

static int store_secret_load(struct nts_store *s, char *out, size_t outlen)
{
	return store_get_text(s, "SELECT secret FROM secrets ORDER BY id LIMIT 1", NULL, out,
			      outlen);
}

int store_secret_get_or_create(struct nts_store *s, char *out, size_t outlen)
{
	uint8_t raw[STORE_SECRET_LEN / 2];
	char hex[STORE_SECRET_LEN + 1];
	struct db_stmt *st;
	int err = store_secret_load(s, out, outlen);

	if (err != -ENOENT)
		return err;
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -EIO;
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	err = db_prepare(s->db, "INSERT INTO secrets (secret, created) VALUES (?, ?)", &st);
	if (err)
		return err;
	db_bind_text(st, 1, hex);
	db_bind_int64(st, 2, (int64_t)time(NULL));
	err = db_run(st);
	if (err)
		return err;
	/* Re-read: if two processes raced, both end up with the oldest row. */
	return store_secret_load(s, out, outlen);
}

int store_setting_set(struct nts_store *s, const char *key, const char *value)
{
	struct db_stmt *st;
	int err = db_prepare(s->db,
			     "INSERT INTO settings (key, value) VALUES (?, ?)"
			     " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
			     &st);

	if (err)
		return err;
	db_bind_text(st, 1, key);
	db_bind_text(st, 2, value);
	return db_run(st);
}

int store_setting_get(struct nts_store *s, const char *key, char *out, size_t outlen)
{
	return store_get_text(s, "SELECT value FROM settings WHERE key = ?", key, out, outlen);
}
