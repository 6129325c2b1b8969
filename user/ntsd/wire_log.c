/* Logging wiring for ntsd: --log-format and --verbose to the logger (at start and on reload),
 * journald's conventions when stderr is the journal, and a 1 s tick that reports the warnings the
 * logger held back; see daemon.h. */
#include "ntsd/daemon.h"
#include "util/log.h"

void ntsd_log_apply(const struct nts_config *cfg)
{
	enum nts_log_format f = NTS_LOG_TEXT;

	nts_log_format_parse(cfg->log_format, &f); /* checked by nts_options_resolve() */
	nts_log_set_journal(nts_log_stderr_is_journal());
	nts_log_set_format(f);
	nts_log_set_level(cfg->verbose ? NTS_LOG_DEBUG : NTS_LOG_INFO);
}

static void wire_log_tick(void *arg, uint64_t now_ms)
{
	nts_log_flush_suppressed();
}

int ntsd_wire_log(struct ntsd *d)
{
	return loop_add_tick(d->loop, 1000, wire_log_tick, d);
}
