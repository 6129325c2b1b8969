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

static void store_key_from_row(struct db_stmt *st, struct store_key *k)
{
	const char *sid = db_column_text(st, 0);
	const char *account = db_column_text(st, 1);
	const char *name = db_column_text(st, 2);

	memset(k, 0, sizeof(*k));
	snprintf(k->sid, sizeof(k->sid), "%s", sid ? sid : "");
	snprintf(k->account, sizeof(k->account), "%s", account ? account : "");
	snprintf(k->name, sizeof(k->name), "%s", name ? name : "");
	k->created = db_column_int64(st, 3);
	k->updated = db_column_int64(st, 4);
}

int store_key_create(struct nts_store *s, const char *account, const char *name,
		     struct store_key *out, char secret[STORE_KEY_SECRET_LEN + 1])
{
	uint8_t salt[STORE_SALT_LEN], hash[STORE_HASH_LEN];
	char sid[STORE_KEY_SID_LEN + 1] = "SK";
	int64_t now = (int64_t)time(NULL);
	struct store_account a;
	struct db_stmt *st;
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
		err = db_prepare(s->db,
				 "INSERT INTO api_keys (sid, account_sid, friendly_name,"
				 " secret_salt, secret_hash, created, updated)"
				 " VALUES (?, ?, ?, ?, ?, ?, ?)",
				 &st);
	if (err) {
		OPENSSL_cleanse(secret, STORE_KEY_SECRET_LEN + 1);
		return err;
	}
	db_bind_text(st, 1, sid);
	db_bind_text(st, 2, account);
	db_bind_text(st, 3, name);
	db_bind_blob(st, 4, salt, sizeof(salt));
	db_bind_blob(st, 5, hash, sizeof(hash));
	db_bind_int64(st, 6, now);
	db_bind_int64(st, 7, now);
	err = db_run(st);
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
	struct db_stmt *st;
	int rc, err = db_prepare(s->db, STORE_KEY_COLUMNS " WHERE sid = ?", &st);

	if (err)
		return err;
	db_bind_text(st, 1, sid);
	rc = db_step(st);
	if (rc > 0)
		store_key_from_row(st, out);
	db_done(st);
	return rc > 0 ? 0 : rc == 0 ? -ENOENT : rc;
}

int store_key_list(struct nts_store *s, const char *account, const char *after, unsigned offset,
		   unsigned limit, int (*fn)(void *arg, const struct store_key *k), void *arg)
{
	static const char sql[] =
	    STORE_KEY_COLUMNS " WHERE account_sid = ?1 AND (?2 IS NULL OR (created, rowid) >"
			      "  (SELECT created, rowid FROM api_keys WHERE sid = ?2))"
			      " ORDER BY created, rowid LIMIT ?3 OFFSET ?4";
	struct store_key k;
	struct db_stmt *st;
	int rc, err;

	if (limit == 0 || limit > STORE_PAGE_MAX)
		return -EINVAL;
	if (after && (!store_key_sid_valid(after) || store_key_get(s, after, &k) != 0 ||
		      strcmp(k.account, account) != 0))
		return -ENOENT;
	err = db_prepare(s->db, sql, &st);
	if (err)
		return err;
	db_bind_text(st, 1, account);
	db_bind_text(st, 2, after);
	db_bind_int64(st, 3, limit);
	db_bind_int64(st, 4, offset);
	while ((rc = db_step(st)) > 0) {
		store_key_from_row(st, &k);
		if (fn(arg, &k))
			break;
	}
	db_done(st);
	return rc < 0 ? rc : 0;
}

/* Runs sql (?1 = now, ?2 = sid, ?3 = text unless NULL) on one key:
 * 0, -ENOENT when no row matched, or -errno. */
static int store_key_change(struct nts_store *s, const char *sql, const char *sid, const char *text)
{
	struct db_stmt *st;
	int err = db_prepare(s->db, sql, &st);

	if (err)
		return err;
	db_bind_int64(st, 1, (int64_t)time(NULL));
	db_bind_text(st, 2, sid);
	if (text)
		db_bind_text(st, 3, text); /* not used by every statement */
	err = db_step(st);
	if (err == 0 && db_changes(st) == 0)
		err = -ENOENT;
	db_done(st);
	return err > 0 ? -EIO : err;
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
