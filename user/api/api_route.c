/* Request routing and Twilio-style answers; see api.h. Order of checks: Host (421), body size
 * (413), path (404), method (405), credentials (401), AccountSid in the path (404, or 401 for a
 * subaccount naming its master), account status (403), parameters (400), the account's minting
 * rate (429); a database locked by another process: 503. The account and key resources are in
 * api_accounts.c and api_keys.c, credentials in api_auth.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api_diag.h"
#include "api/api_priv.h"
#include "api/api_usage.h"
#include "store/store.h"
#include "util/log.h"

#define API_PREFIX "/2010-04-01/"

/* Twilio's API answers every request with these (its CORS policy is global, not per resource),
 * except Access-Control-Allow-Credentials: a wildcard origin never goes with credentials (the
 * Fetch standard forbids the pair; clients send Authorization explicitly, which needs neither). */
const char *const api_cors_headers[] = {
    "Access-Control-Allow-Origin",
    "*",
    "Access-Control-Allow-Headers",
    "Accept, Authorization, Content-Type, If-Match, If-Modified-Since, If-None-Match, "
    "If-Unmodified-Since, Idempotency-Key",
    "Access-Control-Allow-Methods",
    "GET, POST, DELETE, OPTIONS",
    "Access-Control-Expose-Headers",
    "ETag",
    NULL,
};

static const char api_json_type[] = "application/json; charset=utf-8";

struct api_server *api_create(const struct nts_config *cfg, struct nts_store *store,
			      struct auth_ctx *auth, struct nts_stats *stats)
{
	struct api_server *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->cfg = cfg;
	s->store = store;
	s->auth = auth;
	s->stats = stats;
	s->rate = api_rate_create(cfg->token_rate, cfg->token_burst);
	if (!s->rate) {
		free(s);
		return NULL;
	}
	api_ice_urls_from_config(cfg, &s->ice);
	return s;
}

void api_set_ice_urls(struct api_server *s, const struct api_ice_urls *u)
{
	s->ice = *u;
	s->ice_set = true;
}

bool api_ice_is_set(const struct api_server *s)
{
	return s->ice_set;
}

void api_response_free(struct api_response *rs)
{
	free(rs->body);
	rs->body = NULL;
	rs->body_len = 0;
	free(rs->csp);
	rs->csp = NULL;
}

void api_set_json(struct api_response *rs, unsigned status, json_t *j)
{
	rs->status = status;
	rs->content_type = api_json_type;
	rs->body = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	rs->body_len = rs->body ? strlen(rs->body) : 0;
	json_decref(j);
}

void api_error(struct api_response *rs, unsigned status, int code, const char *message)
{
	char more[64];
	json_t *j = json_object();

	snprintf(more, sizeof(more), "https://www.twilio.com/docs/errors/%d", code);
	if (j) {
		json_object_set_new(j, "code", json_integer(code));
		json_object_set_new(j, "message", json_string(message));
		json_object_set_new(j, "more_info", json_string(more));
		json_object_set_new(j, "status", json_integer(status));
	}
	api_set_json(rs, status, j);
	if (!rs->body)
		rs->status = 500;
}

void api_not_found(struct api_response *rs, const char *path)
{
	char msg[300];

	snprintf(msg, sizeof(msg), "The requested resource %.200s was not found", path);
	api_error(rs, 404, API_ERR_NOT_FOUND, msg);
}

void api_unauthorized(struct api_response *rs)
{
	api_error(rs, 401, API_ERR_AUTHENTICATE, "Authenticate");
	rs->flags |= API_RESP_WWW_AUTHENTICATE;
}

bool api_store_unavailable(int err)
{
	return err == -EBUSY || err == -ENOTCONN || err == -ETIMEDOUT;
}

void api_store_failed(struct api_response *rs, const char *what, int err)
{
	if (err == -EBUSY) {
		/* Another process holds the database: the loop does not wait for it (wire_api.c).
		 */
		api_error(rs, 503, API_ERR_UNAVAILABLE,
			  "Service unavailable: database busy, retry");
		return;
	}
	if (api_store_unavailable(err)) {
		/* A PostgreSQL server that is down or slow: the store fails at once while it
		 * reconnects (user/store/db_pg.c); relaying goes on from memory. */
		api_error(rs, 503, API_ERR_UNAVAILABLE,
			  "Service unavailable: database unreachable, retry");
		return;
	}
	log_error("api: %s failed: %s", what, strerror(-err));
	api_error(rs, 500, API_ERR_INTERNAL, "Internal server error");
}

static void api_method_not_allowed(struct api_response *rs, const char *allow)
{
	api_error(rs, 405, API_ERR_METHOD, "Method not allowed");
	rs->flags |= API_RESP_ALLOW;
	rs->allow = allow;
}

int api_body_get(const struct api_request *rq, const char *key, char *out, size_t outlen)
{
	/* Parameters come form-encoded; a body of another type carries none we know. */
	if (rq->content_type && *rq->content_type &&
	    strncasecmp(rq->content_type, "application/x-www-form-urlencoded", 33) != 0)
		return -ENOENT;
	return api_form_get(rq->body ? rq->body : "", rq->body ? rq->body_len : 0, key, out,
			    outlen);
}

int api_query_get(const struct api_request *rq, const char *key, char *out, size_t outlen)
{
	return api_form_get(rq->query ? rq->query : "", rq->query ? strlen(rq->query) : 0, key, out,
			    outlen);
}

/* The Ttl of a form body: 0 with *ttl set (default when absent), or -EINVAL. */
static int api_request_ttl(const struct api_request *rq, uint32_t *ttl)
{
	char v[32];
	int err;

	*ttl = API_TTL_DEFAULT;
	err = api_body_get(rq, "Ttl", v, sizeof(v));
	if (err == -ENOENT)
		return 0;
	if (err)
		return -EINVAL;
	return api_parse_ttl(v, ttl);
}

/* POST /Accounts/{Sid}/Tokens.json: with the account's AuthToken, one of its API keys, or its
 * master's AuthToken (a master acts for its subaccounts, as at Twilio). */
void api_tokens_create(struct api_server *s, const struct api_request *rq, const char *const *id,
		       uint64_t now, struct api_response *rs)
{
	struct store_account acct;
	struct api_caller caller;
	uint32_t ttl;
	json_t *tok;
	int err;

	if (!api_authorize(s, rq, id[0], true, &caller, &acct, rs))
		return;
	if (api_account_inactive(&acct)) {
		api_error(rs, 403, API_ERR_NOT_ACTIVE, "Account not active");
		return;
	}
	if (api_request_ttl(rq, &ttl) != 0) {
		api_error(rs, 400, API_ERR_INVALID_PARAM,
			  "Invalid Ttl: must be an integer number of seconds from 1 to 86400");
		return;
	}
	/* Per account, after authentication: nobody can spend another account's budget. The rate
	 * is read live: a reload may change it. */
	api_rate_set(s->rate, s->cfg->token_rate, s->cfg->token_burst);
	if (!api_rate_allow(s->rate, acct.sid, now)) {
		api_error(rs, 429, API_ERR_TOO_MANY, "Too Many Requests");
		return;
	}
	tok = api_token_build(s->auth, &s->ice, acct.sid, ttl, now, &err);
	if (!tok) {
		log_error("api: cannot make credentials: %s", strerror(-err));
		api_error(rs, 500, API_ERR_INTERNAL, "Internal server error");
		return;
	}
	api_set_json(rs, 201, tok);
	if (rs->body && s->stats)
		s->stats->tokens_issued++;
}

/* The resources under /2010-04-01/: path segments, "*" standing for one sid; the last segment may
 * carry ".json" or not. A NULL handler is a method the resource does not allow. */
struct api_route {
	const char *pattern;
	api_handler_fn get, post, del;
	const char *allow; /* the Allow header of its 405 */
};

static const struct api_route api_routes[] = {
    {"Accounts", api_accounts_list, api_accounts_create, NULL, "GET, POST, OPTIONS"},
    {"Accounts/*", api_account_fetch, api_account_update, NULL, "GET, POST, OPTIONS"},
    {"Accounts/*/Tokens", NULL, api_tokens_create, NULL, "POST, OPTIONS"},
    {"Accounts/*/Keys", api_keys_list, api_keys_create, NULL, "GET, POST, OPTIONS"},
    {"Accounts/*/Keys/*", api_key_fetch, api_key_update, api_key_delete,
     "GET, POST, DELETE, OPTIONS"},
    {"Accounts/*/Usage/Records", api_usage_records, NULL, NULL, "GET, OPTIONS"},
    {"Accounts/*/Usage/Records/*", api_usage_records, NULL, NULL, "GET, OPTIONS"},
};

#define API_ROUTE_IDS 2
#define API_ID_MAX 64

/* Matches path (after the version prefix) against pattern; copies the "*" segments into id. */
static bool api_route_match(const char *path, const char *pattern, char id[][API_ID_MAX])
{
	unsigned nid = 0;

	for (;;) {
		const char *pend = strchrnul(pattern, '/'), *end = strchrnul(path, '/');
		size_t plen = (size_t)(pend - pattern), len = (size_t)(end - path);

		if (!*end && len > 5 && strcmp(end - 5, ".json") == 0)
			len -= 5; /* the last segment's extension */
		if (plen == 1 && *pattern == '*') {
			if (len == 0 || len >= API_ID_MAX || nid == API_ROUTE_IDS)
				return false;
			memcpy(id[nid], path, len);
			id[nid++][len] = '\0';
		} else if (len != plen || memcmp(path, pattern, len) != 0) {
			return false;
		}
		if (!*pend || !*end)
			return !*pend && !*end;
		pattern = pend + 1;
		path = end + 1;
	}
}

/* The name part of a Host header value ("name", "name:port", "[v6]" or "[v6]:port") into out;
 * false when it does not fit or is malformed. */
static bool api_host_name(const char *host, char *out, size_t len)
{
	const char *end;

	if (host[0] == '[') {
		end = strchr(host, ']');
		if (!end || (end[1] && end[1] != ':'))
			return false;
		host++;
	} else {
		end = strchr(host, ':');
		if (!end)
			end = host + strlen(host);
	}
	if (end == host || (size_t)(end - host) >= len)
		return false;
	memcpy(out, host, (size_t)(end - host));
	out[end - host] = 0;
	return true;
}

static bool api_is_ip_literal(const char *name)
{
	uint8_t buf[16];

	return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

/* DNS rebinding: a page of the attacker's name, rebound to this address, reaches the API with its
 * own name in Host. Only names we serve pass: each --api-host, or by default the --api-listen
 * address and localhost (any IP literal when listening on a wildcard: no page can be served from
 * an address it does not own). A request without Host (HTTP/1.0) comes from no browser. */
static bool api_host_allowed(const struct nts_config *cfg, const char *host)
{
	char name[256], listen[NTS_ADDRSTRLEN];

	if (!host)
		return true;
	if (!api_host_name(host, name, sizeof(name)))
		return false;
	if (cfg->napi_host) {
		for (unsigned i = 0; i < cfg->napi_host; i++) {
			const char *h = cfg->api_host[i];
			char bare[256];

			/* "[v6]" as given on the command line matches the bare address */
			if (h[0] == '[' && api_host_name(h, bare, sizeof(bare)))
				h = bare;
			if (strcasecmp(h, name) == 0)
				return true;
		}
		return false;
	}
	if (strcasecmp(name, "localhost") == 0)
		return true;
	if (nts_addr_is_any(&cfg->api_listen))
		return api_is_ip_literal(name);
	nts_addr_fmt(&cfg->api_listen, listen, sizeof(listen), false);
	return strcasecmp(name, listen) == 0;
}

void api_handle(struct api_server *s, const struct api_request *rq, uint64_t now,
		struct api_response *rs)
{
	char id[API_ROUTE_IDS][API_ID_MAX] = {"", ""};
	const char *const ids[API_ROUTE_IDS] = {id[0], id[1]};
	const struct api_route *route = NULL;
	api_handler_fn fn = NULL;

	memset(rs, 0, sizeof(*rs));
	rs->flags = API_RESP_CORS;
	if (!api_host_allowed(s->cfg, rq->host)) {
		api_error(rs, 421, API_ERR_MISDIRECTED, "Misdirected request: unknown Host");
		return;
	}
	if (rq->body_too_large || rq->body_len > API_MAX_BODY) {
		api_error(rs, 413, API_ERR_TOO_LARGE, "Request body too large");
		return;
	}
	if (api_diag_route(s, rq, now, rs))
		return;
	if (strcmp(rq->path, "/metrics") == 0) {
		if (strcmp(rq->method, "GET") != 0 && strcmp(rq->method, "HEAD") != 0) {
			api_method_not_allowed(rs, "GET, HEAD");
			return;
		}
		rs->status = 200;
		rs->content_type = "text/plain; version=0.0.4; charset=utf-8";
		rs->body = api_metrics_render_server(s, &rs->body_len);
		if (!rs->body)
			api_error(rs, 500, API_ERR_INTERNAL, "Internal server error");
		return;
	}
	if (strncmp(rq->path, API_PREFIX, sizeof(API_PREFIX) - 1) == 0) {
		for (size_t i = 0; i < sizeof(api_routes) / sizeof(api_routes[0]); i++) {
			if (api_route_match(rq->path + sizeof(API_PREFIX) - 1,
					    api_routes[i].pattern, id)) {
				route = &api_routes[i];
				break;
			}
		}
	}
	if (!route) {
		api_not_found(rs, rq->path);
		return;
	}
	if (strcmp(rq->method, "OPTIONS") == 0) {
		rs->status = 200; /* CORS preflight: the headers are the answer */
		return;
	}
	if (strcmp(rq->method, "GET") == 0)
		fn = route->get;
	else if (strcmp(rq->method, "POST") == 0)
		fn = route->post;
	else if (strcmp(rq->method, "DELETE") == 0)
		fn = route->del;
	if (!fn) {
		api_method_not_allowed(rs, route->allow);
		return;
	}
	fn(s, rq, ids, now, rs);
}
