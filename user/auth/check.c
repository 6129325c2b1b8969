/* auth_check(): the server side of the long-term credential mechanism, RFC 8489 §9.2.4, in its
 * order: no integrity -> 401; missing USERNAME/USERHASH, REALM or NONCE -> 400;
 * PASSWORD-ALGORITHM(S) bid-down check -> 400; bad nonce -> 401, expired nonce -> 438; unknown user
 * or wrong integrity -> 401. USERHASH resolves static users only: an ephemeral username cannot be
 * recovered from its hash.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <string.h>

#include "auth/auth_priv.h"

/* RFC 8489 §9.2.4: absent both -> MD5; otherwise both must be present, PASSWORD-ALGORITHMS must be
 * exactly the list we sent with the nonce, and PASSWORD-ALGORITHM one of its entries. 0 or -EINVAL.
 */
static int check_algs(const struct stun_msg *m, uint16_t *alg)
{
	const struct stun_attr *list = stun_find(m, STUN_ATTR_PASSWORD_ALGORITHMS);
	const struct stun_attr *one = stun_find(m, STUN_ATTR_PASSWORD_ALGORITHM);
	uint8_t sent[4 * AUTH_NOFFERED_ALGS];
	const uint8_t *params;
	uint16_t plen;

	*alg = STUN_PWALG_MD5;
	if (!list && !one)
		return 0;
	if (!list || !one)
		return -EINVAL;
	for (size_t i = 0; i < AUTH_NOFFERED_ALGS; i++) {
		sent[4 * i] = (uint8_t)(auth_offered_algs[i] >> 8);
		sent[4 * i + 1] = (uint8_t)auth_offered_algs[i];
		sent[4 * i + 2] = sent[4 * i + 3] = 0; /* neither MD5 nor SHA-256 has parameters */
	}
	if (list->len != sizeof(sent) || memcmp(list->value, sent, sizeof(sent)) != 0)
		return -EINVAL;
	if (stun_attr_get_password_alg(one, alg, &params, &plen) || plen != 0)
		return -EINVAL;
	for (size_t i = 0; i < AUTH_NOFFERED_ALGS; i++)
		if (*alg == auth_offered_algs[i])
			return 0;
	return -EINVAL;
}

/* Derives the long-term key for (user, pass) and checks the request's integrity with it; MESSAGE-
 * INTEGRITY-SHA256 is checked when present, else MESSAGE-INTEGRITY (RFC 8489 §9.2.4). */
static bool verify_with(const struct auth_ctx *a, const struct stun_msg *m, uint16_t alg,
			const char *user, size_t ulen, const char *pass, size_t plen,
			struct auth_result *r)
{
	uint8_t key[32];
	int n = stun_long_term_key(alg, user, ulen, a->realm, a->realm_len, pass, plen, key);
	bool ok = false;

	if (n > 0 && (size_t)n <= sizeof(key)) {
		if (m->integrity_sha256 >= 0)
			ok = stun_check_integrity_sha256(m, key, (size_t)n);
		else
			ok = stun_check_integrity(m, key, (size_t)n);
	}
	if (ok) {
		memcpy(r->key, key, (size_t)n);
		r->key_len = (size_t)n;
	}
	OPENSSL_cleanse(key, sizeof(key));
	return ok;
}

/* Index of the static user named (name, len) or -1; every entry is compared, without early exit. */
static long find_static_by_name(const struct auth_ctx *a, const char *name, size_t len)
{
	long found = -1;

	for (size_t i = 0; i < a->nusers; i++) {
		const struct auth_user *u = &a->users[i];
		size_t n = u->name_len < len ? u->name_len : len;
		bool eq = u->name_len == len && CRYPTO_memcmp(u->name, name, n) == 0;
		if (eq && found < 0)
			found = (long)i;
	}
	return found;
}

static long find_static_by_hash(const struct auth_ctx *a, const uint8_t hash[32])
{
	long found = -1;

	for (size_t i = 0; i < a->nusers; i++)
		if (CRYPTO_memcmp(a->users[i].userhash, hash, 32) == 0 && found < 0)
			found = (long)i;
	return found;
}

/* Ephemeral credentials: every secret is tried (no early exit) so timing does not tell which one
 * signed; an expired username is refused before any MAC is computed (docs/architecture.md
 * "Credentials": expired -> 401). */
static bool verify_ephemeral(const struct auth_ctx *a, const struct stun_msg *m, uint16_t alg,
			     uint64_t now, struct auth_result *r)
{
	size_t ulen = strlen(r->username), id_off;
	char pass[AUTH_EPHEMERAL_PASSWORD_LEN + 1];
	uint64_t expiry;
	bool ok = false;

	if (!auth_ephemeral_parse(r->username, ulen, &expiry, &id_off) || expiry <= now)
		return false;
	if (ulen - id_off >= sizeof(r->account))
		return false; /* the id must fit auth_result.account (an AccountSid is 34
				 characters) */
	for (size_t i = 0; i < a->nsecrets; i++) {
		struct auth_result tmp = {0};
		if (auth_ephemeral_password(&a->secrets[i], r->username, ulen, pass))
			continue;
		if (verify_with(a, m, alg, r->username, ulen, pass, AUTH_EPHEMERAL_PASSWORD_LEN,
				&tmp) &&
		    !ok) {
			ok = true;
			memcpy(r->key, tmp.key, sizeof(r->key));
			r->key_len = tmp.key_len;
		}
		OPENSSL_cleanse(&tmp, sizeof(tmp));
	}
	OPENSSL_cleanse(pass, sizeof(pass));
	if (ok) {
		memcpy(r->account, r->username + id_off, ulen - id_off);
		r->account[ulen - id_off] = 0;
		r->expires = expiry;
	}
	return ok;
}

/* Fills r->username from USERNAME or USERHASH; returns the static user index, -1 for none, or
 * -400 for a malformed USERHASH. */
static long resolve_user(const struct auth_ctx *a, const struct stun_attr *user,
			 const struct stun_attr *uhash, struct auth_result *r)
{
	long idx;

	if (user) {
		if (user->len == 0 || user->len >= AUTH_MAX_USERNAME ||
		    memchr(user->value, 0, user->len))
			return -1;
		memcpy(r->username, user->value, user->len);
		r->username[user->len] = 0;
		return find_static_by_name(a, r->username, user->len);
	}
	if (uhash->len != 32)
		return -400;
	idx = find_static_by_hash(a, uhash->value);
	if (idx >= 0)
		memcpy(r->username, a->users[idx].name, a->users[idx].name_len + 1);
	return idx;
}

/* The §9.2.4 steps; returns 0 or the error code to answer. */
static int check(const struct auth_ctx *a, const struct stun_msg *m, const struct nts_addr *client,
		 uint64_t now, struct auth_result *r)
{
	const struct stun_attr *user, *uhash, *realm, *nonce;
	uint32_t features;
	uint16_t alg = STUN_PWALG_MD5;
	long idx;

	if (m->integrity < 0 && m->integrity_sha256 < 0)
		return 401;
	user = stun_find(m, STUN_ATTR_USERNAME);
	uhash = stun_find(m, STUN_ATTR_USERHASH);
	realm = stun_find(m, STUN_ATTR_REALM);
	nonce = stun_find(m, STUN_ATTR_NONCE);
	if ((!user && !uhash) || !realm || !nonce)
		return 400;
	if (auth_nonce_cookie(nonce->value, nonce->len, &features) &&
	    (features & AUTH_FEATURE_PASSWORD_ALGS) && check_algs(m, &alg))
		return 400;
	switch (auth_nonce_verify(a, nonce->value, nonce->len, client, now)) {
	case AUTH_NONCE_OK:
		break;
	case AUTH_NONCE_STALE:
		return 438;
	default:
		return 401;
	}
	r->alg = alg;
	r->use_sha256 = m->integrity_sha256 >= 0;
	/* The key is derived with our realm, so a request for another realm could never verify. */
	if (realm->len != a->realm_len || memcmp(realm->value, a->realm, a->realm_len) != 0)
		return 401;
	idx = resolve_user(a, user, uhash, r);
	if (idx == -400)
		return 400;
	if (idx >= 0) {
		const struct auth_user *u = &a->users[idx];
		if (verify_with(a, m, alg, u->name, u->name_len, u->pass, u->pass_len, r))
			return 0;
	}
	if (user && verify_ephemeral(a, m, alg, now, r))
		return 0;
	return 401;
}

void auth_check(struct auth_ctx *a, const struct stun_msg *m, const struct nts_addr *client,
		uint64_t now, struct auth_result *r)
{
	memset(r, 0, sizeof(*r));
	r->alg = STUN_PWALG_MD5;
	r->error = check(a, m, client, now, r);
	r->challenge = r->error == 401 || r->error == 438;
	if (r->error) {
		OPENSSL_cleanse(r->key, sizeof(r->key));
		r->key_len = 0;
	}
}
