/* TURN server state (RFC 8656 over UDP/TCP/TLS client transports; UDP relays, and RFC 6062 TCP
 * relays): allocations, permissions, channels, lifetimes on a timer wheel, peer policy, relay
 * sockets on the loop. The userspace reference for every packet path; the kernel fast path mirrors
 * channels and permissions through turn_hooks.
 */
#ifndef NTS_TURN_TURN_H
#define NTS_TURN_TURN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"
#include "stun/stun.h"
#include "util/addr.h"
#include "util/config.h"
#include "util/loop.h"
#include "util/origin.h"
#include "util/stats.h"
#include "util/tlv.h"

struct turn_server;

/* A channel binding as the fast path needs it. Addresses are those on the wire at this host. */
struct turn_channel_info {
	uint64_t alloc_id;
	struct nts_addr client; /* allocation's client transport address (UDP allocations only) */
	struct nts_addr server; /* the server listen address the client talks to */
	struct nts_addr relay;	/* local relayed transport address (socket address, not external) */
	struct nts_addr peer;
	uint16_t channel;
	uint64_t expires_ns; /* CLOCK_MONOTONIC */
};

/* An allocation's bandwidth limits (README "Bandwidth limits"): application bytes and datagrams
 * per second each way of its own (--max-bps-per-allocation, --max-pps-per-allocation), and its
 * account's shared bytes per second (ntsctl account set --max-bps) under account, a number ntsd
 * gives the AccountSid (0: none). 0: no limit. */
struct turn_limits {
	uint64_t bps, pps;
	uint64_t account, account_bps;
};

/* Callbacks that mirror channels and permissions into the kernel (user/fastpath). Every member may
 * be NULL. *_set hooks run before the success answer is sent: once the client learns of a binding,
 * the fast path relays it (tests/unit/test_turn_methods.c checks the order). permission_set's
 * transport is the relay's: NTS_UDP, or NTS_TCP for an RFC 6062 allocation, whose permissions
 * must stay out of the UDP fast path. */
struct turn_hooks {
	int (*channel_set)(void *arg, const struct turn_channel_info *c);
	void (*channel_del)(void *arg, const struct turn_channel_info *c);
	int (*permission_set)(void *arg, uint64_t alloc_id, enum nts_transport transport,
			      const struct nts_addr *relay, const struct nts_addr *peer,
			      uint64_t expires_ns);
	void (*permission_del)(void *arg, uint64_t alloc_id, const struct nts_addr *relay,
			       const struct nts_addr *peer);
	void (*alloc_del)(void *arg, uint64_t alloc_id);
	/* An allocation's limits changed (its account's --max-bps); turn_alloc_limits() reads them
	 * at any other time, e.g. before a channel is mirrored. */
	void (*limits_set)(void *arg, uint64_t alloc_id, const struct turn_limits *l);
	/* No allocation uses the account's bucket any more. */
	void (*account_del)(void *arg, uint64_t account);
};

/* Usage of an account (AccountSid of ephemeral credentials; "" for static users) since the last
 * report: an allocation made or ended, payload bytes relayed in userspace each way. Bytes the
 * kernel relayed are not in it: turn_add_kernel_counters() hands them to its caller to meter. */
struct turn_usage {
	bool created, ended; /* an allocation of the account was made / has ended */
	uint64_t c2p_bytes, p2c_bytes;
};
typedef void (*turn_usage_fn)(void *arg, const char *account, const struct turn_usage *u);

/* A read-only view of one allocation for listings (ntsctl allocations, /metrics). */
struct turn_alloc_info {
	uint64_t id;
	struct nts_origin origin; /* client 5-tuple and transport */
	struct nts_addr relay[2]; /* relayed addresses as advertised (one or two families) */
	unsigned nrelay;
	enum nts_transport relay_transport; /* NTS_UDP (RFC 8656) or NTS_TCP (RFC 6062) */
	const char *username;
	const char *account;
	uint64_t expires_unix; /* wall-clock expiry, seconds */
	unsigned npermissions, nchannels;
	uint64_t c2p_packets, c2p_bytes, p2c_packets,
	    p2c_bytes; /* userspace + folded kernel counts */
};
/* One permission or channel of an allocation, for listings and fast-path replay. */
struct turn_perm_info {
	struct nts_addr relay; /* local relay socket address */
	struct nts_addr peer;  /* port 0 for permissions */
	uint16_t channel;      /* 0 for a permission */
	uint64_t expires_ns;
};

/* What a client stream carries once RFC 6062 ConnectionBind made it a data connection: raw bytes
 * both ways. TURN gets these calls for the stream from user/net. */
struct turn_raw_ops {
	void (*input)(void *arg, const uint8_t *buf, size_t len); /* bytes from the client */
	void (*drained)(void *arg); /* the stream's output queue emptied: send more */
	void (*closed)(void *arg);  /* the stream closed; called once, before it is freed */
};

/* Stream controls user/net gives TURN for data connections (every member set). */
struct turn_stream_hooks {
	/* Makes s raw: input after the current frame goes to ops->input. 0 or -errno. */
	int (*make_raw)(void *arg, struct net_stream *s, const struct turn_raw_ops *ops,
			void *ops_arg);
	/* Stops or resumes reading s (backpressure towards the client). */
	void (*pause)(void *arg, struct net_stream *s, bool paused);
	/* Bytes waiting in s's output queue. */
	size_t (*queued)(void *arg, const struct net_stream *s);
	/* Closes s (raw ops->closed follows when it is freed). */
	void (*close)(void *arg, struct net_stream *s);
	/* A request on s passed authentication (may be NULL): its short deadline starts again. */
	void (*authenticated)(void *arg, struct net_stream *s);
};

/* What the operator decided for an account (user/store keeps it, ntsd loads it into TURN). */
enum turn_account_state { TURN_ACCOUNT_ACTIVE, TURN_ACCOUNT_SUSPENDED, TURN_ACCOUNT_CLOSED };
struct turn_account_policy {
	enum turn_account_state state;
	uint32_t max_allocations; /* 0: --max-allocations-per-account */
	uint64_t max_bps; /* application bytes per second each way, shared by its allocations */
};

/* Load shedding (redirect.c): where an Allocate is sent instead, with RFC 8489 §14.15
 * ALTERNATE-SERVER and, for TLS, §14.16 ALTERNATE-DOMAIN (the name its certificate is checked
 * against; "" for none). */
struct turn_redirect {
	struct nts_addr server;
	char domain[256];
};
/* Asked for each new Allocate from o while nallocs allocations live: 0 to serve it, 300 with out
 * filled to answer 300 Try Alternate, or another STUN error code to refuse it with. */
typedef int (*turn_redirect_fn)(void *arg, const struct nts_origin *o, uint64_t nallocs,
				struct turn_redirect *out);

/* Creates the server on loop with cfg, auth, stats; send delivers bytes to clients. NULL on failure. */
struct turn_server *turn_create(struct nts_loop *loop, const struct nts_config *cfg,
				struct auth_ctx *auth, struct nts_stats *stats,
				nts_client_send_fn send, void *send_arg);
void turn_destroy(struct turn_server *t);
/* Relay workers (docs/architecture.md "Threading model"): what every worker's TURN shares. */
struct turn_shared;
struct turn_shared *turn_shared_create(void);
void turn_shared_destroy(struct turn_shared *s);
/* Makes t worker index of count sharing s: quotas are counted in s, account numbers come from s,
 * and t's allocation ids are index modulo count. Before the first allocation. */
void turn_set_worker(struct turn_server *t, struct turn_shared *s, unsigned index, unsigned count);

/* Installs the fast-path mirror hooks (NULL: none). */
void turn_set_hooks(struct turn_server *t, const struct turn_hooks *hooks, void *arg);
/* Installs the load-shedding decision (NULL: every Allocate is served here). */
void turn_set_redirect_hook(struct turn_server *t, turn_redirect_fn fn, void *arg);
/* Installs the usage meter (NULL: none). */
void turn_set_usage_hook(struct turn_server *t, turn_usage_fn usage, void *arg);
/* Gives TURN the stream controls RFC 6062 data connections need (without them TCP allocations
 * are refused with 442). */
void turn_set_stream_hooks(struct turn_server *t, const struct turn_stream_hooks *h, void *arg);

/* Replaces the host's own addresses with hosts (interface addresses; prefixes for loopback
 * devices) plus the configured listen, relay and external addresses: peers among them are refused,
 * and permissions, channels and RFC 6062 connections to them go as if expired. 0 or -ENOMEM. */
int turn_set_host_addrs(struct turn_server *t, const struct nts_cidr *hosts, unsigned n);
/* Replaces the operator's --allow-peer/--deny-peer rules (a reload): permissions, channels and
 * RFC 6062 connections to peers now refused go as if expired; allocations stay. 0 or -ENOMEM. */
int turn_set_peer_rules(struct turn_server *t, const struct nts_cidr *allow, unsigned nallow,
			const struct nts_cidr *deny, unsigned ndeny);

/* Handles a parsed STUN request or indication of a TURN method (Allocate, Refresh,
 * CreatePermission, ChannelBind, Send, Connect...) from o. Returns 0 if handled, -ENOENT if m is
 * not a TURN method. */
int turn_handle_message(struct turn_server *t, const struct nts_origin *o,
			const struct stun_msg *m);
/* Takes a token from o's source bucket of unauthenticated answers (--unauth-rate, keyed like
 * user/auth/ratelimit.h); false, counted, when o must get no answer. */
bool turn_unauth_allow(struct turn_server *t, const struct nts_origin *o);
/* Handles ChannelData from a client (already de-framed; padding removed). */
void turn_handle_channeldata(struct turn_server *t, const struct nts_origin *o, uint16_t channel,
			     const uint8_t *data, size_t len);
/* True when stream s owns an allocation (its idle timeout is then the long one). */
bool turn_stream_owns_allocation(struct turn_server *t, const struct net_stream *s);
/* A client stream closed: delete the allocations it owned (RFC 8656 §3.1). */
void turn_stream_closed(struct turn_server *t, const struct net_stream *s);

/* Sets account sid's policy. When it is no longer active, every live allocation of sid ends now
 * (the fast path's entries with it, through alloc_del) and its credentials get 401 from then on.
 * The number of allocations ended, or -errno. */
int turn_account_set(struct turn_server *t, const char *sid, const struct turn_account_policy *p);
/* Allocations account sid holds now. */
unsigned turn_account_count(struct turn_server *t, const char *sid);
/* Ends allocation id now (as a Refresh with lifetime 0 would). 0 or -ENOENT. */
int turn_alloc_delete_id(struct turn_server *t, uint64_t id);

/* The bandwidth limits of allocation id now. 0 or -ENOENT. */
int turn_alloc_limits(struct turn_server *t, uint64_t id, struct turn_limits *l);
/* --max-bps-per-allocation or --max-pps-per-allocation changed (a reload): every allocation's
 * buckets restart full and the limits hook rewrites each UDP allocation's kernel entries. */
void turn_limits_changed(struct turn_server *t);

/* Iterates allocations; fn returns non-zero to stop. */
int turn_foreach_alloc(struct turn_server *t, int (*fn)(void *arg, const struct turn_alloc_info *a),
		       void *arg);
/* Iterates the permissions and channels of allocation id. */
int turn_foreach_perm(struct turn_server *t, uint64_t id,
		      int (*fn)(void *arg, const struct turn_perm_info *p), void *arg);
/* The account of allocation alloc_id ("" for static users), or NULL if none such lives. */
const char *turn_alloc_account_of(struct turn_server *t, uint64_t alloc_id);
/* Adds kernel-relayed traffic to an allocation's counters (from the fast path's per-allocation
 * map). Returns the allocation's account ("" for static users) for the caller to meter the bytes
 * with (the usage hook does not report them), or NULL when no such allocation lives. */
const char *turn_add_kernel_counters(struct turn_server *t, uint64_t alloc_id, uint64_t c2p_packets,
				     uint64_t c2p_bytes, uint64_t p2c_packets, uint64_t p2c_bytes);
/* Whether the peer address policy in force (--allow-peer, --deny-peer) allows relaying to peer
 * (port 0: a permission's peer, any port). */
bool turn_peer_allowed(struct turn_server *t, const struct nts_addr *peer);
/* Replays every channel and permission through the hooks (after a fast path was attached). */
void turn_replay_hooks(struct turn_server *t);

/* Socket numbering of an upgrade stream (user/ntsd/upgrade_state.c keeps the table). */
struct turn_state_fds {
	/* Export: the stream index of fd; shared ones (a listen socket) get one index each. */
	int (*put)(void *arg, int fd, bool shared);
	/* Import: the socket at index, taken (shared: left with its owner), or -EBADF. */
	int (*get)(void *arg, uint32_t index, bool shared);
	void *arg;
};
/* Writes TURN's records (id counters, UDP-client allocations with everything they hold,
 * reservations) into b after sending what is queued. 0 or -errno. */
int turn_state_export(struct turn_server *t, struct nts_tlv_buf *b,
		      const struct turn_state_fds *fds);
/* Rebuilds one of TURN's records into t (NULL: only checks it), before any hook or usage meter is
 * installed (turn_replay_hooks() then mirrors it). 0, -ENOENT when rec is not TURN's, -EBADMSG or
 * -EPROTO for a bad record, or -errno. */
int turn_state_import(struct turn_server *t, const struct nts_tlv *rec,
		      const struct turn_state_fds *fds);

#endif
