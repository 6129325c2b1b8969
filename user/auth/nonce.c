/* Stateless nonces (RFC 8489 §9.2.1, docs/architecture.md "Security defaults").
 * nonce = "obMatJos2" base64(features, 3 bytes) base64url(expiry, 4 bytes BE || MAC, 16 bytes)
 * without its one '=' of padding, where MAC = HMAC-SHA256(process key, features text || expiry as
 * 8 bytes BE || family || client IP)[0..16). 40 characters, a 44-byte attribute: as short as a
 * 128-bit MAC and an expiry in seconds (until 2106) allow once padded to 4 bytes (RFC 8489 §14),
 * which keeps the unauthenticated 401 small (no amplification). The
 * port is left out so a client whose NAT rebinds keeps its nonce; the features are covered so a man
 * in the middle cannot clear the password-algorithms bit to skip the §9.2.4 bid-down check.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "auth/auth_priv.h"

void auth_base64(const uint8_t *in, size_t n, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

uint32_t auth_nonce_features(const struct auth_ctx *a)
{
	/* RFC 8489 §9.2.5: with the anonymity bit set a client MUST send USERHASH instead of
	 * USERNAME. Ephemeral usernames cannot be recovered from their hash, so the bit is only
	 * advertised when every valid username is a static one (no ephemeral secrets configured).
	 */
	uint32_t f = AUTH_FEATURE_PASSWORD_ALGS;

	if (a->nsecrets == 0)
		f |= AUTH_FEATURE_USER_ANONYMITY;
	return f;
}

static void nonce_mac(const struct auth_ctx *a, const char features[4], uint64_t expiry,
		      const struct nts_addr *client, uint8_t mac[AUTH_NONCE_MAC_LEN])
{
	uint8_t in[4 + 8 + 1 + 16], full[EVP_MAX_MD_SIZE];
	unsigned int full_len = 0;
	size_t n = 0, iplen = client->family == AF_INET ? 4 : 16;

	memcpy(in, features, 4);
	n = 4;
	for (int i = 7; i >= 0; i--)
		in[n++] = (uint8_t)(expiry >> (8 * i));
	in[n++] = client->family;
	memcpy(in + n, client->ip, iplen);
	n += iplen;
	HMAC(EVP_sha256(), a->nonce_key, sizeof(a->nonce_key), in, n, full, &full_len);
	memcpy(mac, full, AUTH_NONCE_MAC_LEN);
}

static void features_text(uint32_t features, char out[5])
{
	uint8_t f[3] = {(uint8_t)(features >> 16), (uint8_t)(features >> 8), (uint8_t)features};

	auth_base64(f, 3, out);
}

/* Writes the nonce for client that expires at expiry (seconds, truncated to 32 bits). */
static size_t nonce_format(const struct auth_ctx *a, const struct nts_addr *client, uint32_t expiry,
			   char out[AUTH_NONCE_LEN + 1])
{
	uint8_t opaque[AUTH_NONCE_EXPIRY_LEN + AUTH_NONCE_MAC_LEN];
	char feat[5], b64[AUTH_NONCE_B64_LEN + 2];
	char *p = out;

	features_text(auth_nonce_features(a), feat);
	for (int i = 0; i < AUTH_NONCE_EXPIRY_LEN; i++)
		opaque[i] = (uint8_t)(expiry >> (8 * (AUTH_NONCE_EXPIRY_LEN - 1 - i)));
	nonce_mac(a, feat, expiry, client, opaque + AUTH_NONCE_EXPIRY_LEN);
	memcpy(p, AUTH_NONCE_COOKIE, AUTH_NONCE_COOKIE_LEN);
	p += AUTH_NONCE_COOKIE_LEN;
	memcpy(p, feat, 4);
	p += 4;
	/* 20 bytes: 27 characters and one '=' of padding, which is left out */
	auth_base64(opaque, sizeof(opaque), b64);
	for (size_t i = 0; i < AUTH_NONCE_B64_LEN; i++) {
		/* base64url keeps the nonce free of '/' and '+' for picky clients */
		char c = b64[i];

		*p++ = c == '+' ? '-' : c == '/' ? '_' : c;
	}
	*p = 0;
	return (size_t)(p - out);
}

size_t auth_nonce_make(const struct auth_ctx *a, const struct nts_addr *client, uint64_t now,
		       char out[AUTH_NONCE_LEN + 1])
{
	return nonce_format(a, client, (uint32_t)(now + AUTH_NONCE_LIFETIME), out);
}

bool auth_nonce_cookie(const uint8_t *nonce, size_t len, uint32_t *features)
{
	uint8_t f[4];
	char txt[5];

	if (len < AUTH_NONCE_COOKIE_LEN + 4 ||
	    memcmp(nonce, AUTH_NONCE_COOKIE, AUTH_NONCE_COOKIE_LEN))
		return false;
	memcpy(txt, nonce + AUTH_NONCE_COOKIE_LEN, 4);
	txt[4] = 0;
	if (EVP_DecodeBlock(f, (const unsigned char *)txt, 4) != 3)
		return false;
	*features = (uint32_t)f[0] << 16 | (uint32_t)f[1] << 8 | f[2];
	return true;
}

enum auth_nonce_state auth_nonce_verify(const struct auth_ctx *a, const uint8_t *nonce, size_t len,
					const struct nts_addr *client, uint64_t now)
{
	char b64[AUTH_NONCE_B64_LEN + 2], want[AUTH_NONCE_LEN + 1];
	uint8_t opaque[AUTH_NONCE_EXPIRY_LEN + AUTH_NONCE_MAC_LEN + 1];
	uint32_t expiry = 0, features;

	if (len != AUTH_NONCE_LEN || !auth_nonce_cookie(nonce, len, &features))
		return AUTH_NONCE_BAD;
	if (client->family != AF_INET && client->family != AF_INET6)
		return AUTH_NONCE_BAD;
	for (size_t i = 0; i < AUTH_NONCE_B64_LEN; i++) {
		char c = (char)nonce[AUTH_NONCE_COOKIE_LEN + 4 + i];
		if (c == '+' || c == '/' || c == '=')
			return AUTH_NONCE_BAD; /* we only issue the url-safe alphabet */
		b64[i] = c == '-' ? '+' : c == '_' ? '/' : c;
	}
	b64[AUTH_NONCE_B64_LEN] = '=';
	b64[AUTH_NONCE_B64_LEN + 1] = 0;
	if (EVP_DecodeBlock(opaque, (const unsigned char *)b64, AUTH_NONCE_B64_LEN + 1) !=
	    (int)sizeof(opaque))
		return AUTH_NONCE_BAD;
	for (int i = 0; i < AUTH_NONCE_EXPIRY_LEN; i++)
		expiry = expiry << 8 | opaque[i];
	/* Issuing the nonce again for the expiry it claims checks the MAC, the features and the
	 * encoding (one text per nonce) at once. */
	nonce_format(a, client, expiry, want);
	if (CRYPTO_memcmp(want, nonce, AUTH_NONCE_LEN) != 0)
		return AUTH_NONCE_BAD;
	return expiry <= now ? AUTH_NONCE_STALE : AUTH_NONCE_OK;
}
