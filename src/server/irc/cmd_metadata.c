/* cmd_metadata: METADATA, IRCv3 draft/metadata-2 (ircv3-specifications extensions/metadata.md,
 * the draft as published at ircv3.net/specs/extensions/metadata; docs/server-behaviour.md
 * says which revision and what of it is here). Pairs on oneself and on channels one is an
 * operator of; subscriptions per connection; notifications to those who share a channel with
 * the user, or are in the channel, and subscribed to the key. Single node only: a cluster
 * does not offer the capability (caps.c), and the command then answers as for an unknown
 * one. */
#include "cmd.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/ircname.h"
#include "common/utf8.h"
#include "core/caps.h"
#include "core/client.h"
#include "core/event.h"
#include "core/fanout.h"
#include "core/send.h"
#include "core/server.h"
#include "state/chan-t.h"
#include "state/chan.h"
#include "state/metadata.h"
#include "state/nick.h"

/* A client's subscriptions, in the order made (client.h: c->md_subs, its worker's only). */
struct md_subs {
    int n;
    char keys[METADATA_SUBS_MAX][METADATA_KEY_MAX + 1];
};

static int subscribed(const struct client *c, const char *key)
{
    for (int i = 0; c->md_subs && i < c->md_subs->n; i++) {
        if (strcmp(c->md_subs->keys[i], key) == 0)
            return 1;
    }
    return 0;
}

/* What a METADATA command is about. */
struct target {
    enum { T_SELF, T_USER, T_CHAN } kind;
    char name[IRC_CHANNEL_MAX + 1]; /* as it is shown: the nick, or the channel's name */
    uint64_t id;                    /* T_SELF, T_USER: the client id */
};

/* --- output: batches and lines in them ----------------------------------------------------- */

/* An open batch of one reply: ref "" when c did not negotiate batch (the lines go bare). */
struct batch {
    char ref[24];
};

static void batch_open(struct client *c, struct batch *b, const char *type, const char *param)
{
    b->ref[0] = '\0';
    if (!(c->caps & CAP_BATCH))
        return;
    snprintf(b->ref, sizeof b->ref, "md%llu", (unsigned long long)++c->batch_seq);
    send_server_line(c, "BATCH +%s %s%s%s", b->ref, type, param ? " " : "", param ? param : "");
}

static void batch_close(struct client *c, const struct batch *b)
{
    if (b->ref[0])
        send_server_line(c, "BATCH -%s", b->ref);
}

/* A line in batch b: the batch tag, then text. */
static void batch_line(struct client *c, const struct batch *b, const char *text)
{
    if (b && b->ref[0])
        send_line(c, "@batch=%s %s", b->ref, text);
    else
        send_line(c, "%s", text);
}

/* Numeric number with its format, into batch b (NULL: none). */
static void md_numeric(struct client *c, const struct batch *b, int number, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void md_numeric(struct client *c, const struct batch *b, int number, const char *fmt, ...)
{
    char line[IRC_LINE_MAX];
    size_t n = send_numeric_head(c, number, line, sizeof line);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - n, fmt, ap);
    va_end(ap);
    batch_line(c, b, line);
}
#define md_reply(c, b, NAME, ...) md_numeric((c), (b), NAME, ##__VA_ARGS__)

/* FAIL METADATA code context :text, into batch b (NULL: none). */
static void md_fail(struct client *c, const struct batch *b, const char *code, const char *context,
                    const char *text)
{
    char line[IRC_LINE_MAX];
    snprintf(line, sizeof line, "FAIL METADATA %s%s%s :%s", code, context ? " " : "",
             context ? context : "", text);
    batch_line(c, b, line);
}

/* ":server METADATA target key * :value" into batch b: a value as SYNC and JOIN send it. */
static void md_message(struct client *c, const struct batch *b, const char *target, const char *key,
                       const char *value)
{
    char line[IRC_LINE_MAX];
    snprintf(line, sizeof line, ":%s METADATA %s %s * :%s", client_cfg(c)->server_name, target, key,
             value);
    batch_line(c, b, line);
}

/* --- notifications ------------------------------------------------------------------------- */

/* On each recipient's worker (chan_peers_each, fanout_peers_each): the change goes to those
 * who negotiated the capability and subscribed to the key. */
static void notify_member(struct client *m, uint64_t chan, struct event *ev, const char *key)
{
    (void)chan;
    if ((m->caps & CAP_METADATA) && !m->dead && key && subscribed(m, key))
        send_event(m, ev);
}

/* The METADATA line of a change by c: target's key is now value (NULL: deleted). */
static struct event *change_event(struct client *c, const char *target, const char *key,
                                  const char *value)
{
    struct event *ev =
        value ? event_new(NULL, ":%s METADATA %s %s * :%s", c->source, target, key, value)
              : event_new(NULL, ":%s METADATA %s %s *", c->source, target, key);
    if (ev)
        ev->need_cap = CAP_METADATA;
    return ev;
}

/* c's own key changed: everyone sharing a channel with c hears of it (the draft: "all users
 * sharing a channel with that user"), c excepted (it had the reply). */
static void notify_user(struct client *c, const char *key, const char *value)
{
    struct event *ev = change_event(c, c->nick, key, value);
    if (!ev)
        return;
    chan_peers_each(c, notify_member, ev, key);
    event_unref(ev);
}

/* Channel ch (locked) changed: its members hear of it, c excepted. */
static void notify_chan(struct client *c, struct chan *ch, const char *key, const char *value)
{
    struct event *ev = change_event(c, chan_name(ch), key, value);
    if (!ev)
        return;
    struct server *srv = client_srv(c);
    bool workers[WORKERS_MAX];
    for (int w = 0; w < srv->nworkers; w++)
        workers[w] = ch->wcount[w] > 0;
    struct fanout_span s = {.ids = &ch->id, .n = 1, .workers = workers};
    fanout_peers_each(srv, &s, notify_member, ev, key, c->id);
    event_unref(ev);
}

/* FAIL METADATA KEY_NO_PERMISSION target key. */
static void no_permission(struct client *c, const char *target, const char *key)
{
    char context[IRC_CHANNEL_MAX + METADATA_KEY_MAX + 2];
    snprintf(context, sizeof context, "%s %s", target, key);
    md_fail(c, NULL, "KEY_NO_PERMISSION", context, "permission denied");
}

/* --- targets ------------------------------------------------------------------------------- */

/* Resolves name ("*" is c itself): 0, or -1 after FAIL INVALID_TARGET. */
static int resolve(struct client *c, const char *name, struct target *t)
{
    memset(t, 0, sizeof *t);
    if (strcmp(name, "*") == 0 || ircname_cmp(name, c->nick) == 0) {
        t->kind = T_SELF;
        t->id = c->id;
        snprintf(t->name, sizeof t->name, "%s", c->nick);
        return 0;
    }
    if (ircname_is_channel(name)) {
        struct chan *ch = chan_lock_name(client_srv(c), name);
        if (ch) {
            t->kind = T_CHAN;
            snprintf(t->name, sizeof t->name, "%s", chan_name(ch));
            chan_unlock(ch);
            return 0;
        }
    } else {
        struct nick_info info;
        if (nick_info(client_srv(c), name, &info) == 0 && info.registered) {
            t->kind = T_USER;
            t->id = info.id;
            snprintf(t->name, sizeof t->name, "%s", info.nick);
            return 0;
        }
    }
    md_fail(c, NULL, "INVALID_TARGET", name, "invalid metadata target");
    return -1;
}

/* A copy of what c may read of t's pairs, into *md (NULL: none): 0, or -1 after a FAIL (a
 * channel c is not in: KEY_NO_PERMISSION, as Ergo does; its pairs are its members'). */
static int readable(struct client *c, const struct target *t, struct metadata **md)
{
    *md = NULL;
    if (t->kind != T_CHAN) {
        *md = metadata_user_copy(t->id);
        return 0;
    }
    struct chan *ch = chan_lock_name(client_srv(c), t->name);
    int ok = ch && chan_member(ch, c->id);
    if (ok)
        *md = metadata_copy(ch->meta, NULL);
    if (ch)
        chan_unlock(ch);
    if (!ok) {
        no_permission(c, t->name, "*");
        return -1;
    }
    return 0;
}

/* --- the subcommands ----------------------------------------------------------------------- */

static void md_get(struct client *c, const struct target *t, struct ircmsg *m)
{
    if (m->nparams < 3) {
        send_reply(c, ERR_NEEDMOREPARAMS, "METADATA");
        return;
    }
    struct metadata *md;
    if (readable(c, t, &md) < 0)
        return;
    struct batch b;
    batch_open(c, &b, "metadata", t->name);
    for (int i = 2; i < m->nparams; i++) {
        const char *key = m->params[i];
        const char *value = metadata_key_valid(key) ? metadata_get(md, key) : NULL;
        if (!metadata_key_valid(key))
            md_fail(c, &b, "KEY_INVALID", key, "invalid key");
        else if (value)
            md_reply(c, &b, RPL_KEYVALUE, t->name, key, value);
        else
            md_reply(c, &b, RPL_KEYNOTSET, t->name, key);
    }
    batch_close(c, &b);
    metadata_free(md);
}

static void md_list(struct client *c, const struct target *t)
{
    struct metadata *md;
    if (readable(c, t, &md) < 0)
        return;
    struct batch b;
    batch_open(c, &b, "metadata", t->name);
    for (int i = 0; i < metadata_count(md); i++)
        md_reply(c, &b, RPL_KEYVALUE, t->name, metadata_key(md, i), metadata_value(md, i));
    batch_close(c, &b);
    metadata_free(md);
}

/* The channel t, locked, if c is one of its operators; else NULL after KEY_NO_PERMISSION
 * (key: the key, or "*" for CLEAR). */
static struct chan *lock_as_op(struct client *c, const struct target *t, const char *key)
{
    struct chan *ch = chan_lock_name(client_srv(c), t->name);
    struct member *me = ch ? chan_member(ch, c->id) : NULL;
    if (me && me->op)
        return ch;
    if (ch)
        chan_unlock(ch);
    no_permission(c, t->name, key);
    return NULL;
}

/* The answer to a SET of t's key that did r (MD_*). */
static void set_result(struct client *c, const struct target *t, const char *key, const char *value,
                       int r)
{
    char context[IRC_CHANNEL_MAX + METADATA_KEY_MAX + 2];
    snprintf(context, sizeof context, "%s %s", t->name, key);
    if (r == MD_LIMIT)
        md_fail(c, NULL, "LIMIT_REACHED", t->name, "metadata limit reached");
    else if (r == MD_NOT_SET)
        md_fail(c, NULL, "KEY_NOT_SET", context, "key not set");
    else if (r == MD_NO_MEMORY)
        send_reply(c, ERR_UNKNOWNERROR, "METADATA", "Out of memory");
    else if (value)
        md_reply(c, NULL, RPL_KEYVALUE, t->name, key, value);
    else
        md_reply(c, NULL, RPL_KEYNOTSET, t->name, key);
}

static void md_set(struct client *c, const struct target *t, struct ircmsg *m)
{
    if (m->nparams < 3) {
        send_reply(c, ERR_NEEDMOREPARAMS, "METADATA");
        return;
    }
    const char *key = m->params[2];
    const char *value = m->nparams > 3 ? m->params[3] : NULL; /* "": an empty value */
    if (!metadata_key_valid(key)) {
        md_fail(c, NULL, "KEY_INVALID", key, "invalid key");
        return;
    }
    if (t->kind == T_USER) { /* only oneself: the draft's privileged users are not here */
        no_permission(c, t->name, key);
        return;
    }
    if (value && (strlen(value) > METADATA_VALUE_MAX || !utf8_valid(value, strlen(value)))) {
        md_fail(c, NULL, "VALUE_INVALID", NULL, "value is too long or not UTF-8");
        return;
    }
    if (t->kind == T_SELF) {
        int r = metadata_user_set(c->id, key, value);
        set_result(c, t, key, value, r);
        if (r == MD_CHANGED)
            notify_user(c, key, value);
        return;
    }
    struct chan *ch = lock_as_op(c, t, key);
    if (!ch)
        return;
    int r = metadata_set(&ch->meta, key, value);
    if (r == MD_CHANGED)
        notify_chan(c, ch, key, value);
    chan_unlock(ch);
    set_result(c, t, key, value, r);
}

static void md_clear(struct client *c, const struct target *t)
{
    struct metadata *old = NULL;
    if (t->kind == T_USER) {
        no_permission(c, t->name, "*");
        return;
    }
    if (t->kind == T_SELF) {
        old = metadata_user_take(c->id);
        for (int i = 0; i < metadata_count(old); i++)
            notify_user(c, metadata_key(old, i), NULL);
    } else {
        struct chan *ch = lock_as_op(c, t, "*");
        if (!ch)
            return;
        old = ch->meta;
        ch->meta = NULL;
        for (int i = 0; i < metadata_count(old); i++)
            notify_chan(c, ch, metadata_key(old, i), NULL);
        chan_unlock(ch);
    }
    struct batch b;
    batch_open(c, &b, "metadata", t->name);
    for (int i = 0; i < metadata_count(old); i++)
        md_reply(c, &b, RPL_KEYNOTSET, t->name, metadata_key(old, i));
    batch_close(c, &b);
    metadata_free(old);
}

/* Appends key to list (cap bytes), space-separated. */
static void add_key(char *list, size_t cap, const char *key)
{
    size_t n = strlen(list);
    snprintf(list + n, cap - n, "%s%s", n ? " " : "", key);
}

static void md_sub(struct client *c, struct ircmsg *m)
{
    if (m->nparams < 3) {
        send_reply(c, ERR_NEEDMOREPARAMS, "METADATA");
        return;
    }
    char ok[IRC_LINE_MAX] = "";
    const char *too_many = NULL;
    for (int i = 2; i < m->nparams && !too_many; i++) {
        const char *key = m->params[i];
        if (!metadata_key_valid(key)) {
            md_fail(c, NULL, "KEY_INVALID", key, "invalid key");
            continue;
        }
        if (!c->md_subs && !(c->md_subs = calloc(1, sizeof *c->md_subs))) {
            send_reply(c, ERR_UNKNOWNERROR, "METADATA", "Out of memory");
            return;
        }
        /* At the limit, nothing more is processed, a key already subscribed to neither (the
         * draft's third TOO_MANY_SUBS example): it names the first key left out. */
        if (c->md_subs->n >= METADATA_SUBS_MAX) {
            too_many = key;
            continue;
        }
        if (!subscribed(c, key))
            snprintf(c->md_subs->keys[c->md_subs->n++], METADATA_KEY_MAX + 1, "%s", key);
        add_key(ok, sizeof ok, key);
    }
    if (ok[0])
        md_reply(c, NULL, RPL_METADATASUBOK, ok);
    if (too_many)
        md_fail(c, NULL, "TOO_MANY_SUBS", too_many, "too many subscriptions");
}

static void md_unsub(struct client *c, struct ircmsg *m)
{
    if (m->nparams < 3) {
        send_reply(c, ERR_NEEDMOREPARAMS, "METADATA");
        return;
    }
    char ok[IRC_LINE_MAX] = "";
    for (int i = 2; i < m->nparams; i++) {
        const char *key = m->params[i];
        if (!metadata_key_valid(key)) {
            md_fail(c, NULL, "KEY_INVALID", key, "invalid key");
            continue;
        }
        struct md_subs *s = c->md_subs;
        for (int k = 0; s && k < s->n; k++) {
            if (strcmp(s->keys[k], key) == 0) { /* keeps the order of the rest */
                memmove(s->keys[k], s->keys[k + 1], (size_t)(s->n - k - 1) * sizeof s->keys[0]);
                s->n--;
                break;
            }
        }
        add_key(ok, sizeof ok, key);
    }
    if (ok[0])
        md_reply(c, NULL, RPL_METADATAUNSUBOK, ok);
}

/* RPL_METADATASUBS lines of the keys, as many keys a line as fit, in a metadata-subs batch. */
static void md_subs(struct client *c)
{
    struct batch b;
    batch_open(c, &b, "metadata-subs", NULL);
    /* A line: ":server 772 nick :" and keys; 400 bytes of keys leave room for any prefix. */
    char keys[400] = "";
    for (int i = 0; c->md_subs && i < c->md_subs->n; i++) {
        if (keys[0] && strlen(keys) + 1 + strlen(c->md_subs->keys[i]) >= sizeof keys) {
            md_reply(c, &b, RPL_METADATASUBS, keys);
            keys[0] = '\0';
        }
        add_key(keys, sizeof keys, c->md_subs->keys[i]);
    }
    if (keys[0])
        md_reply(c, &b, RPL_METADATASUBS, keys);
    batch_close(c, &b);
}

/* METADATA lines, into b, of md's subscribed keys on target. */
static void send_subscribed(struct client *c, const struct batch *b, const char *target,
                            const struct metadata *md)
{
    for (int i = 0; i < metadata_count(md); i++) {
        if (subscribed(c, metadata_key(md, i)))
            md_message(c, b, target, metadata_key(md, i), metadata_value(md, i));
    }
}

/* A channel's member, as SYNC reads them under the channel's lock. */
struct sync_member {
    uint64_t id;
    char nick[IRC_NICK_MAX + 1];
};

/* The subscribed pairs of channel name and of its members, in one metadata batch: 0, or -1
 * when c is not a member (nothing sent). */
static int sync_chan(struct client *c, const char *name)
{
    struct chan *ch = chan_lock_name(client_srv(c), name);
    if (!ch || !chan_member(ch, c->id)) {
        if (ch)
            chan_unlock(ch);
        return -1;
    }
    char shown[IRC_CHANNEL_MAX + 1];
    snprintf(shown, sizeof shown, "%s", chan_name(ch));
    struct metadata *md = metadata_copy(ch->meta, NULL);
    /* The members are copied under the lock, their pairs read after it (the table's lock is
     * a leaf, but there is no need to hold the channel for it). */
    struct sync_member *mem = calloc(ch->nmembers ? ch->nmembers : 1, sizeof *mem);
    int n = 0;
    for (struct member *m = ch->members; mem && m; m = m->hh.next) {
        mem[n].id = m->id;
        snprintf(mem[n++].nick, sizeof mem[0].nick, "%s", m->nick);
    }
    chan_unlock(ch);
    struct batch b;
    batch_open(c, &b, "metadata", shown);
    send_subscribed(c, &b, shown, md);
    for (int i = 0; i < n; i++) {
        struct metadata *um = metadata_user_copy(mem[i].id);
        send_subscribed(c, &b, mem[i].nick, um);
        metadata_free(um);
    }
    batch_close(c, &b);
    metadata_free(md);
    free(mem);
    return 0;
}

static void md_sync(struct client *c, const struct target *t)
{
    if (t->kind == T_CHAN) {
        if (sync_chan(c, t->name) < 0) {
            no_permission(c, t->name, "*");
        }
        return;
    }
    struct metadata *md = metadata_user_copy(t->id);
    struct batch b;
    batch_open(c, &b, "metadata", t->name);
    send_subscribed(c, &b, t->name, md);
    batch_close(c, &b);
    metadata_free(md);
}

void cmd_metadata(struct client *c, struct ircmsg *m)
{
    if (client_srv(c)->cluster) { /* not offered on a cluster (caps.c) */
        send_reply(c, ERR_UNKNOWNCOMMAND, "METADATA");
        return;
    }
    const char *sub = m->params[1];
    if (strcasecmp(sub, "SUB") == 0) {
        md_sub(c, m);
        return;
    }
    if (strcasecmp(sub, "UNSUB") == 0) {
        md_unsub(c, m);
        return;
    }
    if (strcasecmp(sub, "SUBS") == 0) {
        md_subs(c);
        return;
    }
    int get = strcasecmp(sub, "GET") == 0, list = strcasecmp(sub, "LIST") == 0,
        set = strcasecmp(sub, "SET") == 0, clear = strcasecmp(sub, "CLEAR") == 0,
        sync = strcasecmp(sub, "SYNC") == 0;
    if (!get && !list && !set && !clear && !sync) {
        md_fail(c, NULL, "SUBCOMMAND_INVALID", sub, "invalid subcommand");
        return;
    }
    struct target t;
    if (resolve(c, m->params[0], &t) < 0)
        return;
    if (get)
        md_get(c, &t, m);
    else if (list)
        md_list(c, &t);
    else if (set)
        md_set(c, &t, m);
    else if (clear)
        md_clear(c, &t);
    else
        md_sync(c, &t);
}

void metadata_joined(struct client *c, const char *name)
{
    /* The draft: on joining, the channel's and its members' values of the keys one is
     * subscribed to. Nothing to say to a client that subscribed to nothing. */
    if ((c->caps & CAP_METADATA) && c->md_subs && c->md_subs->n > 0)
        sync_chan(c, name);
}

void metadata_welcome(struct client *c)
{
    /* The draft: a client with the capability gets its non-transient metadata on connecting,
     * an empty batch when it has none. Nothing here outlives a connection: always empty. */
    if (!(c->caps & CAP_METADATA))
        return;
    struct batch b;
    batch_open(c, &b, "metadata", c->nick);
    batch_close(c, &b);
}

void metadata_closing(struct client *c)
{
    metadata_free(metadata_user_take(c->id));
}
