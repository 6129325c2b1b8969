/* Resolution of what options left unset (listen, relay ip, ice host) and consistency
 * checks across options; see nts_options_resolve() in options.h.
 */
#include "ntsd/options.h"
#include "util/log.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

static int resolve_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int resolve_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int nts_options_resolve(struct nts_config *cfg, char *err, size_t errlen)
{
	const struct nts_addr *concrete = NULL;
	enum nts_log_format fmt;
	char ip[NTS_ADDRSTRLEN];

	if (!cfg->nlisten) {
		nts_addr_parse(&cfg->listen[0], "0.0.0.0:3478", false);
		cfg->nlisten = 1;
	}
	for (unsigned i = 0; i < cfg->nlisten; i++) {
		const struct nts_addr *l = &cfg->listen[i];
		bool have = false;

		if (nts_addr_is_any(l))
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
			return resolve_fail(
			    err, errlen, "--external-ip %s has no --relay-ip of its family",
			    nts_addr_fmt(&cfg->external_ip[i], ip, sizeof(ip), false));
	}
	if (cfg->default_lifetime > cfg->max_lifetime)
		return resolve_fail(err, errlen, "--default-lifetime %u exceeds --max-lifetime %u",
				    cfg->default_lifetime, cfg->max_lifetime);
	if ((cfg->cert[0] || cfg->key[0] || cfg->ntls_listen) &&
	    !(cfg->cert[0] && cfg->key[0] && cfg->ntls_listen))
		return resolve_fail(err, errlen, "--tls-listen, --cert and --key go together");
	if (nts_log_format_parse(cfg->log_format, &fmt))
		return resolve_fail(err, errlen, "--log-format: '%s' is not text or json",
				    cfg->log_format);
	if (!!cfg->api_cert[0] != !!cfg->api_key[0])
		return resolve_fail(err, errlen, "--api-cert and --api-key go together");
	if (!cfg->ice_host[0]) {
		if (concrete && concrete->family == AF_INET6)
			snprintf(cfg->ice_host, sizeof(cfg->ice_host), "[%s]",
				 nts_addr_fmt(concrete, ip, sizeof(ip), false));
		else if (concrete)
			nts_addr_fmt(concrete, cfg->ice_host, sizeof(cfg->ice_host), false);
		else if (gethostname(cfg->ice_host, sizeof(cfg->ice_host) - 1) || !cfg->ice_host[0])
			strcpy(cfg->ice_host, "localhost");
	}
	return 0;
}
