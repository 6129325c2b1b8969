/* The TURN data path with real UDP peers on 127.0.0.1: Send and Data indications (RFC 8656 §10),
 * ChannelData both ways (§12, padded on streams only), permission checks on peer traffic (§9),
 * policy drops, per-allocation and daemon counters, usage reports and sendmmsg batching.
 */
#include "test_turn_harness.h"

struct h_send_ind {
	struct nts_addr peer;
	const void *data;
	size_t len;
	bool no_data;
};

static void h_add_send(struct stun_builder *b, const void *arg)
{
	const struct h_send_ind *s = arg;

	stun_put_xor_addr(b, STUN_ATTR_XOR_PEER_ADDRESS, &s->peer);
	if (!s->no_data)
		stun_put_attr(b, STUN_ATTR_DATA, s->data, s->len);
}

/* Delivers a Send indication from o (indications carry no credentials). */
static void h_send_indication(struct harness *h, const struct nts_origin *o,
			      const struct h_send_ind *s)
{
	uint8_t buf[2048];
	size_t len = h_build(h, buf, sizeof(buf), TURN_SEND, STUN_INDICATION, NULL, h_add_send, s,
			     NULL, NULL, 0);

	assert_int_equal(h_deliver(h, o, buf, len), 0);
	turn_relay_flush(h->t);
}

/* RFC 8656 §10.2: a Send indication to a permitted peer leaves from the relayed address. */
static void test_send_indication_reaches_the_permitted_peer_from_the_relay(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:42001", NULL);
	struct h_send_ind s = {.data = "hello peer", .len = 10};
	struct nts_addr relay = h_allocate(h, &o), from;
	int peer = h_peer_socket(&s.peer);
	uint8_t buf[2048];
	struct turn_alloc *a = turn_alloc_find(h->t, &o);

	assert_int_equal(h_permit(h, &o, "127.0.0.1:0"), 0);
	h_send_indication(h, &o, &s);
	assert_int_equal(h_recv(peer, buf, sizeof(buf), &from), 10);
	assert_memory_equal(buf, "hello peer", 10);
	assert_true(nts_addr_equal(&from, &relay, true));
	assert_int_equal(a->c2p_packets, 1);
	assert_int_equal(a->c2p_bytes, 10);
	assert_int_equal(h->stats.user_c2p_packets, 1);
	assert_int_equal(h->stats.user_c2p_bytes, 10);
	close(peer);
	h_free(h);
}

/* RFC 8656 §10.2: without a permission the Send indication is dropped silently. */
static void test_send_without_permission_is_dropped(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:42002", NULL);
	struct h_send_ind s = {.data = "x", .len = 1};
	int peer = h_peer_socket(&s.peer);
	unsigned before;

	h_allocate(h, &o);
	assert_int_equal(h_permit(h, &o, "127.0.0.9:0"), 0); /* another IP */
	before = h->ncap;
	h_send_indication(h, &o, &s);
	assert_true(h_nothing(peer));
	assert_int_equal(h->ncap, before); /* no answer to an indication */
	assert_int_equal(h->stats.user_c2p_packets, 0);
	close(peer);
	h_free(h);
}

/* Issue 4 item 5: a Send to a denied peer is dropped and counted; one without DATA is dropped. */
static void test_send_to_denied_peer_or_without_data_is_dropped(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:42003", NULL);
	struct h_send_ind denied = {.data = "x", .len = 1};
	struct h_send_ind no_data = {.no_data = true};
	int peer = h_peer_socket(&no_data.peer);

	h_addr(&denied.peer, "10.0.0.1:5000");
	h_allocate(h, &o);
	assert_int_equal(h_permit(h, &o, "127.0.0.1:0"), 0);
	h_send_indication(h, &o, &denied);
	assert_int_equal(h->stats.peer_denied_by_policy, 1);
	h_send_indication(h, &o, &no_data);
	assert_true(h_nothing(peer));
	assert_int_equal(h->stats.user_c2p_packets, 0);
	close(peer);
	h_free(h);
}

/* RFC 8656 §9: a peer datagram from an IP without a permission is dropped and counted. */
static void test_peer_packet_without_permission_is_dropped_and_counted(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:42004", NULL);
	struct nts_addr relay = h_allocate(h, &o), peer_addr;
	int peer = h_peer_socket(&peer_addr);
	unsigned before = h->ncap;

	assert_int_equal(h_permit(h, &o, "127.0.0.9:0"), 0);
	before = h->ncap;
	h_sendto(peer, &relay, "sneaky", 6);
	h_relay_readable(h, &relay);
	assert_int_equal(h->ncap, before);
	assert_int_equal(h->stats.peer_dropped_no_permission, 1);
	assert_int_equal(h->stats.user_p2c_packets, 0);
	close(peer);
	h_free(h);
}

/* RFC 8656 §10.3: a permitted peer without a channel reaches the client as a Data indication. */
static void test_peer_packet_with_permission_becomes_a_data_indication(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:42005", NULL);
	struct nts_addr relay = h_allocate(h, &o), peer_addr, got;
	int peer = h_peer_socket(&peer_addr);
	const struct stun_attr *data;
	unsigned before;

	assert_int_equal(h_permit(h, &o, "127.0.0.1:0"), 0);
	before = h->ncap;
	h_sendto(peer, &relay, "from the peer", 13);
	h_relay_readable(h, &relay);
	assert_int_equal(h->ncap, before + 1);
	assert_true(nts_addr_equal(&h->cap[before].origin.client, &o.client, true));
	h_parse(h, before);
	assert_int_equal(h->resp.method, TURN_DATA);
	assert_int_equal(h->resp.cls, STUN_INDICATION);
	assert_int_equal(
	    stun_attr_get_xor_addr(&h->resp, stun_find(&h->resp, STUN_ATTR_XOR_PEER_ADDRESS), &got),
	    0);
	assert_true(nts_addr_equal(&got, &peer_addr, true));
	data = stun_find(&h->resp, STUN_ATTR_DATA);
	assert_non_null(data);
	assert_int_equal(data->len, 13);
	assert_memory_equal(data->value, "from the peer", 13);
	assert_int_equal(h->stats.user_p2c_packets, 1);
	assert_int_equal(h->stats.user_p2c_bytes, 13);
	close(peer);
	h_free(h);
}

/* RFC 8656 §12: ChannelData both ways over UDP; towards the client it is not padded. */
static void test_channeldata_both_ways_over_udp(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:42006", NULL);
	struct nts_addr relay = h_allocate(h, &o), peer_addr, from;
	int peer = h_peer_socket(&peer_addr);
	uint8_t buf[2048];
	unsigned before;
	struct turn_alloc *a = turn_alloc_find(h->t, &o);

	assert_int_equal(h_channel_bind(h, &o, 0x4321, &peer_addr), 0);
	turn_handle_channeldata(h->t, &o, 0x4321, (const uint8_t *)"abcde", 5);
	turn_relay_flush(h->t);
	assert_int_equal(h_recv(peer, buf, sizeof(buf), &from), 5);
	assert_memory_equal(buf, "abcde", 5);
	assert_true(nts_addr_equal(&from, &relay, true));

	before = h->ncap;
	h_sendto(peer, &relay, "vwxyz", 5);
	h_relay_readable(h, &relay);
	assert_int_equal(h->ncap, before + 1);
	assert_int_equal(h->cap[before].len, 4 + 5);
	assert_memory_equal(h->cap[before].buf, "\x43\x21\x00\x05vwxyz", 9);
	assert_int_equal(a->c2p_bytes, 5);
	assert_int_equal(a->p2c_bytes, 5);
	assert_int_equal(a->p2c_packets, 1);
	close(peer);
	h_free(h);
}

/* RFC 8656 §12.5: over a stream, ChannelData towards the client is padded to 4 bytes; the
 * allocation dies with its stream (§3.1). */
static void test_channeldata_over_a_stream_is_padded_and_dies_with_it(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:42007", NULL);
	struct nts_addr relay, peer_addr;
	int peer = h_peer_socket(&peer_addr);
	unsigned before;

	o.transport = NTS_TCP;
	o.stream = (struct net_stream *)&o; /* any unique pointer: net owns the real ones */
	relay = h_allocate(h, &o);
	assert_int_equal(h_channel_bind(h, &o, 0x4000, &peer_addr), 0);
	before = h->ncap;
	h_sendto(peer, &relay, "vwxyz", 5);
	h_relay_readable(h, &relay);
	assert_int_equal(h->ncap, before + 1);
	assert_int_equal(h->cap[before].len, 12);
	assert_memory_equal(h->cap[before].buf, "\x40\x00\x00\x05vwxyz\0\0\0", 12);
	assert_int_equal(h->cap[before].origin.transport, NTS_TCP);

	turn_stream_closed(h->t, o.stream);
	assert_null(turn_alloc_find(h->t, &o));
	assert_null(turn_alloc_find_by_relay(h->t, &relay));
	assert_int_equal(h->stats.channels_current, 0);
	assert_int_equal(h->stats.permissions_current, 0);
	assert_true(h_find_ev(h, "channel_del", 0) >= 0);
	assert_true(h_find_ev(h, "alloc_del", 0) >= 0);
	close(peer);
	h_free(h);
}

/* A stream that closes while peer data is being delivered to it (net closes a stream whose queue
 * overflows, from inside the send) takes its allocation with it once the relay read is done. */
static void test_stream_closing_during_delivery_deletes_the_allocation_safely(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:42011", NULL);
	struct nts_addr relay, peer_addr;
	int peer = h_peer_socket(&peer_addr);

	o.transport = NTS_TCP;
	o.stream = (struct net_stream *)&o;
	relay = h_allocate(h, &o);
	assert_int_equal(h_permit(h, &o, "127.0.0.1:0"), 0);
	for (int i = 0; i < 5; i++)
		h_sendto(peer, &relay, "data", 4);
	h->close_stream_on_send = true;
	h->send_attempts = 0;
	h_relay_readable(h, &relay);
	assert_int_equal(h->send_attempts, 1);
	assert_null(turn_alloc_find(h->t, &o));
	assert_null(turn_alloc_find_by_relay(h->t, &relay));
	assert_int_equal(h->stats.allocations_current, 0);
	close(peer);
	h_free(h);
}

/* RFC 8656 §12.4: ChannelData on a channel that is not bound is discarded. */
static void test_channeldata_on_an_unbound_channel_is_dropped(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:42008", NULL);
	struct nts_addr peer_addr;
	int peer = h_peer_socket(&peer_addr);

	h_allocate(h, &o);
	assert_int_equal(h_channel_bind(h, &o, 0x4000, &peer_addr), 0);
	turn_handle_channeldata(h->t, &o, 0x4001, (const uint8_t *)"abc", 3);
	turn_relay_flush(h->t);
	assert_true(h_nothing(peer));
	assert_int_equal(h->stats.user_c2p_packets, 0);
	close(peer);
	h_free(h);
}

/* Batching towards peers keeps every datagram and its order; usage is reported on the tick. */
static void test_many_sends_are_batched_in_order_and_usage_reported(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:42009", NULL);
	struct nts_addr peer_addr;
	int peer = h_peer_socket(&peer_addr);
	uint8_t buf[2048];
	char msg[16];

	h_allocate(h, &o);
	assert_int_equal(h_channel_bind(h, &o, 0x4000, &peer_addr), 0);
	for (int i = 0; i < 3 * TURN_SEND_BATCH + 5; i++) {
		snprintf(msg, sizeof(msg), "m%03d", i);
		turn_handle_channeldata(h->t, &o, 0x4000, (const uint8_t *)msg, 4);
	}
	turn_relay_flush(h->t);
	for (int i = 0; i < 3 * TURN_SEND_BATCH + 5; i++) {
		snprintf(msg, sizeof(msg), "m%03d", i);
		assert_int_equal(h_recv(peer, buf, sizeof(buf), NULL), 4);
		assert_memory_equal(buf, msg, 4);
	}
	assert_int_equal(h->usage_bytes, 0);
	turn_tick(h->t, turn_now_ms(h->t) + 1000);
	assert_int_equal(h->usage_bytes, 4 * (3 * TURN_SEND_BATCH + 5));
	assert_int_equal(h->usage_c2p, 4 * (3 * TURN_SEND_BATCH + 5)); /* all client -> peer */
	assert_int_equal(h->usage_allocs, 1);
	assert_int_equal(h->usage_ended, 0);
	turn_alloc_delete(h->t, turn_alloc_find(h->t, &o), false);
	assert_int_equal(h->usage_ended, 1); /* its end is reported once */
	close(peer);
	h_free(h);
}

/* Datagrams too big for a batch slot go out at once, after what was queued before them. */
static void test_big_datagrams_keep_their_order_with_batched_ones(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:42012", NULL);
	struct nts_addr peer_addr;
	int peer = h_peer_socket(&peer_addr);
	static uint8_t big[TURN_TX_SLOT + 1000], buf[sizeof(big)];

	memset(big, 'B', sizeof(big));
	h_allocate(h, &o);
	assert_int_equal(h_channel_bind(h, &o, 0x4000, &peer_addr), 0);
	turn_handle_channeldata(h->t, &o, 0x4000, (const uint8_t *)"a", 1);
	turn_handle_channeldata(h->t, &o, 0x4000, big, sizeof(big));
	turn_handle_channeldata(h->t, &o, 0x4000, (const uint8_t *)"b", 1);
	turn_relay_flush(h->t);
	assert_int_equal(h_recv(peer, buf, sizeof(buf), NULL), 1);
	assert_int_equal(buf[0], 'a');
	assert_int_equal(h_recv(peer, buf, sizeof(buf), NULL), sizeof(big));
	assert_memory_equal(buf, big, sizeof(big));
	assert_int_equal(h_recv(peer, buf, sizeof(buf), NULL), 1);
	assert_int_equal(buf[0], 'b');
	close(peer);
	h_free(h);
}

/* Kernel-relayed traffic folded in shows in the listing and in usage. */
static int h_count_allocs(void *arg, const struct turn_alloc_info *ai)
{
	struct turn_alloc_info *out = arg;

	*out = *ai;
	return 0;
}

/* Kernel-relayed bytes show in the listing; the caller meters them (with the kernel counter they
 * come from), so the usage hook never reports them a second time. */
static void test_kernel_counters_are_folded_into_listing_not_reported_again(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:42010", NULL);
	struct turn_alloc_info ai;
	struct turn_alloc *a;

	h_allocate(h, &o);
	a = turn_alloc_find(h->t, &o);
	assert_string_equal(turn_add_kernel_counters(h->t, a->id, 2, 200, 3, 300), "");
	assert_null(turn_add_kernel_counters(h->t, a->id + 1000, 2, 200, 3, 300));
	memset(&ai, 0, sizeof(ai));
	assert_int_equal(turn_foreach_alloc(h->t, h_count_allocs, &ai), 0);
	assert_int_equal(ai.id, a->id);
	assert_int_equal(ai.c2p_packets, 2);
	assert_int_equal(ai.p2c_bytes, 300);
	assert_string_equal(ai.username, H_USER);
	assert_int_equal(ai.nrelay, 1);
	turn_tick(h->t, turn_now_ms(h->t) + 1000);
	assert_int_equal(h->usage_bytes, 0);
	h_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_send_indication_reaches_the_permitted_peer_from_the_relay),
	    cmocka_unit_test(test_send_without_permission_is_dropped),
	    cmocka_unit_test(test_send_to_denied_peer_or_without_data_is_dropped),
	    cmocka_unit_test(test_peer_packet_without_permission_is_dropped_and_counted),
	    cmocka_unit_test(test_peer_packet_with_permission_becomes_a_data_indication),
	    cmocka_unit_test(test_channeldata_both_ways_over_udp),
	    cmocka_unit_test(test_channeldata_over_a_stream_is_padded_and_dies_with_it),
	    cmocka_unit_test(test_stream_closing_during_delivery_deletes_the_allocation_safely),
	    cmocka_unit_test(test_channeldata_on_an_unbound_channel_is_dropped),
	    cmocka_unit_test(test_many_sends_are_batched_in_order_and_usage_reported),
	    cmocka_unit_test(test_big_datagrams_keep_their_order_with_batched_ones),
	    cmocka_unit_test(test_kernel_counters_are_folded_into_listing_not_reported_again),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
