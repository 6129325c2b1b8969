/* RFC 5780 NAT behaviour discovery: for every concrete --listen address P:p of an --alt-ip A's
 * family, three more UDP sockets, P:p+1, A:p and A:p+1, so a Binding request can be answered from
 * another IP, another port or both (CHANGE-REQUEST, RFC 5780 §7.2) and OTHER-ADDRESS names A:p+1
 * (for a request that reached P:p). A --listen that already holds one of those addresses is used
 * as it is. Each alternate serves STUN and TURN like a listener; tokens do not advertise them.
 */
#include "net/net_priv.h"

#include <errno.h>
#include <string.h>

#include "stun/stun.h"
#include "util/log.h"

static bool alt_same(const struct nts_addr *a, const struct nts_addr *b)
{
	return a->family == b->family && a->port == b->port &&
	       memcmp(a->ip, b->ip, nts_addr_iplen(a)) == 0;
}

static bool alt_same_ip(const struct nts_addr *a, const struct nts_addr *b)
{
	return a->family == b->family && memcmp(a->ip, b->ip, nts_addr_iplen(a)) == 0;
}

/* The socket bound to addr: a --listen one not yet in a group, or a new alternate. */
static struct net_udp *alt_socket(struct net_server *n, const struct nts_addr *addr, int *rc)
{
	struct net_udp *u;

	for (unsigned i = 0; i < n->nudp; i++)
		if (alt_same(&n->udp[i]->local, addr)) {
			if (n->udp[i]->alt) {
				*rc = -EADDRINUSE;
				return NULL;
			}
			return n->udp[i];
		}
	for (unsigned i = 0; i < n->nalt_udp; i++)
		if (n->alt_udp[i]->handed && alt_same(&n->alt_udp[i]->local, addr)) {
			n->alt_udp[i]->handed = false; /* an upgrade handed it over */
			return n->alt_udp[i];
		}
	if (n->nalt_udp >= sizeof(n->alt_udp) / sizeof(n->alt_udp[0])) {
		*rc = -ENOSPC;
		return NULL;
	}
	u = net_udp_new(n, addr, rc);
	if (u)
		n->alt_udp[n->nalt_udp++] = u;
	return u;
}

/* Builds the group of primary p with the alternate IP alt. */
static int alt_group_open(struct net_server *n, struct net_udp *p, const struct nts_addr *alt)
{
	struct net_alt_group *g = &n->alt_groups[n->nalt_groups];
	char buf[NTS_ADDRSTRLEN], abuf[NTS_ADDRSTRLEN];
	int rc = 0;

	if (p->local.port == 65535) {
		log_error("--alt-ip: %s leaves no port above it for the alternate port",
			  nts_addr_fmt(&p->local, buf, sizeof(buf), true));
		return -EINVAL;
	}
	memset(g, 0, sizeof(*g));
	g->sock[0] = p;
	for (unsigned role = 1; role < 4; role++) {
		struct nts_addr a = role & 2 ? *alt : p->local;

		a.port = (uint16_t)(p->local.port + (role & 1));
		g->sock[role] = alt_socket(n, &a, &rc);
		if (!g->sock[role]) {
			log_error("--alt-ip: udp %s: %s", nts_addr_fmt(&a, buf, sizeof(buf), true),
				  strerror(-rc));
			return rc;
		}
	}
	for (unsigned role = 0; role < 4; role++) {
		g->sock[role]->alt = g;
		g->sock[role]->alt_role = role;
	}
	n->nalt_groups++;
	log_info("RFC 5780: %s answers changes from %s",
		 nts_addr_fmt(&p->local, buf, sizeof(buf), true),
		 nts_addr_fmt(&g->sock[3]->local, abuf, sizeof(abuf), true));
	return 0;
}

int net_alt_open(struct net_server *n)
{
	char buf[NTS_ADDRSTRLEN];
	unsigned nprimary = n->nudp;

	for (unsigned k = 0; k < n->cfg->nalt_ip; k++) {
		const struct nts_addr *alt = &n->cfg->alt_ip[k];
		unsigned groups = 0;

		for (unsigned i = 0; i < nprimary; i++) {
			struct net_udp *p = n->udp[i];
			int rc;

			if (p->alt || p->local.family != alt->family ||
			    nts_addr_is_any(&p->local) || alt_same_ip(&p->local, alt))
				continue;
			rc = alt_group_open(n, p, alt);
			if (rc)
				return rc;
			groups++;
		}
		if (!groups) {
			log_error(
			    "--alt-ip %s needs a --listen address of its family other than it "
			    "and not a wildcard",
			    nts_addr_fmt(alt, buf, sizeof(buf), false));
			return -EINVAL;
		}
	}
	if (n->nalt_groups) {
		n->dispatch.alt = net_alt_answer;
		n->dispatch.alt_arg = n;
	}
	return 0;
}

int net_alt_answer(void *arg, const struct nts_origin *o, unsigned change, struct nts_origin *from,
		   struct nts_addr *other)
{
	struct net_udp *u = net_udp_by_fd(arg, o->fd), *t;
	unsigned role;

	if (!u || !u->alt)
		return -ENOENT;
	role = u->alt_role ^ (change & STUN_CHANGE_IP ? 2u : 0u) ^
	       (change & STUN_CHANGE_PORT ? 1u : 0u);
	t = u->alt->sock[role];
	*from = *o;
	from->fd = t->fd;
	from->server = t->local;
	*other = u->alt->sock[u->alt_role ^ 3]->local;
	return 0;
}
