/* Account and token commands over a store: the control socket's handlers and ntsctl --db call
 * these, so both paths give the same answers.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "store/store.h"

json_t *api_account_json(const struct store_account *a)
{
	char created[40], updated[40];

	api_fmt_rfc2822((uint64_t)a->created, created, sizeof(created));
	api_fmt_rfc2822((uint64_t)a->updated, updated, sizeof(updated));
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I}", "sid", a->sid,
			 "owner_account_sid", a->owner[0] ? a->owner : a->sid, "friendly_name",
			 a->name, "status", store_account_status_name(a), "date_created", created,
			 "date_updated", updated, "allocations", (json_int_t)a->allocations,
			 "bytes", (json_int_t)a->bytes, "max_allocations",
			 (json_int_t)a->max_allocations, "max_bps", (json_int_t)a->max_bps);
}

static const char *api_arg_string(json_t *args, const char *key)
{
	json_t *v = json_is_object(args) ? json_object_get(args, key) : NULL;

	return json_is_string(v) ? json_string_value(v) : NULL;
}

json_t *api_cmd_account_create(struct nts_store *st, json_t *args, char *err, size_t errlen)
{
	const char *name = api_arg_string(args, "name");
	const char *parent = api_arg_string(args, "parent");
	char token[STORE_TOKEN_LEN + 1];
	struct store_account a;
	json_t *j;
	int rc;

	if (!name) {
		snprintf(err, errlen, "missing account name");
		return NULL;
	}
	rc = parent ? store_subaccount_create(st, parent, name, &a, token)
		    : store_account_create(st, name, &a, token);
	if (rc) {
		snprintf(err, errlen, "%s",
			 rc == -EINVAL	 ? "invalid name (1-127 printable bytes)"
			 : rc == -ENOENT ? "no such parent account"
			 : rc == -EMLINK ? "the parent is a subaccount: subaccounts have none"
			 : rc == -EPERM	 ? "the parent account is closed"
					 : strerror(-rc));
		return NULL;
	}
	j = api_account_json(&a);
	/* The only time the AuthToken exists in clear: the caller shows it once. */
	if (j)
		json_object_set_new(j, "auth_token", json_string(token));
	memset(token, 0, sizeof(token));
	return j;
}

static int api_list_one(void *arg, const struct store_account *a)
{
	return json_array_append_new(arg, api_account_json(a));
}

json_t *api_cmd_account_list(struct nts_store *st, json_t *args, char *err, size_t errlen)
{
	json_t *list = json_array();
	int rc;

	if (!list) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	store_usage_flush(st); /* show usage up to now */
	rc = store_account_foreach(st, api_list_one, list);
	if (rc) {
		json_decref(list);
		snprintf(err, errlen, "%s", strerror(-rc));
		return NULL;
	}
	return list;
}

/* Finds the sid argument and checks its syntax; NULL with err filled. */
static const char *api_arg_sid(json_t *args, const char *key, char *err, size_t errlen)
{
	const char *sid = api_arg_string(args, key);

	if (!sid)
		snprintf(err, errlen, "missing AccountSid");
	else if (!store_sid_valid(sid))
		snprintf(err, errlen, "not an AccountSid (AC + 32 hex digits): %.40s", sid);
	else
		return sid;
	return NULL;
}

/* The account sid as stored after rc (the result of changing it), or NULL with err. */
static json_t *api_account_after(struct nts_store *st, const char *sid, int rc, char *err,
				 size_t errlen)
{
	struct store_account a;

	if (!rc)
		rc = store_account_get(st, sid, &a);
	if (rc) {
		snprintf(err, errlen, "%s",
			 rc == -ENOENT	? "no such account"
			 : rc == -EPERM ? "the account is closed"
					: strerror(-rc));
		return NULL;
	}
	return api_account_json(&a);
}

json_t *api_cmd_account_status(struct nts_store *st, json_t *args, bool suspend, char *err,
			       size_t errlen)
{
	const char *sid = api_arg_sid(args, "sid", err, errlen);

	if (!sid)
		return NULL;
	return api_account_after(st, sid, store_account_set_suspended(st, sid, suspend), err,
				 errlen);
}

json_t *api_cmd_account_close(struct nts_store *st, json_t *args, char *err, size_t errlen)
{
	const char *sid = api_arg_sid(args, "sid", err, errlen);

	if (!sid)
		return NULL;
	return api_account_after(st, sid, store_account_close(st, sid), err, errlen);
}

/* An optional non-negative integer argument: 0 with *out (-1 when absent), or -EINVAL. */
static int api_arg_limit(json_t *args, const char *key, json_int_t max, int64_t *out)
{
	json_t *v = json_object_get(args, key);

	*out = -1;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max)
		return -EINVAL;
	*out = json_integer_value(v);
	return 0;
}

json_t *api_cmd_account_set(struct nts_store *st, json_t *args, char *err, size_t errlen)
{
	const char *sid = api_arg_sid(args, "sid", err, errlen);
	int64_t max_allocations, max_bps;

	if (!sid)
		return NULL;
	if (api_arg_limit(args, "max_allocations", UINT32_MAX, &max_allocations) ||
	    api_arg_limit(args, "max_bps", INT64_MAX, &max_bps)) {
		snprintf(err, errlen, "limits must be integers from 0 (the default) up");
		return NULL;
	}
	return api_account_after(
	    st, sid, store_account_set_limits(st, sid, max_allocations, max_bps), err, errlen);
}

json_t *api_cmd_token_create(struct nts_store *st, struct auth_ctx *auth,
			     const struct api_ice_urls *u, struct nts_stats *stats, json_t *args,
			     char *err, size_t errlen)
{
	const char *sid = api_arg_sid(args, "account", err, errlen);
	json_t *ttl_arg = json_is_object(args) ? json_object_get(args, "ttl") : NULL;
	json_int_t ttl = API_TTL_DEFAULT;
	struct store_account a;
	json_t *tok;
	int rc;

	if (!sid)
		return NULL;
	if (ttl_arg && !json_is_null(ttl_arg)) {
		ttl = json_is_integer(ttl_arg) ? json_integer_value(ttl_arg) : 0;
		if (ttl < 1 || ttl > API_TTL_MAX) {
			snprintf(err, errlen, "ttl must be an integer from 1 to %d", API_TTL_MAX);
			return NULL;
		}
	}
	rc = store_account_get(st, sid, &a);
	if (rc) {
		snprintf(err, errlen, "%s", rc == -ENOENT ? "no such account" : strerror(-rc));
		return NULL;
	}
	if (a.suspended || a.owner_suspended) {
		snprintf(err, errlen, "account %s is %s", sid,
			 a.suspended ? store_account_status_name(&a) : "under an inactive master");
		return NULL;
	}
	tok = api_token_build(auth, u, sid, (uint32_t)ttl, (uint64_t)time(NULL), &rc);
	if (!tok) {
		snprintf(err, errlen, "%s", rc == -ENOENT ? "no signing secret" : strerror(-rc));
		return NULL;
	}
	if (stats)
		stats->tokens_issued++;
	return tok;
}
