/* libFuzzer target: the upgrade stream decoder (user/ntsd/upgrade_state.c checking every record,
 * user/turn/state_import.c, user/util/tlv.c) on arbitrary bytes. The input is checked as it comes
 * (header, CRC) and, behind a header with the right length and CRC, as a body: the first byte is
 * the number of sockets said to come with it. */
#include <stdlib.h>
#include <string.h>

#include "ntsd/upgrade.h"

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf;
	size_t body;

	ntsd_upgrade_check(data, size, 4);
	if (size < 1 || size > (1u << 20))
		return 0;
	body = size - 1;
	buf = malloc(NTS_TLV_HDR_LEN + body);
	if (!buf)
		return 0;
	memcpy(buf, NTS_TLV_MAGIC, 8);
	buf[8] = NTS_TLV_VERSION;
	memset(buf + 9, 0, 7);
	put32(buf + 16, (uint32_t)body);
	memcpy(buf + NTS_TLV_HDR_LEN, data + 1, body);
	put32(buf + 20, nts_crc32(buf + NTS_TLV_HDR_LEN, body));
	ntsd_upgrade_check(buf, NTS_TLV_HDR_LEN + body, data[0]);
	free(buf);
	return 0;
}
