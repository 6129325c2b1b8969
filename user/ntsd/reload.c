/* Full reload (SIGHUP, `ntsctl reload`): the configuration is read again exactly as at start
 * (defaults, then --config FILE, then the original command line over it), resolved and checked
 * whole; a configuration that fails is refused and nothing changes. Then, row by row of the option
 * table (util/config.c), a value that differs from the running one is applied when its row is
 * NTS_OPT_RELOADABLE, and otherwise reported as needing a restart while the running value stays.
 * Reloadable values are copied into the daemon's nts_config, which the modules read live; the
 * appliers below hand the rest (credentials, peer rules, ICE URLs, logging) to their module.
 * Allocations, connections and their relays are never touched, except permissions and channels to
 * peers a new --deny-peer refuses, which end as if expired (user/turn/perm.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "ctl/ctl.h"
#include "net/net.h"
#include "ntsd/daemon.h"
#include "ntsd/options.h"
#include "ntsd/options_priv.h"
#include "ntsd/workers.h"
#include "turn/turn.h"
#include "util/log.h"

static bool reload_is_list(const struct nts_opt_def *o)
{
	return o->kind >= NTS_KIND_ADDR_LIST && o->kind <= NTS_KIND_USER_FILE;
}

static const unsigned *reload_count(const struct nts_opt_def *o, const struct nts_config *c)
{
	return (const unsigned *)(const void *)((const char *)c + o->count_off);
}

/* True when the row's value differs between a and b. */
static bool reload_differs(const struct nts_opt_def *o, const struct nts_config *a,
			   const struct nts_config *b)
{
	const char *fa = (const char *)a + o->off, *fb = (const char *)b + o->off;

	switch (o->kind) {
	case NTS_KIND_STR:
		return strncmp(fa, fb, o->size) != 0;
	case NTS_KIND_U32:
		return memcmp(fa, fb, sizeof(uint32_t)) != 0;
	case NTS_KIND_BOOL:
		return *(const bool *)(const void *)fa != *(const bool *)(const void *)fb;
	case NTS_KIND_API_LISTEN:
		return memcmp(fa, fb, sizeof(struct nts_addr)) != 0;
	case NTS_KIND_PORTS:
		return memcmp(fa, fb, sizeof(uint16_t)) != 0 ||
		       memcmp((const char *)a + o->count_off, (const char *)b + o->count_off,
			      sizeof(uint16_t)) != 0;
	default:
		break;
	}
	if (!reload_is_list(o))
		return false;
	return *reload_count(o, a) != *reload_count(o, b) ||
	       memcmp(fa, fb, (size_t)*reload_count(o, a) * o->size) != 0;
}

/* Copies the row's value from src to dst. */
static void reload_copy(const struct nts_opt_def *o, struct nts_config *dst,
			const struct nts_config *src)
{
	size_t len = 0;

	switch (o->kind) {
	case NTS_KIND_STR:
		len = o->size;
		break;
	case NTS_KIND_U32:
		len = sizeof(uint32_t);
		break;
	case NTS_KIND_BOOL:
		len = sizeof(bool);
		break;
	case NTS_KIND_API_LISTEN:
		len = sizeof(struct nts_addr);
		break;
	case NTS_KIND_PORTS:
		len = sizeof(uint16_t);
		memcpy((char *)dst + o->count_off, (const char *)src + o->count_off, len);
		break;
	default:
		if (!reload_is_list(o))
			return;
		len = (size_t)o->cap * o->size;
		memcpy((char *)dst + o->count_off, (const char *)src + o->count_off,
		       sizeof(unsigned));
		break;
	}
	memcpy((char *)dst + o->off, (const char *)src + o->off, len);
}

static int reload_secrets(struct ntsd *d)
{
	const char *list[NTS_MAX_SECRETS];

	if (d->cfg.nsecrets == 0)
		return ntsd_api_load_secret(d); /* back to the database's secret */
	for (unsigned i = 0; i < d->cfg.nsecrets; i++)
		list[i] = d->cfg.secrets[i];
	return ntsd_auth_set_secrets(d, list, d->cfg.nsecrets);
}

static int reload_users(struct ntsd *d)
{
	const struct nts_config *c = &d->cfg;
	char(*buf)[sizeof(c->users[0].name) + sizeof(c->users[0].password) + 1];
	const char *list[NTS_MAX_USERS];
	int rc;

	buf = calloc(NTS_MAX_USERS, sizeof(*buf));
	if (!buf)
		return -ENOMEM;
	for (unsigned i = 0; i < c->nusers; i++) {
		snprintf(buf[i], sizeof(buf[i]), "%s:%s", c->users[i].name, c->users[i].password);
		list[i] = buf[i];
	}
	rc = ntsd_auth_set_users(d, list, c->nusers);
	explicit_bzero(buf, NTS_MAX_USERS * sizeof(*buf));
	free(buf);
	return rc;
}

static int reload_peer_rules(struct ntsd *d)
{
	int rc = 0;

	ntsd_foreach_worker (d, w) {
		if (!rc)
			rc = turn_set_peer_rules(w->turn, d->cfg.allow_peer, d->cfg.nallow_peer,
						 d->cfg.deny_peer, d->cfg.ndeny_peer);
	}
	return rc;
}

static int reload_ice(struct ntsd *d)
{
	return ntsd_api_refresh_ice(d);
}

static int reload_limits(struct ntsd *d)
{
	ntsd_foreach_worker (d, w) {
		turn_limits_changed(w->turn);
	}
	return 0;
}

static int reload_log(struct ntsd *d)
{
	ntsd_log_apply(&d->cfg);
	return 0;
}

/* Rows whose new value a module must be told about; every other reloadable row is read live from
 * the daemon's nts_config (limits, lifetimes, timeouts, --api-host, --software...). A row sharing
 * its field with another (--secret-file, --user-file) is found through nts_opt_list_key(). */
static const struct {
	enum nts_opt_id id;
	int (*apply)(struct ntsd *d);
} reload_appliers[] = {
    {NTS_OPT_SECRET, reload_secrets},	     {NTS_OPT_USER, reload_users},
    {NTS_OPT_ALLOW_PEER, reload_peer_rules}, {NTS_OPT_DENY_PEER, reload_peer_rules},
    {NTS_OPT_ICE_HOST, reload_ice},	     {NTS_OPT_VERBOSE, reload_log},
    {NTS_OPT_LOG_FORMAT, reload_log},	     {NTS_OPT_MAX_BPS_ALLOC, reload_limits},
    {NTS_OPT_MAX_PPS_ALLOC, reload_limits},
};

/* "a, b, c" of names[0..n) into buf. */
static const char *reload_names(const char *const *names, unsigned n, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = 0;
	for (unsigned i = 0; i < n && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : "", names[i]);
	return buf;
}

/* Parses and resolves the configuration: next[0] as read (what is checked and compared), next[1]
 * the same with every row that needs a restart set to its running value before resolving, so
 * that what is derived from those rows (the ICE host from the listen addresses) matches what runs.
 * 0 or -EINVAL with r->reason. */
static int reload_read(struct ntsd *d, struct nts_config *next, struct ntsd_reload_result *r)
{
	struct nts_options opts;
	int rc;

	nts_config_defaults(&next[0]);
	rc = nts_options_parse(&next[0], &opts, d->argc, d->argv, r->reason, sizeof(r->reason));
	if (rc)
		return -EINVAL;
	next[1] = next[0];
	if (nts_options_resolve(&next[0], r->reason, sizeof(r->reason)))
		return -EINVAL;
	for (int i = 0; i < NTS_OPT_COUNT; i++)
		if (nts_opt_defs[i].kind != NTS_KIND_DAEMON &&
		    !(nts_opt_defs[i].flags & NTS_OPT_RELOADABLE))
			reload_copy(&nts_opt_defs[i], &next[1], &d->cfg);
	return nts_options_resolve(&next[1], r->reason, sizeof(r->reason)) ? -EINVAL : 0;
}

/* The TLS certificate and key are loaded before anything else applies: a pair that does not load
 * refuses the whole reload. net_reload_tls() reads the paths from the daemon's configuration. */
static int reload_tls(struct ntsd *d, const struct nts_config *next, struct ntsd_reload_result *r)
{
	char cert[sizeof(d->cfg.cert)], key[sizeof(d->cfg.key)];
	int rc = 0;

	if (!d->net || !d->cfg.ntls_listen)
		return 0;
	memcpy(cert, d->cfg.cert, sizeof(cert));
	memcpy(key, d->cfg.key, sizeof(key));
	memcpy(d->cfg.cert, next->cert, sizeof(cert));
	memcpy(d->cfg.key, next->key, sizeof(key));
	ntsd_foreach_worker (d, w) {
		if (rc >= 0)
			rc = net_reload_tls(w->net);
	}
	if (rc < 0) {
		memcpy(d->cfg.cert, cert, sizeof(cert));
		memcpy(d->cfg.key, key, sizeof(key));
		snprintf(r->reason, sizeof(r->reason),
			 "TLS certificate %s not reloaded: it or --key %s does not load",
			 next->cert, next->key);
		return -EINVAL;
	}
	r->tls = 1;
	return 0;
}

/* Reports the rows of next that differ and need a restart, applies the reloadable rows of live
 * that differ, and calls their appliers once each. */
static void reload_apply(struct ntsd *d, const struct nts_config *next,
			 const struct nts_config *live, struct ntsd_reload_result *r)
{
	int (*done[sizeof(reload_appliers) / sizeof(reload_appliers[0])])(struct ntsd *) = {0};
	bool changed[NTS_OPT_COUNT] = {0};
	unsigned ndone = 0;

	for (int i = 0; i < NTS_OPT_COUNT; i++) {
		const struct nts_opt_def *o = &nts_opt_defs[i];

		if (o->kind == NTS_KIND_DAEMON || nts_opt_list_key(i) != i)
			continue;
		if (!(o->flags & NTS_OPT_RELOADABLE)) {
			if (reload_differs(o, &d->cfg, next))
				r->restart[r->nrestart++] = o->name;
			continue;
		}
		if (!reload_differs(o, &d->cfg, live))
			continue;
		reload_copy(o, &d->cfg, live);
		changed[i] = true;
		r->changed[r->nchanged++] = o->name;
	}
	for (size_t k = 0; k < sizeof(reload_appliers) / sizeof(reload_appliers[0]); k++) {
		bool called = false;
		int rc;

		if (!changed[reload_appliers[k].id])
			continue;
		for (unsigned j = 0; j < ndone; j++)
			called |= done[j] == reload_appliers[k].apply;
		if (called)
			continue;
		done[ndone++] = reload_appliers[k].apply;
		rc = reload_appliers[k].apply(d);
		if (rc)
			log_error("reload: --%s not applied: %s",
				  nts_opt_defs[reload_appliers[k].id].name, strerror(-rc));
	}
}

static int ntsd_reload_parked(struct ntsd *d, struct ntsd_reload_result *r);

/* Reloads with the relay workers parked: they read the configuration and the state it changes. */
int ntsd_reload(struct ntsd *d, struct ntsd_reload_result *r)
{
	int rc;

	ntsd_workers_pause(d);
	rc = ntsd_reload_parked(d, r);
	ntsd_workers_resume(d);
	return rc;
}

static int ntsd_reload_parked(struct ntsd *d, struct ntsd_reload_result *r)
{
	struct nts_config *next = malloc(2 * sizeof(*next)); /* as read; as applied */
	char names[1024];
	int rc;

	memset(r, 0, sizeof(*r));
	if (d->reload_hook)
		d->reload_hook(d, true);
	if (!next) {
		snprintf(r->reason, sizeof(r->reason), "out of memory");
		rc = -EINVAL;
	} else {
		rc = reload_read(d, next, r);
	}
	if (!rc)
		rc = reload_tls(d, &next[1], r);
	if (!rc)
		reload_apply(d, &next[0], &next[1], r);
	if (next)
		explicit_bzero(next, 2 * sizeof(*next)); /* they held the secrets */
	free(next);
	r->refused = rc != 0;
	if (rc)
		log_warn("reload refused: %s; the running configuration stays", r->reason);
	else
		log_info("reload: %u settings changed%s%s%s%s%s", r->nchanged,
			 r->nchanged ? " (" : "",
			 reload_names(r->changed, r->nchanged, names, sizeof(names)),
			 r->nchanged ? ")" : "", r->tls ? "; reloaded TLS certificate " : "",
			 r->tls ? d->cfg.cert : "");
	if (!rc && r->nrestart)
		log_warn("reload: changed but kept until a restart: %s",
			 reload_names(r->restart, r->nrestart, names, sizeof(names)));
	if (d->reload_hook)
		d->reload_hook(d, false);
	return rc;
}

static json_t *reload_names_json(const char *const *names, unsigned n)
{
	json_t *a = json_array();

	for (unsigned i = 0; i < n; i++)
		json_array_append_new(a, json_string(names[i]));
	return a;
}

/* reload: {"status": "applied"|"refused", "reason", "changed": [...], "needs_restart": [...],
 * "tls_reloaded": bool}. A refusal is an outcome, not a failed command. */
static json_t *cmd_reload(void *arg, json_t *args, char *err, size_t errlen)
{
	struct ntsd_reload_result *r = malloc(sizeof(*r));
	json_t *o;

	if (!r) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ntsd_reload(arg, r);
	o = json_pack("{s:s, s:o, s:o, s:b}", "status", r->refused ? "refused" : "applied",
		      "changed", reload_names_json(r->changed, r->nchanged), "needs_restart",
		      reload_names_json(r->restart, r->nrestart), "tls_reloaded", r->tls > 0);
	if (o && r->refused)
		json_object_set_new(o, "reason", json_string(r->reason));
	free(r);
	return o;
}

int ntsd_reload_register(struct ntsd *d)
{
	return ctl_register(d->ctl, "reload", cmd_reload, d);
}
