/* Listeners and streams (user/net/udp.c, tcp.c, stream.c): connection caps, idle timeout, bounded
 * output, and UDP bursts larger than one recvmmsg batch, against a net_server whose loop runs in a
 * thread. Binding answers are the observable output (no TURN server: turn is NULL).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/net.h"
#include "stun/stun.h"

struct fixture {
	struct nts_config cfg;
	struct nts_stats stats;
	struct nts_loop *loop;
	struct net_server *net;
	pthread_t thread;
	struct sockaddr_storage udp, tcp;
	socklen_t udp_len, tcp_len;
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

static struct fixture *start_deadline(uint32_t max_conn, uint32_t per_source, uint32_t idle_s,
				      uint32_t auth_s)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct net_listener_info li[4];
	size_t n;

	nts_config_defaults(&f->cfg);
	nts_addr_parse(&f->cfg.listen[0], "127.0.0.1:0", false); /* port 0: any free port */
	f->cfg.nlisten = 1;
	f->cfg.max_tcp_connections = max_conn;
	f->cfg.max_tcp_per_source = per_source;
	f->cfg.tcp_idle_timeout = idle_s;
	f->cfg.auth_timeout = auth_s;
	strcpy(f->cfg.software, "nts/test");
	f->loop = loop_create();
	assert_non_null(f->loop);
	assert_int_equal(loop_add_tick(f->loop, 20, wake, NULL), 0);
	f->net = net_create(f->loop, &f->cfg, &f->stats);
	assert_non_null(f->net);
	assert_int_equal(net_listen(f->net), 0);
	n = net_listeners(f->net, li, 4);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++) {
		if (li[i].transport == NTS_UDP)
			f->udp_len = nts_addr_to_sockaddr(&li[i].addr, &f->udp);
		else
			f->tcp_len = nts_addr_to_sockaddr(&li[i].addr, &f->tcp);
	}
	assert_int_equal(pthread_create(&f->thread, NULL, run_loop, f->loop), 0);
	return f;
}

static struct fixture *start(uint32_t max_conn, uint32_t per_source, uint32_t idle_s)
{
	return start_deadline(max_conn, per_source, idle_s, 60);
}

static void stop(struct fixture *f)
{
	loop_stop(f->loop);
	pthread_join(f->thread, NULL);
	net_destroy(f->net);
	loop_destroy(f->loop);
	free(f);
}

static size_t binding_request(uint8_t *buf, size_t cap, uint8_t id)
{
	uint8_t tid[STUN_TID_LEN] = {id, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
	struct stun_builder b;

	stun_build_init(&b, buf, cap, STUN_BINDING, STUN_REQUEST, tid);
	return (size_t)stun_build_finish(&b);
}

static int tcp_connect(struct fixture *f)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct timeval tv = {.tv_sec = 10};

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(fd, (struct sockaddr *)&f->tcp, f->tcp_len), 0);
	return fd;
}

/* True when the server closed fd (EOF or reset) within 10 s. */
static bool closed_by_server(int fd)
{
	uint8_t buf[256];
	ssize_t r = recv(fd, buf, sizeof(buf), 0);

	return r == 0 || (r < 0 && errno == ECONNRESET);
}

/* Sends a Binding on fd and reads its answer; true if one came back. */
static bool tcp_binding_answered(int fd)
{
	uint8_t req[64], resp[256];
	size_t n = binding_request(req, sizeof(req), 1), got = 0;

	if (send(fd, req, n, MSG_NOSIGNAL) != (ssize_t)n)
		return false;
	while (got < 20) {
		ssize_t r = recv(fd, resp + got, sizeof(resp) - got, 0);
		if (r <= 0)
			return false;
		got += (size_t)r;
	}
	return resp[0] == 0x01 && resp[1] == 0x01;
}

static void test_connections_beyond_the_per_source_cap_are_closed(void **state)
{
	struct fixture *f = start(100, 2, 300);
	int a = tcp_connect(f), b = tcp_connect(f), c;

	assert_true(tcp_binding_answered(a));
	assert_true(tcp_binding_answered(b));
	c = tcp_connect(f);
	assert_true(closed_by_server(c));
	assert_true(tcp_binding_answered(a)); /* the others are untouched */
	close(c);
	close(a);
	close(b);
	stop(f);
}

static void test_connections_beyond_the_total_cap_are_closed(void **state)
{
	struct fixture *f = start(1, 64, 300);
	int a = tcp_connect(f), b;

	assert_true(tcp_binding_answered(a));
	b = tcp_connect(f);
	assert_true(closed_by_server(b));
	close(b);
	close(a);
	stop(f);
}

static void test_idle_connection_is_closed(void **state)
{
	struct fixture *f = start(100, 64, 1);
	int a = tcp_connect(f);

	assert_true(tcp_binding_answered(a));
	/* The idle timeout is 1 s; the receive timeout (10 s) only bounds the wait. */
	assert_true(closed_by_server(a));
	close(a);
	stop(f);
}

/* A TURN request that does not authenticate (here: no TURN server, answered 400) no longer buys the
 * stream the allocation lifetime: only an allocation does. Busy or not, the stream goes at
 * --auth-timeout, so idle connections cannot fill the connection caps. */
static void test_unauthenticated_stream_is_closed_at_the_auth_deadline_however_busy(void **state)
{
	struct fixture *f = start_deadline(100, 64, 300, 1);
	int turn = tcp_connect(f);
	uint8_t req[64], resp[256];
	struct stun_builder b;
	uint8_t tid[STUN_TID_LEN] = {9};
	struct timespec t0, t1;
	bool open = true;
	int n, rounds;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	stun_build_init(&b, req, sizeof(req), TURN_ALLOCATE, STUN_REQUEST, tid);
	n = stun_build_finish(&b);
	assert_int_equal(send(turn, req, (size_t)n, 0), n);
	assert_true(recv(turn, resp, sizeof(resp), 0) >= 20);
	/* Keep it busy with Bindings every 100 ms: activity does not extend the deadline. */
	for (rounds = 0; rounds < 100 && open; rounds++) {
		open = tcp_binding_answered(turn);
		usleep(100 * 1000);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_false(open);
	/* Closed by the 1 s deadline checked each second: within 1-3 s, not the 300 s idle timeout.
	 */
	assert_true(t1.tv_sec - t0.tv_sec >= 1 && t1.tv_sec - t0.tv_sec <= 3);
	close(turn);
	stop(f);
}

static void test_client_that_never_reads_is_dropped_when_its_queue_is_full(void **state)
{
	struct fixture *f = start(100, 64, 300);
	int a = socket(AF_INET, SOCK_STREAM, 0), small = 4096, flags;
	uint8_t req[64];
	size_t n = binding_request(req, sizeof(req), 2);
	uint8_t *burst = malloc(n * 1024);
	bool closed = false;

	/* A tiny receive window, so answers pile up in the server's queue. */
	setsockopt(a, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	assert_int_equal(connect(a, (struct sockaddr *)&f->tcp, f->tcp_len), 0);
	for (size_t i = 0; i < 1024; i++)
		memcpy(burst + i * n, req, n);
	flags = MSG_NOSIGNAL;
	/* Each round asks for ~52 KiB of answers; the kernel buffers at most a few MiB of them
	 * (tcp_wmem), then the server's queue fills. At most 2000 rounds (~100 MiB of answers). */
	for (int round = 0; round < 2000 && !closed; round++) {
		size_t off = 0;
		while (off < n * 1024) {
			struct pollfd p = {.fd = a, .events = POLLOUT};
			ssize_t w;
			if (poll(&p, 1, 10000) <= 0)
				break;
			w = send(a, burst + off, n * 1024 - off, flags | MSG_DONTWAIT);
			if (w < 0) {
				closed = errno == EPIPE || errno == ECONNRESET;
				break;
			}
			off += (size_t)w;
		}
	}
	if (!closed) {
		/* Drain: the stream must end with EOF/reset, not hang. */
		uint8_t buf[65536];
		struct timeval tv = {.tv_sec = 10};
		ssize_t r;
		setsockopt(a, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		while ((r = recv(a, buf, sizeof(buf), 0)) > 0)
			;
		closed = r == 0 || errno == ECONNRESET;
	}
	free(burst);
	close(a);
	assert_true(closed);
	stop(f);
}

static void test_udp_burst_larger_than_a_batch_is_all_answered(void **state)
{
	struct fixture *f = start(100, 64, 300);
	int u = socket(AF_INET, SOCK_DGRAM, 0), big = 1 << 20;
	struct timeval tv = {.tv_sec = 10};
	uint8_t req[64], resp[256];
	bool seen[100] = {0};
	unsigned answered = 0;

	setsockopt(u, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	setsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(u, (struct sockaddr *)&f->udp, f->udp_len), 0);
	for (uint8_t i = 0; i < 100; i++) {
		size_t n = binding_request(req, sizeof(req), i);
		assert_int_equal(send(u, req, n, 0), (ssize_t)n);
	}
	while (answered < 100) {
		ssize_t r = recv(u, resp, sizeof(resp), 0);
		if (r <= 0)
			break;
		assert_true(r >= 20 && resp[8] < 100);
		if (!seen[resp[8]]++)
			answered++;
	}
	assert_int_equal(answered, 100);
	close(u);
	stop(f);
}

/* Reads n STUN answers from fd (each framed by its header's length) and checks that they answer
 * the requests with ids first..first+n-1 in order. */
static void tcp_answers_in_order(int fd, unsigned first, unsigned n)
{
	static uint8_t buf[1 << 16];
	size_t have = 0, off = 0;

	for (unsigned i = 0; i < n; i++) {
		size_t len;

		while (have - off < 20 ||
		       have - off < 20 + (size_t)(buf[off + 2] << 8 | buf[off + 3])) {
			ssize_t r;

			memmove(buf, buf + off, have - off);
			have -= off;
			off = 0;
			r = recv(fd, buf + have, sizeof(buf) - have, 0);
			assert_true(r > 0); /* SO_RCVTIMEO bounds the wait */
			have += (size_t)r;
		}
		len = 20 + (size_t)(buf[off + 2] << 8 | buf[off + 3]);
		assert_int_equal(buf[off] << 8 | buf[off + 1], 0x0101); /* Binding success */
		assert_int_equal(buf[off + 8], (first + i) & 0xff);
		off += len;
	}
}

/* Requests split anywhere across reads: a read of a stream with nothing pending goes to the
 * worker's buffer and only a partial frame is kept (user/net/stream.c); every request is answered
 * once and in order, whether whole frames, partial ones or both arrive together. */
static void test_stream_frames_split_across_reads_are_all_answered_in_order(void **state)
{
	enum { N = 250 };
	struct fixture *f = start(100, 64, 300);
	static uint8_t all[N * 64];
	size_t len = 0, slices[] = {1, 7, 19, 20, 21, 33, 4096, 5000};
	int fd = tcp_connect(f), one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	for (unsigned i = 0; i < N; i++)
		len += binding_request(all + len, sizeof(all) - len, (uint8_t)i);
	/* Slices of every size in turn; after each batch of slices the answers are read, so the
	 * server sees a mix of small writes and large coalesced ones. */
	for (size_t off = 0, k = 0; off < len; k++) {
		size_t n = slices[k % (sizeof(slices) / sizeof(slices[0]))];

		n = n > len - off ? len - off : n;
		assert_int_equal(send(fd, all + off, n, MSG_NOSIGNAL), (ssize_t)n);
		off += n;
	}
	tcp_answers_in_order(fd, 0, N);
	/* And once more as one write, with the last request cut in two around a pause. */
	len = 0;
	for (unsigned i = 0; i < N; i++)
		len += binding_request(all + len, sizeof(all) - len, (uint8_t)i);
	assert_int_equal(send(fd, all, len - 9, MSG_NOSIGNAL), (ssize_t)(len - 9));
	tcp_answers_in_order(fd, 0, N - 1);
	assert_int_equal(send(fd, all + len - 9, 9, MSG_NOSIGNAL), 9);
	tcp_answers_in_order(fd, N - 1, 1);
	close(fd);
	stop(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_connections_beyond_the_per_source_cap_are_closed),
	    cmocka_unit_test(test_connections_beyond_the_total_cap_are_closed),
	    cmocka_unit_test(test_idle_connection_is_closed),
	    cmocka_unit_test(
		test_unauthenticated_stream_is_closed_at_the_auth_deadline_however_busy),
	    cmocka_unit_test(test_client_that_never_reads_is_dropped_when_its_queue_is_full),
	    cmocka_unit_test(test_udp_burst_larger_than_a_batch_is_all_answered),
	    cmocka_unit_test(test_stream_frames_split_across_reads_are_all_answered_in_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
