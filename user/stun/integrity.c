/* MESSAGE-INTEGRITY (HMAC-SHA1), MESSAGE-INTEGRITY-SHA256, FINGERPRINT (CRC-32), long-term keys and
 * USERHASH, with OpenSSL 3 (EVP_MAC, EVP_Digest). RFC 8489 §9.2.2, §14.4-§14.7.
 */
#include <errno.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "stun/stun.h"
#include "stun/wire.h"

#define SHA1_LEN 20
#define SHA256_LEN 32

/* HMAC(digest, key) over hdr (20 bytes) then rest[0..rest_len); out gets the full digest. */
static int hmac2(const char *digest, const uint8_t *key, size_t key_len, const uint8_t *hdr,
		 const uint8_t *rest, size_t rest_len, uint8_t *out, size_t out_cap)
{
	static const uint8_t empty_key[1];
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)digest, 0),
	    OSSL_PARAM_construct_end(),
	};
	size_t out_len = 0;
	int ok = ctx && EVP_MAC_init(ctx, key_len ? key : empty_key, key_len, params) &&
		 EVP_MAC_update(ctx, hdr, STUN_HEADER_LEN) &&
		 (!rest_len || EVP_MAC_update(ctx, rest, rest_len)) &&
		 EVP_MAC_final(ctx, out, &out_len, out_cap);

	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return ok ? (int)out_len : -EIO;
}

/* Recomputes an integrity attribute over the message before it, with the header length set to end
 * just after it (RFC 8489 §14.5, §14.6), and compares in constant time. */
static bool check_mac(const struct stun_msg *m, int idx, const char *digest, size_t want_min,
		      size_t want_max, const uint8_t *key, size_t key_len)
{
	uint8_t hdr[STUN_HEADER_LEN], mac[SHA256_LEN];

	if (idx < 0 || (unsigned)idx >= m->nattrs)
		return false;
	const struct stun_attr *a = &m->attrs[idx];
	size_t off = stun_attr_off(m, a);
	if (a->len < want_min || a->len > want_max || off < STUN_HEADER_LEN)
		return false;
	memcpy(hdr, m->buf, STUN_HEADER_LEN);
	stun_wr16(hdr + 2, (uint16_t)(off - STUN_HEADER_LEN + 4 + stun_pad4(a->len)));
	int n = hmac2(digest, key, key_len, hdr, m->buf + STUN_HEADER_LEN, off - STUN_HEADER_LEN,
		      mac, sizeof(mac));
	if (n < (int)a->len)
		return false;
	return CRYPTO_memcmp(mac, a->value, a->len) == 0;
}

bool stun_check_integrity(const struct stun_msg *m, const uint8_t *key, size_t key_len)
{
	return check_mac(m, m->integrity, "SHA1", SHA1_LEN, SHA1_LEN, key, key_len);
}

bool stun_check_integrity_sha256(const struct stun_msg *m, const uint8_t *key, size_t key_len)
{
	if (m->integrity_sha256 >= 0 && m->attrs[m->integrity_sha256].len % 4)
		return false;
	return check_mac(m, m->integrity_sha256, "SHA256", 16, SHA256_LEN, key, key_len);
}

/* CRC-32 (reflected, polynomial 0xEDB88320), four bits at a time. */
uint32_t stun_crc32_update(uint32_t crc, const uint8_t *buf, size_t len)
{
	static const uint32_t nibble[16] = {
	    0x00000000, 0x1DB71064, 0x3B6E20C8, 0x26D930AC, 0x76DC4190, 0x6B6B51F4,
	    0x4DB26158, 0x5005713C, 0xEDB88320, 0xF00F9344, 0xD6D6A3E8, 0xCB61B38C,
	    0x9B64C2B0, 0x86D3D2D4, 0xA00AE278, 0xBDBDF21C,
	};

	crc = ~crc;
	for (size_t i = 0; i < len; i++) {
		crc ^= buf[i];
		crc = (crc >> 4) ^ nibble[crc & 0xF];
		crc = (crc >> 4) ^ nibble[crc & 0xF];
	}
	return ~crc;
}

uint32_t stun_crc32(const uint8_t *buf, size_t len)
{
	return stun_crc32_update(0, buf, len);
}

/* RFC 8489 §14.7: CRC-32 of the message up to FINGERPRINT, length set to include it, XOR
 * 0x5354554E. */
bool stun_check_fingerprint(const struct stun_msg *m)
{
	uint8_t hdr[STUN_HEADER_LEN];

	if (m->fingerprint < 0 || (unsigned)m->fingerprint >= m->nattrs)
		return false;
	const struct stun_attr *a = &m->attrs[m->fingerprint];
	size_t off = stun_attr_off(m, a);
	if (a->len != 4 || off < STUN_HEADER_LEN)
		return false;
	memcpy(hdr, m->buf, STUN_HEADER_LEN);
	stun_wr16(hdr + 2, (uint16_t)(off - STUN_HEADER_LEN + 8));
	uint32_t crc = stun_crc32_update(0, hdr, STUN_HEADER_LEN);
	crc = stun_crc32_update(crc, m->buf + STUN_HEADER_LEN, off - STUN_HEADER_LEN);
	return (crc ^ STUN_FINGERPRINT_XOR) == stun_rd32(a->value);
}

/* Digest of the parts joined with ':' (RFC 8489 §9.2.2 key, §14.4 USERHASH). */
static int digest_joined(const EVP_MD *md, const char *const *parts, const size_t *lens, int n,
			 uint8_t *out)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int out_len = 0;
	int ok = ctx && EVP_DigestInit_ex(ctx, md, NULL);

	for (int i = 0; ok && i < n; i++) {
		if (i)
			ok = EVP_DigestUpdate(ctx, ":", 1);
		if (ok && lens[i])
			ok = EVP_DigestUpdate(ctx, parts[i], lens[i]);
	}
	ok = ok && EVP_DigestFinal_ex(ctx, out, &out_len);
	EVP_MD_CTX_free(ctx);
	return ok ? (int)out_len : -EIO;
}

int stun_long_term_key(uint16_t alg, const char *user, size_t ulen, const char *realm, size_t rlen,
		       const char *pass, size_t plen, uint8_t *out)
{
	const char *parts[3] = {user, realm, pass};
	const size_t lens[3] = {ulen, rlen, plen};

	if (alg == STUN_PWALG_MD5)
		return digest_joined(EVP_md5(), parts, lens, 3, out);
	if (alg == STUN_PWALG_SHA256)
		return digest_joined(EVP_sha256(), parts, lens, 3, out);
	return -EINVAL;
}

void stun_userhash(const char *user, size_t ulen, const char *realm, size_t rlen, uint8_t out[32])
{
	const char *parts[2] = {user, realm};
	const size_t lens[2] = {ulen, rlen};

	if (digest_joined(EVP_sha256(), parts, lens, 2, out) != SHA256_LEN)
		memset(out, 0, SHA256_LEN);
}

/* Appends an HMAC attribute: reserving it first sets the header length to end after it, which is
 * exactly the length the HMAC input must carry. */
static int put_mac(struct stun_builder *b, uint16_t type, const char *digest, size_t len,
		   const uint8_t *key, size_t key_len)
{
	uint8_t mac[SHA256_LEN];
	size_t pos = b->len;
	uint8_t *v = stun_put_reserve(b, type, len);

	if (!v)
		return b->err;
	int n = hmac2(digest, key, key_len, b->buf, b->buf + STUN_HEADER_LEN, pos - STUN_HEADER_LEN,
		      mac, sizeof(mac));
	if (n != (int)len)
		return stun_build_fail(b, -EIO);
	memcpy(v, mac, len);
	return 0;
}

int stun_put_integrity(struct stun_builder *b, const uint8_t *key, size_t key_len)
{
	return put_mac(b, STUN_ATTR_MESSAGE_INTEGRITY, "SHA1", SHA1_LEN, key, key_len);
}

int stun_put_integrity_sha256(struct stun_builder *b, const uint8_t *key, size_t key_len)
{
	return put_mac(b, STUN_ATTR_MESSAGE_INTEGRITY_SHA256, "SHA256", SHA256_LEN, key, key_len);
}

int stun_put_fingerprint(struct stun_builder *b)
{
	size_t pos = b->len;
	uint8_t *v = stun_put_reserve(b, STUN_ATTR_FINGERPRINT, 4);

	if (!v)
		return b->err;
	stun_wr32(v, stun_crc32(b->buf, pos) ^ STUN_FINGERPRINT_XOR);
	return 0;
}
