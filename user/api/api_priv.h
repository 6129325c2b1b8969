/* Internals shared by the API's files: the server state. Other modules use api.h.
 * The HTTP daemon pointer is opaque here so only api_http.c includes microhttpd.h.
 */
#ifndef NTS_API_PRIV_H
#define NTS_API_PRIV_H

#include "api/api.h"

struct api_http;

struct api_server {
	const struct nts_config *cfg;
	struct nts_store *store;
	struct auth_ctx *auth;
	struct nts_stats *stats;
	struct api_ice_urls ice; /* from cfg, then from the open listeners */
	bool ice_set;		 /* api_set_ice_urls() was called */
	struct api_http *http;	 /* NULL until api_http_start() */
};

#endif
