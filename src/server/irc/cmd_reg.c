/* cmd_reg: connection registration and upkeep: CAP, PASS, NICK, USER, PING, PONG, QUIT,
 * MOTD, SETNAME, the welcome burst (001-005 and the MOTD) that tells a client it is logged
 * in, and what a closing connection leaves behind (cmd_closing: its nick, WHOWAS, QUIT). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store/account.h"
#include "cluster/cluster.h"
#include "core/caps.h"
#include "state/chan.h"
#include "core/event.h"
#include "core/client.h"
#include "cmd.h"
#include "core/conn.h"
#include "state/monitor.h"
#include "state/nick.h"
#include "core/numerics.h"
#include "core/send.h"
#include "core/server.h"
#include "state/whowas.h"
#include "store/readmark.h"

void cmd_motd(struct client *c, struct ircmsg *m)
{
    (void)m;
    const struct config *cfg = client_cfg(c);
    if (cfg->motd_lines == 0) {
        send_reply(c, ERR_NOMOTD);
        return;
    }
    send_reply(c, RPL_MOTDSTART, cfg->server_name);
    for (int i = 0; i < cfg->motd_lines; i++)
        send_reply(c, RPL_MOTD, cfg->motd[i]);
    send_reply(c, RPL_ENDOFMOTD);
}

void cmd_isupport(struct client *c)
{
    /* Every token here is true of this server (Modern IRC "Feature Advertisement"); at most
     * 13 tokens a line, so that a line keeps within 15 parameters. */
    char tokens[IRC_LINE_MAX];
    snprintf(tokens, sizeof tokens,
             "AWAYLEN=%d CASEMAPPING=rfc1459 CHANLIMIT=%s:%d CHANMODES=beI,k,l,Cimnst "
             "CHANNELLEN=%d CHANTYPES=%s ELIST=CMNTU EXCEPTS INVEX KICKLEN=%d",
             AWAY_MAX, IRC_CHANTYPES, CHANNELS_PER_USER, IRC_CHANNEL_MAX, IRC_CHANTYPES, KICK_MAX);
    send_reply(c, RPL_ISUPPORT, tokens);
    snprintf(tokens, sizeof tokens,
             "LINELEN=%d MAXLIST=beI:%d MODES=%d NETWORK=%s NICKLEN=%d PREFIX=(ov)@+ STATUSMSG=@+",
             IRC_LINE_MAX, LIST_MAX, MODES_PER_LINE, TCPCHAT_NETWORK, IRC_NICK_MAX);
    send_reply(c, RPL_ISUPPORT, tokens);
    snprintf(tokens, sizeof tokens,
             "TARGMAX=PRIVMSG:%d,NOTICE:%d,JOIN:,PART:,KICK:,NAMES:1,WHOIS:1,LIST: TOPICLEN=%d "
             "UTF8ONLY USERLEN=%d WHOX MONITOR=%d BOT=B EXTBAN=,m",
             TARGETS_MAX, TARGETS_MAX, TOPIC_MAX, USER_MAX, MONITOR_MAX);
    send_reply(c, RPL_ISUPPORT, tokens);
    if (client_srv(c)->hist) {
        snprintf(tokens, sizeof tokens, "CHATHISTORY=%d MSGREFTYPES=msgid,timestamp",
                 HISTORY_QUERY_MAX);
        send_reply(c, RPL_ISUPPORT, tokens);
    }
}

/* c->source from c's nick, user and host. -1 without memory for it. */
static int set_source(struct client *c)
{
    char source[SOURCE_MAX + 1], host[HOST_MAX];
    client_shown_host(c, host, sizeof host);
    snprintf(source, sizeof source, "%s!%s@%s", c->nick, c->user, host);
    return conn_set_str(&c->source, source, SOURCE_MAX);
}

/* The nick table's user, host (as shown) and real name of c. */
static void set_user(struct client *c)
{
    char host[HOST_MAX];
    client_shown_host(c, host, sizeof host);
    nick_set_user(client_srv(c), c->nick, c->id, c->user, host, c->realname);
}

/* WHOWAS remembers c as others saw it. */
static void remember(const struct client *c)
{
    char host[HOST_MAX];
    client_shown_host(c, host, sizeof host);
    whowas_add(c->nick, c->user, host, c->realname);
}

static void welcome(struct client *c)
{
    struct server *srv = client_srv(c);
    const struct config *cfg = &srv->cfg;
    send_reply(c, RPL_WELCOME, TCPCHAT_NETWORK, c->source);
    send_reply(c, RPL_YOURHOST, cfg->server_name, TCPCHAT_VERSION);
    send_reply(c, RPL_CREATED, srv->created);
    send_reply(c, RPL_MYINFO, cfg->server_name, TCPCHAT_VERSION);
    cmd_isupport(c);
    cmd_lusers(c, NULL);
    cmd_motd(c, NULL);
}

void cmd_host_changed(struct client *c)
{
    char host[HOST_MAX];
    client_shown_host(c, host, sizeof host);
    const char *at = strrchr(c->source, '@');
    if (!c->registered || !at || strcmp(at + 1, host) == 0)
        return;
    struct event *ev = event_new(NULL, ":%s CHGHOST %s %s", c->source, c->user, host);
    if (set_source(c) < 0) {
        conn_close_later(c, "Out of memory");
        event_unref(ev);
        return;
    }
    set_user(c);
    if (ev) {
        ev->need_cap = CAP_CHGHOST;
        char userhost[USER_MAX + 1 + HOST_MAX];
        snprintf(userhost, sizeof userhost, "%s@%s", c->user, host);
        chan_chghost(c, ev, userhost);
        send_event(c, ev); /* the user too (IRCv3 chghost), whatever its channels */
        monitor_extended(c, ev, CAP_CHGHOST);
    }
    event_unref(ev);
}

void cmd_user_changed(struct client *c)
{
    struct server *srv = client_srv(c);
    struct nick_info info;
    if (srv->cluster && c->registered && nick_info(srv, c->nick, &info) == 0 && info.id == c->id)
        cluster_user(srv, &info);
}

/* The nick is not c's after all: it picks another. */
static void drop_nick(struct client *c)
{
    nick_release(client_srv(c), c->nick, c->id);
    c->has_nick = 0;
    c->nick[0] = '\0';
}

static mb_client_fn net_claimed;
static void change_nick(struct client *c, const char *nick);

/* Completes registration once NICK, USER and any CAP negotiation are done. */
void reg_try(struct client *c)
{
    if (c->registered || !c->has_nick || !c->has_user || c->cap_pending || c->sasl_pending ||
        c->net_pending || c->closing)
        return;
    if (!c->pass_ok) {
        send_reply(c, ERR_PASSWDMISMATCH);
        conn_close_later(c, "Bad password");
        return;
    }
    if (client_cfg(c)->require_sasl && !c->account[0]) {
        send_reply(c, ERR_SASLFAIL_REQUIRE);
        conn_close_later(c, "SASL authentication required");
        return;
    }
    if (cmd_ban_check(c))
        return;
    /* A registered nick is its owner's: anyone else is refused it, and picks another. */
    if (account_exists(client_srv(c), c->nick) && ircname_cmp(c->account, c->nick) != 0) {
        send_reply(c, ERR_NICKNAMEINUSE_CHOOSE, c->nick);
        drop_nick(c);
        return;
    }
    /* On a cluster, the nick must be free on the whole network: registration waits for it. */
    if (client_srv(c)->cluster && !c->net_nick) {
        if (cluster_claim(client_srv(c), c->w->index, c->id, c->nick, net_claimed) < 0) {
            send_reply(c, ERR_UNAVAILRESOURCE, c->nick);
            drop_nick(c);
        } else {
            c->net_pending = 1;
        }
        return;
    }
    if (set_source(c) < 0) {
        nick_release(client_srv(c), c->nick, c->id);
        c->has_nick = 0;
        conn_close_later(c, "Out of memory");
        return;
    }
    c->registered = 1;
    conn_registered(c);
    c->w->metrics.registered++;
    c->active_ms = c->w->now_ms;
    set_user(c);
    if (c->tls.ssl)
        nick_set_secure(client_srv(c), c->nick, c->id);
    if (c->account[0])
        nick_set_account(client_srv(c), c->nick, c->id, c->account);
    cmd_user_changed(c);
    welcome(c);
    metadata_welcome(c);
    const char *lobby = client_cfg(c)->default_channel;
    if (lobby && *lobby) {
        int err = chan_join(c, lobby, NULL);
        if (err)
            send_chan_error(c, err, lobby);
    }
}

/* Applies a CAP REQ list: all or nothing (IRCv3 capability negotiation). Returns 0 when
 * every name is known, -1 otherwise (nothing changed). */
static int cap_request(struct client *c, const char *list)
{
    unsigned add = 0, del = 0;
    const char *p = list;
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        int remove = *p == '-';
        if (remove)
            p++;
        size_t len = strcspn(p, " ");
        unsigned bit = caps_lookup(p, len) &
                       caps_offered(client_srv(c)->hist != NULL, client_cfg(c)->cluster != NULL);
        if (!bit)
            return -1;
        if (remove)
            del |= bit;
        else
            add |= bit;
        p += len;
    }
    c->caps = (c->caps | add) & ~del;
    c->variant = caps_variant(c->caps);
    return 0;
}

/* Room for every capability's name and CAP 302 value: more than one line holds. */
#define CAP_NAMES_MAX 2048

/* "CAP who sub :names", in as many lines as the names need: every line but the last with
 * "*" before the list (IRCv3 capability negotiation 302, multiline replies), cut at spaces. */
static void cap_lines(struct client *c, const char *who, const char *sub, const char *names)
{
    /* ":server CAP who sub * :" and CR LF around each part. */
    size_t room =
        IRC_LINE_MAX - 2 - (strlen(client_cfg(c)->server_name) + strlen(who) + strlen(sub) + 12);
    const char *p = names;
    for (;;) {
        size_t len = strlen(p);
        if (len <= room) {
            send_server_line(c, "CAP %s %s :%s", who, sub, p);
            return;
        }
        size_t cut = room;
        while (cut > 0 && p[cut] != ' ')
            cut--;
        if (cut == 0) /* one name longer than a line: never with our names */
            cut = room;
        send_server_line(c, "CAP %s %s * :%.*s", who, sub, (int)cut, p);
        p += cut;
        while (*p == ' ')
            p++;
    }
}

void cmd_cap(struct client *c, struct ircmsg *m)
{
    const char *sub = m->params[0];
    const char *who = c->nick[0] ? c->nick : "*";
    char names[CAP_NAMES_MAX];
    if (strcasecmp(sub, "LS") == 0) {
        if (!c->registered)
            c->cap_pending = 1;
        /* CAP LS 302 implies cap-notify (IRCv3 capability negotiation, version 302). */
        if (m->nparams > 1 && strtol(m->params[1], NULL, 10) >= 302) { /* atoi could wrap */
            c->cap_302 = 1;
            c->caps |= CAP_CAP_NOTIFY;
        }
        caps_names(caps_offered(client_srv(c)->hist != NULL, client_cfg(c)->cluster != NULL),
                   c->cap_302, names, sizeof names);
        cap_lines(c, who, "LS", names);
    } else if (strcasecmp(sub, "LIST") == 0) {
        caps_names(c->caps, 0, names, sizeof names);
        cap_lines(c, who, "LIST", names);
    } else if (strcasecmp(sub, "REQ") == 0) {
        if (!c->registered)
            c->cap_pending = 1;
        const char *list = m->nparams > 1 ? m->params[1] : "";
        send_server_line(c, "CAP %s %s :%s", who, cap_request(c, list) == 0 ? "ACK" : "NAK", list);
    } else if (strcasecmp(sub, "END") == 0) {
        c->cap_pending = 0;
        reg_try(c);
    } else {
        send_reply(c, ERR_INVALIDCAPCMD, sub);
    }
}

void cmd_setname(struct client *c, struct ircmsg *m)
{
    if (m->params[0][0] == '\0') {
        send_fail(c, "SETNAME", "INVALID_REALNAME", NULL, "Real name is empty");
        return;
    }
    if (conn_set_str(&c->realname, m->params[0], REALNAME_MAX) < 0) {
        send_fail(c, "SETNAME", "CANNOT_CHANGE_REALNAME", NULL, "Out of memory");
        return;
    }
    set_user(c);
    cmd_user_changed(c);
    struct event *ev = event_new(NULL, ":%s SETNAME :%s", c->source, c->realname);
    if (ev) {
        ev->need_cap = CAP_SETNAME;
        chan_peers(c, ev, 1);
        monitor_extended(c, ev, CAP_SETNAME);
    }
    event_unref(ev);
}

/* Compares without an early exit, so the time taken does not tell how much matched. */
static int secret_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = la != lb;
    for (size_t i = 0; i < la; i++)
        diff |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
    return diff == 0;
}

void cmd_pass(struct client *c, struct ircmsg *m)
{
    if (c->registered) {
        send_reply(c, ERR_ALREADYREGISTERED);
        return;
    }
    const char *want = client_cfg(c)->password;
    c->pass_ok = !want || secret_equal(m->params[0], want);
}

void cmd_nick(struct client *c, struct ircmsg *m)
{
    struct server *srv = client_srv(c);
    if (m->nparams < 1 || m->params[0][0] == '\0') {
        send_reply(c, ERR_NONICKNAMEGIVEN);
        return;
    }
    const char *nick = m->params[0];
    if (!ircname_nick_valid(nick) || services_is(nick)) { /* NickServ, ChanServ: not users */
        send_reply(c, ERR_ERRONEUSNICKNAME, nick);
        return;
    }
    if (c->has_nick && strcmp(nick, c->nick) == 0)
        return;
    if (c->registered) {
        /* Each change is announced to every channel the user is in: rate-limit them. */
        uint64_t now = c->w->now_ms;
        if (c->nick_ms == 0) {
            c->nick_tokens = NICK_BURST;
            c->nick_ms = now;
        }
        c->nick_tokens += (double)(now - c->nick_ms) / NICK_INTERVAL_MS;
        if (c->nick_tokens > NICK_BURST)
            c->nick_tokens = NICK_BURST;
        c->nick_ms = now;
        if (c->nick_tokens < 1.0) {
            send_reply(c, ERR_NICKCHANGETOOFAST, nick,
                       (int)((1.0 - c->nick_tokens) * NICK_INTERVAL_MS / 1000) + 1);
            return;
        }
    }
    if (c->registered && account_exists(srv, nick) && ircname_cmp(c->account, nick) != 0) {
        send_reply(c, ERR_NICKNAMEINUSE_OWNED, nick);
        return;
    }
    if (srv->cluster && c->registered) {
        /* Local first (a quick no), then the network; the change happens on its answer. */
        int worker;
        uint64_t id;
        if (c->net_pending) {
            send_reply(c, ERR_UNAVAILRESOURCE, nick);
            return;
        }
        if (nick_find(srv, nick, &worker, &id) == 0 && id != c->id) {
            send_reply(c, ERR_NICKNAMEINUSE, nick);
            return;
        }
        if (cluster_claim(srv, c->w->index, c->id, nick, net_claimed) < 0) {
            send_reply(c, ERR_UNAVAILRESOURCE, nick);
            return;
        }
        c->net_pending = 1;
        return;
    }
    if (nick_claim(srv, nick, c->has_nick ? c->nick : NULL, c->w->index, c->id) < 0) {
        send_reply(c, ERR_NICKNAMEINUSE, nick);
        return;
    }
    if (!c->registered) {
        if (c->net_nick) /* a cluster had given us the old one */
            cluster_release(srv, c->id, c->nick);
        c->net_nick = 0;
        snprintf(c->nick, sizeof c->nick, "%s", nick);
        c->has_nick = 1;
        reg_try(c);
        return;
    }
    change_nick(c, nick);
}

/* A registered user's nick becomes nick (held already): everyone who shares a channel sees. */
static void change_nick(struct client *c, const char *nick)
{
    c->nick_tokens -= 1.0;
    remember(c);
    struct event *change = event_new(NULL, ":%s NICK %s", c->source, nick);
    char old[IRC_NICK_MAX + 1];
    snprintf(old, sizeof old, "%s", c->nick);
    snprintf(c->nick, sizeof c->nick, "%s", nick);
    if (set_source(c) < 0)
        conn_close_later(c, "Out of memory");
    /* The NICK line comes back to us in channel order, or, answering a labeled NICK, at once
     * (labeled-response: the reply carries the label). */
    if (change) {
        chan_nick(c, change, !c->label);
        if (c->label)
            send_msg(c, event_render(change, c->variant));
    }
    event_unref(change);
    struct server *srv = client_srv(c);
    struct nick_info info;
    if (srv->cluster && nick_info(srv, c->nick, &info) == 0 && info.id == c->id)
        cluster_user_nick(srv, &info, old);
}

/* The network's answer to a claim of nick (cluster.h), on c's worker. */
static void net_claimed(struct client *c, int op, int result, const char *nick)
{
    (void)op;
    struct server *srv = client_srv(c);
    c->net_pending = 0;
    if (c->closing)
        return; /* cmd_closing gave the nick back */
    if (result != CLUSTER_OK) {
        if (result == CLUSTER_TAKEN)
            send_reply(c, ERR_NICKNAMEINUSE, nick);
        else
            send_reply(c, ERR_UNAVAILRESOURCE, nick);
        if (!c->registered && c->has_nick && strcmp(c->nick, nick) == 0)
            drop_nick(c);
        return;
    }
    if (!c->registered) {
        if (!c->has_nick || strcmp(c->nick, nick) != 0) {
            cluster_release(srv, c->id, nick); /* it picked another meanwhile */
        } else {
            c->net_nick = 1;
        }
        reg_try(c);
        return;
    }
    /* The network gave it: take it here too (a local client still registering gives way). */
    if (nick_claim_granted(srv, nick, c->nick, c->w->index, c->id) < 0) {
        cluster_release(srv, c->id, nick);
        send_reply(c, ERR_NICKNAMEINUSE, nick);
        return;
    }
    change_nick(c, nick);
}

/* The answer to the claim of the nick nick_lost picked. */
static void lost_claimed(struct client *c, int op, int result, const char *nick)
{
    (void)op;
    struct server *srv = client_srv(c);
    if (c->closing)
        return;
    char old[IRC_NICK_MAX + 1];
    snprintf(old, sizeof old, "%s", c->nick);
    if (result != CLUSTER_OK || nick_claim_granted(srv, nick, c->nick, c->w->index, c->id) < 0) {
        if (result == CLUSTER_OK)
            cluster_release(srv, c->id, nick);
        conn_close_later(c, "Nick collision: the network gave your nick to someone else");
        return;
    }
    send_server_line(c,
                     "NOTICE %s :Your nick %s was taken on the network while this server was "
                     "cut off from it; you are now %s",
                     old, old, nick);
    c->nick_tokens += 1.0; /* not a change of the user's */
    change_nick(c, nick);
    /* The other nodes never knew this user (the nick was someone else's there): the whole
     * user, not only the change. */
    struct nick_info info;
    if (nick_info(srv, nick, &info) == 0 && info.id == c->id)
        cluster_user(srv, &info);
    cluster_learn_nick(srv, old); /* and this node learns who has the old one */
}

/* conn_hooks.nick_lost: c's nick went to someone else on the network (a Redis outage): c
 * takes "Guest" and its client id in hex, a nick no one else is given. */
void cmd_nick_lost(struct client *c, int op, int result, const char *nick)
{
    (void)op;
    (void)result;
    if (c->closing || !c->registered || ircname_cmp(c->nick, nick) != 0)
        return; /* gone, or changed nick meanwhile */
    char guest[IRC_NICK_MAX + 1];
    snprintf(guest, sizeof guest, "Guest%llx", (unsigned long long)c->id);
    if (cluster_claim(client_srv(c), c->w->index, c->id, guest, lost_claimed) < 0)
        conn_close_later(c, "Nick collision: the network gave your nick to someone else");
}

void cmd_user(struct client *c, struct ircmsg *m)
{
    if (c->registered || c->has_user) {
        send_reply(c, ERR_ALREADYREGISTERED);
        return;
    }
    if (m->params[3][0] == '\0') { /* Modern IRC, USER: an empty real name is 461 */
        send_reply(c, ERR_NEEDMOREPARAMS, "USER");
        return;
    }
    /* No ident lookup, so the user name is marked unverified with '~' (common practice) and
     * kept to characters that are safe in a prefix. */
    size_t n = 0;
    c->user[n++] = '~';
    for (const char *p = m->params[0]; *p && n < USER_MAX; p++) {
        char ch = *p;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '_' || ch == '.')
            c->user[n++] = ch;
    }
    if (n == 1)
        n += (size_t)snprintf(c->user + 1, sizeof c->user - 1, "user");
    c->user[n] = '\0';
    if (conn_set_str(&c->realname, m->params[3], REALNAME_MAX) < 0) {
        conn_close_later(c, "Out of memory");
        return;
    }
    c->has_user = 1;
    reg_try(c);
}

void cmd_ping(struct client *c, struct ircmsg *m)
{
    const char *name = client_cfg(c)->server_name;
    if (m->nparams < 1 || m->params[0][0] == '\0') {
        send_reply(c, ERR_NOORIGIN);
        return;
    }
    send_server_line(c, "PONG %s :%s", name, m->params[0]);
}

void cmd_pong(struct client *c, struct ircmsg *m)
{
    (void)m;
    c->ping_pending = 0; /* any input counts as life; PONG needs nothing more */
}

void cmd_closing(struct client *c)
{
    struct server *srv = client_srv(c);
    /* The nick is free before the peer sees the connection end: it may reconnect at once. */
    if (c->has_nick) {
        nick_release(srv, c->nick, c->id);
        services_nick_freed(srv, c->nick); /* a REGAIN may be waiting for it */
    }
    if (srv->cluster && c->registered)
        cluster_user_quit(srv, c->id, c->nick, c->close_reason);
    else if (srv->cluster)
        cluster_release(srv, c->id, NULL); /* whatever it claimed, or is claiming */
    c->has_nick = 0;
    for (int i = 0; i < c->nmonitor; i++)
        monitor_remove(c->monitor[i], c->id);
    c->nmonitor = 0;
    readmark_closing(c);
    metadata_closing(c);
    if (c->registered)
        remember(c);
    struct event *quit =
        c->registered ? event_new(NULL, ":%s QUIT :%s", c->source, c->close_reason) : NULL;
    chan_quit(c, quit); /* posts c's own QUIT too, which frees c when it comes back */
    event_unref(quit);
}

void cmd_quit(struct client *c, struct ircmsg *m)
{
    char reason[IRC_LINE_MAX];
    if (m->nparams > 0 && m->params[0][0])
        snprintf(reason, sizeof reason, "Quit: %s", m->params[0]);
    else
        snprintf(reason, sizeof reason, "Quit");
    conn_close_later(c, reason);
}
