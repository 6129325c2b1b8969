/* STUN message parsing (RFC 8489 §5, §14): header checks, the attribute walk, ordering rules around
 * MESSAGE-INTEGRITY(-SHA256) and FINGERPRINT, per-attribute length rules, duplicates and unknowns.
 */
#include <errno.h>
#include <string.h>

#include "stun/stun.h"
#include "stun/wire.h"

enum { ANY = 0xFFFF };

/* How a known attribute's value must look: length bounds, an optional shape check, and whether it
 * may legitimately appear more than once. */
struct attr_rule {
	uint16_t type;
	uint16_t min, max;
	uint8_t shape;
	bool repeatable;
};

enum { SHAPE_NONE, SHAPE_ADDR, SHAPE_ERROR, SHAPE_SHA256, SHAPE_PWALG, SHAPE_PWALGS, SHAPE_EVEN };

/* clang-format off */
static const struct attr_rule attr_rules[] = {
	{ STUN_ATTR_MAPPED_ADDRESS, 8, 20, SHAPE_ADDR, false },
	/* RFC 5780 §7.2 (RFC 3489 §11.2.4): 32 bits of flags. RESPONSE-ADDRESS stays unknown: 420. */
	{ STUN_ATTR_CHANGE_REQUEST, 4, 4, SHAPE_NONE, false },
	{ STUN_ATTR_SOURCE_ADDRESS, 8, 20, SHAPE_ADDR, false },
	{ STUN_ATTR_CHANGED_ADDRESS, 8, 20, SHAPE_ADDR, false },
	{ STUN_ATTR_USERNAME, 0, ANY, SHAPE_NONE, false },
	{ STUN_ATTR_MESSAGE_INTEGRITY, 20, 20, SHAPE_NONE, false },
	{ STUN_ATTR_ERROR_CODE, 4, ANY, SHAPE_ERROR, false },
	{ STUN_ATTR_UNKNOWN_ATTRIBUTES, 0, ANY, SHAPE_EVEN, false },
	{ STUN_ATTR_CHANNEL_NUMBER, 4, 4, SHAPE_NONE, false },
	{ STUN_ATTR_LIFETIME, 4, 4, SHAPE_NONE, false },
	/* RFC 8656 §9.1: a CreatePermission request carries one or more XOR-PEER-ADDRESS. */
	{ STUN_ATTR_XOR_PEER_ADDRESS, 8, 20, SHAPE_ADDR, true },
	{ STUN_ATTR_DATA, 0, ANY, SHAPE_NONE, false },
	{ STUN_ATTR_REALM, 0, ANY, SHAPE_NONE, false },
	{ STUN_ATTR_NONCE, 0, ANY, SHAPE_NONE, false },
	/* RFC 8656 §7.3: a dual-stack Allocate success carries two XOR-RELAYED-ADDRESS. */
	{ STUN_ATTR_XOR_RELAYED_ADDRESS, 8, 20, SHAPE_ADDR, true },
	{ STUN_ATTR_REQUESTED_ADDRESS_FAMILY, 4, 4, SHAPE_NONE, false },
	{ STUN_ATTR_EVEN_PORT, 1, 1, SHAPE_NONE, false },
	{ STUN_ATTR_REQUESTED_TRANSPORT, 4, 4, SHAPE_NONE, false },
	{ STUN_ATTR_DONT_FRAGMENT, 0, 0, SHAPE_NONE, false },
	{ STUN_ATTR_MESSAGE_INTEGRITY_SHA256, 16, 32, SHAPE_SHA256, false },
	{ STUN_ATTR_PASSWORD_ALGORITHM, 4, ANY, SHAPE_PWALG, false },
	{ STUN_ATTR_USERHASH, 32, 32, SHAPE_NONE, false },
	{ STUN_ATTR_XOR_MAPPED_ADDRESS, 8, 20, SHAPE_ADDR, false },
	{ STUN_ATTR_RESERVATION_TOKEN, 8, 8, SHAPE_NONE, false },
	{ STUN_ATTR_PADDING, 0, ANY, SHAPE_NONE, false },
	{ STUN_ATTR_RESPONSE_PORT, 4, 4, SHAPE_NONE, false },
	{ STUN_ATTR_RESPONSE_ORIGIN, 8, 20, SHAPE_ADDR, false },
	{ STUN_ATTR_OTHER_ADDRESS, 8, 20, SHAPE_ADDR, false },
	{ STUN_ATTR_PRIORITY, 4, 4, SHAPE_NONE, false },
	{ STUN_ATTR_USE_CANDIDATE, 0, 0, SHAPE_NONE, false },
	{ STUN_ATTR_CONNECTION_ID, 4, 4, SHAPE_NONE, false },
	{ STUN_ATTR_ADDITIONAL_ADDRESS_FAMILY, 4, 4, SHAPE_NONE, false },
	{ STUN_ATTR_ADDRESS_ERROR_CODE, 4, ANY, SHAPE_ERROR, false },
	{ STUN_ATTR_PASSWORD_ALGORITHMS, 4, ANY, SHAPE_PWALGS, false },
	{ STUN_ATTR_ALTERNATE_DOMAIN, 0, ANY, SHAPE_NONE, false },
	{ STUN_ATTR_ICMP, 8, 8, SHAPE_NONE, false },
	{ STUN_ATTR_SOFTWARE, 0, ANY, SHAPE_NONE, false },
	{ STUN_ATTR_ALTERNATE_SERVER, 8, 20, SHAPE_ADDR, false },
	{ STUN_ATTR_FINGERPRINT, 4, 4, SHAPE_NONE, false },
	{ STUN_ATTR_ICE_CONTROLLED, 8, 8, SHAPE_NONE, false },
	{ STUN_ATTR_ICE_CONTROLLING, 8, 8, SHAPE_NONE, false },
};
/* clang-format on */

_Static_assert(sizeof(attr_rules) / sizeof(attr_rules[0]) <= 64, "duplicate mask is 64 bits");

static int rule_index(uint16_t type)
{
	for (size_t i = 0; i < sizeof(attr_rules) / sizeof(attr_rules[0]); i++)
		if (attr_rules[i].type == type)
			return (int)i;
	return -1;
}

/* PASSWORD-ALGORITHMS (RFC 8489 §14.11): entries of algorithm, parameter length, padded parameters.
 */
static bool pwalgs_ok(const uint8_t *v, size_t len)
{
	size_t pos = 0;

	while (pos < len) {
		if (len - pos < 4)
			return false;
		size_t plen = stun_rd16(v + pos + 2);
		if (plen > len - pos - 4)
			return false;
		pos += 4 + stun_pad4(plen);
	}
	return true;
}

static bool shape_ok(uint8_t shape, const uint8_t *v, size_t len)
{
	switch (shape) {
	case SHAPE_ADDR: /* RFC 8489 §14.1: family 0x01 is 8 bytes in all, 0x02 is 20 */
		return (v[1] == 0x01 && len == 8) || (v[1] == 0x02 && len == 20);
	case SHAPE_ERROR: /* RFC 8489 §14.8: class 3..6, number 0..99 */
		return (v[2] & 7) >= 3 && (v[2] & 7) <= 6 && v[3] < 100;
	case SHAPE_SHA256: /* RFC 8489 §14.6: truncation to 16..32 bytes in steps of 4 */
		return len % 4 == 0;
	case SHAPE_PWALG:
		return (size_t)stun_rd16(v + 2) <= len - 4;
	case SHAPE_PWALGS:
		return pwalgs_ok(v, len);
	case SHAPE_EVEN:
		return len % 2 == 0;
	}
	return true;
}

bool stun_is_stun(const uint8_t *buf, size_t len)
{
	if (!buf || len < STUN_HEADER_LEN || (buf[0] & 0xC0))
		return false;
	if (stun_rd32(buf + 4) != STUN_MAGIC_COOKIE)
		return false;
	size_t mlen = stun_rd16(buf + 2);
	return mlen % 4 == 0 && STUN_HEADER_LEN + mlen <= len;
}

static void note_unknown(struct stun_msg *m, uint16_t type)
{
	for (unsigned i = 0; i < m->nunknown; i++)
		if (m->unknown[i] == type)
			return;
	if (m->nunknown < STUN_MAX_UNKNOWN)
		m->unknown[m->nunknown++] = type;
}

/* Ordering (RFC 8489 §14.5, §14.6, §14.7): after MESSAGE-INTEGRITY only MESSAGE-INTEGRITY-SHA256 or
 * FINGERPRINT, after MESSAGE-INTEGRITY-SHA256 only FINGERPRINT, after FINGERPRINT nothing. */
static int check_order(const struct stun_msg *m, uint16_t type)
{
	if (m->fingerprint >= 0)
		return STUN_ERR_AFTER_FINGERPRINT;
	if (m->integrity_sha256 >= 0 && type != STUN_ATTR_FINGERPRINT)
		return STUN_ERR_AFTER_INTEGRITY;
	if (m->integrity >= 0 && type != STUN_ATTR_FINGERPRINT &&
	    type != STUN_ATTR_MESSAGE_INTEGRITY_SHA256)
		return STUN_ERR_AFTER_INTEGRITY;
	return 0;
}

static int check_known(struct stun_msg *m, uint16_t type, const uint8_t *v, size_t len,
		       uint64_t *seen)
{
	int idx = rule_index(type);

	if (idx < 0) {
		if (type < 0x8000) /* RFC 8489 §14: comprehension-required */
			note_unknown(m, type);
		return 0;
	}
	const struct attr_rule *r = &attr_rules[idx];
	if (len < r->min || len > r->max || !shape_ok(r->shape, v, len))
		return STUN_ERR_BAD_ATTR;
	if (!r->repeatable && (*seen & (1ull << idx)))
		return STUN_ERR_DUPLICATE;
	*seen |= 1ull << idx;
	return 0;
}

static void record_special(struct stun_msg *m, uint16_t type)
{
	int i = (int)m->nattrs;

	if (type == STUN_ATTR_MESSAGE_INTEGRITY)
		m->integrity = i;
	else if (type == STUN_ATTR_MESSAGE_INTEGRITY_SHA256)
		m->integrity_sha256 = i;
	else if (type == STUN_ATTR_FINGERPRINT)
		m->fingerprint = i;
}

/* A header length that is not a multiple of 4 is BAD_PADDING when the attributes walk to exactly
 * that length with an unpadded last value (RFC 8489 §14: padding is mandatory), else BAD_LENGTH. */
static int classify_bad_length(const uint8_t *buf, size_t len, size_t mlen)
{
	size_t off = 0;
	const uint8_t *body = buf + STUN_HEADER_LEN;

	if (STUN_HEADER_LEN + mlen > len)
		return STUN_ERR_BAD_LENGTH;
	while (mlen - off >= 4) {
		size_t alen = stun_rd16(body + off + 2);
		if (alen > mlen - off - 4)
			break;
		if (off + 4 + alen == mlen)
			return STUN_ERR_BAD_PADDING;
		off += 4 + stun_pad4(alen);
		if (off > mlen)
			break;
	}
	return STUN_ERR_BAD_LENGTH;
}

static int parse_header(struct stun_msg *m, const uint8_t *buf, size_t len, bool rfc3489_ok)
{
	if (!buf || len < STUN_HEADER_LEN)
		return STUN_ERR_TRUNCATED;
	if (buf[0] & 0xC0)
		return STUN_ERR_NOT_STUN;
	if (stun_rd32(buf + 4) != STUN_MAGIC_COOKIE) {
		if (!rfc3489_ok)
			return STUN_ERR_NOT_STUN;
		m->rfc3489 = true;
	}
	size_t mlen = stun_rd16(buf + 2);
	if (mlen % 4)
		return classify_bad_length(buf, len, mlen);
	if (STUN_HEADER_LEN + mlen > len)
		return STUN_ERR_TRUNCATED;
	m->buf = buf;
	m->len = STUN_HEADER_LEN + mlen;
	m->type = stun_rd16(buf);
	/* RFC 8489 §5: method bits M0-M11 are interleaved with the class bits C0 (bit 4), C1 (bit
	 * 8). */
	m->method =
	    (uint16_t)((m->type & 0x000F) | ((m->type & 0x00E0) >> 1) | ((m->type & 0x3E00) >> 2));
	m->cls = m->type & 0x0110;
	memcpy(m->tid, buf + 8, STUN_TID_LEN);
	return 0;
}

static int parse_message(struct stun_msg *m, const uint8_t *buf, size_t len, bool rfc3489_ok)
{
	uint64_t seen = 0;
	int err;

	memset(m, 0, offsetof(struct stun_msg, attrs));
	m->integrity = m->integrity_sha256 = m->fingerprint = -1;
	m->nunknown = 0;
	m->rfc3489 = false;
	err = parse_header(m, buf, len, rfc3489_ok);
	if (err)
		return err;

	size_t off = STUN_HEADER_LEN;
	while (off < m->len) {
		if (m->len - off < 4)
			return STUN_ERR_ATTR_OVERRUN; /* unreachable: lengths are multiples of 4 */
		uint16_t type = stun_rd16(buf + off);
		size_t alen = stun_rd16(buf + off + 2);
		if (alen > m->len - off - 4)
			return STUN_ERR_ATTR_OVERRUN;
		if (stun_pad4(alen) > m->len - off - 4)
			return STUN_ERR_BAD_PADDING; /* unreachable while lengths are multiples of 4
						      */
		if (off > UINT16_MAX)
			return STUN_ERR_BAD_LENGTH; /* offsets are 16 bits wide */
		if (m->nattrs >= STUN_MAX_ATTRS)
			return STUN_ERR_TOO_MANY;
		err = check_order(m, type);
		if (!err)
			err = check_known(m, type, buf + off + 4, alen, &seen);
		if (err)
			return err;
		record_special(m, type);
		m->attrs[m->nattrs++] = (struct stun_attr){.type = type,
							   .len = (uint16_t)alen,
							   .offset = (uint16_t)off,
							   .value = buf + off + 4};
		off += 4 + stun_pad4(alen);
	}
	return 0;
}

int stun_parse(struct stun_msg *m, const uint8_t *buf, size_t len)
{
	return parse_message(m, buf, len, false);
}

int stun_parse_rfc3489(struct stun_msg *m, const uint8_t *buf, size_t len)
{
	return parse_message(m, buf, len, true);
}

const struct stun_attr *stun_find_next(const struct stun_msg *m, uint16_t type,
				       const struct stun_attr *prev)
{
	unsigned i = prev ? (unsigned)(prev - m->attrs) + 1 : 0;

	for (; i < m->nattrs; i++)
		if (m->attrs[i].type == type)
			return &m->attrs[i];
	return NULL;
}

const struct stun_attr *stun_find(const struct stun_msg *m, uint16_t type)
{
	return stun_find_next(m, type, NULL);
}
