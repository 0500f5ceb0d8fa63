/* btls: the bench's OpenSSL client context and handshakes. Every SSL call starts with an empty
 * error queue and leaves it empty, so a reason read from it belongs to the call that failed. */
#include "btls.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>

#include "common/tlsio.h"

SSL_CTX *btls_ctx_new(char *err, size_t errlen)
{
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
        snprintf(err, errlen, "cannot set up TLS: %s", tlsio_take_error());
        SSL_CTX_free(ctx);
        return NULL;
    }
    /* No verification (see btls.h). A server that just closes ends the stream normally. */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
    /* Idle connections give their record buffers back, which matters with thousands of them.
     * (tlsio sets the modes bconn's output buffer needs: it is written like send(), and may
     * slide its pending bytes before a retry.) Read-ahead stays off (the default): a read
     * takes one record from the socket, never more, so what is left stays visible to epoll. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    return ctx;
}

void btls_ctx_free(SSL_CTX *ctx)
{
    SSL_CTX_free(ctx);
}

int btls_start(struct bconn *c, SSL_CTX *ctx)
{
    return tlsio_init(&c->tls, ctx, c->fd, TLSIO_CLIENT);
}

int btls_handshake(struct bconn *c, char *why, size_t whylen, int *fatal)
{
    int r = tlsio_handshake(&c->tls);
    int saved = errno;
    if (r == 1)
        return 1;
    if (r < 0 && saved == EAGAIN)
        return 0;
    *fatal = r < 0 && saved == EPROTO && c->tls.error;
    if (*fatal)
        snprintf(why, whylen, "TLS handshake: %s", c->tls.error);
    else
        snprintf(why, whylen, "TLS handshake: %s",
                 r < 0 ? strerror(saved) : "connection closed by the server");
    return -1;
}
