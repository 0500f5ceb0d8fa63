/* inproc: an in-process tcpchatd for tests: a server with one worker turned by hand, clients on
 * socketpairs. No thread, no listening socket, no history store and no account store; the
 * clock moves only when told. Unit tests and the input fuzzer drive the server through this
 * API alone: every use of the server's internals is in inproc.c. */
#ifndef TCPCHAT_INPROC_H
#define TCPCHAT_INPROC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Clients one server holds at most (client indices are 0 .. INPROC_CLIENTS_MAX - 1). */
#define INPROC_CLIENTS_MAX 16
/* The worker's clock at start, in milliseconds (worker.h now_ms). */
#define INPROC_START_MS 1000000

struct inproc;

/* Starts a server from command-line options, as after "tcpchatd" (NULL-terminated; e.g.
 * {"--server-name", "srv", NULL}). They follow "--workers 1 --log-level error --history off",
 * so they may override those, but there is one worker and no history store whatever they say.
 * Returns NULL with the reason in why when config_load refuses the options or the server
 * cannot be set up. */
struct inproc *inproc_start(const char *const *opts, char *why, size_t whylen);
/* Closes every client, runs the loop until every client is freed, then frees the whole server,
 * so that LeakSanitizer sees anything left. Returns 0, or -1 with the reason in why if a
 * malformed line was received since the start (inproc_error) or a client or a connection
 * count was left over (freed all the same). */
int inproc_close(struct inproc *ip, char *why, size_t whylen);

/* Connects a client from host (a textual address, shown in its nick!user@host). Returns its
 * index (0, 1, ... in order), or -1 when INPROC_CLIENTS_MAX are connected or it failed. */
int inproc_connect(struct inproc *ip, const char *host);
/* Connects a client as from the web listener (HTTP, then IRC over WebSocket once it sends a
 * handshake): what it is sent is checked as HTTP/1.1 answers (status line, Content-Length)
 * and then as WebSocket frames (whole, unmasked, a known opcode, each data frame one
 * well-formed IRC line, UTF-8 in text frames, nothing after a close frame); the lines of the
 * frames are kept like a client's lines. Returns as inproc_connect. */
int inproc_connect_web(struct inproc *ip, const char *host);
/* 1 while the server holds client i open. */
int inproc_alive(struct inproc *ip, int i);
/* Client i sends n bytes as they are; the server reads them at once (and runs the complete
 * lines, as flood control allows). Nothing is sent once the server has closed i or i has hung
 * up: -1 then, else 0. At most a socket buffer's worth (some 100 KB) per call. */
int inproc_send(struct inproc *ip, int i, const void *bytes, size_t n);
/* Client i sends one line: fmt's text followed by CR LF. Returns as inproc_send. */
int inproc_sendf(struct inproc *ip, int i, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* inproc_sendf, then inproc_run: client i sends a command and the server answers it. */
int inproc_cmd(struct inproc *ip, int i, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Client i closes its end of the connection (the server reads EOF). */
void inproc_hang_up(struct inproc *ip, int i);
/* Moves the clock on by ms and runs every client's timers (registration and ping timeouts,
 * PING), as the worker's once-a-second tick does. */
void inproc_advance(struct inproc *ip, uint64_t ms);
/* Turns the loop until it is quiet: runs the mailbox until it is empty (a close posts items
 * for a later pass), closes, flushes, frees what is due, and reads what every client was sent;
 * a client whose output waits for its socket gets it once the harness has read that. */
void inproc_run(struct inproc *ip);

/* The lines client i received since the last inproc_clear, without CR LF: how many, and line
 * k of them (k from 0; "" past the end, which no received line is). */
int inproc_nlines(const struct inproc *ip, int i);
const char *inproc_line(const struct inproc *ip, int i, int k);
/* The index of the first line of client i equal to line, or -1. */
int inproc_find(const struct inproc *ip, int i, const char *line);
/* Forgets the lines client i (every client for INPROC_ALL) received so far. */
#define INPROC_ALL (-1)
void inproc_clear(struct inproc *ip, int i);

/* Registers client i as nick (NICK, then "USER nick 0 * :Real nick"), runs the loop and
 * forgets the welcome burst. Returns 0 once RPL_WELCOME came, else -1 (its lines kept). */
int inproc_register(struct inproc *ip, int i, const char *nick);

/* Every line a client receives is checked: CR LF ended, not empty, no NUL or bare CR, at most
 * IRC_RAW_LINE_MAX bytes, accepted by ircmsg_parse. The first violation, or NULL. */
const char *inproc_error(const struct inproc *ip);
/* Prints every line sent ("i> ") and received ("i< ") to out (NULL: stop). With INPROC_TRACE
 * set in the environment (INPROC_TRACE=1), every server starts tracing to stderr. */
void inproc_trace(struct inproc *ip, FILE *out);

#endif
