/* btls: TLS for the bench's connections (--tls): one client context, and handshakes driven by
 * the event loop; reads and writes go through the connection's common/tlsio session. There is
 * no certificate verification: a load generator measures a server, it does not trust it.
 * Owned by the bench's single event loop thread. */
#ifndef TCPCHAT_BENCH_BTLS_H
#define TCPCHAT_BENCH_BTLS_H

#include <stddef.h>

#include "bconn.h"

/* The largest plaintext of one TLS record (RFC 8446 5.1): a read with at least this much room
 * takes a whole record, so nothing decrypted is left waiting where epoll cannot see it. */
#define BTLS_RECORD_MAX 16384

struct ssl_ctx_st;

/* The client context, TLS 1.2 and later. Returns NULL with a reason in err. */
struct ssl_ctx_st *btls_ctx_new(char *err, size_t errlen);
void btls_ctx_free(struct ssl_ctx_st *ctx);

/* Gives connected c a TLS session over its socket (c->tls). Returns 0, or -1 (out of
 * memory). */
int btls_start(struct bconn *c, struct ssl_ctx_st *ctx);
/* Moves c's handshake on. Returns 1 when done, 0 while it waits for the socket
 * (c->tls.read_wants_write says whether for writing), -1 when it failed: why holds the reason,
 * and *fatal is 1 for a protocol failure (no use trying again) rather than the connection
 * dropping. */
int btls_handshake(struct bconn *c, char *why, size_t whylen, int *fatal);

#endif
