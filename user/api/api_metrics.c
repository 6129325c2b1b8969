/* Prometheus text exposition (format 0.0.4) of the daemon counters. Labels are bounded enums only
 * (method, direction, path): never usernames or AccountSids, which would be unbounded.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_priv.h"
#include "stun/stun.h"

static void api_metric_head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample of /metrics per scalar counter, from the list in util/stats.h. */
struct api_counter {
	const char *name, *type, *labels, *help;
	size_t off; /* of the uint64_t in struct nts_stats */
};

static const struct api_counter api_counters[] = {
#define API_COUNTER(field, name, type, labels, help)                                               \
	{name, type, labels, help, offsetof(struct nts_stats, field)},
    NTS_STATS_COUNTERS(API_COUNTER)
#undef API_COUNTER
};

char *api_metrics_render(const struct nts_stats *st, size_t *len)
{
	static const struct nts_stats zero;
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (!f)
		return NULL;
	if (!st)
		st = &zero;
	api_metric_head(f, "nts_stun_requests_total", "counter",
			"STUN/TURN requests and indications received, by method.");
	for (int m = 0; m < NTS_M_COUNT; m++)
		fprintf(f, "nts_stun_requests_total{method=\"%s\"} %" PRIu64 "\n",
			stun_method_stat_name(m), st->requests[m]);
	api_metric_head(f, "nts_stun_errors_total", "counter",
			"STUN error responses sent, by method.");
	for (int m = 0; m < NTS_M_COUNT; m++)
		fprintf(f, "nts_stun_errors_total{method=\"%s\"} %" PRIu64 "\n",
			stun_method_stat_name(m), st->errors[m]);
	for (size_t i = 0; i < sizeof(api_counters) / sizeof(api_counters[0]); i++) {
		const struct api_counter *c = &api_counters[i];

		if (i == 0 || strcmp(c->name, api_counters[i - 1].name) != 0)
			api_metric_head(f, c->name, c->type, c->help);
		fprintf(f, "%s%s %" PRIu64 "\n", c->name, c->labels,
			*(const uint64_t *)((const char *)st + c->off));
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	*len = size;
	return buf;
}

void api_set_stats_fn(struct api_server *s, api_stats_fn fn, void *arg)
{
	s->stats_fn = fn;
	s->stats_arg = arg;
}

char *api_metrics_render_server(struct api_server *s, size_t *len)
{
	struct nts_stats snap;

	if (!s->stats_fn)
		return api_metrics_render(s->stats, len);
	s->stats_fn(s->stats_arg, &snap);
	return api_metrics_render(&snap, len);
}
