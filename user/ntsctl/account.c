/* ntsctl account create|list|suspend|activate: asks the running ntsd over the control socket, or
 * works on --db directly when no ntsd listens there.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "ntsctl/ntsctl.h"

#define ACCOUNT_CTL_TIMEOUT_MS 5000

static void account_usage(FILE *f)
{
	fprintf(
	    f, "usage: ntsctl account create NAME [--json]\n"
	       "       ntsctl account list [--json]\n"
	       "       ntsctl account suspend SID [--json]\n"
	       "       ntsctl account activate SID [--json]\n\n"
	       "create prints the new AccountSid and its AuthToken; the AuthToken is shown only\n"
	       "once (nts keeps only a salted hash). Suspended accounts cannot issue tokens.\n"
	       "Talks to ntsd on --ctl-socket, or edits --db directly when ntsd is not running.\n");
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

int cmd_account(struct ntsctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *action, *cmd;
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
	while ((o = getopt_long(argc - 1, argv + 1, "jh", opts, NULL)) != -1) {
		switch (o) {
		case 'j':
			json = true;
			break;
		case 'h':
			account_usage(stdout);
			return 0;
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
	if (needs_arg)
		args = json_pack("{s:s}", strcmp(action, "create") == 0 ? "name" : "sid", argv[0]);
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
