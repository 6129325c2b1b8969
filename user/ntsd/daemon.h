/* The daemon context: the one struct that holds ntsd's state, passed down explicitly (no globals).
 * main.c builds it; each module's wiring lives in its own file (wire_*.c) so modules stay apart.
 */
#ifndef NTS_NTSD_DAEMON_H
#define NTS_NTSD_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "util/config.h"
#include "util/loop.h"
#include "util/stats.h"

struct auth_ctx;
struct turn_server;
struct ctl_server;
struct net_server;
struct nts_store;
struct api_server;
struct fastpath;
struct net_hostaddr;
struct ntsd_upgrade;

struct ntsd {
	struct nts_config cfg;
	struct nts_loop *loop;
	struct nts_stats stats;
	struct auth_ctx *auth;	       /* user/auth */
	struct turn_server *turn;      /* user/turn */
	struct ctl_server *ctl;	       /* user/ctl: control socket */
	struct net_server *net;	       /* user/net: listeners and streams */
	struct nts_store *store;       /* user/store: set by ntsd_wire_api() */
	struct api_server *api;	       /* user/api: set by ntsd_wire_api() */
	struct fastpath *fastpath;     /* user/fastpath: set by ntsd_wire_fastpath() */
	struct net_hostaddr *hostaddr; /* user/net: the host's addresses for the peer policy */
	bool demo;		       /* --demo: ensure a demo account and print how to use it */
	uint64_t start_unix;
	/* Upgrades (upgrade.c): what starts the new binary, and a handover being taken over. */
	char **argv;
	char exe[4096];		      /* /proc/self/exe at start */
	struct ntsd_upgrade *upgrade; /* new side, until it serves */
	uint32_t fastpath_gen;	      /* generation handed over to continue (0: a new one) */
};

/* Opens the database, loads or creates the ephemeral secret (unless --secret was given), starts the
 * token API and /metrics, registers the account/token control commands. 0 or -errno (logged). */
int ntsd_wire_api(struct ntsd *d);
void ntsd_unwire_api(struct ntsd *d);
/* Loads the accounts' states and quotas into TURN and keeps them current as control commands
 * change them (wire_accounts.c). 0 or -errno. */
int ntsd_wire_accounts(struct ntsd *d);
/* Meters account usage: TURN's usage reports go to the store (set by ntsd_wire_api()), which
 * reaches the database every few seconds. 0 or -errno. */
int ntsd_wire_usage(struct ntsd *d);
/* Adopts pinned fast-path maps under --pin-dir if present, installs the TURN hooks that mirror
 * channels and permissions, registers the control command ntsctl attach uses. 0 or -errno. */
int ntsd_wire_fastpath(struct ntsd *d);
void ntsd_unwire_fastpath(struct ntsd *d);
/* Folds the kernel's per-allocation counters into TURN now (before an upgrade hands over). */
void ntsd_fold_fastpath(struct ntsd *d);

#endif
