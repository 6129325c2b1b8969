/* Logging: one line per event to stderr, as text or as one JSON object per line (ts, level, msg).
 * Under journald (stderr is the stream JOURNAL_STREAM names) text lines carry an sd-daemon "<N>"
 * priority prefix instead of a timestamp. Warnings and errors repeated from one call site are
 * rate-limited, and what was held back is counted in the next line from that site. Secrets are
 * never passed here; callers log usernames at most.
 */
#ifndef NTS_UTIL_LOG_H
#define NTS_UTIL_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum nts_log_level { NTS_LOG_ERROR, NTS_LOG_WARN, NTS_LOG_INFO, NTS_LOG_DEBUG };
enum nts_log_format { NTS_LOG_TEXT, NTS_LOG_JSON };

/* A call site may log NTS_LOG_BURST warnings or errors per NTS_LOG_WINDOW_MS; more are counted. */
#define NTS_LOG_BURST 10
#define NTS_LOG_WINDOW_MS 5000
#define NTS_LOG_SITES 64 /* call sites tracked at once; the stalest is reused */

/* Sets the most verbose level printed (default NTS_LOG_INFO). */
void nts_log_set_level(enum nts_log_level level);
/* Sets the line format (default NTS_LOG_TEXT). */
void nts_log_set_format(enum nts_log_format format);
/* "text" or "json" into *out; 0 or -EINVAL. */
int nts_log_format_parse(const char *name, enum nts_log_format *out);
/* True when stderr is the journal's stream: JOURNAL_STREAM ("DEV:INODE") matches stderr's. */
bool nts_log_stderr_is_journal(void);
/* Uses journald's conventions (no timestamp, "<N>" priority prefix) for text lines. */
void nts_log_set_journal(bool on);
/* Prints "TIMESTAMP ntsd LEVEL: message" (or its JSON or journald form) if level is enabled. */
void nts_log(enum nts_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reports, once their window has passed, the call sites that held messages back and have not
 * logged since ("LAST MESSAGE (suppressed N similar messages)"). Call about once a second. */
void nts_log_flush_suppressed(void);

/* Building blocks, exposed for the unit tests. */

/* Writes one JSON log line (with '\n', NUL-terminated) to buf: {"ts":"...","level":"...",
 * "msg":"..."} plus "module" when msg starts with "word: " and "suppressed" when non-zero. Returns
 * the length, or 0 when it does not fit. */
size_t nts_log_json_line(char *buf, size_t len, int64_t unix_sec, long nsec,
			 enum nts_log_level level, const char *msg, uint64_t suppressed);

/* Per-call-site rate limiter: a fixed table, no allocation. */
struct nts_log_site {
	const void *key;     /* the call site (its format string); NULL: free */
	uint64_t start_ms;   /* start of the current window */
	uint32_t count;	     /* messages in the window */
	uint64_t suppressed; /* held back since the last one printed */
	char last[256];	     /* the last message held back */
};
struct nts_log_limiter {
	struct nts_log_site site[NTS_LOG_SITES];
};
/* Decides whether a message from key at now_ms is printed. When it is, *suppressed is how many
 * from the same site were held back before it (to be reported with it). msg is remembered when
 * held back. */
bool nts_log_limit(struct nts_log_limiter *l, const void *key, uint64_t now_ms, const char *msg,
		   uint64_t *suppressed);
/* Finds a site whose window ended with messages held back: copies its last one to msg, returns
 * the count and resets it; 0 when there is none. */
uint64_t nts_log_limit_expired(struct nts_log_limiter *l, uint64_t now_ms, char *msg, size_t len);

#define log_error(...) nts_log(NTS_LOG_ERROR, __VA_ARGS__)
#define log_warn(...) nts_log(NTS_LOG_WARN, __VA_ARGS__)
#define log_info(...) nts_log(NTS_LOG_INFO, __VA_ARGS__)
#define log_debug(...) nts_log(NTS_LOG_DEBUG, __VA_ARGS__)

#endif
