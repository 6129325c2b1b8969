/* libFuzzer target: the ntsd config-file parser (user/ntsd/options_parse.c) on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>

#include "ntsd/options.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nts_config cfg;
	struct nts_options opts = {0};
	char err[256];

	nts_config_defaults(&cfg);
	if (nts_config_parse_buffer(&cfg, &opts, (const char *)data, size, "fuzz", err,
				    sizeof(err)) == 0)
		nts_options_resolve(&cfg, err, sizeof(err));
	return 0;
}
