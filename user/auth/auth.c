/* Auth context lifetime, challenges and response signing; see auth.h. Checking lives in check.c.
 * Secrets and passwords are copied into the context, never logged, and cleansed when freed.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_priv.h"

/* RFC 8489 §9.2.4: the list the server offers, in order of preference; checked again in check.c. */
const uint16_t auth_offered_algs[AUTH_NOFFERED_ALGS] = {STUN_PWALG_SHA256, STUN_PWALG_MD5};

static char *dup_secret(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p) {
		memcpy(p, s, n);
		p[n] = 0;
	}
	return p;
}

static void free_secret(char *s, size_t n)
{
	if (s) {
		OPENSSL_cleanse(s, n);
		free(s);
	}
}

static void free_secrets(struct auth_secret *s, size_t n)
{
	for (size_t i = 0; s && i < n; i++)
		free_secret(s[i].s, s[i].len);
	free(s);
}

static void free_users(struct auth_user *u, size_t n)
{
	for (size_t i = 0; u && i < n; i++) {
		free(u[i].name);
		free_secret(u[i].pass, u[i].pass_len);
	}
	free(u);
}

/* "name:password": the name ends at the first ':' (a password may contain ':'). */
static int parse_user(struct auth_user *u, const char *spec, const char *realm, size_t rlen)
{
	const char *colon = spec ? strchr(spec, ':') : NULL;

	if (!colon || colon == spec || !colon[1])
		return -EINVAL;
	u->name_len = (size_t)(colon - spec);
	u->pass_len = strlen(colon + 1);
	if (u->name_len >= AUTH_MAX_USERNAME)
		return -EINVAL;
	u->name = dup_secret(spec, u->name_len);
	u->pass = dup_secret(colon + 1, u->pass_len);
	if (!u->name || !u->pass)
		return -ENOMEM;
	stun_userhash(u->name, u->name_len, realm, rlen, u->userhash);
	return 0;
}

static int copy_secrets(struct auth_secret **out, const char *const *secrets, size_t n)
{
	struct auth_secret *s = NULL;

	*out = NULL;
	if (n == 0)
		return 0;
	if (!secrets)
		return -EINVAL;
	s = calloc(n, sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (!secrets[i] || !secrets[i][0]) {
			free_secrets(s, n);
			return -EINVAL;
		}
		s[i].len = strlen(secrets[i]);
		s[i].s = dup_secret(secrets[i], s[i].len);
		if (!s[i].s) {
			free_secrets(s, n);
			return -ENOMEM;
		}
	}
	*out = s;
	return 0;
}

struct auth_ctx *auth_create(const char *realm, const char *const *secrets, size_t nsecrets,
			     const char *const *users, size_t nusers)
{
	struct auth_ctx *a;

	if (!realm || !realm[0] || strlen(realm) > AUTH_MAX_REALM || (nusers && !users))
		return NULL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->realm_len = strlen(realm);
	memcpy(a->realm, realm, a->realm_len + 1);
	if (RAND_bytes(a->nonce_key, sizeof(a->nonce_key)) != 1)
		goto fail;
	if (copy_secrets(&a->secrets, secrets, nsecrets))
		goto fail;
	a->nsecrets = nsecrets;
	if (nusers) {
		a->users = calloc(nusers, sizeof(*a->users));
		if (!a->users)
			goto fail;
		a->nusers = nusers;
		for (size_t i = 0; i < nusers; i++)
			if (parse_user(&a->users[i], users[i], a->realm, a->realm_len))
				goto fail;
	}
	return a;
fail:
	auth_destroy(a);
	return NULL;
}

void auth_destroy(struct auth_ctx *a)
{
	if (!a)
		return;
	free_secrets(a->secrets, a->nsecrets);
	free_users(a->users, a->nusers);
	OPENSSL_cleanse(a, sizeof(*a));
	free(a);
}

int auth_set_secrets(struct auth_ctx *a, const char *const *secrets, size_t nsecrets)
{
	struct auth_secret *s;
	int err;

	if (!a)
		return -EINVAL;
	err = copy_secrets(&s, secrets, nsecrets);
	if (err)
		return err;
	free_secrets(a->secrets, a->nsecrets);
	a->secrets = s;
	a->nsecrets = nsecrets;
	return 0;
}

int auth_set_users(struct auth_ctx *a, const char *const *users, size_t nusers)
{
	struct auth_user *u = NULL;

	if (!a || (nusers && !users))
		return -EINVAL;
	if (nusers) {
		u = calloc(nusers, sizeof(*u));
		if (!u)
			return -ENOMEM;
	}
	for (size_t i = 0; i < nusers; i++) {
		int err = parse_user(&u[i], users[i], a->realm, a->realm_len);

		if (err) {
			free_users(u, nusers);
			return err;
		}
	}
	free_users(a->users, a->nusers);
	a->users = u;
	a->nusers = nusers;
	return 0;
}

const char *auth_realm(const struct auth_ctx *a)
{
	return a->realm;
}

int auth_put_challenge(struct auth_ctx *a, struct stun_builder *b, const struct nts_addr *client,
		       uint64_t now)
{
	char nonce[AUTH_NONCE_LEN + 1];
	size_t n = auth_nonce_make(a, client, now, nonce);

	stun_put_attr(b, STUN_ATTR_REALM, a->realm, a->realm_len);
	stun_put_attr(b, STUN_ATTR_NONCE, nonce, n);
	stun_put_password_algs(b, auth_offered_algs, AUTH_NOFFERED_ALGS);
	return b->err ? -ENOSPC : 0;
}

int auth_sign(const struct auth_result *r, struct stun_builder *b)
{
	if (r->key_len == 0 || r->key_len > sizeof(r->key))
		return -EINVAL;
	if (r->use_sha256)
		stun_put_integrity_sha256(b, r->key, r->key_len);
	else
		stun_put_integrity(b, r->key, r->key_len);
	stun_put_fingerprint(b);
	return b->err ? -ENOSPC : 0;
}

int auth_nonce_key_get(const struct auth_ctx *a, uint8_t *out, size_t len)
{
	if (len < sizeof(a->nonce_key))
		return -ENOSPC;
	memcpy(out, a->nonce_key, sizeof(a->nonce_key));
	return (int)sizeof(a->nonce_key);
}

int auth_nonce_key_set(struct auth_ctx *a, const uint8_t *key, size_t len)
{
	if (len != sizeof(a->nonce_key))
		return -EINVAL;
	memcpy(a->nonce_key, key, len);
	return 0;
}
