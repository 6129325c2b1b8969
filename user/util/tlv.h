/* The state stream of an upgrade (docs/architecture.md, "Upgrading without dropping calls"): a
 * checked header (magic, version, body length, CRC-32) and a body of records, each a type, a
 * mandatory flag and a length, nesting freely. Readers skip unknown optional records and refuse
 * unknown mandatory ones, so modules add records and fields without breaking older readers.
 */
#ifndef NTS_UTIL_TLV_H
#define NTS_UTIL_TLV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/addr.h"

#define NTS_TLV_MAGIC "NTSSTATE" /* 8 bytes, no NUL */
#define NTS_TLV_VERSION 1	 /* the newest stream version this build writes and reads */
#define NTS_TLV_HDR_LEN 24	 /* magic, u16 version, u16 0, u32 0, u32 body length, u32 CRC */
#define NTS_TLV_REC_HDR 8	 /* u16 type, u16 flags, u32 length (little-endian) */
#define NTS_TLV_MANDATORY 1	 /* flags bit: a reader that does not know the type must refuse */
#define NTS_TLV_MAX_BODY (1u << 30)
#define NTS_TLV_ADDR_LEN 19 /* u8 family (4 or 6), u16 port, 16 address bytes */

/* Top-level record types, listed once so numbers never collide; each module owns a range and
 * numbers the fields inside its records itself (docs/architecture.md says how to add one). */
enum nts_rec_type {
	NTS_REC_META = 0x01,	    /* ntsd: writer's version, pid, clock (mandatory) */
	NTS_REC_FD = 0x02,	    /* ntsd: one handed-over socket and what it is (mandatory) */
	NTS_REC_STATS = 0x03,	    /* ntsd: daemon counters by name */
	NTS_REC_WORKER = 0x04,	    /* ntsd: the relay worker the records after it belong to */
	NTS_REC_AUTH_NONCE = 0x10,  /* auth: the nonce key, so outstanding nonces stay valid */
	NTS_REC_FASTPATH = 0x20,    /* fastpath: the generation the new process continues */
	NTS_REC_FP_ALLOC = 0x21,    /* fastpath: kernel counters already folded, per allocation */
	NTS_REC_TURN_SERVER = 0x30, /* turn: id counters (mandatory) */
	NTS_REC_TURN_ALLOC = 0x31,  /* turn: one allocation (mandatory) */
	NTS_REC_TURN_RESV = 0x32,   /* turn: one EVEN-PORT reservation (mandatory) */
				    /* next free range: 0x40 */
};

/* A growing stream under construction; err latches the first failure (-ENOMEM, -E2BIG). */
struct nts_tlv_buf {
	uint8_t *p;
	size_t len, cap;
	int err;
};

/* Starts an empty stream (room for the header). 0 or -ENOMEM. */
int nts_tlv_init(struct nts_tlv_buf *b);
void nts_tlv_free(struct nts_tlv_buf *b);
/* Opens a nested record; returns the offset nts_tlv_end() needs. */
size_t nts_tlv_begin(struct nts_tlv_buf *b, uint16_t type, bool mandatory);
/* Closes the record opened at off (sets its length). */
void nts_tlv_end(struct nts_tlv_buf *b, size_t off);
void nts_tlv_put(struct nts_tlv_buf *b, uint16_t type, bool mandatory, const void *v, size_t len);
void nts_tlv_put_u8(struct nts_tlv_buf *b, uint16_t type, bool mandatory, uint8_t v);
void nts_tlv_put_u16(struct nts_tlv_buf *b, uint16_t type, bool mandatory, uint16_t v);
void nts_tlv_put_u32(struct nts_tlv_buf *b, uint16_t type, bool mandatory, uint32_t v);
void nts_tlv_put_u64(struct nts_tlv_buf *b, uint16_t type, bool mandatory, uint64_t v);
void nts_tlv_put_str(struct nts_tlv_buf *b, uint16_t type, bool mandatory, const char *s);
void nts_tlv_put_addr(struct nts_tlv_buf *b, uint16_t type, bool mandatory,
		      const struct nts_addr *a);
/* Writes the header (version NTS_TLV_VERSION, body length, CRC). 0 or the latched error. */
int nts_tlv_finish(struct nts_tlv_buf *b);

/* A record as read: its value points into the stream. */
struct nts_tlv {
	uint16_t type;
	bool mandatory;
	const uint8_t *v;
	uint32_t len;
};
/* A sequence of records (the body, or a record's value). */
struct nts_tlv_rd {
	const uint8_t *p;
	size_t len, off;
};

/* Checks buf's header (magic, a version this build reads, length, CRC) and points body at its
 * records. 0, -EPROTO (not a stream or a newer version), -EBADMSG (truncated or corrupt). */
int nts_tlv_open(const uint8_t *buf, size_t len, uint16_t *version, struct nts_tlv_rd *body);
/* The next record of r: 1, 0 at the end, -EBADMSG when a record overruns r. */
int nts_tlv_next(struct nts_tlv_rd *r, struct nts_tlv *rec);
/* The records inside rec's value. */
struct nts_tlv_rd nts_tlv_sub(const struct nts_tlv *rec);
/* For a record of a type the reader does not know: 0 (skip it) or -EPROTO when mandatory. */
int nts_tlv_unknown(const struct nts_tlv *rec);
/* Fixed-size values: 0, or -EBADMSG when the length is not the type's. */
int nts_tlv_u8(const struct nts_tlv *rec, uint8_t *v);
int nts_tlv_u16(const struct nts_tlv *rec, uint16_t *v);
int nts_tlv_u32(const struct nts_tlv *rec, uint32_t *v);
int nts_tlv_u64(const struct nts_tlv *rec, uint64_t *v);
int nts_tlv_addr(const struct nts_tlv *rec, struct nts_addr *a);
/* Copies a string (no NUL inside) into buf of size n. 0 or -EBADMSG (too long, NUL inside). */
int nts_tlv_str(const struct nts_tlv *rec, char *buf, size_t n);
/* CRC-32 (IEEE 802.3, as zlib computes it) of len bytes. */
uint32_t nts_crc32(const uint8_t *p, size_t len);

#endif
