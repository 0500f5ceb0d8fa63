/* tls: OpenSSL server contexts and non-blocking per-connection sessions. Every SSL call
 * starts with an empty error queue (OpenSSL's per-thread queue is shared by all of a worker's
 * connections, and SSL_get_error reads it) and leaves it empty. */
#include "tls.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>

#include "defines.h"
#include "sendq.h"

/* The text of the oldest error OpenSSL queued (the root cause), then an empty queue. */
static const char *tls_take_error(void)
{
    unsigned long e = ERR_peek_error();
    const char *reason = !e                    ? NULL
                         : ERR_SYSTEM_ERROR(e) ? strerror(ERR_GET_REASON(e)) /* a file's errno */
                                               : ERR_reason_error_string(e);
    ERR_clear_error();
    return reason ? reason : "unknown error";
}

static int accept_any_cert(int preverify_ok, X509_STORE_CTX *store)
{
    (void)preverify_ok;
    (void)store;
    return 1;
}

SSL_CTX *tls_ctx_new(const char *cert, const char *key, char *why, size_t whylen)
{
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
        snprintf(why, whylen, "cannot set up TLS: %s", tls_take_error());
        SSL_CTX_free(ctx);
        return NULL;
    }
    /* Clients that just close the TCP connection (most IRC clients) end the stream normally
     * rather than with an error; renegotiation is a DoS lever nobody needs. */
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    /* A flush hands SSL_write one record gathered from the send queue into a stack buffer:
     * partial writes say how much went, and a retry may come from another buffer holding the
     * same bytes. Idle connections give their 34 KiB of record buffers back. */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    /* No server-side session cache (it grows with every handshake); TLS 1.3 tickets still
     * let clients resume. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    /* Ask for a client certificate, any one, self-signed included: it is an identity for SASL
     * EXTERNAL (by its SHA-256 fingerprint), not something to verify against a CA. Clients
     * without one connect as before. */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE, accept_any_cert);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        snprintf(why, whylen, "cannot load the TLS certificate %s: %s", cert, tls_take_error());
    } else if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH)
            snprintf(why, whylen, "the TLS key %s does not match the certificate %s", key, cert);
        else
            snprintf(why, whylen, "cannot load the TLS key %s: %s", key, tls_take_error());
        ERR_clear_error();
    } else if (SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(why, whylen, "the TLS key %s does not match the certificate %s: %s", key, cert,
                 tls_take_error());
    } else {
        return ctx;
    }
    SSL_CTX_free(ctx);
    return NULL;
}

void tls_ctx_free(SSL_CTX *ctx)
{
    SSL_CTX_free(ctx);
}

int tls_conn_init(struct tls_conn *t, SSL_CTX *ctx, int fd)
{
    ERR_clear_error();
    t->ssl = SSL_new(ctx);
    if (!t->ssl || SSL_set_fd(t->ssl, fd) != 1) {
        SSL_free(t->ssl);
        t->ssl = NULL;
        ERR_clear_error();
        return -1;
    }
    SSL_set_accept_state(t->ssl);
    return 0;
}

/* Turns a failed SSL call's result into errno: EAGAIN for "try again when the socket is
 * ready" (setting *other when that means the other direction), else a failure. */
static void tls_failure(struct tls_conn *t, int r, int saved, int want_other, unsigned *other)
{
    int e = SSL_get_error(t->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        if (e == want_other)
            *other = 1;
        ERR_clear_error();
        errno = EAGAIN;
        return;
    }
    t->failed = 1; /* after SSL_ERROR_SSL or _SYSCALL not even SSL_shutdown is allowed */
    if (e == SSL_ERROR_SYSCALL) {
        ERR_clear_error();
        errno = saved ? saved : ECONNRESET;
    } else if (e == SSL_ERROR_ZERO_RETURN) {
        ERR_clear_error();
        errno = EPIPE; /* only from a write: the peer has closed its side */
    } else {
        t->error = tls_take_error();
        errno = EPROTO;
    }
}

ssize_t tls_conn_read(struct tls_conn *t, void *buf, size_t len)
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
    int saved = errno;
    int e = SSL_get_error(t->ssl, r);
    if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && saved == 0)) {
        /* close_notify, or EOF (ignored as unexpected: see tls_ctx_new). */
        if (e == SSL_ERROR_SYSCALL)
            t->failed = 1;
        ERR_clear_error();
        return 0;
    }
    unsigned other = 0;
    tls_failure(t, r, saved, SSL_ERROR_WANT_WRITE, &other);
    t->read_wants_write = other;
    return -1;
}

int tls_conn_flush(struct tls_conn *t, struct sendq *q)
{
    t->write_wants_read = 0;
    char buf[TLS_RECORD_MAX];
    for (;;) {
        /* After a WANT_* the same bytes come back first: q drops nothing until written. */
        size_t n = sendq_peek(q, buf, sizeof buf);
        if (n == 0)
            return 0;
        if (t->failed) {
            errno = EPROTO;
            return -1;
        }
        ERR_clear_error();
        size_t done = 0;
        errno = 0;
        int r = SSL_write_ex(t->ssl, buf, n, &done);
        int saved = errno;
        if (r == 1) {
            t->write_pending = 0;
            sendq_advance(q, done);
            continue;
        }
        unsigned other = 0;
        tls_failure(t, r, saved, SSL_ERROR_WANT_READ, &other);
        t->write_wants_read = other;
        if (errno != EAGAIN)
            return -1;
        t->write_pending = 1;
        return 0;
    }
}

int tls_conn_certfp(const struct tls_conn *t, char *out, size_t cap)
{
    out[0] = '\0';
    X509 *cert = t->ssl && SSL_is_init_finished(t->ssl) ? SSL_get0_peer_certificate(t->ssl) : NULL;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    if (!cert || cap < 2 * SHA256_DIGEST_LENGTH + 1 || X509_digest(cert, EVP_sha256(), md, &n) != 1)
        return -1;
    for (unsigned i = 0; i < n; i++)
        snprintf(out + 2 * i, cap - 2 * i, "%02x", md[i]);
    return 0;
}

int tls_conn_ready(const struct tls_conn *t)
{
    return t->ssl && SSL_is_init_finished(t->ssl);
}

void tls_conn_shutdown(struct tls_conn *t)
{
    /* Not mid-handshake (OpenSSL refuses), not after a fatal error (forbidden), not with a
     * record half written (the alert would have to wait behind it), and only once. */
    if (!t->ssl || t->failed || t->write_pending || !SSL_is_init_finished(t->ssl) ||
        (SSL_get_shutdown(t->ssl) & SSL_SENT_SHUTDOWN))
        return;
    ERR_clear_error();
    SSL_shutdown(t->ssl); /* sends close_notify if the socket takes it; no wait for the reply */
    ERR_clear_error();
}

void tls_conn_free(struct tls_conn *t)
{
    SSL_free(t->ssl);
    t->ssl = NULL;
}
