/* A fleet of ntsd sharing one database: the node registry (one row per node, rewritten by its
 * heartbeat), signing secrets with activation and retirement times, and the change counter nodes
 * poll to pick up account, key and secret changes; see store.h and docs/fleet.md.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

#include "store/store_priv.h"

#define STORE_NODE_COLUMNS                                                                         \
	"SELECT name, region, addresses, capacity, state, version, started_at, heartbeat_at,"      \
	" allocations, pps_user, pps_kernel FROM nodes"

static const char *const store_node_states[] = {
    [STORE_NODE_ACTIVE] = "active",
    [STORE_NODE_DRAINING] = "draining",
    [STORE_NODE_STOPPED] = "stopped",
};

const char *store_node_state_name(enum store_node_state st)
{
	return (unsigned)st < sizeof(store_node_states) / sizeof(store_node_states[0])
		   ? store_node_states[st]
		   : "stopped";
}

static enum store_node_state store_node_state_parse(const char *text)
{
	for (unsigned i = 0; i < sizeof(store_node_states) / sizeof(store_node_states[0]); i++)
		if (text && !strcmp(text, store_node_states[i]))
			return (enum store_node_state)i;
	return STORE_NODE_STOPPED;
}

/* Copies column i of st into out (size bytes), "" for NULL. */
static void store_column_text(struct db_stmt *st, int i, char *out, size_t size)
{
	const char *v = db_column_text(st, i);

	snprintf(out, size, "%s", v ? v : "");
}

static void store_node_from_row(struct db_stmt *st, struct store_node *n)
{
	char state[16];

	memset(n, 0, sizeof(*n));
	store_column_text(st, 0, n->name, sizeof(n->name));
	store_column_text(st, 1, n->region, sizeof(n->region));
	store_column_text(st, 2, n->addresses, sizeof(n->addresses));
	n->capacity = (uint32_t)db_column_int64(st, 3);
	store_column_text(st, 4, state, sizeof(state));
	n->state = store_node_state_parse(state);
	store_column_text(st, 5, n->version, sizeof(n->version));
	n->started_at = db_column_int64(st, 6);
	n->heartbeat_at = db_column_int64(st, 7);
	n->allocations = (uint64_t)db_column_int64(st, 8);
	n->pps_user = (uint64_t)db_column_int64(st, 9);
	n->pps_kernel = (uint64_t)db_column_int64(st, 10);
}

int store_node_put(struct nts_store *s, const struct store_node *n)
{
	struct db_stmt *st;
	int err;

	if (!store_name_valid(n->name, false) || strlen(n->name) >= STORE_NODE_NAME_MAX)
		return -EINVAL;
	err = db_prepare(s->db,
			 "INSERT INTO nodes (name, region, addresses, capacity, state, version,"
			 " started_at, heartbeat_at, allocations, pps_user, pps_kernel)"
			 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
			 " ON CONFLICT (name) DO UPDATE SET region = ?2, addresses = ?3,"
			 " capacity = ?4, state = ?5, version = ?6, started_at = ?7,"
			 " heartbeat_at = ?8, allocations = ?9, pps_user = ?10, pps_kernel = ?11",
			 &st);
	if (err)
		return err;
	db_bind_text(st, 1, n->name);
	db_bind_text(st, 2, n->region);
	db_bind_text(st, 3, n->addresses);
	db_bind_int64(st, 4, n->capacity);
	db_bind_text(st, 5, store_node_state_name(n->state));
	db_bind_text(st, 6, n->version);
	db_bind_int64(st, 7, n->started_at);
	db_bind_int64(st, 8, n->heartbeat_at);
	db_bind_int64(st, 9, (int64_t)n->allocations);
	db_bind_int64(st, 10, (int64_t)n->pps_user);
	db_bind_int64(st, 11, (int64_t)n->pps_kernel);
	return db_run(st);
}

int store_node_foreach(struct nts_store *s, int (*fn)(void *arg, const struct store_node *n),
		       void *arg)
{
	struct store_node n;
	struct db_stmt *st;
	int rc, err = db_prepare(s->db, STORE_NODE_COLUMNS " ORDER BY region, name", &st);

	if (err)
		return err;
	while ((rc = db_step(st)) > 0) {
		store_node_from_row(st, &n);
		if (fn(arg, &n))
			break;
	}
	db_done(st);
	return rc < 0 ? rc : 0;
}

int store_node_delete(struct nts_store *s, const char *name)
{
	struct db_stmt *st;
	int err = db_prepare(s->db, "DELETE FROM nodes WHERE name = ?", &st);

	if (err)
		return err;
	db_bind_text(st, 1, name);
	err = db_step(st);
	if (err == 0 && db_changes(st) == 0)
		err = -ENOENT;
	db_done(st);
	return err > 0 ? -EIO : err;
}

/* --- signing secrets */

/* Inserts secret signing from activates_at; an existing equal secret is left as it is (two nodes
 * seeding the table at once). id (may be NULL) gets the new row's id, 0 when there was none.
 * 0 or -errno. */
static int store_signing_secret_insert(struct nts_store *s, const char *secret,
				       int64_t activates_at, int64_t *id)
{
	struct db_stmt *st;
	int rc, err = db_prepare(s->db,
				 "INSERT INTO signing_secrets (secret, activates_at) VALUES (?, ?)"
				 " ON CONFLICT (secret) DO NOTHING RETURNING id",
				 &st);

	if (err)
		return err;
	db_bind_text(st, 1, secret);
	db_bind_int64(st, 2, activates_at);
	rc = db_step(st);
	if (id)
		*id = rc > 0 ? db_column_int64(st, 0) : 0;
	while (rc > 0)
		rc = db_step(st);
	db_done(st);
	return rc;
}

static int store_signing_secret_count(struct nts_store *s, int64_t *n)
{
	struct db_stmt *st;
	int rc, err = db_prepare(s->db, "SELECT count(*) FROM signing_secrets", &st);

	if (err)
		return err;
	rc = db_step(st);
	if (rc > 0)
		*n = db_column_int64(st, 0);
	db_done(st);
	return rc > 0 ? 0 : rc == 0 ? -EIO : rc;
}

int store_signing_secret_ensure(struct nts_store *s)
{
	char secret[STORE_SECRET_LEN + 1];
	int64_t n = 0;
	int err = store_signing_secret_count(s, &n);

	if (err || n > 0)
		return err;
	err = store_secret_get_or_create(s, secret, sizeof(secret));
	if (!err)
		err = store_signing_secret_insert(s, secret, 0, NULL);
	OPENSSL_cleanse(secret, sizeof(secret));
	return err;
}

int store_signing_secret_foreach(struct nts_store *s,
				 int (*fn)(void *arg, const struct store_signing_secret *k),
				 void *arg)
{
	struct store_signing_secret k;
	struct db_stmt *st;
	int rc, err = db_prepare(s->db,
				 "SELECT id, secret, activates_at, retires_at FROM signing_secrets"
				 " ORDER BY activates_at, id",
				 &st);

	if (err)
		return err;
	while ((rc = db_step(st)) > 0) {
		memset(&k, 0, sizeof(k));
		k.id = db_column_int64(st, 0);
		store_column_text(st, 1, k.secret, sizeof(k.secret));
		k.activates_at = db_column_int64(st, 2);
		k.retires_at = db_column_int64(st, 3); /* NULL reads as 0 */
		rc = fn(arg, &k);
		OPENSSL_cleanse(k.secret, sizeof(k.secret));
		if (rc) {
			rc = 0;
			break;
		}
	}
	db_done(st);
	return rc < 0 ? rc : 0;
}

struct store_secret_rows {
	struct store_signing_secret *v;
	size_t n;
};

/* Rows come oldest activation first: past STORE_SIGNING_SECRETS_MAX the oldest make room. */
static int store_secret_row(void *arg, const struct store_signing_secret *k)
{
	struct store_secret_rows *r = arg;

	if (r->n == STORE_SIGNING_SECRETS_MAX) {
		memmove(r->v, r->v + 1, (STORE_SIGNING_SECRETS_MAX - 1) * sizeof(r->v[0]));
		r->n--;
	}
	r->v[r->n++] = *k;
	return 0;
}

int store_signing_secret_load(struct nts_store *s, struct store_signing_secret *k, size_t *n)
{
	struct store_secret_rows r = {.v = k, .n = 0};
	int err = store_signing_secret_foreach(s, store_secret_row, &r);

	*n = err ? 0 : r.n;
	return err;
}

/* Runs sql with ?1 bound to a and, unless nparams is 1, ?2 to b. 0 or -errno. */
static int store_run2(struct nts_store *s, const char *sql, int nparams, int64_t a, int64_t b)
{
	struct db_stmt *st;
	int err = db_prepare(s->db, sql, &st);

	if (err)
		return err;
	db_bind_int64(st, 1, a);
	if (nparams > 1)
		db_bind_int64(st, 2, b);
	return db_run(st);
}

int store_signing_secret_rotate(struct nts_store *s, int64_t now, int64_t activates_at,
				int64_t retire_after, struct store_signing_secret *out)
{
	char secret[STORE_SECRET_LEN + 1];
	int64_t id = 0;
	int err = store_signing_secret_ensure(s);

	if (!err)
		err = store_random_hex(secret, STORE_SECRET_LEN / 2);
	if (!err)
		err = db_begin(s->db);
	if (err)
		return err;
	err = store_run2(s, "DELETE FROM signing_secrets WHERE retires_at < ?1", 1, now, 0);
	if (!err)
		err = store_run2(s,
				 "UPDATE signing_secrets SET retires_at = ?1 + ?2"
				 " WHERE retires_at IS NULL",
				 2, activates_at, retire_after);
	if (!err)
		err = store_signing_secret_insert(s, secret, activates_at, &id);
	err = err ? err : db_commit(s->db);
	if (err) {
		db_rollback(s->db);
		OPENSSL_cleanse(secret, sizeof(secret));
		return err;
	}
	if (out) {
		memset(out, 0, sizeof(*out));
		out->id = id;
		memcpy(out->secret, secret, sizeof(out->secret));
		out->activates_at = activates_at;
	}
	OPENSSL_cleanse(secret, sizeof(secret));
	return 0;
}

static bool store_signing_secret_live(const struct store_signing_secret *k, int64_t now)
{
	return !k->retires_at || k->retires_at > now;
}

/* a rather than b signs, both activated: the secret no rotation has retired yet (a rotation
 * retires every secret before it, even one that was still to activate), then the newest. */
static bool store_signs_before(const struct store_signing_secret *a,
			       const struct store_signing_secret *b)
{
	if (!a->retires_at != !b->retires_at)
		return !a->retires_at;
	if (a->activates_at != b->activates_at)
		return a->activates_at > b->activates_at;
	return a->id > b->id;
}

static void store_next_change(int64_t *next, int64_t t, int64_t now)
{
	if (t > now && (!*next || t < *next))
		*next = t;
}

size_t store_signing_secret_order(const struct store_signing_secret *k, size_t n, int64_t now,
				  size_t *out, int64_t *next)
{
	size_t signer = n, oldest = n, count = 0;

	*next = 0;
	for (size_t i = 0; i < n; i++) {
		if (k[i].retires_at)
			store_next_change(next, k[i].retires_at, now);
		store_next_change(next, k[i].activates_at, now);
		if (!store_signing_secret_live(&k[i], now))
			continue;
		if (oldest == n || k[i].activates_at < k[oldest].activates_at)
			oldest = i;
		if (k[i].activates_at <= now &&
		    (signer == n || store_signs_before(&k[i], &k[signer])))
			signer = i;
	}
	if (signer == n)
		signer = oldest;
	if (signer == n)
		return 0;
	out[count++] = signer;
	for (size_t i = 0; i < n; i++)
		if (i != signer && store_signing_secret_live(&k[i], now))
			out[count++] = i;
	return count;
}

int store_signing_secret_current(struct nts_store *s, int64_t now, char *out, size_t outlen)
{
	struct store_signing_secret k[STORE_SIGNING_SECRETS_MAX];
	size_t order[STORE_SIGNING_SECRETS_MAX], n = 0;
	int64_t next;
	int err = store_signing_secret_ensure(s);

	if (!err)
		err = store_signing_secret_load(s, k, &n);
	if (!err && store_signing_secret_order(k, n, now, order, &next) == 0)
		err = -ENOENT;
	if (!err && strlen(k[order[0]].secret) >= outlen)
		err = -ENOSPC;
	if (!err)
		strcpy(out, k[order[0]].secret);
	OPENSSL_cleanse(k, sizeof(k));
	return err;
}

/* --- change counter */

int store_change_seq(struct nts_store *s, uint64_t *seq)
{
	struct db_stmt *st;
	int rc, err = db_prepare(s->db, "SELECT seq FROM changes WHERE id = 1", &st);

	if (err)
		return err;
	rc = db_step(st);
	if (rc > 0)
		*seq = (uint64_t)db_column_int64(st, 0);
	db_done(st);
	return rc > 0 ? 0 : rc == 0 ? -EIO : rc;
}

int store_account_foreach_changed(struct nts_store *s, uint64_t seq,
				  int (*fn)(void *arg, const char *sid), void *arg)
{
	struct db_stmt *st;
	int rc, err = db_prepare(s->db,
				 "SELECT sid FROM accounts WHERE change_seq > ?1 OR owner_sid IN"
				 " (SELECT sid FROM accounts WHERE change_seq > ?1)"
				 " ORDER BY change_seq",
				 &st);

	if (err)
		return err;
	db_bind_int64(st, 1, (int64_t)seq);
	while ((rc = db_step(st)) > 0) {
		const char *sid = db_column_text(st, 0);

		if (sid && fn(arg, sid))
			break;
	}
	db_done(st);
	return rc < 0 ? rc : 0;
}
