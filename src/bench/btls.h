/* btls: TLS for the bench's connections (--tls): one client context, non-blocking handshakes
 * driven by the event loop, and reads and writes that behave like read() and send(). There is
 * no certificate verification: a load generator measures a server, it does not trust it.
 * Owned by the bench's single event loop thread. */
#ifndef TCPCHAT_BENCH_BTLS_H
#define TCPCHAT_BENCH_BTLS_H

#include <stddef.h>
#include <sys/types.h>

#include "bconn.h"

/* The largest plaintext of one TLS record (RFC 8446 5.1): a read with at least this much room
 * takes a whole record, so nothing decrypted is left waiting where epoll cannot see it. */
#define BTLS_RECORD_MAX 16384

struct ssl_ctx_st;

/* The client context, TLS 1.2 and later. Returns NULL with a reason in err. */
struct ssl_ctx_st *btls_ctx_new(char *err, size_t errlen);
void btls_ctx_free(struct ssl_ctx_st *ctx);

/* Gives connected c a TLS session over its socket. Returns 0, or -1 (out of memory). */
int btls_start(struct bconn *c, struct ssl_ctx_st *ctx);
/* Moves c's handshake on. Returns 1 when done, 0 while it waits for the socket (c->tls_want_out
 * says whether for writing), -1 when it failed: why holds the reason, and *fatal is 1 for a
 * protocol failure (no use trying again) rather than the connection dropping. */
int btls_handshake(struct bconn *c, char *why, size_t whylen, int *fatal);
/* Like read(): bytes, 0 at the end of the stream, -1 with errno (EAGAIN; c->tls_want_out when
 * it waits for the socket to be writable). */
ssize_t btls_read(struct bconn *c, void *buf, size_t len);
/* Like send(): bytes taken, or -1 with errno (EAGAIN to try again later). */
ssize_t btls_write(struct bconn *c, const void *buf, size_t len);
/* 1 when decrypted bytes wait inside c's session. */
int btls_pending(const struct bconn *c);
/* Frees c's session (no close_notify: the socket is closed right after). */
void btls_free(struct bconn *c);

#endif
