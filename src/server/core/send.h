/* send: the output API of the command layer toward one client (Solanum's send.c): every reply
 * is queued through these, so no command formats a numeric's prefix by hand or touches a
 * socket. Numerics and their texts are in numerics.h; lines to many clients (a channel, its
 * ops, everyone) go through fanout.h. All of these run on the client's worker. */
#ifndef TCPCHAT_SEND_H
#define TCPCHAT_SEND_H

#include <stddef.h>

#include "numerics.h"

struct client;
struct event;
struct msg;
struct msgbuf;

/* One numeric of the table to c: send_reply(c, ERR_NOSUCHCHANNEL, name) sends
 * ":server 403 nick name :No such channel" ("*" for the nick before NICK). */
/* "s" unless n is 1: "1 user", "2 users", "0 users". */
#define PLURAL(n)                ((n) == 1 ? "" : "s")
#define send_reply(c, NAME, ...) send_numeric((c), NAME, ##__VA_ARGS__)
/* The same line appended to b, for replies gathered into one msg (JOIN's topic and NAMES). */
#define send_reply_into(b, c, NAME, ...) send_numeric_into((b), (c), NAME, ##__VA_ARGS__)

/* A numeric chosen at run time (an error passed on as a value), with its text's format. */
void send_numeric(struct client *c, int numeric, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void send_numeric_into(struct msgbuf *b, const struct client *c, int numeric, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Writes ":server NNN nick " into buf (cap bytes) and returns its length, for a numeric whose
 * text is assembled by hand on a hot path (NAMES). */
size_t send_numeric_head(const struct client *c, int numeric, char *buf, size_t cap);
/* Any line to c. */
void send_line(struct client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A line from the server to c: ":server " and the rest (PONG, CAP, NOTICE). */
void send_server_line(struct client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An IRCv3 standard reply: "FAIL command code [context] :text". context may be NULL. */
void send_fail(struct client *c, const char *command, const char *code, const char *context,
               const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The same with WARN: "WARN command code [context] :text". */
void send_warn(struct client *c, const char *command, const char *code, const char *context,
               const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* A prepared message to c (c's queue takes its own reference). */
void send_msg(struct client *c, struct msg *m);
/* A relayed event to c, rendered for c's capabilities (nothing if it needs one c lacks). */
void send_event(struct client *c, struct event *ev);

#endif
