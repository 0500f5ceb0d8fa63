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

/* Calls fn(c, arg, line, len) for each line of the held messages (len without CR LF). */
static void each_line(struct client *c, const struct sendq *q,
                      void (*fn)(struct client *c, void *arg, const char *line, size_t len),
                      void *arg)
{
    for (size_t i = 0; i < q->count; i++) {
        const struct msg *m = q->ring[(q->head + i) & (q->cap - 1)];
        const char *p = m->data, *end = m->data + m->len;
        while (p < end) {
            const char *eol = strstr(p, "\r\n");
            if (!eol || eol >= end)
                break;
            fn(c, arg, p, (size_t)(eol - p));
            p = eol + 2;
        }
    }
}

/* Whether a line is inside a batch of the reply (a draft/multiline echo): it carries a batch
 * tag, or it is a BATCH end. Such lines go with the BATCH start that opens them, which alone
 * is the reply's line (multiline: "the label tag on the opening BATCH command" only). */
static int nested(const char *line, size_t len)
{
    const char *p = line, *end = line + len;
    if (p < end && *p == '@') {
        const char *sp = memchr(p, ' ', len);
        if (!sp)
            return 0;
        for (const char *t = p + 1; t < sp; t++) {
            if ((t == p + 1 || t[-1] == ';') && (size_t)(sp - t) > 6 && memcmp(t, "batch=", 6) == 0)
                return 1;
        }
        p = sp + 1;
    }
    if (p < end && *p == ':') {
        const char *sp = memchr(p, ' ', (size_t)(end - p));
        if (!sp)
            return 0;
        p = sp + 1;
    }
    return (size_t)(end - p) > 7 && memcmp(p, "BATCH -", 7) == 0;
}

struct counts {
    size_t lines, top; /* lines, and those not nested in a batch of the reply */
};

static void count_line(struct client *c, void *arg, const char *line, size_t len)
{
    (void)c;
    struct counts *n = arg;
    n->lines++;
    n->top += !nested(line, len);
}

struct relabel {
    const char *tag; /* added to the lines of the reply (the label, or the batch's tag) */
    int all;         /* every such line (a labeled-response batch), else the first only */
    int done;
};

static void send_line_tagged(struct client *c, void *arg, const char *line, size_t len)
{
    struct relabel *r = arg;
    if (!nested(line, len) && (r->all || !r->done)) {
        send_tagged(c, r->tag, line, len);
        r->done = 1;
        return;
    }
    struct msgbuf b = {0};
    msgbuf_raw(&b, NULL, line, len);
    struct msg *m = msgbuf_finish(&b);
    conn_send(c, m);
    msg_unref(m);
}

void label_end(struct client *c, struct sendq *held, const char *label)
{
    c->held = NULL;
    const char *srvname = client_cfg(c)->server_name;
    char esc[LABEL_MAX * 2 + 1], tag[LABEL_MAX * 2 + 16];
    if (ircmsg_tag_escape(label, esc, sizeof esc) < 0)
        esc[0] = '\0';
    snprintf(tag, sizeof tag, "label=%s", esc);
    struct counts n = {0, 0};
    each_line(c, held, count_line, &n);
    int taken = c->label_taken;
    c->label_taken = 0;
    if (n.lines == 0 && taken) {
        /* answered later (CHATHISTORY), with the label on the answer */
    } else if (n.lines == 0) {
        char ack[IRC_LINE_MAX];
        snprintf(ack, sizeof ack, ":%s ACK", srvname);
        send_tagged(c, tag, ack, strlen(ack));
    } else {
        char batch[32] = "";
        if (n.top > 1) {
            /* The batch reference only has to be unique on this connection for a while. */
            snprintf(batch, sizeof batch, "L%llu", (unsigned long long)++c->batch_seq);
            char start[IRC_LINE_MAX];
            snprintf(start, sizeof start, ":%s BATCH +%s labeled-response", srvname, batch);
            send_tagged(c, tag, start, strlen(start));
            snprintf(tag, sizeof tag, "batch=%s", batch);
        }
        struct relabel r = {.tag = tag, .all = n.top > 1, .done = 0};
        each_line(c, held, send_line_tagged, &r);
        if (n.top > 1) {
            struct msg *stop = msg_printf(":%s BATCH -%s", srvname, batch);
            conn_send(c, stop);
            msg_unref(stop);
        }
    }
    sendq_free(held);
}
