/* The fleet's pure decision of which node an Allocate is redirected to; see fleet.h. No I/O:
 * tests/unit/test_ntsd_fleet.c drives it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ntsd/fleet.h"

int fleet_node_addr(const char *addresses, enum nts_transport transport, uint8_t family,
		    struct nts_addr *out)
{
	char copy[STORE_NODE_ADDRS_MAX], *save = NULL, *tr, *addr;

	snprintf(copy, sizeof(copy), "%s", addresses);
	for (tr = strtok_r(copy, " ", &save); tr; tr = strtok_r(NULL, " ", &save)) {
		addr = strtok_r(NULL, " ", &save);
		if (!addr)
			break;
		if (strcmp(tr, nts_transport_name(transport)) != 0 ||
		    nts_addr_parse(out, addr, false) < 0)
			continue;
		if (out->family == family && !nts_addr_is_any(out))
			return 0;
	}
	return -ENOENT;
}

/* a is less loaded than b: a lower share of its capacity, then fewer allocations. */
static bool fleet_less_loaded(const struct store_node *a, const struct store_node *b)
{
	uint64_t la = a->allocations * (b->capacity ? b->capacity : 1);
	uint64_t lb = b->allocations * (a->capacity ? a->capacity : 1);

	return la != lb ? la < lb : a->allocations < b->allocations;
}

int fleet_pick_alternate(const struct store_node *nodes, size_t n, const char *self,
			 const char *region, int64_t now, enum nts_transport transport,
			 uint8_t family, struct nts_addr *out)
{
	struct nts_addr a;
	int best = -ENOENT;

	for (size_t i = 0; i < n; i++) {
		const struct store_node *p = &nodes[i];

		if (!strcmp(p->name, self) || strcmp(p->region, region) != 0 ||
		    p->state != STORE_NODE_ACTIVE || now - p->heartbeat_at > FLEET_DEAD_AFTER_S ||
		    (p->capacity && p->allocations >= p->capacity))
			continue;
		if (fleet_node_addr(p->addresses, transport, family, &a) != 0)
			continue;
		if (best < 0 || fleet_less_loaded(p, &nodes[best])) {
			best = (int)i;
			*out = a;
		}
	}
	return best;
}
