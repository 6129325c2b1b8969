/* Client-facing network: UDP listeners (recvmmsg/sendmmsg batches, IP_PKTINFO for wildcard binds),
 * TCP and TLS listeners and streams (framing, bounded output, idle timeout, connection caps), and
 * the dispatch of each datagram or frame to Binding, TURN or an error answer.
 */
#ifndef NTS_NET_NET_H
#define NTS_NET_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "util/config.h"
#include "util/loop.h"
#include "util/origin.h"
#include "util/stats.h"

struct net_server;
struct turn_server;

/* RFC 5780: the alternate addresses of the UDP socket o reached. Fills from (o answered from the
 * socket that CHANGE-REQUEST bits change select: its fd and address) and other (OTHER-ADDRESS, the
 * socket differing in IP and port). -ENOENT when that socket has none (discovery off). */
typedef int (*net_alt_fn)(void *arg, const struct nts_origin *o, unsigned change,
			  struct nts_origin *from, struct nts_addr *other);

/* What dispatch needs: where TURN messages go (turn may be NULL: then only Binding is served),
 * the counters, the SOFTWARE text, how to answer, and the RFC 5780 alternates (alt may be NULL). */
struct net_dispatch {
	struct turn_server *turn;
	struct nts_stats *stats;
	const char *software;
	nts_client_send_fn send;
	void *send_arg;
	net_alt_fn alt;
	void *alt_arg;
};

/* Handles one UDP datagram or one complete stream frame from o (RFC 8489 §6.3, RFC 8656 §12). */
void net_dispatch(const struct net_dispatch *d, const struct nts_origin *o, const uint8_t *buf,
		  size_t len);

/* Listening sockets at most: UDP and TCP for each --listen, TLS for each --tls-listen. The RFC 5780
 * alternates (alt.c) answer too but are not listed: tokens advertise the --listen addresses. */
#define NET_MAX_LISTENERS (3 * NTS_MAX_LISTEN)

/* One listening socket, for status listings. */
struct net_listener_info {
	enum nts_transport transport;
	struct nts_addr addr; /* as bound (the actual port when 0 was asked) */
	int fd;		      /* the socket (an upgrade hands it over) */
};

/* Creates the server (no sockets yet). cfg and stats must outlive it. NULL on failure. */
struct net_server *net_create(struct nts_loop *loop, const struct nts_config *cfg,
			      struct nts_stats *stats);
/* Sets where TURN messages go (before net_listen; may stay NULL). */
void net_set_turn(struct net_server *n, struct turn_server *turn);
/* Makes n one of nworkers relay workers' servers (before net_listen): with more than one, every
 * listen socket sets SO_REUSEPORT, the first worker's fails as before when another process holds
 * the address, a later worker's net_listen() binds the addresses model (the first worker's
 * server, already listening; NULL for the first) bound, and --max-tcp-connections counts every
 * worker's streams. */
void net_set_worker(struct net_server *n, unsigned nworkers, struct net_server *model);
/* Steers the datagrams of each UDP listen address to one worker by their addresses and ports
 * (bpf/reuseport.bpf.c): nets[i] is worker i's server, all listening on the same addresses.
 * 0, or -errno (logged) when the program cannot be loaded (the kernel's own hash then picks). */
int net_steer_attach(struct net_server *const *nets, unsigned n);
/* Opens UDP and TCP listeners for every cfg->listen address. 0 or -errno (logged with the address).
 */
int net_listen(struct net_server *n);
/* Serves a listening socket handed over by an upgrade (UDP bound, or TCP/TLS listening) as
 * transport t; takes fd. net_listen() then opens only the addresses no such socket serves. */
int net_adopt_listener(struct net_server *n, enum nts_transport t, int fd);
/* The same for an RFC 5780 alternate socket (alt.c, --alt-ip): the group that needs its address
 * takes it instead of binding a new one; net_listen() closes those no group took. */
int net_adopt_alt(struct net_server *n, int fd);
/* Loads --cert and --key again into a new TLS context for new connections; live ones keep theirs
 * (SIGHUP). 1 when reloaded, 0 when no TLS is served, -EINVAL (old context kept) when they do not
 * load. */
int net_reload_tls(struct net_server *n);
/* Closes every listener and stream. */
void net_destroy(struct net_server *n);
/* Copies up to max listeners into out; returns how many there are. */
size_t net_listeners(const struct net_server *n, struct net_listener_info *out, size_t max);
/* The same for the RFC 5780 alternate sockets (at most NET_MAX_LISTENERS). */
size_t net_alt_listeners(const struct net_server *n, struct net_listener_info *out, size_t max);
/* Number of open client streams. */
size_t net_stream_count(const struct net_server *n);

/* The nts_client_send_fn for TURN and dispatch; arg is the net_server. UDP replies are queued per
 * socket and flushed with sendmmsg after each loop iteration; stream bytes go to the bounded output
 * queue (-ENOBUFS and the stream closed when full). */
int net_send(void *arg, const struct nts_origin *o, const struct iovec *iov, int iovcnt);

#endif
