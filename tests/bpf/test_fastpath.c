/* The XDP fast path under BPF_PROG_TEST_RUN: crafted frames for every branch of bpf/fastpath.bpf.c,
 * both directions, IPv4 and IPv6, output checksums verified by full recomputation. Map entries are
 * written through user/fastpath (the same code ntsd uses), so the sync layer is exercised too.
 */
#include "fp_fixture.h"

/* RFC 8656 §12.4/§12.5: ChannelData from the client on a bound channel leaves as plain UDP from
 * the relay address to the peer; the peer is behind the arrival interface, so XDP_TX. */
static void c2p_forwards_by_tx(const struct net *n, void **state)
{
	struct fx *fx = *state;
	struct fp_spec s = {.tos = 0xb8};
	struct fp_frame in, out;
	struct nts_fp_alloc_counters d;

	bind_channel(fx, n, n->peer, now_ns() + FAR);
	client_frame(&in, n, CHANNEL, 0, &s);
	assert_int_equal(run(fx, &in, &out), XDP_TX);
	check_out(&out, n->v6, n->server, n->peer, RELAY_PORT, PEER_PORT, data, DLEN, PEER_MAC,
		  0xb8, false);
	assert_int_equal(stats(fx).c2p_packets, 1);
	assert_int_equal(stats(fx).c2p_bytes, DLEN);
	assert_int_equal(stats(fx).tx, 1);
	assert_int_equal(fastpath_alloc_counters(fx->fp, ALLOC, &d), 0);
	assert_int_equal(d.c2p_packets, 1);
	assert_int_equal(d.c2p_bytes, DLEN);
}

static void test_c2p_ipv4_forwarded_by_xdp_tx(void **state)
{
	c2p_forwards_by_tx(&net4, state);
}

static void test_c2p_ipv6_forwarded_by_xdp_tx(void **state)
{
	c2p_forwards_by_tx(&net6, state);
}

/* RFC 8656 §12.6: UDP from a peer with a bound channel reaches the client as ChannelData. */
static void p2c_forwards_by_tx(const struct net *n, void **state)
{
	struct fx *fx = *state;
	struct fp_spec s = {.tos = 0x2e};
	struct fp_frame in, out;
	uint8_t cd[256];
	size_t cdlen = fp_channeldata(cd, CHANNEL, data, DLEN, 0);

	bind_channel(fx, n, n->peer, now_ns() + FAR);
	peer_frame(&in, n, n->peer, &s);
	assert_int_equal(run(fx, &in, &out), XDP_TX);
	check_out(&out, n->v6, n->server, n->client, SERVER_PORT, CLIENT_PORT, cd, cdlen,
		  CLIENT_MAC, 0x2e, false);
	assert_int_equal(stats(fx).p2c_packets, 1);
	assert_int_equal(stats(fx).p2c_bytes, DLEN);
}

static void test_p2c_ipv4_forwarded_with_channeldata_header(void **state)
{
	p2c_forwards_by_tx(&net4, state);
}

static void test_p2c_ipv6_forwarded_with_channeldata_header(void **state)
{
	p2c_forwards_by_tx(&net6, state);
}

/* A peer behind another attached interface: redirect through the devmap. */
static void c2p_redirects(const struct net *n, void **state)
{
	struct fx *fx = *state;
	struct fp_spec s = {0};
	struct fp_frame in, out;

	bind_channel(fx, n, n->peer_b, now_ns() + FAR);
	client_frame(&in, n, CHANNEL, 0, &s);
	assert_int_equal(run(fx, &in, &out), XDP_REDIRECT);
	check_out(&out, n->v6, n->server, n->peer_b, RELAY_PORT, PEER_PORT, data, DLEN, PEER_B_MAC,
		  0, false);
	assert_int_equal(stats(fx).redirect, 1);
}

static void test_c2p_ipv4_to_other_interface_redirected(void **state)
{
	c2p_redirects(&net4, state);
}

static void test_c2p_ipv6_to_other_interface_redirected(void **state)
{
	c2p_redirects(&net6, state);
}

/* Without the egress interface in the devmap the program cannot send there: pass untouched. */
static void test_c2p_egress_not_in_devmap_passes_untouched(void **state)
{
	struct fx *fx = *state;
	struct fp_spec s = {0};
	struct fp_frame in;
	uint32_t b = fx->if_b;

	bind_channel(fx, &net4, net4.peer_b, now_ns() + FAR);
	bpf_map_delete_elem(fastpath_fds(fx->fp)->tx, &b);
	client_frame(&in, &net4, CHANNEL, 0, &s);
	assert_passed(fx, &in);
	assert_int_equal(stats(fx).pass_no_tx_port, 1);
}

/* RFC 768: an IPv4 datagram sent without a checksum is forwarded without one, both ways. */
static void test_ipv4_zero_udp_checksum_stays_zero(void **state)
{
	struct fx *fx = *state;
	struct fp_spec s = {.zero_csum = true};
	struct fp_frame in, out;
	uint8_t cd[256];
	size_t cdlen = fp_channeldata(cd, CHANNEL, data, DLEN, 0);

	bind_channel(fx, &net4, net4.peer, now_ns() + FAR);
	client_frame(&in, &net4, CHANNEL, 0, &s);
	assert_int_equal(run(fx, &in, &out), XDP_TX);
	check_out(&out, false, net4.server, net4.peer, RELAY_PORT, PEER_PORT, data, DLEN, PEER_MAC,
		  0, true);
	s = (struct fp_spec){.zero_csum = true};
	peer_frame(&in, &net4, net4.peer, &s);
	assert_int_equal(run(fx, &in, &out), XDP_TX);
	check_out(&out, false, net4.server, net4.client, SERVER_PORT, CLIENT_PORT, cd, cdlen,
		  CLIENT_MAC, 0, true);
}

/* Checksums stay right across many payloads and ports (incremental update vs recomputation). */
static void test_checksums_match_recomputation_for_many_payloads(void **state)
{
	struct fx *fx = *state;
	uint8_t payload[300], cd[320];
	struct fp_frame in, out;

	bind_channel(fx, &net6, net6.peer, now_ns() + FAR);
	bind_channel(fx, &net4, net4.peer, now_ns() + FAR);
	for (unsigned i = 0; i < 64; i++) {
		const struct net *n = i & 1 ? &net6 : &net4;
		size_t len = 1 + (i * 37) % 280;
		struct fp_spec s = {0};
		size_t cdlen;

		for (size_t j = 0; j < len; j++)
			payload[j] = (uint8_t)(i * 131 + j * 7 + (j >> 3));
		cdlen = fp_channeldata(cd, CHANNEL, payload, len, 0);
		s = (struct fp_spec){.v6 = n->v6,
				     .src = n->client,
				     .dst = n->server,
				     .sport = CLIENT_PORT,
				     .dport = SERVER_PORT,
				     .payload = cd,
				     .payload_len = cdlen};
		fp_build(&in, &s);
		assert_int_equal(run(fx, &in, &out), XDP_TX);
		check_out(&out, n->v6, n->server, n->peer, RELAY_PORT, PEER_PORT, payload, len,
			  PEER_MAC, 0, false);
		s = (struct fp_spec){.payload = payload, .payload_len = len};
		peer_frame(&in, n, n->peer, &s);
		assert_int_equal(run(fx, &in, &out), XDP_TX);
		check_out(&out, n->v6, n->server, n->client, SERVER_PORT, CLIENT_PORT, cd, cdlen,
			  CLIENT_MAC, 0, false);
	}
}

/* Link-layer padding after a short IP packet is trimmed, the datagram itself relayed. */
static void test_ethernet_trailer_is_trimmed(void **state)
{
	struct fx *fx = *state;
	struct fp_spec s = {.trailer = 6};
	struct fp_frame in, out;

	bind_channel(fx, &net4, net4.peer, now_ns() + FAR);
	client_frame(&in, &net4, CHANNEL, 0, &s);
	assert_int_equal(run(fx, &in, &out), XDP_TX);
	check_out(&out, false, net4.server, net4.peer, RELAY_PORT, PEER_PORT, data, DLEN, PEER_MAC,
		  0, false);
}

/* Channels are refreshed by ntsd; an entry past its expiry is left to userspace. */
static void test_expired_channel_passes_untouched(void **state)
{
	struct fx *fx = *state;
	struct fp_spec s = {0};
	struct fp_frame in;

	bind_channel(fx, &net4, net4.peer, 1);
	client_frame(&in, &net4, CHANNEL, 0, &s);
	assert_passed(fx, &in);
	s = (struct fp_spec){0};
	peer_frame(&in, &net4, net4.peer, &s);
	assert_passed(fx, &in);
	assert_int_equal(stats(fx).pass_expired, 2);
}

static void test_unbound_channel_number_passes_untouched(void **state)
{
	struct fx *fx = *state;
	struct fp_spec s = {0};
	struct fp_frame in;

	bind_channel(fx, &net6, net6.peer, now_ns() + FAR);
	client_frame(&in, &net6, CHANNEL + 1, 0, &s);
	assert_passed(fx, &in);
	assert_int_equal(stats(fx).c2p_packets, 0);
}

/* RFC 8656 §12.5: padding after the data is legal over UDP; userspace handles it. */
static void test_padded_channeldata_passes_untouched(void **state)
{
	struct fx *fx = *state;
	struct fp_spec s = {0};
	struct fp_frame in;

	bind_channel(fx, &net4, net4.peer, now_ns() + FAR);
	client_frame(&in, &net4, CHANNEL, 3, &s);
	assert_passed(fx, &in);
	assert_int_equal(stats(fx).pass_channel_length, 1);
}

static void test_stun_to_listen_address_passes_untouched(void **state)
{
	struct fx *fx = *state;
	static const uint8_t binding[20] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42};
	struct fp_spec s = {.payload = binding, .payload_len = sizeof(binding)};
	struct fp_frame in;

	bind_channel(fx, &net4, net4.peer, now_ns() + FAR);
	s.v6 = false, s.src = net4.client, s.dst = net4.server;
	s.sport = CLIENT_PORT, s.dport = SERVER_PORT;
	fp_build(&in, &s);
	assert_passed(fx, &in);
}

static void test_ipv4_fragment_passes_untouched(void **state)
{
	struct fx *fx = *state;
	struct fp_spec s = {.more_frags = true};
	struct fp_frame in;

	bind_channel(fx, &net4, net4.peer, now_ns() + FAR);
	client_frame(&in, &net4, CHANNEL, 0, &s);
	assert_passed(fx, &in);
	assert_int_equal(stats(fx).pass_fragment, 1);
}

static void test_ipv6_fragment_header_passes_untouched(void **state)
{
	struct fx *fx = *state;
	struct fp_spec s = {.v6_frag_hdr = true};
	struct fp_frame in;

	bind_channel(fx, &net6, net6.peer, now_ns() + FAR);
	peer_frame(&in, &net6, net6.peer, &s);
	assert_passed(fx, &in);
	assert_int_equal(stats(fx).pass_fragment, 1);
}

static void test_ipv4_options_pass_untouched(void **state)
{
	struct fx *fx = *state;
	struct fp_spec s = {.ip_options = true};
	struct fp_frame in;

	bind_channel(fx, &net4, net4.peer, now_ns() + FAR);
	client_frame(&in, &net4, CHANNEL, 0, &s);
	assert_passed(fx, &in);
	assert_int_equal(stats(fx).pass_ip_options, 1);
}

static void test_tcp_passes_untouched(void **state)
{
	struct fx *fx = *state;
	struct fp_spec s = {.proto = IPPROTO_TCP};
	struct fp_frame in;

	bind_channel(fx, &net4, net4.peer, now_ns() + FAR);
	client_frame(&in, &net4, CHANNEL, 0, &s);
	assert_passed(fx, &in);
	assert_int_equal(stats(fx).pass_not_udp, 1);
}

static void test_ttl_one_passes_untouched(void **state)
{
	struct fx *fx = *state;
	struct fp_spec s = {.ttl = 1};
	struct fp_frame in;

	bind_channel(fx, &net6, net6.peer, now_ns() + FAR);
	client_frame(&in, &net6, CHANNEL, 0, &s);
	assert_passed(fx, &in);
	assert_int_equal(stats(fx).pass_ttl, 1);
}

/* A peer datagram that fills the MTU no longer fits once the ChannelData header is added. */
static void too_big_passes(const struct net *n, void **state)
{
	struct fx *fx = *state;
	static uint8_t big[1500];
	struct fp_spec s = {.payload = big, .payload_len = 1500 - (n->v6 ? 40 : 20) - 8};
	struct fp_frame in;

	bind_channel(fx, n, n->peer, now_ns() + FAR);
	peer_frame(&in, n, n->peer, &s);
	assert_passed(fx, &in);
	assert_int_equal(stats(fx).pass_too_big, 1);
}

static void test_p2c_ipv4_over_mtu_passes_untouched(void **state)
{
	too_big_passes(&net4, state);
}

static void test_p2c_ipv6_over_mtu_passes_untouched(void **state)
{
	too_big_passes(&net6, state);
}

/* bpf_fib_lookup without a neighbour entry or without a route: userspace resolves it. */
static void fib_failure_passes(const struct net *n, const char *peer, void **state)
{
	struct fx *fx = *state;
	struct fp_spec s = {0};
	struct fp_frame in;

	bind_channel(fx, n, peer, now_ns() + FAR);
	client_frame(&in, n, CHANNEL, 0, &s);
	assert_passed(fx, &in);
	assert_int_equal(stats(fx).pass_fib, 1);
}

static void test_c2p_ipv4_without_neighbour_passes_untouched(void **state)
{
	fib_failure_passes(&net4, net4.no_neigh, state);
}

static void test_c2p_ipv6_without_neighbour_passes_untouched(void **state)
{
	fib_failure_passes(&net6, net6.no_neigh, state);
}

static void test_c2p_ipv4_without_route_passes_untouched(void **state)
{
	fib_failure_passes(&net4, net4.no_route, state);
}

static void test_c2p_ipv6_without_route_passes_untouched(void **state)
{
	fib_failure_passes(&net6, net6.no_route, state);
}

/* RFC 8656 §9: a peer with a permission but no channel gets a Data indication from ntsd. */
static void test_peer_with_permission_but_no_channel_passes(void **state)
{
	struct fx *fx = *state;
	struct nts_addr r = addr(net4.server, RELAY_PORT), p = addr(net4.peer, 0);
	struct fp_spec s = {0};
	struct fp_frame in;

	assert_int_equal(fastpath_permission_set(fx->fp, ALLOC, &r, &p, now_ns() + FAR), 0);
	peer_frame(&in, &net4, net4.peer, &s);
	assert_passed(fx, &in);
	assert_int_equal(stats(fx).pass_permission, 1);
}

/* RFC 8656 §9: without a permission the datagram is silently discarded, in the kernel. */
static void no_permission_drops(const struct net *n, void **state)
{
	struct fx *fx = *state;
	struct fp_spec s = {0};
	struct fp_frame in, out;

	bind_channel(fx, n, n->peer, now_ns() + FAR);
	peer_frame(&in, n, n->peer_b, &s); /* another peer, no permission on this relay */
	assert_int_equal(run(fx, &in, &out), XDP_DROP);
	assert_int_equal(stats(fx).drop_no_permission, 1);
}

static void test_ipv4_peer_without_permission_dropped(void **state)
{
	no_permission_drops(&net4, state);
}

static void test_ipv6_peer_without_permission_dropped(void **state)
{
	no_permission_drops(&net6, state);
}

/* RFC 8656 §9: a channel whose permission has run out is not relayed by userspace either. */
static void test_channel_past_its_permission_passes(void **state)
{
	struct fx *fx = *state;
	struct nts_addr r = addr(net4.server, RELAY_PORT), p = addr(net4.peer, 0);
	struct fp_spec s = {0};
	struct fp_frame in;

	assert_int_equal(fastpath_permission_set(fx->fp, ALLOC, &r, &p, 1), 0);
	bind_channel(fx, &net4, net4.peer, now_ns() + FAR);
	client_frame(&in, &net4, CHANNEL, 0, &s);
	assert_passed(fx, &in);
	assert_int_equal(stats(fx).pass_expired, 1);
}

/* Deleting the permission stops the kernel relaying the channel (to userspace, not dropped);
 * installing it again resumes. */
static void test_permission_delete_and_reinstall_of_bound_peer(void **state)
{
	struct fx *fx = *state;
	struct nts_addr r = addr(net6.server, RELAY_PORT), p = addr(net6.peer, 0);
	struct fp_spec s = {0};
	struct fp_frame in, out;

	assert_int_equal(fastpath_permission_set(fx->fp, ALLOC, &r, &p, now_ns() + FAR), 0);
	bind_channel(fx, &net6, net6.peer, now_ns() + FAR);
	peer_frame(&in, &net6, net6.peer, &s);
	assert_int_equal(run(fx, &in, &out), XDP_TX);
	fastpath_permission_del(fx->fp, ALLOC, &r, &p);
	assert_passed(fx, &in);
	client_frame(&in, &net6, CHANNEL, 0, &s);
	assert_passed(fx, &in);
	assert_int_equal(fastpath_permission_set(fx->fp, ALLOC, &r, &p, now_ns() + FAR), 0);
	assert_int_equal(run(fx, &in, &out), XDP_TX);
	assert_int_equal(stats(fx).drop_no_permission, 0);
}

/* A relay bound to 0.0.0.0 sends from whatever address routing picks: not for the kernel. */
static void test_wildcard_relay_is_left_to_userspace(void **state)
{
	struct fx *fx = *state;
	const struct fastpath_fds *f = fastpath_fds(fx->fp);
	struct nts_addr c = addr(net4.client, CLIENT_PORT), sv = addr(net4.server, SERVER_PORT),
			r = addr("0.0.0.0", RELAY_PORT), p = addr(net4.peer, PEER_PORT);
	uint32_t count, max;

	assert_int_equal(
	    fastpath_channel_set(fx->fp, ALLOC, &c, &sv, &r, &p, CHANNEL, now_ns() + FAR), 0);
	assert_int_equal(fastpath_map_fill(f->client, &count, &max), 0);
	assert_int_equal(count, 0);
	assert_int_equal(fastpath_map_fill(f->relay, &count, &max), 0);
	assert_int_equal(count, 0);
}

/* Traffic to a port that is no known relay is never dropped. */
static void test_udp_to_unknown_port_passes_untouched(void **state)
{
	struct fx *fx = *state;
	struct fp_spec s = {0};
	struct fp_frame in;

	bind_channel(fx, &net4, net4.peer, now_ns() + FAR);
	s = (struct fp_spec){.v6 = false,
			     .src = net4.peer_b,
			     .dst = net4.server,
			     .sport = 53,
			     .dport = RELAY_PORT + 1,
			     .payload = data,
			     .payload_len = DLEN};
	fp_build(&in, &s);
	assert_passed(fx, &in);
	assert_int_equal(stats(fx).pass_no_match, 1);
}

/* Deleting the allocation removes all it wrote: traffic goes to userspace again, not dropped. */
static void test_alloc_delete_removes_every_entry(void **state)
{
	struct fx *fx = *state;
	const struct fastpath_fds *f = fastpath_fds(fx->fp);
	struct fp_spec s = {0};
	struct fp_frame in;
	uint32_t count, max;

	bind_channel(fx, &net4, net4.peer, now_ns() + FAR);
	bind_channel(fx, &net6, net6.peer, now_ns() + FAR);
	fastpath_alloc_del(fx->fp, ALLOC);
	assert_int_equal(fastpath_map_fill(f->client, &count, &max), 0);
	assert_int_equal(count, 0);
	assert_int_equal(max, 1024);
	assert_int_equal(fastpath_map_fill(f->peer, &count, &max), 0);
	assert_int_equal(count, 0);
	assert_int_equal(fastpath_map_fill(f->perm, &count, &max), 0);
	assert_int_equal(count, 0);
	assert_int_equal(fastpath_map_fill(f->relay, &count, &max), 0);
	assert_int_equal(count, 0);
	peer_frame(&in, &net4, net4.peer_b, &s);
	assert_passed(fx, &in);
}

static void count_usage(void *arg, uint64_t alloc_id, const struct nts_fp_alloc_counters *d)
{
	struct nts_fp_alloc_counters *sum = arg;

	assert_int_equal(alloc_id, ALLOC);
	sum->c2p_packets += d->c2p_packets;
	sum->p2c_packets += d->p2c_packets;
	sum->p2c_bytes += d->p2c_bytes;
}

/* Folding reports each kernel-relayed packet once. */
static void test_fold_reports_deltas_once(void **state)
{
	struct fx *fx = *state;
	struct nts_fp_alloc_counters sum = {0};
	struct fp_spec s = {0};
	struct fp_frame in, out;

	bind_channel(fx, &net4, net4.peer, now_ns() + FAR);
	peer_frame(&in, &net4, net4.peer, &s);
	assert_int_equal(run(fx, &in, &out), XDP_TX);
	assert_int_equal(run(fx, &in, &out), XDP_TX);
	assert_int_equal(fastpath_fold(fx->fp, count_usage, &sum), 0);
	assert_int_equal(fastpath_fold(fx->fp, count_usage, &sum), 0);
	assert_int_equal(sum.p2c_packets, 2);
	assert_int_equal(sum.p2c_bytes, 2 * DLEN);
	assert_int_equal(sum.c2p_packets, 0);
}

/* Entries past their expiry (e.g. left by a killed ntsd) are collected. */
static void test_gc_deletes_expired_entries_only(void **state)
{
	struct fx *fx = *state;
	const struct fastpath_fds *f = fastpath_fds(fx->fp);
	uint64_t now = now_ns();
	uint32_t count, max;

	bind_channel(fx, &net4, net4.peer, now - 1);
	bind_channel(fx, &net6, net6.peer, now + FAR);
	assert_true(fastpath_gc(fx->fp, now, 100) >= 3);
	assert_int_equal(fastpath_map_fill(f->client, &count, &max), 0);
	assert_int_equal(count, 1);
	assert_int_equal(fastpath_map_fill(f->peer, &count, &max), 0);
	assert_int_equal(count, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(t) cmocka_unit_test_setup(t, setup)
	    T(test_c2p_ipv4_forwarded_by_xdp_tx),
	    T(test_c2p_ipv6_forwarded_by_xdp_tx),
	    T(test_p2c_ipv4_forwarded_with_channeldata_header),
	    T(test_p2c_ipv6_forwarded_with_channeldata_header),
	    T(test_c2p_ipv4_to_other_interface_redirected),
	    T(test_c2p_ipv6_to_other_interface_redirected),
	    T(test_c2p_egress_not_in_devmap_passes_untouched),
	    T(test_ipv4_zero_udp_checksum_stays_zero),
	    T(test_checksums_match_recomputation_for_many_payloads),
	    T(test_ethernet_trailer_is_trimmed),
	    T(test_expired_channel_passes_untouched),
	    T(test_unbound_channel_number_passes_untouched),
	    T(test_padded_channeldata_passes_untouched),
	    T(test_stun_to_listen_address_passes_untouched),
	    T(test_ipv4_fragment_passes_untouched),
	    T(test_ipv6_fragment_header_passes_untouched),
	    T(test_ipv4_options_pass_untouched),
	    T(test_tcp_passes_untouched),
	    T(test_ttl_one_passes_untouched),
	    T(test_p2c_ipv4_over_mtu_passes_untouched),
	    T(test_p2c_ipv6_over_mtu_passes_untouched),
	    T(test_c2p_ipv4_without_neighbour_passes_untouched),
	    T(test_c2p_ipv6_without_neighbour_passes_untouched),
	    T(test_c2p_ipv4_without_route_passes_untouched),
	    T(test_c2p_ipv6_without_route_passes_untouched),
	    T(test_peer_with_permission_but_no_channel_passes),
	    T(test_ipv4_peer_without_permission_dropped),
	    T(test_ipv6_peer_without_permission_dropped),
	    T(test_channel_past_its_permission_passes),
	    T(test_permission_delete_and_reinstall_of_bound_peer),
	    T(test_wildcard_relay_is_left_to_userspace),
	    T(test_udp_to_unknown_port_passes_untouched),
	    T(test_alloc_delete_removes_every_entry),
	    T(test_fold_reports_deltas_once),
	    T(test_gc_deletes_expired_entries_only),
#undef T
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
