/* Control-socket commands of the API module: account-create, account-list, account-suspend,
 * account-activate, account-close, account-set, token-create, key-create, key-list, key-delete,
 * diag-link (args and results as api_cmd_* in api.h). Changes to an account also go to the account
 * hook, so the daemon applies them to live allocations at once.
 */
#include "api/api_diag.h"
#include "api/api_priv.h"
#include "ctl/ctl.h"
#include "store/store.h"

void api_set_account_hook(struct api_server *s, api_account_changed_fn fn, void *arg)
{
	s->account_changed = fn;
	s->account_changed_arg = arg;
}

/* Tells the hook about the account a command result r describes (NULL: nothing changed), and
 * about its subaccounts, whose state follows their master's. */
static json_t *api_ctl_changed(struct api_server *s, json_t *r)
{
	const char *sid = json_string_value(json_object_get(r, "sid"));

	if (r && sid)
		api_account_notify(s, sid);
	return r;
}

static json_t *api_ctl_account_create(void *arg, json_t *args, char *err, size_t errlen)
{
	struct api_server *s = arg;

	return api_cmd_account_create(s->store, args, err, errlen);
}

static json_t *api_ctl_account_list(void *arg, json_t *args, char *err, size_t errlen)
{
	struct api_server *s = arg;

	return api_cmd_account_list(s->store, args, err, errlen);
}

static json_t *api_ctl_account_suspend(void *arg, json_t *args, char *err, size_t errlen)
{
	struct api_server *s = arg;

	return api_ctl_changed(s, api_cmd_account_status(s->store, args, true, err, errlen));
}

static json_t *api_ctl_account_activate(void *arg, json_t *args, char *err, size_t errlen)
{
	struct api_server *s = arg;

	return api_ctl_changed(s, api_cmd_account_status(s->store, args, false, err, errlen));
}

static json_t *api_ctl_account_close(void *arg, json_t *args, char *err, size_t errlen)
{
	struct api_server *s = arg;

	return api_ctl_changed(s, api_cmd_account_close(s->store, args, err, errlen));
}

static json_t *api_ctl_account_set(void *arg, json_t *args, char *err, size_t errlen)
{
	struct api_server *s = arg;

	return api_ctl_changed(s, api_cmd_account_set(s->store, args, err, errlen));
}

static json_t *api_ctl_token_create(void *arg, json_t *args, char *err, size_t errlen)
{
	struct api_server *s = arg;

	return api_cmd_token_create(s->store, s->auth, &s->ice, s->stats, args, err, errlen);
}

static json_t *api_ctl_diag_link(void *arg, json_t *args, char *err, size_t errlen)
{
	struct api_server *s = arg;
	char base[API_ICE_URL_LEN];

	api_diag_base_url(s, base, sizeof(base));
	return api_cmd_diag_link(s->store, s->auth, base, args, err, errlen);
}

static json_t *api_ctl_key_create(void *arg, json_t *args, char *err, size_t errlen)
{
	struct api_server *s = arg;

	return api_cmd_key_create(s->store, args, err, errlen);
}

static json_t *api_ctl_key_list(void *arg, json_t *args, char *err, size_t errlen)
{
	struct api_server *s = arg;

	return api_cmd_key_list(s->store, args, err, errlen);
}

static json_t *api_ctl_key_delete(void *arg, json_t *args, char *err, size_t errlen)
{
	struct api_server *s = arg;

	return api_cmd_key_delete(s->store, args, err, errlen);
}

int api_ctl_register(struct api_server *s, struct ctl_server *ctl)
{
	static const struct {
		const char *name;
		ctl_cmd_fn fn;
	} cmds[] = {
	    {"account-create", api_ctl_account_create},
	    {"account-list", api_ctl_account_list},
	    {"account-suspend", api_ctl_account_suspend},
	    {"account-activate", api_ctl_account_activate},
	    {"account-close", api_ctl_account_close},
	    {"account-set", api_ctl_account_set},
	    {"token-create", api_ctl_token_create},
	    {"diag-link", api_ctl_diag_link},
	    {"key-create", api_ctl_key_create},
	    {"key-list", api_ctl_key_list},
	    {"key-delete", api_ctl_key_delete},
	};
	int err;

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		err = ctl_register(ctl, cmds[i].name, cmds[i].fn, s);
		if (err)
			return err;
	}
	return 0;
}
