/* ntsctl stats: the fast path's global counters (per-CPU map, summed), read from the pinned map;
 * the same numbers as `bpftool map dump pinned <pin-dir>/nts_fp_stats`. When ntsd answers on the
 * control socket, its userspace relay's bandwidth-limit drops follow (user_*_rate_limited).
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "ctl/ctl.h"
#include "fastpath/fastpath.h"
#include "ntsctl/ntsctl.h"

static void stats_usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: ntsctl stats [--json]\n"
	    "Prints the XDP fast path's counters, summed over CPUs: packets and bytes forwarded\n"
	    "each way (c2p: client to peer, p2c: peer to client), how they left (tx, redirect),\n"
	    "packets passed to the kernel stack by reason (pass_*) and dropped (drop_*).\n"
	    "With ntsd running, its userspace relay's datagrams dropped over bandwidth limits\n"
	    "follow (user_c2p_rate_limited, user_p2c_rate_limited; drop_rate_limited is the\n"
	    "kernel's). Without pinned maps only those are shown.\n");
}

/* ntsd's counters that belong next to the kernel's: its own bandwidth-limit drops. */
static const char *const stats_user_fields[] = {"user_c2p_rate_limited", "user_p2c_rate_limited"};

/* Adds ntsd's userspace counters to o; false when ntsd does not answer. */
static bool stats_user(struct ntsctl *c, json_t *o)
{
	json_t *res = NULL, *st;
	char err[256];

	if (ctl_call(c->ctl_socket, "status", NULL, 5000, &res, err, sizeof(err)))
		return false;
	st = json_object_get(res, "stats");
	for (size_t i = 0; i < sizeof(stats_user_fields) / sizeof(stats_user_fields[0]); i++) {
		json_t *v = json_object_get(st, stats_user_fields[i]);

		json_object_set_new(o, stats_user_fields[i],
				    json_integer(json_is_integer(v) ? json_integer_value(v) : 0));
	}
	json_decref(res);
	return true;
}

int cmd_stats(struct ntsctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct nts_fp_stats s;
	struct fastpath *fp;
	bool json = false;
	json_t *o;
	int opt, rc;

	optind = 0; /* glibc: rescan with permutation (main parsed its options with "+") */
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			json = true;
			break;
		case 'h':
			stats_usage(stdout);
			return 0;
		default:
			stats_usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		stats_usage(stderr);
		return 2;
	}
	o = json_object();
	if (!o)
		return 1;
	rc = fastpath_open(c->pin_dir, &fp);
	if (rc == 0) {
		rc = fastpath_stats_read(fp, &s);
		fastpath_close(fp);
		if (rc) {
			fprintf(stderr, "ntsctl stats: cannot read the counters: %s\n",
				strerror(-rc));
			json_decref(o);
			return 1;
		}
		for (const struct fastpath_stat_field *f = fastpath_stat_fields; f->name; f++)
			json_object_set_new(o, f->name,
					    json_integer((json_int_t)(*(
						const uint64_t *)((const char *)&s + f->offset))));
	}
	if (!stats_user(c, o) && rc) {
		fprintf(stderr,
			"ntsctl stats: no fast-path maps under %s (%s); run ntsctl attach\n",
			c->pin_dir, strerror(-rc));
		json_decref(o);
		return 1;
	}
	if (json) {
		json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
	} else {
		const char *k;
		json_t *v;

		json_object_foreach(o, k, v)
		    printf("%-22s %lld\n", k, (long long)json_integer_value(v));
	}
	json_decref(o);
	return 0;
}
