/* RFC 5769 test vectors and the RFC 8489 Appendix B.1 vector (as corrected by erratum 6268): parse,
 * verify MESSAGE-INTEGRITY(-SHA256) and FINGERPRINT, decode the attributes, re-encode
 * byte-identical.
 *
 * Re-encoding: RFC 5769 pads SOFTWARE and USERNAME with spaces (0x20), which RFC 8489 §14 permits
 * (padding content is arbitrary). The builder pads with zeros by default, so those attributes are
 * rebuilt with stun_put_attr_pad(..., 0x20); every other byte (XOR addresses, HMACs, CRCs, lengths)
 * comes from the builder's own computation and is compared with the published bytes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "stun/stun.h"

/* clang-format off */
/* RFC 5769 §2.1: sample request (short-term credentials, ICE attributes). */
static const uint8_t req_2_1[] = {
	0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6,
	0x86, 0xfa, 0x87, 0xdf, 0xae,
	0x80, 0x22, 0x00, 0x10, 'S', 'T', 'U', 'N', ' ', 't', 'e', 's', 't', ' ', 'c', 'l', 'i',
	'e', 'n', 't',
	0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
	0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36,
	0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20,
	0x20,
	0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2,
	0xb5, 0xb2, 0xd3, 0xf2, 0x49, 0xc1, 0xb5, 0x71, 0xa2,
	0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
};

/* RFC 5769 §2.2: sample IPv4 response. */
static const uint8_t resp_2_2[] = {
	0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6,
	0x86, 0xfa, 0x87, 0xdf, 0xae,
	0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72,
	0x20,
	0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
	0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89,
	0xf9, 0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7,
	0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
};

/* RFC 5769 §2.3: sample IPv6 response. */
static const uint8_t resp_2_3[] = {
	0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6,
	0x86, 0xfa, 0x87, 0xdf, 0xae,
	0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72,
	0x20,
	0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa, 0xa5, 0xd3, 0xf1,
	0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9,
	0x00, 0x08, 0x00, 0x14, 0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1, 0x17, 0x84, 0xc9,
	0x7c, 0x82, 0x92, 0xc2, 0x75, 0xbf, 0xe3, 0xed, 0x41,
	0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c,
};

/* RFC 5769 §2.4: sample request with long-term authentication (MD5 key, zero padding). */
static const uint8_t req_2_4[] = {
	0x00, 0x01, 0x00, 0x60, 0x21, 0x12, 0xa4, 0x42, 0x78, 0xad, 0x34, 0x33, 0xc6, 0xad, 0x72,
	0xc0, 0x29, 0xda, 0x41, 0x2e,
	0x00, 0x06, 0x00, 0x12, 0xe3, 0x83, 0x9e, 0xe3, 0x83, 0x88, 0xe3, 0x83, 0xaa, 0xe3, 0x83,
	0x83, 0xe3, 0x82, 0xaf, 0xe3, 0x82, 0xb9, 0x00, 0x00,
	0x00, 0x15, 0x00, 0x1c, 0x66, 0x2f, 0x2f, 0x34, 0x39, 0x39, 0x6b, 0x39, 0x35, 0x34, 0x64,
	0x36, 0x4f, 0x4c, 0x33, 0x34, 0x6f, 0x4c, 0x39, 0x46, 0x53, 0x54, 0x76, 0x79, 0x36, 0x34,
	0x73, 0x41,
	0x00, 0x14, 0x00, 0x0b, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x6f, 0x72, 0x67,
	0x00,
	0x00, 0x08, 0x00, 0x14, 0xf6, 0x70, 0x24, 0x65, 0x6d, 0xd6, 0x4a, 0x3e, 0x02, 0xb8, 0xe0,
	0x71, 0x2e, 0x85, 0xc9, 0xa2, 0x8c, 0xa8, 0x96, 0x66,
};

/* RFC 8489 Appendix B.1 as corrected by erratum 6268: the published vector's length field (0x9c)
 * counts the header and its MESSAGE-INTEGRITY-SHA256 verifies under no key; the erratum adds
 * PASSWORD-ALGORITHM (SHA-256), fixes the length to 0x90 and the HMAC, keyed with
 * SHA-256(username:realm:password). */
static const uint8_t req_b_1[] = {
	0x00, 0x01, 0x00, 0x90, 0x21, 0x12, 0xa4, 0x42, 0x78, 0xad, 0x34, 0x33, 0xc6, 0xad, 0x72,
	0xc0, 0x29, 0xda, 0x41, 0x2e,
	0x00, 0x1e, 0x00, 0x20, 0x4a, 0x3c, 0xf3, 0x8f, 0xef, 0x69, 0x92, 0xbd, 0xa9, 0x52, 0xc6,
	0x78, 0x04, 0x17, 0xda, 0x0f, 0x24, 0x81, 0x94, 0x15, 0x56, 0x9e, 0x60, 0xb2, 0x05, 0xc4,
	0x6e, 0x41, 0x40, 0x7f, 0x17, 0x04,
	0x00, 0x15, 0x00, 0x29, 0x6f, 0x62, 0x4d, 0x61, 0x74, 0x4a, 0x6f, 0x73, 0x32, 0x41, 0x41,
	0x41, 0x43, 0x66, 0x2f, 0x2f, 0x34, 0x39, 0x39, 0x6b, 0x39, 0x35, 0x34, 0x64, 0x36, 0x4f,
	0x4c, 0x33, 0x34, 0x6f, 0x4c, 0x39, 0x46, 0x53, 0x54, 0x76, 0x79, 0x36, 0x34, 0x73, 0x41,
	0x00, 0x00, 0x00,
	0x00, 0x14, 0x00, 0x0b, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x6f, 0x72, 0x67,
	0x00,
	0x00, 0x1d, 0x00, 0x04, 0x00, 0x02, 0x00, 0x00,
	0x00, 0x1c, 0x00, 0x20, 0xb5, 0xc7, 0xbf, 0x00, 0x5b, 0x6c, 0x52, 0xa2, 0x1c, 0x51, 0xc5,
	0xe8, 0x92, 0xf8, 0x19, 0x24, 0x13, 0x62, 0x96, 0xcb, 0x92, 0x7c, 0x43, 0x14, 0x93, 0x09,
	0x27, 0x8c, 0xc6, 0x51, 0x8e, 0x65,
};

/* The MESSAGE-INTEGRITY-SHA256 value printed in RFC 8489 Appendix B.1 before the erratum. */
static const uint8_t b_1_published_mac[32] = {
	0xe4, 0x68, 0x6c, 0x8f, 0x0e, 0xde, 0xb5, 0x90, 0x13, 0xe0, 0x70, 0x90, 0x01, 0x0a, 0x93,
	0xef, 0xcc, 0xbc, 0xcc, 0x54, 0x4c, 0x0a, 0x45, 0xd9, 0xf8, 0x30, 0xaa, 0x6d, 0x6f, 0x73,
	0x5a, 0x01,
};

/* clang-format on */

static const char short_term_pw[] = "VOkJxbRl1RmTxUk/WvJxBt";
/* "マトリックス" in UTF-8; the password is "TheMatrIX" after SASLprep/OpaqueString (RFC 5769 §2.4).
 */
static const char lt_user[] =
    "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf\xe3\x82\xb9";
static const char lt_realm[] = "example.org";
static const char lt_pass[] = "TheMatrIX";

static const struct stun_attr *must_find(const struct stun_msg *m, uint16_t type)
{
	const struct stun_attr *a = stun_find(m, type);

	assert_non_null(a);
	return a;
}

static void assert_text(const struct stun_attr *a, const char *s)
{
	assert_int_equal(a->len, strlen(s));
	assert_memory_equal(a->value, s, a->len);
}

static const uint8_t *tid_of(const uint8_t *msg)
{
	return msg + 8;
}

/* RFC 5769 §2.1 */
static void test_rfc5769_request_parses_and_verifies(void **state)
{
	struct stun_msg m;
	uint32_t prio;
	uint64_t tiebreak;

	assert_int_equal(stun_parse(&m, req_2_1, sizeof(req_2_1)), 0);
	assert_int_equal(m.len, sizeof(req_2_1));
	assert_int_equal(m.method, STUN_BINDING);
	assert_int_equal(m.cls, STUN_REQUEST);
	assert_int_equal(m.nattrs, 6);
	assert_int_equal(m.nunknown, 0); /* PRIORITY (0x0024) is a known ICE attribute */
	assert_text(must_find(&m, STUN_ATTR_SOFTWARE), "STUN test client");
	assert_text(must_find(&m, STUN_ATTR_USERNAME), "evtj:h6vY");
	assert_int_equal(stun_attr_get_u32(must_find(&m, STUN_ATTR_PRIORITY), &prio), 0);
	assert_int_equal(prio, 0x6e0001ff);
	assert_int_equal(stun_attr_get_u64(must_find(&m, STUN_ATTR_ICE_CONTROLLED), &tiebreak), 0);
	assert_true(tiebreak == 0x932ff9b151263b36ull);
	assert_int_equal(m.integrity, 4);
	assert_int_equal(m.fingerprint, 5);
	assert_true(stun_check_fingerprint(&m));
	assert_true(
	    stun_check_integrity(&m, (const uint8_t *)short_term_pw, strlen(short_term_pw)));
	assert_false(stun_check_integrity(&m, (const uint8_t *)"VOkJxbRl1RmTxUk/WvJxBu", 22));
	assert_false(stun_check_integrity_sha256(&m, (const uint8_t *)short_term_pw, 22));
}

static void test_rfc5769_request_reencodes_identically(void **state)
{
	uint8_t out[256];
	struct stun_builder b;

	stun_build_init(&b, out, sizeof(out), STUN_BINDING, STUN_REQUEST, tid_of(req_2_1));
	stun_put_attr(&b, STUN_ATTR_SOFTWARE, "STUN test client", 16);
	stun_put_u32(&b, STUN_ATTR_PRIORITY, 0x6e0001ff);
	stun_put_u64(&b, STUN_ATTR_ICE_CONTROLLED, 0x932ff9b151263b36ull);
	stun_put_attr_pad(&b, STUN_ATTR_USERNAME, "evtj:h6vY", 9, 0x20);
	stun_put_integrity(&b, (const uint8_t *)short_term_pw, strlen(short_term_pw));
	stun_put_fingerprint(&b);
	assert_int_equal(stun_build_finish(&b), sizeof(req_2_1));
	assert_memory_equal(out, req_2_1, sizeof(req_2_1));
}

static void test_rfc5769_corrupted_request_fails_checks(void **state)
{
	uint8_t buf[sizeof(req_2_1)];
	struct stun_msg m;

	memcpy(buf, req_2_1, sizeof(buf));
	buf[27] ^= 0x01; /* inside SOFTWARE: structure intact, both checks must fail */
	assert_int_equal(stun_parse(&m, buf, sizeof(buf)), 0);
	assert_false(stun_check_fingerprint(&m));
	assert_false(
	    stun_check_integrity(&m, (const uint8_t *)short_term_pw, strlen(short_term_pw)));
}

/* RFC 5769 §2.2 */
static void test_rfc5769_ipv4_response(void **state)
{
	struct stun_msg m;
	struct nts_addr got, want;
	uint8_t out[256];
	struct stun_builder b;

	assert_int_equal(stun_parse(&m, resp_2_2, sizeof(resp_2_2)), 0);
	assert_int_equal(m.method, STUN_BINDING);
	assert_int_equal(m.cls, STUN_SUCCESS);
	assert_text(must_find(&m, STUN_ATTR_SOFTWARE), "test vector");
	assert_int_equal(
	    stun_attr_get_xor_addr(&m, must_find(&m, STUN_ATTR_XOR_MAPPED_ADDRESS), &got), 0);
	assert_int_equal(nts_addr_parse(&want, "192.0.2.1:32853", false), 0);
	assert_true(nts_addr_equal(&got, &want, true));
	assert_true(stun_check_fingerprint(&m));
	assert_true(
	    stun_check_integrity(&m, (const uint8_t *)short_term_pw, strlen(short_term_pw)));

	stun_build_init(&b, out, sizeof(out), STUN_BINDING, STUN_SUCCESS, tid_of(resp_2_2));
	stun_put_attr_pad(&b, STUN_ATTR_SOFTWARE, "test vector", 11, 0x20);
	stun_put_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &want);
	stun_put_integrity(&b, (const uint8_t *)short_term_pw, strlen(short_term_pw));
	stun_put_fingerprint(&b);
	assert_int_equal(stun_build_finish(&b), sizeof(resp_2_2));
	assert_memory_equal(out, resp_2_2, sizeof(resp_2_2));
}

/* RFC 5769 §2.3 */
static void test_rfc5769_ipv6_response(void **state)
{
	struct stun_msg m;
	struct nts_addr got, want;
	uint8_t out[256];
	struct stun_builder b;

	assert_int_equal(stun_parse(&m, resp_2_3, sizeof(resp_2_3)), 0);
	assert_int_equal(
	    stun_attr_get_xor_addr(&m, must_find(&m, STUN_ATTR_XOR_MAPPED_ADDRESS), &got), 0);
	assert_int_equal(
	    nts_addr_parse(&want, "[2001:db8:1234:5678:11:2233:4455:6677]:32853", false), 0);
	assert_true(nts_addr_equal(&got, &want, true));
	assert_true(stun_check_fingerprint(&m));
	assert_true(
	    stun_check_integrity(&m, (const uint8_t *)short_term_pw, strlen(short_term_pw)));

	stun_build_init(&b, out, sizeof(out), STUN_BINDING, STUN_SUCCESS, tid_of(resp_2_3));
	stun_put_attr_pad(&b, STUN_ATTR_SOFTWARE, "test vector", 11, 0x20);
	stun_put_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &want);
	stun_put_integrity(&b, (const uint8_t *)short_term_pw, strlen(short_term_pw));
	stun_put_fingerprint(&b);
	assert_int_equal(stun_build_finish(&b), sizeof(resp_2_3));
	assert_memory_equal(out, resp_2_3, sizeof(resp_2_3));
}

/* RFC 5769 §2.4 */
static void test_rfc5769_long_term_request(void **state)
{
	struct stun_msg m;
	uint8_t key[32], out[256];
	struct stun_builder b;
	int klen = stun_long_term_key(STUN_PWALG_MD5, lt_user, strlen(lt_user), lt_realm,
				      strlen(lt_realm), lt_pass, strlen(lt_pass), key);

	assert_int_equal(klen, 16);
	assert_int_equal(stun_parse(&m, req_2_4, sizeof(req_2_4)), 0);
	assert_text(must_find(&m, STUN_ATTR_USERNAME), lt_user);
	assert_text(must_find(&m, STUN_ATTR_NONCE), "f//499k954d6OL34oL9FSTvy64sA");
	assert_text(must_find(&m, STUN_ATTR_REALM), lt_realm);
	assert_int_equal(m.fingerprint, -1);
	assert_false(stun_check_fingerprint(&m));
	assert_true(stun_check_integrity(&m, key, (size_t)klen));
	key[0] ^= 1;
	assert_false(stun_check_integrity(&m, key, (size_t)klen));
	key[0] ^= 1;

	stun_build_init(&b, out, sizeof(out), STUN_BINDING, STUN_REQUEST, tid_of(req_2_4));
	stun_put_attr(&b, STUN_ATTR_USERNAME, lt_user, strlen(lt_user));
	stun_put_attr(&b, STUN_ATTR_NONCE, "f//499k954d6OL34oL9FSTvy64sA", 28);
	stun_put_attr(&b, STUN_ATTR_REALM, lt_realm, strlen(lt_realm));
	stun_put_integrity(&b, key, (size_t)klen);
	assert_int_equal(stun_build_finish(&b), sizeof(req_2_4));
	assert_memory_equal(out, req_2_4, sizeof(req_2_4));
}

/* RFC 8489 Appendix B.1 with erratum 6268 */
static void test_rfc8489_b1_userhash_and_sha256_integrity(void **state)
{
	struct stun_msg m;
	uint8_t hash[32], key[32];
	uint16_t alg;
	int klen;

	assert_int_equal(stun_parse(&m, req_b_1, sizeof(req_b_1)), 0);
	stun_userhash(lt_user, strlen(lt_user), lt_realm, strlen(lt_realm), hash);
	const struct stun_attr *uh = must_find(&m, STUN_ATTR_USERHASH);
	assert_int_equal(uh->len, 32);
	assert_memory_equal(uh->value, hash, 32);
	assert_text(must_find(&m, STUN_ATTR_NONCE), "obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA");
	assert_text(must_find(&m, STUN_ATTR_REALM), lt_realm);
	assert_int_equal(stun_attr_get_password_alg(must_find(&m, STUN_ATTR_PASSWORD_ALGORITHM),
						    &alg, NULL, NULL),
			 0);
	assert_int_equal(alg, STUN_PWALG_SHA256);
	assert_int_equal(m.integrity, -1);
	assert_int_equal(m.integrity_sha256, 4);

	klen = stun_long_term_key(alg, lt_user, strlen(lt_user), lt_realm, strlen(lt_realm),
				  lt_pass, strlen(lt_pass), key);
	assert_int_equal(klen, 32);
	assert_true(stun_check_integrity_sha256(&m, key, (size_t)klen));
	assert_false(stun_check_integrity(&m, key, (size_t)klen));
	klen = stun_long_term_key(STUN_PWALG_MD5, lt_user, strlen(lt_user), lt_realm,
				  strlen(lt_realm), lt_pass, strlen(lt_pass), key);
	assert_false(stun_check_integrity_sha256(&m, key, (size_t)klen));
}

static void test_rfc8489_b1_reencodes_identically(void **state)
{
	uint8_t hash[32], key[32], out[256];
	struct stun_builder b;
	int klen = stun_long_term_key(STUN_PWALG_SHA256, lt_user, strlen(lt_user), lt_realm,
				      strlen(lt_realm), lt_pass, strlen(lt_pass), key);

	stun_userhash(lt_user, strlen(lt_user), lt_realm, strlen(lt_realm), hash);
	stun_build_init(&b, out, sizeof(out), STUN_BINDING, STUN_REQUEST, tid_of(req_b_1));
	stun_put_attr(&b, STUN_ATTR_USERHASH, hash, sizeof(hash));
	stun_put_attr(&b, STUN_ATTR_NONCE, "obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA", 41);
	stun_put_attr(&b, STUN_ATTR_REALM, lt_realm, strlen(lt_realm));
	stun_put_password_alg(&b, STUN_PWALG_SHA256);
	stun_put_integrity_sha256(&b, key, (size_t)klen);
	assert_int_equal(stun_build_finish(&b), sizeof(req_b_1));
	assert_memory_equal(out, req_b_1, sizeof(req_b_1));
}

/* The vector as printed in RFC 8489 (before the erratum) is not a valid message: we document how.
 */
static void test_rfc8489_b1_as_published_is_rejected(void **state)
{
	uint8_t pub[20 + 36 + 48 + 16 + 36];
	struct stun_msg m;
	uint8_t key[32];
	int klen;

	/* Rebuild the published bytes: no PASSWORD-ALGORITHM, length 0x9c, the published HMAC. */
	memcpy(pub, req_b_1, 20 + 36 + 48 + 16);
	memcpy(pub + 120, "\x00\x1c\x00\x20", 4);
	memcpy(pub + 124, b_1_published_mac, 32);
	pub[3] = 0x9c;
	assert_int_equal(stun_parse(&m, pub, sizeof(pub)), STUN_ERR_TRUNCATED);
	/* With the length corrected, the published HMAC still matches neither key. */
	pub[3] = 0x88;
	assert_int_equal(stun_parse(&m, pub, sizeof(pub)), 0);
	for (uint16_t alg = STUN_PWALG_MD5; alg <= STUN_PWALG_SHA256; alg++) {
		klen = stun_long_term_key(alg, lt_user, strlen(lt_user), lt_realm, strlen(lt_realm),
					  lt_pass, strlen(lt_pass), key);
		assert_true(klen > 0);
		assert_false(stun_check_integrity_sha256(&m, key, (size_t)klen));
	}
}

/* RFC 8489 §14.6: a truncated MESSAGE-INTEGRITY-SHA256 (16..32 bytes, multiple of 4) verifies on
 * its prefix, with the header length counting the truncated attribute. The reference MAC is
 * computed here with OpenSSL's one-shot HMAC(), independently of the codec. */
static void test_truncated_sha256_integrity_verifies(void **state)
{
	uint8_t buf[128], mac[32], key[32];
	unsigned int mac_len = 0;
	struct stun_msg m;
	struct stun_builder b;
	int klen = stun_long_term_key(STUN_PWALG_SHA256, lt_user, strlen(lt_user), lt_realm,
				      strlen(lt_realm), lt_pass, strlen(lt_pass), key);

	for (size_t cut = 16; cut <= 32; cut += 4) {
		stun_build_init(&b, buf, sizeof(buf), STUN_BINDING, STUN_REQUEST, tid_of(req_b_1));
		stun_put_attr(&b, STUN_ATTR_REALM, lt_realm, strlen(lt_realm));
		size_t pos = b.len;
		buf[2] = 0;
		buf[3] = (uint8_t)(pos - 20 + 4 + cut);
		assert_non_null(HMAC(EVP_sha256(), key, klen, buf, pos, mac, &mac_len));
		memcpy(buf + pos, "\x00\x1c\x00", 3);
		buf[pos + 3] = (uint8_t)cut;
		memcpy(buf + pos + 4, mac, cut);
		assert_int_equal(stun_parse(&m, buf, pos + 4 + cut), 0);
		assert_true(stun_check_integrity_sha256(&m, key, (size_t)klen));
		buf[pos + 4 + cut - 1] ^= 0x80;
		assert_false(stun_check_integrity_sha256(&m, key, (size_t)klen));
	}
}

static void test_crc32_check_value(void **state)
{
	/* The standard CRC-32 check value for "123456789". */
	assert_int_equal(stun_crc32((const uint8_t *)"123456789", 9), 0xCBF43926u);
	assert_int_equal(stun_crc32(NULL, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc5769_request_parses_and_verifies),
	    cmocka_unit_test(test_rfc5769_request_reencodes_identically),
	    cmocka_unit_test(test_rfc5769_corrupted_request_fails_checks),
	    cmocka_unit_test(test_rfc5769_ipv4_response),
	    cmocka_unit_test(test_rfc5769_ipv6_response),
	    cmocka_unit_test(test_rfc5769_long_term_request),
	    cmocka_unit_test(test_rfc8489_b1_userhash_and_sha256_integrity),
	    cmocka_unit_test(test_rfc8489_b1_reencodes_identically),
	    cmocka_unit_test(test_rfc8489_b1_as_published_is_rejected),
	    cmocka_unit_test(test_truncated_sha256_integrity_verifies),
	    cmocka_unit_test(test_crc32_check_value),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
