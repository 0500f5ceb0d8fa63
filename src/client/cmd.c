/* cmd: slash commands and plain text -> IRC lines (RFC 2812 3.1-3.4) and the local echo.
 * Without IRCv3 echo-message the server does not send PRIVMSG back to its sender, so the echo
 * built here is how the user sees their own messages. Long messages are split so every
 * relayed line fits in IRC_LINE_MAX. */
#include "cmd.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/ircname.h"
#include "common/utf8.h"

#define CRLF     "\r\n"
#define CRLF_LEN 2
/* The server prefixes what it relays with ":nick!user@host ". Keep room for it so the
 * relayed line still fits: ':' + nick (IRC_NICK_MAX) + '!' + user + '@' + host (up to a
 * 63-byte host name, RFC 1123) + ' ', with some slack for long user names. */
#define CMD_PREFIX_RESERVE (1 + IRC_NICK_MAX + 1 + 12 + 1 + 63 + 1)
/* A target longer than this cannot be a nickname or channel; refuse rather than split the
 * text into absurdly small pieces. */
#define CMD_TARGET_MAX 200
/* When splitting, break at a space if one lies in the last part of the piece. */
#define CMD_SPLIT_SPACE_DIVISOR 2
#define CTCP_ACTION_OPEN        "\001ACTION "
#define CTCP_ACTION_CLOSE       "\001"
#define CTCP_DELIM_STR          "\001"
/* Digits a window number may have (/win N). */
#define CMD_WINDOW_DIGITS 4
/* A TCP port: 1 to 65535, at most 5 digits. */
#define CMD_PORT_MAX    65535
#define CMD_PORT_DIGITS 5
/* Longest CTCP command name ("VERSION", "CLIENTINFO", ...). */
#define CTCP_NAME_MAX 32

static const char *const help_lines[] = {
    "Commands:",
    "  TEXT                       say TEXT in the current channel (//TEXT says /TEXT)",
    "  /msg NICK TEXT             private message to NICK (or to a channel)",
    "  /query NICK [TEXT]         talk with NICK: plain text goes to NICK from now on",
    "  /close                     end the private conversation (full-screen: close its window,",
    "                             or that of a channel you left), back to the last channel",
    "  /notice NICK|#CHANNEL TEXT a notice (no automatic reply expected)",
    "  /ctcp NICK COMMAND [ARGS]  a CTCP request, e.g. /ctcp bob VERSION",
    "  /join #CHANNEL [KEY]       join a channel; it becomes the current one",
    "  /part [#CHANNEL] [REASON]  leave the current (or given) channel",
    "  /nick NEWNICK              change your nickname",
    "  /who [#CHANNEL]            list the users in the current (or given) channel",
    "  /names [#CHANNEL]          the same as /who",
    "  /list [FILTER]             the channels (names containing FILTER, or a mask)",
    "  /topic [#CHANNEL] [TEXT]   show the channel's topic, or set it to TEXT",
    "  /whois NICK                who NICK is, where they are, whether they are away",
    "  /away [MESSAGE]            mark yourself away with MESSAGE; without one, back",
    "  /invite NICK [#CHANNEL]    invite NICK to the current (or given) channel",
    "  /kick NICK [REASON]        remove NICK from the current channel (operators)",
    "  /mode [#CHANNEL] [MODES]   show or change channel modes, e.g. /mode +o NICK",
    "  /ban [#CHANNEL] NICK|MASK  ban from the current channel (NICK bans NICK!*@*)",
    "  /unban [#CHANNEL] MASK     lift a ban",
    "  /op NICK... (/deop)        give (take) channel operator status in the current channel",
    "  /voice NICK... (/devoice)  give (take) voice (+v); all three take a #CHANNEL first",
    "  /kb NICK [REASON]          ban NICK!*@* and kick NICK (/kickban)",
    "  /ignore [NICK|MASK]        hide messages from NICK; without one, list who is hidden",
    "  /unignore NICK|MASK        show them again",
    "  /register PASSWORD         make your nick an account (log in later with --sasl)",
    "  /login [ACCOUNT] PASSWORD  log in to your account now (NickServ IDENTIFY)",
    "  /clear                     clear the screen",
    "  /hidejoins                 hide others' joins, parts and quits; again: show them",
    "  /lastlog TEXT              full-screen mode: this window's lines holding TEXT, again",
    "  /win N                     full-screen mode: show window N (also Alt-N, Ctrl-N/P)",
    "  /nicklist                  full-screen mode: show or hide the nick list (also F2)",
    "  /me ACTION                 describe an action (\"* nick ACTION\")",
    "  /server HOST PORT [PASS]   leave this server for another (PASS: its password, IRC PASS)",
    "  /quote RAW                 send RAW to the server as it is",
    "  /quit [REASON]             leave the chat",
    "  /help                      this list",
    "  /j /q /w /n /t /k /m /wc   irssi's short forms: /join /query /who /names /topic /kick",
    "                             /msg /close (also /wi /whois, /c /clear, /b /ban, /ub /unban)",
    NULL,
};

const char *const *cmd_help_lines(void)
{
    return help_lines;
}

static void set_kind(struct cmd_result *res, enum cmd_kind kind)
{
    res->kind = kind;
}

static int fail(struct cmd_result *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct cmd_result *res, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->echo, sizeof res->echo, fmt, ap);
    va_end(ap);
    res->wire_len = 0;
    res->wire[0] = '\0';
    set_kind(res, CMD_ERROR);
    return -1;
}

/* Appends one wire line (CR LF added). Returns 0, or -1 when it does not fit. */
static int wire_add(struct cmd_result *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int wire_add(struct cmd_result *res, const char *fmt, ...)
{
    size_t room = sizeof res->wire - res->wire_len;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(res->wire + res->wire_len, room, fmt, ap);
    va_end(ap);
    /* A longer line would be cut by the server (RFC 1459 2.3): refuse it whole instead. */
    if (n < 0 || (size_t)n + CRLF_LEN >= room || n > IRC_LINE_MAX - CRLF_LEN) {
        res->wire[res->wire_len] = '\0';
        return -1;
    }
    memcpy(res->wire + res->wire_len + n, CRLF, CRLF_LEN + 1);
    res->wire_len += (size_t)n + CRLF_LEN;
    return 0;
}

static const char *skip_spaces(const char *s)
{
    while (*s == ' ')
        s++;
    return s;
}

/* Copies the first space-separated word of s into out; returns what follows it (spaces
 * skipped). out is "" when s has no word or the word does not fit. */
static const char *next_word(const char *s, char *out, size_t cap)
{
    s = skip_spaces(s);
    size_t n = strcspn(s, " ");
    if (n >= cap)
        n = 0;
    memcpy(out, s, n);
    out[n] = '\0';
    return skip_spaces(s + n);
}

static int is_current(const struct cmd_ctx *ctx, const char *target)
{
    return ctx->channel && ircname_cmp(ctx->channel, target) == 0;
}

/* The current target when it is a channel: what channel commands act on. */
static const char *current_channel(const struct cmd_ctx *ctx)
{
    return ctx->channel && ircname_is_channel(ctx->channel) ? ctx->channel : NULL;
}

static void make_echo(struct cmd_result *res, const struct cmd_ctx *ctx, const char *target,
                      const char *text, int action, int notice)
{
    char who[CMD_TARGET_MAX + 8];
    const char *nick = ctx->nick ? ctx->nick : "";
    if (notice) {
        snprintf(res->echo, sizeof res->echo, "-> -%s- %s", target, text);
        return;
    }
    if (is_current(ctx, target))
        who[0] = '\0';
    else if (ircname_is_channel(target))
        snprintf(who, sizeof who, "[%s] ", target);
    else
        snprintf(who, sizeof who, "-> *%s* ", target);
    if (action)
        snprintf(res->echo, sizeof res->echo, "%s* %s %s", who, nick, text);
    else if (!is_current(ctx, target) && !ircname_is_channel(target))
        snprintf(res->echo, sizeof res->echo, "%s%s", who, text);
    else
        snprintf(res->echo, sizeof res->echo, "%s<%s> %s", who, nick, text);
}

/* PRIVMSG (or, with notice, NOTICE) text to target, split into pieces that fit once the
 * server adds its prefix. */
static int say(struct cmd_result *res, const struct cmd_ctx *ctx, const char *target,
               const char *text, int action, int notice)
{
    const char *command = notice ? "NOTICE" : "PRIVMSG";
    if (!*target)
        return fail(res, "No target: /msg NICK TEXT");
    if (strlen(target) > CMD_TARGET_MAX || target[0] == ':')
        return fail(res, "Not a valid nickname or channel: %.64s", target);
    if (!*text)
        return fail(res, "Nothing to send.");
    size_t wrap = action ? strlen(CTCP_ACTION_OPEN) + strlen(CTCP_ACTION_CLOSE) : 0;
    size_t budget = IRC_LINE_MAX - CRLF_LEN - CMD_PREFIX_RESERVE - strlen(command) - 1 -
                    strlen(target) - strlen(" :") - wrap;
    const char *p = text;
    while (*p) {
        size_t left = strlen(p);
        size_t n = left;
        size_t skip = 0;
        if (left > budget) {
            n = utf8_trim(p, budget);
            /* Prefer to break between words when a space is reasonably near the end. */
            for (size_t i = n; i > n / CMD_SPLIT_SPACE_DIVISOR; i--) {
                if (p[i - 1] == ' ') {
                    n = i - 1;
                    skip = 1;
                    break;
                }
            }
        }
        int rc = action ? wire_add(res, "PRIVMSG %s :" CTCP_ACTION_OPEN "%.*s" CTCP_ACTION_CLOSE,
                                   target, (int)n, p)
                        : wire_add(res, "%s %s :%.*s", command, target, (int)n, p);
        if (rc < 0)
            return fail(res, "Message too long.");
        res->messages++;
        p += n + skip;
    }
    make_echo(res, ctx, target, text, action, notice);
    set_kind(res, CMD_SEND);
    return 0;
}

/* "lobby,#dev" -> "#lobby,#dev": a name typed without its '#' means the channel. */
static int join_list(const char *list, char *out, size_t cap)
{
    size_t o = 0;
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, ",");
        int add = n > 0 && !ircname_is_channel(p);
        if (o + add + n + 1 >= cap)
            return -1;
        if (add)
            out[o++] = IRC_CHANTYPES[0];
        memcpy(out + o, p, n);
        o += n;
        p += n;
        if (*p == ',') {
            out[o++] = ',';
            p++;
        }
    }
    out[o] = '\0';
    return o ? 0 : -1;
}

static int cmd_join(struct cmd_result *res, const char *args)
{
    char list[CMD_INPUT_MAX], chans[CMD_INPUT_MAX], key[CMD_INPUT_MAX];
    const char *rest = next_word(args, list, sizeof list);
    next_word(rest, key, sizeof key);
    if (!*list || join_list(list, chans, sizeof chans) < 0)
        return fail(res, "Usage: /join #CHANNEL [KEY]");
    int rc = *key ? wire_add(res, "JOIN %s %s", chans, key) : wire_add(res, "JOIN %s", chans);
    if (rc < 0)
        return fail(res, "Channel name too long.");
    res->joins = 1;
    set_kind(res, CMD_SEND);
    return 0;
}

static int cmd_part(struct cmd_result *res, const struct cmd_ctx *ctx, const char *args)
{
    char chan[CMD_INPUT_MAX];
    const char *reason = args;
    if (ircname_is_channel(args)) {
        reason = next_word(args, chan, sizeof chan);
    } else if (current_channel(ctx)) {
        snprintf(chan, sizeof chan, "%s", ctx->channel);
    } else {
        return fail(res, "You are not in a channel. Usage: /part #CHANNEL [REASON]");
    }
    int rc = *reason ? wire_add(res, "PART %s :%s", chan, reason) : wire_add(res, "PART %s", chan);
    if (rc < 0)
        return fail(res, "Reason too long.");
    set_kind(res, CMD_SEND);
    return 0;
}

static int cmd_simple_word(struct cmd_result *res, const char *args, const char *command,
                           const char *usage)
{
    char word[CMD_INPUT_MAX];
    const char *rest = next_word(args, word, sizeof word);
    if (!*word || *rest || word[0] == ':')
        return fail(res, "Usage: %s", usage);
    if (wire_add(res, "%s %s", command, word) < 0)
        return fail(res, "Too long.");
    set_kind(res, CMD_SEND);
    return 0;
}

static int cmd_who(struct cmd_result *res, const struct cmd_ctx *ctx, const char *args)
{
    if (*args)
        return cmd_simple_word(res, args, "NAMES", "/who [#CHANNEL]");
    if (!current_channel(ctx))
        return fail(res, "You are not in a channel. Usage: /who #CHANNEL");
    return cmd_simple_word(res, ctx->channel, "NAMES", "/who [#CHANNEL]");
}

/* The channel a command acts on: a leading "#channel" word of args (*args moves past it),
 * else the current one. Returns 0, or -1 when there is neither. */
static int channel_arg(const struct cmd_ctx *ctx, const char **args, char *out, size_t cap)
{
    if (ircname_is_channel(*args)) {
        *args = next_word(*args, out, cap);
        return *out ? 0 : -1;
    }
    if (!current_channel(ctx))
        return -1;
    snprintf(out, cap, "%s", ctx->channel);
    return 0;
}

static int cmd_topic(struct cmd_result *res, const struct cmd_ctx *ctx, const char *args)
{
    char chan[CMD_INPUT_MAX];
    if (channel_arg(ctx, &args, chan, sizeof chan) < 0)
        return fail(res, "You are not in a channel. Usage: /topic #CHANNEL [TEXT]");
    int rc = *args ? wire_add(res, "TOPIC %s :%s", chan, args) : wire_add(res, "TOPIC %s", chan);
    if (rc < 0)
        return fail(res, "Topic too long.");
    set_kind(res, CMD_SEND);
    return 0;
}

static int cmd_kick(struct cmd_result *res, const struct cmd_ctx *ctx, const char *args)
{
    char chan[CMD_INPUT_MAX], nick[CMD_INPUT_MAX];
    if (channel_arg(ctx, &args, chan, sizeof chan) < 0)
        return fail(res, "You are not in a channel. Usage: /kick [#CHANNEL] NICK [REASON]");
    const char *reason = next_word(args, nick, sizeof nick);
    if (!*nick || nick[0] == ':')
        return fail(res, "Usage: /kick NICK [REASON]");
    int rc = *reason ? wire_add(res, "KICK %s %s :%s", chan, nick, reason)
                     : wire_add(res, "KICK %s %s", chan, nick);
    if (rc < 0)
        return fail(res, "Reason too long.");
    set_kind(res, CMD_SEND);
    return 0;
}

static int cmd_invite(struct cmd_result *res, const struct cmd_ctx *ctx, const char *args)
{
    char nick[CMD_INPUT_MAX], chan[CMD_INPUT_MAX];
    const char *rest = next_word(args, nick, sizeof nick);
    if (!*nick || nick[0] == ':')
        return fail(res, "Usage: /invite NICK [#CHANNEL]");
    if (channel_arg(ctx, &rest, chan, sizeof chan) < 0 || *rest)
        return fail(res, "Usage: /invite NICK #CHANNEL");
    if (wire_add(res, "INVITE %s %s", nick, chan) < 0)
        return fail(res, "Too long.");
    set_kind(res, CMD_SEND);
    return 0;
}

/* "/mode" and "/mode +o bob" act on the current channel; "/mode #c ..." or "/mode nick +i"
 * name their target. The arguments go as they were typed. */
static int cmd_mode(struct cmd_result *res, const struct cmd_ctx *ctx, const char *args)
{
    int rc;
    if (!*args || *args == '+' || *args == '-') {
        if (!current_channel(ctx))
            return fail(res, "You are not in a channel. Usage: /mode #CHANNEL [MODES]");
        rc = *args ? wire_add(res, "MODE %s %s", ctx->channel, args)
                   : wire_add(res, "MODE %s", ctx->channel);
    } else {
        rc = wire_add(res, "MODE %s", args);
    }
    if (rc < 0)
        return fail(res, "Too long.");
    set_kind(res, CMD_SEND);
    return 0;
}

/* RFC 2812 4.1: AWAY with a message marks us away, without one marks us back. */
static int cmd_away(struct cmd_result *res, const char *args)
{
    int rc = *args ? wire_add(res, "AWAY :%s", args) : wire_add(res, "AWAY");
    if (rc < 0)
        return fail(res, "Away message too long.");
    set_kind(res, CMD_SEND);
    return 0;
}

static int cmd_quit(struct cmd_result *res, const char *args)
{
    int rc = *args ? wire_add(res, "QUIT :%s", args) : wire_add(res, "QUIT");
    if (rc < 0)
        return fail(res, "Reason too long.");
    set_kind(res, CMD_QUIT);
    return 0;
}

static int cmd_quote(struct cmd_result *res, const char *args)
{
    if (!*args)
        return fail(res, "Usage: /quote RAW-IRC-LINE");
    if (strlen(args) > IRC_LINE_MAX - CRLF_LEN)
        return fail(res, "Line too long for IRC (%d bytes at most).", IRC_LINE_MAX - CRLF_LEN);
    wire_add(res, "%s", args);
    set_kind(res, CMD_SEND);
    return 0;
}

static void local(struct cmd_result *res, enum cmd_local what, const char *arg)
{
    res->local = what;
    snprintf(res->arg, sizeof res->arg, "%s", arg);
    set_kind(res, CMD_LOCAL);
}

/* A word that can name a user: not empty, no ':' first, not a channel. */
static int is_nick_word(const char *w)
{
    return *w && w[0] != ':' && !ircname_is_channel(w) && strlen(w) <= CMD_TARGET_MAX;
}

/* "/query bob" makes bob the current target; "/query bob hi" also says hi. */
static int cmd_query(struct cmd_result *res, const struct cmd_ctx *ctx, const char *args)
{
    char nick[CMD_INPUT_MAX];
    const char *text = next_word(args, nick, sizeof nick);
    if (!is_nick_word(nick))
        return fail(res, "Usage: /query NICK [TEXT]");
    if (*text)
        return say(res, ctx, nick, text, 0, 0);
    local(res, LOCAL_QUERY, nick);
    return 0;
}

/* "/close": ends the private conversation shown, or (full-screen) closes the window of a
 * channel left; the session refuses a channel we are in. */
static int cmd_close(struct cmd_result *res, const struct cmd_ctx *ctx, const char *args)
{
    if (*args)
        return fail(res, "Usage: /close (ends the private conversation shown, or closes the "
                         "window of a channel you left)");
    if (!ctx->channel || !*ctx->channel)
        return fail(res, "No private conversation to close; /part leaves a channel.");
    local(res, LOCAL_CLOSE, ctx->channel);
    return 0;
}

/* "/ctcp bob version" -> PRIVMSG bob :\1VERSION\1 (the command in capitals, CTCP's habit). */
static int cmd_ctcp(struct cmd_result *res, const char *args)
{
    char target[CMD_INPUT_MAX], what[CMD_INPUT_MAX];
    const char *rest = next_word(args, target, sizeof target);
    rest = next_word(rest, what, sizeof what);
    size_t n = strlen(what);
    if (!*target || target[0] == ':' || strlen(target) > CMD_TARGET_MAX || !n || n > CTCP_NAME_MAX)
        return fail(res, "Usage: /ctcp NICK COMMAND [ARGS], e.g. /ctcp bob VERSION");
    for (size_t i = 0; i < n; i++) { /* ASCII, whatever the locale */
        char c = what[i];
        if (c >= 'a' && c <= 'z')
            what[i] = (char)(c - 'a' + 'A');
        else if (!(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9'))
            return fail(res, "A CTCP command is letters and digits, like VERSION or PING.");
    }
    if (strchr(rest, '\001'))
        return fail(res, "CTCP arguments cannot hold the CTCP delimiter.");
    int rc = *rest ? wire_add(res, "PRIVMSG %s :" CTCP_DELIM_STR "%s %s" CTCP_DELIM_STR, target,
                              what, rest)
                   : wire_add(res, "PRIVMSG %s :" CTCP_DELIM_STR "%s" CTCP_DELIM_STR, target, what);
    if (rc < 0)
        return fail(res, "Too long.");
    res->messages++;
    /* both fit: what is at most CTCP_NAME_MAX, target at most CMD_TARGET_MAX bytes */
    snprintf(res->echo, sizeof res->echo, "--- CTCP %.*s sent to %.*s", CTCP_NAME_MAX, what,
             CMD_TARGET_MAX, target);
    set_kind(res, CMD_SEND);
    return 0;
}

/* "/list" lists every channel; "/list dev" those whose name holds "dev" (the mask *dev*); a
 * filter with a wildcard, or an ELIST condition such as ">10", goes as it was typed. */
static int cmd_list(struct cmd_result *res, const char *args)
{
    char filter[CMD_INPUT_MAX];
    const char *rest = next_word(args, filter, sizeof filter);
    if (*rest || filter[0] == ':')
        return fail(res, "Usage: /list [FILTER]");
    int rc;
    if (!*filter)
        rc = wire_add(res, "LIST");
    else if (strpbrk(filter, "*?<>") || strchr("<>", filter[0]))
        rc = wire_add(res, "LIST %s", filter);
    else
        rc = wire_add(res, "LIST *%s*", filter);
    if (rc < 0)
        return fail(res, "Filter too long.");
    set_kind(res, CMD_SEND);
    return 0;
}

/* /ban and /unban: MODE <channel> +b/-b <mask>; a bare nick means every address of it. */
static int cmd_ban(struct cmd_result *res, const struct cmd_ctx *ctx, const char *args, char sign)
{
    char chan[CMD_INPUT_MAX], who[CMD_INPUT_MAX];
    const char *usage = sign == '+' ? "/ban [#CHANNEL] NICK|MASK" : "/unban [#CHANNEL] MASK";
    if (channel_arg(ctx, &args, chan, sizeof chan) < 0)
        return fail(res, "You are not in a channel. Usage: %s", usage);
    const char *rest = next_word(args, who, sizeof who);
    if (!*who || who[0] == ':' || *rest)
        return fail(res, "Usage: %s", usage);
    int rc = strpbrk(who, "!@") ? wire_add(res, "MODE %s %cb %s", chan, sign, who)
                                : wire_add(res, "MODE %s %cb %s!*@*", chan, sign, who);
    if (rc < 0)
        return fail(res, "Too long.");
    set_kind(res, CMD_SEND);
    return 0;
}

/* Nicks per MODE line of /op and its kin (RFC 2812 3.2.3: at most three changes with a
 * parameter per MODE; tcpchatd's MODES is larger, other servers' may not be). */
#define CMD_STATUS_PER_LINE 3

/* /op, /deop, /voice, /devoice [#CHANNEL] NICK...: MODE lines of sign and letter (o or v),
 * CMD_STATUS_PER_LINE nicks each. */
static int cmd_status(struct cmd_result *res, const struct cmd_ctx *ctx, const char *args,
                      const char *name, char sign, char letter)
{
    char chan[CMD_INPUT_MAX], nick[CMD_INPUT_MAX];
    if (channel_arg(ctx, &args, chan, sizeof chan) < 0)
        return fail(res, "You are not in a channel. Usage: /%s [#CHANNEL] NICK...", name);
    if (!*args)
        return fail(res, "Usage: /%s [#CHANNEL] NICK...", name);
    while (*args) {
        char letters[CMD_STATUS_PER_LINE + 2] = {sign};
        char nicks[CMD_STATUS_PER_LINE * (CMD_INPUT_MAX + 1)] = "";
        size_t used = 0;
        for (int i = 0; i < CMD_STATUS_PER_LINE && *args; i++) {
            args = next_word(args, nick, sizeof nick);
            if (!is_nick_word(nick))
                return fail(res, "Usage: /%s [#CHANNEL] NICK...", name);
            letters[i + 1] = letter;
            used += (size_t)snprintf(nicks + used, sizeof nicks - used, " %s", nick);
        }
        if (wire_add(res, "MODE %s %s%s", chan, letters, nicks) < 0)
            return fail(res, "Too long.");
    }
    set_kind(res, CMD_SEND);
    return 0;
}

/* /kb [#CHANNEL] NICK [REASON]: bans NICK!*@* and kicks NICK (irssi's kickban). */
static int cmd_kickban(struct cmd_result *res, const struct cmd_ctx *ctx, const char *args)
{
    char chan[CMD_INPUT_MAX], nick[CMD_INPUT_MAX];
    if (channel_arg(ctx, &args, chan, sizeof chan) < 0)
        return fail(res, "You are not in a channel. Usage: /kb [#CHANNEL] NICK [REASON]");
    const char *reason = next_word(args, nick, sizeof nick);
    if (!is_nick_word(nick) || strpbrk(nick, "!@*?"))
        return fail(res, "Usage: /kb [#CHANNEL] NICK [REASON]");
    if (wire_add(res, "MODE %s +b %s!*@*", chan, nick) < 0 ||
        (*reason ? wire_add(res, "KICK %s %s :%s", chan, nick, reason)
                 : wire_add(res, "KICK %s %s", chan, nick)) < 0)
        return fail(res, "Reason too long.");
    set_kind(res, CMD_SEND);
    return 0;
}

static int cmd_ignore(struct cmd_result *res, const char *args, enum cmd_local what)
{
    char who[CMD_INPUT_MAX];
    const char *rest = next_word(args, who, sizeof who);
    if (*rest || (what == LOCAL_UNIGNORE && !*who) || (*who && !is_nick_word(who)))
        return fail(res, what == LOCAL_IGNORE ? "Usage: /ignore [NICK|MASK]"
                                              : "Usage: /unignore NICK|MASK");
    local(res, what, who);
    return 0;
}

/* draft/account-registration: REGISTER <account> <email> <password>, "*" for the nick and
 * for no e-mail. The password is not echoed. */
static int cmd_register(struct cmd_result *res, const char *args)
{
    char password[CMD_INPUT_MAX];
    const char *rest = next_word(args, password, sizeof password);
    if (!*password || *rest)
        return fail(res, "Usage: /register PASSWORD (one word; your nick is the account)");
    if (wire_add(res, "REGISTER * * :%s", password) < 0)
        return fail(res, "Password too long.");
    snprintf(res->echo, sizeof res->echo, "--- Registering your nick as an account...");
    set_kind(res, CMD_SEND);
    return 0;
}

/* "/login [ACCOUNT] PASSWORD": logs in while connected, through the server's NickServ
 * (IDENTIFY: the reply is its notice, and 900). The password is not echoed. */
static int cmd_login(struct cmd_result *res, const char *args)
{
    char first[CMD_INPUT_MAX], second[CMD_INPUT_MAX];
    const char *rest = next_word(next_word(args, first, sizeof first), second, sizeof second);
    if (!*first || *rest || (*second && !is_nick_word(first)))
        return fail(res, "Usage: /login [ACCOUNT] PASSWORD (the account is your nick by default)");
    int rc = *second ? wire_add(res, "PRIVMSG NickServ :IDENTIFY %s %s", first, second)
                     : wire_add(res, "PRIVMSG NickServ :IDENTIFY %s", first);
    if (rc < 0)
        return fail(res, "Password too long.");
    snprintf(res->echo, sizeof res->echo, "--- Logging in...");
    set_kind(res, CMD_SEND);
    return 0;
}

/* "/win N": the window's number, 1 and up (the full-screen UI checks it exists). */
static int cmd_window(struct cmd_result *res, const char *args)
{
    char num[CMD_INPUT_MAX];
    const char *rest = next_word(args, num, sizeof num);
    size_t digits = strspn(num, "0123456789");
    if (!*num || num[digits] || digits > CMD_WINDOW_DIGITS || *rest || strtol(num, NULL, 10) < 1)
        return fail(res, "Usage: /win N (the window's number on the status line)");
    local(res, LOCAL_WINDOW, num);
    return 0;
}

/* "/server HOST PORT [PASSWORD]": the session leaves this server for that one. The port is
 * checked here (1 to 65535, digits only) as on the command line. */
static int cmd_server(struct cmd_result *res, const char *args)
{
    char host[CMD_INPUT_MAX], port[CMD_INPUT_MAX];
    next_word(next_word(args, host, sizeof host), port, sizeof port);
    size_t digits = strspn(port, "0123456789");
    long n = digits && !port[digits] && digits <= CMD_PORT_DIGITS ? strtol(port, NULL, 10) : 0;
    if (!*host || n < 1 || n > CMD_PORT_MAX)
        return fail(res, "Usage: /server HOST PORT [PASSWORD] (PORT: 1 to 65535)");
    local(res, LOCAL_SERVER, args);
    return 0;
}

/* irssi's short forms of commands (its default aliases), and what each stands for. */
static const struct {
    const char *alias, *command;
} aliases[] = {
    {"w", "who"},    {"n", "names"},  {"t", "topic"},  {"k", "kick"},
    {"m", "msg"},    {"wc", "close"}, {"wi", "whois"}, {"c", "clear"},
    {"cl", "clear"}, {"b", "ban"},    {"ub", "unban"}, {"kb", "kickban"},
};

/* One "/command args" line; name excludes the '/'. */
static int run_command(struct cmd_result *res, const struct cmd_ctx *ctx, const char *name,
                       const char *args)
{
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (!strcasecmp(name, aliases[i].alias))
            name = aliases[i].command;
    if (!strcasecmp(name, "query") || !strcasecmp(name, "q"))
        return cmd_query(res, ctx, args);
    if (!strcasecmp(name, "close"))
        return cmd_close(res, ctx, args);
    if (!strcasecmp(name, "server"))
        return cmd_server(res, args);
    if (!strcasecmp(name, "notice")) {
        char target[CMD_INPUT_MAX];
        const char *text = next_word(args, target, sizeof target);
        if (!*target || !*text)
            return fail(res, "Usage: /notice NICK|#CHANNEL TEXT");
        return say(res, ctx, target, text, 0, 1);
    }
    if (!strcasecmp(name, "ctcp"))
        return cmd_ctcp(res, args);
    if (!strcasecmp(name, "list"))
        return cmd_list(res, args);
    if (!strcasecmp(name, "ban"))
        return cmd_ban(res, ctx, args, '+');
    if (!strcasecmp(name, "unban"))
        return cmd_ban(res, ctx, args, '-');
    if (!strcasecmp(name, "op") || !strcasecmp(name, "deop"))
        return cmd_status(res, ctx, args, name, name[0] == 'o' ? '+' : '-', 'o');
    if (!strcasecmp(name, "voice") || !strcasecmp(name, "devoice"))
        return cmd_status(res, ctx, args, name, name[0] == 'v' ? '+' : '-', 'v');
    if (!strcasecmp(name, "kickban"))
        return cmd_kickban(res, ctx, args);
    if (!strcasecmp(name, "ignore"))
        return cmd_ignore(res, args, LOCAL_IGNORE);
    if (!strcasecmp(name, "unignore"))
        return cmd_ignore(res, args, LOCAL_UNIGNORE);
    if (!strcasecmp(name, "register"))
        return cmd_register(res, args);
    if (!strcasecmp(name, "login"))
        return cmd_login(res, args);
    if (!strcasecmp(name, "clear")) {
        local(res, LOCAL_CLEAR, "");
        return 0;
    }
    if (!strcasecmp(name, "hidejoins")) {
        if (*args)
            return fail(res, "Usage: /hidejoins (hides or shows others' joins, parts and quits)");
        local(res, LOCAL_HIDEJOINS, "");
        return 0;
    }
    if (!strcasecmp(name, "lastlog")) {
        if (!*args)
            return fail(res, "Usage: /lastlog TEXT (the lines of this window that hold TEXT)");
        local(res, LOCAL_LASTLOG, args);
        return 0;
    }
    if (!strcasecmp(name, "win") || !strcasecmp(name, "window"))
        return cmd_window(res, args);
    if (!strcasecmp(name, "nicklist")) {
        local(res, LOCAL_NICKLIST, "");
        return 0;
    }
    if (!strcasecmp(name, "msg")) {
        char target[CMD_INPUT_MAX];
        const char *text = next_word(args, target, sizeof target);
        if (!*target || !*text)
            return fail(res, "Usage: /msg NICK TEXT");
        return say(res, ctx, target, text, 0, 0);
    }
    if (!strcasecmp(name, "me")) {
        if (!ctx->channel)
            return fail(res, "You are not in a channel; /join #CHANNEL first.");
        if (!*args)
            return fail(res, "Usage: /me ACTION");
        return say(res, ctx, ctx->channel, args, 1, 0);
    }
    if (!strcasecmp(name, "join") || !strcasecmp(name, "j"))
        return cmd_join(res, args);
    if (!strcasecmp(name, "part") || !strcasecmp(name, "leave"))
        return cmd_part(res, ctx, args);
    if (!strcasecmp(name, "nick"))
        return cmd_simple_word(res, args, "NICK", "/nick NEWNICK");
    if (!strcasecmp(name, "who") || !strcasecmp(name, "names"))
        return cmd_who(res, ctx, args);
    if (!strcasecmp(name, "topic"))
        return cmd_topic(res, ctx, args);
    if (!strcasecmp(name, "whois"))
        return cmd_simple_word(res, args, "WHOIS", "/whois NICK");
    if (!strcasecmp(name, "away"))
        return cmd_away(res, args);
    if (!strcasecmp(name, "back"))
        return cmd_away(res, "");
    if (!strcasecmp(name, "invite"))
        return cmd_invite(res, ctx, args);
    if (!strcasecmp(name, "kick"))
        return cmd_kick(res, ctx, args);
    if (!strcasecmp(name, "mode"))
        return cmd_mode(res, ctx, args);
    if (!strcasecmp(name, "quit") || !strcasecmp(name, "exit"))
        return cmd_quit(res, args);
    if (!strcasecmp(name, "quote") || !strcasecmp(name, "raw"))
        return cmd_quote(res, args);
    if (!strcasecmp(name, "help")) {
        set_kind(res, CMD_HELP);
        return 0;
    }
    return fail(res, "Unknown command /%.64s. Type /help for the list of commands.", name);
}

int cmd_parse(const char *input, const struct cmd_ctx *ctx, struct cmd_result *res)
{
    res->kind = CMD_NONE;
    res->wire_len = 0;
    res->wire[0] = '\0';
    res->echo[0] = '\0';
    res->joins = 0;
    res->messages = 0;
    res->arg[0] = '\0';
    if (strlen(input) > CMD_INPUT_MAX)
        return fail(res, "Line too long (%d bytes at most).", CMD_INPUT_MAX);
    /* A CR or LF would end the IRC line early and smuggle in a second command. */
    if (strpbrk(input, "\r\n"))
        return fail(res, "Line breaks cannot be sent.");
    if (!*skip_spaces(input))
        return 0;
    if (input[0] == '/' && input[1] != '/') {
        char name[CMD_INPUT_MAX];
        const char *args = next_word(input + 1, name, sizeof name);
        if (!*name || input[1] == ' ')
            return fail(res, "Type /help for the list of commands.");
        return run_command(res, ctx, name, args);
    }
    /* "//text" says "/text". */
    const char *text = input[0] == '/' ? input + 1 : input;
    if (!ctx->channel)
        return fail(res, "You are not in a channel; /join #CHANNEL first.");
    return say(res, ctx, ctx->channel, text, 0, 0);
}
