/* TLS listeners (user/net/tls.c through stream.c and tcp.c): the handshake on the loop, Binding
 * over TLS (also sent a byte at a time), TLS 1.2/1.3 only, and certificate reload (new handshakes
 * see the new certificate, live connections keep working, a broken key keeps the old one), against
 * a net_server whose loop runs in a thread. Certificates are made here with OpenSSL.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
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
	struct sockaddr_storage tls;
	socklen_t tls_len;
	char dir[64];
	atomic_int reload_req, reload_rc; /* net_reload_tls() runs on the loop's thread */
};

static void *run_loop(void *arg)
{
	loop_run(arg);
	return NULL;
}

/* The 20 ms tick: keeps loop_stop() quick and runs a requested reload on the loop's thread. */
static void wake(void *arg, uint64_t now_ms)
{
	struct fixture *f = arg;

	if (atomic_load(&f->reload_req)) {
		atomic_store(&f->reload_rc, net_reload_tls(f->net));
		atomic_store(&f->reload_req, 0);
	}
}

/* Reloads the certificate on the loop (as SIGHUP does) and returns net_reload_tls()'s result. */
static int reload(struct fixture *f)
{
	atomic_store(&f->reload_req, 1);
	for (int i = 0; i < 1000 && atomic_load(&f->reload_req); i++)
		usleep(10000);
	assert_int_equal(atomic_load(&f->reload_req), 0);
	return atomic_load(&f->reload_rc);
}

/* Writes a self-signed certificate with serial and its key to cert and key (PEM). */
static void make_cert(const char *cert, const char *key, long serial)
{
	EVP_PKEY *pk = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	FILE *f;

	assert_non_null(pk);
	assert_non_null(x);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, pk);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"nts.test", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	assert_true(X509_sign(x, pk, EVP_sha256()) > 0);
	f = fopen(cert, "w");
	assert_non_null(f);
	PEM_write_X509(f, x);
	fclose(f);
	f = fopen(key, "w");
	assert_non_null(f);
	PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	X509_free(x);
	EVP_PKEY_free(pk);
}

static struct fixture *start(long serial)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct net_listener_info li[4];
	size_t n;

	snprintf(f->dir, sizeof(f->dir), "/tmp/nts-tls-unit.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	nts_config_defaults(&f->cfg);
	nts_addr_parse(&f->cfg.listen[0], "127.0.0.1:0", false);
	f->cfg.nlisten = 1;
	nts_addr_parse(&f->cfg.tls_listen[0], "127.0.0.1:0", false);
	f->cfg.ntls_listen = 1;
	snprintf(f->cfg.cert, sizeof(f->cfg.cert), "%s/cert.pem", f->dir);
	snprintf(f->cfg.key, sizeof(f->cfg.key), "%s/key.pem", f->dir);
	make_cert(f->cfg.cert, f->cfg.key, serial);
	strcpy(f->cfg.software, "nts/test");
	f->loop = loop_create();
	assert_non_null(f->loop);
	assert_int_equal(loop_add_tick(f->loop, 20, wake, f), 0);
	f->net = net_create(f->loop, &f->cfg, &f->stats);
	assert_non_null(f->net);
	assert_int_equal(net_listen(f->net), 0);
	n = net_listeners(f->net, li, 4);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++)
		if (li[i].transport == NTS_TLS)
			f->tls_len = nts_addr_to_sockaddr(&li[i].addr, &f->tls);
	assert_true(f->tls_len > 0);
	assert_int_equal(pthread_create(&f->thread, NULL, run_loop, f->loop), 0);
	return f;
}

static void stop(struct fixture *f)
{
	loop_stop(f->loop);
	pthread_join(f->thread, NULL);
	net_destroy(f->net);
	loop_destroy(f->loop);
	unlink(f->cfg.cert);
	unlink(f->cfg.key);
	rmdir(f->dir);
	free(f);
}

/* A TLS client connection limited to version v (0: any); NULL when the handshake fails. */
static SSL *tls_connect(struct fixture *f, int v)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	struct timeval tv = {.tv_sec = 10};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	SSL *ssl;

	assert_non_null(ctx);
	if (v) {
		SSL_CTX_set_min_proto_version(ctx, v);
		SSL_CTX_set_max_proto_version(ctx, v);
		SSL_CTX_set_security_level(ctx, 0); /* let the client offer old versions */
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(fd, (struct sockaddr *)&f->tls, f->tls_len), 0);
	ssl = SSL_new(ctx);
	SSL_CTX_free(ctx);
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) != 1) {
		ERR_clear_error();
		SSL_free(ssl);
		close(fd);
		return NULL;
	}
	return ssl;
}

static void tls_close(SSL *ssl)
{
	int fd = SSL_get_fd(ssl);

	SSL_free(ssl);
	close(fd);
}

static long peer_serial(SSL *ssl)
{
	X509 *x = SSL_get1_peer_certificate(ssl);
	long s = ASN1_INTEGER_get(X509_get_serialNumber(x));

	X509_free(x);
	return s;
}

/* Sends a Binding request over ssl, chunk bytes per write; true when its success answer comes. */
static bool tls_binding_answered(SSL *ssl, size_t chunk)
{
	uint8_t tid[STUN_TID_LEN] = {7, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, req[64], resp[256];
	struct stun_builder b;
	size_t n, got = 0;
	struct stun_msg m;

	stun_build_init(&b, req, sizeof(req), STUN_BINDING, STUN_REQUEST, tid);
	n = (size_t)stun_build_finish(&b);
	for (size_t off = 0; off < n; off += chunk)
		if (SSL_write(ssl, req + off, (int)(n - off < chunk ? n - off : chunk)) <= 0)
			return false;
	while (got < 20 || got < 20 + (size_t)((resp[2] << 8) | resp[3])) {
		int r = SSL_read(ssl, resp + got, (int)(sizeof(resp) - got));
		if (r <= 0)
			return false;
		got += (size_t)r;
	}
	return stun_parse(&m, resp, got) == 0 && m.cls == STUN_SUCCESS &&
	       !memcmp(m.tid, tid, STUN_TID_LEN);
}

/* The handshake runs on the loop; STUN over TLS is answered like over TCP (RFC 8489 §6.2.3). */
static void test_binding_over_tls_is_answered(void **state)
{
	struct fixture *f = start(0x1001);
	SSL *ssl = tls_connect(f, 0);

	assert_non_null(ssl);
	assert_true(tls_binding_answered(ssl, 1000));
	tls_close(ssl);
	stop(f);
}

/* Records split anywhere: a request written a byte per record is framed and answered. */
static void test_binding_sent_a_byte_per_record_is_answered(void **state)
{
	struct fixture *f = start(0x1002);
	SSL *ssl = tls_connect(f, 0);

	assert_non_null(ssl);
	assert_true(tls_binding_answered(ssl, 1));
	tls_close(ssl);
	stop(f);
}

/* Records that arrive together: OpenSSL reads ahead several at a time (user/net/tls.c), and the
 * ones it holds raise no socket event, so the stream must read them on its own. 300 requests, each
 * its own record, written before any answer is read, are all answered in order. */
static void test_records_read_ahead_together_are_all_answered_in_order(void **state)
{
	enum { N = 300 };
	struct fixture *f = start(0x1003);
	SSL *ssl = tls_connect(f, 0);
	static uint8_t in[N * 64];
	size_t have = 0, off = 0;

	assert_non_null(ssl);
	for (unsigned i = 0; i < N; i++) {
		uint8_t tid[STUN_TID_LEN] = {
		    (uint8_t)i, (uint8_t)(i >> 8), 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
		uint8_t req[64];
		struct stun_builder b;

		stun_build_init(&b, req, sizeof(req), STUN_BINDING, STUN_REQUEST, tid);
		assert_true(SSL_write(ssl, req, (int)stun_build_finish(&b)) > 0);
	}
	for (unsigned i = 0; i < N; i++) {
		size_t len;

		while (have - off < 20 ||
		       have - off < 20 + (size_t)(in[off + 2] << 8 | in[off + 3])) {
			int r = SSL_read(ssl, in + have, (int)(sizeof(in) - have));

			assert_true(r > 0); /* SO_RCVTIMEO bounds the wait */
			have += (size_t)r;
		}
		len = 20 + (size_t)(in[off + 2] << 8 | in[off + 3]);
		assert_int_equal(in[off] << 8 | in[off + 1], 0x0101); /* Binding success */
		assert_int_equal(in[off + 8] | in[off + 9] << 8, i);
		off += len;
	}
	tls_close(ssl);
	stop(f);
}

/* TLS 1.2 and 1.3 only (RFC 8996: no TLS 1.0/1.1). */
static void test_only_tls_1_2_and_1_3_are_accepted(void **state)
{
	struct fixture *f = start(0x1003);
	SSL *s12 = tls_connect(f, TLS1_2_VERSION), *s13 = tls_connect(f, TLS1_3_VERSION);

	assert_non_null(s12);
	assert_non_null(s13);
	assert_null(tls_connect(f, TLS1_1_VERSION));
	assert_null(tls_connect(f, TLS1_VERSION));
	tls_close(s12);
	tls_close(s13);
	stop(f);
}

/* Reload: new handshakes get the new certificate; a connection made before keeps working. */
static void test_reload_serves_the_new_certificate_and_keeps_live_connections(void **state)
{
	struct fixture *f = start(0x2001);
	SSL *old = tls_connect(f, 0), *fresh;

	assert_non_null(old);
	assert_int_equal(peer_serial(old), 0x2001);
	make_cert(f->cfg.cert, f->cfg.key, 0x2002);
	assert_int_equal(reload(f), 1);
	fresh = tls_connect(f, 0);
	assert_non_null(fresh);
	assert_int_equal(peer_serial(fresh), 0x2002);
	assert_true(tls_binding_answered(old, 1000));
	assert_true(tls_binding_answered(fresh, 1000));
	tls_close(old);
	tls_close(fresh);
	stop(f);
}

/* A reload whose key does not load keeps serving the certificate that works. */
static void test_failed_reload_keeps_the_old_certificate(void **state)
{
	struct fixture *f = start(0x3001);
	FILE *k;
	SSL *ssl;

	k = fopen(f->cfg.key, "w");
	assert_non_null(k);
	fputs("not a key\n", k);
	fclose(k);
	assert_int_equal(reload(f), -EINVAL);
	ssl = tls_connect(f, 0);
	assert_non_null(ssl);
	assert_int_equal(peer_serial(ssl), 0x3001);
	tls_close(ssl);
	stop(f);
}

/* As many --listen and --tls-listen addresses as the options accept (NTS_MAX_LISTEN each) all
 * get their listeners: a UDP and a TCP one per --listen, a TLS one per --tls-listen. */
static void test_every_listen_and_tls_listen_the_options_accept_is_opened(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct net_listener_info li[NET_MAX_LISTENERS + 1];
	unsigned count[3] = {0};
	size_t n;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/nts-tls-unit.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	nts_config_defaults(&f->cfg);
	for (unsigned i = 0; i < NTS_MAX_LISTEN; i++) {
		nts_addr_parse(&f->cfg.listen[i], "127.0.0.1:0", false);
		nts_addr_parse(&f->cfg.tls_listen[i], "127.0.0.1:0", false);
	}
	f->cfg.nlisten = f->cfg.ntls_listen = NTS_MAX_LISTEN;
	snprintf(f->cfg.cert, sizeof(f->cfg.cert), "%s/cert.pem", f->dir);
	snprintf(f->cfg.key, sizeof(f->cfg.key), "%s/key.pem", f->dir);
	make_cert(f->cfg.cert, f->cfg.key, 0x4001);
	f->loop = loop_create();
	assert_non_null(f->loop);
	f->net = net_create(f->loop, &f->cfg, &f->stats);
	assert_non_null(f->net);
	assert_int_equal(net_listen(f->net), 0);
	n = net_listeners(f->net, li, NET_MAX_LISTENERS + 1);
	assert_int_equal(n, NET_MAX_LISTENERS);
	for (size_t i = 0; i < n; i++) {
		assert_true(li[i].transport == NTS_UDP || li[i].transport == NTS_TCP ||
			    li[i].transport == NTS_TLS);
		assert_int_not_equal(li[i].addr.port, 0);
		count[li[i].transport == NTS_UDP ? 0 : li[i].transport == NTS_TCP ? 1 : 2]++;
	}
	assert_int_equal(count[0], NTS_MAX_LISTEN);
	assert_int_equal(count[1], NTS_MAX_LISTEN);
	assert_int_equal(count[2], NTS_MAX_LISTEN);
	net_destroy(f->net);
	loop_destroy(f->loop);
	unlink(f->cfg.cert);
	unlink(f->cfg.key);
	rmdir(f->dir);
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_binding_over_tls_is_answered),
	    cmocka_unit_test(test_binding_sent_a_byte_per_record_is_answered),
	    cmocka_unit_test(test_records_read_ahead_together_are_all_answered_in_order),
	    cmocka_unit_test(test_only_tls_1_2_and_1_3_are_accepted),
	    cmocka_unit_test(test_reload_serves_the_new_certificate_and_keeps_live_connections),
	    cmocka_unit_test(test_failed_reload_keeps_the_old_certificate),
	    cmocka_unit_test(test_every_listen_and_tls_listen_the_options_accept_is_opened),
	};

	/* As ntsd does: a peer that resets gets its EPIPE, not a signal (OpenSSL's socket BIO
	 * writes without MSG_NOSIGNAL). */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
