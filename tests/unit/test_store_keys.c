/* Store: subaccounts (owner, one level, closing and suspension of the master), the filtered and
 * paged account listing, and API keys (secret shown once, kept hashed, verified, listed, renamed,
 * deleted).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store_fixture.h"

struct fixture {
	char dir[64];
	char path[128];
	struct nts_store *s;
	struct store_account master;
	char token[STORE_TOKEN_LEN + 1];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/nts-keys-XXXXXX");
	if (!f || !mkdtemp(f->dir))
		return -1;
	if (store_fixture_target(f->path, sizeof(f->path), f->dir, "nts.db") != 0 ||
	    store_open(f->path, &f->s) != 0 ||
	    store_account_create(f->s, "master", &f->master, f->token) != 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	int rc = store_fixture_cleanup(f->s, f->dir);

	free(f);
	return rc;
}

/* Collects the sids a listing gives, in order, joined by spaces. */
struct sids {
	char text[1024];
	unsigned n;
};

static int collect_account(void *arg, const struct store_account *a)
{
	struct sids *l = arg;

	snprintf(l->text + strlen(l->text), sizeof(l->text) - strlen(l->text), "%s%s",
		 l->n++ ? " " : "", a->sid);
	return 0;
}

static int collect_key(void *arg, const struct store_key *k)
{
	struct sids *l = arg;

	snprintf(l->text + strlen(l->text), sizeof(l->text) - strlen(l->text), "%s%s",
		 l->n++ ? " " : "", k->sid);
	return 0;
}

static void join(char *out, size_t len, const char *a, const char *b, const char *c)
{
	snprintf(out, len, "%s%s%s%s%s", a, b ? " " : "", b ? b : "", c ? " " : "", c ? c : "");
}

static void test_subaccount_records_its_master(void **state)
{
	struct fixture *f = *state;
	char token[STORE_TOKEN_LEN + 1];
	struct store_account sub, got;

	assert_int_equal(store_subaccount_create(f->s, f->master.sid, "sub", &sub, token), 0);
	assert_true(store_sid_valid(sub.sid));
	assert_string_equal(sub.owner, f->master.sid);
	assert_int_equal(store_account_get(f->s, sub.sid, &got), 0);
	assert_string_equal(got.owner, f->master.sid);
	assert_false(got.owner_suspended);
	assert_int_equal(store_account_get(f->s, f->master.sid, &got), 0);
	assert_string_equal(got.owner, ""); /* a master has none */
	/* The subaccount authenticates with its own AuthToken. */
	assert_int_equal(store_account_verify(f->s, sub.sid, token, NULL), 0);
}

static void test_subaccounts_have_no_subaccounts(void **state)
{
	struct fixture *f = *state;
	char token[STORE_TOKEN_LEN + 1];
	struct store_account sub, nested;

	assert_int_equal(store_subaccount_create(f->s, f->master.sid, "sub", &sub, token), 0);
	assert_int_equal(store_subaccount_create(f->s, sub.sid, "nested", &nested, token), -EMLINK);
	assert_int_equal(store_subaccount_create(f->s, "AC00000000000000000000000000000000", "x",
						 &nested, token),
			 -ENOENT);
	assert_int_equal(store_subaccount_create(f->s, "nonsense", "x", &nested, token), -ENOENT);
}

static void test_closed_master_gets_no_subaccounts(void **state)
{
	struct fixture *f = *state;
	char token[STORE_TOKEN_LEN + 1];
	struct store_account sub;

	assert_int_equal(store_account_close(f->s, f->master.sid), 0);
	assert_int_equal(store_subaccount_create(f->s, f->master.sid, "late", &sub, token), -EPERM);
}

static void test_closing_a_master_closes_its_subaccounts_only(void **state)
{
	struct fixture *f = *state;
	char token[STORE_TOKEN_LEN + 1];
	struct store_account sub, other, got;

	assert_int_equal(store_subaccount_create(f->s, f->master.sid, "sub", &sub, token), 0);
	assert_int_equal(store_account_create(f->s, "other", &other, token), 0);
	assert_int_equal(store_account_close(f->s, f->master.sid), 0);
	assert_int_equal(store_account_get(f->s, sub.sid, &got), 0);
	assert_true(got.closed);
	assert_string_equal(store_account_status_name(&got), "closed");
	assert_int_equal(store_account_get(f->s, other.sid, &got), 0);
	assert_false(got.suspended);
}

static void test_suspended_master_marks_its_subaccounts(void **state)
{
	struct fixture *f = *state;
	char token[STORE_TOKEN_LEN + 1];
	struct store_account sub, got;

	assert_int_equal(store_subaccount_create(f->s, f->master.sid, "sub", &sub, token), 0);
	assert_int_equal(store_account_set_suspended(f->s, f->master.sid, true), 0);
	assert_int_equal(store_account_get(f->s, sub.sid, &got), 0);
	/* Its own status stays: it comes back with its master. */
	assert_false(got.suspended);
	assert_true(got.owner_suspended);
	assert_int_equal(store_account_set_suspended(f->s, f->master.sid, false), 0);
	assert_int_equal(store_account_get(f->s, sub.sid, &got), 0);
	assert_false(got.owner_suspended);
}

static void test_listing_filters_by_family_name_and_status(void **state)
{
	struct fixture *f = *state;
	char token[STORE_TOKEN_LEN + 1], want[256];
	struct store_account a, b, other;
	struct store_account_filter flt = {.family = f->master.sid, .limit = 10};
	struct sids l = {"", 0};

	assert_int_equal(store_subaccount_create(f->s, f->master.sid, "a", &a, token), 0);
	assert_int_equal(store_subaccount_create(f->s, f->master.sid, "b", &b, token), 0);
	assert_int_equal(store_account_create(f->s, "a", &other, token), 0);
	assert_int_equal(store_account_list(f->s, &flt, collect_account, &l), 0);
	join(want, sizeof(want), f->master.sid, a.sid, b.sid);
	assert_string_equal(l.text, want); /* another master is not of the family */

	flt.name = "a";
	l = (struct sids){"", 0};
	assert_int_equal(store_account_list(f->s, &flt, collect_account, &l), 0);
	assert_string_equal(l.text, a.sid);

	flt.name = NULL;
	flt.status = STORE_STATUS_SUSPENDED;
	assert_int_equal(store_account_set_suspended(f->s, b.sid, true), 0);
	l = (struct sids){"", 0};
	assert_int_equal(store_account_list(f->s, &flt, collect_account, &l), 0);
	assert_string_equal(l.text, b.sid);

	flt.family = NULL; /* the operator's view: every account */
	flt.status = STORE_STATUS_ANY;
	l = (struct sids){"", 0};
	assert_int_equal(store_account_list(f->s, &flt, collect_account, &l), 0);
	assert_int_equal(l.n, 4);
}

static void test_listing_pages_by_offset_and_by_last_sid(void **state)
{
	struct fixture *f = *state;
	char token[STORE_TOKEN_LEN + 1];
	struct store_account a, b;
	struct store_account_filter flt = {.family = f->master.sid, .limit = 1, .offset = 1};
	struct sids l = {"", 0};

	assert_int_equal(store_subaccount_create(f->s, f->master.sid, "a", &a, token), 0);
	assert_int_equal(store_subaccount_create(f->s, f->master.sid, "b", &b, token), 0);
	assert_int_equal(store_account_list(f->s, &flt, collect_account, &l), 0);
	assert_string_equal(l.text, a.sid);
	flt.offset = 0;
	flt.after = a.sid;
	l = (struct sids){"", 0};
	assert_int_equal(store_account_list(f->s, &flt, collect_account, &l), 0);
	assert_string_equal(l.text, b.sid);
	flt.after = b.sid;
	l = (struct sids){"", 0};
	assert_int_equal(store_account_list(f->s, &flt, collect_account, &l), 0);
	assert_int_equal(l.n, 0);
	flt.after = "AC00000000000000000000000000000000";
	assert_int_equal(store_account_list(f->s, &flt, collect_account, &l), -ENOENT);
	flt.after = NULL;
	flt.limit = 0;
	assert_int_equal(store_account_list(f->s, &flt, collect_account, &l), -EINVAL);
	flt.limit = STORE_PAGE_MAX + 1;
	assert_int_equal(store_account_list(f->s, &flt, collect_account, &l), -EINVAL);
}

static void test_account_rename(void **state)
{
	struct fixture *f = *state;
	struct store_account got;

	assert_int_equal(store_account_rename(f->s, f->master.sid, "new name"), 0);
	assert_int_equal(store_account_get(f->s, f->master.sid, &got), 0);
	assert_string_equal(got.name, "new name");
	assert_int_equal(store_account_rename(f->s, f->master.sid, ""), -EINVAL);
	assert_int_equal(store_account_rename(f->s, f->master.sid, "bad\nname"), -EINVAL);
	assert_int_equal(store_account_rename(f->s, "AC00000000000000000000000000000000", "x"),
			 -ENOENT);
}

static void test_key_secret_verifies_once_created(void **state)
{
	struct fixture *f = *state;
	char secret[STORE_KEY_SECRET_LEN + 1];
	struct store_key k, got;

	assert_int_equal(store_key_create(f->s, f->master.sid, "web", &k, secret), 0);
	assert_true(store_key_sid_valid(k.sid));
	assert_int_equal(strlen(secret), STORE_KEY_SECRET_LEN);
	assert_string_equal(k.account, f->master.sid);
	assert_int_equal(store_key_verify(f->s, k.sid, secret, &got), 0);
	assert_string_equal(got.account, f->master.sid);
	assert_string_equal(got.name, "web");
	secret[0] = secret[0] == '0' ? '1' : '0';
	assert_int_equal(store_key_verify(f->s, k.sid, secret, NULL), -EACCES);
}

static void test_unknown_or_malformed_key_sids_get_eacces(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(store_key_verify(f->s, "SK00000000000000000000000000000000", "x", NULL),
			 -EACCES);
	assert_int_equal(store_key_verify(f->s, "SKnothex", "x", NULL), -EACCES);
	assert_int_equal(store_key_verify(f->s, f->master.sid, f->token, NULL), -EACCES);
	assert_int_equal(store_key_verify(f->s, NULL, "x", NULL), -EACCES);
}

static void test_key_secret_is_kept_only_as_a_salted_hash(void **state)
{
	struct fixture *f = *state;
	char secret[STORE_KEY_SECRET_LEN + 1], secret2[STORE_KEY_SECRET_LEN + 1];
	struct store_key k, k2;
	sqlite3_stmt *st;
	sqlite3 *db;
	int rows = 0;
	int64_t v[2] = {-1, -1};

	assert_int_equal(store_key_create(f->s, f->master.sid, "a", &k, secret), 0);
	assert_int_equal(store_key_create(f->s, f->master.sid, "b", &k2, secret2), 0);
	assert_string_not_equal(secret, secret2);
	if (store_fixture_pg()) {
		assert_int_equal(
		    store_fixture_sql(f->path,
				      "SELECT count(*) FROM api_keys WHERE"
				      " strpos(encode(secret_hash, 'escape'), $1) > 0 OR"
				      " strpos(friendly_name, $1) > 0 OR length(secret_salt) != 16"
				      " OR length(secret_hash) != 32",
				      secret, NULL, v, 1),
		    0);
		assert_int_equal(
		    store_fixture_sql(f->path, "SELECT count(DISTINCT secret_salt) FROM api_keys",
				      NULL, NULL, v + 1, 1),
		    0);
		assert_int_equal(v[0], 0);
		assert_int_equal(v[1], 2); /* a salt per key */
		return;
	}
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(
	    sqlite3_prepare_v2(db,
			       "SELECT count(*) FROM api_keys WHERE"
			       " instr(CAST(secret_hash AS TEXT), ?1) > 0 OR"
			       " instr(friendly_name, ?1) > 0 OR length(secret_salt) != 16"
			       " OR length(secret_hash) != 32",
			       -1, &st, NULL),
	    SQLITE_OK);
	sqlite3_bind_text(st, 1, secret, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	rows = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(DISTINCT secret_salt) FROM api_keys",
					    -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 2); /* a salt per key */
	sqlite3_finalize(st);
	sqlite3_close(db);
	assert_int_equal(rows, 0);
}

static void test_keys_list_rename_and_delete(void **state)
{
	struct fixture *f = *state;
	char secret[STORE_KEY_SECRET_LEN + 1], want[128];
	struct store_key a, b, got;
	struct store_account other;
	char token[STORE_TOKEN_LEN + 1];
	struct sids l = {"", 0};

	assert_int_equal(store_key_create(f->s, f->master.sid, NULL, &a, secret), 0);
	assert_string_equal(a.name, ""); /* a key may have no name */
	assert_int_equal(store_key_create(f->s, f->master.sid, "b", &b, secret), 0);
	assert_int_equal(store_account_create(f->s, "other", &other, token), 0);
	assert_int_equal(store_key_create(f->s, other.sid, "theirs", &got, secret), 0);
	assert_int_equal(store_key_list(f->s, f->master.sid, NULL, 0, 10, collect_key, &l), 0);
	join(want, sizeof(want), a.sid, b.sid, NULL);
	assert_string_equal(l.text, want);
	l = (struct sids){"", 0};
	assert_int_equal(store_key_list(f->s, f->master.sid, a.sid, 0, 10, collect_key, &l), 0);
	assert_string_equal(l.text, b.sid);
	/* Another account's key is no page token here. */
	assert_int_equal(store_key_list(f->s, f->master.sid, got.sid, 0, 10, collect_key, &l),
			 -ENOENT);

	assert_int_equal(store_key_rename(f->s, a.sid, "renamed"), 0);
	assert_int_equal(store_key_get(f->s, a.sid, &got), 0);
	assert_string_equal(got.name, "renamed");
	assert_int_equal(store_key_rename(f->s, a.sid, "bad\x01"), -EINVAL);
	assert_int_equal(store_key_delete(f->s, a.sid), 0);
	assert_int_equal(store_key_get(f->s, a.sid, &got), -ENOENT);
	assert_int_equal(store_key_delete(f->s, a.sid), -ENOENT);
	assert_int_equal(store_key_verify(f->s, a.sid, secret, NULL), -EACCES);
}

static void test_key_of_unknown_account_gets_enoent(void **state)
{
	struct fixture *f = *state;
	char secret[STORE_KEY_SECRET_LEN + 1];
	struct store_key k;

	assert_int_equal(
	    store_key_create(f->s, "AC00000000000000000000000000000000", "x", &k, secret), -ENOENT);
	assert_int_equal(store_key_create(f->s, "garbage", "x", &k, secret), -ENOENT);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_subaccount_records_its_master),
	    T(test_subaccounts_have_no_subaccounts),
	    T(test_closed_master_gets_no_subaccounts),
	    T(test_closing_a_master_closes_its_subaccounts_only),
	    T(test_suspended_master_marks_its_subaccounts),
	    T(test_listing_filters_by_family_name_and_status),
	    T(test_listing_pages_by_offset_and_by_last_sid),
	    T(test_account_rename),
	    T(test_key_secret_verifies_once_created),
	    T(test_unknown_or_malformed_key_sids_get_eacces),
	    T(test_key_secret_is_kept_only_as_a_salted_hash),
	    T(test_keys_list_rename_and_delete),
	    T(test_key_of_unknown_account_gets_enoent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
