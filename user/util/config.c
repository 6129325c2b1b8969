/* The option table and the defaults it gives struct nts_config; see config.h. */
#include "util/config.h"

#include <stdio.h>
#include <string.h>

#define CFG_OFF(f) offsetof(struct nts_config, f)
#define CFG_SIZE(f) sizeof(((struct nts_config *)0)->f)
#define STR(f) .kind = NTS_KIND_STR, .off = CFG_OFF(f), .size = CFG_SIZE(f)
#define STR_DEF(f, d) STR(f), .has_default = true, .def.str = (d)
#define U32_DEF(f, lo, hi, d)                                                                      \
	.kind = NTS_KIND_U32, .off = CFG_OFF(f), .min = (lo), .max = (hi), .has_default = true,    \
	.def.u32 = (d)
#define BOOL(f) .kind = NTS_KIND_BOOL, .off = CFG_OFF(f)
#define LIST(k, f, n)                                                                              \
	.kind = (k), .off = CFG_OFF(f), .size = CFG_SIZE(f[0]), .count_off = CFG_OFF(n),           \
	.cap = CFG_SIZE(f) / CFG_SIZE(f[0])
#define DAEMON .kind = NTS_KIND_DAEMON
#define ARG NTS_OPT_ARG
#define REPEAT (NTS_OPT_ARG | NTS_OPT_REPEAT)
#define LIVE NTS_OPT_RELOADABLE /* see enum nts_opt_flag */

/* clang-format off */
const struct nts_opt_def nts_opt_defs[NTS_OPT_COUNT] = {
	[NTS_OPT_LISTEN] = { "listen", .flags = REPEAT, .arg = "ADDR:PORT",
		.help = "STUN/TURN on UDP and TCP (default 0.0.0.0:3478)",
		LIST(NTS_KIND_ADDR_LIST, listen, nlisten) },
	[NTS_OPT_TLS_LISTEN] = { "tls-listen", .flags = REPEAT, .arg = "ADDR:PORT",
		.help = "STUN/TURN over TLS",
		LIST(NTS_KIND_ADDR_LIST, tls_listen, ntls_listen) },
	[NTS_OPT_CERT] = { "cert", .flags = ARG | LIVE, .arg = "FILE",
		.help = "TLS certificate chain (PEM)", STR(cert) },
	[NTS_OPT_KEY] = { "key", .flags = ARG | LIVE, .arg = "FILE",
		.help = "TLS private key (PEM)", STR(key) },
	[NTS_OPT_RELAY_IP] = { "relay-ip", .flags = REPEAT, .arg = "ADDR",
		.help = "relay address, one per family (default: listen address)",
		LIST(NTS_KIND_FAMILY_ADDR, relay_ip, nrelay_ip) },
	[NTS_OPT_EXTERNAL_IP] = { "external-ip", .flags = REPEAT, .arg = "ADDR",
		.help = "advertised relay address behind 1:1 NAT",
		LIST(NTS_KIND_FAMILY_ADDR, external_ip, nexternal_ip) },
	[NTS_OPT_RELAY_PORTS] = { "relay-ports", .flags = ARG, .arg = "MIN-MAX",
		.help = "relay port range", .kind = NTS_KIND_PORTS, .off = CFG_OFF(relay_port_min),
		.count_off = CFG_OFF(relay_port_max), .has_default = true,
		.def.ports = { 49152, 65535 } },
	[NTS_OPT_REALM] = { "realm", .flags = ARG, .arg = "NAME",
		.help = "realm", STR_DEF(realm, "nts") },
	[NTS_OPT_SECRET] = { "secret", .flags = REPEAT | LIVE, .arg = "S",
		.help = "ephemeral-credential secret; first signs, all verify",
		LIST(NTS_KIND_STR_LIST, secrets, nsecrets) },
	[NTS_OPT_USER] = { "user", .flags = REPEAT | LIVE, .arg = "NAME:PASSWORD",
		.help = "static long-term user", LIST(NTS_KIND_USER_LIST, users, nusers) },
	[NTS_OPT_ALLOW_PEER] = { "allow-peer", .flags = REPEAT | LIVE, .arg = "CIDR",
		.help = "allow peers in CIDR despite the default deny list; own addresses need a /32, /128",
		LIST(NTS_KIND_CIDR_LIST, allow_peer, nallow_peer) },
	[NTS_OPT_DENY_PEER] = { "deny-peer", .flags = REPEAT | LIVE, .arg = "CIDR",
		.help = "deny peers in CIDR", LIST(NTS_KIND_CIDR_LIST, deny_peer, ndeny_peer) },
	[NTS_OPT_API_LISTEN] = { "api-listen", .flags = ARG, .arg = "ADDR:PORT",
		.help = "token API and /metrics", .kind = NTS_KIND_API_LISTEN,
		.off = CFG_OFF(api_listen), .has_default = true, .def.str = "127.0.0.1:8080" },
	[NTS_OPT_API_CERT] = { "api-cert", .flags = ARG, .arg = "FILE",
		.help = "serve the API over HTTPS with this certificate", STR(api_cert) },
	[NTS_OPT_API_KEY] = { "api-key", .flags = ARG, .arg = "FILE",
		.help = "private key for --api-cert", STR(api_key) },
	[NTS_OPT_NO_API] = { "no-api", .help = "do not start the token API", BOOL(api_off) },
	[NTS_OPT_ICE_HOST] = { "ice-host", .flags = ARG | LIVE, .arg = "HOST",
		.help = "host put in issued ICE server URLs (default: listen address)",
		STR(ice_host) },
	[NTS_OPT_DB] = { "db", .flags = ARG, .arg = "PATH",
		.help = "SQLite database, or postgresql:// URL of a shared one",
		STR_DEF(db, "/var/lib/nts/nts.db") },
	[NTS_OPT_CTL_SOCKET] = { "ctl-socket", .flags = ARG, .arg = "PATH",
		.help = "control socket", STR_DEF(ctl_socket, "/run/nts/ntsd.sock") },
	[NTS_OPT_PIN_DIR] = { "pin-dir", .flags = ARG, .arg = "DIR",
		.help = "bpffs folder of the fast-path maps", STR_DEF(pin_dir, "/sys/fs/bpf/nts") },
	[NTS_OPT_MAX_ALLOC_USER] = { "max-allocations-per-user", .flags = ARG | LIVE, .arg = "N",
		.help = "allocations per username (one token); README \"Accounts and quotas\"",
		U32_DEF(max_allocations_per_user, 1, 1000000, 32) },
	[NTS_OPT_MAX_ALLOC] = { "max-allocations", .flags = ARG | LIVE, .arg = "N",
		.help = "allocations in total", U32_DEF(max_allocations, 1, 10000000, 65536) },
	[NTS_OPT_MAX_ALLOC_ACCOUNT] = { "max-allocations-per-account", .flags = ARG | LIVE, .arg = "N",
		.help = "allocations per AccountSid over all its tokens (ntsctl account set "
			"overrides it per account)",
		U32_DEF(max_allocations_per_account, 1, 10000000, 100) },
	[NTS_OPT_TOKEN_RATE] = { "token-rate", .flags = ARG | LIVE, .arg = "N",
		.help = "tokens an account may mint per second (HTTP 429 past it)",
		U32_DEF(token_rate, 1, 1000000, 100) },
	[NTS_OPT_TOKEN_BURST] = { "token-burst", .flags = ARG | LIVE, .arg = "N",
		.help = "tokens an account may mint at once before --token-rate applies",
		U32_DEF(token_burst, 1, 1000000, 200) },
	[NTS_OPT_STRICT_EXPIRY] = { "strict-expiry", .flags = LIVE,
		.help = "end allocations when their ephemeral credential expires (kernel "
			"entries too); static users are not affected",
		BOOL(strict_expiry) },
	[NTS_OPT_DEFAULT_LIFETIME] = { "default-lifetime", .flags = ARG | LIVE, .arg = "SECONDS",
		.help = "allocation lifetime (below 60 only for tests)",
		U32_DEF(default_lifetime, 1, 86400, 600) },
	[NTS_OPT_MAX_LIFETIME] = { "max-lifetime", .flags = ARG | LIVE, .arg = "SECONDS",
		.help = "largest lifetime granted (below 60 only for tests)",
		U32_DEF(max_lifetime, 1, 86400, 3600) },
	[NTS_OPT_UNAUTH_RATE] = { "unauth-rate", .flags = ARG, .arg = "N",
		.help = "unauthenticated answers/s per source (IPv6: per /64), Binding included",
		U32_DEF(unauth_rate, 1, 10000000, 50) },
	[NTS_OPT_MAX_TCP] = { "max-tcp-connections", .flags = ARG | LIVE, .arg = "N",
		.help = "client TCP/TLS connections",
		U32_DEF(max_tcp_connections, 1, 1000000, 4096) },
	[NTS_OPT_MAX_TCP_SOURCE] = { "max-tcp-per-source", .flags = ARG | LIVE, .arg = "N",
		.help = "client connections per source (IPv4 address or IPv6 /64)",
		U32_DEF(max_tcp_per_source, 1, 1000000, 64) },
	[NTS_OPT_TCP_IDLE] = { "tcp-idle-timeout", .flags = ARG | LIVE, .arg = "SECONDS",
		.help = "close idle client connections", U32_DEF(tcp_idle_timeout, 1, 86400, 300) },
	[NTS_OPT_TCP_CONNECT_TIMEOUT] = { "tcp-connect-timeout", .flags = ARG | LIVE, .arg = "SECONDS",
		.help = "RFC 6062 deadline for a peer connect and its ConnectionBind (the RFC's 30; "
			"lower only for tests)",
		U32_DEF(tcp_connect_timeout, 1, 3600, 30) },
	[NTS_OPT_FP_CHANNELS] = { "fastpath-channels", .flags = ARG, .arg = "N",
		.help = "fast-path channel map size",
		U32_DEF(fastpath_channels, 1, 16777216, 262144) },
	[NTS_OPT_UDP_BUFFER] = { "udp-buffer", .flags = ARG, .arg = "BYTES",
		.help = "receive/send buffer of UDP listen sockets, 0: kernel default",
		U32_DEF(udp_buffer, 0, 1073741824, 8u << 20) },
	[NTS_OPT_RELAY_BUFFER] = { "relay-buffer", .flags = ARG | LIVE, .arg = "BYTES",
		.help = "receive/send buffer of each relay socket, 0: kernel default",
		U32_DEF(relay_buffer, 0, 1073741824, 1u << 20) },
	[NTS_OPT_SOFTWARE] = { "software", .flags = ARG | LIVE, .arg = "TEXT",
		.help = "SOFTWARE attribute in Binding answers (default: none)", STR(software) },
	[NTS_OPT_AUTH_TIMEOUT] = { "auth-timeout", .flags = ARG | LIVE, .arg = "SECONDS",
		.help = "close connections owning no allocation or ConnectionBind this long "
			"after opening or authenticating",
		U32_DEF(auth_timeout, 1, 86400, 10) },
	[NTS_OPT_API_HOST] = { "api-host", .flags = REPEAT | LIVE, .arg = "NAME",
		.help = "Host header the API answers (default: the --api-listen address and "
			"localhost)", LIST(NTS_KIND_STR_LIST, api_host, napi_host) },
	[NTS_OPT_SECRET_FILE] = { "secret-file", .flags = REPEAT | LIVE, .arg = "FILE",
		.help = "read --secret values from FILE, one per line (# comments); mode 0600",
		LIST(NTS_KIND_SECRET_FILE, secrets, nsecrets) },
	[NTS_OPT_USER_FILE] = { "user-file", .flags = REPEAT | LIVE, .arg = "FILE",
		.help = "read --user NAME:PASSWORD lines from FILE (# comments); mode 0600",
		LIST(NTS_KIND_USER_FILE, users, nusers) },
	[NTS_OPT_RUN_AS] = { "run-as", .flags = ARG, .arg = "USER[:GROUP]",
		.help = "become USER once sockets, database and maps are open (see README)",
		STR(run_as) },
	[NTS_OPT_VERBOSE] = { "verbose", .flags = LIVE, .help = "log debug messages", BOOL(verbose) },
	[NTS_OPT_DEMO] = { "demo", .help = "ensure a demo account and print how to use it",
		DAEMON },
	[NTS_OPT_CONFIG] = { "config", .flags = NTS_OPT_ARG | NTS_OPT_CMDLINE, .arg = "FILE",
		.help = "read `name = value` options from FILE", DAEMON },
	[NTS_OPT_HELP] = { "help", .flags = NTS_OPT_CMDLINE, .help = "print this help", DAEMON },
	[NTS_OPT_VERSION] = { "version", .flags = NTS_OPT_CMDLINE, .help = "print the version",
		DAEMON },
	/* Operations: logging and reload. */
	[NTS_OPT_LOG_FORMAT] = { "log-format", .flags = ARG | LIVE, .arg = "text|json",
		.help = "log lines as text, or as one JSON object per line (ts, level, msg)",
		STR_DEF(log_format, "text") },
	/* protocol */
	[NTS_OPT_ALT_IP] = { "alt-ip", .flags = REPEAT, .arg = "ADDR",
		.help = "second address of a --listen family: RFC 5780 NAT discovery (see README)",
		LIST(NTS_KIND_FAMILY_ADDR, alt_ip, nalt_ip) },
	/* Bandwidth limits: token buckets in the userspace relay and the XDP program alike. */
	[NTS_OPT_MAX_BPS_ALLOC] = { "max-bps-per-allocation", .flags = ARG | LIVE, .arg = "BYTES",
		.help = "application bytes per second each way per allocation, the excess "
			"dropped on both relay paths; 0: no limit",
		U32_DEF(max_bps_per_allocation, 0, 4294967295u, 0) },
	[NTS_OPT_MAX_PPS_ALLOC] = { "max-pps-per-allocation", .flags = ARG | LIVE, .arg = "N",
		.help = "datagrams per second each way per allocation, the excess dropped on both "
			"relay paths; 0: no limit",
		U32_DEF(max_pps_per_allocation, 0, 4294967295u, 0) },
	/* Relay workers: event loops with their own sockets and allocations (README "Workers"). */
	[NTS_OPT_WORKERS] = { "workers", .flags = ARG, .arg = "N",
		.help = "relay event loops, each on its own thread; 0: one per online CPU",
		U32_DEF(workers, 0, NTS_MAX_WORKERS, 0) },
	/* Fleet: several ntsd sharing one database (docs/fleet.md). */
	[NTS_OPT_NODE_NAME] = { "node-name", .flags = ARG, .arg = "NAME",
		.help = "this node's name in the fleet's registry (default: the host name)",
		STR(node_name) },
	[NTS_OPT_REGION] = { "region", .flags = ARG, .arg = "NAME",
		.help = "this node's region: redirects stay in it; usage is recorded under it "
			"(turnmegabytes-NAME)", STR(region) },
	[NTS_OPT_SHED_AT] = { "shed-at", .flags = ARG | LIVE | NTS_OPT_PERCENT, .arg = "PCT",
		.help = "percent of --max-allocations past which Allocate gets 300 Try Alternate "
			"naming the least-loaded node of the region",
		U32_DEF(shed_at, 1, 100, 90) },
	/* Relay CPU cost: how relay loops are scheduled (README "Performance"). */
	[NTS_OPT_RELAY_PREEMPT] = { "relay-preempt",
		.help = "relay loops preempt the running task when datagrams wake them "
			"(SCHED_OTHER); default: SCHED_BATCH, they let it run on "
			"and read what came meanwhile in one batch",
		BOOL(relay_preempt) },
};
/* clang-format on */

void nts_config_defaults(struct nts_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	for (int i = 0; i < NTS_OPT_COUNT; i++) {
		const struct nts_opt_def *o = &nts_opt_defs[i];
		char *field = (char *)cfg + o->off;

		if (!o->has_default)
			continue;
		switch (o->kind) {
		case NTS_KIND_STR:
			snprintf(field, o->size, "%s", o->def.str);
			break;
		case NTS_KIND_U32:
			*(uint32_t *)(void *)field = o->def.u32;
			break;
		case NTS_KIND_API_LISTEN:
			nts_addr_parse((struct nts_addr *)(void *)field, o->def.str, false);
			break;
		case NTS_KIND_PORTS:
			*(uint16_t *)(void *)field = o->def.ports[0];
			*(uint16_t *)(void *)((char *)cfg + o->count_off) = o->def.ports[1];
			break;
		default: /* the other kinds have no default */
			break;
		}
	}
}
