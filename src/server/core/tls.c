/* tls: OpenSSL server contexts, and what the server adds to a connection's session (flushing
 * the send queue through it, the client certificate's fingerprint). Every SSL call starts with
 * an empty error queue and leaves it empty, as in common/tlsio.c. */
#include "tls.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <stdio.h>

#include "defines.h"
#include "sendq.h"

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
        snprintf(why, whylen, "cannot set up TLS: %s", tlsio_take_error());
        SSL_CTX_free(ctx);
        return NULL;
    }
    /* Clients that just close the TCP connection (most IRC clients) end the stream normally
     * rather than with an error; renegotiation is a DoS lever nobody needs. */
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    /* Idle connections give their 34 KiB of record buffers back. (tlsio sets the modes a
     * flush needs: partial writes, retries from another buffer holding the same bytes.) */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    /* No server-side session cache (it grows with every handshake); TLS 1.3 tickets still
     * let clients resume. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    /* Ask for a client certificate, any one, self-signed included: it is an identity for SASL
     * EXTERNAL (by its SHA-256 fingerprint), not something to verify against a CA. Clients
     * without one connect as before. */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE, accept_any_cert);
    /* With peer verification on, OpenSSL refuses to resume a session (a TLS 1.3 ticket
     * included) unless the context names itself: browsers resume on every later connection. */
    SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"tcpchatd", 8);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        snprintf(why, whylen, "cannot load the TLS certificate %s: %s", cert, tlsio_take_error());
    } else if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH)
            snprintf(why, whylen, "the TLS key %s does not match the certificate %s", key, cert);
        else
            snprintf(why, whylen, "cannot load the TLS key %s: %s", key, tlsio_take_error());
        ERR_clear_error();
    } else if (SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(why, whylen, "the TLS key %s does not match the certificate %s: %s", key, cert,
                 tlsio_take_error());
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

int tls_conn_flush(struct tlsio *t, struct sendq *q)
{
    t->write_wants_read = 0; /* nothing left to write waits on input */
    char buf[TLS_RECORD_MAX];
    for (;;) {
        /* After an EAGAIN the same bytes come back first: q drops nothing until written. */
        size_t n = sendq_peek(q, buf, sizeof buf);
        if (n == 0)
            return 0;
        ssize_t done = tlsio_write(t, buf, n);
        if (done < 0)
            return errno == EAGAIN ? 0 : -1;
        sendq_advance(q, (size_t)done);
    }
}

int tls_conn_certfp(const struct tlsio *t, char *out, size_t cap)
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
