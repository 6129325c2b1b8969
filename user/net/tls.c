/* The TLS layer of client streams (OpenSSL, TLS 1.2 and 1.3 only): server contexts loaded from
 * --cert/--key and swapped on reload (live sessions keep the context they started with), and the
 * non-blocking handshake, SSL_read and SSL_write behind struct net_stream_ops.
 */
#include "net/tls.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

#define NET_TLS_READ_BUF (64 * 1024) /* OpenSSL's socket reads (read-ahead), per busy session */

/* The session state behind net_stream.layer. */
struct net_tls_session {
	SSL *ssl;
	bool want_write; /* the last call needs the socket writable to make progress */
};

static void tls_log_errors(const char *what)
{
	unsigned long e;
	char buf[256];

	while ((e = ERR_get_error())) {
		ERR_error_string_n(e, buf, sizeof(buf));
		log_warn("tls: %s: %s", what, buf);
	}
}

SSL_CTX *net_tls_ctx_load(const char *cert, const char *key)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx) {
		tls_log_errors("context");
		return NULL;
	}
	/* TLS 1.2 and 1.3 only; no renegotiation (a client-driven CPU sink with nothing to gain).
	 */
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION))
		goto fail;
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
				     SSL_OP_NO_COMPRESSION);
	/* Our output queue moves and grows between a blocked SSL_write and its retry. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				  SSL_MODE_RELEASE_BUFFERS);
	/* Reads of up to NET_TLS_READ_BUF from the socket, several records at a time, instead of a
	 * record's header and then its body: fewer reads and window updates per record, as for
	 * plain streams (net_priv.h, NET_STREAM_RX). The buffer goes while it is empty
	 * (RELEASE_BUFFERS), and the stream reads what it holds without a socket event
	 * (tls_has_pending). */
	SSL_CTX_set_read_ahead(ctx, 1);
	SSL_CTX_set_default_read_buffer_len(ctx, NET_TLS_READ_BUF);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		goto fail;
	return ctx;
fail:
	tls_log_errors(key); /* the chain or the key: OpenSSL says which */
	SSL_CTX_free(ctx);
	return NULL;
}

void net_tls_ctx_free(SSL_CTX *ctx)
{
	SSL_CTX_free(ctx);
}

void *net_tls_session_new(SSL_CTX *ctx, int fd)
{
	struct net_tls_session *ts = calloc(1, sizeof(*ts));

	if (!ts)
		return NULL;
	ts->ssl = SSL_new(ctx); /* holds a reference on ctx: a reload does not pull it away */
	if (!ts->ssl || SSL_set_fd(ts->ssl, fd) != 1) {
		tls_log_errors("session");
		SSL_free(ts->ssl);
		free(ts);
		return NULL;
	}
	SSL_set_accept_state(ts->ssl);
	return ts;
}

/* Maps an SSL_read/SSL_write result to bytes, 0 (EOF) or -errno. */
static ssize_t tls_result(struct net_tls_session *ts, int ret)
{
	int err = SSL_get_error(ts->ssl, ret);

	ts->want_write = false;
	switch (err) {
	case SSL_ERROR_NONE:
		return ret;
	case SSL_ERROR_WANT_READ:
		return -EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		ts->want_write = true;
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		return errno ? -errno : -ECONNRESET;
	default:
		/* Handshake failures (wrong version, no shared cipher...): the client's problem. */
		ERR_clear_error();
		return -EPROTO;
	}
}

static ssize_t tls_read(struct net_stream *s, void *buf, size_t len)
{
	struct net_tls_session *ts = s->layer;
	int ret;

	errno = 0;
	ret = SSL_read(ts->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
	return tls_result(ts, ret);
}

static ssize_t tls_write(struct net_stream *s, const void *buf, size_t len)
{
	struct net_tls_session *ts = s->layer;
	int ret;

	if (!len)
		return 0;
	errno = 0;
	ret = SSL_write(ts->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
	return tls_result(ts, ret);
}

static bool tls_want_write(struct net_stream *s)
{
	return ((struct net_tls_session *)s->layer)->want_write;
}

static bool tls_has_pending(struct net_stream *s)
{
	return SSL_has_pending(((struct net_tls_session *)s->layer)->ssl) == 1;
}

static void tls_free(struct net_stream *s)
{
	struct net_tls_session *ts = s->layer;

	if (!ts)
		return;
	/* A best-effort close_notify; no waiting for the peer's. */
	if (SSL_is_init_finished(ts->ssl))
		SSL_shutdown(ts->ssl);
	ERR_clear_error();
	SSL_free(ts->ssl);
	free(ts);
	s->layer = NULL;
}

const struct net_stream_ops net_stream_tls_ops = {
    .read = tls_read,
    .write = tls_write,
    .free = tls_free,
    .want_write = tls_want_write,
    .has_pending = tls_has_pending,
};
