/* Internals of ntsd option parsing shared by options.c (the table, defaults, applying one value)
 * and options_parse.c (command line and config-file syntax).
 */
#ifndef NTS_NET_OPTIONS_PRIV_H
#define NTS_NET_OPTIONS_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/options.h"

/* clang-format off */
enum opt_id {
	O_LISTEN, O_TLS_LISTEN, O_CERT, O_KEY, O_RELAY_IP, O_EXTERNAL_IP, O_RELAY_PORTS, O_REALM,
	O_SECRET, O_USER, O_ALLOW_PEER, O_DENY_PEER, O_API_LISTEN, O_API_CERT, O_API_KEY, O_NO_API,
	O_ICE_HOST, O_DB, O_CTL_SOCKET, O_PIN_DIR, O_MAX_ALLOC_USER, O_MAX_ALLOC,
	O_DEFAULT_LIFETIME, O_MAX_LIFETIME, O_UNAUTH_RATE, O_MAX_TCP, O_MAX_TCP_SOURCE, O_TCP_IDLE,
	O_TCP_CONNECT_TIMEOUT, 	O_FP_CHANNELS, O_UDP_BUFFER, O_RELAY_BUFFER, O_SOFTWARE, O_VERBOSE, O_DEMO, O_CONFIG, O_HELP,
	O_VERSION, O_COUNT
};
/* clang-format on */

enum opt_flag {
	F_ARG = 1,     /* takes a value */
	F_REPEAT = 2,  /* repeatable: values accumulate */
	F_CMDLINE = 4, /* command line only (not in a config file) */
};

/* String and number options are applied from the table: where the value goes and its bounds. */
enum opt_kind { K_OTHER, K_STR, K_U32 };
#define STR_OPT(field)                                                                             \
	.kind = K_STR, .off = offsetof(struct nts_config, field),                                  \
	.max = sizeof(((struct nts_config *)0)->field)
#define U32_OPT(field, lo, hi)                                                                     \
	.kind = K_U32, .off = offsetof(struct nts_config, field), .min = (lo), .max = (hi)

struct nts_opt_def {
	const char *name;
	unsigned flags; /* enum opt_flag */
	const char *arg;
	const char *help;
	enum opt_kind kind;
	size_t off;
	uint32_t min, max; /* K_U32: value bounds; K_STR: max is the field's size */
};
extern const struct nts_opt_def nts_opt_defs[O_COUNT];

/* The option named name[0..len), or -1. */
int nts_opt_lookup(const char *name, size_t len);
/* Applies one value (NULL for a bare flag); fresh: first occurrence in this source, which
 * replaces a repeatable option's list. 0 or -EINVAL with err filled. */
int nts_opt_apply(struct nts_config *cfg, struct nts_options *opts, enum opt_id id, const char *v,
		  bool fresh, char *err, size_t errlen);
/* Formats err and returns -EINVAL. */
int nts_opt_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
