/* Twilio's Account resource: POST /Accounts.json creates a subaccount of the caller, GET lists the
 * caller and its subaccounts (FriendlyName and Status filters, paged), /Accounts/{Sid}.json
 * fetches and updates (FriendlyName; Status suspended|active|closed, closed being final).
 * Status changes reach live traffic through the account hook, as `ntsctl account` changes do.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/api_priv.h"
#include "util/log.h"

#define API_ACCOUNTS_PATH "/2010-04-01/Accounts"

/* Twilio's account object; auth_token only when known (at creation: nts keeps only a hash). */
static json_t *api_account_twilio(const struct store_account *a, const char *auth_token)
{
	char created[40], updated[40], uri[96], keys[96], usage[96];

	api_fmt_rfc2822((uint64_t)a->created, created, sizeof(created));
	api_fmt_rfc2822((uint64_t)a->updated, updated, sizeof(updated));
	snprintf(uri, sizeof(uri), API_ACCOUNTS_PATH "/%s.json", a->sid);
	snprintf(keys, sizeof(keys), API_ACCOUNTS_PATH "/%s/Keys.json", a->sid);
	snprintf(usage, sizeof(usage), API_ACCOUNTS_PATH "/%s/Usage.json", a->sid);
	/* Twilio: "The OwnerAccountSid of a parent account is its own sid"; type is "Trial" or
	 * "Full", and nts has no trials. subresource_uris lists what nts serves of Twilio's. */
	return json_pack("{s:o, s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s}, s:s, s:s}",
			 "auth_token", auth_token ? json_string(auth_token) : json_null(),
			 "date_created", created, "date_updated", updated, "friendly_name", a->name,
			 "owner_account_sid", a->owner[0] ? a->owner : a->sid, "sid", a->sid,
			 "status", store_account_status_name(a), "subresource_uris", "keys", keys,
			 "usage", usage, "type", "Full", "uri", uri);
}

struct api_notify {
	struct api_server *s;
	char last[STORE_SID_LEN + 1];
	unsigned count;
};

static int api_account_notify_one(void *arg, const struct store_account *a)
{
	struct api_notify *it = arg;

	it->s->account_changed(it->s->account_changed_arg, a);
	memcpy(it->last, a->sid, sizeof(it->last));
	it->count++;
	return 0;
}

void api_account_notify(struct api_server *s, const char *sid)
{
	struct store_account_filter f = {.family = sid, .limit = STORE_PAGE_MAX};
	struct api_notify it = {.s = s};
	int err;

	if (!s->account_changed)
		return;
	/* The account and its subaccounts (whose state follows their master's), a page at a
	 * time; bounded, as every loop here. */
	for (unsigned page = 0; page < 1000; page++) {
		it.count = 0;
		err = store_account_list(s->store, &f, api_account_notify_one, &it);
		if (err) {
			log_error("api: account %s: cannot list its subaccounts: %s", sid,
				  strerror(-err));
			return;
		}
		if (it.count < f.limit)
			return;
		f.after = it.last;
	}
}

/* Twilio's default name: "SubAccount Created at {YYYY-MM-DD HH:MM meridian}". */
static void api_account_default_name(uint64_t now, char *out, size_t len)
{
	time_t t = (time_t)now;
	char when[32] = "";
	struct tm tm;

	if (gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %I:%M %p", &tm);
	for (char *p = when; *p; p++)
		if (*p == 'A' || *p == 'P' || *p == 'M')
			*p = (char)(*p - 'A' + 'a');
	snprintf(out, len, "SubAccount Created at %s", when);
}

void api_accounts_create(struct api_server *s, const struct api_request *rq, const char *const *id,
			 uint64_t now, struct api_response *rs)
{
	char name[STORE_NAME_MAX], token[STORE_TOKEN_LEN + 1];
	struct store_account me, a;
	struct api_caller c;
	int err;

	if (!api_authorize(s, rq, NULL, false, &c, &me, rs))
		return;
	if (me.owner[0]) {
		api_error(rs, 400, API_ERR_NESTED, "Subaccounts cannot contain subaccounts");
		return;
	}
	err = api_body_get(rq, "FriendlyName", name, sizeof(name));
	if (err == -ENOENT)
		api_account_default_name(now, name, sizeof(name));
	err = err && err != -ENOENT ? -EINVAL
				    : store_subaccount_create(s->store, me.sid, name, &a, token);
	if (err == -EINVAL) {
		api_error(rs, 400, API_ERR_INVALID_PARAM,
			  "Invalid FriendlyName: 1 to 127 bytes without control characters");
		return;
	}
	if (err) {
		api_store_failed(rs, "subaccount creation", err);
		return;
	}
	/* The only time the AuthToken exists in clear. */
	api_set_json(rs, 201, api_account_twilio(&a, token));
	explicit_bzero(token, sizeof(token));
}

struct api_collect {
	json_t *items;
	unsigned limit; /* rows wanted on the page; one more tells that a next page exists */
	char last[STORE_KEY_SID_LEN + 1];
	bool more;
};

static int api_collect_account(void *arg, const struct store_account *a)
{
	struct api_collect *c = arg;

	if (json_array_size(c->items) == c->limit) {
		c->more = true;
		return 1;
	}
	json_array_append_new(c->items, api_account_twilio(a, NULL));
	memcpy(c->last, a->sid, sizeof(a->sid));
	return 0;
}

/* The Status parameter: 0 with *f, or -EINVAL. */
static int api_status_filter(const char *v, enum store_status_filter *f)
{
	static const char *const names[] = {"", "active", "suspended", "closed"};

	for (unsigned i = STORE_STATUS_ACTIVE; i <= STORE_STATUS_CLOSED; i++) {
		if (strcmp(v, names[i]) == 0) {
			*f = (enum store_status_filter)i;
			return 0;
		}
	}
	return -EINVAL;
}

void api_accounts_list(struct api_server *s, const struct api_request *rq, const char *const *id,
		       uint64_t now, struct api_response *rs)
{
	char name[STORE_NAME_MAX], status[16], filters[512] = "";
	struct store_account_filter f = {0};
	struct api_collect col = {0};
	struct store_account me;
	struct api_caller c;
	struct api_page pg;
	int name_err, status_err, err;

	if (!api_authorize(s, rq, NULL, false, &c, &me, rs))
		return;
	name_err = api_query_get(rq, "FriendlyName", name, sizeof(name));
	status_err = api_query_get(rq, "Status", status, sizeof(status));
	if (!status_err)
		status_err = api_status_filter(status, &f.status);
	if ((name_err && name_err != -ENOENT) || (status_err && status_err != -ENOENT) ||
	    api_page_parse(rq, &pg) != 0) {
		api_error(rs, 400, API_ERR_INVALID_PARAM,
			  "Invalid parameter: FriendlyName, Status (active, suspended or closed), "
			  "PageSize (1 to 1000), Page or PageToken");
		return;
	}
	if (!name_err)
		api_query_append(filters, sizeof(filters), "FriendlyName", name);
	if (!status_err)
		api_query_append(filters, sizeof(filters), "Status", status);
	/* A master sees itself and its subaccounts, a subaccount itself. */
	f.family = me.sid;
	f.name = name_err ? NULL : name;
	f.after = pg.after[0] ? pg.after : NULL;
	f.offset = f.after ? 0 : pg.number * pg.size;
	f.limit = pg.size + 1; /* one more tells whether a next page exists */
	col.items = json_array();
	col.limit = pg.size;
	err = col.items ? store_account_list(s->store, &f, api_collect_account, &col) : -ENOMEM;
	if (err == -ENOENT) {
		json_decref(col.items);
		api_error(rs, 400, API_ERR_INVALID_PARAM, "Invalid PageToken");
		return;
	}
	if (err) {
		json_decref(col.items);
		api_store_failed(rs, "account listing", err);
		return;
	}
	api_set_json(rs, 200,
		     api_page_json(API_ACCOUNTS_PATH ".json", filters, &pg, "accounts", col.items,
				   col.more ? col.last : NULL));
}

void api_account_fetch(struct api_server *s, const struct api_request *rq, const char *const *id,
		       uint64_t now, struct api_response *rs)
{
	struct store_account a;
	struct api_caller c;

	if (api_authorize(s, rq, id[0], false, &c, &a, rs))
		api_set_json(rs, 200, api_account_twilio(&a, NULL));
}

/* Applies Status v to a (already checked). 0 or -errno. */
static int api_account_set_status(struct api_server *s, const struct store_account *a,
				  const char *v)
{
	if (strcmp(v, "closed") == 0)
		return a->closed ? 0 : store_account_close(s->store, a->sid);
	return store_account_set_suspended(s->store, a->sid, strcmp(v, "suspended") == 0);
}

void api_account_update(struct api_server *s, const struct api_request *rq, const char *const *id,
			uint64_t now, struct api_response *rs)
{
	char name[STORE_NAME_MAX], status[16];
	int name_err, status_err, err = 0;
	enum store_status_filter want;
	struct store_account a;
	struct api_caller c;

	if (!api_authorize(s, rq, id[0], false, &c, &a, rs))
		return;
	name_err = api_body_get(rq, "FriendlyName", name, sizeof(name));
	status_err = api_body_get(rq, "Status", status, sizeof(status));
	if (!status_err)
		status_err = api_status_filter(status, &want);
	if ((name_err && name_err != -ENOENT) || (status_err && status_err != -ENOENT)) {
		api_error(
		    rs, 400, API_ERR_INVALID_PARAM,
		    "Invalid parameter: FriendlyName, or Status (active, suspended or closed)");
		return;
	}
	if (!status_err && a.closed && want != STORE_STATUS_CLOSED) {
		api_error(rs, 400, API_ERR_CLOSED,
			  "Unable to update Status for subaccount, subaccount has been closed.");
		return;
	}
	/* An account may close itself, but suspension and reactivation are its master's (or the
	 * operator's) to decide: a suspended account could not even authenticate to undo it. */
	if (!status_err && strcmp(a.sid, c.account.sid) == 0 && want != STORE_STATUS_CLOSED &&
	    strcmp(status, store_account_status_name(&a)) != 0) {
		api_error(rs, 400, API_ERR_INVALID_PARAM,
			  "Invalid Status: an account cannot suspend or reactivate itself");
		return;
	}
	if (!name_err)
		err = store_account_rename(s->store, a.sid, name);
	if (err == -EINVAL) {
		api_error(rs, 400, API_ERR_INVALID_PARAM,
			  "Invalid FriendlyName: 1 to 127 bytes without control characters");
		return;
	}
	if (!err && !status_err) {
		err = api_account_set_status(s, &a, status);
		if (!err)
			api_account_notify(s, a.sid);
	}
	if (!err)
		err = store_account_get(s->store, a.sid, &a);
	if (err == -EPERM) {
		api_error(rs, 400, API_ERR_CLOSED,
			  "Unable to update Status for subaccount, subaccount has been closed.");
		return;
	}
	if (err) {
		api_store_failed(rs, "account update", err);
		return;
	}
	api_set_json(rs, 200, api_account_twilio(&a, NULL));
}
