/* The account/token commands for ntsctl: over the control socket to ntsd, or directly on the
 * database file when no ntsd is running (tokens then use the database's secret and the ICE URLs
 * ntsd last published there).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "auth/auth.h"
#include "ctl/ctl.h"
#include "store/store.h"

/* An auth context signing with the database's current signing secret (what ntsd uses without
 * --secret; docs/fleet.md, "Rotating the secret"). */
static struct auth_ctx *api_offline_auth(struct nts_store *st, char *err, size_t errlen)
{
	char secret[STORE_SECRET_LEN + 1];
	const char *secrets[1] = {secret};
	struct auth_ctx *auth;
	int rc = store_signing_secret_current(st, (int64_t)time(NULL), secret, sizeof(secret));

	if (rc) {
		snprintf(err, errlen, "cannot load the signing secret: %s", strerror(-rc));
		return NULL;
	}
	auth = auth_create("nts", secrets, 1, NULL, 0);
	explicit_bzero(secret, sizeof(secret));
	if (!auth)
		snprintf(err, errlen, "out of memory");
	return auth;
}

/* Without ntsd the API's address is unknown: the default --api-listen (util/config.c), unless
 * args has "base". */
static json_t *api_offline_diag_link(struct nts_store *st, json_t *args, char *err, size_t errlen)
{
	struct nts_config *defaults = malloc(sizeof(*defaults));
	char base[NTS_ADDRSTRLEN + 16], where[NTS_ADDRSTRLEN];
	struct auth_ctx *auth;
	json_t *r;

	if (!defaults) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	nts_config_defaults(defaults);
	snprintf(base, sizeof(base), "http://%s",
		 nts_addr_fmt(&defaults->api_listen, where, sizeof(where), true));
	free(defaults);
	auth = api_offline_auth(st, err, errlen);
	if (!auth)
		return NULL;
	r = api_cmd_diag_link(st, auth, base, args, err, errlen);
	auth_destroy(auth);
	return r;
}

static json_t *api_offline_token(struct nts_store *st, json_t *args, char *err, size_t errlen)
{
	char secret[STORE_SECRET_LEN + 1], text[API_MAX_ICE_URLS * API_ICE_URL_LEN];
	const char *secrets[1] = {secret};
	struct api_ice_urls u = {.n = 0};
	struct auth_ctx *auth;
	json_t *tok;
	int rc = store_signing_secret_current(st, (int64_t)time(NULL), secret, sizeof(secret));

	if (rc) {
		snprintf(err, errlen, "cannot load the signing secret: %s", strerror(-rc));
		return NULL;
	}
	/* Without a published list (ntsd never ran on this database) the token has no servers. */
	if (store_setting_get(st, "ice_urls", text, sizeof(text)) == 0)
		api_ice_urls_load(text, &u);
	auth = auth_create("nts", secrets, 1, NULL, 0);
	explicit_bzero(secret, sizeof(secret));
	if (!auth) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	tok = api_cmd_token_create(st, auth, &u, NULL, args, err, errlen);
	auth_destroy(auth);
	return tok;
}

json_t *api_cmd_offline(const char *db, const char *cmd, json_t *args, char *err, size_t errlen)
{
	struct nts_store *st;
	json_t *r = NULL;
	int rc = store_open(db, &st);

	if (rc) {
		snprintf(err, errlen, "cannot open the database %s: %s", db, strerror(-rc));
		return NULL;
	}
	if (strcmp(cmd, "usage") == 0)
		r = api_cmd_usage(st, args, err, errlen);
	else if (strcmp(cmd, "account-create") == 0)
		r = api_cmd_account_create(st, args, err, errlen);
	else if (strcmp(cmd, "account-list") == 0)
		r = api_cmd_account_list(st, args, err, errlen);
	else if (strcmp(cmd, "account-suspend") == 0)
		r = api_cmd_account_status(st, args, true, err, errlen);
	else if (strcmp(cmd, "account-activate") == 0)
		r = api_cmd_account_status(st, args, false, err, errlen);
	else if (strcmp(cmd, "account-close") == 0)
		r = api_cmd_account_close(st, args, err, errlen);
	else if (strcmp(cmd, "account-set") == 0)
		r = api_cmd_account_set(st, args, err, errlen);
	else if (strcmp(cmd, "token-create") == 0)
		r = api_offline_token(st, args, err, errlen);
	else if (strcmp(cmd, "diag-link") == 0)
		r = api_offline_diag_link(st, args, err, errlen);
	else if (strcmp(cmd, "key-create") == 0)
		r = api_cmd_key_create(st, args, err, errlen);
	else if (strcmp(cmd, "key-list") == 0)
		r = api_cmd_key_list(st, args, err, errlen);
	else if (strcmp(cmd, "key-delete") == 0)
		r = api_cmd_key_delete(st, args, err, errlen);
	else if (strcmp(cmd, "fleet") == 0)
		r = api_cmd_fleet(st, args, (int64_t)time(NULL), err, errlen);
	else if (strcmp(cmd, "secret-rotate") == 0)
		r = api_cmd_secret_rotate(st, args, (int64_t)time(NULL), err, errlen);
	else
		snprintf(err, errlen, "unknown command %s", cmd);
	store_close(st);
	return r;
}

json_t *api_cmd_call(const char *ctl_socket, const char *db, const char *cmd, json_t *args,
		     int timeout_ms, char *err, size_t errlen)
{
	json_t *r = NULL;
	int rc = ctl_call(ctl_socket, cmd, args, timeout_ms, &r, err, errlen);

	if (rc == -ECONNREFUSED || rc == -ENOENT)
		return api_cmd_offline(db, cmd, args, err, errlen);
	if (rc == -EPROTO)
		return NULL; /* ntsd's error message is in err */
	if (rc)
		snprintf(err, errlen, "%s: %s", ctl_socket, strerror(-rc));
	return r;
}
