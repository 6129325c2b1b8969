/* TURN message dispatch: credentials first (RFC 8489 §9.2, no state before they pass), the
 * per-source limit on unauthenticated answers, then Refresh (RFC 8656 §8), CreatePermission (§9),
 * ChannelBind (§12) and Send indications (§10). Allocate lives in allocate.c, Connect and
 * ConnectionBind (RFC 6062) in tcp_relay.c.
 */
#include <errno.h>
#include <string.h>

#include "auth/ratelimit.h"
#include "turn/tcp_relay.h"
#include "util/log.h"

void turn_send_client(struct turn_server *t, const struct nts_origin *o, const uint8_t *buf,
		      size_t len)
{
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};

	t->send(t->send_arg, o, &iov, 1);
}

int turn_send_stun(struct turn_server *t, const struct nts_origin *o, struct stun_builder *b,
		   const struct auth_result *r)
{
	if (r)
		auth_sign(r, b);
	return stun_build_send(b, t->send, t->send_arg, o);
}

void turn_answer_error(struct turn_server *t, const struct nts_origin *o, const struct stun_msg *m,
		       const struct auth_result *r, int code)
{
	uint8_t buf[TURN_MAX_RESPONSE];
	struct stun_builder b;

	stun_build_init(&b, buf, sizeof(buf), m->method, STUN_ERROR, m->tid);
	stun_put_error(&b, code, NULL);
	if (turn_send_stun(t, o, &b, r) < 0)
		return;
	t->stats->errors[stun_method_stat(m->method)]++;
	if (r) {
		char cbuf[NTS_ADDRSTRLEN];

		log_debug("turn: %s from %s %s: %d", stun_method_name(m->method),
			  nts_transport_name(o->transport),
			  nts_addr_fmt(&o->client, cbuf, sizeof(cbuf), true), code);
	}
}

bool turn_unauth_allow(struct turn_server *t, const struct nts_origin *o)
{
	if (ratelimit_allow(t->rl, &o->client, turn_now_ms(t)))
		return true;
	t->stats->unauth_rate_limited++;
	return false;
}

/* Answers a request whose credentials failed (401/438/400) with the challenge (REALM, NONCE,
 * PASSWORD-ALGORITHMS) and nothing else: no reason phrase (RFC 8489 §14.8 lets it be empty), no
 * FINGERPRINT, and a request smaller than an ERROR-CODE answer gets none at all, so an
 * unauthenticated answer amplifies as little as a challenge can (README "Unauthenticated traffic").
 */
static void turn_answer_unauth(struct turn_server *t, const struct nts_origin *o,
			       const struct stun_msg *m, const struct auth_result *r)
{
	uint8_t buf[TURN_MAX_RESPONSE];
	struct stun_builder b;

	if (!turn_unauth_allow(t, o))
		return;
	if (r->error == 438)
		t->stats->stale_nonces++;
	else if (r->error == 401 && (m->integrity >= 0 || m->integrity_sha256 >= 0))
		t->stats->auth_failures++;
	if (m->len < STUN_HEADER_LEN + 8) /* the answer would outgrow even its ERROR-CODE */
		return;
	stun_build_init(&b, buf, sizeof(buf), m->method, STUN_ERROR, m->tid);
	stun_put_error(&b, r->error, "");
	if (r->challenge)
		auth_put_challenge(t->auth, &b, &o->client, turn_unix_now());
	if (turn_send_stun(t, o, &b, NULL) < 0) /* unsigned: there is no key yet */
		return;
	t->stats->errors[stun_method_stat(m->method)]++;
}

static uint32_t turn_default_lifetime(const struct turn_server *t)
{
	return t->cfg->default_lifetime ? t->cfg->default_lifetime : 600;
}

uint32_t turn_max_lifetime(const struct turn_server *t)
{
	uint32_t def = turn_default_lifetime(t);
	uint32_t max = t->cfg->max_lifetime ? t->cfg->max_lifetime : 3600;

	return max < def ? def : max;
}

/* RFC 8656 §7.2/§8.2: min(requested, max), but never below the default; absent: the default. */
uint32_t turn_lifetime(struct turn_server *t, const struct stun_msg *m, bool *zero)
{
	uint32_t def = turn_default_lifetime(t);
	uint32_t max = turn_max_lifetime(t);
	uint32_t want;

	*zero = false;
	if (!m || stun_attr_get_u32(stun_find(m, STUN_ATTR_LIFETIME), &want) < 0)
		return def;
	if (want == 0) {
		*zero = true;
		return 0;
	}
	return want > max ? max : want < def ? def : want;
}

static void turn_answer_lifetime(struct turn_server *t, const struct nts_origin *o,
				 const struct stun_msg *m, const struct auth_result *r,
				 uint32_t lifetime)
{
	uint8_t buf[TURN_MAX_RESPONSE];
	struct stun_builder b;

	stun_build_init(&b, buf, sizeof(buf), m->method, STUN_SUCCESS, m->tid);
	stun_put_u32(&b, STUN_ATTR_LIFETIME, lifetime);
	turn_send_stun(t, o, &b, r);
}

static void turn_answer_empty(struct turn_server *t, const struct nts_origin *o,
			      const struct stun_msg *m, const struct auth_result *r)
{
	uint8_t buf[TURN_MAX_RESPONSE];
	struct stun_builder b;

	stun_build_init(&b, buf, sizeof(buf), m->method, STUN_SUCCESS, m->tid);
	turn_send_stun(t, o, &b, r);
}

static void turn_handle_refresh(struct turn_server *t, const struct nts_origin *o,
				const struct stun_msg *m, const struct auth_result *r,
				struct turn_alloc *a)
{
	const struct stun_attr *raf = stun_find(m, STUN_ATTR_REQUESTED_ADDRESS_FAMILY);
	uint8_t family;
	uint32_t lifetime;
	bool zero;

	if (raf) {
		if (stun_attr_get_family(raf, &family) < 0) {
			turn_answer_error(t, o, m, r, 400);
			return;
		}
		/* RFC 8656 §8.2: a family the allocation does not have. */
		if (!turn_alloc_relay(a, family)) {
			turn_answer_error(t, o, m, r, 443);
			return;
		}
	}
	lifetime = turn_lifetime(t, m, &zero);
	if (zero) {
		turn_alloc_delete(t, a, false);
	} else {
		uint64_t now = turn_now_ms(t);

		turn_alloc_refresh(t, a, lifetime);
		/* --strict-expiry may have cut it at the credential's expiry: say what was granted.
		 */
		lifetime = a->expires_ms > now ? (uint32_t)((a->expires_ms - now + 500) / 1000) : 0;
	}
	turn_answer_lifetime(t, o, m, r, lifetime);
}

/* Decodes a XOR-PEER-ADDRESS into peer and checks it: 0, or the STUN error to answer. */
static int turn_check_peer(struct turn_server *t, const struct stun_msg *m,
			   const struct stun_attr *attr, struct turn_alloc *a, bool any_port,
			   struct nts_addr *peer)
{
	struct nts_addr checked;

	if (!attr || stun_attr_get_xor_addr(m, attr, peer) < 0)
		return 400;
	if (!turn_alloc_relay(a, peer->family))
		return 443; /* RFC 8656 §9.1/§11.2: no relay of the peer's family */
	/* A permission ignores the port (§9), so a port 0 there is no reason to refuse the IP. */
	checked = *peer;
	if (any_port && !checked.port)
		checked.port = 9;
	if (turn_policy_denies(t, &checked))
		return 403;
	return 0;
}

static void turn_handle_create_permission(struct turn_server *t, const struct nts_origin *o,
					  const struct stun_msg *m, const struct auth_result *r,
					  struct turn_alloc *a)
{
	struct nts_addr peers[STUN_MAX_ATTRS];
	unsigned npeers = 0, nnew = 0;
	int err;

	for (unsigned i = 0; i < m->nattrs; i++) {
		if (m->attrs[i].type != STUN_ATTR_XOR_PEER_ADDRESS)
			continue;
		err = turn_check_peer(t, m, &m->attrs[i], a, true, &peers[npeers]);
		if (err) {
			turn_answer_error(t, o, m, r, err);
			return;
		}
		if (!turn_perm_find(t, a, &peers[npeers])) {
			bool dup = false;

			for (unsigned j = 0; j < npeers; j++)
				dup |= nts_addr_equal(&peers[j], &peers[npeers], false);
			nnew += !dup;
		}
		npeers++;
	}
	if (!npeers) {
		turn_answer_error(t, o, m, r, 400);
		return;
	}
	/* All or nothing (RFC 8656 §9.2): check capacity before installing any. */
	if (a->nperms + nnew > TURN_MAX_PERMS) {
		turn_answer_error(t, o, m, r, 508);
		return;
	}
	for (unsigned i = 0; i < npeers; i++)
		if (turn_perm_install(t, a, &peers[i]) < 0) {
			turn_answer_error(t, o, m, r, 500);
			return;
		}
	turn_answer_empty(t, o, m, r);
}

static void turn_handle_channel_bind(struct turn_server *t, const struct nts_origin *o,
				     const struct stun_msg *m, const struct auth_result *r,
				     struct turn_alloc *a)
{
	struct turn_chan *by_num, *by_peer;
	struct nts_addr peer;
	uint16_t num;
	int err;

	if (stun_attr_get_channel(stun_find(m, STUN_ATTR_CHANNEL_NUMBER), &num) < 0 ||
	    num < STUN_CHANNEL_MIN || num > STUN_CHANNEL_MAX) {
		log_debug("turn: ChannelBind with a missing or invalid CHANNEL-NUMBER");
		turn_answer_error(t, o, m, r, 400);
		return;
	}
	err = turn_check_peer(t, m, stun_find(m, STUN_ATTR_XOR_PEER_ADDRESS), a, false, &peer);
	if (err) {
		turn_answer_error(t, o, m, r, err);
		return;
	}
	/* RFC 8656 §11.2: the number bound to another peer, or the peer to another number (also
	 * while an expired binding cools down, §12), is a 400. */
	by_num = turn_chan_find_num(t, a, num);
	by_peer = turn_chan_find_peer(t, a, &peer);
	if ((by_num && !nts_addr_equal(&by_num->peer, &peer, true)) ||
	    (by_peer && by_peer->num != num)) {
		char pbuf[NTS_ADDRSTRLEN];

		log_debug("turn: channel 0x%04x or peer %s already bound otherwise", num,
			  nts_addr_fmt(&peer, pbuf, sizeof(pbuf), true));
		turn_answer_error(t, o, m, r, 400);
		return;
	}
	if ((!by_num && a->nchans >= TURN_MAX_CHANNELS) ||
	    (!turn_perm_find(t, a, &peer) && a->nperms >= TURN_MAX_PERMS)) {
		turn_answer_error(t, o, m, r, 508);
		return;
	}
	/* The binding also installs or refreshes the permission (§11.2). */
	if (turn_perm_install(t, a, &peer) < 0 || turn_chan_bind(t, a, num, &peer) < 0) {
		turn_answer_error(t, o, m, r, 500);
		return;
	}
	turn_answer_empty(t, o, m, r);
}

/* RFC 8656 §10.2: Send indications are not answered; anything wrong drops them silently. */
static void turn_handle_send(struct turn_server *t, const struct nts_origin *o,
			     const struct stun_msg *m)
{
	struct turn_alloc *a = turn_alloc_find(t, o);
	const struct stun_attr *data = stun_find(m, STUN_ATTR_DATA);
	const struct stun_attr *pa = stun_find(m, STUN_ATTR_XOR_PEER_ADDRESS);
	struct turn_relay *relay;
	struct nts_addr peer;

	if (!a || a->tcp || !data || !pa || stun_attr_get_xor_addr(m, pa, &peer) < 0 ||
	    turn_alloc_end_if_expired(t, a))
		return;
	relay = turn_alloc_relay(a, peer.family);
	if (!relay)
		return;
	if (turn_policy_denies(t, &peer)) {
		t->stats->peer_denied_by_policy++;
		return;
	}
	if (!turn_perm_find(t, a, &peer))
		return;
	turn_relay_send_indication(t, a, relay, &peer, data->value, data->len);
}

static void turn_handle_request(struct turn_server *t, const struct nts_origin *o,
				const struct stun_msg *m)
{
	struct auth_result r;
	struct turn_alloc *a;

	/* RFC 8656 §7.2: a retransmitted Allocate gets the answer its first copy got, even when its
	 * nonce went stale or its credentials expired meanwhile (checking them first answered
	 * 438/401, and the client's new transaction then met its own allocation: 437). */
	if (m->method == TURN_ALLOCATE && turn_allocate_replay(t, o, m))
		return;
	/* Credentials before anything else: no state for a request that does not authenticate. */
	auth_check(t->auth, m, &o->client, turn_unix_now(), &r);
	/* The operator suspended or closed the account: its unexpired credentials stop working (the
	 * in-memory table, never the database, on this path). */
	if (!r.error && turn_account_refused(t, r.account)) {
		r.error = 401;
		r.challenge = true;
	}
	if (r.error) {
		turn_answer_unauth(t, o, m, &r);
		return;
	}
	if (o->stream && t->shooks.authenticated)
		t->shooks.authenticated(t->shooks_arg, o->stream);
	if (m->method == TURN_ALLOCATE) {
		turn_handle_allocate(t, o, m, &r);
		return;
	}
	if (m->method == TURN_CONNECTION_BIND) {
		turn_tcp_handle_connection_bind(t, o, m, &r); /* on a new connection */
		return;
	}
	a = turn_alloc_find(t, o);
	if (!a) {
		turn_answer_error(t, o, m, &r, 437);
		return;
	}
	/* RFC 8656 §5: later requests must use the credentials that created the allocation. */
	if (strcmp(a->user->name, r.username)) {
		turn_answer_error(t, o, m, &r, 441);
		return;
	}
	switch (m->method) {
	case TURN_REFRESH:
		turn_handle_refresh(t, o, m, &r, a);
		return;
	case TURN_CREATE_PERMISSION:
		turn_handle_create_permission(t, o, m, &r, a);
		return;
	case TURN_CHANNEL_BIND:
		/* RFC 6062 §4: TCP allocations carry no channels. */
		if (a->tcp) {
			turn_answer_error(t, o, m, &r, 400);
			return;
		}
		turn_handle_channel_bind(t, o, m, &r, a);
		return;
	case TURN_CONNECT:
		turn_tcp_handle_connect(t, o, m, &r, a);
		return;
	default:
		turn_answer_error(t, o, m, &r, 400);
		return;
	}
}

int turn_handle_message(struct turn_server *t, const struct nts_origin *o, const struct stun_msg *m)
{
	const struct stun_method_def *def = stun_method_find(m->method);

	if (!def || !def->turn)
		return -ENOENT;
	/* Data and ConnectionAttempt go server-to-client only, and a method in the other class
	 * (a Send request, an Allocate indication) is not one: ignore them. */
	if (!def->from_client || m->cls != (def->indication ? STUN_INDICATION : STUN_REQUEST))
		return 0;
	if (def->indication)
		turn_handle_send(t, o, m);
	else
		turn_handle_request(t, o, m);
	return 0;
}
