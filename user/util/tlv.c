/* The upgrade state stream: writer and checked reader. See tlv.h. */
#include "util/tlv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static void tlv_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void tlv_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t tlv_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t tlv_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint32_t nts_crc32(const uint8_t *p, size_t len)
{
	uint32_t table[256], c = 0xffffffffu;

	for (uint32_t i = 0; i < 256; i++) {
		uint32_t k = i;

		for (int j = 0; j < 8; j++)
			k = k & 1 ? 0xedb88320u ^ (k >> 1) : k >> 1;
		table[i] = k;
	}
	for (size_t i = 0; i < len; i++)
		c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

/* Makes room for n more bytes; returns where they go, or NULL with b->err set. */
static uint8_t *tlv_room(struct nts_tlv_buf *b, size_t n)
{
	size_t cap = b->cap;
	uint8_t *p;

	if (b->err)
		return NULL;
	if (b->len + n > NTS_TLV_HDR_LEN + (size_t)NTS_TLV_MAX_BODY) {
		b->err = -E2BIG;
		return NULL;
	}
	while (b->len + n > cap)
		cap = cap ? cap * 2 : 4096;
	if (cap != b->cap) {
		p = realloc(b->p, cap);
		if (!p) {
			b->err = -ENOMEM;
			return NULL;
		}
		b->p = p;
		b->cap = cap;
	}
	p = b->p + b->len;
	b->len += n;
	return p;
}

int nts_tlv_init(struct nts_tlv_buf *b)
{
	memset(b, 0, sizeof(*b));
	if (!tlv_room(b, NTS_TLV_HDR_LEN))
		return b->err;
	memset(b->p, 0, NTS_TLV_HDR_LEN);
	return 0;
}

void nts_tlv_free(struct nts_tlv_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

size_t nts_tlv_begin(struct nts_tlv_buf *b, uint16_t type, bool mandatory)
{
	uint8_t *p = tlv_room(b, NTS_TLV_REC_HDR);

	if (!p)
		return 0;
	tlv_le16(p, type);
	tlv_le16(p + 2, mandatory ? NTS_TLV_MANDATORY : 0);
	tlv_le32(p + 4, 0);
	return (size_t)(p - b->p);
}

void nts_tlv_end(struct nts_tlv_buf *b, size_t off)
{
	if (b->err || off < NTS_TLV_HDR_LEN)
		return;
	tlv_le32(b->p + off + 4, (uint32_t)(b->len - off - NTS_TLV_REC_HDR));
}

void nts_tlv_put(struct nts_tlv_buf *b, uint16_t type, bool mandatory, const void *v, size_t len)
{
	size_t off = nts_tlv_begin(b, type, mandatory);
	uint8_t *p = tlv_room(b, len);

	if (p && len)
		memcpy(p, v, len);
	nts_tlv_end(b, off);
}

void nts_tlv_put_u8(struct nts_tlv_buf *b, uint16_t type, bool mandatory, uint8_t v)
{
	nts_tlv_put(b, type, mandatory, &v, 1);
}

void nts_tlv_put_u16(struct nts_tlv_buf *b, uint16_t type, bool mandatory, uint16_t v)
{
	uint8_t p[2];

	tlv_le16(p, v);
	nts_tlv_put(b, type, mandatory, p, sizeof(p));
}

void nts_tlv_put_u32(struct nts_tlv_buf *b, uint16_t type, bool mandatory, uint32_t v)
{
	uint8_t p[4];

	tlv_le32(p, v);
	nts_tlv_put(b, type, mandatory, p, sizeof(p));
}

void nts_tlv_put_u64(struct nts_tlv_buf *b, uint16_t type, bool mandatory, uint64_t v)
{
	uint8_t p[8];

	tlv_le32(p, (uint32_t)v);
	tlv_le32(p + 4, (uint32_t)(v >> 32));
	nts_tlv_put(b, type, mandatory, p, sizeof(p));
}

void nts_tlv_put_str(struct nts_tlv_buf *b, uint16_t type, bool mandatory, const char *s)
{
	nts_tlv_put(b, type, mandatory, s, strlen(s));
}

void nts_tlv_put_addr(struct nts_tlv_buf *b, uint16_t type, bool mandatory,
		      const struct nts_addr *a)
{
	uint8_t p[NTS_TLV_ADDR_LEN] = {a->family == AF_INET6 ? 6 : 4};

	tlv_le16(p + 1, a->port);
	memcpy(p + 3, a->ip, 16);
	nts_tlv_put(b, type, mandatory, p, sizeof(p));
}

int nts_tlv_finish(struct nts_tlv_buf *b)
{
	size_t body = b->len - NTS_TLV_HDR_LEN;

	if (b->err)
		return b->err;
	memcpy(b->p, NTS_TLV_MAGIC, 8);
	tlv_le16(b->p + 8, NTS_TLV_VERSION);
	tlv_le16(b->p + 10, 0);
	tlv_le32(b->p + 12, 0);
	tlv_le32(b->p + 16, (uint32_t)body);
	tlv_le32(b->p + 20, nts_crc32(b->p + NTS_TLV_HDR_LEN, body));
	return 0;
}

int nts_tlv_open(const uint8_t *buf, size_t len, uint16_t *version, struct nts_tlv_rd *body)
{
	uint32_t blen;

	if (len < NTS_TLV_HDR_LEN || memcmp(buf, NTS_TLV_MAGIC, 8))
		return -EPROTO;
	*version = tlv_get16(buf + 8);
	if (*version == 0 || *version > NTS_TLV_VERSION)
		return -EPROTO;
	blen = tlv_get32(buf + 16);
	if (blen > NTS_TLV_MAX_BODY || blen != len - NTS_TLV_HDR_LEN)
		return -EBADMSG;
	if (nts_crc32(buf + NTS_TLV_HDR_LEN, blen) != tlv_get32(buf + 20))
		return -EBADMSG;
	*body = (struct nts_tlv_rd){buf + NTS_TLV_HDR_LEN, blen, 0};
	return 0;
}

int nts_tlv_next(struct nts_tlv_rd *r, struct nts_tlv *rec)
{
	uint32_t len;

	if (r->off == r->len)
		return 0;
	if (r->len - r->off < NTS_TLV_REC_HDR)
		return -EBADMSG;
	len = tlv_get32(r->p + r->off + 4);
	if (len > r->len - r->off - NTS_TLV_REC_HDR)
		return -EBADMSG;
	rec->type = tlv_get16(r->p + r->off);
	rec->mandatory = tlv_get16(r->p + r->off + 2) & NTS_TLV_MANDATORY;
	rec->v = r->p + r->off + NTS_TLV_REC_HDR;
	rec->len = len;
	r->off += NTS_TLV_REC_HDR + len;
	return 1;
}

struct nts_tlv_rd nts_tlv_sub(const struct nts_tlv *rec)
{
	return (struct nts_tlv_rd){rec->v, rec->len, 0};
}

int nts_tlv_unknown(const struct nts_tlv *rec)
{
	return rec->mandatory ? -EPROTO : 0;
}

int nts_tlv_u8(const struct nts_tlv *rec, uint8_t *v)
{
	if (rec->len != 1)
		return -EBADMSG;
	*v = rec->v[0];
	return 0;
}

int nts_tlv_u16(const struct nts_tlv *rec, uint16_t *v)
{
	if (rec->len != 2)
		return -EBADMSG;
	*v = tlv_get16(rec->v);
	return 0;
}

int nts_tlv_u32(const struct nts_tlv *rec, uint32_t *v)
{
	if (rec->len != 4)
		return -EBADMSG;
	*v = tlv_get32(rec->v);
	return 0;
}

int nts_tlv_u64(const struct nts_tlv *rec, uint64_t *v)
{
	if (rec->len != 8)
		return -EBADMSG;
	*v = (uint64_t)tlv_get32(rec->v) | (uint64_t)tlv_get32(rec->v + 4) << 32;
	return 0;
}

int nts_tlv_addr(const struct nts_tlv *rec, struct nts_addr *a)
{
	if (rec->len != NTS_TLV_ADDR_LEN || (rec->v[0] != 4 && rec->v[0] != 6))
		return -EBADMSG;
	memset(a, 0, sizeof(*a));
	a->family = rec->v[0] == 6 ? AF_INET6 : AF_INET;
	a->port = tlv_get16(rec->v + 1);
	memcpy(a->ip, rec->v + 3, 16);
	return 0;
}

int nts_tlv_str(const struct nts_tlv *rec, char *buf, size_t n)
{
	if (rec->len >= n || memchr(rec->v, 0, rec->len))
		return -EBADMSG;
	memcpy(buf, rec->v, rec->len);
	buf[rec->len] = 0;
	return 0;
}
