/* Twilio's Usage Records: GET /2010-04-01/Accounts/{Sid}/Usage/Records.json and its subresources
 * Daily, Monthly, Yearly, AllTime, Today, Yesterday, ThisMonth, LastMonth, read from the store's
 * usage per account and UTC day. One category, turnmegabytes (bytes relayed both ways, in 10^6
 * bytes, count = allocations made), and turnmegabytes-<region> for usage recorded with a region.
 * Usage of subaccounts rolls up to their master unless IncludeSubaccounts=false; a master may read
 * a subaccount's records, a subaccount only its own. See README.md ("Usage").
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/api_usage.h"
#include "store/store.h"
#include "util/log.h"

#define API_USAGE_PREFIX "/2010-04-01/Accounts/"
#define API_USAGE_RECORDS "/Usage/Records"
#define API_USAGE_CATEGORY "turnmegabytes"
#define API_USAGE_PARAM_MAX 64	   /* longest parameter value we take */
#define API_USAGE_URI_MAX 512	   /* a page or record URI */

enum api_fixed { FIXED_NONE, FIXED_TODAY, FIXED_YESTERDAY, FIXED_THIS_MONTH, FIXED_LAST_MONTH };

/* The resources, in the order of a record's subresource_uris. */
static const struct api_usage_res {
	const char *path; /* after .../Usage/Records, before .json */
	const char *key;  /* its name in subresource_uris (NULL: the list itself) */
	enum api_span span;
	enum api_fixed fixed; /* a range of its own: StartDate and EndDate do not apply */
} api_usage_res[] = {
    {"", NULL, SPAN_RANGE, FIXED_NONE},
    {"/AllTime", "all_time", SPAN_RANGE, FIXED_NONE},
    {"/Daily", "daily", SPAN_DAILY, FIXED_NONE},
    {"/LastMonth", "last_month", SPAN_RANGE, FIXED_LAST_MONTH},
    {"/Monthly", "monthly", SPAN_MONTHLY, FIXED_NONE},
    {"/ThisMonth", "this_month", SPAN_RANGE, FIXED_THIS_MONTH},
    {"/Today", "today", SPAN_RANGE, FIXED_TODAY},
    {"/Yearly", "yearly", SPAN_YEARLY, FIXED_NONE},
    {"/Yesterday", "yesterday", SPAN_RANGE, FIXED_YESTERDAY},
};
#define API_USAGE_NRES (sizeof(api_usage_res) / sizeof(api_usage_res[0]))

/* --- the rows read, summed over accounts per (day, region) */

struct api_usage_row {
	int64_t day;
	char region[STORE_REGION_MAX];
	struct store_usage u;
};

struct api_usage_rows {
	struct api_usage_row *v;
	size_t n, cap;
	int err;
};

static int api_usage_collect(void *arg, const char *sid, int64_t day, const char *region,
			     const struct store_usage *u)
{
	struct api_usage_rows *r = arg;
	struct api_usage_row *last = r->n ? &r->v[r->n - 1] : NULL;

	/* Rows come by day, then region, then account: one sum per (day, region). */
	if (!last || last->day != day || strcmp(last->region, region) != 0) {
		if (r->n == r->cap) {
			size_t cap = r->cap ? r->cap * 2 : 64;
			struct api_usage_row *v = realloc(r->v, cap * sizeof(*v));

			if (!v) {
				r->err = -ENOMEM;
				return 1;
			}
			r->v = v;
			r->cap = cap;
		}
		last = &r->v[r->n++];
		memset(last, 0, sizeof(*last));
		last->day = day;
		snprintf(last->region, sizeof(last->region), "%s", region);
	}
	last->u.bytes_to_peer += u->bytes_to_peer;
	last->u.bytes_to_client += u->bytes_to_client;
	last->u.allocations += u->allocations;
	last->u.allocation_seconds += u->allocation_seconds;
	return 0;
}

/* Usage of region (NULL: every region) over [ps, pe]. */
static struct store_usage api_usage_sum(const struct api_usage_rows *r, const char *region,
					int64_t ps, int64_t pe)
{
	struct store_usage s = {0};

	for (size_t i = 0; i < r->n; i++) {
		const struct api_usage_row *w = &r->v[i];

		if (w->day < ps || w->day > pe || (region && strcmp(w->region, region) != 0))
			continue;
		s.bytes_to_peer += w->u.bytes_to_peer;
		s.bytes_to_client += w->u.bytes_to_client;
		s.allocations += w->u.allocations;
	}
	return s;
}

/* --- the request */

struct api_usage_req {
	char sid[STORE_SID_LEN + 1];
	const struct api_usage_res *res;
	/* Parameters as given (empty: absent), carried into page URIs. */
	char category[API_USAGE_PARAM_MAX], start[API_USAGE_PARAM_MAX], end[API_USAGE_PARAM_MAX];
	char include[API_USAGE_PARAM_MAX], page[API_USAGE_PARAM_MAX], size[API_USAGE_PARAM_MAX];
	bool include_subaccounts;
	int64_t first, last; /* the days asked for */
	/* The categories listed: region names, "" for turnmegabytes itself. */
	char (*cats)[STORE_REGION_MAX];
	size_t ncats;
};

/* Parses "/2010-04-01/Accounts/{Sid}/Usage/Records[/Sub](.json)"; NULL when it is not one. */
static const struct api_usage_res *api_usage_parse_path(const char *path,
							char sid[STORE_SID_LEN + 1])
{
	const char *p, *slash, *rest;
	size_t n;

	if (strncmp(path, API_USAGE_PREFIX, sizeof(API_USAGE_PREFIX) - 1) != 0)
		return NULL;
	p = path + sizeof(API_USAGE_PREFIX) - 1;
	slash = strchr(p, '/');
	if (!slash || slash == p || (size_t)(slash - p) > STORE_SID_LEN ||
	    strncmp(slash, API_USAGE_RECORDS, sizeof(API_USAGE_RECORDS) - 1) != 0)
		return NULL;
	rest = slash + sizeof(API_USAGE_RECORDS) - 1;
	for (size_t i = 0; i < API_USAGE_NRES; i++) {
		n = strlen(api_usage_res[i].path);
		if (strncmp(rest, api_usage_res[i].path, n) != 0 ||
		    (strcmp(rest + n, ".json") != 0 && rest[n] != '\0'))
			continue;
		memcpy(sid, p, (size_t)(slash - p));
		sid[slash - p] = '\0';
		return &api_usage_res[i];
	}
	return NULL;
}

bool api_usage_match(const char *path)
{
	char sid[STORE_SID_LEN + 1];

	return api_usage_parse_path(path, sid) != NULL;
}

/* Query parameter key into out ("" when absent). 0 or -EINVAL. */
static int api_usage_param(const struct api_request *rq, const char *key, char *out, size_t len)
{
	const char *q = rq->query ? rq->query : "";
	int err = api_form_get(q, strlen(q), key, out, len);

	if (err == -ENOENT) {
		out[0] = '\0';
		return 0;
	}
	return err ? -EINVAL : 0;
}

/* Reads the parameters; on a bad one, fills rs and returns -EINVAL. */
static int api_usage_params(const struct api_request *rq, struct api_usage_req *q,
			    struct api_response *rs)
{
	static const char *const names[] = {"Category",		  "StartDate", "EndDate",
					    "IncludeSubaccounts", "Page",      "PageSize"};
	char *vals[] = {q->category, q->start, q->end, q->include, q->page, q->size};
	char msg[96];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (api_usage_param(rq, names[i], vals[i], API_USAGE_PARAM_MAX) == 0)
			continue;
		snprintf(msg, sizeof(msg), "Invalid %s", names[i]);
		api_error(rs, 400, API_ERR_INVALID_PARAM, msg);
		return -EINVAL;
	}
	q->include_subaccounts = true; /* Twilio's default */
	if (!strcasecmp(q->include, "false") || !strcmp(q->include, "0"))
		q->include_subaccounts = false;
	else if (q->include[0] && strcasecmp(q->include, "true") && strcmp(q->include, "1")) {
		api_error(rs, 400, API_ERR_INVALID_PARAM,
			  "Invalid IncludeSubaccounts: true or false");
		return -EINVAL;
	}
	return 0;
}

/* The days asked for: the subresource's own range, or StartDate..EndDate (defaults: the day the
 * account was created, today). */
static int api_usage_range(const struct api_usage_req *q, int64_t created, int64_t today,
			   int64_t *first, int64_t *last, struct api_response *rs)
{
	switch (q->res->fixed) {
	case FIXED_TODAY:
		*first = *last = today;
		return 0;
	case FIXED_YESTERDAY:
		*first = *last = today - 1;
		return 0;
	case FIXED_THIS_MONTH:
		*first = api_month_start(today);
		*last = today;
		return 0;
	case FIXED_LAST_MONTH:
		*last = api_month_start(today) - 1;
		*first = api_month_start(*last);
		return 0;
	case FIXED_NONE:
		break;
	}
	*first = created;
	*last = today;
	if (q->start[0] && api_usage_parse_date(q->start, today, first) != 0) {
		api_error(rs, 400, API_ERR_INVALID_PARAM,
			  "Invalid StartDate: YYYY-MM-DD or an offset such as -30days");
		return -EINVAL;
	}
	if (q->end[0] && api_usage_parse_date(q->end, today, last) != 0) {
		api_error(rs, 400, API_ERR_INVALID_PARAM,
			  "Invalid EndDate: YYYY-MM-DD or an offset such as +1days");
		return -EINVAL;
	}
	return 0;
}

static int api_region_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The categories to list: Category's, or turnmegabytes and one per region with usage. */
static int api_usage_categories(struct api_usage_req *q, const struct api_usage_rows *r)
{
	size_t max = 1 + r->n;

	q->cats = calloc(max, sizeof(*q->cats));
	if (!q->cats)
		return -ENOMEM;
	if (q->category[0]) {
		if (!strcmp(q->category, API_USAGE_CATEGORY))
			q->ncats = 1; /* cats[0] = "" */
		else if (!strncmp(q->category, API_USAGE_CATEGORY "-",
				  sizeof(API_USAGE_CATEGORY)) &&
			 q->category[sizeof(API_USAGE_CATEGORY)]) {
			snprintf(q->cats[0], STORE_REGION_MAX, "%s",
				 q->category + sizeof(API_USAGE_CATEGORY));
			q->ncats = 1;
		}
		return 0; /* a category nts does not meter: no records */
	}
	q->ncats = 1;
	for (size_t i = 0; i < r->n; i++) {
		bool seen = !r->v[i].region[0];

		for (size_t c = 1; c < q->ncats && !seen; c++)
			seen = !strcmp(q->cats[c], r->v[i].region);
		if (!seen)
			memcpy(q->cats[q->ncats++], r->v[i].region, STORE_REGION_MAX);
	}
	/* Regions by name after turnmegabytes, as a stable order for paging. */
	qsort(q->cats + 1, q->ncats - 1, sizeof(*q->cats), api_region_cmp);
	return 0;
}

/* Appends "&key=value" (percent-encoded) to the URI being built in u. */
static void api_uri_param(char *u, size_t len, const char *key, const char *value)
{
	size_t n = strlen(u);

	if (!value[0] || n + 1 >= len)
		return;
	n += (size_t)snprintf(u + n, len - n, "%s%s=", strchr(u, '?') ? "&" : "?", key);
	for (const char *p = value; *p && n + 4 < len; p++) {
		unsigned char c = (unsigned char)*p;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.')
			u[n++] = (char)c;
		else
			n += (size_t)snprintf(u + n, len - n, "%%%02X", c);
	}
	u[n < len ? n : len - 1] = '\0';
}

static void api_uri_base(char *u, size_t len, const char *sid, const struct api_usage_res *res)
{
	snprintf(u, len, API_USAGE_PREFIX "%s" API_USAGE_RECORDS "%s.json", sid, res->path);
}

/* A page URI: the resource with the request's filters, PageSize and Page (and a PageToken). */
static json_t *api_page_uri(const struct api_usage_req *q, uint64_t size, uint64_t page, bool token)
{
	char u[API_USAGE_URI_MAX], num[24];

	api_uri_base(u, sizeof(u), q->sid, q->res);
	api_uri_param(u, sizeof(u), "Category", q->category);
	api_uri_param(u, sizeof(u), "StartDate", q->start);
	api_uri_param(u, sizeof(u), "EndDate", q->end);
	api_uri_param(u, sizeof(u), "IncludeSubaccounts", q->include);
	snprintf(num, sizeof(num), "%" PRIu64, size);
	api_uri_param(u, sizeof(u), "PageSize", num);
	snprintf(num, sizeof(num), "%" PRIu64, page);
	api_uri_param(u, sizeof(u), "Page", num);
	if (token) {
		snprintf(num, sizeof(num), "PA%" PRIu64, page);
		api_uri_param(u, sizeof(u), "PageToken", num);
	}
	return json_string(u);
}

static json_t *api_usage_record(const struct api_usage_req *q, const char *cat, int64_t ps,
				int64_t pe, const struct store_usage *u, const char *as_of)
{
	char category[STORE_REGION_MAX + 16], desc[STORE_REGION_MAX + 32], mb[32], count[24];
	char sd[STORE_DAY_LEN + 1], ed[STORE_DAY_LEN + 1], uri[API_USAGE_URI_MAX];
	json_t *subs = json_object(), *r;

	snprintf(category, sizeof(category), "%s%s%s", API_USAGE_CATEGORY, cat[0] ? "-" : "", cat);
	snprintf(desc, sizeof(desc), "TURN Megabytes%s%s%s", cat[0] ? " (" : "", cat,
		 cat[0] ? ")" : "");
	snprintf(count, sizeof(count), "%" PRIu64, u->allocations);
	store_day_fmt(ps, sd);
	store_day_fmt(pe, ed);
	for (size_t i = 0; subs && i < API_USAGE_NRES; i++) {
		if (!api_usage_res[i].key)
			continue;
		api_uri_base(uri, sizeof(uri), q->sid, &api_usage_res[i]);
		api_uri_param(uri, sizeof(uri), "Category", category);
		json_object_set_new(subs, api_usage_res[i].key, json_string(uri));
	}
	api_uri_base(uri, sizeof(uri), q->sid, q->res);
	api_uri_param(uri, sizeof(uri), "Category", category);
	api_uri_param(uri, sizeof(uri), "StartDate", sd);
	api_uri_param(uri, sizeof(uri), "EndDate", ed);
	r = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:s}",
		      "account_sid", q->sid, "api_version", "2010-04-01", "as_of", as_of,
		      "category", category, "count", count, "count_unit", "allocations",
		      "description", desc, "end_date", ed, "price", "0", "price_unit", "usd",
		      "start_date", sd, "subresource_uris", subs ? subs : json_object(), "uri", uri,
		      "usage",
		      api_usage_fmt_mb(u->bytes_to_peer + u->bytes_to_client, mb, sizeof(mb)),
		      "usage_unit", "megabytes");
	return r;
}

/* The page of records q asks for, over the rows read. */
static json_t *api_usage_page(const struct api_usage_req *q, const struct api_usage_rows *r,
			      const struct api_usage_page *pg, uint64_t now)
{
	json_t *list = json_array(), *j;
	char as_of[32];
	time_t t = (time_t)now;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(as_of, sizeof(as_of), "%Y-%m-%dT%H:%M:%S+00:00", &tm);
	for (uint64_t i = pg->first; list && i < pg->first + pg->count; i++) {
		const char *cat = q->cats[i % q->ncats];
		struct store_usage u;
		int64_t ps, pe;

		api_period_at(q->res->span, q->first, q->last, i / q->ncats, &ps, &pe);
		u = api_usage_sum(r, cat[0] ? cat : NULL, ps, pe);
		json_array_append_new(list, api_usage_record(q, cat, ps, pe, &u, as_of));
	}
	if (!list)
		return NULL;
	j = json_pack("{s:I, s:o, s:o, s:I, s:I, s:o, s:I, s:o, s:o}", "end",
		      (json_int_t)(pg->count ? pg->first + pg->count - 1 : pg->first),
		      "first_page_uri", api_page_uri(q, pg->size, 0, false), "next_page_uri",
		      pg->more ? api_page_uri(q, pg->size, pg->page + 1, true) : json_null(),
		      "page", (json_int_t)pg->page, "page_size", (json_int_t)pg->size,
		      "previous_page_uri",
		      pg->page ? api_page_uri(q, pg->size, pg->page - 1, true) : json_null(),
		      "start", (json_int_t)pg->first, "uri",
		      api_page_uri(q, pg->size, pg->page, false), "usage_records", list);
	return j;
}

void api_usage_records(struct api_server *s, const struct api_request *rq, const char *const *id,
		       uint64_t now, struct api_response *rs)
{
	struct api_usage_req q = {0};
	struct api_usage_rows rows = {0};
	struct store_account acct;
	struct api_caller caller;
	struct api_usage_page pg;
	int64_t today = (int64_t)(now / 86400);
	int err;

	q.res = api_usage_parse_path(rq->path, q.sid);
	if (!q.res) { /* a route table may send any .../Usage/Records/{X} here */
		api_not_found(rs, rq->path);
		return;
	}
	if (!strcmp(rq->method, "OPTIONS")) {
		rs->status = 200; /* CORS preflight: the headers are the answer */
		return;
	}
	if (strcmp(rq->method, "GET") != 0 && strcmp(rq->method, "HEAD") != 0) {
		api_error(rs, 405, API_ERR_METHOD, "Method not allowed");
		rs->flags |= API_RESP_ALLOW;
		rs->allow = "GET, HEAD, OPTIONS";
		return;
	}
	/* AccountSid or API key credentials; a master reads its subaccounts' records, a subaccount
	 * only its own; an account the caller cannot see is a 404, as at Twilio (api_auth.c). */
	if (!api_authorize(s, rq, q.sid, true, &caller, &acct, rs))
		return;
	err = 0;
	if ((api_usage_params(rq, &q, rs) ||
	     api_usage_range(&q, acct.created / 86400, today, &q.first, &q.last, rs)))
		return;
	if (!err) {
		struct store_usage_query sq = {q.sid, q.include_subaccounts, q.first, q.last};

		err = q.first <= q.last
			  ? store_usage_foreach(s->store, &sq, api_usage_collect, &rows)
			  : 0;
		if (!err)
			err = rows.err;
	}
	if (!err)
		err = api_usage_categories(&q, &rows);
	if (!err &&
	    api_usage_page_compute(api_period_count(q.res->span, q.first, q.last) * q.ncats,
				   q.page[0] ? q.page : NULL, q.size[0] ? q.size : NULL, &pg)) {
		api_error(rs, 400, API_ERR_INVALID_PARAM, "Invalid Page or PageSize (1 to 1000)");
		goto out;
	}
	if (err) {
		api_store_failed(rs, "usage records", err);
	} else {
		api_set_json(rs, 200, api_usage_page(&q, &rows, &pg, now));
		if (!rs->body)
			api_error(rs, 500, API_ERR_INTERNAL, "Internal server error");
	}
out:
	free(rows.v);
	free(q.cats);
}
