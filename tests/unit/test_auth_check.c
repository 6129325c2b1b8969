/* auth_check() (user/auth/check.c): every step of RFC 8489 §9.2.4 with real requests from the
 * codec: 401 challenges, 400 for missing attributes and algorithm bid-down, 438 for stale nonces,
 * static users, MD5 and SHA-256 keys, MESSAGE-INTEGRITY(-SHA256), USERHASH (ephemeral users are in
 * test_auth_ephemeral.c).
 */
#include "auth_fixture.h"

/* RFC 8489 §9.2.4: no MESSAGE-INTEGRITY(-SHA256) -> 401 with REALM and NONCE. */
static void test_request_without_integrity_gets_401_challenge(void **state)
{
	struct auth_result r;

	t_check(*state, (struct t_req){.user = "alice", .pass = "wonderland"}, client(), T_NOW, &r);
	assert_int_equal(r.error, 401);
	assert_true(r.challenge);
	assert_int_equal(r.key_len, 0);
}

/* §9.2.4: integrity present but USERNAME/USERHASH, REALM or NONCE missing -> 400, no challenge. */
static void test_integrity_without_username_gets_400(void **state)
{
	struct auth_result r;

	t_check(*state, (struct t_req){.no_user = true, .pass = "x", .integrity = 1}, client(),
		T_NOW, &r);
	assert_int_equal(r.error, 400);
	assert_false(r.challenge);
}

static void test_integrity_without_realm_gets_400(void **state)
{
	struct auth_result r;

	t_check(
	    *state,
	    (struct t_req){.user = "alice", .pass = "wonderland", .no_realm = true, .integrity = 1},
	    client(), T_NOW, &r);
	assert_int_equal(r.error, 400);
	assert_false(r.challenge);
}

static void test_integrity_without_nonce_gets_400(void **state)
{
	struct auth_result r;

	t_check(
	    *state,
	    (struct t_req){.user = "alice", .pass = "wonderland", .no_nonce = true, .integrity = 1},
	    client(), T_NOW, &r);
	assert_int_equal(r.error, 400);
	assert_false(r.challenge);
}

static void test_static_user_with_md5_key_authenticates(void **state)
{
	static const uint8_t md5[16] = {0x27, 0x94, 0xf3, 0x89, 0xee, 0xf1, 0x62, 0xe2,
					0x29, 0x6b, 0x97, 0xb7, 0x77, 0xe0, 0xaf, 0xaf};
	struct auth_result r;

	t_check(*state, (struct t_req){.user = "alice", .pass = "wonderland", .integrity = 1},
		client(), T_NOW, &r);
	assert_int_equal(r.error, 0);
	assert_false(r.challenge);
	assert_string_equal(r.username, "alice");
	assert_string_equal(r.account, "");
	assert_int_equal(r.expires, 0);
	assert_int_equal(r.alg, STUN_PWALG_MD5);
	assert_false(r.use_sha256);
	assert_int_equal(r.key_len, 16); /* MD5("alice:nts.example:wonderland") */
	assert_memory_equal(r.key, md5, 16);
}

static void test_static_password_may_contain_colons(void **state)
{
	struct auth_result r;

	t_check(*state, (struct t_req){.user = "bob", .pass = "pa:ss", .integrity = 1}, client(),
		T_NOW, &r);
	assert_int_equal(r.error, 0);
	assert_string_equal(r.username, "bob");
}

static void test_wrong_password_gets_401_challenge(void **state)
{
	struct auth_result r;

	t_check(*state, (struct t_req){.user = "alice", .pass = "wonderlant", .integrity = 1},
		client(), T_NOW, &r);
	assert_int_equal(r.error, 401);
	assert_true(r.challenge);
	assert_int_equal(r.key_len, 0);
}

static void test_unknown_user_gets_401_challenge(void **state)
{
	struct auth_result r;

	t_check(*state, (struct t_req){.user = "mallory", .pass = "wonderland", .integrity = 1},
		client(), T_NOW, &r);
	assert_int_equal(r.error, 401);
	assert_true(r.challenge);
}

static void test_wrong_realm_gets_401_challenge(void **state)
{
	struct auth_result r;

	t_check(
	    *state,
	    (struct t_req){
		.user = "alice", .pass = "wonderland", .realm = "other.example", .integrity = 1},
	    client(), T_NOW, &r);
	assert_int_equal(r.error, 401);
	assert_true(r.challenge);
}

/* §9.2.4: an expired nonce -> 438 with a new challenge; valid up to AUTH_NONCE_LIFETIME. */
static void test_stale_nonce_gets_438_with_challenge(void **state)
{
	struct t_req q = {.user = "alice", .pass = "wonderland", .integrity = 1};
	uint8_t buf[1024];
	char nonce[256];
	struct stun_msg m;
	struct auth_result r;

	t_nonce(*state, client(), T_NOW, nonce);
	q.nonce = nonce;
	t_build(&q, buf, sizeof(buf), &m);
	auth_check(*state, &m, client(), T_NOW + AUTH_NONCE_LIFETIME - 1, &r);
	assert_int_equal(r.error, 0);
	auth_check(*state, &m, client(), T_NOW + AUTH_NONCE_LIFETIME, &r);
	assert_int_equal(r.error, 438);
	assert_true(r.challenge);
	assert_int_equal(r.key_len, 0);
}

/* Stateless nonces are bound to the client IP (not the port: NAT rebinding keeps the nonce). */
static void test_nonce_is_bound_to_the_client_ip(void **state)
{
	struct t_req q = {.user = "alice", .pass = "wonderland", .integrity = 1};
	struct nts_addr other_port = t_addr("198.18.0.7:40001"),
			other_ip = t_addr("198.18.0.8:40000");
	struct nts_addr v6 = t_addr("[2001:db8::7]:40000");
	uint8_t buf[1024];
	char nonce[256];
	struct stun_msg m;
	struct auth_result r;

	t_nonce(*state, client(), T_NOW, nonce);
	q.nonce = nonce;
	t_build(&q, buf, sizeof(buf), &m);
	auth_check(*state, &m, &other_port, T_NOW, &r);
	assert_int_equal(r.error, 0);
	auth_check(*state, &m, &other_ip, T_NOW, &r);
	assert_int_equal(r.error, 401);
	assert_true(r.challenge);
	auth_check(*state, &m, &v6, T_NOW, &r);
	assert_int_equal(r.error, 401);
}

static void test_tampered_nonce_gets_401(void **state)
{
	struct auth_result r;
	char nonce[256];
	size_t n;

	t_nonce(*state, client(), T_NOW, nonce);
	n = strlen(nonce);
	nonce[n - 3] = nonce[n - 3] == 'A' ? 'B' : 'A'; /* MAC part */
	t_check(
	    *state,
	    (struct t_req){.user = "alice", .pass = "wonderland", .nonce = nonce, .integrity = 1},
	    client(), T_NOW, &r);
	assert_int_equal(r.error, 401);
	assert_true(r.challenge);
}

/* The feature bits are under the MAC: clearing "password algorithms" to dodge the bid-down check
 * (RFC 8489 §9.2.1) invalidates the nonce. */
static void test_nonce_with_edited_feature_bits_gets_401(void **state)
{
	struct auth_result r;
	char nonce[256];

	t_nonce(*state, client(), T_NOW, nonce);
	memcpy(nonce + 9, "AAAA", 4);
	t_check(
	    *state,
	    (struct t_req){.user = "alice", .pass = "wonderland", .nonce = nonce, .integrity = 1},
	    client(), T_NOW, &r);
	assert_int_equal(r.error, 401);
}

static void test_foreign_nonce_gets_401(void **state)
{
	struct auth_result r;

	t_check(*state,
		(struct t_req){
		    .user = "alice", .pass = "wonderland", .nonce = "f00dfeed", .integrity = 1},
		client(), T_NOW, &r);
	assert_int_equal(r.error, 401);
	assert_true(r.challenge);
}

/* A nonce from another process (another random key) is not ours. */
static void test_nonce_from_another_context_gets_401(void **state)
{
	struct auth_ctx *other = auth_create(T_REALM, secrets, 2, users, 2);
	struct auth_result r;
	char nonce[256];

	assert_non_null(other);
	t_nonce(other, client(), T_NOW, nonce);
	auth_destroy(other);
	t_check(
	    *state,
	    (struct t_req){.user = "alice", .pass = "wonderland", .nonce = nonce, .integrity = 1},
	    client(), T_NOW, &r);
	assert_int_equal(r.error, 401);
}

/* The id is everything after the first ':' (coturn's "timestamp:user" may carry more colons). */
/* coturn's turnutils_uclient -W sends a bare "<expiry>" username: accepted, with no account. */
/* docs/architecture.md "Credentials": expired usernames get 401 (expiry <= now). */
/* --secret is repeatable: the first signs, every one verifies (rotation). */
/* §9.2.4 + §18.5: PASSWORD-ALGORITHM SHA-256 with the offered list -> SHA-256 key (32 bytes). */
static void test_sha256_password_algorithm_authenticates(void **state)
{
	static const uint8_t sha[8] = {0xb6, 0x6b, 0x4a, 0xa8, 0x13, 0x11, 0x76, 0x58};
	struct auth_result r;

	t_check(
	    *state,
	    (struct t_req){
		.user = "alice", .pass = "wonderland", .alg = STUN_PWALG_SHA256, .integrity = 1},
	    client(), T_NOW, &r);
	assert_int_equal(r.error, 0);
	assert_int_equal(r.alg, STUN_PWALG_SHA256);
	assert_int_equal(r.key_len, 32); /* SHA-256("alice:nts.example:wonderland") */
	assert_memory_equal(r.key, sha, sizeof(sha));
}

static void test_explicit_md5_algorithm_authenticates(void **state)
{
	struct auth_result r;

	t_check(*state,
		(struct t_req){
		    .user = "alice", .pass = "wonderland", .alg = STUN_PWALG_MD5, .integrity = 1},
		client(), T_NOW, &r);
	assert_int_equal(r.error, 0);
	assert_int_equal(r.alg, STUN_PWALG_MD5);
	assert_int_equal(r.key_len, 16);
}

/* The declared algorithm is the one used: an MD5 key under a SHA-256 declaration fails. */
static void test_key_from_another_algorithm_gets_401(void **state)
{
	struct auth_result r;

	t_check(*state,
		(struct t_req){.user = "alice",
			       .pass = "wonderland",
			       .alg = STUN_PWALG_SHA256,
			       .key_alg = STUN_PWALG_MD5,
			       .integrity = 1},
		client(), T_NOW, &r);
	assert_int_equal(r.error, 401);
}

/* §9.2.4: PASSWORD-ALGORITHM without PASSWORD-ALGORITHMS -> 400. */
static void test_password_algorithm_alone_gets_400(void **state)
{
	struct auth_result r;

	t_check(*state,
		(struct t_req){.user = "alice",
			       .pass = "wonderland",
			       .alg = STUN_PWALG_SHA256,
			       .no_algs = true,
			       .integrity = 1},
		client(), T_NOW, &r);
	assert_int_equal(r.error, 400);
	assert_false(r.challenge);
}

/* §9.2.4: PASSWORD-ALGORITHMS must equal what the server sent (bid-down protection). */
static void test_password_algorithms_differing_from_offer_get_400(void **state)
{
	static const uint16_t md5_only[1] = {STUN_PWALG_MD5};
	static const uint16_t reversed[2] = {STUN_PWALG_MD5, STUN_PWALG_SHA256};
	struct auth_result r;

	t_check(*state,
		(struct t_req){.user = "alice",
			       .pass = "wonderland",
			       .alg = STUN_PWALG_MD5,
			       .algs = md5_only,
			       .nalgs = 1,
			       .integrity = 1},
		client(), T_NOW, &r);
	assert_int_equal(r.error, 400);
	t_check(*state,
		(struct t_req){.user = "alice",
			       .pass = "wonderland",
			       .alg = STUN_PWALG_MD5,
			       .algs = reversed,
			       .nalgs = 2,
			       .integrity = 1},
		client(), T_NOW, &r);
	assert_int_equal(r.error, 400);
}

/* MESSAGE-INTEGRITY-SHA256 verifies and the answer must use it too. */
static void test_message_integrity_sha256_authenticates_and_is_answered(void **state)
{
	struct auth_result r;

	t_check(*state, (struct t_req){.user = "alice", .pass = "wonderland", .integrity = 2},
		client(), T_NOW, &r);
	assert_int_equal(r.error, 0);
	assert_true(r.use_sha256);
	t_check(*state, (struct t_req){.user = "alice", .pass = "wonderlant", .integrity = 2},
		client(), T_NOW, &r);
	assert_int_equal(r.error, 401);
}

/* §9.2.4: when both are present MESSAGE-INTEGRITY-SHA256 decides. */
static void test_message_integrity_sha256_decides_when_both_present(void **state)
{
	struct auth_result r;

	t_check(*state,
		(struct t_req){
		    .user = "alice", .pass = "wonderland", .integrity = 3, .bad_mi_pass = "nope"},
		client(), T_NOW, &r);
	assert_int_equal(r.error, 0);
	assert_true(r.use_sha256);
}

/* §14.4: USERHASH = SHA-256(user ":" realm) resolves a static user. */
static void test_userhash_resolves_static_user(void **state)
{
	struct auth_result r;

	t_check(*state,
		(struct t_req){.user = "alice",
			       .userhash = true,
			       .pass = "wonderland",
			       .alg = STUN_PWALG_SHA256,
			       .integrity = 2},
		client(), T_NOW, &r);
	assert_int_equal(r.error, 0);
	assert_string_equal(r.username, "alice");
}

static void test_userhash_of_unknown_user_gets_401(void **state)
{
	struct auth_result r;

	t_check(*state,
		(struct t_req){
		    .user = "mallory", .userhash = true, .pass = "wonderland", .integrity = 1},
		client(), T_NOW, &r);
	assert_int_equal(r.error, 401);
	assert_true(r.challenge);
}

/* Documented limitation: an ephemeral username cannot be recovered from its hash. */
/* Every credential failure gives the same answer: nothing tells an unknown user from a wrong
 * password or a wrong secret, and nothing of the attempted key is left in the result. */
static void test_credential_failures_are_indistinguishable(void **state)
{
	char user[600], pass[64];
	struct auth_result a, b, c;

	t_check(*state, (struct t_req){.user = "alice", .pass = "bad", .integrity = 1}, client(),
		T_NOW, &a);
	t_check(*state, (struct t_req){.user = "nobody", .pass = "bad", .integrity = 1}, client(),
		T_NOW, &b);
	ephemeral("stolen-secret", T_NOW + 600, "ACx", user, pass);
	t_check(*state, (struct t_req){.user = user, .pass = pass, .integrity = 1}, client(), T_NOW,
		&c);
	assert_int_equal(a.error, 401);
	assert_int_equal(b.error, a.error);
	assert_int_equal(c.error, a.error);
	assert_int_equal(a.challenge, b.challenge);
	assert_int_equal(a.challenge, c.challenge);
	assert_int_equal(a.key_len + b.key_len + c.key_len, 0);
	assert_string_equal(a.account, "");
	assert_string_equal(c.account, "");
}

/* The outcome does not depend on which secret signed or on the order secrets are listed in. */
int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_request_without_integrity_gets_401_challenge),
	    cmocka_unit_test(test_integrity_without_username_gets_400),
	    cmocka_unit_test(test_integrity_without_realm_gets_400),
	    cmocka_unit_test(test_integrity_without_nonce_gets_400),
	    cmocka_unit_test(test_static_user_with_md5_key_authenticates),
	    cmocka_unit_test(test_static_password_may_contain_colons),
	    cmocka_unit_test(test_wrong_password_gets_401_challenge),
	    cmocka_unit_test(test_unknown_user_gets_401_challenge),
	    cmocka_unit_test(test_wrong_realm_gets_401_challenge),
	    cmocka_unit_test(test_stale_nonce_gets_438_with_challenge),
	    cmocka_unit_test(test_nonce_is_bound_to_the_client_ip),
	    cmocka_unit_test(test_tampered_nonce_gets_401),
	    cmocka_unit_test(test_nonce_with_edited_feature_bits_gets_401),
	    cmocka_unit_test(test_foreign_nonce_gets_401),
	    cmocka_unit_test(test_nonce_from_another_context_gets_401),
	    cmocka_unit_test(test_sha256_password_algorithm_authenticates),
	    cmocka_unit_test(test_explicit_md5_algorithm_authenticates),
	    cmocka_unit_test(test_key_from_another_algorithm_gets_401),
	    cmocka_unit_test(test_password_algorithm_alone_gets_400),
	    cmocka_unit_test(test_password_algorithms_differing_from_offer_get_400),
	    cmocka_unit_test(test_message_integrity_sha256_authenticates_and_is_answered),
	    cmocka_unit_test(test_message_integrity_sha256_decides_when_both_present),
	    cmocka_unit_test(test_userhash_resolves_static_user),
	    cmocka_unit_test(test_userhash_of_unknown_user_gets_401),
	    cmocka_unit_test(test_credential_failures_are_indistinguishable),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
