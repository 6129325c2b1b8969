/* The option table (user/util/config.c) as a reload (user/ntsd/reload.c) relies on it: the flag
 * that makes a row reloadable is set only on rows a reload can compare and copy, and rows that
 * fill one field (--secret and --secret-file) agree on it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "util/config.h"

static void test_daemon_rows_are_not_reloadable(void **state)
{
	for (int i = 0; i < NTS_OPT_COUNT; i++)
		if (nts_opt_defs[i].kind == NTS_KIND_DAEMON &&
		    (nts_opt_defs[i].flags & NTS_OPT_RELOADABLE))
			fail_msg("--%s is ntsd's own, not configuration", nts_opt_defs[i].name);
}

static void test_rows_sharing_a_field_agree_on_reloadable(void **state)
{
	for (int i = 0; i < NTS_OPT_COUNT; i++)
		for (int j = 0; j < NTS_OPT_COUNT; j++) {
			const struct nts_opt_def *a = &nts_opt_defs[i], *b = &nts_opt_defs[j];

			if (a->kind == NTS_KIND_DAEMON || b->kind == NTS_KIND_DAEMON ||
			    a->off != b->off)
				continue;
			if ((a->flags & NTS_OPT_RELOADABLE) != (b->flags & NTS_OPT_RELOADABLE))
				fail_msg("--%s and --%s fill one field but only one is reloadable",
					 a->name, b->name);
		}
}

static void test_listen_addresses_need_a_restart(void **state)
{
	static const enum nts_opt_id fixed[] = {
	    NTS_OPT_LISTEN,	NTS_OPT_TLS_LISTEN, NTS_OPT_RELAY_PORTS, NTS_OPT_DB,
	    NTS_OPT_CTL_SOCKET, NTS_OPT_PIN_DIR,    NTS_OPT_REALM,	 NTS_OPT_RUN_AS,
	};

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		assert_false(nts_opt_defs[fixed[i]].flags & NTS_OPT_RELOADABLE);
}

static void test_log_format_defaults_to_text(void **state)
{
	struct nts_config cfg;

	nts_config_defaults(&cfg);
	assert_string_equal(cfg.log_format, "text");
	assert_true(nts_opt_defs[NTS_OPT_LOG_FORMAT].flags & NTS_OPT_RELOADABLE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_daemon_rows_are_not_reloadable),
	    cmocka_unit_test(test_rows_sharing_a_field_agree_on_reloadable),
	    cmocka_unit_test(test_listen_addresses_need_a_restart),
	    cmocka_unit_test(test_log_format_defaults_to_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
