/* The net server: owns the listeners and streams, the per-iteration flush (UDP batches, closed
 * streams) and the idle tick, and implements the client send function TURN uses. See net.h.
 */
#include "net/net_priv.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/tls.h"
#include "turn/turn.h"
#include "util/log.h"

static void net_on_flush(void *arg, uint64_t now_ms)
{
	struct net_server *n = arg;

	net_stream_kick(n);
	for (unsigned i = 0; i < n->nudp; i++)
		net_udp_flush(n->udp[i]);
	for (unsigned i = 0; i < n->nalt_udp; i++)
		net_udp_flush(n->alt_udp[i]);
	net_stream_reap(n);
}

struct net_server *net_create(struct nts_loop *loop, const struct nts_config *cfg,
			      struct nts_stats *stats)
{
	struct net_server *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->loop = loop;
	n->cfg = cfg;
	n->stats = stats;
	n->total = &n->own_total;
	n->dispatch = (struct net_dispatch){
	    .stats = stats, .software = cfg->software, .send = net_send, .send_arg = n};
	return n;
}

static int net_hook_make_raw(void *arg, struct net_stream *s, const struct turn_raw_ops *ops,
			     void *ops_arg)
{
	return net_stream_set_raw(s, ops, ops_arg);
}

static void net_hook_pause(void *arg, struct net_stream *s, bool paused)
{
	net_stream_pause(s, paused);
}

static size_t net_hook_queued(void *arg, const struct net_stream *s)
{
	return s->out_len;
}

static void net_hook_close(void *arg, struct net_stream *s)
{
	net_stream_close(s, "data connection ended");
}

static void net_hook_authenticated(void *arg, struct net_stream *s)
{
	s->authed_ms = loop_now_ms(s->n->loop);
}

static const struct turn_stream_hooks net_turn_stream_hooks = {
    .make_raw = net_hook_make_raw,
    .pause = net_hook_pause,
    .queued = net_hook_queued,
    .close = net_hook_close,
    .authenticated = net_hook_authenticated,
};

void net_set_worker(struct net_server *n, unsigned nworkers, struct net_server *model)
{
	n->reuseport = nworkers > 1;
	n->model = model;
	n->total = model ? &model->own_total : &n->own_total;
}

int net_reuseport_probe(const struct net_server *n, const struct nts_addr *addr, int type)
{
	struct sockaddr_storage ss;
	socklen_t sl = nts_addr_to_sockaddr(addr, &ss);
	int one = 1, fd, rc = 0;

	/* Later workers join the first's sockets; port 0 is a fresh port. */
	if (!n->reuseport || n->model || !addr->port)
		return 0;
	fd = socket(addr->family, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (addr->family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

void net_set_turn(struct net_server *n, struct turn_server *turn)
{
	n->dispatch.turn = turn;
	if (turn)
		turn_set_stream_hooks(turn, &net_turn_stream_hooks, n);
}

/* True when a listener an upgrade handed over serves a (port 0 in a: any port of its address),
 * which it then stands for (one listener per address in the options). */
static bool net_listening(struct net_server *n, enum nts_transport t, const struct nts_addr *a)
{
	for (unsigned i = 0; t == NTS_UDP && i < n->nudp; i++)
		if (n->udp[i]->handed && nts_addr_equal(&n->udp[i]->local, a, a->port != 0)) {
			n->udp[i]->handed = false;
			return true;
		}
	for (unsigned i = 0; t != NTS_UDP && i < n->ntcp; i++)
		if (n->tcp[i]->handed && n->tcp[i]->transport == t &&
		    nts_addr_equal(&n->tcp[i]->local, a, a->port != 0)) {
			n->tcp[i]->handed = false;
			return true;
		}
	return false;
}

int net_adopt_listener(struct net_server *n, enum nts_transport t, int fd)
{
	int rc = t == NTS_UDP ? net_udp_open_fd(n, fd) : net_tcp_open_fd(n, fd, t);

	if (rc == 0 && t == NTS_UDP)
		n->udp[n->nudp - 1]->handed = true;
	else if (rc == 0)
		n->tcp[n->ntcp - 1]->handed = true;
	return rc;
}

int net_adopt_alt(struct net_server *n, int fd)
{
	struct net_udp *u;
	int rc = 0;

	if (n->nalt_udp >= sizeof(n->alt_udp) / sizeof(n->alt_udp[0])) {
		close(fd);
		return -ENOSPC;
	}
	u = net_udp_new_fd(n, fd, &rc);
	if (!u)
		return rc;
	u->handed = true;
	n->alt_udp[n->nalt_udp++] = u;
	return 0;
}

/* Closes the alternate sockets an upgrade handed over that no --alt-ip group took. */
static void net_alt_drop_handed(struct net_server *n)
{
	unsigned keep = 0;

	for (unsigned i = 0; i < n->nalt_udp; i++)
		if (n->alt_udp[i]->handed)
			net_udp_close(n->alt_udp[i]);
		else
			n->alt_udp[keep++] = n->alt_udp[i];
	n->nalt_udp = keep;
}

int net_listen(struct net_server *n)
{
	char buf[NTS_ADDRSTRLEN];
	int rc;

	if (n->cfg->ntls_listen && !n->tls_ctx) {
		n->tls_ctx = net_tls_ctx_load(n->cfg->cert, n->cfg->key);
		if (!n->tls_ctx) {
			log_error("--tls-listen: cannot load --cert %s and --key %s", n->cfg->cert,
				  n->cfg->key);
			return -EINVAL;
		}
	}
	if (!n->hooks_added) {
		if ((rc = loop_add_flush(n->loop, net_on_flush, n)) < 0 ||
		    (rc = loop_add_tick(n->loop, 1000, net_stream_idle_tick, n)) < 0)
			return rc;
		n->hooks_added = true;
	}
	for (unsigned i = 0; i < n->cfg->nlisten; i++) {
		const struct nts_addr *a = &n->cfg->listen[i];
		/* Another worker's socket: its actual port (when port 0 was asked). */
		if (n->model)
			a = &n->model->udp[i]->local;
		/* Sockets an upgrade handed over already serve their address. */
		rc = net_listening(n, NTS_UDP, a) ? 0 : net_udp_open(n, a);
		if (rc) {
			log_error("listen udp %s: %s", nts_addr_fmt(a, buf, sizeof(buf), true),
				  strerror(-rc));
			return rc;
		}
		if (n->model)
			a = &n->model->tcp[i]->local;
		rc = net_listening(n, NTS_TCP, a) ? 0 : net_tcp_open(n, a, NTS_TCP);
		if (rc) {
			log_error("listen tcp %s: %s", nts_addr_fmt(a, buf, sizeof(buf), true),
				  strerror(-rc));
			return rc;
		}
	}
	for (unsigned i = 0; i < n->cfg->ntls_listen; i++) {
		const struct nts_addr *a = &n->cfg->tls_listen[i];
		if (n->model)
			a = &n->model->tcp[n->cfg->nlisten + i]->local;
		if (net_listening(n, NTS_TLS, a))
			continue;
		rc = net_tcp_open(n, a, NTS_TLS);
		if (rc) {
			log_error("listen tls %s: %s", nts_addr_fmt(a, buf, sizeof(buf), true),
				  strerror(-rc));
			return rc;
		}
	}
	rc = n->cfg->nalt_ip ? net_alt_open(n) : 0;
	net_alt_drop_handed(n);
	return rc;
}

int net_reload_tls(struct net_server *n)
{
	SSL_CTX *ctx;

	if (!n->tls_ctx)
		return 0;
	ctx = net_tls_ctx_load(n->cfg->cert, n->cfg->key);
	if (!ctx)
		return -EINVAL;
	/* Live sessions hold their own reference to the old context. */
	net_tls_ctx_free(n->tls_ctx);
	n->tls_ctx = ctx;
	return 1;
}

void net_destroy(struct net_server *n)
{
	if (!n)
		return;
	while (n->streams)
		net_stream_close(n->streams, "shutdown");
	net_stream_reap(n);
	for (unsigned i = 0; i < n->nudp; i++)
		net_udp_close(n->udp[i]);
	for (unsigned i = 0; i < n->nalt_udp; i++)
		net_udp_close(n->alt_udp[i]);
	for (unsigned i = 0; i < n->ntcp; i++)
		net_tcp_close(n->tcp[i]);
	net_tls_ctx_free(n->tls_ctx);
	free(n->gather);
	free(n->rx);
	free(n);
}

size_t net_listeners(const struct net_server *n, struct net_listener_info *out, size_t max)
{
	size_t k = 0;

	for (unsigned i = 0; i < n->nudp; i++, k++)
		if (k < max)
			out[k] =
			    (struct net_listener_info){NTS_UDP, n->udp[i]->local, n->udp[i]->fd};
	for (unsigned i = 0; i < n->ntcp; i++, k++)
		if (k < max)
			out[k] = (struct net_listener_info){n->tcp[i]->transport, n->tcp[i]->local,
							    n->tcp[i]->fd};
	return k;
}

size_t net_alt_listeners(const struct net_server *n, struct net_listener_info *out, size_t max)
{
	size_t k = 0;

	for (unsigned i = 0; i < n->nalt_udp; i++, k++)
		if (k < max)
			out[k] = (struct net_listener_info){NTS_UDP, n->alt_udp[i]->local,
							    n->alt_udp[i]->fd};
	return k;
}

size_t net_stream_count(const struct net_server *n)
{
	return n->nstreams;
}

int net_send(void *arg, const struct nts_origin *o, const struct iovec *iov, int iovcnt)
{
	struct net_server *n = arg;

	if (o->transport != NTS_UDP)
		return o->stream ? net_stream_send(o->stream, iov, iovcnt) : -EPIPE;
	struct net_udp *u = net_udp_by_fd(n, o->fd);
	if (!u)
		return -EBADF;
	return net_udp_send(u, o, iov, iovcnt);
}
