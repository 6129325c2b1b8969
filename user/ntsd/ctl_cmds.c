/* ntsd's "status", "allocations" and "allocation-delete" control commands; see ctl_cmds.h. */
#include "ntsd/ctl_cmds.h"
#include "ntsd/upgrade.h"
#include "ntsd/workers.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "ctl/ctl.h"
#include "net/net.h"
#include "turn/turn.h"
#include "util/loop.h"

static json_t *per_method(const uint64_t *v)
{
	json_t *o = json_object();

	for (int i = 0; i < NTS_M_COUNT; i++)
		json_object_set_new(o, stun_method_stat_name(i), json_integer((json_int_t)v[i]));
	return o;
}

json_t *ntsd_ctl_stats_json(const struct nts_stats *s)
{
	json_t *o = json_object();

	json_object_set_new(o, "requests", per_method(s->requests));
	json_object_set_new(o, "errors", per_method(s->errors));
#define STAT(field, name, type, labels, help)                                                      \
	json_object_set_new(o, #field, json_integer((json_int_t)s->field));
	NTS_STATS_COUNTERS(STAT)
#undef STAT
	return o;
}

static json_t *addr_json(const struct nts_addr *a)
{
	char buf[NTS_ADDRSTRLEN];

	return json_string(nts_addr_fmt(a, buf, sizeof(buf), true));
}

static int count_alloc(void *arg, const struct turn_alloc_info *a)
{
	(*(json_int_t *)arg)++;
	return 0;
}

json_t *ntsd_ctl_status(struct ntsd *d)
{
	struct net_listener_info li[NET_MAX_LISTENERS];
	size_t n = d->net ? net_listeners(d->net, li, sizeof(li) / sizeof(li[0])) : 0;
	json_t *listen = json_array();
	json_int_t nalloc = 0, nstreams = 0;
	struct nts_stats st;

	for (size_t i = 0; i < n && i < sizeof(li) / sizeof(li[0]); i++)
		json_array_append_new(listen, json_pack("{s:s, s:o}", "transport",
							nts_transport_name(li[i].transport), "addr",
							addr_json(&li[i].addr)));
	ntsd_stats_sum(d, &st);
	ntsd_workers_pause(d);
	ntsd_foreach_worker (d, w) {
		if (w->turn)
			turn_foreach_alloc(w->turn, count_alloc, &nalloc);
		if (w->net)
			nstreams += (json_int_t)net_stream_count(w->net);
	}
	ntsd_workers_resume(d);
	return json_pack("{s:s, s:I, s:o, s:o, s:I, s:I, s:I}", "version", NTS_VERSION, "uptime",
			 (json_int_t)((uint64_t)time(NULL) - d->start_unix), "listen", listen,
			 "stats", ntsd_ctl_stats_json(&st), "allocations", nalloc,
			 "tcp_connections", nstreams, "workers", (json_int_t)d->nworkers);
}

static json_t *cmd_status(void *arg, json_t *args, char *err, size_t errlen)
{
	return ntsd_ctl_status(arg);
}

struct alloc_walk {
	struct turn_server *turn;
	unsigned worker; /* its index (relay workers) */
	json_t *list;
	json_t *perms, *chans; /* of the allocation being listed */
	uint64_t now_ns;
};

static int add_perm(void *arg, const struct turn_perm_info *p)
{
	struct alloc_walk *w = arg;
	json_int_t left = p->expires_ns > w->now_ns
			      ? (json_int_t)((p->expires_ns - w->now_ns) / 1000000000ULL)
			      : 0;
	char ip[NTS_ADDRSTRLEN];

	if (p->channel)
		json_array_append_new(w->chans,
				      json_pack("{s:i, s:o, s:o, s:I}", "channel", (int)p->channel,
						"peer", addr_json(&p->peer), "relay",
						addr_json(&p->relay), "expires_in", left));
	else
		json_array_append_new(w->perms,
				      json_pack("{s:s, s:I}", "peer",
						nts_addr_fmt(&p->peer, ip, sizeof(ip), false),
						"expires_in", left));
	return 0;
}

static int add_alloc(void *arg, const struct turn_alloc_info *a)
{
	struct alloc_walk *w = arg;
	json_t *relays = json_array(), *o;

	for (unsigned i = 0; i < a->nrelay && i < 2; i++)
		json_array_append_new(relays, addr_json(&a->relay[i]));
	w->perms = json_array();
	w->chans = json_array();
	turn_foreach_perm(w->turn, a->id, add_perm, w);
	o = json_pack(
	    "{s:I, s:s, s:o, s:o, s:o, s:s, s:s, s:s, s:I, s:o, s:o, s:I, s:I, s:I, s:I}", "id",
	    (json_int_t)a->id, "transport", nts_transport_name(a->origin.transport), "client",
	    addr_json(&a->origin.client), "server", addr_json(&a->origin.server), "relay", relays,
	    "relay_transport", nts_transport_name(a->relay_transport), "username",
	    a->username ? a->username : "", "account", a->account ? a->account : "", "expires",
	    (json_int_t)a->expires_unix, "permissions", w->perms, "channels", w->chans,
	    "c2p_packets", (json_int_t)a->c2p_packets, "c2p_bytes", (json_int_t)a->c2p_bytes,
	    "p2c_packets", (json_int_t)a->p2c_packets, "p2c_bytes", (json_int_t)a->p2c_bytes);
	if (o) {
		json_object_set_new(o, "worker", json_integer(w->worker));
		json_array_append_new(w->list, o);
	}
	return 0;
}

static json_t *cmd_allocations(void *arg, json_t *args, char *err, size_t errlen)
{
	struct ntsd *d = arg;
	struct alloc_walk w = {.list = json_array(), .now_ns = nts_monotonic_ns()};

	ntsd_workers_pause(d);
	ntsd_foreach_worker (d, wk) {
		w.turn = wk->turn;
		w.worker = wk->index;
		if (w.turn)
			turn_foreach_alloc(w.turn, add_alloc, &w);
	}
	ntsd_workers_resume(d);
	return json_pack("{s:I, s:o}", "now", (json_int_t)time(NULL), "allocations", w.list);
}

/* allocation-delete {"id": N}: ends one allocation now, its fast-path entries with it. */
static json_t *cmd_allocation_delete(void *arg, json_t *args, char *err, size_t errlen)
{
	struct ntsd *d = arg;
	json_t *id = json_object_get(args, "id");

	if (!json_is_integer(id) || json_integer_value(id) <= 0) {
		snprintf(err, errlen, "allocation id must be a positive integer");
		return NULL;
	}
	struct ntsd_worker *w = ntsd_worker_of(d, (uint64_t)json_integer_value(id));
	int rc = -ENOENT;

	ntsd_workers_pause(d);
	if (w && w->turn)
		rc = turn_alloc_delete_id(w->turn, (uint64_t)json_integer_value(id));
	ntsd_workers_resume(d);
	if (rc < 0) {
		snprintf(err, errlen, "no allocation %" JSON_INTEGER_FORMAT,
			 json_integer_value(id));
		return NULL;
	}
	return json_pack("{s:I}", "deleted", json_integer_value(id));
}

int ntsd_ctl_register(struct ntsd *d)
{
	int rc = ctl_register(d->ctl, "status", cmd_status, d);

	if (!rc)
		rc = ctl_register(d->ctl, "allocation-delete", cmd_allocation_delete, d);
	if (!rc)
		rc = ntsd_upgrade_register(d);
	if (!rc)
		rc = ntsd_reload_register(d);
	return rc ? rc : ctl_register(d->ctl, "allocations", cmd_allocations, d);
}
