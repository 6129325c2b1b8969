/* Signed links (the connectivity page's diag link, user/api/api_diag.c): HMAC-SHA256 keyed with the
 * ephemeral-credential secrets over a label and the link's text. The label keeps these MACs apart
 * from TURN REST passwords (HMAC-SHA1 over a username), so neither can stand in for the other. The
 * first secret signs, every secret verifies (rotation), as for ephemeral credentials.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "auth/auth_priv.h"

#define AUTH_LINK_LABEL "nts signed link v1" /* followed by its NUL in the MAC input */

static int auth_link_mac(const struct auth_secret *secret, const char *msg, size_t len,
			 uint8_t mac[AUTH_LINK_MAC_LEN])
{
	uint8_t in[sizeof(AUTH_LINK_LABEL) + AUTH_LINK_MAX_MSG];
	unsigned int n = 0;

	if (len > AUTH_LINK_MAX_MSG)
		return -EINVAL;
	memcpy(in, AUTH_LINK_LABEL, sizeof(AUTH_LINK_LABEL));
	memcpy(in + sizeof(AUTH_LINK_LABEL), msg, len);
	if (!HMAC(EVP_sha256(), secret->s, (int)secret->len, in, sizeof(AUTH_LINK_LABEL) + len, mac,
		  &n) ||
	    n != AUTH_LINK_MAC_LEN)
		return -EIO;
	return 0;
}

int auth_link_sign(const struct auth_ctx *a, const char *msg, size_t len,
		   uint8_t mac[AUTH_LINK_MAC_LEN])
{
	if (!a || a->nsecrets == 0)
		return -ENOENT;
	return auth_link_mac(&a->secrets[0], msg, len, mac);
}

bool auth_link_verify(const struct auth_ctx *a, const char *msg, size_t len,
		      const uint8_t mac[AUTH_LINK_MAC_LEN])
{
	uint8_t want[AUTH_LINK_MAC_LEN];
	bool ok = false;

	/* Every secret is tried whatever matched before: the time does not tell which one did. */
	for (size_t i = 0; a && i < a->nsecrets; i++)
		if (auth_link_mac(&a->secrets[i], msg, len, want) == 0)
			ok |= CRYPTO_memcmp(want, mac, AUTH_LINK_MAC_LEN) == 0;
	OPENSSL_cleanse(want, sizeof(want));
	return ok;
}
