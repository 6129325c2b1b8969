/* The store's database layer (user/store/db.h) on either engine: parameters and columns of every
 * type, statements kept and reused, a nested use of one statement, transactions, errors as -errno,
 * and the PostgreSQL dialect of the migration steps. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/db.h"
#include "store_fixture.h"

struct fixture {
	char dir[64];
	char target[256];
	struct db *db;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char *sql;

	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/nts-store-db-XXXXXX");
	if (!mkdtemp(f->dir) ||
	    store_fixture_target(f->target, sizeof(f->target), f->dir, "db.sqlite") != 0 ||
	    db_open(f->target, &f->db) != 0)
		return -1;
	sql = db_dialect_sql(f->db, "CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER, b BLOB)");
	if (!sql || db_exec(f->db, sql) != 0)
		return -1;
	free(sql);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	db_close(f->db);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static const char insert_sql[] = "INSERT INTO t (k, n, b) VALUES (?, ?, ?)";
static const char select_sql[] = "SELECT k, n, b FROM t WHERE n >= ?1 ORDER BY n";

static int insert(struct db *db, const char *k, int64_t n, const void *b, size_t len)
{
	struct db_stmt *st;
	int err = db_prepare(db, insert_sql, &st);

	if (err)
		return err;
	db_bind_text(st, 1, k);
	db_bind_int64(st, 2, n);
	if (b)
		db_bind_blob(st, 3, b, len);
	else
		db_bind_text(st, 3, NULL); /* PostgreSQL: a NULL bytea once the statement had one */
	return db_run(st);
}

static void test_parameters_and_columns_round_trip_every_type(void **state)
{
	struct fixture *f = *state;
	static const uint8_t blob[] = {0, 1, 0xff, '\\', 'x', 0};
	struct db_stmt *st;
	const void *p;
	size_t len;

	assert_int_equal(insert(f->db, "a'?b", INT64_MIN + 1, blob, sizeof(blob)), 0);
	assert_int_equal(insert(f->db, "null blob", INT64_MAX, NULL, 0), 0);
	assert_int_equal(db_prepare(f->db, select_sql, &st), 0);
	db_bind_int64(st, 1, INT64_MIN + 1);
	assert_int_equal(db_step(st), 1);
	assert_string_equal(db_column_text(st, 0), "a'?b"); /* no placeholder in a parameter */
	assert_true(db_column_int64(st, 1) == INT64_MIN + 1);
	p = db_column_blob(st, 2, &len);
	assert_int_equal(len, sizeof(blob));
	assert_memory_equal(p, blob, sizeof(blob));
	assert_int_equal(db_step(st), 1);
	assert_true(db_column_int64(st, 1) == INT64_MAX);
	assert_null(db_column_text(st, 2));
	assert_null(db_column_blob(st, 2, &len));
	assert_int_equal(len, 0);
	assert_int_equal(db_step(st), 0);
	db_done(st);
}

static void test_a_statement_is_kept_and_a_nested_use_gets_its_own(void **state)
{
	struct fixture *f = *state;
	struct db_stmt *outer, *inner, *again;
	int rows = 0;

	for (int i = 0; i < 3; i++) {
		char k[8];

		snprintf(k, sizeof(k), "k%d", i);
		assert_int_equal(insert(f->db, k, i, "x", 1), 0);
	}
	assert_int_equal(db_prepare(f->db, select_sql, &outer), 0);
	db_bind_int64(outer, 1, 0);
	while (db_step(outer) > 0) {
		/* The same SQL while outer is in use: another statement, its own rows. */
		assert_int_equal(db_prepare(f->db, select_sql, &inner), 0);
		assert_ptr_not_equal(inner, outer);
		db_bind_int64(inner, 1, 2);
		assert_int_equal(db_step(inner), 1);
		assert_string_equal(db_column_text(inner, 0), "k2");
		db_done(inner);
		rows++;
	}
	assert_int_equal(rows, 3);
	db_done(outer);
	assert_int_equal(db_prepare(f->db, select_sql, &again), 0);
	assert_ptr_equal(again, outer); /* kept, reused */
	db_done(again);
}

static void test_changes_count_the_rows_an_update_touched(void **state)
{
	struct fixture *f = *state;
	static const char sql[] = "UPDATE t SET n = n + 1 WHERE k != ?";
	struct db_stmt *st;

	assert_int_equal(insert(f->db, "a", 1, "a", 1), 0);
	assert_int_equal(insert(f->db, "b", 2, "b", 1), 0);
	assert_int_equal(db_prepare(f->db, sql, &st), 0);
	db_bind_text(st, 1, "zzz");
	assert_int_equal(db_step(st), 0);
	assert_int_equal(db_changes(st), 2);
	db_done(st);
}

static void test_rollback_discards_and_commit_keeps(void **state)
{
	struct fixture *f = *state;
	int64_t n = -1;

	assert_int_equal(db_begin(f->db), 0);
	assert_int_equal(insert(f->db, "gone", 1, "g", 1), 0);
	db_rollback(f->db);
	assert_int_equal(db_begin(f->db), 0);
	assert_int_equal(db_batch_begin(f->db), 0);
	assert_int_equal(insert(f->db, "kept", 2, "k", 1), 0);
	assert_int_equal(insert(f->db, "kept too", 3, "k", 1), 0);
	assert_int_equal(db_batch_end(f->db), 0);
	assert_int_equal(db_commit(f->db), 0);
	assert_int_equal(store_fixture_sql(f->target, "SELECT count(*) FROM t WHERE k != 'gone'",
					   NULL, NULL, &n, 1),
			 0);
	assert_int_equal(n, 2);
}

static void test_a_duplicate_key_is_eexist_and_fails_its_batch(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(insert(f->db, "dup", 1, "d", 1), 0);
	assert_int_equal(insert(f->db, "dup", 2, "d", 1), -EEXIST);
	assert_int_equal(db_begin(f->db), 0);
	assert_int_equal(db_batch_begin(f->db), 0);
	/* SQLite reports it at once, PostgreSQL at the end of the batch. */
	if (insert(f->db, "dup", 3, "d", 1) == 0)
		assert_int_equal(db_batch_end(f->db), -EEXIST);
	else
		assert_int_equal(db_batch_end(f->db), 0);
	db_rollback(f->db);
	assert_int_equal(insert(f->db, "after", 4, "a", 1), 0); /* statements still work */
}

static void test_migration_steps_take_the_postgresql_types(void **state)
{
	struct fixture *f = *state;
	char *sql =
	    db_dialect_sql(f->db, "CREATE TABLE x (id INTEGER PRIMARY KEY, n INTEGER,"
				  " b BLOB, s TEXT DEFAULT 'INTEGER BLOB', bigint_col INTEGER)");

	assert_non_null(sql);
	if (db_dialect(f->db) == DB_POSTGRES)
		assert_string_equal(sql,
				    "CREATE TABLE x (id BIGSERIAL PRIMARY KEY, n BIGINT,"
				    " b BYTEA, s TEXT DEFAULT 'INTEGER BLOB', bigint_col BIGINT)");
	else
		assert_string_equal(sql,
				    "CREATE TABLE x (id INTEGER PRIMARY KEY, n INTEGER,"
				    " b BLOB, s TEXT DEFAULT 'INTEGER BLOB', bigint_col INTEGER)");
	free(sql);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int count_rows(struct db *db)
{
	static const char sql[] = "SELECT count(*) FROM t";
	struct db_stmt *st;
	int rc = db_prepare(db, sql, &st);

	if (rc)
		return rc;
	rc = db_step(st);
	db_done(st);
	return rc < 0 ? rc : 0;
}

static void test_a_server_that_stops_answering_costs_one_wait_then_reconnects(void **state)
{
	struct fixture *f = *state;
	int64_t pid = 0;
	uint64_t t0, took;
	int rc = -1;

	if (!store_fixture_pg())
		skip(); /* a server process */
	assert_int_equal(count_rows(f->db), 0);
	assert_int_equal(store_fixture_sql(f->target,
					   "SELECT pid FROM pg_stat_activity WHERE application_name"
					   " = 'ntsd' AND pid != pg_backend_pid()",
					   NULL, NULL, &pid, 1),
			 0);
	assert_true(pid > 0);
	/* The server process of this connection freezes: TCP still acknowledges, nothing answers.
	 */
	assert_int_equal(kill((pid_t)pid, SIGSTOP), 0);
	t0 = now_ms();
	rc = count_rows(f->db);
	took = now_ms() - t0;
	kill((pid_t)pid, SIGCONT);
	assert_int_equal(rc, -ETIMEDOUT);
	assert_true(took >= 2500 && took < 6000);
	/* The connection is given up: later calls reconnect (not blocking more than a slice). */
	for (int i = 0; i < 500 && (rc = count_rows(f->db)) != 0; i++) {
		t0 = now_ms();
		assert_int_equal(rc, -ENOTCONN);
		assert_true(now_ms() - t0 < 500);
		usleep(10000);
	}
	assert_int_equal(rc, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_parameters_and_columns_round_trip_every_type,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_a_statement_is_kept_and_a_nested_use_gets_its_own,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_changes_count_the_rows_an_update_touched, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_rollback_discards_and_commit_keeps, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_a_duplicate_key_is_eexist_and_fails_its_batch,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_migration_steps_take_the_postgresql_types, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(
		test_a_server_that_stops_answering_costs_one_wait_then_reconnects, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
