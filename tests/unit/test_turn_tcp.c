/* RFC 6062 TCP allocations through TURN alone (net stood in for by stream hooks that record what
 * TURN asks): who may get a TCP relay, Connect's errors, ConnectionAttempt and its permission,
 * ConnectionBind's checks, the 30 s deadline, and teardown with the allocation. The byte relay is
 * checked end to end by tests/interop/turn_tcp_relay.sh.
 */
#include "test_turn_harness.h"

#include "turn/tcp_relay.h"

struct h_streams {
	unsigned made_raw, closed;
	struct net_stream *raw_stream;
	const struct turn_raw_ops *ops;
	void *ops_arg;
};
static struct h_streams hs;

static int hs_make_raw(void *arg, struct net_stream *s, const struct turn_raw_ops *ops,
		       void *ops_arg)
{
	hs.made_raw++;
	hs.raw_stream = s;
	hs.ops = ops;
	hs.ops_arg = ops_arg;
	return 0;
}
static void hs_pause(void *arg, struct net_stream *s, bool paused)
{
}
static size_t hs_queued(void *arg, const struct net_stream *s)
{
	return 0;
}
static void hs_close(void *arg, struct net_stream *s)
{
	hs.closed++;
}
static const struct turn_stream_hooks hs_hooks = {hs_make_raw, hs_pause, hs_queued, hs_close, NULL};

static struct harness *h_tcp_new(void)
{
	struct harness *h = h_new(true);

	memset(&hs, 0, sizeof(hs));
	turn_set_stream_hooks(h->t, &hs_hooks, h);
	return h;
}

/* A TCP client origin; tag makes the (never dereferenced) stream pointer unique. */
static struct nts_origin h_tcp_origin(const char *client, void *tag)
{
	struct nts_origin o = h_origin(client, NULL);

	o.transport = NTS_TCP;
	o.stream = (struct net_stream *)tag;
	return o;
}

static void h_add_tcp(struct stun_builder *b, const void *arg)
{
	stun_put_transport(b, 6);
}

static void h_add_tcp_even(struct stun_builder *b, const void *arg)
{
	stun_put_transport(b, 6);
	stun_put_even_port(b, false);
}

static void h_add_conn_id(struct stun_builder *b, const void *arg)
{
	stun_put_u32(b, STUN_ATTR_CONNECTION_ID, *(const uint32_t *)arg);
}

static struct nts_addr h_tcp_allocate(struct harness *h, const struct nts_origin *o)
{
	struct nts_addr relay;

	assert_int_equal(h_request(h, o, TURN_ALLOCATE, h_add_tcp, NULL), 0);
	assert_int_equal(stun_attr_get_xor_addr(
			     &h->resp, stun_find(&h->resp, STUN_ATTR_XOR_RELAYED_ADDRESS), &relay),
			 0);
	return relay;
}

static int h_tcp_connect_to(const struct nts_addr *to)
{
	struct sockaddr_storage ss;
	socklen_t sl = nts_addr_to_sockaddr(to, &ss);
	int fd = socket(to->family, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&ss, sl), 0);
	return fd;
}

/* True when the server side of fd is gone (EOF or reset) within 5 s. */
static bool h_peer_closed(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char c;

	if (poll(&p, 1, 5000) <= 0)
		return false;
	return recv(fd, &c, 1, MSG_DONTWAIT) <= 0;
}

/* RFC 6062 §5.1: TCP relays only for clients on TCP or TLS. */
static void test_tcp_allocation_over_udp_gets_400(void **state)
{
	struct harness *h = h_tcp_new();
	struct nts_origin o = h_origin("127.0.0.1:41001", NULL);

	assert_int_equal(h_request(h, &o, TURN_ALLOCATE, h_add_tcp, NULL), 400);
	assert_int_equal(h->stats.allocations_created, 0);
	h_free(h);
}

/* RFC 6062 §5.1: EVEN-PORT (like DONT-FRAGMENT, RESERVATION-TOKEN) is a 400 for TCP. */
static void test_tcp_allocation_with_even_port_gets_400(void **state)
{
	struct harness *h = h_tcp_new();
	struct nts_origin o = h_tcp_origin("127.0.0.1:41002", &hs);

	assert_int_equal(h_request(h, &o, TURN_ALLOCATE, h_add_tcp_even, NULL), 400);
	h_free(h);
}

/* Without a net that can hand over data connections, TCP is an unsupported transport. */
static void test_tcp_allocation_without_stream_hooks_gets_442(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_tcp_origin("127.0.0.1:41003", h);

	assert_int_equal(h_request(h, &o, TURN_ALLOCATE, h_add_tcp, NULL), 442);
	h_free(h);
}

static int relay_transport_of(void *arg, const struct turn_alloc_info *a)
{
	*(enum nts_transport *)arg = a->relay_transport;
	return 0;
}

/* RFC 6062 §5.1: the relayed transport address is a listening TCP socket. */
static void test_tcp_allocation_listens_on_its_relayed_address(void **state)
{
	struct harness *h = h_tcp_new();
	struct nts_origin o = h_tcp_origin("127.0.0.1:41004", &hs);
	struct nts_addr relay = h_tcp_allocate(h, &o);
	int fd = h_tcp_connect_to(&relay);
	enum nts_transport seen = NTS_UDP;

	close(fd);
	/* Listings (ntsctl allocations) say the relay is TCP. */
	assert_int_equal(turn_foreach_alloc(h->t, relay_transport_of, &seen), 0);
	assert_int_equal(seen, NTS_TCP);
	h_free(h);
}

/* RFC 6062 §5.2: Connect on a UDP allocation is a 400; a peer the policy denies a 403; a second
 * Connect to a peer with a connection pending a 446. */
static void test_connect_errors(void **state)
{
	struct harness *h = h_tcp_new();
	struct nts_origin ou = h_tcp_origin("127.0.0.1:41005", &hs.made_raw);
	struct nts_origin ot = h_tcp_origin("127.0.0.1:41006", &hs.closed);
	struct nts_addr denied, listening, nine;
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
	socklen_t sl = sizeof(sin);

	assert_int_equal(bind(ls, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(ls, 4), 0);
	assert_int_equal(getsockname(ls, (struct sockaddr *)&sin, &sl), 0);
	assert_int_equal(nts_addr_from_sockaddr(&listening, (struct sockaddr *)&sin), 0);
	h_allocate(h, &ou);
	h_addr(&nine, "127.0.0.1:9");
	assert_int_equal(h_request(h, &ou, TURN_CONNECT, h_add_peer, &nine), 400);
	h_tcp_allocate(h, &ot);
	h_addr(&denied, "169.254.1.1:80");
	assert_int_equal(h_request(h, &ot, TURN_CONNECT, h_add_peer, &denied), 403);
	{
		/* The first is answered when the connection completes (on the loop). */
		unsigned before = h->ncap;
		uint8_t nonce[256], req[512];
		size_t nl = h_nonce(h, &ot, nonce);
		size_t len = h_build(h, req, sizeof(req), TURN_CONNECT, STUN_REQUEST, NULL,
				     h_add_peer, &listening, &h_alice, nonce, nl);

		assert_int_equal(h_deliver(h, &ot, req, len), 0);
		assert_int_equal(h->ncap, before);
		assert_int_equal(h_request(h, &ot, TURN_CONNECT, h_add_peer, &listening), 446);
	}
	close(ls);
	h_free(h);
}

/* RFC 6062 §5.4: ConnectionBind naming no pending connection, or over UDP, is a 400. */
static void test_connection_bind_errors(void **state)
{
	struct harness *h = h_tcp_new();
	struct nts_origin o = h_tcp_origin("127.0.0.1:41007", &hs);
	struct nts_origin ou = h_origin("127.0.0.1:41008", NULL);
	uint32_t id = 0x12345678;

	assert_int_equal(h_request(h, &o, TURN_CONNECTION_BIND, h_add_conn_id, &id), 400);
	assert_int_equal(h_request(h, &ou, TURN_CONNECTION_BIND, h_add_conn_id, &id), 400);
	assert_int_equal(hs.made_raw, 0);
	h_free(h);
}

/* RFC 6062: a TCP allocation has no channels. */
static void test_channel_bind_on_a_tcp_allocation_gets_400(void **state)
{
	struct harness *h = h_tcp_new();
	struct nts_origin o = h_tcp_origin("127.0.0.1:41009", &hs);
	struct nts_addr peer;

	h_addr(&peer, "127.0.0.1:5000");
	h_tcp_allocate(h, &o);
	assert_int_equal(h_channel_bind(h, &o, 0x4000, &peer), 400);
	h_free(h);
}

/* RFC 6062 §5.3: a peer without a permission is closed at once and the client hears nothing. */
static void test_incoming_peer_without_permission_is_closed(void **state)
{
	struct harness *h = h_tcp_new();
	struct nts_origin o = h_tcp_origin("127.0.0.1:41010", &hs);
	struct nts_addr relay = h_tcp_allocate(h, &o);
	struct turn_alloc *a = turn_alloc_find(h->t, &o);
	unsigned before = h->ncap;
	int fd = h_tcp_connect_to(&relay);

	turn_tcp_accept(&a->relay[0], a->relay[0].fd, EPOLLIN);
	assert_true(h_peer_closed(fd));
	assert_int_equal(h->ncap, before);
	close(fd);
	h_free(h);
}

/* RFC 6062 §5.3/§5.4: a permitted peer is announced by ConnectionAttempt (XOR-PEER-ADDRESS,
 * CONNECTION-ID); ConnectionBind with the same credentials on a new connection makes it raw. */
static void test_incoming_peer_is_announced_and_bound(void **state)
{
	struct harness *h = h_tcp_new();
	struct nts_origin o = h_tcp_origin("127.0.0.1:41011", &hs);
	struct nts_origin d = h_tcp_origin("127.0.0.1:41012", &hs.ops);
	struct nts_origin other = h_tcp_origin("127.0.0.1:41013", &hs.ops_arg);
	struct nts_addr relay = h_tcp_allocate(h, &o), peer, local;
	struct turn_alloc *a = turn_alloc_find(h->t, &o);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	unsigned before;
	uint32_t id;
	int fd;

	assert_int_equal(h_permit(h, &o, "127.0.0.1:0"), 0);
	fd = h_tcp_connect_to(&relay);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &sl), 0);
	assert_int_equal(nts_addr_from_sockaddr(&local, (struct sockaddr *)&ss), 0);
	before = h->ncap;
	turn_tcp_accept(&a->relay[0], a->relay[0].fd, EPOLLIN);
	assert_int_equal(h->ncap, before + 1);
	h_parse(h, before);
	assert_int_equal(h->resp.method, TURN_CONNECTION_ATTEMPT);
	assert_int_equal(h->resp.cls, STUN_INDICATION);
	assert_int_equal(stun_attr_get_xor_addr(
			     &h->resp, stun_find(&h->resp, STUN_ATTR_XOR_PEER_ADDRESS), &peer),
			 0);
	assert_true(nts_addr_equal(&peer, &local, true));
	assert_int_equal(
	    stun_attr_get_connection_id(stun_find(&h->resp, STUN_ATTR_CONNECTION_ID), &id), 0);
	/* Other credentials: 441; the control connection itself: 400. */
	assert_int_equal(
	    h_request_tid(h, &other, TURN_CONNECTION_BIND, NULL, h_add_conn_id, &id, &h_bob), 441);
	assert_int_equal(h_request(h, &o, TURN_CONNECTION_BIND, h_add_conn_id, &id), 400);
	assert_int_equal(h_request(h, &d, TURN_CONNECTION_BIND, h_add_conn_id, &id), 0);
	assert_int_equal(hs.made_raw, 1);
	assert_ptr_equal(hs.raw_stream, d.stream);
	/* Bound once: a second bind of the same id is a 400. */
	assert_int_equal(h_request(h, &other, TURN_CONNECTION_BIND, h_add_conn_id, &id), 400);
	/* §5.5: deleting the allocation closes the data connection and the peer's. */
	turn_alloc_delete(h->t, a, false);
	assert_int_equal(hs.closed, 1);
	assert_true(h_peer_closed(fd));
	hs.ops->closed(hs.ops_arg); /* net frees the stream: the connection goes */
	close(fd);
	h_free(h);
}

/* RFC 6062 §5.3: without ConnectionBind the peer connection is closed after 30 s, not before. */
static void test_unbound_peer_is_dropped_after_30_seconds(void **state)
{
	struct harness *h = h_tcp_new();
	struct nts_origin o = h_tcp_origin("127.0.0.1:41014", &hs);
	struct nts_addr relay = h_tcp_allocate(h, &o);
	struct turn_alloc *a = turn_alloc_find(h->t, &o);
	uint64_t now = turn_now_ms(h->t);
	struct pollfd p;
	int fd;

	assert_int_equal(h_permit(h, &o, "127.0.0.1:0"), 0);
	fd = h_tcp_connect_to(&relay);
	turn_tcp_accept(&a->relay[0], a->relay[0].fd, EPOLLIN);
	turn_tick(h->t, now + (TURN_TCP_BIND_TIMEOUT - 2) * 1000);
	p = (struct pollfd){.fd = fd, .events = POLLIN};
	assert_int_equal(poll(&p, 1, 0), 0); /* still open */
	turn_tick(h->t, now + (TURN_TCP_BIND_TIMEOUT + 2) * 1000);
	assert_true(h_peer_closed(fd));
	close(fd);
	h_free(h);
}

/* The host's own address (inside the allowed 127.0.0.0/8): Connect to it is a 403, its incoming
 * connections are closed unannounced, and a connection it had is closed once it becomes one. */
static void test_host_address_peers_are_refused_and_dropped(void **state)
{
	struct harness *h = h_tcp_new();
	struct nts_origin o = h_tcp_origin("127.0.0.1:41015", &hs);
	struct nts_addr relay = h_tcp_allocate(h, &o), nine;
	struct turn_alloc *a = turn_alloc_find(h->t, &o);
	struct nts_cidr host;
	unsigned before;
	int fd, fd2;

	assert_int_equal(h_permit(h, &o, "127.0.0.1:0"), 0);
	fd = h_tcp_connect_to(&relay);
	before = h->ncap;
	turn_tcp_accept(&a->relay[0], a->relay[0].fd, EPOLLIN);
	assert_int_equal(h->ncap, before + 1); /* ConnectionAttempt: pending ConnectionBind */
	assert_int_equal(nts_cidr_parse(&host, "127.0.0.1"), 0);
	assert_int_equal(turn_set_host_addrs(h->t, &host, 1), 0);
	assert_true(h_peer_closed(fd));
	fd2 = h_tcp_connect_to(&relay);
	before = h->ncap;
	turn_tcp_accept(&a->relay[0], a->relay[0].fd, EPOLLIN);
	assert_true(h_peer_closed(fd2));
	assert_int_equal(h->ncap, before);
	h_addr(&nine, "127.0.0.1:9");
	assert_int_equal(h_request(h, &o, TURN_CONNECT, h_add_peer, &nine), 403);
	close(fd);
	close(fd2);
	h_free(h);
}

/* The relay transport a permission was mirrored with (the last perm_set hook event). */
static enum nts_transport h_perm_transport(struct harness *h)
{
	int i = -1, next;

	while ((next = h_find_ev(h, "perm_set", (unsigned)(i + 1))) >= 0)
		i = next;
	assert_true(i >= 0);
	return h->ev[i].transport;
}

/* The permission hook names the relay's transport, not the client's: the fast path mirrors only
 * UDP relays' permissions, so an RFC 6062 allocation's never reach the XDP maps, and a UDP
 * allocation made over TCP still does. */
static void test_permission_hook_names_the_relay_transport(void **state)
{
	struct harness *h = h_tcp_new();
	struct nts_origin otcp = h_tcp_origin("127.0.0.1:41020", &hs);
	struct nts_origin oudp = h_tcp_origin("127.0.0.1:41021", h);
	struct nts_addr peer;

	h_addr(&peer, "127.0.0.1:9");
	h_tcp_allocate(h, &otcp);
	assert_int_equal(h_request(h, &otcp, TURN_CREATE_PERMISSION, h_add_peer, &peer), 0);
	assert_int_equal(h_perm_transport(h), NTS_TCP);
	h_allocate(h, &oudp);
	assert_int_equal(h_request(h, &oudp, TURN_CREATE_PERMISSION, h_add_peer, &peer), 0);
	assert_int_equal(h_perm_transport(h), NTS_UDP);
	h_free(h);
}

/* A harness whose relay range is n ports from its even base. */
static struct harness *h_tcp_new_ports(unsigned n)
{
	struct harness *h = calloc(1, sizeof(*h));

	assert_non_null(h);
	h_config(&h->cfg, true);
	h->cfg.relay_port_max = h->cfg.relay_port_min + n - 1;
	h_start(h);
	memset(&hs, 0, sizeof(hs));
	turn_set_stream_hooks(h->t, &hs_hooks, h);
	return h;
}

/* One port in the range, held by a TCP relay: a UDP allocation gets 508 rather than the same
 * number (the fast path's maps key relays by address and port alone). */
static void test_udp_relay_never_takes_a_tcp_relays_port(void **state)
{
	struct harness *h = h_tcp_new_ports(1);
	struct nts_origin otcp = h_tcp_origin("127.0.0.1:41022", &hs);
	struct nts_origin oudp = h_origin("127.0.0.1:41023", NULL);

	assert_int_equal(h_tcp_allocate(h, &otcp).port, h->cfg.relay_port_min);
	assert_int_equal(h_request(h, &oudp, TURN_ALLOCATE, h_add_udp, NULL), 508);
	h_free(h);
}

static void h_add_udp_even_reserve(struct stun_builder *b, const void *arg)
{
	stun_put_transport(b, 17);
	stun_put_even_port(b, true);
}

/* Two ports, the second reserved (EVEN-PORT with R, RFC 8656 §7.2) for a later UDP allocation:
 * a TCP allocation gets 508 rather than that number. */
static void test_tcp_relay_never_takes_a_reserved_port(void **state)
{
	struct harness *h = h_tcp_new_ports(2);
	struct nts_origin oudp = h_origin("127.0.0.1:41024", NULL);
	struct nts_origin otcp = h_tcp_origin("127.0.0.1:41025", &hs);

	assert_int_equal(h->cfg.relay_port_min % 2, 0);
	assert_int_equal(h_request(h, &oudp, TURN_ALLOCATE, h_add_udp_even_reserve, NULL), 0);
	assert_int_equal(h_request(h, &otcp, TURN_ALLOCATE, h_add_tcp, NULL), 508);
	h_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tcp_allocation_over_udp_gets_400),
	    cmocka_unit_test(test_tcp_allocation_with_even_port_gets_400),
	    cmocka_unit_test(test_tcp_allocation_without_stream_hooks_gets_442),
	    cmocka_unit_test(test_tcp_allocation_listens_on_its_relayed_address),
	    cmocka_unit_test(test_connect_errors),
	    cmocka_unit_test(test_connection_bind_errors),
	    cmocka_unit_test(test_channel_bind_on_a_tcp_allocation_gets_400),
	    cmocka_unit_test(test_incoming_peer_without_permission_is_closed),
	    cmocka_unit_test(test_incoming_peer_is_announced_and_bound),
	    cmocka_unit_test(test_unbound_peer_is_dropped_after_30_seconds),
	    cmocka_unit_test(test_host_address_peers_are_refused_and_dropped),
	    cmocka_unit_test(test_permission_hook_names_the_relay_transport),
	    cmocka_unit_test(test_udp_relay_never_takes_a_tcp_relays_port),
	    cmocka_unit_test(test_tcp_relay_never_takes_a_reserved_port),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
