/* Internals of the connectivity test page (api_diag.c: links and routes; api_diag_page.c: the
 * embedded page, assembled from user/api/diag/ at build time). Other modules use api.h.
 */
#ifndef NTS_API_DIAG_H
#define NTS_API_DIAG_H

#include "api/api_priv.h"

#define API_DIAG_PATH "/diag"
#define API_DIAG_LINK_LEN 160 /* "<expiry>.<sid>.<64 hex>" and room to spare */

/* Signs a link for sid valid until unix time expiry into out. 0 or -errno (-ENOENT: no secret). */
int api_diag_link_make(struct auth_ctx *auth, const char *sid, uint64_t expiry, char *out,
		       size_t len);
/* Checks link at now: 0 with sid and *expiry set; -EINVAL (malformed), -EACCES (not our MAC),
 * -ETIMEDOUT (ours, expired). The MAC is checked first, in constant time. */
int api_diag_link_check(struct auth_ctx *auth, const char *link, uint64_t now, char *sid,
			size_t sidlen, uint64_t *expiry);
/* "http(s)://HOST:PORT" under which browsers reach this API (a Host it serves). */
void api_diag_base_url(const struct api_server *s, char *out, size_t len);
/* Answers GET /diag and POST /diag/token; false when rq is for another path. */
bool api_diag_route(struct api_server *s, const struct api_request *rq, uint64_t now,
		    struct api_response *rs);
/* The page: HTML with its style and script inline, allowed by a Content-Security-Policy of their
 * SHA-256 hashes (set in rs->csp). 0 or -ENOMEM. */
int api_diag_page(struct api_response *rs);

#endif
