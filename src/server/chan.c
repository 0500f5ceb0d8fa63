/* chan: channels and the fan-out of their events to the workers' mailboxes. */
#include "chan.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "client.h"
#include "common/ircmsg.h"
#include "common/log.h"
#include "mailbox.h"
#include "msg.h"
#include "numerics.h"
#include "server.h"
#include "worker.h"

struct member {
    uint64_t id; /* client id: the hash key */
    int worker;
    char nick[IRC_NICK_MAX + 1];
    unsigned op : 1;
    UT_hash_handle hh;
};

struct chan {
    uint64_t id;                    /* fixed at creation: orders channel locks */
    char key[IRC_CHANNEL_MAX + 1];  /* folded name, the table key */
    char name[IRC_CHANNEL_MAX + 1]; /* as first created */
    UT_hash_handle hh;              /* in srv->chans, under srv->chan_lock */
    atomic_int refs;                /* the table's, plus one per joined client */
    pthread_mutex_t lock;           /* guards everything below */
    struct member *members;
    unsigned nmembers;
    unsigned *wcount; /* members on each worker */
    char topic[TOPIC_MAX + 1];
};

const char *chan_name(const struct chan *ch)
{
    return ch->name;
}

uint64_t chan_id(const struct chan *ch)
{
    return ch->id;
}

static struct server *client_srv(const struct client *c)
{
    return c->w->srv;
}

static void chan_unref(struct chan *ch)
{
    if (atomic_fetch_sub(&ch->refs, 1) != 1)
        return;
    struct member *m, *tmp;
    HASH_ITER(hh, ch->members, m, tmp)
    {
        HASH_DEL(ch->members, m);
        free(m);
    }
    pthread_mutex_destroy(&ch->lock);
    free(ch->wcount);
    free(ch);
}

static struct chan *chan_create(struct server *srv, const char *name, const char *key)
{
    struct chan *ch = calloc(1, sizeof *ch);
    if (!ch)
        return NULL;
    ch->wcount = calloc((size_t)srv->nworkers, sizeof *ch->wcount);
    if (!ch->wcount || pthread_mutex_init(&ch->lock, NULL) != 0) {
        free(ch->wcount);
        free(ch);
        return NULL;
    }
    ch->id = atomic_fetch_add(&srv->next_chan_id, 1) + 1;
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
        struct chan **n = realloc(c->chans, (size_t)ncap * sizeof *n);
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

/* Posts one item to worker w. On allocation failure the event is lost for that worker's
 * members: logged, since there is nothing better to do while holding locks. */
static void post(struct server *srv, int w, enum mb_kind kind, struct msg *m, struct msg *extra,
                 uint64_t skip, const struct client *target, const uint64_t *chans, int nchans)
{
    struct mb_item *it = mailbox_item_new(kind, nchans);
    if (!it) {
        log_error("out of memory posting to worker %d", w);
        return;
    }
    it->msg = m ? msg_ref(m) : NULL;
    it->extra = extra ? msg_ref(extra) : NULL;
    it->skip = skip;
    if (target) {
        it->target = target->id;
        it->target_worker = target->w->index;
    }
    memcpy(it->chans, chans, (size_t)nchans * sizeof chans[0]);
    mailbox_post(&srv->workers[w].mb, it);
}

/* Appends the NAMES lines of ch (locked) for c to b. */
static void names_lines(struct msgbuf *b, const struct client *c, struct chan *ch)
{
    const char *srvname = client_srv(c)->cfg.server_name;
    char line[IRC_LINE_MAX];
    int head =
        snprintf(line, sizeof line, ":%s %03d %s = %s :", srvname, RPL_NAMREPLY, c->nick, ch->name);
    size_t len = (size_t)head;
    struct member *m, *tmp;
    HASH_ITER(hh, ch->members, m, tmp)
    {
        size_t need = strlen(m->nick) + (m->op ? 1 : 0) + 1;
        if (len + need > IRC_LINE_MAX - 2 && len > (size_t)head) {
            line[len - 1] = '\0'; /* drop the trailing space */
            msgbuf_line(b, "%s", line);
            len = (size_t)head;
        }
        len += (size_t)snprintf(line + len, sizeof line - len, "%s%s ", m->op ? "@" : "", m->nick);
    }
    if (len > (size_t)head) {
        line[len - 1] = '\0';
        msgbuf_line(b, "%s", line);
    }
    msgbuf_line(b, ":%s %03d %s %s :End of /NAMES list", srvname, RPL_ENDOFNAMES, c->nick,
                ch->name);
}

int chan_join(struct client *c, const char *name)
{
    struct server *srv = client_srv(c);
    if (chan_find_joined(c, name) >= 0)
        return 0;
    if (c->nchans >= CHANNELS_PER_USER)
        return ERR_TOOMANYCHANNELS;
    struct member *mem = calloc(1, sizeof *mem);
    struct msg *join = msg_printf(":%s JOIN %s", c->source, name);
    if (!mem || !join)
        goto oom;
    char key[IRC_CHANNEL_MAX + 1];
    ircname_fold(name, key, sizeof key);

    pthread_mutex_lock(&srv->chan_lock);
    struct chan *ch = NULL;
    HASH_FIND_STR(srv->chans, key, ch);
    if (!ch) {
        ch = chan_create(srv, name, key);
        if (!ch) {
            pthread_mutex_unlock(&srv->chan_lock);
            goto oom;
        }
        HASH_ADD_STR(srv->chans, key, ch);
    }
    pthread_mutex_lock(&ch->lock);
    pthread_mutex_unlock(&srv->chan_lock);
    /* Our membership holds a reference: the channel outlives the table entry while we are in
     * it. */
    if (client_add_chan(c, ch) < 0) {
        pthread_mutex_unlock(&ch->lock);
        goto oom; /* the channel may now be empty; the next JOIN or the exit reclaims it */
    }
    atomic_fetch_add(&ch->refs, 1);
    mem->id = c->id;
    mem->worker = c->w->index;
    mem->op = ch->nmembers == 0;
    snprintf(mem->nick, sizeof mem->nick, "%s", c->nick);
    HASH_ADD(hh, ch->members, id, sizeof mem->id, mem);
    ch->nmembers++;
    ch->wcount[c->w->index]++;

    struct msgbuf b = {0};
    if (ch->topic[0])
        msgbuf_line(&b, ":%s %03d %s %s :%s", srv->cfg.server_name, RPL_TOPIC, c->nick, ch->name,
                    ch->topic);
    names_lines(&b, c, ch);
    struct msg *extra = msgbuf_finish(&b);
    for (int w = 0; w < srv->nworkers; w++) {
        if (ch->wcount[w] > 0)
            post(srv, w, MB_JOIN, join, w == c->w->index ? extra : NULL, 0, c, &ch->id, 1);
    }
    pthread_mutex_unlock(&ch->lock);
    msg_unref(extra);
    msg_unref(join);
    return 0;
oom:
    log_error("out of memory joining %s", name);
    free(mem);
    msg_unref(join);
    return ERR_UNKNOWNERROR;
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
        free(m);
        ch->nmembers--;
        ch->wcount[c->w->index]--;
    }
    if (ch->nmembers == 0) {
        HASH_DEL(srv->chans, ch);
        atomic_fetch_sub(&ch->refs, 1); /* the table's; the caller still holds its own */
    }
}

int chan_part(struct client *c, const char *name, const char *reason)
{
    struct server *srv = client_srv(c);
    int idx = chan_find_joined(c, name);
    if (idx < 0)
        return chan_exists(srv, name) ? ERR_NOTONCHANNEL : ERR_NOSUCHCHANNEL;
    struct chan *ch = c->chans[idx];
    struct msg *part = reason && *reason
                           ? msg_printf(":%s PART %s :%s", c->source, ch->name, reason)
                           : msg_printf(":%s PART %s", c->source, ch->name);
    pthread_mutex_lock(&srv->chan_lock);
    pthread_mutex_lock(&ch->lock);
    for (int w = 0; w < srv->nworkers; w++) {
        if (ch->wcount[w] > 0)
            post(srv, w, MB_PART, part, NULL, 0, c, &ch->id, 1);
    }
    chan_remove_member(srv, ch, c);
    pthread_mutex_unlock(&ch->lock);
    pthread_mutex_unlock(&srv->chan_lock);
    client_remove_chan(c, idx);
    chan_unref(ch);
    msg_unref(part);
    return 0;
}

int chan_send(struct client *c, const char *name, struct msg *m)
{
    struct server *srv = client_srv(c);
    int idx = chan_find_joined(c, name);
    if (idx < 0)
        return chan_exists(srv, name) ? ERR_CANNOTSENDTOCHAN : ERR_NOSUCHCHANNEL;
    struct chan *ch = c->chans[idx];
    int own = c->w->index;
    pthread_mutex_lock(&ch->lock);
    for (int w = 0; w < srv->nworkers; w++) {
        /* Our own worker needs no item when we are its only member here. */
        if (ch->wcount[w] > (w == own ? 1u : 0u))
            post(srv, w, MB_CHAN_MSG, m, NULL, c->id, NULL, &ch->id, 1);
    }
    pthread_mutex_unlock(&ch->lock);
    return 0;
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

void chan_quit(struct client *c, struct msg *m)
{
    struct server *srv = client_srv(c);
    bool workers[WORKERS_MAX];
    uint64_t ids[CHANNELS_PER_USER];
    if (c->nchans > 0)
        pthread_mutex_lock(&srv->chan_lock);
    lock_all(c, workers, ids);
    for (int w = 0; w < srv->nworkers; w++) {
        if (workers[w])
            post(srv, w, MB_QUIT, m, NULL, 0, c, ids, c->nchans);
    }
    for (int i = 0; i < c->nchans; i++)
        chan_remove_member(srv, c->chans[i], c);
    unlock_all(c);
    if (c->nchans > 0)
        pthread_mutex_unlock(&srv->chan_lock);
    for (int i = 0; i < c->nchans; i++)
        chan_unref(c->chans[i]);
    c->nchans = 0;
}

void chan_nick(struct client *c, struct msg *m)
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
    for (int w = 0; w < srv->nworkers; w++) {
        if (workers[w])
            post(srv, w, MB_NICK, m, NULL, 0, c, ids, c->nchans);
    }
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
        names_lines(&b, c, ch);
        pthread_mutex_unlock(&ch->lock);
    } else {
        pthread_mutex_unlock(&srv->chan_lock);
        msgbuf_line(&b, ":%s %03d %s %s :End of /NAMES list", srv->cfg.server_name, RPL_ENDOFNAMES,
                    c->nick, name);
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
