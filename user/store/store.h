/* Accounts, usage and signing secrets in SQLite (WAL, busy timeout, schema versioned by
 * PRAGMA user_version with forward-only migrations). AuthTokens are stored only as a salted
 * HMAC-SHA256 and compared in constant time. Single-threaded: one handle per process.
 */
#ifndef NTS_STORE_STORE_H
#define NTS_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_SID_LEN 34       /* "AC" + 32 hex digits */
#define STORE_TOKEN_LEN 32     /* 32 hex digits */
#define STORE_NAME_MAX 128     /* friendly name, bytes including NUL */
#define STORE_SECRET_LEN 64    /* generated secrets: 32 random bytes as hex */
#define STORE_SCHEMA_VERSION 5 /* what store_open() migrates to */

struct nts_store;

/* One account as listed (never carries the AuthToken). */
struct store_account {
	char sid[STORE_SID_LEN + 1];
	char name[STORE_NAME_MAX];
	bool suspended;		     /* suspended or closed: not active */
	bool closed;		     /* closed for good: cannot be activated again */
	uint32_t max_allocations;    /* 0: ntsd's --max-allocations-per-account */
	uint64_t max_bps;	     /* bytes/s each way, all its allocations */
	int64_t created, updated;    /* unix seconds */
	uint64_t allocations, bytes; /* persisted usage (pending, unflushed usage not included) */
};

/* Opens or creates the database at path (parent directory created, mode 0700), sets WAL and a busy
 * timeout, migrates the schema to STORE_SCHEMA_VERSION. 0 or -errno (-EPROTO: newer schema). */
int store_open(const char *path, struct nts_store **out);
/* How long a call waits for another process's lock before -EBUSY: 0 on ntsd's event loop, which
 * must never stall on the database (usage flushes retry at the next tick). */
void store_set_busy_timeout(struct nts_store *s, int ms);
/* Flushes pending usage and closes. NULL is fine. */
void store_close(struct nts_store *s);
/* The schema version the file is at (PRAGMA user_version), or -errno. */
int store_schema_version(struct nts_store *s);

/* True when sid has the AccountSid syntax: "AC" followed by 32 lower-case hex digits. */
bool store_sid_valid(const char *sid);
/* Creates an active account named name with a fresh AccountSid and AuthToken (CSPRNG). token gets
 * the 32 hex digits + NUL: the only time it is known. 0 or -errno (-EINVAL: bad name). */
int store_account_create(struct nts_store *s, const char *name, struct store_account *out,
			 char token[STORE_TOKEN_LEN + 1]);
/* Looks sid up. 0, -ENOENT or -errno. */
int store_account_get(struct nts_store *s, const char *sid, struct store_account *out);
/* Calls fn for each account, oldest first; fn returns non-zero to stop. 0 or -errno. */
int store_account_foreach(struct nts_store *s, int (*fn)(void *arg, const struct store_account *a),
			  void *arg);
/* Sets the status; 0, -ENOENT, -EPERM (the account is closed) or -errno. */
int store_account_set_suspended(struct nts_store *s, const char *sid, bool suspended);
/* Closes the account for good (its tokens stop working, it cannot be activated again). 0, -ENOENT
 * or -errno. */
int store_account_close(struct nts_store *s, const char *sid);
/* Sets the account's limits; a negative value keeps that limit as it is. 0, -ENOENT, -EINVAL or
 * -errno. */
int store_account_set_limits(struct nts_store *s, const char *sid, int64_t max_allocations,
			     int64_t max_bps);
/* Checks sid's AuthToken in constant time (unknown sids cost the same). 0 when it matches (the
 * account, active or not, is filled into out if non-NULL), -EACCES otherwise, other -errno. */
int store_account_verify(struct nts_store *s, const char *sid, const char *token,
			 struct store_account *out);

/* Loads the signing secret (the oldest row of the secrets table), creating one if there is none.
 * out gets a NUL-terminated string. 0 or -errno. */
int store_secret_get_or_create(struct nts_store *s, char *out, size_t outlen);

/* Adds usage for account (an AccountSid; others, e.g. "" for static users, are ignored), kept in
 * memory until store_usage_flush(). Never fails: counts for unknown accounts are dropped at flush.
 */
void store_usage_add(struct nts_store *s, const char *account, uint64_t allocations,
		     uint64_t bytes);
/* Writes pending usage in one transaction. 0 or -errno (pending counts are kept on failure). */
int store_usage_flush(struct nts_store *s);

/* Small key/value settings (e.g. the ICE server list ntsd last published, for ntsctl --db).
 * get: 0, -ENOENT, -ENOSPC or -errno. */
int store_setting_set(struct nts_store *s, const char *key, const char *value);
int store_setting_get(struct nts_store *s, const char *key, char *out, size_t outlen);

#endif
