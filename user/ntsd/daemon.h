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
struct ntsd_usage;
struct nts_fp_alloc_counters;
struct ntsd_worker;
struct ntsd_workers_sync;
struct turn_shared;
struct ntsd_fleet;
struct store_account;

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
	struct ntsd_usage *usage;      /* usage meter: set by ntsd_wire_usage() */
	struct ntsd_fleet *fleet;      /* node registry and shedding: ntsd/fleet.h */
	bool demo;		       /* --demo: ensure a demo account and print how to use it */
	uint64_t start_unix;
	/* Reload (reload.c): the command line it parses again, and a hook called as a reload starts
	 * (starting: true) and ends, e.g. to tell a service manager; NULL: none. Upgrades
	 * (upgrade.c) start the new binary with the same command line. */
	int argc;
	char **argv;
	void (*reload_hook)(struct ntsd *d, bool starting);
	/* Upgrades (upgrade.c): the binary, and a handover being taken over. */
	char exe[4096];		      /* /proc/self/exe at start */
	struct ntsd_upgrade *upgrade; /* new side, until it serves */
	uint32_t fastpath_gen;	      /* generation handed over to continue (0: a new one) */
	bool handed_over;	      /* old side: a new ntsd serves now; this one only stops */
	/* Relay workers (workers.h): with more than one, d->net is worker 0's (its listeners are
	 * everyone's) and d->turn is NULL: TURN state is reached through each worker. */
	unsigned nworkers;
	struct ntsd_worker *workers;
	struct ntsd_workers_sync *wsync;
	struct turn_shared *shared;
};

/* Opens the database, loads or creates the ephemeral secret (unless --secret was given), starts the
 * token API and /metrics, registers the account/token control commands. 0 or -errno (logged). */
int ntsd_wire_api(struct ntsd *d);
void ntsd_unwire_api(struct ntsd *d);
/* Recomputes the ICE server URLs tokens carry from --ice-host and the open listeners. 0 or
 * -errno. */
int ntsd_api_refresh_ice(struct ntsd *d);
/* Sets the signing secrets from the database when no --secret is configured (no-op otherwise).
 * 0 or -errno. */
int ntsd_api_load_secret(struct ntsd *d);
/* Loads the accounts' states and quotas into TURN and keeps them current as control commands
 * change them (wire_accounts.c). 0 or -errno. */
int ntsd_wire_accounts(struct ntsd *d);
/* Applies account a as stored (state, limits) to TURN: a suspended or closed account's
 * allocations end now. */
void ntsd_account_apply(struct ntsd *d, const struct store_account *a);
/* Meters account usage per UTC day (wire_usage.c): TURN's reports, kernel-relayed bytes and
 * allocation-seconds go to the store (set by ntsd_wire_api()), written at most every 10 s; the
 * "usage" control command. 0 or -errno. */
int ntsd_wire_usage(struct ntsd *d);
/* Accrues allocation-seconds up to now and writes everything pending (before the store closes). */
void ntsd_unwire_usage(struct ntsd *d);
/* Accrues allocation-seconds up to now (an upgrade, before it writes what is pending). */
void ntsd_usage_accrue(struct ntsd *d);
/* Kernel-relayed bytes of allocation alloc_id (of account) folded from the fast path's counters. */
void ntsd_usage_kernel(struct ntsd *d, uint64_t alloc_id, const char *account,
		       const struct nts_fp_alloc_counters *delta);
/* The allocation got a kernel counter (its first channel): record where it counts. */
void ntsd_usage_kernel_track(struct ntsd *d, uint64_t alloc_id);
/* The allocation's kernel counter is going (the allocation ended with the maps open). */
void ntsd_usage_kernel_forget(struct ntsd *d, uint64_t alloc_id);
/* Maps pinned under --pin-dir are about to be adopted by an ntsd that had none open: folds what
 * the kernel counted for an earlier ntsd's allocations since their stored marks. */
void ntsd_usage_adopt_begin(struct ntsd *d);
/* The maps are adopted (d->fastpath set): keeps following the earlier ntsd's counters that still
 * count, until they go. */
void ntsd_usage_adopt_end(struct ntsd *d);
/* Folds the earlier ntsd's counters (every second, before expired entries are collected). */
void ntsd_usage_fold_foreign(struct ntsd *d);
/* Adopts pinned fast-path maps under --pin-dir if present, installs the TURN hooks that mirror
 * channels and permissions, registers the control command ntsctl attach uses. 0 or -errno. */
int ntsd_wire_fastpath(struct ntsd *d);
void ntsd_unwire_fastpath(struct ntsd *d);
/* Folds the kernel's per-allocation counters into TURN now (before an upgrade hands over). */
void ntsd_fold_fastpath(struct ntsd *d);

/* Logging (wire_log.c): ntsd_log_apply() hands --log-format and --verbose to the logger and
 * notices journald (at start and on reload); ntsd_wire_log() reports the warnings the logger held
 * back, every second. 0 or -errno. */
int ntsd_wire_log(struct ntsd *d);
void ntsd_log_apply(const struct nts_config *cfg);

/* Outcome of a reload (reload.c). */
struct ntsd_reload_result {
	bool refused;			    /* nothing applied; reason says why */
	char reason[512];		    /* refused: the parse or validation error */
	unsigned nchanged;		    /* settings applied */
	const char *changed[NTS_OPT_COUNT]; /* their option names (the table's) */
	unsigned nrestart; /* settings that differ but need a restart (kept running) */
	const char *restart[NTS_OPT_COUNT]; /* their option names */
	int tls;			    /* TLS certificate: 1 reloaded, 0 no TLS listener */
};
/* Reads the configuration again (--config FILE, then the original command line over it), checks
 * it whole, and applies what can change live; see README "Reloading the configuration". Never drops
 * an allocation or a connection. 0 (applied, maybe partly: see nrestart) or -EINVAL (refused). */
int ntsd_reload(struct ntsd *d, struct ntsd_reload_result *r);
/* Registers the "reload" control command. 0 or -errno. */
int ntsd_reload_register(struct ntsd *d);

#endif
