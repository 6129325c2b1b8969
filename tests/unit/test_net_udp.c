/* UDP listeners (user/net/udp.c) with the kernel's segmentation offloads: a GSO burst from a
 * client, which loopback hands to the UDP_GRO listener as one buffer, is split back into its
 * datagrams and each is answered; the answers, equal in size, go back as separate datagrams.
 * A net_server whose loop runs in a thread; Binding answers are the observable output.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/net.h"
#include "stun/stun.h"

struct fixture {
	struct nts_config cfg;
	struct nts_stats stats;
	struct nts_loop *loop;
	struct net_server *net;
	pthread_t thread;
	struct sockaddr_storage udp;
	socklen_t udp_len;
};

static void *run_loop(void *arg)
{
	loop_run(arg);
	return NULL;
}

static void wake(void *arg, uint64_t now_ms)
{
	/* Keeps epoll_wait short so loop_stop() from the test thread is seen quickly. */
}

static struct fixture *start(void)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct net_listener_info li[4];
	size_t n;

	assert_non_null(f);
	nts_config_defaults(&f->cfg);
	nts_addr_parse(&f->cfg.listen[0], "127.0.0.1:0", false); /* port 0: any free port */
	f->cfg.nlisten = 1;
	strcpy(f->cfg.software, "nts/test");
	f->loop = loop_create();
	assert_non_null(f->loop);
	assert_int_equal(loop_add_tick(f->loop, 20, wake, NULL), 0);
	f->net = net_create(f->loop, &f->cfg, &f->stats);
	assert_non_null(f->net);
	assert_int_equal(net_listen(f->net), 0);
	n = net_listeners(f->net, li, 4);
	for (size_t i = 0; i < n; i++)
		if (li[i].transport == NTS_UDP)
			f->udp_len = nts_addr_to_sockaddr(&li[i].addr, &f->udp);
	assert_true(f->udp_len > 0);
	assert_int_equal(pthread_create(&f->thread, NULL, run_loop, f->loop), 0);
	return f;
}

static void stop(struct fixture *f)
{
	loop_stop(f->loop);
	pthread_join(f->thread, NULL);
	net_destroy(f->net);
	loop_destroy(f->loop);
	free(f);
}

/* A Binding request whose transaction id starts with id; all have the same size. */
static size_t binding_request(uint8_t *buf, size_t cap, uint8_t id)
{
	uint8_t tid[STUN_TID_LEN] = {id, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
	struct stun_builder b;

	stun_build_init(&b, buf, cap, STUN_BINDING, STUN_REQUEST, tid);
	return (size_t)stun_build_finish(&b);
}

/* Sends n requests back to back as one UDP_SEGMENT message; false if the kernel has no GSO. */
static bool send_gso_burst(int u, unsigned n, size_t *each)
{
	static uint8_t buf[64 * 64];
	uint16_t seg;
	uint8_t ctl[CMSG_SPACE(sizeof(seg))] __attribute__((aligned(8))) = {0};
	struct iovec iov;
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

	for (unsigned i = 0; i < n; i++)
		*each = binding_request(buf + i * *each, 64, (uint8_t)i);
	seg = (uint16_t)*each;
	iov = (struct iovec){buf, n * *each};
	c->cmsg_level = SOL_UDP;
	c->cmsg_type = UDP_SEGMENT;
	c->cmsg_len = CMSG_LEN(sizeof(seg));
	memcpy(CMSG_DATA(c), &seg, sizeof(seg));
	return sendmsg(u, &mh, 0) == (ssize_t)(n * *each);
}

static void test_gso_burst_from_a_client_is_answered_request_by_request(void **state)
{
	struct fixture *f = start();
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	struct timeval tv = {.tv_sec = 10};
	uint8_t resp[2048];
	bool seen[40] = {0};
	unsigned answered = 0;
	size_t each = 0;
	ssize_t first_len = -1;

	setsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(u, (struct sockaddr *)&f->udp, f->udp_len), 0);
	if (!send_gso_burst(u, 40, &each)) {
		close(u);
		stop(f);
		skip();
	}
	assert_int_equal(each, 20);
	while (answered < 40) {
		ssize_t r = recv(u, resp, sizeof(resp), 0);

		if (r <= 0)
			break;
		/* One Binding success response per datagram: the answers were not merged. */
		assert_true(r >= 20 && r < 200);
		assert_int_equal(resp[0] << 8 | resp[1], 0x0101);
		assert_int_equal(20 + (resp[2] << 8 | resp[3]), r);
		if (first_len < 0)
			first_len = r;
		assert_true(resp[8] < 40);
		if (!seen[resp[8]]++)
			answered++;
	}
	assert_int_equal(answered, 40);
	assert_int_equal(f->stats.udp_dropped_malformed, 0);
	close(u);
	stop(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_gso_burst_from_a_client_is_answered_request_by_request),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
