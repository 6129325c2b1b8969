/* ntsctl detach: placeholder until its module lands; says so instead of pretending. */
#include <stdio.h>

#include "ntsctl/ntsctl.h"

int cmd_detach(struct ntsctl *c, int argc, char **argv)
{
	fprintf(stderr, "ntsctl detach: not built yet in this version\n");
	return 1;
}
