/* The connectivity test page and its signed links (README.md, "Connectivity test page").
 * A diag link is "<expiry>.<AccountSid>.<hex HMAC-SHA256>" (auth_link_sign(), user/auth/link.c),
 * carried in the page URL's fragment so it never reaches a server log or a Referer. The page POSTs
 * it to /diag/token and gets ephemeral credentials for that account, valid until the link expires:
 * no AuthToken ever reaches the browser.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/api_diag.h"
#include "api/api_priv.h"
#include "auth/auth.h"
#include "store/store.h"
#include "util/log.h"

static const char api_diag_json_type[] = "application/json; charset=utf-8";

/* Headers of every answer under /diag: no sniffing, no caching (links and credentials), no
 * Referer, no framing. The page adds its Content-Security-Policy (api_diag_page.c). */
static const char *const api_diag_headers[] = {
    "X-Content-Type-Options",
    "nosniff",
    "Cache-Control",
    "no-store",
    "Referrer-Policy",
    "no-referrer",
    "X-Frame-Options",
    "DENY",
    NULL,
};

int api_diag_link_make(struct auth_ctx *auth, const char *sid, uint64_t expiry, char *out,
		       size_t len)
{
	uint8_t mac[AUTH_LINK_MAC_LEN];
	int n, err;

	if (!store_sid_valid(sid))
		return -EINVAL;
	n = snprintf(out, len, "%" PRIu64 ".%s", expiry, sid);
	if (n < 0 || (size_t)n + 1 + 2 * AUTH_LINK_MAC_LEN >= len)
		return -ENOSPC;
	err = auth_link_sign(auth, out, (size_t)n, mac);
	if (err)
		return err;
	out[n++] = '.';
	for (size_t i = 0; i < AUTH_LINK_MAC_LEN; i++, n += 2)
		snprintf(out + n, 3, "%02x", mac[i]);
	return 0;
}

static int api_diag_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int api_diag_link_check(struct auth_ctx *auth, const char *link, uint64_t now, char *sid,
			size_t sidlen, uint64_t *expiry)
{
	uint8_t mac[AUTH_LINK_MAC_LEN];
	const char *dot1, *dot2;
	uint64_t exp = 0;
	size_t signed_len;
	bool good;

	dot1 = strchr(link, '.');
	dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
	if (!dot1 || !dot2 || dot1 == link || dot1 - link > 20 ||
	    strlen(dot2 + 1) != 2 * AUTH_LINK_MAC_LEN || (size_t)(dot2 - dot1 - 1) >= sidlen)
		return -EINVAL;
	for (const char *p = link; p < dot1; p++) {
		if (*p < '0' || *p > '9' || exp > (UINT64_MAX - 9) / 10)
			return -EINVAL;
		exp = exp * 10 + (uint64_t)(*p - '0');
	}
	for (size_t i = 0; i < AUTH_LINK_MAC_LEN; i++) {
		int hi = api_diag_hex(dot2[1 + 2 * i]), lo = api_diag_hex(dot2[2 + 2 * i]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(sid, dot1 + 1, (size_t)(dot2 - dot1 - 1));
	sid[dot2 - dot1 - 1] = '\0';
	signed_len = (size_t)(dot2 - link);
	if (signed_len > AUTH_LINK_MAX_MSG)
		return -EINVAL;
	/* The MAC first, compared in constant time: only a link we signed learns about expiry. */
	good = auth_link_verify(auth, link, signed_len, mac);
	if (!good)
		return -EACCES;
	*expiry = exp;
	return exp <= now ? -ETIMEDOUT : 0;
}

/* The only active account of st into sid, for a link without --account. */
struct api_diag_only {
	char sid[STORE_SID_LEN + 1];
	unsigned n;
};

static int api_diag_only_fn(void *arg, const struct store_account *a)
{
	struct api_diag_only *o = arg;

	if (!a->suspended && o->n++ == 0)
		snprintf(o->sid, sizeof(o->sid), "%s", a->sid);
	return 0;
}

json_t *api_cmd_diag_link(struct nts_store *st, struct auth_ctx *auth, const char *base,
			  json_t *args, char *err, size_t errlen)
{
	json_t *ttl_arg = json_is_object(args) ? json_object_get(args, "ttl") : NULL;
	json_t *acct_arg = json_is_object(args) ? json_object_get(args, "account") : NULL;
	json_t *base_arg = json_is_object(args) ? json_object_get(args, "base") : NULL;
	json_int_t ttl = API_DIAG_TTL_DEFAULT;
	struct api_diag_only only = {.n = 0};
	char link[API_DIAG_LINK_LEN], url[API_DIAG_LINK_LEN + 300];
	struct store_account a;
	const char *sid;
	uint64_t expiry;
	size_t blen;
	int rc;

	if (ttl_arg && !json_is_null(ttl_arg)) {
		ttl = json_is_integer(ttl_arg) ? json_integer_value(ttl_arg) : 0;
		if (ttl < 1 || ttl > API_DIAG_TTL_MAX) {
			snprintf(err, errlen, "ttl must be an integer from 1 to %d seconds",
				 API_DIAG_TTL_MAX);
			return NULL;
		}
	}
	if (json_is_string(base_arg))
		base = json_string_value(base_arg);
	if (acct_arg && !json_is_null(acct_arg)) {
		sid = json_string_value(acct_arg);
		if (!sid || !store_sid_valid(sid)) {
			snprintf(err, errlen, "account must be an AccountSid (AC + 32 hex digits)");
			return NULL;
		}
	} else {
		rc = store_account_foreach(st, api_diag_only_fn, &only);
		if (rc || only.n != 1) {
			snprintf(err, errlen, "%s",
				 rc	  ? strerror(-rc)
				 : only.n ? "several active accounts: name one with --account"
					  : "no active account");
			return NULL;
		}
		sid = only.sid;
	}
	rc = store_account_get(st, sid, &a);
	if (rc || a.suspended) {
		snprintf(err, errlen, "%s",
			 rc == -ENOENT ? "no such account"
			 : rc	       ? strerror(-rc)
				       : "the account is not active");
		return NULL;
	}
	expiry = (uint64_t)time(NULL) + (uint64_t)ttl;
	rc = api_diag_link_make(auth, a.sid, expiry, link, sizeof(link));
	if (rc) {
		snprintf(err, errlen, "%s", rc == -ENOENT ? "no signing secret" : strerror(-rc));
		return NULL;
	}
	if (!base)
		base = "";
	blen = strlen(base);
	if (blen && base[blen - 1] == '/') /* "https://host/" as well as "https://host" */
		blen--;
	snprintf(url, sizeof(url), "%.*s%s#%s", (int)blen, base, API_DIAG_PATH, link);
	return json_pack("{s:s, s:s, s:I, s:I}", "url", url, "account", a.sid, "expires",
			 (json_int_t)expiry, "ttl", ttl);
}

void api_diag_base_url(const struct api_server *s, char *out, size_t len)
{
	const struct nts_config *cfg = s->cfg;
	char host[NTS_ADDRSTRLEN + 2];
	bool tls = cfg->api_cert[0] != '\0';
	uint16_t port = api_http_port(s) ? api_http_port(s) : cfg->api_listen.port;

	/* A name the API serves (its Host check, api_route.c): the first --api-host, else the
	 * listen address (loopback when it is a wildcard). */
	if (cfg->napi_host)
		snprintf(host, sizeof(host), "%s", cfg->api_host[0]);
	else if (nts_addr_is_any(&cfg->api_listen))
		snprintf(host, sizeof(host), "%s",
			 cfg->api_listen.family == AF_INET6 ? "[::1]" : "127.0.0.1");
	else
		nts_addr_fmt(&cfg->api_listen, host, sizeof(host), false);
	if (cfg->api_listen.family == AF_INET6 && !cfg->napi_host && host[0] != '[') {
		char v6[sizeof(host)];

		snprintf(v6, sizeof(v6), "[%s]", host);
		snprintf(host, sizeof(host), "%s", v6);
	}
	snprintf(out, len, "%s://%s:%u", tls ? "https" : "http", host, port);
}

static void api_diag_error(struct api_response *rs, unsigned status, int code, const char *msg)
{
	json_t *j = json_pack("{s:i, s:s, s:i}", "code", code, "message", msg, "status", status);

	rs->status = status;
	rs->content_type = api_diag_json_type;
	rs->body = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	rs->body_len = rs->body ? strlen(rs->body) : 0;
	json_decref(j);
}

/* POST /diag/token, form field "link": ephemeral credentials for the link's account until the
 * link expires. Rate-limited with the account's token minting (--token-rate, --token-burst). */
static void api_diag_token(struct api_server *s, const struct api_request *rq, uint64_t now,
			   struct api_response *rs)
{
	char link[API_DIAG_LINK_LEN], sid[STORE_SID_LEN + 1];
	struct store_account acct;
	uint64_t expiry;
	json_t *tok;
	int err;

	err = api_form_get(rq->body ? rq->body : "", rq->body ? rq->body_len : 0, "link", link,
			   sizeof(link));
	if (!err)
		err = api_diag_link_check(s->auth, link, now, sid, sizeof(sid), &expiry);
	if (err == -ETIMEDOUT) {
		api_diag_error(rs, 403, API_ERR_FORBIDDEN,
			       "Link expired: ask for a new one (ntsctl diag-link)");
		return;
	}
	if (err) {
		api_diag_error(rs, 401, API_ERR_AUTHENTICATE,
			       "Link not valid: it was altered or not signed by this server");
		return;
	}
	err = store_account_get(s->store, sid, &acct);
	if (api_store_unavailable(err)) {
		api_diag_error(rs, 503, API_ERR_UNAVAILABLE, "Database unavailable, retry");
		return;
	}
	if (err || acct.suspended) {
		api_diag_error(rs, 403, API_ERR_NOT_ACTIVE, "Account not active");
		return;
	}
	if (!api_rate_allow(s->rate, acct.sid, now)) {
		api_diag_error(rs, 429, API_ERR_TOO_MANY, "Too Many Requests");
		return;
	}
	tok = api_token_build(s->auth, &s->ice, acct.sid, (uint32_t)(expiry - now), now, &err);
	if (!tok) {
		log_error("api: diag: cannot make credentials: %s", strerror(-err));
		api_diag_error(rs, 500, API_ERR_INTERNAL, "Internal server error");
		return;
	}
	rs->status = 201;
	rs->content_type = api_diag_json_type;
	rs->body = json_dumps(tok, JSON_COMPACT | JSON_PRESERVE_ORDER);
	rs->body_len = rs->body ? strlen(rs->body) : 0;
	json_decref(tok);
	if (!rs->body)
		api_diag_error(rs, 500, API_ERR_INTERNAL, "Internal server error");
	else if (s->stats)
		s->stats->tokens_issued++;
}

bool api_diag_route(struct api_server *s, const struct api_request *rq, uint64_t now,
		    struct api_response *rs)
{
	bool page = strcmp(rq->path, API_DIAG_PATH) == 0;
	bool token = strcmp(rq->path, API_DIAG_PATH "/token") == 0;

	if (!page && !token)
		return false;
	rs->flags &= ~(unsigned)API_RESP_CORS; /* same-origin only */
	rs->headers = api_diag_headers;
	if (page && strcmp(rq->method, "GET") != 0 && strcmp(rq->method, "HEAD") != 0) {
		api_diag_error(rs, 405, API_ERR_METHOD, "Method not allowed");
		rs->flags |= API_RESP_ALLOW;
		rs->allow = "GET, HEAD";
	} else if (token && strcmp(rq->method, "POST") != 0) {
		api_diag_error(rs, 405, API_ERR_METHOD, "Method not allowed");
		rs->flags |= API_RESP_ALLOW;
		rs->allow = "POST";
	} else if (page) {
		if (api_diag_page(rs) != 0)
			api_diag_error(rs, 500, API_ERR_INTERNAL, "Internal server error");
	} else {
		api_diag_token(s, rq, now, rs);
	}
	return true;
}
