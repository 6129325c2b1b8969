/* Internals shared by the store's files: the handle and small SQLite helpers.
 * Not for other modules; they use store.h.
 */
#ifndef NTS_STORE_PRIV_H
#define NTS_STORE_PRIV_H

#include <sqlite3.h>

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
	sqlite3 *db;
	char region[STORE_REGION_MAX];
	/* Open-addressing tables (linear probing, power-of-two sizes, emptied by each flush). */
	struct store_usage_pending *usage;
	size_t nusage, usage_cap;
	struct store_mark_pending *marks;
	size_t nmarks, marks_cap;
};

/* Maps an SQLite result code to -errno (SQLITE_BUSY -> -EBUSY, SQLITE_FULL -> -ENOSPC...). */
int store_errno(int rc);
/* Runs one SQL statement without results. 0 or -errno (logged). */
int store_exec(struct nts_store *s, const char *sql);
/* Prepares sql; 0 or -errno (logged). */
int store_prepare(struct nts_store *s, const char *sql, sqlite3_stmt **st);
/* Frees the pending usage tables (store_close). */
void store_usage_free(struct nts_store *s);

#endif
