/* ntsd options: one table drives the command line, the config file and the help text; see
 * options.h. */
#include "net/options.h"
#include "net/options_priv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* clang-format off */
const struct nts_opt_def nts_opt_defs[O_COUNT] = {
	[O_LISTEN] = { "listen", F_ARG | F_REPEAT, "ADDR:PORT",
		"STUN/TURN on UDP and TCP (default 0.0.0.0:3478)", .kind = K_OTHER },
	[O_TLS_LISTEN] = { "tls-listen", F_ARG | F_REPEAT, "ADDR:PORT",
		"STUN/TURN over TLS", .kind = K_OTHER },
	[O_CERT] = { "cert", F_ARG, "FILE",
		"TLS certificate chain (PEM)", STR_OPT(cert) },
	[O_KEY] = { "key", F_ARG, "FILE",
		"TLS private key (PEM)", STR_OPT(key) },
	[O_RELAY_IP] = { "relay-ip", F_ARG | F_REPEAT, "ADDR",
		"relay address, one per family (default: listen address)", .kind = K_OTHER },
	[O_EXTERNAL_IP] = { "external-ip", F_ARG | F_REPEAT, "ADDR",
		"advertised relay address behind 1:1 NAT", .kind = K_OTHER },
	[O_RELAY_PORTS] = { "relay-ports", F_ARG, "MIN-MAX",
		"relay port range (default 49152-65535)", .kind = K_OTHER },
	[O_REALM] = { "realm", F_ARG, "NAME",
		"realm (default nts)", STR_OPT(realm) },
	[O_SECRET] = { "secret", F_ARG | F_REPEAT, "S",
		"ephemeral-credential secret; first signs, all verify", .kind = K_OTHER },
	[O_USER] = { "user", F_ARG | F_REPEAT, "NAME:PASSWORD",
		"static long-term user", .kind = K_OTHER },
	[O_ALLOW_PEER] = { "allow-peer", F_ARG | F_REPEAT, "CIDR",
		"allow peers in CIDR despite the default deny list; own addresses need a /32, /128",
		.kind = K_OTHER },
	[O_DENY_PEER] = { "deny-peer", F_ARG | F_REPEAT, "CIDR",
		"deny peers in CIDR", .kind = K_OTHER },
	[O_API_LISTEN] = { "api-listen", F_ARG, "ADDR:PORT",
		"token API and /metrics (default 127.0.0.1:8080)", .kind = K_OTHER },
	[O_API_CERT] = { "api-cert", F_ARG, "FILE",
		"serve the API over HTTPS with this certificate", STR_OPT(api_cert) },
	[O_API_KEY] = { "api-key", F_ARG, "FILE",
		"private key for --api-cert", STR_OPT(api_key) },
	[O_NO_API] = { "no-api", 0, NULL,
		"do not start the token API", .kind = K_OTHER },
	[O_ICE_HOST] = { "ice-host", F_ARG, "HOST",
		"host put in issued ICE server URLs (default: listen address)", STR_OPT(ice_host) },
	[O_DB] = { "db", F_ARG, "PATH",
		"SQLite database (default var/nts.db)", STR_OPT(db) },
	[O_CTL_SOCKET] = { "ctl-socket", F_ARG, "PATH",
		"control socket (default /run/nts/ntsd.sock)", STR_OPT(ctl_socket) },
	[O_PIN_DIR] = { "pin-dir", F_ARG, "DIR",
		"bpffs folder of the fast-path maps (default /sys/fs/bpf/nts)", STR_OPT(pin_dir) },
	[O_MAX_ALLOC_USER] = { "max-allocations-per-user", F_ARG, "N",
		"allocations per user (default 10)",
		U32_OPT(max_allocations_per_user, 1, 1000000) },
	[O_MAX_ALLOC] = { "max-allocations", F_ARG, "N",
		"allocations in total (default 65536)", U32_OPT(max_allocations, 1, 10000000) },
	[O_DEFAULT_LIFETIME] = { "default-lifetime", F_ARG, "SECONDS",
		"allocation lifetime (default 600)", U32_OPT(default_lifetime, 60, 86400) },
	[O_MAX_LIFETIME] = { "max-lifetime", F_ARG, "SECONDS",
		"largest lifetime granted (default 3600)", U32_OPT(max_lifetime, 60, 86400) },
	[O_UNAUTH_RATE] = { "unauth-rate", F_ARG, "N",
		"unauthenticated requests/s per source (default 50)",
		U32_OPT(unauth_rate, 1, 10000000) },
	[O_MAX_TCP] = { "max-tcp-connections", F_ARG, "N",
		"client TCP/TLS connections (default 4096)",
		U32_OPT(max_tcp_connections, 1, 1000000) },
	[O_MAX_TCP_SOURCE] = { "max-tcp-per-source", F_ARG, "N",
		"client connections per source IP (default 64)",
		U32_OPT(max_tcp_per_source, 1, 1000000) },
	[O_TCP_IDLE] = { "tcp-idle-timeout", F_ARG, "SECONDS",
		"close idle client connections (default 300)",
		U32_OPT(tcp_idle_timeout, 1, 86400) },
	[O_FP_CHANNELS] = { "fastpath-channels", F_ARG, "N",
		"fast-path channel map size (default 262144)",
		U32_OPT(fastpath_channels, 1, 16777216) },
	[O_UDP_BUFFER] = { "udp-buffer", F_ARG, "BYTES",
		"receive/send buffer of UDP listen sockets, 0: kernel default (default 8388608)",
		U32_OPT(udp_buffer, 0, 1073741824) },
	[O_RELAY_BUFFER] = { "relay-buffer", F_ARG, "BYTES",
		"receive/send buffer of each relay socket, 0: kernel default (default 1048576)",
		U32_OPT(relay_buffer, 0, 1073741824) },
	[O_SOFTWARE] = { "software", F_ARG, "TEXT",
		"SOFTWARE attribute (default nts/" NTS_VERSION ")", STR_OPT(software) },
	[O_VERBOSE] = { "verbose", 0, NULL,
		"log debug messages", .kind = K_OTHER },
	[O_DEMO] = { "demo", 0, NULL,
		"ensure a demo account and print how to use it", .kind = K_OTHER },
	[O_CONFIG] = { "config", F_ARG | F_CMDLINE, "FILE",
		"read `name = value` options from FILE", .kind = K_OTHER },
	[O_HELP] = { "help", F_CMDLINE, NULL,
		"print this help", .kind = K_OTHER },
	[O_VERSION] = { "version", F_CMDLINE, NULL,
		"print the version", .kind = K_OTHER },
};
/* clang-format on */

void nts_config_defaults(struct nts_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->relay_port_min = 49152;
	cfg->relay_port_max = 65535;
	strcpy(cfg->realm, "nts");
	nts_addr_parse(&cfg->api_listen, "127.0.0.1:8080", false);
	strcpy(cfg->db, "var/nts.db");
	strcpy(cfg->ctl_socket, "/run/nts/ntsd.sock");
	strcpy(cfg->pin_dir, "/sys/fs/bpf/nts");
	cfg->max_allocations_per_user = 10;
	cfg->max_allocations = 65536;
	cfg->default_lifetime = 600;
	cfg->max_lifetime = 3600;
	cfg->unauth_rate = 50;
	cfg->max_tcp_connections = 4096;
	cfg->max_tcp_per_source = 64;
	cfg->tcp_idle_timeout = 300;
	cfg->fastpath_channels = 262144;
	cfg->udp_buffer = 8 << 20;
	cfg->relay_buffer = 1 << 20;
}

int nts_opt_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int parse_u32(const char *v, uint32_t min, uint32_t max, uint32_t *out)
{
	unsigned long long n;
	char *end;

	if (*v < '0' || *v > '9')
		return -EINVAL;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno || *end || n < min || n > max)
		return -EINVAL;
	*out = (uint32_t)n;
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") ||
	    !strcasecmp(v, "on"))
		*out = true;
	else if (!strcmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no") ||
		 !strcasecmp(v, "off"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

static int copy_str(char *dst, size_t cap, const char *v)
{
	size_t n = strlen(v);

	if (n == 0 || n >= cap)
		return -EINVAL;
	memcpy(dst, v, n + 1);
	return 0;
}

static int parse_ports(const char *v, uint16_t *min, uint16_t *max)
{
	char buf[32];
	const char *dash = strchr(v, '-');
	uint32_t a, b;

	if (!dash || (size_t)(dash - v) >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, v, (size_t)(dash - v));
	buf[dash - v] = 0;
	if (parse_u32(buf, 1, 65535, &a) || parse_u32(dash + 1, 1, 65535, &b) || a > b)
		return -EINVAL;
	*min = (uint16_t)a;
	*max = (uint16_t)b;
	return 0;
}

/* Adds addr to one of the per-family slots (relay ip, external ip): at most one per family. */
static int add_family_addr(struct nts_addr *slots, unsigned *n, const char *v)
{
	struct nts_addr a;

	if (nts_addr_parse(&a, v, true) || a.port)
		return -EINVAL;
	for (unsigned i = 0; i < *n; i++)
		if (slots[i].family == a.family)
			return -EEXIST;
	slots[(*n)++] = a;
	return 0;
}

/* Applies one option value; fresh is true for the first occurrence in this source (clears lists).
 */
int nts_opt_apply(struct nts_config *cfg, struct nts_options *opts, enum opt_id id, const char *v,
		  bool fresh, char *err, size_t errlen)
{
	const char *name = nts_opt_defs[id].name;
	struct nts_addr a;
	int rc = 0;

	if (fresh && (nts_opt_defs[id].flags & F_REPEAT)) {
		switch (id) {
		case O_LISTEN:
			cfg->nlisten = 0;
			break;
		case O_TLS_LISTEN:
			cfg->ntls_listen = 0;
			break;
		case O_RELAY_IP:
			cfg->nrelay_ip = 0;
			break;
		case O_EXTERNAL_IP:
			cfg->nexternal_ip = 0;
			break;
		case O_SECRET:
			cfg->nsecrets = 0;
			break;
		case O_USER:
			cfg->nusers = 0;
			break;
		case O_ALLOW_PEER:
			cfg->nallow_peer = 0;
			break;
		case O_DENY_PEER:
			cfg->ndeny_peer = 0;
			break;
		default:
			break;
		}
	}
	if (nts_opt_defs[id].kind == K_STR) {
		if (copy_str((char *)cfg + nts_opt_defs[id].off, nts_opt_defs[id].max, v))
			return nts_opt_fail(err, errlen, "--%s: empty or longer than %u bytes",
					    name, nts_opt_defs[id].max - 1);
		return 0;
	}
	if (nts_opt_defs[id].kind == K_U32) {
		if (parse_u32(v, nts_opt_defs[id].min, nts_opt_defs[id].max,
			      (uint32_t *)((char *)cfg + nts_opt_defs[id].off)))
			return nts_opt_fail(err, errlen, "--%s: '%s' is not a number in %u-%u",
					    name, v, nts_opt_defs[id].min, nts_opt_defs[id].max);
		return 0;
	}
	switch (id) {
	case O_LISTEN:
	case O_TLS_LISTEN: {
		bool tls = id == O_TLS_LISTEN;
		unsigned *n = tls ? &cfg->ntls_listen : &cfg->nlisten;
		if (nts_addr_parse(&a, v, false) || !a.port)
			return nts_opt_fail(err, errlen,
					    "--%s: '%s' is not ADDR:PORT (IPv6 as [ADDR]:PORT)",
					    name, v);
		if (*n >= NTS_MAX_LISTEN)
			return nts_opt_fail(err, errlen, "--%s: at most %d addresses", name,
					    NTS_MAX_LISTEN);
		(tls ? cfg->tls_listen : cfg->listen)[(*n)++] = a;
		return 0;
	}
	case O_API_LISTEN:
		if (nts_addr_parse(&a, v, false) || !a.port)
			return nts_opt_fail(err, errlen, "--%s: '%s' is not ADDR:PORT", name, v);
		cfg->api_listen = a;
		cfg->api_off = false;
		return 0;
	case O_RELAY_IP:
	case O_EXTERNAL_IP:
		rc = id == O_RELAY_IP ? add_family_addr(cfg->relay_ip, &cfg->nrelay_ip, v)
				      : add_family_addr(cfg->external_ip, &cfg->nexternal_ip, v);
		if (rc == -EEXIST)
			return nts_opt_fail(err, errlen, "--%s: one address per family", name);
		if (rc)
			return nts_opt_fail(err, errlen, "--%s: '%s' is not an IP address", name,
					    v);
		return 0;
	case O_RELAY_PORTS:
		if (parse_ports(v, &cfg->relay_port_min, &cfg->relay_port_max))
			return nts_opt_fail(err, errlen, "--%s: '%s' is not MIN-MAX within 1-65535",
					    name, v);
		return 0;
	case O_SECRET:
		if (cfg->nsecrets >= NTS_MAX_SECRETS)
			return nts_opt_fail(err, errlen, "--%s: at most %d secrets", name,
					    NTS_MAX_SECRETS);
		if (copy_str(cfg->secrets[cfg->nsecrets], sizeof(cfg->secrets[0]), v))
			return nts_opt_fail(err, errlen, "--%s: empty or longer than %zu bytes",
					    name, sizeof(cfg->secrets[0]) - 1);
		cfg->nsecrets++;
		return 0;
	case O_USER: {
		const char *colon = strchr(v, ':');
		struct nts_static_user *u = &cfg->users[cfg->nusers];
		size_t nl = colon ? (size_t)(colon - v) : 0;
		if (cfg->nusers >= NTS_MAX_USERS)
			return nts_opt_fail(err, errlen, "--%s: at most %d users", name,
					    NTS_MAX_USERS);
		if (!colon || nl == 0 || nl >= sizeof(u->name) ||
		    copy_str(u->password, sizeof(u->password), colon + 1))
			return nts_opt_fail(
			    err, errlen, "--%s: expected NAME:PASSWORD (each 1-127 bytes)", name);
		memcpy(u->name, v, nl);
		u->name[nl] = 0;
		cfg->nusers++;
		return 0;
	}
	case O_ALLOW_PEER:
	case O_DENY_PEER: {
		bool allow = id == O_ALLOW_PEER;
		unsigned *n = allow ? &cfg->nallow_peer : &cfg->ndeny_peer;
		if (*n >= NTS_MAX_PEER_RULES)
			return nts_opt_fail(err, errlen, "--%s: at most %d rules", name,
					    NTS_MAX_PEER_RULES);
		if (nts_cidr_parse(&(allow ? cfg->allow_peer : cfg->deny_peer)[*n], v))
			return nts_opt_fail(err, errlen, "--%s: '%s' is not a CIDR", name, v);
		(*n)++;
		return 0;
	}
	case O_CONFIG:
		rc = copy_str(opts->config, sizeof(opts->config), v);
		break;
	case O_NO_API:
	case O_VERBOSE:
	case O_DEMO: {
		bool on = true;
		if (v && parse_bool(v, &on))
			return nts_opt_fail(err, errlen, "%s: '%s' is not a boolean (true/false)",
					    name, v);
		if (id == O_NO_API)
			cfg->api_off = on;
		else if (id == O_VERBOSE)
			cfg->verbose = on;
		else
			opts->demo = on;
		return 0;
	}
	case O_HELP:
		opts->help = true;
		return 0;
	case O_VERSION:
		opts->version = true;
		return 0;
	default:
		break;
	}
	if (rc)
		return nts_opt_fail(err, errlen, "--%s: bad value '%s'", name, v);
	return 0;
}

int nts_opt_lookup(const char *name, size_t len)
{
	for (int i = 0; i < O_COUNT; i++)
		if (strlen(nts_opt_defs[i].name) == len && !memcmp(nts_opt_defs[i].name, name, len))
			return i;
	return -1;
}

void nts_options_usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: ntsd [OPTIONS]\n"
	    "STUN/TURN server. Every option is also accepted as `name = value` in --config FILE;\n"
	    "the command line overrides the file.\n\n");
	for (int i = 0; i < O_COUNT; i++) {
		char left[64];
		snprintf(left, sizeof(left), "--%s%s%s", nts_opt_defs[i].name,
			 nts_opt_defs[i].arg ? " " : "",
			 nts_opt_defs[i].arg ? nts_opt_defs[i].arg : "");
		fprintf(f, "  %-34s %s%s\n", left, nts_opt_defs[i].help,
			(nts_opt_defs[i].flags & F_REPEAT) ? "; repeatable" : "");
	}
}
