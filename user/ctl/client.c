/* Control socket client (ntsctl, tests): one request line out, one reply line back, within a
 * deadline. See ctl.h.
 */
#include "ctl/ctl.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/loop.h"

#define CTL_MAX_REPLY (256 * 1024 * 1024)

/* Waits for events on fd until the deadline; 0, or -ETIMEDOUT / -errno. */
static int ctl_wait(int fd, short events, uint64_t deadline)
{
	for (;;) {
		uint64_t now = nts_monotonic_ms();
		struct pollfd p = {.fd = fd, .events = events};
		int n;

		if (now >= deadline)
			return -ETIMEDOUT;
		n = poll(&p, 1, (int)(deadline - now));
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

static int ctl_send_all(int fd, const char *p, size_t len, uint64_t deadline)
{
	while (len) {
		ssize_t w = send(fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			int rc = ctl_wait(fd, POLLOUT, deadline);
			if (rc)
				return rc;
			continue;
		}
		if (w < 0)
			return -errno;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Reads one line into a new buffer (NUL-terminated, newline removed). */
static int ctl_read_line(int fd, char **line, size_t *len, uint64_t deadline)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t r;
		char *nl;
		if (n == cap) {
			char *nb = cap < CTL_MAX_REPLY ? realloc(buf, cap * 2) : NULL;
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
		r = recv(fd, buf + n, cap - n, MSG_DONTWAIT);
		if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
			int rc = ctl_wait(fd, POLLIN, deadline);
			if (rc) {
				free(buf);
				return rc;
			}
			continue;
		}
		if (r <= 0) {
			free(buf);
			return r == 0 ? -ECONNRESET : -errno;
		}
		nl = memchr(buf + n, '\n', (size_t)r);
		n += (size_t)r;
		if (nl) {
			*nl = 0;
			*line = buf;
			*len = (size_t)(nl - buf);
			return 0;
		}
	}
}

int ctl_call(const char *path, const char *cmd, json_t *args, int timeout_ms, json_t **result,
	     char *err, size_t errlen)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	uint64_t deadline = nts_monotonic_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
	json_t *req, *reply, *res;
	json_error_t jerr;
	char *text = NULL, *line = NULL;
	size_t len;
	int fd, rc;

	*result = NULL;
	if (err && errlen)
		err[0] = 0;
	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	req = json_pack("{s:s, s:O?}", "cmd", cmd, "args", args);
	text = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!text) {
		close(fd);
		return -ENOMEM;
	}
	rc = ctl_send_all(fd, text, strlen(text), deadline);
	if (!rc)
		rc = ctl_send_all(fd, "\n", 1, deadline);
	free(text);
	if (!rc)
		rc = ctl_read_line(fd, &line, &len, deadline);
	close(fd);
	if (rc)
		return rc;
	reply = json_loadb(line, len, 0, &jerr);
	free(line);
	if (!json_is_object(reply)) {
		json_decref(reply);
		if (err && errlen)
			snprintf(err, errlen, "malformed reply from ntsd");
		return -EPROTO;
	}
	if (!json_is_true(json_object_get(reply, "ok"))) {
		const char *e = json_string_value(json_object_get(reply, "error"));
		if (err && errlen)
			snprintf(err, errlen, "%s", e ? e : "error");
		json_decref(reply);
		return -EPROTO;
	}
	res = json_object_get(reply, "result");
	*result = json_incref(res ? res : json_null());
	json_decref(reply);
	return 0;
}
