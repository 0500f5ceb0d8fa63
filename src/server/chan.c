/* chan: channels and the fan-out of their events to the workers' mailboxes. */
#include "chan.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "caps.h"
#include "client.h"
#include "common/ircmsg.h"
#include "common/log.h"
#include "common/utf8.h"
#include "hash.h"
#include "history.h"
#include "fanout.h"
#include "msg.h"
#include "nick.h"
#include "numerics.h"
#include "pool.h"
#include "send.h"
#include "server.h"
#include "who.h"

/* A channel's member table starts with 4 buckets, not uthash's 32 (512 bytes): most channels
 * are small, and a table grows by itself as members come (uthash doubles it when a chain
 * gets long). In rooms of 10 that is 45 bytes less per member. */
#undef HASH_INITIAL_NUM_BUCKETS
#undef HASH_INITIAL_NUM_BUCKETS_LOG2
#define HASH_INITIAL_NUM_BUCKETS      4U
#define HASH_INITIAL_NUM_BUCKETS_LOG2 2U

struct member {
    uint64_t id; /* client id: the hash key */
    int worker;
    unsigned op : 1;
    unsigned voice : 1;
    UT_hash_handle hh;
    char nick[IRC_NICK_MAX + 1];
    char userhost[]; /* "user@host", for userhost-in-names, allocated at its length */
};

/* Channel modes without a parameter (CHANMODES type D). */
enum {
    CM_INVITE = 1 << 0,     /* i: join by invitation only */
    CM_MODERATED = 1 << 1,  /* m: only ops and voiced users speak */
    CM_NOEXTERNAL = 1 << 2, /* n: only members send to it */
    CM_SECRET = 1 << 3,     /* s: hidden from LIST and WHOIS of non-members */
    CM_TOPICLOCK = 1 << 4,  /* t: only ops set the topic */
};

static const struct {
    char letter;
    unsigned bit;
} flag_modes[] = {{'i', CM_INVITE},
                  {'m', CM_MODERATED},
                  {'n', CM_NOEXTERNAL},
                  {'s', CM_SECRET},
                  {'t', CM_TOPICLOCK}};

/* The list modes: bans (+b), ban exceptions (+e), invite exceptions (+I). */
enum { LIST_BAN, LIST_EXCEPT, LIST_INVEX, LIST_KINDS };

struct mask_entry {
    char mask[MASK_MAX + 1];
    char set_by[SOURCE_MAX + 1];
    time_t set_at;
};

struct mask_list {
    struct mask_entry *v;
    int n, cap;
};

static const struct {
    char letter;
    int item; /* RPL_BANLIST and its kin (one format for the three) */
} list_modes[LIST_KINDS] = {
    {'b', NUM(RPL_BANLIST)},
    {'e', NUM(RPL_EXCEPTLIST)},
    {'I', NUM(RPL_INVITELIST)},
};

static int list_kind(char letter)
{
    for (int i = 0; i < LIST_KINDS; i++) {
        if (list_modes[i].letter == letter)
            return i;
    }
    return -1;
}

/* Turns "nick", "user@host" or "nick!user" into a full nick!user@host mask. */
static void mask_normalise(const char *in, char *out, size_t cap)
{
    const char *bang = strchr(in, '!'), *at = strchr(in, '@');
    if (bang && at)
        snprintf(out, cap, "%s", in);
    else if (at)
        snprintf(out, cap, "*!%s", in);
    else if (bang)
        snprintf(out, cap, "%s@*", in);
    else
        snprintf(out, cap, "%s!*@*", in);
}

static int list_matches(const struct mask_list *l, const char *source)
{
    for (int i = 0; i < l->n; i++) {
        if (ircname_match(l->v[i].mask, source))
            return 1;
    }
    return 0;
}

struct chan {
    uint64_t id;                    /* fixed at creation: orders channel locks */
    char key[IRC_CHANNEL_MAX + 1];  /* folded name, the table key */
    char name[IRC_CHANNEL_MAX + 1]; /* as first created */
    UT_hash_handle hh;              /* in srv->chans, under srv->chan_lock */
    atomic_int refs;                /* the table's, plus one per joined client */
    pthread_mutex_t lock;           /* guards everything below */
    struct member *members;
    unsigned nmembers;
    unsigned *wcount; /* members on each worker (nworkers of them) */
    int nworkers;
    int in_table;   /* still in srv->chans (also under srv->chan_lock) */
    unsigned modes; /* CM_* */
    char chkey[KEY_MAX + 1];
    unsigned limit; /* 0: none */
    time_t created;
    /* Allocated only when used, so the many small channels of a big network stay small: */
    char *topic; /* "text\0nick!user@host\0" (topic_by), or NULL when none is set */
    time_t topic_at;
    uint64_t *invites; /* INVITES_MAX client ids invited while +i matters, or NULL */
    int ninvites;
    struct mask_list lists[LIST_KINDS]; /* +b bans, +e exceptions, +I invite exceptions */
};

/* Who set the topic (only while ch->topic is set). */
static const char *topic_by(const struct chan *ch)
{
    return ch->topic + strlen(ch->topic) + 1;
}

const char *chan_name(const struct chan *ch)
{
    return ch->name;
}

uint64_t chan_id(const struct chan *ch)
{
    return ch->id;
}

static void member_free(struct member *m)
{
    if (m)
        pool_free(m, sizeof *m + strlen(m->userhost) + 1);
}

static void chan_unref(struct chan *ch)
{
    if (atomic_fetch_sub(&ch->refs, 1) != 1)
        return;
    struct member *m, *tmp;
    HASH_ITER(hh, ch->members, m, tmp)
    {
        /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): false positive, delete in HASH_ITER */
        HASH_DEL(ch->members, m);
        member_free(m);
    }
    pthread_mutex_destroy(&ch->lock);
    for (int i = 0; i < LIST_KINDS; i++)
        free(ch->lists[i].v);
    free(ch->topic);
    free(ch->invites);
    pool_free(ch->wcount, (size_t)ch->nworkers * sizeof *ch->wcount);
    pool_free(ch, sizeof *ch);
}

static struct chan *chan_create(struct server *srv, const char *name, const char *key)
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
    snprintf(ch->key, sizeof ch->key, "%s", key);
    snprintf(ch->name, sizeof ch->name, "%s", name);
    return ch;
}

int chan_find_joined(const struct client *c, const char *name)
{
    for (int i = 0; i < c->nchans; i++) {
        if (ircname_cmp(c->chans[i]->name, name) == 0)
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

/* ch as the fan-out sees it (ch locked while it is used). */
static struct fanout_chan fan(const struct chan *ch)
{
    return (struct fanout_chan){.id = ch->id, .key = ch->key, .wcount = ch->wcount};
}

static const char *member_prefix(const struct member *m)
{
    return m->op ? "@" : m->voice ? "+" : "";
}

/* The prefixes shown to c: all of them with multi-prefix, else the highest. */
static const char *member_prefixes(const struct member *m, const struct client *c)
{
    if ((c->caps & CAP_MULTI_PREFIX) && m->op && m->voice)
        return "@+";
    return member_prefix(m);
}

static struct member *find_member(struct chan *ch, uint64_t id)
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
                        "%c %s :", (ch->modes & CM_SECRET) ? '@' : '=', ch->name);
    head = head < 0 ? 0 : head + (int)start;
    if ((size_t)head >= sizeof line / 2)
        head = 0; /* cannot happen: the names are bounded well below that */
    size_t len = (size_t)head;
    int uh = (c->caps & CAP_USERHOST_IN_NAMES) != 0; /* nick!user@host instead of the nick */
    struct member *m, *tmp;
    HASH_ITER(hh, ch->members, m, tmp)
    {
        const char *prefix = member_prefixes(m, c);
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
    send_reply_into(b, c, RPL_ENDOFNAMES, ch->name);
}

static int invited(const struct chan *ch, uint64_t id)
{
    for (int i = 0; i < ch->ninvites; i++) {
        if (ch->invites[i] == id)
            return 1;
    }
    return 0;
}

/* May c join ch (locked) with key? 0 or the error numeric. */
/* Adds or removes mask on list kind of ch (locked). Returns 0 when the list changed. */
static int list_edit(struct chan *ch, int kind, int adding, const char *mask, const char *by)
{
    struct mask_list *l = &ch->lists[kind];
    for (int i = 0; i < l->n; i++) {
        if (ircname_cmp(l->v[i].mask, mask) == 0) {
            if (adding)
                return -1; /* already there */
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
    e->set_at = time(NULL);
    return 0;
}

static int banned(const struct chan *ch, const char *source)
{
    return list_matches(&ch->lists[LIST_BAN], source) &&
           !list_matches(&ch->lists[LIST_EXCEPT], source);
}

static int join_check(const struct chan *ch, const struct client *c, const char *key)
{
    if (ch->nmembers == 0)
        return 0;
    /* An invitation lets one past +i, +k, +l and bans; +I lets one past +i. */
    int inv = invited(ch, c->id);
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

/* History replay for a joiner of ch (locked) whose client does not ask for it itself
 * (draft/chathistory): queued behind the JOIN, so that it holds exactly what was said before
 * it. */
static void replay(struct client *c, const struct chan *ch)
{
    struct server *srv = client_srv(c);
    if (!srv->hist || srv->cfg.history_replay <= 0 || (c->caps & CAP_CHATHISTORY) ||
        !history_has(srv, ch->key))
        return;
    struct hist_query *q = calloc(1, sizeof *q);
    if (!q)
        return;
    q->op = HOP_REPLAY;
    q->worker = c->w->index;
    q->client = c->id;
    q->caps = c->caps;
    q->limit = srv->cfg.history_replay;
    snprintf(q->target, sizeof q->target, "%s", ch->name);
    snprintf(q->key, sizeof q->key, "%s", ch->key);
    history_query(srv, q);
    free(q);
}

int chan_join(struct client *c, const char *name, const char *key)
{
    struct server *srv = client_srv(c);
    if (chan_find_joined(c, name) >= 0)
        return 0;
    if (c->nchans >= CHANNELS_PER_USER)
        return NUM(ERR_TOOMANYCHANNELS);
    char userhost[USER_MAX + 1 + HOST_MAX];
    snprintf(userhost, sizeof userhost, "%s@%s", c->user, c->host);
    size_t uhlen = strlen(userhost);
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
        ch = chan_create(srv, name, fold);
        if (!ch) {
            pthread_mutex_unlock(&srv->chan_lock);
            goto oom;
        }
        HASH_ADD_STR(srv->chans, key, ch);
    }
    pthread_mutex_lock(&ch->lock);
    pthread_mutex_unlock(&srv->chan_lock);
    int err = join_check(ch, c, key);
    struct event *join = err ? NULL : event_new(NULL, ":%s JOIN %s", c->source, ch->name);
    if (join)
        snprintf(join->account, sizeof join->account, "%s", c->account);
    if (join && event_set_ext(join, ":%s JOIN %s %s :%s", c->source, ch->name,
                              c->account[0] ? c->account : "*", c->realname) < 0) {
        event_unref(join);
        join = NULL;
    }
    /* Our membership holds a reference: the channel outlives the table entry while we are in
     * it. */
    if (err || !join || client_add_chan(c, ch) < 0) {
        /* A channel created just now stays empty in the table; the next JOIN fills it. */
        pthread_mutex_unlock(&ch->lock);
        member_free(mem);
        event_unref(join);
        return err ? err : NUM(ERR_UNKNOWNERROR);
    }
    atomic_fetch_add(&ch->refs, 1);
    for (int i = 0; i < ch->ninvites; i++) {
        if (ch->invites[i] == c->id)
            ch->invites[i--] = ch->invites[--ch->ninvites]; /* an invitation is used once */
    }
    mem->id = c->id;
    mem->worker = c->w->index;
    mem->op = ch->nmembers == 0;
    snprintf(mem->nick, sizeof mem->nick, "%s", c->nick);
    HASH_ADD(hh, ch->members, id, sizeof mem->id, mem);
    ch->nmembers++;
    ch->wcount[c->w->index]++;

    struct msgbuf b = {0};
    if (ch->topic) {
        send_reply_into(&b, c, RPL_TOPIC, ch->name, ch->topic);
        send_reply_into(&b, c, RPL_TOPICWHOTIME, ch->name, topic_by(ch), (long long)ch->topic_at);
    }
    names_lines(&b, c, ch);
    struct msg *extra = msgbuf_finish(&b);
    struct fanout_chan f = fan(ch);
    fanout_chan_join(srv, &f, join, c->id, c->w->index);
    replay(c, ch);
    pthread_mutex_unlock(&ch->lock);
    /* The joiner sees its JOIN, the topic and NAMES at once, as the reply to its command
     * (labeled with it, under labeled-response), ahead of anything said after it joined,
     * which reaches it only once its worker has handled the MB_JOIN. */
    send_msg(c, event_render(join, c->variant));
    send_msg(c, extra);
    msg_unref(extra);
    event_unref(join);
    return 0;
oom:
    log_error("out of memory joining %s", name);
    member_free(mem);
    return NUM(ERR_UNKNOWNERROR);
}

static int chan_exists(struct server *srv, const char *name)
{
    char key[IRC_CHANNEL_MAX + 1];
    struct chan *ch = NULL;
    ircname_fold(name, key, sizeof key);
    pthread_mutex_lock(&srv->chan_lock);
    HASH_FIND_STR(srv->chans, key, ch);
    pthread_mutex_unlock(&srv->chan_lock);
    return ch != NULL;
}

/* Removes c from ch (both locked by the caller, table too) and drops the table entry when the
 * channel empties. */
static void chan_remove_member(struct server *srv, struct chan *ch, const struct client *c)
{
    struct member *m = NULL;
    HASH_FIND(hh, ch->members, &c->id, sizeof c->id, m);
    if (m) {
        HASH_DEL(ch->members, m);
        member_free(m);
        ch->nmembers--;
        ch->wcount[c->w->index]--;
    }
    if (ch->nmembers == 0 && ch->in_table) {
        HASH_DEL(srv->chans, ch);
        ch->in_table = 0;
        atomic_fetch_sub(&ch->refs, 1); /* the table's; the caller still holds its own */
    }
}

/* Posts m for every member of ch (locked). */
static void post_members(struct server *srv, struct chan *ch, struct event *m)
{
    struct fanout_chan f = fan(ch);
    fanout_chan_event(srv, &f, m, 0, -1);
}

int chan_part(struct client *c, const char *name, const char *reason)
{
    struct server *srv = client_srv(c);
    int idx = chan_find_joined(c, name);
    if (idx < 0)
        return chan_exists(srv, name) ? NUM(ERR_NOTONCHANNEL) : NUM(ERR_NOSUCHCHANNEL);
    struct chan *ch = c->chans[idx];
    struct event *part = reason && *reason
                             ? event_new(NULL, ":%s PART %s :%s", c->source, ch->name, reason)
                             : event_new(NULL, ":%s PART %s", c->source, ch->name);
    pthread_mutex_lock(&srv->chan_lock);
    pthread_mutex_lock(&ch->lock);
    /* Not a member any more: kicked, and the KICK is still on its way to our mailbox. */
    int member = find_member(ch, c->id) != NULL;
    if (member) {
        struct fanout_chan f = fan(ch);
        fanout_chan_part(srv, &f, part, c->id, c->w->index);
        chan_remove_member(srv, ch, c);
    }
    pthread_mutex_unlock(&ch->lock);
    pthread_mutex_unlock(&srv->chan_lock);
    client_remove_chan(c, idx);
    chan_unref(ch);
    event_unref(part);
    return member ? 0 : NUM(ERR_NOTONCHANNEL);
}

/* Finds a channel by name in the table and returns it locked with a reference, or NULL. */
static struct chan *chan_get_locked(struct server *srv, const char *name)
{
    char fold[IRC_CHANNEL_MAX + 1];
    struct chan *ch = NULL;
    ircname_fold(name, fold, sizeof fold);
    pthread_mutex_lock(&srv->chan_lock);
    HASH_FIND_STR(srv->chans, fold, ch);
    if (ch) {
        pthread_mutex_lock(&ch->lock);
        atomic_fetch_add(&ch->refs, 1);
    }
    pthread_mutex_unlock(&srv->chan_lock);
    return ch;
}

static void chan_put_locked(struct chan *ch)
{
    pthread_mutex_unlock(&ch->lock);
    chan_unref(ch);
}

/* 0 if the member me (NULL: not a member) with this source may send to ch (locked), else
 * ERR_CANNOTSENDTOCHAN: +n keeps outsiders out, +m the unvoiced, a ban the banned (who keep
 * listening). */
static int may_speak(const struct chan *ch, const struct member *me, const char *source)
{
    int voiced = me && (me->op || me->voice);
    if (!me && (ch->modes & CM_NOEXTERNAL))
        return NUM(ERR_CANNOTSENDTOCHAN);
    if ((ch->modes & CM_MODERATED) && !voiced)
        return NUM(ERR_CANNOTSENDTOCHAN);
    if (!voiced && banned(ch, source))
        return NUM(ERR_CANNOTSENDTOCHAN);
    return 0;
}

int chan_send(struct client *c, const char *name, struct event *m)
{
    struct server *srv = client_srv(c);
    int idx = chan_find_joined(c, name);
    struct chan *ch;
    if (idx >= 0) {
        ch = c->chans[idx];
        pthread_mutex_lock(&ch->lock);
        atomic_fetch_add(&ch->refs, 1);
    } else if (!(ch = chan_get_locked(srv, name))) {
        return NUM(ERR_NOSUCHCHANNEL);
    }
    struct member *me = find_member(ch, c->id);
    int err = may_speak(ch, me, c->source);
    /* Stored before it is posted, under the same lock: the store has the channel's order. */
    if (!err && !m->tags_only && history_store(srv, m, ch->key) < 0)
        err = NUM(ERR_UNAVAILRESOURCE);
    if (!err) {
        /* With echo-message the sender gets its own line back, in the channel's order. */
        int echo = (c->caps & CAP_ECHO_MESSAGE) != 0;
        int own = c->w->index;
        struct fanout_chan f = fan(ch);
        /* Our own worker needs no item when we are its only member here. */
        fanout_chan_event(srv, &f, m, echo ? 0 : c->id, me && !echo ? own : -1);
        if (echo && !me) /* not a member (-n): the echo comes straight back */
            fanout_to_client(srv, own, c->id, m);
    }
    chan_put_locked(ch);
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
    for (int i = 0; i < c->nchans; i++)
        chan_remove_member(srv, c->chans[i], c);
    unlock_all(c);
    if (c->nchans > 0)
        pthread_mutex_unlock(&srv->chan_lock);
    for (int i = 0; i < c->nchans; i++)
        chan_unref(c->chans[i]);
    c->nchans = 0;
}

void chan_nick(struct client *c, struct event *m)
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
    }
    struct fanout_span s = {.ids = ids, .n = c->nchans, .workers = workers};
    fanout_user_peers(srv, &s, m, 0, c->id, c->w->index);
    unlock_all(c);
}

void chan_peers(struct client *c, struct event *m, int self)
{
    struct server *srv = client_srv(c);
    bool workers[WORKERS_MAX];
    uint64_t ids[CHANNELS_PER_USER];
    lock_all(c, workers, ids);
    struct fanout_span s = {.ids = ids, .n = c->nchans, .workers = workers};
    fanout_user_peers(srv, &s, m, c->id, self ? c->id : 0, c->w->index);
    unlock_all(c);
}

struct msg *chan_names(struct client *c, const char *name)
{
    struct server *srv = client_srv(c);
    char key[IRC_CHANNEL_MAX + 1];
    struct chan *ch = NULL;
    struct msgbuf b = {0};
    ircname_fold(name, key, sizeof key);
    pthread_mutex_lock(&srv->chan_lock);
    HASH_FIND_STR(srv->chans, key, ch);
    if (ch) {
        pthread_mutex_lock(&ch->lock);
        pthread_mutex_unlock(&srv->chan_lock);
        if (!(ch->modes & CM_SECRET) || find_member(ch, c->id))
            names_lines(&b, c, ch);
        else
            send_reply_into(&b, c, RPL_ENDOFNAMES, ch->name);
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

void chan_topic(struct client *c, const char *name, const char *text)
{
    struct server *srv = client_srv(c);
    struct chan *ch = chan_get_locked(srv, name);
    if (!ch) {
        send_reply(c, ERR_NOSUCHCHANNEL, name);
        return;
    }
    struct member *me = find_member(ch, c->id);
    if (!text) {
        if ((ch->modes & CM_SECRET) && !me) {
            send_reply(c, ERR_NOTONCHANNEL, ch->name);
        } else if (ch->topic) {
            send_reply(c, RPL_TOPIC, ch->name, ch->topic);
            send_reply(c, RPL_TOPICWHOTIME, ch->name, topic_by(ch), (long long)ch->topic_at);
        } else {
            send_reply(c, RPL_NOTOPIC, ch->name);
        }
    } else if (!me) {
        send_reply(c, ERR_NOTONCHANNEL, ch->name);
    } else if ((ch->modes & CM_TOPICLOCK) && !me->op) {
        send_reply(c, ERR_CHANOPRIVSNEEDED, ch->name);
    } else {
        size_t n = strlen(text);
        if (n > TOPIC_MAX)
            n = utf8_trim(text, TOPIC_MAX);
        size_t by = strlen(c->source);
        char *topic = n ? malloc(n + 1 + by + 1) : NULL;
        if (n && !topic) {
            send_reply(c, ERR_UNKNOWNERROR, "TOPIC", "Out of memory");
            chan_put_locked(ch);
            return;
        }
        if (topic) { /* an empty text clears the topic */
            memcpy(topic, text, n);
            topic[n] = '\0';
            memcpy(topic + n + 1, c->source, by + 1);
        }
        free(ch->topic);
        ch->topic = topic;
        ch->topic_at = time(NULL);
        char shown[TOPIC_MAX + 1];
        memcpy(shown, text, n);
        shown[n] = '\0';
        struct event *m = event_new(NULL, ":%s TOPIC %s :%s", c->source, ch->name, shown);
        if (m)
            post_members(srv, ch, m);
        event_unref(m);
    }
    chan_put_locked(ch);
}

/* The channel's modes as "+ntkl key limit"; the key only for members. */
static void mode_string(const struct chan *ch, int show_key, char *out, size_t cap)
{
    size_t n = 0;
    out[n++] = '+';
    for (size_t i = 0; i < sizeof flag_modes / sizeof flag_modes[0]; i++) {
        if (ch->modes & flag_modes[i].bit)
            out[n++] = flag_modes[i].letter;
    }
    if (ch->chkey[0])
        out[n++] = 'k';
    if (ch->limit)
        out[n++] = 'l';
    out[n] = '\0';
    if (ch->chkey[0])
        n += (size_t)snprintf(out + n, cap - n, " %s", show_key ? ch->chkey : "*");
    if (ch->limit)
        snprintf(out + n, cap - n, " %u", ch->limit);
}

static int key_valid(const char *key)
{
    size_t n = strlen(key);
    return n > 0 && n <= KEY_MAX && strcspn(key, " ,:") == n;
}

/* Appends one applied change to the MODE line being built. */
struct mode_change {
    char modes[2 * MODES_PER_LINE + 16];
    size_t nmodes;
    char sign;
    char args[IRC_LINE_MAX];
    size_t nargs;
};

static void change_add(struct mode_change *mc, char sign, char letter, const char *arg)
{
    if (mc->nmodes + 3 >= sizeof mc->modes)
        return;
    if (mc->sign != sign) {
        mc->modes[mc->nmodes++] = sign;
        mc->sign = sign;
    }
    mc->modes[mc->nmodes++] = letter;
    mc->modes[mc->nmodes] = '\0';
    if (arg && mc->nargs + strlen(arg) + 2 < sizeof mc->args)
        mc->nargs +=
            (size_t)snprintf(mc->args + mc->nargs, sizeof mc->args - mc->nargs, " %s", arg);
}

void chan_mode(struct client *c, const char *name, int nparams, char **params)
{
    struct server *srv = client_srv(c);
    /* Nick arguments are looked up before the channel is locked (the nick table comes first
     * in the lock order). */
    uint64_t ids[IRC_PARAMS_MAX] = {0};
    const char *modes = nparams > 0 ? params[0] : NULL;
    if (modes) {
        int arg = 1, adding = 1;
        for (const char *p = modes; *p && arg < nparams; p++) {
            if (*p == '+' || *p == '-') {
                adding = *p == '+';
            } else if (*p == 'o' || *p == 'v') {
                int w;
                if (nick_find(srv, params[arg], &w, &ids[arg]) < 0)
                    ids[arg] = 0;
                arg++;
            } else if (*p == 'k' || (*p == 'l' && adding) || *p == 'b' || *p == 'e' || *p == 'I') {
                arg++;
            }
        }
    }
    struct chan *ch = chan_get_locked(srv, name);
    if (!ch) {
        send_reply(c, ERR_NOSUCHCHANNEL, name);
        return;
    }
    struct member *me = find_member(ch, c->id);
    if (!modes) {
        char buf[128];
        mode_string(ch, me != NULL, buf, sizeof buf);
        send_reply(c, RPL_CHANNELMODEIS, ch->name, buf);
        send_reply(c, RPL_CREATIONTIME, ch->name, (long long)ch->created);
        chan_put_locked(ch);
        return;
    }
    struct mode_change mc = {.sign = 0};
    int arg = 1, adding = 1, with_args = 0, denied = 0;
    for (const char *p = modes; *p; p++) {
        char letter = *p;
        if (letter == '+' || letter == '-') {
            adding = letter == '+';
            continue;
        }
        int kind = list_kind(letter);
        if (kind >= 0 && arg >= nparams) {
            /* A list query: anyone may look at bans; exceptions and invexes are ops' business
             * (as on most servers), but members see them too here, which hides nothing. */
            const struct mask_list *l = &ch->lists[kind];
            for (int i = 0; i < l->n; i++)
                send_numeric(c, list_modes[kind].item, TEXT(RPL_BANLIST), ch->name, l->v[i].mask,
                             l->v[i].set_by, (long long)l->v[i].set_at);
            if (kind == LIST_BAN)
                send_reply(c, RPL_ENDOFBANLIST, ch->name);
            else if (kind == LIST_EXCEPT)
                send_reply(c, RPL_ENDOFEXCEPTLIST, ch->name);
            else
                send_reply(c, RPL_ENDOFINVITELIST, ch->name);
            continue;
        }
        unsigned bit = 0;
        for (size_t i = 0; i < sizeof flag_modes / sizeof flag_modes[0]; i++) {
            if (flag_modes[i].letter == letter)
                bit = flag_modes[i].bit;
        }
        if (!bit && kind < 0 && !strchr("klov", letter)) {
            send_reply(c, ERR_UNKNOWNMODE, letter);
            continue;
        }
        int takes_arg = letter == 'o' || letter == 'v' || letter == 'k' ||
                        (letter == 'l' && adding) || kind >= 0;
        if (takes_arg && arg >= nparams) {
            if (adding || letter != 'k')
                send_reply(c, ERR_NEEDMOREPARAMS, "MODE");
            else if (me && me->op && ch->chkey[0]) {
                ch->chkey[0] = '\0'; /* "-k" without the key still clears it */
                change_add(&mc, '-', 'k', "*");
            }
            continue;
        }
        const char *a = takes_arg ? params[arg] : NULL;
        int ai = arg;
        if (takes_arg)
            arg++;
        if (!me || !me->op) {
            if (!denied && me)
                send_reply(c, ERR_CHANOPRIVSNEEDED, ch->name);
            else if (!denied)
                send_reply(c, ERR_NOTONCHANNEL, ch->name);
            denied = 1;
            continue;
        }
        if (takes_arg && ++with_args > MODES_PER_LINE)
            continue;
        if (kind >= 0) {
            char mask[MASK_MAX + 1];
            mask_normalise(a, mask, sizeof mask);
            if (list_edit(ch, kind, adding, mask, c->source) == 0)
                change_add(&mc, adding ? '+' : '-', letter, mask);
            else if (adding && ch->lists[kind].n >= LIST_MAX)
                send_reply(c, ERR_BANLISTFULL, ch->name, letter);
        } else if (bit) {
            if (adding != !!(ch->modes & bit)) {
                ch->modes = adding ? ch->modes | bit : ch->modes & ~bit;
                change_add(&mc, adding ? '+' : '-', letter, NULL);
            }
        } else if (letter == 'k') {
            if (!adding) {
                if (ch->chkey[0]) {
                    ch->chkey[0] = '\0';
                    change_add(&mc, '-', 'k', a);
                }
            } else if (ch->chkey[0]) {
                send_reply(c, ERR_KEYSET, ch->name);
            } else if (!key_valid(a)) {
                send_reply(c, ERR_INVALIDKEY, ch->name);
            } else {
                snprintf(ch->chkey, sizeof ch->chkey, "%s", a);
                change_add(&mc, '+', 'k', a);
            }
        } else if (letter == 'l') {
            if (!adding) {
                if (ch->limit) {
                    ch->limit = 0;
                    change_add(&mc, '-', 'l', NULL);
                }
            } else {
                char *end;
                long v = strtol(a, &end, 10);
                if (*end == '\0' && v > 0 && v <= 1000000) {
                    ch->limit = (unsigned)v;
                    change_add(&mc, '+', 'l', a);
                }
            }
        } else { /* o, v */
            struct member *t = ids[ai] ? find_member(ch, ids[ai]) : NULL;
            if (!ids[ai]) {
                send_reply(c, ERR_NOSUCHNICK, a);
            } else if (!t) {
                send_reply(c, ERR_USERNOTINCHANNEL, a, ch->name);
            } else {
                if (letter == 'o')
                    t->op = adding;
                else
                    t->voice = adding;
                change_add(&mc, adding ? '+' : '-', letter, t->nick);
            }
        }
    }
    if (mc.nmodes > 0) {
        struct event *m =
            event_new(NULL, ":%s MODE %s %s%s", c->source, ch->name, mc.modes, mc.args);
        if (m)
            post_members(srv, ch, m);
        event_unref(m);
    }
    chan_put_locked(ch);
}

void chan_kick(struct client *c, const char *name, const char *nick, const char *reason)
{
    struct server *srv = client_srv(c);
    int tw;
    uint64_t tid;
    if (nick_find(srv, nick, &tw, &tid) < 0) {
        send_reply(c, ERR_NOSUCHNICK, nick);
        return;
    }
    char fold[IRC_CHANNEL_MAX + 1];
    struct chan *ch = NULL;
    ircname_fold(name, fold, sizeof fold);
    /* The table lock stays held: the kick may empty the channel. */
    pthread_mutex_lock(&srv->chan_lock);
    HASH_FIND_STR(srv->chans, fold, ch);
    if (!ch) {
        pthread_mutex_unlock(&srv->chan_lock);
        send_reply(c, ERR_NOSUCHCHANNEL, name);
        return;
    }
    pthread_mutex_lock(&ch->lock);
    struct member *me = find_member(ch, c->id);
    struct member *t = find_member(ch, tid);
    if (!me) {
        send_reply(c, ERR_NOTONCHANNEL, ch->name);
    } else if (!me->op) {
        send_reply(c, ERR_CHANOPRIVSNEEDED, ch->name);
    } else if (!t) {
        send_reply(c, ERR_USERNOTINCHANNEL, nick, ch->name);
    } else {
        char why[KICK_MAX + 1];
        const char *r = reason && *reason ? reason : c->nick;
        size_t n = strlen(r);
        if (n > KICK_MAX)
            n = utf8_trim(r, KICK_MAX);
        memcpy(why, r, n);
        why[n] = '\0';
        struct event *m = event_new(NULL, ":%s KICK %s %s :%s", c->source, ch->name, t->nick, why);
        struct fanout_chan f = fan(ch);
        if (m)
            fanout_chan_kick(srv, &f, m, tid, tw, chan_kicked);
        event_unref(m);
        HASH_DEL(ch->members, t);
        member_free(t);
        ch->nmembers--;
        ch->wcount[tw]--;
        if (ch->nmembers == 0 && ch->in_table) {
            HASH_DEL(srv->chans, ch);
            ch->in_table = 0;
            atomic_fetch_sub(&ch->refs, 1); /* the kicked user's reference keeps it alive */
        }
    }
    pthread_mutex_unlock(&ch->lock);
    pthread_mutex_unlock(&srv->chan_lock);
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

void chan_invite(struct client *c, const char *nick, const char *name)
{
    struct server *srv = client_srv(c);
    struct nick_info info;
    if (nick_info(srv, nick, &info) < 0 || !info.registered) {
        send_reply(c, ERR_NOSUCHNICK, nick);
        return;
    }
    struct chan *ch = chan_get_locked(srv, name);
    if (!ch) {
        send_reply(c, ERR_NOSUCHCHANNEL, name);
        return;
    }
    struct member *me = find_member(ch, c->id);
    int ok = 0;
    if (!me) {
        send_reply(c, ERR_NOTONCHANNEL, ch->name);
    } else if ((ch->modes & CM_INVITE) && !me->op) {
        send_reply(c, ERR_CHANOPRIVSNEEDED, ch->name);
    } else if (find_member(ch, info.id)) {
        send_reply(c, ERR_USERONCHANNEL, info.nick, ch->name);
    } else {
        if (!ch->invites && !(ch->invites = calloc(INVITES_MAX, sizeof ch->invites[0]))) {
            send_reply(c, ERR_UNKNOWNERROR, "INVITE", "Out of memory");
            chan_put_locked(ch);
            return;
        }
        if (!invited(ch, info.id)) {
            if (ch->ninvites == INVITES_MAX) { /* forget the oldest */
                memmove(ch->invites, ch->invites + 1, (INVITES_MAX - 1) * sizeof ch->invites[0]);
                ch->ninvites--;
            }
            ch->invites[ch->ninvites++] = info.id;
        }
        ok = 1;
        /* invite-notify: members who asked see who was invited (not the two involved). */
        struct event *note = event_new(NULL, ":%s INVITE %s %s", c->source, info.nick, ch->name);
        if (note) {
            note->need_cap = CAP_INVITE_NOTIFY;
            struct fanout_chan f = fan(ch);
            fanout_chan_event(srv, &f, note, c->id, -1);
        }
        event_unref(note);
    }
    char chname[IRC_CHANNEL_MAX + 1];
    snprintf(chname, sizeof chname, "%s", ch->name);
    chan_put_locked(ch);
    if (!ok)
        return;
    send_reply(c, RPL_INVITING, info.nick, chname);
    struct event *m = event_new(NULL, ":%s INVITE %s %s", c->source, info.nick, chname);
    if (m)
        fanout_to_client(srv, info.worker, info.id, m);
    event_unref(m);
}

/* One member as seen by WHO: copied out so no lock is held while the nick table is read. */
struct who_row {
    char nick[IRC_NICK_MAX + 1];
    char prefix[3];
};

void chan_who(struct client *c, const char *name, const struct who_query *q)
{
    struct server *srv = client_srv(c);
    struct chan *ch = chan_get_locked(srv, name);
    struct who_row *rows = NULL;
    unsigned n = 0;
    char chname[IRC_CHANNEL_MAX + 1];
    snprintf(chname, sizeof chname, "%s", name);
    if (ch) {
        snprintf(chname, sizeof chname, "%s", ch->name);
        int visible = !(ch->modes & CM_SECRET) || find_member(ch, c->id);
        rows = visible ? calloc(ch->nmembers ? ch->nmembers : 1, sizeof *rows) : NULL;
        struct member *m, *tmp;
        HASH_ITER(hh, ch->members, m, tmp)
        {
            if (!rows)
                break;
            snprintf(rows[n].nick, sizeof rows[n].nick, "%s", m->nick);
            snprintf(rows[n].prefix, sizeof rows[n].prefix, "%s", member_prefixes(m, c));
            n++;
        }
        chan_put_locked(ch);
    }
    for (unsigned i = 0; i < n; i++) {
        struct nick_info info;
        if (nick_info(srv, rows[i].nick, &info) < 0)
            continue;
        who_reply(c, chname, &info, rows[i].prefix, q);
    }
    free(rows);
    send_reply(c, RPL_ENDOFWHO, chname);
}

void chan_whois_channels(struct client *c, const struct nick_info *who)
{
    struct server *srv = client_srv(c);
    char line[IRC_LINE_MAX];
    size_t len = 0;
    size_t room = IRC_LINE_MAX - 2 - 64 - strlen(who->nick); /* prefix, numeric, names */
    pthread_mutex_lock(&srv->chan_lock);
    struct chan *ch, *tmp;
    HASH_ITER(hh, srv->chans, ch, tmp)
    {
        pthread_mutex_lock(&ch->lock);
        struct member *t = find_member(ch, who->id);
        if (t && (!(ch->modes & CM_SECRET) || find_member(ch, c->id) || c->id == who->id)) {
            if (len + strlen(ch->name) + 2 > room) {
                send_reply(c, RPL_WHOISCHANNELS, who->nick, line);
                len = 0;
            }
            len += (size_t)snprintf(line + len, sizeof line - len, "%s%s%s", len ? " " : "",
                                    member_prefix(t), ch->name);
        }
        pthread_mutex_unlock(&ch->lock);
    }
    pthread_mutex_unlock(&srv->chan_lock);
    if (len)
        send_reply(c, RPL_WHOISCHANNELS, who->nick, line);
}

static int match_any(const char *const *masks, int n, const char *name)
{
    for (int i = 0; i < n; i++) {
        if (ircname_match(masks[i], name))
            return 1;
    }
    return n == 0;
}

void chan_list(struct client *c, const char *const *masks, int nmasks)
{
    struct server *srv = client_srv(c);
    send_reply(c, RPL_LISTSTART);
    pthread_mutex_lock(&srv->chan_lock);
    struct chan *ch, *tmp;
    HASH_ITER(hh, srv->chans, ch, tmp)
    {
        pthread_mutex_lock(&ch->lock);
        int visible = !(ch->modes & CM_SECRET) || find_member(ch, c->id);
        if (visible && match_any(masks, nmasks, ch->name))
            send_reply(c, RPL_LIST, ch->name, ch->nmembers, ch->topic ? ch->topic : "");
        pthread_mutex_unlock(&ch->lock);
    }
    pthread_mutex_unlock(&srv->chan_lock);
    send_reply(c, RPL_LISTEND);
}

int chan_count(struct server *srv)
{
    pthread_mutex_lock(&srv->chan_lock);
    int n = (int)HASH_COUNT(srv->chans);
    pthread_mutex_unlock(&srv->chan_lock);
    return n;
}

int chan_send_status(struct client *c, const char *name, char status, struct event *m)
{
    struct server *srv = client_srv(c);
    struct chan *ch = chan_get_locked(srv, name);
    if (!ch)
        return NUM(ERR_NOSUCHCHANNEL);
    struct member *me = find_member(ch, c->id);
    int err = may_speak(ch, me, c->source);
    if (!err) {
        /* Ops are few: one item per recipient, posted under the channel lock, keeps them in
         * the channel's order without a status field in every worker's replica. */
        int echo = (c->caps & CAP_ECHO_MESSAGE) != 0;
        struct member *t, *tmp;
        HASH_ITER(hh, ch->members, t, tmp)
        {
            int wanted = status == '@' ? t->op : (t->op || t->voice);
            if (wanted && (t->id != c->id || echo))
                fanout_to_client(srv, t->worker, t->id, m);
        }
    }
    chan_put_locked(ch);
    return err;
}
