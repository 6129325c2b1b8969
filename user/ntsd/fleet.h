/* The fleet (docs/fleet.md): several ntsd sharing one database. Each node registers and
 * heartbeats every 2 s with its load, polls the database's change counter to pick up account,
 * key and signing-secret changes, and sheds new allocations (300 Try Alternate) to the
 * least-loaded active node of its region while it drains or is above --shed-at.
 */
#ifndef NTS_NTSD_FLEET_H
#define NTS_NTSD_FLEET_H

#include <stddef.h>
#include <stdint.h>

#include "ntsd/daemon.h"
#include "store/store.h"
#include "util/addr.h"
#include "util/origin.h"

#define FLEET_HEARTBEAT_S 2   /* registry row rewritten, changes polled, this often */
#define FLEET_DEAD_AFTER_S 10 /* a node silent this long is dead (no redirects to it) */

/* Registers this node, the control commands fleet, drain, undrain and secret-rotate, the
 * redirect decision and the 1 s tick (fleet.c). 0 or -errno. */
int ntsd_wire_fleet(struct ntsd *d);
/* Marks this node stopped in the registry (not after an upgrade handed over). */
void ntsd_unwire_fleet(struct ntsd *d);
/* Loads the signing secrets from the database into auth (fleet_secrets.c): every stored secret
 * not retired verifies, the newest activated one signs. *next (may be NULL) gets the unix second
 * at which that changes next (0: never). 0 or -errno. */
int ntsd_fleet_load_secrets(struct ntsd *d, int64_t now, int64_t *next);

/* The address of transport and family in a registry row's addresses ("udp 198.18.0.1:3478 ...").
 * 0 or -ENOENT (none, or only a wildcard address). */
int fleet_node_addr(const char *addresses, enum nts_transport transport, uint8_t family,
		    struct nts_addr *out);
/* Picks where to redirect an Allocate that reached node self over transport and family: the
 * least-loaded (allocations / capacity) node of region other than self that is active, heard from
 * within FLEET_DEAD_AFTER_S of now, not full, and has such an address. Its index, or -ENOENT. */
int fleet_pick_alternate(const struct store_node *nodes, size_t n, const char *self,
			 const char *region, int64_t now, enum nts_transport transport,
			 uint8_t family, struct nts_addr *out);

#endif
