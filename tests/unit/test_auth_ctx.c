/* The auth context (user/auth/auth.c, nonce.c, ephemeral.c): challenge contents (RFC 8489 §9.2.1,
 * §9.2.4), response signing, secret rotation, static user parsing and TURN REST credentials.
 */
#include <errno.h>

#include "auth_req.h"

static const char *const secrets[] = {"north-secret", "old-secret"};
static const char *const users[] = {"alice:wonderland"};

/* RFC 8489 §9.2.4: the 401 carries REALM, a NONCE with the "obMatJos2" cookie and the security
 * features, and PASSWORD-ALGORITHMS listing SHA-256 then MD5 without parameters. */
static void test_challenge_carries_realm_nonce_cookie_and_algorithms(void **state)
{
	struct auth_ctx *a = auth_create(T_REALM, secrets, 2, users, 1);
	struct nts_addr c = t_addr("198.18.0.7:1");
	const struct stun_attr *realm, *nonce, *algs;
	uint8_t buf[512];
	struct stun_msg m;
	size_t pos = 0;
	uint16_t alg;

	assert_non_null(a);
	t_challenge(a, &c, T_NOW, buf, sizeof(buf), &m);
	realm = stun_find(&m, STUN_ATTR_REALM);
	nonce = stun_find(&m, STUN_ATTR_NONCE);
	algs = stun_find(&m, STUN_ATTR_PASSWORD_ALGORITHMS);
	assert_non_null(realm);
	assert_non_null(nonce);
	assert_non_null(algs);
	assert_int_equal(realm->len, strlen(T_REALM));
	assert_memory_equal(realm->value, T_REALM, realm->len);
	assert_true(nonce->len < 128); /* RFC 8489 §14.10 */
	/* features 0x800000: password algorithms; no username anonymity with ephemeral secrets */
	assert_memory_equal(nonce->value, "obMatJos2gAAA", 13);
	assert_int_equal(stun_attr_next_password_alg(algs, &pos, &alg), 1);
	assert_int_equal(alg, STUN_PWALG_SHA256);
	assert_int_equal(stun_attr_next_password_alg(algs, &pos, &alg), 1);
	assert_int_equal(alg, STUN_PWALG_MD5);
	assert_int_equal(stun_attr_next_password_alg(algs, &pos, &alg), 0);
	auth_destroy(a);
}

/* With static users only every username is resolvable from USERHASH, so anonymity is offered
 * (0xC00000: both bits). */
static void test_challenge_without_secrets_offers_username_anonymity(void **state)
{
	struct auth_ctx *a = auth_create(T_REALM, NULL, 0, users, 1);
	struct nts_addr c = t_addr("[2001:db8::1]:1");
	char nonce[256];

	assert_non_null(a);
	t_nonce(a, &c, T_NOW, nonce);
	assert_memory_equal(nonce, "obMatJos2wAAA", 13);
	auth_destroy(a);
}

/* No per-client state: the same client at the same second gets the same nonce. */
static void test_nonce_is_a_pure_function_of_client_and_time(void **state)
{
	struct auth_ctx *a = auth_create(T_REALM, secrets, 2, users, 1);
	struct nts_addr c = t_addr("198.18.0.7:1");
	char n1[256], n2[256], n3[256];

	assert_non_null(a);
	t_nonce(a, &c, T_NOW, n1);
	t_nonce(a, &c, T_NOW, n2);
	t_nonce(a, &c, T_NOW + 1, n3);
	assert_string_equal(n1, n2);
	assert_string_not_equal(n1, n3);
	auth_destroy(a);
}

/* Unauthenticated answers stay small and predictable (docs/architecture.md "Security defaults"):
 * the nonce has one length whatever the client's family, time or the secrets configured. */
static void test_nonce_length_is_fixed(void **state)
{
	struct auth_ctx *a = auth_create(T_REALM, secrets, 2, users, 1);
	struct nts_addr v4 = t_addr("198.18.0.7:1"), v6 = t_addr("[2001:db8::1]:65535");
	char n1[256], n2[256], n3[256];

	assert_non_null(a);
	t_nonce(a, &v4, 0, n1);
	t_nonce(a, &v6, UINT32_MAX * 1000ULL, n2);
	t_nonce(a, &v4, T_NOW, n3);
	assert_int_equal(strlen(n1), 40);
	assert_int_equal(strlen(n2), 40);
	assert_int_equal(strlen(n3), 40);
	auth_destroy(a);
}

static void test_challenge_reports_enospc_when_it_does_not_fit(void **state)
{
	struct auth_ctx *a = auth_create(T_REALM, secrets, 2, users, 1);
	struct nts_addr c = t_addr("198.18.0.7:1");
	uint8_t tid[STUN_TID_LEN] = {0}, buf[40];
	struct stun_builder b;

	assert_non_null(a);
	stun_build_init(&b, buf, sizeof(buf), TURN_ALLOCATE, STUN_ERROR, tid);
	assert_int_equal(auth_put_challenge(a, &b, &c, T_NOW), -ENOSPC);
	auth_destroy(a);
}

/* auth_sign answers with the integrity type the request used, keyed with the long-term key, then
 * FINGERPRINT. */
static void sign_and_verify(bool sha256)
{
	struct auth_ctx *a = auth_create(T_REALM, secrets, 2, users, 1);
	struct nts_addr c = t_addr("198.18.0.7:1");
	uint8_t tid[STUN_TID_LEN] = {7}, buf[256];
	struct auth_result r;
	struct stun_builder b;
	struct stun_msg m;
	int n;

	assert_non_null(a);
	t_check(a,
		(struct t_req){.user = "alice", .pass = "wonderland", .integrity = sha256 ? 2 : 1},
		&c, T_NOW, &r);
	assert_int_equal(r.error, 0);
	stun_build_init(&b, buf, sizeof(buf), TURN_ALLOCATE, STUN_SUCCESS, tid);
	stun_put_u32(&b, STUN_ATTR_LIFETIME, 600);
	assert_int_equal(auth_sign(&r, &b), 0);
	n = stun_build_finish(&b);
	assert_true(n > 0);
	assert_int_equal(stun_parse(&m, buf, (size_t)n), 0);
	assert_true(stun_check_fingerprint(&m));
	if (sha256) {
		assert_int_equal(m.integrity, -1);
		assert_true(stun_check_integrity_sha256(&m, r.key, r.key_len));
	} else {
		assert_int_equal(m.integrity_sha256, -1);
		assert_true(stun_check_integrity(&m, r.key, r.key_len));
	}
	assert_int_equal(m.attrs[m.nattrs - 1].type, STUN_ATTR_FINGERPRINT);
	auth_destroy(a);
}

static void test_sign_uses_message_integrity_after_md5_request(void **state)
{
	sign_and_verify(false);
}

static void test_sign_uses_message_integrity_sha256_after_sha256_request(void **state)
{
	sign_and_verify(true);
}

static void test_sign_refuses_a_failed_result(void **state)
{
	uint8_t tid[STUN_TID_LEN] = {0}, buf[128];
	struct auth_result r = {.error = 401};
	struct stun_builder b;

	stun_build_init(&b, buf, sizeof(buf), TURN_ALLOCATE, STUN_ERROR, tid);
	assert_int_equal(auth_sign(&r, &b), -EINVAL);
}

/* docs/architecture.md "Credentials": username "<expiry>:<id>", password base64(HMAC-SHA1(first
 * secret, username)); the expected value was computed independently (Python hmac/base64). */
static void test_make_ephemeral_matches_turn_rest_scheme(void **state)
{
	struct auth_ctx *a = auth_create(T_REALM, secrets, 2, NULL, 0);
	char user[128], pass[64];

	assert_non_null(a);
	assert_int_equal(auth_make_ephemeral(a, "AC0123456789abcdef0123456789abcdef", 4102444800ULL,
					     user, sizeof(user), pass, sizeof(pass)),
			 0);
	assert_string_equal(user, "4102444800:AC0123456789abcdef0123456789abcdef");
	assert_string_equal(pass, "KfyXuIlLnBepK6gMRHURpW6yUdE=");
	auth_destroy(a);
}

static void test_make_ephemeral_without_secret_is_enoent(void **state)
{
	struct auth_ctx *a = auth_create(T_REALM, NULL, 0, users, 1);
	char user[128], pass[64];

	assert_non_null(a);
	assert_int_equal(
	    auth_make_ephemeral(a, "AC1", T_NOW, user, sizeof(user), pass, sizeof(pass)), -ENOENT);
	auth_destroy(a);
}

static void test_make_ephemeral_reports_small_buffers(void **state)
{
	struct auth_ctx *a = auth_create(T_REALM, secrets, 1, NULL, 0);
	char user[128], pass[64];

	assert_non_null(a);
	assert_int_equal(auth_make_ephemeral(a, "AC1", T_NOW, user, 8, pass, sizeof(pass)),
			 -ENOSPC);
	assert_int_equal(auth_make_ephemeral(a, "AC1", T_NOW, user, sizeof(user), pass, 28),
			 -ENOSPC);
	auth_destroy(a);
}

/* auth_set_secrets replaces the list: credentials of a removed secret stop verifying. */
static void test_set_secrets_replaces_the_verifying_set(void **state)
{
	static const char *const fresh[] = {"fresh-secret"};
	struct auth_ctx *a = auth_create(T_REALM, secrets, 2, NULL, 0);
	struct nts_addr c = t_addr("198.18.0.7:1");
	char user[128], pass[64];
	struct auth_result r;

	assert_non_null(a);
	assert_int_equal(
	    auth_make_ephemeral(a, "ACold", T_NOW + 60, user, sizeof(user), pass, sizeof(pass)), 0);
	assert_int_equal(auth_set_secrets(a, fresh, 1), 0);
	t_check(a, (struct t_req){.user = user, .pass = pass, .integrity = 1}, &c, T_NOW, &r);
	assert_int_equal(r.error, 401);
	assert_int_equal(
	    auth_make_ephemeral(a, "ACnew", T_NOW + 60, user, sizeof(user), pass, sizeof(pass)), 0);
	t_check(a, (struct t_req){.user = user, .pass = pass, .integrity = 1}, &c, T_NOW, &r);
	assert_int_equal(r.error, 0);
	assert_string_equal(r.account, "ACnew");
	assert_int_equal(auth_set_secrets(a, NULL, 0), 0);
	assert_int_equal(
	    auth_make_ephemeral(a, "ACx", T_NOW, user, sizeof(user), pass, sizeof(pass)), -ENOENT);
	auth_destroy(a);
}

static void test_create_rejects_malformed_users_and_realms(void **state)
{
	static const char *const bad[][1] = {{"nopassword"}, {":pw"}, {"name:"}};
	static const char *const empty_secret[] = {""};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_null(auth_create(T_REALM, NULL, 0, bad[i], 1));
	assert_null(auth_create("", NULL, 0, users, 1));
	assert_null(auth_create(NULL, NULL, 0, users, 1));
	assert_null(auth_create(T_REALM, empty_secret, 1, NULL, 0));
}

static void test_realm_is_reported(void **state)
{
	struct auth_ctx *a = auth_create("turn.example.org", NULL, 0, NULL, 0);

	assert_non_null(a);
	assert_string_equal(auth_realm(a), "turn.example.org");
	auth_destroy(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_challenge_carries_realm_nonce_cookie_and_algorithms),
	    cmocka_unit_test(test_challenge_without_secrets_offers_username_anonymity),
	    cmocka_unit_test(test_nonce_is_a_pure_function_of_client_and_time),
	    cmocka_unit_test(test_nonce_length_is_fixed),
	    cmocka_unit_test(test_challenge_reports_enospc_when_it_does_not_fit),
	    cmocka_unit_test(test_sign_uses_message_integrity_after_md5_request),
	    cmocka_unit_test(test_sign_uses_message_integrity_sha256_after_sha256_request),
	    cmocka_unit_test(test_sign_refuses_a_failed_result),
	    cmocka_unit_test(test_make_ephemeral_matches_turn_rest_scheme),
	    cmocka_unit_test(test_make_ephemeral_without_secret_is_enoent),
	    cmocka_unit_test(test_make_ephemeral_reports_small_buffers),
	    cmocka_unit_test(test_set_secrets_replaces_the_verifying_set),
	    cmocka_unit_test(test_create_rejects_malformed_users_and_realms),
	    cmocka_unit_test(test_realm_is_reported),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
