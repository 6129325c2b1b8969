/* ntsctl fleet [--json]: the nodes sharing the database (docs/fleet.md) with their region, state
 * (active, draining, stopped, or dead after API_FLEET_DEAD_AFTER seconds without a heartbeat),
 * load, version and uptime. From the running ntsd over the control socket, or from --db directly
 * when no ntsd runs here.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "api/api.h"
#include "ntsctl/ntsctl.h"

static void fleet_usage(FILE *f)
{
	fprintf(f,
		"usage: ntsctl fleet [--json]\n\n"
		"The ntsd nodes sharing this database: name, region, state (active, draining,\n"
		"stopped, or dead when silent for %d s), allocations of capacity, packets per\n"
		"second relayed in userspace and by the kernel fast path, version and uptime.\n"
		"Talks to ntsd on --ctl-socket, or reads --db when ntsd is not running.\n",
		API_FLEET_DEAD_AFTER);
}

static json_int_t fleet_int(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static const char *fleet_str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : "";
}

/* 93784 -> "1d2h" (the two largest units). */
static const char *fleet_uptime(json_int_t s, char *buf, size_t len)
{
	if (s >= 86400)
		snprintf(buf, len, "%lldd%lldh", (long long)(s / 86400),
			 (long long)(s % 86400 / 3600));
	else if (s >= 3600)
		snprintf(buf, len, "%lldh%lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
	else if (s >= 60)
		snprintf(buf, len, "%lldm%llds", (long long)(s / 60), (long long)(s % 60));
	else
		snprintf(buf, len, "%llds", (long long)s);
	return buf;
}

static void fleet_print(json_t *r, bool json)
{
	json_t *n;
	size_t i;
	char up[32], alloc[48];

	if (json) {
		char *s = json_dumps(r, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

		printf("%s\n", s ? s : "null");
		free(s);
		return;
	}
	printf("%-20s  %-12s  %-8s  %-17s  %10s  %10s  %-8s  %s\n", "NODE", "REGION", "STATE",
	       "ALLOCATIONS", "PPS_USER", "PPS_KERNEL", "VERSION", "UPTIME");
	json_array_foreach(json_object_get(r, "nodes"), i, n)
	{
		snprintf(alloc, sizeof(alloc), "%" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT,
			 fleet_int(n, "allocations"), fleet_int(n, "capacity"));
		printf("%-20s  %-12s  %-8s  %-17s  %10" JSON_INTEGER_FORMAT
		       "  %10" JSON_INTEGER_FORMAT "  %-8s  %s\n",
		       fleet_str(n, "name"), *fleet_str(n, "region") ? fleet_str(n, "region") : "-",
		       fleet_str(n, "state"), alloc, fleet_int(n, "pps_user"),
		       fleet_int(n, "pps_kernel"), fleet_str(n, "version"),
		       fleet_uptime(fleet_int(n, "uptime"), up, sizeof(up)));
	}
}

int cmd_fleet(struct ntsctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	char err[256] = "";
	bool json = false;
	json_t *r;
	int o;

	optind = 0;
	while ((o = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (o) {
		case 'j':
			json = true;
			break;
		case 'h':
			fleet_usage(stdout);
			return 0;
		default:
			fleet_usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fleet_usage(stderr);
		return 2;
	}
	r = api_cmd_call(c->ctl_socket, c->db, "fleet", NULL, 5000, err, sizeof(err));
	if (!r) {
		fprintf(stderr, "ntsctl fleet: %s\n", err);
		return 1;
	}
	fleet_print(r, json);
	json_decref(r);
	return 0;
}
