/* Twilio's Key resource (/Accounts/{Sid}/Keys.json, /Keys/{KeySid}.json): create (the secret is
 * in that answer only), list, fetch, rename, delete. Managed with AuthTokens only; the keys
 * themselves authenticate the token API (api_auth.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api/api_priv.h"

/* Twilio's key object (NewKey's with the secret); an empty name is null. */
static json_t *api_key_twilio(const struct store_key *k, const char *secret)
{
	char created[40], updated[40];
	json_t *j;

	api_fmt_rfc2822((uint64_t)k->created, created, sizeof(created));
	api_fmt_rfc2822((uint64_t)k->updated, updated, sizeof(updated));
	j = json_pack("{s:s, s:o, s:s, s:s}", "sid", k->sid, "friendly_name",
		      k->name[0] ? json_string(k->name) : json_null(), "date_created", created,
		      "date_updated", updated);
	if (j && secret)
		json_object_set_new(j, "secret", json_string(secret));
	return j;
}

static void api_key_bad_name(struct api_response *rs)
{
	api_error(rs, 400, API_ERR_INVALID_PARAM,
		  "Invalid FriendlyName: up to 127 bytes without control characters");
}

void api_keys_create(struct api_server *s, const struct api_request *rq, const char *const *id,
		     uint64_t now, struct api_response *rs)
{
	char name[STORE_NAME_MAX] = "", secret[STORE_KEY_SECRET_LEN + 1];
	struct store_account a;
	struct api_caller c;
	struct store_key k;
	int err;

	if (!api_authorize(s, rq, id[0], false, &c, &a, rs))
		return;
	err = api_body_get(rq, "FriendlyName", name, sizeof(name));
	if (err == -ENOENT)
		name[0] = '\0';
	else if (err) {
		api_key_bad_name(rs);
		return;
	}
	err = store_key_create(s->store, a.sid, name, &k, secret);
	if (err == -EINVAL) {
		api_key_bad_name(rs);
		return;
	}
	if (err) {
		api_store_failed(rs, "key creation", err);
		return;
	}
	api_set_json(rs, 201, api_key_twilio(&k, secret));
	explicit_bzero(secret, sizeof(secret));
}

struct api_key_collect {
	json_t *items;
	unsigned limit;
	char last[STORE_KEY_SID_LEN + 1];
	bool more;
};

static int api_collect_key(void *arg, const struct store_key *k)
{
	struct api_key_collect *c = arg;

	if (json_array_size(c->items) == c->limit) {
		c->more = true;
		return 1;
	}
	json_array_append_new(c->items, api_key_twilio(k, NULL));
	memcpy(c->last, k->sid, sizeof(k->sid));
	return 0;
}

void api_keys_list(struct api_server *s, const struct api_request *rq, const char *const *id,
		   uint64_t now, struct api_response *rs)
{
	struct api_key_collect col = {0};
	struct store_account a;
	struct api_caller c;
	struct api_page pg;
	char path[96];
	int err;

	if (!api_authorize(s, rq, id[0], false, &c, &a, rs))
		return;
	if (api_page_parse(rq, &pg) != 0) {
		api_error(rs, 400, API_ERR_INVALID_PARAM,
			  "Invalid parameter: PageSize (1 to 1000), Page or PageToken");
		return;
	}
	col.items = json_array();
	col.limit = pg.size;
	err = col.items ? store_key_list(s->store, a.sid, pg.after[0] ? pg.after : NULL,
					 pg.after[0] ? 0 : pg.number * pg.size, pg.size + 1,
					 api_collect_key, &col)
			: -ENOMEM;
	if (err) {
		json_decref(col.items);
		if (err == -ENOENT)
			api_error(rs, 400, API_ERR_INVALID_PARAM, "Invalid PageToken");
		else
			api_store_failed(rs, "key listing", err);
		return;
	}
	snprintf(path, sizeof(path), "/2010-04-01/Accounts/%s/Keys.json", a.sid);
	api_set_json(rs, 200,
		     api_page_json(path, "", &pg, "keys", col.items, col.more ? col.last : NULL));
}

/* Authorizes rq on account id[0] and finds its key id[1]; false with the answer in rs. */
static bool api_key_find(struct api_server *s, const struct api_request *rq, const char *const *id,
			 struct store_key *k, struct api_response *rs)
{
	struct store_account a;
	struct api_caller c;
	int err;

	if (!api_authorize(s, rq, id[0], false, &c, &a, rs))
		return false;
	err = store_key_sid_valid(id[1]) ? store_key_get(s->store, id[1], k) : -ENOENT;
	if (!err && strcmp(k->account, a.sid) != 0)
		err = -ENOENT; /* another account's key is invisible here */
	if (err == -ENOENT)
		api_not_found(rs, rq->path);
	else if (err)
		api_store_failed(rs, "key lookup", err);
	return err == 0;
}

void api_key_fetch(struct api_server *s, const struct api_request *rq, const char *const *id,
		   uint64_t now, struct api_response *rs)
{
	struct store_key k;

	if (api_key_find(s, rq, id, &k, rs))
		api_set_json(rs, 200, api_key_twilio(&k, NULL));
}

void api_key_update(struct api_server *s, const struct api_request *rq, const char *const *id,
		    uint64_t now, struct api_response *rs)
{
	char name[STORE_NAME_MAX];
	struct store_key k;
	int err;

	if (!api_key_find(s, rq, id, &k, rs))
		return;
	err = api_body_get(rq, "FriendlyName", name, sizeof(name));
	if (!err)
		err = store_key_rename(s->store, k.sid, name);
	if (err == -EINVAL || err == -ENOSPC) {
		api_key_bad_name(rs);
		return;
	}
	if (!err || err == -ENOENT) /* nothing to change: the key as it is */
		err = store_key_get(s->store, k.sid, &k);
	if (err == -ENOENT) {
		api_not_found(rs, rq->path); /* deleted meanwhile */
		return;
	}
	if (err) {
		api_store_failed(rs, "key update", err);
		return;
	}
	api_set_json(rs, 200, api_key_twilio(&k, NULL));
}

void api_key_delete(struct api_server *s, const struct api_request *rq, const char *const *id,
		    uint64_t now, struct api_response *rs)
{
	struct store_key k;
	int err;

	if (!api_key_find(s, rq, id, &k, rs))
		return;
	err = store_key_delete(s->store, k.sid);
	if (err == -ENOENT) {
		api_not_found(rs, rq->path);
		return;
	}
	if (err) {
		api_store_failed(rs, "key deletion", err);
		return;
	}
	rs->status = 204; /* Twilio: No Content */
}
