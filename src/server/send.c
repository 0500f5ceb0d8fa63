/* send: queue replies for a client. */
#include "send.h"

#include <stdarg.h>
#include <stdio.h>

#include "client.h"
#include "common/ircmsg.h"
#include "conn.h"
#include "msg.h"
#include "server.h"
#include "worker.h"

void send_msg(struct client *c, struct msg *m)
{
    conn_send(c, m);
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

void send_numeric(struct client *c, int numeric, const char *fmt, ...)
{
    char text[IRC_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    send_line(c, ":%s %03d %s %s", c->w->srv->cfg.server_name, numeric, c->nick[0] ? c->nick : "*",
              text);
}
