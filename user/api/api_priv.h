/* Internals shared by the API's files: the server state. Other modules use api.h.
 * The HTTP daemon pointer is opaque here so only api_http.c includes microhttpd.h.
 */
#ifndef NTS_API_PRIV_H
#define NTS_API_PRIV_H

#include "api/api.h"

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
};

/* Per-account token buckets (api_rate.c). rate 0: no limit; burst 0: rate. NULL on ENOMEM. */
struct api_rate *api_rate_create(uint32_t rate, uint32_t burst);
void api_rate_destroy(struct api_rate *r);
/* Takes one token from sid's bucket at unix second now; false when it is empty. */
bool api_rate_allow(struct api_rate *r, const char *sid, uint64_t now);

#endif
