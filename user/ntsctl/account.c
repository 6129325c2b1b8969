/* ntsctl account: placeholder until its module lands; says so instead of pretending. */
#include <stdio.h>

#include "ntsctl/ntsctl.h"

int cmd_account(struct ntsctl *c, int argc, char **argv)
{
	fprintf(stderr, "ntsctl account: not built yet in this version\n");
	return 1;
}
