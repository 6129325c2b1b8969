/* Internals of ntsd option parsing shared by options.c (applying one value through its kind's
 * setter, --help) and options_parse.c (command line and config-file syntax). The options
 * themselves (names, kinds, fields, bounds, defaults) are the table in util/config.c.
 */
#ifndef NTS_NTSD_OPTIONS_PRIV_H
#define NTS_NTSD_OPTIONS_PRIV_H

#include <stdbool.h>
#include <stddef.h>

#include "ntsd/options.h"

/* The option named name[0..len), or -1. */
int nts_opt_lookup(const char *name, size_t len);
/* Applies one value (NULL for a bare flag); fresh: first occurrence in this source, which
 * replaces a repeatable option's list. 0 or -EINVAL with err filled. */
int nts_opt_apply(struct nts_config *cfg, struct nts_options *opts, enum nts_opt_id id,
		  const char *v, bool fresh, char *err, size_t errlen);
/* Formats err and returns -EINVAL. */
int nts_opt_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
