/* ntsctl account create [--parent SID]|list|suspend|activate|close|set: asks the running ntsd over
 * the control socket, or works on --db directly when no ntsd listens there.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "ntsctl/ntsctl.h"

#define ACCOUNT_CTL_TIMEOUT_MS 5000

static void account_usage(FILE *f)
{
	fprintf(f,
		"usage: ntsctl account create NAME [--parent SID] [--json]\n"
		"       ntsctl account list [--json]\n"
		"       ntsctl account suspend SID [--json]\n"
		"       ntsctl account activate SID [--json]\n"
		"       ntsctl account close SID [--json]\n"
		"       ntsctl account set SID [--max-allocations N] [--max-bps N] [--json]\n\n"
		"create prints the new AccountSid and its AuthToken; the AuthToken is shown only\n"
		"once (nts keeps only a salted hash). --parent SID makes it a subaccount of the\n"
		"master SID (a master manages its subaccounts through the account API).\n"
		"suspend and close end every live allocation of the account at once (kernel\n"
		"fast-path entries too); its unexpired tokens get 401 from then on and it cannot\n"
		"issue new ones. activate undoes suspend; close is for good. A master's\n"
		"subaccounts are suspended with it and closed with it.\n"
		"set --max-allocations N: the account's allocation quota over all its tokens\n"
		"(0: ntsd's --max-allocations-per-account). --max-bps N: application bytes per\n"
		"second each way over all the account's allocations, both relay paths (0: none;\n"
		"README \"Bandwidth limits\").\n"
		"Talks to ntsd on --ctl-socket, or edits --db directly when ntsd is not running\n"
		"(ntsd applies such changes when it next starts).\n");
}

static const char *account_field(json_t *a, const char *key)
{
	json_t *v = json_object_get(a, key);

	return json_is_string(v) ? json_string_value(v) : "";
}

static void account_print(json_t *a)
{
	printf("%-34s  %-9s  %-31s  %8" JSON_INTEGER_FORMAT "  %12" JSON_INTEGER_FORMAT "  %s\n",
	       account_field(a, "sid"), account_field(a, "status"),
	       account_field(a, "date_created"),
	       json_integer_value(json_object_get(a, "allocations")),
	       json_integer_value(json_object_get(a, "bytes")), account_field(a, "friendly_name"));
}

static void account_print_header(void)
{
	printf("%-34s  %-9s  %-31s  %8s  %12s  %s\n", "SID", "STATUS", "CREATED", "ALLOCS", "BYTES",
	       "NAME");
}

static int account_show(json_t *r, const char *action, bool json)
{
	size_t i;
	json_t *a;

	if (json) {
		char *s = json_dumps(r, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

		printf("%s\n", s ? s : "null");
		free(s);
		return 0;
	}
	if (strcmp(action, "create") == 0) {
		printf("AccountSid: %s\nAuthToken:  %s\n", account_field(r, "sid"),
		       account_field(r, "auth_token"));
		fprintf(stderr, "The AuthToken is shown only now: store it safely.\n");
		return 0;
	}
	account_print_header();
	if (json_is_array(r)) {
		json_array_foreach(r, i, a) account_print(a);
	} else {
		account_print(r);
	}
	return 0;
}

/* Adds key = the decimal value (NULL: absent) to args. 0 or -EINVAL. */
static int account_set_limit(json_t *args, const char *key, const char *value)
{
	unsigned long long n;
	char *end;

	if (!value)
		return 0;
	if (*value < '0' || *value > '9')
		return -EINVAL;
	errno = 0;
	n = strtoull(value, &end, 10);
	if (errno || *end || n > INT64_MAX)
		return -EINVAL;
	return json_object_set_new(args, key, json_integer((json_int_t)n)) ? -ENOMEM : 0;
}

int cmd_account(struct ntsctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {"max-allocations", required_argument, NULL, 'm'},
	    {"max-bps", required_argument, NULL, 'b'},
	    {"parent", required_argument, NULL, 'p'},
	    {0},
	};
	const char *action, *cmd, *max_alloc = NULL, *max_bps = NULL, *parent = NULL;
	char err[256] = "";
	json_t *args = NULL, *r;
	bool json = false, needs_arg;
	int o, rc;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		account_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	action = argv[1];
	optind = 0; /* re-initialise getopt for the action's own options */
	while ((o = getopt_long(argc - 1, argv + 1, "jhm:b:p:", opts, NULL)) != -1) {
		switch (o) {
		case 'j':
			json = true;
			break;
		case 'h':
			account_usage(stdout);
			return 0;
		case 'm':
			max_alloc = optarg;
			break;
		case 'b':
			max_bps = optarg;
			break;
		case 'p':
			parent = optarg;
			break;
		default:
			account_usage(stderr);
			return 2;
		}
	}
	argc -= 1 + optind;
	argv += 1 + optind;
	if (strcmp(action, "create") == 0)
		cmd = "account-create";
	else if (strcmp(action, "list") == 0)
		cmd = "account-list";
	else if (strcmp(action, "suspend") == 0)
		cmd = "account-suspend";
	else if (strcmp(action, "activate") == 0)
		cmd = "account-activate";
	else if (strcmp(action, "close") == 0)
		cmd = "account-close";
	else if (strcmp(action, "set") == 0)
		cmd = "account-set";
	else {
		fprintf(stderr, "ntsctl account: unknown action '%s'\n", action);
		account_usage(stderr);
		return 2;
	}
	needs_arg = strcmp(action, "list") != 0;
	if (argc != (needs_arg ? 1 : 0)) {
		account_usage(stderr);
		return 2;
	}
	if (((max_alloc || max_bps) && strcmp(action, "set") != 0) ||
	    (parent && strcmp(action, "create") != 0)) {
		account_usage(stderr);
		return 2;
	}
	if (needs_arg)
		args = json_pack("{s:s}", strcmp(action, "create") == 0 ? "name" : "sid", argv[0]);
	if (parent)
		json_object_set_new(args, "parent", json_string(parent));
	if (account_set_limit(args, "max_allocations", max_alloc) ||
	    account_set_limit(args, "max_bps", max_bps)) {
		fprintf(stderr, "ntsctl account set: limits are non-negative integers\n");
		json_decref(args);
		return 2;
	}
	r = api_cmd_call(c->ctl_socket, c->db, cmd, args, ACCOUNT_CTL_TIMEOUT_MS, err, sizeof(err));
	json_decref(args);
	if (!r) {
		fprintf(stderr, "ntsctl account %s: %s\n", action, err);
		return 1;
	}
	rc = account_show(r, action, json);
	json_decref(r);
	return rc;
}
