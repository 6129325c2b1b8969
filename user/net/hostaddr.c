/* Host address watcher; see hostaddr.h. Two netlink sockets: one subscribed to address
 * notifications, non-blocking, on the loop; one for synchronous RTM_GETADDR dumps. Each batch of
 * notifications (or a lost one: the socket overflowed) triggers a fresh dump that replaces the
 * policy's set wholesale, so no notification needs to be applied incrementally or in order.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/socket.h>

#include "net/hostaddr.h"
#include "turn/turn.h"
#include "util/log.h"

#define HOSTADDR_LOOPBACK_IFINDEX 1 /* lo is interface 1 in every network namespace */
#define HOSTADDR_DUMP_TRIES 4	    /* a dump interrupted by a concurrent change is retried */
#define HOSTADDR_READS 64	    /* notification datagrams read per readiness event */
#define HOSTADDR_RCVBUF (1 << 20)   /* bursts of address changes fit before an overflow */

struct net_hostaddr {
	struct nts_loop *loop;
	net_hostaddr_fn set; /* where the addresses go */
	void *set_arg;
	struct nl_sock *events; /* subscribed to address notifications */
	struct nl_sock *dump;	/* RTM_GETADDR dumps */
	struct nl_cb *cb;	/* the events socket's callbacks (a reference) */
	bool changed;		/* a notification (or an overflow) since the last dump */
};

/* Adds one dumped address to the array (arg): the address itself, or on a loopback device its
 * whole prefix, which the kernel routes locally too. */
struct hostaddr_list {
	struct nts_cidr *v;
	unsigned n, cap;
	int err;
};

static void hostaddr_collect(struct nl_object *obj, void *arg)
{
	struct hostaddr_list *l = arg;
	struct rtnl_addr *ra = (struct rtnl_addr *)obj;
	struct nl_addr *local = rtnl_addr_get_local(ra);
	struct nts_cidr c;
	unsigned len;

	if (!local || l->err)
		return;
	memset(&c, 0, sizeof(c));
	len = nl_addr_get_len(local);
	if (nl_addr_get_family(local) == AF_INET && len == 4)
		c.base.family = AF_INET;
	else if (nl_addr_get_family(local) == AF_INET6 && len == 16)
		c.base.family = AF_INET6;
	else
		return;
	memcpy(c.base.ip, nl_addr_get_binary_addr(local), len);
	c.prefix = (uint8_t)(len * 8);
	if (rtnl_addr_get_ifindex(ra) == HOSTADDR_LOOPBACK_IFINDEX &&
	    rtnl_addr_get_prefixlen(ra) < (int)c.prefix)
		c.prefix = (uint8_t)rtnl_addr_get_prefixlen(ra);
	if (l->n == l->cap) {
		unsigned cap = l->cap ? 2 * l->cap : 64;
		struct nts_cidr *v = realloc(l->v, cap * sizeof(*v));

		if (!v) {
			l->err = -ENOMEM;
			return;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = c;
}

/* Dumps every address of every interface into turn's policy. 0 or -errno. */
static int hostaddr_refresh(struct net_hostaddr *h)
{
	struct hostaddr_list l = {0};
	struct nl_cache *cache = NULL;
	int rc = -NLE_DUMP_INTR;

	for (int i = 0; i < HOSTADDR_DUMP_TRIES && rc == -NLE_DUMP_INTR; i++)
		rc = rtnl_addr_alloc_cache(h->dump, &cache);
	if (rc < 0) {
		log_error("host addresses: dump failed: %s", nl_geterror(rc));
		return -EIO;
	}
	nl_cache_foreach(cache, hostaddr_collect, &l);
	nl_cache_free(cache);
	rc = l.err ? l.err : h->set(h->set_arg, l.v, l.n);
	free(l.v);
	if (rc < 0)
		log_error("host addresses: not updated: %s", strerror(-rc));
	else
		log_debug("host addresses: %u refused as peers", l.n);
	return rc;
}

/* One notification: logged, and the next dump scheduled. */
static void hostaddr_log_change(struct nl_object *obj, void *arg)
{
	struct rtnl_addr *ra = (struct rtnl_addr *)obj;
	struct nl_addr *local = rtnl_addr_get_local(ra);
	const char *what = arg;
	char buf[INET6_ADDRSTRLEN + 8];

	if (local)
		log_info("host address %s %s on interface %d", nl_addr2str(local, buf, sizeof(buf)),
			 what, rtnl_addr_get_ifindex(ra));
}

static int hostaddr_on_msg(struct nl_msg *msg, void *arg)
{
	struct net_hostaddr *h = arg;
	int type = nlmsg_hdr(msg)->nlmsg_type;

	if (type != RTM_NEWADDR && type != RTM_DELADDR)
		return NL_SKIP;
	h->changed = true;
	nl_msg_parse(msg, hostaddr_log_change, type == RTM_NEWADDR ? "added" : "removed");
	return NL_OK;
}

static void hostaddr_readable(void *arg, int fd, uint32_t events)
{
	struct net_hostaddr *h = arg;

	for (int i = 0; i < HOSTADDR_READS; i++) {
		int rc = nl_recvmsgs_report(h->events, h->cb);

		if (rc == 0 || rc == -NLE_AGAIN)
			break;
		if (rc < 0) {
			/* ENOBUFS: notifications were lost; the dump below sees what they said. */
			log_debug("host addresses: notification socket: %s", nl_geterror(rc));
			h->changed = true;
			break;
		}
	}
	if (h->changed) {
		h->changed = false;
		hostaddr_refresh(h);
	}
}

static int hostaddr_set_turn(void *arg, const struct nts_cidr *hosts, unsigned n)
{
	return turn_set_host_addrs(arg, hosts, n);
}

struct net_hostaddr *net_hostaddr_create(struct nts_loop *loop, struct turn_server *turn)
{
	return net_hostaddr_create_fn(loop, hostaddr_set_turn, turn);
}

struct net_hostaddr *net_hostaddr_create_fn(struct nts_loop *loop, net_hostaddr_fn set, void *arg)
{
	struct net_hostaddr *h = calloc(1, sizeof(*h));
	int rc;

	if (!h) {
		log_error("host addresses: out of memory");
		return NULL;
	}
	h->loop = loop;
	h->set = set;
	h->set_arg = arg;
	h->events = nl_socket_alloc();
	h->dump = nl_socket_alloc();
	if (!h->events || !h->dump) {
		log_error("host addresses: out of memory");
		goto fail;
	}
	nl_socket_disable_seq_check(h->events);
	nl_socket_modify_cb(h->events, NL_CB_VALID, NL_CB_CUSTOM, hostaddr_on_msg, h);
	h->cb = nl_socket_get_cb(h->events);
	/* Subscribe before the first dump: a change racing with it is then seen again after. */
	rc = nl_connect(h->events, NETLINK_ROUTE);
	if (!rc)
		rc = nl_socket_add_memberships(h->events, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR,
					       0);
	if (!rc)
		rc = nl_socket_set_nonblocking(h->events);
	if (!rc)
		rc = nl_socket_set_buffer_size(h->events, HOSTADDR_RCVBUF, 0);
	if (!rc)
		rc = nl_connect(h->dump, NETLINK_ROUTE);
	if (rc) {
		log_error("host addresses: netlink: %s", nl_geterror(rc));
		goto fail;
	}
	if (hostaddr_refresh(h) < 0)
		goto fail;
	rc = loop_add(loop, nl_socket_get_fd(h->events), EPOLLIN, hostaddr_readable, h);
	if (rc) {
		log_error("host addresses: cannot watch: %s", strerror(-rc));
		goto fail;
	}
	return h;
fail:
	net_hostaddr_destroy(h);
	return NULL;
}

void net_hostaddr_destroy(struct net_hostaddr *h)
{
	if (!h)
		return;
	if (h->events) {
		if (nl_socket_get_fd(h->events) >= 0)
			loop_del(h->loop, nl_socket_get_fd(h->events));
		nl_socket_free(h->events);
	}
	if (h->cb)
		nl_cb_put(h->cb);
	nl_socket_free(h->dump);
	free(h);
}
