/* API keys: a key sid and a CSPRNG secret per key, the secret kept only as a salted HMAC-SHA256
 * (as AuthTokens are, see store_account.c) and checked in constant time; see store.h.
 */
#include <errno.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "store/store_priv.h"

#define STORE_KEY_COLUMNS "SELECT sid, account_sid, friendly_name, created, updated FROM api_keys"

bool store_key_sid_valid(const char *sid)
{
	return store_sid_syntax(sid, "SK");
}

static void store_key_from_row(sqlite3_stmt *st, struct store_key *k)
{
	const char *sid = (const char *)sqlite3_column_text(st, 0);
	const char *account = (const char *)sqlite3_column_text(st, 1);
	const char *name = (const char *)sqlite3_column_text(st, 2);

	memset(k, 0, sizeof(*k));
	snprintf(k->sid, sizeof(k->sid), "%s", sid ? sid : "");
	snprintf(k->account, sizeof(k->account), "%s", account ? account : "");
	snprintf(k->name, sizeof(k->name), "%s", name ? name : "");
	k->created = sqlite3_column_int64(st, 3);
	k->updated = sqlite3_column_int64(st, 4);
}

int store_key_create(struct nts_store *s, const char *account, const char *name,
		     struct store_key *out, char secret[STORE_KEY_SECRET_LEN + 1])
{
	uint8_t salt[STORE_SALT_LEN], hash[STORE_HASH_LEN];
	char sid[STORE_KEY_SID_LEN + 1] = "SK";
	int64_t now = (int64_t)time(NULL);
	struct store_account a;
	sqlite3_stmt *st;
	int err;

	if (!name)
		name = "";
	if (!store_name_valid(name, true))
		return -EINVAL;
	err = store_sid_valid(account) ? store_account_get(s, account, &a) : -ENOENT;
	if (!err)
		err = store_random_hex(sid + 2, 16);
	if (!err)
		err = store_random_hex(secret, STORE_KEY_SECRET_LEN / 2);
	if (!err && RAND_bytes(salt, sizeof(salt)) != 1)
		err = -EIO;
	if (!err)
		err = store_secret_hash(salt, sizeof(salt), secret, hash);
	if (!err)
		err = store_prepare(s,
				    "INSERT INTO api_keys (sid, account_sid, friendly_name,"
				    " secret_salt, secret_hash, created, updated)"
				    " VALUES (?, ?, ?, ?, ?, ?, ?)",
				    &st);
	if (err) {
		OPENSSL_cleanse(secret, STORE_KEY_SECRET_LEN + 1);
		return err;
	}
	sqlite3_bind_text(st, 1, sid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, account, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, salt, sizeof(salt), SQLITE_STATIC);
	sqlite3_bind_blob(st, 5, hash, sizeof(hash), SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, now);
	sqlite3_bind_int64(st, 7, now);
	err = sqlite3_step(st) == SQLITE_DONE ? 0 : store_errno(sqlite3_errcode(s->db));
	sqlite3_finalize(st);
	if (err) {
		OPENSSL_cleanse(secret, STORE_KEY_SECRET_LEN + 1);
		return err;
	}
	if (out) {
		memset(out, 0, sizeof(*out));
		memcpy(out->sid, sid, sizeof(out->sid));
		snprintf(out->account, sizeof(out->account), "%s", account);
		snprintf(out->name, sizeof(out->name), "%s", name);
		out->created = out->updated = now;
	}
	return 0;
}

int store_key_get(struct nts_store *s, const char *sid, struct store_key *out)
{
	sqlite3_stmt *st;
	int err = store_prepare(s, STORE_KEY_COLUMNS " WHERE sid = ?", &st);

	if (err)
		return err;
	sqlite3_bind_text(st, 1, sid, -1, SQLITE_STATIC);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		store_key_from_row(st, out);
		break;
	case SQLITE_DONE:
		err = -ENOENT;
		break;
	default:
		err = store_errno(sqlite3_errcode(s->db));
		break;
	}
	sqlite3_finalize(st);
	return err;
}

int store_key_list(struct nts_store *s, const char *account, const char *after, unsigned offset,
		   unsigned limit, int (*fn)(void *arg, const struct store_key *k), void *arg)
{
	static const char sql[] =
	    STORE_KEY_COLUMNS " WHERE account_sid = ?1 AND (?2 IS NULL OR (created, rowid) >"
			      "  (SELECT created, rowid FROM api_keys WHERE sid = ?2))"
			      " ORDER BY created, rowid LIMIT ?3 OFFSET ?4";
	struct store_key k;
	sqlite3_stmt *st;
	int rc, err;

	if (limit == 0 || limit > STORE_PAGE_MAX)
		return -EINVAL;
	if (after && (!store_key_sid_valid(after) || store_key_get(s, after, &k) != 0 ||
		      strcmp(k.account, account) != 0))
		return -ENOENT;
	err = store_prepare(s, sql, &st);
	if (err)
		return err;
	sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, after, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, limit);
	sqlite3_bind_int64(st, 4, offset);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		store_key_from_row(st, &k);
		if (fn(arg, &k))
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		err = store_errno(rc);
	sqlite3_finalize(st);
	return err;
}

/* Runs sql (?1 = now, ?2 = sid, ?3 = text; parameters it does not use are ignored) on one key:
 * 0, -ENOENT when no row matched, or -errno. */
static int store_key_change(struct nts_store *s, const char *sql, const char *sid, const char *text)
{
	sqlite3_stmt *st;
	int err = store_prepare(s, sql, &st);

	if (err)
		return err;
	sqlite3_bind_int64(st, 1, (int64_t)time(NULL));
	sqlite3_bind_text(st, 2, sid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, text, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		err = store_errno(sqlite3_errcode(s->db));
	else if (sqlite3_changes(s->db) == 0)
		err = -ENOENT;
	sqlite3_finalize(st);
	return err;
}

int store_key_rename(struct nts_store *s, const char *sid, const char *name)
{
	if (!store_name_valid(name, true))
		return -EINVAL;
	return store_key_change(
	    s, "UPDATE api_keys SET friendly_name = ?3, updated = ?1 WHERE sid = ?2", sid, name);
}

int store_key_delete(struct nts_store *s, const char *sid)
{
	return store_key_change(s, "DELETE FROM api_keys WHERE sid = ?2", sid, NULL);
}

int store_key_verify(struct nts_store *s, const char *sid, const char *secret,
		     struct store_key *out)
{
	int err;

	if (!store_key_sid_valid(sid) || !secret)
		return -EACCES;
	err = store_secret_check(s, "SELECT secret_salt, secret_hash FROM api_keys WHERE sid = ?",
				 sid, secret);
	return err ? err : out ? store_key_get(s, sid, out) : 0;
}
