/* sendq: a connection's send queue: a ring of message references plus the offset already
 * written of the first one, flushed with one writev. No bytes are copied per recipient.
 * Owned by the connection's worker; not thread-safe. */
#ifndef TCPCHAT_SENDQ_H
#define TCPCHAT_SENDQ_H

#include <stddef.h>
#include <stdint.h>

#include "msg.h"

/* 32-bit counts keep the struct small (one per connection): a queue holds at most the send
 * queue bound (--sendq, under 4 GiB) in lines of at least 3 bytes, far from 2^32 of them. */
struct sendq {
    struct msg **ring;
    uint32_t cap;    /* slots in ring (a power of two), 0 before the first push */
    uint32_t head;   /* index of the oldest message */
    uint32_t count;  /* messages queued */
    uint32_t offset; /* bytes of ring[head] already written (a line is under 4 GiB) */
    size_t bytes;    /* bytes queued and not yet written */
};

void sendq_init(struct sendq *q);
/* Drops every queued reference and frees the ring. */
void sendq_free(struct sendq *q);
/* Queues a reference to m (taking a new one). Returns 0, or -1 on allocation failure. */
int sendq_push(struct sendq *q, struct msg *m);
/* Writes as much as the socket takes. Returns 0 when it stopped because the queue is empty or
 * the socket is full (EAGAIN), -1 on a write error (errno set). */
int sendq_flush(struct sendq *q, int fd);
/* Points iov at the queued bytes, message by message from the front, as writev would take
 * them: at most max entries, stopping once max_bytes are covered. Returns how many. For
 * writers that frame what they write (WebSocket) without copying it first. */
struct iovec;
int sendq_iov(const struct sendq *q, struct iovec *iov, int max, size_t max_bytes);
/* Bytes queued and not yet written. */
size_t sendq_bytes(const struct sendq *q);
/* For writers other than writev (TLS): copies up to cap bytes from the front of the queue
 * into buf without dropping them; returns how many. */
size_t sendq_peek(const struct sendq *q, char *buf, size_t cap);
/* Drops the first n bytes (n <= sendq_bytes), once they are written. */
void sendq_advance(struct sendq *q, size_t n);

#endif
