/* auth_check() with ephemeral credentials (user/auth/check.c, ephemeral.c;
 * docs/architecture.md "Credentials"): the TURN REST scheme "<unix-expiry>:<id>" /
 * base64(HMAC-SHA1(secret, username)), expiry, secret rotation (first signs, all verify), and
 * results that do not depend on which secret matched.
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>

#include "auth_fixture.h"

static void test_ephemeral_user_authenticates_with_account_and_expiry(void **state)
{
	char user[600], pass[64];
	struct auth_result r;

	ephemeral("north-secret", T_NOW + 3600, "AC0123456789abcdef0123456789abcdef", user, pass);
	t_check(*state, (struct t_req){.user = user, .pass = pass, .integrity = 1}, client(), T_NOW,
		&r);
	assert_int_equal(r.error, 0);
	assert_string_equal(r.username, user);
	assert_string_equal(r.account, "AC0123456789abcdef0123456789abcdef");
	assert_int_equal(r.expires, T_NOW + 3600);
	assert_int_equal(r.key_len, 16);
}

static void test_ephemeral_id_keeps_later_colons(void **state)
{
	char user[600], pass[64];
	struct auth_result r;

	ephemeral("north-secret", T_NOW + 60, "team:carol", user, pass);
	t_check(*state, (struct t_req){.user = user, .pass = pass, .integrity = 1}, client(), T_NOW,
		&r);
	assert_int_equal(r.error, 0);
	assert_string_equal(r.account, "team:carol");
}

static void test_ephemeral_bare_timestamp_authenticates(void **state)
{
	uint8_t mac[20];
	unsigned int mac_len = 0;
	char user[32], pass[64];
	struct auth_result r;

	snprintf(user, sizeof(user), "%llu", T_NOW + 600);
	HMAC(EVP_sha1(), "old-secret", 10, (const uint8_t *)user, strlen(user), mac, &mac_len);
	EVP_EncodeBlock((uint8_t *)pass, mac, 20);
	t_check(*state, (struct t_req){.user = user, .pass = pass, .integrity = 1}, client(), T_NOW,
		&r);
	assert_int_equal(r.error, 0);
	assert_string_equal(r.username, user);
	assert_string_equal(r.account, "");
	assert_int_equal(r.expires, T_NOW + 600);
	snprintf(user, sizeof(user), "%llu", T_NOW);
	HMAC(EVP_sha1(), "old-secret", 10, (const uint8_t *)user, strlen(user), mac, &mac_len);
	EVP_EncodeBlock((uint8_t *)pass, mac, 20);
	t_check(*state, (struct t_req){.user = user, .pass = pass, .integrity = 1}, client(), T_NOW,
		&r);
	assert_int_equal(r.error, 401);
}

static void test_expired_ephemeral_user_gets_401(void **state)
{
	char user[600], pass[64];
	struct auth_result r;

	ephemeral("north-secret", T_NOW, "ACexpired", user, pass);
	t_check(*state, (struct t_req){.user = user, .pass = pass, .integrity = 1}, client(), T_NOW,
		&r);
	assert_int_equal(r.error, 401);
	assert_true(r.challenge);
	ephemeral("north-secret", T_NOW + 1, "ACexpired", user, pass);
	t_check(*state, (struct t_req){.user = user, .pass = pass, .integrity = 1}, client(), T_NOW,
		&r);
	assert_int_equal(r.error, 0);
}

static void test_second_secret_verifies(void **state)
{
	char user[600], pass[64];
	struct auth_result r;

	ephemeral("old-secret", T_NOW + 600, "ACrotated", user, pass);
	t_check(*state, (struct t_req){.user = user, .pass = pass, .integrity = 1}, client(), T_NOW,
		&r);
	assert_int_equal(r.error, 0);
	assert_string_equal(r.account, "ACrotated");
}

static void test_ephemeral_from_unknown_secret_gets_401(void **state)
{
	char user[600], pass[64];
	struct auth_result r;

	ephemeral("stolen-secret", T_NOW + 600, "ACforged", user, pass);
	t_check(*state, (struct t_req){.user = user, .pass = pass, .integrity = 1}, client(), T_NOW,
		&r);
	assert_int_equal(r.error, 401);
	assert_int_equal(r.key_len, 0);
}

static void test_userhash_of_ephemeral_user_gets_401(void **state)
{
	char user[600], pass[64];
	struct auth_result r;

	ephemeral("north-secret", T_NOW + 600, "AChashed", user, pass);
	t_check(*state,
		(struct t_req){.user = user, .userhash = true, .pass = pass, .integrity = 1},
		client(), T_NOW, &r);
	assert_int_equal(r.error, 401);
}

static void test_secret_order_does_not_change_the_result(void **state)
{
	static const char *const reversed[] = {"old-secret", "north-secret"};
	struct auth_ctx *other = auth_create(T_REALM, reversed, 2, users, 2);
	char user[600], pass[64];
	struct auth_result r1, r2;

	assert_non_null(other);
	ephemeral("old-secret", T_NOW + 600, "ACorder", user, pass);
	t_check(*state, (struct t_req){.user = user, .pass = pass, .integrity = 1}, client(), T_NOW,
		&r1);
	t_check(other, (struct t_req){.user = user, .pass = pass, .integrity = 1}, client(), T_NOW,
		&r2);
	assert_int_equal(r1.error, 0);
	assert_memory_equal(&r1, &r2, sizeof(r1));
	auth_destroy(other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ephemeral_user_authenticates_with_account_and_expiry),
	    cmocka_unit_test(test_ephemeral_id_keeps_later_colons),
	    cmocka_unit_test(test_ephemeral_bare_timestamp_authenticates),
	    cmocka_unit_test(test_expired_ephemeral_user_gets_401),
	    cmocka_unit_test(test_second_secret_verifies),
	    cmocka_unit_test(test_ephemeral_from_unknown_secret_gets_401),
	    cmocka_unit_test(test_userhash_of_ephemeral_user_gets_401),
	    cmocka_unit_test(test_secret_order_does_not_change_the_result),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
