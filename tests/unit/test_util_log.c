/* The logger's building blocks (user/util/log.c): the JSON line formatter (each line one JSON
 * object, RFC 8259 strings) and the per-call-site rate limiter for repeated warnings. Time is
 * passed in, so windows are tested with exact millisecond values.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "util/log.h"

#define T0 1000000ULL

static json_t *parse_line(const char *line, size_t n)
{
	json_error_t e;
	json_t *o;

	assert_true(n > 0);
	assert_int_equal(line[n - 1], '\n');
	assert_null(memchr(line, '\n', n - 1)); /* one object per line */
	o = json_loadb(line, n, 0, &e);
	if (!o)
		fail_msg("not JSON: %s (%s)", line, e.text);
	return o;
}

static void test_json_line_has_ts_level_msg(void **state)
{
	char buf[512];
	size_t n = nts_log_json_line(buf, sizeof(buf), 1796428800, 123456789, NTS_LOG_WARN,
				     "nothing special", 0);
	json_t *o = parse_line(buf, n);

	assert_string_equal(json_string_value(json_object_get(o, "ts")),
			    "2026-12-05T00:00:00.123456Z");
	assert_string_equal(json_string_value(json_object_get(o, "level")), "warning");
	assert_string_equal(json_string_value(json_object_get(o, "msg")), "nothing special");
	assert_null(json_object_get(o, "module"));
	assert_null(json_object_get(o, "suppressed"));
	json_decref(o);
}

static void test_json_line_escapes_quotes_controls_and_newlines(void **state)
{
	const char *msg = "say \"hi\"\\ then\nnew line\ttab \x01 bell";
	char buf[512];
	size_t n = nts_log_json_line(buf, sizeof(buf), 0, 0, NTS_LOG_INFO, msg, 0);
	json_t *o = parse_line(buf, n);

	assert_string_equal(json_string_value(json_object_get(o, "msg")), msg);
	json_decref(o);
}

static void test_json_line_names_the_module_and_suppressed_count(void **state)
{
	char buf[512];
	size_t n = nts_log_json_line(buf, sizeof(buf), 0, 0, NTS_LOG_ERROR, "turn: no relay", 42);
	json_t *o = parse_line(buf, n);

	assert_string_equal(json_string_value(json_object_get(o, "module")), "turn");
	assert_int_equal(json_integer_value(json_object_get(o, "suppressed")), 42);
	assert_string_equal(json_string_value(json_object_get(o, "level")), "error");
	json_decref(o);
}

static void test_json_line_that_does_not_fit_is_not_written(void **state)
{
	char buf[40];

	assert_int_equal(nts_log_json_line(buf, sizeof(buf), 0, 0, NTS_LOG_INFO,
					   "a message far longer than forty bytes, surely", 0),
			 0);
}

static void test_log_format_names(void **state)
{
	enum nts_log_format f;

	assert_int_equal(nts_log_format_parse("json", &f), 0);
	assert_int_equal(f, NTS_LOG_JSON);
	assert_int_equal(nts_log_format_parse("text", &f), 0);
	assert_int_equal(f, NTS_LOG_TEXT);
	assert_int_not_equal(nts_log_format_parse("xml", &f), 0);
}

static void test_limiter_lets_a_burst_through_then_holds_back(void **state)
{
	static struct nts_log_limiter l;
	const char *site = "site %d";
	uint64_t sup;

	memset(&l, 0, sizeof(l));
	for (int i = 0; i < NTS_LOG_BURST; i++) {
		assert_true(nts_log_limit(&l, site, T0 + (uint64_t)i, "m", &sup));
		assert_int_equal(sup, 0);
	}
	for (int i = 0; i < 7; i++)
		assert_false(nts_log_limit(&l, site, T0 + 100, "held", &sup));
}

static void test_limiter_reports_suppressed_count_with_next_message(void **state)
{
	static struct nts_log_limiter l;
	const char *site = "site";
	uint64_t sup;

	memset(&l, 0, sizeof(l));
	for (int i = 0; i < NTS_LOG_BURST + 123; i++)
		nts_log_limit(&l, site, T0, "m", &sup);
	/* Same window: still held back. */
	assert_false(nts_log_limit(&l, site, T0 + NTS_LOG_WINDOW_MS - 1, "m", &sup));
	/* Next window: printed, carrying the 124 held back. */
	assert_true(nts_log_limit(&l, site, T0 + NTS_LOG_WINDOW_MS, "m", &sup));
	assert_int_equal(sup, 124);
	assert_true(nts_log_limit(&l, site, T0 + NTS_LOG_WINDOW_MS + 1, "m", &sup));
	assert_int_equal(sup, 0);
}

static void test_limiter_keeps_call_sites_apart(void **state)
{
	static struct nts_log_limiter l;
	const char *a = "a", *b = "b";
	uint64_t sup;

	memset(&l, 0, sizeof(l));
	for (int i = 0; i < NTS_LOG_BURST; i++)
		nts_log_limit(&l, a, T0, "m", &sup);
	assert_false(nts_log_limit(&l, a, T0, "m", &sup));
	assert_true(nts_log_limit(&l, b, T0, "m", &sup));
	assert_int_equal(sup, 0);
}

static void test_limiter_expired_window_yields_last_held_message_once(void **state)
{
	static struct nts_log_limiter l;
	const char *site = "site";
	char msg[64];
	uint64_t sup;

	memset(&l, 0, sizeof(l));
	for (int i = 0; i < NTS_LOG_BURST + 3; i++) {
		char text[16];

		snprintf(text, sizeof(text), "m%d", i);
		nts_log_limit(&l, site, T0, text, &sup);
	}
	assert_int_equal(nts_log_limit_expired(&l, T0 + NTS_LOG_WINDOW_MS - 1, msg, sizeof(msg)),
			 0);
	assert_int_equal(nts_log_limit_expired(&l, T0 + NTS_LOG_WINDOW_MS, msg, sizeof(msg)), 3);
	assert_string_equal(msg, "m12");
	assert_int_equal(nts_log_limit_expired(&l, T0 + 2 * NTS_LOG_WINDOW_MS, msg, sizeof(msg)),
			 0);
}

static void test_limiter_reuses_the_stalest_slot_when_full(void **state)
{
	static struct nts_log_limiter l;
	static const char keys[NTS_LOG_SITES + 1];
	uint64_t sup;

	memset(&l, 0, sizeof(l));
	for (int i = 0; i < NTS_LOG_SITES; i++)
		assert_true(nts_log_limit(&l, &keys[i], T0 + (uint64_t)i, "m", &sup));
	/* A new site takes the slot of keys[0] (oldest window); the others keep theirs. */
	assert_true(nts_log_limit(&l, &keys[NTS_LOG_SITES], T0 + 1000, "m", &sup));
	for (int i = 0; i < NTS_LOG_SITES; i++)
		if (l.site[i].key == &keys[0])
			fail_msg("the stalest site was not reused");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_json_line_has_ts_level_msg),
	    cmocka_unit_test(test_json_line_escapes_quotes_controls_and_newlines),
	    cmocka_unit_test(test_json_line_names_the_module_and_suppressed_count),
	    cmocka_unit_test(test_json_line_that_does_not_fit_is_not_written),
	    cmocka_unit_test(test_log_format_names),
	    cmocka_unit_test(test_limiter_lets_a_burst_through_then_holds_back),
	    cmocka_unit_test(test_limiter_reports_suppressed_count_with_next_message),
	    cmocka_unit_test(test_limiter_keeps_call_sites_apart),
	    cmocka_unit_test(test_limiter_expired_window_yields_last_held_message_once),
	    cmocka_unit_test(test_limiter_reuses_the_stalest_slot_when_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
