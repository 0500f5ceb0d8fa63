/* chan: channels: the table of them, their members, and the order of their events. A JOIN, PART,
 * QUIT, NICK or message is decided and posted to the workers (fanout.h) under the channel's
 * lock, so every member sees one order; a message is stored (history.h) under the same lock
 * before it is posted. What the channel commands decide (modes, topic, kicks, invitations,
 * lists) is theirs (cmd_chan.c, cmd_mode.c); they read and change a channel through chan-t.h
 * under the locks taken here. */
#include "chan.h"
#include "chan-t.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/caps.h"
#include "core/client.h"
#include "core/conn.h"
#include "common/ircmsg.h"
#include "common/log.h"
#include "core/hash.h"
#include "store/history.h"
#include "store/readmark.h"
#include "store/chanreg.h"
#include "core/fanout.h"
#include "core/msg.h"
#include "core/numerics.h"
#include "core/pool.h"
#include "core/send.h"
#include "core/server.h"
#include "state/chan_net.h"
#include "state/metadata.h"
#include "state/nick.h"

/* A channel's member table starts with 4 buckets, not uthash's 32 (512 bytes): most channels
 * are small, and a table grows by itself as members come (uthash doubles it when a chain
 * gets long). In rooms of 10 that is 45 bytes less per member. */
#undef HASH_INITIAL_NUM_BUCKETS
#undef HASH_INITIAL_NUM_BUCKETS_LOG2
#define HASH_INITIAL_NUM_BUCKETS      4U
#define HASH_INITIAL_NUM_BUCKETS_LOG2 2U

/* Whether an entry of l matches source: with mute, only the mute extban's entries
 * ("m:<mask>"), else only plain masks. */
static int list_matches_kind(const struct mask_list *l, const char *source, int mute)
{
    for (int i = 0; i < l->n; i++) {
        const char *mask = l->v[i].mask;
        int is_mute = strncmp(mask, "m:", 2) == 0;
        if (is_mute == mute && ircname_match(mask + (is_mute ? 2 : 0), source))
            return 1;
    }
    return 0;
}

static int list_matches(const struct mask_list *l, const char *source)
{
    return list_matches_kind(l, source, 0);
}

const char *chan_name(const struct chan *ch)
{
    return atomic_load_explicit(&ch->label, memory_order_acquire)->name;
}

const char *chan_key(const struct chan *ch)
{
    return atomic_load_explicit(&ch->label, memory_order_acquire)->key;
}

void chan_table_add(struct server *srv, struct chan *ch)
{
    const char *key = chan_key(ch);
    HASH_ADD_KEYPTR(hh, srv->chans, key, strlen(key), ch);
}

uint64_t chan_id(const struct chan *ch)
{
    return ch->id;
}

const char *chan_topic_by(const struct chan *ch)
{
    return ch->topic + strlen(ch->topic) + 1;
}

void chan_member_free(struct member *m)
{
    if (m)
        pool_free(m, sizeof *m + strlen(m->userhost) + 1);
}

void chan_unref(struct chan *ch)
{
    if (atomic_fetch_sub(&ch->refs, 1) != 1)
        return;
    struct member *m, *tmp;
    HASH_ITER(hh, ch->members, m, tmp)
    {
        /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): false positive, delete in HASH_ITER */
        HASH_DEL(ch->members, m);
        chan_member_free(m);
    }
    pthread_mutex_destroy(&ch->lock);
    for (int i = 0; i < LIST_KINDS; i++)
        free(ch->lists[i].v);
    free(ch->topic);
    free(ch->invites);
    metadata_free(ch->meta);
    struct chan_label *label = atomic_load_explicit(&ch->label, memory_order_relaxed);
    if (label != &ch->first)
        free(label);
    pool_free(ch->wcount, (size_t)ch->nworkers * sizeof *ch->wcount);
    pool_free(ch, sizeof *ch);
}

struct chan *chan_new(struct server *srv, const char *name, const char *key)
{
    struct chan *ch = pool_alloc(sizeof *ch);
    if (!ch)
        return NULL;
    ch->nworkers = srv->nworkers;
    ch->wcount = pool_alloc((size_t)ch->nworkers * sizeof *ch->wcount);
    if (!ch->wcount || pthread_mutex_init(&ch->lock, NULL) != 0) {
        pool_free(ch->wcount, (size_t)ch->nworkers * sizeof *ch->wcount);
        pool_free(ch, sizeof *ch);
        return NULL;
    }
    ch->id = atomic_fetch_add(&srv->next_chan_id, 1) + 1;
    ch->modes = CM_NOEXTERNAL | CM_TOPICLOCK; /* the usual defaults for a new channel */
    ch->created = time(NULL);
    ch->in_table = 1;
    atomic_init(&ch->refs, 1);
    snprintf(ch->first.key, sizeof ch->first.key, "%s", key);
    snprintf(ch->first.name, sizeof ch->first.name, "%s", name);
    atomic_init(&ch->label, &ch->first);
    return ch;
}

int chan_find_joined(const struct client *c, const char *name)
{
    for (int i = 0; i < c->nchans; i++) {
        if (ircname_cmp(chan_name(c->chans[i]), name) == 0)
            return i;
    }
    return -1;
}

/* Keeps c->chans sorted by channel id: the order in which several are locked at once. */
static int client_add_chan(struct client *c, struct chan *ch)
{
    if (c->nchans == c->chans_cap) {
        int ncap = c->chans_cap ? c->chans_cap * 2 : 4;
        struct chan **n =
            pool_realloc(c->chans, (size_t)c->chans_cap * sizeof *n, (size_t)ncap * sizeof *n);
        if (!n)
            return -1;
        c->chans = n;
        c->chans_cap = ncap;
    }
    int i = c->nchans;
    while (i > 0 && c->chans[i - 1]->id > ch->id) {
        c->chans[i] = c->chans[i - 1];
        i--;
    }
    c->chans[i] = ch;
    c->nchans++;
    return 0;
}

static void client_remove_chan(struct client *c, int idx)
{
    memmove(&c->chans[idx], &c->chans[idx + 1], (size_t)(c->nchans - idx - 1) * sizeof c->chans[0]);
    c->nchans--;
}

struct fanout_chan chan_fan(const struct chan *ch)
{
    return (struct fanout_chan){.id = ch->id, .wcount = ch->wcount};
}

const char *chan_member_prefix(const struct member *m)
{
    return m->op ? "@" : m->voice ? "+" : "";
}

const char *chan_member_prefixes(const struct member *m, const struct client *c)
{
    if ((c->caps & CAP_MULTI_PREFIX) && m->op && m->voice)
        return "@+";
    return chan_member_prefix(m);
}

struct member *chan_member(struct chan *ch, uint64_t id)
{
    struct member *m = NULL;
    HASH_FIND(hh, ch->members, &id, sizeof id, m);
    return m;
}

/* Appends n bytes to line (of len bytes); the caller checked they fit. */
static size_t put(char *line, size_t len, const char *s, size_t n)
{
    memcpy(line + len, s, n);
    return len + n;
}

/* Appends the NAMES lines of ch (locked) for c to b. Built with memcpy rather than a printf
 * per member: a joiner of a room of n gets n names, so a join storm of n clients formats n^2/2
 * of them (8 million for 4,000), and this loop was the largest cost of one in the profile. */
static void names_lines(struct msgbuf *b, const struct client *c, struct chan *ch)
{
    char line[IRC_LINE_MAX];
    /* RPL_NAMREPLY's text, by hand: '@' marks a secret channel, '=' a public one. */
    size_t start = send_numeric_head(c, NUM(RPL_NAMREPLY), line, sizeof line);
    int head = snprintf(line + start, sizeof line - start,
                        "%c %s :", (ch->modes & CM_SECRET) ? '@' : '=', chan_name(ch));
    head = head < 0 ? 0 : head + (int)start;
    if ((size_t)head >= sizeof line / 2)
        head = 0; /* cannot happen: the names are bounded well below that */
    size_t len = (size_t)head;
    int uh = (c->caps & CAP_USERHOST_IN_NAMES) != 0; /* nick!user@host instead of the nick */
    struct member *m, *tmp;
    HASH_ITER(hh, ch->members, m, tmp)
    {
        const char *prefix = chan_member_prefixes(m, c);
        size_t lp = strlen(prefix), ln = strlen(m->nick), lu = uh ? strlen(m->userhost) : 0;
        size_t need = lp + ln + (uh ? 1 + lu : 0) + 1; /* and the space after it */
        if (len + need > IRC_LINE_MAX - 2 && len > (size_t)head) {
            msgbuf_raw(b, NULL, line, len - 1); /* without the trailing space */
            len = (size_t)head;
        }
        len = put(line, len, prefix, lp);
        len = put(line, len, m->nick, ln);
        if (uh) {
            len = put(line, len, "!", 1);
            len = put(line, len, m->userhost, lu);
        }
        len = put(line, len, " ", 1);
    }
    if (len > (size_t)head)
        msgbuf_raw(b, NULL, line, len - 1);
    send_reply_into(b, c, RPL_ENDOFNAMES, chan_name(ch));
}

int chan_invited(const struct chan *ch, uint64_t id)
{
    for (int i = 0; i < ch->ninvites; i++) {
        if (ch->invites[i] == id)
            return 1;
    }
    return 0;
}

int chan_invite_add(struct chan *ch, uint64_t id)
{
    if (!ch->invites && !(ch->invites = calloc(INVITES_MAX, sizeof ch->invites[0])))
        return -1;
    if (!chan_invited(ch, id)) {
        if (ch->ninvites == INVITES_MAX) { /* forget the oldest */
            memmove(ch->invites, ch->invites + 1, (INVITES_MAX - 1) * sizeof ch->invites[0]);
            ch->ninvites--;
        }
        ch->invites[ch->ninvites++] = id;
    }
    return 0;
}

int chan_invite_drop(struct chan *ch, uint64_t id)
{
    for (int i = 0; i < ch->ninvites; i++) {
        if (ch->invites[i] == id) { /* kept in order: the oldest goes first when full */
            memmove(ch->invites + i, ch->invites + i + 1,
                    (size_t)(ch->ninvites - i - 1) * sizeof ch->invites[0]);
            ch->ninvites--;
            return 1;
        }
    }
    return 0;
}

static int banned(const struct chan *ch, const char *source)
{
    return list_matches(&ch->lists[LIST_BAN], source) &&
           !list_matches(&ch->lists[LIST_EXCEPT], source);
}

/* Muted (+b m:<mask>, EXTBAN=,m): in the channel, not heard. A plain exception (+e mask) or a
 * mute exception (+e m:<mask>) lifts it. */
static int muted(const struct chan *ch, const char *source)
{
    return list_matches_kind(&ch->lists[LIST_BAN], source, 1) &&
           !list_matches(&ch->lists[LIST_EXCEPT], source) &&
           !list_matches_kind(&ch->lists[LIST_EXCEPT], source, 1);
}

static int join_check(const struct chan *ch, const struct client *c, const char *key)
{
    if (ch->nmembers == 0)
        return 0;
    /* An invitation lets one past +i, +k, +l and bans; +I lets one past +i. */
    int inv = chan_invited(ch, c->id);
    if (banned(ch, c->source) && !inv)
        return NUM(ERR_BANNEDFROMCHAN);
    if ((ch->modes & CM_INVITE) && !inv && !list_matches(&ch->lists[LIST_INVEX], c->source))
        return NUM(ERR_INVITEONLYCHAN);
    if (ch->chkey[0] && (!key || strcmp(key, ch->chkey) != 0) && !inv)
        return NUM(ERR_BADCHANNELKEY);
    if (ch->limit && ch->nmembers >= ch->limit && !inv)
        return NUM(ERR_CHANNELISFULL);
    return 0;
}

/* draft/read-marker: ":server MARKREAD #chan <timestamp=...|*>" for a joiner with the
 * capability, which then hears of later changes too (readmark's lock is a leaf). */
static void markread_line(struct msgbuf *b, const struct client *c, const struct chan *ch)
{
    char owner[IRC_NICK_MAX + 1], ts[48], line[IRC_LINE_MAX];
    readmark_owner(c, owner, sizeof owner);
    if (c->account[0])
        readmark_attach(owner, c->w->index, c->id);
    readmark_format(readmark_get(owner, chan_key(ch)), ts, sizeof ts);
    int n = snprintf(line, sizeof line, ":%s MARKREAD %s %s", client_cfg(c)->server_name,
                     chan_name(ch), ts);
    if (n > 0 && n < (int)sizeof line)
        msgbuf_raw(b, NULL, line, (size_t)n);
}

/* History replay for a joiner of ch (locked) whose client does not ask for it itself
 * (draft/chathistory): queued behind the JOIN, so that it holds exactly what was said before
 * it. */
static void replay(struct client *c, const struct chan *ch)
{
    struct server *srv = client_srv(c);
    if (!srv->hist || srv->cfg.history_replay <= 0 || (c->caps & CAP_CHATHISTORY) ||
        !history_has(srv, chan_key(ch)))
        return;
    struct hist_query *q = calloc(1, sizeof *q);
    if (!q)
        return;
    q->op = HOP_REPLAY;
    q->worker = c->w->index;
    q->client = c->id;
    q->caps = c->caps;
    q->limit = srv->cfg.history_replay;
    snprintf(q->target, sizeof q->target, "%s", chan_name(ch));
    snprintf(q->key, sizeof q->key, "%s", chan_key(ch));
    history_query(srv, q);
    free(q);
}

/* What c is owed on joining name by its registration (ChanServ, store/chanreg.h), or by the
 * default channel's ownership (--default-channel-owned: the server's operators own it, so
 * nobody gets ops there by being first): CHANREG_UNREGISTERED when nothing is owed and the
 * channel's creator gets ops as usual. Reads the nick table (before any channel lock). */
static enum chanreg_role join_role(struct client *c, const char *name)
{
    struct server *srv = client_srv(c);
    enum chanreg_role role = chanreg_role(name, c->account);
    const char *lobby = srv->cfg.default_channel;
    if (!srv->cfg.default_channel_owned || !lobby || ircname_cmp(lobby, name) != 0)
        return role;
    struct nick_info me;
    if (role == CHANREG_UNREGISTERED)
        role = CHANREG_NONE;
    if (role < CHANREG_OP && nick_info(srv, c->nick, &me) == 0 && me.id == c->id && me.oper)
        role = CHANREG_OP;
    return role;
}

void chan_emptied(struct server *srv, const struct chan *ch)
{
    if (!(ch->modes & CM_INVITE) && !ch->chkey[0] &&
        chanreg_role(chan_key(ch), NULL) != CHANREG_UNREGISTERED)
        return;
    history_end(srv, chan_key(ch));
}

/* A JOIN or PART announced to told members costs the client's flood allowance a line per
 * JOIN_BROADCAST_MEMBERS of them: a join/part cycle in a room of 10,000 makes 20,000 lines
 * for others, and JOINPART_PENALTY alone priced it as in a room of two. */
static void chan_charge_broadcast(struct client *c, unsigned told)
{
    unsigned lines = told / JOIN_BROADCAST_MEMBERS; /* whole lines: a small room costs none */
    c->tokens -= (double)lines;
}

/* Recent renames, for the redirection of a JOIN of an old name; under srv->chan_lock. A
 * process has one server, so one table (as the registered channels' in chanreg.c). */
static struct redirect {
    char from[IRC_CHANNEL_MAX + 1]; /* the old name, folded ("" for a free entry) */
    char to[IRC_CHANNEL_MAX + 1];   /* the new one, folded */
    uint64_t id;                    /* the channel, which may have been renamed again since */
    time_t at;
} redirects[RENAME_REDIRECTS];
static int redirect_next;

/* The fresh entry for old name key (srv->chan_lock held), or NULL. */
static const struct redirect *redirect_find(const char *key, time_t now)
{
    for (int i = 0; i < RENAME_REDIRECTS; i++) {
        const struct redirect *r = &redirects[i];
        if (r->from[0] && now - r->at < RENAME_REDIRECT_SECS && strcmp(r->from, key) == 0)
            return r;
    }
    return NULL;
}

int chan_redirect(struct server *srv, const char *name, char *to)
{
    char key[IRC_CHANNEL_MAX + 1];
    ircname_fold(name, key, sizeof key);
    time_t now = time(NULL);
    int found = 0;
    pthread_mutex_lock(&srv->chan_lock);
    const struct redirect *r = chan_table_get(srv, key) ? NULL : redirect_find(key, now);
    /* A channel renamed again is followed (the cooldown makes such chains short). */
    for (int hops = 0; r && !found && hops < 8; hops++) {
        struct chan *ch = chan_table_get(srv, r->to);
        if (ch && ch->id == r->id) {
            snprintf(to, IRC_CHANNEL_MAX + 1, "%s", chan_name(ch));
            found = 1;
        } else {
            r = ch ? NULL : redirect_find(r->to, now);
        }
    }
    pthread_mutex_unlock(&srv->chan_lock);
    return found;
}

/* A label a RENAME replaced. Workers read labels without a lock (chan_find_joined), but only
 * within one command or mailbox item; so once each worker has taken the call posted after the
 * swap, none can still hold it, and the last one frees it (a grace period, as RCU's). */
struct label_retired {
    struct chan_label *label;
    atomic_int pending; /* workers yet to take the call, plus chan_rename's own count */
};

static void label_release(struct label_retired *r)
{
    if (atomic_fetch_sub(&r->pending, 1) == 1) {
        free(r->label);
        free(r);
    }
}

static void label_passed(struct worker *w, uint64_t arg)
{
    (void)w;
    /* NOLINTNEXTLINE(performance-no-int-to-ptr): the pointer label_retire passed as arg */
    label_release((struct label_retired *)(uintptr_t)arg);
}

/* Frees old (a label chan_rename allocated) once no worker can be reading it. */
static void label_retire(struct server *srv, struct chan_label *old)
{
    struct label_retired *r = malloc(sizeof *r);
    if (!r) {
        log_error("out of memory retiring a channel's old name: it is kept");
        return;
    }
    r->label = old;
    atomic_init(&r->pending, srv->nworkers + 1);
    int lost = 0;
    for (int w = 0; w < srv->nworkers; w++)
        lost |= fanout_call_worker(srv, w, label_passed, (uint64_t)(uintptr_t)r) < 0;
    if (lost) /* a worker will never pass: keeping it is the only safe choice */
        log_error("out of memory retiring a channel's old name: it is kept");
    else
        label_release(r);
}

/* What follows c's JOIN of ch (locked) in its reply: the topic, the read marker, NAMES. */
static void join_lines(struct msgbuf *b, struct client *c, struct chan *ch)
{
    if (ch->topic) {
        send_reply_into(b, c, RPL_TOPIC, chan_name(ch), ch->topic);
        send_reply_into(b, c, RPL_TOPICWHOTIME, chan_name(ch), chan_topic_by(ch),
                        (long long)ch->topic_at);
    }
    if (c->caps & CAP_READ_MARKER) /* draft/read-marker: after the JOIN, before the 366 */
        markread_line(b, c, ch);
    if (!(c->caps & CAP_NO_IMPLICIT_NAMES)) /* IRCv3 no-implicit-names: it asks if it wants */
        names_lines(b, c, ch);
}

/* A RENAME on member c's worker (MB_EACH): ev (the RENAME line) with draft/channel-rename;
 * without it, unless only the case changed (text NULL), the fallback: c parts the old name
 * (text: the old name, a space, the reason) and joins the channel again under its new one. */
static void renamed(struct client *c, uint64_t id, struct event *ev, const char *text)
{
    if (c->dead)
        return;
    if (c->caps & CAP_CHANNEL_RENAME) {
        conn_deliver_event(c, ev);
        return;
    }
    struct chan *ch = NULL;
    for (int i = 0; text && i < c->nchans && !ch; i++)
        ch = c->chans[i]->id == id ? c->chans[i] : NULL;
    if (!ch)
        return;
    const char *reason = strchr(text, ' ');
    int oldlen = (int)(reason - text);
    struct msgbuf b = {0};
    if (reason[1])
        msgbuf_line(&b, ":%s PART %.*s :%s", c->source, oldlen, text, reason + 1);
    else
        msgbuf_line(&b, ":%s PART %.*s", c->source, oldlen, text);
    pthread_mutex_lock(&ch->lock);
    if (c->caps & CAP_EXTENDED_JOIN)
        msgbuf_line(&b, ":%s JOIN %s %s :%s", c->source, chan_name(ch),
                    c->account[0] ? c->account : "*", c->realname);
    else
        msgbuf_line(&b, ":%s JOIN %s", c->source, chan_name(ch));
    join_lines(&b, c, ch);
    pthread_mutex_unlock(&ch->lock);
    struct msg *m = msgbuf_finish(&b);
    send_msg(c, m);
    msg_unref(m);
}

int chan_rename(struct server *srv, struct chan *ch, const char *name, const char *key,
                const char *source, const char *reason)
{
    struct chan_label *old = atomic_load_explicit(&ch->label, memory_order_relaxed);
    int case_only = strcmp(old->key, key) == 0;
    struct chan_label *label = malloc(sizeof *label);
    struct event *ev =
        label ? event_new(NULL, ":%s RENAME %s %s :%s", source, old->name, name, reason) : NULL;
    char fallback[IRC_CHANNEL_MAX + 1 + RENAME_REASON_MAX + 1];
    snprintf(fallback, sizeof fallback, "%s %s", old->name, reason);
    if (!ev) {
        free(label);
        return -1;
    }
    ev->need_cap = CAP_CHANNEL_RENAME;
    snprintf(label->key, sizeof label->key, "%s", key);
    snprintf(label->name, sizeof label->name, "%s", name);
    if (!case_only) { /* the history follows; whoever makes the old name again reads none */
        history_rename(srv, old->key, key);
        readmark_rename(old->key, key);
    }
    if (!case_only) {
        struct redirect *r = &redirects[redirect_next++ % RENAME_REDIRECTS];
        snprintf(r->from, sizeof r->from, "%s", old->key);
        snprintf(r->to, sizeof r->to, "%s", key);
        r->id = ch->id;
        r->at = time(NULL);
    }
    HASH_DEL(srv->chans, ch);
    atomic_store_explicit(&ch->label, label, memory_order_release);
    chan_table_add(srv, ch);
    ch->renamed_at = time(NULL);
    struct fanout_chan f = chan_fan(ch);
    fanout_chan_each(srv, &f, renamed, ev, case_only ? NULL : fallback);
    event_unref(ev);
    if (old != &ch->first)
        label_retire(srv, old);
    return 0;
}

int chan_join(struct client *c, const char *name, const char *key)
{
    struct server *srv = client_srv(c);
    if (chan_find_joined(c, name) >= 0)
        return 0;
    if (c->nchans >= CHANNELS_PER_USER)
        return NUM(ERR_TOOMANYCHANNELS);
    char userhost[USER_MAX + 1 + HOST_MAX], host[HOST_MAX];
    client_shown_host(c, host, sizeof host);
    snprintf(userhost, sizeof userhost, "%s@%s", c->user, host);
    size_t uhlen = strlen(userhost);
    /* away-notify: an away joiner's AWAY follows its JOIN (IRCv3 away-notify). The text is
     * the nick table's, read before the channel lock (locks: nick before channel). */
    struct nick_info me;
    struct event *away = NULL;
    if (c->away && nick_info(srv, c->nick, &me) == 0 && me.id == c->id && me.away[0]) {
        away = event_new(NULL, ":%s AWAY :%s", c->source, me.away);
        if (away)
            away->need_cap = CAP_AWAY_NOTIFY;
    }
    enum chanreg_role role = join_role(c, name);
    struct member *mem = pool_alloc(sizeof *mem + uhlen + 1);
    if (!mem)
        goto oom;
    memcpy(mem->userhost, userhost, uhlen + 1);
    char fold[IRC_CHANNEL_MAX + 1];
    ircname_fold(name, fold, sizeof fold);

    pthread_mutex_lock(&srv->chan_lock);
    struct chan *ch = NULL;
    HASH_FIND_STR(srv->chans, fold, ch);
    if (!ch) {
        ch = chan_new(srv, name, fold);
        if (!ch) {
            pthread_mutex_unlock(&srv->chan_lock);
            goto oom;
        }
        chan_table_add(srv, ch);
    }
    pthread_mutex_lock(&ch->lock);
    pthread_mutex_unlock(&srv->chan_lock);
    int err = join_check(ch, c, key);
    struct event *join = err ? NULL : event_new(NULL, ":%s JOIN %s", c->source, chan_name(ch));
    if (join)
        snprintf(join->account, sizeof join->account, "%s", c->account);
    if (join && event_set_ext(join, ":%s JOIN %s %s :%s", c->source, chan_name(ch),
                              c->account[0] ? c->account : "*", c->realname) < 0) {
        event_unref(join);
        join = NULL;
    }
    /* Our membership holds a reference: the channel outlives the table entry while we are in
     * it. */
    if (err || !join || client_add_chan(c, ch) < 0) {
        /* A channel created just now stays empty in the table; the next JOIN fills it. */
        pthread_mutex_unlock(&ch->lock);
        chan_member_free(mem);
        event_unref(join);
        event_unref(away);
        return err ? err : NUM(ERR_UNKNOWNERROR);
    }
    atomic_fetch_add(&ch->refs, 1);
    /* A new channel: the network learns its settings. An invitation is used once; every
     * node drops the joiner's when its JOIN arrives (chan_net_join). */
    unsigned meta = ch->nmembers == 0 ? CHAN_META_ALL : 0;
    chan_invite_drop(ch, c->id);
    mem->id = c->id;
    mem->worker = c->w->index;
    /* A registered channel's ops are its owners, whoever comes first. */
    mem->op = role == CHANREG_UNREGISTERED ? ch->nmembers == 0 : role >= CHANREG_OP;
    mem->voice = role == CHANREG_VOICE;
    struct event *status = NULL; /* ChanServ's MODE for those already there */
    if (ch->nmembers > 0 && role != CHANREG_UNREGISTERED && (mem->op || mem->voice))
        status = event_new(NULL, ":%s MODE %s +%c %s", CHANSERV_SOURCE, chan_name(ch),
                           mem->op ? 'o' : 'v', c->nick);
    snprintf(mem->nick, sizeof mem->nick, "%s", c->nick);
    HASH_ADD(hh, ch->members, id, sizeof mem->id, mem);
    ch->nmembers++;
    ch->wcount[c->w->index]++;
    unsigned told = ch->nmembers - 1; /* the members its JOIN goes to */

    struct msgbuf b = {0};
    join_lines(&b, c, ch);
    struct msg *extra = msgbuf_finish(&b);
    struct fanout_chan f = chan_fan(ch);
    fanout_chan_join(srv, &f, join, c->id, c->w->index);
    if (away)
        fanout_chan_event(srv, &f, away, c->id, c->w->index);
    if (status) {
        fanout_chan_event(srv, &f, status, 0, c->w->index);
        history_store_event(srv, status, chan_key(ch));
    }
    struct chan *chs[1] = {ch};
    struct chan_change chg = {.kind = CC_JOIN,
                              .chans = chs,
                              .nchans = 1,
                              .ev = join,
                              .who = c->id,
                              .who_worker = c->w->index,
                              .m = mem,
                              .account = c->account,
                              .realname = c->realname,
                              .away = away ? me.away : "",
                              .meta = meta};
    chan_net_publish(srv, &chg);
    if (status) { /* ChanServ's MODE for the members on other nodes too */
        struct chan_change st = {.kind = CC_META, .chans = chs, .nchans = 1, .ev = status};
        st.edits[st.nedits++] =
            (struct chan_edit){.sign = '+', .letter = mem->op ? 'o' : 'v', .id = c->id};
        chan_net_publish(srv, &st);
    }
    replay(c, ch);
    /* After the replay's query: the joiner's history ends before its own JOIN. */
    history_store_event(srv, join, chan_key(ch));
    pthread_mutex_unlock(&ch->lock);
    /* The joiner sees its JOIN, the topic and NAMES at once, as the reply to its command
     * (labeled with it, under labeled-response), ahead of anything said after it joined,
     * which reaches it only once its worker has handled the MB_JOIN. */
    send_msg(c, event_render(join, c->variant));
    send_msg(c, extra);
    msg_unref(extra);
    event_unref(join);
    event_unref(away);
    event_unref(status);
    chan_charge_broadcast(c, told);
    return 0;
oom:
    log_error("out of memory joining %s", name);
    chan_member_free(mem);
    event_unref(away);
    return NUM(ERR_UNKNOWNERROR);
}

struct chan *chan_table_get(struct server *srv, const char *key)
{
    struct chan *ch = NULL;
    HASH_FIND_STR(srv->chans, key, ch);
    return ch;
}

/* The channel called name in the table (srv->chan_lock held), or NULL. */
static struct chan *table_find(struct server *srv, const char *name)
{
    char key[IRC_CHANNEL_MAX + 1];
    ircname_fold(name, key, sizeof key);
    return chan_table_get(srv, key);
}

int chan_list_edit(struct chan *ch, int kind, int adding, const char *mask, const char *by,
                   time_t at, char *removed)
{
    struct mask_list *l = &ch->lists[kind];
    for (int i = 0; i < l->n; i++) {
        if (ircname_cmp(l->v[i].mask, mask) == 0) {
            if (adding)
                return -1; /* already there */
            if (removed)
                snprintf(removed, MASK_MAX + 1, "%s", l->v[i].mask);
            l->v[i] = l->v[--l->n];
            return 0;
        }
    }
    if (!adding || l->n >= LIST_MAX)
        return -1;
    if (l->n == l->cap) {
        int ncap = l->cap ? l->cap * 2 : 4;
        struct mask_entry *n = realloc(l->v, (size_t)ncap * sizeof *n);
        if (!n)
            return -1;
        l->v = n;
        l->cap = ncap;
    }
    struct mask_entry *e = &l->v[l->n++];
    snprintf(e->mask, sizeof e->mask, "%s", mask);
    snprintf(e->set_by, sizeof e->set_by, "%s", by);
    e->set_at = at;
    return 0;
}

static int chan_exists(struct server *srv, const char *name)
{
    pthread_mutex_lock(&srv->chan_lock);
    int found = table_find(srv, name) != NULL;
    pthread_mutex_unlock(&srv->chan_lock);
    return found;
}

/* Removes c from ch (both locked by the caller, table too) and drops the table entry when the
 * channel empties. */
static void chan_remove_member(struct server *srv, struct chan *ch, const struct client *c)
{
    struct member *m = NULL;
    HASH_FIND(hh, ch->members, &c->id, sizeof c->id, m);
    if (m) {
        HASH_DEL(ch->members, m);
        chan_member_free(m);
        ch->nmembers--;
        ch->wcount[c->w->index]--;
    }
    if (ch->nmembers == 0 && ch->in_table) {
        HASH_DEL(srv->chans, ch);
        ch->in_table = 0;
        atomic_fetch_sub(&ch->refs, 1); /* the table's; the caller still holds its own */
        chan_emptied(srv, ch);
    }
}

void chan_post(struct server *srv, const struct chan *ch, struct event *ev, uint64_t skip)
{
    struct fanout_chan f = chan_fan(ch);
    fanout_chan_event(srv, &f, ev, skip, -1);
}

int chan_part(struct client *c, const char *name, const char *reason)
{
    struct server *srv = client_srv(c);
    int idx = chan_find_joined(c, name);
    if (idx < 0)
        return chan_exists(srv, name) ? NUM(ERR_NOTONCHANNEL) : NUM(ERR_NOSUCHCHANNEL);
    struct chan *ch = c->chans[idx];
    struct event *part = reason && *reason
                             ? event_new(NULL, ":%s PART %s :%s", c->source, chan_name(ch), reason)
                             : event_new(NULL, ":%s PART %s", c->source, chan_name(ch));
    pthread_mutex_lock(&srv->chan_lock);
    pthread_mutex_lock(&ch->lock);
    /* Not a member any more: kicked, and the KICK is still on its way to our mailbox. */
    int member = chan_member(ch, c->id) != NULL;
    unsigned told = 0;
    if (member) {
        told = ch->nmembers;
        struct fanout_chan f = chan_fan(ch);
        fanout_chan_part(srv, &f, part, c->id, c->w->index);
        history_store_event(srv, part, chan_key(ch)); /* before an end marker, if it empties */
        chan_remove_member(srv, ch, c);
        struct chan *chs[1] = {ch};
        struct chan_change chg = {.kind = CC_PART,
                                  .chans = chs,
                                  .nchans = 1,
                                  .ev = part,
                                  .who = c->id,
                                  .who_worker = c->w->index};
        chan_net_publish(srv, &chg);
    }
    pthread_mutex_unlock(&ch->lock);
    pthread_mutex_unlock(&srv->chan_lock);
    client_remove_chan(c, idx);
    chan_unref(ch);
    event_unref(part);
    chan_charge_broadcast(c, told);
    return member ? 0 : NUM(ERR_NOTONCHANNEL);
}

struct chan *chan_lock_name(struct server *srv, const char *name)
{
    pthread_mutex_lock(&srv->chan_lock);
    struct chan *ch = table_find(srv, name);
    if (ch) {
        pthread_mutex_lock(&ch->lock);
        atomic_fetch_add(&ch->refs, 1);
    }
    pthread_mutex_unlock(&srv->chan_lock);
    return ch;
}

void chan_unlock(struct chan *ch)
{
    pthread_mutex_unlock(&ch->lock);
    chan_unref(ch);
}

/* 0 if the member me (NULL: not a member) with this source may send to ch (locked), else
 * ERR_CANNOTSENDTOCHAN: +n keeps outsiders out, +m the unvoiced, a ban the banned (who keep
 * listening). */
/* Whether m (a PRIVMSG or NOTICE line) is a CTCP other than ACTION (/me). */
static int is_ctcp(const struct event *m)
{
    for (int i = 0; m->ml && i < m->ml->n; i++) /* a multiline message: any of its lines */
        if (is_ctcp(m->ml->lines[i].ev))
            return 1;
    if (m->ml)
        return 0;
    const char *line = m->line->data, *text = strstr(line + 1, " :");
    return !m->tags_only && text && text[2] == '\x01' && strncmp(text + 3, "ACTION", 6) != 0;
}

static int may_speak(const struct chan *ch, const struct member *me, const char *source,
                     const struct event *m)
{
    int voiced = me && (me->op || me->voice);
    if ((ch->modes & CM_NOCTCP) && is_ctcp(m))
        return NUM(ERR_CANNOTSENDTOCHAN);
    if (!me && (ch->modes & CM_NOEXTERNAL))
        return NUM(ERR_CANNOTSENDTOCHAN);
    if ((ch->modes & CM_MODERATED) && !voiced)
        return NUM(ERR_CANNOTSENDTOCHAN);
    if (!voiced && (banned(ch, source) || muted(ch, source)))
        return NUM(ERR_CANNOTSENDTOCHAN);
    return 0;
}

/* Whether ch (locked) has members on other nodes of a cluster. */
static int has_remote(const struct server *srv, const struct chan *ch)
{
    if (!srv->cluster)
        return 0;
    unsigned local = 0;
    for (int w = 0; w < ch->nworkers; w++)
        local += ch->wcount[w];
    return ch->nmembers > local;
}

int chan_send(struct client *c, const char *name, struct event *m, int echo, int *unstored)
{
    *unstored = 0;
    struct server *srv = client_srv(c);
    int idx = chan_find_joined(c, name);
    struct chan *ch;
    if (idx >= 0) {
        ch = c->chans[idx];
        pthread_mutex_lock(&ch->lock);
        atomic_fetch_add(&ch->refs, 1);
    } else if (!(ch = chan_lock_name(srv, name))) {
        return NUM(ERR_NOSUCHCHANNEL);
    }
    struct member *me = chan_member(ch, c->id);
    int err = may_speak(ch, me, c->source, m);
    /* In a cluster the network orders it, and every node stores and delivers it then. */
    struct chan *chs[1] = {ch};
    struct chan_change chg = {.kind = CC_MSG,
                              .chans = chs,
                              .nchans = 1,
                              .ev = m,
                              .who = c->id,
                              .who_worker = c->w->index,
                              .echo = echo};
    if (!err && chan_net_publish(srv, &chg) == 0) {
        chan_unlock(ch);
        return 0;
    }
    if (!err && has_remote(srv, ch)) {
        chan_unlock(ch);
        return CHAN_NETWORK_DOWN;
    }
    /* Stored before it is posted, under the same lock: the store has the channel's order. */
    int stored = !err && !m->tags_only ? history_store(srv, m, chan_key(ch)) : 0;
    if (stored < 0)
        err = NUM(ERR_UNAVAILRESOURCE);
    /* A full disk: relayed but not kept; the first sender in the channel is told, once per
     * failing episode (the caller, which knows the command, says it). */
    if (stored > 0 && ch->unstored_warned != stored) {
        ch->unstored_warned = stored;
        *unstored = 1;
    }
    if (!err) {
        /* With echo the sender gets its own line back, in the channel's order. */
        int own = c->w->index;
        struct fanout_chan f = chan_fan(ch);
        /* Our own worker needs no item when we are its only member here. */
        fanout_chan_event(srv, &f, m, echo ? 0 : c->id, me && !echo ? own : -1);
        if (echo && !me) /* not a member (-n): the echo comes straight back */
            fanout_to_client(srv, own, c->id, m);
    }
    chan_unlock(ch);
    return err;
}

/* Locks every channel of c in ascending id (c->chans is kept sorted) and returns, in workers,
 * which workers have members in any of them; c's own worker is always included. ids gets the
 * channel ids. */
static void lock_all(struct client *c, bool *workers, uint64_t *ids)
{
    struct server *srv = client_srv(c);
    memset(workers, 0, (size_t)srv->nworkers * sizeof *workers);
    workers[c->w->index] = true;
    for (int i = 0; i < c->nchans; i++) {
        struct chan *ch = c->chans[i];
        pthread_mutex_lock(&ch->lock);
        ids[i] = ch->id;
        for (int w = 0; w < srv->nworkers; w++)
            workers[w] = workers[w] || ch->wcount[w] > 0;
    }
}

static void unlock_all(struct client *c)
{
    for (int i = c->nchans - 1; i >= 0; i--)
        pthread_mutex_unlock(&c->chans[i]->lock);
}

void chan_quit(struct client *c, struct event *m)
{
    struct server *srv = client_srv(c);
    bool workers[WORKERS_MAX];
    uint64_t ids[CHANNELS_PER_USER];
    if (c->nchans > 0)
        pthread_mutex_lock(&srv->chan_lock);
    lock_all(c, workers, ids);
    struct fanout_span s = {.ids = ids, .n = c->nchans, .workers = workers};
    fanout_user_quit(srv, &s, m, c->id, c->w->index);
    for (int i = 0; i < c->nchans; i++) {
        history_store_event(srv, m, chan_key(c->chans[i]));
        chan_remove_member(srv, c->chans[i], c);
    }
    struct chan_change chg = {.kind = CC_QUIT,
                              .chans = c->chans,
                              .nchans = c->nchans,
                              .ev = m,
                              .who = c->id,
                              .who_worker = c->w->index};
    if (c->nchans > 0)
        chan_net_publish(srv, &chg);
    unlock_all(c);
    if (c->nchans > 0)
        pthread_mutex_unlock(&srv->chan_lock);
    for (int i = 0; i < c->nchans; i++)
        chan_unref(c->chans[i]);
    c->nchans = 0;
}

void chan_nick(struct client *c, struct event *m, int self)
{
    struct server *srv = client_srv(c);
    bool workers[WORKERS_MAX];
    uint64_t ids[CHANNELS_PER_USER];
    lock_all(c, workers, ids);
    for (int i = 0; i < c->nchans; i++) {
        struct member *mem = NULL;
        HASH_FIND(hh, c->chans[i]->members, &c->id, sizeof c->id, mem);
        if (mem)
            snprintf(mem->nick, sizeof mem->nick, "%s", c->nick);
        history_store_event(srv, m, chan_key(c->chans[i]));
    }
    struct fanout_span s = {.ids = ids, .n = c->nchans, .workers = workers};
    fanout_user_peers(srv, &s, m, self ? 0 : c->id, self ? c->id : 0, c->w->index);
    struct chan_change chg = {.kind = CC_NICK,
                              .chans = c->chans,
                              .nchans = c->nchans,
                              .ev = m,
                              .who = c->id,
                              .who_worker = c->w->index,
                              .nick = c->nick};
    if (c->nchans > 0 && m)
        chan_net_publish(srv, &chg);
    unlock_all(c);
}

int chan_shares(struct client *c, uint64_t id)
{
    int shared = 0;
    for (int i = 0; i < c->nchans && !shared; i++) {
        pthread_mutex_lock(&c->chans[i]->lock);
        shared = chan_member(c->chans[i], id) != NULL;
        pthread_mutex_unlock(&c->chans[i]->lock);
    }
    return shared;
}

int chan_member_set_userhost(struct chan *ch, uint64_t id, const char *userhost)
{
    struct member *old = chan_member(ch, id);
    size_t len = strlen(userhost);
    /* The userhost is allocated at its length: a new entry, the rest copied. */
    struct member *m = old ? pool_alloc(sizeof *m + len + 1) : NULL;
    if (!m)
        return -1;
    memcpy(m, old, sizeof *m);
    memcpy(m->userhost, userhost, len + 1);
    HASH_DEL(ch->members, old);
    HASH_ADD(hh, ch->members, id, sizeof m->id, m);
    chan_member_free(old);
    return 0;
}

/* m to everyone sharing a channel with c, whose channels lock_all has locked, on every node
 * (and to c too with self). */
static void peers_locked(struct client *c, struct event *m, int self, bool *workers, uint64_t *ids)
{
    struct server *srv = client_srv(c);
    struct fanout_span s = {.ids = ids, .n = c->nchans, .workers = workers};
    fanout_user_peers(srv, &s, m, c->id, self ? c->id : 0, c->w->index);
    struct chan_change chg = {.kind = CC_PEERS,
                              .chans = c->chans,
                              .nchans = c->nchans,
                              .ev = m,
                              .who = c->id,
                              .who_worker = c->w->index};
    if (c->nchans > 0 && m)
        chan_net_publish(srv, &chg);
}

void chan_chghost(struct client *c, struct event *m, const char *userhost)
{
    bool workers[WORKERS_MAX];
    uint64_t ids[CHANNELS_PER_USER];
    lock_all(c, workers, ids);
    for (int i = 0; i < c->nchans; i++)
        chan_member_set_userhost(c->chans[i], c->id, userhost);
    peers_locked(c, m, 0, workers, ids);
    unlock_all(c);
}

void chan_peers(struct client *c, struct event *m, int self)
{
    bool workers[WORKERS_MAX];
    uint64_t ids[CHANNELS_PER_USER];
    lock_all(c, workers, ids);
    peers_locked(c, m, self, workers, ids);
    unlock_all(c);
}

void chan_peers_each(struct client *c, mb_member_fn *fn, struct event *ev, const char *text)
{
    bool workers[WORKERS_MAX];
    uint64_t ids[CHANNELS_PER_USER];
    lock_all(c, workers, ids);
    struct fanout_span s = {.ids = ids, .n = c->nchans, .workers = workers};
    if (c->nchans > 0)
        fanout_peers_each(client_srv(c), &s, fn, ev, text, c->id);
    unlock_all(c);
}

struct msg *chan_names(struct client *c, const char *name)
{
    struct server *srv = client_srv(c);
    struct msgbuf b = {0};
    pthread_mutex_lock(&srv->chan_lock);
    struct chan *ch = table_find(srv, name);
    if (ch) {
        pthread_mutex_lock(&ch->lock);
        pthread_mutex_unlock(&srv->chan_lock);
        if (!(ch->modes & CM_SECRET) || chan_member(ch, c->id))
            names_lines(&b, c, ch);
        else
            send_reply_into(&b, c, RPL_ENDOFNAMES, chan_name(ch));
        pthread_mutex_unlock(&ch->lock);
    } else {
        pthread_mutex_unlock(&srv->chan_lock);
        send_reply_into(&b, c, RPL_ENDOFNAMES, name);
    }
    return msgbuf_finish(&b);
}

void chan_table_free(struct server *srv)
{
    struct chan *ch, *tmp;
    HASH_ITER(hh, srv->chans, ch, tmp)
    {
        HASH_DEL(srv->chans, ch);
        atomic_store(&ch->refs, 1);
        chan_unref(ch);
    }
}

void chan_kicked(struct client *c, uint64_t id)
{
    for (int i = 0; i < c->nchans; i++) {
        if (c->chans[i]->id == id) {
            struct chan *ch = c->chans[i];
            client_remove_chan(c, i);
            chan_unref(ch);
            return;
        }
    }
}

int chan_count(struct server *srv)
{
    pthread_mutex_lock(&srv->chan_lock);
    int n = (int)HASH_COUNT(srv->chans);
    pthread_mutex_unlock(&srv->chan_lock);
    return n;
}

int chan_send_status(struct client *c, const char *name, char status, struct event *m, int echo)
{
    struct server *srv = client_srv(c);
    struct chan *ch = chan_lock_name(srv, name);
    if (!ch)
        return NUM(ERR_NOSUCHCHANNEL);
    struct member *me = chan_member(ch, c->id);
    int err = may_speak(ch, me, c->source, m);
    struct chan *chs[1] = {ch};
    struct chan_change chg = {.kind = CC_MSG,
                              .chans = chs,
                              .nchans = 1,
                              .ev = m,
                              .who = c->id,
                              .who_worker = c->w->index,
                              .echo = echo,
                              .status = status};
    if (!err && chan_net_publish(srv, &chg) == 0) {
        chan_unlock(ch);
        return 0;
    }
    if (!err && has_remote(srv, ch))
        err = CHAN_NETWORK_DOWN;
    if (!err) {
        /* Ops are few: one item per recipient, posted under the channel lock, keeps them in
         * the channel's order without a status field in every worker's replica. */
        struct member *t, *tmp;
        HASH_ITER(hh, ch->members, t, tmp)
        {
            int wanted = status == '@' ? t->op : (t->op || t->voice);
            if (wanted && t->worker < srv->nworkers && (t->id != c->id || echo))
                fanout_to_client(srv, t->worker, t->id, m);
        }
    }
    chan_unlock(ch);
    return err;
}

struct chan *chan_lock_name_table(struct server *srv, const char *name)
{
    pthread_mutex_lock(&srv->chan_lock);
    struct chan *ch = table_find(srv, name);
    if (!ch) {
        pthread_mutex_unlock(&srv->chan_lock);
        return NULL;
    }
    pthread_mutex_lock(&ch->lock);
    return ch;
}

void chan_unlock_table(struct server *srv, struct chan *ch)
{
    pthread_mutex_unlock(&ch->lock);
    pthread_mutex_unlock(&srv->chan_lock);
}

void chan_kick_member(struct server *srv, struct chan *ch, struct member *t, struct event *ev)
{
    int tw = t->worker;
    struct fanout_chan f = chan_fan(ch);
    if (ev) {
        fanout_chan_kick(srv, &f, ev, t->id, tw, chan_kicked);
        history_store_event(srv, ev, chan_key(ch));
    }
    HASH_DEL(ch->members, t);
    chan_member_free(t);
    ch->nmembers--;
    if (tw < ch->nworkers) /* a member of another node is counted on none of ours */
        ch->wcount[tw]--;
    if (ch->nmembers == 0 && ch->in_table) {
        HASH_DEL(srv->chans, ch);
        ch->in_table = 0;
        atomic_fetch_sub(&ch->refs, 1); /* the kicked user's reference keeps it alive */
        chan_emptied(srv, ch);
    }
}

void chan_foreach(struct server *srv, void (*fn)(struct chan *ch, void *arg), void *arg)
{
    pthread_mutex_lock(&srv->chan_lock);
    struct chan *ch, *tmp;
    HASH_ITER(hh, srv->chans, ch, tmp)
    {
        pthread_mutex_lock(&ch->lock);
        fn(ch, arg);
        pthread_mutex_unlock(&ch->lock);
    }
    pthread_mutex_unlock(&srv->chan_lock);
}
