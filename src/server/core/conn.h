/* conn: the connection layer of a client: reading and splitting lines, flood control, the
 * send queue and its bounds, flushing, and closing. The only server code that touches client
 * sockets (the acceptor in main.c aside); runs on the client's worker. Lines go up, and a
 * close is announced, through the server's conn_hooks (server.h). */
#ifndef TCPCHAT_CONN_H
#define TCPCHAT_CONN_H

#include <stddef.h>

struct client;
struct event;
struct msg;
struct worker;

/* Reasons a connection is closed with that the metrics count apart (metrics.h). */
#define CONN_SENDQ_EXCEEDED "Max SendQ exceeded"
#define CONN_EXCESS_FLOOD   "Excess Flood"
#define CONN_REG_TIMEOUT    "Registration timed out"
#define CONN_TLS_TIMEOUT    "TLS handshake timed out"
#define CONN_HTTP_TIMEOUT   "HTTP request timed out"
#define CONN_PING_TIMEOUT   "Ping timeout" /* followed by ": N seconds" */

/* Takes ownership of fd (a new non-blocking connection from host). NULL on failure, with fd
 * closed. */
struct client *conn_create(struct worker *w, int fd, const char *host, int ip_counted);
/* Logs c's "connection opened" line (address, port, transport, worker), once its TLS and
 * web state are set up: they say what it came over. */
void conn_log_opened(struct client *c);
/* For a connection from the TLS port, right after conn_create: starts the server side of the
 * handshake (driven by the reads that follow). -1, with c asked to close, on failure. */
int conn_start_tls(struct client *c);
/* The socket became readable (or was before, and input may resume); peer_done: the event
 * also said the peer shut down or the socket failed. */
void conn_on_readable(struct client *c, int peer_done);
/* Input was paused (flood control or the soft send-queue bound): try again. */
void conn_resume(struct client *c);
/* The socket became writable. */
void conn_on_writable(struct client *c);
/* Writes what the send queue holds; closes on a write error. */
void conn_flush(struct client *c);
/* Queues m for c. Past the hard send-queue bound c is closed with CONN_SENDQ_EXCEEDED. */
void conn_send(struct client *c, struct msg *m);
/* c has just registered: for SENDQ_NEW_MS, what others' events queue for it is bounded by
 * SENDQ_NEW_BYTES (conn_deliver_event). */
void conn_registered(struct client *c);
/* conn_send_event for an event of someone else's, from the mailbox (deliver.c): a client
 * registered less than SENDQ_NEW_MS ago whose queue holds over SENDQ_NEW_BYTES of such lines
 * beyond its own, its socket full, is closed with CONN_SENDQ_EXCEEDED. */
void conn_deliver_event(struct client *c, struct event *ev);
/* Queues ev for c in the rendering c's capabilities call for (nothing if it needs a
 * capability c lacks). */
void conn_send_event(struct client *c, struct event *ev);
/* Asks for c to be closed at the end of this loop turn, with reason (shown in the ERROR line
 * and, as the QUIT reason, to everyone who shares a channel with c). The first reason wins. */
void conn_close_later(struct client *c, const char *reason);
/* Closes now: ERROR line, socket closed, nick released, QUIT fanned out. c stays allocated
 * (dead) until its own QUIT item comes back through the mailbox, then conn_free. */
void conn_close(struct client *c);
/* At shutdown, once the goodbye is out (or given up on): TLS close_notify, then the socket
 * is shut down both ways. */
void conn_hangup(struct client *c);
/* At shutdown: queue the goodbye line without any fan-out. */
void conn_goodbye(struct client *c, const char *line);
/* Frees c's memory; c must be dead and out of every replica. */
void conn_free(struct client *c);
/* The unset value of the client's heap strings (realname, source, close_reason): "". Never
 * written to, never freed. */
extern char conn_no_str[1];
/* Replaces *slot (one of those strings) with a copy of text cut to at most max bytes at a
 * UTF-8 boundary. Returns 0, or -1 on allocation failure with *slot unchanged. */
int conn_set_str(char **slot, const char *text, size_t max);
/* Frees *slot (unless it is conn_no_str) and sets it to conn_no_str. */
void conn_str_free(char **slot);
/* Runs periodic checks: registration and ping timeouts. */
void conn_tick(struct client *c);

#endif
