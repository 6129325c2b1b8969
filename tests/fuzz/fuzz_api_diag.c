/* libFuzzer target for the diag link parser (user/api/api_diag.c): the "link" form field of
 * POST /diag/token, then the link itself ("<expiry>.<AccountSid>.<64 hex>"), checked against a
 * fixed secret. Any input must be refused or verified without reading out of bounds; an input
 * that verifies must be exactly what api_diag_link_make() signs for its account and expiry.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_diag.h"
#include "auth/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct auth_ctx *auth; /* one per process: libFuzzer calls this many times */
	const char *secrets[] = {"fuzz-secret"};
	char link[API_DIAG_LINK_LEN], sid[64], again[API_DIAG_LINK_LEN];
	uint64_t expiry;

	if (!auth)
		auth = auth_create("nts", secrets, 1, NULL, 0);
	if (!auth)
		abort();
	/* The body is not NUL-terminated: the form parser must respect the length. */
	if (api_form_get((const char *)data, size, "link", link, sizeof(link)) != 0) {
		if (size >= sizeof(link))
			return 0;
		memcpy(link, data, size);
		link[size] = '\0';
	}
	if (api_diag_link_check(auth, link, 0, sid, sizeof(sid), &expiry) == 0) {
		if (api_diag_link_make(auth, sid, expiry, again, sizeof(again)) != 0 ||
		    strcmp(again, link) != 0)
			abort();
	}
	return 0;
}
