/* ChannelData framing (RFC 8656 §12) and splitting TCP/TLS streams into STUN and ChannelData frames
 * (RFC 8656 §12.5: padded to 4 on streams; RFC 8489 §6.2.2: STUN frames are 20 + length).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "stun/stun.h"

static const uint8_t cd5[] = {0x40, 0x01, 0x00, 0x05, 'h', 'e', 'l', 'l', 'o', 0, 0, 0};

static void test_udp_channeldata_parses_channel_and_payload(void **state)
{
	uint16_t ch, dlen;
	const uint8_t *data;
	size_t frame;

	assert_true(stun_is_channeldata(cd5, sizeof(cd5)));
	assert_int_equal(stun_channeldata_parse(cd5, 9, false, &ch, &data, &dlen, &frame), 0);
	assert_int_equal(ch, 0x4001);
	assert_int_equal(dlen, 5);
	assert_ptr_equal(data, cd5 + 4);
	assert_int_equal(frame, 9);
}

/* RFC 8656 §12.5: over UDP the padding is optional; when present it is ignored. */
static void test_udp_channeldata_with_padding_is_accepted(void **state)
{
	uint16_t ch, dlen;
	const uint8_t *data;
	size_t frame;

	assert_int_equal(stun_channeldata_parse(cd5, sizeof(cd5), false, &ch, &data, &dlen, &frame),
			 0);
	assert_int_equal(dlen, 5);
	assert_int_equal(frame, 9);
}

static void test_udp_channeldata_shorter_than_length_is_truncated(void **state)
{
	uint16_t ch, dlen;
	const uint8_t *data;
	size_t frame;

	for (size_t n = 0; n < 9; n++)
		assert_int_equal(stun_channeldata_parse(cd5, n, false, &ch, &data, &dlen, &frame),
				 STUN_ERR_TRUNCATED);
}

/* On a stream the frame includes padding to 4: 9 bytes are not enough, 12 are. */
static void test_stream_channeldata_needs_its_padding(void **state)
{
	uint16_t ch, dlen;
	const uint8_t *data;
	size_t frame;

	assert_int_equal(stun_channeldata_parse(cd5, 9, true, &ch, &data, &dlen, &frame),
			 STUN_ERR_TRUNCATED);
	assert_int_equal(stun_channeldata_parse(cd5, 11, true, &ch, &data, &dlen, &frame),
			 STUN_ERR_TRUNCATED);
	assert_int_equal(stun_channeldata_parse(cd5, 12, true, &ch, &data, &dlen, &frame), 0);
	assert_int_equal(frame, 12);
	assert_int_equal(dlen, 5);
}

/* Channel numbers are 0x4000 through 0x7FFF (RFC 5766's range, which RFC 8656 §12 narrowed to
 * 0x4FFF; deployed clients still use it); anything below is not ChannelData. */
static void test_channel_outside_range_is_rejected(void **state)
{
	uint8_t buf[8] = {0x50, 0x00, 0x00, 0x00};
	uint16_t ch, dlen;
	const uint8_t *data;
	size_t frame;

	assert_int_equal(stun_channeldata_parse(buf, 4, false, &ch, &data, &dlen, &frame), 0);
	assert_int_equal(ch, 0x5000);
	buf[0] = 0x80;
	assert_int_equal(stun_channeldata_parse(buf, 4, false, &ch, &data, &dlen, &frame),
			 STUN_ERR_BAD_ATTR);
	buf[0] = 0x3f;
	buf[1] = 0xff;
	assert_int_equal(stun_channeldata_parse(buf, 4, false, &ch, &data, &dlen, &frame),
			 STUN_ERR_BAD_ATTR);
	buf[0] = 0x4f;
	assert_int_equal(stun_channeldata_parse(buf, 4, false, &ch, &data, &dlen, &frame), 0);
	assert_int_equal(ch, 0x4fff);
	assert_int_equal(dlen, 0);
	assert_int_equal(frame, 4);
}

static void test_header_writer_round_trips(void **state)
{
	uint8_t hdr[STUN_CHANNELDATA_HDR];
	uint16_t ch, dlen;

	assert_int_equal(stun_channeldata_header(hdr, 0x4abc, 1200, false), 1204);
	assert_memory_equal(hdr, "\x4a\xbc\x04\xb0", 4);
	assert_int_equal(stun_channeldata_parse(hdr, 4, false, &ch, NULL, &dlen, NULL),
			 STUN_ERR_TRUNCATED);
	assert_int_equal(stun_channeldata_header(hdr, 0x4abc, 0, true), 4);
	assert_int_equal(stun_channeldata_parse(hdr, 4, false, &ch, NULL, &dlen, NULL), 0);
	assert_int_equal(ch, 0x4abc);
}

/* RFC 8656 §12.5: a frame is padded to a multiple of 4 over TCP/TLS; over UDP we send none. The
 * writer, the parser and the stream splitter agree on the length. */
static void test_frame_is_padded_to_four_on_streams_only(void **state)
{
	uint8_t buf[16] = {0};
	size_t frame;

	assert_int_equal(stun_channeldata_frame_len(5, false), 9);
	assert_int_equal(stun_channeldata_frame_len(5, true), 12);
	assert_int_equal(stun_channeldata_frame_len(8, true), 12);
	assert_int_equal(stun_channeldata_frame_len(0, true), 4);
	assert_int_equal(stun_channeldata_frame_len(0xFFFF, true), 0x10004);
	assert_int_equal(stun_channeldata_header(buf, 0x7fff, 5, true), 12);
	assert_int_equal(stun_stream_frame_len(buf, sizeof(buf)), 12);
	assert_int_equal(stun_channeldata_parse(buf, sizeof(buf), true, NULL, NULL, NULL, &frame),
			 0);
	assert_int_equal(frame, 12);
	assert_int_equal(stun_channeldata_parse(buf, sizeof(buf), false, NULL, NULL, NULL, &frame),
			 0);
	assert_int_equal(frame, 9);
	assert_int_equal(stun_channeldata_header(buf, 0x7fff, 5, false), 9);
}

static void test_first_byte_tells_stun_from_channeldata(void **state)
{
	assert_false(stun_is_channeldata((const uint8_t *)"\x00", 1));
	assert_true(stun_is_channeldata((const uint8_t *)"\x40", 1));
	assert_true(stun_is_channeldata((const uint8_t *)"\x7f", 1));
	assert_false(stun_is_channeldata((const uint8_t *)"\x80", 1));
	assert_false(stun_is_channeldata((const uint8_t *)"\x40", 0));
}

static void test_stream_frame_len_of_stun_is_header_plus_length(void **state)
{
	static const uint8_t stun[] = {0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42};

	assert_int_equal(stun_stream_frame_len(stun, 0), 0);
	assert_int_equal(stun_stream_frame_len(stun, 3), 0); /* length not visible yet */
	assert_int_equal(stun_stream_frame_len(stun, 4), 28);
	assert_int_equal(stun_stream_frame_len(stun, sizeof(stun)), 28);
}

static void test_stream_frame_len_rejects_bad_stun(void **state)
{
	uint8_t stun[] = {0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x43};

	assert_true(stun_stream_frame_len(stun, sizeof(stun)) < 0); /* wrong cookie */
	stun[7] = 0x42;
	stun[3] = 0x07;
	assert_true(stun_stream_frame_len(stun, sizeof(stun)) < 0); /* length not a multiple of 4 */
}

static void test_stream_frame_len_of_channeldata_is_padded(void **state)
{
	assert_int_equal(stun_stream_frame_len(cd5, 1), 0);
	assert_int_equal(stun_stream_frame_len(cd5, 3), 0);
	assert_int_equal(stun_stream_frame_len(cd5, 4), 12);
	assert_int_equal(stun_stream_frame_len((const uint8_t *)"\x40\x00\x00\x00", 4), 4);
	assert_int_equal(stun_stream_frame_len((const uint8_t *)"\x4f\xff\xff\xff", 4),
			 4 + 65536); /* 65535 data bytes + 1 padding byte */
	assert_int_equal(stun_stream_frame_len((const uint8_t *)"\x50\x00\x00\x01", 4), 8);
}

static void test_stream_frame_len_rejects_top_bits_10_and_11(void **state)
{
	assert_true(stun_stream_frame_len((const uint8_t *)"\x80", 1) < 0);
	assert_true(stun_stream_frame_len((const uint8_t *)"\xc0\x00\x00\x00", 4) < 0);
	/* 'P' is 0b01: "POST" frames as ChannelData 0x504F of 0x5354 bytes; the stream's idle timeout
	 * and input bound deal with such a client. */
	assert_int_equal(stun_stream_frame_len((const uint8_t *)"POST / HTTP/1.1", 15), 4 + 0x5354);
}

/* A stream carrying STUN, ChannelData and STUN back to back splits into exactly those frames. */
static void test_stream_splits_into_frames(void **state)
{
	uint8_t stream[128], msg[64];
	struct stun_builder b;
	static const uint8_t tid[STUN_TID_LEN] = {7};
	size_t n = 0, frames = 0, expect[3];

	stun_build_init(&b, msg, sizeof(msg), STUN_BINDING, STUN_REQUEST, tid);
	stun_put_fingerprint(&b);
	int mlen = stun_build_finish(&b);
	assert_int_equal(mlen, 28);
	memcpy(stream + n, msg, 28);
	expect[0] = 28;
	n += 28;
	memcpy(stream + n, cd5, sizeof(cd5));
	expect[1] = 12;
	n += 12;
	memcpy(stream + n, msg, 28);
	expect[2] = 28;
	n += 28;

	for (size_t off = 0; off < n; frames++) {
		long f = stun_stream_frame_len(stream + off, n - off);
		assert_true(frames < 3);
		assert_int_equal(f, expect[frames]);
		if (stream[off] & 0x40) {
			uint16_t ch, dlen;
			size_t frame;
			assert_int_equal(stun_channeldata_parse(stream + off, n - off, true, &ch,
								NULL, &dlen, &frame),
					 0);
			assert_int_equal(frame, (size_t)f);
		} else {
			struct stun_msg m;
			assert_int_equal(stun_parse(&m, stream + off, (size_t)f), 0);
			assert_true(stun_check_fingerprint(&m));
		}
		off += (size_t)f;
	}
	assert_int_equal(frames, 3);
	/* Any prefix shorter than the first frame either needs more bytes or names the same length.
	 */
	for (size_t k = 0; k < 28; k++) {
		long f = stun_stream_frame_len(stream, k);
		assert_true(f == 0 || f == 28);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_udp_channeldata_parses_channel_and_payload),
	    cmocka_unit_test(test_udp_channeldata_with_padding_is_accepted),
	    cmocka_unit_test(test_udp_channeldata_shorter_than_length_is_truncated),
	    cmocka_unit_test(test_stream_channeldata_needs_its_padding),
	    cmocka_unit_test(test_channel_outside_range_is_rejected),
	    cmocka_unit_test(test_header_writer_round_trips),
	    cmocka_unit_test(test_frame_is_padded_to_four_on_streams_only),
	    cmocka_unit_test(test_first_byte_tells_stun_from_channeldata),
	    cmocka_unit_test(test_stream_frame_len_of_stun_is_header_plus_length),
	    cmocka_unit_test(test_stream_frame_len_rejects_bad_stun),
	    cmocka_unit_test(test_stream_frame_len_of_channeldata_is_padded),
	    cmocka_unit_test(test_stream_frame_len_rejects_top_bits_10_and_11),
	    cmocka_unit_test(test_stream_splits_into_frames),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
