/* tls: TLS on client connections, with OpenSSL. The main thread builds the server context
 * from a certificate and key (at start and on each rehash); a connection's worker drives its
 * SSL object from the edge-triggered epoll loop, never blocking: the handshake is simply the
 * first reads, and reads and flushes answer like read(2) and sendq_flush, so the connection
 * layer treats plaintext and TLS sockets alike. */
#ifndef TCPCHAT_TLS_H
#define TCPCHAT_TLS_H

#include <stddef.h>
#include <sys/types.h>

struct ssl_ctx_st; /* SSL_CTX */
struct ssl_st;     /* SSL */
struct sendq;

/* One connection's TLS state, owned (like the rest of the client) by its worker. A
 * plaintext connection has ssl NULL. OpenSSL may need the socket writable to go on reading
 * (handshake messages, session tickets) or readable to go on writing (a write that started
 * mid-handshake): the two flags remember which, so the other epoll edge retries the call. */
struct tls_conn {
    struct ssl_st *ssl;
    unsigned read_wants_write : 1; /* the last read stopped on SSL_ERROR_WANT_WRITE */
    unsigned write_wants_read : 1; /* the last flush stopped on SSL_ERROR_WANT_READ */
    unsigned write_pending : 1;    /* a record is half written: SSL_write must be retried */
    unsigned failed : 1;           /* a fatal error: no SSL call any more but SSL_free */
    const char *error;             /* OpenSSL's reason for the fatal error (static text) */
};

/* A server context for cert (PEM, chain allowed) and key: TLS 1.2 and later, OpenSSL's
 * default ciphers. NULL with the reason in why. Thread-safe once built; refcounted, so a
 * connection keeps the context it started with after a rehash swaps in a new one. */
struct ssl_ctx_st *tls_ctx_new(const char *cert, const char *key, char *why, size_t whylen);
/* Drops the caller's reference (NULL is fine). */
void tls_ctx_free(struct ssl_ctx_st *ctx);

/* Sets t up for a server-side session on the non-blocking socket fd. 0, or -1. */
int tls_conn_init(struct tls_conn *t, struct ssl_ctx_st *ctx, int fd);
/* Like read(2): bytes decrypted into buf (completing the handshake first), 0 at the end of
 * the stream, -1 with errno EAGAIN when the socket has no more for now (read_wants_write set
 * if it is waiting to write instead) or another errno on failure (EPROTO for a TLS error,
 * with t->error saying which). */
ssize_t tls_conn_read(struct tls_conn *t, void *buf, size_t len);
/* Like sendq_flush: encrypts and writes what q holds, one record (TLS_RECORD_MAX bytes) per
 * SSL_write, dropping from q what was written. 0 when q is empty or the socket is full
 * (write_wants_read set if the handshake needs input first), -1 with errno on failure. */
int tls_conn_flush(struct tls_conn *t, struct sendq *q);
/* The SHA-256 fingerprint of the client's certificate, 64 lowercase hex digits, into out
 * (at least TLS_CERTFP_MAX + 1 bytes). 0, or -1 when it sent none. */
#define TLS_CERTFP_MAX 64
int tls_conn_certfp(const struct tls_conn *t, char *out, size_t cap);
/* 1 once the handshake is done. */
int tls_conn_ready(const struct tls_conn *t);
/* Best effort, never blocks: sends close_notify if the session is healthy and idle. */
void tls_conn_shutdown(struct tls_conn *t);
/* Frees the session (not the socket). Safe on a plaintext or already freed t. */
void tls_conn_free(struct tls_conn *t);

#endif
