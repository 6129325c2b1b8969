/* Usage Records: Twilio's date forms, exact megabytes, paging, and the resources end to end over a
 * real store (record fields, roll-up of subaccounts, who may read what, errors).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_usage.h"
#include "auth/auth.h"
#include "store/store.h"

#define TODAY 20792			     /* 2026-12-05 */
#define NOW ((uint64_t)TODAY * 86400 + 3600) /* 2026-12-05T01:00:00Z */

static void test_dates_take_twilio_forms_and_offsets(void **state)
{
	int64_t d;

	assert_int_equal(api_usage_parse_date("2026-12-01", TODAY, &d), 0);
	assert_int_equal(d, TODAY - 4);
	assert_int_equal(api_usage_parse_date("-30days", TODAY, &d), 0);
	assert_int_equal(d, TODAY - 30);
	assert_int_equal(api_usage_parse_date("+1days", TODAY, &d), 0);
	assert_int_equal(d, TODAY + 1);
	assert_int_equal(api_usage_parse_date("-1day", TODAY, &d), 0);
	assert_int_equal(d, TODAY - 1);
	assert_int_equal(api_usage_parse_date("-0days", TODAY, &d), 0);
	assert_int_equal(d, TODAY);
	assert_int_equal(api_usage_parse_date("30days", TODAY, &d), -EINVAL); /* sign needed */
	assert_int_equal(api_usage_parse_date("-days", TODAY, &d), -EINVAL);
	assert_int_equal(api_usage_parse_date("-3weeks", TODAY, &d), -EINVAL);
	assert_int_equal(api_usage_parse_date("-3days ", TODAY, &d), -EINVAL);
	assert_int_equal(api_usage_parse_date("-9999999days", TODAY, &d), -EINVAL);
	assert_int_equal(api_usage_parse_date("2026-02-30", TODAY, &d), -EINVAL);
	assert_int_equal(api_usage_parse_date("yesterday", TODAY, &d), -EINVAL);
	assert_int_equal(api_usage_parse_date(NULL, TODAY, &d), -EINVAL);
}

static void test_megabytes_are_exact_decimal_strings(void **state)
{
	char b[32];

	assert_string_equal(api_usage_fmt_mb(0, b, sizeof(b)), "0");
	assert_string_equal(api_usage_fmt_mb(1, b, sizeof(b)), "0.000001");
	assert_string_equal(api_usage_fmt_mb(1000000, b, sizeof(b)), "1");
	assert_string_equal(api_usage_fmt_mb(1500000, b, sizeof(b)), "1.5");
	assert_string_equal(api_usage_fmt_mb(1234567, b, sizeof(b)), "1.234567");
	assert_string_equal(api_usage_fmt_mb(20000010, b, sizeof(b)), "20.00001");
	assert_string_equal(api_usage_fmt_mb(UINT64_MAX, b, sizeof(b)), "18446744073709.551615");
}

static void test_pages_split_records_as_twilio_pages(void **state)
{
	struct api_usage_page p;

	assert_int_equal(api_usage_page_compute(120, NULL, NULL, &p), 0);
	assert_int_equal(p.size, 50);
	assert_int_equal(p.first, 0);
	assert_int_equal(p.count, 50);
	assert_true(p.more);
	assert_int_equal(api_usage_page_compute(120, "2", "50", &p), 0);
	assert_int_equal(p.first, 100);
	assert_int_equal(p.count, 20);
	assert_false(p.more);
	assert_int_equal(api_usage_page_compute(120, "3", "50", &p), 0); /* past the end: empty */
	assert_int_equal(p.count, 0);
	assert_false(p.more);
	assert_int_equal(api_usage_page_compute(100, "1", "50", &p), 0); /* exactly full */
	assert_int_equal(p.count, 50);
	assert_false(p.more);
	assert_int_equal(api_usage_page_compute(0, NULL, "1000", &p), 0);
	assert_int_equal(p.count, 0);
	assert_int_equal(api_usage_page_compute(10, NULL, "1001", &p), -EINVAL);
	assert_int_equal(api_usage_page_compute(10, NULL, "0", &p), -EINVAL);
	assert_int_equal(api_usage_page_compute(10, "-1", NULL, &p), -EINVAL);
	assert_int_equal(api_usage_page_compute(10, "x", NULL, &p), -EINVAL);
	assert_int_equal(api_usage_page_compute(10, "9999999999", NULL, &p), -EINVAL);
}

/* --- the resources over a store */

struct fixture {
	char dir[64], db[128];
	struct nts_config cfg;
	struct nts_stats stats;
	struct nts_store *store;
	struct auth_ctx *auth;
	struct api_server *api;
	struct store_account master, sub, other;
	char master_basic[160], sub_basic[160], other_basic[160];
};

static void set_basic(char *out, size_t len, const char *user, const char *pass)
{
	char plain[128];
	unsigned char b64[200];

	snprintf(plain, sizeof(plain), "%s:%s", user, pass);
	EVP_EncodeBlock(b64, (const unsigned char *)plain, (int)strlen(plain));
	snprintf(out, len, "Basic %s", b64);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *secrets[] = {"s"};
	char t1[STORE_TOKEN_LEN + 1], t2[STORE_TOKEN_LEN + 1], t3[STORE_TOKEN_LEN + 1], sql[200];
	struct store_usage day1 = {.bytes_to_peer = 1000000,
				   .bytes_to_client = 234567,
				   .allocations = 2,
				   .allocation_seconds = 60};
	struct store_usage day2 = {.bytes_to_peer = 1, .allocations = 1};
	sqlite3 *db;

	strcpy(f->dir, "/tmp/nts-api-usage-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->db, sizeof(f->db), "%s/nts.db", f->dir);
	if (store_open(f->db, &f->store) || store_account_create(f->store, "m", &f->master, t1) ||
	    store_account_create(f->store, "s", &f->sub, t2) ||
	    store_account_create(f->store, "o", &f->other, t3))
		return -1;
	/* The subaccount link as the account API writes it; accounts created "long ago". */
	if (sqlite3_open(f->db, &db) != SQLITE_OK)
		return -1;
	snprintf(sql, sizeof(sql), "UPDATE accounts SET owner_sid = '%s' WHERE sid = '%s'",
		 f->master.sid, f->sub.sid);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, "UPDATE accounts SET created = 1764547200", NULL, NULL, NULL))
		return -1; /* 2025-12-01 */
	sqlite3_close(db);
	store_usage_add(f->store, f->master.sid, TODAY, &day1);
	store_usage_add(f->store, f->master.sid, TODAY - 40, &day2); /* 2026-10-26 */
	store_usage_add(f->store, f->sub.sid, TODAY, &day2);
	store_usage_add(f->store, f->other.sid, TODAY, &day1);
	if (store_usage_flush(f->store))
		return -1;
	f->auth = auth_create("nts", secrets, 1, NULL, 0);
	f->api = api_create(&f->cfg, f->store, f->auth, &f->stats);
	if (!f->auth || !f->api)
		return -1;
	set_basic(f->master_basic, sizeof(f->master_basic), f->master.sid, t1);
	set_basic(f->sub_basic, sizeof(f->sub_basic), f->sub.sid, t2);
	set_basic(f->other_basic, sizeof(f->other_basic), f->other.sid, t3);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	api_destroy(f->api);
	auth_destroy(f->auth);
	store_close(f->store);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/* GET /2010-04-01/Accounts/{sid}/Usage/Records{sub}.json?query as auth; the parsed answer. */
static json_t *get(struct fixture *f, const char *sid, const char *sub, const char *query,
		   const char *auth, unsigned *status)
{
	char path[200];
	struct api_request rq = {
	    .method = "GET", .path = path, .query = query, .authorization = auth};
	struct api_response rs;
	json_t *j;

	snprintf(path, sizeof(path), "/2010-04-01/Accounts/%s/Usage/Records%s.json", sid, sub);
	api_handle(f->api, &rq, NOW, &rs);
	*status = rs.status;
	j = rs.body ? json_loadb(rs.body, rs.body_len, 0, NULL) : NULL;
	api_response_free(&rs);
	return j;
}

static const char *str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : "(none)";
}

static json_t *rec(json_t *page, size_t i)
{
	return json_array_get(json_object_get(page, "usage_records"), i);
}

static void test_today_rolls_up_subaccounts_with_every_field(void **state)
{
	struct fixture *f = *state;
	unsigned status;
	json_t *j = get(f, f->master.sid, "/Today", "Category=turnmegabytes", f->master_basic,
			&status),
	       *r = rec(j, 0);
	char uri[200];

	assert_int_equal(status, 200);
	assert_int_equal(json_array_size(json_object_get(j, "usage_records")), 1);
	assert_string_equal(str(r, "category"), "turnmegabytes");
	assert_string_equal(str(r, "usage"), "1.234568"); /* master 1234567 + sub 1 bytes */
	assert_string_equal(str(r, "usage_unit"), "megabytes");
	assert_string_equal(str(r, "count"), "3");
	assert_string_equal(str(r, "count_unit"), "allocations");
	assert_string_equal(str(r, "start_date"), "2026-12-05");
	assert_string_equal(str(r, "end_date"), "2026-12-05");
	assert_string_equal(str(r, "account_sid"), f->master.sid);
	assert_string_equal(str(r, "price"), "0");
	assert_string_equal(str(r, "price_unit"), "usd");
	assert_string_equal(str(r, "api_version"), "2010-04-01");
	assert_string_equal(str(r, "as_of"), "2026-12-05T01:00:00+00:00");
	assert_string_equal(str(r, "description"), "TURN Megabytes");
	snprintf(uri, sizeof(uri),
		 "/2010-04-01/Accounts/%s/Usage/Records/Daily.json?Category=turnmegabytes",
		 f->master.sid);
	assert_string_equal(str(json_object_get(r, "subresource_uris"), "daily"), uri);
	/* The page: exactly the keys Twilio's clients know, besides usage_records. */
	assert_int_equal(json_object_size(j), 9);
	assert_true(json_is_null(json_object_get(j, "next_page_uri")));
	assert_int_equal(json_integer_value(json_object_get(j, "page_size")), 50);
	json_decref(j);
	j = get(f, f->master.sid, "/Today", "IncludeSubaccounts=false", f->master_basic, &status);
	assert_string_equal(str(rec(j, 0), "usage"), "1.234567");
	json_decref(j);
}

static void test_daily_lists_each_day_of_the_range_and_pages(void **state)
{
	struct fixture *f = *state;
	unsigned status;
	json_t *j = get(f, f->master.sid, "/Daily",
			"Category=turnmegabytes&StartDate=-40days&EndDate=2026-12-05&PageSize=40",
			f->master_basic, &status);

	assert_int_equal(status, 200);
	assert_int_equal(json_array_size(json_object_get(j, "usage_records")), 40);
	assert_string_equal(str(rec(j, 0), "start_date"), "2026-10-26");
	assert_string_equal(str(rec(j, 0), "usage"), "0.000001");
	assert_string_equal(str(rec(j, 1), "usage"), "0");
	assert_true(strstr(str(j, "next_page_uri"), "Page=1") != NULL);
	assert_true(strstr(str(j, "next_page_uri"), "StartDate=-40days") != NULL);
	json_decref(j);
	j = get(f, f->master.sid, "/Daily",
		"Category=turnmegabytes&StartDate=-40days&EndDate=2026-12-05&PageSize=40&Page=1",
		f->master_basic, &status);
	assert_int_equal(json_array_size(json_object_get(j, "usage_records")), 1);
	assert_string_equal(str(rec(j, 0), "start_date"), "2026-12-05");
	assert_string_equal(str(rec(j, 0), "usage"), "1.234568");
	assert_true(json_is_null(json_object_get(j, "next_page_uri")));
	assert_true(strstr(str(j, "previous_page_uri"), "Page=0") != NULL);
	assert_int_equal(json_integer_value(json_object_get(j, "start")), 40);
	json_decref(j);
}

static void test_monthly_and_all_time_sum_their_periods(void **state)
{
	struct fixture *f = *state;
	unsigned status;
	json_t *j =
	    get(f, f->master.sid, "/Monthly", "StartDate=2026-10-01", f->master_basic, &status);

	assert_int_equal(status, 200);
	assert_int_equal(json_array_size(json_object_get(j, "usage_records")), 3); /* Oct-Dec */
	assert_string_equal(str(rec(j, 0), "start_date"), "2026-10-01");
	assert_string_equal(str(rec(j, 0), "end_date"), "2026-10-31");
	assert_string_equal(str(rec(j, 0), "usage"), "0.000001");
	assert_string_equal(str(rec(j, 2), "end_date"), "2026-12-05"); /* clipped to today */
	json_decref(j);
	j = get(f, f->master.sid, "/AllTime", NULL, f->master_basic, &status);
	assert_string_equal(str(rec(j, 0), "start_date"), "2025-12-01"); /* account creation */
	assert_string_equal(str(rec(j, 0), "usage"), "1.234569");
	assert_string_equal(str(rec(j, 0), "count"), "4");
	json_decref(j);
	j = get(f, f->master.sid, "/LastMonth", NULL, f->master_basic, &status);
	assert_string_equal(str(rec(j, 0), "start_date"), "2026-11-01");
	assert_string_equal(str(rec(j, 0), "end_date"), "2026-11-30");
	assert_string_equal(str(rec(j, 0), "usage"), "0");
	json_decref(j);
	j = get(f, f->master.sid, "/Yearly", NULL, f->master_basic, &status);
	assert_int_equal(json_array_size(json_object_get(j, "usage_records")), 2); /* 2025, 2026 */
	json_decref(j);
}

static void test_other_categories_list_nothing(void **state)
{
	struct fixture *f = *state;
	unsigned status;
	json_t *j = get(f, f->master.sid, "", "Category=calls", f->master_basic, &status);

	assert_int_equal(status, 200);
	assert_int_equal(json_array_size(json_object_get(j, "usage_records")), 0);
	json_decref(j);
	j = get(f, f->master.sid, "", "Category=turnmegabytes-useast", f->master_basic, &status);
	assert_int_equal(json_array_size(json_object_get(j, "usage_records")), 1);
	assert_string_equal(str(rec(j, 0), "usage"), "0"); /* no usage in that region */
	json_decref(j);
}

static void test_a_master_reads_its_subaccount_but_not_the_reverse(void **state)
{
	struct fixture *f = *state;
	unsigned status;
	json_t *j = get(f, f->sub.sid, "/Today", NULL, f->master_basic, &status);

	assert_int_equal(status, 200);
	assert_string_equal(str(rec(j, 0), "usage"), "0.000001");
	assert_string_equal(str(rec(j, 0), "account_sid"), f->sub.sid);
	json_decref(j);
	/* A subaccount's credentials on its master: 401/20003, as for every resource (api_auth.c). */
	j = get(f, f->master.sid, "/Today", NULL, f->sub_basic, &status);
	assert_int_equal(status, 401);
	assert_int_equal(json_integer_value(json_object_get(j, "code")), 20003);
	json_decref(j);
	j = get(f, f->master.sid, "/Today", NULL, f->other_basic, &status);
	assert_int_equal(status, 404);
	json_decref(j);
	j = get(f, "AC00000000000000000000000000000000", "", NULL, f->master_basic, &status);
	assert_int_equal(status, 404);
	json_decref(j);
}

static void test_bad_credentials_and_parameters_get_twilio_errors(void **state)
{
	struct fixture *f = *state;
	unsigned status;
	char wrong[160];
	json_t *j;

	set_basic(wrong, sizeof(wrong), f->master.sid, "0123456789abcdef0123456789abcdef");
	j = get(f, f->master.sid, "", NULL, wrong, &status);
	assert_int_equal(status, 401);
	assert_int_equal(json_integer_value(json_object_get(j, "code")), 20003);
	json_decref(j);
	j = get(f, f->master.sid, "", NULL, NULL, &status);
	assert_int_equal(status, 401);
	json_decref(j);
	j = get(f, f->master.sid, "/Daily", "StartDate=2026-13-01", f->master_basic, &status);
	assert_int_equal(status, 400);
	assert_int_equal(json_integer_value(json_object_get(j, "code")), 20001);
	json_decref(j);
	j = get(f, f->master.sid, "/Daily", "PageSize=5000", f->master_basic, &status);
	assert_int_equal(status, 400);
	json_decref(j);
	j = get(f, f->master.sid, "", "IncludeSubaccounts=maybe", f->master_basic, &status);
	assert_int_equal(status, 400);
	json_decref(j);
	j = get(f, f->master.sid, "", "Unknown=1", f->master_basic, &status); /* ignored */
	assert_int_equal(status, 200);
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dates_take_twilio_forms_and_offsets),
	    cmocka_unit_test(test_megabytes_are_exact_decimal_strings),
	    cmocka_unit_test(test_pages_split_records_as_twilio_pages),
	    cmocka_unit_test_setup_teardown(test_today_rolls_up_subaccounts_with_every_field, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_daily_lists_each_day_of_the_range_and_pages, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_monthly_and_all_time_sum_their_periods, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_other_categories_list_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_a_master_reads_its_subaccount_but_not_the_reverse,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_credentials_and_parameters_get_twilio_errors,
					    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
