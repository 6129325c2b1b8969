/* Lookups in the method table (stun.h STUN_CLIENT_METHODS, STUN_SERVER_METHODS): names, counter
 * slots, and who handles a method.
 */
#include "stun/stun.h"
#include "util/stats.h"

/* util sits below stun, so struct nts_stats sizes its per-method counters with a plain constant. */
_Static_assert(STUN_STAT_COUNT == NTS_M_COUNT, "NTS_M_COUNT must match the method table");

#define STUN_CLIENT_ROW_(id, num, nm, label, ind, by_turn)                                         \
	{.method = num,                                                                            \
	 .name = nm,                                                                               \
	 .stat_name = label,                                                                       \
	 .stat = STUN_STAT_##id,                                                                   \
	 .from_client = true,                                                                      \
	 .indication = ind,                                                                        \
	 .turn = by_turn},
#define STUN_SERVER_ROW_(id, num, nm)                                                              \
	{.method = num, .name = nm, .stat_name = "other", .stat = STUN_STAT_OTHER, .turn = true},
static const struct stun_method_def stun_methods[] = {STUN_CLIENT_METHODS(STUN_CLIENT_ROW_)
							  STUN_SERVER_METHODS(STUN_SERVER_ROW_)};
#undef STUN_CLIENT_ROW_
#undef STUN_SERVER_ROW_

const struct stun_method_def *stun_method_find(uint16_t method)
{
	for (size_t i = 0; i < sizeof(stun_methods) / sizeof(stun_methods[0]); i++)
		if (stun_methods[i].method == method)
			return &stun_methods[i];
	return NULL;
}

const char *stun_method_name(uint16_t method)
{
	const struct stun_method_def *d = stun_method_find(method);

	return d ? d->name : "Unknown";
}

unsigned stun_method_stat(uint16_t method)
{
	const struct stun_method_def *d = stun_method_find(method);

	return d ? d->stat : STUN_STAT_OTHER;
}

const char *stun_method_stat_name(unsigned stat)
{
	/* Client methods come first in the table, in slot order. */
	return stat < STUN_STAT_OTHER ? stun_methods[stat].stat_name : "other";
}
