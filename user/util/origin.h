/* Where a client message came from and how to answer it: the 5-tuple plus the socket or stream.
 * The net module fills it for each received message; TURN keeps a copy in each allocation.
 */
#ifndef NTS_UTIL_ORIGIN_H
#define NTS_UTIL_ORIGIN_H

#include <stddef.h>
#include <sys/uio.h>

#include "util/addr.h"

enum nts_transport { NTS_UDP = 0, NTS_TCP = 1, NTS_TLS = 2 };

struct net_stream; /* a TCP or TLS connection, owned by user/net */

struct nts_origin {
	enum nts_transport transport;
	struct nts_addr client; /* the client's address and port as seen by us */
	struct nts_addr server; /* our local address and port it reached */
	int fd;                 /* UDP: the listening socket; stream: the connection's socket */
	struct net_stream *stream; /* NULL for UDP */
};

/* Sends bytes to a client: implemented by user/net (UDP: batched sendmmsg on origin->fd; stream:
 * appended to the connection's bounded output queue). Returns 0 or -errno; -ENOBUFS when a stream's
 * queue is full (the stream is then closed by net). */
typedef int (*nts_client_send_fn)(void *arg, const struct nts_origin *o, const struct iovec *iov,
				  int iovcnt);

/* Name of a transport as logs and ntsctl show it: "udp", "tcp" or "tls". */
static inline const char *nts_transport_name(enum nts_transport t)
{
	return t == NTS_UDP ? "udp" : t == NTS_TCP ? "tcp" : "tls";
}

#endif
