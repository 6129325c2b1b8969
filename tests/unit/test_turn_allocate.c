/* TURN Allocate (RFC 8656 §7) over the real codec and real long-term credentials: the challenge,
 * the success contents, and each error path (400, 437, 440, 442, 486, 508), retransmissions, even
 * ports with reservations, IPv6 and dual-stack relays, and the no-state-before-auth property.
 */
#include "test_turn_harness.h"

#include "auth/auth_priv.h"

static void h_add_raw_family(struct stun_builder *b, const void *arg)
{
	const uint8_t *v = arg;

	stun_put_transport(b, 17);
	stun_put_attr(b, STUN_ATTR_REQUESTED_ADDRESS_FAMILY, v, 4);
}

/* RFC 8489 §9.2.4: no integrity -> 401 with REALM and NONCE; nothing is allocated (§7.2). */
static void test_allocate_without_credentials_gets_401_with_realm_and_nonce(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:40001", NULL);
	uint8_t buf[256];
	size_t len = h_build(h, buf, sizeof(buf), TURN_ALLOCATE, STUN_REQUEST, NULL, h_add_udp,
			     NULL, NULL, NULL, 0);
	const struct stun_attr *realm;

	assert_int_equal(h_deliver(h, &o, buf, len), 0);
	assert_int_equal(h->ncap, 1);
	h_parse(h, 0);
	assert_int_equal(h->resp.cls, STUN_ERROR);
	assert_int_equal(h_error_code(&h->resp), 401);
	realm = stun_find(&h->resp, STUN_ATTR_REALM);
	assert_non_null(realm);
	assert_memory_equal(realm->value, H_REALM, strlen(H_REALM));
	assert_non_null(stun_find(&h->resp, STUN_ATTR_NONCE));
	assert_null(turn_alloc_find(h->t, &o));
	assert_int_equal(h->stats.allocations_current, 0);
	h_free(h);
}

/* Issue 4 item 6: an unauthenticated answer is at most the request plus REALM, NONCE and
 * PASSWORD-ALGORITHMS; a bare 20-byte header gets nothing back. */
static void test_unauthenticated_answer_is_not_larger_than_request_plus_challenge(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:40002", NULL);
	uint8_t buf[256];
	size_t len = h_build(h, buf, sizeof(buf), TURN_ALLOCATE, STUN_REQUEST, NULL, h_add_udp,
			     NULL, NULL, NULL, 0);
	size_t challenge = 0;

	assert_int_equal(h_deliver(h, &o, buf, len), 0);
	assert_int_equal(h->ncap, 1);
	h_parse(h, 0);
	for (unsigned i = 0; i < h->resp.nattrs; i++) {
		uint16_t ty = h->resp.attrs[i].type;

		if (ty == STUN_ATTR_REALM || ty == STUN_ATTR_NONCE ||
		    ty == STUN_ATTR_PASSWORD_ALGORITHMS)
			challenge += 4 + ((h->resp.attrs[i].len + 3u) & ~3u);
	}
	assert_true(challenge > 0);
	assert_true(h->cap[0].len <= len + challenge);

	len = h_build(h, buf, sizeof(buf), TURN_ALLOCATE, STUN_REQUEST, NULL, NULL, NULL, NULL,
		      NULL, 0);
	assert_int_equal(len, STUN_HEADER_LEN);
	assert_int_equal(h_deliver(h, &o, buf, len), 0);
	assert_int_equal(h->ncap, 1);
	h_free(h);
}

/* RFC 8489 §9.2.4, §14: the 401 to a 28-byte Allocate is the header, an ERROR-CODE without reason
 * phrase, REALM, a 40-character NONCE and two PASSWORD-ALGORITHMS: nothing more (no SOFTWARE, no
 * FINGERPRINT), so it amplifies as little as the challenge allows. */
static void test_unauthenticated_allocate_401_is_the_smallest_challenge(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:40004", NULL);
	uint8_t buf[256];
	size_t len = h_build(h, buf, sizeof(buf), TURN_ALLOCATE, STUN_REQUEST, NULL, h_add_udp,
			     NULL, NULL, NULL, 0);
	size_t realm = 4 + ((strlen(H_REALM) + 3) & ~(size_t)3);

	assert_int_equal(len, 28);
	assert_int_equal(h_deliver(h, &o, buf, len), 0);
	assert_int_equal(h->ncap, 1);
	h_parse(h, 0);
	assert_int_equal(h_error_code(&h->resp), 401);
	assert_int_equal(stun_find(&h->resp, STUN_ATTR_NONCE)->len, 40);
	assert_int_equal(h->cap[0].len, STUN_HEADER_LEN + 8 + realm + 44 + 4 + 2 * 4);
	/* A larger request (room for the reason phrase) gets the same answer. */
	len = h_build(h, buf, sizeof(buf), TURN_ALLOCATE, STUN_REQUEST, NULL, h_add_raw_family,
		      (const uint8_t[4]){1, 0, 0, 0}, NULL, NULL, 0);
	assert_int_equal(len, 36);
	assert_int_equal(h_deliver(h, &o, buf, len), 0);
	assert_int_equal(h->ncap, 2);
	assert_int_equal(h->cap[1].len, h->cap[0].len);
	h_free(h);
}

/* Issue 4 item 6: past the per-source budget, unauthenticated requests are dropped silently. */
static void test_unauthenticated_requests_past_the_rate_limit_are_dropped(void **state)
{
	struct harness *h = calloc(1, sizeof(*h));
	struct nts_origin o = h_origin("127.0.0.1:40003", NULL);
	struct nts_origin other = h_origin("127.0.0.2:40003", NULL);
	uint8_t buf[256];
	size_t len;

	h_config(&h->cfg, true);
	h->cfg.unauth_rate = 5;
	h_start(h);
	len = h_build(h, buf, sizeof(buf), TURN_ALLOCATE, STUN_REQUEST, NULL, h_add_udp, NULL, NULL,
		      NULL, 0);
	for (int i = 0; i < 40; i++)
		assert_int_equal(h_deliver(h, &o, buf, len), 0);
	assert_true(h->ncap >= 1);
	assert_true(h->ncap < 40);
	assert_int_equal(h->stats.unauth_rate_limited, 40 - h->ncap);
	/* Another source still gets its challenge. */
	h->ncap = 0;
	assert_int_equal(h_deliver(h, &other, buf, len), 0);
	assert_int_equal(h->ncap, 1);
	h_free(h);
}

/* Issue 4 item 6: a flood of Allocates from many (spoofed) sources creates no state at all. */
static void test_spoofed_allocate_flood_creates_no_state(void **state)
{
	struct harness *h = h_new(true);
	uint8_t buf[512], nonce[64];
	char src[64];
	size_t len;

	memset(nonce, 'x', sizeof(nonce));
	for (int i = 0; i < 500; i++) {
		struct nts_origin o;

		snprintf(src, sizeof(src), "198.18.%d.%d:%d", i / 250, i % 250 + 1, 1024 + i);
		o = h_origin(src, NULL);
		/* Half without credentials, half with a forged nonce and integrity. */
		len = h_build(h, buf, sizeof(buf), TURN_ALLOCATE, STUN_REQUEST, NULL, h_add_udp,
			      NULL, i & 1 ? &h_alice : NULL, nonce, sizeof(nonce));
		assert_int_equal(h_deliver(h, &o, buf, len), 0);
		h->ncap = 0;
	}
	assert_int_equal(h->stats.allocations_created, 0);
	assert_int_equal(h->t->by_5tuple.n, 0);
	assert_int_equal(h->t->users.n, 0);
	assert_int_equal(h->t->resv.n, 0);
	assert_true(h->stats.auth_failures > 0);
	h_free(h);
}

/* RFC 8656 §7.3: XOR-RELAYED-ADDRESS, LIFETIME, XOR-MAPPED-ADDRESS, signed with the user's key. */
static void test_allocate_success_has_relayed_mapped_lifetime_and_integrity(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:40004", NULL);
	struct nts_addr relay, mapped;
	uint8_t key[32];
	uint32_t lifetime;
	int klen;

	relay = h_allocate(h, &o);
	assert_int_equal(relay.family, AF_INET);
	assert_true(relay.port >= h->cfg.relay_port_min && relay.port <= h->cfg.relay_port_max);
	assert_int_equal(relay.ip[0], 127);
	assert_int_equal(stun_attr_get_xor_addr(
			     &h->resp, stun_find(&h->resp, STUN_ATTR_XOR_MAPPED_ADDRESS), &mapped),
			 0);
	assert_true(nts_addr_equal(&mapped, &o.client, true));
	assert_int_equal(stun_attr_get_u32(stun_find(&h->resp, STUN_ATTR_LIFETIME), &lifetime), 0);
	assert_int_equal(lifetime, 600);
	klen = stun_long_term_key(STUN_PWALG_MD5, H_USER, strlen(H_USER), H_REALM, strlen(H_REALM),
				  H_PASS, strlen(H_PASS), key);
	assert_true(stun_check_integrity(&h->resp, key, (size_t)klen));
	assert_true(stun_check_fingerprint(&h->resp));
	assert_non_null(turn_alloc_find(h->t, &o));
	assert_non_null(turn_alloc_find_by_relay(h->t, &relay));
	assert_int_equal(h->stats.allocations_current, 1);
	assert_int_equal(h->usage_allocs, 1);
	h_free(h);
}

static void h_add_udp_lifetime(struct stun_builder *b, const void *arg)
{
	stun_put_transport(b, 17);
	stun_put_u32(b, STUN_ATTR_LIFETIME, *(const uint32_t *)arg);
}

/* RFC 8656 §7.2: the lifetime is min(requested, max) but not below the default. */
static void test_allocate_lifetime_is_clamped_between_default_and_max(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o1 = h_origin("127.0.0.1:40005", NULL);
	struct nts_origin o2 = h_origin("127.0.0.1:40006", NULL);
	uint32_t big = 100000, small = 30, lifetime;

	assert_int_equal(h_request(h, &o1, TURN_ALLOCATE, h_add_udp_lifetime, &big), 0);
	assert_int_equal(stun_attr_get_u32(stun_find(&h->resp, STUN_ATTR_LIFETIME), &lifetime), 0);
	assert_int_equal(lifetime, 3600);
	assert_int_equal(h_request(h, &o2, TURN_ALLOCATE, h_add_udp_lifetime, &small), 0);
	assert_int_equal(stun_attr_get_u32(stun_find(&h->resp, STUN_ATTR_LIFETIME), &lifetime), 0);
	assert_int_equal(lifetime, 600);
	h_free(h);
}

/* RFC 8656 §7.2: a retransmitted Allocate (same transaction id, same 5-tuple) gets the same answer.
 */
static void test_allocate_retransmission_gets_the_same_answer(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:40007", NULL);
	uint8_t tid[STUN_TID_LEN], first[2048];
	size_t first_len;

	memset(tid, 0x42, sizeof(tid));
	assert_int_equal(h_request_tid(h, &o, TURN_ALLOCATE, tid, h_add_udp, NULL, &h_alice), 0);
	first_len = h->cap[h->ncap - 1].len;
	memcpy(first, h->cap[h->ncap - 1].buf, first_len);
	assert_int_equal(h_request_tid(h, &o, TURN_ALLOCATE, tid, h_add_udp, NULL, &h_alice), 0);
	assert_int_equal(h->cap[h->ncap - 1].len, first_len);
	assert_memory_equal(h->cap[h->ncap - 1].buf, first, first_len);
	assert_int_equal(h->stats.allocations_created, 1);
	h_free(h);
}

/* RFC 8656 §7.2: a retransmission whose nonce went stale after its first copy made the allocation
 * still gets the kept success answer, not 438 (then 437 for the client's next transaction). */
static void test_allocate_retransmission_with_a_stale_nonce_gets_the_same_answer(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:40017", NULL);
	char fresh[AUTH_NONCE_LEN + 1], stale[AUTH_NONCE_LEN + 1];
	uint8_t tid[STUN_TID_LEN], req[1024], first[2048];
	uint64_t now = turn_unix_now();
	size_t flen = auth_nonce_make(h->auth, &o.client, now, fresh);
	size_t slen = auth_nonce_make(h->auth, &o.client, now - AUTH_NONCE_LIFETIME - 5, stale);
	size_t len, first_len;

	memset(tid, 0x37, sizeof(tid));
	len = h_build(h, req, sizeof(req), TURN_ALLOCATE, STUN_REQUEST, tid, h_add_udp, NULL,
		      &h_alice, (const uint8_t *)fresh, flen);
	assert_int_equal(h_deliver(h, &o, req, len), 0);
	assert_int_equal(h->ncap, 1);
	h_parse(h, 0);
	assert_int_equal(h->resp.cls, STUN_SUCCESS);
	first_len = h->cap[0].len;
	memcpy(first, h->cap[0].buf, first_len);
	/* The same transaction carrying a nonce that is stale by now. */
	len = h_build(h, req, sizeof(req), TURN_ALLOCATE, STUN_REQUEST, tid, h_add_udp, NULL,
		      &h_alice, (const uint8_t *)stale, slen);
	assert_int_equal(h_deliver(h, &o, req, len), 0);
	assert_int_equal(h->ncap, 2);
	assert_int_equal(h->cap[1].len, first_len);
	assert_memory_equal(h->cap[1].buf, first, first_len);
	assert_int_equal(h->stats.allocations_created, 1);
	/* A new transaction on the 5-tuple is still a mismatch. */
	assert_int_equal(h_request(h, &o, TURN_ALLOCATE, h_add_udp, NULL), 437);
	h_free(h);
}

/* RFC 8656 §7.2: another Allocate on a 5-tuple that has an allocation gets 437. */
static void test_second_allocate_on_the_same_5tuple_gets_437(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:40008", NULL);

	h_allocate(h, &o);
	assert_int_equal(h_request(h, &o, TURN_ALLOCATE, h_add_udp, NULL), 437);
	assert_int_equal(h->stats.allocations_created, 1);
	h_free(h);
}

static void h_add_nothing(struct stun_builder *b, const void *arg)
{
}

static void h_add_tcp(struct stun_builder *b, const void *arg)
{
	stun_put_transport(b, 6);
}

/* RFC 8656 §7.2: REQUESTED-TRANSPORT is mandatory (400); only UDP is offered (442). */
static void test_allocate_transport_missing_gets_400_and_tcp_gets_442(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:40009", NULL);

	assert_int_equal(h_request(h, &o, TURN_ALLOCATE, h_add_nothing, NULL), 400);
	assert_int_equal(h_request(h, &o, TURN_ALLOCATE, h_add_tcp, NULL), 442);
	assert_null(turn_alloc_find(h->t, &o));
	h_free(h);
}

/* RFC 8656 §7.2: the per-user quota (counted per username) is answered with 486. */
static void test_allocate_past_the_user_quota_gets_486(void **state)
{
	struct harness *h = calloc(1, sizeof(*h));
	struct nts_origin o1 = h_origin("127.0.0.1:40010", NULL);
	struct nts_origin o2 = h_origin("127.0.0.1:40011", NULL);
	struct nts_origin o3 = h_origin("127.0.0.1:40012", NULL);

	h_config(&h->cfg, true);
	h->cfg.max_allocations_per_user = 1;
	h_start(h);
	h_allocate(h, &o1);
	assert_int_equal(h_request(h, &o2, TURN_ALLOCATE, h_add_udp, NULL), 486);
	/* Another user is not affected. */
	assert_int_equal(h_request_tid(h, &o3, TURN_ALLOCATE, NULL, h_add_udp, NULL, &h_bob), 0);
	/* Freeing the first one frees the quota. */
	turn_alloc_delete(h->t, turn_alloc_find(h->t, &o1), false);
	assert_int_equal(h_request(h, &o2, TURN_ALLOCATE, h_add_udp, NULL), 0);
	h_free(h);
}

/* RFC 8656 §7.2: when no relay port is free the answer is 508. */
static void test_allocate_with_the_port_range_exhausted_gets_508(void **state)
{
	struct harness *h = calloc(1, sizeof(*h));
	struct nts_origin o1 = h_origin("127.0.0.1:40013", NULL);
	struct nts_origin o2 = h_origin("127.0.0.1:40014", NULL);
	struct nts_addr free_port;
	int fd = h_peer_socket(&free_port);

	close(fd); /* a port the kernel just had free */
	h_config(&h->cfg, true);
	h->cfg.relay_port_min = h->cfg.relay_port_max = free_port.port;
	h_start(h);
	h_allocate(h, &o1);
	assert_int_equal(h_request(h, &o2, TURN_ALLOCATE, h_add_udp, NULL), 508);
	assert_null(turn_alloc_find(h->t, &o2));
	h_free(h);
}

/* RFC 8656 §7.2: REQUESTED-ADDRESS-FAMILY IPv6 gets an IPv6 relay (::1 for a loopback server). */
static void test_allocate_ipv6_relay(void **state)
{
	static const uint8_t v6[4] = {0x02};
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:40015", NULL);
	struct nts_addr relay;

	assert_int_equal(h_request(h, &o, TURN_ALLOCATE, h_add_raw_family, v6), 0);
	assert_int_equal(stun_attr_get_xor_addr(
			     &h->resp, stun_find(&h->resp, STUN_ATTR_XOR_RELAYED_ADDRESS), &relay),
			 0);
	assert_int_equal(relay.family, AF_INET6);
	assert_int_equal(relay.ip[15], 1);
	h_free(h);
}

/* RFC 8656 §7.2: an unknown family, or one the server cannot relay, gets 440. */
static void test_allocate_unsupported_family_gets_440(void **state)
{
	static const uint8_t bogus[4] = {0x03}, v6[4] = {0x02};
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:40016", NULL);
	struct nts_origin far = h_origin("198.18.0.9:40016", "198.18.0.1:3478");

	assert_int_equal(h_request(h, &o, TURN_ALLOCATE, h_add_raw_family, bogus), 440);
	/* Reached on an IPv4 non-loopback address without --relay-ip for IPv6: no IPv6 relay. */
	assert_int_equal(h_request(h, &far, TURN_ALLOCATE, h_add_raw_family, v6), 440);
	assert_int_equal(h->stats.allocations_created, 0);
	h_free(h);
}

static void h_add_dual(struct stun_builder *b, const void *arg)
{
	stun_put_transport(b, 17);
	stun_put_family(b, STUN_ATTR_ADDITIONAL_ADDRESS_FAMILY, AF_INET6);
}

/* RFC 8656 §7.2: ADDITIONAL-ADDRESS-FAMILY IPv6 gives two relays (IPv4 and IPv6). */
static void test_allocate_dual_stack_gets_two_relayed_addresses(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:40017", NULL);
	struct nts_addr r4, r6;
	const struct stun_attr *first;
	const struct stun_attr *second = NULL;

	assert_int_equal(h_request(h, &o, TURN_ALLOCATE, h_add_dual, NULL), 0);
	first = stun_find(&h->resp, STUN_ATTR_XOR_RELAYED_ADDRESS);
	for (unsigned i = 0; i < h->resp.nattrs; i++)
		if (h->resp.attrs[i].type == STUN_ATTR_XOR_RELAYED_ADDRESS &&
		    &h->resp.attrs[i] != first)
			second = &h->resp.attrs[i];
	assert_non_null(first);
	assert_non_null(second);
	assert_int_equal(stun_attr_get_xor_addr(&h->resp, first, &r4), 0);
	assert_int_equal(stun_attr_get_xor_addr(&h->resp, second, &r6), 0);
	assert_int_equal(r4.family, AF_INET);
	assert_int_equal(r6.family, AF_INET6);
	assert_non_null(turn_alloc_find_by_relay(h->t, &r6));
	h_free(h);
}

static void h_add_dual_draft(struct stun_builder *b, const void *arg)
{
	static const uint8_t v6[4] = {0x02};

	stun_put_transport(b, 17);
	stun_put_attr(b, TURN_ATTR_ADDITIONAL_ADDRESS_FAMILY_DRAFT, v6, sizeof(v6));
}

/* coturn's clients send ADDITIONAL-ADDRESS-FAMILY under the draft code point 0x8032: same result.
 */
static void test_allocate_dual_stack_with_the_draft_code_point(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:40024", NULL);

	assert_int_equal(h_request(h, &o, TURN_ALLOCATE, h_add_dual_draft, NULL), 0);
	assert_int_equal(turn_alloc_find(h->t, &o)->nrelay, 2);
	h_free(h);
}

static void h_add_udp_df(struct stun_builder *b, const void *arg)
{
	stun_put_transport(b, 17);
	stun_put_attr(b, STUN_ATTR_DONT_FRAGMENT, NULL, 0);
}

/* RFC 8656 §7.2: DONT-FRAGMENT sets the DF bit (path MTU discovery "do") on the relay socket. */
static void test_allocate_dont_fragment_sets_df_on_the_relay_socket(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o1 = h_origin("127.0.0.1:40025", NULL);
	struct nts_origin o2 = h_origin("127.0.0.1:40026", NULL);
	struct nts_addr r1, r2;
	int v = -1;
	socklen_t vl = sizeof(v);

	assert_int_equal(h_request(h, &o1, TURN_ALLOCATE, h_add_udp_df, NULL), 0);
	assert_int_equal(stun_attr_get_xor_addr(
			     &h->resp, stun_find(&h->resp, STUN_ATTR_XOR_RELAYED_ADDRESS), &r1),
			 0);
	assert_int_equal(getsockopt(turn_alloc_find_by_relay(h->t, &r1)->fd, IPPROTO_IP,
				    IP_MTU_DISCOVER, &v, &vl),
			 0);
	assert_int_equal(v, IP_PMTUDISC_DO);
	r2 = h_allocate(h, &o2);
	assert_int_equal(getsockopt(turn_alloc_find_by_relay(h->t, &r2)->fd, IPPROTO_IP,
				    IP_MTU_DISCOVER, &v, &vl),
			 0);
	assert_int_not_equal(v, IP_PMTUDISC_DO);
	h_free(h);
}

/* --relay-ip picks the relay socket address; --external-ip is what XOR-RELAYED-ADDRESS says. */
static void test_allocate_uses_relay_ip_and_advertises_external_ip(void **state)
{
	struct harness *h = calloc(1, sizeof(*h));
	struct nts_origin o = h_origin("198.18.0.9:40027", "198.18.0.1:3478");
	struct nts_addr relay, ext;
	struct turn_relay *r;

	h_config(&h->cfg, true);
	h_addr(&h->cfg.relay_ip[0], "127.0.0.1:0");
	h->cfg.nrelay_ip = 1;
	h_addr(&h->cfg.external_ip[0], "198.51.100.7:0");
	h->cfg.nexternal_ip = 1;
	h_start(h);
	relay = h_allocate(h, &o);
	h_addr(&ext, "198.51.100.7:0");
	assert_true(nts_addr_equal(&relay, &ext, false));
	r = turn_alloc_find(h->t, &o)->relay;
	assert_int_equal(r->local.port, relay.port);
	assert_int_equal(r->local.ip[0], 127);
	assert_non_null(turn_alloc_find_by_relay(h->t, &r->local));
	h_free(h);
}

/* RFC 8656 §7.2: when the additional IPv6 relay cannot be had, the IPv4 one is still granted with
 * ADDRESS-ERROR-CODE 440 for IPv6. */
static void test_dual_stack_without_ipv6_gets_address_error_code(void **state)
{
	struct harness *h = calloc(1, sizeof(*h));
	struct nts_origin o = h_origin("198.18.0.9:40028", "198.18.0.1:3478");
	const struct stun_attr *ae;
	uint8_t fam;
	int code;
	const char *reason;
	size_t rlen;

	h_config(&h->cfg, true);
	h_addr(&h->cfg.relay_ip[0], "127.0.0.1:0");
	h->cfg.nrelay_ip = 1;
	h_start(h);
	assert_int_equal(h_request(h, &o, TURN_ALLOCATE, h_add_dual, NULL), 0);
	ae = stun_find(&h->resp, STUN_ATTR_ADDRESS_ERROR_CODE);
	assert_non_null(ae);
	assert_int_equal(stun_attr_get_address_error(ae, &fam, &code, &reason, &rlen), 0);
	assert_int_equal(fam, AF_INET6);
	assert_int_equal(code, 440);
	assert_int_equal(turn_alloc_find(h->t, &o)->nrelay, 1);
	h_free(h);
}

struct h_combo {
	bool raf, aaf, even, reserve, token;
	uint8_t aaf_value;
};
static void h_add_combo(struct stun_builder *b, const void *arg)
{
	const struct h_combo *c = arg;
	uint8_t v[4] = {c->aaf_value};

	stun_put_transport(b, 17);
	if (c->raf)
		stun_put_family(b, STUN_ATTR_REQUESTED_ADDRESS_FAMILY, AF_INET);
	if (c->aaf)
		stun_put_attr(b, STUN_ATTR_ADDITIONAL_ADDRESS_FAMILY, v, 4);
	if (c->even)
		stun_put_even_port(b, c->reserve);
	if (c->token)
		stun_put_u64(b, STUN_ATTR_RESERVATION_TOKEN, 0x1122334455667788ULL);
}

/* RFC 8656 §7.2 steps 5-8: conflicting attribute combinations get 400; a bad token 508. */
static void test_allocate_conflicting_attributes_get_400(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:40018", NULL);
	const struct h_combo raf_aaf = {.raf = true, .aaf = true, .aaf_value = 2};
	const struct h_combo token_even = {.token = true, .even = true};
	const struct h_combo token_raf = {.token = true, .raf = true};
	const struct h_combo reserve_aaf = {
	    .even = true, .reserve = true, .aaf = true, .aaf_value = 2};
	const struct h_combo aaf_v4 = {.aaf = true, .aaf_value = 1};
	const struct h_combo token_only = {.token = true};

	assert_int_equal(h_request(h, &o, TURN_ALLOCATE, h_add_combo, &raf_aaf), 400);
	assert_int_equal(h_request(h, &o, TURN_ALLOCATE, h_add_combo, &token_even), 400);
	assert_int_equal(h_request(h, &o, TURN_ALLOCATE, h_add_combo, &token_raf), 400);
	assert_int_equal(h_request(h, &o, TURN_ALLOCATE, h_add_combo, &reserve_aaf), 400);
	assert_int_equal(h_request(h, &o, TURN_ALLOCATE, h_add_combo, &aaf_v4), 400);
	assert_int_equal(h_request(h, &o, TURN_ALLOCATE, h_add_combo, &token_only), 508);
	assert_int_equal(h->stats.allocations_created, 0);
	h_free(h);
}

static void h_add_token(struct stun_builder *b, const void *arg)
{
	stun_put_transport(b, 17);
	stun_put_u64(b, STUN_ATTR_RESERVATION_TOKEN, *(const uint64_t *)arg);
}

/* RFC 8656 §7.2: EVEN-PORT with R gets an even port and a RESERVATION-TOKEN; an Allocate with that
 * token gets the next (odd) port; the token works once. */
static void test_even_port_reservation_then_token_gets_the_reserved_port(void **state)
{
	const struct h_combo even_r = {.even = true, .reserve = true};
	struct harness *h = h_new(true);
	struct nts_origin o1 = h_origin("127.0.0.1:40019", NULL);
	struct nts_origin o2 = h_origin("127.0.0.1:40020", NULL);
	struct nts_origin o3 = h_origin("127.0.0.1:40021", NULL);
	struct nts_addr r1, r2;
	uint64_t token;

	assert_int_equal(h_request(h, &o1, TURN_ALLOCATE, h_add_combo, &even_r), 0);
	assert_int_equal(stun_attr_get_xor_addr(
			     &h->resp, stun_find(&h->resp, STUN_ATTR_XOR_RELAYED_ADDRESS), &r1),
			 0);
	assert_int_equal(r1.port % 2, 0);
	assert_int_equal(
	    stun_attr_get_u64(stun_find(&h->resp, STUN_ATTR_RESERVATION_TOKEN), &token), 0);
	assert_int_equal(h_request(h, &o2, TURN_ALLOCATE, h_add_token, &token), 0);
	assert_int_equal(stun_attr_get_xor_addr(
			     &h->resp, stun_find(&h->resp, STUN_ATTR_XOR_RELAYED_ADDRESS), &r2),
			 0);
	assert_int_equal(r2.port, r1.port + 1);
	assert_int_equal(h_request(h, &o3, TURN_ALLOCATE, h_add_token, &token), 508);
	h_free(h);
}

/* RFC 8656 §7.2: a reservation is held for about 30 s, then its port is released. */
static void test_reservation_expires(void **state)
{
	const struct h_combo even_r = {.even = true, .reserve = true};
	struct harness *h = h_new(true);
	struct nts_origin o1 = h_origin("127.0.0.1:40022", NULL);
	struct nts_origin o2 = h_origin("127.0.0.1:40023", NULL);
	uint64_t token;

	assert_int_equal(h_request(h, &o1, TURN_ALLOCATE, h_add_combo, &even_r), 0);
	assert_int_equal(
	    stun_attr_get_u64(stun_find(&h->resp, STUN_ATTR_RESERVATION_TOKEN), &token), 0);
	assert_int_equal(h->t->resv.n, 1);
	turn_tick(h->t, turn_now_ms(h->t) + (TURN_RESERVATION_LIFETIME + 2) * 1000);
	assert_int_equal(h->t->resv.n, 0);
	assert_int_equal(h_request(h, &o2, TURN_ALLOCATE, h_add_token, &token), 508);
	h_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_allocate_without_credentials_gets_401_with_realm_and_nonce),
	    cmocka_unit_test(test_unauthenticated_allocate_401_is_the_smallest_challenge),
	    cmocka_unit_test(test_unauthenticated_answer_is_not_larger_than_request_plus_challenge),
	    cmocka_unit_test(test_unauthenticated_requests_past_the_rate_limit_are_dropped),
	    cmocka_unit_test(test_spoofed_allocate_flood_creates_no_state),
	    cmocka_unit_test(test_allocate_success_has_relayed_mapped_lifetime_and_integrity),
	    cmocka_unit_test(test_allocate_lifetime_is_clamped_between_default_and_max),
	    cmocka_unit_test(test_allocate_retransmission_gets_the_same_answer),
	    cmocka_unit_test(test_allocate_retransmission_with_a_stale_nonce_gets_the_same_answer),
	    cmocka_unit_test(test_second_allocate_on_the_same_5tuple_gets_437),
	    cmocka_unit_test(test_allocate_transport_missing_gets_400_and_tcp_gets_442),
	    cmocka_unit_test(test_allocate_past_the_user_quota_gets_486),
	    cmocka_unit_test(test_allocate_with_the_port_range_exhausted_gets_508),
	    cmocka_unit_test(test_allocate_ipv6_relay),
	    cmocka_unit_test(test_allocate_unsupported_family_gets_440),
	    cmocka_unit_test(test_allocate_dual_stack_gets_two_relayed_addresses),
	    cmocka_unit_test(test_allocate_dual_stack_with_the_draft_code_point),
	    cmocka_unit_test(test_allocate_dont_fragment_sets_df_on_the_relay_socket),
	    cmocka_unit_test(test_allocate_uses_relay_ip_and_advertises_external_ip),
	    cmocka_unit_test(test_dual_stack_without_ipv6_gets_address_error_code),
	    cmocka_unit_test(test_allocate_conflicting_attributes_get_400),
	    cmocka_unit_test(test_even_port_reservation_then_token_gets_the_reserved_port),
	    cmocka_unit_test(test_reservation_expires),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
