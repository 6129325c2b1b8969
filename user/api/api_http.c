/* libmicrohttpd inside ntsd's epoll loop: MHD runs in external-epoll mode (no thread of its own);
 * its epoll fd sits in our loop, MHD_run() is called when it is readable and from a tick for MHD's
 * connection timeouts. Bodies are collected up to API_MAX_BODY, then api_handle() answers.
 */
#include <errno.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#include "api/api_priv.h"
#include "util/log.h"

#define API_HTTP_TICK_MS 100
#define API_HTTP_MAX_CONNECTIONS 256
#define API_HTTP_MAX_PER_IP 64
#define API_HTTP_IDLE_TIMEOUT 30 /* seconds */
#define API_HTTP_MAX_PEM (64 * 1024)
#define API_HTTP_MAX_QUERY 1024

struct api_http {
	struct MHD_Daemon *mhd;
	struct nts_loop *loop;
	int epfd;
	uint16_t port;
	char *cert, *key; /* PEM text, kept for MHD's lifetime */
};

/* Per-request state: the raw query string and the body collected so far. */
struct api_http_req {
	char body[API_MAX_BODY + 1];
	size_t len;
	bool too_large; /* the body or the query string */
	bool started;	/* api_http_access() saw the request's headers */
	bool has_query;
	char query[API_HTTP_MAX_QUERY + 1];
};

/* MHD's URI log callback sees the request target before it is split and decoded: the raw query
 * string is kept from it, so query parameters are parsed like form bodies (api_form_get()). */
static void *api_http_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct api_http_req *q = calloc(1, sizeof(*q));
	const char *query = uri ? strchr(uri, '?') : NULL;

	if (q && query) {
		q->has_query = true;
		if (strlen(query + 1) > API_HTTP_MAX_QUERY)
			q->too_large = true;
		else
			strcpy(q->query, query + 1);
	}
	return q;
}

static void api_http_logger(void *cls, const char *fmt, va_list ap)
{
	char msg[256];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	/* Mostly client-caused (bad TLS handshakes, resets): debug, or a scanner floods the log.
	 * Start-up failures are logged by api_http_start() itself. */
	log_debug("api: http: %s", msg);
}

static enum MHD_Result api_http_respond(struct MHD_Connection *c, struct api_response *rs)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (rs->body)
		r = MHD_create_response_from_buffer(rs->body_len, rs->body, MHD_RESPMEM_MUST_FREE);
	else
		r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	if (!r) {
		api_response_free(rs);
		return MHD_NO;
	}
	rs->body = NULL; /* MHD owns it now */
	if (rs->content_type)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, rs->content_type);
	if (rs->flags & API_RESP_WWW_AUTHENTICATE)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					"Basic realm=\"Twilio API\"");
	if ((rs->flags & API_RESP_ALLOW) && rs->allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, rs->allow);
	if (rs->flags & API_RESP_CORS)
		for (size_t i = 0; api_cors_headers[i]; i += 2)
			MHD_add_response_header(r, api_cors_headers[i], api_cors_headers[i + 1]);
	for (size_t i = 0; rs->headers && rs->headers[i]; i += 2)
		MHD_add_response_header(r, rs->headers[i], rs->headers[i + 1]);
	if (rs->csp)
		MHD_add_response_header(r, "Content-Security-Policy", rs->csp);
	api_response_free(rs);
	ret = MHD_queue_response(c, rs->status, r);
	MHD_destroy_response(r);
	return ret;
}

static const char *api_http_header(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static enum MHD_Result api_http_access(void *cls, struct MHD_Connection *c, const char *url,
				       const char *method, const char *version,
				       const char *upload_data, size_t *upload_data_size,
				       void **con_cls)
{
	struct api_server *s = cls;
	struct api_http_req *q = *con_cls;
	struct api_request rq = {0};
	struct api_response rs;

	if (!q)
		return MHD_NO; /* api_http_uri() could not allocate */
	if (!q->started) {
		const char *cl = api_http_header(c, MHD_HTTP_HEADER_CONTENT_LENGTH);

		q->started = true;
		/* Refuse a declared oversized body (or a query string too long) before reading
		 * the body; MHD then closes. */
		if (q->too_large || (cl && strtoull(cl, NULL, 10) > API_MAX_BODY)) {
			rq.method = method;
			rq.path = url;
			rq.body_too_large = true;
			api_handle(s, &rq, (uint64_t)time(NULL), &rs);
			return api_http_respond(c, &rs);
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (q->len + *upload_data_size > API_MAX_BODY)
			q->too_large =
			    true; /* keep reading (and dropping) to answer 413 at the end */
		else {
			memcpy(q->body + q->len, upload_data, *upload_data_size);
			q->len += *upload_data_size;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	q->body[q->len] = '\0';
	rq.method = method;
	rq.path = url;
	rq.query = q->has_query ? q->query : NULL;
	rq.authorization = api_http_header(c, MHD_HTTP_HEADER_AUTHORIZATION);
	rq.host = api_http_header(c, MHD_HTTP_HEADER_HOST);
	rq.content_type = api_http_header(c, MHD_HTTP_HEADER_CONTENT_TYPE);
	rq.body = q->body;
	rq.body_len = q->len;
	rq.body_too_large = q->too_large;
	api_handle(s, &rq, (uint64_t)time(NULL), &rs);
	return api_http_respond(c, &rs);
}

static void api_http_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			       enum MHD_RequestTerminationCode toe)
{
	free(*con_cls);
	*con_cls = NULL;
}

/* Runs MHD until it has no immediately pending work (bounded). */
static void api_http_run(struct api_http *h)
{
	MHD_UNSIGNED_LONG_LONG t;

	for (int i = 0; i < 8; i++) {
		MHD_run(h->mhd);
		if (MHD_get_timeout(h->mhd, &t) != MHD_YES || t > 0)
			break;
	}
}

static void api_http_on_ready(void *arg, int fd, uint32_t events)
{
	api_http_run(arg);
}

static void api_http_on_tick(void *arg, uint64_t now_ms)
{
	struct api_http *h = arg;
	MHD_UNSIGNED_LONG_LONG t;

	if (h->mhd && MHD_get_timeout(h->mhd, &t) == MHD_YES && t <= API_HTTP_TICK_MS)
		api_http_run(h);
}

static char *api_read_pem(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;

	if (!f)
		return NULL;
	buf = malloc(API_HTTP_MAX_PEM + 1);
	n = buf ? fread(buf, 1, API_HTTP_MAX_PEM, f) : 0;
	fclose(f);
	if (!buf || n == 0 || n == API_HTTP_MAX_PEM) {
		free(buf);
		errno = EINVAL;
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

static int api_http_tls(struct api_http *h, const struct nts_config *cfg)
{
	if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
		log_error("api: this libmicrohttpd has no TLS support");
		return -ENOTSUP;
	}
	h->cert = api_read_pem(cfg->api_cert);
	h->key = api_read_pem(cfg->api_key);
	if (!h->cert || !h->key) {
		log_error("api: cannot read --api-cert %s / --api-key %s", cfg->api_cert,
			  cfg->api_key);
		return -EINVAL;
	}
	return 0;
}

int api_http_start(struct api_server *s, struct nts_loop *loop)
{
	return api_http_start_fd(s, loop, -1);
}

int api_http_listen_fd(const struct api_server *s)
{
	const union MHD_DaemonInfo *info =
	    s->http && s->http->mhd ? MHD_get_daemon_info(s->http->mhd, MHD_DAEMON_INFO_LISTEN_FD)
				    : NULL;

	return info ? info->listen_fd : -1;
}

int api_http_start_fd(struct api_server *s, struct nts_loop *loop, int fd)
{
	const struct nts_config *cfg = s->cfg;
	struct sockaddr_storage ss;
	struct MHD_OptionItem opts[12];
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	struct api_http *h;
	char where[NTS_ADDRSTRLEN];
	int n = 0, err;

	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	s->http = h;
	h->loop = loop;
	h->epfd = -1;
	nts_addr_to_sockaddr(&cfg->api_listen, &ss);
	if (cfg->api_listen.family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (cfg->api_cert[0] || cfg->api_key[0]) {
		err = api_http_tls(h, cfg);
		if (err)
			return err;
		flags |= MHD_USE_TLS;
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, h->cert};
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, h->key};
	}
	if (fd >= 0) /* handed over by an upgrade: already bound and listening */
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, fd, NULL};
	else
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, &ss};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED,
					    (intptr_t)api_http_completed, NULL};
	opts[n++] =
	    (struct MHD_OptionItem){MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)api_http_uri, NULL};
	opts[n++] =
	    (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, API_HTTP_MAX_CONNECTIONS, NULL};
	opts[n++] =
	    (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, API_HTTP_IDLE_TIMEOUT, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT, 32 * 1024, NULL};
	/* One client cannot take every slot (slow-loris style). */
	opts[n++] =
	    (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT, API_HTTP_MAX_PER_IP, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
	/* The logger goes first so MHD routes even option errors through it. */
	h->mhd = MHD_start_daemon(flags, cfg->api_listen.port, NULL, NULL, api_http_access, s,
				  MHD_OPTION_EXTERNAL_LOGGER, api_http_logger, NULL,
				  MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	nts_addr_fmt(&cfg->api_listen, where, sizeof(where), true);
	if (!h->mhd) {
		log_error("api: cannot listen on %s (address in use or not local?)", where);
		return -EADDRNOTAVAIL;
	}
	info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	h->epfd = info ? info->epoll_fd : -1;
	info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT);
	h->port = info ? info->port : cfg->api_listen.port;
	if (h->epfd < 0)
		return -EINVAL;
	err = loop_add(loop, h->epfd, EPOLLIN, api_http_on_ready, h);
	if (!err)
		err = loop_add_tick(loop, API_HTTP_TICK_MS, api_http_on_tick, h);
	if (err)
		return err;
	log_info("api: token API and /metrics on %s://%s", (flags & MHD_USE_TLS) ? "https" : "http",
		 where);
	return 0;
}

uint16_t api_http_port(const struct api_server *s)
{
	return s && s->http ? s->http->port : 0;
}

void api_destroy(struct api_server *s)
{
	struct api_http *h;

	if (!s)
		return;
	h = s->http;
	if (h) {
		/* Stop watching before MHD closes its epoll fd. The tick cannot be removed from
		 * the loop: ntsd unwires only after loop_run() returned, so it never fires again.
		 */
		if (h->epfd >= 0)
			loop_del(h->loop, h->epfd);
		if (h->mhd)
			MHD_stop_daemon(h->mhd);
		h->mhd = NULL;
		free(h->cert);
		free(h->key);
		free(h);
	}
	api_rate_destroy(s->rate);
	free(s);
}
