/* TURN internals shared by the files of user/turn/: the server, allocation, permission and channel
 * structs, the seeded hash tables, the 1 s timer wheel, relay ports and the data path.
 * Other modules use turn.h only; unit tests include this for the tick/flush/clock entry points.
 *
 * Memory per allocation is bounded (x86-64 sizes):
 *   struct turn_alloc: 592 B (relay sockets, counters, buckets, list and table links);
 *   its user's entry: 32 B + username (< AUTH_MAX_USERNAME), shared by that user's allocations;
 *   the kept Allocate answer (RFC 8656 §7.2): at most TURN_MAX_RESPONSE = 512 B;
 *   permissions: at most TURN_MAX_PERMS = 64 x 112 B = 7 KiB;
 *   channels: at most TURN_MAX_CHANNELS = 64 x 136 B = 8.5 KiB (cooling ones included);
 *   one or two kernel UDP sockets (default buffer sizes).
 * That is at most about 17 KiB of heap per allocation, plus a table pointer per entry.
 * Server-wide: the timer wheel (32 KiB), the sendmmsg batch (71 KiB), recvmmsg buffers (2 MiB).
 */
#ifndef NTS_TURN_TURN_INTERNAL_H
#define NTS_TURN_TURN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "nts/bucket.h"
#include "turn/turn.h"
#include "util/sock.h"

#define TURN_MAX_PERMS 64	     /* permissions per allocation; more -> 508 */
#define TURN_MAX_CHANNELS 64	     /* channels per allocation (cooling ones count); more -> 508 */
#define TURN_PERM_LIFETIME 300	     /* s, RFC 8656 §9 */
#define TURN_CHANNEL_LIFETIME 600    /* s, RFC 8656 §12 */
#define TURN_CHANNEL_COOLDOWN 300    /* s a channel number and peer stay held after expiry, §12 */
#define TURN_RESERVATION_LIFETIME 30 /* s a RESERVATION-TOKEN stays valid, §7.2 (about 30 s) */
#define TURN_WHEEL_SLOTS 4096	     /* 1 s slots, power of two, longer than any lifetime */
#define TURN_PORT_TRIES 128	     /* bind attempts per relay socket before 508 */
#define TURN_RECV_BATCH 32	     /* recvmmsg batch on relay sockets */
#define TURN_RECV_ROUNDS 4	     /* batches per readiness event (fairness between sockets) */
#define TURN_SEND_BATCH 64	     /* datagrams towards peers queued before a flush */
#define TURN_TX_SLOT 2048     /* payloads up to this are batched; larger ones are sent at once */
#define TURN_MAX_RESPONSE 512 /* our STUN answers fit in this */
/* coturn 4.x still sends ADDITIONAL-ADDRESS-FAMILY with the code point of draft-ietf-tram-turnbis
 * (its "SSODA" attributes); Allocate accepts it as an alias of 0x8000 (RFC 8656 §18.11). */
#define TURN_ATTR_ADDITIONAL_ADDRESS_FAMILY_DRAFT 0x8032

#define turn_container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* Intrusive circular doubly-linked list. */
struct turn_list {
	struct turn_list *next, *prev;
};
static inline void turn_list_init(struct turn_list *l)
{
	l->next = l->prev = l;
}
static inline bool turn_list_empty(const struct turn_list *l)
{
	return l->next == l;
}
static inline void turn_list_add(struct turn_list *head, struct turn_list *e)
{
	e->next = head->next;
	e->prev = head;
	head->next->prev = e;
	head->next = e;
}
static inline void turn_list_del(struct turn_list *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
	turn_list_init(e);
}

/* Seeded, chained hash table with O(1) unlink; grows by doubling. */
struct turn_hnode {
	struct turn_hnode *next, **pprev;
	uint64_t hash;
};
struct turn_htab {
	struct turn_hnode **b;
	size_t mask; /* buckets - 1 */
	size_t n;
};
int turn_htab_init(struct turn_htab *h);
void turn_htab_free(struct turn_htab *h);
/* Inserts node with hash (grows the table when it gets full; growth failure just keeps chains
 * longer). */
void turn_htab_insert(struct turn_htab *h, struct turn_hnode *node, uint64_t hash);
void turn_htab_remove(struct turn_htab *h, struct turn_hnode *node);
/* First node of hash's chain; walk with ->next and compare ->hash then the key. */
static inline struct turn_hnode *turn_htab_chain(const struct turn_htab *h, uint64_t hash)
{
	return h->b[hash & h->mask];
}
/* 64-bit mixer (splitmix64 finaliser). */
uint64_t turn_mix64(uint64_t x);

/* Timer wheel: 1 s slots; an entry fires in the first tick at or after its due second. */
enum turn_timer_kind {
	TURN_T_ALLOC,
	TURN_T_PERM,
	TURN_T_CHAN,
	TURN_T_CHAN_COOL,
	TURN_T_RESV,
	TURN_T_TCP /* RFC 6062 connect or ConnectionBind deadline (tcp_relay.c) */
};
struct turn_timer {
	struct turn_timer *next, **pprev; /* pprev NULL: not armed */
	uint64_t due_s;
	uint8_t kind;
};
struct turn_wheel {
	uint64_t cur_s; /* last second processed */
	struct turn_timer *slot[TURN_WHEEL_SLOTS];
};
void turn_wheel_init(struct turn_wheel *w, uint64_t now_ms);
/* Arms (or re-arms) tm to fire at due_ms (rounded up to the second). */
void turn_timer_arm(struct turn_wheel *w, struct turn_timer *tm, uint64_t due_ms);
void turn_timer_cancel(struct turn_timer *tm);
/* Fires every timer due at or before now_ms through fire(arg, tm). */
void turn_wheel_advance(struct turn_wheel *w, uint64_t now_ms,
			void (*fire)(void *arg, struct turn_timer *tm), void *arg);

struct turn_alloc;

/* One relayed transport address: a UDP socket on the loop. */
struct turn_relay {
	int fd;
	struct nts_addr local;	    /* the socket's bound address */
	struct nts_addr advertised; /* --external-ip of the family, else local */
	struct turn_alloc *alloc;
	struct turn_hnode node; /* server->by_relay, keyed by local address */
};

struct turn_perm {
	struct turn_alloc *alloc;
	struct nts_addr peer; /* port 0 */
	uint64_t expires_ms;
	struct turn_timer timer;
	struct turn_hnode node; /* server->perms, keyed by (alloc id, peer ip) */
	struct turn_list link;	/* alloc->perms */
};

struct turn_chan {
	struct turn_alloc *alloc;
	struct nts_addr peer;
	uint16_t num;
	bool cooling; /* expired: number and peer held for 5 min (RFC 8656 §12) */
	uint64_t expires_ms;
	struct turn_timer timer;
	struct turn_hnode by_num;  /* server->chan_num, keyed by (alloc id, number) */
	struct turn_hnode by_peer; /* server->chan_peer, keyed by (alloc id, peer address) */
	struct turn_list link;	   /* alloc->chans */
};

struct turn_user {
	struct turn_hnode node; /* server->users, keyed by username */
	unsigned nallocs;
	char name[];
};

/* An account (AccountSid of ephemeral credentials) with live allocations or an operator decision
 * (account.c). Static users belong to none. */
struct turn_account {
	struct turn_hnode node;	 /* server->accounts, keyed by AccountSid */
	struct turn_list allocs; /* its allocations, by turn_alloc.acct_link */
	unsigned nallocs;
	bool configured; /* set by turn_account_set(): kept while it has no allocation */
	struct turn_account_policy policy;
	uint64_t id;		     /* its number in this server (the fast path's bucket key) */
	struct nts_bucket bucket[2]; /* --max-bps: c2p, p2c (limit.c); one worker only */
	struct turn_shared_name *shared; /* relay workers: its entry in what they share (buckets) */
	char sid[];
};

struct turn_alloc {
	uint64_t id;
	struct turn_server *server;
	struct nts_origin origin;
	struct turn_hnode by_5tuple, by_stream, by_id;
	struct turn_list link;	/* server->allocs */
	struct turn_list dirty; /* server->dirty when usage is to be reported */
	struct turn_relay relay[2];
	unsigned nrelay;
	struct turn_user *user;
	struct turn_account *acct;  /* NULL for static users */
	struct turn_list acct_link; /* acct->allocs */
	uint64_t expires_ms;
	uint64_t cred_end_ms; /* --strict-expiry: its ephemeral credential's expiry (0: none) */
	struct turn_timer timer;
	uint8_t
	    last_tid[STUN_TID_LEN]; /* the Allocate that created it, answered again on retransmit */
	uint8_t *last_resp;
	uint16_t last_resp_len;
	bool tcp; /* RFC 6062 TCP allocation: relay[0] is a listening socket (tcp_relay.c) */
	bool shared_held;	/* counted in the workers' shared quotas (shared.c) */
	uint8_t icmp_in_second; /* icmp.c: ICMP Data indications sent in icmp_second */
	uint16_t icmp_second;	/* the (wrapping) second they count in */
	struct turn_list perms, chans;
	unsigned nperms, nchans; /* nchans includes cooling channels */
	uint64_t c2p_packets, c2p_bytes, p2c_packets, p2c_bytes;
	uint64_t reported_c2p, reported_p2c; /* bytes the usage hook knows of (or not to report) */
	struct nts_bucket bucket[2];	     /* bandwidth limits: c2p, p2c (limit.c) */
};

/* A RESERVATION-TOKEN and the socket holding the reserved port (RFC 8656 §7.2, EVEN-PORT R). */
struct turn_resv {
	uint64_t token;
	int fd;
	struct nts_addr local;
	struct turn_timer timer;
	struct turn_hnode node;
};

/* Pending datagrams towards peers, from any relay socket: sent per socket at the flush. */
struct turn_tx {
	int fd; /* relay socket of the last datagram queued (-1: none) */
	unsigned n;
	enum nts_udp_gso gso;	      /* runs to one peer leave as one GSO message */
	int slot_fd[TURN_SEND_BATCH]; /* each datagram's relay socket */
	struct mmsghdr msg[TURN_SEND_BATCH];
	struct iovec iov[TURN_SEND_BATCH];
	struct sockaddr_storage dst[TURN_SEND_BATCH];
	uint8_t buf[TURN_SEND_BATCH][TURN_TX_SLOT];
};

/* recvmmsg buffers for relay sockets (shared: the loop is single-threaded). */
struct turn_rx {
	struct mmsghdr msg[TURN_RECV_BATCH];
	struct iovec iov[TURN_RECV_BATCH];
	struct sockaddr_storage src[TURN_RECV_BATCH];
	uint8_t ctl[TURN_RECV_BATCH][CMSG_SPACE(sizeof(int))] __attribute__((aligned(8))); /* GRO */
	uint8_t buf[TURN_RECV_BATCH][65536]; /* a datagram or a GRO batch of them */
};

struct ratelimit;
struct turn_policy;

struct turn_server {
	struct nts_loop *loop;
	const struct nts_config *cfg;
	struct auth_ctx *auth;
	struct nts_stats *stats;
	nts_client_send_fn send;
	void *send_arg;
	struct turn_hooks hooks;
	struct turn_stream_hooks shooks; /* RFC 6062 data connections; shooks.make_raw NULL: none */
	void *shooks_arg;
	struct turn_htab tcp_conns; /* RFC 6062 peer data connections by CONNECTION-ID */
	struct turn_list tcp_list;  /* the same, listed */
	uint32_t next_conn_seq;
	void *hooks_arg;
	turn_usage_fn usage; /* may be NULL */
	void *usage_arg;
	turn_redirect_fn redirect; /* load shedding (redirect.c); may be NULL */
	void *redirect_arg;
	struct turn_policy *policy;
	struct ratelimit *rl;
	uint64_t seed;
	uint64_t next_id;
	uint64_t id_stride; /* relay workers: worker i's ids are i modulo the number of workers */
	unsigned worker_index; /* relay workers: this one's; worker 0 hands over shared state */
	struct turn_shared *shared; /* relay workers: quotas and account numbers (shared.c) */
	uint64_t next_account_id;
	uint64_t now_ms; /* max(loop clock, last tick): tests drive it with turn_tick() */
	uint64_t nallocs;
	uint64_t next_tid;	 /* Data indication transaction ids */
	struct turn_alloc *busy; /* being served by a relay read: deletion deferred */
	bool busy_dead;
	struct turn_htab by_5tuple, by_stream, by_id, by_relay, perms, chan_num, chan_peer, resv,
	    users, accounts;
	struct turn_list allocs, dirty;
	struct turn_wheel *wheel;
	struct turn_tx *tx;
	struct turn_rx *rx;
	uint8_t *scratch; /* Data indications: header + 64 KiB */
};

/* --- what relay workers share (shared.c) --- */
/* Counts an allocation of user (and account, "" or NULL: none) if it stays within max_user,
 * max_account and max_total (0: no limit). 0, 486 or 508 (the STUN error to answer), or -ENOMEM. */
/* Allocations every worker holds together. */
uint64_t turn_shared_total(struct turn_shared *s);
int turn_shared_take(struct turn_shared *s, const char *user, const char *account,
		     uint32_t max_user, uint32_t max_account, uint32_t max_total);
/* An allocation turn_shared_take() counted has ended. */
void turn_shared_put(struct turn_shared *s, const char *user, const char *account);
/* The number of account sid, the same on every worker; 0 on ENOMEM. */
uint64_t turn_shared_account_id(struct turn_shared *s, const char *sid);
/* The account's entry (created on first use, kept until s is destroyed); NULL on ENOMEM. */
struct turn_shared_name *turn_shared_account(struct turn_shared *s, const char *sid);
/* Takes a datagram of len bytes from the account's shared --max-bps bucket of direction dir
 * (limit.c). True: it passes. */
bool turn_shared_bucket_take(struct turn_shared_name *acct, int dir, uint64_t now_ns, uint64_t bps,
			     uint32_t len);
/* Allocations account sid holds over all workers. */
unsigned turn_shared_account_count(struct turn_shared *s, const char *sid);
/* EVEN-PORT reservations of every worker: put (taking fd), redeemed by token (-ENOENT: none),
 * closed once expired (monotonic ms). */
int turn_shared_resv_put(struct turn_shared *s, uint64_t token, int fd,
			 const struct nts_addr *local, uint64_t expires_ms);
int turn_shared_resv_take(struct turn_shared *s, uint64_t token, int *fd, struct nts_addr *local);
void turn_shared_resv_expire(struct turn_shared *s, uint64_t now_ms);
/* Calls fn for each reservation (under the lock: fn must not call back into s); stops at the
 * first non-zero return and returns it. */
typedef int (*turn_shared_resv_fn)(void *arg, uint64_t token, int fd, const struct nts_addr *local,
				   uint64_t expires_ms);
int turn_shared_resv_foreach(struct turn_shared *s, turn_shared_resv_fn fn, void *arg);
/* The quota of sid's allocations (its own, else --max-allocations-per-account; 0: none). */
uint32_t turn_account_max(struct turn_server *t, const char *sid);

/* --- clock and tick (server.c) --- */
/* Current monotonic ms as TURN sees it. */
uint64_t turn_now_ms(struct turn_server *t);
/* The 1 s tick: expires timers and reports usage. Tests call it with fake time. */
void turn_tick(struct turn_server *t, uint64_t now_ms);
/* Wall-clock unix seconds for auth and listings. */
uint64_t turn_unix_now(void);

/* --- allocations, permissions, channels (alloc.c, perm.c) --- */
struct turn_alloc *turn_alloc_find(struct turn_server *t, const struct nts_origin *o);
struct turn_alloc *turn_alloc_find_by_id(struct turn_server *t, uint64_t id);
struct turn_relay *turn_alloc_find_by_relay(struct turn_server *t, const struct nts_addr *local);
/* Creates an allocation from o for username/account with its relay sockets already bound
 * (relay[0..nrelay) with fd and local set). Takes the sockets. NULL on ENOMEM (sockets closed). */
struct turn_alloc *turn_alloc_create(struct turn_server *t, const struct nts_origin *o,
				     const char *username, const char *account,
				     const struct turn_relay *relay, unsigned nrelay,
				     uint32_t lifetime_s);
void turn_alloc_refresh(struct turn_server *t, struct turn_alloc *a, uint32_t lifetime_s);
/* Deletes an allocation: hooks, stats, sockets. expired says whether its lifetime ran out. */
void turn_alloc_delete(struct turn_server *t, struct turn_alloc *a, bool expired);
/* Answers Allocate m from o with 300 Try Alternate (or the error the redirect hook gives) when
 * this node sheds load (redirect.c). True when answered. */
bool turn_allocate_redirect(struct turn_server *t, const struct nts_origin *o,
			    const struct stun_msg *m, const struct auth_result *r);
/* --- accounts (account.c) --- */
struct turn_account *turn_account_find(struct turn_server *t, const char *sid);
/* Links a new allocation to account sid ("" or NULL: none). 0 or -ENOMEM. */
int turn_account_attach(struct turn_server *t, struct turn_alloc *a, const char *sid);
void turn_account_detach(struct turn_server *t, struct turn_alloc *a);
/* True when the operator suspended or closed sid: its credentials get 401. */
bool turn_account_refused(struct turn_server *t, const char *sid);
/* True when sid holds its quota of allocations (its own, else --max-allocations-per-account). */
bool turn_account_full(struct turn_server *t, const char *sid);
void turn_accounts_free(struct turn_server *t);
/* ms capped at a's credential expiry under --strict-expiry: nothing of a (the allocation, its
 * permissions and channels, their fast-path entries) outlives the credential. */
static inline uint64_t turn_alloc_cap_ms(const struct turn_alloc *a, uint64_t ms)
{
	return a->cred_end_ms && ms > a->cred_end_ms ? a->cred_end_ms : ms;
}
/* The AccountSid a belongs to, "" for static users. */
static inline const char *turn_alloc_account(const struct turn_alloc *a)
{
	return a->acct ? a->acct->sid : "";
}

/* --- bandwidth limits (limit.c) --- */
enum { TURN_DIR_C2P, TURN_DIR_P2C };
/* Takes a datagram of len application bytes, relayed in direction dir, from a's buckets and its
 * account's: true when it may go, false (counted) when it is over a limit and must be dropped. */
bool turn_limit_take(struct turn_server *t, struct turn_alloc *a, int dir, size_t len);
/* a's limits as the fast path mirrors them. */
void turn_limits_of(const struct turn_server *t, const struct turn_alloc *a, struct turn_limits *l);

/* Under --strict-expiry, deletes a (as expired) once its credential has run out, and says so: the
 * data path calls it so relaying stops at that moment, not at the next timer tick. */
bool turn_alloc_end_if_expired(struct turn_server *t, struct turn_alloc *a);
/* Number of allocations owned by username. */
unsigned turn_user_count(struct turn_server *t, const char *username);
/* The relay of a's allocation with family af, or NULL. */
struct turn_relay *turn_alloc_relay(struct turn_alloc *a, uint8_t af);
/* Marks usage to report on the next tick. */
void turn_alloc_touch(struct turn_server *t, struct turn_alloc *a);
void turn_report_usage(struct turn_server *t);

struct turn_perm *turn_perm_find(struct turn_server *t, const struct turn_alloc *a,
				 const struct nts_addr *peer);
/* Installs or refreshes the permission for peer's IP (300 s) and calls permission_set. */
int turn_perm_install(struct turn_server *t, struct turn_alloc *a, const struct nts_addr *peer);
void turn_perm_delete(struct turn_server *t, struct turn_perm *p);
struct turn_chan *turn_chan_find_num(struct turn_server *t, const struct turn_alloc *a,
				     uint16_t num);
struct turn_chan *turn_chan_find_peer(struct turn_server *t, const struct turn_alloc *a,
				      const struct nts_addr *peer);
/* Binds or refreshes channel num to peer (600 s) and calls channel_set. */
int turn_chan_bind(struct turn_server *t, struct turn_alloc *a, uint16_t num,
		   const struct nts_addr *peer);
void turn_chan_delete(struct turn_server *t, struct turn_chan *c);
/* Timer callbacks. */
void turn_perm_expired(struct turn_server *t, struct turn_perm *p);
void turn_chan_expired(struct turn_server *t, struct turn_chan *c);
void turn_chan_info(const struct turn_chan *c, struct turn_channel_info *ci);
/* Expires every channel, permission and RFC 6062 peer connection whose peer the policy now
 * refuses (the host's addresses changed). */
void turn_drop_denied_peers(struct turn_server *t);

/* --- relay ports (ports.c) --- */
/* Opens a UDP socket bound to ip (port chosen at random in the configured range; even when even,
 * and with the next port reserved into *token when reserve). 0, -EADDRINUSE when the range is
 * exhausted (508), or -errno. */
int turn_port_open(struct turn_server *t, const struct nts_addr *ip, bool even, bool reserve,
		   bool dont_fragment, struct turn_relay *out, uint64_t *token);
/* True when one of our relays (UDP or TCP) or a reservation holds port on ip: UDP and TCP relays
 * never share a number, as the fast path's maps key relays by address and port alone. */
bool turn_port_taken(struct turn_server *t, const struct nts_addr *ip, uint32_t port);
/* Takes the socket reserved under token. 0, or -ENOENT when unknown or expired. */
int turn_port_take_reservation(struct turn_server *t, uint64_t token, bool dont_fragment,
			       struct turn_relay *out);
void turn_resv_expired(struct turn_server *t, struct turn_resv *r);
void turn_resv_free_all(struct turn_server *t);

/* --- data path (relay.c) --- */
int turn_relay_start(struct turn_server *t, struct turn_relay *r);
void turn_relay_stop(struct turn_server *t, struct turn_relay *r);
/* Queues data for peer from relay r (sendmmsg batch). */
void turn_relay_send(struct turn_server *t, struct turn_relay *r, const struct nts_addr *peer,
		     const uint8_t *data, size_t len);
/* Counts and queues a Send indication's payload (permission already checked). */
void turn_relay_send_indication(struct turn_server *t, struct turn_alloc *a, struct turn_relay *r,
				const struct nts_addr *peer, const uint8_t *data, size_t len);
/* Sends the queued datagrams (the loop's flush hook; tests call it). */
void turn_relay_flush(struct turn_server *t);
/* Reads peer datagrams from relay fd (the loop handler). */
void turn_relay_readable(void *arg, int fd, uint32_t events);

/* --- ICMP from peers (icmp.c, RFC 8656 §11) --- */
#define TURN_ICMP_PER_SEC 10 /* ICMP Data indications per allocation per second (< 256) */
#define TURN_ICMP_ROUNDS 32  /* error-queue reads per readiness event */
/* Asks the kernel to queue ICMP errors on relay socket r (IP_RECVERR / IPV6_RECVERR). */
int turn_icmp_enable(struct turn_relay *r);
/* Drains r's error queue (bounded), passing each ICMP error to the client when allowed. */
void turn_icmp_drain(struct turn_server *t, struct turn_relay *r);

/* --- methods (methods.c, allocate.c) --- */
/* Sends bytes to the client of o. */
void turn_send_client(struct turn_server *t, const struct nts_origin *o, const uint8_t *buf,
		      size_t len);
/* Signs b with r's key and adds FINGERPRINT (auth_sign; r NULL: b goes as built), finishes it and
 * sends it to o: how TURN sends every STUN message it builds. The length sent, or the builder's
 * negative error with nothing sent. */
int turn_send_stun(struct turn_server *t, const struct nts_origin *o, struct stun_builder *b,
		   const struct auth_result *r);
/* Builds and sends an error answer to m, signed when r is authenticated (r may be NULL). */
void turn_answer_error(struct turn_server *t, const struct nts_origin *o, const struct stun_msg *m,
		       const struct auth_result *r, int code);
/* Answers a retransmitted Allocate (same 5-tuple and transaction id as the one that created the
 * allocation) with the kept answer, before credentials are checked; false when m is no such
 * retransmission. The answer only ever goes to the allocation's own 5-tuple (RFC 8656 §7.2). */
bool turn_allocate_replay(struct turn_server *t, const struct nts_origin *o,
			  const struct stun_msg *m);
int turn_handle_allocate(struct turn_server *t, const struct nts_origin *o,
			 const struct stun_msg *m, const struct auth_result *r);
/* The longest lifetime an allocation gets: max-lifetime (3600 s unset), never below the default. */
uint32_t turn_max_lifetime(const struct turn_server *t);
/* Lifetime to grant for m's LIFETIME (m may be NULL: the default); *zero when it asked for 0. */
uint32_t turn_lifetime(struct turn_server *t, const struct stun_msg *m, bool *zero);
bool turn_policy_denies(struct turn_server *t, const struct nts_addr *peer);

#endif
