/* ntsctl drain [--wait] and ntsctl undrain: a draining ntsd answers each new Allocate with 300
 * Try Alternate naming the least-loaded active node of its region, while the allocations it holds
 * go on until they end (docs/fleet.md, "Draining a node for maintenance"); --wait returns once it
 * holds none. undrain makes it take allocations again.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "ctl/ctl.h"
#include "ntsctl/ntsctl.h"

#define DRAIN_POLL_MS 500

static void drain_usage(FILE *f, const char *name)
{
	if (!strcmp(name, "undrain")) {
		fprintf(f, "usage: ntsctl undrain\n\n"
			   "Ends a drain: ntsd serves new allocations again.\n");
		return;
	}
	fprintf(f, "usage: ntsctl drain [--wait]\n\n"
		   "Makes ntsd answer new allocations with 300 Try Alternate naming the\n"
		   "least-loaded active node of its region (508 when there is none); the\n"
		   "allocations it holds go on until they end. With --wait, returns once it holds\n"
		   "none (prints the count as it falls). 'ntsctl undrain' ends the drain.\n");
}

static int drain_fail(const char *name, const char *sock, int rc, const char *err)
{
	if (rc == -ENOENT || rc == -ECONNREFUSED)
		fprintf(stderr, "ntsctl %s: ntsd is not running (no control socket at %s)\n", name,
			sock);
	else
		fprintf(stderr, "ntsctl %s: %s\n", name, *err ? err : strerror(-rc));
	return 1;
}

/* Polls the allocation count until it is 0. */
static int drain_wait(struct ntsctl *c, json_int_t left)
{
	char err[256] = "";
	json_int_t shown = left;
	json_t *r;
	int rc;

	while (left > 0) {
		poll(NULL, 0, DRAIN_POLL_MS);
		rc = ctl_call(c->ctl_socket, "status", NULL, 5000, &r, err, sizeof(err));
		if (rc)
			return drain_fail("drain", c->ctl_socket, rc, err);
		left = json_integer_value(json_object_get(r, "allocations"));
		json_decref(r);
		if (left != shown)
			printf("%" JSON_INTEGER_FORMAT " allocation%s left\n", left,
			       left == 1 ? "" : "s");
		fflush(stdout);
		shown = left;
	}
	printf("drained: no allocation left\n");
	return 0;
}

int cmd_drain(struct ntsctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"wait", no_argument, NULL, 'w'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *name = argv[0];
	bool undrain = !strcmp(name, "undrain"), wait = false;
	char err[256] = "";
	json_int_t left;
	json_t *r;
	int o, rc;

	optind = 0;
	while ((o = getopt_long(argc, argv, undrain ? "h" : "wh", opts, NULL)) != -1) {
		switch (o) {
		case 'w':
			if (undrain) {
				drain_usage(stderr, name);
				return 2;
			}
			wait = true;
			break;
		case 'h':
			drain_usage(stdout, name);
			return 0;
		default:
			drain_usage(stderr, name);
			return 2;
		}
	}
	if (optind != argc) {
		drain_usage(stderr, name);
		return 2;
	}
	rc = ctl_call(c->ctl_socket, undrain ? "undrain" : "drain", NULL, 5000, &r, err,
		      sizeof(err));
	if (rc)
		return drain_fail(name, c->ctl_socket, rc, err);
	left = json_integer_value(json_object_get(r, "allocations"));
	printf("%s: %s, %" JSON_INTEGER_FORMAT " allocation%s\n",
	       json_string_value(json_object_get(r, "node")),
	       json_string_value(json_object_get(r, "state")), left, left == 1 ? "" : "s");
	fflush(stdout);
	json_decref(r);
	return wait ? drain_wait(c, left) : 0;
}
