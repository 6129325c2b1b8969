/* RFC 6062 TCP allocations: the relayed listening socket, Connect, ConnectionAttempt,
 * ConnectionBind, deadlines and teardown. The byte relay of bound connections is in tcp_data.c.
 *
 * The listening socket and every outgoing peer connection share the relayed address (§5.2: the
 * local endpoint is the relayed transport address), so both set SO_REUSEPORT; two allocations never
 * get the same port because the port is checked against our own relays first.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "turn/tcp_relay.h"
#include "util/log.h"

/* The per-connection memory documented in tcp_relay.h (x86-64). */
_Static_assert(sizeof(struct turn_tcp_conn) <= 216, "update the memory notes in tcp_relay.h");
_Static_assert(sizeof(struct turn_tcp_connect_req) <= 712,
	       "update the memory notes in tcp_relay.h");

static int turn_tcp_socket(const struct nts_addr *local)
{
	struct sockaddr_storage ss;
	socklen_t sl = nts_addr_to_sockaddr(local, &ss);
	int one = 1, fd = socket(local->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    (local->family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    bind(fd, (struct sockaddr *)&ss, sl) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	return fd;
}

int turn_tcp_listen(struct turn_server *t, const struct nts_addr *ip, struct turn_relay *out)
{
	uint32_t lo = t->cfg->relay_port_min, hi = t->cfg->relay_port_max;
	uint32_t span = hi >= lo ? hi - lo + 1 : 1, r;

	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (uint32_t)nts_monotonic_ns();
	for (unsigned i = 0; i < TURN_PORT_TRIES && i < span; i++) {
		struct nts_addr a = *ip;
		int fd;

		a.port = (uint16_t)(lo + (r + i * 7919u) % span);
		/* SO_REUSEPORT would let a second allocation share the port, and a UDP relay or
		 * reservation of ours may hold the number: skip them all. */
		if (turn_port_taken(t, ip, a.port))
			continue;
		fd = turn_tcp_socket(&a);
		if (fd == -EADDRINUSE)
			continue;
		if (fd < 0)
			return fd;
		if (listen(fd, 16) < 0) {
			int rc = -errno;

			close(fd);
			if (rc == -EADDRINUSE)
				continue;
			return rc;
		}
		memset(out, 0, sizeof(*out));
		out->fd = fd;
		out->local = a;
		return 0;
	}
	return -EADDRINUSE;
}

static void turn_tcp_log(const struct turn_tcp_conn *c, const char *what)
{
	char p[NTS_ADDRSTRLEN];

	log_debug("turn: allocation %llu connection %08x with %s: %s",
		  c->alloc ? (unsigned long long)c->alloc->id : 0ULL, c->id,
		  nts_addr_fmt(&c->peer, p, sizeof(p), true), what);
}

static uint64_t turn_tcp_hash(const struct turn_server *t, uint32_t id)
{
	return turn_mix64(id ^ t->seed ^ 0x6062);
}

static struct turn_tcp_conn *turn_tcp_find(struct turn_server *t, uint32_t id)
{
	uint64_t h = turn_tcp_hash(t, id);

	for (struct turn_hnode *n = turn_htab_chain(&t->tcp_conns, h); n; n = n->next) {
		struct turn_tcp_conn *c = turn_container_of(n, struct turn_tcp_conn, node);

		if (n->hash == h && c->id == id)
			return c;
	}
	return NULL;
}

static unsigned turn_tcp_count(struct turn_server *t, const struct turn_alloc *a,
			       const struct nts_addr *peer, bool *dup)
{
	unsigned n = 0;

	*dup = false;
	for (struct turn_list *l = t->tcp_list.next; l != &t->tcp_list; l = l->next) {
		struct turn_tcp_conn *c = turn_container_of(l, struct turn_tcp_conn, link);

		if (c->alloc != a)
			continue;
		n++;
		if (peer && nts_addr_equal(&c->peer, peer, true))
			*dup = true;
	}
	return n;
}

/* A new connection of a with peer on fd, watched for events (0: only errors and hang-ups). */
/* The connect (§5.2, 447 after it) or ConnectionBind (§5.2/§5.3) deadline: --tcp-connect-timeout,
 * else the RFC's 30 s. */
static uint64_t tcp_deadline_ms(const struct turn_server *t, int state)
{
	uint32_t s = t->cfg->tcp_connect_timeout;

	if (!s)
		s = state == TURN_TCP_CONNECTING ? TURN_TCP_CONNECT_TIMEOUT : TURN_TCP_BIND_TIMEOUT;
	return s * 1000ull;
}

static struct turn_tcp_conn *turn_tcp_conn_new(struct turn_server *t, struct turn_alloc *a, int fd,
					       const struct nts_addr *peer, uint8_t state,
					       uint32_t events)
{
	struct turn_tcp_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->t = t;
	c->alloc = a;
	c->fd = fd;
	c->peer = *peer;
	c->state = state;
	c->timer.kind = TURN_T_TCP;
	do
		c->id = (uint32_t)turn_mix64(t->seed ^ ((uint64_t)++t->next_conn_seq << 20));
	while (!c->id || turn_tcp_find(t, c->id));
	if (loop_add(t->loop, fd, events, turn_tcp_data_event, c) < 0) {
		free(c);
		return NULL;
	}
	c->watched = true;
	turn_htab_insert(&t->tcp_conns, &c->node, turn_tcp_hash(t, c->id));
	turn_list_add(&t->tcp_list, &c->link);
	turn_timer_arm(t->wheel, &c->timer, turn_now_ms(t) + tcp_deadline_ms(t, state));
	return c;
}

/* Frees c; its client data connection (if any) must already be closed or never have been. */
void turn_tcp_conn_free(struct turn_tcp_conn *c)
{
	struct turn_server *t = c->t;

	turn_tcp_log(c, "closed");
	turn_timer_cancel(&c->timer);
	if (c->fd >= 0) {
		if (c->watched)
			loop_del(t->loop, c->fd);
		close(c->fd);
	}
	turn_htab_remove(&t->tcp_conns, &c->node);
	turn_list_del(&c->link);
	free(c->req);
	free(c->c2p);
	free(c);
}

/* Closes the peer side of c; a bound client data connection is closed too and c goes when net
 * says it is gone (turn_tcp_data_closed). */
void turn_tcp_conn_close(struct turn_tcp_conn *c)
{
	struct turn_server *t = c->t;

	if (c->state != TURN_TCP_BOUND || !c->data) {
		turn_tcp_conn_free(c);
		return;
	}
	turn_timer_cancel(&c->timer);
	if (c->fd >= 0) {
		if (c->watched)
			loop_del(t->loop, c->fd);
		close(c->fd);
		c->fd = -1;
		c->watched = false;
	}
	t->shooks.close(t->shooks_arg, c->data);
}

int turn_tcp_alloc_attach(struct turn_server *t, struct turn_alloc *a, const struct turn_relay *r)
{
	struct turn_relay *rr = &a->relay[0];
	int rc;

	*rr = *r; /* with the advertised address Allocate chose */
	rr->alloc = a;
	a->tcp = true;
	a->nrelay = 1;
	turn_htab_insert(&t->by_relay, &rr->node, nts_addr_hash(&rr->local, true, t->seed));
	rc = loop_add(t->loop, rr->fd, EPOLLIN, turn_tcp_accept, rr);
	return rc;
}

/* §5.3: an incoming peer connection needs a permission; the client hears of it through a
 * ConnectionAttempt indication and has 30 s to bind it. */
void turn_tcp_accept(void *arg, int fd, uint32_t events)
{
	struct turn_relay *r = arg;
	struct turn_alloc *a = r->alloc;
	struct turn_server *t = a->server;

	for (int i = 0; i < 16; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		struct nts_addr peer;
		struct turn_tcp_conn *c;
		uint8_t buf[TURN_MAX_RESPONSE];
		struct stun_builder b;
		uint8_t tid[STUN_TID_LEN];
		bool dup;
		int pfd = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (pfd < 0)
			return;
		if (nts_addr_from_sockaddr(&peer, (struct sockaddr *)&ss) < 0 ||
		    turn_policy_denies(t, &peer) || !turn_perm_find(t, a, &peer) ||
		    turn_tcp_count(t, a, NULL, &dup) >= TURN_TCP_MAX_CONNS) {
			close(pfd);
			continue;
		}
		c = turn_tcp_conn_new(t, a, pfd, &peer, TURN_TCP_PENDING, 0);
		if (!c) {
			close(pfd);
			continue;
		}
		turn_tcp_log(c, "incoming peer connection");
		for (int k = 0; k < STUN_TID_LEN; k++)
			tid[k] = (uint8_t)(turn_mix64(t->seed ^ ++t->next_tid) >> 8);
		stun_build_init(&b, buf, sizeof(buf), TURN_CONNECTION_ATTEMPT, STUN_INDICATION,
				tid);
		stun_put_xor_addr(&b, STUN_ATTR_XOR_PEER_ADDRESS, &peer);
		stun_put_u32(&b, STUN_ATTR_CONNECTION_ID, c->id);
		stun_put_fingerprint(&b);
		turn_send_stun(t, &a->origin, &b, NULL);
	}
}

static void turn_tcp_answer(struct turn_server *t, const struct nts_origin *o, uint16_t method,
			    const uint8_t *tid, const struct auth_result *r, uint32_t id)
{
	uint8_t buf[TURN_MAX_RESPONSE];
	struct stun_builder b;

	stun_build_init(&b, buf, sizeof(buf), method, STUN_SUCCESS, tid);
	if (id)
		stun_put_u32(&b, STUN_ATTR_CONNECTION_ID, id);
	turn_send_stun(t, o, &b, r);
}

/* The outgoing connection of c came up (ok) or failed: answer its Connect (§5.2). */
void turn_tcp_connect_done(struct turn_tcp_conn *c, bool ok)
{
	struct turn_server *t = c->t;
	struct turn_tcp_connect_req *q = c->req;
	struct stun_msg m = {.method = TURN_CONNECT, .cls = STUN_REQUEST};

	c->req = NULL;
	turn_tcp_log(c, ok ? "connected" : "connect failed (447)");
	if (!ok) {
		memcpy(m.tid, q->tid, STUN_TID_LEN);
		turn_answer_error(t, &q->o, &m, &q->r, 447);
		free(q);
		turn_tcp_conn_free(c);
		return;
	}
	c->state = TURN_TCP_PENDING;
	loop_mod(t->loop, c->fd, 0); /* nothing is read before ConnectionBind */
	turn_timer_arm(t->wheel, &c->timer, turn_now_ms(t) + tcp_deadline_ms(t, TURN_TCP_PENDING));
	turn_tcp_answer(t, &q->o, TURN_CONNECT, q->tid, &q->r, c->id);
	free(q);
}

void turn_tcp_handle_connect(struct turn_server *t, const struct nts_origin *o,
			     const struct stun_msg *m, const struct auth_result *r,
			     struct turn_alloc *a)
{
	const struct stun_attr *pa = stun_find(m, STUN_ATTR_XOR_PEER_ADDRESS);
	struct sockaddr_storage ss;
	struct turn_tcp_conn *c;
	struct nts_addr peer;
	socklen_t sl;
	bool dup;
	int fd;

	if (!a->tcp) {
		turn_answer_error(t, o, m, r, 400); /* §5.2: not a TCP allocation */
		return;
	}
	if (!pa || stun_attr_get_xor_addr(m, pa, &peer) < 0 || !peer.port) {
		turn_answer_error(t, o, m, r, 400);
		return;
	}
	if (peer.family != a->relay[0].local.family) {
		turn_answer_error(t, o, m, r, 443);
		return;
	}
	if (turn_policy_denies(t, &peer)) {
		t->stats->peer_denied_by_policy++;
		turn_answer_error(t, o, m, r, 403);
		return;
	}
	if (turn_tcp_count(t, a, &peer, &dup) >= TURN_TCP_MAX_CONNS) {
		turn_answer_error(t, o, m, r, 508);
		return;
	}
	if (dup) {
		turn_answer_error(t, o, m, r, 446); /* pending or active with this peer */
		return;
	}
	fd = turn_tcp_socket(&a->relay[0].local);
	if (fd < 0) {
		turn_answer_error(t, o, m, r, 447);
		return;
	}
	sl = nts_addr_to_sockaddr(&peer, &ss);
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
		close(fd);
		turn_answer_error(t, o, m, r, 447);
		return;
	}
	c = turn_tcp_conn_new(t, a, fd, &peer, TURN_TCP_CONNECTING, EPOLLOUT);
	if (c)
		c->req = malloc(sizeof(*c->req));
	if (!c || !c->req) {
		if (c)
			turn_tcp_conn_free(c);
		else
			close(fd);
		turn_answer_error(t, o, m, r, 500);
		return;
	}
	c->req->o = *o;
	memcpy(c->req->tid, m->tid, STUN_TID_LEN);
	c->req->r = *r;
}

void turn_tcp_handle_connection_bind(struct turn_server *t, const struct nts_origin *o,
				     const struct stun_msg *m, const struct auth_result *r)
{
	struct turn_tcp_conn *c;
	uint32_t id;

	/* §5.4: on a new TCP or TLS connection, naming a connection waiting for its bind. */
	if (o->transport == NTS_UDP || !o->stream || !t->shooks.make_raw ||
	    stun_attr_get_connection_id(stun_find(m, STUN_ATTR_CONNECTION_ID), &id) < 0 ||
	    !(c = turn_tcp_find(t, id)) || c->state != TURN_TCP_PENDING || !c->alloc ||
	    turn_alloc_find(t, o)) {
		turn_answer_error(t, o, m, r, 400);
		return;
	}
	/* RFC 8656 §5: the credentials of the allocation. */
	if (strcmp(c->alloc->user->name, r->username)) {
		turn_answer_error(t, o, m, r, 441);
		return;
	}
	turn_tcp_answer(t, o, TURN_CONNECTION_BIND, m->tid, r, 0);
	if (t->shooks.make_raw(t->shooks_arg, o->stream, &turn_tcp_raw_ops, c) < 0) {
		turn_tcp_conn_free(c);
		return;
	}
	turn_timer_cancel(&c->timer);
	turn_tcp_log(c, "bound to a client data connection");
	c->state = TURN_TCP_BOUND;
	c->data = o->stream;
	c->data_origin = *o;
	turn_tcp_data_start(c);
}

void turn_tcp_timer_expired(struct turn_server *t, struct turn_timer *tm)
{
	struct turn_tcp_conn *c = turn_container_of(tm, struct turn_tcp_conn, timer);

	if (c->state == TURN_TCP_CONNECTING && c->req) {
		turn_tcp_connect_done(c, false); /* §5.2: 447 after the timeout */
	} else if (c->state != TURN_TCP_BOUND) {
		turn_tcp_log(c, "no ConnectionBind in time");
		turn_tcp_conn_free(c); /* §5.2/§5.3: no ConnectionBind in 30 s */
	}
}

void turn_tcp_alloc_deleted(struct turn_server *t, struct turn_alloc *a)
{
	struct turn_list *l = t->tcp_list.next;

	while (l != &t->tcp_list) {
		struct turn_tcp_conn *c = turn_container_of(l, struct turn_tcp_conn, link);

		l = l->next;
		if (c->alloc != a)
			continue;
		c->alloc = NULL;
		turn_tcp_conn_close(c);
	}
}

unsigned turn_tcp_drop_denied(struct turn_server *t)
{
	struct turn_list *l = t->tcp_list.next;
	unsigned n = 0;

	while (l != &t->tcp_list) {
		struct turn_tcp_conn *c = turn_container_of(l, struct turn_tcp_conn, link);

		l = l->next;
		if (!turn_policy_denies(t, &c->peer))
			continue;
		n++;
		turn_tcp_log(c, "peer refused by the policy now");
		if (c->state == TURN_TCP_CONNECTING && c->req)
			turn_tcp_connect_done(c, false);
		else
			turn_tcp_conn_close(c);
	}
	return n;
}

void turn_tcp_free_all(struct turn_server *t)
{
	while (!turn_list_empty(&t->tcp_list)) {
		struct turn_tcp_conn *c =
		    turn_container_of(t->tcp_list.next, struct turn_tcp_conn, link);

		turn_tcp_conn_free(c);
	}
}
