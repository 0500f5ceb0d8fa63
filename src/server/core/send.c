/* send: replies for one client, formatted once and queued on its connection. */
#include "send.h"

#include <stdarg.h>
#include <stdio.h>

#include "client.h"
#include "common/ircmsg.h"
#include "conn.h"
#include "msg.h"

void send_msg(struct client *c, struct msg *m)
{
    conn_send(c, m);
}

void send_event(struct client *c, struct event *ev)
{
    conn_send_event(c, ev);
}

void send_line(struct client *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    struct msg *m = msg_vprintf(fmt, ap);
    va_end(ap);
    conn_send(c, m);
    msg_unref(m);
}

void send_server_line(struct client *c, const char *fmt, ...)
{
    char text[IRC_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    send_line(c, ":%s %s", client_cfg(c)->server_name, text);
}

static void standard_reply(struct client *c, const char *kind, const char *command,
                           const char *code, const char *context, const char *fmt, va_list ap)
    __attribute__((format(printf, 6, 0)));

static void standard_reply(struct client *c, const char *kind, const char *command,
                           const char *code, const char *context, const char *fmt, va_list ap)
{
    char text[IRC_LINE_MAX];
    vsnprintf(text, sizeof text, fmt, ap);
    send_line(c, "%s %s %s%s%s :%s", kind, command, code, context ? " " : "",
              context ? context : "", text);
}

void send_fail(struct client *c, const char *command, const char *code, const char *context,
               const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    standard_reply(c, "FAIL", command, code, context, fmt, ap);
    va_end(ap);
}

void send_warn(struct client *c, const char *command, const char *code, const char *context,
               const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    standard_reply(c, "WARN", command, code, context, fmt, ap);
    va_end(ap);
}

size_t send_numeric_head(const struct client *c, int numeric, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, ":%s %03d %s ", client_cfg(c)->server_name, numeric,
                     c->nick[0] ? c->nick : "*");
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

/* The numeric's line into line (IRC_LINE_MAX bytes): head, then the formatted text. */
static void numeric_line(const struct client *c, int numeric, char *line, const char *fmt,
                         va_list ap)
{
    size_t n = send_numeric_head(c, numeric, line, IRC_LINE_MAX);
    vsnprintf(line + n, IRC_LINE_MAX - n, fmt, ap);
}

void send_numeric(struct client *c, int numeric, const char *fmt, ...)
{
    char line[IRC_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    numeric_line(c, numeric, line, fmt, ap);
    va_end(ap);
    send_line(c, "%s", line);
}

void send_numeric_into(struct msgbuf *b, const struct client *c, int numeric, const char *fmt, ...)
{
    char line[IRC_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    numeric_line(c, numeric, line, fmt, ap);
    va_end(ap);
    msgbuf_line(b, "%s", line);
}
