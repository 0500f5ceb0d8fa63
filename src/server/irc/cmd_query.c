/* cmd_query: questions about users and the server: WHO, WHOIS, WHOWAS, ISON, USERHOST, LUSERS,
 * VERSION, INFO, ADMIN, TIME; and the user's own AWAY state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster/cluster.h"
#include "core/caps.h"
#include "state/chan-t.h"
#include "state/chan.h"
#include "core/event.h"
#include "core/client.h"
#include "cmd.h"
#include "common/utf8.h"
#include "state/monitor.h"
#include "state/nick.h"
#include "core/numerics.h"
#include "core/send.h"
#include "core/server.h"
#include "who.h"
#include "state/whowas.h"

/* A registered user's facts, or -1. */
static int lookup(struct client *c, const char *nick, struct nick_info *info)
{
    return nick_info(client_srv(c), nick, info) == 0 && info->registered ? 0 : -1;
}

/* One member as seen by WHO: copied out so no lock is held while the nick table is read. */
struct who_row {
    char nick[IRC_NICK_MAX + 1];
    char prefix[3];
    int member; /* the asker is a member of the channel */
};

/* Whether c may see info in WHO: invisible users only by those who share a channel with them
 * (Modern IRC, user mode +i), themselves and operators. */
static int who_sees(struct client *c, const struct nick_info *info, int oper)
{
    return !info->invisible || info->id == c->id || oper || chan_shares(c, info->id);
}

/* Whether c is an operator (user mode +o, kept in the nick table). */
static int is_oper(struct client *c)
{
    struct nick_info me;
    return nick_info(client_srv(c), c->nick, &me) == 0 && me.id == c->id && me.oper;
}

/* WHO of a channel: a reply per member, if c may see them (+s: members only), then 315. */
static void who_channel(struct client *c, const char *name, const struct who_query *q)
{
    struct server *srv = client_srv(c);
    struct chan *ch = chan_lock_name(srv, name);
    struct who_row *rows = NULL;
    unsigned n = 0;
    char chname[IRC_CHANNEL_MAX + 1];
    snprintf(chname, sizeof chname, "%s", name);
    if (ch) {
        snprintf(chname, sizeof chname, "%s", chan_name(ch));
        int member = chan_member(ch, c->id) != NULL;
        int visible = !(ch->modes & CM_SECRET) || member;
        rows = visible ? calloc(ch->nmembers ? ch->nmembers : 1, sizeof *rows) : NULL;
        struct member *m, *tmp;
        HASH_ITER(hh, ch->members, m, tmp)
        {
            if (!rows)
                break;
            rows[n].member = member;
            snprintf(rows[n].nick, sizeof rows[n].nick, "%s", m->nick);
            snprintf(rows[n].prefix, sizeof rows[n].prefix, "%s", chan_member_prefixes(m, c));
            n++;
        }
        chan_unlock(ch);
    }
    int oper = n > 0 && is_oper(c);
    for (unsigned i = 0; i < n; i++) {
        struct nick_info info;
        if (nick_info(srv, rows[i].nick, &info) < 0)
            continue;
        if (info.invisible && !rows[i].member && info.id != c->id && !oper)
            continue; /* +i: not listed to those outside the channel */
        who_reply(c, chname, &info, rows[i].prefix, q);
    }
    free(rows);
    send_reply(c, RPL_ENDOFWHO, chname);
}

void cmd_who(struct client *c, struct ircmsg *m)
{
    const char *mask = m->nparams > 0 ? m->params[0] : "*";
    struct who_query q;
    who_parse(m->nparams > 1 ? m->params[1] : NULL, &q);
    if (ircname_is_channel(mask)) {
        who_channel(c, mask, &q);
        return;
    }
    /* A nick (looked up, not searched for) or a mask of nicks (or of nick!user@host): each
     * user it names that c may see. */
    int exact = !strpbrk(mask, "*?!@");
    struct nick_info *found = calloc(exact ? 1 : WHO_REPLIES_MAX, sizeof *found);
    int n = !found  ? 0
            : exact ? lookup(c, mask, found) == 0
                    : nick_match(client_srv(c), mask, found, WHO_REPLIES_MAX);
    int oper = n > 0 && is_oper(c);
    for (int i = 0; i < n; i++) {
        if (who_sees(c, &found[i], oper))
            who_reply(c, "*", &found[i], "", &q);
    }
    free(found);
    send_reply(c, RPL_ENDOFWHO, mask);
}

void cmd_whowas(struct client *c, struct ircmsg *m)
{
    struct whowas_entry found[WHOWAS_REPLIES];
    int max = WHOWAS_REPLIES;
    /* strtol, not atoi: a count too big for an int must not wrap into range. */
    long want = m->nparams > 1 ? strtol(m->params[1], NULL, 10) : 0;
    if (want > 0 && want < max)
        max = (int)want;
    int n = whowas_find(m->params[0], found, max);
    if (n == 0)
        send_reply(c, ERR_WASNOSUCHNICK, m->params[0]);
    for (int i = 0; i < n; i++) {
        char when[64];
        struct tm tm;
        gmtime_r(&found[i].when, &tm);
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
        send_reply(c, RPL_WHOWASUSER, found[i].nick, found[i].user, found[i].host,
                   found[i].realname);
        send_reply(c, RPL_WHOISSERVER, found[i].nick, client_srv(c)->cfg.server_name, when);
    }
    send_reply(c, RPL_ENDOFWHOWAS, m->params[0]);
}

/* WHOIS: the 319 lines listing the channels of who that c may see, gathered channel by
 * channel. */
struct whois_channels {
    struct client *c;
    const struct nick_info *who;
    char line[IRC_LINE_MAX];
    size_t len, room;
};

static void whois_channel(struct chan *ch, void *arg)
{
    struct whois_channels *w = arg;
    struct member *t = chan_member(ch, w->who->id);
    if (!t || ((ch->modes & CM_SECRET) && !chan_member(ch, w->c->id) && w->c->id != w->who->id))
        return;
    if (w->len + strlen(chan_name(ch)) + 2 > w->room) {
        send_reply(w->c, RPL_WHOISCHANNELS, w->who->nick, w->line);
        w->len = 0;
    }
    w->len += (size_t)snprintf(w->line + w->len, sizeof w->line - w->len, "%s%s%s",
                               w->len ? " " : "", chan_member_prefix(t), chan_name(ch));
}

static void whois_channels(struct client *c, const struct nick_info *who)
{
    struct whois_channels w = {.c = c, .who = who, .len = 0};
    w.room = IRC_LINE_MAX - 2 - 64 - strlen(who->nick); /* prefix, numeric, names */
    chan_foreach(client_srv(c), whois_channel, &w);
    if (w.len)
        send_reply(c, RPL_WHOISCHANNELS, who->nick, w.line);
}

void cmd_whois(struct client *c, struct ircmsg *m)
{
    /* "WHOIS server nick" names a server first; with one server, the last parameter counts. */
    if (m->nparams == 0 || m->params[m->nparams - 1][0] == '\0') {
        send_reply(c, ERR_NONICKNAMEGIVEN);
        return;
    }
    char *nicks = m->params[m->nparams - 1];
    char *save = NULL;
    for (char *nick = strtok_r(nicks, ",", &save); nick; nick = strtok_r(NULL, ",", &save)) {
        struct nick_info info;
        if (lookup(c, nick, &info) < 0) {
            send_reply(c, ERR_NOSUCHNICK, nick);
            send_reply(c, RPL_ENDOFWHOIS, nick);
            continue;
        }
        send_reply(c, RPL_WHOISUSER, info.nick, info.user, info.host, info.realname);
        whois_channels(c, &info);
        char server[64];
        if (info.worker < WORKER_REMOTE ||
            cluster_server_name(client_srv(c), info.id, server, sizeof server) < 0)
            snprintf(server, sizeof server, "%s", client_srv(c)->cfg.server_name);
        send_reply(c, RPL_WHOISSERVER, info.nick, server, client_srv(c)->cfg.description);
        if (info.oper)
            send_reply(c, RPL_WHOISOPERATOR, info.nick);
        if (info.bot)
            send_reply(c, RPL_WHOISBOT, info.nick);
        if (info.away[0])
            send_reply(c, RPL_AWAY, info.nick, info.away);
        if (info.secure)
            send_reply(c, RPL_WHOISSECURE, info.nick);
        if (info.account[0])
            send_reply(c, RPL_WHOISACCOUNT, info.nick, info.account);
        send_reply(c, RPL_ENDOFWHOIS, info.nick);
    }
}

void cmd_ison(struct client *c, struct ircmsg *m)
{
    char out[IRC_LINE_MAX] = "";
    size_t len = 0;
    for (int i = 0; i < m->nparams; i++) {
        char *save = NULL;
        /* Nicks come space-separated, in one or several parameters. */
        for (char *nick = strtok_r(m->params[i], " ", &save); nick;
             nick = strtok_r(NULL, " ", &save)) {
            struct nick_info info;
            if (lookup(c, nick, &info) == 0 && len + strlen(info.nick) + 2 < sizeof out - 64)
                len += (size_t)snprintf(out + len, sizeof out - len, "%s%s", len ? " " : "",
                                        info.nick);
        }
    }
    send_reply(c, RPL_ISON, out);
}

void cmd_userhost(struct client *c, struct ircmsg *m)
{
    char out[IRC_LINE_MAX] = "";
    size_t len = 0;
    for (int i = 0; i < m->nparams && i < 5; i++) { /* RFC 2812: up to five nicks */
        struct nick_info info;
        if (lookup(c, m->params[i], &info) < 0)
            continue;
        len += (size_t)snprintf(out + len, sizeof out - len, "%s%s=%c%s@%s", len ? " " : "",
                                info.nick, info.away[0] ? '-' : '+', info.user, info.host);
    }
    send_reply(c, RPL_USERHOST, out);
}

void cmd_lusers(struct client *c, struct ircmsg *m)
{
    (void)m;
    struct server *srv = client_srv(c);
    struct nick_stats st;
    nick_count(srv, &st);
    int conns = atomic_load(&srv->nclients);
    int nodes = cluster_nodes(srv), local = st.users - st.remote;
    int unknown = conns > local ? conns - local : 0;
    int visible = st.users - st.invisible;
    send_reply(c, RPL_LUSERCLIENT, visible == 1 ? "is" : "are", visible, PLURAL(visible),
               st.invisible, nodes, PLURAL(nodes));
    if (st.opers > 0) /* Modern IRC: sent only when there are operators */
        send_reply(c, RPL_LUSEROP, st.opers, PLURAL(st.opers));
    if (unknown > 0)
        send_reply(c, RPL_LUSERUNKNOWN, unknown, PLURAL(unknown));
    int nchans = chan_count(srv);
    send_reply(c, RPL_LUSERCHANNELS, nchans, PLURAL(nchans));
    send_reply(c, RPL_LUSERME, local, PLURAL(local), nodes - 1, PLURAL(nodes - 1));
    send_reply(c, RPL_LOCALUSERS, local, st.max_local, local, st.max_local);
    send_reply(c, RPL_GLOBALUSERS, st.users, st.max_users, st.users, st.max_users);
}

void cmd_version(struct client *c, struct ircmsg *m)
{
    (void)m;
    send_reply(c, RPL_VERSION, TCPCHAT_VERSION, client_srv(c)->cfg.server_name);
    cmd_isupport(c);
}

/* INFO and ADMIN may name a server: this one is the only one there is. */
static int other_server(struct client *c, struct ircmsg *m)
{
    const char *name = client_srv(c)->cfg.server_name;
    if (m->nparams < 1 || ircname_match(m->params[0], name) || strcmp(m->params[0], "*") == 0)
        return 0;
    send_reply(c, ERR_NOSUCHSERVER, m->params[0]);
    return 1;
}

void cmd_info(struct client *c, struct ircmsg *m)
{
    if (other_server(c, m))
        return;
    static const char *const info[] = {
        "tcpchat: a multi-threaded IRC server for Linux, in C11.",
        "Each worker thread runs its own epoll loop; a message is serialised once and",
        "shared by reference by every worker that delivers it.",
        "History: SQLite (WAL), written by a thread of its own, stored before delivered.",
        "Accounts: argon2id (libsodium), SASL PLAIN. TLS: OpenSSL.",
    };
    for (size_t i = 0; i < sizeof info / sizeof info[0]; i++)
        send_reply(c, RPL_INFO, info[i]);
    send_reply(c, RPL_INFO_VERSION, TCPCHAT_VERSION, client_srv(c)->created);
    send_reply(c, RPL_ENDOFINFO);
}

void cmd_admin(struct client *c, struct ircmsg *m)
{
    if (other_server(c, m))
        return;
    const struct config *cfg = &client_srv(c)->cfg;
    send_reply(c, RPL_ADMINME, cfg->server_name);
    send_reply(c, RPL_ADMINLOC1, cfg->description);
    send_reply(c, RPL_ADMINLOC2, TCPCHAT_NETWORK, TCPCHAT_VERSION);
    send_reply(c, RPL_ADMINEMAIL,
               cfg->admin_email ? cfg->admin_email : "No contact address configured");
}

/* LINKS: this server and, in a cluster, every other node (one hop away: they all meet in
 * Redis), those whose name matches the mask (the last parameter; a server to ask first is
 * this one). */
struct links_ctx {
    struct client *c;
    const char *mask, *me;
};

static void link_line(void *arg, const char *name)
{
    struct links_ctx *l = arg;
    if (ircname_match(l->mask, name))
        send_reply(l->c, RPL_LINKS, name, l->me, 1, "tcpchat node");
}

void cmd_links(struct client *c, struct ircmsg *m)
{
    struct server *srv = client_srv(c);
    struct links_ctx l = {c, m->nparams > 0 ? m->params[m->nparams - 1] : "*",
                          srv->cfg.server_name};
    if (ircname_match(l.mask, l.me))
        send_reply(c, RPL_LINKS, l.me, l.me, 0, srv->cfg.description);
    cluster_other_nodes(srv, link_line, &l);
    send_reply(c, RPL_ENDOFLINKS, l.mask);
}

static void stats_link(void *arg, const struct cluster_link *l)
{
    send_reply(arg, RPL_STATSLINKINFO, l->name, l->sendq, (unsigned long)l->sent,
               (unsigned long)(l->sent_bytes / 1024), (unsigned long)l->received,
               (unsigned long)(l->received_bytes / 1024), (long)l->open_s);
}

/* STATS (RFC 2812 3.4.4; Modern IRC): u the uptime, m the commands used, l this node's links
 * (its connections to Redis in a cluster; none alone), o the [oper] entries, k the K-lines and
 * d the D-lines (operators only: names, masks and reasons are not everyone's business). Other
 * letters: only the end. */
void cmd_stats(struct client *c, struct ircmsg *m)
{
    struct server *srv = client_srv(c);
    char letter[2] = {m->params[0][0], '\0'};
    switch (letter[0]) {
    case 'u': {
        long up = (long)(time(NULL) - srv->started);
        long days = up / 86400;
        send_reply(c, RPL_STATSUPTIME, days, PLURAL(days), up % 86400 / 3600, up % 3600 / 60,
                   up % 60);
        break;
    }
    case 'm': {
        const char *name;
        unsigned long count, bytes;
        for (size_t i = 0; cmd_usage(i, &name, &count, &bytes) == 0; i++) {
            if (count)
                send_reply(c, RPL_STATSCOMMANDS, name, count, bytes);
        }
        break;
    }
    case 'l':
        cluster_links(srv, stats_link, c);
        break;
    case 'k':
    case 'd':
        if (!cmd_need_oper(c))
            return;
        cmd_ban_stats(c, letter[0]);
        break;
    case 'o':
        if (!cmd_need_oper(c))
            return;
        for (int i = 0; i < srv->cfg.nopers; i++)
            send_reply(c, RPL_STATSOLINE, srv->cfg.opers[i].host ? srv->cfg.opers[i].host : "*",
                       srv->cfg.opers[i].name);
        break;
    default:
        break;
    }
    send_reply(c, RPL_ENDOFSTATS, letter);
}

void cmd_time(struct client *c, struct ircmsg *m)
{
    (void)m;
    char when[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%A %B %d %Y -- %H:%M:%S +00:00", &tm);
    send_reply(c, RPL_TIME, client_srv(c)->cfg.server_name, when);
}

void cmd_away(struct client *c, struct ircmsg *m)
{
    const char *text = m->nparams > 0 ? m->params[0] : "";
    char away[AWAY_MAX + 1];
    utf8_copy(away, text, AWAY_MAX);
    nick_set_away(client_srv(c), c->nick, c->id, away);
    c->away = away[0] != '\0';
    cmd_user_changed(c);
    /* away-notify: peers who asked learn of the change (Modern IRC AWAY, IRCv3 away-notify). */
    struct event *ev = away[0] ? event_new(NULL, ":%s AWAY :%s", c->source, away)
                               : event_new(NULL, ":%s AWAY", c->source);
    if (ev) {
        ev->need_cap = CAP_AWAY_NOTIFY;
        chan_peers(c, ev, 0);
        monitor_extended(c, ev, CAP_AWAY_NOTIFY);
    }
    event_unref(ev);
    if (away[0])
        send_reply(c, RPL_NOWAWAY);
    else
        send_reply(c, RPL_UNAWAY);
}

/* --- MONITOR (IRCv3 monitor) --------------------------------------------------------------- */

/* Lines of comma-separated targets for numeric 730, 731 or 732, each within a line. */
struct mon_lines {
    struct client *c;
    int online; /* 1: 730, 0: 731, -1: 732 */
    char buf[IRC_LINE_MAX];
    size_t len;
};

static void mon_flush(struct mon_lines *l)
{
    if (!l->len)
        return;
    if (l->online > 0)
        send_reply(l->c, RPL_MONONLINE, l->buf);
    else if (l->online == 0)
        send_reply(l->c, RPL_MONOFFLINE, l->buf);
    else
        send_reply(l->c, RPL_MONLIST, l->buf);
    l->len = 0;
    l->buf[0] = '\0';
}

static void mon_add(struct mon_lines *l, const char *target)
{
    /* ":srv 73x nick :" takes the rest: keep well inside 512 bytes. */
    if (l->len + strlen(target) + 1 > IRC_LINE_MAX - 100)
        mon_flush(l);
    l->len += (size_t)snprintf(l->buf + l->len, sizeof l->buf - l->len, "%s%s", l->len ? "," : "",
                               target);
}

/* 730 for those of nicks (the client's list, n of them) who are online, 731 for the others. */
static void mon_status(struct client *c, char (*nicks)[IRC_NICK_MAX + 1], int n)
{
    struct mon_lines on = {.c = c, .online = 1}, off = {.c = c, .online = 0};
    for (int i = 0; i < n; i++) {
        struct nick_info info;
        if (nick_info(client_srv(c), nicks[i], &info) == 0 && info.registered) {
            char source[IRC_NICK_MAX + USER_MAX + HOST_MAX + 3];
            snprintf(source, sizeof source, "%s!%s@%s", info.nick, info.user, info.host);
            mon_add(&on, source);
        } else {
            mon_add(&off, nicks[i]);
        }
    }
    mon_flush(&on);
    mon_flush(&off);
}

static int mon_find(const struct client *c, const char *nick)
{
    for (int i = 0; i < c->nmonitor; i++)
        if (ircname_cmp(c->monitor[i], nick) == 0)
            return i;
    return -1;
}

static void mon_plus(struct client *c, char *targets)
{
    if (!c->monitor && !(c->monitor = calloc(MONITOR_MAX, sizeof c->monitor[0]))) {
        send_reply(c, ERR_UNKNOWNERROR, "MONITOR", "Out of memory");
        return;
    }
    int first = c->nmonitor;
    char *save = NULL;
    for (char *t = strtok_r(targets, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (!ircname_nick_valid(t) || mon_find(c, t) >= 0)
            continue;
        if (c->nmonitor == MONITOR_MAX) {
            /* The rest of the list, as given, is not watched (IRCv3 monitor: 734). */
            char rest[IRC_LINE_MAX];
            snprintf(rest, sizeof rest, "%s%s%s", t, save && *save ? "," : "", save ? save : "");
            send_reply(c, ERR_MONLISTFULL, MONITOR_MAX, rest);
            break;
        }
        if (monitor_add(t, c->w->index, c->id) < 0)
            break;
        snprintf(c->monitor[c->nmonitor++], sizeof c->monitor[0], "%s", t);
    }
    mon_status(c, c->monitor + first, c->nmonitor - first);
}

static void mon_minus(struct client *c, char *targets)
{
    char *save = NULL;
    for (char *t = strtok_r(targets, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int i = mon_find(c, t);
        if (i < 0)
            continue;
        monitor_remove(c->monitor[i], c->id);
        memmove(c->monitor[i], c->monitor[i + 1],
                (size_t)(c->nmonitor - i - 1) * sizeof c->monitor[0]);
        c->nmonitor--;
    }
}

void cmd_monitor(struct client *c, struct ircmsg *m)
{
    const char *op = m->params[0];
    if (strlen(op) != 1) {
        send_reply(c, ERR_UNKNOWNERROR, "MONITOR", "Unknown subcommand");
        return;
    }
    switch (op[0]) {
    case '+':
    case '-':
        if (m->nparams < 2 || !m->params[1][0]) {
            send_reply(c, ERR_NEEDMOREPARAMS, "MONITOR");
            return;
        }
        if (op[0] == '+')
            mon_plus(c, m->params[1]);
        else
            mon_minus(c, m->params[1]);
        return;
    case 'C':
    case 'c':
        for (int i = 0; i < c->nmonitor; i++)
            monitor_remove(c->monitor[i], c->id);
        c->nmonitor = 0;
        return;
    case 'L':
    case 'l': {
        struct mon_lines l = {.c = c, .online = -1};
        for (int i = 0; i < c->nmonitor; i++)
            mon_add(&l, c->monitor[i]);
        mon_flush(&l);
        send_reply(c, RPL_ENDOFMONLIST);
        return;
    }
    case 'S':
    case 's':
        mon_status(c, c->monitor, c->nmonitor);
        return;
    default:
        send_reply(c, ERR_UNKNOWNERROR, "MONITOR", "Unknown subcommand");
        return;
    }
}
