/* Logging to stderr: text, JSON lines or journald text, with per-call-site rate limiting of
 * warnings and errors; see log.h. The logger is process-wide (every module logs without a handle),
 * so its settings live in the one static struct below rather than in the daemon context.
 */
#include "util/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const char *const log_level_names[] = {"error", "warning", "info", "debug"};
/* sd-daemon(3) priorities: LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG. */
static const int log_level_prio[] = {3, 4, 6, 7};

static struct {
	enum nts_log_level max_level;
	enum nts_log_format format;
	bool journal;
	struct nts_log_limiter limiter;
	pthread_mutex_t limiter_lock; /* relay workers log from their threads */
} logger = {.max_level = NTS_LOG_INFO, .limiter_lock = PTHREAD_MUTEX_INITIALIZER};

void nts_log_set_level(enum nts_log_level level)
{
	logger.max_level = level;
}

void nts_log_set_format(enum nts_log_format format)
{
	logger.format = format;
}

void nts_log_set_journal(bool on)
{
	logger.journal = on;
}

int nts_log_format_parse(const char *name, enum nts_log_format *out)
{
	if (!strcmp(name, "text"))
		*out = NTS_LOG_TEXT;
	else if (!strcmp(name, "json"))
		*out = NTS_LOG_JSON;
	else
		return -EINVAL;
	return 0;
}

bool nts_log_stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	/* systemd.exec(5): "DEVICE:INODE" of the stream; a child whose stderr was redirected
	 * elsewhere inherits the variable, hence the comparison. */
	if (!env || sscanf(env, "%llu:%llu", &dev, &ino) != 2 || fstat(2, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* Appends s to buf as the body of a JSON string (RFC 8259 §7); returns the new offset, or len
 * when it does not fit. */
static size_t json_escape(char *buf, size_t off, size_t len, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	for (; *s && off < len; s++) {
		unsigned char c = (unsigned char)*s;
		const char *esc = NULL;

		switch (c) {
		case '"':
			esc = "\\\"";
			break;
		case '\\':
			esc = "\\\\";
			break;
		case '\n':
			esc = "\\n";
			break;
		case '\r':
			esc = "\\r";
			break;
		case '\t':
			esc = "\\t";
			break;
		default:
			break;
		}
		if (esc) {
			if (off + 2 >= len)
				return len;
			memcpy(buf + off, esc, 2);
			off += 2;
		} else if (c < 0x20 || c == 0x7f) {
			if (off + 6 >= len)
				return len;
			memcpy(buf + off, "\\u00", 4);
			buf[off + 4] = hex[c >> 4];
			buf[off + 5] = hex[c & 15];
			off += 6;
		} else {
			buf[off++] = (char)c;
		}
	}
	return off < len ? off : len;
}

/* "turn: ..." -> "turn": the module a message names first, if it is a short lowercase word. */
static size_t log_module(const char *msg, char *out, size_t len)
{
	size_t n = 0;

	while (msg[n] && n + 1 < len && ((msg[n] >= 'a' && msg[n] <= 'z') || msg[n] == '_'))
		n++;
	if (n == 0 || msg[n] != ':' || msg[n + 1] != ' ')
		return 0;
	memcpy(out, msg, n);
	out[n] = 0;
	return n;
}

size_t nts_log_json_line(char *buf, size_t len, int64_t unix_sec, long nsec,
			 enum nts_log_level level, const char *msg, uint64_t suppressed)
{
	char stamp[40], module[24];
	time_t t = (time_t)unix_sec;
	struct tm tm;
	size_t off;
	int n;

	if (!gmtime_r(&t, &tm) || len < 2)
		return 0;
	n = (int)strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(stamp + n, sizeof(stamp) - (size_t)n, ".%06ldZ", nsec / 1000);
	n = snprintf(buf, len, "{\"ts\":\"%s\",\"level\":\"%s\",", stamp, log_level_names[level]);
	if (n < 0 || (size_t)n >= len)
		return 0;
	off = (size_t)n;
	if (log_module(msg, module, sizeof(module))) {
		n = snprintf(buf + off, len - off, "\"module\":\"%s\",", module);
		if (n < 0 || (size_t)n >= len - off)
			return 0;
		off += (size_t)n;
	}
	if (suppressed) {
		n = snprintf(buf + off, len - off, "\"suppressed\":%llu,",
			     (unsigned long long)suppressed);
		if (n < 0 || (size_t)n >= len - off)
			return 0;
		off += (size_t)n;
	}
	n = snprintf(buf + off, len - off, "\"msg\":\"");
	if (n < 0 || (size_t)n >= len - off)
		return 0;
	off = json_escape(buf, off + (size_t)n, len, msg);
	if (off + 3 >= len)
		return 0;
	memcpy(buf + off, "\"}\n", 4);
	return off + 3;
}

bool nts_log_limit(struct nts_log_limiter *l, const void *key, uint64_t now_ms, const char *msg,
		   uint64_t *suppressed)
{
	struct nts_log_site *s = NULL, *stalest = NULL;

	*suppressed = 0;
	for (size_t i = 0; i < NTS_LOG_SITES && !s; i++) {
		struct nts_log_site *c = &l->site[i];

		if (c->key == key)
			s = c;
		else if (!stalest || (stalest->key && (!c->key || c->start_ms < stalest->start_ms)))
			stalest = c;
	}
	if (!s) {
		/* A new site takes a free slot or the stalest (whose held-back count, if any, was
		 * normally reported by nts_log_flush_suppressed() once its window ended). */
		s = stalest;
		memset(s, 0, sizeof(*s));
		s->key = key;
		s->start_ms = now_ms;
	}
	if (now_ms - s->start_ms >= NTS_LOG_WINDOW_MS) {
		s->start_ms = now_ms;
		s->count = 0;
	}
	if (s->count >= NTS_LOG_BURST) {
		s->suppressed++;
		snprintf(s->last, sizeof(s->last), "%s", msg);
		return false;
	}
	s->count++;
	*suppressed += s->suppressed;
	s->suppressed = 0;
	return true;
}

uint64_t nts_log_limit_expired(struct nts_log_limiter *l, uint64_t now_ms, char *msg, size_t len)
{
	for (size_t i = 0; i < NTS_LOG_SITES; i++) {
		struct nts_log_site *s = &l->site[i];
		uint64_t n = s->suppressed;

		if (!s->key || !n || now_ms - s->start_ms < NTS_LOG_WINDOW_MS)
			continue;
		snprintf(msg, len, "%s", s->last);
		s->suppressed = 0;
		s->count = 0;
		s->start_ms = now_ms;
		return n;
	}
	return 0;
}

static uint64_t log_monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Writes one formatted message in the configured format. */
static void log_emit(enum nts_log_level level, const char *msg, uint64_t suppressed)
{
	char line[2048], stamp[32], note[64] = "";
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (suppressed)
		snprintf(note, sizeof(note), " (suppressed %llu similar messages)",
			 (unsigned long long)suppressed);
	if (logger.format == NTS_LOG_JSON) {
		char text[1100];

		snprintf(text, sizeof(text), "%s%s", msg, note);
		if (nts_log_json_line(line, sizeof(line), (int64_t)ts.tv_sec, ts.tv_nsec, level,
				      text, suppressed))
			fputs(line, stderr);
		return;
	}
	if (logger.journal) {
		/* journald stamps each line itself and reads the priority from "<N>". */
		fprintf(stderr, "<%d>%s: %s%s\n", log_level_prio[level], log_level_names[level],
			msg, note);
		return;
	}
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(stderr, "%s ntsd %s: %s%s\n", stamp, log_level_names[level], msg, note);
}

void nts_log(enum nts_log_level level, const char *fmt, ...)
{
	char msg[1024];
	uint64_t suppressed = 0;
	va_list ap;

	if (level > logger.max_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (level <= NTS_LOG_WARN) {
		bool pass;

		pthread_mutex_lock(&logger.limiter_lock);
		pass = nts_log_limit(&logger.limiter, fmt, log_monotonic_ms(), msg, &suppressed);
		pthread_mutex_unlock(&logger.limiter_lock);
		if (!pass)
			return;
	}
	log_emit(level, msg, suppressed);
}

void nts_log_flush_suppressed(void)
{
	char msg[256];
	uint64_t n;

	/* The level is not kept per site; the limiter only holds warnings and errors back. */
	for (;;) {
		pthread_mutex_lock(&logger.limiter_lock);
		n = nts_log_limit_expired(&logger.limiter, log_monotonic_ms(), msg, sizeof(msg));
		pthread_mutex_unlock(&logger.limiter_lock);
		if (!n)
			break;
		log_emit(NTS_LOG_WARN, msg, n);
	}
}
