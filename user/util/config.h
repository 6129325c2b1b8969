/* ntsd configuration: struct nts_config, the one definition every module reads, and the table of
 * options (name, kind, field, bounds, default, help) that fills it. The syntax of the command line
 * and of `--config FILE` lives in user/ntsd/options*.c; ntsctl reads its defaults from here too.
 */
#ifndef NTS_UTIL_CONFIG_H
#define NTS_UTIL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/addr.h"

#define NTS_MAX_LISTEN 16
#define NTS_MAX_WORKERS 64 /* --workers; the steering map's size (bpf/reuseport.bpf.c) */
#define NTS_MAX_SECRETS 8
#define NTS_MAX_USERS 64
#define NTS_MAX_PEER_RULES 64
#define NTS_MAX_API_HOSTS 8

struct nts_static_user {
	char name[128];
	char password[128];
};

/* Defaults and bounds: the option table, nts_opt_defs in config.c. */
struct nts_config {
	struct nts_addr listen[NTS_MAX_LISTEN]; /* UDP+TCP; resolved to 0.0.0.0:3478 if none */
	unsigned nlisten;
	struct nts_addr tls_listen[NTS_MAX_LISTEN];
	unsigned ntls_listen;
	char cert[256], key[256];
	struct nts_addr relay_ip[2]; /* at most one per family */
	unsigned nrelay_ip;
	struct nts_addr external_ip[2]; /* advertised instead of relay_ip, per family */
	unsigned nexternal_ip;
	uint16_t relay_port_min, relay_port_max;
	char realm[128];
	char secrets[NTS_MAX_SECRETS][256]; /* first signs, all verify; empty: from the DB */
	unsigned nsecrets;
	struct nts_static_user users[NTS_MAX_USERS];
	unsigned nusers;
	struct nts_cidr allow_peer[NTS_MAX_PEER_RULES];
	unsigned nallow_peer;
	struct nts_cidr deny_peer[NTS_MAX_PEER_RULES];
	unsigned ndeny_peer;
	struct nts_addr api_listen;
	bool api_off;
	char api_cert[256], api_key[256];
	char api_host[NTS_MAX_API_HOSTS]
		     [256]; /* Host names the API answers; empty: see api_route.c */
	unsigned napi_host;
	char ice_host[256]; /* resolved to the first listen address if unset */
	char db[256];
	char ctl_socket[256];
	char pin_dir[256];
	char run_as[128]; /* USER[:GROUP] to become after start; "" stays root */
	/* Limits (all have long options too). */
	uint32_t max_allocations_per_user;    /* 486 past this */
	uint32_t max_allocations;	      /* total */
	uint32_t max_allocations_per_account; /* 486 past this, over all the account's users */
	uint32_t token_rate, token_burst;     /* tokens minted per second per account, bucket */
	bool strict_expiry; /* allocations end when their ephemeral credential expires */
	uint32_t default_lifetime, max_lifetime; /* seconds */
	uint32_t unauth_rate; /* unauthenticated requests per second per source */
	uint32_t max_tcp_connections, max_tcp_per_source;
	uint32_t tcp_idle_timeout;    /* seconds */
	uint32_t auth_timeout;	      /* seconds a stream may live without an allocation */
	uint32_t tcp_connect_timeout; /* s, RFC 6062 connect and ConnectionBind deadline */
	uint32_t fastpath_channels;   /* map size */
	uint32_t udp_buffer;	      /* SO_RCVBUF/SO_SNDBUF of UDP listens; 0: kernel's */
	uint32_t relay_buffer;	      /* same for each relay socket */
	char software[64];	      /* SOFTWARE attribute */
	bool verbose;		      /* log debug messages */
	/* Operations: logging and reload. */
	char log_format[8]; /* "text" or "json" (checked by nts_options_resolve()) */
	/* Protocol: RFC 5780 NAT behaviour discovery. */
	struct nts_addr alt_ip[2]; /* second address per family; none: discovery off */
	unsigned nalt_ip;
	/* Bandwidth limits (README "Bandwidth limits"): application bytes and datagrams per second
	 * each way per allocation, on both relay paths; 0: none. */
	uint32_t max_bps_per_allocation, max_pps_per_allocation;
	/* Relay workers (docs/architecture.md "Threading model"): event loops on their own threads;
	 * 0 until resolved: one per online CPU. */
	uint32_t workers;
	/* Fleet (docs/fleet.md): this node's name and region in the registry of the shared
	 * database, and the share of --max-allocations past which Allocate is redirected. */
	char node_name[64]; /* "": the host name */
	char region[64];    /* "": none */
	uint32_t shed_at;   /* percent */
	/* Relay CPU cost (README "Performance"): relay loops run as SCHED_BATCH unless set. */
	bool relay_preempt;
};

#define NTS_VERSION "0.1.0"

/* clang-format off */
enum nts_opt_id {
	NTS_OPT_LISTEN, NTS_OPT_TLS_LISTEN, NTS_OPT_CERT, NTS_OPT_KEY, NTS_OPT_RELAY_IP,
	NTS_OPT_EXTERNAL_IP, NTS_OPT_RELAY_PORTS, NTS_OPT_REALM, NTS_OPT_SECRET, NTS_OPT_USER,
	NTS_OPT_ALLOW_PEER, NTS_OPT_DENY_PEER, NTS_OPT_API_LISTEN, NTS_OPT_API_CERT, NTS_OPT_API_KEY,
	NTS_OPT_NO_API, NTS_OPT_ICE_HOST, NTS_OPT_DB, NTS_OPT_CTL_SOCKET, NTS_OPT_PIN_DIR,
	NTS_OPT_MAX_ALLOC_USER, NTS_OPT_MAX_ALLOC, NTS_OPT_MAX_ALLOC_ACCOUNT, NTS_OPT_TOKEN_RATE,
	NTS_OPT_TOKEN_BURST, NTS_OPT_STRICT_EXPIRY, NTS_OPT_DEFAULT_LIFETIME, NTS_OPT_MAX_LIFETIME,
	NTS_OPT_UNAUTH_RATE, NTS_OPT_MAX_TCP, NTS_OPT_MAX_TCP_SOURCE, NTS_OPT_TCP_IDLE,
	NTS_OPT_TCP_CONNECT_TIMEOUT,
	NTS_OPT_FP_CHANNELS, NTS_OPT_UDP_BUFFER, NTS_OPT_RELAY_BUFFER, NTS_OPT_SOFTWARE,
	NTS_OPT_AUTH_TIMEOUT, NTS_OPT_API_HOST, NTS_OPT_SECRET_FILE, NTS_OPT_USER_FILE,
	NTS_OPT_RUN_AS, NTS_OPT_VERBOSE, NTS_OPT_DEMO, NTS_OPT_CONFIG, NTS_OPT_HELP, NTS_OPT_VERSION,
	/* Operations: logging and reload. */
	NTS_OPT_LOG_FORMAT,
	/* protocol */
	NTS_OPT_ALT_IP,
	/* bandwidth limits */
	NTS_OPT_MAX_BPS_ALLOC, NTS_OPT_MAX_PPS_ALLOC,
	/* relay workers */
	NTS_OPT_WORKERS,
	/* fleet */
	NTS_OPT_NODE_NAME, NTS_OPT_REGION, NTS_OPT_SHED_AT,
	/* relay CPU cost */
	NTS_OPT_RELAY_PREEMPT,
	NTS_OPT_COUNT
};
/* clang-format on */

/* How an option's value is read and where it goes (user/ntsd/options.c has one setter per kind). */
enum nts_opt_kind {
	NTS_KIND_STR,	      /* text into char[size] at off */
	NTS_KIND_U32,	      /* uint32_t at off, within [min, max] */
	NTS_KIND_BOOL,	      /* bool at off: bare flag, or true/false */
	NTS_KIND_API_LISTEN,  /* ADDR:PORT at off; giving it undoes --no-api */
	NTS_KIND_PORTS,	      /* MIN-MAX into the uint16_t at off and the one at count_off */
	NTS_KIND_ADDR_LIST,   /* ADDR:PORT appended to the array at off */
	NTS_KIND_FAMILY_ADDR, /* an IP (no port) appended to the array at off, one per family */
	NTS_KIND_STR_LIST,    /* text appended to the char[][size] array at off */
	NTS_KIND_USER_LIST, /* NAME:PASSWORD appended to the struct nts_static_user array at off */
	NTS_KIND_CIDR_LIST, /* CIDR appended to the struct nts_cidr array at off */
	NTS_KIND_SECRET_FILE, /* a file of secrets, one per line, appended to the STR_LIST at off */
	NTS_KIND_USER_FILE,   /* a file of NAME:PASSWORD lines, appended to the USER_LIST at off */
	NTS_KIND_DAEMON, /* ntsd's own (--demo, --config, --help, --version): not in nts_config */
};

enum nts_opt_flag {
	NTS_OPT_ARG = 1,     /* takes a value */
	NTS_OPT_REPEAT = 2,  /* repeatable: values accumulate (lists) */
	NTS_OPT_CMDLINE = 4, /* command line only (not in a config file) */
	/* A reload (SIGHUP, ntsctl reload) applies a new value to the running daemon: the modules
	 * read the field live from the daemon's nts_config, or user/ntsd/reload.c hands it to them.
	 * Any other option that changes is reported as needing a restart and keeps its running
	 * value. */
	NTS_OPT_RELOADABLE = 8,
	NTS_OPT_PERCENT = 16, /* U32: the value may end with '%' (--shed-at 90%) */
};

/* One option: the command line (--name), the config file (name = value), --help and the defaults
 * all come from this row. */
struct nts_opt_def {
	const char *name;
	enum nts_opt_kind kind;
	unsigned flags;	   /* enum nts_opt_flag */
	const char *arg;   /* the value's placeholder in --help; NULL for a flag */
	const char *help;  /* --help adds "(default X)" for options with a default */
	size_t off;	   /* the field in struct nts_config (lists: the array) */
	size_t size;	   /* STR: the field's size; lists: one element's size */
	size_t count_off;  /* lists: their unsigned count; PORTS: the upper bound's field */
	unsigned cap;	   /* lists: how many elements the array holds */
	uint32_t min, max; /* U32: the value's bounds */
	bool has_default;
	union {
		const char *str;   /* STR; API_LISTEN as ADDR:PORT */
		uint32_t u32;	   /* U32 */
		uint16_t ports[2]; /* PORTS: min, max */
	} def;
};

extern const struct nts_opt_def nts_opt_defs[NTS_OPT_COUNT];

/* Fills cfg with the defaults of nts_opt_defs (listen, relay ip and ice host stay empty: they
 * are resolved after parsing, see user/ntsd/options.h). */
void nts_config_defaults(struct nts_config *cfg);

#endif
