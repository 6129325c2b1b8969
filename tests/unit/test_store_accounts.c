/* Store: schema migrations, account creation, token hash/verify, suspend, usage, secrets. */
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
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"
#include "store_fixture.h"

struct fixture {
	char dir[64];
	char path[128];
	struct nts_store *s;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/nts-store-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	/* A nested path: store_open() creates the missing parent directory. */
	if (store_fixture_target(f->path, sizeof(f->path), f->dir, "var/nts.db") != 0 ||
	    store_open(f->path, &f->s) != 0)
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

static void test_open_migrates_to_current_schema_with_wal(void **state)
{
	struct fixture *f = *state;
	sqlite3 *db;
	sqlite3_stmt *st;

	assert_int_equal(store_schema_version(f->s), STORE_SCHEMA_VERSION);
	if (store_fixture_pg())
		return; /* WAL is SQLite's */
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static void test_reopen_keeps_data_and_version(void **state)
{
	struct fixture *f = *state;
	struct store_account a, b;
	char token[STORE_TOKEN_LEN + 1];

	assert_int_equal(store_account_create(f->s, "keep", &a, token), 0);
	store_close(f->s);
	assert_int_equal(store_open(f->path, &f->s), 0);
	assert_int_equal(store_schema_version(f->s), STORE_SCHEMA_VERSION);
	assert_int_equal(store_account_get(f->s, a.sid, &b), 0);
	assert_string_equal(b.name, "keep");
}

static void test_migrates_a_version_1_database(void **state)
{
	struct fixture *f = *state;
	char path[160], v[16];
	struct store_account a;
	struct nts_store *s;
	sqlite3 *db;

	if (store_fixture_pg())
		skip(); /* PostgreSQL support came with version 6 */
	/* Build a version-1 file by hand, as an older ntsd left it. */
	snprintf(path, sizeof(path), "%s/old.db", f->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(
		db,
		"CREATE TABLE accounts (sid TEXT PRIMARY KEY, friendly_name TEXT"
		" NOT NULL, token_salt BLOB NOT NULL, token_hash BLOB NOT NULL,"
		" status TEXT NOT NULL, created INTEGER NOT NULL, updated INTEGER"
		" NOT NULL); CREATE TABLE usage (sid TEXT PRIMARY KEY, allocations"
		" INTEGER NOT NULL DEFAULT 0, bytes INTEGER NOT NULL DEFAULT 0,"
		" updated INTEGER NOT NULL); CREATE TABLE secrets (id INTEGER"
		" PRIMARY KEY, secret TEXT NOT NULL, created INTEGER NOT NULL);"
		" INSERT INTO secrets (secret, created) VALUES ('old', 1);"
		" INSERT INTO accounts VALUES ('AC0123456789abcdef0123456789abcdef', 'kept',"
		" x'00', x'00', 'suspended', 1, 2);"
		" PRAGMA user_version = 1;",
		NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(path, &s), 0);
	assert_int_equal(store_schema_version(s), STORE_SCHEMA_VERSION);
	assert_int_equal(store_secret_get_or_create(s, v, sizeof(v)), 0);
	assert_string_equal(v, "old");
	assert_int_equal(store_setting_set(s, "k", "v"), 0);
	/* Version 3 copied the accounts table: rows keep their status, limits start at 0. */
	assert_int_equal(store_account_get(s, "AC0123456789abcdef0123456789abcdef", &a), 0);
	assert_string_equal(a.name, "kept");
	assert_true(a.suspended);
	assert_false(a.closed);
	assert_int_equal(a.max_allocations, 0);
	assert_int_equal(store_account_close(s, a.sid), 0);
	store_close(s);
}

static void test_refuses_a_newer_schema(void **state)
{
	struct fixture *f = *state;
	char path[160];
	struct nts_store *s;
	sqlite3 *db;

	if (store_fixture_pg()) {
		assert_int_equal(store_fixture_exec(f->path, "UPDATE nts_schema SET version = 99"),
				 0);
		assert_int_equal(store_open(f->path, &s), -EPROTO);
		assert_null(s);
		snprintf(path, sizeof(path), "UPDATE nts_schema SET version = %d",
			 STORE_SCHEMA_VERSION);
		assert_int_equal(store_fixture_exec(f->path, path), 0);
		return;
	}
	snprintf(path, sizeof(path), "%s/new.db", f->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(path, &s), -EPROTO);
	assert_null(s);
}

static void test_created_account_has_sid_syntax_and_hex_token(void **state)
{
	struct fixture *f = *state;
	struct store_account a;
	char token[STORE_TOKEN_LEN + 1];

	assert_int_equal(store_account_create(f->s, "Acme", &a, token), 0);
	assert_true(store_sid_valid(a.sid));
	assert_int_equal(strlen(token), STORE_TOKEN_LEN);
	assert_int_equal(strspn(token, "0123456789abcdef"), STORE_TOKEN_LEN);
	assert_string_equal(a.name, "Acme");
	assert_false(a.suspended);
	assert_true(a.created > 1600000000);
}

static void test_two_accounts_get_distinct_sids_and_tokens(void **state)
{
	struct fixture *f = *state;
	struct store_account a, b;
	char ta[STORE_TOKEN_LEN + 1], tb[STORE_TOKEN_LEN + 1];

	assert_int_equal(store_account_create(f->s, "a", &a, ta), 0);
	assert_int_equal(store_account_create(f->s, "b", &b, tb), 0);
	assert_string_not_equal(a.sid, b.sid);
	assert_string_not_equal(ta, tb);
}

/* True when the file at path contains needle. */
static bool file_contains(const char *path, const char *needle)
{
	static char buf[1 << 20];
	FILE *fp = fopen(path, "rb");
	size_t n;

	if (!fp)
		return false;
	n = fread(buf, 1, sizeof(buf), fp);
	fclose(fp);
	return memmem(buf, n, needle, strlen(needle)) != NULL;
}

static void test_token_is_stored_only_as_salted_hash(void **state)
{
	struct fixture *f = *state;
	struct store_account a, b;
	char ta[STORE_TOKEN_LEN + 1], tb[STORE_TOKEN_LEN + 1], wal[160];
	int64_t v[5] = {0};

	assert_int_equal(store_account_create(f->s, "a", &a, ta), 0);
	assert_int_equal(store_account_create(f->s, "b", &b, tb), 0);
	if (!store_fixture_pg()) {
		/* Neither the database nor its WAL holds the token text; the sid is there (the
		 * check itself works). */
		snprintf(wal, sizeof(wal), "%s-wal", f->path);
		assert_true(file_contains(f->path, a.sid) || file_contains(wal, a.sid));
		assert_false(file_contains(f->path, ta) || file_contains(wal, ta));
		assert_false(file_contains(f->path, tb) || file_contains(wal, tb));
	}
	/* A 16-byte salt per account and a 32-byte hash, in either engine. */
	assert_int_equal(
	    store_fixture_sql(f->path,
			      "SELECT count(DISTINCT token_salt), min(length(token_salt)),"
			      " max(length(token_salt)), min(length(token_hash)),"
			      " max(length(token_hash)) FROM accounts",
			      NULL, NULL, v, 5),
	    0);
	assert_int_equal(v[0], 2);
	assert_int_equal(v[1], 16);
	assert_int_equal(v[2], 16);
	assert_int_equal(v[3], 32);
	assert_int_equal(v[4], 32);
}

static void test_verify_accepts_right_token_only(void **state)
{
	struct fixture *f = *state;
	struct store_account a, got;
	char token[STORE_TOKEN_LEN + 1], wrong[STORE_TOKEN_LEN + 1];

	assert_int_equal(store_account_create(f->s, "v", &a, token), 0);
	assert_int_equal(store_account_verify(f->s, a.sid, token, &got), 0);
	assert_string_equal(got.sid, a.sid);
	strcpy(wrong, token);
	wrong[0] = wrong[0] == '0' ? '1' : '0';
	assert_int_equal(store_account_verify(f->s, a.sid, wrong, NULL), -EACCES);
	assert_int_equal(store_account_verify(f->s, a.sid, "", NULL), -EACCES);
	assert_int_equal(
	    store_account_verify(f->s, "AC00000000000000000000000000000000", token, NULL), -EACCES);
	assert_int_equal(store_account_verify(f->s, "not-a-sid", token, NULL), -EACCES);
}

static void test_suspend_and_activate_change_status(void **state)
{
	struct fixture *f = *state;
	struct store_account a, got;
	char token[STORE_TOKEN_LEN + 1];

	assert_int_equal(store_account_create(f->s, "s", &a, token), 0);
	assert_int_equal(store_account_set_suspended(f->s, a.sid, true), 0);
	assert_int_equal(store_account_get(f->s, a.sid, &got), 0);
	assert_true(got.suspended);
	/* A suspended account still authenticates; callers decide what it may do. */
	assert_int_equal(store_account_verify(f->s, a.sid, token, &got), 0);
	assert_true(got.suspended);
	assert_int_equal(store_account_set_suspended(f->s, a.sid, false), 0);
	assert_int_equal(store_account_get(f->s, a.sid, &got), 0);
	assert_false(got.suspended);
	assert_int_equal(
	    store_account_set_suspended(f->s, "AC00000000000000000000000000000000", true), -ENOENT);
}

/* Closing is for good: the account stays closed (and not active) whatever activate says. */
static void test_closed_account_cannot_be_activated(void **state)
{
	struct fixture *f = *state;
	struct store_account a, got;
	char token[STORE_TOKEN_LEN + 1];

	assert_int_equal(store_account_create(f->s, "c", &a, token), 0);
	assert_int_equal(store_account_close(f->s, a.sid), 0);
	assert_int_equal(store_account_get(f->s, a.sid, &got), 0);
	assert_true(got.closed);
	assert_true(got.suspended);
	assert_int_equal(store_account_set_suspended(f->s, a.sid, false), -EPERM);
	assert_int_equal(store_account_get(f->s, a.sid, &got), 0);
	assert_true(got.closed);
	assert_int_equal(store_account_close(f->s, "AC00000000000000000000000000000000"), -ENOENT);
}

/* Per-account limits are kept; a negative value leaves that limit alone; 0 means the default. */
static void test_account_limits_are_stored(void **state)
{
	struct fixture *f = *state;
	struct store_account a, got;
	char token[STORE_TOKEN_LEN + 1];

	assert_int_equal(store_account_create(f->s, "l", &a, token), 0);
	assert_int_equal(store_account_get(f->s, a.sid, &got), 0);
	assert_int_equal(got.max_allocations, 0);
	assert_int_equal(store_account_set_limits(f->s, a.sid, 250, -1), 0);
	assert_int_equal(store_account_set_limits(f->s, a.sid, -1, 5000000), 0);
	store_close(f->s);
	assert_int_equal(store_open(f->path, &f->s), 0);
	assert_int_equal(store_account_get(f->s, a.sid, &got), 0);
	assert_int_equal(got.max_allocations, 250);
	assert_int_equal(got.max_bps, 5000000);
	assert_int_equal(store_account_set_limits(f->s, a.sid, 1LL << 33, -1), -EINVAL);
	assert_int_equal(
	    store_account_set_limits(f->s, "AC00000000000000000000000000000000", 1, -1), -ENOENT);
}

static void test_bad_names_are_refused(void **state)
{
	struct fixture *f = *state;
	char token[STORE_TOKEN_LEN + 1], longname[STORE_NAME_MAX + 8];

	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(store_account_create(f->s, "", NULL, token), -EINVAL);
	assert_int_equal(store_account_create(f->s, "a\nb", NULL, token), -EINVAL);
	assert_int_equal(store_account_create(f->s, longname, NULL, token), -EINVAL);
}

static int count_accounts(void *arg, const struct store_account *a)
{
	(*(int *)arg)++;
	return 0;
}

static void test_foreach_lists_every_account(void **state)
{
	struct fixture *f = *state;
	char token[STORE_TOKEN_LEN + 1];
	int n = 0;

	for (int i = 0; i < 3; i++)
		assert_int_equal(store_account_create(f->s, "x", NULL, token), 0);
	assert_int_equal(store_account_foreach(f->s, count_accounts, &n), 0);
	assert_int_equal(n, 3);
}

static void test_secret_is_created_once_and_kept(void **state)
{
	struct fixture *f = *state;
	char a[STORE_SECRET_LEN + 1], b[STORE_SECRET_LEN + 1];

	assert_int_equal(store_secret_get_or_create(f->s, a, sizeof(a)), 0);
	assert_int_equal(strlen(a), STORE_SECRET_LEN);
	store_close(f->s);
	assert_int_equal(store_open(f->path, &f->s), 0);
	assert_int_equal(store_secret_get_or_create(f->s, b, sizeof(b)), 0);
	assert_string_equal(a, b);
	assert_int_equal(store_secret_get_or_create(f->s, b, 8), -ENOSPC);
}

static void test_settings_round_trip(void **state)
{
	struct fixture *f = *state;
	char v[32];

	assert_int_equal(store_setting_get(f->s, "ice", v, sizeof(v)), -ENOENT);
	assert_int_equal(store_setting_set(f->s, "ice", "one"), 0);
	assert_int_equal(store_setting_set(f->s, "ice", "two"), 0);
	assert_int_equal(store_setting_get(f->s, "ice", v, sizeof(v)), 0);
	assert_string_equal(v, "two");
}

static void test_sid_syntax(void **state)
{
	assert_true(store_sid_valid("AC0123456789abcdef0123456789abcdef"));
	assert_false(store_sid_valid("AC0123456789ABCDEF0123456789abcdef"));
	assert_false(store_sid_valid("AB0123456789abcdef0123456789abcdef"));
	assert_false(store_sid_valid("AC0123456789abcdef0123456789abcde"));
	assert_false(store_sid_valid("AC0123456789abcdef0123456789abcdef0"));
	assert_false(store_sid_valid(NULL));
}

/* The database holds the signing secret and token hashes: it and its -wal/-shm files are 0600 from
 * creation, whatever the umask of the process opening it (ntsctl's may be 022). */
static void test_database_and_wal_files_are_private_from_creation(void **state)
{
	char dir[] = "/tmp/nts-store-mode-XXXXXX", path[128], side[160], cmd[160];
	const char *suffix[] = {"", "-wal", "-shm"};
	struct nts_store *s;
	struct stat st;
	mode_t old;

	if (store_fixture_pg())
		skip(); /* files are SQLite's */
	old = umask(022);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/nts.db", dir);
	assert_int_equal(store_open(path, &s), 0);
	umask(old);
	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		snprintf(side, sizeof(side), "%s%s", path, suffix[i]);
		assert_int_equal(stat(side, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
	}
	store_close(s);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_open_migrates_to_current_schema_with_wal, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_reopen_keeps_data_and_version, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_migrates_a_version_1_database, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refuses_a_newer_schema, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_created_account_has_sid_syntax_and_hex_token,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_two_accounts_get_distinct_sids_and_tokens, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_token_is_stored_only_as_salted_hash, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_verify_accepts_right_token_only, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_suspend_and_activate_change_status, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_bad_names_are_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_foreach_lists_every_account, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_secret_is_created_once_and_kept, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_settings_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_closed_account_cannot_be_activated, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_account_limits_are_stored, setup, teardown),
	    cmocka_unit_test(test_sid_syntax),
	    cmocka_unit_test(test_database_and_wal_files_are_private_from_creation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
