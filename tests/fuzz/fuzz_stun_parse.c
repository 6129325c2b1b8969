/* libFuzzer target for the STUN message parser: parse arbitrary bytes, then run every decoder,
 * integrity and fingerprint check on what parsed, and check that re-encoding the parsed attributes
 * with the builder gives a message that parses to the same structure.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stun/stun.h"

static void decode_all(const struct stun_msg *m, const struct stun_attr *a)
{
	struct nts_addr ad;
	uint32_t u32;
	unsigned change;
	uint64_t u64;
	uint16_t u16, types[STUN_MAX_UNKNOWN], alg;
	uint8_t u8;
	int code;
	bool flag;
	const char *reason;
	size_t rlen, pos = 0;
	const uint8_t *params;

	stun_attr_get_addr(a, &ad);
	stun_attr_get_xor_addr(m, a, &ad);
	stun_attr_get_u32(a, &u32);
	stun_attr_get_u64(a, &u64);
	if (stun_attr_get_error(a, &code, &reason, &rlen) == 0 && (code < 300 || code > 699))
		abort();
	stun_attr_get_channel(a, &u16);
	stun_attr_get_transport(a, &u8);
	stun_attr_get_family(a, &u8);
	stun_attr_get_even_port(a, &flag);
	if (stun_attr_get_password_alg(a, &alg, &params, &u16) == 0 &&
	    params + u16 > a->value + a->len)
		abort();
	for (int i = 0; i < 70000 && stun_attr_next_password_alg(a, &pos, &alg) == 1; i++)
		if (pos > a->len)
			abort();
	stun_attr_get_unknown(a, types, STUN_MAX_UNKNOWN);
	stun_attr_get_address_error(a, &u8, &code, &reason, &rlen);
	stun_attr_get_connection_id(a, &u32);
	stun_attr_get_icmp(a, &u8, &u16, &u32);
	stun_attr_get_change_request(a, &change);
	stun_attr_get_response_port(a, &u16);
	(void)stun_attr_name(a->type);
}

/* Copies every attribute into a fresh message; the copy must parse to the same shape. When the
 * input has no integrity or fingerprint, the copy gets all three appended, and they must verify. */
static void reencode(const struct stun_msg *m, const uint8_t *key, size_t key_len)
{
	static uint8_t out[65536 + 64];
	struct stun_builder b;
	struct stun_msg c;
	bool sign = m->integrity < 0 && m->integrity_sha256 < 0 && m->fingerprint < 0 &&
		    m->nattrs + 3 <= STUN_MAX_ATTRS && m->len + 24 + 36 + 8 <= 20 + 65535;

	stun_build_init(&b, out, sizeof(out), m->method, m->cls, m->tid);
	for (unsigned i = 0; i < m->nattrs; i++)
		stun_put_attr(&b, m->attrs[i].type, m->attrs[i].value, m->attrs[i].len);
	if (sign) {
		stun_put_integrity(&b, key, key_len);
		stun_put_integrity_sha256(&b, key, key_len);
		stun_put_fingerprint(&b);
	}
	int n = stun_build_finish(&b);
	if (n != (int)m->len + (sign ? 68 : 0))
		abort();
	if (stun_parse(&c, out, (size_t)n) != 0 || c.nattrs != m->nattrs + (sign ? 3 : 0) ||
	    c.type != m->type || c.nunknown != m->nunknown)
		abort();
	if (!sign && (c.integrity != m->integrity || c.fingerprint != m->fingerprint))
		abort();
	if (sign && (!stun_check_integrity(&c, key, key_len) ||
		     !stun_check_integrity_sha256(&c, key, key_len) || !stun_check_fingerprint(&c)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t key[16] = "0123456789abcdef";
	struct stun_msg m;

	bool is = stun_is_stun(data, size);
	/* RFC 3489 parsing: the same walk without the cookie check; with the cookie, the same
	 * result as stun_parse(), and rfc3489 set exactly when the cookie is absent. */
	int err3489 = stun_parse_rfc3489(&m, data, size);
	if (err3489 == 0) {
		if (m.len > size || m.nattrs > STUN_MAX_ATTRS ||
		    m.rfc3489 != (size >= 8 && memcmp(data + 4, "\x21\x12\xa4\x42", 4) != 0))
			abort();
		for (unsigned i = 0; i < m.nattrs; i++)
			decode_all(&m, &m.attrs[i]);
	}
	int err = stun_parse(&m, data, size);
	if (err == 0 && err3489 != 0)
		abort();
	(void)stun_parse_strerror(err);
	(void)stun_stream_frame_len(data, size);
	/* stun_is_stun is the header checks of stun_parse (BAD_PADDING also covers odd lengths) */
	bool header_err =
	    err == STUN_ERR_TRUNCATED || err == STUN_ERR_NOT_STUN || err == STUN_ERR_BAD_LENGTH;
	if ((is && header_err) || (!is && !header_err && err != STUN_ERR_BAD_PADDING))
		abort();
	if (err)
		return 0;
	if (m.len > size || m.nattrs > STUN_MAX_ATTRS || m.nunknown > STUN_MAX_UNKNOWN)
		abort();
	(void)stun_method_name(m.method);
	for (unsigned i = 0; i < m.nattrs; i++) {
		const struct stun_attr *a = &m.attrs[i];
		if (a->value < data + STUN_HEADER_LEN || a->value + a->len > data + m.len)
			abort();
		decode_all(&m, a);
	}
	stun_find(&m, STUN_ATTR_XOR_PEER_ADDRESS);
	stun_check_integrity(&m, key, sizeof(key));
	stun_check_integrity_sha256(&m, key, sizeof(key));
	stun_check_fingerprint(&m);
	reencode(&m, key, sizeof(key));
	return 0;
}
