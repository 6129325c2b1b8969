/* Daemon-wide counters: one struct in the daemon context, incremented by every module, rendered by
 * /metrics and `ntsctl status`. Kernel fast-path counters are folded in by user/fastpath.
 */
#ifndef NTS_UTIL_STATS_H
#define NTS_UTIL_STATS_H

#include <stdint.h>

/* Slots of the per-method counters below: one per method a client sends, then "other". The
 * methods, their order and their labels are user/stun's method table (stun_method_stat()); util
 * sits below stun, so the count is a plain constant here, checked against the table there. */
#define NTS_M_COUNT 9

struct nts_stats {
	uint64_t requests[NTS_M_COUNT];        /* STUN requests/indications received, by method */
	uint64_t errors[NTS_M_COUNT];          /* error responses sent, by method */
	uint64_t auth_failures;                /* 401 for bad credentials (not first challenges) */
	uint64_t stale_nonces;                 /* 438 */
	uint64_t unauth_rate_limited;          /* requests dropped by the per-source limit */
	uint64_t udp_dropped_malformed;        /* non-STUN or malformed UDP input on a listen socket */
	uint64_t tcp_closed_bad_framing;
	uint64_t allocations_created, allocations_deleted, allocations_expired;
	uint64_t allocations_current, permissions_current, channels_current;
	uint64_t tokens_issued;
	/* Relayed traffic handled in userspace. c2p: client -> peer, p2c: peer -> client. */
	uint64_t user_c2p_packets, user_c2p_bytes, user_p2c_packets, user_p2c_bytes;
	uint64_t peer_dropped_no_permission;   /* peer packets with no permission, dropped */
	uint64_t peer_denied_by_policy;        /* Send/ChannelData to a denied peer */
	/* Relayed traffic handled by the XDP fast path (summed from the kernel's per-CPU counters). */
	uint64_t kernel_c2p_packets, kernel_c2p_bytes, kernel_p2c_packets, kernel_p2c_bytes;
};

#endif
