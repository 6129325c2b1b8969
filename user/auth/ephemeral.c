/* Ephemeral credentials, the TURN REST scheme coturn and others use (docs/architecture.md
 * "Credentials"): username "<unix-expiry>:<id>", password base64(HMAC-SHA1(secret, username)). The
 * first secret signs, every secret verifies (rotation). The id may itself contain ':'; it is
 * everything after the first.
 */
#include <errno.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#include "auth/auth_priv.h"

bool auth_ephemeral_parse(const char *username, size_t len, uint64_t *expiry, size_t *id_off)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < len && username[i] >= '0' && username[i] <= '9'; i++) {
		unsigned d = (unsigned)(username[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (i == 0 || (i < len && username[i] != ':'))
		return false;
	*expiry = v;
	*id_off = i < len ? i + 1 : len;
	return true;
}

int auth_ephemeral_password(const struct auth_secret *secret, const char *username, size_t ulen,
			    char out[AUTH_EPHEMERAL_PASSWORD_LEN + 1])
{
	uint8_t mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;

	if (!HMAC(EVP_sha1(), secret->s, (int)secret->len, (const unsigned char *)username, ulen,
		  mac, &mac_len) ||
	    mac_len != 20)
		return -EIO;
	auth_base64(mac, 20, out);
	OPENSSL_cleanse(mac, sizeof(mac));
	return 0;
}

int auth_make_ephemeral(const struct auth_ctx *a, const char *id, uint64_t expiry, char *username,
			size_t ulen, char *password, size_t plen)
{
	int n;

	if (!a || !id || !username || !password)
		return -EINVAL;
	if (a->nsecrets == 0)
		return -ENOENT;
	if (plen < AUTH_EPHEMERAL_PASSWORD_LEN + 1)
		return -ENOSPC;
	n = snprintf(username, ulen, "%" PRIu64 ":%s", expiry, id);
	if (n < 0 || (size_t)n >= ulen || n >= AUTH_MAX_USERNAME)
		return -ENOSPC;
	return auth_ephemeral_password(&a->secrets[0], username, (size_t)n, password);
}
