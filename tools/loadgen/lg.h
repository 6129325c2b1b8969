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

#define LG_MAX_ALLOCS 20000

/* Options shared by every subcommand (see lg_usage()). */
struct lg_opts {
	const char *client_ns, *server_ns,
	    *peer_ns;		      /* network namespaces (names under /run/netns) */
	struct sockaddr_in server;    /* TURN server */
	struct sockaddr_in client_ip; /* local address of client sockets (port 0) */
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
	uint8_t last[512]; /* the last request, for retransmission */
};

/* Opens n UDP sockets in the current namespace bound to o->client_ip. 0 or -errno. */
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

#endif
