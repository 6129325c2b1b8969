/* Attribute value decoders (RFC 8489 §14, RFC 8656 §18, RFC 6062 §6.2). Each checks the length it
 * reads, so they are safe on attributes that did not come through stun_parse's rules.
 */
#include <errno.h>
#include <string.h>

#include "stun/stun.h"
#include "stun/wire.h"

/* Shared by MAPPED-ADDRESS and the XOR forms: family 0x01 + 4 address bytes, 0x02 + 16. */
static int get_plain_addr(const struct stun_attr *a, struct nts_addr *out)
{
	if (!a || !a->value || a->len < 4)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (a->value[1] == 0x01 && a->len == 8) {
		out->family = AF_INET;
		memcpy(out->ip, a->value + 4, 4);
	} else if (a->value[1] == 0x02 && a->len == 20) {
		out->family = AF_INET6;
		memcpy(out->ip, a->value + 4, 16);
	} else {
		return -EINVAL;
	}
	out->port = stun_rd16(a->value + 2);
	return 0;
}

int stun_attr_get_addr(const struct stun_attr *a, struct nts_addr *out)
{
	return get_plain_addr(a, out);
}

/* RFC 8489 §14.2: port XOR the cookie's top 16 bits; IPv4 XOR the cookie; IPv6 XOR cookie || tid.
 */
int stun_attr_get_xor_addr(const struct stun_msg *m, const struct stun_attr *a,
			   struct nts_addr *out)
{
	uint8_t mask[16];
	int err = get_plain_addr(a, out);

	if (err)
		return err;
	stun_wr32(mask, STUN_MAGIC_COOKIE);
	memcpy(mask + 4, m->tid, STUN_TID_LEN);
	out->port ^= (uint16_t)(STUN_MAGIC_COOKIE >> 16);
	for (size_t i = 0; i < nts_addr_iplen(out); i++)
		out->ip[i] ^= mask[i];
	return 0;
}

int stun_attr_get_u32(const struct stun_attr *a, uint32_t *out)
{
	if (!a || a->len != 4)
		return -EINVAL;
	*out = stun_rd32(a->value);
	return 0;
}

int stun_attr_get_u64(const struct stun_attr *a, uint64_t *out)
{
	if (!a || a->len != 8)
		return -EINVAL;
	*out = ((uint64_t)stun_rd32(a->value) << 32) | stun_rd32(a->value + 4);
	return 0;
}

/* RFC 8489 §14.8: 21 reserved bits, class (3 bits, 3..6), number (8 bits, 0..99), reason phrase. */
static int get_code(const uint8_t *v, int *code)
{
	int cls = v[2] & 7, num = v[3];

	if (cls < 3 || cls > 6 || num > 99)
		return -EINVAL;
	*code = cls * 100 + num;
	return 0;
}

int stun_attr_get_error(const struct stun_attr *a, int *code, const char **reason,
			size_t *reason_len)
{
	if (!a || a->len < 4 || get_code(a->value, code))
		return -EINVAL;
	if (reason)
		*reason = (const char *)a->value + 4;
	if (reason_len)
		*reason_len = a->len - 4u;
	return 0;
}

/* RFC 8656 §18.12: family (8 bits), reserved, class, number, reason; same code rules as ERROR-CODE.
 */
int stun_attr_get_address_error(const struct stun_attr *a, uint8_t *family, int *code,
				const char **reason, size_t *reason_len)
{
	if (!a || a->len < 4 || get_code(a->value, code))
		return -EINVAL;
	if (a->value[0] == 0x01)
		*family = AF_INET;
	else if (a->value[0] == 0x02)
		*family = AF_INET6;
	else
		return -EINVAL;
	if (reason)
		*reason = (const char *)a->value + 4;
	if (reason_len)
		*reason_len = a->len - 4u;
	return 0;
}

/* RFC 8656 §18.1: channel number (16 bits) and 16 RFFU bits. */
int stun_attr_get_channel(const struct stun_attr *a, uint16_t *channel)
{
	if (!a || a->len != 4)
		return -EINVAL;
	*channel = stun_rd16(a->value);
	return 0;
}

/* RFC 8656 §18.8: protocol number (8 bits) and 24 RFFU bits. */
int stun_attr_get_transport(const struct stun_attr *a, uint8_t *proto)
{
	if (!a || a->len != 4)
		return -EINVAL;
	*proto = a->value[0];
	return 0;
}

/* RFC 8656 §18.6/§18.11: family (8 bits, 0x01 IPv4, 0x02 IPv6) and 24 reserved bits. */
int stun_attr_get_family(const struct stun_attr *a, uint8_t *family)
{
	if (!a || a->len != 4)
		return -EINVAL;
	if (a->value[0] == 0x01)
		*family = AF_INET;
	else if (a->value[0] == 0x02)
		*family = AF_INET6;
	else
		return -EAFNOSUPPORT;
	return 0;
}

/* RFC 8656 §18.7: one byte, the top bit R asks to reserve the next port. */
int stun_attr_get_even_port(const struct stun_attr *a, bool *reserve_next)
{
	if (!a || a->len < 1)
		return -EINVAL;
	*reserve_next = (a->value[0] & 0x80) != 0;
	return 0;
}

/* RFC 8489 §14.12: algorithm (16 bits), parameters length (16 bits), parameters. */
int stun_attr_get_password_alg(const struct stun_attr *a, uint16_t *alg, const uint8_t **params,
			       uint16_t *params_len)
{
	if (!a || a->len < 4)
		return -EINVAL;
	uint16_t plen = stun_rd16(a->value + 2);
	if (plen > a->len - 4u)
		return -EINVAL;
	*alg = stun_rd16(a->value);
	if (params)
		*params = a->value + 4;
	if (params_len)
		*params_len = plen;
	return 0;
}

/* RFC 8489 §14.11: a list of PASSWORD-ALGORITHM bodies, each with its parameters padded to 4. */
int stun_attr_next_password_alg(const struct stun_attr *a, size_t *pos, uint16_t *alg)
{
	if (!a || *pos > a->len)
		return -EINVAL;
	if (*pos == a->len)
		return 0;
	size_t left = a->len - *pos;
	if (left < 4)
		return -EINVAL;
	const uint8_t *e = a->value + *pos;
	size_t plen = stun_rd16(e + 2);
	if (plen > left - 4)
		return -EINVAL;
	*alg = stun_rd16(e);
	size_t step = 4 + stun_pad4(plen);
	*pos += step < left ? step : left;
	return 1;
}

/* RFC 8489 §14.13: a list of 16-bit attribute types. */
int stun_attr_get_unknown(const struct stun_attr *a, uint16_t *out, size_t max)
{
	if (!a || a->len % 2)
		return -EINVAL;
	size_t n = a->len / 2u;
	if (n > max)
		n = max;
	for (size_t i = 0; i < n; i++)
		out[i] = stun_rd16(a->value + 2 * i);
	return (int)n;
}

int stun_attr_get_connection_id(const struct stun_attr *a, uint32_t *id)
{
	return stun_attr_get_u32(a, id);
}

int stun_attr_get_icmp(const struct stun_attr *a, uint8_t *icmp_type, uint16_t *icmp_code,
		       uint32_t *error_data)
{
	if (!a || a->len != 8)
		return -EINVAL;
	uint16_t tc = stun_rd16(a->value + 2);
	*icmp_type = (uint8_t)(tc >> 9);
	*icmp_code = tc & 0x1FF;
	*error_data = stun_rd32(a->value + 4);
	return 0;
}

int stun_attr_get_change_request(const struct stun_attr *a, unsigned *change)
{
	if (!a || a->len != 4)
		return -EINVAL;
	*change = stun_rd32(a->value) & (STUN_CHANGE_IP | STUN_CHANGE_PORT);
	return 0;
}

int stun_attr_get_response_port(const struct stun_attr *a, uint16_t *port)
{
	if (!a || a->len != 4)
		return -EINVAL;
	*port = stun_rd16(a->value);
	return 0;
}
