/* Internals shared by the auth sources (not for other modules): the context layout, stateless
 * nonces (nonce.c), TURN REST ephemeral credentials (ephemeral.c) and base64 helpers. Nothing here
 * is logged: secrets, passwords and keys stay in memory only and are cleansed on free.
 */
#ifndef NTS_AUTH_AUTH_PRIV_H
#define NTS_AUTH_AUTH_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"

#define AUTH_NONCE_KEY_LEN 32
#define AUTH_MAX_REALM 763 /* RFC 8489 §14.9: < 128 characters, at most 763 bytes */
#define AUTH_NONCE_COOKIE "obMatJos2"
#define AUTH_NONCE_COOKIE_LEN 9
/* Cookie, 4 characters of security features, base64url of expiry (4) and truncated MAC (16). */
#define AUTH_NONCE_MAC_LEN 16
#define AUTH_NONCE_EXPIRY_LEN 4
#define AUTH_NONCE_B64_LEN 27 /* base64 of 20 bytes without its padding */
#define AUTH_NONCE_LEN (AUTH_NONCE_COOKIE_LEN + 4 + AUTH_NONCE_B64_LEN)
/* RFC 8489 §9.2.1 security feature set: 24 bits, bit 0 is the most significant. */
#define AUTH_FEATURE_PASSWORD_ALGS 0x800000u
#define AUTH_FEATURE_USER_ANONYMITY 0x400000u
#define AUTH_EPHEMERAL_PASSWORD_LEN 28 /* base64 of a 20-byte HMAC-SHA1 */

struct auth_secret {
	char *s;
	size_t len;
};

struct auth_user {
	char *name;
	size_t name_len;
	char *pass;
	size_t pass_len;
	uint8_t userhash[32]; /* RFC 8489 §14.4, precomputed for USERHASH lookups */
};

struct auth_ctx {
	char realm[AUTH_MAX_REALM + 1];
	size_t realm_len;
	struct auth_secret *secrets;
	size_t nsecrets;
	struct auth_user *users;
	size_t nusers;
	uint8_t nonce_key[AUTH_NONCE_KEY_LEN]; /* process-random; nonces die with the process */
};

/* PASSWORD-ALGORITHMS every challenge offers, in order of preference (RFC 8489 §9.2.4). */
#define AUTH_NOFFERED_ALGS 2
extern const uint16_t auth_offered_algs[AUTH_NOFFERED_ALGS];

enum auth_nonce_state { AUTH_NONCE_OK, AUTH_NONCE_STALE, AUTH_NONCE_BAD };

/* Security feature bits a's nonces advertise (USERHASH only when every user is resolvable). */
uint32_t auth_nonce_features(const struct auth_ctx *a);
/* Writes a NUL-terminated nonce for client valid until now + AUTH_NONCE_LIFETIME; returns its
 * length. */
size_t auth_nonce_make(const struct auth_ctx *a, const struct nts_addr *client, uint64_t now,
		       char out[AUTH_NONCE_LEN + 1]);
/* Checks a received nonce: OK, STALE (ours but expired) or BAD (not ours / other client). */
enum auth_nonce_state auth_nonce_verify(const struct auth_ctx *a, const uint8_t *nonce, size_t len,
					const struct nts_addr *client, uint64_t now);
/* True when nonce starts with the RFC 8489 cookie; *features gets its 24-bit feature set. */
bool auth_nonce_cookie(const uint8_t *nonce, size_t len, uint32_t *features);

/* Parses "<digits>:<id>" or bare "<digits>": expiry and the id's offset (len when there is no id);
 * false when username is not of that form. */
bool auth_ephemeral_parse(const char *username, size_t len, uint64_t *expiry, size_t *id_off);
/* TURN REST password: base64(HMAC-SHA1(secret, username)) into out (29 bytes with NUL). 0 or -EIO.
 */
int auth_ephemeral_password(const struct auth_secret *secret, const char *username, size_t ulen,
			    char out[AUTH_EPHEMERAL_PASSWORD_LEN + 1]);

/* Standard base64 (with padding) of n bytes into out (4 * ((n + 2) / 3) + 1 bytes). */
void auth_base64(const uint8_t *in, size_t n, char *out);

#endif
