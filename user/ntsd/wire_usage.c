/* Usage metering for ntsd: TURN reports allocations created and bytes relayed per account (the
 * AccountSid of ephemeral credentials), the store adds them up, and a tick writes them to the
 * database. Kernel-relayed bytes arrive the same way once wire_fastpath.c folds them into TURN.
 */
#include "ntsd/daemon.h"
#include "store/store.h"
#include "turn/turn.h"

#define WIRE_USAGE_FLUSH_MS 10000 /* usage reaches the database at most this late */

static void wire_usage_add(void *arg, const char *account, uint64_t allocations, uint64_t bytes)
{
	struct ntsd *d = arg;

	if (d->store) /* NULL after ntsd_unwire_api() */
		store_usage_add(d->store, account, allocations, bytes);
}

static void wire_usage_flush(void *arg, uint64_t now_ms)
{
	struct ntsd *d = arg;

	if (d->store)
		store_usage_flush(d->store);
}

int ntsd_wire_usage(struct ntsd *d)
{
	turn_set_usage_hook(d->turn, wire_usage_add, d);
	return loop_add_tick(d->loop, WIRE_USAGE_FLUSH_MS, wire_usage_flush, d);
}
