/* ntsctl secret rotate [--overlap D]: a new signing secret for ephemeral credentials, shared by
 * the fleet (docs/fleet.md, "Rotating the secret"): every node verifies with it within seconds,
 * all sign with it after the overlap, and the old one keeps verifying until the last token it
 * signed has expired. Through the running ntsd, or on --db directly.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "ntsctl/ntsctl.h"

static void secret_usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: ntsctl secret rotate [--overlap D] [--json]\n\n"
	    "Adds a new signing secret to the database. Every node verifies tokens signed with\n"
	    "it as soon as it polls the database (within 2 s); nodes sign new tokens with it\n"
	    "once the overlap has passed (D: seconds, or with s, m or h; %d s to %d h, default\n"
	    "%d s). The previous secret keeps verifying until the last token it can have signed\n"
	    "has expired (%d s after the switch), then retires. Talks to ntsd on --ctl-socket,\n"
	    "or works on --db when ntsd is not running.\n",
	    API_SECRET_OVERLAP_MIN, API_TTL_MAX / 3600, API_SECRET_OVERLAP_DEFAULT, API_TTL_MAX);
}

/* "90", "90s", "10m", "1h" into seconds. 0 or -1. */
static int secret_parse_duration(const char *s, long *out)
{
	char *end;
	long v = strtol(s, &end, 10), mul = 1;

	if (end == s || v <= 0)
		return -1;
	if (*end == 'm')
		mul = 60;
	else if (*end == 'h')
		mul = 3600;
	else if (*end != 's' && *end != '\0')
		return -1;
	if ((*end && end[1]) || v > API_TTL_MAX / mul)
		return -1;
	*out = v * mul;
	return 0;
}

static int secret_rotate(struct ntsctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"overlap", required_argument, NULL, 'o'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	long overlap = API_SECRET_OVERLAP_DEFAULT;
	char err[256] = "";
	bool json = false;
	json_t *args, *r;
	int o;

	optind = 0;
	while ((o = getopt_long(argc, argv, "o:jh", opts, NULL)) != -1) {
		switch (o) {
		case 'o':
			if (secret_parse_duration(optarg, &overlap) != 0 ||
			    overlap < API_SECRET_OVERLAP_MIN) {
				fprintf(stderr,
					"ntsctl secret rotate: --overlap must be %ds..%dh\n",
					API_SECRET_OVERLAP_MIN, API_TTL_MAX / 3600);
				return 2;
			}
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			secret_usage(stdout);
			return 0;
		default:
			secret_usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		secret_usage(stderr);
		return 2;
	}
	args = json_pack("{s:I}", "overlap", (json_int_t)overlap);
	r = api_cmd_call(c->ctl_socket, c->db, "secret-rotate", args, 10000, err, sizeof(err));
	json_decref(args);
	if (!r) {
		fprintf(stderr, "ntsctl secret rotate: %s\n", err);
		return 1;
	}
	if (json) {
		char *s = json_dumps(r, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

		printf("%s\n", s ? s : "null");
		free(s);
	} else {
		printf("secret %" JSON_INTEGER_FORMAT
		       " added: verified now, signs from %" JSON_INTEGER_FORMAT
		       " (in %ld s); the previous one retires %d s after that\n",
		       json_integer_value(json_object_get(r, "id")),
		       json_integer_value(json_object_get(r, "activates_at")), overlap,
		       API_TTL_MAX);
	}
	json_decref(r);
	return 0;
}

int cmd_secret(struct ntsctl *c, int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "rotate"))
		return secret_rotate(c, argc - 1, argv + 1);
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		secret_usage(stdout);
		return 0;
	}
	secret_usage(stderr);
	return 2;
}
