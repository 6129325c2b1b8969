/* libFuzzer target for the token API's parsers of untrusted input: the form body (Ttl lookup and
 * percent-decoding), the Ttl value, and the Basic Authorization header.
 * Input layout: first byte selects a split point; bytes before it are the Authorization header,
 * the rest the form body.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char value[64], user[64], pass[128], *header;
	size_t split;
	uint32_t ttl;

	if (size < 1)
		return 0;
	split = data[0] < size ? data[0] : size - 1;
	header = malloc(split + 1);
	if (!header)
		return 0;
	memcpy(header, data + 1, split);
	header[split] = '\0';
	api_parse_basic(header, user, sizeof(user), pass, sizeof(pass));
	free(header);

	/* The body is not NUL-terminated: the parser must respect the length. */
	if (api_form_get((const char *)data + 1 + split, size - 1 - split, "Ttl", value,
			 sizeof(value)) == 0)
		api_parse_ttl(value, &ttl);
	/* A tiny output buffer exercises the -ENOSPC paths. */
	api_form_get((const char *)data + 1 + split, size - 1 - split, "Ttl", value, 3);
	return 0;
}
