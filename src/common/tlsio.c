/* tlsio: OpenSSL's SSL_read/SSL_write/SSL_get_error turned into read(2)/send(2) answers. Every
 * SSL call starts with an empty error queue and leaves it empty: the queue is per thread and
 * shared by all of its sessions, and SSL_get_error reads it, so a reason found there belongs
 * to the call that just failed. */
#include "tlsio.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <string.h>

const char *tlsio_take_error(void)
{
    unsigned long e = ERR_peek_error();
    /* ERR_reason_error_string has no text for a system error (a file's errno, say). */
    const char *reason = !e                    ? NULL
                         : ERR_SYSTEM_ERROR(e) ? strerror(ERR_GET_REASON(e))
                                               : ERR_reason_error_string(e);
    ERR_clear_error();
    return reason ? reason : "unknown error";
}

int tlsio_init(struct tlsio *t, SSL_CTX *ctx, int fd, enum tlsio_side side)
{
    *t = (struct tlsio){0};
    ERR_clear_error();
    t->ssl = SSL_new(ctx);
    if (!t->ssl || SSL_set_fd(t->ssl, fd) != 1) {
        t->error = tlsio_take_error();
        SSL_free(t->ssl);
        t->ssl = NULL;
        return -1;
    }
    /* tlsio_write is send(2): it may take part of what it is given, and the caller may retry
     * from another buffer holding the same bytes (a stack buffer regathered, a slid one). */
    SSL_set_mode(t->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (side == TLSIO_SERVER)
        SSL_set_accept_state(t->ssl);
    else
        SSL_set_connect_state(t->ssl);
    return 0;
}

/* The answer to a failed SSL call r (saved: errno right after it), for a read or handshake
 * (reading) or a write: -1 with errno, or 0 when a read finds the stream ended. */
static ssize_t tlsio_failure(struct tlsio *t, int r, int saved, int reading)
{
    int e = SSL_get_error(t->ssl, r);
    switch (e) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        if (reading)
            t->read_wants_write = e == SSL_ERROR_WANT_WRITE;
        else
            t->write_wants_read = e == SSL_ERROR_WANT_READ;
        ERR_clear_error();
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN:
        /* close_notify (or, with SSL_OP_IGNORE_UNEXPECTED_EOF, a bare TCP close): not an
         * error, so ours may still go out in reply. */
        ERR_clear_error();
        if (reading)
            return 0;
        errno = EPIPE;
        return -1;
    case SSL_ERROR_SYSCALL:
        t->failed = 1; /* after SSL_ERROR_SYSCALL or _SSL not even SSL_shutdown is allowed */
        ERR_clear_error();
        if (saved == 0 && reading)
            return 0; /* EOF without close_notify, as OpenSSL 1.1 reports it */
        errno = saved ? saved : ECONNRESET;
        return -1;
    default:
        t->failed = 1;
        t->error_reason = ERR_GET_REASON(ERR_peek_error());
        t->error = tlsio_take_error();
        errno = EPROTO;
        return -1;
    }
}

int tlsio_handshake(struct tlsio *t)
{
    t->read_wants_write = 0;
    if (t->failed) {
        errno = EPROTO;
        return -1;
    }
    ERR_clear_error();
    errno = 0;
    int r = SSL_do_handshake(t->ssl);
    if (r == 1)
        return 1;
    return (int)tlsio_failure(t, r, errno, 1);
}

ssize_t tlsio_read(struct tlsio *t, void *buf, size_t len)
{
    t->read_wants_write = 0;
    if (t->failed) {
        errno = EPROTO;
        return -1;
    }
    ERR_clear_error();
    errno = 0;
    size_t got = 0;
    int r = SSL_read_ex(t->ssl, buf, len, &got);
    if (r == 1)
        return (ssize_t)got;
    return tlsio_failure(t, r, errno, 1);
}

ssize_t tlsio_write(struct tlsio *t, const void *buf, size_t len)
{
    t->write_wants_read = 0;
    if (t->failed) {
        errno = EPROTO;
        return -1;
    }
    ERR_clear_error();
    errno = 0;
    size_t done = 0;
    int r = SSL_write_ex(t->ssl, buf, len, &done);
    if (r == 1) {
        t->write_pending = 0;
        return (ssize_t)done;
    }
    ssize_t rc = tlsio_failure(t, r, errno, 0);
    if (errno == EAGAIN)
        t->write_pending = 1;
    return rc;
}

int tlsio_pending(const struct tlsio *t)
{
    return t->ssl && !t->failed && SSL_pending(t->ssl) > 0;
}

int tlsio_ready(const struct tlsio *t)
{
    return t->ssl && SSL_is_init_finished(t->ssl);
}

void tlsio_shutdown(struct tlsio *t)
{
    /* Not mid-handshake (OpenSSL refuses), not after a fatal error (forbidden), not with a
     * record half written (the alert would have to wait behind it). */
    if (!t->ssl || t->failed || t->write_pending || !SSL_is_init_finished(t->ssl) ||
        (SSL_get_shutdown(t->ssl) & SSL_SENT_SHUTDOWN))
        return;
    ERR_clear_error();
    SSL_shutdown(t->ssl);
    ERR_clear_error();
}

void tlsio_free(struct tlsio *t)
{
    SSL_free(t->ssl);
    *t = (struct tlsio){0};
}
