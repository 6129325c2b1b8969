/* Internals shared by the store's files: the handle and small helpers. SQL goes through the
 * database layer (db.h), never a driver. Not for other modules; they use store.h.
 */
#ifndef NTS_STORE_PRIV_H
#define NTS_STORE_PRIV_H

#include "store/db.h"
#include "store/store.h"

#define STORE_USAGE_PENDING_MAX 65536 /* pending rows (account, day) or marks before dropping */

/* Usage of one account on one day, not yet written. */
struct store_usage_pending {
	char sid[STORE_SID_LEN + 1];
	int64_t day;
	struct store_usage u;
};

/* A kernel counter mark to write (or to delete: forget) at the next flush. */
struct store_mark_pending {
	struct store_kernel_mark m;
	bool forget;
};

struct nts_store {
	struct db *db;
	bool usage_failing; /* the last flush failed (said once in the log) */
	char region[STORE_REGION_MAX];
	/* Open-addressing tables (linear probing, power-of-two sizes, emptied by each flush). */
	struct store_usage_pending *usage;
	size_t nusage, usage_cap;
	struct store_mark_pending *marks;
	size_t nmarks, marks_cap;
	/* Flushes are numbered (writer, seq) in usage_flushes, in their own transaction, so that a
	 * flush whose COMMIT got no answer can be told apart afterwards: unsure is a copy of the
	 * usage it wrote (unsure_cap slots), taken back from the pending table if it did commit. */
	int64_t flush_writer; /* random, per store handle; 0 until the first flush */
	int64_t flush_seq;
	struct store_usage_pending *unsure;
	size_t unsure_cap;
	int64_t unsure_seq;
};

#define STORE_SALT_LEN 16
#define STORE_HASH_LEN 32

/* Writes nbytes (at most 32) random bytes from the CSPRNG as 2 * nbytes hex digits + NUL. */
int store_random_hex(char *out, size_t nbytes);
/* Checks secret against the (salt, hash) row that sql (one "?" for sid) selects, in constant time:
 * an unknown sid costs the same as a wrong secret. 0, -EACCES or -errno. */
int store_secret_check(struct nts_store *s, const char *sql, const char *sid, const char *secret);
/* HMAC-SHA256(salt, secret): how AuthTokens and key secrets are kept. 0 or -EIO. */
int store_secret_hash(const uint8_t *salt, size_t salt_len, const char *secret,
		      uint8_t out[STORE_HASH_LEN]);
/* A friendly name: 1..STORE_NAME_MAX - 1 bytes (0 too when empty_ok), no control characters. */
bool store_name_valid(const char *name, bool empty_ok);
/* True when s is prefix followed by 32 lower-case hex digits. */
bool store_sid_syntax(const char *s, const char *prefix);

/* The slot of (sid, day) in the open-addressing table t of cap slots: its entry, or the empty
 * slot where it goes. */
struct store_usage_pending *store_usage_slot(struct store_usage_pending *t, size_t cap,
					     const char *sid, int64_t day);
/* Frees the pending usage tables (store_close). */
void store_usage_free(struct nts_store *s);

#endif
