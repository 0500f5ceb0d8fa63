/* send: the one output API of the command layer (Solanum's send.c): commands queue replies
 * through these and never format wire bytes by hand or touch a socket. */
#ifndef TCPCHAT_SEND_H
#define TCPCHAT_SEND_H

struct client;
struct msg;

/* ":server NNN nick <text>" to c ("*" for the nick before NICK). */
void send_numeric(struct client *c, int numeric, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Any line to c. */
void send_line(struct client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A prepared message to c (c's queue takes its own reference). */
void send_msg(struct client *c, struct msg *m);

#endif
