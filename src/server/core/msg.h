/* msg: one serialised IRC line (or a few), built once and shared by reference count among
 * every send queue it is delivered to. Immutable once built; any thread may ref/unref it, and
 * whoever drops the last reference frees it. */
#ifndef TCPCHAT_MSG_H
#define TCPCHAT_MSG_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>

struct msg {
    atomic_uint refs;
    unsigned len; /* bytes in data, CR LF included, no NUL counted */
    char data[];
};

/* Builds one line from a printf format, cut to IRC_LINE_MAX - 2 bytes at a UTF-8 boundary and
 * ended with CR LF (servers must keep relayed lines within 512 bytes: RFC 1459 2.3). The
 * result has one reference. NULL on allocation failure. */
struct msg *msg_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
struct msg *msg_vprintf(const char *fmt, va_list ap);
/* A few lines gathered into one msg, e.g. the topic and NAMES replies a joiner gets as a
 * unit. Each line obeys the same 512-byte rule as msg_printf. */
struct msgbuf {
    char *data;
    size_t len, cap;
    int failed; /* an allocation failed; msgbuf_finish then returns NULL */
};

void msgbuf_line(struct msgbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends "@tags line" (no '@' or space without tags) and CR LF, uncut: for lines that come
 * from the store, already within the limits, with their tags. */
void msgbuf_raw(struct msgbuf *b, const char *tags, const char *line, size_t len);
/* Returns the gathered lines as one msg with one reference (NULL if none or on failure) and
 * resets b. */
struct msg *msgbuf_finish(struct msgbuf *b);
/* len bytes as they are (no CR LF added, no limit): an HTTP response, a file served. */
struct msg *msg_raw(const void *data, size_t len);
struct msg *msg_ref(struct msg *m);
void msg_unref(struct msg *m);

#endif
