/* ntsctl detach: removes the XDP fast path from an interface. The maps stay pinned, so a later
 * attach (or a running ntsd) keeps its channels; traffic on DEV goes through userspace again.
 */
#include <getopt.h>
#include <stdio.h>

#include "fastpath/loader.h"
#include "ntsctl/ntsctl.h"

static void detach_usage(FILE *f)
{
	fprintf(f, "usage: ntsctl detach DEV\n"
		   "Removes the XDP fast path from DEV; ntsd relays that traffic in userspace.\n"
		   "The maps under --pin-dir stay (remove the folder to drop them too).\n");
}

int cmd_detach(struct ntsctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	char err[512];
	int o;

	optind = 0; /* glibc: rescan with permutation (main parsed its options with "+") */
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'h':
			detach_usage(stdout);
			return 0;
		default:
			detach_usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		detach_usage(stderr);
		return 2;
	}
	if (fastpath_detach(c->pin_dir, argv[optind], err, sizeof(err))) {
		fprintf(stderr, "ntsctl detach: %s\n", err);
		return 1;
	}
	printf("detached the fast path from %s\n", argv[optind]);
	return 0;
}
