/* Token API, /metrics and store wiring for ntsd: first version does nothing (the API helper fills it). */
#include "net/daemon.h"

int ntsd_wire_api(struct ntsd *d)
{
	return 0;
}

void ntsd_unwire_api(struct ntsd *d)
{
}
