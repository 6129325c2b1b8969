/* Control socket server: a Unix stream socket on the loop, one JSON request per line, one reply per
 * line, requests bounded in size, replies queued without blocking the loop. See ctl.h.
 */
#include "ctl/ctl.h"
#include "util/fs.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/log.h"

#define CTL_MAX_REQUEST (64 * 1024)	  /* one request line */
#define CTL_MAX_OUTPUT (64 * 1024 * 1024) /* queued replies to one client */
#define CTL_MAX_CMDS 64
#define CTL_MAX_CONNS 64

struct ctl_cmd {
	char name[48];
	ctl_cmd_fn fn;
	void *arg;
};

struct ctl_conn {
	struct ctl_server *s;
	int fd;
	char in[CTL_MAX_REQUEST];
	size_t in_len;
	char *out;
	size_t out_off, out_len, out_cap;
	bool want_out;
	bool close_after_write;
	struct ctl_conn *prev, *next;
};

struct ctl_server {
	struct nts_loop *loop;
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct ctl_cmd cmds[CTL_MAX_CMDS];
	size_t ncmds;
	struct ctl_conn *conns;
	size_t nconns;
	bool keep_path; /* handed over by an upgrade: the socket file is the new ntsd's */
	void (*before)(void *arg); /* ctl_set_before(): before each command, or NULL */
	void *before_arg;
};

static void conn_close(struct ctl_conn *c)
{
	struct ctl_server *s = c->s;

	loop_del(s->loop, c->fd);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	free(c->out);
	free(c);
}

/* Writes what is queued; returns false when the connection was closed. */
static bool conn_flush(struct ctl_conn *c)
{
	while (c->out_len) {
		ssize_t w =
		    send(c->fd, c->out + c->out_off, c->out_len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (w <= 0) {
			conn_close(c);
			return false;
		}
		c->out_off += (size_t)w;
		c->out_len -= (size_t)w;
	}
	if (!c->out_len && c->close_after_write) {
		conn_close(c);
		return false;
	}
	if (c->want_out != (c->out_len != 0)) {
		c->want_out = c->out_len != 0;
		loop_mod(c->s->loop, c->fd, EPOLLIN | (c->want_out ? EPOLLOUT : 0));
	}
	return true;
}

static int conn_queue(struct ctl_conn *c, const char *p, size_t len)
{
	if (c->out_len + len > CTL_MAX_OUTPUT)
		return -ENOBUFS;
	if (c->out_off + c->out_len + len > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		char *nb;
		if (c->out)
			memmove(c->out, c->out + c->out_off, c->out_len);
		c->out_off = 0;
		while (cap < c->out_len + len)
			cap *= 2;
		if (cap != c->out_cap) {
			nb = realloc(c->out, cap);
			if (!nb)
				return -ENOMEM;
			c->out = nb;
			c->out_cap = cap;
		}
	}
	memcpy(c->out + c->out_off + c->out_len, p, len);
	c->out_len += len;
	return 0;
}

/* Serializes reply (stolen) as one line and queues it. */
static int conn_reply(struct ctl_conn *c, json_t *reply)
{
	char *text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
	int rc;

	json_decref(reply);
	if (!text)
		return -ENOMEM;
	rc = conn_queue(c, text, strlen(text));
	if (!rc)
		rc = conn_queue(c, "\n", 1);
	free(text);
	return rc;
}

static json_t *reply_error(const char *msg)
{
	return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

static json_t *ctl_run(struct ctl_server *s, const char *line, size_t len)
{
	char err[256] = "";
	json_error_t jerr;
	json_t *req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr), *cmd, *args, *res;
	const char *name;

	if (!json_is_object(req)) {
		json_decref(req);
		return reply_error("request is not a JSON object");
	}
	cmd = json_object_get(req, "cmd");
	args = json_object_get(req, "args");
	if (!json_is_string(cmd) || (args && !json_is_object(args) && !json_is_null(args))) {
		json_decref(req);
		return reply_error("request needs \"cmd\" (string) and optional \"args\" (object)");
	}
	name = json_string_value(cmd);
	for (size_t i = 0; i < s->ncmds; i++) {
		if (strcmp(s->cmds[i].name, name) != 0)
			continue;
		if (s->before)
			s->before(s->before_arg);
		res = s->cmds[i].fn(s->cmds[i].arg, json_is_object(args) ? args : NULL, err,
				    sizeof(err));
		json_decref(req);
		if (!res)
			return reply_error(err[0] ? err : "command failed");
		return json_pack("{s:b, s:o}", "ok", 1, "result", res);
	}
	snprintf(err, sizeof(err), "unknown command '%.64s'", name);
	json_decref(req);
	return reply_error(err);
}

static void conn_on_event(void *arg, int fd, uint32_t events)
{
	struct ctl_conn *c = arg;
	size_t start = 0;
	ssize_t r;

	if ((events & EPOLLOUT) && !conn_flush(c))
		return;
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)) || c->close_after_write)
		return;
	r = recv(fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		conn_close(c);
		return;
	}
	c->in_len += (size_t)r;
	for (;;) {
		char *nl = memchr(c->in + start, '\n', c->in_len - start);
		if (!nl)
			break;
		if (conn_reply(c, ctl_run(c->s, c->in + start, (size_t)(nl - (c->in + start)))) <
		    0) {
			conn_close(c);
			return;
		}
		start = (size_t)(nl - c->in) + 1;
	}
	memmove(c->in, c->in + start, c->in_len - start);
	c->in_len -= start;
	if (c->in_len == sizeof(c->in)) {
		/* A request longer than the bound: answer once and hang up. */
		c->in_len = 0;
		c->close_after_write = true;
		if (conn_reply(c, reply_error("request too long")) < 0) {
			conn_close(c);
			return;
		}
	}
	conn_flush(c);
}

static void ctl_on_accept(void *arg, int fd, uint32_t events)
{
	struct ctl_server *s = arg;

	for (int i = 0; i < 16; i++) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct ctl_conn *c;

		if (cfd < 0)
			return;
		c = s->nconns < CTL_MAX_CONNS ? calloc(1, sizeof(*c)) : NULL;
		if (!c || loop_add(s->loop, cfd, EPOLLIN, conn_on_event, c) < 0) {
			free(c);
			close(cfd);
			continue;
		}
		c->s = s;
		c->fd = cfd;
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
		s->nconns++;
	}
}

struct ctl_server *ctl_server_create(struct nts_loop *loop, const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct ctl_server *s;
	int rc, probe;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_error("control socket %s: path too long", path);
		errno = ENAMETOOLONG;
		return NULL;
	}
	strcpy(sun.sun_path, path);
	rc = nts_mkdir_parent(path, 0755);
	if (rc) {
		log_error("control socket %s: cannot create its directory: %s", path,
			  strerror(-rc));
		errno = -rc;
		return NULL;
	}
	/* A socket someone still answers on belongs to a running ntsd; a dead one is stale. */
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0 && connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		close(probe);
		log_error("control socket %s: another ntsd is listening there", path);
		errno = EADDRINUSE;
		return NULL;
	}
	if (probe >= 0)
		close(probe);
	unlink(path);
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->loop = loop;
	strcpy(s->path, path);
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    chmod(path, 0600) < 0 || listen(s->fd, 16) < 0 ||
	    (errno = -loop_add(loop, s->fd, EPOLLIN, ctl_on_accept, s)) != 0) {
		rc = errno;
		log_error("control socket %s: %s", path, strerror(rc));
		if (s->fd >= 0)
			close(s->fd);
		free(s);
		errno = rc;
		return NULL;
	}
	return s;
}

struct ctl_server *ctl_server_adopt(struct nts_loop *loop, const char *path, int fd)
{
	struct ctl_server *s;
	int rc;

	if (strlen(path) >= sizeof(s->path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->loop = loop;
	s->fd = fd;
	strcpy(s->path, path);
	rc = loop_add(loop, fd, EPOLLIN, ctl_on_accept, s);
	if (rc) {
		free(s);
		errno = -rc;
		return NULL;
	}
	return s;
}

int ctl_server_fd(const struct ctl_server *s)
{
	return s->fd;
}

void ctl_server_keep_path(struct ctl_server *s)
{
	s->keep_path = true;
}

void ctl_server_destroy(struct ctl_server *s)
{
	if (!s)
		return;
	while (s->conns)
		conn_close(s->conns);
	loop_del(s->loop, s->fd);
	close(s->fd);
	if (!s->keep_path)
		unlink(s->path);
	free(s);
}

void ctl_set_before(struct ctl_server *s, void (*fn)(void *arg), void *arg)
{
	s->before = fn;
	s->before_arg = arg;
}

int ctl_register(struct ctl_server *s, const char *cmd, ctl_cmd_fn fn, void *arg)
{
	if (strlen(cmd) >= sizeof(s->cmds[0].name))
		return -ENAMETOOLONG;
	for (size_t i = 0; i < s->ncmds; i++)
		if (!strcmp(s->cmds[i].name, cmd))
			return -EEXIST;
	if (s->ncmds >= CTL_MAX_CMDS)
		return -ENOSPC;
	strcpy(s->cmds[s->ncmds].name, cmd);
	s->cmds[s->ncmds].fn = fn;
	s->cmds[s->ncmds].arg = arg;
	s->ncmds++;
	return 0;
}
