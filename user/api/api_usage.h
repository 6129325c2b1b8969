/* The Usage Records resources (api_usage.c): their route, and the parsers and formats they use
 * (unit-tested and fuzzed). Internal to user/api, like api_priv.h.
 */
#ifndef NTS_API_USAGE_H
#define NTS_API_USAGE_H

#include "api/api_priv.h"

#define API_USAGE_PAGE_SIZE 50	       /* Twilio's default PageSize */
#define API_USAGE_PAGE_MAX 1000	       /* and its largest */
#define API_USAGE_BYTES_PER_MB 1000000 /* "megabytes" are 10^6 bytes */

/* Whether path is /2010-04-01/Accounts/{Sid}/Usage/Records[/Sub](.json). */
bool api_usage_match(const char *path);
/* Answers GET (and OPTIONS) on such a path; id is unused (the path is parsed again). */
void api_usage_records(struct api_server *s, const struct api_request *rq, const char *const *id,
		       uint64_t now, struct api_response *rs);

/* Parses a StartDate/EndDate value: "YYYY-MM-DD", or Twilio's offsets from today such as "-30days"
 * or "+1days" (also "-1day"). day and today count days from 1970-01-01. 0 or -EINVAL. */
int api_usage_parse_date(const char *text, int64_t today, int64_t *day);
/* Writes bytes as megabytes, exactly: the decimals needed and no more ("1.5", "0.000001", "0").
 * Returns out. */
const char *api_usage_fmt_mb(uint64_t bytes, char *out, size_t len);
/* One page of a list of total records: Twilio's Page (from 0) and PageSize (NULL: defaults).
 * 0 or -EINVAL (not a number, PageSize outside 1..API_USAGE_PAGE_MAX). */
struct api_usage_page {
	uint64_t page, size;   /* as asked (size defaulted) */
	uint64_t first, count; /* the records on this page: [first, first + count) */
	bool more;	       /* a next page exists */
};
int api_usage_page_compute(uint64_t total, const char *page, const char *size,
			   struct api_usage_page *p);

/* The periods of a resource (api_usage_period.c): its whole range, or each day, month or year. */
enum api_span { SPAN_RANGE, SPAN_DAILY, SPAN_MONTHLY, SPAN_YEARLY };
/* The first day of day's month. */
int64_t api_month_start(int64_t day);
/* Period number idx of span within [first, last], clipped to it, into *ps..*pe. */
void api_period_at(enum api_span span, int64_t first, int64_t last, uint64_t idx, int64_t *ps,
		   int64_t *pe);
/* How many periods of span [first, last] touches (0 when first > last). */
uint64_t api_period_count(enum api_span span, int64_t first, int64_t last);

/* Answers of api_route.c. */
void api_set_json(struct api_response *rs, unsigned status, json_t *j);
void api_error(struct api_response *rs, unsigned status, int code, const char *message);
void api_not_found(struct api_response *rs, const char *path);

#endif
