/* Token API, /metrics and store wiring for ntsd: opens the database, loads the signing secret,
 * starts the HTTP server, registers the account/token control commands, persists usage
 * periodically and, with --demo, makes sure a demo account exists and says how to use it.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "auth/auth.h"
#include "ntsd/daemon.h"
#include "ntsd/fleet.h"
#include "ntsd/upgrade.h"
#include "ntsd/workers.h"
#include "net/net.h"
#include "store/store.h"
#include "util/log.h"

/* Uses --secret when given; otherwise the database's signing secrets (created on first start),
 * as the fleet rotates them (ntsd/fleet.h). */
static int wire_api_secret(struct ntsd *d)
{
	if (d->cfg.nsecrets > 0)
		return 0;
	return ntsd_fleet_load_secrets(d, (int64_t)time(NULL), NULL);
}

static void wire_api_stats(void *arg, struct nts_stats *out)
{
	ntsd_stats_sum(arg, out);
}

/* Publishes the ICE URLs so `ntsctl --db token create` lists the same servers when ntsd is down. */
static void wire_api_publish_ice(struct ntsd *d, const struct api_ice_urls *u)
{
	char *text = api_ice_urls_dump(u);

	if (text && store_setting_set(d->store, "ice_urls", text) != 0)
		log_warn("api: cannot record the ICE URLs in the database");
	free(text);
}

int ntsd_api_refresh_ice(struct ntsd *d)
{
	struct net_listener_info li[NET_MAX_LISTENERS];
	struct api_listener l[NET_MAX_LISTENERS];
	struct api_ice_urls u;
	size_t n;

	if (!d->api || !d->net)
		return 0;
	n = net_listeners(d->net, li, sizeof(li) / sizeof(li[0]));
	if (n == 0)
		return -ENOENT;
	if (n > sizeof(li) / sizeof(li[0]))
		n = sizeof(li) / sizeof(li[0]);
	for (size_t i = 0; i < n; i++)
		l[i] = (struct api_listener){li[i].transport, li[i].addr.port};
	api_ice_urls_from_listeners(d->cfg.ice_host, l, n, &u);
	api_set_ice_urls(d->api, &u);
	wire_api_publish_ice(d, &u);
	return 0;
}

/* Once (first loop iteration, after net_listen()): tokens list the sockets actually open, so a
 * configured listener that did not come up (or a transport not served) is not advertised. */
static void wire_api_listeners(void *arg, uint64_t now_ms)
{
	struct ntsd *d = arg;

	if (d->api && !api_ice_is_set(d->api))
		ntsd_api_refresh_ice(d);
}

int ntsd_api_load_secret(struct ntsd *d)
{
	return wire_api_secret(d);
}

/* "<dir of db>/demo-account". */
static void wire_api_demo_path(const struct ntsd *d, char *out, size_t len)
{
	char copy[sizeof(d->cfg.db)];

	snprintf(copy, sizeof(copy), "%s", d->cfg.db);
	snprintf(out, len, "%s/demo-account", dirname(copy));
}

/* Reads "AccountSid=...\nAuthToken=...\n"; 0 when both are there and still authenticate. */
static int wire_api_demo_load(struct ntsd *d, const char *path, char *sid, char *token)
{
	char line[128];
	FILE *f = fopen(path, "r");

	if (!f)
		return -ENOENT;
	sid[0] = token[0] = '\0';
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "AccountSid=", 11) == 0)
			snprintf(sid, STORE_SID_LEN + 1, "%s", line + 11);
		else if (strncmp(line, "AuthToken=", 10) == 0)
			snprintf(token, STORE_TOKEN_LEN + 1, "%s", line + 10);
	}
	fclose(f);
	return store_account_verify(d->store, sid, token, NULL);
}

/* The demo account's AuthToken is only known at creation, so --demo keeps it in a 0600 file next
 * to the database, purely so that every `make run` can print a working curl command again. */
static int wire_api_demo_create(struct ntsd *d, const char *path, char *sid, char *token)
{
	struct store_account a;
	FILE *f;
	int fd, err = store_account_create(d->store, "demo", &a, token);

	if (err)
		return err;
	memcpy(sid, a.sid, STORE_SID_LEN + 1);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		if (fd >= 0)
			close(fd);
		log_warn("api: cannot write %s; the demo AuthToken is only printed now", path);
		return 0;
	}
	fchmod(fd, 0600);
	fprintf(f,
		"# nts demo account (make run): a convenience for trying nts, not for production.\n"
		"AccountSid=%s\nAuthToken=%s\n",
		sid, token);
	fclose(f);
	return 0;
}

/* The ntsctl command that reaches this daemon from the current directory: the ntsctl next to this
 * ntsd, with --ctl-socket unless ntsctl finds the socket by itself (its default, or ./var/ntsd.sock
 * where `make run` puts it: user/ntsctl/main.c). */
static void wire_api_ntsctl_line(const struct ntsd *d, char *out, size_t len)
{
	struct nts_config defaults;
	const char *slash = d->argv ? strrchr(d->argv[0], '/') : NULL;
	int dir = slash ? (int)(slash - d->argv[0]) : 0;

	nts_config_defaults(&defaults);
	if (!strcmp(d->cfg.ctl_socket, defaults.ctl_socket) ||
	    !strcmp(d->cfg.ctl_socket, "var/ntsd.sock"))
		snprintf(out, len, "%.*s%sntsctl", dir, slash ? d->argv[0] : "", slash ? "/" : "");
	else
		snprintf(out, len, "%.*s%sntsctl --ctl-socket %s", dir, slash ? d->argv[0] : "",
			 slash ? "/" : "", d->cfg.ctl_socket);
}

static int wire_api_demo(struct ntsd *d)
{
	char path[PATH_MAX], sid[STORE_SID_LEN + 1], token[STORE_TOKEN_LEN + 1];
	char ntsctl[PATH_MAX + 300];
	char host[NTS_ADDRSTRLEN];
	struct nts_addr a = d->cfg.api_listen;
	bool tls = d->cfg.api_cert[0] != '\0';
	int err;

	wire_api_demo_path(d, path, sizeof(path));
	if (wire_api_demo_load(d, path, sid, token) != 0) {
		err = wire_api_demo_create(d, path, sid, token);
		if (err)
			return err;
	}
	if (api_http_port(d->api))
		a.port = api_http_port(d->api);
	if (nts_addr_is_any(&a)) { /* wildcard: show loopback */
		a.ip[0] = a.family == AF_INET ? 127 : 0;
		a.ip[nts_addr_iplen(&a) - 1] = 1;
	}
	nts_addr_fmt(&a, host, sizeof(host), true);
	wire_api_ntsctl_line(d, ntsctl, sizeof(ntsctl));
	printf("\nnts demo account (kept in %s, 0600, for later `make run`s):\n"
	       "  AccountSid: %s\n  AuthToken:  %s\n\n"
	       "Fetch a token:\n  curl -s -X POST -u %s:%s "
	       "%s://%s/2010-04-01/Accounts/%s/Tokens.json%s\n\n"
	       "Watch the daemon (from this directory):\n  %s status\n  %s top\n\n",
	       path, sid, token, sid, token, tls ? "https" : "http", host, sid, tls ? " -k" : "",
	       ntsctl, ntsctl);
	fflush(stdout);
	explicit_bzero(token, sizeof(token));
	return 0;
}

int ntsd_wire_api(struct ntsd *d)
{
	struct api_ice_urls ice;
	int err = store_open(d->cfg.db, &d->store);

	if (err) {
		log_error("api: cannot open the database %s: %s", d->cfg.db, strerror(-err));
		return err;
	}
	err = wire_api_secret(d);
	if (err) {
		log_error("api: cannot load the signing secret: %s", strerror(-err));
		return err;
	}
	d->api = api_create(&d->cfg, d->store, d->auth, &d->stats);
	if (!d->api)
		return -ENOMEM;
	if (d->nworkers > 1) /* /metrics sums every relay worker's counters */
		api_set_stats_fn(d->api, wire_api_stats, d);
	api_ice_urls_from_config(&d->cfg, &ice);
	wire_api_publish_ice(d, &ice);
	if (!d->cfg.api_off) {
		err = api_http_start_fd(d->api, d->loop, ntsd_upgrade_take_api_fd(d));
		if (err)
			return err;
	}
	if (d->ctl) {
		err = api_ctl_register(d->api, d->ctl);
		if (err)
			return err;
	}
	err = loop_add_flush(d->loop, wire_api_listeners, d);
	if (err)
		return err;
	if (d->demo) {
		err = wire_api_demo(d);
		if (err) {
			log_error("api: cannot set up the demo account: %s", strerror(-err));
			return err;
		}
	}
	/* From now on the store is used from the event loop, which relays: another process's lock
	 * (ntsctl --db, a backup) must delay the token API (503) and usage (next tick), never
	 * relaying. Start-up above could wait. */
	store_set_busy_timeout(d->store, 0);
	return 0;
}

void ntsd_unwire_api(struct ntsd *d)
{
	api_destroy(d->api);
	d->api = NULL;
	store_close(d->store); /* flushes pending usage */
	d->store = NULL;       /* the usage meter (wire_usage.c) sees NULL and drops */
}
