/* label: labeled-response around one command's replies. */
#include "label.h"

#include <stdio.h>
#include <string.h>

#include "core/client.h"
#include "common/ircmsg.h"
#include "core/conn.h"
#include "core/msg.h"
#include "core/server.h"

void label_begin(struct client *c, struct sendq *held)
{
    sendq_init(held);
    c->held = held;
}

/* Sends line (len bytes, no CR LF) to c with tag added to its tags. */
static void send_tagged(struct client *c, const char *tag, const char *line, size_t len)
{
    struct msgbuf b = {0};
    if (line[0] == '@') /* merge into the existing tags */
        msgbuf_line(&b, "@%s;%.*s", tag, (int)len - 1, line + 1);
    else
        msgbuf_line(&b, "@%s %.*s", tag, (int)len, line);
    struct msg *m = msgbuf_finish(&b);
    conn_send(c, m);
    msg_unref(m);
}

/* How many lines the held messages add up to (one msg may carry several). */
static size_t count_lines(const struct sendq *q)
{
    size_t n = 0;
    for (size_t i = 0; i < q->count; i++) {
        const struct msg *m = q->ring[(q->head + i) & (q->cap - 1)];
        for (unsigned k = 0; k + 1 < m->len; k++)
            n += m->data[k] == '\r' && m->data[k + 1] == '\n';
    }
    return n;
}

void label_end(struct client *c, struct sendq *held, const char *label)
{
    c->held = NULL;
    const char *srvname = client_cfg(c)->server_name;
    char esc[LABEL_MAX * 2 + 1], tag[LABEL_MAX * 2 + 16];
    if (ircmsg_tag_escape(label, esc, sizeof esc) < 0)
        esc[0] = '\0';
    snprintf(tag, sizeof tag, "label=%s", esc);
    size_t lines = count_lines(held);
    int taken = c->label_taken;
    c->label_taken = 0;
    if (lines == 0 && taken) {
        /* answered later (CHATHISTORY), with the label on the answer */
    } else if (lines == 0) {
        char ack[IRC_LINE_MAX];
        snprintf(ack, sizeof ack, ":%s ACK", srvname);
        send_tagged(c, tag, ack, strlen(ack));
    } else {
        char batch[32] = "";
        if (lines > 1) {
            /* The batch reference only has to be unique on this connection for a while. */
            snprintf(batch, sizeof batch, "L%llu", (unsigned long long)++c->batch_seq);
            char start[IRC_LINE_MAX];
            snprintf(start, sizeof start, ":%s BATCH +%s labeled-response", srvname, batch);
            send_tagged(c, tag, start, strlen(start));
            snprintf(tag, sizeof tag, "batch=%s", batch);
        }
        for (size_t i = 0; i < held->count; i++) {
            const struct msg *m = held->ring[(held->head + i) & (held->cap - 1)];
            const char *p = m->data, *end = m->data + m->len;
            while (p < end) {
                const char *eol = strstr(p, "\r\n");
                if (!eol || eol >= end)
                    break;
                send_tagged(c, tag, p, (size_t)(eol - p));
                p = eol + 2;
            }
        }
        if (lines > 1) {
            struct msg *stop = msg_printf(":%s BATCH -%s", srvname, batch);
            conn_send(c, stop);
            msg_unref(stop);
        }
    }
    sendq_free(held);
}
