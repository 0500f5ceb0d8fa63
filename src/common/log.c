/* log: levelled logging to stderr, one write(2) per line, in text or logfmt. Every line is
 * built in a buffer of its own (no shared state but the settings, which are atomics), so any
 * thread may log at any time. */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "utf8.h"

static atomic_int log_level = LOG_INFO;
static atomic_int log_format = LOG_FORMAT_TEXT;
static const char *const level_names[] = {"error", "warn", "info", "debug"};
static const char *const format_names[] = {"text", "logfmt"};

void log_set_level(enum log_level level)
{
    atomic_store(&log_level, (int)level);
}

int log_parse_level(const char *name, enum log_level *out)
{
    for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

void log_set_format(enum log_format format)
{
    atomic_store(&log_format, (int)format);
}

int log_parse_format(const char *name, enum log_format *out)
{
    for (size_t i = 0; i < sizeof format_names / sizeof format_names[0]; i++) {
        if (strcmp(name, format_names[i]) == 0) {
            *out = (enum log_format)i;
            return 0;
        }
    }
    return -1;
}

/* stderr is the journal's (systemd sets JOURNAL_STREAM to its device and inode): lines carry
 * their syslog priority ("<6>") and no time, which the journal keeps itself. */
static atomic_int to_journal;
static const int syslog_priority[] = {3, 4, 6, 7}; /* err, warning, info, debug */

int log_detect_journal(void)
{
    const char *env = getenv("JOURNAL_STREAM");
    char *colon = NULL, *end = NULL;
    unsigned long long dev = env ? strtoull(env, &colon, 10) : 0;
    unsigned long long ino = colon && *colon == ':' ? strtoull(colon + 1, &end, 10) : 0;
    struct stat st;
    int yes = env && colon != env && end && end != colon + 1 && *end == '\0' &&
              fstat(STDERR_FILENO, &st) == 0 && (unsigned long long)st.st_dev == dev &&
              (unsigned long long)st.st_ino == ino;
    atomic_store(&to_journal, yes);
    return yes;
}

/* --- rendering ------------------------------------------------------------------------ */

/* Where a line (or a quoted value) is built: cap bytes usable. Once something did not fit,
 * cut is set and nothing more is added, so a line is cut at one place only. */
struct sink {
    char *p;
    size_t len, cap;
    int cut;
};

static void sink_put(struct sink *k, const char *s, size_t n)
{
    if (k->cut || k->len + n > k->cap) {
        k->cut = 1;
        return;
    }
    memcpy(k->p + k->len, s, n);
    k->len += n;
}

static void sink_printf(struct sink *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sink_printf(struct sink *k, const char *fmt, ...)
{
    char tmp[LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        sink_put(k, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* The escape of the character at s (left bytes remain), into esc; 0 when it goes as it is.
 * *adv is how many bytes it takes. quoted: inside double quotes, where '"' and '\' must be
 * escaped too. Control characters are what could end a line or rewrite one on a terminal:
 * C0, DEL, C1 (U+0080-U+009F; U+0085 is a newline to some) and the Unicode line and
 * paragraph separators. */
static size_t escape_one(const unsigned char *s, size_t left, int quoted, char esc[8], size_t *adv)
{
    unsigned char ch = s[0];
    *adv = 1;
    if (ch < 0x80) {
        if (quoted && (ch == '"' || ch == '\\')) {
            esc[0] = '\\';
            esc[1] = (char)ch;
            return 2;
        }
        const char *named = ch == '\n' ? "\\n" : ch == '\r' ? "\\r" : ch == '\t' ? "\\t" : NULL;
        if (named) {
            memcpy(esc, named, 2);
            return 2;
        }
        if (ch < 0x20 || ch == 0x7f)
            return (size_t)snprintf(esc, 8, "\\x%02x", ch);
        return 0;
    }
    size_t n = ch >= 0xf0 ? 4 : ch >= 0xe0 ? 3 : 2;
    if (n > left || !utf8_valid((const char *)s, n))
        return (size_t)snprintf(esc, 8, "\\x%02x", ch); /* not UTF-8: byte by byte */
    *adv = n;
    unsigned cp = n == 2 ? (unsigned)(ch & 0x1f) << 6 | (s[1] & 0x3f)
                  : n == 3
                      ? (unsigned)(ch & 0x0f) << 12 | (unsigned)(s[1] & 0x3f) << 6 | (s[2] & 0x3f)
                      : 0;
    if ((cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029)
        return (size_t)snprintf(esc, 8, "\\u%04x", cp);
    return 0;
}

/* Appends s escaped; quoted: in double quotes, which are closed even when s is cut (each
 * piece must leave room for the closing quote). */
static void sink_escaped(struct sink *k, const char *s, int quoted)
{
    if (quoted) {
        if (k->cut || k->len + 2 > k->cap) {
            k->cut = 1;
            return;
        }
        k->p[k->len++] = '"';
    }
    const unsigned char *u = (const unsigned char *)s;
    size_t left = strlen(s);
    while (left > 0 && !k->cut) {
        char esc[8];
        size_t adv, n = escape_one(u, left, quoted, esc, &adv);
        const char *piece = n ? esc : (const char *)u;
        size_t len = n ? n : adv;
        if (k->len + len + (size_t)quoted > k->cap) {
            k->cut = 1;
            break;
        }
        memcpy(k->p + k->len, piece, len);
        k->len += len;
        u += adv;
        left -= adv;
    }
    if (quoted)
        k->p[k->len++] = '"'; /* its room was kept */
}

/* A logfmt value needs quotes when it is empty or holds a space, '=', '"', '\' or anything
 * escaped; otherwise it goes bare, as logfmt writers do. */
static int needs_quotes(const char *s)
{
    if (!*s)
        return 1;
    const unsigned char *u = (const unsigned char *)s;
    size_t left = strlen(s);
    while (left > 0) {
        char esc[8];
        size_t adv;
        if (*u == ' ' || *u == '=' || escape_one(u, left, 1, esc, &adv))
            return 1;
        u += adv;
        left -= adv;
    }
    return 0;
}

static void sink_value(struct sink *k, const char *s)
{
    sink_escaped(k, s, needs_quotes(s));
}

size_t log_quote(char *out, size_t cap, const char *value)
{
    if (cap == 0)
        return 0;
    struct sink k = {out, 0, cap - 1, 0};
    sink_value(&k, value);
    out[k.len] = '\0';
    return k.len;
}

/* Builds the whole line (newline included) and writes it at once. msg is the event's
 * message, or a free-form line's text; suppressed: lines a budget left out before it. */
static void emit(enum log_level level, const char *msg, const struct log_field *fields, int n,
                 int suppressed)
{
    char buf[LOG_LINE_MAX];
    struct sink k = {buf, 0, sizeof buf - 1, 0}; /* the newline's room kept */
    int logfmt = atomic_load(&log_format) == LOG_FORMAT_LOGFMT;
    char when[sizeof "2026-01-01T00:00:00.000Z"] = "";
    if (atomic_load(&to_journal)) {
        sink_printf(&k, "<%d>", syslog_priority[level]);
    } else {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        size_t w = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(when + w, sizeof when - w, ".%03ldZ", ts.tv_nsec / 1000000L);
    }
    if (logfmt) {
        if (when[0])
            sink_printf(&k, "time=%s ", when);
        sink_printf(&k, "level=%s msg=", level_names[level]);
        sink_value(&k, msg);
    } else {
        if (when[0])
            sink_printf(&k, "%s %-5s ", when, level_names[level]);
        sink_escaped(&k, msg, 0);
    }
    for (int i = 0; i < n; i++) {
        if (fields[i].is_num) {
            sink_printf(&k, " %s=%lld", fields[i].key, fields[i].num);
        } else if (fields[i].text) {
            sink_printf(&k, " %s=", fields[i].key);
            sink_value(&k, fields[i].text);
        }
    }
    if (suppressed && logfmt)
        sink_printf(&k, " suppressed=%d", suppressed);
    else if (suppressed)
        sink_printf(&k, " (and %d more like it before, not logged)", suppressed);
    buf[k.len++] = '\n';
    ssize_t w = write(STDERR_FILENO, buf, k.len);
    (void)w; /* nowhere to report a failure to log */
}

/* --- the entry points ------------------------------------------------------------------ */

static int wanted(enum log_level level)
{
    return (int)level <= atomic_load(&log_level);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (!wanted(level))
        return;
    char text[LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    emit(level, text, NULL, 0, 0);
}

void log_fields(enum log_level level, const char *msg, const struct log_field *fields, int n)
{
    if (wanted(level))
        emit(level, msg, fields, n, 0);
}

/* Takes a line from budget b: 1 if it may be logged (*suppressed: how many were not since
 * the last one that was), 0 if not. */
static int budget_take(struct log_budget *b, int per_second, int *suppressed)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    pthread_mutex_lock(&b->lock);
    if (ts.tv_sec != b->second) {
        b->second = ts.tv_sec;
        b->used = 0;
    }
    int ok = b->used < per_second;
    *suppressed = 0;
    if (ok) {
        b->used++;
        *suppressed = b->suppressed;
        b->suppressed = 0;
    } else {
        b->suppressed++;
    }
    pthread_mutex_unlock(&b->lock);
    return ok;
}

void log_limited(struct log_budget *b, int per_second, enum log_level level, const char *fmt, ...)
{
    int suppressed;
    if (!wanted(level) || !budget_take(b, per_second, &suppressed))
        return;
    char text[LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    emit(level, text, NULL, 0, suppressed);
}

void log_fields_limited(struct log_budget *b, int per_second, enum log_level level, const char *msg,
                        const struct log_field *fields, int n)
{
    int suppressed;
    if (wanted(level) && budget_take(b, per_second, &suppressed))
        emit(level, msg, fields, n, suppressed);
}
