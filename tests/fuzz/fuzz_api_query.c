/* libFuzzer target for the account resources' query parsing: Twilio's paging parameters
 * (PageSize, Page, PageToken), the FriendlyName/Status filters, and their re-encoding into the
 * page URIs. The input is the raw query string.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_priv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[STORE_NAME_MAX], small[4], filters[512] = "", *query = malloc(size + 1);
	struct api_request rq = {.method = "GET", .path = "/2010-04-01/Accounts.json"};
	struct api_page pg;
	json_t *j;

	if (!query)
		return 0;
	memcpy(query, data, size);
	query[size] = '\0';
	rq.query = query;
	if (api_page_parse(&rq, &pg) == 0) {
		if (api_query_get(&rq, "FriendlyName", name, sizeof(name)) == 0)
			api_query_append(filters, sizeof(filters), "FriendlyName", name);
		api_query_get(&rq, "Status", small, sizeof(small)); /* -ENOSPC paths */
		j = api_page_json(rq.path, filters, &pg, "accounts", json_array(),
				  pg.after[0] ? pg.after : NULL);
		json_decref(j);
	}
	free(query);
	return 0;
}
