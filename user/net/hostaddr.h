/* The host's own addresses for TURN's peer policy: dumped at start, then kept current from the
 * kernel's address notifications (libnl, NETLINK_ROUTE, RTNLGRP_IPV4_IFADDR/RTNLGRP_IPV6_IFADDR)
 * read on the daemon's loop, so an address added at run time is refused as soon as it exists.
 */
#ifndef NTS_NET_HOSTADDR_H
#define NTS_NET_HOSTADDR_H

#include "util/addr.h"
#include "util/loop.h"

struct net_hostaddr;
struct turn_server;

/* Hands the host's addresses to turn and watches for changes on loop. NULL on failure (logged). */
struct net_hostaddr *net_hostaddr_create(struct nts_loop *loop, struct turn_server *turn);
/* The same, handing the addresses to set(arg, hosts, n) (e.g. every relay worker's TURN), which
 * returns 0 or -errno. */
typedef int (*net_hostaddr_fn)(void *arg, const struct nts_cidr *hosts, unsigned n);
struct net_hostaddr *net_hostaddr_create_fn(struct nts_loop *loop, net_hostaddr_fn set, void *arg);
void net_hostaddr_destroy(struct net_hostaddr *h);

#endif
