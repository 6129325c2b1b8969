/* Control-socket commands of the API module: account-create, account-list, account-suspend,
 * account-activate, token-create (args and results as api_cmd_* in api.h).
 */
#include "api/api_priv.h"
#include "ctl/ctl.h"

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

	return api_cmd_account_status(s->store, args, true, err, errlen);
}

static json_t *api_ctl_account_activate(void *arg, json_t *args, char *err, size_t errlen)
{
	struct api_server *s = arg;

	return api_cmd_account_status(s->store, args, false, err, errlen);
}

static json_t *api_ctl_token_create(void *arg, json_t *args, char *err, size_t errlen)
{
	struct api_server *s = arg;

	return api_cmd_token_create(s->store, s->auth, &s->ice, s->stats, args, err, errlen);
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
	    {"token-create", api_ctl_token_create},
	};
	int err;

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		err = ctl_register(ctl, cmds[i].name, cmds[i].fn, s);
		if (err)
			return err;
	}
	return 0;
}
