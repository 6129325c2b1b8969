/* ntsd options: one table drives the command line, the config file and the help text; see options.h. */
#include "net/options.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum opt_id {
	O_LISTEN, O_TLS_LISTEN, O_CERT, O_KEY, O_RELAY_IP, O_EXTERNAL_IP, O_RELAY_PORTS, O_REALM,
	O_SECRET, O_USER, O_ALLOW_PEER, O_DENY_PEER, O_API_LISTEN, O_API_CERT, O_API_KEY, O_NO_API,
	O_ICE_HOST, O_DB, O_CTL_SOCKET, O_PIN_DIR, O_MAX_ALLOC_USER, O_MAX_ALLOC, O_DEFAULT_LIFETIME,
	O_MAX_LIFETIME, O_UNAUTH_RATE, O_MAX_TCP, O_MAX_TCP_SOURCE, O_TCP_IDLE, O_FP_CHANNELS,
	O_SOFTWARE, O_VERBOSE, O_DEMO, O_CONFIG, O_HELP, O_VERSION, O_COUNT
};

enum opt_flag {
	F_ARG = 1,        /* takes a value */
	F_REPEAT = 2,     /* repeatable: values accumulate */
	F_CMDLINE = 4,    /* command line only (not in a config file) */
};

static const struct opt_def {
	const char *name;
	unsigned flags;
	const char *arg;
	const char *help;
} opt_defs[O_COUNT] = {
	[O_LISTEN] = { "listen", F_ARG | F_REPEAT, "ADDR:PORT", "STUN/TURN on UDP and TCP (default 0.0.0.0:3478)" },
	[O_TLS_LISTEN] = { "tls-listen", F_ARG | F_REPEAT, "ADDR:PORT", "STUN/TURN over TLS" },
	[O_CERT] = { "cert", F_ARG, "FILE", "TLS certificate chain (PEM)" },
	[O_KEY] = { "key", F_ARG, "FILE", "TLS private key (PEM)" },
	[O_RELAY_IP] = { "relay-ip", F_ARG | F_REPEAT, "ADDR", "relay address, one per family (default: listen address)" },
	[O_EXTERNAL_IP] = { "external-ip", F_ARG | F_REPEAT, "ADDR", "advertised relay address behind 1:1 NAT" },
	[O_RELAY_PORTS] = { "relay-ports", F_ARG, "MIN-MAX", "relay port range (default 49152-65535)" },
	[O_REALM] = { "realm", F_ARG, "NAME", "realm (default nts)" },
	[O_SECRET] = { "secret", F_ARG | F_REPEAT, "S", "ephemeral-credential secret; first signs, all verify" },
	[O_USER] = { "user", F_ARG | F_REPEAT, "NAME:PASSWORD", "static long-term user" },
	[O_ALLOW_PEER] = { "allow-peer", F_ARG | F_REPEAT, "CIDR", "allow peers in CIDR despite the default deny list" },
	[O_DENY_PEER] = { "deny-peer", F_ARG | F_REPEAT, "CIDR", "deny peers in CIDR" },
	[O_API_LISTEN] = { "api-listen", F_ARG, "ADDR:PORT", "token API and /metrics (default 127.0.0.1:8080)" },
	[O_API_CERT] = { "api-cert", F_ARG, "FILE", "serve the API over HTTPS with this certificate" },
	[O_API_KEY] = { "api-key", F_ARG, "FILE", "private key for --api-cert" },
	[O_NO_API] = { "no-api", 0, NULL, "do not start the token API" },
	[O_ICE_HOST] = { "ice-host", F_ARG, "HOST", "host put in issued ICE server URLs (default: listen address)" },
	[O_DB] = { "db", F_ARG, "PATH", "SQLite database (default var/nts.db)" },
	[O_CTL_SOCKET] = { "ctl-socket", F_ARG, "PATH", "control socket (default /run/nts/ntsd.sock)" },
	[O_PIN_DIR] = { "pin-dir", F_ARG, "DIR", "bpffs folder of the fast-path maps (default /sys/fs/bpf/nts)" },
	[O_MAX_ALLOC_USER] = { "max-allocations-per-user", F_ARG, "N", "allocations per user (default 10)" },
	[O_MAX_ALLOC] = { "max-allocations", F_ARG, "N", "allocations in total (default 65536)" },
	[O_DEFAULT_LIFETIME] = { "default-lifetime", F_ARG, "SECONDS", "allocation lifetime (default 600)" },
	[O_MAX_LIFETIME] = { "max-lifetime", F_ARG, "SECONDS", "largest lifetime granted (default 3600)" },
	[O_UNAUTH_RATE] = { "unauth-rate", F_ARG, "N", "unauthenticated requests/s per source (default 50)" },
	[O_MAX_TCP] = { "max-tcp-connections", F_ARG, "N", "client TCP/TLS connections (default 4096)" },
	[O_MAX_TCP_SOURCE] = { "max-tcp-per-source", F_ARG, "N", "client connections per source IP (default 64)" },
	[O_TCP_IDLE] = { "tcp-idle-timeout", F_ARG, "SECONDS", "close idle client connections (default 300)" },
	[O_FP_CHANNELS] = { "fastpath-channels", F_ARG, "N", "fast-path channel map size (default 262144)" },
	[O_SOFTWARE] = { "software", F_ARG, "TEXT", "SOFTWARE attribute (default nts/" NTS_VERSION ")" },
	[O_VERBOSE] = { "verbose", 0, NULL, "log debug messages" },
	[O_DEMO] = { "demo", 0, NULL, "ensure a demo account and print how to use it" },
	[O_CONFIG] = { "config", F_ARG | F_CMDLINE, "FILE", "read `name = value` options from FILE" },
	[O_HELP] = { "help", F_CMDLINE, NULL, "print this help" },
	[O_VERSION] = { "version", F_CMDLINE, NULL, "print the version" },
};

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
}

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
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
	if (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on"))
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

/* Applies one option value; fresh is true for the first occurrence in this source (clears lists). */
static int opt_apply(struct nts_config *cfg, struct nts_options *opts, enum opt_id id,
		     const char *v, bool fresh, char *err, size_t errlen)
{
	const char *name = opt_defs[id].name;
	struct nts_addr a;
	int rc = 0;

	if (fresh && (opt_defs[id].flags & F_REPEAT)) {
		switch (id) {
		case O_LISTEN: cfg->nlisten = 0; break;
		case O_TLS_LISTEN: cfg->ntls_listen = 0; break;
		case O_RELAY_IP: cfg->nrelay_ip = 0; break;
		case O_EXTERNAL_IP: cfg->nexternal_ip = 0; break;
		case O_SECRET: cfg->nsecrets = 0; break;
		case O_USER: cfg->nusers = 0; break;
		case O_ALLOW_PEER: cfg->nallow_peer = 0; break;
		case O_DENY_PEER: cfg->ndeny_peer = 0; break;
		default: break;
		}
	}
	switch (id) {
	case O_LISTEN:
	case O_TLS_LISTEN: {
		bool tls = id == O_TLS_LISTEN;
		unsigned *n = tls ? &cfg->ntls_listen : &cfg->nlisten;
		if (nts_addr_parse(&a, v, false) || !a.port)
			return fail(err, errlen, "--%s: '%s' is not ADDR:PORT (IPv6 as [ADDR]:PORT)", name, v);
		if (*n >= NTS_MAX_LISTEN)
			return fail(err, errlen, "--%s: at most %d addresses", name, NTS_MAX_LISTEN);
		(tls ? cfg->tls_listen : cfg->listen)[(*n)++] = a;
		return 0;
	}
	case O_API_LISTEN:
		if (nts_addr_parse(&a, v, false) || !a.port)
			return fail(err, errlen, "--%s: '%s' is not ADDR:PORT", name, v);
		cfg->api_listen = a;
		cfg->api_off = false;
		return 0;
	case O_RELAY_IP:
	case O_EXTERNAL_IP:
		rc = id == O_RELAY_IP ? add_family_addr(cfg->relay_ip, &cfg->nrelay_ip, v)
				      : add_family_addr(cfg->external_ip, &cfg->nexternal_ip, v);
		if (rc == -EEXIST)
			return fail(err, errlen, "--%s: one address per family", name);
		if (rc)
			return fail(err, errlen, "--%s: '%s' is not an IP address", name, v);
		return 0;
	case O_RELAY_PORTS:
		if (parse_ports(v, &cfg->relay_port_min, &cfg->relay_port_max))
			return fail(err, errlen, "--%s: '%s' is not MIN-MAX within 1-65535", name, v);
		return 0;
	case O_SECRET:
		if (cfg->nsecrets >= NTS_MAX_SECRETS)
			return fail(err, errlen, "--%s: at most %d secrets", name, NTS_MAX_SECRETS);
		if (copy_str(cfg->secrets[cfg->nsecrets], sizeof(cfg->secrets[0]), v))
			return fail(err, errlen, "--%s: empty or longer than %zu bytes", name,
				    sizeof(cfg->secrets[0]) - 1);
		cfg->nsecrets++;
		return 0;
	case O_USER: {
		const char *colon = strchr(v, ':');
		struct nts_static_user *u = &cfg->users[cfg->nusers];
		size_t nl = colon ? (size_t)(colon - v) : 0;
		if (cfg->nusers >= NTS_MAX_USERS)
			return fail(err, errlen, "--%s: at most %d users", name, NTS_MAX_USERS);
		if (!colon || nl == 0 || nl >= sizeof(u->name) ||
		    copy_str(u->password, sizeof(u->password), colon + 1))
			return fail(err, errlen, "--%s: expected NAME:PASSWORD (each 1-127 bytes)", name);
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
			return fail(err, errlen, "--%s: at most %d rules", name, NTS_MAX_PEER_RULES);
		if (nts_cidr_parse(&(allow ? cfg->allow_peer : cfg->deny_peer)[*n], v))
			return fail(err, errlen, "--%s: '%s' is not a CIDR", name, v);
		(*n)++;
		return 0;
	}
	case O_CERT: rc = copy_str(cfg->cert, sizeof(cfg->cert), v); break;
	case O_KEY: rc = copy_str(cfg->key, sizeof(cfg->key), v); break;
	case O_REALM: rc = copy_str(cfg->realm, sizeof(cfg->realm), v); break;
	case O_API_CERT: rc = copy_str(cfg->api_cert, sizeof(cfg->api_cert), v); break;
	case O_API_KEY: rc = copy_str(cfg->api_key, sizeof(cfg->api_key), v); break;
	case O_ICE_HOST: rc = copy_str(cfg->ice_host, sizeof(cfg->ice_host), v); break;
	case O_DB: rc = copy_str(cfg->db, sizeof(cfg->db), v); break;
	case O_CTL_SOCKET: rc = copy_str(cfg->ctl_socket, sizeof(cfg->ctl_socket), v); break;
	case O_PIN_DIR: rc = copy_str(cfg->pin_dir, sizeof(cfg->pin_dir), v); break;
	case O_SOFTWARE: rc = copy_str(cfg->software, sizeof(cfg->software), v); break;
	case O_CONFIG: rc = copy_str(opts->config, sizeof(opts->config), v); break;
	case O_MAX_ALLOC_USER: rc = parse_u32(v, 1, 1000000, &cfg->max_allocations_per_user); break;
	case O_MAX_ALLOC: rc = parse_u32(v, 1, 10000000, &cfg->max_allocations); break;
	case O_DEFAULT_LIFETIME: rc = parse_u32(v, 60, 86400, &cfg->default_lifetime); break;
	case O_MAX_LIFETIME: rc = parse_u32(v, 60, 86400, &cfg->max_lifetime); break;
	case O_UNAUTH_RATE: rc = parse_u32(v, 1, 10000000, &cfg->unauth_rate); break;
	case O_MAX_TCP: rc = parse_u32(v, 1, 1000000, &cfg->max_tcp_connections); break;
	case O_MAX_TCP_SOURCE: rc = parse_u32(v, 1, 1000000, &cfg->max_tcp_per_source); break;
	case O_TCP_IDLE: rc = parse_u32(v, 1, 86400, &cfg->tcp_idle_timeout); break;
	case O_FP_CHANNELS: rc = parse_u32(v, 1, 16777216, &cfg->fastpath_channels); break;
	case O_NO_API:
	case O_VERBOSE:
	case O_DEMO: {
		bool on = true;
		if (v && parse_bool(v, &on))
			return fail(err, errlen, "%s: '%s' is not a boolean (true/false)", name, v);
		if (id == O_NO_API)
			cfg->api_off = on;
		else if (id == O_VERBOSE)
			cfg->verbose = on;
		else
			opts->demo = on;
		return 0;
	}
	case O_HELP: opts->help = true; return 0;
	case O_VERSION: opts->version = true; return 0;
	case O_COUNT: break;
	}
	if (rc)
		return fail(err, errlen, "--%s: bad value '%s'", name, v);
	return 0;
}

static int opt_lookup(const char *name, size_t len)
{
	for (int i = 0; i < O_COUNT; i++)
		if (strlen(opt_defs[i].name) == len && !memcmp(opt_defs[i].name, name, len))
			return i;
	return -1;
}

static void trim(const char **s, const char **e)
{
	while (*s < *e && (**s == ' ' || **s == '\t' || **s == '\r'))
		(*s)++;
	while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t' || (*e)[-1] == '\r'))
		(*e)--;
}

int nts_config_parse_buffer(struct nts_config *cfg, struct nts_options *opts, const char *buf,
			    size_t len, const char *origin, char *err, size_t errlen)
{
	bool seen[O_COUNT] = { 0 };
	struct nts_options dummy = { 0 };
	const char *p = buf, *end = buf + len;
	unsigned lineno = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end, *ks = p, *ke, *vs = NULL, *ve = NULL, *hash;
		char value[1024], msg[256];
		int id, rc;

		lineno++;
		p = nl ? nl + 1 : end;
		hash = memchr(ks, '#', (size_t)(le - ks));
		if (hash)
			le = hash;
		ke = memchr(ks, '=', (size_t)(le - ks));
		if (ke) {
			vs = ke + 1;
			ve = le;
			trim(&vs, &ve);
		} else {
			ke = le;
		}
		trim(&ks, &ke);
		if (ks == ke && !vs)
			continue; /* blank or comment-only line */
		if (memchr(ks, 0, (size_t)(le - ks)))
			return fail(err, errlen, "%s:%u: NUL byte", origin, lineno);
		id = opt_lookup(ks, (size_t)(ke - ks));
		if (id < 0 || (opt_defs[id].flags & F_CMDLINE))
			return fail(err, errlen, "%s:%u: unknown option '%.*s'", origin, lineno,
				    (int)(ke - ks > 64 ? 64 : ke - ks), ks);
		if ((opt_defs[id].flags & F_ARG) && (!vs || vs == ve))
			return fail(err, errlen, "%s:%u: %s needs a value", origin, lineno,
				    opt_defs[id].name);
		if (vs && (size_t)(ve - vs) >= sizeof(value))
			return fail(err, errlen, "%s:%u: value too long", origin, lineno);
		if (vs) {
			memcpy(value, vs, (size_t)(ve - vs));
			value[ve - vs] = 0;
		}
		if (!(opt_defs[id].flags & F_REPEAT) && seen[id])
			return fail(err, errlen, "%s:%u: %s given twice", origin, lineno,
				    opt_defs[id].name);
		rc = opt_apply(cfg, opts ? opts : &dummy, id, vs ? value : NULL, !seen[id], msg, sizeof(msg));
		seen[id] = true;
		if (rc)
			return fail(err, errlen, "%s:%u: %s", origin, lineno,
				    msg[0] == '-' ? msg + 2 : msg);
	}
	return 0;
}

int nts_config_parse_file(struct nts_config *cfg, struct nts_options *opts, const char *path,
			  char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int rc;

	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "--config %s: %s", path, strerror(-rc));
		return rc;
	}
	for (;;) {
		if (len == cap) {
			char *nb;
			if (cap >= (1u << 20)) {
				fclose(f);
				free(buf);
				return fail(err, errlen, "--config %s: larger than 1 MiB", path);
			}
			cap = cap ? cap * 2 : 4096;
			nb = realloc(buf, cap);
			if (!nb) {
				fclose(f);
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
		}
		size_t n = fread(buf + len, 1, cap - len, f);
		if (n == 0)
			break;
		len += n;
	}
	rc = ferror(f) ? -EIO : 0;
	fclose(f);
	if (rc)
		snprintf(err, errlen, "--config %s: read error", path);
	else
		rc = nts_config_parse_buffer(cfg, opts, buf ? buf : "", len, path, err, errlen);
	free(buf);
	return rc;
}

/* Splits "--name[=value]" into the option id and an inline value; -1 if unknown. */
static int cmdline_lookup(const char *arg, const char **inline_value)
{
	const char *name = arg + 2, *eq;

	*inline_value = NULL;
	if (!strcmp(arg, "-h"))
		return O_HELP;
	if (!strcmp(arg, "-V"))
		return O_VERSION;
	if (!strcmp(arg, "-v"))
		return O_VERBOSE;
	if (strncmp(arg, "--", 2) != 0)
		return -1;
	eq = strchr(name, '=');
	if (eq)
		*inline_value = eq + 1;
	return opt_lookup(name, eq ? (size_t)(eq - name) : strlen(name));
}

/* One pass over argv; with only_config, just finds --config (and reports unknown options). */
static int cmdline_pass(struct nts_config *cfg, struct nts_options *opts, int argc, char **argv,
			bool only_config, char *err, size_t errlen)
{
	bool seen[O_COUNT] = { 0 };

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *v;
		int id = cmdline_lookup(arg, &v);

		if (id < 0)
			return fail(err, errlen, arg[0] == '-' ? "unknown option '%s'"
							       : "unexpected argument '%s'", arg);
		if ((opt_defs[id].flags & F_ARG) && !v) {
			if (i + 1 >= argc)
				return fail(err, errlen, "--%s needs a value (%s)", opt_defs[id].name,
					    opt_defs[id].arg);
			v = argv[++i];
		} else if (!(opt_defs[id].flags & F_ARG) && v) {
			return fail(err, errlen, "--%s takes no value", opt_defs[id].name);
		}
		if (only_config != (id == O_CONFIG))
			continue;
		int rc = opt_apply(cfg, opts, (enum opt_id)id, v, !seen[id], err, errlen);
		seen[id] = true;
		if (rc)
			return rc;
	}
	return 0;
}

int nts_options_parse(struct nts_config *cfg, struct nts_options *opts, int argc, char **argv,
		      char *err, size_t errlen)
{
	int rc;

	memset(opts, 0, sizeof(*opts));
	rc = cmdline_pass(cfg, opts, argc, argv, true, err, errlen);
	if (rc)
		return rc;
	if (opts->config[0]) {
		rc = nts_config_parse_file(cfg, opts, opts->config, err, errlen);
		if (rc)
			return -EINVAL;
	}
	return cmdline_pass(cfg, opts, argc, argv, false, err, errlen);
}

static bool addr_is_wildcard(const struct nts_addr *a)
{
	static const uint8_t zero[16];

	return !memcmp(a->ip, zero, nts_addr_iplen(a));
}

int nts_options_resolve(struct nts_config *cfg, char *err, size_t errlen)
{
	const struct nts_addr *concrete = NULL;
	char ip[NTS_ADDRSTRLEN];

	if (!cfg->nlisten) {
		nts_addr_parse(&cfg->listen[0], "0.0.0.0:3478", false);
		cfg->nlisten = 1;
	}
	for (unsigned i = 0; i < cfg->nlisten; i++) {
		const struct nts_addr *l = &cfg->listen[i];
		bool have = false;

		if (addr_is_wildcard(l))
			continue;
		if (!concrete)
			concrete = l;
		for (unsigned j = 0; j < cfg->nrelay_ip; j++)
			have |= cfg->relay_ip[j].family == l->family;
		if (!have && cfg->nrelay_ip < 2) {
			cfg->relay_ip[cfg->nrelay_ip] = *l;
			cfg->relay_ip[cfg->nrelay_ip++].port = 0;
		}
	}
	for (unsigned i = 0; i < cfg->nexternal_ip; i++) {
		bool match = false;
		for (unsigned j = 0; j < cfg->nrelay_ip; j++)
			match |= cfg->relay_ip[j].family == cfg->external_ip[i].family;
		if (!match && cfg->nrelay_ip)
			return fail(err, errlen, "--external-ip %s has no --relay-ip of its family",
				    nts_addr_fmt(&cfg->external_ip[i], ip, sizeof(ip), false));
	}
	if (cfg->default_lifetime > cfg->max_lifetime)
		return fail(err, errlen, "--default-lifetime %u exceeds --max-lifetime %u",
			    cfg->default_lifetime, cfg->max_lifetime);
	if ((cfg->cert[0] || cfg->key[0] || cfg->ntls_listen) &&
	    !(cfg->cert[0] && cfg->key[0] && cfg->ntls_listen))
		return fail(err, errlen, "--tls-listen, --cert and --key go together");
	if (!!cfg->api_cert[0] != !!cfg->api_key[0])
		return fail(err, errlen, "--api-cert and --api-key go together");
	if (!cfg->ice_host[0]) {
		if (concrete && concrete->family == AF_INET6)
			snprintf(cfg->ice_host, sizeof(cfg->ice_host), "[%s]",
				 nts_addr_fmt(concrete, ip, sizeof(ip), false));
		else if (concrete)
			nts_addr_fmt(concrete, cfg->ice_host, sizeof(cfg->ice_host), false);
		else if (gethostname(cfg->ice_host, sizeof(cfg->ice_host) - 1) || !cfg->ice_host[0])
			strcpy(cfg->ice_host, "localhost");
	}
	if (!cfg->software[0])
		snprintf(cfg->software, sizeof(cfg->software), "nts/%s", NTS_VERSION);
	return 0;
}

void nts_options_usage(FILE *f)
{
	fprintf(f, "usage: ntsd [OPTIONS]\n"
		   "STUN/TURN server. Every option is also accepted as `name = value` in --config FILE;\n"
		   "the command line overrides the file.\n\n");
	for (int i = 0; i < O_COUNT; i++) {
		char left[64];
		snprintf(left, sizeof(left), "--%s%s%s", opt_defs[i].name, opt_defs[i].arg ? " " : "",
			 opt_defs[i].arg ? opt_defs[i].arg : "");
		fprintf(f, "  %-34s %s%s\n", left, opt_defs[i].help,
			(opt_defs[i].flags & F_REPEAT) ? "; repeatable" : "");
	}
}
