/* ntsctl fastpath flush: removes every channel, permission and relay entry from the pinned maps,
 * of every generation (user/fastpath/adopt.c), so that all traffic goes to userspace again.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "fastpath/fastpath.h"
#include "ntsctl/ntsctl.h"

static void fastpath_usage(FILE *f)
{
	fprintf(
	    f, "usage: ntsctl fastpath flush\n"
	       "Removes every entry from the XDP fast path's channel, permission and relay maps,\n"
	       "including those an earlier ntsd left: the kernel then relays nothing and drops no\n"
	       "peer traffic; ntsd relays in userspace. A running ntsd writes its channels and\n"
	       "permissions again as clients refresh them. The counters stay.\n");
}

static int fastpath_flush_cmd(struct ntsctl *c)
{
	struct fastpath *fp;
	int rc = fastpath_open(c->pin_dir, &fp);

	if (rc) {
		fprintf(stderr, "ntsctl fastpath flush: no fast-path maps under %s (%s)\n",
			c->pin_dir, strerror(-rc));
		return 1;
	}
	rc = fastpath_flush(fp);
	fastpath_close(fp);
	if (rc < 0) {
		fprintf(stderr, "ntsctl fastpath flush: %s\n", strerror(-rc));
		return 1;
	}
	printf("removed %d entries from the fast-path maps under %s\n", rc, c->pin_dir);
	return 0;
}

int cmd_fastpath(struct ntsctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	int o;

	optind = 0; /* glibc: rescan with permutation (main parsed its options with "+") */
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'h':
			fastpath_usage(stdout);
			return 0;
		default:
			fastpath_usage(stderr);
			return 2;
		}
	}
	if (optind + 1 != argc || strcmp(argv[optind], "flush") != 0) {
		fastpath_usage(stderr);
		return 2;
	}
	return fastpath_flush_cmd(c);
}
