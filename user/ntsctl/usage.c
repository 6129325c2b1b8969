/* ntsctl usage [--account SID] [--daily|--monthly] [--json]: what accounts used, from the running
 * ntsd over the control socket (it writes its pending usage first), or from --db directly when no
 * ntsd runs (up to ntsd's last write, at most 10 s old).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "ntsctl/ntsctl.h"

#define USAGE_CTL_TIMEOUT_MS 10000

static void usage_usage(FILE *f)
{
	fprintf(f, "usage: ntsctl usage [--account SID] [--daily|--monthly] [--json]\n\n"
		   "Usage per account, each account's own (a subaccount's is not added to its\n"
		   "master's here; the Usage Records API rolls it up): payload bytes relayed to\n"
		   "peers and to clients over both relay paths, megabytes (10^6 bytes, as the\n"
		   "Usage Records API bills them), allocations made and allocation-seconds held.\n"
		   "All time by default; --daily per UTC day, --monthly per calendar month.\n"
		   "Talks to ntsd on --ctl-socket, or reads --db when ntsd is not running.\n");
}

static json_int_t usage_int(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static const char *usage_str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : "";
}

static void usage_print(json_t *r, bool json)
{
	json_t *list = json_object_get(r, "usage"), *u;
	size_t i;

	if (json) {
		char *s = json_dumps(r, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

		printf("%s\n", s ? s : "null");
		free(s);
		return;
	}
	printf("%-34s  %-10s  %-10s  %14s  %14s  %12s  %8s  %12s\n", "ACCOUNT", "FROM", "TO",
	       "TO_PEER", "TO_CLIENT", "MEGABYTES", "ALLOCS", "ALLOC_SECS");
	json_array_foreach(list, i, u)
	{
		printf("%-34s  %-10s  %-10s  %14" JSON_INTEGER_FORMAT "  %14" JSON_INTEGER_FORMAT
		       "  %12s  %8" JSON_INTEGER_FORMAT "  %12" JSON_INTEGER_FORMAT "%s%s\n",
		       usage_str(u, "account_sid"), usage_str(u, "start_date"),
		       usage_str(u, "end_date"), usage_int(u, "bytes_to_peer"),
		       usage_int(u, "bytes_to_client"), usage_str(u, "megabytes"),
		       usage_int(u, "allocations"), usage_int(u, "allocation_seconds"),
		       *usage_str(u, "region") ? "  region " : "", usage_str(u, "region"));
	}
}

int cmd_usage(struct ntsctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"account", required_argument, NULL, 'a'}, {"daily", no_argument, NULL, 'd'},
	    {"monthly", no_argument, NULL, 'm'},       {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},	       {0},
	};
	const char *account = NULL, *span = "total";
	char err[256] = "";
	bool json = false;
	json_t *args, *r;
	int o;

	optind = 0;
	while ((o = getopt_long(argc, argv, "a:dmjh", opts, NULL)) != -1) {
		switch (o) {
		case 'a':
			account = optarg;
			break;
		case 'd':
		case 'm':
			if (strcmp(span, "total") != 0) {
				fprintf(stderr, "ntsctl usage: --daily or --monthly, not both\n");
				return 2;
			}
			span = o == 'd' ? "daily" : "monthly";
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage_usage(stdout);
			return 0;
		default:
			usage_usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage_usage(stderr);
		return 2;
	}
	args = json_pack("{s:s}", "span", span);
	if (args && account)
		json_object_set_new(args, "account", json_string(account));
	r = api_cmd_call(c->ctl_socket, c->db, "usage", args, USAGE_CTL_TIMEOUT_MS, err,
			 sizeof(err));
	json_decref(args);
	if (!r) {
		fprintf(stderr, "ntsctl usage: %s\n", err);
		return 1;
	}
	usage_print(r, json);
	json_decref(r);
	return 0;
}
