/* XDP fast-path wiring for ntsd: adopts the maps pinned under --pin-dir (at start, or later when
 * `ntsctl attach` sends "fastpath-adopt"), mirrors channels and permissions into them through the
 * TURN hooks, folds kernel counters into allocations and d->stats, and collects stale entries.
 * Without pinned maps ntsd works exactly as before; any map failure only sends traffic to
 * userspace. Relay workers call the hooks from their threads: each hook holds ntsd_lock() around
 * the mirror, and the daemon's thread parks the workers (ntsd_workers_pause()) before it folds,
 * adopts or replays.
 */
#include <errno.h>
#include <string.h>

#include "ctl/ctl.h"
#include "fastpath/fastpath.h"
#include "ntsd/daemon.h"
#include "ntsd/workers.h"
#include "turn/turn.h"
#include "util/log.h"

#define WIRE_FP_TICK_MS 1000
#define WIRE_FP_GC_EVERY_NS 10000000000ull /* an earlier ntsd's expired entries: every 10 s */
#define WIRE_FP_GC_BUDGET 4096		   /* map entries examined per map and collection */

/* Kernel-relayed traffic of one allocation since the last fold. */
static void fp_usage(void *arg, uint64_t alloc_id, const struct nts_fp_alloc_counters *delta)
{
	struct ntsd *d = arg;
	struct ntsd_worker *w = ntsd_worker_of(d, alloc_id);
	const char *account =
	    w ? turn_add_kernel_counters(w->turn, alloc_id, delta->c2p_packets, delta->c2p_bytes,
					 delta->p2c_packets, delta->p2c_bytes)
	      : NULL;

	if (account)
		ntsd_usage_kernel(d, alloc_id, account, delta);
}

static void fp_limits_from_turn(struct fastpath_limits *f, const struct turn_limits *l)
{
	*f = (struct fastpath_limits){
	    .bps = l->bps, .pps = l->pps, .account = l->account, .account_bps = l->account_bps};
}

static void fp_limits_set_locked(void *arg, uint64_t alloc_id, const struct turn_limits *l)
{
	struct ntsd *d = arg;
	struct fastpath_limits f;
	int rc;

	if (!d->fastpath)
		return;
	fp_limits_from_turn(&f, l);
	rc = fastpath_alloc_limits(d->fastpath, alloc_id, &f);
	if (rc)
		log_warn("fast path: cannot write the bandwidth limits of allocation %llu (%s); "
			 "its channels are relayed in userspace",
			 (unsigned long long)alloc_id, strerror(-rc));
}

static void fp_account_del_locked(void *arg, uint64_t account)
{
	struct ntsd *d = arg;

	if (d->fastpath)
		fastpath_account_del(d->fastpath, account);
}

static int fp_channel_set_locked(void *arg, const struct turn_channel_info *c)
{
	struct ntsd *d = arg;
	struct turn_limits l;
	int rc;

	if (!d->fastpath)
		return 0;
	/* The limits go in before the channel: a bound channel is never relayed unlimited. */
	if (turn_alloc_limits(ntsd_worker_of(d, c->alloc_id)->turn, c->alloc_id, &l) == 0)
		fp_limits_set_locked(d, c->alloc_id, &l);
	rc = fastpath_channel_set(d->fastpath, c->alloc_id, &c->client, &c->server, &c->relay,
				  &c->peer, c->channel, c->expires_ns);
	if (rc == 0) /* where its kernel counter is, for a restart (wire_usage.c) */
		ntsd_usage_kernel_track(d, c->alloc_id);
	return rc;
}

static void fp_channel_del_locked(void *arg, const struct turn_channel_info *c)
{
	struct ntsd *d = arg;

	if (!d->fastpath)
		return;
	fastpath_channel_del(d->fastpath, c->alloc_id, &c->client, &c->server, &c->relay, &c->peer,
			     c->channel);
	/* Only channels are counted per allocation: folding once the entries are gone catches the
	 * last packets while TURN still knows the allocation (turn_alloc_delete deletes the
	 * channels first and has forgotten the allocation by the time alloc_del runs). */
	fastpath_fold_one(d->fastpath, c->alloc_id, fp_usage, d);
}

static int fp_permission_set_locked(void *arg, uint64_t alloc_id, enum nts_transport transport,
				    const struct nts_addr *relay, const struct nts_addr *peer,
				    uint64_t expires_ns)
{
	struct ntsd *d = arg;

	/* The XDP program relays UDP: a TCP relay's permission (RFC 6062) would let peers' UDP to
	 * the same port number through, or keep it from being dropped. */
	if (!d->fastpath || transport != NTS_UDP)
		return 0;
	return fastpath_permission_set(d->fastpath, alloc_id, relay, peer, expires_ns);
}

static void fp_permission_del_locked(void *arg, uint64_t alloc_id, const struct nts_addr *relay,
				     const struct nts_addr *peer)
{
	struct ntsd *d = arg;

	if (d->fastpath)
		fastpath_permission_del(d->fastpath, alloc_id, relay, peer);
}

static void fp_alloc_del_locked(void *arg, uint64_t alloc_id)
{
	struct ntsd *d = arg;

	if (!d->fastpath)
		return;
	ntsd_usage_kernel_forget(d, alloc_id); /* its counter goes with it */
	fastpath_alloc_del(d->fastpath, alloc_id);
}

/* The hooks TURN calls, from whichever worker holds the allocation: one at a time. */
static void fp_limits_set_hook(void *arg, uint64_t alloc_id, const struct turn_limits *l)
{
	ntsd_lock(arg);
	fp_limits_set_locked(arg, alloc_id, l);
	ntsd_unlock(arg);
}

static void fp_account_del_hook(void *arg, uint64_t account)
{
	ntsd_lock(arg);
	fp_account_del_locked(arg, account);
	ntsd_unlock(arg);
}

static int fp_channel_set_hook(void *arg, const struct turn_channel_info *c)
{
	int rc;

	ntsd_lock(arg);
	rc = fp_channel_set_locked(arg, c);
	ntsd_unlock(arg);
	return rc;
}

static void fp_channel_del_hook(void *arg, const struct turn_channel_info *c)
{
	ntsd_lock(arg);
	fp_channel_del_locked(arg, c);
	ntsd_unlock(arg);
}

static int fp_permission_set_hook(void *arg, uint64_t alloc_id, enum nts_transport transport,
				  const struct nts_addr *relay, const struct nts_addr *peer,
				  uint64_t expires_ns)
{
	int rc;

	ntsd_lock(arg);
	rc = fp_permission_set_locked(arg, alloc_id, transport, relay, peer, expires_ns);
	ntsd_unlock(arg);
	return rc;
}

static void fp_permission_del_hook(void *arg, uint64_t alloc_id, const struct nts_addr *relay,
				   const struct nts_addr *peer)
{
	ntsd_lock(arg);
	fp_permission_del_locked(arg, alloc_id, relay, peer);
	ntsd_unlock(arg);
}

static void fp_alloc_del_hook(void *arg, uint64_t alloc_id)
{
	ntsd_lock(arg);
	fp_alloc_del_locked(arg, alloc_id);
	ntsd_unlock(arg);
}

static const struct turn_hooks wire_fp_hooks = {
    .channel_set = fp_channel_set_hook,
    .channel_del = fp_channel_del_hook,
    .permission_set = fp_permission_set_hook,
    .permission_del = fp_permission_del_hook,
    .alloc_del = fp_alloc_del_hook,
    .limits_set = fp_limits_set_hook,
    .account_del = fp_account_del_hook,
};

static void wire_fp_tick_locked(struct ntsd *d)
{
	struct nts_fp_stats s;

	/* One syscall when the kernel forwarded nothing since the last tick. */
	fastpath_fold(d->fastpath, fp_usage, d);
	/* An earlier ntsd's allocations, before their expired entries (and counters) are collected.
	 */
	ntsd_usage_fold_foreign(d);
	/* The kernel's global counters since the maps were created (they outlive ntsd). */
	if (fastpath_stats_read(d->fastpath, &s) == 0) {
		d->stats.kernel_c2p_packets = s.c2p_packets;
		d->stats.kernel_c2p_bytes = s.c2p_bytes;
		d->stats.kernel_p2c_packets = s.p2c_packets;
		d->stats.kernel_p2c_bytes = s.p2c_bytes;
		d->stats.kernel_drop_redirect_failed = s.drop_redirect_failed;
		d->stats.kernel_rate_limited = s.drop_rate_limited;
	}
	/* Our own entries leave through the TURN hooks; only an earlier ntsd's need collecting. */
	fastpath_gc_foreign(d->fastpath, nts_monotonic_ns(), WIRE_FP_GC_EVERY_NS,
			    WIRE_FP_GC_BUDGET);
}

static void wire_fp_tick(void *arg, uint64_t now_ms)
{
	struct ntsd *d = arg;

	if (!d->fastpath)
		return;
	/* Folding adds to the workers' allocations: they wait (one pause a second). */
	ntsd_workers_pause(d);
	ntsd_lock(d);
	wire_fp_tick_locked(d);
	ntsd_unlock(d);
	ntsd_workers_resume(d);
}

static bool fp_peer_allowed(void *arg, const struct nts_addr *peer)
{
	struct ntsd *d = arg;

	/* Every worker applies the same policy. */
	return turn_peer_allowed(d->workers[0].turn, peer);
}

/* Opens the pinned maps (replacing any open ones) and writes every live channel and permission. */
static int wire_fp_adopt_locked(struct ntsd *d)
{
	struct fastpath *fp;
	int rc;

	ntsd_usage_adopt_begin(d);
	/* Opening again (a second attach): same generation, so our entries stay ours. After an
	 * upgrade, the generation of the ntsd that handed over: its entries are ours. */
	rc = fastpath_open_gen(
	    d->cfg.pin_dir, d->fastpath ? fastpath_generation(d->fastpath) : d->fastpath_gen, &fp);
	if (rc)
		return rc;
	/* An earlier ntsd's entries keep relaying until they expire: only for peers our policy
	 * allows too (it may have been started with other --allow-peer/--deny-peer). */
	rc = fastpath_foreign_recheck(fp, fp_peer_allowed, d);
	if (rc > 0)
		log_info("fast path: removed %d entries of an earlier ntsd for peers the policy "
			 "refuses",
			 rc);
	else if (rc < 0 && fastpath_flush(fp) >= 0)
		log_warn("fast path: cannot check an earlier ntsd's entries against the peer "
			 "policy (%s); removed them all",
			 strerror(-rc));
	if (d->fastpath)
		fastpath_fold(d->fastpath, fp_usage, d);
	fastpath_close(d->fastpath);
	d->fastpath = fp;
	ntsd_usage_adopt_end(d);
	ntsd_foreach_worker (d, w) {
		turn_replay_hooks(w->turn);
	}
	for (unsigned i = 0; i < d->cfg.nrelay_ip; i++) {
		static const uint8_t zero[16];
		const struct nts_addr *r = &d->cfg.relay_ip[i];

		if (memcmp(r->ip, zero, nts_addr_iplen(r)) == 0)
			log_warn(
			    "fast path: relays on the wildcard address %s are relayed in "
			    "userspace; give --relay-ip (or a concrete --listen) to accelerate",
			    r->family == AF_INET ? "0.0.0.0" : "::");
	}
	return 0;
}

static int wire_fp_adopt(struct ntsd *d)
{
	int rc;

	ntsd_workers_pause(d);
	ntsd_lock(d);
	rc = wire_fp_adopt_locked(d);
	ntsd_unlock(d);
	ntsd_workers_resume(d);
	return rc;
}

static json_t *wire_fp_state(struct ntsd *d)
{
	json_t *o = json_pack("{s:b, s:s, s:I, s:I}", "adopted", d->fastpath != NULL, "pin_dir",
			      d->cfg.pin_dir, "channels", (json_int_t)d->cfg.fastpath_channels,
			      "allocations", (json_int_t)d->cfg.max_allocations);

	/* Which entries are ours (alloc_id >> NTS_FP_GEN_SHIFT), and how many an earlier ntsd
	 * left that still relay. */
	if (o && d->fastpath) {
		json_object_set_new(o, "generation",
				    json_integer(fastpath_generation(d->fastpath)));
		json_object_set_new(
		    o, "foreign_entries",
		    json_integer((json_int_t)fastpath_foreign_entries(d->fastpath)));
	}
	return o;
}

/* "fastpath-adopt": sent by ntsctl attach once the maps are pinned. */
static json_t *cmd_fastpath_adopt(void *arg, json_t *args, char *err, size_t errlen)
{
	struct ntsd *d = arg;
	int rc = wire_fp_adopt(d);

	if (rc) {
		snprintf(err, errlen, "cannot open the fast-path maps under %s: %s", d->cfg.pin_dir,
			 strerror(-rc));
		return NULL;
	}
	log_info("fast path: adopted the maps under %s", d->cfg.pin_dir);
	return wire_fp_state(d);
}

/* "fastpath-status": whether this ntsd mirrors its state into the maps, and the map sizes its
 * configuration asks for (--fastpath-channels, --max-allocations), which ntsctl attach uses. */
static json_t *cmd_fastpath_status(void *arg, json_t *args, char *err, size_t errlen)
{
	return wire_fp_state(arg);
}

int ntsd_wire_fastpath(struct ntsd *d)
{
	int rc;

	/* Hooks first: adopting replays TURN's state through them (after an upgrade there is some).
	 */
	ntsd_foreach_worker (d, w) {
		turn_set_hooks(w->turn, &wire_fp_hooks, d);
	}
	rc = wire_fp_adopt(d);

	if (rc == 0)
		log_info("fast path: using the maps pinned under %s", d->cfg.pin_dir);
	else if (rc == -ENOENT)
		log_info("fast path: no maps under %s; relaying in userspace until ntsctl attach",
			 d->cfg.pin_dir);
	else
		log_warn("fast path: cannot open the maps under %s (%s); relaying in userspace",
			 d->cfg.pin_dir, strerror(-rc));
	rc = ctl_register(d->ctl, "fastpath-adopt", cmd_fastpath_adopt, d);
	if (!rc)
		rc = ctl_register(d->ctl, "fastpath-status", cmd_fastpath_status, d);
	if (!rc)
		rc = loop_add_tick(d->loop, WIRE_FP_TICK_MS, wire_fp_tick, d);
	return rc;
}

void ntsd_fold_fastpath(struct ntsd *d)
{
	if (!d->fastpath)
		return;
	ntsd_workers_pause(d);
	ntsd_lock(d);
	fastpath_fold(d->fastpath, fp_usage, d);
	ntsd_unlock(d);
	ntsd_workers_resume(d);
}

void ntsd_unwire_fastpath(struct ntsd *d)
{
	/* The maps and their entries stay: bound channels keep flowing until they expire, and the
	 * next ntsd adopts them. The hooks stay installed and see no fast path. */
	ntsd_lock(d);
	fastpath_close(d->fastpath);
	d->fastpath = NULL;
	ntsd_unlock(d);
}
