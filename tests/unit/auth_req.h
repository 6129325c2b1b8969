/* Test helpers for the auth unit tests: build real STUN requests with the codec's builder (USERNAME
 * or USERHASH, REALM, NONCE, PASSWORD-ALGORITHM(S), MESSAGE-INTEGRITY(-SHA256), FINGERPRINT) and
 * fetch the NONCE a challenge carries. Included by tests/unit/test_auth_*.c only.
 */
#ifndef NTS_TESTS_AUTH_REQ_H
#define NTS_TESTS_AUTH_REQ_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "auth/auth.h"

#define T_REALM "nts.example"
#define T_NOW 1700000000ULL

/* What to put in a request; zero values mean "omit" or "the usual". */
struct t_req {
	const char *user;  /* USERNAME value (or the name hashed into USERHASH) */
	bool userhash;	   /* send USERHASH instead of USERNAME */
	bool no_user;	   /* neither USERNAME nor USERHASH */
	const char *realm; /* REALM; NULL: T_REALM */
	bool no_realm;
	const char *nonce; /* NONCE; NULL: a fresh one from the server (t_check) */
	bool no_nonce;
	const char *pass; /* password the client derives its key from */
	uint16_t alg;	  /* 0: no PASSWORD-ALGORITHM(S) (MD5 implied); else sent with the list */
	const uint16_t *algs; /* PASSWORD-ALGORITHMS to send; NULL: what the server offers */
	size_t nalgs;
	bool no_algs;	  /* send PASSWORD-ALGORITHM alone */
	uint16_t key_alg; /* derive the key with this algorithm instead of alg (0: alg or MD5) */
	int integrity;	  /* 0: none, 1: MESSAGE-INTEGRITY, 2: -SHA256, 3: both */
	const char *bad_mi_pass; /* with integrity 3: MESSAGE-INTEGRITY keyed with this password */
};

static const uint16_t t_offered[2] = {STUN_PWALG_SHA256, STUN_PWALG_MD5};

static inline struct nts_addr t_addr(const char *s)
{
	struct nts_addr a;

	assert_int_equal(nts_addr_parse(&a, s, false), 0);
	return a;
}

/* Builds an Allocate request from r into buf and parses it into m. */
static inline void t_build(const struct t_req *r, uint8_t *buf, size_t cap, struct stun_msg *m)
{
	static const uint8_t tid[STUN_TID_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
	const char *realm = r->realm ? r->realm : T_REALM;
	const char *user = r->user ? r->user : "";
	uint16_t kalg = r->key_alg ? r->key_alg : r->alg ? r->alg : STUN_PWALG_MD5;
	uint8_t key[32], bad[32], hash[32];
	struct stun_builder b;
	int klen = 0, blen = 0, n;

	stun_build_init(&b, buf, cap, TURN_ALLOCATE, STUN_REQUEST, tid);
	stun_put_transport(&b, 17);
	if (!r->no_user && r->userhash) {
		stun_userhash(user, strlen(user), realm, strlen(realm), hash);
		stun_put_attr(&b, STUN_ATTR_USERHASH, hash, 32);
	} else if (!r->no_user) {
		stun_put_attr(&b, STUN_ATTR_USERNAME, user, strlen(user));
	}
	if (!r->no_realm)
		stun_put_attr(&b, STUN_ATTR_REALM, realm, strlen(realm));
	if (r->nonce)
		stun_put_attr(&b, STUN_ATTR_NONCE, r->nonce, strlen(r->nonce));
	if (r->alg && !r->no_algs)
		stun_put_password_algs(&b, r->algs ? r->algs : t_offered, r->algs ? r->nalgs : 2);
	if (r->alg)
		stun_put_password_alg(&b, r->alg);
	if (r->integrity) {
		const char *pass = r->pass ? r->pass : "";
		klen = stun_long_term_key(kalg, user, strlen(user), realm, strlen(realm), pass,
					  strlen(pass), key);
		assert_true(klen > 0);
	}
	if (r->integrity == 1 || r->integrity == 3) {
		if (r->bad_mi_pass) {
			blen = stun_long_term_key(kalg, user, strlen(user), realm, strlen(realm),
						  r->bad_mi_pass, strlen(r->bad_mi_pass), bad);
			stun_put_integrity(&b, bad, (size_t)blen);
		} else {
			stun_put_integrity(&b, key, (size_t)klen);
		}
	}
	if (r->integrity == 2 || r->integrity == 3)
		stun_put_integrity_sha256(&b, key, (size_t)klen);
	stun_put_fingerprint(&b);
	n = stun_build_finish(&b);
	assert_true(n > 0);
	assert_int_equal(stun_parse(m, buf, (size_t)n), 0);
}

/* Builds a 401 answer with auth_put_challenge() for client at now and parses it into m. */
static inline void t_challenge(struct auth_ctx *a, const struct nts_addr *client, uint64_t now,
			       uint8_t *buf, size_t cap, struct stun_msg *m)
{
	static const uint8_t tid[STUN_TID_LEN] = {9};
	struct stun_builder b;
	int n;

	stun_build_init(&b, buf, cap, TURN_ALLOCATE, STUN_ERROR, tid);
	stun_put_error(&b, 401, NULL);
	assert_int_equal(auth_put_challenge(a, &b, client, now), 0);
	n = stun_build_finish(&b);
	assert_true(n > 0);
	assert_int_equal(stun_parse(m, buf, (size_t)n), 0);
}

/* The NONCE a challenge to client at now carries, NUL-terminated into out (256 bytes). */
static inline void t_nonce(struct auth_ctx *a, const struct nts_addr *client, uint64_t now,
			   char out[256])
{
	uint8_t buf[512];
	struct stun_msg m;
	const struct stun_attr *n;

	t_challenge(a, client, now, buf, sizeof(buf), &m);
	n = stun_find(&m, STUN_ATTR_NONCE);
	assert_non_null(n);
	assert_true(n->len < 256);
	memcpy(out, n->value, n->len);
	out[n->len] = 0;
}

/* Builds r (with a fresh nonce for client at issue time now unless r->nonce is set) and checks it.
 */
static inline void t_check(struct auth_ctx *a, struct t_req r, const struct nts_addr *client,
			   uint64_t now, struct auth_result *res)
{
	uint8_t buf[1024];
	char nonce[256];
	struct stun_msg m;

	if (!r.nonce && !r.no_nonce) {
		t_nonce(a, client, now, nonce);
		r.nonce = nonce;
	}
	t_build(&r, buf, sizeof(buf), &m);
	auth_check(a, &m, client, now, res);
}

#endif
