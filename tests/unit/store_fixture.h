/* Where the store tests keep their database: an SQLite file in the test's temporary directory, or,
 * when NTS_TEST_PG_URL is set (tests/fleet/store_unit_pg.sh), that PostgreSQL database, emptied
 * before each test. Tests inspect it through a connection of their own with the helpers below;
 * their SQL numbers parameters $1, $2 in order of appearance (both engines read that).
 */
#ifndef NTS_TEST_STORE_FIXTURE_H
#define NTS_TEST_STORE_FIXTURE_H

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

static inline const char *store_fixture_pg_url(void)
{
	const char *u = getenv("NTS_TEST_PG_URL");

	return u && *u ? u : NULL;
}

static inline bool store_fixture_pg(void)
{
	return store_fixture_pg_url() != NULL;
}

/* Runs sql on target (a file, or the PostgreSQL URL) with text parameters p1, p2 (NULL: fewer)
 * and reads up to n int64 columns of its first row into out (left alone without a row).
 * 0 on success, -1 on an error. */
static inline int store_fixture_sql(const char *target, const char *sql, const char *p1,
				    const char *p2, int64_t *out, int n)
{
	const char *params[2] = {p1, p2};
	int nparams = p2 ? 2 : p1 ? 1 : 0, rc = 0;

	if (strncmp(target, "postgres", 8) == 0) {
		PGconn *c = PQconnectdb(target);
		PGresult *r = PQstatus(c) != CONNECTION_OK ? NULL
			      : nparams ? PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0)
					: PQexec(c, sql);
		ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;

		if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
			fprintf(stderr, "# %s: %s", sql, r ? PQresultErrorMessage(r) : "no server");
			rc = -1;
		}
		for (int i = 0; rc == 0 && st == PGRES_TUPLES_OK && PQntuples(r) > 0 && i < n; i++)
			out[i] = strtoll(PQgetvalue(r, 0, i), NULL, 10);
		PQclear(r);
		PQfinish(c);
		return rc;
	}
	sqlite3 *db;
	sqlite3_stmt *st;

	if (sqlite3_open(target, &db) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "# %s: %s\n", sql, sqlite3_errmsg(db));
		sqlite3_close(db);
		return -1;
	}
	for (int i = 0; i < nparams; i++)
		sqlite3_bind_text(st, i + 1, params[i], -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	for (int i = 0; rc == SQLITE_ROW && i < n; i++)
		out[i] = sqlite3_column_int64(st, i);
	rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

/* Runs sql (one statement with SQLite, any number with PostgreSQL) without parameters. */
static inline int store_fixture_exec(const char *target, const char *sql)
{
	return store_fixture_sql(target, sql, NULL, NULL, NULL, 0);
}

/* Sets target to the database of one test: dir/file, or the PostgreSQL URL with every table of
 * the previous test dropped. 0 or -1. */
static inline int store_fixture_target(char *target, size_t len, const char *dir, const char *file)
{
	const char *url = store_fixture_pg_url();

	if (!url) {
		snprintf(target, len, "%s/%s", dir, file);
		return 0;
	}
	snprintf(target, len, "%s", url);
	return store_fixture_exec(url, "SET client_min_messages = warning;"
				       " DROP SCHEMA public CASCADE; CREATE SCHEMA public");
}

/* Closes s and removes the test's temporary directory dir. 0, or -1 when it cannot be removed. */
static inline int store_fixture_cleanup(struct nts_store *s, const char *dir)
{
	char cmd[160];

	store_close(s);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

#endif
