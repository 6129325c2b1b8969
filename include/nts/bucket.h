/* Token buckets of the bandwidth limits, defined once for the XDP program (bpf/fastpath_limit.h,
 * which refills with nts_bucket_fill() under the value's bpf_spin_lock and takes tokens with atomic
 * adds) and for ntsd's userspace relay (user/turn/limit.c), so both paths admit the same datagrams
 * at the same rate. No loop, and a division only on a rare path: the verifier takes it as is.
 * docs/architecture.md "Bandwidth limits" says who owns which bucket.
 */
#ifndef NTS_BUCKET_H
#define NTS_BUCKET_H

#include <linux/types.h>

/* A bucket holds NTS_BUCKET_BURST_NS worth of its rate: a full one lets that much through at once,
 * then datagrams pass at the rate. */
#define NTS_BUCKET_BURST_NS 100000000ull /* 100 ms */
/* Tokens are kept per nanosecond of rate: one byte (or packet) is NTS_BUCKET_UNIT tokens and a rate
 * of R per second adds R tokens per nanosecond, so refilling needs no division. */
#define NTS_BUCKET_UNIT 1000000000ll
/* Rates above this count as this (10 GB/s, 80 Gbit/s): keeps UNIT x rate x burst within 63 bits. */
#define NTS_BUCKET_RATE_MAX 10000000000ull

_Static_assert(NTS_BUCKET_RATE_MAX *NTS_BUCKET_BURST_NS < (1ull << 62),
	       "a full bucket fits a signed 64-bit count with room for one datagram's debt");

/* One direction's tokens. A datagram passes when the bucket is not empty and takes its size, so
 * the count may go below zero by up to one datagram (a datagram larger than the burst passes once
 * the bucket is full; the debt holds the next ones back): over any interval T the bucket lets
 * through at most burst + rate x T + one datagram. Zeroed = full at first use. */
struct nts_bucket {
	__s64 bytes;   /* byte tokens x NTS_BUCKET_UNIT */
	__s64 packets; /* packet tokens x NTS_BUCKET_UNIT */
	__u64 at_ns;   /* CLOCK_MONOTONIC of the last refill; 0: never used */
};

static inline __attribute__((always_inline)) __u64 nts_bucket_rate(__u64 rate)
{
	return rate > NTS_BUCKET_RATE_MAX ? NTS_BUCKET_RATE_MAX : rate;
}

/* tokens after elapsed ns at rate (per second), capped at a full bucket. Below a burst's time the
 * product cannot overflow; past it a bucket not in debt is full, and one in debt (by up to a
 * datagram) compares by division, on this rare path only, so the debt is repaid exactly. */
static inline __attribute__((always_inline)) __s64 nts_bucket_fill(__s64 tokens, __u64 rate,
								   __u64 elapsed)
{
	__s64 cap = (__s64)(rate * NTS_BUCKET_BURST_NS);
	__u64 room = tokens < cap ? (__u64)(cap - tokens) : 0;

	if (elapsed >= NTS_BUCKET_BURST_NS) {
		if (tokens >= 0 || elapsed > room / rate)
			return cap;
	} else if (elapsed * rate >= room) {
		return cap;
	}
	return tokens + (__s64)(elapsed * rate);
}

/* Takes a datagram of len bytes at now from b, limited to bps bytes and pps packets per second
 * (0: that one unlimited). 1: it passes (tokens taken); 0: over the limit (nothing taken). */
static inline __attribute__((always_inline)) int nts_bucket_take(struct nts_bucket *b, __u64 now,
								 __u64 bps, __u64 pps, __u32 len)
{
	__u64 elapsed = !b->at_ns ? NTS_BUCKET_BURST_NS : now > b->at_ns ? now - b->at_ns : 0;

	if (now > b->at_ns)
		b->at_ns = now;
	bps = nts_bucket_rate(bps);
	pps = nts_bucket_rate(pps);
	if (bps)
		b->bytes = nts_bucket_fill(b->bytes, bps, elapsed);
	if (pps)
		b->packets = nts_bucket_fill(b->packets, pps, elapsed);
	if ((bps && b->bytes <= 0) || (pps && b->packets <= 0))
		return 0;
	if (bps)
		b->bytes -= (__s64)len * NTS_BUCKET_UNIT;
	if (pps)
		b->packets -= NTS_BUCKET_UNIT;
	return 1;
}

/* Gives back what nts_bucket_take took for a datagram that was dropped after all (another bucket
 * refused it), up to a full bucket. */
static inline __attribute__((always_inline)) void nts_bucket_give(struct nts_bucket *b, __u64 bps,
								  __u64 pps, __u32 len)
{
	__s64 cap;

	bps = nts_bucket_rate(bps);
	pps = nts_bucket_rate(pps);
	if (bps) {
		cap = (__s64)(bps * NTS_BUCKET_BURST_NS);
		b->bytes += (__s64)len * NTS_BUCKET_UNIT;
		if (b->bytes > cap)
			b->bytes = cap;
	}
	if (pps) {
		cap = (__s64)(pps * NTS_BUCKET_BURST_NS);
		b->packets += NTS_BUCKET_UNIT;
		if (b->packets > cap)
			b->packets = cap;
	}
}

#endif
