/* cmd_chan: the channel commands: JOIN, PART and NAMES (membership, chan.c's), and TOPIC,
 * KICK, INVITE and LIST, decided here under the channel's lock (chan-t.h). MODE is
 * cmd_mode.c's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/caps.h"
#include "state/chan-t.h"
#include "state/chan.h"
#include "state/chan_net.h"
#include "core/client.h"
#include "cmd.h"
#include "common/utf8.h"
#include "core/event.h"
#include "core/fanout.h"
#include "core/msg.h"
#include "state/nick.h"
#include "core/numerics.h"
#include "core/send.h"
#include "store/chanreg.h"
#include "store/history.h"

/* The reply for an error chan_join or chan_part passed on as a number: each says which mode
 * refused the join (+b, +i, +k, +l). */
void send_chan_error(struct client *c, int err, const char *name)
{
    switch (err) {
    case NUM(ERR_NOSUCHCHANNEL):
        send_reply(c, ERR_NOSUCHCHANNEL, name);
        break;
    case NUM(ERR_NOTONCHANNEL):
        send_reply(c, ERR_NOTONCHANNEL, name);
        break;
    case NUM(ERR_TOOMANYCHANNELS):
        send_reply(c, ERR_TOOMANYCHANNELS, name);
        break;
    case NUM(ERR_INVITEONLYCHAN):
        send_reply(c, ERR_INVITEONLYCHAN, name);
        break;
    case NUM(ERR_BANNEDFROMCHAN):
        send_reply(c, ERR_BANNEDFROMCHAN, name);
        break;
    case NUM(ERR_BADCHANNELKEY):
        send_reply(c, ERR_BADCHANNELKEY, name);
        break;
    case NUM(ERR_CHANNELISFULL):
        send_reply(c, ERR_CHANNELISFULL, name);
        break;
    default:
        send_numeric(c, err, TEXT_CANNOTJOIN, name);
        break;
    }
}

void cmd_join(struct client *c, struct ircmsg *m)
{
    if (strcmp(m->params[0], "0") == 0) {
        /* "JOIN 0" leaves every channel (RFC 2812 3.2.1). */
        char names[CHANNELS_PER_USER][IRC_CHANNEL_MAX + 1];
        int n = c->nchans;
        for (int i = 0; i < n; i++)
            snprintf(names[i], sizeof names[i], "%s", chan_name(c->chans[i]));
        for (int i = 0; i < n; i++)
            chan_part(c, names[i], NULL);
        return;
    }
    char *save = NULL, *ksave = NULL;
    char *keys = m->nparams > 1 ? m->params[1] : NULL;
    char *key = keys ? strtok_r(keys, ",", &ksave) : NULL;
    for (char *name = strtok_r(m->params[0], ",", &save); name;
         name = strtok_r(NULL, ",", &save), key = key ? strtok_r(NULL, ",", &ksave) : NULL) {
        if (!ircname_channel_valid(name)) {
            send_reply(c, ERR_NOSUCHCHANNEL, name);
            continue;
        }
        /* A channel's old name leads to it (draft/channel-rename's redirection): a client
         * with the capability is told and joins itself; another is told (470) and joined. */
        char to[IRC_CHANNEL_MAX + 1];
        const char *join = name;
        if (chan_redirect(client_srv(c), name, to)) {
            if (c->caps & CAP_CHANNEL_RENAME) {
                char context[2 * (IRC_CHANNEL_MAX + 1)];
                snprintf(context, sizeof context, "%s %s", name, to);
                send_fail(c, "JOIN", "CHANNEL_RENAMED", context, "The channel has been renamed");
                continue;
            }
            send_reply(c, ERR_LINKCHANNEL, name, to);
            join = to;
        }
        int was_member = chan_find_joined(c, join) >= 0;
        int err = chan_join(c, join, key);
        if (err)
            send_chan_error(c, err, join);
        else if (!was_member)
            metadata_joined(c, join);
    }
}

void cmd_part(struct client *c, struct ircmsg *m)
{
    const char *reason = m->nparams > 1 ? m->params[1] : NULL;
    char *save = NULL;
    for (char *name = strtok_r(m->params[0], ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        int err = chan_part(c, name, reason);
        if (err)
            send_chan_error(c, err, name);
    }
}

void cmd_names(struct client *c, struct ircmsg *m)
{
    if (m->nparams == 0) {
        /* Listing every channel is left to LIST; Modern IRC allows just the end. */
        send_reply(c, RPL_ENDOFNAMES, "*");
        return;
    }
    char *save = NULL;
    for (char *name = strtok_r(m->params[0], ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        struct msg *reply = chan_names(c, name);
        send_msg(c, reply);
        msg_unref(reply);
    }
}

/* TOPIC: shows the topic (text NULL) or sets it; an empty text clears it. */
static void topic(struct client *c, const char *name, const char *text)
{
    struct server *srv = client_srv(c);
    struct chan *ch = chan_lock_name(srv, name);
    if (!ch) {
        send_reply(c, ERR_NOSUCHCHANNEL, name);
        return;
    }
    struct member *me = chan_member(ch, c->id);
    if (!text) {
        if ((ch->modes & CM_SECRET) && !me) {
            send_reply(c, ERR_NOTONCHANNEL, chan_name(ch));
        } else if (ch->topic) {
            send_reply(c, RPL_TOPIC, chan_name(ch), ch->topic);
            send_reply(c, RPL_TOPICWHOTIME, chan_name(ch), chan_topic_by(ch),
                       (long long)ch->topic_at);
        } else {
            send_reply(c, RPL_NOTOPIC, chan_name(ch));
        }
    } else if (!me) {
        send_reply(c, ERR_NOTONCHANNEL, chan_name(ch));
    } else if ((ch->modes & CM_TOPICLOCK) && !me->op) {
        send_reply(c, ERR_CHANOPRIVSNEEDED, chan_name(ch));
    } else {
        size_t n = utf8_cut(text, TOPIC_MAX);
        size_t by = strlen(c->source);
        char *stored = n ? malloc(n + 1 + by + 1) : NULL;
        if (n && !stored) {
            send_reply(c, ERR_UNKNOWNERROR, "TOPIC", "Out of memory");
            chan_unlock(ch);
            return;
        }
        if (stored) { /* "text\0nick!user@host\0" (chan_topic_by) */
            memcpy(stored, text, n);
            stored[n] = '\0';
            memcpy(stored + n + 1, c->source, by + 1);
        }
        free(ch->topic);
        ch->topic = stored;
        ch->topic_at = time(NULL);
        char shown[TOPIC_MAX + 1];
        memcpy(shown, text, n);
        shown[n] = '\0';
        struct event *m = event_new(NULL, ":%s TOPIC %s :%s", c->source, chan_name(ch), shown);
        if (m) {
            chan_post(srv, ch, m, 0);
            history_store_event(srv, m, chan_key(ch)); /* draft/event-playback */
            struct chan *chs[1] = {ch};
            struct chan_change chg = {
                .kind = CC_META, .chans = chs, .nchans = 1, .ev = m, .meta = CHAN_META_TOPIC};
            chan_net_publish(srv, &chg);
        }
        event_unref(m);
    }
    chan_unlock(ch);
}

void cmd_topic(struct client *c, struct ircmsg *m)
{
    topic(c, m->params[0], m->nparams > 1 ? m->params[1] : NULL);
}

/* KICK of one nick out of name, by an operator of the channel. */
static void kick(struct client *c, const char *name, const char *nick, const char *reason)
{
    struct server *srv = client_srv(c);
    int tw;
    uint64_t tid;
    if (nick_find(srv, nick, &tw, &tid) < 0) {
        send_reply(c, ERR_NOSUCHNICK, nick);
        return;
    }
    /* With the table locked too: the kick may empty the channel. */
    struct chan *ch = chan_lock_name_table(srv, name);
    if (!ch) {
        send_reply(c, ERR_NOSUCHCHANNEL, name);
        return;
    }
    struct member *me = chan_member(ch, c->id);
    struct member *t = chan_member(ch, tid);
    if (!me) {
        send_reply(c, ERR_NOTONCHANNEL, chan_name(ch));
    } else if (!me->op) {
        send_reply(c, ERR_CHANOPRIVSNEEDED, chan_name(ch));
    } else if (!t) {
        send_reply(c, ERR_USERNOTINCHANNEL, nick, chan_name(ch));
    } else {
        char why[KICK_MAX + 1];
        utf8_copy(why, reason && *reason ? reason : c->nick, KICK_MAX);
        struct event *ev =
            event_new(NULL, ":%s KICK %s %s :%s", c->source, chan_name(ch), t->nick, why);
        chan_kick_member(srv, ch, t, ev);
        struct chan *chs[1] = {ch};
        struct chan_change chg = {
            .kind = CC_KICK, .chans = chs, .nchans = 1, .ev = ev, .who = tid, .who_worker = tw};
        chan_net_publish(srv, &chg);
        event_unref(ev);
    }
    chan_unlock_table(srv, ch);
}

void cmd_kick(struct client *c, struct ircmsg *m)
{
    const char *reason = m->nparams > 2 ? m->params[2] : NULL;
    char *save = NULL;
    /* KICK #chan a,b kicks several users (TARGMAX KICK). */
    for (char *nick = strtok_r(m->params[1], ",", &save); nick; nick = strtok_r(NULL, ",", &save))
        kick(c, m->params[0], nick, reason);
}

/* Why RENAME of old to to must be refused before the channel is even looked at (the FAIL's
 * code in *code), or NULL. Folds both names into okey and nkey. */
static const char *rename_refused(struct client *c, const char *old, const char *to, char *okey,
                                  char *nkey, const char **code)
{
    const struct config *cfg = client_cfg(c);
    *code = "CANNOT_RENAME";
    /* A cluster's channels are known by name on every node and in Redis: a rename would have
     * to change them all at once, which it does not do yet (docs/cluster.md). */
    if (cfg->cluster)
        return "Channels cannot be renamed on a cluster";
    if (!ircname_channel_valid(to))
        return "Invalid channel name";
    if (old[0] != to[0]) /* the specification allows this refusal */
        return "You cannot change a channel prefix type";
    ircname_fold(old, okey, IRC_CHANNEL_MAX + 1);
    ircname_fold(to, nkey, IRC_CHANNEL_MAX + 1);
    int same = strcmp(okey, nkey) == 0;
    const char *lobby = cfg->default_channel;
    if (lobby && *lobby && ircname_cmp(lobby, old) == 0 && !same)
        return "The server's default channel cannot be renamed";
    /* ChanServ keeps a registration by name; it does not follow a rename. */
    if (chanreg_role(okey, NULL) != CHANREG_UNREGISTERED && !same)
        return "A registered channel cannot be renamed (drop its registration first)";
    *code = "CHANNEL_NAME_IN_USE";
    if (!same && ((lobby && *lobby && ircname_cmp(lobby, to) == 0) ||
                  chanreg_role(nkey, NULL) != CHANREG_UNREGISTERED))
        return "The channel name is reserved";
    return NULL;
}

void cmd_rename(struct client *c, struct ircmsg *m)
{
    struct server *srv = client_srv(c);
    const char *old = m->params[0], *to = m->params[1];
    char reason[RENAME_REASON_MAX + 1];
    utf8_copy(reason, m->nparams > 2 ? m->params[2] : "", RENAME_REASON_MAX);
    char context[2 * (IRC_CHANNEL_MAX + 1)];
    snprintf(context, sizeof context, "%.*s %.*s", IRC_CHANNEL_MAX, old, IRC_CHANNEL_MAX, to);
    char okey[IRC_CHANNEL_MAX + 1] = "", nkey[IRC_CHANNEL_MAX + 1] = "";
    const char *code;
    const char *why = rename_refused(c, old, to, okey, nkey, &code);
    if (why) {
        send_fail(c, "RENAME", code, context, "%s", why);
        return;
    }
    struct chan *ch = chan_lock_name_table(srv, old);
    if (!ch) {
        send_reply(c, ERR_NOSUCHCHANNEL, old);
        return;
    }
    struct member *me = chan_member(ch, c->id);
    struct chan *taken = chan_table_get(srv, nkey);
    if (!me) {
        send_reply(c, ERR_NOTONCHANNEL, chan_name(ch));
    } else if (!me->op) {
        send_reply(c, ERR_CHANOPRIVSNEEDED, chan_name(ch));
    } else if (taken && taken != ch) {
        send_fail(c, "RENAME", "CHANNEL_NAME_IN_USE", context, "The channel name is already taken");
    } else if (strcmp(chan_name(ch), to) == 0) {
        send_fail(c, "RENAME", "CANNOT_RENAME", context, "The channel already has that name");
    } else if (strcmp(nkey, okey) != 0 && ch->renamed_at &&
               time(NULL) - ch->renamed_at < RENAME_COOLDOWN) {
        send_fail(c, "RENAME", "CANNOT_RENAME", context, "This channel has been renamed recently");
    } else if (chan_rename(srv, ch, to, nkey, c->source, reason) < 0) {
        send_reply(c, ERR_UNKNOWNERROR, "RENAME", "Out of memory");
    }
    chan_unlock_table(srv, ch);
}

/* INVITE nick to name: the invited user is told, and with invite-notify the members. */
static void invite(struct client *c, const char *nick, const char *name)
{
    struct server *srv = client_srv(c);
    struct nick_info info;
    if (nick_info(srv, nick, &info) < 0 || !info.registered) {
        send_reply(c, ERR_NOSUCHNICK, nick);
        return;
    }
    struct chan *ch = chan_lock_name(srv, name);
    if (!ch) {
        send_reply(c, ERR_NOSUCHCHANNEL, name);
        return;
    }
    struct member *me = chan_member(ch, c->id);
    int ok = 0;
    if (!me) {
        send_reply(c, ERR_NOTONCHANNEL, chan_name(ch));
    } else if ((ch->modes & CM_INVITE) && !me->op) {
        send_reply(c, ERR_CHANOPRIVSNEEDED, chan_name(ch));
    } else if (chan_member(ch, info.id)) {
        send_reply(c, ERR_USERONCHANNEL, info.nick, chan_name(ch));
    } else if (chan_invite_add(ch, info.id) < 0) {
        send_reply(c, ERR_UNKNOWNERROR, "INVITE", "Out of memory");
    } else {
        ok = 1;
        /* invite-notify: members who asked see who was invited (not the two involved). */
        struct event *note =
            event_new(NULL, ":%s INVITE %s %s", c->source, info.nick, chan_name(ch));
        if (note) {
            note->need_cap = CAP_INVITE_NOTIFY;
            chan_post(srv, ch, note, c->id);
            /* The network: the invitation (an edit, so two made on two nodes at once are
             * both kept), the note, and the invitee's INVITE line, which its own node
             * delivers. */
            struct chan *chs[1] = {ch};
            struct chan_change chg = {.kind = CC_META,
                                      .chans = chs,
                                      .nchans = 1,
                                      .ev = note,
                                      .who = info.id,
                                      .who_worker = info.worker,
                                      .nedits = 1,
                                      .edits = {{.sign = '+', .letter = 'i', .id = info.id}}};
            chan_net_publish(srv, &chg);
        }
        event_unref(note);
    }
    char chname[IRC_CHANNEL_MAX + 1];
    snprintf(chname, sizeof chname, "%s", chan_name(ch));
    chan_unlock(ch);
    if (!ok)
        return;
    send_reply(c, RPL_INVITING, info.nick, chname);
    if (info.worker >= WORKER_REMOTE)
        return; /* its node tells it, from the invitation's event */
    struct event *m = event_new(NULL, ":%s INVITE %s %s", c->source, info.nick, chname);
    if (m)
        fanout_to_client(srv, info.worker, info.id, m);
    event_unref(m);
}

void cmd_invite(struct client *c, struct ircmsg *m)
{
    invite(c, m->params[0], m->params[1]);
}

/* LIST: what one channel adds to the listing. Filters (ISUPPORT ELIST=CMNTU): masks of the
 * name (any may match), !masks (none may), >n and <n users, C>n and C<n (created more or less
 * than n minutes ago), T>n and T<n (topic set more or less than n minutes ago). */
struct list_query {
    struct client *c;
    const char *masks[TARGETS_MAX]; /* any of them must match the name (all do when none) */
    int nmasks;
    const char *nots[TARGETS_MAX]; /* none of them may match */
    int nnots;
    long users_min, users_max; /* exclusive bounds; -1: none */
    time_t created_before, created_after, topic_before, topic_after; /* 0: none */
};

static void list_one(struct chan *ch, void *arg)
{
    const struct list_query *q = arg;
    if ((ch->modes & CM_SECRET) && !chan_member(ch, q->c->id))
        return;
    int match = q->nmasks == 0;
    for (int i = 0; i < q->nmasks && !match; i++)
        match = ircname_match(q->masks[i], chan_name(ch));
    for (int i = 0; i < q->nnots && match; i++)
        match = !ircname_match(q->nots[i], chan_name(ch));
    if (!match || (q->users_min >= 0 && ch->nmembers <= q->users_min) ||
        (q->users_max >= 0 && ch->nmembers >= q->users_max) ||
        (q->created_before && ch->created >= q->created_before) ||
        (q->created_after && ch->created <= q->created_after) ||
        ((q->topic_before || q->topic_after) && !ch->topic) ||
        (q->topic_before && ch->topic_at >= q->topic_before) ||
        (q->topic_after && ch->topic_at <= q->topic_after))
        return;
    send_reply(q->c, RPL_LIST, chan_name(ch), ch->nmembers, ch->topic ? ch->topic : "");
}

/* A number of minutes or users in a LIST filter: 0, or -1 when it is not a number. */
static long list_number(const char *s)
{
    if (*s < '0' || *s > '9')
        return -1;
    char *end;
    long v = strtol(s, &end, 10);
    return *end ? -1 : v > 100000000L ? 100000000L : v; /* ~190 years of minutes */
}

/* Adds one LIST filter to q. 0, or -1 when it is malformed. */
static int list_filter(struct list_query *q, const char *f, time_t now)
{
    long v;
    if ((f[0] == '>' || f[0] == '<') && (v = list_number(f + 1)) >= 0) {
        if (f[0] == '>')
            q->users_min = v;
        else
            q->users_max = v;
        return 0;
    }
    if ((f[0] == 'C' || f[0] == 'T') && (f[1] == '>' || f[1] == '<') &&
        (v = list_number(f + 2)) >= 0) {
        time_t at = now - (time_t)v * 60;
        /* X>n: more than n minutes ago, so before now - n; X<n: after it. */
        if (f[0] == 'C')
            *(f[1] == '>' ? &q->created_before : &q->created_after) = at;
        else
            *(f[1] == '>' ? &q->topic_before : &q->topic_after) = at;
        return 0;
    }
    if (f[0] == '!' && f[1] && q->nnots < TARGETS_MAX) {
        q->nots[q->nnots++] = f + 1;
        return 0;
    }
    if (f[0] && f[0] != '>' && f[0] != '<' && q->nmasks < TARGETS_MAX) {
        q->masks[q->nmasks++] = f;
        return 0;
    }
    return -1;
}

void cmd_list(struct client *c, struct ircmsg *m)
{
    struct list_query q = {.c = c, .users_min = -1, .users_max = -1};
    time_t now = time(NULL);
    char *save = NULL;
    if (m->nparams > 0) {
        for (char *f = strtok_r(m->params[0], ",", &save); f; f = strtok_r(NULL, ",", &save)) {
            if (list_filter(&q, f, now) < 0) {
                send_reply(c, ERR_UNKNOWNERROR, "LIST", "Unknown filter");
                send_reply(c, RPL_LISTEND);
                return;
            }
        }
    }
    send_reply(c, RPL_LISTSTART);
    chan_foreach(client_srv(c), list_one, &q);
    send_reply(c, RPL_LISTEND);
}
