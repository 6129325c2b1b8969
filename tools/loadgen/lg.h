/* nts-loadgen internals: options, TURN client sessions, timing, histograms and JSON output shared
 * by the subcommands (relay: userspace load both ways; xdp: in-kernel generator; alloc; api). Every
 * run is bounded in time and count; results go to stdout as one JSON object. */
#ifndef NTS_LOADGEN_LG_H
#define NTS_LOADGEN_LG_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bench_proto.h"

struct auth_ctx;
struct ssl_ctx_st; /* OpenSSL's SSL_CTX */
struct ssl_st;	   /* OpenSSL's SSL */

#define LG_MAX_ALLOCS 20000

/* Options shared by every subcommand (see lg_usage()). */
struct lg_opts {
	const char *client_ns, *server_ns,
	    *peer_ns;		      /* network namespaces (names under /run/netns) */
	struct sockaddr_in server;    /* TURN server */
	struct sockaddr_in client_ip; /* local address of client sockets (port 0) */
	unsigned client_ips;	      /* session i binds client_ip + i % client_ips */
	const char *transport;	      /* of the client sessions: "udp", "tcp" or "tls" */
	struct ssl_ctx_st *tls;	      /* TLS client context (transport "tls") */
	struct sockaddr_in peer;      /* first peer address; allocation i uses port + i */
	const char *secret, *realm, *account;
	struct auth_ctx *auth; /* signs ephemeral credentials with secret */
	unsigned allocs;       /* allocations (flows) */
	unsigned size;	       /* payload bytes */
	double rate;	       /* packets/s per direction in total; 0 = flat out (xdp) */
	double duration;       /* seconds of measured sending */
	unsigned window;       /* allocations in flight during set-up */
	int rss_pid;	       /* alloc: process whose VmRSS is sampled */
	const char *cpu_pids;  /* xdp: relay processes whose CPU time is charged to the packets */
	bool reverse;	       /* relay: also send peer -> client */
	/* xdp */
	const char *mode; /* "turn" (through a relay), "routed" (plain forwarding), "ceiling" */
	const char *client_dev, *server_dev, *server_out_dev, *peer_dev;
	const char *bpf_dir;
	double search_step; /* seconds per rate-search step; 0: fixed rate only */
	double max_rate;
	unsigned batch;
	/* api */
	const char *url_path, *basic_auth, *body;
	unsigned conns;
};

/* --- time --- */
uint64_t lg_now_ns(void);
void lg_sleep_until(uint64_t t_ns);

/* The XDP sink's counters (a PERCPU_ARRAY of one struct bench_sink_stats, stats_fd) summed over
 * ncpus CPUs into *sum. 0 or -errno. */
int lg_sink_sum(int stats_fd, int ncpus, struct bench_sink_stats *sum);

/* --- namespaces and system figures --- */
/* Enters network namespace name (NULL: no-op). 0 or -errno. */
int lg_netns_enter(const char *name);
/* Busy CPU jiffies (user+nice+system+irq+softirq) and all jiffies, system-wide, from /proc/stat. */
int lg_cpu_sample(uint64_t *busy, uint64_t *total);
/* Tasks whose CPU time is charged to the packets: this process, the relay's processes, ksoftirqd.
 * Without IRQ time accounting, softirq work is charged to the task it interrupts, so this counts
 * the whole path precisely (ns) and ignores unrelated load on a shared machine. */
#define LG_MAX_PIDS 32
struct lg_cpu_tasks {
	unsigned n, nrelay; /* pid[0] is this process, pid[1..nrelay] the relay's */
	int pid[LG_MAX_PIDS];
};
int lg_cpu_tasks_init(struct lg_cpu_tasks *t, const char *pids);
/* Sum of the tasks' run time in nanoseconds (/proc/PID/task/TID/schedstat); *relay_ns gets the
 * relay processes' share (may be NULL). */
uint64_t lg_cpu_tasks_ns(const struct lg_cpu_tasks *t, uint64_t *relay_ns);
/* Times the relay's threads were scheduled in (third field of schedstat): its wake-ups. */
uint64_t lg_cpu_tasks_relay_slices(const struct lg_cpu_tasks *t);
/* VmRSS of pid in kB, or -errno. */
long lg_rss_kb(int pid);

/* --- latency histogram (same buckets as the XDP sink) --- */
void lg_hist_add(struct bench_hist *h, uint64_t ns);
/* Percentile q (0..1) in microseconds, or -1 when empty. */
double lg_hist_pct(const struct bench_hist *h, double q);
uint64_t lg_hist_count(const struct bench_hist *h);

/* --- one flat JSON object on stdout --- */
struct lg_json {
	int fields;
};
void lg_json_begin(struct lg_json *j);
void lg_json_num(struct lg_json *j, const char *key, double v);
void lg_json_str(struct lg_json *j, const char *key, const char *v);
void lg_json_end(struct lg_json *j);

/* --- TURN client sessions (RFC 8656 Allocate + ChannelBind with long-term ephemeral credentials)
 * --- */
enum lg_state { LG_IDLE, LG_ALLOC1, LG_ALLOC2, LG_BIND, LG_DONE, LG_FAILED };

struct lg_session {
	int fd;
	enum lg_state state;
	uint16_t channel;
	uint16_t local_port;
	struct sockaddr_in relay; /* XOR-RELAYED-ADDRESS */
	struct sockaddr_in peer;
	uint8_t tid[12];
	uint8_t key[32];
	char user[128]; /* ephemeral username, fixed for the session */
	char nonce[128];
	char realm[64];
	unsigned tries;
	unsigned stale;
	bool resent;		  /* the outstanding request was retransmitted */
	enum lg_state fail_state; /* state and response type that failed the session */
	uint16_t fail_type;
	uint64_t expiry; /* of the ephemeral username */
	uint64_t sent_ns;
	int error; /* last STUN error code or -errno */
	uint16_t last_len;
	uint8_t last[512];	  /* the last request, for retransmission */
	struct lg_stream *stream; /* TCP or TLS connection; NULL over UDP */
};

/* --- client transports (transport.c): UDP datagrams or a TCP / TLS stream per session --- */

#define LG_STREAM_TX (64 * 1408) /* the largest batch of frames written at once */
/* A stream session: bytes read but not yet framed, and the unwritten tail of the last batch. */
struct lg_stream {
	struct ssl_st *ssl; /* NULL: plain TCP */
	size_t have, tx_off, tx_len;
	uint8_t rx[16384 + 2048];
	uint8_t tx[LG_STREAM_TX];
};

/* True when sessions run over TCP or TLS (RFC 8656 §12.5 framing: ChannelData padded to 4). */
bool lg_transport_stream(const struct lg_opts *o);
/* Sets o->tls up for transport "tls" (no certificate check: the bench's server is self-signed). */
int lg_transport_init(struct lg_opts *o);
void lg_transport_free(struct lg_opts *o);
/* Opens s's socket to o->server from addr: a connected UDP socket, or a TCP connection (and TLS
 * handshake), bounded by 5 s. Non-blocking afterwards. 0 or -errno. */
int lg_transport_open(struct lg_session *s, const struct lg_opts *o,
		      const struct sockaddr_in *addr);
/* Sends k frames of frame_len bytes laid out back to back at buf: k datagrams, or one write on a
 * stream (one TLS record), waiting up to 2 s for room. k or -errno. */
int lg_transport_send(struct lg_session *s, const uint8_t *buf, size_t frame_len, unsigned k);
/* Like lg_transport_send without waiting: on a stream whose unwritten tail (kept from an earlier
 * call) cannot go out yet, takes nothing and returns 0; otherwise writes what the socket takes and
 * keeps the rest as the new tail. k, 0 or -errno. */
int lg_transport_offer(struct lg_session *s, const uint8_t *buf, size_t frame_len, unsigned k);
/* Writes a stream's unwritten tail: 0 when none is left, -EAGAIN when some is, or -errno. */
int lg_transport_flush(struct lg_session *s);
/* Reads what is pending (non-blocking) and calls fn for each datagram or complete stream frame.
 * Frames handled, or -errno (-EPIPE: the stream closed or broke framing). */
typedef void (*lg_frame_fn)(void *arg, const uint8_t *frame, size_t len);
int lg_transport_recv(struct lg_session *s, lg_frame_fn fn, void *arg);
void lg_transport_close(struct lg_session *s);

/* Opens n client sockets (o->transport) in the current namespace from o->client_ip (and the
 * o->client_ips addresses after it). 0 or -errno. */
int lg_sessions_open(struct lg_session *s, unsigned n, const struct lg_opts *o);
/* Runs Allocate (401 round trip, then authenticated) and ChannelBind for every session, window at a
 * time, retransmitting after 500 ms up to 5 times, within deadline_ns. Returns sessions done. */
unsigned lg_sessions_setup(struct lg_session *s, unsigned n, const struct lg_opts *o,
			   uint64_t deadline_ns);
/* Deletes the allocations (when o is given) and closes the sockets. */
void lg_sessions_close(struct lg_session *s, unsigned n, const struct lg_opts *o);

/* Subcommands. */
int lg_cmd_relay(const struct lg_opts *o);
int lg_cmd_xdp(const struct lg_opts *o);
int lg_cmd_alloc(const struct lg_opts *o);
int lg_cmd_api(const struct lg_opts *o);
int lg_cmd_clients(const struct lg_opts *o);

#endif
