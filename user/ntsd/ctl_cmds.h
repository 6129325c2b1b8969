/* The daemon's own control commands: "status" (version, uptime, listeners, counters, allocation
 * count) and "allocations" (every allocation with its permissions, channels and traffic).
 * Reply shapes are a contract with ntsctl status/allocations; fields are only ever added.
 */
#ifndef NTS_NTSD_CTL_CMDS_H
#define NTS_NTSD_CTL_CMDS_H

#include <jansson.h>

#include "ntsd/daemon.h"

/* Registers "status" and "allocations" on d->ctl. 0 or -errno. */
int ntsd_ctl_register(struct ntsd *d);
/* The "status" result: {"version","uptime","listen":[{"transport","addr"}],"stats":{...},
 * "allocations":N,"tcp_connections":N}. New reference. */
json_t *ntsd_ctl_status(struct ntsd *d);
/* The "stats" object: every nts_stats counter by name, per-method ones as {"binding":N,...}. */
json_t *ntsd_ctl_stats_json(const struct nts_stats *s);

#endif
