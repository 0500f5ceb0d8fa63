/* btls: OpenSSL client sessions for the bench. Every SSL call starts with an empty error queue
 * and leaves it empty, so a reason read from it belongs to the call that failed. */
#include "btls.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* The text of the oldest error OpenSSL queued (the root cause), then an empty queue. */
static const char *btls_take_error(void)
{
    unsigned long e = ERR_peek_error();
    const char *reason = e ? ERR_reason_error_string(e) : NULL;
    ERR_clear_error();
    return reason ? reason : "unknown error";
}

SSL_CTX *btls_ctx_new(char *err, size_t errlen)
{
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
        snprintf(err, errlen, "cannot set up TLS: %s", btls_take_error());
        SSL_CTX_free(ctx);
        return NULL;
    }
    /* No verification (see btls.h). A server that just closes ends the stream normally. */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
    /* bconn's output buffer is written like send(): partial writes, and it may slide its
     * pending bytes before a retry. Idle connections give their record buffers back, which
     * matters with thousands of them. Read-ahead stays off (the default): a read takes one
     * record from the socket, never more, so what is left stays visible to epoll. */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    return ctx;
}

void btls_ctx_free(SSL_CTX *ctx)
{
    SSL_CTX_free(ctx);
}

int btls_start(struct bconn *c, SSL_CTX *ctx)
{
    ERR_clear_error();
    c->ssl = SSL_new(ctx);
    if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
        btls_free(c);
        ERR_clear_error();
        return -1;
    }
    SSL_set_connect_state(c->ssl);
    c->tls_want_out = 0;
    return 0;
}

int btls_handshake(struct bconn *c, char *why, size_t whylen, int *fatal)
{
    ERR_clear_error();
    errno = 0;
    int r = SSL_connect(c->ssl);
    int saved = errno;
    c->tls_want_out = 0;
    if (r == 1)
        return 1;
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        c->tls_want_out = e == SSL_ERROR_WANT_WRITE;
        ERR_clear_error();
        return 0;
    }
    *fatal = e == SSL_ERROR_SSL;
    if (*fatal)
        snprintf(why, whylen, "TLS handshake: %s", btls_take_error());
    else
        snprintf(why, whylen, "TLS handshake: %s",
                 saved ? strerror(saved) : "connection closed by the server");
    ERR_clear_error();
    return -1;
}

/* Turns a failed SSL call into errno. Returns -1, or 0 when the stream has simply ended. */
static ssize_t btls_failure(struct bconn *c, int r, int saved, int reading)
{
    int e = SSL_get_error(c->ssl, r);
    ssize_t rc = -1;
    switch (e) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        if (reading)
            c->tls_want_out = e == SSL_ERROR_WANT_WRITE;
        errno = EAGAIN;
        break;
    case SSL_ERROR_ZERO_RETURN: /* close_notify */
        if (reading)
            rc = 0;
        else
            errno = EPIPE;
        break;
    case SSL_ERROR_SYSCALL:
        if (saved == 0 && reading)
            rc = 0;
        else
            errno = saved ? saved : ECONNRESET;
        break;
    default:
        errno = EPROTO;
        break;
    }
    ERR_clear_error();
    return rc;
}

ssize_t btls_read(struct bconn *c, void *buf, size_t len)
{
    c->tls_want_out = 0;
    ERR_clear_error();
    errno = 0;
    size_t got = 0;
    int r = SSL_read_ex(c->ssl, buf, len, &got);
    if (r == 1)
        return (ssize_t)got;
    return btls_failure(c, r, errno, 1);
}

ssize_t btls_write(struct bconn *c, const void *buf, size_t len)
{
    ERR_clear_error();
    errno = 0;
    size_t done = 0;
    int r = SSL_write_ex(c->ssl, buf, len, &done);
    if (r == 1)
        return (ssize_t)done;
    return btls_failure(c, r, errno, 0);
}

int btls_pending(const struct bconn *c)
{
    return c->ssl && SSL_has_pending(c->ssl);
}

void btls_free(struct bconn *c)
{
    SSL_free(c->ssl);
    c->ssl = NULL;
    c->tls_want_out = 0;
}
