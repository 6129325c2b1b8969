/* Usage Records, the parts that need no request: StartDate and EndDate, megabytes, pages
 * (unit-tested and fuzzed through api_usage.h), and the calendar periods a record covers, computed
 * through the store's day numbers (days from 1970-01-01, UTC).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_usage.h"
#include "store/store.h"

#define API_USAGE_MAX_OFFSET 99999 /* days in a relative date (-Ndays), about 273 years */

/* --- parameters and formats (unit-tested) */

int api_usage_parse_date(const char *text, int64_t today, int64_t *day)
{
	const char *p = text;
	int64_t n = 0;
	int sign;

	if (!text)
		return -EINVAL;
	if (*p != '+' && *p != '-')
		return store_day_parse(text, day);
	sign = *p++ == '-' ? -1 : 1;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		n = n * 10 + (*p - '0');
		if (n > API_USAGE_MAX_OFFSET)
			return -EINVAL;
	}
	if (strcmp(p, "days") != 0 && strcmp(p, "day") != 0)
		return -EINVAL;
	*day = today + sign * n;
	return 0;
}

const char *api_usage_fmt_mb(uint64_t bytes, char *out, size_t len)
{
	uint64_t whole = bytes / API_USAGE_BYTES_PER_MB, frac = bytes % API_USAGE_BYTES_PER_MB;
	char digits[8];
	int n;

	if (!frac) {
		snprintf(out, len, "%" PRIu64, whole);
		return out;
	}
	n = snprintf(digits, sizeof(digits), "%06" PRIu64, frac);
	while (n > 0 && digits[n - 1] == '0')
		digits[--n] = '\0';
	snprintf(out, len, "%" PRIu64 ".%s", whole, digits);
	return out;
}

/* A non-negative decimal of at most 9 digits. */
static int api_parse_count(const char *s, uint64_t *v)
{
	uint64_t n = 0;
	int digits = 0;

	for (; *s; s++, digits++) {
		if (*s < '0' || *s > '9' || digits == 9)
			return -EINVAL;
		n = n * 10 + (uint64_t)(*s - '0');
	}
	if (!digits)
		return -EINVAL;
	*v = n;
	return 0;
}

int api_usage_page_compute(uint64_t total, const char *page, const char *size,
			   struct api_usage_page *p)
{
	memset(p, 0, sizeof(*p));
	p->size = API_USAGE_PAGE_SIZE;
	if ((size &&
	     (api_parse_count(size, &p->size) || p->size < 1 || p->size > API_USAGE_PAGE_MAX)) ||
	    (page && api_parse_count(page, &p->page)))
		return -EINVAL;
	p->first = p->page * p->size;
	if (p->first < total) {
		p->count = total - p->first < p->size ? total - p->first : p->size;
		p->more = p->first + p->count < total;
	}
	return 0;
}

/* --- calendar periods, through the store's day numbers */

/* Months since year 0 of day's month (its "YYYY-MM"). */
static int64_t api_month_index(int64_t day)
{
	char t[STORE_DAY_LEN + 1];

	store_day_fmt(day, t);
	return atoi(t) * 12 + atoi(t + 5) - 1;
}

/* The first day of month index m (api_month_index). */
static int64_t api_month_day(int64_t m)
{
	char t[STORE_DAY_LEN + 1];
	int64_t day = 0;

	if (m < 0)
		m = 0;
	else if (m > 9999 * 12 + 11)
		m = 9999 * 12 + 11;
	snprintf(t, sizeof(t), "%04d-%02d-01", (int)(m / 12), (int)(m % 12) + 1);
	store_day_parse(t, &day);
	return day;
}

int64_t api_month_start(int64_t day)
{
	return api_month_day(api_month_index(day));
}

/* The periods of span (a month: 1, a year: 12) in months, 0 for days and whole ranges. */
static int64_t api_span_months(enum api_span span)
{
	return span == SPAN_MONTHLY ? 1 : span == SPAN_YEARLY ? 12 : 0;
}

/* Period number idx of span within [first, last], clipped to it, into *ps..*pe. */
void api_period_at(enum api_span span, int64_t first, int64_t last, uint64_t idx, int64_t *ps,
		   int64_t *pe)
{
	int64_t len = api_span_months(span), m, s, next;

	if (span == SPAN_RANGE) {
		*ps = first;
		*pe = last;
		return;
	}
	if (span == SPAN_DAILY) {
		s = first + (int64_t)idx;
		next = s + 1;
	} else {
		m = api_month_index(first);
		m -= m % len; /* a year starts in January */
		m += (int64_t)idx * len;
		s = api_month_day(m);
		next = api_month_day(m + len);
	}
	*ps = s < first ? first : s;
	*pe = next - 1 > last ? last : next - 1;
}

uint64_t api_period_count(enum api_span span, int64_t first, int64_t last)
{
	int64_t len = api_span_months(span);

	if (first > last)
		return 0;
	if (span == SPAN_RANGE)
		return 1;
	if (span == SPAN_DAILY)
		return (uint64_t)(last - first) + 1;
	return (uint64_t)(api_month_index(last) / len - api_month_index(first) / len) + 1;
}
