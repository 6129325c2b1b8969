/* The relay sockets' batching with the kernel's segmentation offloads (user/turn/relay.c): a
 * peer's GSO burst, which loopback hands to the UDP_GRO relay socket as one buffer, reaches the
 * client datagram by datagram (RFC 8656 §12: one ChannelData message per UDP datagram), permission
 * checks apply to each (§9), and runs of client data leave towards peers whole and in order.
 */
#include <netinet/udp.h>

#include "test_turn_harness.h"

/* Sends n datagrams of seg bytes (the last one last_len bytes) as one UDP_SEGMENT message; the
 * datagram i is filled with 'a' + i. False if the kernel has no GSO. */
static bool h_peer_gso(int fd, const struct nts_addr *to, unsigned n, uint16_t seg, size_t last_len)
{
	static uint8_t buf[64 * 1024];
	struct sockaddr_storage ss;
	uint8_t ctl[CMSG_SPACE(sizeof(seg))] __attribute__((aligned(8))) = {0};
	struct iovec iov = {buf, (n - 1) * (size_t)seg + last_len};
	struct msghdr mh = {.msg_name = &ss,
			    .msg_namelen = nts_addr_to_sockaddr(to, &ss),
			    .msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = ctl,
			    .msg_controllen = sizeof(ctl)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

	for (unsigned i = 0; i < n; i++)
		memset(buf + i * (size_t)seg, 'a' + (int)i, i + 1 < n ? seg : last_len);
	c->cmsg_level = SOL_UDP;
	c->cmsg_type = UDP_SEGMENT;
	c->cmsg_len = CMSG_LEN(sizeof(seg));
	memcpy(CMSG_DATA(c), &seg, sizeof(seg));
	return sendmsg(fd, &mh, 0) == (ssize_t)iov.iov_len;
}

static void test_peer_gso_burst_reaches_the_client_datagram_by_datagram(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:42101", NULL);
	struct nts_addr relay = h_allocate(h, &o), peer_addr;
	int peer = h_peer_socket(&peer_addr);
	struct turn_alloc *a = turn_alloc_find(h->t, &o);
	unsigned before;

	assert_int_equal(h_channel_bind(h, &o, 0x4001, &peer_addr), 0);
	before = h->ncap;
	if (!h_peer_gso(peer, &relay, 11, 50, 20)) {
		close(peer);
		h_free(h);
		skip();
	}
	h_relay_readable(h, &relay);
	assert_int_equal(h->ncap, before + 11);
	for (unsigned i = 0; i < 11; i++) {
		const struct h_capture *c = &h->cap[before + i];
		size_t len = i < 10 ? 50 : 20;

		assert_int_equal(c->len, 4 + len);
		assert_int_equal(c->buf[0] << 8 | c->buf[1], 0x4001);
		assert_int_equal(c->buf[2] << 8 | c->buf[3], len);
		for (size_t j = 0; j < len; j++)
			assert_int_equal(c->buf[4 + j], 'a' + (int)i);
	}
	assert_int_equal(a->p2c_packets, 11);
	assert_int_equal(a->p2c_bytes, 10 * 50 + 20);
	close(peer);
	h_free(h);
}

static void test_peer_gso_burst_without_permission_is_dropped_datagram_by_datagram(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:42102", NULL);
	struct nts_addr relay = h_allocate(h, &o), peer_addr;
	int peer = h_peer_socket(&peer_addr);
	unsigned before = h->ncap;

	if (!h_peer_gso(peer, &relay, 5, 40, 40)) {
		close(peer);
		h_free(h);
		skip();
	}
	h_relay_readable(h, &relay);
	assert_int_equal(h->ncap, before);
	assert_int_equal(h->stats.peer_dropped_no_permission, 5);
	close(peer);
	h_free(h);
}

/* Client data to two peers, interleaved and of mixed sizes, in one batch: each peer gets its
 * datagrams whole and in order, however the batch was grouped for the kernel. */
static void test_channeldata_to_two_peers_arrives_whole_and_in_order(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:42103", NULL);
	struct nts_addr pa_addr, pb_addr;
	int pa = h_peer_socket(&pa_addr), pb = h_peer_socket(&pb_addr);
	static const struct {
		char peer;
		size_t len;
	} seq[] = {{'A', 100}, {'A', 100}, {'A', 100}, {'B', 100}, {'B', 100}, {'A', 100},
		   {'A', 30},  {'A', 100}, {'B', 700}, {'B', 700}, {'B', 10},  {'A', 100}};
	uint8_t data[700], buf[2048];

	h_allocate(h, &o);
	assert_int_equal(h_channel_bind(h, &o, 0x4000, &pa_addr), 0);
	assert_int_equal(h_channel_bind(h, &o, 0x4001, &pb_addr), 0);
	for (unsigned i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		memset(data, 'a' + (int)i, seq[i].len);
		turn_handle_channeldata(h->t, &o, seq[i].peer == 'A' ? 0x4000 : 0x4001, data,
					seq[i].len);
	}
	turn_relay_flush(h->t);
	for (unsigned i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		ssize_t n = h_recv(seq[i].peer == 'A' ? pa : pb, buf, sizeof(buf), NULL);

		assert_int_equal(n, (ssize_t)seq[i].len);
		for (size_t j = 0; j < seq[i].len; j++)
			assert_int_equal(buf[j], 'a' + (int)i);
	}
	assert_true(h_nothing(pa));
	assert_true(h_nothing(pb));
	close(pa);
	close(pb);
	h_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_peer_gso_burst_reaches_the_client_datagram_by_datagram),
	    cmocka_unit_test(
		test_peer_gso_burst_without_permission_is_dropped_datagram_by_datagram),
	    cmocka_unit_test(test_channeldata_to_two_peers_arrives_whole_and_in_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
