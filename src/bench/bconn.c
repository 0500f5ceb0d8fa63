/* bconn: socket and buffer handling for one simulated client. Reads go into one large scratch
 * buffer shared by every connection, so an idle connection costs no receive buffer: only a
 * partial line is carried between reads. */
#include "bconn.h"

#include "common/tlsio.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int bconn_open(struct bconn *c, const struct sockaddr *dst, socklen_t dstlen,
               const struct sockaddr *src, socklen_t srclen)
{
    int fd = socket(dst->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    if (src) {
        /* Without this, bind() picks a port unique to the source address alone; with it the
         * port is chosen at connect() time per 4-tuple, so ports are not used up early. */
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (bind(fd, src, srclen) < 0) {
            int saved = errno;
            close(fd);
            errno = saved;
            return -1;
        }
    }
    /* Small lines must leave at once: the bench measures latency, not Nagle's delay. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, dst, dstlen) < 0 && errno != EINPROGRESS) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    c->fd = fd;
    c->state = BCONN_CONNECTING;
    return 0;
}

int bconn_connect_result(struct bconn *c)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return -1;
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}

char *bconn_reserve(struct bconn *c, size_t need, size_t cap)
{
    if (c->ws == BCONN_WS_FRAMES)
        need = 2 * need + BCONN_WS_HEADER_MAX; /* a line of 4 bytes or more at most doubles */
    if (!c->out) {
        c->out = malloc(cap);
        if (!c->out)
            return NULL;
        c->out_cap = (uint32_t)cap;
        c->out_off = c->out_len = 0;
    }
    if (c->out_cap - c->out_len < need && c->out_off > 0) {
        /* Slide the pending bytes to the front to make room at the end. */
        memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
        c->out_len -= c->out_off;
        c->out_off = 0;
    }
    if (c->out_cap - c->out_len < need)
        return NULL;
    return c->out + c->out_len;
}

/* Turns the line of len bytes at p (without its CR LF) into a masked text frame at p, moving
 * the bytes after it (rest) up; returns the frame's size. The mask key is zero: a load
 * generator has nothing to hide from proxies (RFC 6455 5.3 wants it unpredictable to stop
 * cache poisoning through them), and the payload then needs no XOR pass. */
static size_t ws_frame(char *p, size_t len, size_t rest)
{
    size_t head = len < 126 ? 6 : 8;
    memmove(p + head + len, p + len + 2, rest);
    memmove(p + head, p, len);
    p[0] = (char)0x81;
    if (len < 126) {
        p[1] = (char)(0x80 | len);
    } else {
        p[1] = (char)(0x80 | 126);
        p[2] = (char)(len >> 8);
        p[3] = (char)(len & 0xff);
    }
    memset(p + head - 4, 0, 4);
    return head + len;
}

void bconn_commit(struct bconn *c, size_t n)
{
    if (c->ws == BCONN_WS_FRAMES) {
        char *p = c->out + c->out_len, *end = p + n;
        while (p < end) {
            char *nl = memchr(p, '\n', (size_t)(end - p));
            if (!nl || nl == p || nl[-1] != '\r' || nl - p - 1 > 65535)
                break; /* callers commit whole lines */
            size_t len = (size_t)(nl - p - 1), rest = (size_t)(end - nl - 1);
            size_t f = ws_frame(p, len, rest);
            end += f - (len + 2);
            p += f;
        }
        n = (size_t)(end - (c->out + c->out_len));
    }
    c->out_len += (uint32_t)n;
}

int bconn_queue(struct bconn *c, const char *data, size_t len, size_t cap)
{
    char *p = bconn_reserve(c, len, cap);
    if (!p)
        return -1;
    memcpy(p, data, len);
    bconn_commit(c, len);
    return 0;
}

int bconn_flush(struct bconn *c)
{
    while (c->out_off < c->out_len) {
        const char *p = c->out + c->out_off;
        size_t len = c->out_len - c->out_off;
        ssize_t n = c->tls.ssl ? tlsio_write(&c->tls, p, len) : send(c->fd, p, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            return -1;
        }
        c->out_off += (uint32_t)n;
    }
    c->out_off = c->out_len = 0;
    return 1;
}

/* Keeps the unfinished tail of a read for the next one. */
static void bconn_carry(struct bconn *c, const char *p, size_t n)
{
    if (n == 0) {
        c->carry_len = 0;
        return;
    }
    if (n > BCONN_CARRY_CAP || (!c->carry && !(c->carry = malloc(BCONN_CARRY_CAP)))) {
        /* Longer than any line we accept (or no memory): drop up to the next LF. */
        c->carry_len = 0;
        c->skipping = 1;
        return;
    }
    memmove(c->carry, p, n);
    c->carry_len = (uint16_t)n;
}

/* Hands fn every complete line of buf[0 .. have + n) (have bytes carried from before, n new
 * ones), and keeps the unfinished tail. */
static void bconn_split(struct bconn *c, char *buf, size_t have, size_t n, bconn_line_fn fn,
                        void *ctx)
{
    char *p = buf, *end = buf + have + n;
    if (c->skipping) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) {
            c->carry_len = 0;
            return;
        }
        p = nl + 1;
        c->skipping = 0;
    }
    for (;;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break;
        size_t len = (size_t)(nl - p);
        if (len && p[len - 1] == '\r')
            len--;
        p[len] = '\0';
        fn(ctx, c, p, len);
        p = nl + 1;
    }
    bconn_carry(c, p, (size_t)(end - p));
}

/* Over WebSocket: the frames of buf[0 .. n) (a partial one carried from before at its start)
 * become lines in place, CR LF ended (a frame header is at least as long as a CR LF), for
 * bconn_split; a partial frame at the end is carried to the next read. Returns the bytes of
 * lines, or -1 after a close frame. */
static ssize_t ws_unframe(struct bconn *c, char *buf, size_t n)
{
    char *r = buf, *w = buf, *end = buf + n;
    c->carry_len = 0;
    while (r < end) {
        if (c->ws_skip) {
            size_t k = c->ws_skip < (size_t)(end - r) ? c->ws_skip : (size_t)(end - r);
            c->ws_skip -= (uint32_t)k;
            r += k;
            continue;
        }
        size_t have = (size_t)(end - r);
        if (have < 2)
            break;
        unsigned char b0 = (unsigned char)r[0], b1 = (unsigned char)r[1];
        size_t len = b1 & 0x7f, head = 2;
        if (len == 126) {
            if (have < 4)
                break;
            len = (size_t)(unsigned char)r[2] << 8 | (unsigned char)r[3];
            head = 4;
        } else if (len == 127) {
            if (have < 10)
                break;
            len = 0;
            for (int i = 2; i < 10; i++)
                len = len << 8 | (unsigned char)r[i];
            head = 10;
        }
        if ((b0 & 0x0f) == 8)
            return -1;                      /* close: the server is done with us */
        if (len + head > BCONN_CARRY_CAP) { /* longer than any line we take: drop it */
            c->ws_skip = (uint32_t)(len + head < UINT32_MAX ? len + head : UINT32_MAX);
            continue;
        }
        if (have < head + len)
            break;
        if ((b0 & 0x0f) == 1 || (b0 & 0x0f) == 2) { /* a line; pings and pongs are not */
            memmove(w, r + head, len);
            w += len;
            *w++ = '\r';
            *w++ = '\n';
        }
        r += head + len;
    }
    size_t tail = (size_t)(end - r);
    if (tail && (c->carry || (c->carry = malloc(BCONN_CARRY_CAP)))) {
        memmove(c->carry, r, tail); /* r is past w: the lines are not touched */
        c->carry_len = (uint16_t)tail;
    }
    return w - buf;
}

/* A read's bytes, in buf after have carried ones: to lines, through the frames over
 * WebSocket. Returns -1 (with errno 0) when a close frame came. */
static int take_read(struct bconn *c, char *buf, size_t have, size_t n, bconn_line_fn fn, void *ctx)
{
    if (c->ws != BCONN_WS_FRAMES) {
        bconn_split(c, buf, have, n, fn, ctx);
        return 0;
    }
    ssize_t lines = ws_unframe(c, buf, have + n);
    if (lines < 0)
        return -1;
    uint16_t carried = c->carry_len;
    bconn_split(c, buf, 0, (size_t)lines, fn, ctx); /* whole lines: it carries nothing */
    c->carry_len = carried;
    return 0;
}

/* TLS gives one record per read: take them until the socket is empty or cap bytes came (so
 * one busy connection does not hold the loop), splitting lines as they come. The room for a
 * read is always more than a record, so no decrypted byte is left behind in the session. */
static ssize_t bconn_read_tls(struct bconn *c, char *buf, size_t cap, bconn_line_fn fn, void *ctx)
{
    size_t total = 0;
    for (;;) {
        size_t have = c->carry_len;
        if (have)
            memcpy(buf, c->carry, have);
        ssize_t n = tlsio_read(&c->tls, buf + have, cap - have);
        if (n < 0 && errno == EAGAIN && total > 0)
            return (ssize_t)total;
        if (n <= 0)
            return n;
        if (take_read(c, buf, have, (size_t)n, fn, ctx) < 0)
            return 0;
        total += (size_t)n;
        if (total >= cap && !tlsio_pending(&c->tls))
            return (ssize_t)total; /* the rest waits in the socket, where epoll sees it */
    }
}

ssize_t bconn_read(struct bconn *c, char *buf, size_t cap, bconn_line_fn fn, void *ctx)
{
    if (c->tls.ssl)
        return bconn_read_tls(c, buf, cap, fn, ctx);
    size_t have = c->carry_len;
    if (have)
        memcpy(buf, c->carry, have);
    ssize_t n;
    do {
        n = read(c->fd, buf + have, cap - have);
    } while (n < 0 && errno == EINTR);
    if (n > 0 && take_read(c, buf, have, (size_t)n, fn, ctx) < 0)
        return 0;
    return n;
}

void bconn_close(struct bconn *c)
{
    tlsio_free(&c->tls); /* no close_notify: the socket closes right after */
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->carry);
    free(c->out);
    free(c->last_seq);
    c->carry = c->out = NULL;
    c->last_seq = NULL;
    c->carry_len = 0;
    c->ws = BCONN_WS_OFF;
    c->ws_skip = 0;
    c->out_cap = c->out_off = c->out_len = 0;
    c->out_armed = 0;
    c->state = BCONN_CLOSED;
}
