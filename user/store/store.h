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
#define STORE_SCHEMA_VERSION 8 /* what store_open() migrates to */

struct nts_store;

#define STORE_KEY_SID_LEN 34	/* "SK" + 32 hex digits */
#define STORE_KEY_SECRET_LEN 32 /* 32 hex digits */
#define STORE_PAGE_MAX 1024	/* most rows one listing call returns */

/* One account as listed (never carries the AuthToken). */
struct store_account {
	char sid[STORE_SID_LEN + 1];
	char owner[STORE_SID_LEN + 1]; /* the master of a subaccount; "" for a master */
	char name[STORE_NAME_MAX];
	bool suspended;		     /* suspended or closed: not active */
	bool closed;		     /* closed for good: cannot be activated again */
	bool owner_suspended;	     /* its master is suspended or closed (so it is not active) */
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
/* Creates an active subaccount of the master owner, as store_account_create() does. 0, -ENOENT
 * (no such owner), -EMLINK (owner is itself a subaccount), -EPERM (owner is closed), -EINVAL or
 * -errno. */
int store_subaccount_create(struct nts_store *s, const char *owner, const char *name,
			    struct store_account *out, char token[STORE_TOKEN_LEN + 1]);
/* "active", "suspended" or "closed": the account's own status (not its master's). */
const char *store_account_status_name(const struct store_account *a);
/* Looks sid up. 0, -ENOENT or -errno. */
int store_account_get(struct nts_store *s, const char *sid, struct store_account *out);
/* Calls fn for each account, oldest first; fn returns non-zero to stop. 0 or -errno. */
int store_account_foreach(struct nts_store *s, int (*fn)(void *arg, const struct store_account *a),
			  void *arg);
/* What store_account_list() returns, oldest first. */
enum store_status_filter {
	STORE_STATUS_ANY,
	STORE_STATUS_ACTIVE,
	STORE_STATUS_SUSPENDED,
	STORE_STATUS_CLOSED,
};
struct store_account_filter {
	const char *family; /* NULL: every account; else this account and its subaccounts */
	const char *name;   /* NULL, or exactly this friendly name */
	enum store_status_filter status;
	const char *after; /* NULL, or only accounts listed after this sid (a page token) */
	unsigned offset;   /* rows skipped first */
	unsigned limit;	   /* at most this many rows (1..STORE_PAGE_MAX) */
};
/* Calls fn for each account f selects; fn returns non-zero to stop. 0, -ENOENT (f->after is not
 * an account), -EINVAL or -errno. */
int store_account_list(struct nts_store *s, const struct store_account_filter *f,
		       int (*fn)(void *arg, const struct store_account *a), void *arg);
/* Renames the account. 0, -ENOENT, -EINVAL or -errno. */
int store_account_rename(struct nts_store *s, const char *sid, const char *name);
/* Sets the status; 0, -ENOENT, -EPERM (the account is closed) or -errno. */
int store_account_set_suspended(struct nts_store *s, const char *sid, bool suspended);
/* Closes the account for good (its tokens stop working, it cannot be activated again), and with
 * a master every subaccount of it. 0, -ENOENT or -errno. */
int store_account_close(struct nts_store *s, const char *sid);
/* Sets the account's limits; a negative value keeps that limit as it is. 0, -ENOENT, -EINVAL or
 * -errno. */
int store_account_set_limits(struct nts_store *s, const char *sid, int64_t max_allocations,
			     int64_t max_bps);
/* Checks sid's AuthToken in constant time (unknown sids cost the same). 0 when it matches (the
 * account, active or not, is filled into out if non-NULL), -EACCES otherwise, other -errno. */
int store_account_verify(struct nts_store *s, const char *sid, const char *token,
			 struct store_account *out);

/* API keys: a sid "SK" + 32 hex digits and a secret of 32 hex digits (CSPRNG) that is kept only
 * as HMAC-SHA256(salt, secret), like AuthTokens. A key acts for the account that owns it. */
struct store_key {
	char sid[STORE_KEY_SID_LEN + 1];
	char account[STORE_SID_LEN + 1];
	char name[STORE_NAME_MAX]; /* may be empty */
	int64_t created, updated;  /* unix seconds */
};
/* True when sid has the key sid syntax: "SK" followed by 32 lower-case hex digits. */
bool store_key_sid_valid(const char *sid);
/* Creates a key of account named name (NULL or "" for none). secret gets the 32 hex digits + NUL:
 * the only time it is known. 0, -ENOENT (no such account), -EINVAL or -errno. */
int store_key_create(struct nts_store *s, const char *account, const char *name,
		     struct store_key *out, char secret[STORE_KEY_SECRET_LEN + 1]);
/* Looks key sid up. 0, -ENOENT or -errno. */
int store_key_get(struct nts_store *s, const char *sid, struct store_key *out);
/* Calls fn for up to limit keys of account, oldest first, skipping offset keys or, with after,
 * those up to the key after. 0, -ENOENT (after is not a key of account), -EINVAL or -errno. */
int store_key_list(struct nts_store *s, const char *account, const char *after, unsigned offset,
		   unsigned limit, int (*fn)(void *arg, const struct store_key *k), void *arg);
/* Renames key sid ("" allowed). 0, -ENOENT, -EINVAL or -errno. */
int store_key_rename(struct nts_store *s, const char *sid, const char *name);
/* Deletes key sid: its secret stops working at once. 0, -ENOENT or -errno. */
int store_key_delete(struct nts_store *s, const char *sid);
/* Checks key sid's secret in constant time (unknown sids cost the same). 0 when it matches (the
 * key is filled into out if non-NULL), -EACCES otherwise, other -errno. */
int store_key_verify(struct nts_store *s, const char *sid, const char *secret,
		     struct store_key *out);

/* Loads the signing secret (the oldest row of the secrets table), creating one if there is none.
 * out gets a NUL-terminated string. 0 or -errno. */
int store_secret_get_or_create(struct nts_store *s, char *out, size_t outlen);

/* --- Usage per account and UTC day (store_usage.c). Days are counted from 1970-01-01 (day 0). */
#define STORE_DAY_LEN 10    /* "YYYY-MM-DD" */
#define STORE_REGION_MAX 64 /* region name, bytes including NUL */

/* What an account used: a delta to add, or a sum read back. */
struct store_usage {
	uint64_t bytes_to_peer;	     /* relayed client -> peer (payload bytes, both relay paths) */
	uint64_t bytes_to_client;    /* relayed peer -> client */
	uint64_t allocations;	     /* allocations made */
	uint64_t allocation_seconds; /* seconds allocations were held */
};

/* The region this node's usage is recorded under ("" for none, the default). */
void store_usage_set_region(struct nts_store *s, const char *region);
/* Adds u to account's usage of day (an AccountSid; others, e.g. "" for static users, are ignored),
 * kept in memory until store_usage_flush(). Never fails: counts for unknown accounts are dropped
 * at flush, and beyond STORE_USAGE_PENDING_MAX pending rows an unwritable database loses some. */
void store_usage_add(struct nts_store *s, const char *account, int64_t day,
		     const struct store_usage *u);
/* Adds the allocation-seconds of live allocations held over [from_ms, to_ms) (unix ms) to
 * account, split at UTC midnights into the days they fall on. carry_ms keeps what is not yet a
 * whole second between calls (start it at 0). */
void store_usage_add_held(struct nts_store *s, const char *account, uint64_t from_ms,
			  uint64_t to_ms, uint64_t live, uint64_t *carry_ms);
/* Writes pending usage and kernel counter marks in one transaction. 0 or -errno (pending data is
 * kept on failure, to retry). */
int store_usage_flush(struct nts_store *s);
/* Formats day as "YYYY-MM-DD" into out (STORE_DAY_LEN + 1 bytes). Returns out. */
char *store_day_fmt(int64_t day, char *out);
/* Parses "YYYY-MM-DD" (a real calendar date). 0 or -EINVAL. */
int store_day_parse(const char *text, int64_t *day);

/* A kernel fast-path allocation counter whose counts up to to_peer/to_client are already in the
 * usage: another ntsd that adopts the maps adds only what the kernel counted beyond it (see
 * docs/architecture.md, "Usage"). */
struct store_kernel_mark {
	uint64_t key;	 /* the counter's key in the map (generation << 40 | allocation id) */
	uint32_t map_id; /* the kernel id of the counter map (a new map is a new count) */
	char sid[STORE_SID_LEN + 1];
	uint64_t to_peer, to_client;
};
/* Records m (replacing the mark of m->key) at the next flush, in the transaction that writes the
 * usage it accounts for. */
void store_kernel_mark_set(struct nts_store *s, const struct store_kernel_mark *m);
/* Deletes the mark of key at the next flush. */
void store_kernel_mark_forget(struct nts_store *s, uint64_t key);
/* Calls fn for every stored mark (pending changes not included); fn returns non-zero to stop.
 * 0 or -errno. */
int store_kernel_mark_foreach(struct nts_store *s,
			      int (*fn)(void *arg, const struct store_kernel_mark *m), void *arg);

/* Which usage store_usage_foreach() reads: account's own, and its subaccounts' with
 * include_subaccounts, from first_day to last_day (inclusive). */
struct store_usage_query {
	const char *sid;
	bool include_subaccounts;
	int64_t first_day, last_day;
};
/* Calls fn for each stored row (account, day, region) the query selects, by day, then region;
 * fn returns non-zero to stop. 0 or -errno. */
int store_usage_foreach(struct nts_store *s, const struct store_usage_query *q,
			int (*fn)(void *arg, const char *sid, int64_t day, const char *region,
				  const struct store_usage *u),
			void *arg);
/* The master account of subaccount sid into owner (empty for a master). 0, -ENOENT (no such
 * account) or -errno. */
int store_usage_owner(struct nts_store *s, const char *sid, char owner[STORE_SID_LEN + 1]);

/* Small key/value settings (e.g. the ICE server list ntsd last published, for ntsctl --db).
 * get: 0, -ENOENT, -ENOSPC or -errno. */
int store_setting_set(struct nts_store *s, const char *key, const char *value);
int store_setting_get(struct nts_store *s, const char *key, char *out, size_t outlen);

/* --- A fleet of ntsd sharing one database (store_fleet.c; docs/fleet.md). */
#define STORE_NODE_NAME_MAX 64	 /* node name, bytes including NUL */
#define STORE_NODE_ADDRS_MAX 512 /* its addresses as text, bytes including NUL */
#define STORE_VERSION_MAX 32	 /* ntsd version, bytes including NUL */

enum store_node_state { STORE_NODE_ACTIVE, STORE_NODE_DRAINING, STORE_NODE_STOPPED };

/* One node's registry row, as its last heartbeat wrote it. */
struct store_node {
	char name[STORE_NODE_NAME_MAX];
	char region[STORE_REGION_MAX];
	/* What clients reach it on, space-separated "udp 198.18.0.1:3478 tcp [2001:db8::1]:3478
	 * tls 198.18.0.1:5349": its unicast addresses, named in redirects to it. */
	char addresses[STORE_NODE_ADDRS_MAX];
	char version[STORE_VERSION_MAX];
	enum store_node_state state;
	uint32_t capacity;		  /* allocations it takes at most */
	int64_t started_at, heartbeat_at; /* unix seconds */
	uint64_t allocations;		  /* live allocations */
	uint64_t pps_user, pps_kernel;	  /* packets relayed per second, by path */
};
/* "active", "draining" or "stopped". */
const char *store_node_state_name(enum store_node_state st);
/* Registers node n or rewrites its row (a heartbeat). 0 or -errno (-EINVAL: bad name). */
int store_node_put(struct nts_store *s, const struct store_node *n);
/* Calls fn for every node, by region, then name; fn returns non-zero to stop. 0 or -errno. */
int store_node_foreach(struct nts_store *s, int (*fn)(void *arg, const struct store_node *n),
		       void *arg);
/* Removes node name from the registry. 0, -ENOENT or -errno. */
int store_node_delete(struct nts_store *s, const char *name);

/* A signing secret of ephemeral credentials: every node verifies with it from the moment it is
 * stored, signs with it from activates_at (the newest active one signs), and drops it at
 * retires_at. */
struct store_signing_secret {
	int64_t id;
	char secret[STORE_SECRET_LEN + 1];
	int64_t activates_at; /* unix seconds */
	int64_t retires_at;   /* unix seconds; 0: not retiring */
};
/* Makes sure there is a signing secret: the first one is the database's secret of
 * store_secret_get_or_create(). 0 or -errno. */
int store_signing_secret_ensure(struct nts_store *s);
/* Calls fn for every signing secret, oldest activation first; fn returns non-zero to stop. 0 or
 * -errno. */
int store_signing_secret_foreach(struct nts_store *s,
				 int (*fn)(void *arg, const struct store_signing_secret *k),
				 void *arg);
#define STORE_SIGNING_SECRETS_MAX 64 /* secrets loaded at most (the newest kept) */
/* Fills k (STORE_SIGNING_SECRETS_MAX entries) with the signing secrets, oldest activation first,
 * the newest STORE_SIGNING_SECRETS_MAX of them; *n gets how many. 0 or -errno. */
int store_signing_secret_load(struct nts_store *s, struct store_signing_secret *k, size_t *n);
/* Orders k[0..n) for use at unix second now: the signer first (among the activated ones not
 * retired, the one not retiring, else the newest; with none activated yet, the oldest), then the
 * other secrets not retired. Writes the
 * order as indexes into out (n entries at most) and returns how many; *next gets the next
 * activation or retirement after now (0: none). */
size_t store_signing_secret_order(const struct store_signing_secret *k, size_t n, int64_t now,
				  size_t *out, int64_t *next);
/* The secret that signs at unix second now (created if there is none), NUL-terminated into out.
 * 0, -ENOSPC or -errno. */
int store_signing_secret_current(struct nts_store *s, int64_t now, char *out, size_t outlen);
/* Rotation, in one transaction: adds a fresh secret (CSPRNG) signing from activates_at, gives
 * every secret not yet retiring the retirement activates_at + retire_after (when the last token
 * it may sign has expired), and deletes the secrets retired before now. out (may be NULL) gets
 * the new secret's row. 0 or -errno. */
int store_signing_secret_rotate(struct nts_store *s, int64_t now, int64_t activates_at,
				int64_t retire_after, struct store_signing_secret *out);

/* The change counter: it grows with every change of an account, an API key or a signing
 * secret. 0 or -errno. */
int store_change_seq(struct nts_store *s, uint64_t *seq);
/* Calls fn with each account changed after change counter seq, and with the subaccounts of those
 * (whose state follows their master's); fn returns non-zero to stop. 0 or -errno. */
int store_account_foreach_changed(struct nts_store *s, uint64_t seq,
				  int (*fn)(void *arg, const char *sid), void *arg);

#endif
