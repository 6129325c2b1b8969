/* Relay workers; see workers.h. Parking: the daemon's thread raises hold and wakes each worker's
 * eventfd; a worker that reads it while hold is up counts itself parked and waits for hold to
 * drop. A worker parks only between two events of its loop, so nothing it owns is half-changed,
 * and the mutex orders what either side wrote before and after.
 */
#include "ntsd/workers.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "auth/auth.h"
#include "net/hostaddr.h"
#include "net/net.h"
#include "ntsd/upgrade.h"
#include "turn/turn.h"
#include "util/log.h"

struct ntsd_workers_sync {
	pthread_mutex_t m;
	pthread_cond_t cv;
	bool hold;	      /* workers park on their next wake */
	unsigned parked;      /* workers waiting for hold to drop */
	unsigned depth;	      /* nested pauses of the daemon's thread */
	bool running;	      /* threads started and not stopped */
	pthread_t main;	      /* the daemon's thread */
	pthread_mutex_t lock; /* ntsd_lock(): recursive */
};

struct auth_ctx *ntsd_auth_create(const struct nts_config *cfg)
{
	const char *secrets[NTS_MAX_SECRETS], *users[NTS_MAX_USERS];
	char userbuf[NTS_MAX_USERS]
		    [sizeof(cfg->users[0].name) + sizeof(cfg->users[0].password) + 1];
	struct auth_ctx *a;

	for (unsigned i = 0; i < cfg->nsecrets; i++)
		secrets[i] = cfg->secrets[i];
	for (unsigned i = 0; i < cfg->nusers; i++) {
		snprintf(userbuf[i], sizeof(userbuf[i]), "%s:%s", cfg->users[i].name,
			 cfg->users[i].password);
		users[i] = userbuf[i];
	}
	a = auth_create(cfg->realm, secrets, cfg->nsecrets, users, cfg->nusers);
	explicit_bzero(userbuf, sizeof(userbuf));
	return a;
}

int ntsd_auth_set_secrets(struct ntsd *d, const char *const *list, size_t n)
{
	int rc = auth_set_secrets(d->auth, list, n);

	if (rc || d->nworkers < 2)
		return rc;
	ntsd_workers_pause(d);
	ntsd_foreach_worker (d, w) {
		if (!rc)
			rc = auth_set_secrets(w->auth, list, n);
	}
	ntsd_workers_resume(d);
	return rc;
}

int ntsd_auth_set_users(struct ntsd *d, const char *const *list, size_t n)
{
	int rc = auth_set_users(d->auth, list, n);

	if (rc || d->nworkers < 2)
		return rc;
	ntsd_workers_pause(d);
	ntsd_foreach_worker (d, w) {
		if (!rc)
			rc = auth_set_users(w->auth, list, n);
	}
	ntsd_workers_resume(d);
	return rc;
}

static void worker_on_wake(void *arg, int fd, uint32_t events)
{
	struct ntsd_worker *w = arg;
	struct ntsd_workers_sync *s = w->d->wsync;
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn("worker %u: eventfd: %s", w->index, strerror(errno));
	pthread_mutex_lock(&s->m);
	if (s->hold) {
		s->parked++;
		pthread_cond_broadcast(&s->cv);
		while (s->hold)
			pthread_cond_wait(&s->cv, &s->m);
		s->parked--;
	}
	pthread_mutex_unlock(&s->m);
}

static void worker_kick(struct ntsd_worker *w)
{
	uint64_t one = 1;

	if (write(w->wake, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("worker %u: cannot wake: %s", w->index, strerror(errno));
}

void ntsd_workers_pause(struct ntsd *d)
{
	struct ntsd_workers_sync *s = d->wsync;

	if (!s || !s->running || s->depth++)
		return;
	pthread_mutex_lock(&s->m);
	s->hold = true;
	pthread_mutex_unlock(&s->m);
	ntsd_foreach_worker (d, w) {
		worker_kick(w);
	}
	pthread_mutex_lock(&s->m);
	while (s->parked < d->nworkers)
		pthread_cond_wait(&s->cv, &s->m);
	pthread_mutex_unlock(&s->m);
}

void ntsd_workers_resume(struct ntsd *d)
{
	struct ntsd_workers_sync *s = d->wsync;

	if (!s || !s->running || !s->depth || --s->depth)
		return;
	pthread_mutex_lock(&s->m);
	s->hold = false;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->m);
}

void ntsd_lock(struct ntsd *d)
{
	if (d->wsync)
		pthread_mutex_lock(&d->wsync->lock);
}

void ntsd_unlock(struct ntsd *d)
{
	if (d->wsync)
		pthread_mutex_unlock(&d->wsync->lock);
}

bool ntsd_on_worker(const struct ntsd *d)
{
	return d->nworkers > 1 && d->wsync && !pthread_equal(pthread_self(), d->wsync->main);
}

struct ntsd_worker *ntsd_worker_of(struct ntsd *d, uint64_t alloc_id)
{
	if (!d->workers)
		return NULL;
	return &d->workers[d->nworkers > 1 ? alloc_id % d->nworkers : 0];
}

void ntsd_stats_sum(struct ntsd *d, struct nts_stats *out)
{
	*out = d->stats;
	if (d->nworkers < 2)
		return;
	ntsd_workers_pause(d);
	ntsd_foreach_worker (d, w) {
		for (int i = 0; i < NTS_M_COUNT; i++) {
			out->requests[i] += w->stats->requests[i];
			out->errors[i] += w->stats->errors[i];
		}
#define NTSD_SUM(field, name, type, labels, help) out->field += w->stats->field;
		NTS_STATS_COUNTERS(NTSD_SUM)
#undef NTSD_SUM
	}
	ntsd_workers_resume(d);
}

static int ntsd_sync_create(struct ntsd *d)
{
	struct ntsd_workers_sync *s = calloc(1, sizeof(*s));
	pthread_mutexattr_t ma;

	if (!s)
		return -ENOMEM;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
	if (pthread_mutex_init(&s->m, NULL) || pthread_cond_init(&s->cv, NULL) ||
	    pthread_mutex_init(&s->lock, &ma)) {
		pthread_mutexattr_destroy(&ma);
		free(s);
		return -ENOMEM;
	}
	pthread_mutexattr_destroy(&ma);
	s->main = pthread_self();
	d->wsync = s;
	return 0;
}

/* Builds worker w's loop, auth copy, net and TURN (more than one worker). */
static int worker_create(struct ntsd *d, struct ntsd_worker *w)
{
	uint8_t key[64];
	int rc;

	w->loop = loop_create();
	if (!w->loop)
		return -errno;
	w->stats = &w->own;
	w->auth = ntsd_auth_create(&d->cfg);
	if (!w->auth)
		return -ENOMEM;
	/* One nonce key: a client whose stream reconnects to another worker stays valid. */
	rc = auth_nonce_key_get(d->auth, key, sizeof(key));
	if (rc > 0)
		rc = auth_nonce_key_set(w->auth, key, (size_t)rc);
	explicit_bzero(key, sizeof(key));
	if (rc < 0)
		return rc;
	w->net = net_create(w->loop, &d->cfg, w->stats);
	if (!w->net)
		return -ENOMEM;
	w->turn = turn_create(w->loop, &d->cfg, w->auth, w->stats, net_send, w->net);
	if (!w->turn)
		return -ENOMEM;
	net_set_turn(w->net, w->turn);
	turn_set_worker(w->turn, d->shared, w->index, d->nworkers);
	net_set_worker(w->net, d->nworkers, w->index ? d->workers[0].net : NULL);
	w->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->wake < 0)
		return -errno;
	return loop_add(w->loop, w->wake, EPOLLIN, worker_on_wake, w);
}

int ntsd_workers_create(struct ntsd *d)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int rc;

	d->nworkers = d->cfg.workers ? d->cfg.workers : (unsigned)(cpus > 0 ? cpus : 1);
	/* Without --workers an upgrade keeps the workers it takes over (one loop from an ntsd
	 * before workers): each worker's state goes to the same worker. A restart picks again. */
	if (!d->cfg.workers && ntsd_upgrade_workers(d))
		d->nworkers = ntsd_upgrade_workers(d);
	if (d->nworkers > NTS_MAX_WORKERS)
		d->nworkers = NTS_MAX_WORKERS;
	d->workers = calloc(d->nworkers, sizeof(*d->workers));
	if (!d->workers || ntsd_sync_create(d))
		return -ENOMEM;
	for (unsigned i = 0; i < d->nworkers; i++)
		d->workers[i] = (struct ntsd_worker){.d = d, .index = i, .wake = -1};
	if (d->nworkers == 1) {
		struct ntsd_worker *w = &d->workers[0];

		d->net = net_create(d->loop, &d->cfg, &d->stats);
		if (!d->net)
			return -ENOMEM;
		d->turn = turn_create(d->loop, &d->cfg, d->auth, &d->stats, net_send, d->net);
		if (!d->turn) {
			log_error("cannot start the TURN server");
			return -ENOMEM;
		}
		net_set_turn(d->net, d->turn);
		*w = (struct ntsd_worker){.d = d,
					  .loop = d->loop,
					  .net = d->net,
					  .turn = d->turn,
					  .auth = d->auth,
					  .stats = &d->stats,
					  .wake = -1};
		return 0;
	}
	d->shared = turn_shared_create();
	if (!d->shared)
		return -ENOMEM;
	for (unsigned i = 0; i < d->nworkers; i++) {
		rc = worker_create(d, &d->workers[i]);
		if (rc) {
			log_error("cannot create relay worker %u: %s", i, strerror(-rc));
			return rc;
		}
	}
	d->net = d->workers[0].net; /* listings: every worker listens on the same addresses */
	return 0;
}

int ntsd_workers_listen(struct ntsd *d)
{
	struct net_server *nets[NTS_MAX_WORKERS];
	int rc;

	ntsd_foreach_worker (d, w) {
		rc = net_listen(w->net);
		if (rc)
			return rc;
		nets[w->index] = w->net;
	}
	if (d->nworkers > 1) {
		/* Steering failing leaves the kernel's hash of the same addresses and ports: still
		 * one worker per client while the set of sockets stays. */
		net_steer_attach(nets, d->nworkers);
		log_info("%u relay workers", d->nworkers);
	}
	return 0;
}

/* The host's addresses changed: every worker's peer policy gets them. */
static int workers_set_hosts(void *arg, const struct nts_cidr *hosts, unsigned n)
{
	struct ntsd *d = arg;
	int rc = 0;

	ntsd_workers_pause(d);
	ntsd_foreach_worker (d, w) {
		int r = turn_set_host_addrs(w->turn, hosts, n);

		if (r && !rc)
			rc = r;
	}
	ntsd_workers_resume(d);
	return rc;
}

struct net_hostaddr *ntsd_workers_hostaddr(struct ntsd *d)
{
	if (d->nworkers < 2)
		return net_hostaddr_create(d->loop, d->turn);
	return net_hostaddr_create_fn(d->loop, workers_set_hosts, d);
}

/* The calling thread runs a relay loop: SCHED_BATCH unless --relay-preempt (README
 * "Performance"). Its wakeups then never preempt the task running on that CPU, often the sender
 * whose datagrams woke it: the loop reads the sender's burst in one batch instead of after each
 * datagram, with two context switches each. An idle CPU still runs it at once. */
static void worker_sched(const struct nts_config *cfg)
{
	struct sched_param sp = {0};
	int policy = cfg->relay_preempt ? SCHED_OTHER : SCHED_BATCH;

	/* Set either way: a thread inherits its creator's policy, and an upgrade's new ntsd the
	 * old one's. */
	if (sched_setscheduler(0, policy, &sp))
		log_warn("relay loop: %s: %s", cfg->relay_preempt ? "SCHED_OTHER" : "SCHED_BATCH",
			 strerror(errno));
}

static void *worker_main(void *arg)
{
	struct ntsd_worker *w = arg;
	char name[16];
	int rc;

	snprintf(name, sizeof(name), "ntsd-w%u", w->index);
	pthread_setname_np(pthread_self(), name);
	worker_sched(&w->d->cfg);
	rc = loop_run(w->loop);
	if (rc) {
		log_error("relay worker %u: event loop failed: %s", w->index, strerror(-rc));
		loop_stop(w->d->loop); /* the daemon stops with it */
	}
	return NULL;
}

int ntsd_workers_start(struct ntsd *d)
{
	int rc;

	if (d->nworkers < 2) {
		worker_sched(&d->cfg); /* the daemon's own loop relays */
		return 0;
	}
	ntsd_foreach_worker (d, w) {
		rc = pthread_create(&w->thread, NULL, worker_main, w);
		if (rc) {
			log_error("cannot start relay worker %u: %s", w->index, strerror(rc));
			ntsd_workers_stop(d);
			return -rc;
		}
		w->started = true;
	}
	d->wsync->running = true;
	return 0;
}

void ntsd_workers_stop(struct ntsd *d)
{
	struct ntsd_workers_sync *s = d->wsync;

	if (d->nworkers < 2 || !s)
		return;
	/* Stopped first: a worker parked by an upgrade that handed its sockets over leaves its
	 * handler and its loop without reading again. */
	ntsd_foreach_worker (d, w) {
		loop_stop(w->loop);
	}
	pthread_mutex_lock(&s->m);
	s->running = false;
	s->hold = false;
	s->depth = 0;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->m);
	ntsd_foreach_worker (d, w) {
		if (!w->started)
			continue;
		worker_kick(w);
		pthread_join(w->thread, NULL);
		w->started = false;
	}
}

void ntsd_workers_destroy(struct ntsd *d)
{
	if (d->nworkers < 2) {
		net_destroy(
		    d->net); /* closes streams first: TURN drops the allocations they owned */
		if (d->turn)
			turn_destroy(d->turn);
	} else {
		ntsd_foreach_worker (d, w) {
			net_destroy(w->net);
			if (w->turn)
				turn_destroy(w->turn);
			if (w->auth)
				auth_destroy(w->auth);
			if (w->wake >= 0)
				close(w->wake);
			if (w->loop)
				loop_destroy(w->loop);
		}
		d->net = NULL;
	}
	turn_shared_destroy(d->shared);
	d->shared = NULL;
	free(d->workers);
	d->workers = NULL;
	d->nworkers = 0;
	if (d->wsync) {
		pthread_mutex_destroy(&d->wsync->m);
		pthread_cond_destroy(&d->wsync->cv);
		pthread_mutex_destroy(&d->wsync->lock);
		free(d->wsync);
		d->wsync = NULL;
	}
}
