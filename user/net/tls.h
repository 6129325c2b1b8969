/* TLS for client streams (OpenSSL, TLS 1.2/1.3): server contexts from PEM files, one session per
 * accepted connection, and the stream ops that run the handshake and records without blocking.
 * Internal to user/net; see net_reload_tls() in net.h for the SIGHUP certificate reload.
 */
#ifndef NTS_NET_TLS_H
#define NTS_NET_TLS_H

#include <openssl/ssl.h>

#include "net/net_priv.h"

/* A server context with cert (PEM chain) and key; NULL (errors logged) when they do not load. */
SSL_CTX *net_tls_ctx_load(const char *cert, const char *key);
/* Drops a reference to ctx (sessions made from it keep theirs). */
void net_tls_ctx_free(SSL_CTX *ctx);
/* A server session on connected socket fd, for net_stream_create()'s layer; NULL on failure. */
void *net_tls_session_new(SSL_CTX *ctx, int fd);

extern const struct net_stream_ops net_stream_tls_ops;

#endif
