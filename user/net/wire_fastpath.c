/* XDP fast-path wiring for ntsd: first version does nothing (the fast-path helper fills it). */
#include "net/daemon.h"

int ntsd_wire_fastpath(struct ntsd *d)
{
	return 0;
}

void ntsd_unwire_fastpath(struct ntsd *d)
{
}
