/* Accounts: creation with CSPRNG AccountSid/AuthToken, salted token hashes, status; see store.h.
 *
 * AuthTokens carry 128 random bits, so a fast keyed hash (HMAC-SHA256 with a 16-byte per-account
 * salt as key) already makes an offline search hopeless; a slow KDF would only stall ntsd's single
 * event loop on every token request.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "store/store_priv.h"
#include "util/log.h"

bool store_sid_syntax(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);

	if (!s || strncmp(s, prefix, n) != 0 || strlen(s) != n + 32)
		return false;
	for (const char *p = s + n; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

bool store_sid_valid(const char *sid)
{
	return store_sid_syntax(sid, "AC");
}

int store_random_hex(char *out, size_t nbytes)
{
	uint8_t raw[32];

	if (nbytes > sizeof(raw) || RAND_bytes(raw, (int)nbytes) != 1)
		return -EIO;
	for (size_t i = 0; i < nbytes; i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

int store_secret_hash(const uint8_t *salt, size_t salt_len, const char *token,
		      uint8_t out[STORE_HASH_LEN])
{
	unsigned int len = STORE_HASH_LEN;

	if (!HMAC(EVP_sha256(), salt, (int)salt_len, (const unsigned char *)token, strlen(token),
		  out, &len) ||
	    len != STORE_HASH_LEN)
		return -EIO;
	return 0;
}

bool store_name_valid(const char *name, bool empty_ok)
{
	size_t n = name ? strlen(name) : 0;

	if ((n == 0 && !empty_ok) || n >= STORE_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return false;
	return true;
}

/* Reads a row of (sid, friendly_name, status, created, updated, allocations, bytes,
 * max_allocations, max_bps, owner_sid, the owner's status). */
static void store_account_from_row(struct db_stmt *st, struct store_account *a)
{
	const char *sid = db_column_text(st, 0);
	const char *name = db_column_text(st, 1);
	const char *status = db_column_text(st, 2);
	const char *owner, *owner_status;

	memset(a, 0, sizeof(*a));
	snprintf(a->sid, sizeof(a->sid), "%s", sid ? sid : "");
	snprintf(a->name, sizeof(a->name), "%s", name ? name : "");
	a->closed = status && strcmp(status, "closed") == 0;
	a->suspended = a->closed || (status && strcmp(status, "suspended") == 0);
	a->created = db_column_int64(st, 3);
	a->updated = db_column_int64(st, 4);
	a->allocations = (uint64_t)db_column_int64(st, 5);
	a->bytes = (uint64_t)db_column_int64(st, 6);
	a->max_allocations = (uint32_t)db_column_int64(st, 7);
	a->max_bps = (uint64_t)db_column_int64(st, 8);
	owner = db_column_text(st, 9);
	snprintf(a->owner, sizeof(a->owner), "%s", owner ? owner : "");
	owner_status = db_column_text(st, 10);
	a->owner_suspended = owner_status && strcmp(owner_status, "active") != 0;
}

const char *store_account_status_name(const struct store_account *a)
{
	return a->closed ? "closed" : a->suspended ? "suspended" : "active";
}

#define STORE_ACCOUNT_COLUMNS                                                                      \
	"SELECT a.sid, a.friendly_name, a.status, a.created, a.updated,"                           \
	" COALESCE(u.allocations, 0), COALESCE(u.bytes, 0), a.max_allocations, a.max_bps,"         \
	" a.owner_sid, o.status"                                                                   \
	" FROM accounts a LEFT JOIN usage u ON u.sid = a.sid"                                      \
	" LEFT JOIN accounts o ON o.sid = a.owner_sid"

/* Inserts an active account (a subaccount of owner unless NULL) with fresh credentials. */
static int store_account_insert(struct nts_store *s, const char *owner, const char *name,
				struct store_account *out, char token[STORE_TOKEN_LEN + 1])
{
	uint8_t salt[STORE_SALT_LEN], hash[STORE_HASH_LEN];
	char sid[STORE_SID_LEN + 1] = "AC";
	int64_t now = (int64_t)time(NULL);
	struct db_stmt *st;
	int err;

	if (!store_name_valid(name, false))
		return -EINVAL;
	err = store_random_hex(sid + 2, 16);
	if (!err)
		err = store_random_hex(token, STORE_TOKEN_LEN / 2);
	if (!err && RAND_bytes(salt, sizeof(salt)) != 1)
		err = -EIO;
	if (!err)
		err = store_secret_hash(salt, sizeof(salt), token, hash);
	if (!err)
		err = db_prepare(s->db,
				 "INSERT INTO accounts (sid, friendly_name, token_salt,"
				 " token_hash, status, created, updated, owner_sid)"
				 " VALUES (?, ?, ?, ?, 'active', ?, ?, ?)",
				 &st);
	if (err)
		return err;
	db_bind_text(st, 1, sid);
	db_bind_text(st, 2, name);
	db_bind_blob(st, 3, salt, sizeof(salt));
	db_bind_blob(st, 4, hash, sizeof(hash));
	db_bind_int64(st, 5, now);
	db_bind_int64(st, 6, now);
	db_bind_text(st, 7, owner);
	err = db_run(st);
	if (err) {
		OPENSSL_cleanse(token, STORE_TOKEN_LEN + 1);
		return err;
	}
	if (out) {
		memset(out, 0, sizeof(*out));
		memcpy(out->sid, sid, sizeof(out->sid));
		snprintf(out->owner, sizeof(out->owner), "%s", owner ? owner : "");
		snprintf(out->name, sizeof(out->name), "%s", name);
		out->created = out->updated = now;
	}
	return 0;
}

int store_account_create(struct nts_store *s, const char *name, struct store_account *out,
			 char token[STORE_TOKEN_LEN + 1])
{
	return store_account_insert(s, NULL, name, out, token);
}

int store_subaccount_create(struct nts_store *s, const char *owner, const char *name,
			    struct store_account *out, char token[STORE_TOKEN_LEN + 1])
{
	struct store_account o;
	int err = store_sid_valid(owner) ? store_account_get(s, owner, &o) : -ENOENT;

	if (err)
		return err;
	if (o.owner[0])
		return -EMLINK; /* one level, as at Twilio: a subaccount has no subaccounts */
	if (o.closed)
		return -EPERM;
	return store_account_insert(s, owner, name, out, token);
}

int store_account_get(struct nts_store *s, const char *sid, struct store_account *out)
{
	struct db_stmt *st;
	int rc, err = db_prepare(s->db, STORE_ACCOUNT_COLUMNS " WHERE a.sid = ?", &st);

	if (err)
		return err;
	db_bind_text(st, 1, sid);
	rc = db_step(st);
	if (rc > 0)
		store_account_from_row(st, out);
	db_done(st);
	return rc > 0 ? 0 : rc == 0 ? -ENOENT : rc;
}

int store_account_foreach(struct nts_store *s, int (*fn)(void *arg, const struct store_account *a),
			  void *arg)
{
	struct store_account a;
	struct db_stmt *st;
	int rc, err = db_prepare(s->db, STORE_ACCOUNT_COLUMNS " ORDER BY a.created, a.rowid", &st);

	if (err)
		return err;
	while ((rc = db_step(st)) > 0) {
		store_account_from_row(st, &a);
		if (fn(arg, &a))
			break;
	}
	db_done(st);
	return rc < 0 ? rc : 0;
}

/* Runs an UPDATE of one account with ?1 = now, ?2 = sid, ?3 = a, ?4 = b (parameters the
 * statement does not use are ignored). 0, -ENOENT when no row matched, or -errno. */
static int store_account_update(struct nts_store *s, const char *sql, const char *sid, int64_t a,
				int64_t b)
{
	struct db_stmt *st;
	int err = db_prepare(s->db, sql, &st);

	if (err)
		return err;
	db_bind_int64(st, 1, (int64_t)time(NULL));
	db_bind_text(st, 2, sid);
	db_bind_int64(st, 3, a);
	db_bind_int64(st, 4, b);
	err = db_step(st);
	if (err == 0 && db_changes(st) == 0)
		err = -ENOENT;
	db_done(st);
	return err > 0 ? -EIO : err;
}

int store_account_set_suspended(struct nts_store *s, const char *sid, bool suspended)
{
	struct store_account a;
	int err = store_account_get(s, sid, &a);

	if (err)
		return err;
	if (a.closed)
		return -EPERM;
	return store_account_update(s,
				    "UPDATE accounts SET status = CASE ?3 WHEN 1 THEN 'suspended'"
				    " ELSE 'active' END, updated = ?1"
				    " WHERE sid = ?2 AND status != 'closed'",
				    sid, suspended, 0);
}

int store_account_close(struct nts_store *s, const char *sid)
{
	return store_account_update(s,
				    "UPDATE accounts SET status = 'closed', updated = ?1"
				    " WHERE sid = ?2 OR (owner_sid = ?2 AND status != 'closed')",
				    sid, 0, 0);
}

int store_account_rename(struct nts_store *s, const char *sid, const char *name)
{
	struct db_stmt *st;
	int err;

	if (!store_name_valid(name, false))
		return -EINVAL;
	err = db_prepare(
	    s->db, "UPDATE accounts SET friendly_name = ?3, updated = ?1 WHERE sid = ?2", &st);
	if (err)
		return err;
	db_bind_int64(st, 1, (int64_t)time(NULL));
	db_bind_text(st, 2, sid);
	db_bind_text(st, 3, name);
	err = db_step(st);
	if (err == 0 && db_changes(st) == 0)
		err = -ENOENT;
	db_done(st);
	return err > 0 ? -EIO : err;
}

int store_account_list(struct nts_store *s, const struct store_account_filter *f,
		       int (*fn)(void *arg, const struct store_account *a), void *arg)
{
	/* Oldest first; a page token is the last sid of the previous page, so pages stay stable
	 * while accounts are added. Unused parameters are NULL and match everything. */
	static const char sql[] =
	    STORE_ACCOUNT_COLUMNS " WHERE (?1 IS NULL OR a.sid = ?1 OR a.owner_sid = ?1)"
				  " AND (?2 IS NULL OR a.friendly_name = ?2)"
				  " AND (?3 IS NULL OR a.status = ?3)"
				  " AND (?4 IS NULL OR (a.created, a.rowid) >"
				  "  (SELECT created, rowid FROM accounts WHERE sid = ?4))"
				  " ORDER BY a.created, a.rowid LIMIT ?5 OFFSET ?6";
	static const char *const status[] = {NULL, "active", "suspended", "closed"};
	struct store_account a;
	struct db_stmt *st;
	int rc, err;

	if (f->limit == 0 || f->limit > STORE_PAGE_MAX || (unsigned)f->status > STORE_STATUS_CLOSED)
		return -EINVAL;
	if (f->after && (!store_sid_valid(f->after) || store_account_get(s, f->after, &a) != 0))
		return -ENOENT;
	err = db_prepare(s->db, sql, &st);
	if (err)
		return err;
	db_bind_text(st, 1, f->family);
	db_bind_text(st, 2, f->name);
	db_bind_text(st, 3, status[f->status]);
	db_bind_text(st, 4, f->after);
	db_bind_int64(st, 5, f->limit);
	db_bind_int64(st, 6, f->offset);
	while ((rc = db_step(st)) > 0) {
		store_account_from_row(st, &a);
		if (fn(arg, &a))
			break;
	}
	db_done(st);
	return rc < 0 ? rc : 0;
}

int store_account_set_limits(struct nts_store *s, const char *sid, int64_t max_allocations,
			     int64_t max_bps)
{
	if (max_allocations > UINT32_MAX)
		return -EINVAL;
	return store_account_update(
	    s,
	    "UPDATE accounts SET updated = ?1,"
	    " max_allocations = CASE WHEN ?3 < 0 THEN max_allocations ELSE ?3 END,"
	    " max_bps = CASE WHEN ?4 < 0 THEN max_bps ELSE ?4 END WHERE sid = ?2",
	    sid, max_allocations, max_bps);
}

int store_secret_check(struct nts_store *s, const char *sql, const char *sid, const char *secret)
{
	/* An unknown sid is checked against a fixed salt and an impossible hash, so it costs the
	 * same work as a wrong secret. */
	static const uint8_t dummy_salt[STORE_SALT_LEN];
	uint8_t want[STORE_HASH_LEN] = {0}, got[STORE_HASH_LEN];
	const uint8_t *salt = dummy_salt;
	size_t salt_len = sizeof(dummy_salt);
	bool known = false;
	struct db_stmt *st;
	const void *row_salt, *row_hash;
	size_t hash_len;
	int rc, err = db_prepare(s->db, sql, &st);

	if (err)
		return err;
	db_bind_text(st, 1, sid);
	rc = db_step(st);
	if (rc < 0) {
		db_done(st);
		return rc;
	}
	if (rc > 0) {
		row_salt = db_column_blob(st, 0, &salt_len);
		row_hash = db_column_blob(st, 1, &hash_len);
		if (row_salt && row_hash && salt_len > 0 && hash_len == STORE_HASH_LEN) {
			salt = row_salt;
			memcpy(want, row_hash, sizeof(want));
			known = true;
		}
	}
	if (!known)
		salt_len = sizeof(dummy_salt);
	err = store_secret_hash(salt, salt_len, secret, got); /* salt points into st's row */
	db_done(st);
	if (err)
		return err;
	return CRYPTO_memcmp(want, got, sizeof(got)) != 0 || !known ? -EACCES : 0;
}

int store_account_verify(struct nts_store *s, const char *sid, const char *token,
			 struct store_account *out)
{
	int err;

	if (!store_sid_valid(sid) || !token)
		return -EACCES;
	err = store_secret_check(s, "SELECT token_salt, token_hash FROM accounts WHERE sid = ?",
				 sid, token);
	return err ? err : out ? store_account_get(s, sid, out) : 0;
}
