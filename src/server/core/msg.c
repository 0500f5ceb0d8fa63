/* msg: refcounted serialised IRC lines. */
#include "msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ircmsg.h"
#include "common/utf8.h"

static struct msg *msg_alloc(size_t len)
{
    struct msg *m = malloc(sizeof *m + len + 1);
    if (!m)
        return NULL;
    atomic_init(&m->refs, 1);
    m->len = (unsigned)len;
    return m;
}

struct msg *msg_raw(const void *data, size_t len)
{
    struct msg *m = msg_alloc(len);
    if (m) {
        memcpy(m->data, data, len);
        m->data[len] = '\0';
    }
    return m;
}

struct msg *msg_vprintf(const char *fmt, va_list ap)
{
    char buf[IRC_LINE_MAX + 1];
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    if (n < 0)
        return NULL;
    size_t len = (size_t)n;
    if (len > IRC_LINE_MAX - 2)
        len = utf8_trim(buf, IRC_LINE_MAX - 2);
    struct msg *m = msg_alloc(len + 2);
    if (!m)
        return NULL;
    memcpy(m->data, buf, len);
    memcpy(m->data + len, "\r\n", 3);
    return m;
}

struct msg *msg_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    struct msg *m = msg_vprintf(fmt, ap);
    va_end(ap);
    return m;
}

void msgbuf_line(struct msgbuf *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    if (b->cap - b->len < IRC_LINE_MAX + 1) {
        size_t ncap = b->cap ? b->cap * 2 : 4 * IRC_LINE_MAX;
        char *n = realloc(b->data, ncap);
        if (!n) {
            b->failed = 1;
            return;
        }
        b->data = n;
        b->cap = ncap;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->data + b->len, IRC_LINE_MAX - 1, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    size_t len = (size_t)n;
    if (len > IRC_LINE_MAX - 2)
        len = utf8_trim(b->data + b->len, IRC_LINE_MAX - 2);
    memcpy(b->data + b->len + len, "\r\n", 2);
    b->len += len + 2;
}

void msgbuf_raw(struct msgbuf *b, const char *tags, const char *line, size_t len)
{
    size_t tlen = tags ? strlen(tags) + 2 : 0;
    size_t need = tlen + len + 2 + 1;
    if (b->failed)
        return;
    if (b->cap - b->len < need) {
        size_t ncap = b->cap ? b->cap * 2 : 4 * IRC_LINE_MAX;
        while (ncap - b->len < need)
            ncap *= 2;
        char *n = realloc(b->data, ncap);
        if (!n) {
            b->failed = 1;
            return;
        }
        b->data = n;
        b->cap = ncap;
    }
    if (tags) {
        b->data[b->len++] = '@';
        memcpy(b->data + b->len, tags, tlen - 2);
        b->len += tlen - 2;
        b->data[b->len++] = ' ';
    }
    memcpy(b->data + b->len, line, len);
    b->len += len;
    memcpy(b->data + b->len, "\r\n", 2);
    b->len += 2;
}

struct msg *msgbuf_finish(struct msgbuf *b)
{
    struct msg *m = NULL;
    if (!b->failed && b->len > 0) {
        m = msg_alloc(b->len);
        if (m) {
            memcpy(m->data, b->data, b->len);
            m->data[b->len] = '\0';
        }
    }
    free(b->data);
    memset(b, 0, sizeof *b);
    return m;
}

struct msg *msg_ref(struct msg *m)
{
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
    return m;
}

void msg_unref(struct msg *m)
{
    if (m && atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1)
        free(m);
}
