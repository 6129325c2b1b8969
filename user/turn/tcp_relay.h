/* RFC 6062 TCP relay allocations: the relayed listening socket, Connect (outgoing peer
 * connections), ConnectionAttempt (incoming ones), ConnectionBind, and the raw byte relay between a
 * client data connection and its peer data connection with bounded buffers and backpressure.
 *
 * Memory per TCP allocation, on top of turn_internal.h's: at most TURN_TCP_MAX_CONNS connections of
 * sizeof(struct turn_tcp_conn) (216 B; 712 B more while a Connect is pending), each holding at
 * most one client read (< 64 KiB) the peer socket has not taken, and each client data connection's
 * output queue stays under TURN_TCP_CLIENT_HIGH + TURN_TCP_READ (user/net's own bound is 256 KiB).
 */
#ifndef NTS_TURN_TCP_RELAY_H
#define NTS_TURN_TCP_RELAY_H

#include "turn/turn_internal.h"

#define TURN_TCP_CONNECT_TIMEOUT 30 /* s, RFC 6062 §5.2: at least 30 s, then 447 */
#define TURN_TCP_BIND_TIMEOUT 30 /* s without ConnectionBind before the peer is dropped, §5.2/3 */
#define TURN_TCP_MAX_CONNS 32	 /* peer data connections per allocation */
#define TURN_TCP_READ 16384	 /* peer bytes read at a time */
#define TURN_TCP_CLIENT_HIGH 65536 /* client output queue above which the peer is not read */

enum turn_tcp_state {
	TURN_TCP_CONNECTING, /* Connect: outgoing connection in progress */
	TURN_TCP_PENDING,    /* connected, waiting for ConnectionBind (peer not read) */
	TURN_TCP_BOUND,	     /* relaying raw bytes with the client data connection */
};

/* The Connect request to answer once the outgoing connection is up or has failed. */
struct turn_tcp_connect_req {
	struct nts_origin o;
	uint8_t tid[STUN_TID_LEN];
	struct auth_result r;
};

struct turn_tcp_conn {
	struct turn_server *t;
	struct turn_alloc *alloc; /* NULL once the allocation is gone */
	uint32_t id;		  /* CONNECTION-ID */
	int fd;			  /* peer data connection, -1 once closed */
	struct nts_addr peer;
	uint8_t state;
	bool watched;	  /* fd is on the loop */
	bool peer_paused; /* the client's output queue is full: the peer is not read */
	bool peer_eof;	  /* the peer finished: close the client side once it has it all */
	struct turn_timer timer;
	struct turn_hnode node; /* t->tcp_conns */
	struct turn_list link;	/* t->tcp_list */
	struct turn_tcp_connect_req *req;
	struct net_stream *data; /* BOUND: the client data connection */
	struct nts_origin data_origin;
	uint8_t *c2p; /* client bytes the peer socket has not taken yet (client paused) */
	size_t c2p_off, c2p_len;
};

/* Opens the relayed listening socket for a TCP allocation on ip (random port in range). 0,
 * -EADDRINUSE when the range is exhausted, or -errno. */
int turn_tcp_listen(struct turn_server *t, const struct nts_addr *ip, struct turn_relay *out);
/* Makes a (created without relays) a TCP allocation listening on r. 0 or -errno. */
int turn_tcp_alloc_attach(struct turn_server *t, struct turn_alloc *a, const struct turn_relay *r);
/* Closes every peer and client data connection of a (its deletion, RFC 6062 §5.5). */
void turn_tcp_alloc_deleted(struct turn_server *t, struct turn_alloc *a);
/* Connect (RFC 6062 §5.2) on a's control connection o. */
void turn_tcp_handle_connect(struct turn_server *t, const struct nts_origin *o,
			     const struct stun_msg *m, const struct auth_result *r,
			     struct turn_alloc *a);
/* ConnectionBind (RFC 6062 §5.4) on a new client connection o (already authenticated). */
void turn_tcp_handle_connection_bind(struct turn_server *t, const struct nts_origin *o,
				     const struct stun_msg *m, const struct auth_result *r);
/* Timer expiry of a connection (connect or ConnectionBind deadline). */
void turn_tcp_timer_expired(struct turn_server *t, struct turn_timer *tm);
/* Closes every peer connection (pending Connects get 447) whose peer the policy now refuses;
 * returns how many. */
unsigned turn_tcp_drop_denied(struct turn_server *t);
/* Frees every connection (server teardown). */
void turn_tcp_free_all(struct turn_server *t);

/* Between tcp_relay.c and tcp_data.c. */
void turn_tcp_accept(void *arg, int fd, uint32_t events);     /* the listening socket's handler */
void turn_tcp_connect_done(struct turn_tcp_conn *c, bool ok); /* answers Connect */
void turn_tcp_conn_free(struct turn_tcp_conn *c);	      /* no client side left */
void turn_tcp_conn_close(struct turn_tcp_conn *c);	      /* closes both sides */
void turn_tcp_data_event(void *arg, int fd, uint32_t events); /* the peer socket's handler */
void turn_tcp_data_start(struct turn_tcp_conn *c);	      /* after ConnectionBind */
extern const struct turn_raw_ops turn_tcp_raw_ops;	      /* the client data connection */

#endif
