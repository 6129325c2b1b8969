/* ntsctl upgrade: asks the running ntsd to hand its sockets and allocations to a new binary (the
 * one now at its own path by default) and stop; calls in progress carry on with the new process.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "ctl/ctl.h"
#include "ntsctl/ntsctl.h"

#define UPGRADE_WAIT_MS 30000 /* ntsd gives the new binary 10 s to confirm */

static void upgrade_usage(FILE *f)
{
	fprintf(f,
		"usage: ntsctl upgrade [--binary PATH] [--json]\n"
		"Starts PATH (default: the file now at the running ntsd's own path) with ntsd's\n"
		"command line and hands it the listening and relay sockets and every UDP\n"
		"allocation; the old ntsd then exits. On any failure the old ntsd keeps serving\n"
		"and this command fails. The same as sending ntsd SIGUSR2.\n");
}

int cmd_upgrade(struct ntsctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"binary", required_argument, NULL, 'b'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	char err[512], path[PATH_MAX];
	const char *binary = NULL;
	json_t *args, *res = NULL;
	int o, rc, json = 0;

	optind = 0; /* glibc: rescan with permutation (main parsed its options with "+") */
	while ((o = getopt_long(argc, argv, "b:jh", opts, NULL)) != -1) {
		switch (o) {
		case 'b':
			binary = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			upgrade_usage(stdout);
			return 0;
		default:
			upgrade_usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		upgrade_usage(stderr);
		return 2;
	}
	/* ntsd resolves relative paths from its own working directory: send an absolute one. */
	if (binary && binary[0] != '/' && realpath(binary, path))
		binary = path;
	args = binary ? json_pack("{s:s}", "binary", binary) : json_object();
	rc = ctl_call(c->ctl_socket, "upgrade", args, UPGRADE_WAIT_MS, &res, err, sizeof(err));
	json_decref(args);
	if (rc) {
		fprintf(stderr, "ntsctl upgrade: %s\n",
			rc == -EPROTO ? err
			: err[0]      ? err
				      : "failed");
		return 1;
	}
	if (json)
		json_dumpf(res, stdout, JSON_COMPACT), putchar('\n');
	else
		printf("upgraded: pid %lld serves now (%s)\n",
		       (long long)json_integer_value(json_object_get(res, "pid")),
		       json_string_value(json_object_get(res, "binary")));
	json_decref(res);
	return 0;
}
