/* ntsctl token create --account SID [--ttl N]: the same token the HTTP API would issue, from the
 * running ntsd over the control socket, or from --db directly when no ntsd runs.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "ntsctl/ntsctl.h"

#define TOKEN_CTL_TIMEOUT_MS 5000

static void token_usage(FILE *f)
{
	fprintf(f,
		"usage: ntsctl token create --account SID [--ttl N] [--json]\n\n"
		"Issues ephemeral TURN credentials for the account, valid N seconds (1..%d,\n"
		"default %d), and the ICE servers to use them with. --json prints the object the\n"
		"token API returns. Suspended accounts cannot issue tokens.\n"
		"Talks to ntsd on --ctl-socket, or signs with --db's secret when ntsd is not "
		"running.\n",
		API_TTL_MAX, API_TTL_DEFAULT);
}

static const char *token_field(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : "";
}

static void token_print(json_t *tok, bool json)
{
	json_t *servers = json_object_get(tok, "ice_servers"), *e;
	size_t i;

	if (json) {
		char *s = json_dumps(tok, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

		printf("%s\n", s ? s : "null");
		free(s);
		return;
	}
	printf("account_sid:  %s\ndate_created: %s\nttl:          %s\nusername:     %s\n"
	       "password:     %s\nice_servers:\n",
	       token_field(tok, "account_sid"), token_field(tok, "date_created"),
	       token_field(tok, "ttl"), token_field(tok, "username"), token_field(tok, "password"));
	json_array_foreach(servers, i, e) printf("  %s\n", token_field(e, "urls"));
}

int cmd_token(struct ntsctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"account", required_argument, NULL, 'a'},
	    {"ttl", required_argument, NULL, 't'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *account = NULL;
	uint32_t ttl = API_TTL_DEFAULT;
	char err[256] = "";
	bool json = false;
	json_t *args, *tok;
	int o;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		token_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "create") != 0) {
		fprintf(stderr, "ntsctl token: unknown action '%s'\n", argv[1]);
		token_usage(stderr);
		return 2;
	}
	optind = 0; /* re-initialise getopt for the action's options */
	while ((o = getopt_long(argc - 1, argv + 1, "a:t:jh", opts, NULL)) != -1) {
		switch (o) {
		case 'a':
			account = optarg;
			break;
		case 't':
			if (api_parse_ttl(optarg, &ttl) != 0) {
				fprintf(stderr, "ntsctl token: --ttl must be 1..%d seconds\n",
					API_TTL_MAX);
				return 2;
			}
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			token_usage(stdout);
			return 0;
		default:
			token_usage(stderr);
			return 2;
		}
	}
	if (!account || optind != argc - 1) {
		token_usage(stderr);
		return 2;
	}
	args = json_pack("{s:s, s:i}", "account", account, "ttl", (int)ttl);
	tok = api_cmd_call(c->ctl_socket, c->db, "token-create", args, TOKEN_CTL_TIMEOUT_MS, err,
			   sizeof(err));
	json_decref(args);
	if (!tok) {
		fprintf(stderr, "ntsctl token create: %s\n", err);
		return 1;
	}
	token_print(tok, json);
	json_decref(tok);
	return 0;
}
