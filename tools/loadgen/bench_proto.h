/* Wire format and map layouts shared by nts-loadgen and the bench XDP programs (tools/loadgen/bpf/):
 * the payload header every benchmark datagram carries, the sink's counters and latency histogram,
 * and the configuration records of the generator, the sink and the wire-ceiling rewriter. */
#ifndef NTS_BENCH_PROTO_H
#define NTS_BENCH_PROTO_H

#ifdef __BPF__
typedef __u8 bench_u8;
typedef __u16 bench_u16;
typedef __u32 bench_u32;
typedef __u64 bench_u64;
#else
#include <stdint.h>
typedef uint8_t bench_u8;
typedef uint16_t bench_u16;
typedef uint32_t bench_u32;
typedef uint64_t bench_u64;
#endif

#define BENCH_MAGIC_KERNEL                                                                         \
	0x4b53544eu		     /* "NTSK" little-endian: frames from the in-kernel generator */
#define BENCH_MAGIC_USER 0x5553544eu /* "NTSU": datagrams from the userspace generator */
#define BENCH_HDR_LEN 24	     /* struct bench_hdr on the wire */
#define BENCH_TAIL_LEN 8 /* the sink checks the last 8 payload bytes against the pattern */

/* Leads every benchmark payload (host byte order: sender and receiver share the machine). */
struct bench_hdr {
	bench_u32 magic;
	bench_u32 flow; /* allocation index */
	bench_u64 seq;	/* per-flow (userspace) or global (in-kernel) sequence number */
	bench_u64 ts;	/* CLOCK_MONOTONIC nanoseconds at send */
};

/* Payload byte i (i >= BENCH_HDR_LEN) of an in-kernel frame; userspace adds the sequence number. */
static inline bench_u8 bench_pattern(bench_u32 i, bench_u64 seq)
{
	return (bench_u8)(i * 7u + 3u + (bench_u8)seq);
}

/* Latency histogram: 100 ns buckets up to 204.8 us, then 10 us buckets up to 20.48 ms, then
 * overflow. */
#define BENCH_LAT_FINE 2048
#define BENCH_LAT_FINE_NS 100
#define BENCH_LAT_COARSE 2048
#define BENCH_LAT_COARSE_NS 10000
#define BENCH_LAT_BUCKETS (BENCH_LAT_FINE + BENCH_LAT_COARSE + 1)

struct bench_hist {
	bench_u64 b[BENCH_LAT_BUCKETS];
};

/* Counters of the peer-side sink (one per CPU). */
struct bench_sink_stats {
	bench_u64 pkts;	  /* correctly relayed benchmark datagrams, dropped after counting */
	bench_u64 bytes;  /* their UDP payload bytes */
	bench_u64 bad;	  /* benchmark datagrams (right magic) whose length or pattern was wrong */
	bench_u64 passed; /* everything else, handed to the stack */
};

/* Sink configuration: what a correctly relayed datagram looks like (addresses in network order). */
struct bench_sink_cfg {
	bench_u32 dst_ip;
	bench_u32 src_ip;  /* 0: any source */
	bench_u16 port_lo; /* host order, inclusive */
	bench_u16 port_hi;
	bench_u16 payload_len; /* expected UDP payload length */
	bench_u16 pad;
};

/* Generator configuration. Relays and routers rewrite frames in place and live-frames mode recycles
 * pages without restoring their bytes, so every frame gets its flow's first BENCH_TMPL_LEN bytes
 * (headers, payload header) copied in again before it is stamped and sent. */
#define BENCH_TMPL_LEN 80
#define BENCH_MAX_FLOWS 64
struct bench_gen_cfg {
	bench_u32 hdr_off;     /* offset of struct bench_hdr from the Ethernet header */
	bench_u32 nflows;      /* templates in use, 1..BENCH_MAX_FLOWS */
	bench_u64 interval_ns; /* pacing: one frame per interval; 0 = flat out */
};

struct bench_gen_tmpl {
	bench_u8 b[BENCH_TMPL_LEN];
};

/* Generator state: next send time, frames sent, next sequence number. */
struct bench_gen_state {
	bench_u64 next_ns;
	bench_u64 sent;
	bench_u64 seq;
};

/* Wire ceiling: rewrite ChannelData arriving for listen_ip:listen_port into UDP relay_ip:relay_port
 * -> peer_ip:(peer_port + channel - 0x4000) and redirect it out of ifindex (addresses in network
 * order). */
struct bench_ceiling_cfg {
	bench_u32 listen_ip;
	bench_u32 relay_ip;
	bench_u32 peer_ip;
	bench_u32 ifindex;
	bench_u16 listen_port; /* host order */
	bench_u16 relay_port;
	bench_u16 peer_port;
	bench_u8 src_mac[6];
	bench_u8 dst_mac[6];
	bench_u16 pad;
};

#endif
