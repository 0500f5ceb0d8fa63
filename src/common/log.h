/* log: levelled logging to stderr, safe to call from any thread.
 * One line per call, written with a single write(2) so lines from different threads never mix. */
#ifndef TCPCHAT_LOG_H
#define TCPCHAT_LOG_H
#include <pthread.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* When stderr is the systemd journal's (JOURNAL_STREAM names it), lines carry their syslog
 * priority ("<3>" error ... "<7>" debug) instead of a time and level. Returns 1 if so. */
int log_detect_journal(void);
/* Sets the most verbose level that is printed (default LOG_INFO). */
void log_set_level(enum log_level level);
/* Parses "error", "warn", "info" or "debug"; returns 0, or -1 for anything else. */
int log_parse_level(const char *name, enum log_level *out);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A budget for lines that an attacker can make frequent (failed logins, refused
 * connections): at most per_second such lines per second; the next line logged says how many
 * were left out. */
struct log_budget {
    pthread_mutex_t lock;
    long long second;
    int used, suppressed;
};
#define LOG_BUDGET_INIT                                                                            \
    {                                                                                              \
        PTHREAD_MUTEX_INITIALIZER, 0, 0, 0                                                         \
    }
void log_limited(struct log_budget *b, int per_second, enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
