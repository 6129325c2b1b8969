/* Binding answers: RFC 8489 §7.3.1 (XOR-MAPPED-ADDRESS), RFC 3489 §8.2 for requests without the
 * magic cookie (MAPPED-ADDRESS, SOURCE-ADDRESS, CHANGED-ADDRESS), and RFC 5780 NAT behaviour
 * discovery (OTHER-ADDRESS, RESPONSE-ORIGIN, CHANGE-REQUEST, RESPONSE-PORT, PADDING) when the
 * socket the request reached has alternate addresses (--alt-ip, user/net/alt.c). See net.h.
 */
#include "net/net.h"
#include "net/net_priv.h"

#include <string.h>

#include "stun/stun.h"
#include "turn/turn.h"

/* Room for a Binding answer: header, three IPv6 addresses, XOR-MAPPED-ADDRESS, SOFTWARE (64),
 * ERROR-CODE, UNKNOWN-ATTRIBUTES, FINGERPRINT, and PADDING never larger than the request. */
#define BINDING_ANSWER_MAX 2048

struct binding_req {
	unsigned change;	/* CHANGE-REQUEST bits */
	uint16_t response_port; /* RESPONSE-PORT, 0 when absent */
	const struct stun_attr *padding;
};

static void binding_init(struct stun_builder *b, uint8_t *buf, size_t cap, const struct stun_msg *m,
			 uint16_t cls)
{
	if (m->rfc3489)
		stun_build_init_rfc3489(b, buf, cap, STUN_BINDING, cls, m->buf + 4);
	else
		stun_build_init(b, buf, cap, STUN_BINDING, cls, m->tid);
}

/* 420 listing unknown attributes, or the discovery attributes a server without alternate
 * addresses cannot honour (RFC 5780 §7.2); RFC 3489 §11.2.10 repeats one type so that an odd list
 * fills 32 bits. n is at most STUN_MAX_UNKNOWN. */
static void binding_unknown(const struct net_dispatch *d, const struct nts_origin *o,
			    const struct stun_msg *m, const uint16_t *types, size_t n)
{
	uint8_t buf[BINDING_ANSWER_MAX];
	uint16_t list[STUN_MAX_UNKNOWN + 1];
	struct stun_builder b;

	memcpy(list, types, n * sizeof(*types));
	if (m->rfc3489 && n % 2)
		list[n++] = types[0];
	binding_init(&b, buf, sizeof(buf), m, STUN_ERROR);
	stun_put_error(&b, 420, NULL);
	stun_put_unknown(&b, list, n);
	if (!m->rfc3489)
		stun_put_fingerprint(&b);
	d->stats->errors[STUN_STAT_STUN_BINDING]++;
	stun_build_send(&b, d->send, d->send_arg, o);
}

/* RFC 5780 §7.6: PADDING as long as the request's, cut so the answer stays no larger than the
 * request (an answer never amplifies by padding); after it only FINGERPRINT (8 bytes) follows. */
static void binding_put_padding(struct stun_builder *b, const struct stun_msg *m,
				const struct stun_attr *pad)
{
	size_t want = (pad->len + 3u) & ~3u, after = b->len + 4 + 8;

	if (m->len <= after)
		return;
	if (want > m->len - after)
		want = (m->len - after) & ~(size_t)3;
	if (want)
		stun_put_padding(b, want);
}

void net_binding_answer(const struct net_dispatch *d, const struct nts_origin *o,
			const struct stun_msg *m)
{
	uint8_t buf[BINDING_ANSWER_MAX];
	struct binding_req r = {.padding = stun_find(m, STUN_ATTR_PADDING)};
	struct nts_origin from = *o;
	struct nts_addr other;
	struct stun_builder b;
	uint16_t unknown[3];
	size_t nunknown = 0;
	bool alt;

	if (d->turn && !turn_unauth_allow(d->turn, o))
		return;
	/* RFC 3489 requests come here with unknown attributes too (dispatch answers the others):
	 * their 420 echoes the 128-bit id. */
	if (m->nunknown) {
		binding_unknown(d, o, m, m->unknown, m->nunknown);
		return;
	}
	stun_attr_get_change_request(stun_find(m, STUN_ATTR_CHANGE_REQUEST), &r.change);
	stun_attr_get_response_port(stun_find(m, STUN_ATTR_RESPONSE_PORT), &r.response_port);
	/* Discovery is a UDP matter: over streams there is no other socket to answer from. */
	alt = o->transport == NTS_UDP && d->alt &&
	      d->alt(d->alt_arg, o, r.change, &from, &other) == 0;
	if (!alt) {
		if (r.change)
			unknown[nunknown++] = STUN_ATTR_CHANGE_REQUEST;
		if (stun_find(m, STUN_ATTR_RESPONSE_PORT))
			unknown[nunknown++] = STUN_ATTR_RESPONSE_PORT;
		if (r.padding)
			unknown[nunknown++] = STUN_ATTR_PADDING;
		if (nunknown) {
			binding_unknown(d, o, m, unknown, nunknown);
			return;
		}
	}
	/* RFC 5780 §7.5: the answer goes to the source IP at RESPONSE-PORT. */
	if (alt && r.response_port)
		from.client.port = r.response_port;

	binding_init(&b, buf, sizeof(buf), m, STUN_SUCCESS);
	if (m->rfc3489) {
		/* RFC 3489 §11.2.1, §11.2.5, §11.2.3: where the request came from, where the answer
		 * leaves from, and where a change of both would answer from (only with an
		 * alternate: advertising ourselves there would tell the client its changes were
		 * honoured). */
		stun_put_addr(&b, STUN_ATTR_MAPPED_ADDRESS, &o->client);
		stun_put_addr(&b, STUN_ATTR_SOURCE_ADDRESS, &from.server);
		if (alt)
			stun_put_addr(&b, STUN_ATTR_CHANGED_ADDRESS, &other);
	} else {
		stun_put_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &o->client);
		if (alt) { /* RFC 5780 §7.3, §7.4 */
			stun_put_addr(&b, STUN_ATTR_RESPONSE_ORIGIN, &from.server);
			stun_put_addr(&b, STUN_ATTR_OTHER_ADDRESS, &other);
		}
	}
	if (d->software && d->software[0])
		stun_put_attr(&b, STUN_ATTR_SOFTWARE, d->software, strlen(d->software));
	if (alt && r.padding && !m->rfc3489)
		binding_put_padding(&b, m, r.padding);
	if (!m->rfc3489)
		stun_put_fingerprint(&b);
	stun_build_send(&b, d->send, d->send_arg, &from);
}
