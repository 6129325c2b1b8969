/* Load shedding in Allocate (user/turn/redirect.c): while the redirect hook says so, a new
 * Allocate gets 300 Try Alternate with ALTERNATE-SERVER (RFC 8489 §14.15; ALTERNATE-DOMAIN,
 * §14.16, over TLS), signed, and nothing is allocated; the hook's other codes are answered as
 * errors; without shedding, allocations go on as before.
 */
#include "test_turn_harness.h"

struct redirect_hook {
	int code;
	struct turn_redirect to;
	unsigned calls;
	uint64_t nallocs; /* what the hook was told last */
};

static int redirect_hook(void *arg, const struct nts_origin *o, uint64_t nallocs,
			 struct turn_redirect *out)
{
	struct redirect_hook *r = arg;

	r->calls++;
	r->nallocs = nallocs;
	if (r->code == 300)
		*out = r->to;
	return r->code;
}

static struct redirect_hook redirect_to(const char *addr, const char *domain)
{
	struct redirect_hook r = {.code = 300};

	h_addr(&r.to.server, addr);
	snprintf(r.to.domain, sizeof(r.to.domain), "%s", domain);
	return r;
}

/* RFC 8489 §10: 300 with the alternate's address, integrity as for any authenticated answer. */
static void test_shedding_allocate_gets_300_with_alternate_server_signed(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:40100", NULL);
	struct redirect_hook r = redirect_to("198.18.0.2:3478", "turn.example.test");
	struct nts_addr alt;
	uint8_t key[32];
	int klen;

	turn_set_redirect_hook(h->t, redirect_hook, &r);
	assert_int_equal(h_request(h, &o, TURN_ALLOCATE, h_add_udp, NULL), 300);
	assert_int_equal(stun_attr_get_addr(stun_find(&h->resp, STUN_ATTR_ALTERNATE_SERVER), &alt),
			 0);
	assert_true(nts_addr_equal(&alt, &r.to.server, true));
	/* Over UDP no certificate is checked: no ALTERNATE-DOMAIN. */
	assert_null(stun_find(&h->resp, STUN_ATTR_ALTERNATE_DOMAIN));
	klen = stun_long_term_key(STUN_PWALG_MD5, H_USER, strlen(H_USER), H_REALM, strlen(H_REALM),
				  H_PASS, strlen(H_PASS), key);
	assert_true(stun_check_integrity(&h->resp, key, (size_t)klen));
	assert_null(turn_alloc_find(h->t, &o));
	assert_int_equal(h->stats.allocations_created, 0);
	assert_int_equal(r.calls, 1);
	h_free(h);
}

/* §14.15: ALTERNATE-SERVER has the MAPPED-ADDRESS format: family, port and address in clear. */
static void test_alternate_server_is_a_plain_address_on_the_wire(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:40101", NULL);
	struct redirect_hook r = redirect_to("198.18.0.3:3479", "");
	static const uint8_t want[] = {0x80, 0x23, 0x00, 0x08, 0x00, 0x01,
				       0x0d, 0x97, 198,	 18,   0,    3};
	const struct stun_attr *a;

	turn_set_redirect_hook(h->t, redirect_hook, &r);
	assert_int_equal(h_request(h, &o, TURN_ALLOCATE, h_add_udp, NULL), 300);
	a = stun_find(&h->resp, STUN_ATTR_ALTERNATE_SERVER);
	assert_non_null(a);
	assert_memory_equal(a->value - 4, want, sizeof(want));
	h_free(h);
}

/* §14.16: over TLS the 300 names the domain the alternate's certificate is checked against. */
static void test_shedding_allocate_over_tls_gets_alternate_domain(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:40102", NULL);
	struct redirect_hook r = redirect_to("198.18.0.2:5349", "turn.example.test");
	const struct stun_attr *d;

	o.transport = NTS_TLS;
	turn_set_redirect_hook(h->t, redirect_hook, &r);
	assert_int_equal(h_request(h, &o, TURN_ALLOCATE, h_add_udp, NULL), 300);
	d = stun_find(&h->resp, STUN_ATTR_ALTERNATE_DOMAIN);
	assert_non_null(d);
	assert_int_equal(d->len, strlen("turn.example.test"));
	assert_memory_equal(d->value, "turn.example.test", d->len);
	h_free(h);
}

/* The hook decides from the live count; 0 lets the Allocate through as before. */
static void test_hook_sees_the_live_allocations_and_0_serves_here(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o1 = h_origin("127.0.0.1:40103", NULL);
	struct nts_origin o2 = h_origin("127.0.0.1:40104", NULL);
	struct redirect_hook r = {.code = 0};

	turn_set_redirect_hook(h->t, redirect_hook, &r);
	h_allocate(h, &o1);
	assert_int_equal(r.nallocs, 0);
	h_allocate(h, &o2);
	assert_int_equal(r.nallocs, 1);
	assert_int_equal(h->stats.allocations_created, 2);
	h_free(h);
}

/* A draining node with nowhere to send the client refuses (the hook's code). */
static void test_hook_error_code_is_answered(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:40105", NULL);
	struct redirect_hook r = {.code = 508};

	turn_set_redirect_hook(h->t, redirect_hook, &r);
	assert_int_equal(h_request(h, &o, TURN_ALLOCATE, h_add_udp, NULL), 508);
	assert_null(stun_find(&h->resp, STUN_ATTR_ALTERNATE_SERVER));
	assert_null(turn_alloc_find(h->t, &o));
	h_free(h);
}

/* An alternate of another family than the request's cannot be reached by the client. */
static void test_alternate_of_another_family_gets_508(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:40106", NULL);
	struct redirect_hook r = redirect_to("[2001:db8::2]:3478", "");

	turn_set_redirect_hook(h->t, redirect_hook, &r);
	assert_int_equal(h_request(h, &o, TURN_ALLOCATE, h_add_udp, NULL), 508);
	h_free(h);
}

/* Refresh, permissions and channels of allocations made before shedding go on. */
static void test_existing_allocation_refreshes_while_shedding(void **state)
{
	struct harness *h = h_new(true);
	struct nts_origin o = h_origin("127.0.0.1:40107", NULL);
	struct redirect_hook r = redirect_to("198.18.0.2:3478", "");

	h_allocate(h, &o);
	turn_set_redirect_hook(h->t, redirect_hook, &r);
	assert_int_equal(h_request(h, &o, TURN_REFRESH, NULL, NULL), 0);
	assert_int_equal(h_permit(h, &o, "127.0.0.1:9"), 0);
	assert_int_equal(r.calls, 0);
	h_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_shedding_allocate_gets_300_with_alternate_server_signed),
	    cmocka_unit_test(test_alternate_server_is_a_plain_address_on_the_wire),
	    cmocka_unit_test(test_shedding_allocate_over_tls_gets_alternate_domain),
	    cmocka_unit_test(test_hook_sees_the_live_allocations_and_0_serves_here),
	    cmocka_unit_test(test_hook_error_code_is_answered),
	    cmocka_unit_test(test_alternate_of_another_family_gets_508),
	    cmocka_unit_test(test_existing_allocation_refreshes_while_shedding),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
