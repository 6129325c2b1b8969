/* ntsctl stats: the fast path's global counters (per-CPU map, summed), read from the pinned map;
 * the same numbers as `bpftool map dump pinned <pin-dir>/nts_fp_stats`.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "fastpath/fastpath.h"
#include "ntsctl/ntsctl.h"

static void stats_usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: ntsctl stats [--json]\n"
	    "Prints the XDP fast path's counters, summed over CPUs: packets and bytes forwarded\n"
	    "each way (c2p: client to peer, p2c: peer to client), how they left (tx, redirect),\n"
	    "packets passed to the kernel stack by reason (pass_*) and dropped (drop_*).\n");
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
	int o, rc;

	optind = 0; /* glibc: rescan with permutation (main parsed its options with "+") */
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
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
	rc = fastpath_open(c->pin_dir, &fp);
	if (rc) {
		fprintf(stderr,
			"ntsctl stats: no fast-path maps under %s (%s); run ntsctl attach\n",
			c->pin_dir, strerror(-rc));
		return 1;
	}
	rc = fastpath_stats_read(fp, &s);
	fastpath_close(fp);
	if (rc) {
		fprintf(stderr, "ntsctl stats: cannot read the counters: %s\n", strerror(-rc));
		return 1;
	}
	if (json) {
		json_t *o = json_object();

		for (const struct fastpath_stat_field *f = fastpath_stat_fields; f->name; f++)
			json_object_set_new(o, f->name,
					    json_integer((json_int_t)(*(
						const uint64_t *)((const char *)&s + f->offset))));
		json_dumpf(o, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(o);
		return 0;
	}
	for (const struct fastpath_stat_field *f = fastpath_stat_fields; f->name; f++)
		printf("%-22s %llu\n", f->name,
		       (unsigned long long)*(const uint64_t *)((const char *)&s + f->offset));
	return 0;
}
