/* sendq: a ring of message references flushed with writev (or, for TLS, peeked and
 * advanced by tls.c). */
#include "sendq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "defines.h"

/* Enough for a reply burst (a JOIN with its NAMES, a WHOIS) without growing. */
#define SENDQ_INITIAL_SLOTS 16

void sendq_init(struct sendq *q)
{
    memset(q, 0, sizeof *q);
}

void sendq_free(struct sendq *q)
{
    for (size_t i = 0; i < q->count; i++)
        msg_unref(q->ring[(q->head + i) & (q->cap - 1)]);
    free(q->ring);
    sendq_init(q);
}

size_t sendq_bytes(const struct sendq *q)
{
    return q->bytes;
}

static int sendq_grow(struct sendq *q)
{
    size_t ncap = q->cap ? q->cap * 2 : SENDQ_INITIAL_SLOTS;
    struct msg **n = malloc(ncap * sizeof *n);
    if (!n)
        return -1;
    /* Unwrap the ring into the new array so head becomes 0. */
    for (size_t i = 0; i < q->count; i++)
        n[i] = q->ring[(q->head + i) & (q->cap - 1)];
    free(q->ring);
    q->ring = n;
    q->cap = ncap;
    q->head = 0;
    return 0;
}

int sendq_push(struct sendq *q, struct msg *m)
{
    if (q->count == q->cap && sendq_grow(q) < 0)
        return -1;
    q->ring[(q->head + q->count) & (q->cap - 1)] = msg_ref(m);
    q->count++;
    q->bytes += m->len;
    return 0;
}

/* Drops n written bytes from the front of the queue. */
static void sendq_consume(struct sendq *q, size_t n)
{
    q->bytes -= n;
    while (n > 0) {
        struct msg *m = q->ring[q->head];
        size_t left = m->len - q->offset;
        if (n < left) {
            q->offset += n;
            return;
        }
        n -= left;
        msg_unref(m);
        q->head = (q->head + 1) & (q->cap - 1);
        q->count--;
        q->offset = 0;
    }
}

/* The ring exists only while something is queued: an idle connection holds none (most are
 * idle most of the time), and a burst's grown ring goes back at once. Allocating it again
 * costs one malloc per flush that emptied the queue, small beside the writev it follows. */
static void sendq_shrink_if_empty(struct sendq *q)
{
    if (q->count == 0 && q->cap > 0) {
        free(q->ring);
        q->ring = NULL;
        q->cap = q->head = 0;
        q->offset = 0;
    }
}

size_t sendq_peek(const struct sendq *q, char *buf, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < q->count && n < cap; i++) {
        const struct msg *m = q->ring[(q->head + i) & (q->cap - 1)];
        size_t skip = i == 0 ? q->offset : 0;
        size_t take = m->len - skip < cap - n ? m->len - skip : cap - n;
        memcpy(buf + n, m->data + skip, take);
        n += take;
    }
    return n;
}

void sendq_advance(struct sendq *q, size_t n)
{
    sendq_consume(q, n);
    sendq_shrink_if_empty(q);
}

int sendq_iov(const struct sendq *q, struct iovec *iov, int max, size_t max_bytes)
{
    int n = 0;
    size_t want = 0;
    for (size_t i = 0; i < q->count && n < max && want < max_bytes; i++) {
        struct msg *m = q->ring[(q->head + i) & (q->cap - 1)];
        size_t skip = i == 0 ? q->offset : 0;
        iov[n].iov_base = m->data + skip;
        iov[n].iov_len = m->len - skip;
        want += iov[n].iov_len;
        n++;
    }
    return n;
}

int sendq_flush(struct sendq *q, int fd)
{
    while (q->count > 0) {
        struct iovec iov[WRITEV_MAX];
        int n = sendq_iov(q, iov, WRITEV_MAX, WRITEV_BYTES);
        size_t want = 0;
        for (int i = 0; i < n; i++)
            want += iov[i].iov_len;
        ssize_t w = writev(fd, iov, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        }
        sendq_consume(q, (size_t)w);
        /* A short write means the socket's buffer is full: the next writev would only say
         * EAGAIN. The kernel has marked the socket, so EPOLLOUT comes when room is made. */
        if ((size_t)w < want)
            break;
    }
    sendq_shrink_if_empty(q);
    return 0;
}
