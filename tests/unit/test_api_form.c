/* Token API input parsing: form bodies, Ttl bounds, Basic credentials, RFC 2822 dates. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "api/api.h"

static int form(const char *body, const char *key, char *out, size_t outlen)
{
	return api_form_get(body, strlen(body), key, out, outlen);
}

static void test_form_finds_key_among_others(void **state)
{
	char v[32];

	assert_int_equal(form("A=1&Ttl=3600&B=2", "Ttl", v, sizeof(v)), 0);
	assert_string_equal(v, "3600");
	assert_int_equal(form("Ttl=60", "Ttl", v, sizeof(v)), 0);
	assert_string_equal(v, "60");
}

static void test_form_percent_and_plus_decode(void **state)
{
	char v[32];

	assert_int_equal(form("T%74l=1%32+3", "Ttl", v, sizeof(v)), 0);
	assert_string_equal(v, "12 3");
}

static void test_form_absent_key_is_enoent(void **state)
{
	char v[32];

	assert_int_equal(form("", "Ttl", v, sizeof(v)), -ENOENT);
	assert_int_equal(form("ttl=5", "Ttl", v, sizeof(v)),
			 -ENOENT); /* names are case-sensitive */
	assert_int_equal(form("&&Ttlx=5&xTtl=5", "Ttl", v, sizeof(v)), -ENOENT);
}

static void test_form_key_without_value_is_empty(void **state)
{
	char v[32];

	assert_int_equal(form("Ttl", "Ttl", v, sizeof(v)), 0);
	assert_string_equal(v, "");
	assert_int_equal(form("Ttl=", "Ttl", v, sizeof(v)), 0);
	assert_string_equal(v, "");
}

static void test_form_rejects_bad_encoding_and_duplicates(void **state)
{
	char v[32];

	assert_int_equal(form("Ttl=%4", "Ttl", v, sizeof(v)), -EINVAL);
	assert_int_equal(form("Ttl=%zz", "Ttl", v, sizeof(v)), -EINVAL);
	assert_int_equal(form("Ttl=1%00", "Ttl", v, sizeof(v)), -EINVAL);
	assert_int_equal(form("Ttl=1&Ttl=2", "Ttl", v, sizeof(v)), -EINVAL);
}

static void test_form_value_longer_than_buffer_is_enospc(void **state)
{
	char v[4];

	assert_int_equal(form("Ttl=12345", "Ttl", v, sizeof(v)), -ENOSPC);
}

static void test_form_body_is_length_bounded_not_nul_terminated(void **state)
{
	char v[32];
	const char body[] = {'T', 't', 'l', '=', '7', '9'};

	assert_int_equal(api_form_get(body, 5, "Ttl", v, sizeof(v)), 0);
	assert_string_equal(v, "7");
}

static void test_ttl_bounds(void **state)
{
	uint32_t t = 0;

	assert_int_equal(api_parse_ttl("1", &t), 0);
	assert_int_equal(t, 1);
	assert_int_equal(api_parse_ttl("86400", &t), 0);
	assert_int_equal(t, 86400);
	assert_int_equal(api_parse_ttl("0086400", &t), 0);
	assert_int_equal(t, 86400);
	assert_int_equal(api_parse_ttl("0", &t), -EINVAL);
	assert_int_equal(api_parse_ttl("86401", &t), -EINVAL);
	assert_int_equal(api_parse_ttl("99999999999999999999", &t), -EINVAL);
}

static void test_ttl_rejects_non_digits(void **state)
{
	uint32_t t;

	assert_int_equal(api_parse_ttl("", &t), -EINVAL);
	assert_int_equal(api_parse_ttl("-1", &t), -EINVAL);
	assert_int_equal(api_parse_ttl("+5", &t), -EINVAL);
	assert_int_equal(api_parse_ttl(" 5", &t), -EINVAL);
	assert_int_equal(api_parse_ttl("5s", &t), -EINVAL);
	assert_int_equal(api_parse_ttl("1.5", &t), -EINVAL);
	assert_int_equal(api_parse_ttl("0x10", &t), -EINVAL);
}

static void test_basic_auth_decodes_user_and_password(void **state)
{
	char u[64], p[64];

	/* base64("ACabc:tok:en") -- the password may contain ':' */
	assert_int_equal(api_parse_basic("Basic QUNhYmM6dG9rOmVu", u, sizeof(u), p, sizeof(p)), 0);
	assert_string_equal(u, "ACabc");
	assert_string_equal(p, "tok:en");
	assert_int_equal(api_parse_basic("basic  QUNhYmM6dG9rOmVu ", u, sizeof(u), p, sizeof(p)),
			 0);
	/* base64("a:b") without its padding */
	assert_int_equal(api_parse_basic("Basic YTpi", u, sizeof(u), p, sizeof(p)), 0);
	assert_string_equal(p, "b");
}

static void test_basic_auth_rejects_malformed(void **state)
{
	char u[64], p[64];

	assert_int_equal(api_parse_basic(NULL, u, sizeof(u), p, sizeof(p)), -EINVAL);
	assert_int_equal(api_parse_basic("Bearer abc", u, sizeof(u), p, sizeof(p)), -EINVAL);
	assert_int_equal(api_parse_basic("Basic !!!!", u, sizeof(u), p, sizeof(p)), -EINVAL);
	/* base64("nocolon") */
	assert_int_equal(api_parse_basic("Basic bm9jb2xvbg==", u, sizeof(u), p, sizeof(p)),
			 -EINVAL);
	/* base64("a\0:b") */
	assert_int_equal(api_parse_basic("Basic YQA6Yg==", u, sizeof(u), p, sizeof(p)), -EINVAL);
	/* user longer than the buffer */
	assert_int_equal(api_parse_basic("Basic QUNhYmM6dG9rOmVu", u, 3, p, sizeof(p)), -EINVAL);
}

static void test_date_is_rfc2822_utc(void **state)
{
	char buf[40];

	/* The example in Twilio's documentation. */
	assert_string_equal(api_fmt_rfc2822(1588297377, buf, sizeof(buf)),
			    "Fri, 01 May 2020 01:42:57 +0000");
	assert_string_equal(api_fmt_rfc2822(0, buf, sizeof(buf)),
			    "Thu, 01 Jan 1970 00:00:00 +0000");
	assert_string_equal(api_fmt_rfc2822(1709164800, buf, sizeof(buf)),
			    "Thu, 29 Feb 2024 00:00:00 +0000");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_form_finds_key_among_others),
	    cmocka_unit_test(test_form_percent_and_plus_decode),
	    cmocka_unit_test(test_form_absent_key_is_enoent),
	    cmocka_unit_test(test_form_key_without_value_is_empty),
	    cmocka_unit_test(test_form_rejects_bad_encoding_and_duplicates),
	    cmocka_unit_test(test_form_value_longer_than_buffer_is_enospc),
	    cmocka_unit_test(test_form_body_is_length_bounded_not_nul_terminated),
	    cmocka_unit_test(test_ttl_bounds),
	    cmocka_unit_test(test_ttl_rejects_non_digits),
	    cmocka_unit_test(test_basic_auth_decodes_user_and_password),
	    cmocka_unit_test(test_basic_auth_rejects_malformed),
	    cmocka_unit_test(test_date_is_rfc2822_utc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
