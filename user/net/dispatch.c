/* Dispatch of client input: ChannelData to TURN, STUN requests to Binding, TURN or an error answer.
 * Checks common to every method (fingerprint, class, unknown attributes, unknown method) are done
 * once here, before TURN sees the message. See net.h.
 */
#include "net/net.h"
#include "net/net_priv.h"

#include <errno.h>
#include <string.h>

#include "stun/stun.h"
#include "turn/turn.h"

/* Headroom for small answers: header, ERROR-CODE, UNKNOWN-ATTRIBUTES, FINGERPRINT. */
#define DISPATCH_ANSWER_MAX 512

/* An error response (RFC 8489 §6.3.1.1): ERROR-CODE, UNKNOWN-ATTRIBUTES for a 420, FINGERPRINT.
 * No SOFTWARE: unauthenticated error answers stay smaller than what would be needed to amplify. */
static void dispatch_error(const struct net_dispatch *d, const struct nts_origin *o,
			   const struct stun_msg *m, int code)
{
	uint8_t buf[DISPATCH_ANSWER_MAX];
	struct stun_builder b;

	if (d->turn && !turn_unauth_allow(d->turn, o))
		return;
	stun_build_init(&b, buf, sizeof(buf), m->method, STUN_ERROR, m->tid);
	stun_put_error(&b, code, NULL);
	if (code == 420)
		stun_put_unknown(&b, m->unknown, m->nunknown);
	stun_put_fingerprint(&b);
	d->stats->errors[stun_method_stat(m->method)]++;
	stun_build_send(&b, d->send, d->send_arg, o);
}

static void dispatch_malformed(const struct net_dispatch *d, const struct nts_origin *o)
{
	if (o->transport == NTS_UDP)
		d->stats->udp_dropped_malformed++;
}

/* ChannelData (RFC 8656 §12.4): the codec checks the framing (a frame shorter than its header says
 * is malformed; on streams the padding is part of it); TURN discards data on channels that are not
 * bound. */
static void dispatch_channeldata(const struct net_dispatch *d, const struct nts_origin *o,
				 const uint8_t *buf, size_t len)
{
	const uint8_t *data;
	uint16_t channel, data_len;

	if (stun_channeldata_parse(buf, len, o->transport != NTS_UDP, &channel, &data, &data_len,
				   NULL) != 0) {
		dispatch_malformed(d, o);
		return;
	}
	if (d->turn)
		turn_handle_channeldata(d->turn, o, channel, data, data_len);
}

void net_dispatch(const struct net_dispatch *d, const struct nts_origin *o, const uint8_t *buf,
		  size_t len)
{
	const struct stun_method_def *def;
	struct stun_msg m;
	int rc;

	if (stun_is_channeldata(buf, len)) {
		dispatch_channeldata(d, o, buf, len);
		return;
	}
	if (stun_parse_rfc3489(&m, buf, len) != 0) {
		dispatch_malformed(d, o);
		return;
	}
	/* RFC 8489 §12: without the magic cookie only a Binding request over UDP is understood (an
	 * RFC 3489 client); TURN and everything else needs RFC 5389 or later. */
	if (m.rfc3489 &&
	    (m.cls != STUN_REQUEST || m.method != STUN_BINDING || o->transport != NTS_UDP)) {
		dispatch_malformed(d, o);
		return;
	}
	/* RFC 8489 §7.3: a wrong FINGERPRINT means the message is not STUN (e.g. multiplexed
	 * media). */
	if (m.fingerprint >= 0 && !stun_check_fingerprint(&m)) {
		dispatch_malformed(d, o);
		return;
	}
	/* Clients send requests and indications; responses from a client are not ours to handle. */
	if (m.cls != STUN_REQUEST && m.cls != STUN_INDICATION)
		return;
	d->stats->requests[stun_method_stat(m.method)]++;
	if (m.cls == STUN_INDICATION) {
		/* RFC 8489 §6.3.2: unknown comprehension-required attributes: discard silently. A
		 * Binding indication is a keepalive and needs no answer. */
		if (m.nunknown || m.method == STUN_BINDING || !d->turn)
			return;
		turn_handle_message(d->turn, o, &m);
		return;
	}
	def = stun_method_find(m.method);
	if (!def || !def->from_client) {
		dispatch_error(d, o, &m, 400);
		return;
	}
	/* RFC 8489 §6.3.1.1: unknown comprehension-required attributes -> 420 listing them (an RFC
	 * 3489 Binding gets its 420 from binding.c, in its own header format). */
	if (m.nunknown && !m.rfc3489) {
		dispatch_error(d, o, &m, 420);
		return;
	}
	if (!def->turn) { /* Binding, the one method answered here (binding.c) */
		net_binding_answer(d, o, &m);
		return;
	}
	if (o->stream)
		o->stream->turn_used = true; /* see net_stream_idle_tick() */
	rc = d->turn ? turn_handle_message(d->turn, o, &m) : -ENOENT;
	if (rc == -ENOENT)
		dispatch_error(d, o, &m, 400);
}
