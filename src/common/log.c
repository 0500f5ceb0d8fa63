/* log: levelled logging to stderr, one write(2) per line. */
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

static atomic_int log_level = LOG_INFO;
static const char *const level_names[] = {"error", "warn", "info", "debug"};

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

static void log_vmsg(enum log_level level, const char *suffix, const char *fmt, va_list ap)
{
    char line[1024];
    int n;
    if (atomic_load(&to_journal)) {
        n = snprintf(line, sizeof line, "<%d>", syslog_priority[level]);
    } else {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        n = (int)strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
        n += snprintf(line + n, sizeof line - (size_t)n, ".%03ldZ %-5s ", ts.tv_nsec / 1000000L,
                      level_names[level]);
    }
    int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len < sizeof line - 2 && suffix[0]) {
        m = snprintf(line + len, sizeof line - len, "%s", suffix);
        len += m < 0 ? 0 : (size_t)m;
    }
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w; /* nowhere to report a failure to log */
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if ((int)level > atomic_load(&log_level))
        return;
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, "", fmt, ap);
    va_end(ap);
}

void log_limited(struct log_budget *b, int per_second, enum log_level level, const char *fmt, ...)
{
    if ((int)level > atomic_load(&log_level))
        return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    pthread_mutex_lock(&b->lock);
    if (ts.tv_sec != b->second) {
        b->second = ts.tv_sec;
        b->used = 0;
    }
    int ok = b->used < per_second;
    int suppressed = 0;
    if (ok) {
        b->used++;
        suppressed = b->suppressed;
        b->suppressed = 0;
    } else {
        b->suppressed++;
    }
    pthread_mutex_unlock(&b->lock);
    if (!ok)
        return;
    char suffix[64] = "";
    if (suppressed)
        snprintf(suffix, sizeof suffix, " (and %d more like it before, not logged)", suppressed);
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, suffix, fmt, ap);
    va_end(ap);
}
