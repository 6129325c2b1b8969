/* ntsctl key create --account SID [NAME] | list --account SID | delete SID: API keys, which
 * authenticate the token API as the account (Basic auth KeySid:KeySecret) but cannot manage
 * accounts or keys. Asks the running ntsd over the control socket, or works on --db directly.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "ntsctl/ntsctl.h"

#define KEY_CTL_TIMEOUT_MS 5000

static void key_usage(FILE *f)
{
	fprintf(
	    f, "usage: ntsctl key create --account SID [NAME] [--json]\n"
	       "       ntsctl key list --account SID [--json]\n"
	       "       ntsctl key delete SID [--json]\n\n"
	       "create prints the new key's sid (SK...) and its secret; the secret is shown only\n"
	       "once (nts keeps only a salted hash). A key authenticates the token API for its\n"
	       "account, e.g. Twilio's Client(key_sid, key_secret, account_sid), but not the\n"
	       "account and key resources. delete revokes it at once.\n"
	       "Talks to ntsd on --ctl-socket, or edits --db directly when ntsd is not running.\n");
}

static const char *key_field(json_t *k, const char *key)
{
	json_t *v = json_object_get(k, key);

	return json_is_string(v) ? json_string_value(v) : "";
}

static void key_show(json_t *r, const char *action, bool json)
{
	size_t i;
	json_t *k;

	if (json) {
		char *s = json_dumps(r, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

		printf("%s\n", s ? s : "null");
		free(s);
		return;
	}
	if (strcmp(action, "create") == 0) {
		printf("KeySid: %s\nSecret: %s\n", key_field(r, "sid"), key_field(r, "secret"));
		fprintf(stderr, "The secret is shown only now: store it safely.\n");
		return;
	}
	if (strcmp(action, "delete") == 0) {
		printf("deleted %s\n", key_field(r, "sid"));
		return;
	}
	printf("%-34s  %-31s  %s\n", "SID", "CREATED", "NAME");
	json_array_foreach(r, i, k)
	    printf("%-34s  %-31s  %s\n", key_field(k, "sid"), key_field(k, "date_created"),
		   key_field(k, "friendly_name"));
}

int cmd_key(struct ntsctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"account", required_argument, NULL, 'a'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *action, *cmd, *account = NULL;
	char err[256] = "";
	json_t *args, *r;
	bool json = false;
	int o;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		key_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	action = argv[1];
	optind = 0; /* re-initialise getopt for the action's own options */
	while ((o = getopt_long(argc - 1, argv + 1, "a:jh", opts, NULL)) != -1) {
		switch (o) {
		case 'a':
			account = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			key_usage(stdout);
			return 0;
		default:
			key_usage(stderr);
			return 2;
		}
	}
	argc -= 1 + optind;
	argv += 1 + optind;
	if (strcmp(action, "create") == 0 && account && argc <= 1) {
		cmd = "key-create";
		args = json_pack("{s:s}", "account", account);
		if (argc == 1)
			json_object_set_new(args, "name", json_string(argv[0]));
	} else if (strcmp(action, "list") == 0 && account && argc == 0) {
		cmd = "key-list";
		args = json_pack("{s:s}", "account", account);
	} else if (strcmp(action, "delete") == 0 && !account && argc == 1) {
		cmd = "key-delete";
		args = json_pack("{s:s}", "sid", argv[0]);
	} else {
		key_usage(stderr);
		return 2;
	}
	r = api_cmd_call(c->ctl_socket, c->db, cmd, args, KEY_CTL_TIMEOUT_MS, err, sizeof(err));
	json_decref(args);
	if (!r) {
		fprintf(stderr, "ntsctl key %s: %s\n", action, err);
		return 1;
	}
	key_show(r, action, json);
	json_decref(r);
	return 0;
}
