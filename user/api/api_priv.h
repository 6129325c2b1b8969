/* Internals shared by the API's files: the server state. Other modules use api.h.
 * The HTTP daemon pointer is opaque here so only api_http.c includes microhttpd.h.
 */
#ifndef NTS_API_PRIV_H
#define NTS_API_PRIV_H

#include "api/api.h"
#include "store/store.h"

struct api_http;
struct api_rate;

struct api_server {
	const struct nts_config *cfg;
	struct nts_store *store;
	struct auth_ctx *auth;
	struct nts_stats *stats;
	struct api_ice_urls ice;		/* from cfg, then from the open listeners */
	bool ice_set;				/* api_set_ice_urls() was called */
	struct api_http *http;			/* NULL until api_http_start() */
	api_account_changed_fn account_changed; /* may be NULL */
	void *account_changed_arg;
	struct api_rate *rate; /* tokens minted per account (--token-rate, --token-burst) */
	api_stats_fn stats_fn; /* may be NULL: /metrics renders *stats */
	void *stats_arg;
};

/* /metrics of s: its stats, or what its stats_fn fills (api_metrics.c). malloc'ed. */
char *api_metrics_render_server(struct api_server *s, size_t *len);

/* Per-account token buckets (api_rate.c). rate 0: no limit; burst 0: rate. NULL on ENOMEM. */
struct api_rate *api_rate_create(uint32_t rate, uint32_t burst);
void api_rate_destroy(struct api_rate *r);
/* Changes the rate and burst (a reload): buckets keep their tokens, capped at the next refill. */
void api_rate_set(struct api_rate *r, uint32_t rate, uint32_t burst);
/* Takes one token from sid's bucket at unix second now; false when it is empty. */
bool api_rate_allow(struct api_rate *r, const char *sid, uint64_t now);

/* Answers (api_route.c). */
/* Sets a JSON body (j is consumed; NULL: empty body) with status. */
void api_set_json(struct api_response *rs, unsigned status, json_t *j);
/* Twilio's error body: {"code", "message", "more_info", "status"}. */
void api_error(struct api_response *rs, unsigned status, int code, const char *message);
/* 404 / 20404 naming path. */
void api_not_found(struct api_response *rs, const char *path);
/* 401 / 20003 with WWW-Authenticate. */
void api_unauthorized(struct api_response *rs);
/* 503 when api_store_unavailable(err), 500 for any other -errno (logged). */
void api_store_failed(struct api_response *rs, const char *what, int err);
/* True when err means the database cannot answer now (locked by another process, or a server
 * that is unreachable or timed out): the caller answers 503 and the client retries. */
bool api_store_unavailable(int err);

/* Request parameters. */
/* key of the form body (when it is form-encoded): 0, -ENOENT, -EINVAL or -ENOSPC. */
int api_body_get(const struct api_request *rq, const char *key, char *out, size_t outlen);
/* key of the query string: 0, -ENOENT, -EINVAL or -ENOSPC. */
int api_query_get(const struct api_request *rq, const char *key, char *out, size_t outlen);

/* Who sent a request (api_auth.c). */
struct api_caller {
	struct store_account account; /* whose credentials (a key's: the account owning it) */
	bool via_key;		      /* authenticated with an API key sid and secret */
	char key_sid[STORE_KEY_SID_LEN + 1];
};
/* Resolves Basic credentials: "AccountSid:AuthToken" or "KeySid:KeySecret" (checked in constant
 * time either way). 0, -EACCES (wrong, unknown or malformed: 401), -EBUSY or -errno. */
int api_auth_basic(struct api_server *s, const char *authorization, struct api_caller *c);
/* Authenticates rq for acting on account sid (NULL: the caller's own). A master acts on itself and
 * its subaccounts, a subaccount or a key only on its own account; key credentials only when keys
 * (not for account or key management, as at Twilio). True with *target; false with the answer in
 * rs: 401/20003, 404/20404 (an account the caller cannot see), 403/20005 (the caller is not
 * active), 503 or 500. */
bool api_authorize(struct api_server *s, const struct api_request *rq, const char *sid, bool keys,
		   struct api_caller *c, struct store_account *target, struct api_response *rs);
/* True when a is not active, by its own status or its master's. */
bool api_account_inactive(const struct store_account *a);
/* Tells the account hook about sid as now stored and, for a master, about each subaccount. */
void api_account_notify(struct api_server *s, const char *sid);

/* Twilio's paging (api_page.c): PageSize (1..1000, default 50), Page, PageToken. */
#define API_PAGE_SIZE_DEFAULT 50
#define API_PAGE_SIZE_MAX 1000 /* Twilio's; one row more is read to know of a next page */
_Static_assert(API_PAGE_SIZE_MAX < STORE_PAGE_MAX, "a page and one row fit one store listing");
struct api_page {
	unsigned size, number;
	char after[STORE_SID_LEN + 1]; /* from PageToken "PA<sid>": list after this sid; "" none */
};
/* Reads the paging parameters of rq's query. 0 or -EINVAL. */
int api_page_parse(const struct api_request *rq, struct api_page *pg);
/* Twilio's page object: {key: items, end, first_page_uri, next_page_uri, page, page_size,
 * previous_page_uri, start, uri}. filters: "Name=value&..." (encoded) or "". last: the sid of the
 * last item when a further page exists, else NULL. items is consumed. */
json_t *api_page_json(const char *path, const char *filters, const struct api_page *pg,
		      const char *key, json_t *items, const char *last);
/* Appends "&key=percent-encoded value" to buf (or "key=..." when buf is empty). */
void api_query_append(char *buf, size_t len, const char *key, const char *value);

/* Handlers of the routes (api_route.c's table). id[0], id[1]: the path's sids in order. */
typedef void (*api_handler_fn)(struct api_server *s, const struct api_request *rq,
			       const char *const *id, uint64_t now, struct api_response *rs);
void api_tokens_create(struct api_server *s, const struct api_request *rq, const char *const *id,
		       uint64_t now, struct api_response *rs);
void api_accounts_list(struct api_server *s, const struct api_request *rq, const char *const *id,
		       uint64_t now, struct api_response *rs);
void api_accounts_create(struct api_server *s, const struct api_request *rq, const char *const *id,
			 uint64_t now, struct api_response *rs);
void api_account_fetch(struct api_server *s, const struct api_request *rq, const char *const *id,
		       uint64_t now, struct api_response *rs);
void api_account_update(struct api_server *s, const struct api_request *rq, const char *const *id,
			uint64_t now, struct api_response *rs);
void api_keys_list(struct api_server *s, const struct api_request *rq, const char *const *id,
		   uint64_t now, struct api_response *rs);
void api_keys_create(struct api_server *s, const struct api_request *rq, const char *const *id,
		     uint64_t now, struct api_response *rs);
void api_key_fetch(struct api_server *s, const struct api_request *rq, const char *const *id,
		   uint64_t now, struct api_response *rs);
void api_key_update(struct api_server *s, const struct api_request *rq, const char *const *id,
		    uint64_t now, struct api_response *rs);
void api_key_delete(struct api_server *s, const struct api_request *rq, const char *const *id,
		    uint64_t now, struct api_response *rs);

#endif
