/* cmd_batch: a client's draft/multiline BATCH (IRCv3 multiline, work in progress, hence the
 * draft/ names). "BATCH +ref draft/multiline <target>" opens it, PRIVMSG or NOTICE lines
 * tagged batch=ref fill it, "BATCH -ref" closes it; then it is relayed as one message
 * (event_new_multiline): a BATCH to recipients with the capability, its lines to the others. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "common/ircname.h"
#include "core/caps.h"
#include "core/client.h"
#include "core/event.h"
#include "core/send.h"
#include "core/server.h"
#include "label.h"

#define STANDARD_TEXT_MAX 100 /* a FAIL's text, kept until the batch closes */

/* An open batch: the client's own (client.h), on its worker. Flat, so that the connection
 * layer frees it with free(). Its lines count against MULTILINE_MAX_BYTES and _LINES while
 * they come, so an unterminated batch holds no more than a finished one. */
struct mlbatch {
    char ref[BATCH_REF_MAX + 1];
    /* A second batch refused while this one is open: its lines and end are dropped quietly
     * (its start was answered). */
    char refused[BATCH_REF_MAX + 1];
    char target[IRC_LINE_MAX];
    char verb[8];                   /* PRIVMSG or NOTICE, as the first line said; "" before it */
    char label[LABEL_MAX + 1];      /* the BATCH start's label: the answer at its end carries it */
    char tags[CLIENT_TAGS_MAX + 1]; /* the BATCH start's client-only tags: the message's */
    /* The first error. The lines are dropped from then on; the FAIL is the batch's answer,
     * sent when it ends (with its label). */
    int failed;
    char fail_code[32];
    char fail_context[2 * IRC_LINE_MAX];
    char fail_text[STANDARD_TEXT_MAX];
    int n;        /* lines */
    size_t bytes; /* as max-bytes counts: the text and a line feed before each line not
                     concatenated to the one before */
    size_t used;  /* bytes of text[] */
    unsigned short off[MULTILINE_MAX_LINES];
    int concat[MULTILINE_MAX_LINES];
    char text[MULTILINE_MAX_BYTES + MULTILINE_MAX_LINES]; /* each line with its NUL */
};

static void fail(struct mlbatch *ml, const char *code, const char *context, const char *text)
{
    if (ml->failed)
        return;
    ml->failed = 1;
    ml->n = 0;
    ml->used = ml->bytes = 0;
    snprintf(ml->fail_code, sizeof ml->fail_code, "%s", code);
    snprintf(ml->fail_context, sizeof ml->fail_context, "%s", context ? context : "");
    snprintf(ml->fail_text, sizeof ml->fail_text, "%s", text);
}

static void invalid(struct client *c, const char *text)
{
    send_fail(c, "BATCH", "MULTILINE_INVALID", NULL, "%s", text);
}

static void open_batch(struct client *c, struct ircmsg *m, const char *ref)
{
    const char *type = m->nparams > 1 ? m->params[1] : "";
    const char *target = m->nparams > 2 ? m->params[2] : "";
    if (!(c->caps & CAP_BATCH) || !(c->caps & CAP_MULTILINE)) {
        invalid(c, "A multiline batch needs the batch and draft/multiline capabilities");
        return;
    }
    if (strcmp(type, "draft/multiline") != 0) {
        invalid(c, "The only batch a client may send is draft/multiline");
        return;
    }
    if (!ref[0] || strlen(ref) > BATCH_REF_MAX) {
        invalid(c, "Invalid batch reference");
        return;
    }
    if (c->ml) {
        snprintf(c->ml->refused, sizeof c->ml->refused, "%s", ref);
        invalid(c, "A multiline batch is already open; this one is refused");
        return;
    }
    if (!target[0] || strchr(target, ',')) {
        invalid(c, "A multiline batch has one target");
        return;
    }
    struct mlbatch *ml = calloc(1, sizeof *ml);
    if (!ml) {
        invalid(c, "The server is out of memory");
        return;
    }
    int tags_ok = cmd_client_tags(m->tags, ml->tags, sizeof ml->tags);
    if (tags_ok < 0) {
        free(ml);
        invalid(c, tags_ok == -2 ? "Tag values may not hold control characters"
                                 : "The batch's tags are too long");
        return;
    }
    snprintf(ml->ref, sizeof ml->ref, "%s", ref);
    snprintf(ml->target, sizeof ml->target, "%s", target);
    if (c->label) {
        /* Answered when the batch ends (its echo or its FAIL), not with an ACK now. */
        snprintf(ml->label, sizeof ml->label, "%s", c->label);
        c->label_taken = 1;
    }
    c->ml = ml;
}

/* The batch is complete: relay it, or say why not. */
static void finish(struct client *c, struct mlbatch *ml)
{
    if (ml->failed) {
        send_fail(c, "BATCH", ml->fail_code, ml->fail_context[0] ? ml->fail_context : NULL, "%s",
                  ml->fail_text);
        return;
    }
    const char *texts[MULTILINE_MAX_LINES];
    int blank = 1;
    for (int i = 0; i < ml->n; i++) {
        texts[i] = ml->text + ml->off[i];
        blank = blank && texts[i][0] == '\0';
    }
    if (blank) { /* no lines, or blank ones only: "Clients MUST NOT send" either */
        invalid(c, "A multiline message needs a line that is not blank");
        return;
    }
    struct event *ev = event_new_multiline(ml->tags, c->account, c->bot, c->source, ml->verb,
                                           ml->target, ml->n, texts, ml->concat);
    if (!ev) {
        invalid(c, "The server is out of memory");
        return;
    }
    cmd_msg_relay(c, ml->verb, ml->target, ev);
    event_unref(ev);
}

static void close_batch(struct client *c, const char *ref)
{
    struct mlbatch *ml = c->ml;
    if (ml && ml->refused[0] && strcmp(ml->refused, ref) == 0) {
        ml->refused[0] = '\0'; /* the refused batch's end: it was answered at its start */
        return;
    }
    if (!ml || strcmp(ml->ref, ref) != 0) {
        invalid(c, "No such batch is open");
        return;
    }
    c->ml = NULL;
    if (ml->label[0] && !c->label) {
        /* The start was labeled: the answer carries its label, as a labeled command's. */
        struct sendq held;
        label_begin(c, &held);
        c->label = ml->label;
        finish(c, ml);
        c->label = NULL;
        label_end(c, &held, ml->label);
    } else {
        finish(c, ml);
    }
    free(ml);
}

void cmd_batch(struct client *c, struct ircmsg *m)
{
    const char *ref = m->params[0];
    if (ref[0] == '+')
        open_batch(c, m, ref + 1);
    else if (ref[0] == '-')
        close_batch(c, ref + 1);
    else
        invalid(c, "Invalid batch reference");
}

void cmd_batch_line(struct client *c, struct ircmsg *m, const char *ref)
{
    struct mlbatch *ml = c->ml;
    if (ml && ml->refused[0] && strcmp(ref, ml->refused) == 0)
        return;
    if (!ml || strcmp(ref, ml->ref) != 0) {
        invalid(c, "No such batch is open; the line is dropped");
        return;
    }
    if (ml->failed)
        return;
    const char *verb = ircmsg_is(m, "PRIVMSG") ? "PRIVMSG" : ircmsg_is(m, "NOTICE") ? "NOTICE" : "";
    if (!verb[0]) {
        fail(ml, "MULTILINE_INVALID", NULL, "A multiline batch holds PRIVMSG or NOTICE lines only");
        return;
    }
    if (ml->verb[0] && strcmp(ml->verb, verb) != 0) {
        fail(ml, "MULTILINE_INVALID", NULL, "Every line of a multiline batch has one command");
        return;
    }
    snprintf(ml->verb, sizeof ml->verb, "%s", verb);
    const char *target = m->nparams > 0 ? m->params[0] : "";
    if (ircname_cmp(target, ml->target) != 0) {
        char context[2 * IRC_LINE_MAX];
        snprintf(context, sizeof context, "%s %s", ml->target, target[0] ? target : "*");
        fail(ml, "MULTILINE_INVALID_TARGET", context, "Invalid multiline target");
        return;
    }
    const char *text = m->nparams > 1 ? m->params[1] : "";
    char value[2];
    int concat =
        m->tags != NULL && ircmsg_tag_get(m->tags, "draft/multiline-concat", value, sizeof value);
    if (concat && !text[0]) {
        fail(ml, "MULTILINE_INVALID", NULL, "A blank line cannot carry draft/multiline-concat");
        return;
    }
    char limit[16];
    if (ml->n >= MULTILINE_MAX_LINES) {
        snprintf(limit, sizeof limit, "%d", MULTILINE_MAX_LINES);
        fail(ml, "MULTILINE_MAX_LINES", limit, "Multiline batch max-lines exceeded");
        return;
    }
    size_t len = strlen(text), add = len + (ml->n > 0 && !concat);
    if (ml->bytes + add > MULTILINE_MAX_BYTES) {
        snprintf(limit, sizeof limit, "%d", MULTILINE_MAX_BYTES);
        fail(ml, "MULTILINE_MAX_BYTES", limit, "Multiline batch max-bytes exceeded");
        return;
    }
    ml->off[ml->n] = (unsigned short)ml->used;
    memcpy(ml->text + ml->used, text, len + 1);
    ml->used += len + 1;
    ml->concat[ml->n] = concat;
    ml->bytes += add;
    ml->n++;
}
