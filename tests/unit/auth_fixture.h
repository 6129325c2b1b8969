/* The fixture the auth_check() suites share: a context with two ephemeral secrets and two static
 * users, one client address, and a signer of TURN REST credentials. Included by one test file each.
 */
#ifndef NTS_TESTS_AUTH_FIXTURE_H
#define NTS_TESTS_AUTH_FIXTURE_H

#include "auth_req.h"

static const char *const secrets[] = {"north-secret", "old-secret"};
static const char *const users[] = {"alice:wonderland", "bob:pa:ss"};

static int setup(void **state)
{
	*state = auth_create(T_REALM, secrets, 2, users, 2);
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	auth_destroy(*state);
	return 0;
}

static const struct nts_addr *client(void)
{
	static struct nts_addr c;

	c = t_addr("198.18.0.7:40000");
	return &c;
}

/* A TURN REST username/password for id signed with secret at expiry. */
static void ephemeral(const char *secret, uint64_t expiry, const char *id, char *user, char *pass)
{
	const char *const s[] = {secret};
	struct auth_ctx *signer = auth_create(T_REALM, s, 1, NULL, 0);

	assert_non_null(signer);
	assert_int_equal(auth_make_ephemeral(signer, id, expiry, user, 600, pass, 64), 0);
	auth_destroy(signer);
}

#endif
