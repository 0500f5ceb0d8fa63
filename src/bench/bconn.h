/* bconn: one simulated IRC client's socket and buffers: a non-blocking connect from a chosen
 * source address, a bounded output buffer, and line splitting of what the server sends, over
 * TCP or (with a session from btls) TLS. Owned by the bench's single event loop thread; nothing
 * here is shared. */
#ifndef TCPCHAT_BENCH_BCONN_H
#define TCPCHAT_BENCH_BCONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "common/tlsio.h"

/* A partial line kept between reads. Servers we talk to send lines within IRC_LINE_MAX
 * (no capability negotiated, so no tags); twice that leaves headroom for a chatty peer. A
 * longer line is dropped whole and counted. */
#define BCONN_CARRY_CAP 1024
/* The longest header of a masked client frame bconn writes (16-bit length, mask key). */
#define BCONN_WS_HEADER_MAX 8

enum bconn_state {
    BCONN_IDLE,        /* not opened yet */
    BCONN_CONNECTING,  /* connect() in progress */
    BCONN_HANDSHAKING, /* --tls: TLS handshake in progress */
    BCONN_REGISTERING, /* NICK/USER sent, waiting for 001 */
    BCONN_REGISTERED,  /* 001 seen; in no bench channel (yet, or its JOIN failed) */
    BCONN_JOINING,     /* JOIN sent, waiting for the channel's 366 */
    BCONN_JOINED,      /* member of its bench channel */
    BCONN_CLOSED,
};

/* --websocket: IRC over WebSocket (IRCv3 websocket, text.ircv3.net) instead of bare lines. */
enum bconn_ws {
    BCONN_WS_OFF,     /* bare IRC lines */
    BCONN_WS_STATUS,  /* upgrade request sent, waiting for the status line */
    BCONN_WS_HEADERS, /* 101 seen, passing over the headers up to the blank line */
    BCONN_WS_FRAMES,  /* one line per frame both ways: bconn frames and unframes them */
};

struct bconn {
    int fd;
    uint32_t idx;       /* client number, 0..clients-1 */
    uint8_t state;      /* enum bconn_state */
    uint8_t out_armed;  /* EPOLLOUT is in the epoll interest set */
    uint8_t nick_tries; /* nicks refused so far (433 ...) */
    uint8_t skipping;   /* dropping the rest of an overlong line */
    uint8_t got_error;  /* the server sent ERROR: its reason is already recorded */
    uint8_t doomed;     /* to be closed once the current read is handled */
    uint8_t done;       /* sender: every message written (or it stopped for good) */
    uint8_t reconnects; /* times reopened after the server dropped it before 001 */
    uint8_t ws;         /* --websocket: enum bconn_ws */
    uint16_t carry_len;
    char *carry;      /* partial line (a partial frame, over WebSocket), BCONN_CARRY_CAP bytes,
                         allocated on first need */
    uint32_t ws_skip; /* WebSocket: bytes of a frame too long to keep, still to pass over */
    char *out;        /* output not yet written, allocated on first need */
    uint32_t out_cap, out_off, out_len; /* bytes [out_off, out_len) are pending */
    uint32_t *last_seq;                 /* receiver: last sequence seen per sender of its channel */
    uint32_t sent;                      /* sender: messages put in the output buffer */
    uint32_t due; /* sender at a fixed rate: messages the schedule has released */
    /* --tls (btls): the session over fd (tls.ssl NULL without). Its read_wants_write: the
     * handshake or the last read waits for the socket to be writable. */
    struct tlsio tls;
};

/* Called for each complete line, NUL-terminated in place without CR LF; line is writable
 * and valid only during the call. */
typedef void (*bconn_line_fn)(void *ctx, struct bconn *c, char *line, size_t len);

/* Starts a non-blocking connect to dst, from src when not NULL (its port left to connect()
 * so that one source address serves many destinations). Returns 0 (connecting or connected),
 * or -1 with errno set. */
int bconn_open(struct bconn *c, const struct sockaddr *dst, socklen_t dstlen,
               const struct sockaddr *src, socklen_t srclen);
/* After EPOLLOUT on a connecting socket: 0 when connected, -1 with errno when it failed. */
int bconn_connect_result(struct bconn *c);
/* Gives room for at least need bytes at the end of the output buffer, allocating it with
 * capacity cap on first use. Returns the place to write, or NULL if the buffer is full. Over
 * WebSocket the room is twice that and more, for the frame headers bconn_commit adds. */
char *bconn_reserve(struct bconn *c, size_t need, size_t cap);
/* The n bytes written at the place bconn_reserve gave are output (whole lines, CR LF ended;
 * over WebSocket each becomes a masked text frame). */
void bconn_commit(struct bconn *c, size_t n);
/* Appends a whole line (with its CR LF); -1 when it does not fit. */
int bconn_queue(struct bconn *c, const char *data, size_t len, size_t cap);
/* Writes pending output (through TLS when c->tls.ssl). Returns 1 when all is written, 0 when
 * some waits for the socket, -1 on a write error (errno set). */
int bconn_flush(struct bconn *c);
static inline size_t bconn_pending(const struct bconn *c)
{
    return c->out_len - c->out_off;
}
/* One read into buf (cap bytes of scratch shared by all connections), calling fn per line
 * (per frame, over WebSocket; a close frame ends the stream as EOF would).
 * Over TLS, reads record after record until the socket has no more or cap bytes came. Returns
 * bytes read, 0 on end of stream, -1 on error (errno; EAGAIN when nothing came). */
ssize_t bconn_read(struct bconn *c, char *buf, size_t cap, bconn_line_fn fn, void *ctx);
/* Closes the socket and frees the buffers and TLS session; the struct can be reported on
 * afterwards. */
void bconn_close(struct bconn *c);

#endif
