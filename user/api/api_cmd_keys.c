/* API key commands over a store (key-create, key-list, key-delete): the control socket's handlers
 * and ntsctl --db call these, so both paths give the same answers.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "store/store.h"

static json_t *api_cmd_key_json(const struct store_key *k)
{
	char created[40], updated[40];

	api_fmt_rfc2822((uint64_t)k->created, created, sizeof(created));
	api_fmt_rfc2822((uint64_t)k->updated, updated, sizeof(updated));
	return json_pack("{s:s, s:s, s:s, s:s, s:s}", "sid", k->sid, "account_sid", k->account,
			 "friendly_name", k->name, "date_created", created, "date_updated",
			 updated);
}

static const char *api_cmd_key_arg(json_t *args, const char *key)
{
	json_t *v = json_is_object(args) ? json_object_get(args, key) : NULL;

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The AccountSid argument "account", checked; NULL with err filled. */
static const char *api_cmd_key_account(json_t *args, char *err, size_t errlen)
{
	const char *sid = api_cmd_key_arg(args, "account");

	if (!sid)
		snprintf(err, errlen, "missing AccountSid");
	else if (!store_sid_valid(sid))
		snprintf(err, errlen, "not an AccountSid (AC + 32 hex digits): %.40s", sid);
	else
		return sid;
	return NULL;
}

json_t *api_cmd_key_create(struct nts_store *st, json_t *args, char *err, size_t errlen)
{
	const char *account = api_cmd_key_account(args, err, errlen);
	char secret[STORE_KEY_SECRET_LEN + 1];
	struct store_key k;
	json_t *j;
	int rc;

	if (!account)
		return NULL;
	rc = store_key_create(st, account, api_cmd_key_arg(args, "name"), &k, secret);
	if (rc) {
		snprintf(err, errlen, "%s",
			 rc == -ENOENT	 ? "no such account"
			 : rc == -EINVAL ? "invalid name (up to 127 printable bytes)"
					 : strerror(-rc));
		return NULL;
	}
	j = api_cmd_key_json(&k);
	/* The only time the secret exists in clear: the caller shows it once. */
	if (j)
		json_object_set_new(j, "secret", json_string(secret));
	explicit_bzero(secret, sizeof(secret));
	return j;
}

struct api_cmd_key_page {
	json_t *list;
	unsigned count;
	char last[STORE_KEY_SID_LEN + 1];
};

static int api_cmd_key_one(void *arg, const struct store_key *k)
{
	struct api_cmd_key_page *p = arg;

	p->count++;
	memcpy(p->last, k->sid, sizeof(p->last));
	return json_array_append_new(p->list, api_cmd_key_json(k));
}

json_t *api_cmd_key_list(struct nts_store *st, json_t *args, char *err, size_t errlen)
{
	const char *account = api_cmd_key_account(args, err, errlen);
	struct api_cmd_key_page p = {.list = NULL};
	struct store_account a;
	int rc;

	if (!account)
		return NULL;
	rc = store_account_get(st, account, &a);
	if (rc) {
		snprintf(err, errlen, "%s", rc == -ENOENT ? "no such account" : strerror(-rc));
		return NULL;
	}
	p.list = json_array();
	if (!p.list) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	/* Every key, a page at a time (bounded). */
	for (unsigned page = 0; page < 1000; page++) {
		p.count = 0;
		rc = store_key_list(st, account, page ? p.last : NULL, 0, STORE_PAGE_MAX,
				    api_cmd_key_one, &p);
		if (rc || p.count < STORE_PAGE_MAX)
			break;
	}
	if (rc) {
		json_decref(p.list);
		snprintf(err, errlen, "%s", strerror(-rc));
		return NULL;
	}
	return p.list;
}

json_t *api_cmd_key_delete(struct nts_store *st, json_t *args, char *err, size_t errlen)
{
	const char *sid = api_cmd_key_arg(args, "sid");
	struct store_key k;
	int rc;

	if (!sid || !store_key_sid_valid(sid)) {
		snprintf(err, errlen, "not a key sid (SK + 32 hex digits): %.40s", sid ? sid : "");
		return NULL;
	}
	rc = store_key_get(st, sid, &k);
	if (!rc)
		rc = store_key_delete(st, sid);
	if (rc) {
		snprintf(err, errlen, "%s", rc == -ENOENT ? "no such key" : strerror(-rc));
		return NULL;
	}
	return api_cmd_key_json(&k);
}
