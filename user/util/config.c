/* The configuration defaults; see config.h. */
#include "util/config.h"

#include <string.h>

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
