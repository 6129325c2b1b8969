/* Who may act on which account: HTTP Basic credentials are an AccountSid and its AuthToken or an
 * API key sid and its secret; a master acts on itself and its subaccounts, a subaccount and any
 * API key only on their own account, and keys never on account or key resources (Twilio's
 * "Standard" keys, the only kind its REST API creates).
 */
#include <errno.h>
#include <string.h>

#include "api/api_priv.h"

int api_auth_basic(struct api_server *s, const char *authorization, struct api_caller *c)
{
	char user[64], pass[128];
	struct store_key key;
	int err;

	memset(c, 0, sizeof(*c));
	if (api_parse_basic(authorization, user, sizeof(user), pass, sizeof(pass)) != 0)
		return -EACCES;
	if (strncmp(user, "SK", 2) == 0) {
		err = store_key_verify(s->store, user, pass, &key);
		if (!err) {
			c->via_key = true;
			memcpy(c->key_sid, key.sid, sizeof(c->key_sid));
			err = store_account_get(s->store, key.account, &c->account);
			if (err == -ENOENT)
				err = -EACCES;
		}
	} else {
		err = store_account_verify(s->store, user, pass, &c->account);
	}
	explicit_bzero(pass, sizeof(pass));
	return err;
}

bool api_account_inactive(const struct store_account *a)
{
	return a->suspended || a->owner_suspended;
}

bool api_authorize(struct api_server *s, const struct api_request *rq, const char *sid, bool keys,
		   struct api_caller *c, struct store_account *target, struct api_response *rs)
{
	const struct store_account *me = &c->account;
	int err = api_auth_basic(s, rq->authorization, c);

	if (err == -EACCES || (!err && c->via_key && !keys)) {
		api_unauthorized(rs);
		return false;
	}
	if (err) {
		api_store_failed(rs, "account lookup", err);
		return false;
	}
	if (!sid || strcmp(sid, me->sid) == 0) {
		*target = *me;
	} else if (me->owner[0] && strcmp(sid, me->owner) == 0) {
		/* Twilio lists "subaccount credentials used to access the master account" among
		 * the causes of 20003. */
		api_unauthorized(rs);
		return false;
	} else {
		/* Twilio: a resource under another account is invisible, hence 404 rather than
		 * 403; so are a master's subaccounts to its API keys. */
		err = store_sid_valid(sid) ? store_account_get(s->store, sid, target) : -ENOENT;
		if (!err && (c->via_key || strcmp(target->owner, me->sid) != 0))
			err = -ENOENT;
		if (err == -ENOENT) {
			api_not_found(rs, rq->path);
			return false;
		}
		if (err) {
			api_store_failed(rs, "account lookup", err);
			return false;
		}
	}
	if (api_account_inactive(me)) {
		api_error(rs, 403, API_ERR_NOT_ACTIVE, "Account not active");
		return false;
	}
	return true;
}
