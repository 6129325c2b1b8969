/* Internals of user/net shared by server.c, udp.c, stream.c, tcp.c and tls.c: the server, its UDP
 * sockets with their send batches, and client streams with a pluggable transport layer (plain TCP,
 * or TLS in tls.c).
 */
#ifndef NTS_NET_NET_PRIV_H
#define NTS_NET_NET_PRIV_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "net/net.h"
#include "util/sock.h"

struct turn_raw_ops; /* turn/turn.h: an RFC 6062 data connection's callbacks */

#define NET_UDP_BATCH 32  /* datagrams per recvmmsg / sendmmsg */
#define NET_UDP_BUF 65536 /* one read: a datagram, or a GRO batch of them (64 KiB at most) */
#define NET_UDP_SENDQ 64  /* replies queued per socket before a forced flush */
#define NET_UDP_QBUF 2048 /* a queued reply's room; larger ones are sent at once */
#define NET_STREAM_IN_MAX                                                                          \
	(65535 + 24) /* largest frame: STUN header + 65535, or ChannelData + pad */
#define NET_STREAM_IN_MIN 4096
/* One read of a stream into the worker's buffer, after the partial frame it kept (if at most half
 * of it): the complete frames are dispatched from there, a partial one goes back to the stream. */
#define NET_STREAM_RX (64 * 1024)
#define NET_STREAM_GATHER (65535 + 64)	/* one client message: STUN or ChannelData + padding */
#define NET_STREAM_OUT_MAX (256 * 1024) /* bytes queued to a slow client before it is dropped */
/* Stream listeners: one TCP per --listen and one TLS per --tls-listen, each list NTS_MAX_LISTEN. */
#define NET_MAX_TCP_LISTEN (2 * NTS_MAX_LISTEN)
_Static_assert(NTS_MAX_LISTEN + NET_MAX_TCP_LISTEN == NET_MAX_LISTENERS,
	       "net_listeners() reports every UDP, TCP and TLS listener");

struct net_udp_pending {
	uint16_t len;
	struct nts_addr to, from; /* from: concrete local address for wildcard sockets */
	uint8_t data[NET_UDP_QBUF];
};

struct net_udp_rx;
struct net_alt_group;

struct net_udp {
	struct net_server *n;
	int fd;
	struct nts_addr local;
	bool wildcard;	      /* bound to 0.0.0.0 or ::: use and set packet info */
	enum nts_udp_gso gso; /* runs to one client leave as one GSO message */
	bool handed;	      /* handed over by an upgrade, not yet taken by a --listen or alt.c */
	unsigned nq;
	struct net_udp_pending *q; /* NET_UDP_SENDQ slots */
	struct net_udp_rx *rx;	   /* udp.c: the recvmmsg ring and its buffers */
	struct net_alt_group *alt; /* alt.c: its RFC 5780 group, or NULL */
	unsigned alt_role;	   /* its index in alt->sock */
};

/* RFC 5780 §4: the four sockets of one --listen address with an --alt-ip (alt.c). Bit 0 of the
 * index is the alternate port, bit 1 the alternate IP, so CHANGE-REQUEST's two bits select the
 * socket to answer from by XOR, and index ^ 3 is OTHER-ADDRESS. */
struct net_alt_group {
	struct net_udp *sock[4];
};

/* The byte-moving layer of a stream: plain TCP, or TLS (tls.c). Both return bytes moved, 0 on
 * orderly EOF (read), or -errno (-EAGAIN when it would block). */
struct net_stream_ops {
	ssize_t (*read)(struct net_stream *s, void *buf, size_t len);
	ssize_t (*write)(struct net_stream *s, const void *buf, size_t len);
	void (*free)(struct net_stream *s); /* releases the layer's state (may be NULL) */
	/* The last read or write blocked on the socket being writable (a TLS handshake or record
	 * that needs to send); may be NULL. */
	bool (*want_write)(struct net_stream *s);
	/* Bytes already taken off the socket wait in the layer (epoll will not say so); may be
	 * NULL. */
	bool (*has_pending)(struct net_stream *s);
};

struct net_stream {
	struct net_server *n;
	struct nts_origin origin; /* origin.stream points back here */
	const struct net_stream_ops *ops;
	void *layer; /* the layer's state (TLS session) */
	uint8_t *in;
	size_t in_len, in_cap;
	uint8_t *out;
	size_t out_off, out_len, out_cap;
	uint64_t last_active_ms;
	uint64_t authed_ms; /* opened, or last authenticated: --auth-timeout counts from it */
	bool dead;	    /* closed; freed after the loop iteration */
	bool want_out;	    /* EPOLLOUT armed */
	bool turn_used;	    /* sent a TURN request: may own an allocation */
	bool paused;	    /* not reading (EPOLLIN off): backpressure */
	bool kicked;	    /* on the server's kick list */
	struct net_stream *kick_next;
	const struct turn_raw_ops *raw; /* RFC 6062 data connection: raw bytes, no framing */
	void *raw_arg;
	struct net_stream *prev, *next; /* live list, or dead list once closed */
};

struct net_tcp_listener {
	struct net_server *n;
	int fd;
	enum nts_transport transport;
	struct nts_addr local;
	bool handed; /* handed over by an upgrade, not yet matched to a --listen */
};

struct net_server {
	struct nts_loop *loop;
	const struct nts_config *cfg;
	struct nts_stats *stats;
	struct net_dispatch dispatch;
	struct net_udp *udp[NTS_MAX_LISTEN];
	unsigned nudp;
	/* RFC 5780 (alt.c): the alternates opened for --alt-ip, and the groups they form. */
	struct net_udp *alt_udp[3 * NTS_MAX_LISTEN];
	unsigned nalt_udp;
	struct net_alt_group alt_groups[NTS_MAX_LISTEN];
	unsigned nalt_groups;
	struct net_tcp_listener *tcp[NET_MAX_TCP_LISTEN];
	unsigned ntcp;
	uint8_t *gather; /* NET_STREAM_GATHER: a message's pieces joined for one write */
	uint8_t *rx;	 /* NET_STREAM_RX: a stream's partial frame and the next read after it */
	struct ssl_ctx_st *tls_ctx;	   /* SSL_CTX for new TLS connections (swapped on reload) */
	struct net_stream *streams, *dead; /* doubly linked live list; singly used dead list */
	struct net_stream *kicked; /* resumed with bytes waiting in their layer: read them */
	size_t nstreams;
	bool hooks_added;
	/* Relay workers: listen sockets share their address (SO_REUSEPORT); a later worker's
	 * net_listen() binds the addresses the first worker's server (model) bound. */
	bool reuseport;
	struct net_server *model;
	/* Client streams of every worker (--max-tcp-connections): own_total, or the model's. */
	atomic_size_t own_total;
	atomic_size_t *total;
};

/* server.c: with reuseport, the first worker checks that no other socket holds addr (of type
 * SOCK_DGRAM or SOCK_STREAM) before joining it: 0, or -EADDRINUSE as a plain bind would give. */
int net_reuseport_probe(const struct net_server *n, const struct nts_addr *addr, int type);

/* udp.c */
/* Opens a UDP socket on addr, on the loop; registered by the caller. NULL with *rc = -errno. */
struct net_udp *net_udp_new(struct net_server *n, const struct nts_addr *addr, int *rc);
/* The same for the bound socket fd (taken, closed on failure); its address is read from it. */
struct net_udp *net_udp_new_fd(struct net_server *n, int fd, int *rc);
/* net_udp_new() registered as a --listen socket. */
int net_udp_open(struct net_server *n, const struct nts_addr *addr);
/* Serves the bound UDP socket fd (handed over by an upgrade); takes it. 0 or -errno. */
int net_udp_open_fd(struct net_server *n, int fd);
void net_udp_close(struct net_udp *u);
int net_udp_send(struct net_udp *u, const struct nts_origin *o, const struct iovec *iov,
		 int iovcnt);
void net_udp_flush(struct net_udp *u);
struct net_udp *net_udp_by_fd(struct net_server *n, int fd);

/* stream.c */
struct net_stream *net_stream_create(struct net_server *n, int fd, enum nts_transport t,
				     const struct net_stream_ops *ops, void *layer);
int net_stream_send(struct net_stream *s, const struct iovec *iov, int iovcnt);
void net_stream_close(struct net_stream *s, const char *why);
void net_stream_reap(struct net_server *n);
/* Stops or resumes reading s. */
void net_stream_pause(struct net_stream *s, bool paused);
/* Reads the resumed streams whose layer holds bytes already (end of each loop iteration). */
void net_stream_kick(struct net_server *n);
/* Hands s's later input to ops (RFC 6062 data connection). 0 or -EPIPE when s is closed. */
int net_stream_set_raw(struct net_stream *s, const struct turn_raw_ops *ops, void *arg);
void net_stream_idle_tick(void *arg, uint64_t now_ms);
extern const struct net_stream_ops net_stream_tcp_ops;

/* binding.c: Binding answers (RFC 8489, RFC 3489, RFC 5780), under the unauthenticated limit. */
struct stun_msg;
void net_binding_answer(const struct net_dispatch *d, const struct nts_origin *o,
			const struct stun_msg *m);

/* alt.c */
/* Opens the RFC 5780 alternates of every concrete --listen of an --alt-ip's family. 0 or -errno
 * (logged). */
int net_alt_open(struct net_server *n);
/* The net_alt_fn of dispatch; arg is the net_server. */
int net_alt_answer(void *arg, const struct nts_origin *o, unsigned change, struct nts_origin *from,
		   struct nts_addr *other);

/* tcp.c */
/* Opens a listener for transport NTS_TCP or NTS_TLS (n->tls_ctx set) on addr. */
int net_tcp_open(struct net_server *n, const struct nts_addr *addr, enum nts_transport t);
/* Serves the listening socket fd (handed over by an upgrade) as transport t; takes it. */
int net_tcp_open_fd(struct net_server *n, int fd, enum nts_transport t);
void net_tcp_close(struct net_tcp_listener *l);

#endif
