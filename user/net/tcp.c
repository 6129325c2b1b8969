/* TCP and TLS listeners: accept client connections, enforce the total and per-source caps, and hand
 * each connection to a stream with the plain TCP layer or a TLS session from the current context.
 */
#include "net/net_priv.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/tls.h"
#include "util/log.h"

#define TCP_ACCEPT_BATCH 64

/* True when a and b are one source for the per-source cap: the same IPv4 address (IPv4-mapped
 * included), or the same IPv6 /64, which one subscriber holds whole (as the rate limiter keys
 * them, user/auth/ratelimit.c). */
static bool tcp_same_source(const struct nts_addr *a, const struct nts_addr *b)
{
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (a->family != b->family)
		return false;
	if (a->family == AF_INET)
		return !memcmp(a->ip, b->ip, 4);
	if (!memcmp(a->ip, v4mapped, 12))
		return !memcmp(a->ip, b->ip, 16);
	return !memcmp(a->ip, b->ip, 8);
}

static unsigned tcp_count_from(const struct net_server *n, const struct nts_addr *client)
{
	unsigned c = 0;

	for (const struct net_stream *s = n->streams; s; s = s->next)
		c += tcp_same_source(&s->origin.client, client);
	return c;
}

/* Makes a client stream of accepted socket c, or closes c. */
static void tcp_accept_one(struct net_server *n, struct net_tcp_listener *l, int c)
{
	int one = 1;

	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (l->transport == NTS_TLS) {
		void *ts = n->tls_ctx ? net_tls_session_new(n->tls_ctx, c) : NULL;

		if (!ts || !net_stream_create(n, c, NTS_TLS, &net_stream_tls_ops, ts)) {
			if (ts) {
				struct net_stream tmp = {.layer = ts};

				net_stream_tls_ops.free(&tmp);
			}
			close(c);
		}
		return;
	}
	if (!net_stream_create(n, c, l->transport, &net_stream_tcp_ops, NULL))
		close(c);
}

static void tcp_on_accept(void *arg, int fd, uint32_t events)
{
	struct net_tcp_listener *l = arg;
	struct net_server *n = l->n;

	for (int i = 0; i < TCP_ACCEPT_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		struct nts_addr client;
		char buf[NTS_ADDRSTRLEN];
		int c = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (c < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn("tcp accept on %s: %s",
					 nts_addr_fmt(&l->local, buf, sizeof(buf), true),
					 strerror(errno));
			return;
		}
		if (nts_addr_from_sockaddr(&client, (struct sockaddr *)&ss) < 0) {
			close(c);
			continue;
		}
		/* Every worker's streams count: a place is taken before the check, so two workers
		 * accepting at once never pass the cap together (the sources are steered: each is
		 * one worker's, so the per-source count needs no lock). */
		if (atomic_fetch_add_explicit(n->total, 1, memory_order_relaxed) >=
			n->cfg->max_tcp_connections ||
		    tcp_count_from(n, &client) >= n->cfg->max_tcp_per_source) {
			atomic_fetch_sub_explicit(n->total, 1, memory_order_relaxed);
			log_debug("tcp %s refused: connection limit",
				  nts_addr_fmt(&client, buf, sizeof(buf), true));
			close(c);
			continue;
		}
		tcp_accept_one(n, l, c);
		/* The stream, if made, counts itself. */
		atomic_fetch_sub_explicit(n->total, 1, memory_order_relaxed);
	}
}

int net_tcp_open_fd(struct net_server *n, int fd, enum nts_transport t)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct net_tcp_listener *l;
	int rc;

	if (n->ntcp >= NET_MAX_TCP_LISTEN) {
		close(fd);
		return -ENOSPC;
	}
	l = calloc(1, sizeof(*l));
	if (!l) {
		close(fd);
		return -ENOMEM;
	}
	l->n = n;
	l->transport = t;
	l->fd = fd;
	if (getsockname(l->fd, (struct sockaddr *)&ss, &sl) < 0 ||
	    nts_addr_from_sockaddr(&l->local, (struct sockaddr *)&ss) < 0) {
		rc = -errno;
		goto fail;
	}
	rc = loop_add(n->loop, l->fd, EPOLLIN, tcp_on_accept, l);
	if (rc)
		goto fail;
	n->tcp[n->ntcp++] = l;
	return 0;
fail:
	close(l->fd);
	free(l);
	return rc;
}

int net_tcp_open(struct net_server *n, const struct nts_addr *addr, enum nts_transport t)
{
	struct sockaddr_storage ss;
	socklen_t sl = nts_addr_to_sockaddr(addr, &ss);
	int one = 1, fd, rc;

	if (n->ntcp >= NET_MAX_TCP_LISTEN)
		return -ENOSPC;
	rc = net_reuseport_probe(n, addr, SOCK_STREAM);
	if (rc)
		return rc;
	fd = socket(addr->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* Workers each listen on addr; a connection belongs to the worker that accepts it. */
	if ((n->reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) ||
	    (addr->family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 1024) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return net_tcp_open_fd(n, fd, t);
}

void net_tcp_close(struct net_tcp_listener *l)
{
	loop_del(l->n->loop, l->fd);
	close(l->fd);
	free(l);
}
