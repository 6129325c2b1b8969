/* ntsd option parsing: command line, config file, precedence, defaults and errors
 * (user/ntsd/options*.c over the option table in user/util/config.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ntsd/options.h"

struct parsed {
	struct nts_config cfg;
	struct nts_options opts;
	char err[256];
	int rc;
};

/* Parses a NULL-terminated list of arguments after "ntsd". */
static struct parsed *parse(const char *first, ...)
{
	static struct parsed p;
	char *argv[64] = {"ntsd"};
	int argc = 1;
	va_list ap;

	va_start(ap, first);
	for (const char *a = first; a && argc < 63; a = va_arg(ap, const char *))
		argv[argc++] = (char *)a;
	va_end(ap);
	nts_config_defaults(&p.cfg);
	p.err[0] = 0;
	p.rc = nts_options_parse(&p.cfg, &p.opts, argc, argv, p.err, sizeof(p.err));
	return &p;
}

static const char *write_tmp(const char *text)
{
	static char path[64];
	int fd;

	strcpy(path, "/tmp/nts-options-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void test_defaults_without_any_option(void **state)
{
	struct parsed *p = parse(NULL);
	char buf[NTS_ADDRSTRLEN];

	assert_int_equal(p->rc, 0);
	assert_int_equal(nts_options_resolve(&p->cfg, p->err, sizeof(p->err)), 0);
	assert_int_equal(p->cfg.nlisten, 1);
	assert_string_equal(nts_addr_fmt(&p->cfg.listen[0], buf, sizeof(buf), true),
			    "0.0.0.0:3478");
	assert_int_equal(p->cfg.relay_port_min, 49152);
	assert_int_equal(p->cfg.relay_port_max, 65535);
	assert_string_equal(p->cfg.realm, "nts");
	assert_string_equal(nts_addr_fmt(&p->cfg.api_listen, buf, sizeof(buf), true),
			    "127.0.0.1:8080");
	assert_string_equal(p->cfg.db, "/var/lib/nts/nts.db"); /* absolute: same from any cwd */
	assert_string_equal(p->cfg.ctl_socket, "/run/nts/ntsd.sock");
	assert_string_equal(p->cfg.pin_dir, "/sys/fs/bpf/nts");
	assert_string_equal(p->cfg.software, ""); /* no SOFTWARE unless asked: amplification */
	/* A wildcard listen leaves the relay address to the address each client reached. */
	assert_int_equal(p->cfg.nrelay_ip, 0);
	assert_false(p->opts.demo);
}

static void test_repeatable_listen_accepts_ipv4_and_ipv6(void **state)
{
	struct parsed *p = parse("--listen", "127.0.0.1:3478", "--listen=[::1]:3479", NULL);
	char buf[NTS_ADDRSTRLEN];

	assert_int_equal(p->rc, 0);
	assert_int_equal(p->cfg.nlisten, 2);
	assert_string_equal(nts_addr_fmt(&p->cfg.listen[1], buf, sizeof(buf), true), "[::1]:3479");
}

static void test_relay_ip_and_ice_host_default_to_listen_addresses(void **state)
{
	struct parsed *p = parse("--listen", "[::1]:3478", "--listen", "127.0.0.1:3478", NULL);
	char buf[NTS_ADDRSTRLEN];

	assert_int_equal(nts_options_resolve(&p->cfg, p->err, sizeof(p->err)), 0);
	assert_int_equal(p->cfg.nrelay_ip, 2);
	assert_string_equal(nts_addr_fmt(&p->cfg.relay_ip[0], buf, sizeof(buf), false), "::1");
	assert_string_equal(nts_addr_fmt(&p->cfg.relay_ip[1], buf, sizeof(buf), false),
			    "127.0.0.1");
	assert_string_equal(p->cfg.ice_host, "[::1]");
}

static void test_every_limit_has_a_long_option(void **state)
{
	struct parsed *p = parse(
	    "--max-allocations-per-user", "3", "--max-allocations", "100", "--default-lifetime",
	    "120", "--max-lifetime", "900", "--unauth-rate", "7", "--max-tcp-connections", "11",
	    "--max-tcp-per-source", "2", "--tcp-idle-timeout", "30", "--fastpath-channels", "1024",
	    "--software", "x/1", "--verbose", "--demo", "--no-api", NULL);

	assert_int_equal(p->rc, 0);
	assert_int_equal(p->cfg.max_allocations_per_user, 3);
	assert_int_equal(p->cfg.max_allocations, 100);
	assert_int_equal(p->cfg.default_lifetime, 120);
	assert_int_equal(p->cfg.max_lifetime, 900);
	assert_int_equal(p->cfg.unauth_rate, 7);
	assert_int_equal(p->cfg.max_tcp_connections, 11);
	assert_int_equal(p->cfg.max_tcp_per_source, 2);
	assert_int_equal(p->cfg.tcp_idle_timeout, 30);
	assert_int_equal(p->cfg.fastpath_channels, 1024);
	assert_string_equal(p->cfg.software, "x/1");
	assert_int_equal(p->cfg.verbose, 1);
	assert_true(p->opts.demo);
	assert_true(p->cfg.api_off);
}

static void test_credentials_and_peer_rules_are_repeatable(void **state)
{
	struct parsed *p = parse("--secret", "s1", "--secret", "s2", "--user", "alice:pa:ss",
				 "--allow-peer", "198.18.0.0/15", "--deny-peer", "2001:db8::/32",
				 "--relay-ports", "50000-50100", "--realm", "example.org", NULL);

	assert_int_equal(p->rc, 0);
	assert_int_equal(p->cfg.nsecrets, 2);
	assert_string_equal(p->cfg.secrets[1], "s2");
	assert_int_equal(p->cfg.nusers, 1);
	assert_string_equal(p->cfg.users[0].name, "alice");
	assert_string_equal(p->cfg.users[0].password, "pa:ss"); /* split at the first colon */
	assert_int_equal(p->cfg.nallow_peer, 1);
	assert_int_equal(p->cfg.allow_peer[0].prefix, 15);
	assert_int_equal(p->cfg.ndeny_peer, 1);
	assert_int_equal(p->cfg.relay_port_min, 50000);
	assert_int_equal(p->cfg.relay_port_max, 50100);
	assert_string_equal(p->cfg.realm, "example.org");
}

static void test_unknown_option_is_an_error_naming_it(void **state)
{
	struct parsed *p = parse("--listen", "127.0.0.1:1", "--frobnicate", NULL);

	assert_int_equal(p->rc, -EINVAL);
	assert_non_null(strstr(p->err, "--frobnicate"));
}

static void test_bad_values_are_errors(void **state)
{
	assert_int_equal(parse("--listen", "127.0.0.1", NULL)->rc, -EINVAL);
	assert_int_equal(parse("--listen", "localhost:3478", NULL)->rc, -EINVAL);
	assert_int_equal(parse("--relay-ports", "60000-50000", NULL)->rc, -EINVAL);
	assert_int_equal(parse("--relay-ports", "1-70000", NULL)->rc, -EINVAL);
	assert_int_equal(parse("--max-allocations", "ten", NULL)->rc, -EINVAL);
	assert_int_equal(parse("--max-allocations", "-1", NULL)->rc, -EINVAL);
	assert_int_equal(parse("--user", "nopassword", NULL)->rc, -EINVAL);
	assert_int_equal(parse("--deny-peer", "10.0.0.0/33", NULL)->rc, -EINVAL);
	assert_int_equal(parse("--relay-ip", "127.0.0.1", "--relay-ip", "127.0.0.2", NULL)->rc,
			 -EINVAL);
	assert_int_equal(parse("--demo=yes", NULL)->rc, -EINVAL);
	assert_int_equal(parse("--realm", NULL)->rc, -EINVAL);
	assert_int_equal(parse("stray", NULL)->rc, -EINVAL);
}

static void test_inconsistent_options_fail_resolution(void **state)
{
	struct parsed *p = parse("--default-lifetime", "4000", NULL);

	assert_int_equal(p->rc, 0);
	assert_int_equal(nts_options_resolve(&p->cfg, p->err, sizeof(p->err)), -EINVAL);
	p = parse("--tls-listen", "127.0.0.1:5349", NULL);
	assert_int_equal(nts_options_resolve(&p->cfg, p->err, sizeof(p->err)), -EINVAL);
}

static void test_help_and_version_are_reported(void **state)
{
	assert_true(parse("--help", NULL)->opts.help);
	assert_true(parse("-V", NULL)->opts.version);
}

static void test_config_file_sets_options_with_comments_and_blanks(void **state)
{
	const char *path = write_tmp("# nts\n\nlisten = 127.0.0.1:4000   # first\n"
				     "listen=[::1]:4000\r\nrealm = file.example\n"
				     "demo\nmax-lifetime = 1200\n");
	struct parsed *p = parse("--config", path, NULL);

	unlink(path);
	assert_int_equal(p->rc, 0);
	assert_int_equal(p->cfg.nlisten, 2);
	assert_string_equal(p->cfg.realm, "file.example");
	assert_int_equal(p->cfg.max_lifetime, 1200);
	assert_true(p->opts.demo);
}

static void test_command_line_overrides_config_file(void **state)
{
	const char *path = write_tmp("listen = 127.0.0.1:4000\nlisten = 127.0.0.1:4001\n"
				     "realm = file.example\nsecret = a\n");
	/* --config after the options it is overridden by: the file is read first regardless. */
	struct parsed *p =
	    parse("--realm", "cli.example", "--listen", "127.0.0.1:5000", "--config", path, NULL);
	char buf[NTS_ADDRSTRLEN];

	unlink(path);
	assert_int_equal(p->rc, 0);
	assert_string_equal(p->cfg.realm, "cli.example");
	assert_int_equal(p->cfg.nlisten, 1); /* the command line's list replaces the file's */
	assert_string_equal(nts_addr_fmt(&p->cfg.listen[0], buf, sizeof(buf), true),
			    "127.0.0.1:5000");
	assert_int_equal(p->cfg.nsecrets, 1); /* kept from the file */
}

static void test_config_file_errors_name_file_and_line(void **state)
{
	struct nts_config cfg;
	char err[256];
	const char *bad[] = {"realm = a\nbogus = 1\n", "realm\n",
			     "config = x\n",	       "realm = a\nrealm = b\n",
			     "max-lifetime = 1e3\n",   "help\n"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		nts_config_defaults(&cfg);
		err[0] = 0;
		assert_int_equal(nts_config_parse_buffer(&cfg, NULL, bad[i], strlen(bad[i]),
							 "f.conf", err, sizeof(err)),
				 -EINVAL);
		assert_non_null(strstr(err, "f.conf:"));
	}
	nts_config_defaults(&cfg);
	nts_config_parse_buffer(&cfg, NULL, "realm = a\nbogus = 1\n", 20, "f.conf", err,
				sizeof(err));
	assert_non_null(strstr(err, "f.conf:2: unknown option 'bogus'"));
}

static void test_missing_config_file_is_an_error(void **state)
{
	struct parsed *p = parse("--config", "/nonexistent/nts.conf", NULL);

	assert_int_equal(p->rc, -EINVAL);
	assert_non_null(strstr(p->err, "/nonexistent/nts.conf"));
}

/* The text a row's default would be given as: "600", "49152-65535", "nts". */
static void default_text(const struct nts_opt_def *o, char *buf, size_t len)
{
	if (o->kind == NTS_KIND_U32)
		snprintf(buf, len, "%u", o->def.u32);
	else if (o->kind == NTS_KIND_PORTS)
		snprintf(buf, len, "%u-%u", o->def.ports[0], o->def.ports[1]);
	else
		snprintf(buf, len, "%s", o->def.str);
}

/* One table, three uses: each default, given as that option's value in a config file, sets the
 * field exactly as nts_config_defaults() does (and lies within the option's bounds). */
static void test_each_default_reads_back_through_its_option(void **state)
{
	static struct nts_config want, got;
	unsigned checked = 0;

	nts_config_defaults(&want);
	for (int i = 0; i < NTS_OPT_COUNT; i++) {
		const struct nts_opt_def *o = &nts_opt_defs[i];
		char line[512], value[256], err[256], a[NTS_ADDRSTRLEN], b[NTS_ADDRSTRLEN];

		if (!o->has_default)
			continue;
		default_text(o, value, sizeof(value));
		snprintf(line, sizeof(line), "%s = %s\n", o->name, value);
		memset(&got, 0, sizeof(got));
		assert_int_equal(
		    nts_config_parse_buffer(&got, NULL, line, strlen(line), "t", err, sizeof(err)),
		    0);
		switch (o->kind) {
		case NTS_KIND_STR:
			assert_string_equal((char *)&got + o->off, (char *)&want + o->off);
			break;
		case NTS_KIND_U32:
			assert_memory_equal((char *)&got + o->off, (char *)&want + o->off, 4);
			break;
		case NTS_KIND_PORTS:
			assert_int_equal(got.relay_port_min, want.relay_port_min);
			assert_int_equal(got.relay_port_max, want.relay_port_max);
			break;
		case NTS_KIND_API_LISTEN:
			assert_string_equal(nts_addr_fmt(&got.api_listen, a, sizeof(a), true),
					    nts_addr_fmt(&want.api_listen, b, sizeof(b), true));
			break;
		default:
			fail_msg("--%s: a default of an unexpected kind", o->name);
		}
		checked++;
	}
	assert_true(checked >= 15);
}

/* --help shows every default from the table, on the option's own line. */
static void test_help_shows_each_default_of_the_table(void **state)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	nts_options_usage(f);
	assert_int_equal(fclose(f), 0);
	for (int i = 0; i < NTS_OPT_COUNT; i++) {
		const struct nts_opt_def *o = &nts_opt_defs[i];
		char opt[64], want[300], value[256];
		const char *line, *eol;

		snprintf(opt, sizeof(opt), "  --%s ", o->name);
		line = strstr(text, opt);
		if (!line) { /* a flag: "--name" then spaces, or the end of the line */
			snprintf(opt, sizeof(opt), "  --%s", o->name);
			line = strstr(text, opt);
		}
		assert_non_null(line);
		if (!o->has_default)
			continue;
		eol = strchr(line, '\n');
		default_text(o, value, sizeof(value));
		snprintf(want, sizeof(want), "(default %s)", value);
		assert_non_null(strstr(line, want));
		assert_true(strstr(line, want) < eol);
	}
	free(text);
}

/* Secrets in files (not in argv, where /proc/PID/cmdline shows them): one per line, blanks around
 * a value trimmed, empty and # lines skipped; they add to --secret given on the command line. */
static void test_secret_file_reads_one_secret_per_line(void **state)
{
	const char *path = write_tmp("# rotation: first signs\n  first-secret \n\nsecond#x\r\n");
	struct parsed *p = parse("--secret", "cli", "--secret-file", path, NULL);

	unlink(path);
	assert_int_equal(p->rc, 0);
	assert_int_equal(p->cfg.nsecrets, 3);
	assert_string_equal(p->cfg.secrets[0], "cli");
	assert_string_equal(p->cfg.secrets[1], "first-secret");
	assert_string_equal(p->cfg.secrets[2], "second#x");
	assert_true(p->opts.argv_secrets);
}

static void test_user_file_reads_name_password_lines(void **state)
{
	const char *path = write_tmp("alice:wonderland\n# bob:off\nbob:builder\n");
	struct parsed *p = parse("--user-file", path, NULL);

	unlink(path);
	assert_int_equal(p->rc, 0);
	assert_false(p->opts.argv_secrets);
	assert_int_equal(p->cfg.nusers, 2);
	assert_string_equal(p->cfg.users[1].name, "bob");
	assert_string_equal(p->cfg.users[1].password, "builder");
}

/* A bad line is reported by file and line, never by its text (it may be a password). */
static void test_user_file_errors_do_not_quote_the_line(void **state)
{
	const char *path = write_tmp("alice:wonderland\nno-colon-hunter2\n");
	struct parsed *p = parse("--user-file", path, NULL);
	char want[96];

	unlink(path);
	assert_int_equal(p->rc, -EINVAL);
	snprintf(want, sizeof(want), "%s:2:", path);
	assert_non_null(strstr(p->err, want));
	assert_null(strstr(p->err, "hunter2"));
}

static void test_secret_file_readable_by_others_is_refused(void **state)
{
	const char *path = write_tmp("s3cret\n");
	struct parsed *p;

	assert_int_equal(chmod(path, 0644), 0);
	p = parse("--secret-file", path, NULL);
	unlink(path);
	assert_int_equal(p->rc, -EINVAL);
	assert_non_null(strstr(p->err, path));
	assert_non_null(strstr(p->err, "chmod 600"));
	assert_int_equal(p->cfg.nsecrets, 0);
}

/* A config file with secret or user lines must be private; one without secrets may be shared. */
static void test_config_file_with_secrets_readable_by_group_is_refused(void **state)
{
	const char *path = write_tmp("realm = r\nsecret = s3cret\n");
	struct parsed *p;

	assert_int_equal(chmod(path, 0640), 0);
	p = parse("--config", path, NULL);
	assert_int_equal(p->rc, -EINVAL);
	assert_non_null(strstr(p->err, path));
	assert_non_null(strstr(p->err, "chmod 600"));
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(parse("--config", path, NULL)->rc, 0);
	unlink(path);

	path = write_tmp("realm = r\nuser = a:b\n");
	assert_int_equal(chmod(path, 0604), 0);
	assert_int_equal(parse("--config", path, NULL)->rc, -EINVAL);
	unlink(path);

	path = write_tmp("realm = shared\n");
	assert_int_equal(chmod(path, 0644), 0);
	p = parse("--config", path, NULL);
	unlink(path);
	assert_int_equal(p->rc, 0);
	assert_string_equal(p->cfg.realm, "shared");
}

static void test_run_as_takes_user_and_group(void **state)
{
	struct parsed *p = parse("--run-as", "nobody:nogroup", NULL);

	assert_int_equal(p->rc, 0);
	assert_string_equal(p->cfg.run_as, "nobody:nogroup");
}

/* README "Performance": relay loops run as SCHED_BATCH unless --relay-preempt, on the command
 * line or in a config file. */
static void test_relay_preempt_is_off_by_default_and_a_switch(void **state)
{
	(void)state;
	assert_false(parse(NULL)->cfg.relay_preempt);
	assert_true(parse("--relay-preempt", NULL)->cfg.relay_preempt);
	for (int on = 0; on < 2; on++) {
		const char *path = write_tmp(on ? "relay-preempt\n" : "relay-preempt = false\n");
		struct parsed *p = parse("--config", path, NULL);

		assert_int_equal(p->rc, 0);
		assert_int_equal(p->cfg.relay_preempt, on);
		unlink(path);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults_without_any_option),
	    cmocka_unit_test(test_repeatable_listen_accepts_ipv4_and_ipv6),
	    cmocka_unit_test(test_relay_ip_and_ice_host_default_to_listen_addresses),
	    cmocka_unit_test(test_every_limit_has_a_long_option),
	    cmocka_unit_test(test_credentials_and_peer_rules_are_repeatable),
	    cmocka_unit_test(test_unknown_option_is_an_error_naming_it),
	    cmocka_unit_test(test_bad_values_are_errors),
	    cmocka_unit_test(test_inconsistent_options_fail_resolution),
	    cmocka_unit_test(test_help_and_version_are_reported),
	    cmocka_unit_test(test_config_file_sets_options_with_comments_and_blanks),
	    cmocka_unit_test(test_command_line_overrides_config_file),
	    cmocka_unit_test(test_config_file_errors_name_file_and_line),
	    cmocka_unit_test(test_missing_config_file_is_an_error),
	    cmocka_unit_test(test_each_default_reads_back_through_its_option),
	    cmocka_unit_test(test_help_shows_each_default_of_the_table),
	    cmocka_unit_test(test_secret_file_reads_one_secret_per_line),
	    cmocka_unit_test(test_user_file_reads_name_password_lines),
	    cmocka_unit_test(test_user_file_errors_do_not_quote_the_line),
	    cmocka_unit_test(test_secret_file_readable_by_others_is_refused),
	    cmocka_unit_test(test_config_file_with_secrets_readable_by_group_is_refused),
	    cmocka_unit_test(test_run_as_takes_user_and_group),
	    cmocka_unit_test(test_relay_preempt_is_off_by_default_and_a_switch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
