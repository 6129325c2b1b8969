/* Relay workers (docs/architecture.md "Threading model"): --workers N event loops, each on its own
 * thread with its own listen sockets (SO_REUSEPORT), TURN server, relay sockets and counters. The
 * daemon's loop keeps the control socket, the token API, signals and the 1 s ticks; it reaches the
 * workers' state only while they are parked (ntsd_workers_pause()). --workers 1 runs the one
 * worker on the daemon's loop, as ntsd always did.
 */
#ifndef NTS_NTSD_WORKERS_H
#define NTS_NTSD_WORKERS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "ntsd/daemon.h"

struct ntsd_worker {
	struct ntsd *d;
	unsigned index;
	struct nts_loop *loop;	/* the daemon's loop with one worker */
	struct net_server *net; /* listeners and streams */
	struct turn_server *turn;
	struct auth_ctx *auth;	 /* its own copy (same secrets, users and nonce key) */
	struct nts_stats *stats; /* &own, or the daemon's with one worker */
	struct nts_stats own;
	int wake; /* eventfd: park, or stop */
	pthread_t thread;
	bool started;
};

/* The authentication state cfg configures (the daemon's, and each worker's copy). NULL on ENOMEM.
 */
struct auth_ctx *ntsd_auth_create(const struct nts_config *cfg);
/* Sets the signing secrets (users) of the daemon's auth and of every worker's. 0 or -errno. */
int ntsd_auth_set_secrets(struct ntsd *d, const char *const *list, size_t n);
int ntsd_auth_set_users(struct ntsd *d, const char *const *list, size_t n);
/* Creates the workers (cfg.workers of them) with their loops, servers and TURN; with one, the
 * daemon's loop and d->net, d->turn, d->auth are worker 0's. 0 or -errno (logged). */
int ntsd_workers_create(struct ntsd *d);
/* Opens every worker's listeners (worker 0 first: the others bind the ports it got) and steers
 * each client's datagrams to one worker. 0 or -errno (logged). */
int ntsd_workers_listen(struct ntsd *d);
/* Follows the host's addresses into every worker's peer policy (net/hostaddr.h). NULL: logged. */
struct net_hostaddr *ntsd_workers_hostaddr(struct ntsd *d);
/* Starts the worker threads (after privileges are dropped: capabilities are per thread). */
int ntsd_workers_start(struct ntsd *d);
/* Stops and joins the worker threads; their state stays for ntsd_workers_destroy(). */
void ntsd_workers_stop(struct ntsd *d);
/* Frees every worker's servers (after the modules that hook into them are unwired). */
void ntsd_workers_destroy(struct ntsd *d);

/* Parks every running worker between two of its events and returns once all are parked: the
 * caller (the daemon's thread) may then use any worker's state. Nests. No-op with one worker. */
void ntsd_workers_pause(struct ntsd *d);
void ntsd_workers_resume(struct ntsd *d);

/* True on a relay worker's thread (never with one worker). */
bool ntsd_on_worker(const struct ntsd *d);
/* The worker that holds allocation id (ids are the worker's index modulo their number). */
struct ntsd_worker *ntsd_worker_of(struct ntsd *d, uint64_t alloc_id);
/* Every counter: the daemon's own plus each worker's (pauses them). */
void ntsd_stats_sum(struct ntsd *d, struct nts_stats *out);

/* The daemon's lock around what every worker's hooks reach: the fast-path mirror (user/fastpath)
 * and the usage meter (wire_usage.c). Recursive. Taken after ntsd_workers_pause(), never before. */
void ntsd_lock(struct ntsd *d);
void ntsd_unlock(struct ntsd *d);

#define ntsd_foreach_worker(d, w)                                                                  \
	for (struct ntsd_worker *w = (d)->workers; w && w < (d)->workers + (d)->nworkers; w++)

#endif
