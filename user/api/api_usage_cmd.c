/* The "usage" command (control socket and ntsctl --db): usage per account from the store, as
 * totals, per UTC day or per calendar month, with bytes each way and allocation-seconds (which the
 * Usage Records API does not show).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_usage.h"
#include "store/store.h"

#define API_CMD_LAST_DAY 2932896 /* 9999-12-31 */

enum api_cmd_span { CMD_TOTAL, CMD_DAILY, CMD_MONTHLY };

struct api_cmd_usage {
	enum api_cmd_span span;
	struct nts_store *st;
	json_t *list;
	json_t *index; /* "sid/start/region" -> its row in list */
	int err;
};

static void api_cmd_add(json_t *row, const char *key, uint64_t v)
{
	json_t *o = json_object_get(row, key);

	json_object_set_new(row, key,
			    json_integer((json_int_t)((uint64_t)json_integer_value(o) + v)));
}

static int api_cmd_usage_row(void *arg, const char *sid, int64_t day, const char *region,
			     const struct store_usage *u)
{
	struct api_cmd_usage *c = arg;
	char start[STORE_DAY_LEN + 1], key[STORE_SID_LEN + STORE_DAY_LEN + STORE_REGION_MAX + 4];
	json_t *row;

	store_day_fmt(day, start);
	if (c->span == CMD_MONTHLY)
		memcpy(start + 7, "-01", 4);
	snprintf(key, sizeof(key), "%s/%s/%s", sid, c->span == CMD_TOTAL ? "" : start, region);
	row = json_object_get(c->index, key);
	if (!row) {
		/* Rows come by day: the first one of a key starts its period. */
		row = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I}", "account_sid", sid,
				"start_date", start, "end_date", start, "region", region,
				"bytes_to_peer", (json_int_t)0, "bytes_to_client", (json_int_t)0,
				"allocations", (json_int_t)0, "allocation_seconds", (json_int_t)0);
		if (!row || json_object_set(c->index, key, row) ||
		    json_array_append_new(c->list, row)) {
			c->err = -ENOMEM;
			return 1;
		}
	}
	store_day_fmt(day, start);
	json_object_set_new(row, "end_date", json_string(start));
	api_cmd_add(row, "bytes_to_peer", u->bytes_to_peer);
	api_cmd_add(row, "bytes_to_client", u->bytes_to_client);
	api_cmd_add(row, "allocations", u->allocations);
	api_cmd_add(row, "allocation_seconds", u->allocation_seconds);
	return 0;
}

/* Adds "megabytes" (exact, as the Usage Records API writes it) to every row. */
static void api_cmd_megabytes(json_t *list)
{
	char mb[32];
	size_t i;
	json_t *r;

	json_array_foreach(list, i, r)
	{
		uint64_t b = (uint64_t)json_integer_value(json_object_get(r, "bytes_to_peer")) +
			     (uint64_t)json_integer_value(json_object_get(r, "bytes_to_client"));

		json_object_set_new(r, "megabytes",
				    json_string(api_usage_fmt_mb(b, mb, sizeof(mb))));
	}
}

static int api_cmd_usage_account(void *arg, const struct store_account *a)
{
	struct api_cmd_usage *c = arg;
	struct store_usage_query q = {a->sid, false, 0, API_CMD_LAST_DAY};
	int rc = store_usage_foreach(c->st, &q, api_cmd_usage_row, c);

	if (rc && !c->err)
		c->err = rc;
	return c->err;
}

json_t *api_cmd_usage(struct nts_store *st, json_t *args, char *err, size_t errlen)
{
	json_t *a = json_is_object(args) ? json_object_get(args, "account") : NULL;
	json_t *sp = json_is_object(args) ? json_object_get(args, "span") : NULL;
	const char *span = json_is_string(sp) ? json_string_value(sp) : "total";
	struct api_cmd_usage c = {.st = st, .list = json_array(), .index = json_object()};
	json_t *r = NULL;
	int rc = 0;

	if (!c.list || !c.index) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (!strcmp(span, "daily"))
		c.span = CMD_DAILY;
	else if (!strcmp(span, "monthly"))
		c.span = CMD_MONTHLY;
	else if (strcmp(span, "total") != 0) {
		snprintf(err, errlen, "span must be total, daily or monthly");
		goto out;
	}
	if (a && !(json_is_string(a) && store_sid_valid(json_string_value(a)))) {
		snprintf(err, errlen, "not an AccountSid (AC + 32 hex digits)");
		goto out;
	}
	if (a) {
		struct store_account acct = {0};

		snprintf(acct.sid, sizeof(acct.sid), "%s", json_string_value(a));
		rc = api_cmd_usage_account(&c, &acct);
	} else {
		rc = store_account_foreach(st, api_cmd_usage_account, &c);
	}
	if (!rc)
		rc = c.err;
	if (rc) {
		snprintf(err, errlen, "%s", strerror(-rc));
		goto out;
	}
	api_cmd_megabytes(c.list);
	r = json_pack("{s:O}", "usage", c.list);
	if (!r)
		snprintf(err, errlen, "out of memory");
out:
	json_decref(c.list);
	json_decref(c.index);
	return r;
}
