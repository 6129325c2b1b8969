/* Prometheus text exposition (format 0.0.4) of the daemon counters. Labels are bounded enums only
 * (method, direction, path): never usernames or AccountSids, which would be unbounded.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "api/api.h"
#include "stun/stun.h"

static void api_metric_head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void api_metric(FILE *f, const char *name, const char *type, const char *help, uint64_t v)
{
	api_metric_head(f, name, type, help);
	fprintf(f, "%s %" PRIu64 "\n", name, v);
}

static void api_metric_relayed(FILE *f, const char *name, const char *help, uint64_t user_c2p,
			       uint64_t user_p2c, uint64_t kernel_c2p, uint64_t kernel_p2c)
{
	api_metric_head(f, name, "counter", help);
	fprintf(f, "%s{direction=\"client_to_peer\",path=\"user\"} %" PRIu64 "\n", name, user_c2p);
	fprintf(f, "%s{direction=\"peer_to_client\",path=\"user\"} %" PRIu64 "\n", name, user_p2c);
	fprintf(f, "%s{direction=\"client_to_peer\",path=\"kernel\"} %" PRIu64 "\n", name,
		kernel_c2p);
	fprintf(f, "%s{direction=\"peer_to_client\",path=\"kernel\"} %" PRIu64 "\n", name,
		kernel_p2c);
}

char *api_metrics_render(const struct nts_stats *st, size_t *len)
{
	static const struct nts_stats zero;
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (!f)
		return NULL;
	if (!st)
		st = &zero;
	api_metric_head(f, "nts_stun_requests_total", "counter",
			"STUN/TURN requests and indications received, by method.");
	for (int m = 0; m < NTS_M_COUNT; m++)
		fprintf(f, "nts_stun_requests_total{method=\"%s\"} %" PRIu64 "\n",
			stun_method_stat_name(m), st->requests[m]);
	api_metric_head(f, "nts_stun_errors_total", "counter",
			"STUN error responses sent, by method.");
	for (int m = 0; m < NTS_M_COUNT; m++)
		fprintf(f, "nts_stun_errors_total{method=\"%s\"} %" PRIu64 "\n",
			stun_method_stat_name(m), st->errors[m]);
	api_metric(f, "nts_auth_failures_total", "counter",
		   "Requests answered 401 for bad credentials (not first challenges).",
		   st->auth_failures);
	api_metric(f, "nts_stale_nonces_total", "counter", "Requests answered 438 Stale Nonce.",
		   st->stale_nonces);
	api_metric(f, "nts_unauth_rate_limited_total", "counter",
		   "Unauthenticated requests dropped by the per-source rate limit.",
		   st->unauth_rate_limited);
	api_metric(f, "nts_udp_dropped_malformed_total", "counter",
		   "Malformed or non-STUN datagrams dropped on listen sockets.",
		   st->udp_dropped_malformed);
	api_metric(f, "nts_tcp_closed_bad_framing_total", "counter",
		   "TCP/TLS client connections closed for bad framing.",
		   st->tcp_closed_bad_framing);
	api_metric(f, "nts_allocations_created_total", "counter", "TURN allocations created.",
		   st->allocations_created);
	api_metric(f, "nts_allocations_deleted_total", "counter",
		   "TURN allocations deleted by the client.", st->allocations_deleted);
	api_metric(f, "nts_allocations_expired_total", "counter", "TURN allocations expired.",
		   st->allocations_expired);
	api_metric(f, "nts_allocations", "gauge", "TURN allocations now.", st->allocations_current);
	api_metric(f, "nts_permissions", "gauge", "TURN permissions now.", st->permissions_current);
	api_metric(f, "nts_channels", "gauge", "TURN channel bindings now.", st->channels_current);
	api_metric(f, "nts_tokens_issued_total", "counter",
		   "Tokens issued by the token API and ntsctl token create.", st->tokens_issued);
	api_metric_relayed(f, "nts_relayed_packets_total", "Relayed packets by direction and path.",
			   st->user_c2p_packets, st->user_p2c_packets, st->kernel_c2p_packets,
			   st->kernel_p2c_packets);
	api_metric_relayed(f, "nts_relayed_bytes_total",
			   "Relayed application bytes by direction and path.", st->user_c2p_bytes,
			   st->user_p2c_bytes, st->kernel_c2p_bytes, st->kernel_p2c_bytes);
	api_metric(f, "nts_peer_dropped_no_permission_total", "counter",
		   "Peer packets dropped for lack of a permission.",
		   st->peer_dropped_no_permission);
	api_metric(f, "nts_peer_denied_by_policy_total", "counter",
		   "Client sends to peers the address policy denies.", st->peer_denied_by_policy);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	*len = size;
	return buf;
}
