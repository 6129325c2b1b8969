/* ntsd options: one setter per kind of the table in util/config.c applies a value, and the same
 * table renders --help; see options.h. */
#include "ntsd/options.h"
#include "ntsd/options_priv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int nts_opt_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int parse_u32(const char *v, uint32_t min, uint32_t max, uint32_t *out)
{
	unsigned long long n;
	char *end;

	if (*v < '0' || *v > '9')
		return -EINVAL;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno || *end || n < min || n > max)
		return -EINVAL;
	*out = (uint32_t)n;
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") ||
	    !strcasecmp(v, "on"))
		*out = true;
	else if (!strcmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no") ||
		 !strcasecmp(v, "off"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

static int copy_str(char *dst, size_t cap, const char *v)
{
	size_t n = strlen(v);

	if (n == 0 || n >= cap)
		return -EINVAL;
	memcpy(dst, v, n + 1);
	return 0;
}

static int parse_ports(const char *v, uint16_t *min, uint16_t *max)
{
	char buf[32];
	const char *dash = strchr(v, '-');
	uint32_t a, b;

	if (!dash || (size_t)(dash - v) >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, v, (size_t)(dash - v));
	buf[dash - v] = 0;
	if (parse_u32(buf, 1, 65535, &a) || parse_u32(dash + 1, 1, 65535, &b) || a > b)
		return -EINVAL;
	*min = (uint16_t)a;
	*max = (uint16_t)b;
	return 0;
}

/* The field at offset off of cfg (a row's off or count_off). */
static void *opt_field(struct nts_config *cfg, size_t off)
{
	return (char *)cfg + off;
}

/* A list's count. */
static unsigned *opt_count(struct nts_config *cfg, const struct nts_opt_def *o)
{
	return opt_field(cfg, o->count_off);
}

/* A list's next free element; NULL with err filled when the list is full. */
static void *opt_append(struct nts_config *cfg, const struct nts_opt_def *o, const char *what,
			char *err, size_t errlen)
{
	unsigned n = *opt_count(cfg, o);

	if (n >= o->cap) {
		nts_opt_fail(err, errlen, "--%s: at most %u %s", o->name, o->cap, what);
		return NULL;
	}
	return (char *)opt_field(cfg, o->off) + (size_t)n * o->size;
}

static int set_str(struct nts_config *cfg, const struct nts_opt_def *o, const char *v, char *err,
		   size_t errlen)
{
	if (copy_str(opt_field(cfg, o->off), o->size, v))
		return nts_opt_fail(err, errlen, "--%s: empty or longer than %zu bytes", o->name,
				    o->size - 1);
	return 0;
}

static int set_u32(struct nts_config *cfg, const struct nts_opt_def *o, const char *v, char *err,
		   size_t errlen)
{
	char pct[16];
	size_t n = strlen(v);

	if ((o->flags & NTS_OPT_PERCENT) && n > 1 && n < sizeof(pct) && v[n - 1] == '%') {
		memcpy(pct, v, n - 1); /* "90%" reads as 90 */
		pct[n - 1] = '\0';
		if (!parse_u32(pct, o->min, o->max, opt_field(cfg, o->off)))
			return 0;
	}
	if (parse_u32(v, o->min, o->max, opt_field(cfg, o->off)))
		return nts_opt_fail(err, errlen, "--%s: '%s' is not a number in %u-%u", o->name, v,
				    o->min, o->max);
	return 0;
}

/* A flag stands alone (on) or, in a config file, takes true/false. */
static int set_flag(bool *out, const char *name, const char *v, char *err, size_t errlen)
{
	if (!v) {
		*out = true;
		return 0;
	}
	if (parse_bool(v, out))
		return nts_opt_fail(err, errlen, "%s: '%s' is not a boolean (true/false)", name, v);
	return 0;
}

static int set_bool(struct nts_config *cfg, const struct nts_opt_def *o, const char *v, char *err,
		    size_t errlen)
{
	return set_flag(opt_field(cfg, o->off), o->name, v, err, errlen);
}

static int set_api_listen(struct nts_config *cfg, const struct nts_opt_def *o, const char *v,
			  char *err, size_t errlen)
{
	struct nts_addr a;

	if (nts_addr_parse(&a, v, false) || !a.port)
		return nts_opt_fail(err, errlen, "--%s: '%s' is not ADDR:PORT", o->name, v);
	*(struct nts_addr *)opt_field(cfg, o->off) = a;
	cfg->api_off = false;
	return 0;
}

static int set_ports(struct nts_config *cfg, const struct nts_opt_def *o, const char *v, char *err,
		     size_t errlen)
{
	if (parse_ports(v, opt_field(cfg, o->off), opt_field(cfg, o->count_off)))
		return nts_opt_fail(err, errlen, "--%s: '%s' is not MIN-MAX within 1-65535",
				    o->name, v);
	return 0;
}

static int add_addr(struct nts_config *cfg, const struct nts_opt_def *o, const char *v, char *err,
		    size_t errlen)
{
	struct nts_addr a, *slot;

	if (nts_addr_parse(&a, v, false) || !a.port)
		return nts_opt_fail(
		    err, errlen, "--%s: '%s' is not ADDR:PORT (IPv6 as [ADDR]:PORT)", o->name, v);
	slot = opt_append(cfg, o, "addresses", err, errlen);
	if (!slot)
		return -EINVAL;
	*slot = a;
	(*opt_count(cfg, o))++;
	return 0;
}

/* Relay and external addresses: an IP without port, at most one per family. */
static int add_family_addr(struct nts_config *cfg, const struct nts_opt_def *o, const char *v,
			   char *err, size_t errlen)
{
	struct nts_addr a, *slots = opt_field(cfg, o->off);
	unsigned *n = opt_count(cfg, o);

	if (nts_addr_parse(&a, v, true) || a.port)
		return nts_opt_fail(err, errlen, "--%s: '%s' is not an IP address", o->name, v);
	for (unsigned i = 0; i < *n; i++)
		if (slots[i].family == a.family)
			return nts_opt_fail(err, errlen, "--%s: one address per family", o->name);
	if (*n >= o->cap)
		return nts_opt_fail(err, errlen, "--%s: one address per family", o->name);
	slots[(*n)++] = a;
	return 0;
}

static int add_str(struct nts_config *cfg, const struct nts_opt_def *o, const char *v, char *err,
		   size_t errlen)
{
	char *slot = opt_append(cfg, o, "secrets", err, errlen);

	if (!slot)
		return -EINVAL;
	if (copy_str(slot, o->size, v))
		return nts_opt_fail(err, errlen, "--%s: empty or longer than %zu bytes", o->name,
				    o->size - 1);
	(*opt_count(cfg, o))++;
	return 0;
}

static int add_user(struct nts_config *cfg, const struct nts_opt_def *o, const char *v, char *err,
		    size_t errlen)
{
	struct nts_static_user *u = opt_append(cfg, o, "users", err, errlen);
	const char *colon = strchr(v, ':');
	size_t nl = colon ? (size_t)(colon - v) : 0;

	if (!u)
		return -EINVAL;
	if (!colon || nl == 0 || nl >= sizeof(u->name) ||
	    copy_str(u->password, sizeof(u->password), colon + 1))
		return nts_opt_fail(err, errlen, "--%s: expected NAME:PASSWORD (each 1-127 bytes)",
				    o->name);
	memcpy(u->name, v, nl);
	u->name[nl] = 0;
	(*opt_count(cfg, o))++;
	return 0;
}

static int add_cidr(struct nts_config *cfg, const struct nts_opt_def *o, const char *v, char *err,
		    size_t errlen)
{
	struct nts_cidr *c = opt_append(cfg, o, "rules", err, errlen);

	if (!c)
		return -EINVAL;
	if (nts_cidr_parse(c, v))
		return nts_opt_fail(err, errlen, "--%s: '%s' is not a CIDR", o->name, v);
	(*opt_count(cfg, o))++;
	return 0;
}

/* --secret-file / --user-file: each line (surrounding blanks trimmed; empty lines and lines
 * starting with # skipped) is one value of --secret / --user. Messages never quote a value. */
static int add_from_file(struct nts_config *cfg, const struct nts_opt_def *o, const char *path,
			 char *err, size_t errlen)
{
	char what[64], line[1024], msg[256];
	char *buf;
	size_t len, pos = 0;
	unsigned lineno = 0;
	int rc;

	snprintf(what, sizeof(what), "--%s", o->name);
	rc = nts_secret_file_read(what, path, &buf, &len, err, errlen);
	while (!rc && pos < len) {
		const char *s = buf + pos, *nl = memchr(s, '\n', len - pos);
		const char *e = nl ? nl : buf + len;

		pos = (size_t)(e - buf) + 1;
		lineno++;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
			e--;
		if (s == e || *s == '#')
			continue;
		if ((size_t)(e - s) >= sizeof(line) || memchr(s, 0, (size_t)(e - s))) {
			rc = nts_opt_fail(err, errlen, "%s:%u: line too long or holds a NUL byte",
					  path, lineno);
			break;
		}
		memcpy(line, s, (size_t)(e - s));
		line[e - s] = 0;
		rc = o->kind == NTS_KIND_USER_FILE ? add_user(cfg, o, line, msg, sizeof(msg))
						   : add_str(cfg, o, line, msg, sizeof(msg));
		if (rc)
			nts_opt_fail(err, errlen, "%s:%u: %s", path, lineno, msg);
	}
	explicit_bzero(line, sizeof(line));
	if (buf)
		explicit_bzero(buf, len);
	free(buf);
	return rc;
}

typedef int (*opt_setter)(struct nts_config *cfg, const struct nts_opt_def *o, const char *v,
			  char *err, size_t errlen);

static const opt_setter opt_setters[] = {
    [NTS_KIND_STR] = set_str,
    [NTS_KIND_U32] = set_u32,
    [NTS_KIND_BOOL] = set_bool,
    [NTS_KIND_API_LISTEN] = set_api_listen,
    [NTS_KIND_PORTS] = set_ports,
    [NTS_KIND_ADDR_LIST] = add_addr,
    [NTS_KIND_FAMILY_ADDR] = add_family_addr,
    [NTS_KIND_STR_LIST] = add_str,
    [NTS_KIND_USER_LIST] = add_user,
    [NTS_KIND_CIDR_LIST] = add_cidr,
    [NTS_KIND_SECRET_FILE] = add_from_file,
    [NTS_KIND_USER_FILE] = add_from_file,
};

/* --demo, --config, --help and --version go to opts, not the configuration. */
static int apply_daemon(struct nts_options *opts, enum nts_opt_id id, const char *v, char *err,
			size_t errlen)
{
	switch (id) {
	case NTS_OPT_DEMO:
		return set_flag(&opts->demo, nts_opt_defs[id].name, v, err, errlen);
	case NTS_OPT_CONFIG:
		if (copy_str(opts->config, sizeof(opts->config), v))
			return nts_opt_fail(err, errlen, "--%s: bad value '%s'",
					    nts_opt_defs[id].name, v);
		return 0;
	case NTS_OPT_HELP:
		opts->help = true;
		return 0;
	case NTS_OPT_VERSION:
		opts->version = true;
		return 0;
	default:
		return nts_opt_fail(err, errlen, "--%s: not an ntsd option", nts_opt_defs[id].name);
	}
}

int nts_opt_apply(struct nts_config *cfg, struct nts_options *opts, enum nts_opt_id id,
		  const char *v, bool fresh, char *err, size_t errlen)
{
	const struct nts_opt_def *o = &nts_opt_defs[id];

	if (o->kind == NTS_KIND_DAEMON)
		return apply_daemon(opts, id, v, err, errlen);
	if (fresh && (o->flags & NTS_OPT_REPEAT))
		*opt_count(cfg, o) = 0;
	return opt_setters[o->kind](cfg, o, v, err, errlen);
}

int nts_opt_list_key(int id)
{
	for (int i = 0; i < id; i++)
		if ((nts_opt_defs[i].flags & NTS_OPT_REPEAT) &&
		    (nts_opt_defs[id].flags & NTS_OPT_REPEAT) &&
		    nts_opt_defs[i].off == nts_opt_defs[id].off &&
		    nts_opt_defs[i].kind != NTS_KIND_DAEMON)
			return i;
	return id;
}

int nts_opt_lookup(const char *name, size_t len)
{
	for (int i = 0; i < NTS_OPT_COUNT; i++)
		if (strlen(nts_opt_defs[i].name) == len && !memcmp(nts_opt_defs[i].name, name, len))
			return i;
	return -1;
}

/* " (default X)" for options whose row has a default, "" for the others. */
static void opt_default_text(const struct nts_opt_def *o, char *buf, size_t len)
{
	buf[0] = 0;
	if (!o->has_default)
		return;
	if (o->kind == NTS_KIND_U32)
		snprintf(buf, len, " (default %u)", o->def.u32);
	else if (o->kind == NTS_KIND_PORTS)
		snprintf(buf, len, " (default %u-%u)", o->def.ports[0], o->def.ports[1]);
	else
		snprintf(buf, len, " (default %s)", o->def.str);
}

void nts_options_usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: ntsd [OPTIONS]\n"
	    "STUN/TURN server. Every option is also accepted as `name = value` in --config FILE;\n"
	    "the command line overrides the file.\n\n");
	for (int i = 0; i < NTS_OPT_COUNT; i++) {
		const struct nts_opt_def *o = &nts_opt_defs[i];
		char left[64], def[96];

		snprintf(left, sizeof(left), "--%s%s%s", o->name, o->arg ? " " : "",
			 o->arg ? o->arg : "");
		opt_default_text(o, def, sizeof(def));
		fprintf(f, "  %-34s %s%s%s\n", left, o->help, def,
			(o->flags & NTS_OPT_REPEAT) ? "; repeatable" : "");
	}
}
