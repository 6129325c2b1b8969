/* Control socket: a Unix stream socket speaking one JSON object per line. Request
 * {"cmd": "NAME", "args": {...}}; reply {"ok": true, "result": ...} or {"ok": false, "error":
 * "..."}. Modules register commands on the server; ntsctl uses ctl_call() as the client.
 */
#ifndef NTS_CTL_CTL_H
#define NTS_CTL_CTL_H

#include <jansson.h>
#include <stddef.h>

#include "util/loop.h"

struct ctl_server;

/* A command handler: returns the result (a new reference) or NULL with err filled. */
typedef json_t *(*ctl_cmd_fn)(void *arg, json_t *args, char *err, size_t errlen);

/* Listens on path (parent directory created, stale socket replaced, mode 0600). NULL on failure. */
struct ctl_server *ctl_server_create(struct nts_loop *loop, const char *path);
/* Serves the listening socket fd at path, handed over by an upgrade (takes fd). NULL on failure. */
struct ctl_server *ctl_server_adopt(struct nts_loop *loop, const char *path, int fd);
/* The listening socket (an upgrade hands it over). */
int ctl_server_fd(const struct ctl_server *s);
/* Leaves the socket file in place at destroy: a new ntsd serves it now. */
void ctl_server_keep_path(struct ctl_server *s);
void ctl_server_destroy(struct ctl_server *s);
/* Registers cmd; 0 or -errno. */
int ctl_register(struct ctl_server *s, const char *cmd, ctl_cmd_fn fn, void *arg);
/* Calls fn(arg) before each command runs (e.g. to take in what other threads queued). */
void ctl_set_before(struct ctl_server *s, void (*fn)(void *arg), void *arg);

/* Client: sends cmd with args (may be NULL; reference not stolen) and waits up to timeout_ms.
 * 0 with *result (new reference), -ECONNREFUSED/-ENOENT when no ntsd listens, -EPROTO with err
 * filled for an error reply, other -errno. */
int ctl_call(const char *path, const char *cmd, json_t *args, int timeout_ms, json_t **result,
	     char *err, size_t errlen);

#endif
