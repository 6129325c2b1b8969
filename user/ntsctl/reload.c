/* ntsctl reload: asks the running ntsd to read its configuration again (as SIGHUP does) and
 * prints the outcome: applied (with the settings changed and those that need a restart) or
 * refused with the reason, the running configuration staying.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "ctl/ctl.h"
#include "ntsctl/ntsctl.h"

static void reload_usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: ntsctl reload [--json]\n"
	    "Makes ntsd read its configuration again (--config FILE and its command line) and\n"
	    "apply what can change live, as SIGHUP does. Prints \"ok: N settings changed\",\n"
	    "\"ok: ...; needs restart: NAMES\" (those keep their running value) or\n"
	    "\"refused: REASON\" (nothing changed). Exit status: 0 applied, 1 refused or no ntsd,\n"
	    "3 applied but some settings need a restart.\n");
}

/* "a, b" of a JSON array of strings into buf. */
static const char *reload_join(const json_t *a, char *buf, size_t len)
{
	size_t off = 0, i;
	json_t *v;

	buf[0] = 0;
	json_array_foreach(a, i, v)
	{
		if (off >= len)
			break;
		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : "",
					json_string_value(v) ? json_string_value(v) : "?");
	}
	return buf;
}

int cmd_reload(struct ntsctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	char err[512], changed[1024], restart[1024];
	bool json = false;
	json_t *res = NULL, *ch, *rs;
	const char *status, *reason;
	bool refused;
	int o, rc;

	optind = 0; /* glibc: rescan with permutation (main parsed its options with "+") */
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'j':
			json = true;
			break;
		case 'h':
			reload_usage(stdout);
			return 0;
		default:
			reload_usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		reload_usage(stderr);
		return 2;
	}
	rc = ctl_call(c->ctl_socket, "reload", NULL, 10000, &res, err, sizeof(err));
	if (rc) {
		if (rc == -ENOENT || rc == -ECONNREFUSED)
			fprintf(stderr,
				"ntsctl reload: ntsd is not running (no control socket at %s)\n",
				c->ctl_socket);
		else
			fprintf(stderr, "ntsctl reload: %s\n", rc == -EPROTO ? err : strerror(-rc));
		return 1;
	}
	status = json_string_value(json_object_get(res, "status"));
	refused = !status || !strcmp(status, "refused");
	reason = json_string_value(json_object_get(res, "reason"));
	ch = json_object_get(res, "changed");
	rs = json_object_get(res, "needs_restart");
	if (json) {
		json_dumpf(res, stdout, JSON_INDENT(2));
		putchar('\n');
	} else if (refused) {
		printf("refused: %s\n", reason ? reason : "(no reason given)");
	} else {
		printf("ok: %zu settings changed%s%s%s%s%s%s\n", json_array_size(ch),
		       json_array_size(ch) ? " (" : "", reload_join(ch, changed, sizeof(changed)),
		       json_array_size(ch) ? ")" : "",
		       json_is_true(json_object_get(res, "tls_reloaded"))
			   ? "; TLS certificate reloaded"
			   : "",
		       json_array_size(rs) ? "; needs restart (running value kept): " : "",
		       reload_join(rs, restart, sizeof(restart)));
	}
	rc = refused ? 1 : json_array_size(rs) ? 3 : 0;
	json_decref(res);
	return rc;
}
