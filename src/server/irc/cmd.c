/* cmd: checks a received line and dispatches it from the command table (ngircd's shape:
 * command -> handler, minimum parameters, registration needed). */
#include "cmd.h"

#include <stdio.h>
#include <string.h>
#include <stdatomic.h>
#include <strings.h>

#include "core/caps.h"
#include "core/client.h"
#include "label.h"
#include "metrics_page.h"
#include "common/utf8.h"
#include "core/numerics.h"
#include "core/send.h"
#include "core/server.h"

struct command {
    const char *name;
    void (*handler)(struct client *c, struct ircmsg *m);
    int min_params;
    int needs_registration;
    const char *help; /* its syntax, a newline, what it does (HELP <command>) */
};

static void cmd_help(struct client *c, struct ircmsg *m);

static const struct command commands[] = {
    {"CAP", cmd_cap, 1, 0,
     "CAP LS [302] | LIST | REQ :<caps> | END\nNegotiates IRCv3 capabilities; registration waits "
     "for CAP END."},
    {"PASS", cmd_pass, 1, 0,
     "PASS <password>\nThe server password, before NICK and USER (servers started with "
     "--password)."},
    {"NICK", cmd_nick, 0, 0,
     "NICK <nickname>\nSets or changes your nickname (NICKLEN in ISUPPORT)."},
    {"USER", cmd_user, 4, 0,
     "USER <username> 0 * :<real name>\nGives your user name and real name when registering."},
    {"PING", cmd_ping, 0, 0, "PING <token>\nThe server answers PONG with the same token."},
    {"PONG", cmd_pong, 0, 0, "PONG <token>\nThe answer to the server's PING."},
    {"QUIT", cmd_quit, 0, 0, "QUIT [:<reason>]\nLeaves the server; the reason is shown to others."},
    {"MOTD", cmd_motd, 0, 1, "MOTD\nShows the message of the day."},
    {"JOIN", cmd_join, 1, 1,
     "JOIN <#channel>[,<#channel>...] [<key>[,<key>...]] | JOIN 0\nJoins channels (creating them); "
     "JOIN 0 leaves every channel."},
    {"PART", cmd_part, 1, 1, "PART <#channel>[,<#channel>...] [:<reason>]\nLeaves channels."},
    {"NAMES", cmd_names, 0, 1, "NAMES [<#channel>]\nLists the members of a channel."},
    {"PRIVMSG", cmd_privmsg, 0, 1,
     "PRIVMSG <target>[,<target>...] :<text>\nSends a message to users or channels (@#chan: its "
     "operators)."},
    {"NOTICE", cmd_notice, 0, 1,
     "NOTICE <target>[,<target>...] :<text>\nLike PRIVMSG, but never answered automatically."},
    {"TOPIC", cmd_topic, 1, 1,
     "TOPIC <#channel> [:<topic>]\nShows or sets a channel's topic (+t: operators only)."},
    {"MODE", cmd_mode, 1, 1,
     "MODE <#channel> [<modes> [<args>...]] | MODE <nick> [<modes>]\nShows or changes channel "
     "modes (b e I k l i m n s t o v) or your user modes (i w B)."},
    {"KICK", cmd_kick, 2, 1,
     "KICK <#channel> <nick>[,<nick>...] [:<reason>]\nRemoves users from a channel (operators)."},
    {"RENAME", cmd_rename, 2, 1,
     "RENAME <#channel> <#new-name> [:<reason>]\nRenames a channel, keeping its members, modes "
     "and topic (operators of the channel; draft/channel-rename; not on a cluster)."},
    {"INVITE", cmd_invite, 2, 1,
     "INVITE <nick> <#channel>\nInvites a user to a channel (+i: operators only)."},
    {"LIST", cmd_list, 0, 1,
     "LIST [<filter>[,<filter>...]]\nLists channels; filters: masks, !mask, >n, <n users, C>n, "
     "C<n, T>n, T<n minutes."},
    {"WHO", cmd_who, 0, 1,
     "WHO <mask|#channel> [%<fields>[,<token>]]\nLists users matching a mask or in a channel (WHOX "
     "fields tcuihsnfdlaor)."},
    {"WHOIS", cmd_whois, 0, 1,
     "WHOIS <nick>[,<nick>...]\nShows who a user is: host, channels, server, away, account."},
    {"ISON", cmd_ison, 1, 1, "ISON <nick> [<nick>...]\nSays which of the nicks are online."},
    {"MARKREAD", cmd_markread, 0, 1,
     "MARKREAD <target> [timestamp=<time>]\nSets or shows the time of the last message you read "
     "in a channel or conversation, kept for your account (draft/read-marker)."},
    {"REDACT", cmd_redact, 2, 1,
     "REDACT <target> <msgid> [:<reason>]\nDeletes a message you sent (a channel operator: any in "
     "the channel) for clients with draft/message-redaction, and from the history."},
    {"METADATA", cmd_metadata, 2, 1,
     "METADATA <target> GET <key>... | LIST | SET <key> [:<value>] | CLEAR | SYNC | SUB "
     "<key>... | UNSUB <key>... | SUBS\nReads and sets metadata (display-name, "
     "avatar, homepage...) of users and channels: the target is * (yourself), a nick or a "
     "channel; you set your own, and a channel's as its operator; SUB chooses the keys whose "
     "changes you are told of (draft/metadata-2; not on a cluster)."},
    {"MONITOR", cmd_monitor, 1, 1,
     "MONITOR + <nick>[,...] | - <nick>[,...] | C | L | S\nTells you when nicks come online or go "
     "offline (MONITOR in ISUPPORT)."},
    {"USERHOST", cmd_userhost, 1, 1,
     "USERHOST <nick> [<nick>...]\nShows users' user@host and whether they are away."},
    {"LUSERS", cmd_lusers, 0, 1, "LUSERS\nCounts users, operators, channels and servers."},
    {"VERSION", cmd_version, 0, 1, "VERSION\nShows the server's version and ISUPPORT."},
    {"TIME", cmd_time, 0, 1, "TIME\nShows the server's time."},
    {"AWAY", cmd_away, 0, 1,
     "AWAY [:<message>]\nMarks you away with a message; without one, back."},
    {"BATCH", cmd_batch, 1, 1,
     "BATCH +<ref> draft/multiline <target> | BATCH -<ref>\nSends the PRIVMSG or NOTICE "
     "lines tagged batch=<ref> in between as one multiline message (draft/multiline)."},
    {"TAGMSG", cmd_tagmsg, 1, 1,
     "TAGMSG <target>\nSends only message tags (reactions, typing) to a user or channel "
     "(message-tags)."},
    {"SETNAME", cmd_setname, 1, 1, "SETNAME :<real name>\nChanges your real name (setname)."},
    {"WHOWAS", cmd_whowas, 1, 1, "WHOWAS <nick> [<count>]\nShows who recently used a nick."},
    {"OPER", cmd_oper, 2, 1,
     "OPER <name> <password>\nBecomes an IRC operator (an [oper] entry of the config)."},
    {"KILL", cmd_kill, 2, 1, "KILL <nick> :<reason>\nDisconnects a user (operators)."},
    {"SAMODE", cmd_samode, 1, 1,
     "SAMODE <#channel> <modes> [<args>...]\nChanges a channel's modes as its operators could, "
     "in any channel (operators; logged)."},
    {"DIE", cmd_die, 0, 1, "DIE [:<reason>]\nStops the server, telling everyone why (operators)."},
    {"RESTART", cmd_restart, 0, 1,
     "RESTART [:<reason>]\nStops the server and starts it again with the same options "
     "(operators)."},
    {"WALLOPS", cmd_wallops, 1, 1,
     "WALLOPS :<text>\nSends a message to every user with +w (operators)."},
    {"ANNOUNCE", cmd_announce, 1, 1, "ANNOUNCE :<text>\nSends a notice to every user (operators)."},
    {"REHASH", cmd_rehash, 0, 1,
     "REHASH\nReloads the config file and the TLS certificate (operators)."},
    {"KLINE", cmd_kline, 1, 1,
     "KLINE [<duration>] <user@host> [:<reason>]\nBans users from this server by user@host (host: "
     "a glob or a CIDR block) and disconnects those connected; the duration is in minutes, or "
     "10s, 5m, 2h, 3d, 1w (none or 0: permanent) (operators)."},
    {"UNKLINE", cmd_unkline, 1, 1, "UNKLINE <user@host>\nLifts a K-line (operators)."},
    {"DLINE", cmd_dline, 1, 1,
     "DLINE [<duration>] <address|CIDR> [:<reason>]\nBans an address or a block from connecting "
     "at all and disconnects those connected; durations as KLINE (operators)."},
    {"UNDLINE", cmd_undline, 1, 1, "UNDLINE <address|CIDR>\nLifts a D-line (operators)."},
    {"CHATHISTORY", cmd_chathistory, 0, 1,
     "CHATHISTORY LATEST|BEFORE|AFTER|AROUND|BETWEEN|TARGETS <target> ...\nFetches message history "
     "(draft/chathistory)."},
    {"INFO", cmd_info, 0, 1, "INFO\nShows what this server is."},
    {"LINKS", cmd_links, 0, 1, "LINKS [[<server>] <mask>]\nLists the servers of the network."},
    {"STATS", cmd_stats, 1, 1,
     "STATS u|m|l|o|k|d\nShows the server's uptime (u), how often each command was used (m), its "
     "links to Redis (l), and, to operators, the operator entries (o), K-lines (k) and D-lines "
     "(d)."},
    {"ADMIN", cmd_admin, 0, 1, "ADMIN\nShows who runs this server."},
    {"AUTHENTICATE", cmd_authenticate, 1, 0,
     "AUTHENTICATE <mechanism> | <base64>\nLogs in with SASL (PLAIN, EXTERNAL) before "
     "registering."},
    {"REGISTER", cmd_register, 0, 0,
     "REGISTER * * :<password>\nRegisters your nick as an account (draft/account-registration)."},
    {"NS", cmd_ns, 0, 1,
     "NS <command> [<arguments>]\nTalks to NickServ, your account's service (NS HELP)."},
    {"NICKSERV", cmd_ns, 0, 1, "NICKSERV <command> [<arguments>]\nThe same as NS."},
    {"CS", cmd_cs, 0, 1,
     "CS <command> [<arguments>]\nTalks to ChanServ, which registers channels (CS HELP)."},
    {"CHANSERV", cmd_cs, 0, 1, "CHANSERV <command> [<arguments>]\nThe same as CS."},
    {"HELP", cmd_help, 0, 0, "HELP [<command>]\nShows the commands, or how to use one."},
};

void cmd_install(struct server *srv)
{
    srv->hooks.line = cmd_dispatch;
    srv->hooks.too_long = cmd_input_too_long;
    srv->hooks.closing = cmd_closing;
    srv->hooks.nick_lost = cmd_nick_lost;
    srv->hooks.metrics_page = metrics_page;
    srv->hooks.ban_sweep = cmd_ban_sweep;
    srv->hooks.nick_freed = services_nick_freed;
}

void cmd_input_too_long(struct client *c)
{
    send_reply(c, ERR_INPUTTOOLONG);
}

static void run(struct client *c, struct ircmsg *m, size_t len);

/* Whether line (no tags) is a USER command, with or without a prefix. */
static int is_user_line(const char *line)
{
    if (line[0] == ':') {
        const char *sp = strchr(line, ' ');
        if (!sp)
            return 0;
        line = sp + 1;
    }
    line += strspn(line, " ");
    return strncasecmp(line, "USER", 4) == 0 && (line[4] == ' ' || line[4] == '\0');
}

void cmd_dispatch(struct client *c, char *line, size_t len)
{
    struct ircmsg m;
    if (memchr(line, '\0', len)) {
        /* The parser stops at the NUL, which is enough to name the command in the reply. */
        int ok = ircmsg_parse(line, &m) == IRCMSG_OK && utf8_valid(m.command, strlen(m.command));
        send_reply(c, ERR_UNKNOWNERROR_NUL, ok ? m.command : "*");
        return;
    }
    /* The 512-byte limit is on the message proper; IRCv3 tags have their own budget. */
    size_t tags_len = 0;
    if (line[0] == '@') {
        const char *sp = strchr(line, ' ');
        tags_len = sp ? (size_t)(sp - line) + 1 : len;
    }
    if (len - tags_len > IRC_LINE_MAX - 2 || tags_len > IRC_TAGS_MAX) {
        cmd_input_too_long(c);
        return;
    }
    int utf8_ok = utf8_valid(line, len);
    /* A real name in another encoding (an old client sending Latin-1) must not leave its
     * client unregistered with nothing to do: USER before registration is taken with each
     * invalid byte replaced by U+FFFD. Anything else is refused below (UTF8ONLY). */
    char repaired[3 * IRC_LINE_MAX + 1];
    if (!utf8_ok && !c->registered && tags_len == 0 && is_user_line(line)) {
        utf8_repair(repaired, sizeof repaired, line, len);
        line = repaired;
        utf8_ok = 1;
    }
    int rc = ircmsg_parse(line, &m);
    if (rc == IRCMSG_EEMPTY)
        return;
    if (rc == IRCMSG_ETAGS) {
        cmd_input_too_long(c);
        return;
    }
    if (!utf8_ok) {
        /* ISUPPORT UTF8ONLY: reject rather than relay (IRCv3 UTF8ONLY, standard replies). */
        send_fail(c, rc == IRCMSG_OK ? m.command : "*", "INVALID_UTF8", NULL,
                  "Message rejected, it contained invalid UTF-8");
        return;
    }
    if (rc != IRCMSG_OK) {
        send_reply(c, ERR_UNKNOWNCOMMAND, m.command && *m.command ? m.command : "*");
        return;
    }
    /* A line of a client's batch (draft/multiline) goes to it, whatever its command. */
    char ref[BATCH_REF_MAX + 1];
    int in_batch;
    if (c->registered && m.tags && !ircmsg_is(&m, "BATCH") &&
        (in_batch = ircmsg_tag_get(m.tags, "batch", ref, sizeof ref)) != 0) {
        if (in_batch < 0)
            ref[0] = '\0'; /* too long to be one of ours */
        cmd_batch_line(c, &m, ref);
        return;
    }
    char label[LABEL_MAX + 1];
    if ((c->caps & CAP_LABELED_RESPONSE) && m.tags &&
        ircmsg_tag_get(m.tags, "label", label, sizeof label) == 1 && label[0]) {
        struct sendq held;
        label_begin(c, &held);
        c->label = label;
        run(c, &m, len);
        c->label = NULL;
        label_end(c, &held, label);
    } else {
        run(c, &m, len);
    }
}

/* Looks the command up and runs it, or replies why not. */
/* How often each command of the table was used, and its bytes (STATS m): the server's, for
 * the process's life. */
static atomic_ulong used[sizeof commands / sizeof commands[0]];
static atomic_ulong used_bytes[sizeof commands / sizeof commands[0]];

int cmd_usage(size_t i, const char **name, unsigned long *count, unsigned long *bytes)
{
    if (i >= sizeof commands / sizeof commands[0])
        return -1;
    *name = commands[i].name;
    *count = atomic_load_explicit(&used[i], memory_order_relaxed);
    *bytes = atomic_load_explicit(&used_bytes[i], memory_order_relaxed);
    return 0;
}

static void run(struct client *c, struct ircmsg *m, size_t len)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        const struct command *cmd = &commands[i];
        if (strcasecmp(cmd->name, m->command) != 0)
            continue;
        atomic_fetch_add_explicit(&used[i], 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&used_bytes[i], len, memory_order_relaxed);
        if (cmd->needs_registration && !c->registered) {
            send_reply(c, ERR_NOTREGISTERED);
            return;
        }
        if (m->nparams < cmd->min_params) {
            send_reply(c, ERR_NEEDMOREPARAMS, cmd->name);
            return;
        }
        cmd->handler(c, m);
        /* JOIN and PART touch shared state and wake every member: a join/part flood is paid
         * for with flood-control tokens, so the excess is delayed, not refused. */
        if (cmd->handler == cmd_join || cmd->handler == cmd_part)
            c->tokens -= JOINPART_PENALTY;
        return;
    }
    if (c->registered)
        send_reply(c, ERR_UNKNOWNCOMMAND, m->command);
    else
        send_reply(c, ERR_NOTREGISTERED);
}

/* HELP [command] (Modern IRC HELP: 704 the first line, 705 the others, 706 the end; 524 for
 * an unknown subject). Without one, the index: every command this server has. */
static void cmd_help(struct client *c, struct ircmsg *m)
{
    const char *subject = m->nparams > 0 && m->params[0][0] ? m->params[0] : "index";
    if (strcasecmp(subject, "index") == 0) {
        send_reply(c, RPL_HELPSTART, "index", "Commands of this server (HELP <command> for one):");
        char line[IRC_LINE_MAX] = "";
        size_t n = 0;
        for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
            if (n > 60) {
                send_reply(c, RPL_HELPTXT, "index", line);
                n = 0;
            }
            n +=
                (size_t)snprintf(line + n, sizeof line - n, "%s%s", n ? " " : "", commands[i].name);
        }
        if (n)
            send_reply(c, RPL_HELPTXT, "index", line);
        send_reply(c, RPL_ENDOFHELP, "index", "End of /HELP");
        return;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        const struct command *cmd = &commands[i];
        if (strcasecmp(cmd->name, subject) != 0)
            continue;
        const char *nl = strchr(cmd->help, '\n');
        char first[IRC_LINE_MAX];
        snprintf(first, sizeof first, "%.*s", (int)(nl - cmd->help), cmd->help);
        send_reply(c, RPL_HELPSTART, cmd->name, first);
        send_reply(c, RPL_HELPTXT, cmd->name, nl + 1);
        send_reply(c, RPL_ENDOFHELP, cmd->name, "End of /HELP");
        return;
    }
    send_reply(c, ERR_HELPNOTFOUND, subject);
}
