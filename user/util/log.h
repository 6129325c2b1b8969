/* Logging: one line per event to stderr, with a level and a monotonic-free wall timestamp.
 * Secrets are never passed here; callers log usernames at most.
 */
#ifndef NTS_UTIL_LOG_H
#define NTS_UTIL_LOG_H

enum nts_log_level { NTS_LOG_ERROR, NTS_LOG_WARN, NTS_LOG_INFO, NTS_LOG_DEBUG };

/* Sets the most verbose level printed (default NTS_LOG_INFO). */
void nts_log_set_level(enum nts_log_level level);
/* Prints "ntsd: LEVEL: message" to stderr if level is enabled. */
void nts_log(enum nts_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) nts_log(NTS_LOG_ERROR, __VA_ARGS__)
#define log_warn(...) nts_log(NTS_LOG_WARN, __VA_ARGS__)
#define log_info(...) nts_log(NTS_LOG_INFO, __VA_ARGS__)
#define log_debug(...) nts_log(NTS_LOG_DEBUG, __VA_ARGS__)

#endif
