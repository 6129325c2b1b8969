/* libFuzzer target for the Usage Records parsers of untrusted input: the resource path, the
 * StartDate/EndDate forms (dates and day offsets), Page/PageSize, and the megabyte formatter.
 * Input layout: the first byte selects a split point; bytes before it are a date and the path,
 * the rest Page and PageSize (split at the first NUL); 8 bytes of it also become a byte count.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_usage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *a, *b, mb[32];
	struct api_usage_page p;
	uint64_t bytes = 0;
	size_t split;
	int64_t day;

	if (size < 1)
		return 0;
	split = data[0] < size ? data[0] : size - 1;
	a = malloc(split + 1);
	b = malloc(size - split);
	if (!a || !b) {
		free(a);
		free(b);
		return 0;
	}
	memcpy(a, data + 1, split);
	a[split] = '\0';
	memcpy(b, data + 1 + split, size - 1 - split);
	b[size - 1 - split] = '\0';
	api_usage_parse_date(a, 20792, &day);
	api_usage_parse_date(a, INT32_MAX, &day);
	api_usage_match(a);
	/* b may hold a NUL: Page before it, PageSize after it (or none). */
	api_usage_page_compute(UINT64_MAX / 2, b,
			       strlen(b) + 1 < size - split ? b + strlen(b) + 1 : NULL, &p);
	memcpy(&bytes, data, size < sizeof(bytes) ? size : sizeof(bytes));
	api_usage_fmt_mb(bytes, mb, sizeof(mb));
	free(a);
	free(b);
	return 0;
}
