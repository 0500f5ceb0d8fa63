/* tlsio: one OpenSSL session over a non-blocking socket, read and written like read(2) and
 * send(2), for the server's connections, the client's link and the bench's connections alike.
 * The contexts (certificates, verification) stay with each program; this is only the I/O. */
#ifndef TCPCHAT_TLSIO_H
#define TCPCHAT_TLSIO_H

#include <stddef.h>
#include <sys/types.h>

struct ssl_ctx_st; /* SSL_CTX */
struct ssl_st;     /* SSL */

/* One session, owned by whoever owns its socket (a server worker, the client's only thread,
 * the bench's loop): no locking. ssl is NULL when there is no session (a plaintext socket, or
 * after tlsio_free). OpenSSL may need the socket writable to go on reading (handshake
 * messages, session tickets) or readable to go on writing (a write started mid-handshake): the
 * two wants flags say which, so the caller retries on the other readiness. */
struct tlsio {
    struct ssl_st *ssl;
    unsigned read_wants_write : 1; /* the last read or handshake step waits to write */
    unsigned write_wants_read : 1; /* the last write waits to read */
    unsigned write_pending : 1;    /* a record is half written: retry it with the same bytes */
    unsigned failed : 1;           /* a fatal error: no SSL call any more but SSL_free */
    int error_reason;              /* ERR_GET_REASON of error, for callers that know some */
    const char *error;             /* OpenSSL's reason for a TLS error (static text), or NULL */
};

enum tlsio_side { TLSIO_SERVER, TLSIO_CLIENT };

/* Starts a session from ctx on the connected socket fd, as side. 0, or -1 with t->error
 * saying why (t->ssl NULL). */
int tlsio_init(struct tlsio *t, struct ssl_ctx_st *ctx, int fd, enum tlsio_side side);
/* Moves the handshake on (reads and writes do it too; this is for callers that want it done
 * first). 1 once done, 0 when the peer ended the stream, -1 with errno as tlsio_read. */
int tlsio_handshake(struct tlsio *t);
/* Like read(2): bytes decrypted into buf, 0 at the end of the stream (close_notify, or a bare
 * TCP close if the context sets SSL_OP_IGNORE_UNEXPECTED_EOF), -1 with errno EAGAIN when the
 * socket must become readable (or writable, with read_wants_write set), or another errno on
 * failure: EPROTO for a TLS error, with t->error saying which. */
ssize_t tlsio_read(struct tlsio *t, void *buf, size_t len);
/* Like send(2), len > 0: bytes taken (maybe fewer than len), or -1 with errno: EAGAIN when
 * the socket must become writable (or readable, with write_wants_read set; the same bytes must
 * come first in the retry, from any buffer), EPIPE once the peer sent close_notify, EPROTO
 * for a TLS error (t->error), or the socket's errno. */
ssize_t tlsio_write(struct tlsio *t, const void *buf, size_t len);
/* 1 when decrypted bytes wait inside the session, where poll and epoll cannot see them. */
int tlsio_pending(const struct tlsio *t);
/* 1 once the handshake is done. */
int tlsio_ready(const struct tlsio *t);
/* Best effort, never blocks: sends close_notify if the session is healthy, done with its
 * handshake and with no record half written, and only once. Waits for no reply. */
void tlsio_shutdown(struct tlsio *t);
/* Frees the session (not the socket) and clears t. Safe when there is none. */
void tlsio_free(struct tlsio *t);

/* The text of the oldest error OpenSSL queued on this thread (the root cause; "unknown
 * error" when none), then an empty queue. */
const char *tlsio_take_error(void);

#endif
