/* Twilio's paging of the 2010-04-01 API: PageSize (default 50, at most 1000), Page (the page's
 * number, for the client's bookkeeping and the start/end indices) and PageToken, which nts makes
 * "PA" + the last sid of the previous page so that a page's content does not shift while rows are
 * added. Without a PageToken, Page selects rows by offset.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_priv.h"

/* A decimal number in 0..max. 0 or -EINVAL. */
static int api_page_number(const char *v, unsigned max, unsigned *out)
{
	unsigned long n;
	char *end;

	if (*v < '0' || *v > '9' || strlen(v) > 9)
		return -EINVAL;
	n = strtoul(v, &end, 10);
	if (*end || n > max)
		return -EINVAL;
	*out = (unsigned)n;
	return 0;
}

int api_page_parse(const struct api_request *rq, struct api_page *pg)
{
	char v[64];
	int err;

	pg->size = API_PAGE_SIZE_DEFAULT;
	pg->number = 0;
	pg->after[0] = '\0';
	err = api_query_get(rq, "PageSize", v, sizeof(v));
	if (!err)
		err = api_page_number(v, API_PAGE_SIZE_MAX, &pg->size);
	if (!err && pg->size == 0)
		err = -EINVAL;
	if (err && err != -ENOENT)
		return -EINVAL;
	err = api_query_get(rq, "Page", v, sizeof(v));
	if (!err)
		err = api_page_number(v, 1000000, &pg->number);
	if (err && err != -ENOENT)
		return -EINVAL;
	err = api_query_get(rq, "PageToken", v, sizeof(v));
	if (err == -ENOENT)
		return 0;
	if (err || strncmp(v, "PA", 2) != 0 || strlen(v + 2) >= sizeof(pg->after))
		return -EINVAL;
	strcpy(pg->after, v + 2);
	return 0;
}

void api_query_append(char *buf, size_t len, const char *key, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = strlen(buf);

	if (o + 1 >= len)
		return;
	o += (size_t)snprintf(buf + o, len - o, "%s%s=", o ? "&" : "", key);
	for (const unsigned char *p = (const unsigned char *)value; *p && o + 4 < len; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~", *p)) {
			buf[o++] = (char)*p;
		} else {
			buf[o++] = '%';
			buf[o++] = hex[*p >> 4];
			buf[o++] = hex[*p & 15];
		}
	}
	buf[o < len ? o : len - 1] = '\0';
}

/* path?filters&PageSize=size&Page=number[&PageToken=PA<after>], as a JSON string. */
static json_t *api_page_uri(const char *path, const char *filters, unsigned size, unsigned number,
			    const char *after)
{
	char uri[1024];

	snprintf(uri, sizeof(uri), "%s?%s%sPageSize=%u&Page=%u%s%s", path, filters,
		 *filters ? "&" : "", size, number, after ? "&PageToken=PA" : "",
		 after ? after : "");
	return json_string(uri);
}

json_t *api_page_json(const char *path, const char *filters, const struct api_page *pg,
		      const char *key, json_t *items, const char *last)
{
	size_t n = json_array_size(items);
	json_int_t start = (json_int_t)pg->number * pg->size;
	json_t *j = json_object();

	if (!j) {
		json_decref(items);
		return NULL;
	}
	json_object_set_new(j, key, items);
	json_object_set_new(j, "end", json_integer(n ? start + (json_int_t)n - 1 : start));
	json_object_set_new(j, "first_page_uri", api_page_uri(path, filters, pg->size, 0, NULL));
	json_object_set_new(j, "next_page_uri",
			    last ? api_page_uri(path, filters, pg->size, pg->number + 1, last)
				 : json_null());
	json_object_set_new(j, "page", json_integer(pg->number));
	json_object_set_new(j, "page_size", json_integer(pg->size));
	json_object_set_new(j, "previous_page_uri",
			    pg->number ? api_page_uri(path, filters, pg->size, pg->number - 1, NULL)
				       : json_null());
	json_object_set_new(j, "start", json_integer(start));
	json_object_set_new(
	    j, "uri",
	    api_page_uri(path, filters, pg->size, pg->number, pg->after[0] ? pg->after : NULL));
	return j;
}
