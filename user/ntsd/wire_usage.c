/* Usage metering for ntsd, per account and UTC day: TURN reports allocations made and ended and the
 * bytes it relayed each way (per AccountSid of ephemeral credentials), wire_fastpath.c hands over
 * what the kernel relayed, and this file accrues allocation-seconds per live allocation (split at
 * UTC midnight). The store keeps it all pending and a tick writes it at most every 10 s, and at
 * stop.
 *
 * Kernel counts are exact across restarts (docs/architecture.md, "Usage"): each flush stores, in
 * the same transaction as the usage, a mark per kernel counter saying how much of it is counted.
 * An ntsd that adopts the maps folds an earlier ntsd's counters from those marks on, until the
 * counters go.
 *
 * Relay workers report from their threads under ntsd_lock(), and only the daemon's thread uses the
 * store (the token API and control commands use it too, unlocked): a worker's report waits in an
 * inbox until the daemon's thread takes it, within a second.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "ctl/ctl.h"
#include "fastpath/fastpath.h"
#include "ntsd/daemon.h"
#include "ntsd/workers.h"
#include "store/store.h"
#include "turn/turn.h"
#include "util/log.h"

#define WIRE_USAGE_FLUSH_MS 10000 /* usage reaches the database at most this late */
#define WIRE_USAGE_BUCKETS 4096	  /* accounts with live allocations, chained */
#define WIRE_USAGE_DAY_MS 86400000ull

/* An account with live allocations: allocation-seconds accrue from since_ms on. */
struct usage_acct {
	struct usage_acct *next;
	char sid[STORE_SID_LEN + 1];
	uint64_t live;	   /* its live allocations */
	uint64_t since_ms; /* wall-clock ms up to which its allocation-seconds are counted */
	uint64_t carry_ms; /* allocation-milliseconds not yet a whole second */
};

/* What a relay worker hands the daemon's thread (usage_post()). */
enum usage_msg_kind { USAGE_MSG_BYTES, USAGE_MSG_LIVE, USAGE_MSG_MARK, USAGE_MSG_FORGET };
struct usage_msg {
	enum usage_msg_kind kind;
	char sid[STORE_SID_LEN + 1];
	int64_t day;		       /* BYTES */
	struct store_usage add;	       /* BYTES */
	int change;		       /* LIVE: +1 made, -1 ended */
	uint64_t now_ms;	       /* LIVE */
	struct store_kernel_mark mark; /* MARK */
	uint64_t key;		       /* FORGET */
};

struct ntsd_usage {
	struct usage_acct *buckets[WIRE_USAGE_BUCKETS];
	/* Relay workers' reports not yet taken (under ntsd_lock()). */
	struct usage_msg *inbox;
	size_t ninbox, inbox_cap;
	/* An earlier ntsd's kernel counters still followed (marks as last folded). */
	struct store_kernel_mark *foreign;
	size_t nforeign;
};

static uint64_t usage_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int64_t usage_today(void)
{
	return (int64_t)(usage_now_ms() / WIRE_USAGE_DAY_MS);
}

static struct usage_acct **usage_bucket(struct ntsd_usage *u, const char *sid)
{
	uint64_t h = 1469598103934665603ULL;

	for (const char *p = sid; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ULL;
	return &u->buckets[h % WIRE_USAGE_BUCKETS];
}

/* Counts sid's live allocations over [since_ms, now_ms) into the days they fall on. */
static void usage_accrue(struct ntsd *d, struct usage_acct *a, uint64_t now_ms)
{
	if (now_ms <= a->since_ms)
		return; /* the clock went back: count from where it was */
	store_usage_add_held(d->store, a->sid, a->since_ms, now_ms, a->live, &a->carry_ms);
	a->since_ms = now_ms;
}

static void usage_accrue_all(struct ntsd *d, uint64_t now_ms)
{
	for (size_t i = 0; i < WIRE_USAGE_BUCKETS; i++)
		for (struct usage_acct *a = d->usage->buckets[i]; a; a = a->next)
			usage_accrue(d, a, now_ms);
}

/* An allocation of sid was made (+1) or has ended (-1). */
static void usage_live(struct ntsd *d, const char *sid, int change, uint64_t now_ms)
{
	struct usage_acct **b = usage_bucket(d->usage, sid), **p, *a;

	for (p = b; *p && strcmp((*p)->sid, sid) != 0; p = &(*p)->next)
		;
	a = *p;
	if (!a) {
		if (change < 0)
			return; /* made before metering started */
		a = calloc(1, sizeof(*a));
		if (!a) {
			log_warn("usage: out of memory: allocation-seconds of %s not counted", sid);
			return;
		}
		memcpy(a->sid, sid, sizeof(a->sid));
		a->since_ms = now_ms;
		a->next = *b;
		*b = a;
		p = b;
	}
	usage_accrue(d, a, now_ms);
	if (change > 0) {
		a->live++;
	} else if (--a->live == 0) {
		*p = a->next; /* the carry (under a second) goes with it */
		free(a);
	}
}

/* On a relay worker: queues m for the daemon's thread (under ntsd_lock()). true when queued. */
static bool usage_post(struct ntsd *d, const struct usage_msg *m)
{
	struct ntsd_usage *u = d->usage;

	if (!ntsd_on_worker(d))
		return false;
	if (u->ninbox == u->inbox_cap) {
		size_t cap = u->inbox_cap ? 2 * u->inbox_cap : 64;
		struct usage_msg *n = realloc(u->inbox, cap * sizeof(*n));

		if (!n) {
			log_warn("usage: out of memory: a worker's usage of %s not counted",
				 m->sid);
			return true;
		}
		u->inbox = n;
		u->inbox_cap = cap;
	}
	u->inbox[u->ninbox++] = *m;
	return true;
}

/* The daemon's thread: applies what the workers queued, in order. */
static void usage_drain(struct ntsd *d)
{
	struct ntsd_usage *u = d->usage;

	ntsd_lock(d);
	for (size_t i = 0; u && d->store && i < u->ninbox; i++) {
		const struct usage_msg *m = &u->inbox[i];

		switch (m->kind) {
		case USAGE_MSG_BYTES:
			store_usage_add(d->store, m->sid, m->day, &m->add);
			break;
		case USAGE_MSG_LIVE:
			usage_live(d, m->sid, m->change, m->now_ms);
			break;
		case USAGE_MSG_MARK:
			store_kernel_mark_set(d->store, &m->mark);
			break;
		case USAGE_MSG_FORGET:
			store_kernel_mark_forget(d->store, m->key);
			break;
		}
	}
	if (u)
		u->ninbox = 0;
	ntsd_unlock(d);
}

static void usage_post_bytes(struct ntsd *d, const char *sid, int64_t day,
			     const struct store_usage *add)
{
	struct usage_msg m = {.kind = USAGE_MSG_BYTES, .day = day, .add = *add};

	snprintf(m.sid, sizeof(m.sid), "%s", sid);
	if (!usage_post(d, &m))
		store_usage_add(d->store, sid, day, add);
}

static void wire_usage_report_locked(void *arg, const char *account, const struct turn_usage *t)
{
	struct ntsd *d = arg;
	struct store_usage add = {.bytes_to_peer = t->c2p_bytes, .bytes_to_client = t->p2c_bytes};
	uint64_t now = usage_now_ms();

	/* d->store is NULL after ntsd_unwire_api(); static users ("") are not metered. */
	if (!d->store || !store_sid_valid(account))
		return;
	if (t->created)
		add.allocations = 1;
	usage_post_bytes(d, account, (int64_t)(now / WIRE_USAGE_DAY_MS), &add);
	if (t->created || t->ended) {
		struct usage_msg m = {
		    .kind = USAGE_MSG_LIVE, .change = t->created ? 1 : -1, .now_ms = now};

		snprintf(m.sid, sizeof(m.sid), "%s", account);
		if (!usage_post(d, &m))
			usage_live(d, account, m.change, now);
	}
}

static void wire_usage_report(void *arg, const char *account, const struct turn_usage *t)
{
	ntsd_lock(arg);
	wire_usage_report_locked(arg, account, t);
	ntsd_unlock(arg);
}

static void wire_usage_flush(struct ntsd *d)
{
	usage_drain(d); /* the workers' reports first: allocation-seconds accrue from them */
	ntsd_lock(d);
	usage_accrue_all(d, usage_now_ms());
	store_usage_flush(d->store); /* fails while another process holds the database: retried */
	ntsd_unlock(d);
}

static void wire_usage_drain_tick(void *arg, uint64_t now_ms)
{
	usage_drain(arg);
}

static void wire_usage_drain_hook(void *arg)
{
	usage_drain(arg);
}

static void wire_usage_tick(void *arg, uint64_t now_ms)
{
	struct ntsd *d = arg;

	if (d->store && d->usage)
		wire_usage_flush(d);
}

/* --- kernel counters */

void ntsd_usage_kernel(struct ntsd *d, uint64_t alloc_id, const char *account,
		       const struct nts_fp_alloc_counters *delta)
{
	struct store_usage add = {.bytes_to_peer = delta->c2p_bytes,
				  .bytes_to_client = delta->p2c_bytes};

	if (!d->store || !d->usage || !store_sid_valid(account))
		return;
	ntsd_lock(d);
	usage_post_bytes(d, account, usage_today(), &add);
	ntsd_usage_kernel_track(d, alloc_id);
	ntsd_unlock(d);
}

void ntsd_usage_kernel_track(struct ntsd *d, uint64_t alloc_id)
{
	struct fastpath_fold_mark fm;
	struct store_kernel_mark m = {0};
	const char *account;

	if (!d->store || !d->fastpath || !d->usage)
		return;
	account = turn_alloc_account_of(ntsd_worker_of(d, alloc_id)->turn, alloc_id);
	if (!account || !store_sid_valid(account))
		return;
	ntsd_lock(d);
	if (fastpath_fold_mark(d->fastpath, alloc_id, &fm) == 0) {
		m.key = fm.key;
		m.map_id = fm.map_id;
		memcpy(m.sid, account, sizeof(m.sid));
		m.to_peer = fm.folded.c2p_bytes;
		m.to_client = fm.folded.p2c_bytes;
		if (!usage_post(d, &(struct usage_msg){.kind = USAGE_MSG_MARK, .mark = m}))
			store_kernel_mark_set(d->store, &m);
	}
	ntsd_unlock(d);
}

void ntsd_usage_kernel_forget(struct ntsd *d, uint64_t alloc_id)
{
	struct fastpath_fold_mark fm;

	ntsd_lock(d);
	if (d->store && d->usage && d->fastpath &&
	    fastpath_fold_mark(d->fastpath, alloc_id, &fm) == 0 &&
	    !usage_post(d, &(struct usage_msg){.kind = USAGE_MSG_FORGET, .key = fm.key}))
		store_kernel_mark_forget(d->store, fm.key);
	ntsd_unlock(d);
}

/* Folds an earlier ntsd's counter m with fp. false when it is to be forgotten: gone, counting in
 * another map, or reset (its key taken by a new allocation). */
static bool usage_fold_mark(struct ntsd *d, struct fastpath *fp, struct store_kernel_mark *m)
{
	struct nts_fp_alloc_counters now;
	struct store_usage add = {0};
	uint32_t map_id;

	if (!fp || fastpath_counters_by_key(fp, m->key, &now, &map_id) != 0 ||
	    map_id != m->map_id || now.c2p_bytes < m->to_peer || now.p2c_bytes < m->to_client)
		return false;
	add.bytes_to_peer = now.c2p_bytes - m->to_peer;
	add.bytes_to_client = now.p2c_bytes - m->to_client;
	if (add.bytes_to_peer || add.bytes_to_client) {
		store_usage_add(d->store, m->sid, usage_today(), &add);
		m->to_peer = now.c2p_bytes;
		m->to_client = now.p2c_bytes;
		store_kernel_mark_set(d->store, m);
	}
	return true;
}

/* Folds every followed counter with fp; forgets those that are gone or, with own_gen, of that
 * generation (a counter under our own generation's key is ours from now on). */
static void usage_fold_foreign(struct ntsd *d, struct fastpath *fp, uint32_t own_gen)
{
	struct ntsd_usage *u = d->usage;
	size_t keep = 0;

	for (size_t i = 0; i < u->nforeign; i++) {
		struct store_kernel_mark *m = &u->foreign[i];

		if (usage_fold_mark(d, fp, m) && (m->key >> NTS_FP_GEN_SHIFT) != own_gen)
			u->foreign[keep++] = *m;
		else
			store_kernel_mark_forget(d->store, m->key);
	}
	u->nforeign = keep;
}

static int usage_load_mark(void *arg, const struct store_kernel_mark *m)
{
	struct ntsd_usage *u = arg;
	struct store_kernel_mark *n = realloc(u->foreign, (u->nforeign + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	u->foreign = n;
	u->foreign[u->nforeign++] = *m;
	return 0;
}

void ntsd_usage_adopt_begin(struct ntsd *d)
{
	struct fastpath *rd;
	int rc;

	if (!d->store || !d->usage || d->fastpath)
		return;
	d->usage->nforeign = 0;
	if (store_kernel_mark_foreach(d->store, usage_load_mark, d->usage) != 0)
		return;
	/* An upgrade continues the generation of the ntsd that handed over: its counters are ours,
	 * and folding resumes from the marks it handed over (user/ntsd/upgrade_state.c), not here. */
	if (d->fastpath_gen) {
		size_t keep = 0;

		for (size_t i = 0; i < d->usage->nforeign; i++)
			if ((d->usage->foreign[i].key >> NTS_FP_GEN_SHIFT) != d->fastpath_gen)
				d->usage->foreign[keep++] = d->usage->foreign[i];
		d->usage->nforeign = keep;
	}
	if (!d->usage->nforeign)
		return;
	/* Read before the maps are adopted: adopting deletes the counters of generations that no
	 * longer relay, and a new allocation under an equal key starts its counter at zero. */
	rc = fastpath_open(d->cfg.pin_dir, &rd);
	if (rc == 0) {
		usage_fold_foreign(d, rd, 0);
		fastpath_close(rd);
	} else if (rc == -ENOENT) {
		usage_fold_foreign(d, NULL, 0); /* no maps: those counters are gone */
	} else {
		d->usage->nforeign = 0; /* cannot tell: keep the marks for a later start */
	}
	log_info("usage: %zu kernel counters of an earlier ntsd still count", d->usage->nforeign);
}

void ntsd_usage_adopt_end(struct ntsd *d)
{
	if (d->store && d->usage && d->fastpath && d->usage->nforeign)
		usage_fold_foreign(d, d->fastpath, fastpath_generation(d->fastpath));
}

void ntsd_usage_fold_foreign(struct ntsd *d)
{
	if (d->store && d->usage && d->fastpath && d->usage->nforeign)
		usage_fold_foreign(d, d->fastpath, fastpath_generation(d->fastpath));
}

/* --- control command */

/* "usage": writes what is pending, then reads (args as api_cmd_usage()). */
static json_t *cmd_usage(void *arg, json_t *args, char *err, size_t errlen)
{
	struct ntsd *d = arg;

	if (!d->store || !d->usage) {
		snprintf(err, errlen, "no database");
		return NULL;
	}
	wire_usage_flush(d);
	return api_cmd_usage(d->store, args, err, errlen);
}

/* An allocation an upgrade handed over: live from now on (the old ntsd counted up to the
 * handover). */
static int usage_live_handed(void *arg, const struct turn_alloc_info *a)
{
	struct ntsd *d = arg;

	if (a->account && store_sid_valid(a->account))
		usage_live(d, a->account, 1, usage_now_ms());
	return 0;
}

void ntsd_usage_accrue(struct ntsd *d)
{
	usage_drain(d);
	ntsd_lock(d);
	if (d->store && d->usage)
		usage_accrue_all(d, usage_now_ms());
	ntsd_unlock(d);
}

int ntsd_wire_usage(struct ntsd *d)
{
	int rc;

	d->usage = calloc(1, sizeof(*d->usage));
	if (!d->usage)
		return -ENOMEM;
	ntsd_foreach_worker (d, w) {
		turn_set_usage_hook(w->turn, wire_usage_report, d);
		if (d->store)
			turn_foreach_alloc(w->turn, usage_live_handed, d);
	}
	rc = ctl_register(d->ctl, "usage", cmd_usage, d);
	if (!rc)
		rc = loop_add_tick(d->loop, WIRE_USAGE_FLUSH_MS, wire_usage_tick, d);
	if (!rc && d->nworkers > 1) {
		rc = loop_add_tick(d->loop, 1000, wire_usage_drain_tick, d);
		/* A command (account list, usage) sees every report made before it. */
		ctl_set_before(d->ctl, wire_usage_drain_hook, d);
	}
	return rc;
}

void ntsd_unwire_usage(struct ntsd *d)
{
	struct ntsd_usage *u = d->usage;

	if (!u)
		return;
	/* Handed over: counted and written up to the handover; the new ntsd counts from there. */
	if (d->store && !d->handed_over)
		wire_usage_flush(d);
	/* Allocations ending from now on (at stop) were counted up to here. */
	ntsd_foreach_worker (d, w) {
		turn_set_usage_hook(w->turn, NULL, NULL);
	}
	d->usage = NULL;
	for (size_t i = 0; i < WIRE_USAGE_BUCKETS; i++)
		while (u->buckets[i]) {
			struct usage_acct *a = u->buckets[i];

			u->buckets[i] = a->next;
			free(a);
		}
	free(u->foreign);
	free(u->inbox);
	free(u);
}
