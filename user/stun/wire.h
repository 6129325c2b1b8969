/* Private to user/stun: big-endian field access, padding, and the helpers the codec files share.
 * Not part of the public API; include stun.h from other modules.
 */
#ifndef NTS_STUN_WIRE_H
#define NTS_STUN_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "stun/stun.h"

static inline uint16_t stun_rd16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t stun_rd32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline void stun_wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void stun_wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Rounds up to a multiple of 4 (RFC 8489 §14: attribute values are padded to 32 bits). */
static inline size_t stun_pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

/* Offset of an attribute's header from the message start, computed from its value pointer (the
 * public offset field is 16 bits wide). */
static inline size_t stun_attr_off(const struct stun_msg *m, const struct stun_attr *a)
{
	return (size_t)(a->value - m->buf) - 4;
}

/* CRC-32 continuing from crc (start with 0); stun_crc32(buf, len) == stun_crc32_update(0, buf,
 * len). */
uint32_t stun_crc32_update(uint32_t crc, const uint8_t *buf, size_t len);
/* Reserves an attribute of type with a len-byte value (zero padding written), updates the header
 * length and returns the value area, or NULL with b->err set. */
uint8_t *stun_put_reserve(struct stun_builder *b, uint16_t type, size_t len);
/* Sets b->err (sticky, first error wins) and returns it. */
int stun_build_fail(struct stun_builder *b, int err);

#endif
