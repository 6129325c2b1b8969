/* ntsd option parsing: every option of struct nts_config, from the command line and from
 * `--config FILE` (`name = value` lines, same names without the dashes).
 * The command line overrides the file; a repeatable option given on the command line replaces the
 * file's list.
 */
#ifndef NTS_NTSD_OPTIONS_H
#define NTS_NTSD_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "util/config.h"

/* What the command line asked for besides the configuration. */
struct nts_options {
	bool help, version;  /* --help / --version: print and exit 0 */
	bool demo;	     /* --demo */
	char config[256];    /* --config FILE, "" if none */
	bool argv_secrets;   /* --secret or --user on the command line (visible in /proc) */
	bool config_secrets; /* a config file had secret or user lines */
};

/* Parses argv (argv[0] is the program) into cfg (which must hold nts_config_defaults()) and opts,
 * reading --config FILE first wherever it appears. 0, or -EINVAL with a one-line message in err. */
int nts_options_parse(struct nts_config *cfg, struct nts_options *opts, int argc, char **argv,
		      char *err, size_t errlen);
/* Applies `name = value` lines from buf[0..len) (no NUL needed) to cfg and opts (may be NULL);
 * # starts a comment; a flag may stand alone or take true/false. origin names the source in
 * messages
 * ("FILE:LINE: ..."). 0 or -EINVAL with err filled. */
int nts_config_parse_buffer(struct nts_config *cfg, struct nts_options *opts, const char *buf,
			    size_t len, const char *origin, char *err, size_t errlen);
/* Reads and applies a config file (at most 1 MiB); 0 or -errno with err filled. A file with
 * secret or user lines that group or others may read is refused (-EINVAL). */
int nts_config_parse_file(struct nts_config *cfg, struct nts_options *opts, const char *path,
			  char *err, size_t errlen);
/* Fills what was left to defaults after parsing and checks consistency (0 or -EINVAL with err):
 *  - listen: 0.0.0.0:3478 when none was given;
 *  - relay ip: per family, the first concrete (non-wildcard) listen address of that family. A
 * wildcard listen leaves it unset: TURN then binds the relay to the concrete local address the
 * client reached (nts_origin.server, filled from IP_PKTINFO), so relays always advertise a concrete
 * address;
 *  - ice host: the first concrete listen address (IPv6 in brackets, URL-ready), else the host name;
 *  - software: "nts/<version>". */
int nts_options_resolve(struct nts_config *cfg, char *err, size_t errlen);
/* Prints the option summary. */
void nts_options_usage(FILE *f);

#endif
