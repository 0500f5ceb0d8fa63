/* cmd_reg: connection registration and upkeep: CAP, PASS, NICK, USER, PING, PONG, QUIT,
 * MOTD, and the welcome burst (001-005 and the MOTD) that tells a client it is logged in. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "chan.h"
#include "client.h"
#include "cmd.h"
#include "conn.h"
#include "msg.h"
#include "nick.h"
#include "numerics.h"
#include "send.h"
#include "server.h"
#include "worker.h"

static const struct config *cfg_of(const struct client *c)
{
    return &c->w->srv->cfg;
}

void cmd_motd(struct client *c, struct ircmsg *m)
{
    (void)m;
    const struct config *cfg = cfg_of(c);
    if (cfg->motd_lines == 0) {
        send_numeric(c, ERR_NOMOTD, ":MOTD File is missing");
        return;
    }
    send_numeric(c, RPL_MOTDSTART, ":- %s Message of the day - ", cfg->server_name);
    for (int i = 0; i < cfg->motd_lines; i++)
        send_numeric(c, RPL_MOTD, ":- %s", cfg->motd[i]);
    send_numeric(c, RPL_ENDOFMOTD, ":End of /MOTD command.");
}

void cmd_isupport(struct client *c)
{
    /* Every token here is true of this server (Modern IRC "Feature Advertisement"). */
    send_numeric(c, RPL_ISUPPORT,
                 "AWAYLEN=%d CASEMAPPING=rfc1459 CHANLIMIT=%s:%d CHANMODES=,k,l,imnst "
                 "CHANNELLEN=%d CHANTYPES=%s KICKLEN=%d LINELEN=%d MODES=%d NETWORK=%s "
                 "NICKLEN=%d :are supported by this server",
                 AWAY_MAX, IRC_CHANTYPES, CHANNELS_PER_USER, IRC_CHANNEL_MAX, IRC_CHANTYPES,
                 KICK_MAX, IRC_LINE_MAX, MODES_PER_LINE, TCPCHAT_NETWORK, IRC_NICK_MAX);
    send_numeric(c, RPL_ISUPPORT,
                 "PREFIX=(ov)@+ TARGMAX=PRIVMSG:%d,NOTICE:%d,JOIN:,PART:,KICK:,"
                 "NAMES:1,WHOIS:1,LIST: TOPICLEN=%d UTF8ONLY USERLEN=%d :are supported by this "
                 "server",
                 TARGETS_MAX, TARGETS_MAX, TOPIC_MAX, USER_MAX);
}

static void welcome(struct client *c)
{
    struct server *srv = c->w->srv;
    const struct config *cfg = &srv->cfg;
    send_numeric(c, RPL_WELCOME, ":Welcome to the %s IRC network, %s", TCPCHAT_NETWORK, c->source);
    send_numeric(c, RPL_YOURHOST, ":Your host is %s, running version %s", cfg->server_name,
                 TCPCHAT_VERSION);
    send_numeric(c, RPL_CREATED, ":This server was created %s", srv->created);
    send_numeric(c, RPL_MYINFO, "%s %s iw iklmnostv", cfg->server_name, TCPCHAT_VERSION);
    cmd_isupport(c);
    cmd_lusers(c, NULL);
    cmd_motd(c, NULL);
}

/* Completes registration once NICK, USER and any CAP negotiation are done. */
static void try_register(struct client *c)
{
    if (c->registered || !c->has_nick || !c->has_user || c->cap_pending)
        return;
    if (!c->pass_ok) {
        send_numeric(c, ERR_PASSWDMISMATCH, ":Password incorrect");
        conn_close_later(c, "Bad password");
        return;
    }
    c->registered = 1;
    c->active_ms = c->w->now_ms;
    snprintf(c->source, sizeof c->source, "%s!%s@%s", c->nick, c->user, c->host);
    nick_set_user(c->w->srv, c->nick, c->id, c->user, c->host, c->realname);
    welcome(c);
    const char *lobby = cfg_of(c)->default_channel;
    if (lobby && *lobby) {
        int err = chan_join(c, lobby, NULL);
        if (err)
            send_numeric(c, err, "%s :Cannot join channel", lobby);
    }
}

void cmd_cap(struct client *c, struct ircmsg *m)
{
    const char *sub = m->params[0];
    if (strcasecmp(sub, "LS") == 0) {
        if (!c->registered)
            c->cap_pending = 1;
        send_line(c, ":%s CAP %s LS :", cfg_of(c)->server_name, c->nick[0] ? c->nick : "*");
    } else if (strcasecmp(sub, "LIST") == 0) {
        send_line(c, ":%s CAP %s LIST :", cfg_of(c)->server_name, c->nick[0] ? c->nick : "*");
    } else if (strcasecmp(sub, "REQ") == 0) {
        if (!c->registered)
            c->cap_pending = 1;
        /* Nothing is offered yet, so every request is refused as a whole. */
        send_line(c, ":%s CAP %s NAK :%s", cfg_of(c)->server_name, c->nick[0] ? c->nick : "*",
                  m->nparams > 1 ? m->params[1] : "");
    } else if (strcasecmp(sub, "END") == 0) {
        c->cap_pending = 0;
        try_register(c);
    } else {
        send_numeric(c, 410, "%s :Invalid CAP command", sub); /* ERR_INVALIDCAPCMD */
    }
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
        send_numeric(c, ERR_ALREADYREGISTERED, ":You may not reregister");
        return;
    }
    const char *want = cfg_of(c)->password;
    c->pass_ok = !want || secret_equal(m->params[0], want);
}

void cmd_nick(struct client *c, struct ircmsg *m)
{
    struct server *srv = c->w->srv;
    if (m->nparams < 1 || m->params[0][0] == '\0') {
        send_numeric(c, ERR_NONICKNAMEGIVEN, ":No nickname given");
        return;
    }
    const char *nick = m->params[0];
    if (!ircname_nick_valid(nick)) {
        send_numeric(c, ERR_ERRONEUSNICKNAME, "%s :Erroneous nickname", nick);
        return;
    }
    if (c->has_nick && strcmp(nick, c->nick) == 0)
        return;
    if (nick_claim(srv, nick, c->has_nick ? c->nick : NULL, c->w->index, c->id) < 0) {
        send_numeric(c, ERR_NICKNAMEINUSE, "%s :Nickname is already in use", nick);
        return;
    }
    if (!c->registered) {
        snprintf(c->nick, sizeof c->nick, "%s", nick);
        c->has_nick = 1;
        try_register(c);
        return;
    }
    struct msg *change = msg_printf(":%s NICK %s", c->source, nick);
    snprintf(c->nick, sizeof c->nick, "%s", nick);
    snprintf(c->source, sizeof c->source, "%s!%s@%s", c->nick, c->user, c->host);
    if (change)
        chan_nick(c, change); /* also brings the NICK line back to us, in channel order */
    msg_unref(change);
}

void cmd_user(struct client *c, struct ircmsg *m)
{
    if (c->registered || c->has_user) {
        send_numeric(c, ERR_ALREADYREGISTERED, ":You may not reregister");
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
    snprintf(c->realname, sizeof c->realname, "%s", m->params[3]);
    c->has_user = 1;
    try_register(c);
}

void cmd_ping(struct client *c, struct ircmsg *m)
{
    const char *name = cfg_of(c)->server_name;
    if (m->nparams < 1 || m->params[0][0] == '\0') {
        send_numeric(c, ERR_NOORIGIN, ":No origin specified");
        return;
    }
    send_line(c, ":%s PONG %s :%s", name, name, m->params[0]);
}

void cmd_pong(struct client *c, struct ircmsg *m)
{
    (void)m;
    c->ping_pending = 0; /* any input counts as life; PONG needs nothing more */
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
