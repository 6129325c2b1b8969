/* ntsctl allocations: lists TURN allocations of the running ntsd (control command "allocations"),
 * as a table for people or, with --json, as the daemon's JSON for machines; `allocations delete
 * ID` ends one (control command "allocation-delete").
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"
#include "ntsctl/ntsctl.h"

static void allocations_usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: ntsctl allocations [--json]\n"
	    "       ntsctl allocations delete ID\n"
	    "Lists the TURN allocations of the running ntsd: client 5-tuple, relayed addresses,\n"
	    "user, time left, permissions, channels and relayed traffic each way.\n"
	    "delete ends allocation ID (from the list) now, its fast-path entries with it.\n");
}

static const char *str_or(json_t *o, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s && s[0] ? s : dflt;
}

static long long int_of(json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

static void print_table(json_t *res)
{
	json_t *list = json_object_get(res, "allocations"), *a;
	long long now = int_of(res, "now");
	size_t i;

	if (!json_array_size(list)) {
		printf("no allocations\n");
		return;
	}
	printf("%-6s %-4s %-44s %-44s %-24s %6s %5s %5s %20s %20s\n", "ID", "TRAN",
	       "CLIENT -> SERVER", "RELAY", "USER", "LEFT", "PERMS", "CHANS", "C2P PKTS/BYTES",
	       "P2C PKTS/BYTES");
	json_array_foreach(list, i, a)
	{
		char tuple[96], relay[96] = "", c2p[48], p2c[48];
		json_t *r, *p;
		size_t j;

		snprintf(tuple, sizeof(tuple), "%s -> %s", str_or(a, "client", "?"),
			 str_or(a, "server", "?"));
		snprintf(relay, sizeof(relay), "%s ", str_or(a, "relay_transport", "?"));
		json_array_foreach(json_object_get(a, "relay"), j, r)
		    snprintf(relay + strlen(relay), sizeof(relay) - strlen(relay), "%s%s",
			     j ? "," : "", json_string_value(r) ? json_string_value(r) : "?");
		snprintf(c2p, sizeof(c2p), "%lld/%lld", int_of(a, "c2p_packets"),
			 int_of(a, "c2p_bytes"));
		snprintf(p2c, sizeof(p2c), "%lld/%lld", int_of(a, "p2c_packets"),
			 int_of(a, "p2c_bytes"));
		long long left = int_of(a, "expires") - now;
		printf("%-6lld %-4s %-44s %-44s %-24s %5llds %5zu %5zu %20s %20s\n",
		       int_of(a, "id"), str_or(a, "transport", "?"), tuple, relay,
		       str_or(a, "username", "-"), left > 0 ? left : 0,
		       json_array_size(json_object_get(a, "permissions")),
		       json_array_size(json_object_get(a, "channels")), c2p, p2c);
		json_array_foreach(json_object_get(a, "permissions"), j, p)
		    printf("       permission %s (%llds left)\n", str_or(p, "peer", "?"),
			   int_of(p, "expires_in"));
		json_array_foreach(json_object_get(a, "channels"), j, p)
		    printf("       channel 0x%04llx -> %s (%llds left)\n", int_of(p, "channel"),
			   str_or(p, "peer", "?"), int_of(p, "expires_in"));
	}
}

/* Reports a control call's failure; 1. */
static int allocations_failed(struct ntsctl *c, const char *what, int rc, const char *err)
{
	if (rc == -ENOENT || rc == -ECONNREFUSED)
		fprintf(stderr, "ntsctl: ntsd is not running (no control socket at %s)\n",
			c->ctl_socket);
	else
		fprintf(stderr, "ntsctl %s: %s\n", what, rc == -EPROTO ? err : strerror(-rc));
	return 1;
}

static int allocations_delete(struct ntsctl *c, int argc, char **argv)
{
	unsigned long long id;
	json_t *args, *res = NULL;
	char err[256], *end;
	int rc;

	if (argc != 3 || argv[2][0] < '0' || argv[2][0] > '9') {
		allocations_usage(stderr);
		return 2;
	}
	errno = 0;
	id = strtoull(argv[2], &end, 10);
	if (errno || *end || id == 0 || id > INT64_MAX) {
		allocations_usage(stderr);
		return 2;
	}
	args = json_pack("{s:I}", "id", (json_int_t)id);
	rc = ctl_call(c->ctl_socket, "allocation-delete", args, 10000, &res, err, sizeof(err));
	json_decref(args);
	if (rc)
		return allocations_failed(c, "allocations delete", rc, err);
	json_decref(res);
	printf("allocation %llu deleted\n", id);
	return 0;
}

int cmd_allocations(struct ntsctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	bool json = false;
	json_t *res = NULL;
	char err[256];
	int o, rc;

	if (argc > 1 && strcmp(argv[1], "delete") == 0)
		return allocations_delete(c, argc, argv);
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'j':
			json = true;
			break;
		case 'h':
			allocations_usage(stdout);
			return 0;
		default:
			allocations_usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		allocations_usage(stderr);
		return 2;
	}
	rc = ctl_call(c->ctl_socket, "allocations", NULL, 10000, &res, err, sizeof(err));
	if (rc)
		return allocations_failed(c, "allocations", rc, err);
	if (json) {
		json_dumpf(res, stdout, JSON_INDENT(2));
		putchar('\n');
	} else {
		print_table(res);
	}
	json_decref(res);
	return 0;
}
