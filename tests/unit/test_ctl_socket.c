/* Control socket: line-delimited JSON requests and replies between ctl_call() and a ctl_server on a
 * loop running in a thread (user/ctl/server.c, client.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl/ctl.h"

struct fixture {
	char dir[64];
	char path[128];
	struct nts_loop *loop;
	struct ctl_server *srv;
	pthread_t thread;
};

static json_t *cmd_echo(void *arg, json_t *args, char *err, size_t errlen)
{
	(*(int *)arg)++;
	return json_pack("{s:O?}", "args", args);
}

static json_t *cmd_fail(void *arg, json_t *args, char *err, size_t errlen)
{
	snprintf(err, errlen, "no such account");
	return NULL;
}

static void *run_loop(void *arg)
{
	loop_run(arg);
	return NULL;
}

static int calls;

static void wake(void *arg, uint64_t now_ms)
{
	/* Keeps epoll_wait short so loop_stop() from the test thread is seen quickly. */
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/nts-ctl-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	/* A directory that does not exist yet: the server creates it. */
	snprintf(f->path, sizeof(f->path), "%s/run/nts/ctl.sock", f->dir);
	f->loop = loop_create();
	assert_non_null(f->loop);
	assert_int_equal(loop_add_tick(f->loop, 20, wake, NULL), 0);
	f->srv = ctl_server_create(f->loop, f->path);
	assert_non_null(f->srv);
	calls = 0;
	assert_int_equal(ctl_register(f->srv, "echo", cmd_echo, &calls), 0);
	assert_int_equal(ctl_register(f->srv, "fail", cmd_fail, NULL), 0);
	assert_int_equal(pthread_create(&f->thread, NULL, run_loop, f->loop), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[160];

	loop_stop(f->loop);
	pthread_join(f->thread, NULL);
	ctl_server_destroy(f->srv);
	loop_destroy(f->loop);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Sends raw bytes and reads until n newlines or EOF; returns what was read. */
static char *raw_exchange(const char *path, const char *req, size_t reqlen, int lines)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	static char buf[4096];
	size_t n = 0;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct timeval tv = {.tv_sec = 10};

	strcpy(sun.sun_path, path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (size_t off = 0; off < reqlen;) {
		ssize_t w = send(fd, req + off, reqlen - off, MSG_NOSIGNAL);
		if (w <= 0)
			break; /* the server may hang up on an oversized request */
		off += (size_t)w;
	}
	while (lines > 0 && n < sizeof(buf) - 1) {
		ssize_t r = recv(fd, buf + n, sizeof(buf) - 1 - n, 0);
		if (r <= 0)
			break;
		for (ssize_t i = 0; i < r; i++)
			lines -= buf[n + (size_t)i] == '\n';
		n += (size_t)r;
	}
	buf[n] = 0;
	close(fd);
	return buf;
}

static void test_registered_command_gets_its_args_back(void **state)
{
	struct fixture *f = *state;
	json_t *args = json_pack("{s:i}", "n", 7), *res = NULL;
	char err[128];

	assert_int_equal(ctl_call(f->path, "echo", args, 5000, &res, err, sizeof(err)), 0);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(res, "args"), "n")), 7);
	assert_int_equal(calls, 1);
	json_decref(args);
	json_decref(res);
}

static void test_unknown_command_is_an_error_reply(void **state)
{
	struct fixture *f = *state;
	json_t *res = NULL;
	char err[128];

	assert_int_equal(ctl_call(f->path, "nope", NULL, 5000, &res, err, sizeof(err)), -EPROTO);
	assert_null(res);
	assert_string_equal(err, "unknown command 'nope'");
}

static void test_handler_error_reaches_the_client(void **state)
{
	struct fixture *f = *state;
	json_t *res = NULL;
	char err[128];

	assert_int_equal(ctl_call(f->path, "fail", NULL, 5000, &res, err, sizeof(err)), -EPROTO);
	assert_string_equal(err, "no such account");
}

static void test_malformed_line_gets_error_and_connection_stays_usable(void **state)
{
	struct fixture *f = *state;
	const char req[] = "not json\n{\"cmd\":\"echo\",\"args\":{\"x\":1}}\n";
	char *out = raw_exchange(f->path, req, strlen(req), 2);

	assert_non_null(strstr(out, "{\"ok\":false,\"error\":\"request is not a JSON object\"}\n"));
	assert_non_null(strstr(out, "\"result\":{\"args\":{\"x\":1}}"));
}

static void test_oversized_request_is_refused(void **state)
{
	struct fixture *f = *state;
	size_t len = 80 * 1024;
	char *req = malloc(len);
	char *out;

	memset(req, 'a', len);
	out = raw_exchange(f->path, req, len, 1);
	assert_non_null(strstr(out, "request too long"));
	free(req);
}

static void test_socket_is_private_and_parent_created(void **state)
{
	struct fixture *f = *state;
	struct stat st;

	assert_int_equal(stat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
}

static void test_second_server_on_a_live_socket_fails(void **state)
{
	struct fixture *f = *state;
	struct nts_loop *l = loop_create();

	errno = 0;
	assert_null(ctl_server_create(l, f->path));
	assert_int_equal(errno, EADDRINUSE);
	loop_destroy(l);
}

static void test_client_without_server_gets_enoent_or_econnrefused(void **state)
{
	char dir[] = "/tmp/nts-ctl-XXXXXX", path[64];
	json_t *res = NULL;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ntsd.sock", dir);
	assert_int_equal(ctl_call(path, "echo", NULL, 1000, &res, NULL, 0), -ENOENT);
	/* A stale socket file nobody listens on. */
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	assert_int_equal(ctl_call(path, "echo", NULL, 1000, &res, NULL, 0), -ECONNREFUSED);
	/* ... which a new server replaces. */
	struct nts_loop *l = loop_create();
	struct ctl_server *s = ctl_server_create(l, path);
	assert_non_null(s);
	ctl_server_destroy(s);
	loop_destroy(l);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_registered_command_gets_its_args_back, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_command_is_an_error_reply, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_handler_error_reaches_the_client, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_malformed_line_gets_error_and_connection_stays_usable, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_oversized_request_is_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_socket_is_private_and_parent_created, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_second_server_on_a_live_socket_fails, setup,
					    teardown),
	    cmocka_unit_test(test_client_without_server_gets_enoent_or_econnrefused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
