/* The fleet's wiring in ntsd (docs/fleet.md): the node's registry row and heartbeat, the poll of
 * the change counter, the redirect decision TURN asks for each Allocate, and the control commands
 * fleet, drain, undrain and secret-rotate. The database is touched only on the 1 s tick (one
 * short write every FLEET_HEARTBEAT_S, reads otherwise) and by operator commands: the redirect
 * decision reads the registry copy the last heartbeat fetched.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "ctl/ctl.h"
#include "net/net.h"
#include "ntsd/fleet.h"
#include "ntsd/workers.h"
#include "turn/turn.h"
#include "util/log.h"

#define FLEET_CMD_BUSY_MS 500 /* an operator command may wait this long for the database */
#define FLEET_MAX_NODES 1024  /* registry rows a node keeps for its redirects */

struct ntsd_fleet {
	struct store_node self;
	bool draining;
	bool beat_due;	      /* write the row at the next tick (a failed write, drain) */
	bool beat_failing;    /* the last heartbeat failed (logged once) */
	unsigned ticks;	      /* since start */
	uint64_t seq;	      /* change counter applied */
	int64_t secrets_next; /* unix second the secret order changes next; 0: never */
	uint64_t user_pkts, kernel_pkts;
	int64_t pkts_at; /* unix second of user_pkts, kernel_pkts */
	/* What relay workers read in fleet_redirect() while the daemon's thread writes: draining
	 * and the registry copy. The registry is read into spare, then swapped in under lock. */
	pthread_mutex_t lock;
	struct store_node *nodes; /* the registry as last read (for redirects) */
	size_t nnodes;
	struct store_node *spare;
	size_t nspare;
};

/* "udp 198.18.0.1:3478 tcp ..." from the open listeners; a wildcard listener is named by the
 * --external-ip, else the --relay-ip, of its family (none: left out, no redirect can name it). */
static void fleet_addresses(struct ntsd *d, char *out, size_t len)
{
	struct net_listener_info li[NET_MAX_LISTENERS];
	size_t n = net_listeners(d->net, li, NET_MAX_LISTENERS), off = 0;
	const struct nts_config *c = &d->cfg;
	char a[NTS_ADDRSTRLEN];

	out[0] = '\0';
	for (size_t i = 0; i < n && i < NET_MAX_LISTENERS && off < len; i++) {
		struct nts_addr addr = li[i].addr;

		for (unsigned j = 0; nts_addr_is_any(&addr) && j < c->nexternal_ip; j++)
			if (c->external_ip[j].family == addr.family)
				memcpy(addr.ip, c->external_ip[j].ip, sizeof(addr.ip));
		for (unsigned j = 0; nts_addr_is_any(&addr) && j < c->nrelay_ip; j++)
			if (c->relay_ip[j].family == addr.family)
				memcpy(addr.ip, c->relay_ip[j].ip, sizeof(addr.ip));
		if (nts_addr_is_any(&addr))
			continue;
		off += (size_t)snprintf(out + off, len - off, "%s%s %s", off ? " " : "",
					nts_transport_name(li[i].transport),
					nts_addr_fmt(&addr, a, sizeof(a), true));
	}
}

static int fleet_node_row(void *arg, const struct store_node *n)
{
	struct ntsd_fleet *f = arg;

	if (f->nspare < FLEET_MAX_NODES)
		f->spare[f->nspare++] = *n;
	return 0;
}

/* Writes this node's row, then reads the registry back for redirects. */
static void fleet_heartbeat(struct ntsd *d, int64_t now)
{
	struct ntsd_fleet *f = d->fleet;
	struct nts_stats st;
	uint64_t user, kernel;
	int err;

	ntsd_stats_sum(d, &st); /* every relay worker's */
	user = st.user_c2p_packets + st.user_p2c_packets;
	kernel = st.kernel_c2p_packets + st.kernel_p2c_packets;
	if (f->pkts_at && now > f->pkts_at) {
		f->self.pps_user = (user - f->user_pkts) / (uint64_t)(now - f->pkts_at);
		f->self.pps_kernel = (kernel - f->kernel_pkts) / (uint64_t)(now - f->pkts_at);
	}
	f->user_pkts = user;
	f->kernel_pkts = kernel;
	f->pkts_at = now;
	f->self.state = f->draining ? STORE_NODE_DRAINING : STORE_NODE_ACTIVE;
	f->self.capacity = d->cfg.max_allocations;
	f->self.heartbeat_at = now;
	f->self.allocations = st.allocations_current;
	if (!f->self.addresses[0])
		fleet_addresses(d, f->self.addresses, sizeof(f->self.addresses));
	err = store_node_put(d->store, &f->self);
	f->beat_due = err != 0; /* busy with another node's write: the next tick tries again */
	/* Once per outage, not every second of it. */
	if (err && err != -EBUSY && !f->beat_failing)
		log_warn("fleet: cannot write this node's heartbeat: %s (retrying every second)",
			 strerror(-err));
	else if (!err && f->beat_failing)
		log_info("fleet: heartbeat written again");
	if (err != -EBUSY)
		f->beat_failing = err != 0;
	f->nspare = 0;
	if (store_node_foreach(d->store, fleet_node_row, f) != 0)
		return; /* keep deciding on the last copy */
	pthread_mutex_lock(&f->lock);
	struct store_node *old = f->nodes;
	f->nodes = f->spare;
	f->nnodes = f->nspare;
	f->spare = old;
	pthread_mutex_unlock(&f->lock);
}

static int fleet_apply_account(void *arg, const char *sid)
{
	struct ntsd *d = arg;
	struct store_account a;

	if (store_account_get(d->store, sid, &a) == 0)
		ntsd_account_apply(d, &a);
	return 0;
}

static void fleet_reload_secrets(struct ntsd *d, int64_t now)
{
	int err;

	if (d->cfg.nsecrets > 0)
		return; /* --secret: the configuration's, not the database's */
	err = ntsd_fleet_load_secrets(d, now, &d->fleet->secrets_next);
	if (err)
		log_warn("fleet: cannot load the signing secrets: %s", strerror(-err));
}

/* Applies what other nodes (or ntsctl --db) changed since the last poll: accounts' states and
 * limits into TURN (a suspension ends the account's allocations here too), and the secrets. API
 * keys and AuthTokens are read from the database at each request: nothing to apply. */
static void fleet_poll_changes(struct ntsd *d, int64_t now)
{
	struct ntsd_fleet *f = d->fleet;
	uint64_t seq;

	if (store_change_seq(d->store, &seq) != 0 || seq == f->seq)
		return;
	if (store_account_foreach_changed(d->store, f->seq, fleet_apply_account, d) != 0)
		return; /* the next poll tries again from the same point */
	fleet_reload_secrets(d, now);
	f->seq = seq;
}

static void fleet_tick(void *arg, uint64_t now_ms)
{
	struct ntsd *d = arg;
	struct ntsd_fleet *f = d->fleet;
	int64_t now = (int64_t)time(NULL);

	if (!d->store || !f)
		return;
	if (f->secrets_next && now >= f->secrets_next)
		fleet_reload_secrets(d, now);
	if (++f->ticks % FLEET_HEARTBEAT_S != 0 && !f->beat_due)
		return;
	fleet_heartbeat(d, now);
	fleet_poll_changes(d, now);
}

/* TURN asks for each new Allocate (user/turn/redirect.c). */
static int fleet_redirect(void *arg, const struct nts_origin *o, uint64_t nallocs,
			  struct turn_redirect *out)
{
	struct ntsd *d = arg;
	struct ntsd_fleet *f = d->fleet;
	uint64_t cap = d->cfg.max_allocations;
	struct nts_addr ip;
	bool draining;
	int picked;

	pthread_mutex_lock(&f->lock);
	draining = f->draining;
	if (!draining && !(cap && nallocs * 100 >= cap * d->cfg.shed_at)) {
		pthread_mutex_unlock(&f->lock);
		return 0;
	}
	picked =
	    fleet_pick_alternate(f->nodes, f->nnodes, f->self.name, f->self.region,
				 (int64_t)time(NULL), o->transport, o->server.family, &out->server);
	pthread_mutex_unlock(&f->lock);
	if (picked < 0)
		return draining ? 508 : 0; /* nowhere to send it: a full node still serves */
	/* The name the alternate's certificate is checked against: the fleet's global name, the
	 * one every node's certificate carries (an address says nothing). */
	if (nts_addr_parse(&ip, d->cfg.ice_host, true) < 0 && d->cfg.ice_host[0] != '[')
		snprintf(out->domain, sizeof(out->domain), "%s", d->cfg.ice_host);
	return 300;
}

/* --- control commands */

static json_t *fleet_cmd_fleet(void *arg, json_t *args, char *err, size_t errlen)
{
	struct ntsd *d = arg;

	return api_cmd_fleet(d->store, args, (int64_t)time(NULL), err, errlen);
}

static json_t *fleet_drain_set(struct ntsd *d, bool draining)
{
	struct ntsd_fleet *f = d->fleet;

	if (f->draining != draining)
		log_info("fleet: %s: new allocations %s", draining ? "draining" : "undrained",
			 draining ? "go to other nodes of the region" : "are served here again");
	pthread_mutex_lock(&f->lock);
	f->draining = draining;
	pthread_mutex_unlock(&f->lock);
	store_set_busy_timeout(d->store, FLEET_CMD_BUSY_MS);
	fleet_heartbeat(d, (int64_t)time(NULL));
	store_set_busy_timeout(d->store, 0);
	return json_pack("{s:s, s:s, s:I}", "node", f->self.name, "state",
			 draining ? "draining" : "active", "allocations",
			 (json_int_t)f->self.allocations);
}

static json_t *fleet_cmd_drain(void *arg, json_t *args, char *err, size_t errlen)
{
	return fleet_drain_set(arg, true);
}

static json_t *fleet_cmd_undrain(void *arg, json_t *args, char *err, size_t errlen)
{
	return fleet_drain_set(arg, false);
}

static json_t *fleet_cmd_secret_rotate(void *arg, json_t *args, char *err, size_t errlen)
{
	struct ntsd *d = arg;
	int64_t now = (int64_t)time(NULL);
	json_t *r;

	if (d->cfg.nsecrets > 0) {
		snprintf(
		    err, errlen,
		    "this ntsd signs with --secret/--secret-file: rotate those in the "
		    "configuration (first signs, all verify), or drop them to use the database's "
		    "secrets (docs/fleet.md)");
		return NULL;
	}
	store_set_busy_timeout(d->store, FLEET_CMD_BUSY_MS);
	r = api_cmd_secret_rotate(d->store, args, now, err, errlen);
	store_set_busy_timeout(d->store, 0);
	if (r)
		fleet_reload_secrets(d, now); /* this node verifies with it now */
	return r;
}

int ntsd_wire_fleet(struct ntsd *d)
{
	struct ntsd_fleet *f;
	int err;

	if (!d->store)
		return 0;
	f = calloc(1, sizeof(*f));
	if (f) {
		f->nodes = calloc(FLEET_MAX_NODES, sizeof(*f->nodes));
		f->spare = calloc(FLEET_MAX_NODES, sizeof(*f->spare));
	}
	if (!f || !f->nodes || !f->spare) {
		if (f) {
			free(f->nodes);
			free(f->spare);
		}
		free(f);
		return -ENOMEM;
	}
	pthread_mutex_init(&f->lock, NULL);
	d->fleet = f;
	snprintf(f->self.name, sizeof(f->self.name), "%s", d->cfg.node_name);
	if (!f->self.name[0] && gethostname(f->self.name, sizeof(f->self.name) - 1) != 0)
		snprintf(f->self.name, sizeof(f->self.name), "ntsd");
	snprintf(f->self.region, sizeof(f->self.region), "%s", d->cfg.region);
	snprintf(f->self.version, sizeof(f->self.version), "%s", NTS_VERSION);
	f->self.started_at = (int64_t)d->start_unix;
	f->beat_due = true; /* register at the first tick, once the listeners are open */
	store_usage_set_region(d->store, d->cfg.region);
	err = store_change_seq(d->store, &f->seq);
	if (!err && !d->cfg.nsecrets)
		err = ntsd_fleet_load_secrets(d, (int64_t)time(NULL), &f->secrets_next);
	if (!err)
		err = ctl_register(d->ctl, "fleet", fleet_cmd_fleet, d);
	if (!err)
		err = ctl_register(d->ctl, "drain", fleet_cmd_drain, d);
	if (!err)
		err = ctl_register(d->ctl, "undrain", fleet_cmd_undrain, d);
	if (!err)
		err = ctl_register(d->ctl, "secret-rotate", fleet_cmd_secret_rotate, d);
	if (!err)
		err = loop_add_tick(d->loop, 1000, fleet_tick, d);
	if (err)
		return err;
	ntsd_workers_pause(d);
	ntsd_foreach_worker (d, w)
		turn_set_redirect_hook(w->turn, fleet_redirect, d);
	ntsd_workers_resume(d);
	log_info("fleet: node %s%s%s", f->self.name, f->self.region[0] ? ", region " : "",
		 f->self.region);
	return 0;
}

void ntsd_unwire_fleet(struct ntsd *d)
{
	struct ntsd_fleet *f = d->fleet;

	if (!f)
		return;
	ntsd_workers_pause(d);
	ntsd_foreach_worker (d, w)
		if (w->turn)
			turn_set_redirect_hook(w->turn, NULL, NULL);
	ntsd_workers_resume(d);
	/* Stopped on purpose: not dead. After an upgrade the new ntsd owns the row. */
	if (d->store && !d->handed_over && f->self.addresses[0]) {
		f->self.state = STORE_NODE_STOPPED;
		f->self.heartbeat_at = (int64_t)time(NULL);
		f->self.allocations = 0;
		store_set_busy_timeout(d->store, FLEET_CMD_BUSY_MS);
		store_node_put(d->store, &f->self);
	}
	pthread_mutex_destroy(&f->lock);
	free(f->nodes);
	free(f->spare);
	free(f);
	d->fleet = NULL;
}
