/* cmd: checks a received line and dispatches it from the command table (ngircd's shape:
 * command -> handler, minimum parameters, registration needed). */
#include "cmd.h"

#include <string.h>
#include <strings.h>

#include "core/caps.h"
#include "core/client.h"
#include "label.h"
#include "common/utf8.h"
#include "core/numerics.h"
#include "core/send.h"
#include "core/server.h"

struct command {
    const char *name;
    void (*handler)(struct client *c, struct ircmsg *m);
    int min_params;
    int needs_registration;
};

static const struct command commands[] = {
    {"CAP", cmd_cap, 1, 0},
    {"PASS", cmd_pass, 1, 0},
    {"NICK", cmd_nick, 0, 0},
    {"USER", cmd_user, 4, 0},
    {"PING", cmd_ping, 0, 0},
    {"PONG", cmd_pong, 0, 0},
    {"QUIT", cmd_quit, 0, 0},
    {"MOTD", cmd_motd, 0, 1},
    {"JOIN", cmd_join, 1, 1},
    {"PART", cmd_part, 1, 1},
    {"NAMES", cmd_names, 0, 1},
    {"PRIVMSG", cmd_privmsg, 0, 1},
    {"NOTICE", cmd_notice, 0, 1},
    {"TOPIC", cmd_topic, 1, 1},
    {"MODE", cmd_mode, 1, 1},
    {"KICK", cmd_kick, 2, 1},
    {"INVITE", cmd_invite, 2, 1},
    {"LIST", cmd_list, 0, 1},
    {"WHO", cmd_who, 0, 1},
    {"WHOIS", cmd_whois, 0, 1},
    {"ISON", cmd_ison, 1, 1},
    {"MONITOR", cmd_monitor, 1, 1},
    {"USERHOST", cmd_userhost, 1, 1},
    {"LUSERS", cmd_lusers, 0, 1},
    {"VERSION", cmd_version, 0, 1},
    {"TIME", cmd_time, 0, 1},
    {"AWAY", cmd_away, 0, 1},
    {"TAGMSG", cmd_tagmsg, 1, 1},
    {"SETNAME", cmd_setname, 1, 1},
    {"WHOWAS", cmd_whowas, 1, 1},
    {"OPER", cmd_oper, 2, 1},
    {"KILL", cmd_kill, 2, 1},
    {"WALLOPS", cmd_wallops, 1, 1},
    {"ANNOUNCE", cmd_announce, 1, 1},
    {"REHASH", cmd_rehash, 0, 1},
    {"CHATHISTORY", cmd_chathistory, 0, 1},
    {"INFO", cmd_info, 0, 1},
    {"ADMIN", cmd_admin, 0, 1},
    {"AUTHENTICATE", cmd_authenticate, 1, 0},
    {"REGISTER", cmd_register, 0, 0},
};

void cmd_install(struct server *srv)
{
    srv->hooks.line = cmd_dispatch;
    srv->hooks.too_long = cmd_input_too_long;
    srv->hooks.closing = cmd_closing;
}

void cmd_input_too_long(struct client *c)
{
    send_reply(c, ERR_INPUTTOOLONG);
}

static void run(struct client *c, struct ircmsg *m);

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
        len = utf8_repair(repaired, sizeof repaired, line, len);
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
    char label[LABEL_MAX + 1];
    if ((c->caps & CAP_LABELED_RESPONSE) && m.tags &&
        ircmsg_tag_get(m.tags, "label", label, sizeof label) == 1 && label[0]) {
        struct sendq held;
        label_begin(c, &held);
        c->label = label;
        run(c, &m);
        c->label = NULL;
        label_end(c, &held, label);
    } else {
        run(c, &m);
    }
}

/* Looks the command up and runs it, or replies why not. */
static void run(struct client *c, struct ircmsg *m)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        const struct command *cmd = &commands[i];
        if (strcasecmp(cmd->name, m->command) != 0)
            continue;
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
