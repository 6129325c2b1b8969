/* Internals shared by the store's files: the handle and small SQLite helpers.
 * Not for other modules; they use store.h.
 */
#ifndef NTS_STORE_PRIV_H
#define NTS_STORE_PRIV_H

#include <sqlite3.h>

#include "store/store.h"

#define STORE_USAGE_SLOTS 256 /* pending usage entries before an early flush */

struct store_usage_pending {
	char sid[STORE_SID_LEN + 1];
	uint64_t allocations, bytes;
};

struct nts_store {
	sqlite3 *db;
	struct store_usage_pending usage[STORE_USAGE_SLOTS];
	unsigned nusage;
};

/* Maps an SQLite result code to -errno (SQLITE_BUSY -> -EBUSY, SQLITE_FULL -> -ENOSPC...). */
int store_errno(int rc);
/* Runs one SQL statement without results. 0 or -errno (logged). */
int store_exec(struct nts_store *s, const char *sql);
/* Prepares sql; 0 or -errno (logged). */
int store_prepare(struct nts_store *s, const char *sql, sqlite3_stmt **st);

#endif
