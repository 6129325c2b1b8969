/* The Allocate method (RFC 8656 §7.2): the checks in the RFC's order, relay address selection,
 * relay sockets (even ports, reservations, dual stack), the success answer kept for
 * retransmissions.
 *
 * Relay address per family: --relay-ip of that family; else the server address the client reached
 * when it has that family; else, when the client reached us on loopback, 127.0.0.1 / ::1 (tests and
 * `make run`); else the family is not available: 440 for REQUESTED-ADDRESS-FAMILY, and for the
 * second family of a dual-stack request an ADDRESS-ERROR-CODE 440 next to the first relay (§7.2).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "turn/tcp_relay.h"
#include "util/log.h"

static bool turn_addr_loopback(const struct nts_addr *a)
{
	static const uint8_t v6_loop[16] = {[15] = 1};
	static const uint8_t v4_mapped[12] = {[10] = 0xff, [11] = 0xff};

	if (a->family == AF_INET)
		return a->ip[0] == 127;
	return !memcmp(a->ip, v6_loop, 16) || (!memcmp(a->ip, v4_mapped, 12) && a->ip[12] == 127);
}

/* The local address relays of family bind to; 0 or -EAFNOSUPPORT. */
static int turn_relay_ip(struct turn_server *t, const struct nts_origin *o, uint8_t family,
			 struct nts_addr *ip)
{
	const struct nts_config *cfg = t->cfg;

	for (unsigned i = 0; i < cfg->nrelay_ip && i < 2; i++) {
		if (cfg->relay_ip[i].family == family) {
			*ip = cfg->relay_ip[i];
			ip->port = 0;
			return 0;
		}
	}
	if (o->server.family == family && !nts_addr_is_any(&o->server)) {
		*ip = o->server;
		ip->port = 0;
		return 0;
	}
	if (turn_addr_loopback(&o->server))
		return nts_addr_parse(ip, family == AF_INET ? "127.0.0.1" : "::1", true) < 0
			   ? -EAFNOSUPPORT
			   : 0;
	return -EAFNOSUPPORT;
}

static void turn_set_advertised(struct turn_server *t, struct turn_relay *r)
{
	const struct nts_config *cfg = t->cfg;

	r->advertised = r->local;
	for (unsigned i = 0; i < cfg->nexternal_ip && i < 2; i++) {
		if (cfg->external_ip[i].family == r->local.family) {
			r->advertised = cfg->external_ip[i];
			r->advertised.port = r->local.port;
		}
	}
}

/* TURN's clock (ms) when an ephemeral credential expiring at unix second expires runs out. */
static uint64_t turn_credential_end_ms(struct turn_server *t, uint64_t expires)
{
	struct timespec ts;
	uint64_t wall_ms, now = turn_now_ms(t);

	clock_gettime(CLOCK_REALTIME, &ts);
	wall_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	return now + (expires * 1000 > wall_ms ? expires * 1000 - wall_ms : 0);
}

/* Checks the attributes in RFC 8656 §7.2 order; fills the request's options or returns the error.
 */
struct turn_alloc_req {
	bool dont_fragment, even, reserve, has_token, dual, tcp;
	bool taken; /* counted in the workers' shared quotas: put back unless an allocation holds it
		     */
	uint8_t family;
	uint64_t token;
};

static int turn_allocate_parse(struct turn_server *t, const struct nts_origin *o,
			       const struct stun_msg *m, const struct auth_result *r,
			       struct turn_alloc_req *q)
{
	const struct stun_attr *rt = stun_find(m, STUN_ATTR_REQUESTED_TRANSPORT);
	const struct stun_attr *tok = stun_find(m, STUN_ATTR_RESERVATION_TOKEN);
	const struct stun_attr *ep = stun_find(m, STUN_ATTR_EVEN_PORT);
	const struct stun_attr *raf = stun_find(m, STUN_ATTR_REQUESTED_ADDRESS_FAMILY);
	const struct stun_attr *aaf = stun_find(m, STUN_ATTR_ADDITIONAL_ADDRESS_FAMILY);
	uint32_t max_user = t->cfg->max_allocations_per_user;
	uint8_t proto, fam;
	int err;

	if (!aaf)
		aaf = stun_find(m, TURN_ATTR_ADDITIONAL_ADDRESS_FAMILY_DRAFT);
	memset(q, 0, sizeof(*q));
	q->family = AF_INET;
	if (!rt || stun_attr_get_transport(rt, &proto) < 0)
		return 400;
	if (proto == 6) {
		/* RFC 6062 §5.1: TCP relays for TCP/TLS clients only, none of the UDP options. */
		if (!t->shooks.make_raw)
			return 442;
		if (o->transport == NTS_UDP || stun_find(m, STUN_ATTR_DONT_FRAGMENT) || tok || ep ||
		    aaf)
			return 400;
		q->tcp = true;
	} else if (proto != 17) {
		return 442;
	}
	q->dont_fragment = stun_find(m, STUN_ATTR_DONT_FRAGMENT) != NULL;
	if (tok) {
		if (ep || raf || aaf || stun_attr_get_u64(tok, &q->token) < 0)
			return 400;
		q->has_token = true;
	}
	if (raf && aaf)
		return 400;
	if (raf) {
		err = stun_attr_get_family(raf, &q->family);
		if (err == -EAFNOSUPPORT)
			return 440;
		if (err < 0)
			return 400;
	}
	if (ep) {
		if (stun_attr_get_even_port(ep, &q->reserve) < 0)
			return 400;
		q->even = true;
		if (q->reserve && aaf)
			return 400;
	}
	if (aaf) {
		/* §7.2: only IPv6 may be asked as the additional family. */
		if (stun_attr_get_family(aaf, &fam) < 0 || fam != AF_INET6)
			return 400;
		q->dual = true;
	}
	/* Workers: quotas over all of them, counted now (turn_allocate_refuse() puts it back). */
	if (t->shared) {
		err = turn_shared_take(t->shared, r->username, r->account, max_user,
				       turn_account_max(t, r->account), t->cfg->max_allocations);
		q->taken = err == 0;
		return err < 0 ? 500 : err;
	}
	if (max_user && turn_user_count(t, r->username) >= max_user)
		return 486;
	if (turn_account_full(t, r->account))
		return 486;
	if (t->cfg->max_allocations && t->nallocs >= t->cfg->max_allocations)
		return 508;
	return 0;
}

static int turn_allocate_build(struct turn_server *t, const struct stun_msg *m,
			       const struct auth_result *r, const struct nts_origin *o,
			       const struct turn_alloc *a, int addr_err, bool has_token,
			       uint64_t token, uint8_t *buf, size_t cap)
{
	struct stun_builder b;
	uint64_t now;

	stun_build_init(&b, buf, cap, m->method, STUN_SUCCESS, m->tid);
	for (unsigned i = 0; i < a->nrelay; i++)
		stun_put_xor_addr(&b, STUN_ATTR_XOR_RELAYED_ADDRESS, &a->relay[i].advertised);
	if (addr_err)
		stun_put_address_error(&b, AF_INET6, addr_err, NULL);
	now = turn_now_ms(t);
	stun_put_u32(&b, STUN_ATTR_LIFETIME,
		     a->expires_ms > now ? (uint32_t)((a->expires_ms - now + 500) / 1000) : 0);
	if (has_token)
		stun_put_u64(&b, STUN_ATTR_RESERVATION_TOKEN, token);
	stun_put_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &o->client);
	auth_sign(r, &b);
	return stun_build_finish(&b);
}

/* Answers code to an Allocate parsed into q, putting back what q counted. */
static void turn_allocate_refuse(struct turn_server *t, const struct nts_origin *o,
				 const struct stun_msg *m, const struct auth_result *r,
				 const struct turn_alloc_req *q, int code)
{
	if (q->taken)
		turn_shared_put(t->shared, r->username, r->account);
	turn_answer_error(t, o, m, r, code);
}

bool turn_allocate_replay(struct turn_server *t, const struct nts_origin *o,
			  const struct stun_msg *m)
{
	struct turn_alloc *a = turn_alloc_find(t, o);

	if (!a || !a->last_resp || memcmp(a->last_tid, m->tid, STUN_TID_LEN))
		return false;
	turn_send_client(t, o, a->last_resp, a->last_resp_len);
	return true;
}

int turn_handle_allocate(struct turn_server *t, const struct nts_origin *o,
			 const struct stun_msg *m, const struct auth_result *r)
{
	struct turn_alloc *a = turn_alloc_find(t, o);
	struct turn_relay relay[2];
	struct turn_alloc_req q;
	struct nts_addr ip;
	uint8_t buf[TURN_MAX_RESPONSE];
	unsigned nrelay = 0;
	uint64_t token = 0;
	int err, addr_err = 0, n;
	bool zero;
	uint32_t lifetime;

	if (a) {
		/* §7.2: another Allocate on the 5-tuple gets 437 (retransmissions were answered by
		 * turn_allocate_replay() before the credentials were checked). */
		turn_answer_error(t, o, m, r, 437);
		return 0;
	}
	if (turn_allocate_redirect(t, o, m, r))
		return 0;
	err = turn_allocate_parse(t, o, m, r, &q);
	if (err) {
		turn_answer_error(t, o, m, r, err);
		return 0;
	}
	memset(relay, 0, sizeof(relay));
	if (q.has_token) {
		if (turn_port_take_reservation(t, q.token, q.dont_fragment, &relay[0]) < 0) {
			turn_allocate_refuse(t, o, m, r, &q, 508);
			return 0;
		}
	} else {
		if (turn_relay_ip(t, o, q.family, &ip) < 0) {
			turn_allocate_refuse(t, o, m, r, &q, 440);
			return 0;
		}
		err = q.tcp ? turn_tcp_listen(t, &ip, &relay[0])
			    : turn_port_open(t, &ip, q.even, q.reserve, q.dont_fragment, &relay[0],
					     &token);
		if (err < 0) {
			if (err != -EADDRINUSE)
				log_warn("turn: cannot open a relay socket: %s", strerror(-err));
			turn_allocate_refuse(t, o, m, r, &q, 508);
			return 0;
		}
	}
	nrelay = 1;
	if (q.dual) {
		if (turn_relay_ip(t, o, AF_INET6, &ip) < 0)
			addr_err = 440;
		else if (turn_port_open(t, &ip, false, false, q.dont_fragment, &relay[1], NULL) < 0)
			addr_err = 508;
		else
			nrelay = 2;
	}
	for (unsigned i = 0; i < nrelay; i++)
		turn_set_advertised(t, &relay[i]);
	lifetime = turn_lifetime(t, m, &zero);
	if (zero)
		lifetime = turn_lifetime(t, NULL, &zero);
	a = turn_alloc_create(t, o, r->username, r->account, relay, q.tcp ? 0 : nrelay, lifetime);
	if (a) {
		a->shared_held = q.taken; /* put back when it ends */
		q.taken = false;
	}
	if (a && q.tcp && turn_tcp_alloc_attach(t, a, &relay[0]) < 0) {
		turn_alloc_delete(t, a, false);
		a = NULL;
	} else if (!a && q.tcp) {
		close(relay[0].fd);
	}
	if (!a) {
		turn_allocate_refuse(t, o, m, r, &q, 500);
		return 0;
	}
	if (t->cfg->strict_expiry && r->expires) {
		a->cred_end_ms = turn_credential_end_ms(t, r->expires);
		turn_alloc_refresh(t, a, lifetime);
	}
	n = turn_allocate_build(t, m, r, o, a, addr_err, q.reserve, token, buf, sizeof(buf));
	if (n < 0) {
		turn_alloc_delete(t, a, false);
		turn_answer_error(t, o, m, r, 500);
		return 0;
	}
	if (t->cfg->verbose) {
		char c[NTS_ADDRSTRLEN], r0[NTS_ADDRSTRLEN], r1[NTS_ADDRSTRLEN] = "";

		if (a->nrelay > 1)
			nts_addr_fmt(&a->relay[1].local, r1, sizeof(r1), true);
		log_debug("turn: allocation %llu for %s %s (%s): relay %s %s%s",
			  (unsigned long long)a->id, nts_transport_name(o->transport),
			  nts_addr_fmt(&o->client, c, sizeof(c), true), r->username,
			  nts_addr_fmt(&a->relay[0].local, r0, sizeof(r0), true), r1,
			  addr_err ? " (no IPv6 relay)" : "");
	}
	a->last_resp = malloc((size_t)n);
	if (a->last_resp) {
		memcpy(a->last_resp, buf, (size_t)n);
		a->last_resp_len = (uint16_t)n;
		memcpy(a->last_tid, m->tid, STUN_TID_LEN);
	}
	turn_send_client(t, o, buf, (size_t)n);
	return 0;
}
