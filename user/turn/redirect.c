/* Load shedding: a node that drains, or holds more allocations than its shed mark, answers a new
 * Allocate with 300 Try Alternate naming another server (RFC 8656 §7.2 lets the server redirect
 * at any point; RFC 8489 §10 and §14.15/§14.16 say how). Allocations already made go on. Which
 * server to name is the hook's decision (ntsd's fleet registry, user/ntsd/fleet.c); this file
 * only encodes the answer.
 */
#include <string.h>

#include "turn/turn_internal.h"
#include "util/log.h"

void turn_set_redirect_hook(struct turn_server *t, turn_redirect_fn fn, void *arg)
{
	t->redirect = fn;
	t->redirect_arg = arg;
}

/* RFC 8489 §10: the 300 carries ALTERNATE-SERVER (same family and transport as the request) and,
 * when the request came over TLS, ALTERNATE-DOMAIN; it is signed like any answer to an
 * authenticated request. */
static int turn_build_try_alternate(struct turn_server *t, const struct nts_origin *o,
				    const struct stun_msg *m, const struct auth_result *r,
				    const struct turn_redirect *to, uint8_t *buf, size_t cap)
{
	struct stun_builder b;

	stun_build_init(&b, buf, cap, m->method, STUN_ERROR, m->tid);
	stun_put_error(&b, 300, NULL);
	stun_put_addr(&b, STUN_ATTR_ALTERNATE_SERVER, &to->server);
	if (o->transport == NTS_TLS && to->domain[0])
		stun_put_attr(&b, STUN_ATTR_ALTERNATE_DOMAIN, to->domain, strlen(to->domain));
	if (r)
		auth_sign(r, &b);
	return stun_build_finish(&b);
}

bool turn_allocate_redirect(struct turn_server *t, const struct nts_origin *o,
			    const struct stun_msg *m, const struct auth_result *r)
{
	struct turn_redirect to;
	uint8_t buf[TURN_MAX_RESPONSE];
	char from[NTS_ADDRSTRLEN], where[NTS_ADDRSTRLEN];
	int code, n;

	/* A reserved port (RFC 8656 §14.9) is on this node: only here can it be used. */
	if (!t->redirect || stun_find(m, STUN_ATTR_RESERVATION_TOKEN))
		return false;
	memset(&to, 0, sizeof(to));
	/* With relay workers the node's load is every worker's, not this one's. */
	code = t->redirect(t->redirect_arg, o,
			   t->shared ? turn_shared_total(t->shared) : t->nallocs, &to);
	if (code == 0)
		return false;
	if (code != 300 || to.server.family != o->server.family) {
		turn_answer_error(t, o, m, r, code == 300 ? 508 : code);
		return true;
	}
	n = turn_build_try_alternate(t, o, m, r, &to, buf, sizeof(buf));
	if (n < 0) {
		turn_answer_error(t, o, m, r, 500);
		return true;
	}
	t->stats->errors[stun_method_stat(m->method)]++;
	log_debug("turn: Allocate from %s: 300 Try Alternate %s",
		  nts_addr_fmt(&o->client, from, sizeof(from), true),
		  nts_addr_fmt(&to.server, where, sizeof(where), true));
	turn_send_client(t, o, buf, (size_t)n);
	return true;
}
