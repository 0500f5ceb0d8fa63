/* tls: TLS on client connections, with OpenSSL. The main thread builds the server context
 * from a certificate and key (at start and on each rehash); a connection's worker drives its
 * session (common/tlsio.h) from the edge-triggered epoll loop, never blocking: the handshake
 * is simply the first reads, and reads and flushes answer like read(2) and sendq_flush, so the
 * connection layer treats plaintext and TLS sockets alike. */
#ifndef TCPCHAT_TLS_H
#define TCPCHAT_TLS_H

#include <stddef.h>

#include "common/tlsio.h" /* struct tlsio, which a client holds */

struct ssl_ctx_st; /* SSL_CTX */
struct sendq;

/* A server context for cert (PEM, chain allowed) and key: TLS 1.2 and later, OpenSSL's
 * default ciphers. NULL with the reason in why. Thread-safe once built; refcounted, so a
 * connection keeps the context it started with after a rehash swaps in a new one. */
struct ssl_ctx_st *tls_ctx_new(const char *cert, const char *key, char *why, size_t whylen);
/* Drops the caller's reference (NULL is fine). */
void tls_ctx_free(struct ssl_ctx_st *ctx);

/* A connection's session is a struct tlsio, started with tlsio_init(TLSIO_SERVER) and read
 * with tlsio_read; what the server adds is below. */

/* Like sendq_flush: encrypts and writes what q holds, one record (TLS_RECORD_MAX bytes) per
 * write, dropping from q what was written. 0 when q is empty or the socket is full
 * (t->write_wants_read set if the handshake needs input first), -1 with errno on failure
 * (EPROTO for a TLS error, with t->error saying which). */
int tls_conn_flush(struct tlsio *t, struct sendq *q);
/* The SHA-256 fingerprint of the client's certificate, 64 lowercase hex digits, into out
 * (at least TLS_CERTFP_MAX + 1 bytes). 0, or -1 when it sent none. */
#define TLS_CERTFP_MAX 64
int tls_conn_certfp(const struct tlsio *t, char *out, size_t cap);

#endif
