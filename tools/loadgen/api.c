/* `nts-loadgen api`: token API throughput: conns keep-alive HTTP/1.1 connections, each sending
 * `POST path` with Basic authentication back to back for the duration; requests/s and latency. */
#include <arpa/inet.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lg.h"

struct lg_conn {
	int fd;
	size_t have;
	uint64_t sent_ns;
	char buf[8192];
};

struct lg_api {
	const struct lg_opts *o;
	char req[2048];
	size_t req_len;
	uint64_t ok, errors, reconnects;
	struct bench_hist hist;
};

static int lg_conn_open(struct lg_api *a, struct lg_conn *c, int ep, unsigned id)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = id};

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	c->have = 0;
	if (c->fd < 0 ||
	    connect(c->fd, (const struct sockaddr *)&a->o->server, sizeof(a->o->server)) < 0)
		return -errno;
	epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
	c->sent_ns = lg_now_ns();
	return send(c->fd, a->req, a->req_len, MSG_NOSIGNAL) == (ssize_t)a->req_len ? 0 : -EIO;
}

/* Length of one complete response at the start of c->buf, 0 if incomplete, -1 if malformed. */
static long lg_response_len(struct lg_conn *c, int *status)
{
	char *end, *cl;
	long body = 0;

	c->buf[c->have] = 0;
	end = strstr(c->buf, "\r\n\r\n");
	if (!end)
		return c->have >= sizeof(c->buf) - 1 ? -1 : 0;
	if (sscanf(c->buf, "HTTP/1.%*d %d", status) != 1)
		return -1;
	cl = strcasestr(c->buf, "\r\ncontent-length:");
	if (cl && cl < end)
		body = strtol(cl + 17, NULL, 10);
	if ((size_t)(end + 4 - c->buf) + (size_t)body > c->have)
		return 0;
	return (end + 4 - c->buf) + body;
}

/* Reads from c; for each complete response, records it and sends the next request. */
static int lg_conn_input(struct lg_api *a, struct lg_conn *c)
{
	ssize_t r = recv(c->fd, c->buf + c->have, sizeof(c->buf) - 1 - c->have, 0);
	long len;
	int status = 0;

	if (r <= 0)
		return -EPIPE;
	c->have += (size_t)r;
	while ((len = lg_response_len(c, &status)) > 0) {
		status >= 200 && status < 300 ? a->ok++ : a->errors++;
		lg_hist_add(&a->hist, lg_now_ns() - c->sent_ns);
		memmove(c->buf, c->buf + len, c->have - (size_t)len);
		c->have -= (size_t)len;
		c->sent_ns = lg_now_ns();
		if (send(c->fd, a->req, a->req_len, MSG_NOSIGNAL) != (ssize_t)a->req_len)
			return -EPIPE;
	}
	return len < 0 ? -EPROTO : 0;
}

int lg_cmd_api(const struct lg_opts *o)
{
	struct lg_api a = {.o = o};
	struct lg_json j;
	struct lg_conn *c = calloc(o->conns, sizeof(*c));
	struct epoll_event evs[64];
	unsigned char b64[512] = "";
	char host[INET_ADDRSTRLEN];
	uint64_t start, end;
	int ep = epoll_create1(EPOLL_CLOEXEC), rc = -1;

	if (!c || ep < 0 || (o->basic_auth && strlen(o->basic_auth) > 300))
		goto out;
	if (o->basic_auth)
		EVP_EncodeBlock(b64, (const unsigned char *)o->basic_auth,
				(int)strlen(o->basic_auth));
	/* The server's own address as Host: the API answers 421 to a name it does not serve. */
	inet_ntop(AF_INET, &o->server.sin_addr, host, sizeof(host));
	a.req_len = (size_t)snprintf(
	    a.req, sizeof(a.req),
	    "POST %s HTTP/1.1\r\nHost: %s:%u\r\nAuthorization: Basic %s\r\n"
	    "Content-Type: application/x-www-form-urlencoded\r\n"
	    "Content-Length: %zu\r\n\r\n%s",
	    o->url_path, host, ntohs(o->server.sin_port), b64, strlen(o->body), o->body);
	if (a.req_len >= sizeof(a.req) || lg_netns_enter(o->client_ns))
		goto out;
	for (unsigned i = 0; i < o->conns; i++)
		if (lg_conn_open(&a, &c[i], ep, i)) {
			fprintf(stderr, "nts-loadgen: cannot connect to the API: %s\n",
				strerror(errno));
			goto out;
		}
	start = lg_now_ns();
	end = start + (uint64_t)(o->duration * 1e9);
	while (lg_now_ns() < end) {
		int k = epoll_wait(ep, evs, 64, 10);

		for (int i = 0; i < k; i++) {
			struct lg_conn *x = &c[evs[i].data.u32];

			if (lg_conn_input(&a, x) == 0)
				continue;
			/* Server closed or garbled: count it and reconnect (bounded by the run
			 * time). */
			a.errors++, a.reconnects++;
			close(x->fd);
			lg_conn_open(&a, x, ep, evs[i].data.u32);
		}
	}
	double secs = (double)(lg_now_ns() - start) / 1e9;

	lg_json_begin(&j);
	lg_json_str(&j, "test", "api");
	lg_json_num(&j, "conns", o->conns);
	lg_json_num(&j, "secs", secs);
	lg_json_num(&j, "ok", (double)a.ok);
	lg_json_num(&j, "errors", (double)a.errors);
	lg_json_num(&j, "reconnects", (double)a.reconnects);
	lg_json_num(&j, "req_per_s", (double)a.ok / secs);
	lg_json_num(&j, "lat_p50_us", lg_hist_pct(&a.hist, 0.5));
	lg_json_num(&j, "lat_p99_us", lg_hist_pct(&a.hist, 0.99));
	lg_json_end(&j);
	rc = a.ok > 0 ? 0 : -EIO;
out:
	for (unsigned i = 0; c && i < o->conns; i++)
		if (c[i].fd > 0)
			close(c[i].fd);
	if (ep >= 0)
		close(ep);
	free(c);
	return rc;
}
