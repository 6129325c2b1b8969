/* Batched UDP sends (user/util/sock.c): runs of same-sized datagrams to one destination leave as
 * one GSO message, and every receiver still gets each datagram, whole and in order, whether GSO
 * is used or not. Real sockets on 127.0.0.1.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/sock.h"

struct batch {
	struct mmsghdr msgs[NTS_UDP_SEND_MAX];
	struct iovec iov[NTS_UDP_SEND_MAX];
	struct sockaddr_in to[NTS_UDP_SEND_MAX];
	uint8_t data[NTS_UDP_SEND_MAX][1500];
	unsigned n;
};

static int udp_bound(struct sockaddr_in *sin)
{
	socklen_t sl = sizeof(*sin);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	assert_true(fd >= 0);
	*sin =
	    (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(bind(fd, (struct sockaddr *)sin, sizeof(*sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)sin, &sl), 0);
	return fd;
}

/* Queues a datagram of len bytes, filled with tag, towards to. */
static void batch_add(struct batch *b, const struct sockaddr_in *to, size_t len, uint8_t tag)
{
	unsigned i = b->n++;

	memset(b->data[i], tag, len);
	b->to[i] = *to;
	b->iov[i] = (struct iovec){b->data[i], len};
	b->msgs[i].msg_hdr = (struct msghdr){.msg_name = &b->to[i],
					     .msg_namelen = sizeof(b->to[i]),
					     .msg_iov = &b->iov[i],
					     .msg_iovlen = 1};
}

/* Reads the next datagram on fd (bounded wait) and checks its length and fill. */
static void expect_datagram(int fd, size_t len, uint8_t tag)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	uint8_t buf[65536];
	ssize_t n;

	assert_int_equal(poll(&p, 1, 2000), 1);
	n = recv(fd, buf, sizeof(buf), 0);
	assert_int_equal(n, (ssize_t)len);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(buf[i], tag);
}

static bool nothing_left(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, 0) == 0;
}

/* Mixed runs: same size to A (merged), a shorter one closing the run, another destination in
 * between, then a larger size to A again. */
static void send_mixed_batch_and_check(enum nts_udp_gso *gso)
{
	struct sockaddr_in a, b, s;
	int ra = udp_bound(&a), rb = udp_bound(&b), tx = udp_bound(&s);
	static struct batch bt;

	bt.n = 0;
	for (uint8_t i = 0; i < 5; i++)
		batch_add(&bt, &a, 100, (uint8_t)(0x10 + i));
	batch_add(&bt, &a, 60, 0x20);
	batch_add(&bt, &a, 100, 0x21);
	for (uint8_t i = 0; i < 3; i++)
		batch_add(&bt, &b, 100, (uint8_t)(0x30 + i));
	for (uint8_t i = 0; i < 2; i++)
		batch_add(&bt, &a, 1200, (uint8_t)(0x40 + i));
	assert_int_equal(nts_udp_send_batch(tx, bt.msgs, bt.n, gso), bt.n);
	for (uint8_t i = 0; i < 5; i++)
		expect_datagram(ra, 100, (uint8_t)(0x10 + i));
	expect_datagram(ra, 60, 0x20);
	expect_datagram(ra, 100, 0x21);
	for (uint8_t i = 0; i < 2; i++)
		expect_datagram(ra, 1200, (uint8_t)(0x40 + i));
	for (uint8_t i = 0; i < 3; i++)
		expect_datagram(rb, 100, (uint8_t)(0x30 + i));
	assert_true(nothing_left(ra));
	assert_true(nothing_left(rb));
	close(ra);
	close(rb);
	close(tx);
}

static void test_runs_arrive_as_separate_datagrams_in_order(void **state)
{
	enum nts_udp_gso gso = NTS_GSO_UNKNOWN;

	send_mixed_batch_and_check(&gso);
	assert_int_not_equal(gso, NTS_GSO_UNKNOWN); /* probed once, remembered */
}

static void test_without_gso_every_datagram_is_sent_alone(void **state)
{
	enum nts_udp_gso gso = NTS_GSO_NO;

	send_mixed_batch_and_check(&gso);
	assert_int_equal(gso, NTS_GSO_NO);
}

/* A full batch of equal datagrams to one receiver: more than one GSO message's worth of bytes
 * (64 x 1200 B > 64 KiB) still arrives whole. */
static void test_a_full_batch_larger_than_one_gso_message_arrives_whole(void **state)
{
	struct sockaddr_in a, s;
	int ra = udp_bound(&a), tx = udp_bound(&s), big = 4 << 20;
	enum nts_udp_gso gso = NTS_GSO_UNKNOWN;
	static struct batch bt;

	setsockopt(ra, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	bt.n = 0;
	for (unsigned i = 0; i < NTS_UDP_SEND_MAX; i++)
		batch_add(&bt, &a, 1200, (uint8_t)i);
	assert_int_equal(nts_udp_send_batch(tx, bt.msgs, bt.n, &gso), NTS_UDP_SEND_MAX);
	for (unsigned i = 0; i < NTS_UDP_SEND_MAX; i++)
		expect_datagram(ra, 1200, (uint8_t)i);
	assert_true(nothing_left(ra));
	close(ra);
	close(tx);
}

/* A datagram the kernel refuses (too big for UDP) is skipped; the others still go. */
static void test_a_refused_datagram_is_skipped(void **state)
{
	struct sockaddr_in a, s;
	int ra = udp_bound(&a), tx = udp_bound(&s);
	enum nts_udp_gso gso = NTS_GSO_UNKNOWN;
	static struct batch bt;
	static uint8_t huge[70000];

	bt.n = 0;
	batch_add(&bt, &a, 10, 1);
	batch_add(&bt, &a, 10, 2);
	batch_add(&bt, &a, 10, 3);
	bt.iov[2] = (struct iovec){huge, sizeof(huge)}; /* EMSGSIZE */
	batch_add(&bt, &a, 10, 4);
	assert_int_equal(nts_udp_send_batch(tx, bt.msgs, bt.n, &gso), 3);
	expect_datagram(ra, 10, 1);
	expect_datagram(ra, 10, 2);
	expect_datagram(ra, 10, 4);
	assert_true(nothing_left(ra));
	close(ra);
	close(tx);
}

/* A run is really one GSO message, control data (the source address a wildcard listener picks)
 * included: a UDP_GRO receiver on loopback gets it as one buffer of equal segments. */
static void test_a_run_with_packet_info_leaves_as_one_gso_message(void **state)
{
	struct sockaddr_in a, s;
	int ra = udp_bound(&a), one = 1, seg = 0;
	int tx = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in any = {.sin_family = AF_INET};
	socklen_t sl = sizeof(s);
	enum nts_udp_gso gso = NTS_GSO_UNKNOWN;
	struct in_pktinfo pi = {.ipi_spec_dst.s_addr = htonl(INADDR_LOOPBACK)};
	uint8_t ctl[5][CMSG_SPACE(sizeof(pi))] __attribute__((aligned(8)));
	uint8_t buf[65536], rctl[CMSG_SPACE(sizeof(int))] __attribute__((aligned(8)));
	struct iovec iov = {buf, sizeof(buf)};
	struct sockaddr_in from;
	struct msghdr mh = {.msg_name = &from,
			    .msg_namelen = sizeof(from),
			    .msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = rctl,
			    .msg_controllen = sizeof(rctl)};
	struct pollfd p = {.fd = ra, .events = POLLIN};
	static struct batch bt;

	assert_int_equal(setsockopt(ra, SOL_UDP, UDP_GRO, &one, sizeof(one)), 0);
	assert_int_equal(bind(tx, (struct sockaddr *)&any, sizeof(any)), 0); /* wildcard */
	assert_int_equal(getsockname(tx, (struct sockaddr *)&s, &sl), 0);
	bt.n = 0;
	for (int i = 0; i < 5; i++) {
		struct msghdr cm = {.msg_control = ctl[i], .msg_controllen = sizeof(ctl[i])};
		struct cmsghdr *c = CMSG_FIRSTHDR(&cm);

		memset(ctl[i], 0, sizeof(ctl[i]));
		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		batch_add(&bt, &a, 100, (uint8_t)(0x50 + i));
		bt.msgs[i].msg_hdr.msg_control = ctl[i];
		bt.msgs[i].msg_hdr.msg_controllen = sizeof(ctl[i]);
	}
	assert_int_equal(nts_udp_send_batch(tx, bt.msgs, bt.n, &gso), 5);
	if (gso != NTS_GSO_YES) {
		close(ra);
		close(tx);
		skip();
	}
	assert_int_equal(poll(&p, 1, 2000), 1);
	assert_int_equal(recvmsg(ra, &mh, 0), 500);
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO)
			memcpy(&seg, CMSG_DATA(c), sizeof(seg));
	assert_int_equal(seg, 100);
	for (int i = 0; i < 500; i++)
		assert_int_equal(buf[i], 0x50 + i / 100);
	assert_int_equal(from.sin_port, s.sin_port);
	assert_true(nothing_left(ra));
	close(ra);
	close(tx);
}

/* The buffer sizes asked for are what the kernel then reports (as root, past rmem_max). */
static void test_buffers_are_sized(void **state)
{
	struct sockaddr_in a;
	int fd = udp_bound(&a), v = 0;
	socklen_t l = sizeof(v);

	assert_int_equal(nts_sock_set_buffers(fd, 0), 0);
	assert_int_equal(nts_sock_set_buffers(fd, 1 << 20), 0);
	assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, &l), 0);
	if (geteuid() == 0)
		assert_int_equal(v, 1 << 20);
	else
		assert_true(v > 0);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_runs_arrive_as_separate_datagrams_in_order),
	    cmocka_unit_test(test_without_gso_every_datagram_is_sent_alone),
	    cmocka_unit_test(test_a_full_batch_larger_than_one_gso_message_arrives_whole),
	    cmocka_unit_test(test_a_refused_datagram_is_skipped),
	    cmocka_unit_test(test_a_run_with_packet_info_leaves_as_one_gso_message),
	    cmocka_unit_test(test_buffers_are_sized),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
