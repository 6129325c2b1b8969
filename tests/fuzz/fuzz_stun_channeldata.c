/* libFuzzer target for ChannelData parsing (UDP and stream forms) and stream frame splitting;
 * checks that the reported lengths stay inside the input and agree with each other.
 */
#include <stdint.h>
#include <stdlib.h>

#include "stun/stun.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint16_t ch, dlen;
	const uint8_t *payload;
	size_t frame;

	for (int stream = 0; stream < 2; stream++) {
		if (stun_channeldata_parse(data, size, stream, &ch, &payload, &dlen, &frame) != 0)
			continue;
		if (ch < STUN_CHANNEL_MIN || ch > STUN_CHANNEL_MAX || frame > size ||
		    payload + dlen > data + size || frame < (size_t)STUN_CHANNELDATA_HDR + dlen)
			abort();
	}

	/* Walk the input as a stream of frames, as the TCP reader does. */
	size_t off = 0;
	while (off < size) {
		long f = stun_stream_frame_len(data + off, size - off);
		if (f <= 0 || (size_t)f > size - off)
			break;
		if (stun_is_channeldata(data + off, size - off)) {
			if (stun_channeldata_parse(data + off, (size_t)f, true, &ch, &payload,
						   &dlen, &frame) != 0 ||
			    frame != (size_t)f)
				abort();
		} else {
			struct stun_msg m;
			int err = stun_parse(&m, data + off, (size_t)f);
			if (err == STUN_ERR_TRUNCATED || err == STUN_ERR_NOT_STUN ||
			    err == STUN_ERR_BAD_LENGTH || (err == 0 && m.len != (size_t)f))
				abort();
		}
		off += (size_t)f;
	}
	return 0;
}
