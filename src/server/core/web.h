/* web: connections from the web listener (--http-port, --https-port). Each starts speaking
 * HTTP/1.1: requests for the web client's files are answered from webfiles.h, and a
 * WebSocket handshake at /irc (or /) turns the connection into an IRC client like any other
 * (IRCv3 websocket: subprotocols binary.ircv3.net and text.ircv3.net, one line per message).
 * This is the transport adapter of architecture.md: conn.c calls in here instead of read and
 * writev for such a client; commands, fan-out and delivery do not know the difference.
 * Runs on the client's worker, like conn.c. */
#ifndef TCPCHAT_WEB_H
#define TCPCHAT_WEB_H

#include <stddef.h>

struct client;

/* Makes c, just created (and its TLS started, from the HTTPS port), a web connection: HTTP
 * first. -1, with c asked to close, when out of memory. */
int web_start(struct client *c);
/* 1 while c speaks HTTP (not yet a WebSocket): it takes no IRC lines. */
int web_http(const struct client *c);

enum web_input {
    WEB_LINES, /* lines were added to c->in (or an HTTP request was answered): run them */
    WEB_AGAIN, /* the socket has no more for now (want_read cleared), or c is closing */
    WEB_FULL,  /* no room: c->in for another message (flood control holds it back), or, in
                  HTTP, the send queue for another answer; c pauses like a stalled client */
};
/* Reads what the socket holds: HTTP requests are answered; WebSocket messages become lines in
 * c->in, as many as it has room for. */
enum web_input web_input(struct client *c);
/* Writes what is queued: HTTP responses as they are, IRC lines as WebSocket frames. 0, or -1
 * with errno on a write error. */
int web_flush(struct client *c);
/* c is closing: a WebSocket gets the ERROR line and a close frame, if the socket takes them
 * now; an HTTP connection gets nothing more. */
void web_last_words(struct client *c, const char *line);
/* The timer: an HTTP connection with no whole request within HTTP_IDLE_MS is closed. 1 if c
 * is still in HTTP (the IRC timers are not for it), else 0. */
int web_tick(struct client *c);
void web_free(struct client *c);

#endif
