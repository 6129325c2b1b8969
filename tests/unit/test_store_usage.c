/* Store: usage per account and UTC day, its totals, allocation-seconds split at midnight, kernel
 * counter marks written with the usage they account for, subaccount roll-up, calendar days, and
 * flushes whose COMMIT goes unanswered (db_commit is wrapped: -Wl,--wrap=db_commit in the
 * Makefile). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/db.h"
#include "store/store.h"
#include "store_fixture.h"

#define DAY_MS 86400000ull

/* The next db_commit(): LOSE_NONE runs as it is; LOSE_AFTER commits, then fails as if the answer
 * were lost (on PostgreSQL the connection is cut too); LOSE_BEFORE rolls back and fails the same
 * way. */
static enum { LOSE_NONE, LOSE_AFTER, LOSE_BEFORE } lose_commit;
static const char *lose_target;
int __real_db_commit(struct db *db);
int __wrap_db_commit(struct db *db);

int __wrap_db_commit(struct db *db)
{
	int rc;

	if (lose_commit == LOSE_NONE)
		return __real_db_commit(db);
	if (lose_commit == LOSE_AFTER) {
		rc = __real_db_commit(db);
		assert_int_equal(rc, 0);
	} else {
		db_rollback(db);
	}
	lose_commit = LOSE_NONE;
	if (store_fixture_pg())
		assert_int_equal(store_fixture_exec(lose_target,
						    "SELECT pg_terminate_backend(pid)"
						    " FROM pg_stat_activity WHERE application_name"
						    " = 'ntsd' AND pid != pg_backend_pid()"),
				 0);
	return store_fixture_pg() ? -ENOTCONN : -EIO;
}

struct fixture {
	char dir[64];
	char path[128];
	struct nts_store *s;
	struct store_account a;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char token[STORE_TOKEN_LEN + 1];

	strcpy(f->dir, "/tmp/nts-store-usage-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	if (store_fixture_target(f->path, sizeof(f->path), f->dir, "nts.db") != 0 ||
	    store_open(f->path, &f->s) != 0 || store_account_create(f->s, "u", &f->a, token) != 0)
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

/* Reads one usage_daily row of sid on day through a second connection. */
static struct store_usage row_of(struct fixture *f, const char *sid, const char *day)
{
	struct store_usage u = {0};
	int64_t v[4] = {0};

	assert_int_equal(store_fixture_sql(f->path,
					   "SELECT bytes_to_peer, bytes_to_client, allocations,"
					   " allocation_seconds FROM usage_daily"
					   " WHERE sid = $1 AND day = $2 AND region = ''",
					   sid, day, v, 4),
			 0);
	u.bytes_to_peer = (uint64_t)v[0];
	u.bytes_to_client = (uint64_t)v[1];
	u.allocations = (uint64_t)v[2];
	u.allocation_seconds = (uint64_t)v[3];
	return u;
}

static void test_days_format_and_parse_as_the_gregorian_calendar(void **state)
{
	char t[STORE_DAY_LEN + 1];
	int64_t d;

	assert_string_equal(store_day_fmt(0, t), "1970-01-01");
	assert_string_equal(store_day_fmt(20792, t), "2026-12-05");
	assert_int_equal(store_day_parse("2026-12-05", &d), 0);
	assert_int_equal(d, 20792);
	assert_int_equal(store_day_parse("2024-02-29", &d), 0); /* leap year */
	assert_string_equal(store_day_fmt(d + 1, t), "2024-03-01");
	assert_int_equal(store_day_parse("2000-02-29", &d), 0); /* divisible by 400 */
	assert_int_equal(store_day_parse("1900-02-29", &d), -EINVAL);
	assert_int_equal(store_day_parse("2026-02-29", &d), -EINVAL);
	assert_int_equal(store_day_parse("2026-04-31", &d), -EINVAL);
	assert_int_equal(store_day_parse("2026-13-01", &d), -EINVAL);
	assert_int_equal(store_day_parse("2026-1-01", &d), -EINVAL);
	assert_int_equal(store_day_parse("2026-01-01x", &d), -EINVAL);
	assert_int_equal(store_day_parse("", &d), -EINVAL);
	for (int64_t day = -800; day < 800; day += 7) { /* round trip across years */
		assert_int_equal(store_day_parse(store_day_fmt(20000 + day, t), &d), 0);
		assert_int_equal(d, 20000 + day);
	}
}

static void test_usage_is_per_day_each_way_and_totalled_for_the_account(void **state)
{
	struct fixture *f = *state;
	struct store_usage a = {.bytes_to_peer = 100, .bytes_to_client = 7, .allocations = 1};
	struct store_usage b = {.bytes_to_peer = 50, .bytes_to_client = 3};
	struct store_usage got;
	struct store_account acct;

	store_usage_add(f->s, f->a.sid, 20792, &a);
	store_usage_add(f->s, f->a.sid, 20792, &b);
	store_usage_add(f->s, f->a.sid, 20793, &b);
	store_usage_add(f->s, "AC11111111111111111111111111111111", 20792, &a); /* not an account */
	store_usage_add(f->s, "", 20792, &a);					/* static user */
	assert_int_equal(row_of(f, f->a.sid, "2026-12-05").bytes_to_peer, 0);	/* pending */
	assert_int_equal(store_usage_flush(f->s), 0);
	got = row_of(f, f->a.sid, "2026-12-05");
	assert_int_equal(got.bytes_to_peer, 150);
	assert_int_equal(got.bytes_to_client, 10);
	assert_int_equal(got.allocations, 1);
	assert_int_equal(row_of(f, f->a.sid, "2026-12-06").bytes_to_client, 3);
	assert_int_equal(store_account_get(f->s, f->a.sid, &acct), 0);
	assert_int_equal(acct.allocations, 1);
	assert_int_equal(acct.bytes, 213); /* both days, both ways */
	store_usage_add(f->s, f->a.sid, 20792, &a);
	store_close(f->s); /* closing flushes */
	assert_int_equal(store_open(f->path, &f->s), 0);
	assert_int_equal(row_of(f, f->a.sid, "2026-12-05").bytes_to_peer, 250);
	assert_int_equal(store_account_get(f->s, f->a.sid, &acct), 0);
	assert_int_equal(acct.bytes, 320);
}

static void test_allocation_seconds_split_at_utc_midnight(void **state)
{
	struct fixture *f = *state;
	uint64_t carry = 0, midnight = 20793 * DAY_MS; /* 2026-12-06T00:00Z */

	/* Two allocations from 23:59:30.500 to 00:00:10.250: 2 x 29.5 s before midnight, 2 x 10.25
	 * s after it. */
	store_usage_add_held(f->s, f->a.sid, midnight - 29500, midnight + 10250, 2, &carry);
	assert_int_equal(store_usage_flush(f->s), 0);
	assert_int_equal(row_of(f, f->a.sid, "2026-12-05").allocation_seconds, 59);
	assert_int_equal(row_of(f, f->a.sid, "2026-12-06").allocation_seconds, 20);
	assert_int_equal(carry, 500); /* the half second not yet counted */
}

static void test_allocation_seconds_carry_less_than_a_second(void **state)
{
	struct fixture *f = *state;
	uint64_t carry = 0, t = 20792 * DAY_MS + 1000;

	for (int i = 0; i < 10; i++) /* ten ticks of 0.25 s with one allocation: 2.5 s */
		store_usage_add_held(f->s, f->a.sid, t + 250 * (uint64_t)i,
				     t + 250 * (uint64_t)(i + 1), 1, &carry);
	store_usage_add_held(f->s, f->a.sid, t, t + 5000, 0, &carry); /* none live */
	assert_int_equal(store_usage_flush(f->s), 0);
	assert_int_equal(row_of(f, f->a.sid, "2026-12-05").allocation_seconds, 2);
	assert_int_equal(carry, 500);
}

static int collect_mark(void *arg, const struct store_kernel_mark *m)
{
	struct store_kernel_mark *out = arg;

	out[out[0].key ? 1 : 0] = *m;
	return 0;
}

static void test_kernel_marks_are_written_with_the_usage_and_forgotten(void **state)
{
	struct fixture *f = *state;
	struct store_kernel_mark m = {
	    .key = (2ull << 40) | 7, .map_id = 42, .to_peer = 1000, .to_client = 2000};
	struct store_kernel_mark got[2] = {{0}};
	struct store_usage u = {.bytes_to_peer = 1000, .bytes_to_client = 2000};

	memcpy(m.sid, f->a.sid, sizeof(m.sid));
	store_usage_add(f->s, f->a.sid, 20792, &u);
	store_kernel_mark_set(f->s, &m);
	assert_int_equal(store_kernel_mark_foreach(f->s, collect_mark, got), 0);
	assert_int_equal(got[0].key, 0); /* nothing before the flush */
	assert_int_equal(store_usage_flush(f->s), 0);
	assert_int_equal(store_kernel_mark_foreach(f->s, collect_mark, got), 0);
	assert_int_equal(got[0].key, m.key);
	assert_int_equal(got[0].map_id, 42);
	assert_int_equal(got[0].to_client, 2000);
	assert_string_equal(got[0].sid, f->a.sid);
	m.to_peer = 1500;
	store_kernel_mark_set(f->s, &m);
	store_kernel_mark_forget(f->s, m.key); /* the last word wins */
	assert_int_equal(store_usage_flush(f->s), 0);
	memset(got, 0, sizeof(got));
	assert_int_equal(store_kernel_mark_foreach(f->s, collect_mark, got), 0);
	assert_int_equal(got[0].key, 0);
}

static void test_a_locked_database_keeps_usage_pending_for_the_next_flush(void **state)
{
	struct fixture *f = *state;
	struct store_usage u = {.bytes_to_peer = 5};
	sqlite3 *other;

	if (store_fixture_pg())
		skip(); /* SQLite's file lock; see the next test for PostgreSQL */
	store_set_busy_timeout(f->s, 0);
	assert_int_equal(sqlite3_open(f->path, &other), SQLITE_OK);
	assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	store_usage_add(f->s, f->a.sid, 20792, &u);
	assert_int_equal(store_usage_flush(f->s), -EBUSY);
	assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(other);
	assert_int_equal(store_usage_flush(f->s), 0);
	assert_int_equal(row_of(f, f->a.sid, "2026-12-05").bytes_to_peer, 5);
}

static void test_a_lost_server_connection_keeps_usage_pending_until_reconnected(void **state)
{
	struct fixture *f = *state;
	struct store_usage u = {.bytes_to_peer = 7};
	struct store_account a;

	if (!store_fixture_pg())
		skip(); /* a server's connection */
	assert_int_equal(store_fixture_exec(f->path, "SELECT pg_terminate_backend(pid)"
						     " FROM pg_stat_activity WHERE application_name"
						     " = 'ntsd' AND pid != pg_backend_pid()"),
			 0);
	store_usage_add(f->s, f->a.sid, 20792, &u);
	assert_int_equal(store_usage_flush(f->s), -ENOTCONN);
	assert_int_equal(row_of(f, f->a.sid, "2026-12-05").bytes_to_peer, 0);
	/* The next calls reconnect (the first attempt is not delayed, and advances without
	 * blocking) and prepare again. */
	for (int i = 0; i < 300 && store_usage_flush(f->s) != 0; i++)
		usleep(10000);
	assert_int_equal(store_usage_flush(f->s), 0);
	assert_int_equal(row_of(f, f->a.sid, "2026-12-05").bytes_to_peer, 7);
	assert_int_equal(store_account_get(f->s, f->a.sid, &a), 0);
	assert_int_equal(a.bytes, 7);
}

static void test_a_flush_of_many_rows_writes_them_all(void **state)
{
	struct fixture *f = *state;
	struct store_usage u = {.bytes_to_peer = 1, .bytes_to_client = 2};
	struct store_account a;
	int64_t v[3] = {0};

	/* 600 days: 1200 statements, several batches of a PostgreSQL pipeline. */
	for (int64_t day = 20000; day < 20600; day++)
		store_usage_add(f->s, f->a.sid, day, &u);
	assert_int_equal(store_usage_flush(f->s), 0);
	assert_int_equal(
	    store_fixture_sql(f->path,
			      "SELECT count(*), sum(bytes_to_peer), sum(bytes_to_client)"
			      " FROM usage_daily",
			      NULL, NULL, v, 3),
	    0);
	assert_int_equal(v[0], 600);
	assert_int_equal(v[1], 600);
	assert_int_equal(v[2], 1200);
	assert_int_equal(store_account_get(f->s, f->a.sid, &a), 0);
	assert_int_equal(a.bytes, 1800);
}

struct rows {
	int n;
	uint64_t bytes;
};

static int count_row(void *arg, const char *sid, int64_t day, const char *region,
		     const struct store_usage *u)
{
	struct rows *r = arg;

	r->n++;
	r->bytes += u->bytes_to_peer;
	return 0;
}

static void test_subaccount_usage_rolls_up_only_when_asked(void **state)
{
	struct fixture *f = *state;
	struct store_account sub;
	char token[STORE_TOKEN_LEN + 1], owner[STORE_SID_LEN + 1];
	struct store_usage u = {.bytes_to_peer = 10};
	struct store_usage_query q = {f->a.sid, true, 20792, 20792};
	struct rows r = {0};

	assert_int_equal(store_account_create(f->s, "sub", &sub, token), 0);
	assert_int_equal(store_fixture_sql(f->path,
					   "UPDATE accounts SET owner_sid = $1 WHERE sid = $2",
					   f->a.sid, sub.sid, NULL, 0),
			 0);
	assert_int_equal(store_usage_owner(f->s, sub.sid, owner), 0);
	assert_string_equal(owner, f->a.sid);
	assert_int_equal(store_usage_owner(f->s, f->a.sid, owner), 0);
	assert_string_equal(owner, "");
	assert_int_equal(store_usage_owner(f->s, "AC11111111111111111111111111111111", owner),
			 -ENOENT);
	store_usage_add(f->s, f->a.sid, 20792, &u);
	store_usage_add(f->s, sub.sid, 20792, &u);
	store_usage_add(f->s, sub.sid, 20793, &u); /* outside the range */
	assert_int_equal(store_usage_flush(f->s), 0);
	assert_int_equal(store_usage_foreach(f->s, &q, count_row, &r), 0);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.bytes, 20);
	q.include_subaccounts = false;
	memset(&r, 0, sizeof(r));
	assert_int_equal(store_usage_foreach(f->s, &q, count_row, &r), 0);
	assert_int_equal(r.bytes, 10);
	q.sid = sub.sid; /* a subaccount's own */
	q.include_subaccounts = true;
	memset(&r, 0, sizeof(r));
	assert_int_equal(store_usage_foreach(f->s, &q, count_row, &r), 0);
	assert_int_equal(r.bytes, 10);
}

/* Flushes until one succeeds (PostgreSQL reconnects first): bounded to 3 s. */
static void flush_until_written(struct fixture *f)
{
	for (int i = 0; i < 300 && store_usage_flush(f->s) != 0; i++)
		usleep(10000);
	assert_int_equal(store_usage_flush(f->s), 0);
}

static void test_a_flush_that_committed_unanswered_is_not_written_twice(void **state)
{
	struct fixture *f = *state;
	struct store_usage a = {.bytes_to_peer = 100, .bytes_to_client = 10, .allocations = 1};
	struct store_usage b = {.bytes_to_peer = 5, .allocation_seconds = 3};
	struct store_usage got;
	struct store_account acct;
	int64_t n = -1;

	store_usage_add(f->s, f->a.sid, 20792, &a);
	lose_target = f->path;
	lose_commit = LOSE_AFTER;
	assert_int_not_equal(store_usage_flush(f->s), 0);
	assert_int_equal(row_of(f, f->a.sid, "2026-12-05").bytes_to_peer, 100); /* it did land */
	store_usage_add(f->s, f->a.sid, 20792, &b); /* more usage meanwhile, same row */
	store_usage_add(f->s, f->a.sid, 20793, &b);
	flush_until_written(f);
	got = row_of(f, f->a.sid, "2026-12-05");
	assert_int_equal(got.bytes_to_peer, 105);
	assert_int_equal(got.bytes_to_client, 10);
	assert_int_equal(got.allocations, 1);
	assert_int_equal(got.allocation_seconds, 3);
	assert_int_equal(row_of(f, f->a.sid, "2026-12-06").bytes_to_peer, 5);
	assert_int_equal(store_account_get(f->s, f->a.sid, &acct), 0);
	assert_int_equal(acct.bytes, 120);
	assert_int_equal(acct.allocations, 1);
	/* One record per writer stays: the last flush's. */
	assert_int_equal(
	    store_fixture_sql(f->path, "SELECT count(*) FROM usage_flushes", NULL, NULL, &n, 1), 0);
	assert_int_equal(n, 1);
}

static void test_a_flush_that_did_not_commit_unanswered_is_written_after(void **state)
{
	struct fixture *f = *state;
	struct store_usage a = {.bytes_to_peer = 100, .bytes_to_client = 10, .allocations = 1};
	struct store_usage b = {.bytes_to_peer = 5};
	struct store_account acct;

	store_usage_add(f->s, f->a.sid, 20792, &a);
	lose_target = f->path;
	lose_commit = LOSE_BEFORE;
	assert_int_not_equal(store_usage_flush(f->s), 0);
	assert_int_equal(row_of(f, f->a.sid, "2026-12-05").bytes_to_peer, 0);
	store_usage_add(f->s, f->a.sid, 20792, &b);
	flush_until_written(f);
	assert_int_equal(row_of(f, f->a.sid, "2026-12-05").bytes_to_peer, 105);
	assert_int_equal(store_account_get(f->s, f->a.sid, &acct), 0);
	assert_int_equal(acct.bytes, 115);
	/* Nothing is taken back twice: later flushes add exactly what came after. */
	store_usage_add(f->s, f->a.sid, 20792, &b);
	assert_int_equal(store_usage_flush(f->s), 0);
	assert_int_equal(row_of(f, f->a.sid, "2026-12-05").bytes_to_peer, 110);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_days_format_and_parse_as_the_gregorian_calendar),
	    cmocka_unit_test_setup_teardown(
		test_usage_is_per_day_each_way_and_totalled_for_the_account, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_allocation_seconds_split_at_utc_midnight, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_allocation_seconds_carry_less_than_a_second, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(
		test_kernel_marks_are_written_with_the_usage_and_forgotten, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_a_locked_database_keeps_usage_pending_for_the_next_flush, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_a_lost_server_connection_keeps_usage_pending_until_reconnected, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(test_a_flush_of_many_rows_writes_them_all, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_subaccount_usage_rolls_up_only_when_asked, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(
		test_a_flush_that_committed_unanswered_is_not_written_twice, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_a_flush_that_did_not_commit_unanswered_is_written_after, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
