/* link: the client's byte stream to the server, plain TCP or TLS. Connecting (and the TLS
 * handshake with its certificate checks) blocks; after that the socket is non-blocking and
 * link_read / link_write behave like recv / send whichever it is. */
#ifndef TCPCHAT_CLIENT_LINK_H
#define TCPCHAT_CLIENT_LINK_H

#include <stddef.h>
#include <sys/types.h>

/* Room for a reason: a TLS verification failure names the host as well. */
#define LINK_ERR_MAX 512

/* How to secure the connection. */
struct link_tls {
    int enabled;
    const char *ca_file; /* trust only this PEM bundle; NULL for the system trust store */
    int insecure;        /* accept any certificate (no verification at all) */
};

/* Owned by the main thread: the client has no other thread. */
struct link;

/* Connects to host:port, and with tls->enabled completes a TLS 1.2+ handshake that checks the
 * server's certificate chain and that it names host (unless tls->insecure). Returns the link,
 * or NULL with one line in err ("TLS: certificate verify failed: self-signed certificate"). */
struct link *link_open(const char *host, const char *port, const struct link_tls *tls, char *err,
                       size_t errlen);
/* Closes the connection (sending TLS close_notify if the socket takes it) and frees l. */
void link_close(struct link *l);
int link_fd(const struct link *l);

/* A description of the session: "TLSv1.3, TLS_AES_256_GCM_SHA384", or "" when plain. */
void link_describe(const struct link *l, char *out, size_t cap);

/* Like recv: bytes read, 0 at the end of the stream, -1 with errno (EAGAIN: try again when
 * the socket is readable, or writable if link_read_wants_write). */
ssize_t link_read(struct link *l, void *buf, size_t len);
/* Like send: bytes taken, or -1 with errno (EAGAIN: try again later). */
ssize_t link_write(struct link *l, const void *buf, size_t len);
/* 1 when decrypted bytes wait inside the TLS session: poll() cannot see them, read now. */
int link_pending(const struct link *l);
/* 1 when the last link_read stopped because TLS needs to write first (poll for POLLOUT). */
int link_read_wants_write(const struct link *l);
/* What the last failed link_read or link_write means, for the user. */
const char *link_error(const struct link *l);

#endif
