/* cmd_history: CHATHISTORY (IRCv3 draft/chathistory). The worker checks the request and the
 * client's right to the target here; the history writer answers it from the store, in a
 * chathistory batch, after every message queued before it is stored. And MARKREAD (IRCv3
 * draft/read-marker), the last-read times of a user's history (store/readmark.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/caps.h"
#include "core/event.h"
#include "core/fanout.h"
#include "state/chan.h"
#include "store/readmark.h"
#include "state/chan-t.h"
#include "state/nick.h"
#include "common/utf8.h"
#include "core/client.h"
#include "cmd.h"
#include "store/history.h"
#include "core/numerics.h"
#include "core/send.h"
#include "core/server.h"
#include "core/worker.h"
#include "label.h"

static const struct {
    const char *name;
    enum hist_op op;
    int nrefs; /* references before the limit */
} subcommands[] = {
    {"LATEST", HOP_LATEST, 1}, {"BEFORE", HOP_BEFORE, 1},   {"AFTER", HOP_AFTER, 1},
    {"AROUND", HOP_AROUND, 1}, {"BETWEEN", HOP_BETWEEN, 2}, {"TARGETS", HOP_TARGETS, 2},
};

static void fail(struct client *c, const char *code, const char *context, const char *text)
{
    send_fail(c, "CHATHISTORY", code, context, "%s", text);
}

/* The reply for a target one may not read, the same whether it exists or not. */
static void invalid_target(struct client *c, const char *sub, const char *target)
{
    char context[IRC_LINE_MAX];
    snprintf(context, sizeof context, "%s %s", sub, target);
    fail(c, "INVALID_TARGET", context, "Messages could not be retrieved");
}

void cmd_chathistory(struct client *c, struct ircmsg *m)
{
    struct server *srv = client_srv(c);
    if (!srv->hist) {
        send_reply(c, ERR_UNKNOWNCOMMAND_OFF, "CHATHISTORY");
        return;
    }
    if (m->nparams < 1) {
        fail(c, "NEED_MORE_PARAMS", "*", "Missing parameters");
        return;
    }
    const char *sub = m->params[0];
    int k = -1;
    for (int i = 0; i < (int)(sizeof subcommands / sizeof subcommands[0]); i++) {
        if (strcasecmp(sub, subcommands[i].name) == 0)
            k = i;
    }
    if (k < 0) {
        fail(c, "INVALID_PARAMS", sub, "Unknown subcommand");
        return;
    }
    struct hist_query *q = calloc(1, sizeof *q);
    if (!q)
        return;
    q->op = subcommands[k].op;
    int targets = q->op == HOP_TARGETS;
    int nrefs = subcommands[k].nrefs;
    /* sub, [target], refs, limit */
    int need = 1 + !targets + nrefs + 1;
    if (m->nparams < need) {
        fail(c, "NEED_MORE_PARAMS", subcommands[k].name, "Missing parameters");
        free(q);
        return;
    }
    const char *target = targets ? NULL : m->params[1];
    char **refs = &m->params[targets ? 1 : 2];
    char *end;
    long limit = strtol(m->params[need - 1], &end, 10);
    if (*end || end == m->params[need - 1] || limit < 1) {
        fail(c, "INVALID_PARAMS", subcommands[k].name, "Invalid limit");
        free(q);
        return;
    }
    struct hist_ref *r[2] = {&q->a, &q->b};
    for (int i = 0; i < nrefs; i++) {
        int star = q->op == HOP_LATEST;
        if (history_parse_ref(refs[i], star, r[i]) < 0 || (targets && r[i]->kind != HREF_TIME)) {
            fail(c, "INVALID_PARAMS", subcommands[k].name, "Invalid message reference");
            free(q);
            return;
        }
    }
    q->limit = limit > HISTORY_QUERY_MAX ? HISTORY_QUERY_MAX : (int)limit;
    q->worker = c->w->index;
    q->client = c->id;
    q->caps = c->caps;
    if (targets) {
        for (int i = 0; i < c->nchans && i < CHANNELS_PER_USER; i++)
            ircname_fold(chan_name(c->chans[i]), q->targets[q->ntargets++], IRC_CHANNEL_MAX + 1);
        if (c->account[0]) /* and its private conversations, known by its account */
            ircname_fold(c->account, q->account, sizeof q->account);
    } else if (ircname_is_channel(target)) {
        /* Members only: the history of a channel one is not in is nobody's business, and
         * saying so must not reveal whether it exists. */
        if (chan_find_joined(c, target) < 0) {
            invalid_target(c, subcommands[k].name, target);
            free(q);
            return;
        }
        snprintf(q->target, sizeof q->target, "%s", target);
        ircname_fold(target, q->key, sizeof q->key);
    } else if (ircname_nick_valid(
                   target)) { /* A private conversation: shown only to its two parties, known by
                               * their accounts (an account is named after its nick); someone not
                               * logged in gets an empty batch. */
        snprintf(q->target, sizeof q->target, "%s", target);
        if (c->account[0]) {
            ircname_fold(c->account, q->account, sizeof q->account);
            ircname_fold(target, q->peer, sizeof q->peer);
        }
    } else {
        invalid_target(c, subcommands[k].name, target);
        free(q);
        return;
    }
    if (c->label) {
        if (ircmsg_tag_escape(c->label, q->label, sizeof q->label) < 0)
            q->label[0] = '\0';
        c->label_taken = 1; /* the writer's batch carries the label, not an ACK from us */
    }
    history_query(srv, q);
    free(q);
}

/* MARKREAD (IRCv3 draft/read-marker): "MARKREAD <target>" asks for the last-read time of a
 * channel or conversation, "MARKREAD <target> timestamp=<time>" sets it; either way the
 * answer is ":server MARKREAD <target> <timestamp=...|*>". A time only grows: an older one
 * is answered with the one kept ("the server SHOULD reply with [...] the newer, previous
 * value"), and one in the future is taken as now. Kept per account (readmark.h), and sent
 * to the account's other connections with the capability when it changes; a connection not
 * logged in has markers of its own while it lasts. */
void cmd_markread(struct client *c, struct ircmsg *m)
{
    struct server *srv = client_srv(c);
    if (m->nparams < 1) {
        send_fail(c, "MARKREAD", "NEED_MORE_PARAMS", NULL, "Missing parameters");
        return;
    }
    const char *target = m->params[0];
    char key[IRC_CHANNEL_MAX + 1], owner[IRC_NICK_MAX + 1], ts[48];
    if (!ircname_is_channel(target) && !ircname_nick_valid(target)) {
        send_fail(c, "MARKREAD", "INVALID_PARAMS", target, "Invalid target");
        return;
    }
    ircname_fold(target, key, sizeof key);
    readmark_owner(c, owner, sizeof owner);
    if (c->account[0] && (c->caps & CAP_READ_MARKER))
        readmark_attach(owner, c->w->index, c->id);
    if (m->nparams < 2) {
        readmark_format(readmark_get(owner, key), ts, sizeof ts);
        send_server_line(c, "MARKREAD %s %s", target, ts);
        return;
    }
    struct hist_ref ref;
    if (history_parse_ref(m->params[1], 0, &ref) < 0 || ref.kind != HREF_TIME) {
        send_fail(c, "MARKREAD", "INVALID_PARAMS", m->params[1], "Invalid timestamp");
        return;
    }
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    long long now = (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
    long long ms = ref.ms > now ? now : ref.ms;
    int changed = 0;
    long long kept = readmark_set(srv, owner, key, ms, &changed);
    if (kept < 0) {
        send_fail(c, "MARKREAD", "INTERNAL_ERROR", target, "The read timestamp could not be set");
        return;
    }
    readmark_format(kept, ts, sizeof ts);
    send_server_line(c, "MARKREAD %s %s", target, ts);
    if (!changed || !c->account[0])
        return;
    /* The account's other connections: the line through their workers. */
    struct readmark_session sess[READMARK_SESSIONS_MAX];
    int n = readmark_sessions(owner, sess, READMARK_SESSIONS_MAX);
    struct event *ev =
        n > 1 ? event_new(NULL, ":%s MARKREAD %s %s", client_cfg(c)->server_name, target, ts)
              : NULL;
    if (!ev)
        return;
    ev->need_cap = CAP_READ_MARKER;
    for (int i = 0; i < n; i++) {
        if (sess[i].id != c->id)
            fanout_to_client(srv, sess[i].worker, sess[i].id, ev);
    }
    event_unref(ev);
}

/* The outcome of a REDACT for its asker, and for the others when it was done. */
static void redact_answer(struct client *c, int result, const char *target, const char *msgid,
                          const char *reason)
{
    struct server *srv = client_srv(c);
    char context[IRC_LINE_MAX];
    snprintf(context, sizeof context, "%s %s", target, msgid);
    if (result == HREDACT_FORBIDDEN) {
        send_fail(c, "REDACT", "REDACT_FORBIDDEN", context,
                  "You are not authorised to delete this message");
        return;
    }
    if (result != HREDACT_DONE) {
        send_fail(c, "REDACT", "UNKNOWN_MSGID", context,
                  "This message does not exist or is too old");
        return;
    }
    struct event *ev =
        reason[0] ? event_new(NULL, ":%s REDACT %s %s :%s", c->source, target, msgid, reason)
                  : event_new(NULL, ":%s REDACT %s %s", c->source, target, msgid);
    if (!ev)
        return;
    ev->need_cap = CAP_MESSAGE_REDACTION;
    if (ircname_is_channel(target)) {
        struct chan *ch = chan_lock_name(srv, target);
        if (ch) {
            chan_post(srv, ch, ev, c->id); /* the asker's copy is its answer, below */
            chan_unlock(ch);
        }
    } else {
        struct nick_info peer;
        if (nick_info(srv, target, &peer) == 0 && peer.id != c->id)
            fanout_to_client(srv, peer.worker, peer.id, ev);
    }
    send_event(c, ev);
    event_unref(ev);
}

/* The writer's word on a REDACT (history_redact): text is "<target> <msgid>\x01<label>\x01
 * <reason>" (a label and a reason may be empty; a label holds no control character, cmd.c
 * refuses those). Done, ":source REDACT <target> <msgid> [:<reason>]" goes to whoever has
 * draft/message-redaction among the channel's members, or the two parties of the
 * conversation ("in the same way as PRIVMSG messages"); clients without it get nothing
 * ("MUST not forward"). The asker's answer (its REDACT or a FAIL) carries its label. */
static void redact_done(struct client *c, int op, int result, const char *text)
{
    (void)op;
    char target[IRC_CHANNEL_MAX + 1], msgid[EVENT_MSGID_MAX], label[LABEL_MAX + 1];
    const char *sp = strchr(text, ' '), *l = sp ? strchr(sp, '\x01') : NULL;
    const char *r = l ? strchr(l + 1, '\x01') : NULL;
    if (!r)
        return;
    snprintf(target, sizeof target, "%.*s", (int)(sp - text), text);
    snprintf(msgid, sizeof msgid, "%.*s", (int)(l - sp - 1), sp + 1);
    snprintf(label, sizeof label, "%.*s", (int)(r - l - 1), l + 1);
    if (!label[0] || !(c->caps & CAP_LABELED_RESPONSE)) {
        redact_answer(c, result, target, msgid, r + 1);
        return;
    }
    struct sendq held;
    label_begin(c, &held);
    redact_answer(c, result, target, msgid, r + 1);
    label_end(c, &held, label);
}

/* REDACT <target> <msgid> [:<reason>] (IRCv3 draft/message-redaction). The worker checks what
 * it knows (the capability, a channel one is in and whether one is its operator now); the
 * history writer, which knows who sent the message, checks the rest and deletes it from the
 * history (redact_done tells the outcome). Only for messages still in the store. */
void cmd_redact(struct client *c, struct ircmsg *m)
{
    struct server *srv = client_srv(c);
    if (!srv->hist) {
        send_reply(c, ERR_UNKNOWNCOMMAND_OFF, "REDACT");
        return;
    }
    const char *target = m->params[0], *msgid = m->params[1];
    char context[IRC_LINE_MAX];
    snprintf(context, sizeof context, "%s %s", target, msgid);
    if (!(c->caps & CAP_MESSAGE_REDACTION)) {
        /* "To redact a message, a client MUST negotiate the draft/message-redaction
         * capability." */
        send_fail(c, "REDACT", "REDACT_FORBIDDEN", context,
                  "You must negotiate draft/message-redaction to delete messages");
        return;
    }
    struct hist_redact r = {.worker = c->w->index, .client = c->id, .done = redact_done};
    if (strlen(msgid) >= sizeof r.msgid || strchr(msgid, ' ')) {
        send_fail(c, "REDACT", "UNKNOWN_MSGID", context,
                  "This message does not exist or is too old");
        return;
    }
    snprintf(r.target, sizeof r.target, "%s", target);
    snprintf(r.msgid, sizeof r.msgid, "%s", msgid);
    if (m->nparams > 2)
        utf8_copy(r.reason, m->params[2], REDACT_REASON_MAX);
    if (c->label) { /* the answer comes later, from redact_done, with the label: no ACK now */
        snprintf(r.label, sizeof r.label, "%s", c->label);
        c->label_taken = 1;
    }
    ircname_fold(c->nick, r.nick, sizeof r.nick);
    if (c->account[0])
        ircname_fold(c->account, r.account, sizeof r.account);
    if (ircname_is_channel(target)) {
        /* Members only, and the same answer whether the channel exists or not. */
        struct chan *ch = chan_find_joined(c, target) >= 0 ? chan_lock_name(srv, target) : NULL;
        struct member *me = ch ? chan_member(ch, c->id) : NULL;
        r.any = me && me->op;
        if (ch)
            chan_unlock(ch);
        if (!me) {
            send_fail(c, "REDACT", "REDACT_FORBIDDEN", context,
                      "You are not authorised to delete this message");
            return;
        }
        ircname_fold(target, r.key, sizeof r.key);
    } else if (ircname_nick_valid(target)) {
        ircname_fold(target, r.peer, sizeof r.peer);
    } else {
        send_fail(c, "REDACT", "UNKNOWN_MSGID", context,
                  "This message does not exist or is too old");
        return;
    }
    history_redact(srv, &r);
}
