/* Long-term credential mechanism (RFC 8489 §9.2) for TURN: stateless nonces, ephemeral (TURN REST)
 * and static users, MD5/SHA-256 password algorithms, USERHASH, MESSAGE-INTEGRITY(-SHA256).
 * No per-client state: a nonce is a keyed MAC over its expiry and the client address.
 */
#ifndef NTS_AUTH_AUTH_H
#define NTS_AUTH_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stun/stun.h"
#include "util/addr.h"

#define AUTH_MAX_USERNAME 513 /* RFC 8489: < 509 bytes, plus NUL and slack */
#define AUTH_NONCE_LIFETIME 600 /* seconds a nonce is accepted before 438 */

struct auth_ctx;

/* Creates the context: realm, ephemeral secrets (first signs, all verify; may be 0), static users as
 * "name:password" strings. NULL on failure. Secrets are copied and never logged. */
struct auth_ctx *auth_create(const char *realm, const char *const *secrets, size_t nsecrets,
			     const char *const *users, size_t nusers);
void auth_destroy(struct auth_ctx *a);
/* The nonce key, for an upgrade to hand over (outstanding nonces stay valid): copies it into out
 * (len bytes at least) and returns its length, or -ENOSPC. */
int auth_nonce_key_get(const struct auth_ctx *a, uint8_t *out, size_t len);
/* Replaces the nonce key with one handed over. 0, or -EINVAL when len is not the key's length. */
int auth_nonce_key_set(struct auth_ctx *a, const uint8_t *key, size_t len);
/* Replaces the ephemeral secrets (e.g. loaded from the database). 0 or -errno. */
int auth_set_secrets(struct auth_ctx *a, const char *const *secrets, size_t nsecrets);
/* Replaces the static users ("name:password" strings, as auth_create()); on failure the previous
 * ones stay. 0 or -errno. */
int auth_set_users(struct auth_ctx *a, const char *const *users, size_t nusers);
const char *auth_realm(const struct auth_ctx *a);

/* Outcome of checking a request's credentials. */
struct auth_result {
	int error;                      /* 0: authenticated; else the STUN error to answer: 400, 401, 438 */
	bool challenge;                 /* the answer must carry REALM, NONCE (and PASSWORD-ALGORITHMS) */
	char username[AUTH_MAX_USERNAME]; /* the (resolved) username, NUL-terminated */
	char account[64];               /* ephemeral: the id after ':' (AccountSid); static: empty */
	uint64_t expires;               /* ephemeral: unix expiry; static: 0 */
	uint16_t alg;                   /* password algorithm: STUN_PWALG_MD5 or STUN_PWALG_SHA256 */
	bool use_sha256;                /* the request used MESSAGE-INTEGRITY-SHA256: answer with it */
	uint8_t key[32];                /* long-term key for signing the response */
	size_t key_len;
};

/* Checks m from client at unix time now (RFC 8489 §9.2.4). Constant-time credential comparison. */
void auth_check(struct auth_ctx *a, const struct stun_msg *m, const struct nts_addr *client,
		uint64_t now, struct auth_result *r);
/* Appends REALM, NONCE and PASSWORD-ALGORITHMS for a 401/438 answer to client. 0 or -ENOSPC. */
int auth_put_challenge(struct auth_ctx *a, struct stun_builder *b, const struct nts_addr *client,
		       uint64_t now);
/* Appends MESSAGE-INTEGRITY or MESSAGE-INTEGRITY-SHA256 (as the request used) and FINGERPRINT. */
int auth_sign(const struct auth_result *r, struct stun_builder *b);

/* Ephemeral credentials (TURN REST scheme): username "<expiry>:<id>", password
 * base64(HMAC-SHA1(first secret, username)). 0, or -ENOENT when there is no secret. */
int auth_make_ephemeral(const struct auth_ctx *a, const char *id, uint64_t expiry,
			char *username, size_t ulen, char *password, size_t plen);

/* Signed links: HMAC-SHA256 under a label of its own, keyed with the first secret (sign) or any
 * secret (verify, constant time). msg: at most AUTH_LINK_MAX_MSG bytes. sign: 0, -ENOENT without
 * a secret, -EINVAL (too long), -EIO. */
#define AUTH_LINK_MAC_LEN 32
#define AUTH_LINK_MAX_MSG 256
int auth_link_sign(const struct auth_ctx *a, const char *msg, size_t len,
		   uint8_t mac[AUTH_LINK_MAC_LEN]);
bool auth_link_verify(const struct auth_ctx *a, const char *msg, size_t len,
		      const uint8_t mac[AUTH_LINK_MAC_LEN]);

#endif
