/* Twilio-compatible token API (POST /2010-04-01/Accounts/{Sid}/Tokens.json) and /metrics, served
 * by libmicrohttpd inside ntsd's loop; plus the account/token commands shared with ntsctl --db.
 * Request handling (api_handle) is a pure function, so tests need no sockets. See README.md.
 */
#ifndef NTS_API_API_H
#define NTS_API_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/config.h"
#include "util/loop.h"
#include "util/origin.h"
#include "util/stats.h"

struct nts_store;
struct auth_ctx;
struct ctl_server;
struct store_account;
struct api_server;

#define API_MAX_BODY 4096     /* request bodies above this get 413 */
#define API_TTL_DEFAULT 86400 /* Twilio: default and maximum Ttl, seconds */
#define API_TTL_MAX 86400
#define API_MAX_ICE_URLS 16
#define API_ICE_URL_LEN 300

/* Twilio error codes used (https://www.twilio.com/docs/errors/CODE). */
enum api_error_code {
	API_ERR_INVALID_PARAM = 20001, /* 400: bad Ttl or malformed form body */
	API_ERR_AUTHENTICATE = 20003,  /* 401: missing or wrong AccountSid/AuthToken */
	API_ERR_METHOD = 20004,	       /* 405 */
	API_ERR_NOT_ACTIVE = 20005,    /* 403: the account is suspended */
	API_ERR_NOT_FOUND = 20404,     /* 404: unknown path, or a Sid not the authenticated one */
	API_ERR_TOO_LARGE = 20413,     /* 413: body above API_MAX_BODY (20xxx = HTTP status) */
	API_ERR_TOO_MANY = 20429,      /* 429: the account mints tokens faster than --token-rate */
	API_ERR_INTERNAL = 20500,      /* 500 */
	API_ERR_UNAVAILABLE = 20503,   /* 503: the database is locked or unreachable; retry */
	API_ERR_MISDIRECTED = 20421,   /* 421: a Host this API does not serve (DNS rebinding) */
	API_ERR_FORBIDDEN = 20403,     /* 403: an expired diag link */
	API_ERR_NESTED = 21101,	       /* 400: a subaccount cannot have subaccounts */
	API_ERR_CLOSED = 21479,	       /* 400: a closed account's Status cannot change */
};

/* An HTTP request as the router sees it (strings NUL-terminated, absent headers NULL). */
struct api_request {
	const char *method;
	const char *path;	   /* without the query string */
	const char *query;	   /* the raw query string after '?', or NULL */
	const char *authorization; /* Authorization header */
	const char *host;	   /* Host header; NULL when absent (HTTP/1.0) */
	const char *content_type;
	const char *body; /* may contain NULs: use body_len */
	size_t body_len;
	bool body_too_large; /* the transport cut the body at API_MAX_BODY */
};

enum api_response_flags {
	API_RESP_WWW_AUTHENTICATE = 1 << 0, /* add WWW-Authenticate: Basic realm="Twilio API" */
	API_RESP_ALLOW = 1 << 1,	    /* add Allow: (405) */
	API_RESP_CORS = 1 << 2,		    /* add the Access-Control-* headers */
};

struct api_response {
	unsigned status;
	char *body; /* malloc'ed, may be NULL (empty body) */
	size_t body_len;
	const char *content_type; /* static string or NULL */
	const char *allow;	  /* with API_RESP_ALLOW */
	unsigned flags;
	const char *const *headers; /* more header pairs (name, value, ..., NULL) or NULL; static */
	char *csp;		    /* Content-Security-Policy value, malloc'ed, or NULL */
};

/* The ICE URLs a token lists, in Twilio's order (stun, turn udp, turn tcp, turn 443 tcp, turns). */
struct api_ice_urls {
	char url[API_MAX_ICE_URLS][API_ICE_URL_LEN];
	unsigned n;
};

/* Creates the API state over cfg, store, auth and stats (all kept by reference). NULL on ENOMEM. */
struct api_server *api_create(const struct nts_config *cfg, struct nts_store *store,
			      struct auth_ctx *auth, struct nts_stats *stats);
/* /metrics renders what fn(arg, out) fills (relay workers: every worker's counters summed)
 * instead of the stats given to api_create(). */
typedef void (*api_stats_fn)(void *arg, struct nts_stats *out);
void api_set_stats_fn(struct api_server *s, api_stats_fn fn, void *arg);
/* Stops the HTTP server if started and frees. NULL is fine. */
void api_destroy(struct api_server *s);
/* Starts the HTTP(S) server on cfg->api_listen inside loop. 0 or -errno (logged). */
int api_http_start(struct api_server *s, struct nts_loop *loop);
/* The same on a listening socket an upgrade handed over (fd -1: bind --api-listen); takes fd. */
int api_http_start_fd(struct api_server *s, struct nts_loop *loop, int fd);
/* The HTTP server's listening socket (an upgrade hands it over), or -1. */
int api_http_listen_fd(const struct api_server *s);
/* The TCP port the HTTP server listens on (after api_http_start), 0 if none. */
uint16_t api_http_port(const struct api_server *s);
/* Registers account-create/-list/-suspend/-activate/-close/-set, token-create and
 * key-create/-list/-delete on ctl. 0 or -errno. */
int api_ctl_register(struct api_server *s, struct ctl_server *ctl);

/* Routes and answers one request at unix time now. rs must be freed with api_response_free(). */
void api_handle(struct api_server *s, const struct api_request *rq, uint64_t now,
		struct api_response *rs);
void api_response_free(struct api_response *rs);
/* The CORS header pairs every answer carries (NULL-terminated name, value, name, value...). */
extern const char *const api_cors_headers[];

/* Form and header parsing (untrusted input; fuzzed by tests/fuzz/fuzz_api_form.c). */
/* Finds key in an application/x-www-form-urlencoded body and percent-decodes its value into out.
 * 0, -ENOENT (absent), -EINVAL (bad encoding or a key given twice), -ENOSPC (value too long). */
int api_form_get(const char *body, size_t len, const char *key, char *out, size_t outlen);
/* Parses a Ttl value: decimal digits only, 1..API_TTL_MAX. 0 or -EINVAL. */
int api_parse_ttl(const char *s, uint32_t *ttl);
/* Parses "Basic base64(user:password)" (scheme case-insensitive). 0 or -EINVAL. */
int api_parse_basic(const char *header, char *user, size_t ulen, char *pass, size_t plen);
/* Formats unix time t as RFC 2822 in UTC: "Fri, 01 May 2020 01:42:57 +0000". Returns buf. */
const char *api_fmt_rfc2822(uint64_t t, char *buf, size_t len);

/* Token construction, shared by the HTTP route, the token-create control command and ntsctl --db.
 */
/* A socket ntsd listens on, as the ICE URL list needs it. */
struct api_listener {
	enum nts_transport transport;
	uint16_t port;
};
/* The URL list for what ntsd listens on: stun on the first UDP port; per port (in order, 443
 * last and TCP only) turn udp and/or tcp as listened; turns per TLS port. */
void api_ice_urls_from_listeners(const char *host, const struct api_listener *l, size_t n,
				 struct api_ice_urls *u);
/* The same from cfg (listen = UDP+TCP, tls_listen = TLS), before the sockets exist. */
void api_ice_urls_from_config(const struct nts_config *cfg, struct api_ice_urls *u);
/* Replaces the list tokens carry (once the listeners are open); api_ice_is_set() tells whether
 * that happened (until then the list comes from the configuration). */
void api_set_ice_urls(struct api_server *s, const struct api_ice_urls *u);
bool api_ice_is_set(const struct api_server *s);
/* The list as a JSON array of strings (for the store's settings) and back. 0 or -EINVAL. */
char *api_ice_urls_dump(const struct api_ice_urls *u);
int api_ice_urls_load(const char *json, struct api_ice_urls *u);
/* Builds Twilio's token object for sid with fresh ephemeral credentials valid ttl seconds from now.
 * NULL with *err = -errno (-ENOENT: no signing secret). */
json_t *api_token_build(struct auth_ctx *auth, const struct api_ice_urls *u, const char *sid,
			uint32_t ttl, uint64_t now, int *err);

/* Account commands (control socket and ntsctl --db): return a new JSON value or NULL with err. */
json_t *api_account_json(const struct store_account *a);
/* account-create: args {"name", "parent"?}: with parent (a master's AccountSid), a subaccount. */
json_t *api_cmd_account_create(struct nts_store *st, json_t *args, char *err, size_t errlen);
json_t *api_cmd_account_list(struct nts_store *st, json_t *args, char *err, size_t errlen);
json_t *api_cmd_account_status(struct nts_store *st, json_t *args, bool suspend, char *err,
			       size_t errlen);
/* account-close: args {"sid"}. A closed account cannot be activated again. */
json_t *api_cmd_account_close(struct nts_store *st, json_t *args, char *err, size_t errlen);
/* account-set: args {"sid", "max_allocations"?, "max_bps"?} (absent: unchanged; 0: default). */
json_t *api_cmd_account_set(struct nts_store *st, json_t *args, char *err, size_t errlen);
/* Called after a control command changed an account (status or limits) with the account as now
 * stored, so the running daemon applies it to live traffic. */
typedef void (*api_account_changed_fn)(void *arg, const struct store_account *a);
void api_set_account_hook(struct api_server *s, api_account_changed_fn fn, void *arg);
/* token-create: args {"account": SID, "ttl": N}; counts stats->tokens_issued when stats != NULL. */
json_t *api_cmd_token_create(struct nts_store *st, struct auth_ctx *auth,
			     const struct api_ice_urls *u, struct nts_stats *stats, json_t *args,
			     char *err, size_t errlen);
/* key-create: args {"account", "name"?}; the result carries the secret, shown only then.
 * key-list: args {"account"}: an array. key-delete: args {"sid"}. */
json_t *api_cmd_key_create(struct nts_store *st, json_t *args, char *err, size_t errlen);
json_t *api_cmd_key_list(struct nts_store *st, json_t *args, char *err, size_t errlen);
json_t *api_cmd_key_delete(struct nts_store *st, json_t *args, char *err, size_t errlen);
/* Runs one of the commands above ("account-create", "account-list", "account-suspend",
 * "account-activate", "account-close", "account-set", "token-create", "key-create", "key-list",
 * "key-delete") directly on the database at db, when no ntsd runs. */
json_t *api_cmd_offline(const char *db, const char *cmd, json_t *args, char *err, size_t errlen);
/* Runs cmd on the ntsd listening on ctl_socket, or api_cmd_offline() on db when none listens
 * (ctl_call() gives -ECONNREFUSED/-ENOENT). The result, or NULL with err filled. */
json_t *api_cmd_call(const char *ctl_socket, const char *db, const char *cmd, json_t *args,
		     int timeout_ms, char *err, size_t errlen);

/* Connectivity test page links (README.md, "Connectivity test page"). */
#define API_DIAG_TTL_DEFAULT 600 /* seconds a diag link is valid by default, and at most */
#define API_DIAG_TTL_MAX 3600
/* diag-link: args {"account"?: SID (default: the only active account), "ttl"?: seconds,
 * "base"?: URL prefix}; returns {"url", "account", "expires", "ttl"}. base: "http://host:port". */
json_t *api_cmd_diag_link(struct nts_store *st, struct auth_ctx *auth, const char *base,
			  json_t *args, char *err, size_t errlen);
/* "usage" (api_usage_cmd.c, for the control socket and ntsctl --db): args {"account": SID (absent:
 * every account), "span": "total"|"daily"|"monthly"}. Returns {"usage": [{account_sid, start_date,
 * end_date, region, bytes_to_peer, bytes_to_client, megabytes, allocations,
 * allocation_seconds}...]} from the database (a running ntsd writes what is pending first). Each
 * account's own usage: subaccounts are listed apart. */
json_t *api_cmd_usage(struct nts_store *st, json_t *args, char *err, size_t errlen);

/* Renders the Prometheus text exposition of stats (no account or user labels). malloc'ed. */
char *api_metrics_render(const struct nts_stats *stats, size_t *len);

/* The fleet (api_fleet.c; docs/fleet.md), for ntsctl over the control socket or --db. */
#define API_FLEET_DEAD_AFTER 10	  /* seconds without a heartbeat before a node is dead */
#define API_SECRET_OVERLAP_MIN 10 /* seconds: every node (polling every 2 s) has the new secret */
#define API_SECRET_OVERLAP_DEFAULT 60
/* "fleet": {"now", "nodes": [{"name", "region", "state" (active, draining, stopped or dead),
 * "addresses", "capacity", "allocations", "pps_user", "pps_kernel", "version", "started_at",
 * "heartbeat_at", "uptime"}]}, by region then name. */
json_t *api_cmd_fleet(struct nts_store *st, json_t *args, int64_t now, char *err, size_t errlen);
/* "secret-rotate" {"overlap": seconds}: a new signing secret every node verifies at once and signs
 * with from now + overlap; the secrets before it retire when their last token has expired
 * (API_TTL_MAX after that). {"id", "activates_at", "secrets": [{"id", "activates_at",
 * "retires_at"}]} (never the secrets themselves). */
json_t *api_cmd_secret_rotate(struct nts_store *st, json_t *args, int64_t now, char *err,
			      size_t errlen);

#endif
