/* ChannelData framing (RFC 8656 §12) and splitting a TCP/TLS byte stream into STUN and ChannelData
 * frames (RFC 8656 §12.5, RFC 8489 §6.2.2).
 */
#include <errno.h>

#include "stun/stun.h"
#include "stun/wire.h"

int stun_channeldata_parse(const uint8_t *buf, size_t len, bool stream, uint16_t *channel,
			   const uint8_t **data, uint16_t *data_len, size_t *frame_len)
{
	if (!buf || len < STUN_CHANNELDATA_HDR)
		return STUN_ERR_TRUNCATED;
	uint16_t ch = stun_rd16(buf);
	if (ch < STUN_CHANNEL_MIN || ch > STUN_CHANNEL_MAX)
		return STUN_ERR_BAD_ATTR;
	uint16_t dlen = stun_rd16(buf + 2);
	/* Over UDP padding is optional, so a datagram may carry bytes after the data: ignored. */
	size_t frame = stun_channeldata_frame_len(dlen, stream);

	if (len < frame)
		return STUN_ERR_TRUNCATED;
	if (channel)
		*channel = ch;
	if (data)
		*data = buf + STUN_CHANNELDATA_HDR;
	if (data_len)
		*data_len = dlen;
	if (frame_len)
		*frame_len = frame;
	return 0;
}

size_t stun_channeldata_frame_len(uint16_t data_len, bool stream)
{
	size_t frame = STUN_CHANNELDATA_HDR + (size_t)data_len;

	return stream ? stun_pad4(frame) : frame;
}

size_t stun_channeldata_header(uint8_t hdr[STUN_CHANNELDATA_HDR], uint16_t channel,
			       uint16_t data_len, bool stream)
{
	stun_wr16(hdr, channel);
	stun_wr16(hdr + 2, data_len);
	return stun_channeldata_frame_len(data_len, stream);
}

long stun_stream_frame_len(const uint8_t *buf, size_t len)
{
	if (!buf || len < 1)
		return 0;
	switch (buf[0] >> 6) {
	case 0: /* STUN: 20-byte header + length (a multiple of 4), cookie checked once visible */
		if (len < 4)
			return 0;
		if (stun_rd16(buf + 2) % 4)
			return -EPROTO;
		if (len >= 8 && stun_rd32(buf + 4) != STUN_MAGIC_COOKIE)
			return -EPROTO;
		return STUN_HEADER_LEN + (long)stun_rd16(buf + 2);
	case 1: /* ChannelData: 4-byte header + data, padded to 4 on streams */
		if (len < 2)
			return 0;
		if (stun_rd16(buf) > STUN_CHANNEL_MAX)
			return -EPROTO;
		if (len < 4)
			return 0;
		return (long)stun_channeldata_frame_len(stun_rd16(buf + 2), true);
	default: /* 0b10, 0b11: neither STUN nor ChannelData can start here */
		return -EPROTO;
	}
}
