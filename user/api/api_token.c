/* Twilio's token object: ICE server URLs from what ntsd listens on, ephemeral TURN credentials. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "auth/auth.h"

static void api_ice_add(struct api_ice_urls *u, const char *scheme, const char *host, unsigned port,
			const char *transport)
{
	if (u->n >= API_MAX_ICE_URLS)
		return;
	if (transport)
		snprintf(u->url[u->n++], API_ICE_URL_LEN, "%s:%s:%u?transport=%s", scheme, host,
			 port, transport);
	else
		snprintf(u->url[u->n++], API_ICE_URL_LEN, "%s:%s:%u", scheme, host, port);
}

static bool api_has_port(const struct api_listener *l, size_t n, enum nts_transport t,
			 uint16_t port)
{
	for (size_t i = 0; i < n; i++)
		if (l[i].transport == t && l[i].port == port)
			return true;
	return false;
}

void api_ice_urls_from_listeners(const char *host, const struct api_listener *l, size_t n,
				 struct api_ice_urls *u)
{
	bool stun = false;

	u->n = 0;
	if (!host || !*host)
		host = "127.0.0.1";
	/* STUN on the first UDP port; then TURN per port in listen order, UDP before TCP. */
	for (size_t i = 0; i < n && !stun; i++) {
		if (l[i].transport == NTS_UDP && l[i].port != 443) {
			api_ice_add(u, "stun", host, l[i].port, NULL);
			stun = true;
		}
	}
	for (size_t i = 0; i < n; i++) {
		uint16_t p = l[i].port;

		if (l[i].transport == NTS_TLS || p == 443 || api_has_port(l, i, NTS_UDP, p) ||
		    api_has_port(l, i, NTS_TCP, p))
			continue; /* TLS later; 443 last; each port once */
		if (api_has_port(l, n, NTS_UDP, p))
			api_ice_add(u, "turn", host, p, "udp");
		if (api_has_port(l, n, NTS_TCP, p))
			api_ice_add(u, "turn", host, p, "tcp");
	}
	/* Twilio lists port 443 last and TCP only: that port is for clients behind strict
	 * firewalls, which pass TCP 443 and little else. */
	if (api_has_port(l, n, NTS_TCP, 443))
		api_ice_add(u, "turn", host, 443, "tcp");
	for (size_t i = 0; i < n; i++)
		if (l[i].transport == NTS_TLS && !api_has_port(l, i, NTS_TLS, l[i].port))
			api_ice_add(u, "turns", host, l[i].port, "tcp");
}

void api_ice_urls_from_config(const struct nts_config *cfg, struct api_ice_urls *u)
{
	struct api_listener l[3 * NTS_MAX_LISTEN];
	size_t n = 0;

	for (unsigned i = 0; i < cfg->nlisten; i++) {
		l[n++] = (struct api_listener){NTS_UDP, cfg->listen[i].port};
		l[n++] = (struct api_listener){NTS_TCP, cfg->listen[i].port};
	}
	if (cfg->nlisten == 0) {
		l[n++] = (struct api_listener){NTS_UDP, 3478};
		l[n++] = (struct api_listener){NTS_TCP, 3478};
	}
	for (unsigned i = 0; i < cfg->ntls_listen; i++)
		l[n++] = (struct api_listener){NTS_TLS, cfg->tls_listen[i].port};
	api_ice_urls_from_listeners(cfg->ice_host, l, n, u);
}

char *api_ice_urls_dump(const struct api_ice_urls *u)
{
	json_t *a = json_array();
	char *s;

	if (!a)
		return NULL;
	for (unsigned i = 0; i < u->n; i++)
		json_array_append_new(a, json_string(u->url[i]));
	s = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	return s;
}

int api_ice_urls_load(const char *text, struct api_ice_urls *u)
{
	json_t *a = json_loads(text, 0, NULL);
	size_t i;
	json_t *v;

	u->n = 0;
	if (!json_is_array(a)) {
		json_decref(a);
		return -EINVAL;
	}
	json_array_foreach(a, i, v)
	{
		if (!json_is_string(v) || u->n >= API_MAX_ICE_URLS ||
		    json_string_length(v) >= API_ICE_URL_LEN) {
			json_decref(a);
			return -EINVAL;
		}
		strcpy(u->url[u->n++], json_string_value(v));
	}
	json_decref(a);
	return 0;
}

/* One ice_servers entry: Twilio's legacy "url" beside "urls" (both strings), credentials on TURN.
 */
static json_t *api_ice_entry(const char *url, const char *username, const char *credential)
{
	json_t *o = json_object();
	bool turn = strncmp(url, "turn:", 5) == 0 || strncmp(url, "turns:", 6) == 0;

	if (!o)
		return NULL;
	json_object_set_new(o, "url", json_string(url));
	json_object_set_new(o, "urls", json_string(url));
	if (turn) {
		json_object_set_new(o, "username", json_string(username));
		json_object_set_new(o, "credential", json_string(credential));
	}
	return o;
}

json_t *api_token_build(struct auth_ctx *auth, const struct api_ice_urls *u, const char *sid,
			uint32_t ttl, uint64_t now, int *err)
{
	char username[AUTH_MAX_USERNAME], password[64], date[40], ttl_s[16];
	json_t *tok, *servers;

	*err = auth_make_ephemeral(auth, sid, now + ttl, username, sizeof(username), password,
				   sizeof(password));
	if (*err)
		return NULL;
	tok = json_object();
	servers = json_array();
	if (!tok || !servers) {
		json_decref(tok);
		json_decref(servers);
		*err = -ENOMEM;
		return NULL;
	}
	for (unsigned i = 0; i < u->n; i++)
		json_array_append_new(servers, api_ice_entry(u->url[i], username, password));
	api_fmt_rfc2822(now, date, sizeof(date));
	snprintf(ttl_s, sizeof(ttl_s), "%" PRIu32, ttl);
	json_object_set_new(tok, "account_sid", json_string(sid));
	json_object_set_new(tok, "date_created", json_string(date));
	json_object_set_new(tok, "date_updated", json_string(date));
	json_object_set_new(tok, "ice_servers", servers);
	json_object_set_new(tok, "password", json_string(password));
	json_object_set_new(tok, "ttl", json_string(ttl_s)); /* Twilio sends the ttl as a string */
	json_object_set_new(tok, "username", json_string(username));
	return tok;
}
