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
/* The option whose list id fills (--secret for --secret-file, --user for --user-file), id itself
 * for the others: a source's first value of any of them replaces the list, later ones append. */
int nts_opt_list_key(int id);
/* Applies one value (NULL for a bare flag); fresh: first occurrence in this source, which
 * replaces a repeatable option's list. 0 or -EINVAL with err filled. */
int nts_opt_apply(struct nts_config *cfg, struct nts_options *opts, enum nts_opt_id id,
		  const char *v, bool fresh, char *err, size_t errlen);
/* Formats err and returns -EINVAL. */
int nts_opt_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Refuses (-EINVAL, err names the file and the chmod that fixes it) a regular file open on fd
 * that group or others may read; what is the option ("--config", "--secret-file"). */
int nts_secret_mode_check(int fd, const char *what, const char *path, char *err, size_t errlen);
/* Reads a whole secrets file (under 64 KiB) after nts_secret_mode_check(); *buf (malloc'd, not
 * NUL-terminated, to be wiped and freed by the caller) and *len. 0 or -EINVAL with err filled. */
int nts_secret_file_read(const char *what, const char *path, char **buf, size_t *len, char *err,
			 size_t errlen);

#endif
