/* ntsctl diag-link [--account SID] [--ttl D] [--base URL] [--json]: prints a signed link to the
 * connectivity test page (README.md, "Connectivity test page"), valid D (default 10m, at most 1h).
 * Talks to ntsd on the control socket, or signs with --db's secret when ntsd is not running.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "ntsctl/ntsctl.h"

#define DIAG_CTL_TIMEOUT_MS 5000

static void diag_link_usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: ntsctl diag-link [--account SID] [--ttl D] [--base URL] [--json]\n\n"
	    "Prints a link to ntsd's connectivity test page for the account (default: the only\n"
	    "active one). The link is signed with ntsd's secret and valid D (seconds, or with\n"
	    "a unit s, m or h; default %dm, at most %dh); whoever opens it gets TURN credentials\n"
	    "for the account until then, never its AuthToken. --base replaces the scheme, host\n"
	    "and port of the link (default: the address ntsd's API listens on; with --db and no\n"
	    "ntsd running, http://127.0.0.1:8080).\n",
	    API_DIAG_TTL_DEFAULT / 60, API_DIAG_TTL_MAX / 3600);
}

/* "90", "90s", "10m", "1h" into seconds, 1..API_DIAG_TTL_MAX. 0 or -1. */
static int diag_parse_ttl(const char *s, long *out)
{
	char *end;
	long v = strtol(s, &end, 10), mul = 1;

	if (end == s || v <= 0 || v > API_DIAG_TTL_MAX)
		return -1;
	if (*end == 'm')
		mul = 60;
	else if (*end == 'h')
		mul = 3600;
	else if (*end != 's' && *end != '\0')
		return -1;
	if (*end && end[1])
		return -1;
	if (v > API_DIAG_TTL_MAX / mul)
		return -1;
	*out = v * mul;
	return 0;
}

int cmd_diag_link(struct ntsctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"account", required_argument, NULL, 'a'}, {"ttl", required_argument, NULL, 't'},
	    {"base", required_argument, NULL, 'b'},    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},	       {0},
	};
	const char *account = NULL, *base = NULL;
	long ttl = API_DIAG_TTL_DEFAULT;
	char err[256] = "";
	bool json = false;
	json_t *args, *r;
	int o;

	while ((o = getopt_long(argc, argv, "a:t:b:jh", opts, NULL)) != -1) {
		switch (o) {
		case 'a':
			account = optarg;
			break;
		case 't':
			if (diag_parse_ttl(optarg, &ttl) != 0) {
				fprintf(stderr, "ntsctl diag-link: --ttl must be 1s..%dh\n",
					API_DIAG_TTL_MAX / 3600);
				return 2;
			}
			break;
		case 'b':
			base = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			diag_link_usage(stdout);
			return 0;
		default:
			diag_link_usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		diag_link_usage(stderr);
		return 2;
	}
	args = json_pack("{s:I}", "ttl", (json_int_t)ttl);
	if (args && account)
		json_object_set_new(args, "account", json_string(account));
	if (args && base)
		json_object_set_new(args, "base", json_string(base));
	r = api_cmd_call(c->ctl_socket, c->db, "diag-link", args, DIAG_CTL_TIMEOUT_MS, err,
			 sizeof(err));
	json_decref(args);
	if (!r) {
		fprintf(stderr, "ntsctl diag-link: %s\n", err);
		return 1;
	}
	if (json) {
		char *s = json_dumps(r, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

		printf("%s\n", s ? s : "null");
		free(s);
	} else {
		printf("%s\n", json_string_value(json_object_get(r, "url")));
	}
	json_decref(r);
	return 0;
}
