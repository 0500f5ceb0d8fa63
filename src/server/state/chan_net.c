/* chan_net: what other nodes did to channels, applied to this node's replicas (chan_net.h).
 * Runs on the cluster thread, with the locks of chan.c in its order (table, then channels
 * by ascending id). Lines come from Redis: they are checked like any input before they are
 * relayed. */
#include "chan_net.h"
#include "chan-t.h"
#include "chan.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "core/caps.h"
#include "core/event.h"
#include "core/fanout.h"
#include "core/pool.h"
#include "core/server.h"
#include "store/history.h"

/* The most channels one user's event spans: its own, all servers' (QUIT, NICK). */
#define SPAN_MAX CHANNELS_PER_USER

int chan_net_publish(struct server *srv, const struct chan_change *chg)
{
    if (!srv->remote.chan)
        return -1;
    struct chan *ch = chg->chans[0];
    if (chg->meta || chg->nedits) {
        ch->net_seq++;
        for (int i = 0; i < CHAN_META_PARTS; i++)
            if (chg->meta & 1u << i)
                ch->net_part_seq[i] = ch->net_seq;
        if (chg->nedits)
            ch->net_part_seq[CHAN_META_EDITS] = ch->net_seq;
    }
    return srv->remote.chan(srv->remote.arg, chg);
}

void chan_meta_get(const struct chan *ch, struct chan_meta *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", chan_name(ch));
    out->created = (long long)ch->created;
    out->modes = ch->modes;
    snprintf(out->chkey, sizeof out->chkey, "%s", ch->chkey);
    out->limit = ch->limit;
    if (ch->topic) {
        out->has_topic = 1;
        snprintf(out->topic, sizeof out->topic, "%s", ch->topic);
        snprintf(out->topic_by, sizeof out->topic_by, "%s", chan_topic_by(ch));
        out->topic_at = (long long)ch->topic_at;
    }
    out->ninvites = ch->ninvites < INVITES_MAX ? ch->ninvites : INVITES_MAX;
    if (out->ninvites)
        memcpy(out->invites, ch->invites, (size_t)out->ninvites * sizeof out->invites[0]);
}

/* Sets the parts (CHAN_META_*) of ch's (locked) settings from m; the others stay: m is a
 * whole copy of the settings as its node had them, and those may be older than ours. */
static void meta_set(struct chan *ch, const struct chan_meta *m, unsigned parts)
{
    if (parts & CHAN_META_CREATED)
        ch->created = (time_t)m->created;
    if (parts & CHAN_META_MODES)
        ch->modes = m->modes & (CM_INVITE | CM_MODERATED | CM_NOEXTERNAL | CM_SECRET |
                                CM_TOPICLOCK | CM_NOCTCP);
    if (parts & CHAN_META_KEY)
        snprintf(ch->chkey, sizeof ch->chkey, "%s", m->chkey);
    if (parts & CHAN_META_LIMIT)
        ch->limit = m->limit;
    if (parts & CHAN_META_TOPIC) {
        free(ch->topic);
        ch->topic = NULL;
        if (m->has_topic) {
            size_t n = strlen(m->topic), by = strlen(m->topic_by);
            ch->topic = malloc(n + 1 + by + 1);
            if (ch->topic) { /* "text\0nick!user@host\0" (chan_topic_by) */
                memcpy(ch->topic, m->topic, n + 1);
                memcpy(ch->topic + n + 1, m->topic_by, by + 1);
            }
            ch->topic_at = (time_t)m->topic_at;
        }
    }
    if (parts & CHAN_META_INVITES) {
        ch->ninvites = 0;
        if (m->ninvites > 0 &&
            (ch->invites || (ch->invites = calloc(INVITES_MAX, sizeof ch->invites[0])))) {
            ch->ninvites = m->ninvites < INVITES_MAX ? m->ninvites : INVITES_MAX;
            memcpy(ch->invites, m->invites, (size_t)ch->ninvites * sizeof ch->invites[0]);
        }
    }
}

/* A line from the network is one IRC line: no CR, LF or NUL inside, and not empty. */
static int line_ok(const char *line)
{
    return line[0] && !strpbrk(line, "\r\n");
}

static struct event *line_event(const char *line, unsigned need_cap)
{
    if (!line_ok(line))
        return NULL;
    struct event *ev = event_new(NULL, "%s", line);
    if (ev)
        ev->need_cap = need_cap;
    return ev;
}

/* The channel of key, locked, from the table (srv->chan_lock held); create: made (with
 * meta's name, "" for the key) when it is not there. NULL if none or without memory. */
static struct chan *find(struct server *srv, const char *key, int create, const char *name)
{
    struct chan *ch = chan_table_get(srv, key);
    if (!ch && create) {
        ch = chan_new(srv, name && name[0] ? name : key, key);
        if (!ch) {
            log_error("out of memory keeping a channel of the network");
            return NULL;
        }
        chan_table_add(srv, ch);
    }
    if (ch)
        pthread_mutex_lock(&ch->lock);
    return ch;
}

/* Drops ch (locked, table locked too) from the table if it has emptied. */
static void drop_if_empty(struct server *srv, struct chan *ch)
{
    if (ch->nmembers == 0 && ch->in_table) {
        HASH_DEL(srv->chans, ch);
        ch->in_table = 0;
        chan_emptied(srv, ch);
        /* The table's reference: the last one unless a command of ours holds the channel. */
        pthread_mutex_unlock(&ch->lock);
        chan_unref(ch);
        return;
    }
    pthread_mutex_unlock(&ch->lock);
}

static struct member *member_add(struct chan *ch, const struct chan_remote_member *mi)
{
    size_t uhlen = strlen(mi->userhost);
    struct member *m = pool_alloc(sizeof *m + uhlen + 1);
    if (!m) {
        log_error("out of memory keeping a member of a channel of the network");
        return NULL;
    }
    memcpy(m->userhost, mi->userhost, uhlen + 1);
    m->id = mi->id;
    m->worker = WORKER_REMOTE;
    m->op = mi->op != 0;
    m->voice = mi->voice != 0;
    snprintf(m->nick, sizeof m->nick, "%s", mi->nick);
    HASH_ADD(hh, ch->members, id, sizeof m->id, m);
    ch->nmembers++;
    return m;
}

void chan_net_join(struct server *srv, const char *key, const struct chan_meta *meta,
                   unsigned parts, const struct chan_remote_member *mi, const char *line,
                   const char *ext, const char *account, const char *away)
{
    struct event *ev = line_event(line, 0);
    if (!ev)
        return;
    if (ext[0] && line_ok(ext))
        event_set_ext(ev, "%s", ext);
    snprintf(ev->account, sizeof ev->account, "%s", account);
    pthread_mutex_lock(&srv->chan_lock);
    struct chan *ch = find(srv, key, 1, meta ? meta->name : NULL);
    pthread_mutex_unlock(&srv->chan_lock);
    if (ch) {
        if (meta) /* a channel new here takes them all: it has nothing older to keep */
            meta_set(ch, meta, ch->nmembers == 0 ? CHAN_META_ALL : parts);
        chan_invite_drop(ch, mi->id); /* an invitation is used once */
        if (!chan_member(ch, mi->id) && member_add(ch, mi)) {
            struct fanout_chan f = chan_fan(ch);
            fanout_chan_event(srv, &f, ev, 0, -1);
            struct event *aw = away[0] && line_ok(away) ? event_new(NULL, ":%s!%s AWAY :%s",
                                                                    mi->nick, mi->userhost, away)
                                                        : NULL;
            if (aw) { /* away-notify: an away joiner's AWAY follows its JOIN */
                aw->need_cap = CAP_AWAY_NOTIFY;
                fanout_chan_event(srv, &f, aw, 0, -1);
            }
            event_unref(aw);
        }
        pthread_mutex_unlock(&ch->lock);
    }
    event_unref(ev);
}

void chan_net_joined(struct server *srv, const char *key, uint64_t who)
{
    pthread_mutex_lock(&srv->chan_lock);
    struct chan *ch = find(srv, key, 0, NULL);
    pthread_mutex_unlock(&srv->chan_lock);
    if (ch) {
        chan_invite_drop(ch, who);
        pthread_mutex_unlock(&ch->lock);
    }
}

void chan_net_part(struct server *srv, const char *key, uint64_t who, const char *line, int kick)
{
    struct event *ev = line[0] ? line_event(line, 0) : NULL; /* none: out without a word */
    pthread_mutex_lock(&srv->chan_lock);
    struct chan *ch = find(srv, key, 0, NULL);
    struct member *t = ch ? chan_member(ch, who) : NULL;
    if (t && t->worker < srv->nworkers) {
        /* One of ours, kicked from another node: out of its list too (chan_kicked), which
         * holds the channel until then. Only its own node parts it. */
        if (kick) {
            int worker = t->worker;
            chan_kick_member(srv, ch, t, ev);
            /* And out of the network's members again, without a word: this node may have
             * put it back meanwhile (announcing its members after an outage, while a KICK
             * of that time was on its way). */
            struct chan *chs[1] = {ch};
            struct chan_change chg = {
                .kind = CC_PART, .chans = chs, .nchans = 1, .who = who, .who_worker = worker};
            chan_net_publish(srv, &chg);
        }
        pthread_mutex_unlock(&ch->lock);
    } else if (t) {
        struct fanout_chan f = chan_fan(ch);
        if (ev)
            fanout_chan_event(srv, &f, ev, 0, -1);
        HASH_DEL(ch->members, t);
        chan_member_free(t);
        ch->nmembers--;
        drop_if_empty(srv, ch);
    } else if (ch) {
        pthread_mutex_unlock(&ch->lock);
    }
    pthread_mutex_unlock(&srv->chan_lock);
    event_unref(ev);
}

/* The channels of mine and others (keys) that exist here, locked in ascending id
 * (srv->chan_lock held); is_mine says which list each came from. Returns how many. */
static int lock_keys(struct server *srv, char (*mine)[IRC_CHANNEL_MAX + 1], int n,
                     char (*others)[IRC_CHANNEL_MAX + 1], int m, struct chan **out, bool *is_mine)
{
    int k = 0;
    for (int i = 0; i < n + m && k < SPAN_MAX; i++) {
        struct chan *ch = chan_table_get(srv, i < n ? mine[i] : others[i - n]);
        bool dup = false;
        for (int j = 0; j < k && !dup; j++)
            dup = out[j] == ch;
        if (!ch || dup)
            continue;
        /* Sorted by id as they are found: a few channels, an insertion sort. */
        int j = k++;
        while (j > 0 && out[j - 1]->id > ch->id) {
            out[j] = out[j - 1];
            is_mine[j] = is_mine[j - 1];
            j--;
        }
        out[j] = ch;
        is_mine[j] = i < n;
    }
    for (int i = 0; i < k; i++)
        pthread_mutex_lock(&out[i]->lock);
    return k;
}

/* The span of chs (locked) for the fan-out: their ids and which workers have members. */
static struct fanout_span span_of(struct server *srv, struct chan **chs, int k, uint64_t *ids,
                                  bool *workers)
{
    memset(workers, 0, (size_t)srv->nworkers * sizeof *workers);
    for (int i = 0; i < k; i++) {
        ids[i] = chs[i]->id;
        for (int w = 0; w < srv->nworkers; w++)
            workers[w] = workers[w] || chs[i]->wcount[w] > 0;
    }
    return (struct fanout_span){.ids = ids, .n = k, .workers = workers};
}

void chan_net_quit(struct server *srv, uint64_t who, const char *line,
                   char (*mine)[IRC_CHANNEL_MAX + 1], int n, char (*others)[IRC_CHANNEL_MAX + 1],
                   int m)
{
    struct event *ev = line[0] ? line_event(line, 0) : NULL;
    struct chan *chs[SPAN_MAX];
    bool is_mine[SPAN_MAX], workers[WORKERS_MAX];
    uint64_t ids[SPAN_MAX];
    pthread_mutex_lock(&srv->chan_lock);
    int k = lock_keys(srv, mine, n, others, m, chs, is_mine);
    int was = 0, still = 0;
    for (int i = 0; i < k; i++) {
        if (chan_member(chs[i], who)) {
            was = was || is_mine[i];
            still = still || !is_mine[i];
        }
    }
    /* The QUIT goes out with the last of its servers' events, to everyone who shared any of
     * its channels: once, and after everything it said in any of them. */
    if (was && !still && ev) {
        struct fanout_span s = span_of(srv, chs, k, ids, workers);
        fanout_user_quit(srv, &s, ev, who, -1);
    }
    for (int i = k - 1; i >= 0; i--) {
        struct member *t = is_mine[i] ? chan_member(chs[i], who) : NULL;
        if (t && t->worker >= srv->nworkers) { /* never one of ours: they quit here */
            HASH_DEL(chs[i]->members, t);
            chan_member_free(t);
            chs[i]->nmembers--;
        }
        if (is_mine[i])
            drop_if_empty(srv, chs[i]);
        else
            pthread_mutex_unlock(&chs[i]->lock);
    }
    pthread_mutex_unlock(&srv->chan_lock);
    event_unref(ev);
}

void chan_net_nick(struct server *srv, uint64_t who, const char *nick, const char *line,
                   char (*mine)[IRC_CHANNEL_MAX + 1], int n, char (*others)[IRC_CHANNEL_MAX + 1],
                   int m)
{
    struct event *ev = line_event(line, 0);
    if (!ev || !ircname_nick_valid(nick)) {
        event_unref(ev);
        return;
    }
    struct chan *chs[SPAN_MAX];
    bool is_mine[SPAN_MAX], workers[WORKERS_MAX];
    uint64_t ids[SPAN_MAX];
    pthread_mutex_lock(&srv->chan_lock);
    int k = lock_keys(srv, mine, n, others, m, chs, is_mine);
    pthread_mutex_unlock(&srv->chan_lock);
    int was = 0, still = 0;
    for (int i = 0; i < k; i++) {
        struct member *t = chan_member(chs[i], who);
        if (t && is_mine[i]) {
            snprintf(t->nick, sizeof t->nick, "%s", nick);
            was = 1;
        } else if (t && strcmp(t->nick, nick) != 0) {
            still = 1; /* that server's rename is still to come: the NICK goes out with it */
        }
    }
    if (was && !still) {
        struct fanout_span s = span_of(srv, chs, k, ids, workers);
        fanout_user_peers(srv, &s, ev, 0, 0, -1);
    }
    for (int i = k - 1; i >= 0; i--)
        pthread_mutex_unlock(&chs[i]->lock);
    event_unref(ev);
}

void chan_net_peers(struct server *srv, uint64_t who, unsigned need_cap, const char *line,
                    char (*keys)[IRC_CHANNEL_MAX + 1], int n)
{
    struct event *ev = line_event(line, need_cap);
    if (!ev)
        return;
    struct chan *chs[SPAN_MAX];
    bool is_mine[SPAN_MAX], workers[WORKERS_MAX];
    uint64_t ids[SPAN_MAX];
    pthread_mutex_lock(&srv->chan_lock);
    int k = lock_keys(srv, keys, n, keys, 0, chs, is_mine);
    pthread_mutex_unlock(&srv->chan_lock);
    /* A CHGHOST (":nick!user@host CHGHOST <user> <host>"): the replicas' entry too. */
    char userhost[USER_MAX + 1 + HOST_MAX] = "";
    const char *verb = strchr(line, ' ');
    if (verb && strncmp(verb, " CHGHOST ", 9) == 0) {
        const char *user = verb + 9, *sp = strchr(user, ' ');
        size_t ulen = sp ? (size_t)(sp - user) : 0, hlen = sp ? strlen(sp + 1) : 0;
        if (ulen > 0 && ulen <= USER_MAX && hlen > 0 && hlen < HOST_MAX && !strchr(sp + 1, ' '))
            snprintf(userhost, sizeof userhost, "%.*s@%s", (int)ulen, user, sp + 1);
    }
    int j = 0; /* only the channels it is in */
    for (int i = 0; i < k; i++) {
        if (chan_member(chs[i], who)) {
            if (userhost[0])
                chan_member_set_userhost(chs[i], who, userhost);
            chs[j++] = chs[i];
        } else {
            pthread_mutex_unlock(&chs[i]->lock);
        }
    }
    if (j > 0) {
        struct fanout_span s = span_of(srv, chs, j, ids, workers);
        fanout_user_peers(srv, &s, ev, 0, 0, -1);
    }
    for (int i = j - 1; i >= 0; i--)
        pthread_mutex_unlock(&chs[i]->lock);
    event_unref(ev);
}

/* One edit of a MODE line to ch (locked). */
static void edit_apply(struct chan *ch, const struct chan_edit *e)
{
    int adding = e->sign == '+';
    if (e->letter == 'i') { /* an invitation of member id */
        if (!e->id)
            return;
        if (!adding)
            chan_invite_drop(ch, e->id);
        else if (chan_invite_add(ch, e->id) < 0)
            log_error("out of memory keeping an invitation of the network");
        return;
    }
    if (e->letter == 'o' || e->letter == 'v') {
        struct member *t = chan_member(ch, e->id);
        if (t && e->letter == 'o')
            t->op = adding;
        else if (t)
            t->voice = adding;
        return;
    }
    int kind = e->letter == 'b'   ? LIST_BAN
               : e->letter == 'e' ? LIST_EXCEPT
               : e->letter == 'I' ? LIST_INVEX
                                  : -1;
    if (kind >= 0 && e->mask && e->mask[0])
        chan_list_edit(ch, kind, adding, e->mask, e->set_by ? e->set_by : "", (time_t)e->set_at,
                       NULL);
}

void chan_net_meta(struct server *srv, const char *key, const struct chan_meta *meta,
                   unsigned parts, const struct chan_edit *edits, int nedits, const char *line,
                   unsigned need_cap, uint64_t invitee, int invitee_worker, const char *invite_line)
{
    struct event *ev = line_event(line, need_cap);
    pthread_mutex_lock(&srv->chan_lock);
    struct chan *ch = find(srv, key, 0, NULL);
    pthread_mutex_unlock(&srv->chan_lock);
    if (!ch) {
        event_unref(ev);
        return;
    }
    if (meta)
        meta_set(ch, meta, parts);
    for (int i = 0; i < nedits; i++)
        edit_apply(ch, &edits[i]);
    if (ev) {
        struct fanout_chan f = chan_fan(ch);
        fanout_chan_event(srv, &f, ev, 0, -1);
    }
    if (invitee && invitee_worker >= 0 && invitee_worker < srv->nworkers) {
        struct event *inv = line_event(invite_line, 0);
        if (inv)
            fanout_to_client(srv, invitee_worker, invitee, inv);
        event_unref(inv);
    }
    pthread_mutex_unlock(&ch->lock);
    event_unref(ev);
}

void chan_net_settings(struct server *srv, const char *key, unsigned seq,
                       const struct chan_meta *meta, unsigned parts, const struct chan_edit *edits,
                       int nedits)
{
    pthread_mutex_lock(&srv->chan_lock);
    struct chan *ch = find(srv, key, 0, NULL);
    pthread_mutex_unlock(&srv->chan_lock);
    if (!ch)
        return;
    /* A part that a later change of ours has changed again is left to that one, on its way:
     * it sets the part when it comes back. */
    for (int i = 0; i < CHAN_META_PARTS; i++)
        if (ch->net_part_seq[i] != seq)
            parts &= ~(1u << i);
    if (meta && parts)
        meta_set(ch, meta, parts);
    for (int i = 0; i < nedits && ch->net_part_seq[CHAN_META_EDITS] == seq; i++)
        edit_apply(ch, &edits[i]);
    pthread_mutex_unlock(&ch->lock);
}

static int pos_cmp(const struct chan_pos *a, const struct chan_pos *b)
{
    return a->ms != b->ms     ? (a->ms < b->ms ? -1 : 1)
           : a->seq != b->seq ? (a->seq < b->seq ? -1 : 1)
                              : 0;
}

struct chan_pos chan_net_position(struct server *srv, const char *key)
{
    struct chan_pos pos = {0, 0};
    pthread_mutex_lock(&srv->chan_lock);
    struct chan *ch = find(srv, key, 0, NULL);
    pthread_mutex_unlock(&srv->chan_lock);
    if (ch) {
        pos = ch->net_pos;
        pthread_mutex_unlock(&ch->lock);
    }
    return pos;
}

void chan_net_message(struct server *srv, const char *key, struct event *ev, uint64_t sender,
                      int sender_worker, int echo, char status, const struct chan_pos *pos)
{
    pthread_mutex_lock(&srv->chan_lock);
    struct chan *ch = find(srv, key, 0, NULL);
    pthread_mutex_unlock(&srv->chan_lock);
    if (!ch)
        return;
    struct member *me = chan_member(ch, sender);
    int mine = sender_worker >= 0 && sender_worker < srv->nworkers;
    if (pos && pos_cmp(pos, &ch->net_pos) <= 0) {
        /* This node has had it (caught up on after its subscriber was away, here it comes
         * as held meanwhile; or caught up on again): nobody gets it twice, the store keeps
         * it once. */
        if (!ev->tags_only)
            (void)history_store(srv, ev, chan_key(ch));
        pthread_mutex_unlock(&ch->lock);
        return;
    }
    if (pos) /* delivered now, or never here (the store refused it below) */
        ch->net_pos = *pos;
    if (status) {
        /* STATUSMSG: ops are few, one item each (as chan_send_status does). */
        struct member *t, *tmp;
        HASH_ITER(hh, ch->members, t, tmp)
        {
            int wanted = status == '@' ? t->op : (t->op || t->voice);
            if (wanted && t->worker < srv->nworkers && (t->id != sender || echo))
                fanout_to_client(srv, t->worker, t->id, ev);
        }
    } else if (!ev->tags_only && history_store(srv, ev, chan_key(ch)) < 0) {
        /* Delivered implies stored, here too: the store is behind, so this node's members
         * miss it (the sender, if it is here, is told). */
        static struct log_budget behind_logged = LOG_BUDGET_INIT;
        log_limited(&behind_logged, 5, LOG_WARN,
                    "history store behind: a message to %s not delivered here", chan_name(ch));
        struct event *fail =
            mine ? event_new(NULL,
                             ":%s FAIL PRIVMSG TEMPORARILY_UNAVAILABLE %s :The message store is "
                             "behind; message not delivered on this server, try again",
                             srv->cfg.server_name, chan_name(ch))
                 : NULL;
        if (fail)
            fanout_to_client(srv, sender_worker, sender, fail);
        event_unref(fail);
    } else {
        struct fanout_chan f = chan_fan(ch);
        fanout_chan_event(srv, &f, ev, mine && !echo ? sender : 0,
                          mine && me && !echo ? sender_worker : -1);
        if (mine && echo && !me) /* not a member (-n): the echo comes straight back */
            fanout_to_client(srv, sender_worker, sender, ev);
    }
    pthread_mutex_unlock(&ch->lock);
}

/* A user of a node that is gone, and its channels here: those of the event's server (mine)
 * and the others. */
struct gone {
    uint64_t id;
    char line[IRC_LINE_MAX];
    int n, m;
    char mine[SPAN_MAX][IRC_CHANNEL_MAX + 1], others[SPAN_MAX][IRC_CHANNEL_MAX + 1];
    UT_hash_handle hh;
};

void chan_net_drop_node(struct server *srv, uint64_t node, char (*keys)[IRC_CHANNEL_MAX + 1], int n,
                        const char *reason)
{
    /* Who of that node is in which channel, from the whole table: each says one QUIT to its
     * peers here, with the last of its channels (as chan_net_quit does). */
    struct gone *all = NULL, *g;
    pthread_mutex_lock(&srv->chan_lock);
    struct chan *ch, *ctmp;
    HASH_ITER(hh, srv->chans, ch, ctmp)
    {
        int in_keys = 0;
        for (int i = 0; i < n && !in_keys; i++)
            in_keys = strcmp(keys[i], chan_key(ch)) == 0;
        pthread_mutex_lock(&ch->lock);
        struct member *mb, *mtmp;
        HASH_ITER(hh, ch->members, mb, mtmp)
        {
            if (mb->id >> CLUSTER_NODE_SHIFT != node || mb->worker < srv->nworkers)
                continue;
            HASH_FIND(hh, all, &mb->id, sizeof mb->id, g);
            if (!g) {
                g = calloc(1, sizeof *g);
                if (!g)
                    continue;
                g->id = mb->id;
                snprintf(g->line, sizeof g->line, ":%s!%s QUIT :%s", mb->nick, mb->userhost,
                         reason);
                HASH_ADD(hh, all, id, sizeof g->id, g);
            }
            if (in_keys && g->n < SPAN_MAX)
                snprintf(g->mine[g->n++], IRC_CHANNEL_MAX + 1, "%s", chan_key(ch));
            else if (!in_keys && g->m < SPAN_MAX)
                snprintf(g->others[g->m++], IRC_CHANNEL_MAX + 1, "%s", chan_key(ch));
        }
        pthread_mutex_unlock(&ch->lock);
    }
    pthread_mutex_unlock(&srv->chan_lock);
    while ((g = all) != NULL) {
        /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): false positive, uthash's delete */
        if (g->n > 0)
            chan_net_quit(srv, g->id, g->line, g->mine, g->n, g->others, g->m);
        HASH_DEL(all, g);
        free(g);
    }
}

int chan_net_each_local(struct server *srv, void (*fn)(void *arg, const struct chan *ch), void *arg)
{
    int n = 0;
    pthread_mutex_lock(&srv->chan_lock);
    struct chan *ch, *tmp;
    HASH_ITER(hh, srv->chans, ch, tmp)
    {
        pthread_mutex_lock(&ch->lock);
        int local = 0;
        for (int w = 0; w < ch->nworkers && !local; w++)
            local = ch->wcount[w] > 0;
        if (local) {
            fn(arg, ch);
            n++;
        }
        pthread_mutex_unlock(&ch->lock);
    }
    pthread_mutex_unlock(&srv->chan_lock);
    return n;
}

void chan_net_load(struct server *srv, const char *key, const struct chan_meta *meta,
                   const struct chan_remote_member *members, int nmembers)
{
    pthread_mutex_lock(&srv->chan_lock);
    struct chan *ch = find(srv, key, 1, meta->name);
    if (ch) {
        meta_set(ch, meta, CHAN_META_ALL);
        for (int i = 0; i < nmembers; i++) {
            if (!chan_member(ch, members[i].id))
                member_add(ch, &members[i]);
        }
        drop_if_empty(srv, ch);
    }
    pthread_mutex_unlock(&srv->chan_lock);
}

/* A remote member of ch (locked) leaves without a word of its own: its peers here see it
 * part with reason. */
static void member_gone(struct server *srv, struct chan *ch, struct member *t, const char *reason)
{
    struct event *ev =
        event_new(NULL, ":%s!%s PART %s :%s", t->nick, t->userhost, chan_name(ch), reason);
    if (ev) {
        struct fanout_chan f = chan_fan(ch);
        fanout_chan_event(srv, &f, ev, 0, -1);
    }
    event_unref(ev);
    /* NOLINTNEXTLINE(clang-analyzer-core.NullDereference): t is in the table, so it is set */
    HASH_DEL(ch->members, t);
    chan_member_free(t);
    ch->nmembers--;
}

/* line (printf-style) to ch's (locked) members here. */
static void tell_members(struct server *srv, struct chan *ch, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void tell_members(struct server *srv, struct chan *ch, const char *fmt, ...)
{
    char line[IRC_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    struct event *ev = n > 0 && (size_t)n < sizeof line ? line_event(line, 0) : NULL;
    if (ev) {
        struct fanout_chan f = chan_fan(ch);
        fanout_chan_event(srv, &f, ev, 0, -1);
    }
    event_unref(ev);
}

/* What the network changed of ch's (locked) settings while this node was cut off from it, told
 * to its members here before the replica takes m: the topic as a TOPIC from who set it, the
 * modes, key and limit as one MODE from the server. */
static void tell_settings(struct server *srv, struct chan *ch, const struct chan_meta *m)
{
    static const struct {
        unsigned flag;
        char letter;
    } flags[] = {{CM_INVITE, 'i'}, {CM_MODERATED, 'm'}, {CM_NOEXTERNAL, 'n'},
                 {CM_SECRET, 's'}, {CM_TOPICLOCK, 't'}, {CM_NOCTCP, 'C'}};
    const char *name = chan_name(ch), *server = srv->cfg.server_name;
    int had_topic = ch->topic != NULL;
    if (had_topic != m->has_topic || (had_topic && strcmp(ch->topic, m->topic) != 0))
        tell_members(srv, ch, ":%s TOPIC %s :%s",
                     m->has_topic && m->topic_by[0] ? m->topic_by : server, name,
                     m->has_topic ? m->topic : "");
    char modes[2 * 16 + 1] = "", args[KEY_MAX + 16] = "";
    size_t mlen = 0;
    char sign = 0;
    for (int pass = 0; pass < 2; pass++) { /* the modes added, then those removed */
        char want = pass == 0 ? '+' : '-';
        for (size_t i = 0; i < sizeof flags / sizeof flags[0] + 2; i++) {
            int had, has;
            char letter;
            if (i < sizeof flags / sizeof flags[0]) {
                letter = flags[i].letter;
                had = (ch->modes & flags[i].flag) != 0;
                has = (m->modes & flags[i].flag) != 0;
            } else if (i == sizeof flags / sizeof flags[0]) {
                letter = 'k';
                had = ch->chkey[0] != 0;
                has = m->chkey[0] != 0;
                if (had && has && strcmp(ch->chkey, m->chkey) != 0)
                    had = 0; /* another key: +k it */
            } else {
                letter = 'l';
                had = ch->limit != 0;
                has = m->limit != 0;
                if (had && has && ch->limit != m->limit)
                    had = 0;
            }
            if (had == has || (want == '+') != has)
                continue;
            if (sign != want)
                modes[mlen++] = sign = want;
            modes[mlen++] = letter;
            size_t alen = strlen(args);
            if (letter == 'k')
                snprintf(args + alen, sizeof args - alen, " %s", has ? m->chkey : "*");
            else if (letter == 'l' && has)
                snprintf(args + alen, sizeof args - alen, " %u", m->limit);
        }
    }
    modes[mlen] = '\0';
    if (mlen)
        tell_members(srv, ch, ":%s MODE %s %s%s", server, name, modes, args);
}

/* Member t's status as the network has it now (op, voice), told to the members here as one
 * MODE from the server if it changed while this node was cut off. */
static void tell_status(struct server *srv, struct chan *ch, const struct member *t, int op,
                        int voice)
{
    char modes[8] = "", args[2 * (IRC_NICK_MAX + 1) + 1] = "";
    size_t n = 0;
    const int now[2] = {op, voice}, was[2] = {t->op != 0, t->voice != 0};
    for (int i = 0; i < 2; i++) {
        if (now[i] == was[i])
            continue;
        char sign = now[i] ? '+' : '-';
        if (n == 0 || modes[n - 2] != sign)
            modes[n++] = sign;
        modes[n++] = i == 0 ? 'o' : 'v';
        size_t alen = strlen(args);
        snprintf(args + alen, sizeof args - alen, " %s", t->nick);
    }
    modes[n] = '\0';
    if (n)
        tell_members(srv, ch, ":%s MODE %s %s%s", srv->cfg.server_name, chan_name(ch), modes, args);
}

void chan_net_reconcile(struct server *srv, const char *key, const struct chan_meta *meta,
                        const struct chan_remote_member *members, int nmembers, uint64_t self,
                        int removals, chan_renamed_fn *renamed, void *arg)
{
    static const char reason[] = "Left while this server was cut off from the network";
    pthread_mutex_lock(&srv->chan_lock);
    struct chan *ch = find(srv, key, nmembers > 0, meta ? meta->name : NULL);
    if (!ch) {
        pthread_mutex_unlock(&srv->chan_lock);
        return;
    }
    if (meta && ch->nmembers > 0)
        tell_settings(srv, ch, meta);
    if (meta)
        meta_set(ch, meta, CHAN_META_ALL);
    struct member *t, *tmp;
    HASH_ITER(hh, ch->members, t, tmp)
    {
        if (t->worker < srv->nworkers || t->id >> CLUSTER_NODE_SHIFT == self || !removals)
            continue;
        int i = 0;
        while (i < nmembers && members[i].id != t->id)
            i++;
        if (i == nmembers)
            member_gone(srv, ch, t, reason);
    }
    for (int i = 0; i < nmembers; i++) {
        const struct chan_remote_member *mi = &members[i];
        if (mi->id >> CLUSTER_NODE_SHIFT == self)
            continue;
        t = chan_member(ch, mi->id);
        if (t) { /* a status change missed, or a NICK */
            tell_status(srv, ch, t, mi->op != 0, mi->voice != 0);
            t->op = mi->op != 0;
            t->voice = mi->voice != 0;
            if (renamed && strcmp(t->nick, mi->nick) != 0) {
                char source[IRC_NICK_MAX + 1 + USER_MAX + 1 + HOST_MAX];
                snprintf(source, sizeof source, "%s!%s", t->nick, t->userhost);
                renamed(arg, key, t->id, source, mi->nick);
            }
            continue;
        }
        if (!member_add(ch, mi))
            continue;
        struct event *ev = event_new(NULL, ":%s!%s JOIN %s", mi->nick, mi->userhost, chan_name(ch));
        if (ev) {
            struct fanout_chan f = chan_fan(ch);
            fanout_chan_event(srv, &f, ev, 0, -1);
        }
        event_unref(ev);
    }
    drop_if_empty(srv, ch);
    pthread_mutex_unlock(&srv->chan_lock);
}

int chan_net_reconcile_absent(struct server *srv, int (*listed)(void *arg, const char *key),
                              void *arg, uint64_t self)
{
    static const char reason[] = "Left while this server was cut off from the network";
    int n = 0;
    pthread_mutex_lock(&srv->chan_lock);
    struct chan *ch, *ctmp;
    HASH_ITER(hh, srv->chans, ch, ctmp)
    {
        if (listed(arg, chan_key(ch)))
            continue;
        pthread_mutex_lock(&ch->lock);
        struct member *t, *tmp;
        HASH_ITER(hh, ch->members, t, tmp)
        {
            if (t->worker >= srv->nworkers && t->id >> CLUSTER_NODE_SHIFT != self) {
                member_gone(srv, ch, t, reason);
                n++;
            }
        }
        drop_if_empty(srv, ch);
    }
    pthread_mutex_unlock(&srv->chan_lock);
    return n;
}

void chan_net_forget_positions(struct server *srv, int (*mine)(void *arg, const char *key),
                               void *arg)
{
    pthread_mutex_lock(&srv->chan_lock);
    struct chan *ch, *tmp;
    HASH_ITER(hh, srv->chans, ch, tmp)
    {
        if (!mine(arg, chan_key(ch)))
            continue;
        pthread_mutex_lock(&ch->lock);
        ch->net_pos = (struct chan_pos){0, 0};
        pthread_mutex_unlock(&ch->lock);
    }
    pthread_mutex_unlock(&srv->chan_lock);
}

void chan_net_load_lists(struct server *srv, const char *key, const struct chan_edit *entries,
                         int n, int replace)
{
    pthread_mutex_lock(&srv->chan_lock);
    struct chan *ch = find(srv, key, 0, NULL);
    pthread_mutex_unlock(&srv->chan_lock);
    if (!ch)
        return;
    if (replace)
        for (int k = 0; k < LIST_KINDS; k++)
            ch->lists[k].n = 0;
    for (int i = 0; i < n; i++)
        edit_apply(ch, &entries[i]);
    pthread_mutex_unlock(&ch->lock);
}
