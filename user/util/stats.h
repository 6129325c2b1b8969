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

/* Every scalar counter, once: X(field, Prometheus name, Prometheus type, labels, help). The struct
 * fields, the control socket's "stats" object (user/ntsd/ctl_cmds.c) and /metrics
 * (user/api/api_metrics.c) are generated from it. Rows of one Prometheus family are adjacent: the
 * family's HELP and TYPE lines come before its first row. c2p: client -> peer, p2c: peer -> client;
 * user_*: relayed in userspace, kernel_*: by the XDP fast path (summed from its per-CPU counters).
 */
#define NTS_STATS_COUNTERS(X)                                                                      \
	X(auth_failures, "nts_auth_failures_total", "counter", "",                                 \
	  "Requests answered 401 for bad credentials (not first challenges).")                     \
	X(stale_nonces, "nts_stale_nonces_total", "counter", "",                                   \
	  "Requests answered 438 Stale Nonce.")                                                    \
	X(unauth_rate_limited, "nts_unauth_rate_limited_total", "counter", "",                     \
	  "Unauthenticated requests dropped by the per-source rate limit.")                        \
	X(udp_dropped_malformed, "nts_udp_dropped_malformed_total", "counter", "",                 \
	  "Malformed or non-STUN datagrams dropped on listen sockets.")                            \
	X(tcp_closed_bad_framing, "nts_tcp_closed_bad_framing_total", "counter", "",               \
	  "TCP/TLS client connections closed for bad framing.")                                    \
	X(allocations_created, "nts_allocations_created_total", "counter", "",                     \
	  "TURN allocations created.")                                                             \
	X(allocations_deleted, "nts_allocations_deleted_total", "counter", "",                     \
	  "TURN allocations deleted by the client.")                                               \
	X(allocations_expired, "nts_allocations_expired_total", "counter", "",                     \
	  "TURN allocations expired.")                                                             \
	X(allocations_current, "nts_allocations", "gauge", "", "TURN allocations now.")            \
	X(permissions_current, "nts_permissions", "gauge", "", "TURN permissions now.")            \
	X(channels_current, "nts_channels", "gauge", "", "TURN channel bindings now.")             \
	X(tokens_issued, "nts_tokens_issued_total", "counter", "",                                 \
	  "Tokens issued by the token API and ntsctl token create.")                               \
	X(user_c2p_packets, "nts_relayed_packets_total", "counter",                                \
	  "{direction=\"client_to_peer\",path=\"user\"}",                                          \
	  "Relayed packets by direction and path.")                                                \
	X(user_p2c_packets, "nts_relayed_packets_total", "counter",                                \
	  "{direction=\"peer_to_client\",path=\"user\"}", "")                                      \
	X(kernel_c2p_packets, "nts_relayed_packets_total", "counter",                              \
	  "{direction=\"client_to_peer\",path=\"kernel\"}", "")                                    \
	X(kernel_p2c_packets, "nts_relayed_packets_total", "counter",                              \
	  "{direction=\"peer_to_client\",path=\"kernel\"}", "")                                    \
	X(user_c2p_bytes, "nts_relayed_bytes_total", "counter",                                    \
	  "{direction=\"client_to_peer\",path=\"user\"}",                                          \
	  "Relayed application bytes by direction and path.")                                      \
	X(user_p2c_bytes, "nts_relayed_bytes_total", "counter",                                    \
	  "{direction=\"peer_to_client\",path=\"user\"}", "")                                      \
	X(kernel_c2p_bytes, "nts_relayed_bytes_total", "counter",                                  \
	  "{direction=\"client_to_peer\",path=\"kernel\"}", "")                                    \
	X(kernel_p2c_bytes, "nts_relayed_bytes_total", "counter",                                  \
	  "{direction=\"peer_to_client\",path=\"kernel\"}", "")                                    \
	X(peer_dropped_no_permission, "nts_peer_dropped_no_permission_total", "counter", "",       \
	  "Peer packets dropped for lack of a permission.")                                        \
	X(peer_denied_by_policy, "nts_peer_denied_by_policy_total", "counter", "",                 \
	  "Client sends to peers the address policy denies.")                                      \
	X(kernel_drop_redirect_failed, "nts_kernel_dropped_redirect_failed_total", "counter", "",  \
	  "Packets the XDP fast path rewrote but could not redirect, dropped.")                    \
	X(icmp_relayed, "nts_icmp_relayed_total", "counter", "",                                   \
	  "ICMP errors from peers passed to clients as Data indications (RFC 8656 §11).")          \
	X(icmp_dropped, "nts_icmp_dropped_total", "counter", "",                                   \
	  "ICMP errors from peers not passed on: no permission, other type, or rate limit.")       \
	X(user_c2p_rate_limited, "nts_relay_rate_limited_total", "counter",                        \
	  "{direction=\"client_to_peer\",path=\"user\"}",                                          \
	  "Datagrams dropped over an allocation's or account's bandwidth limit.")                  \
	X(user_p2c_rate_limited, "nts_relay_rate_limited_total", "counter",                        \
	  "{direction=\"peer_to_client\",path=\"user\"}", "")                                      \
	X(kernel_rate_limited, "nts_relay_rate_limited_total", "counter", "{path=\"kernel\"}", "")

struct nts_stats {
	uint64_t requests[NTS_M_COUNT]; /* STUN requests/indications received, by method */
	uint64_t errors[NTS_M_COUNT];	/* error responses sent, by method */
#define NTS_STATS_FIELD(field, name, type, labels, help) uint64_t field;
	NTS_STATS_COUNTERS(NTS_STATS_FIELD)
#undef NTS_STATS_FIELD
};

#endif
