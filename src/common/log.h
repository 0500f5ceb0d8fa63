/* log: levelled logging to stderr, safe to call from any thread.
 * One line per call, written with a single write(2) so lines from different threads never mix.
 * Lines are plain text (the default) or logfmt (key=value, for log shippers); a line about an
 * event passes its facts as fields, which either format renders, escaped so that no value
 * (a nick, a quit reason: anyone's text) can end the line or pose as another field. */
#ifndef TCPCHAT_LOG_H
#define TCPCHAT_LOG_H
#include <pthread.h>
#include <stddef.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };
enum log_format {
    LOG_FORMAT_TEXT,   /* "<time> info  connection closed addr=1.2.3.4 reason=\"Quit\"" */
    LOG_FORMAT_LOGFMT, /* "time=<time> level=info msg=\"connection closed\" addr=1.2.3.4 ..." */
};

/* The longest line written, newline included; longer ones are cut (a cut logfmt value keeps
 * its closing quote, so the line still parses). Room for a 255-byte quit reason escaped
 * byte by byte (\xNN, 4 bytes each) beside the other fields. */
#define LOG_LINE_MAX 2048

/* When stderr is the systemd journal's (JOURNAL_STREAM names it), lines carry their syslog
 * priority ("<3>" error ... "<7>" debug) instead of a time (and, in text, a level). Returns 1
 * if so. */
int log_detect_journal(void);
/* Sets the most verbose level that is printed (default LOG_INFO). */
void log_set_level(enum log_level level);
/* Parses "error", "warn", "info" or "debug"; returns 0, or -1 for anything else. */
int log_parse_level(const char *name, enum log_level *out);
/* Sets how lines are written (default LOG_FORMAT_TEXT); any thread may log meanwhile. */
void log_set_format(enum log_format format);
/* Parses "text" or "logfmt"; returns 0, or -1 for anything else. */
int log_parse_format(const char *name, enum log_format *out);

/* A free-form line: the message is printf's. In logfmt it is the msg field; in text, as it
 * is, but for control characters, which are escaped (\xNN) in either format. */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One fact of an event line. The key is the caller's own constant ([a-z_]+, never from
 * outside, so never escaped); a text value is anyone's, and escaped. */
struct log_field {
    const char *key;
    const char *text; /* the value, or NULL: the field is left out (a nick not yet chosen) */
    long long num;    /* the value when is_num */
    int is_num;
};
#define LOG_TEXT(k, v) ((struct log_field){.key = (k), .text = (v)})
#define LOG_NUM(k, v)  ((struct log_field){.key = (k), .num = (long long)(v), .is_num = 1})
/* An event line: a constant message (what happened) and its facts, e.g.
 *   log_event(LOG_INFO, "connection closed", LOG_TEXT("addr", c->host),
 *             LOG_TEXT("reason", c->close_reason), LOG_NUM("id", c->id));
 * text:   "<time> info  connection closed addr=1.2.3.4 reason=Quit id=7"
 * logfmt: "time=<time> level=info msg=\"connection closed\" addr=1.2.3.4 reason=Quit id=7" */
void log_fields(enum log_level level, const char *msg, const struct log_field *fields, int n);
#define LOG_FIELDS(...)                                                                            \
    (const struct log_field[]){__VA_ARGS__},                                                       \
        (int)(sizeof((const struct log_field[]){__VA_ARGS__}) / sizeof(struct log_field))
#define log_event(level, msg, ...) log_fields(level, msg, LOG_FIELDS(__VA_ARGS__))

/* Writes value into out (cap bytes, NUL-terminated) as a logfmt value: as it is when it
 * needs nothing, else in double quotes, with '"' and '\' backslashed, \n \r \t named,
 * other control characters (C0, DEL, C1, U+2028, U+2029) and bytes that are not UTF-8 as
 * \xNN or \uNNNN (Go's strconv.Unquote reads them all back); "" when empty. Returns the
 * length written; a value that does not fit is cut between escapes, its quote closed. */
size_t log_quote(char *out, size_t cap, const char *value);

/* A budget for lines that an attacker can make frequent (failed logins, connections): at most
 * per_second such lines per second; the next line logged says how many were left out (in
 * text "(and N more like it before, not logged)", in logfmt suppressed=N). */
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
/* log_fields within budget b. */
void log_fields_limited(struct log_budget *b, int per_second, enum log_level level, const char *msg,
                        const struct log_field *fields, int n);
#define log_event_limited(b, per_second, level, msg, ...)                                          \
    log_fields_limited(b, per_second, level, msg, LOG_FIELDS(__VA_ARGS__))

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
