/* ntsd option syntax: `--name value` / `--name=value` on the command line, `name = value` lines in
 * --config files; values go through the table in options.c. See options.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ntsd/options.h"
#include "ntsd/options_priv.h"

static void trim(const char **s, const char **e)
{
	while (*s < *e && (**s == ' ' || **s == '\t' || **s == '\r'))
		(*s)++;
	while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t' || (*e)[-1] == '\r'))
		(*e)--;
}

int nts_config_parse_buffer(struct nts_config *cfg, struct nts_options *opts, const char *buf,
			    size_t len, const char *origin, char *err, size_t errlen)
{
	bool seen[NTS_OPT_COUNT] = {0};
	struct nts_options dummy = {0};
	const char *p = buf, *end = buf + len;
	unsigned lineno = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end, *ks = p, *ke, *vs = NULL, *ve = NULL, *hash;
		char value[1024], msg[256];
		int id, key, rc;

		lineno++;
		p = nl ? nl + 1 : end;
		hash = memchr(ks, '#', (size_t)(le - ks));
		if (hash)
			le = hash;
		ke = memchr(ks, '=', (size_t)(le - ks));
		if (ke) {
			vs = ke + 1;
			ve = le;
			trim(&vs, &ve);
		} else {
			ke = le;
		}
		trim(&ks, &ke);
		if (ks == ke && !vs)
			continue; /* blank or comment-only line */
		if (memchr(ks, 0, (size_t)(le - ks)))
			return nts_opt_fail(err, errlen, "%s:%u: NUL byte", origin, lineno);
		id = nts_opt_lookup(ks, (size_t)(ke - ks));
		if (id < 0 || (nts_opt_defs[id].flags & NTS_OPT_CMDLINE))
			return nts_opt_fail(err, errlen, "%s:%u: unknown option '%.*s'", origin,
					    lineno, (int)(ke - ks > 64 ? 64 : ke - ks), ks);
		if ((nts_opt_defs[id].flags & NTS_OPT_ARG) && (!vs || vs == ve))
			return nts_opt_fail(err, errlen, "%s:%u: %s needs a value", origin, lineno,
					    nts_opt_defs[id].name);
		if (vs && (size_t)(ve - vs) >= sizeof(value))
			return nts_opt_fail(err, errlen, "%s:%u: value too long", origin, lineno);
		if (vs) {
			memcpy(value, vs, (size_t)(ve - vs));
			value[ve - vs] = 0;
		}
		if (!(nts_opt_defs[id].flags & NTS_OPT_REPEAT) && seen[id])
			return nts_opt_fail(err, errlen, "%s:%u: %s given twice", origin, lineno,
					    nts_opt_defs[id].name);
		if (id == NTS_OPT_SECRET || id == NTS_OPT_USER)
			(opts ? opts : &dummy)->config_secrets = true;
		key = nts_opt_list_key(id);
		rc = nts_opt_apply(cfg, opts ? opts : &dummy, id, vs ? value : NULL, !seen[key],
				   msg, sizeof(msg));
		explicit_bzero(value, sizeof(value));
		seen[key] = seen[id] = true;
		if (rc)
			return nts_opt_fail(err, errlen, "%s:%u: %s", origin, lineno,
					    msg[0] == '-' ? msg + 2 : msg);
	}
	return 0;
}

int nts_config_parse_file(struct nts_config *cfg, struct nts_options *opts, const char *path,
			  char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	struct nts_options local = {0};
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int rc, mode_rc;

	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "--config %s: %s", path, strerror(-rc));
		return rc;
	}
	for (;;) {
		if (len == cap) {
			char *nb;
			if (cap >= (1u << 20)) {
				fclose(f);
				free(buf);
				return nts_opt_fail(err, errlen, "--config %s: larger than 1 MiB",
						    path);
			}
			cap = cap ? cap * 2 : 4096;
			nb = realloc(buf, cap);
			if (!nb) {
				fclose(f);
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
		}
		size_t n = fread(buf + len, 1, cap - len, f);
		if (n == 0)
			break;
		len += n;
	}
	rc = ferror(f) ? -EIO : 0;
	if (!opts)
		opts = &local;
	if (rc)
		snprintf(err, errlen, "--config %s: read error", path);
	else
		rc = nts_config_parse_buffer(cfg, opts, buf ? buf : "", len, path, err, errlen);
	/* Checked on the open file (no race with a rename), once we know it holds secrets. */
	if (!rc && opts->config_secrets) {
		mode_rc = nts_secret_mode_check(fileno(f), "--config", path, err, errlen);
		if (mode_rc)
			rc = mode_rc;
	}
	fclose(f);
	if (buf)
		explicit_bzero(buf, len);
	free(buf);
	return rc;
}

/* Splits "--name[=value]" into the option id and an inline value; -1 if unknown. */
static int cmdline_lookup(const char *arg, const char **inline_value)
{
	const char *name = arg + 2, *eq;

	*inline_value = NULL;
	if (!strcmp(arg, "-h"))
		return NTS_OPT_HELP;
	if (!strcmp(arg, "-V"))
		return NTS_OPT_VERSION;
	if (!strcmp(arg, "-v"))
		return NTS_OPT_VERBOSE;
	if (strncmp(arg, "--", 2) != 0)
		return -1;
	eq = strchr(name, '=');
	if (eq)
		*inline_value = eq + 1;
	return nts_opt_lookup(name, eq ? (size_t)(eq - name) : strlen(name));
}

/* One pass over argv; with only_config, just finds --config (and reports unknown options). */
static int cmdline_pass(struct nts_config *cfg, struct nts_options *opts, int argc, char **argv,
			bool only_config, char *err, size_t errlen)
{
	bool seen[NTS_OPT_COUNT] = {0};

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *v;
		int id = cmdline_lookup(arg, &v);

		if (id < 0)
			return nts_opt_fail(err, errlen,
					    arg[0] == '-' ? "unknown option '%s'"
							  : "unexpected argument '%s'",
					    arg);
		if ((nts_opt_defs[id].flags & NTS_OPT_ARG) && !v) {
			if (i + 1 >= argc)
				return nts_opt_fail(err, errlen, "--%s needs a value (%s)",
						    nts_opt_defs[id].name, nts_opt_defs[id].arg);
			v = argv[++i];
		} else if (!(nts_opt_defs[id].flags & NTS_OPT_ARG) && v) {
			return nts_opt_fail(err, errlen, "--%s takes no value",
					    nts_opt_defs[id].name);
		}
		if (only_config != (id == NTS_OPT_CONFIG))
			continue;
		if (id == NTS_OPT_SECRET || id == NTS_OPT_USER)
			opts->argv_secrets = true;
		int key = nts_opt_list_key(id);
		int rc = nts_opt_apply(cfg, opts, (enum nts_opt_id)id, v, !seen[key], err, errlen);
		seen[key] = seen[id] = true;
		if (rc)
			return rc;
	}
	return 0;
}

int nts_options_parse(struct nts_config *cfg, struct nts_options *opts, int argc, char **argv,
		      char *err, size_t errlen)
{
	int rc;

	memset(opts, 0, sizeof(*opts));
	rc = cmdline_pass(cfg, opts, argc, argv, true, err, errlen);
	if (rc)
		return rc;
	if (opts->config[0]) {
		rc = nts_config_parse_file(cfg, opts, opts->config, err, errlen);
		if (rc)
			return -EINVAL;
	}
	return cmdline_pass(cfg, opts, argc, argv, false, err, errlen);
}
