/* ntsd configuration: the options of DESIGN.md, from the command line and `--config FILE`.
 * Parsing lives in user/net/options.c; this header is the one definition every module reads.
 */
#ifndef NTS_UTIL_CONFIG_H
#define NTS_UTIL_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "util/addr.h"

#define NTS_MAX_LISTEN 16
#define NTS_MAX_SECRETS 8
#define NTS_MAX_USERS 64
#define NTS_MAX_PEER_RULES 64

struct nts_static_user {
	char name[128];
	char password[128];
};

struct nts_config {
	struct nts_addr listen[NTS_MAX_LISTEN]; /* UDP+TCP; default 0.0.0.0:3478 */
	unsigned nlisten;
	struct nts_addr tls_listen[NTS_MAX_LISTEN];
	unsigned ntls_listen;
	char cert[256], key[256];
	struct nts_addr relay_ip[2];            /* at most one per family */
	unsigned nrelay_ip;
	struct nts_addr external_ip[2];         /* advertised instead of relay_ip, per family */
	unsigned nexternal_ip;
	uint16_t relay_port_min, relay_port_max; /* default 49152-65535 */
	char realm[128];                         /* default "nts" */
	char secrets[NTS_MAX_SECRETS][256];      /* first signs, all verify; empty: from the DB */
	unsigned nsecrets;
	struct nts_static_user users[NTS_MAX_USERS];
	unsigned nusers;
	struct nts_cidr allow_peer[NTS_MAX_PEER_RULES];
	unsigned nallow_peer;
	struct nts_cidr deny_peer[NTS_MAX_PEER_RULES];
	unsigned ndeny_peer;
	struct nts_addr api_listen;              /* default 127.0.0.1:8080; port 0 with api_off */
	bool api_off;
	char api_cert[256], api_key[256];
	char ice_host[256];                      /* default: the first listen address */
	char db[256];                            /* default var/nts.db */
	char ctl_socket[256];                    /* default /run/nts/ntsd.sock */
	char pin_dir[256];                       /* default /sys/fs/bpf/nts */
	/* Limits (all have long options too). */
	uint32_t max_allocations_per_user;       /* 486 past this; default 10 */
	uint32_t max_allocations;                /* total; default 65536 */
	uint32_t default_lifetime, max_lifetime; /* 600, 3600 s */
	uint32_t unauth_rate;                    /* unauthenticated requests per second per source; 50 */
	uint32_t max_tcp_connections, max_tcp_per_source;
	uint32_t tcp_idle_timeout;               /* seconds */
	uint32_t tcp_connect_timeout;            /* s, RFC 6062 connect/ConnectionBind deadline; 30 */
	uint32_t fastpath_channels;              /* map size; default 262144 */
	uint32_t udp_buffer;                     /* SO_RCVBUF/SO_SNDBUF of UDP listens; 0: kernel's */
	uint32_t relay_buffer;                   /* same for each relay socket */
	char software[64];                       /* SOFTWARE attribute; default "nts/<version>" */
	int verbose;                             /* 0 info, 1 debug */
};

#define NTS_VERSION "0.1.0"

/* Fills cfg with the documented defaults (listen and relay ip left empty: resolved after parsing). */
void nts_config_defaults(struct nts_config *cfg);

#endif
