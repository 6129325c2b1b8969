/* TURN's state across an upgrade (user/turn/state_export.c and state_import.c, the stream of
 * user/util/tlv.h): what one server exports, another rebuilds (same ids, relays, users, counters,
 * permissions, channels, lifetimes) and relays on; a damaged or unknown stream is refused, unknown
 * optional records and fields are skipped.
 */
#include "test_turn_harness.h"

#include "util/tlv.h"

/* A server like h_start()'s, without hooks yet (import comes before them). */
static struct harness *bare_new(void)
{
	const char *users[] = {H_USER ":" H_PASS};
	struct harness *h = calloc(1, sizeof(*h));

	assert_non_null(h);
	h_config(&h->cfg, true);
	h->loop = loop_create();
	h->auth = auth_create(H_REALM, NULL, 0, users, 1);
	h->t = turn_create(h->loop, &h->cfg, h->auth, &h->stats, h_send, h);
	assert_non_null(h->t);
	return h;
}

static int import_all(struct turn_server *t, const uint8_t *buf, size_t len, struct h_fdtab *tab)
{
	const struct turn_state_fds fds = {.put = h_tab_put, .get = h_tab_get, .arg = tab};
	struct nts_tlv_rd body;
	struct nts_tlv rec;
	uint16_t version;
	int rc = nts_tlv_open(buf, len, &version, &body);

	while (!rc && (rc = nts_tlv_next(&body, &rec)) > 0)
		rc = turn_state_import(t, &rec, &fds);
	return rc;
}

static int first_alloc(void *arg, const struct turn_alloc_info *a)
{
	*(struct turn_alloc_info *)arg = *a;
	return 1;
}

/* RFC 8656 §7, §9, §12: the allocation, its permission and channel survive with the same relayed
 * address and id, and the rebuilt server relays ChannelData both ways on the handed-over socket. */
static void test_exported_allocation_is_rebuilt_and_relays(void **state)
{
	struct harness *h1 = h_new(true), *h2 = bare_new();
	struct nts_origin o = h_origin("127.0.0.1:40001", NULL);
	const struct turn_state_fds fds = {.put = h_tab_put, .arg = NULL};
	struct turn_alloc_info a1, a2;
	struct nts_tlv_buf b;
	struct h_fdtab tab = {0};
	struct nts_addr relay, peer, from, lis;
	uint8_t buf[256];
	int pfd = h_peer_socket(&peer);

	tab.listener = h_peer_socket(&lis);
	relay = h_allocate(h1, &o);
	assert_int_equal(h_channel_bind(h1, &o, 0x4000, &peer), 0);
	turn_handle_channeldata(h1->t, &o, 0x4000, (const uint8_t *)"ping", 4);
	turn_relay_flush(h1->t);
	assert_int_equal(h_recv(pfd, buf, sizeof(buf), NULL), 4);
	turn_foreach_alloc(h1->t, first_alloc, &a1);

	assert_int_equal(nts_tlv_init(&b), 0);
	struct turn_state_fds efds = fds;
	efds.arg = &tab;
	assert_int_equal(turn_state_export(h1->t, &b, &efds), 0);
	assert_int_equal(nts_tlv_finish(&b), 0);
	assert_int_equal(import_all(h2->t, b.p, b.len, &tab), 0);
	h_free(h1); /* its sockets close: h2 holds its own */
	turn_set_hooks(h2->t, &h_hooks, h2);
	turn_replay_hooks(h2->t);

	assert_int_equal(turn_foreach_alloc(h2->t, first_alloc, &a2), 1);
	assert_int_equal(a2.id, a1.id);
	assert_true(nts_addr_equal(&a2.relay[0], &a1.relay[0], true));
	assert_string_equal(a2.username, H_USER);
	assert_int_equal(a2.npermissions, 1);
	assert_int_equal(a2.nchannels, 1);
	assert_int_equal(a2.c2p_packets, 1);
	assert_int_equal(a2.c2p_bytes, 4);
	assert_true(a2.expires_unix + 2 >= a1.expires_unix &&
		    a2.expires_unix <= a1.expires_unix + 2);
	assert_true(h_find_ev(h2, "channel_set", 0) >= 0);
	assert_int_equal(h2->ev[h_find_ev(h2, "channel_set", 0)].alloc_id, a1.id);

	/* Peer -> relay -> client as ChannelData, client -> relay -> peer, on the rebuilt server.
	 */
	h_sendto(pfd, &relay, "pong", 4);
	h_relay_readable(h2, &relay);
	assert_int_equal(h2->ncap, 1);
	assert_int_equal(h2->cap[0].len, 8);
	assert_int_equal(h2->cap[0].buf[0], 0x40);
	turn_handle_channeldata(h2->t, &o, 0x4000, (const uint8_t *)"ping", 4);
	turn_relay_flush(h2->t);
	assert_int_equal(h_recv(pfd, buf, sizeof(buf), &from), 4);
	assert_true(nts_addr_equal(&from, &relay, true));
	/* The next allocation gets a new id, above the handed-over one. */
	struct nts_origin o2 = h_origin("127.0.0.1:40002", NULL);
	turn_set_usage_hook(h2->t, h_hook_usage, h2);
	h_allocate(h2, &o2);
	close(pfd);
	close(tab.listener);
	nts_tlv_free(&b);
	h_free(h2);
}

/* A channel number from RFC 5766's range (0x5000-0x7FFF: RFC 8656 §12 narrowed it, coturn's
 * uclient still picks from it) that the server accepted is handed over, not refused. */
static void test_channel_above_rfc8656_range_is_handed_over(void **state)
{
	struct harness *h1 = h_new(true), *h2 = bare_new();
	struct nts_origin o = h_origin("127.0.0.1:40003", NULL);
	struct h_fdtab tab = {0};
	const struct turn_state_fds fds = {.put = h_tab_put, .arg = &tab};
	struct turn_alloc_info a2;
	struct nts_tlv_buf b;
	struct nts_addr peer, lis;
	int pfd = h_peer_socket(&peer);

	tab.listener = h_peer_socket(&lis);
	h_allocate(h1, &o);
	assert_int_equal(h_channel_bind(h1, &o, 0x7fff, &peer), 0);
	assert_int_equal(nts_tlv_init(&b), 0);
	assert_int_equal(turn_state_export(h1->t, &b, &fds), 0);
	assert_int_equal(nts_tlv_finish(&b), 0);
	assert_int_equal(import_all(h2->t, b.p, b.len, &tab), 0);
	assert_int_equal(turn_foreach_alloc(h2->t, first_alloc, &a2), 1);
	assert_int_equal(a2.nchannels, 1);
	h_free(h1);
	close(pfd);
	close(tab.listener);
	nts_tlv_free(&b);
	h_free(h2);
}

/* A flipped byte fails the checksum, a newer version or a foreign magic is refused. */
static void test_damaged_or_newer_stream_is_refused(void **state)
{
	struct nts_tlv_buf b;
	struct nts_tlv_rd body;
	uint16_t version;

	assert_int_equal(nts_tlv_init(&b), 0);
	nts_tlv_put_u64(&b, NTS_REC_TURN_SERVER, true, 1);
	assert_int_equal(nts_tlv_finish(&b), 0);
	assert_int_equal(nts_tlv_open(b.p, b.len, &version, &body), 0);
	assert_int_equal(version, NTS_TLV_VERSION);
	b.p[b.len - 1] ^= 1;
	assert_int_equal(nts_tlv_open(b.p, b.len, &version, &body), -EBADMSG);
	b.p[b.len - 1] ^= 1;
	assert_int_equal(nts_tlv_open(b.p, b.len - 1, &version, &body), -EBADMSG);
	b.p[8] = NTS_TLV_VERSION + 1;
	assert_int_equal(nts_tlv_open(b.p, b.len, &version, &body), -EPROTO);
	b.p[8] = NTS_TLV_VERSION;
	b.p[0] = 'X';
	assert_int_equal(nts_tlv_open(b.p, b.len, &version, &body), -EPROTO);
	nts_tlv_free(&b);
}

/* Writes an allocation record with the fields a reader requires, plus one extra field. */
static void put_alloc(struct nts_tlv_buf *b, uint16_t extra_type, bool extra_mandatory)
{
	struct nts_addr a;
	size_t off = nts_tlv_begin(b, NTS_REC_TURN_ALLOC, true), r;

	h_addr(&a, "127.0.0.1:40003");
	nts_tlv_put_u64(b, 1, true, 7);	     /* id */
	nts_tlv_put_u8(b, 2, true, NTS_UDP); /* transport */
	nts_tlv_put_addr(b, 3, true, &a);    /* client */
	nts_tlv_put_addr(b, 4, true, &a);    /* server */
	nts_tlv_put_u32(b, 5, true, 0);	     /* listener */
	r = nts_tlv_begin(b, 6, true);	     /* relay */
	nts_tlv_put_u32(b, 1, true, 1);
	nts_tlv_put_addr(b, 2, true, &a);
	nts_tlv_put_addr(b, 3, true, &a);
	nts_tlv_end(b, r);
	nts_tlv_put_str(b, 7, true, H_USER);
	nts_tlv_put_str(b, 8, true, "");
	nts_tlv_put_u64(b, 9, true, 60000); /* 60 s left */
	nts_tlv_put_u64(b, 14, true, 0);
	nts_tlv_put_u32(b, extra_type, extra_mandatory, 42);
	nts_tlv_end(b, off);
}

static int check_alloc(uint16_t extra_type, bool extra_mandatory)
{
	struct nts_tlv_buf b;
	struct nts_tlv_rd body;
	struct nts_tlv rec;
	uint16_t version;
	int rc;

	assert_int_equal(nts_tlv_init(&b), 0);
	put_alloc(&b, extra_type, extra_mandatory);
	assert_int_equal(nts_tlv_finish(&b), 0);
	assert_int_equal(nts_tlv_open(b.p, b.len, &version, &body), 0);
	assert_int_equal(nts_tlv_next(&body, &rec), 1);
	rc = turn_state_import(NULL, &rec, NULL);
	nts_tlv_free(&b);
	return rc;
}

/* New fields slot in: an older reader skips an optional one it does not know and refuses a
 * mandatory one; a record that is not TURN's is left to its owner. */
static void test_unknown_fields_are_skipped_unless_mandatory(void **state)
{
	struct nts_tlv rec = {.type = 0x7fff, .mandatory = false};

	assert_int_equal(check_alloc(900, false), 0);
	assert_int_equal(check_alloc(900, true), -EPROTO);
	assert_int_equal(turn_state_import(NULL, &rec, NULL), -ENOENT);
	assert_int_equal(nts_tlv_unknown(&rec), 0);
	rec.mandatory = true;
	assert_int_equal(nts_tlv_unknown(&rec), -EPROTO);
}

/* A record that claims more bytes than the stream holds is refused, not read past its end. */
static void test_truncated_record_is_refused(void **state)
{
	struct nts_tlv_buf b;
	struct nts_tlv_rd body;
	struct nts_tlv rec;
	uint16_t version;

	assert_int_equal(nts_tlv_init(&b), 0);
	put_alloc(&b, 900, false);
	b.p[NTS_TLV_HDR_LEN + 4] += 1; /* the record's length, one too long */
	assert_int_equal(nts_tlv_finish(&b), 0);
	assert_int_equal(nts_tlv_open(b.p, b.len, &version, &body), 0);
	assert_int_equal(nts_tlv_next(&body, &rec), -EBADMSG);
	nts_tlv_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exported_allocation_is_rebuilt_and_relays),
	    cmocka_unit_test(test_channel_above_rfc8656_range_is_handed_over),
	    cmocka_unit_test(test_damaged_or_newer_stream_is_refused),
	    cmocka_unit_test(test_unknown_fields_are_skipped_unless_mandatory),
	    cmocka_unit_test(test_truncated_record_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
