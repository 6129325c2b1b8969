/* The host's own addresses as peers (user/turn/policy.c, turn_set_host_addrs()): refused with 403
 * on CreatePermission and ChannelBind even inside an allowed prefix, allowed only when named
 * exactly, and permissions and channels that already exist stop relaying (userspace and the
 * fast-path hooks) once their peer becomes a host address. Peers are on loopback.
 */
#include "test_turn_harness.h"

/* A harness whose --allow-peer rules are allow[0..n) (no default loopback rules). */
static struct harness *h_new_allowing(const char *const *allow, unsigned n)
{
	struct harness *h = calloc(1, sizeof(*h));

	assert_non_null(h);
	h_config(&h->cfg, false);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(nts_cidr_parse(&h->cfg.allow_peer[i], allow[i]), 0);
	h->cfg.nallow_peer = n;
	h_start(h);
	return h;
}

/* Makes addrs[0..n) (bare addresses or prefixes) the host's addresses. */
static void h_host_addrs(struct harness *h, const char *const *addrs, unsigned n)
{
	struct nts_cidr c[8];

	assert_true(n <= 8);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(nts_cidr_parse(&c[i], addrs[i]), 0);
	assert_int_equal(turn_set_host_addrs(h->t, c, n), 0);
}

static void h_add_v6(struct stun_builder *b, const void *arg)
{
	stun_put_transport(b, 17);
	stun_put_family(b, STUN_ATTR_REQUESTED_ADDRESS_FAMILY, AF_INET6);
}

static int h_bind_to(struct harness *h, const struct nts_origin *o, uint16_t ch, const char *peer)
{
	struct nts_addr p;

	h_addr(&p, peer);
	return h_channel_bind(h, o, ch, &p);
}

/* A wider allowed prefix (127.0.0.0/8, ::/127) is no permission to relay to the host itself. */
static void test_permission_and_channel_to_a_host_address_get_403(void **state)
{
	static const char *const allow[] = {"127.0.0.0/8", "::/127"};
	static const char *const host[] = {"127.0.0.1", "::1"};
	struct harness *h = h_new_allowing(allow, 2);
	struct nts_origin o4 = h_origin("127.0.0.1:43001", NULL);
	struct nts_origin o6 = h_origin("127.0.0.1:43002", NULL);

	h_host_addrs(h, host, 2);
	h_allocate(h, &o4);
	assert_int_equal(h_permit(h, &o4, "127.0.0.1:0"), 403);
	assert_int_equal(h_permit(h, &o4, "[::ffff:127.0.0.1]:0"), 443); /* IPv6: no relay */
	assert_int_equal(h_bind_to(h, &o4, 0x4001, "127.0.0.1:5000"), 403);
	assert_int_equal(h_permit(h, &o4, "127.0.0.2:0"), 0); /* not a host address */
	assert_int_equal(h_request(h, &o6, TURN_ALLOCATE, h_add_v6, NULL), 0);
	assert_int_equal(h_permit(h, &o6, "[::1]:0"), 403);
	assert_int_equal(h_permit(h, &o6, "[::ffff:127.0.0.1]:0"), 403); /* mapped host address */
	assert_int_equal(h_bind_to(h, &o6, 0x4002, "[::1]:5000"), 403);
	assert_int_equal(h->stats.permissions_current, 1);
	assert_int_equal(h->stats.channels_current, 0);
	h_free(h);
}

/* An --allow-peer naming the address itself (/32, /128) lets it through. */
static void test_allow_naming_the_host_address_overrides(void **state)
{
	static const char *const allow[] = {"127.0.0.1/32", "::1/128"};
	static const char *const host[] = {"127.0.0.1", "::1"};
	struct harness *h = h_new_allowing(allow, 2);
	struct nts_origin o4 = h_origin("127.0.0.1:43003", NULL);
	struct nts_origin o6 = h_origin("127.0.0.1:43004", NULL);

	h_host_addrs(h, host, 2);
	h_allocate(h, &o4);
	assert_int_equal(h_permit(h, &o4, "127.0.0.1:0"), 0);
	assert_int_equal(h_bind_to(h, &o4, 0x4001, "127.0.0.1:5000"), 0);
	assert_int_equal(h_request(h, &o6, TURN_ALLOCATE, h_add_v6, NULL), 0);
	assert_int_equal(h_permit(h, &o6, "[::1]:0"), 0);
	assert_int_equal(h_bind_to(h, &o6, 0x4002, "[::1]:5000"), 0);
	h_free(h);
}

/* The configured --relay-ip and --external-ip (a NAT's address, on no interface) are the host's
 * own even before any interface address is known. */
static void test_configured_relay_and_external_addresses_are_refused(void **state)
{
	static const char *const allow[] = {"127.0.0.0/8", "198.51.100.0/24"};
	struct harness *h = calloc(1, sizeof(*h));
	struct nts_origin o = h_origin("127.0.0.1:43005", NULL);

	assert_non_null(h);
	h_config(&h->cfg, false);
	for (unsigned i = 0; i < 2; i++)
		assert_int_equal(nts_cidr_parse(&h->cfg.allow_peer[i], allow[i]), 0);
	h->cfg.nallow_peer = 2;
	h_addr(&h->cfg.relay_ip[0], "127.0.0.3:0");
	h->cfg.nrelay_ip = 1;
	h_addr(&h->cfg.external_ip[0], "198.51.100.7:0");
	h->cfg.nexternal_ip = 1;
	h_start(h);
	h_allocate(h, &o);
	assert_int_equal(h_permit(h, &o, "127.0.0.3:0"), 403);
	assert_int_equal(h_permit(h, &o, "198.51.100.7:0"), 403);
	assert_int_equal(h_permit(h, &o, "198.51.100.8:0"), 0);
	/* Interface addresses come on top of them, never instead. */
	h_host_addrs(h, NULL, 0);
	assert_int_equal(h_permit(h, &o, "198.51.100.7:0"), 403);
	h_free(h);
}

/* A peer that becomes a host address at run time: its channel and permission go as if expired
 * (the fast-path hooks hear it), Send and ChannelData to it and its datagrams stop. IPv4. */
static void
test_existing_permission_and_channel_stop_when_the_peer_becomes_a_host_address(void **state)
{
	static const char *const allow[] = {"127.0.0.0/8"};
	static const char *const host[] = {"127.0.0.1"};
	struct harness *h = h_new_allowing(allow, 1);
	struct nts_origin o = h_origin("127.0.0.1:43006", NULL);
	struct nts_addr relay = h_allocate(h, &o), peer_addr;
	int peer = h_peer_socket(&peer_addr);
	uint8_t buf[2048];
	unsigned from_ev, before;

	assert_int_equal(h_channel_bind(h, &o, 0x4321, &peer_addr), 0);
	turn_handle_channeldata(h->t, &o, 0x4321, (const uint8_t *)"abcde", 5);
	turn_relay_flush(h->t);
	assert_int_equal(h_recv(peer, buf, sizeof(buf), NULL), 5);

	from_ev = h->nev;
	h_host_addrs(h, host, 1);
	assert_true(h_find_ev(h, "channel_del", from_ev) >= 0);
	assert_true(h_find_ev(h, "perm_del", from_ev) > h_find_ev(h, "channel_del", from_ev));
	assert_int_equal(h->stats.permissions_current, 0);
	assert_int_equal(h->stats.channels_current, 0);
	turn_handle_channeldata(h->t, &o, 0x4321, (const uint8_t *)"abcde", 5);
	turn_relay_flush(h->t);
	assert_true(h_nothing(peer));
	before = h->ncap;
	h_sendto(peer, &relay, "vwxyz", 5);
	h_relay_readable(h, &relay);
	assert_int_equal(h->ncap, before); /* no permission: dropped */
	/* A new binding to it is refused now. */
	assert_int_equal(h_channel_bind(h, &o, 0x4321, &peer_addr), 403);
	close(peer);
	h_free(h);
}

/* The same for an IPv6 peer, judged at the hooks and counters; other peers keep theirs. */
static void test_existing_ipv6_permission_goes_when_the_peer_becomes_a_host_address(void **state)
{
	static const char *const allow[] = {"::/127", "2001:db8::/32"};
	static const char *const host[] = {"::1"};
	struct harness *h = h_new_allowing(allow, 2);
	struct nts_origin o = h_origin("127.0.0.1:43007", NULL);
	unsigned from_ev;
	int del;

	assert_int_equal(h_request(h, &o, TURN_ALLOCATE, h_add_v6, NULL), 0);
	assert_int_equal(h_bind_to(h, &o, 0x4003, "[::1]:5000"), 0);
	assert_int_equal(h_permit(h, &o, "[2001:db8::5]:0"), 0); /* policy only */
	assert_int_equal(h->stats.permissions_current, 2);
	from_ev = h->nev;
	h_host_addrs(h, host, 1);
	assert_true(h_find_ev(h, "channel_del", from_ev) >= 0);
	del = h_find_ev(h, "perm_del", from_ev);
	assert_true(del >= 0);
	assert_int_equal(h->ev[del].peer.family, AF_INET6);
	assert_int_equal(h_find_ev(h, "perm_del", (unsigned)del + 1), -1);
	assert_int_equal(h->stats.permissions_current, 1);
	assert_int_equal(h->stats.channels_current, 0);
	assert_int_equal(h_permit(h, &o, "[::1]:0"), 403);
	h_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_permission_and_channel_to_a_host_address_get_403),
	    cmocka_unit_test(test_allow_naming_the_host_address_overrides),
	    cmocka_unit_test(test_configured_relay_and_external_addresses_are_refused),
	    cmocka_unit_test(
		test_existing_permission_and_channel_stop_when_the_peer_becomes_a_host_address),
	    cmocka_unit_test(
		test_existing_ipv6_permission_goes_when_the_peer_becomes_a_host_address),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
