/* STUN message builder: header, generic and typed attributes, into a caller's buffer with a sticky
 * error. Integrity and fingerprint appenders live in integrity.c.
 */
#include <errno.h>
#include <string.h>

#include "stun/stun.h"
#include "stun/wire.h"

int stun_build_fail(struct stun_builder *b, int err)
{
	if (!b->err)
		b->err = err;
	return b->err;
}

void stun_build_init(struct stun_builder *b, uint8_t *buf, size_t cap, uint16_t method,
		     uint16_t cls, const uint8_t tid[STUN_TID_LEN])
{
	*b = (struct stun_builder){.buf = buf, .cap = cap};
	if (!buf || cap < STUN_HEADER_LEN) {
		b->err = -ENOSPC;
		return;
	}
	if (method > 0x0FFF || (cls & ~0x0110u)) {
		b->err = -EINVAL;
		return;
	}
	/* RFC 8489 §5: M0-M3 in bits 0-3, M4-M6 in bits 5-7, M7-M11 in bits 9-13; class in C0/C1.
	 */
	uint16_t type = (uint16_t)((method & 0x000F) | ((method & 0x0070) << 1) |
				   ((method & 0x0F80) << 2) | cls);
	stun_wr16(buf, type);
	stun_wr16(buf + 2, 0);
	stun_wr32(buf + 4, STUN_MAGIC_COOKIE);
	memcpy(buf + 8, tid, STUN_TID_LEN);
	b->len = STUN_HEADER_LEN;
}

void stun_build_init_rfc3489(struct stun_builder *b, uint8_t *buf, size_t cap, uint16_t method,
			     uint16_t cls, const uint8_t tid[STUN_TID3489_LEN])
{
	stun_build_init(b, buf, cap, method, cls, tid + 4);
	if (!b->err)
		memcpy(buf + 4, tid, 4); /* RFC 3489 §11.1: the id fills all 128 bits */
}

uint8_t *stun_put_reserve(struct stun_builder *b, uint16_t type, size_t len)
{
	if (b->err)
		return NULL;
	if (len > UINT16_MAX) {
		stun_build_fail(b, -EINVAL);
		return NULL;
	}
	size_t need = 4 + stun_pad4(len);
	if (need > b->cap - b->len || b->len + need - STUN_HEADER_LEN > UINT16_MAX) {
		stun_build_fail(b, -ENOSPC);
		return NULL;
	}
	uint8_t *p = b->buf + b->len;
	stun_wr16(p, type);
	stun_wr16(p + 2, (uint16_t)len);
	memset(p + 4 + len, 0, need - 4 - len);
	b->len += need;
	stun_wr16(b->buf + 2, (uint16_t)(b->len - STUN_HEADER_LEN));
	return p + 4;
}

int stun_put_attr_pad(struct stun_builder *b, uint16_t type, const void *value, size_t len,
		      uint8_t pad)
{
	if (len && !value)
		return stun_build_fail(b, -EINVAL);
	uint8_t *v = stun_put_reserve(b, type, len);
	if (!v)
		return b->err;
	if (len)
		memcpy(v, value, len);
	memset(v + len, pad, stun_pad4(len) - len);
	return 0;
}

int stun_put_attr(struct stun_builder *b, uint16_t type, const void *value, size_t len)
{
	return stun_put_attr_pad(b, type, value, len, 0);
}

int stun_put_u32(struct stun_builder *b, uint16_t type, uint32_t v)
{
	uint8_t val[4];

	stun_wr32(val, v);
	return stun_put_attr(b, type, val, sizeof(val));
}

int stun_put_u64(struct stun_builder *b, uint16_t type, uint64_t v)
{
	uint8_t val[8];

	stun_wr32(val, (uint32_t)(v >> 32));
	stun_wr32(val + 4, (uint32_t)v);
	return stun_put_attr(b, type, val, sizeof(val));
}

/* RFC 8489 §14.1/§14.2 layout; xor_mask is NULL for the plain form, else cookie || tid. */
static int put_addr(struct stun_builder *b, uint16_t type, const struct nts_addr *a,
		    const uint8_t *xor_mask)
{
	uint8_t val[20] = {0};
	size_t iplen;

	if (!a || (a->family != AF_INET && a->family != AF_INET6))
		return stun_build_fail(b, -EAFNOSUPPORT);
	iplen = nts_addr_iplen(a);
	val[1] = a->family == AF_INET ? 0x01 : 0x02;
	stun_wr16(val + 2, a->port ^ (xor_mask ? (uint16_t)(STUN_MAGIC_COOKIE >> 16) : 0));
	for (size_t i = 0; i < iplen; i++)
		val[4 + i] = a->ip[i] ^ (xor_mask ? xor_mask[i] : 0);
	return stun_put_attr(b, type, val, 4 + iplen);
}

int stun_put_addr(struct stun_builder *b, uint16_t type, const struct nts_addr *a)
{
	return put_addr(b, type, a, NULL);
}

int stun_put_xor_addr(struct stun_builder *b, uint16_t type, const struct nts_addr *a)
{
	uint8_t mask[16];

	if (b->err)
		return b->err;
	stun_wr32(mask, STUN_MAGIC_COOKIE);
	memcpy(mask + 4, b->buf + 8, STUN_TID_LEN);
	return put_addr(b, type, a, mask);
}

/* ERROR-CODE and ADDRESS-ERROR-CODE share the code layout; byte 0 is the family for the latter. */
static int put_code(struct stun_builder *b, uint16_t type, uint8_t first, int code,
		    const char *reason)
{
	if (code < 300 || code > 699)
		return stun_build_fail(b, -EINVAL);
	if (!reason)
		reason = stun_reason(code);
	size_t rlen = strlen(reason);
	uint8_t *v = stun_put_reserve(b, type, 4 + rlen);
	if (!v)
		return b->err;
	v[0] = first;
	v[1] = 0;
	v[2] = (uint8_t)(code / 100);
	v[3] = (uint8_t)(code % 100);
	memcpy(v + 4, reason, rlen);
	return 0;
}

int stun_put_error(struct stun_builder *b, int code, const char *reason)
{
	return put_code(b, STUN_ATTR_ERROR_CODE, 0, code, reason);
}

int stun_put_address_error(struct stun_builder *b, uint8_t family, int code, const char *reason)
{
	if (family != AF_INET && family != AF_INET6)
		return stun_build_fail(b, -EAFNOSUPPORT);
	return put_code(b, STUN_ATTR_ADDRESS_ERROR_CODE, family == AF_INET ? 0x01 : 0x02, code,
			reason);
}

int stun_put_unknown(struct stun_builder *b, const uint16_t *types, size_t n)
{
	if (n > UINT16_MAX / 2)
		return stun_build_fail(b, -EINVAL);
	uint8_t *v = stun_put_reserve(b, STUN_ATTR_UNKNOWN_ATTRIBUTES, 2 * n);
	if (!v)
		return b->err;
	for (size_t i = 0; i < n; i++)
		stun_wr16(v + 2 * i, types[i]);
	return 0;
}

int stun_put_password_algs(struct stun_builder *b, const uint16_t *algs, size_t n)
{
	if (n > UINT16_MAX / 4)
		return stun_build_fail(b, -EINVAL);
	uint8_t *v = stun_put_reserve(b, STUN_ATTR_PASSWORD_ALGORITHMS, 4 * n);
	if (!v)
		return b->err;
	for (size_t i = 0; i < n; i++) {
		stun_wr16(v + 4 * i, algs[i]);
		stun_wr16(v + 4 * i + 2, 0);
	}
	return 0;
}

int stun_put_password_alg(struct stun_builder *b, uint16_t alg)
{
	return stun_put_u32(b, STUN_ATTR_PASSWORD_ALGORITHM, (uint32_t)alg << 16);
}

int stun_put_channel(struct stun_builder *b, uint16_t channel)
{
	return stun_put_u32(b, STUN_ATTR_CHANNEL_NUMBER, (uint32_t)channel << 16);
}

int stun_put_transport(struct stun_builder *b, uint8_t proto)
{
	return stun_put_u32(b, STUN_ATTR_REQUESTED_TRANSPORT, (uint32_t)proto << 24);
}

int stun_put_family(struct stun_builder *b, uint16_t type, uint8_t af)
{
	if (af != AF_INET && af != AF_INET6)
		return stun_build_fail(b, -EAFNOSUPPORT);
	return stun_put_u32(b, type, (uint32_t)(af == AF_INET ? 0x01 : 0x02) << 24);
}

int stun_put_even_port(struct stun_builder *b, bool reserve_next)
{
	uint8_t v = reserve_next ? 0x80 : 0;

	return stun_put_attr(b, STUN_ATTR_EVEN_PORT, &v, 1);
}

int stun_put_change_request(struct stun_builder *b, unsigned change)
{
	return stun_put_u32(b, STUN_ATTR_CHANGE_REQUEST,
			    change & (STUN_CHANGE_IP | STUN_CHANGE_PORT));
}

int stun_put_response_port(struct stun_builder *b, uint16_t port)
{
	return stun_put_u32(b, STUN_ATTR_RESPONSE_PORT, (uint32_t)port << 16);
}

int stun_put_padding(struct stun_builder *b, size_t len)
{
	uint8_t *v = stun_put_reserve(b, STUN_ATTR_PADDING, len);

	if (!v)
		return b->err;
	memset(v, 0, len);
	return 0;
}

int stun_put_icmp(struct stun_builder *b, uint8_t icmp_type, uint16_t icmp_code,
		  uint32_t error_data)
{
	if (icmp_type > 0x7F || icmp_code > 0x1FF)
		return stun_build_fail(b, -EINVAL);
	return stun_put_u64(b, STUN_ATTR_ICMP,
			    ((uint64_t)((icmp_type << 9) | icmp_code) << 32) | error_data);
}

int stun_build_finish(struct stun_builder *b)
{
	return b->err ? b->err : (int)b->len;
}

int stun_build_send(struct stun_builder *b, nts_client_send_fn send, void *send_arg,
		    const struct nts_origin *o)
{
	int n = stun_build_finish(b);
	struct iovec iov = {.iov_base = b->buf, .iov_len = (size_t)n};

	if (n < 0)
		return n;
	send(send_arg, o, &iov, 1);
	return n;
}
