/* view: IRC message -> display text, and the terminal-safety filter for peer-controlled text.
 * Output uses irssi-like shapes: "<nick> text" in the current channel, "[#other] <nick> text"
 * elsewhere, "*nick* text" for private messages, "-->" / "<--" / "---" for system events. */
#include "view.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/ircname.h"
#include "common/utf8.h"

/* mIRC formatting control codes (https://modern.ircdocs.horse/formatting). */
#define MIRC_BOLD          0x02
#define MIRC_COLOUR        0x03
#define MIRC_HEX_COLOUR    0x04
#define MIRC_RESET         0x0F
#define MIRC_MONOSPACE     0x11
#define MIRC_REVERSE       0x16
#define MIRC_ITALIC        0x1D
#define MIRC_STRIKETHROUGH 0x1E
#define MIRC_UNDERLINE     0x1F
/* A colour code carries up to two decimal digits (or six hex digits) per colour. */
#define MIRC_COLOUR_DIGITS     2
#define MIRC_HEX_COLOUR_DIGITS 6

#define CTCP_DELIM   '\001'
#define CTCP_ACTION  "ACTION"
#define ASCII_DEL    0x7F
#define UTF8_CONT_LO 0x80 /* continuation bytes are 10xxxxxx */
#define UTF8_CONT_HI 0xBF
#define UTF8_C1_LEAD 0xC2 /* U+0080..U+009F (C1 controls) encode as C2 80..C2 9F */
#define UTF8_C1_LAST 0x9F
#define REPLACEMENT  '?'

/* Numeric reply classes (RFC 2812 5): 4xx and 5xx are errors. */
#define NUMERIC_ERROR_FIRST 400
#define NUMERIC_ERROR_LAST  599

/* IRCv3 server-time: @time=YYYY-MM-DDThh:mm:ss.sssZ, always UTC. */
#define SERVER_TIME_TAG    "time"
#define SERVER_TIME_MAX    64
#define SERVER_TIME_FIELDS 6
#define TM_YEAR_BASE       1900
/* "2026-11-26 17:15" for when a topic was set. */
#define VIEW_DATE_FORMAT "%Y-%m-%d %H:%M"
#define VIEW_DATE_MAX    32
#define DECIMAL          10

/* A bounded string builder: appends never overflow; text that does not fit is cut. */
struct sb {
    char *buf;
    size_t cap;
    size_t len;
};

static void sb_raw(struct sb *b, const char *s)
{
    size_t n = strlen(s);
    if (b->len + 1 >= b->cap)
        return;
    if (n > b->cap - 1 - b->len)
        n = utf8_trim(s, b->cap - 1 - b->len);
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

enum fmt_mode {
    FMT_DROP, /* mIRC formatting dropped (view_sanitize) */
    FMT_KEEP, /* kept as it came, codes and their digits (the display text, for view_render) */
    FMT_SGR,  /* turned into the terminal's own SGR sequences (view_render) */
};

static size_t sanitize(const char *in, char *out, size_t cap, enum fmt_mode mode);

/* Appends peer-controlled text, made safe; its mIRC formatting stays for view_render. */
static void sb_safe(struct sb *b, const char *s)
{
    if (b->len + 1 >= b->cap)
        return;
    b->len += sanitize(s, b->buf + b->len, b->cap - b->len, FMT_KEEP);
}

static int is_mirc_format(unsigned char c)
{
    switch (c) {
    case MIRC_BOLD:
    case MIRC_COLOUR:
    case MIRC_HEX_COLOUR:
    case MIRC_RESET:
    case MIRC_MONOSPACE:
    case MIRC_REVERSE:
    case MIRC_ITALIC:
    case MIRC_STRIKETHROUGH:
    case MIRC_UNDERLINE:
        return 1;
    default:
        return 0;
    }
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Skips the "fg[,bg]" argument of a colour code; returns the bytes it covers. */
static size_t colour_arg_len(const char *s, int hex)
{
    int (*ok)(char) = hex ? is_hex : is_digit;
    size_t max = hex ? MIRC_HEX_COLOUR_DIGITS : MIRC_COLOUR_DIGITS;
    size_t i = 0;
    while (i < max && ok(s[i]))
        i++;
    if (i > 0 && s[i] == ',' && ok(s[i + 1])) {
        size_t j = 1;
        while (j <= max && ok(s[i + j]))
            j++;
        i += j;
    }
    return i;
}

/* Length of the valid UTF-8 sequence at s, or 0 if s does not start one. Lead bytes per
 * RFC 3629 section 4: C2-DF start two bytes, E0-EF three, F0-F4 four. */
static size_t utf8_seq_len(const unsigned char *s)
{
    size_t n;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        n = 2;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF)
        n = 3;
    else if (s[0] >= 0xF0 && s[0] <= 0xF4)
        n = 4;
    else
        return 0;
    /* Check the continuation bytes one by one first so we never read past the NUL. */
    for (size_t i = 1; i < n; i++)
        if (s[i] < UTF8_CONT_LO || s[i] > UTF8_CONT_HI)
            return 0;
    return utf8_valid((const char *)s, n) ? n : 0;
}

/* mIRC's 16 colours (0 white, 1 black, 2 blue, 3 green, 4 red, 5 brown, 6 purple, 7 orange,
 * 8 yellow, 9 light green, 10 cyan, 11 light cyan, 12 light blue, 13 pink, 14 grey, 15 light
 * grey) as the terminal's SGR foreground colours; a background is 10 more. 99 is the
 * default; 16-98 (the extended ones) change nothing here. */
static const unsigned char mirc_sgr[] = {97, 30, 34, 32, 91, 31, 35, 33,
                                         93, 92, 36, 96, 94, 95, 90, 37};
#define MIRC_DEFAULT_COLOUR 99
#define SGR_MAX             24 /* "\033[1;3;4;7;9;38;48m" and the like: more than any we write */
#define SGR_RESET           "\033[0m"

/* The terminal's state as mIRC codes have set it so far. */
struct fmt_state {
    int bold, italic, underline, reverse, strike, fg, bg; /* fg, bg: SGR codes, 0 none */
};

/* The SGR sequence for a state, from a reset: "\033[0;1;91m" (cap >= SGR_MAX). */
static size_t sgr_of(const struct fmt_state *st, char *out)
{
    int n = snprintf(out, SGR_MAX, "\033[0%s%s%s%s%s", st->bold ? ";1" : "", st->italic ? ";3" : "",
                     st->underline ? ";4" : "", st->reverse ? ";7" : "", st->strike ? ";9" : "");
    if (st->fg)
        n += snprintf(out + n, (size_t)(SGR_MAX - n), ";%d", st->fg);
    if (st->bg)
        n += snprintf(out + n, (size_t)(SGR_MAX - n), ";%d", st->bg);
    n += snprintf(out + n, (size_t)(SGR_MAX - n), "m");
    return (size_t)n;
}

/* A colour code's "fg[,bg]" digits applied to st; none resets both. */
static void apply_colour(struct fmt_state *st, const char *arg, size_t len)
{
    if (len == 0) {
        st->fg = st->bg = 0;
        return;
    }
    int fg = 0, bg = -1;
    size_t i = 0;
    for (; i < len && is_digit(arg[i]); i++)
        fg = fg * 10 + (arg[i] - '0');
    if (i < len && arg[i] == ',') {
        bg = 0;
        for (i++; i < len; i++)
            bg = bg * 10 + (arg[i] - '0');
    }
    if (fg == MIRC_DEFAULT_COLOUR)
        st->fg = 0;
    else if (fg < (int)sizeof mirc_sgr)
        st->fg = mirc_sgr[fg];
    if (bg == MIRC_DEFAULT_COLOUR)
        st->bg = 0;
    else if (bg >= 0 && bg < (int)sizeof mirc_sgr)
        st->bg = mirc_sgr[bg] + 10;
}

/* One mIRC code (c, with its argument) applied to st. */
static void apply_format(struct fmt_state *st, unsigned char c, const char *arg, size_t len)
{
    switch (c) {
    case MIRC_BOLD:
        st->bold = !st->bold;
        break;
    case MIRC_ITALIC:
        st->italic = !st->italic;
        break;
    case MIRC_UNDERLINE:
        st->underline = !st->underline;
        break;
    case MIRC_REVERSE:
        st->reverse = !st->reverse;
        break;
    case MIRC_STRIKETHROUGH:
        st->strike = !st->strike;
        break;
    case MIRC_COLOUR:
        apply_colour(st, arg, len);
        break;
    case MIRC_RESET:
        memset(st, 0, sizeof *st);
        break;
    default: /* hex colours and monospace: not shown */
        break;
    }
}

size_t view_sanitize(const char *in, char *out, size_t cap)
{
    return sanitize(in, out, cap, FMT_DROP);
}

size_t view_render(const char *in, char *out, size_t cap)
{
    return sanitize(in, out, cap, FMT_SGR);
}

/* Only the sequences written here reach the terminal: a peer's text can set attributes
 * through mIRC codes, never send its own escapes. With FMT_SGR the output ends in a reset when
 * anything was set, and a sequence that does not fit whole is not written. */
static size_t sanitize(const char *in, char *out, size_t cap, enum fmt_mode mode)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t o = 0;
    struct fmt_state st = {0};
    int styled = 0; /* an SGR other than a reset is in effect */
    size_t keep = mode == FMT_SGR ? sizeof SGR_RESET - 1 : 0; /* room kept for the reset */
    if (cap <= keep) {
        if (cap > 0)
            out[0] = '\0';
        return 0;
    }
    while (*s) {
        size_t n = 1;
        const unsigned char *copy = s;
        unsigned char repl = 0;
        if (is_mirc_format(*s)) {
            if (*s == MIRC_COLOUR || *s == MIRC_HEX_COLOUR)
                n += colour_arg_len((const char *)s + 1, *s == MIRC_HEX_COLOUR);
            if (mode == FMT_KEEP && o + n < cap) {
                memcpy(out + o, s, n);
                o += n;
            } else if (mode == FMT_SGR) {
                apply_format(&st, *s, (const char *)s + 1, n - 1);
                char sgr[SGR_MAX];
                size_t w = sgr_of(&st, sgr);
                if (o + w + keep < cap) {
                    memcpy(out + o, sgr, w);
                    o += w;
                    styled = w > sizeof SGR_RESET - 1;
                }
            }
            s += n;
            continue;
        }
        if (*s == '\t') {
            repl = ' ';
        } else if (*s < 0x20 || *s == ASCII_DEL) {
            repl = REPLACEMENT;
        } else if (*s >= 0x80) {
            n = utf8_seq_len(s);
            if (n == 0) {
                n = 1;
                repl = REPLACEMENT;
            } else if (s[0] == UTF8_C1_LEAD && s[1] <= UTF8_C1_LAST) {
                /* C1 controls (CSI is U+009B) are escape sequences to some terminals. */
                repl = REPLACEMENT;
            }
        }
        if (repl)
            copy = &repl;
        size_t w = repl ? 1 : n;
        if (o + w + keep >= cap)
            break;
        memcpy(out + o, copy, w);
        o += w;
        s += n;
    }
    if (styled) {
        memcpy(out + o, SGR_RESET, sizeof SGR_RESET - 1);
        o += sizeof SGR_RESET - 1;
    }
    out[o] = '\0';
    return o;
}

void view_source_nick(const char *prefix, char *out, size_t cap)
{
    if (cap == 0)
        return;
    if (!prefix)
        prefix = "";
    size_t n = strcspn(prefix, "!@");
    if (n >= cap)
        n = cap - 1;
    memcpy(out, prefix, n);
    out[n] = '\0';
}

/* Bytes that can be part of a nick (RFC 2812 2.3.1): a mention must not be inside one. */
static int nick_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("[]\\`_^{|}-", c) != NULL;
}

int view_mentions(const char *text, const char *nick)
{
    size_t n = nick ? strlen(nick) : 0;
    if (n == 0)
        return 0;
    for (const char *p = text; *p; p++) {
        if (p > text && nick_byte((unsigned char)p[-1]))
            continue;
        size_t i = 0;
        while (i < n && p[i] &&
               ircname_fold_char((unsigned char)p[i]) == ircname_fold_char((unsigned char)nick[i]))
            i++;
        if (i == n && !(p[n] && nick_byte((unsigned char)p[n])))
            return 1;
    }
    return 0;
}

/* The sender's name, marked for the ui (view_marks). */
static void sb_sender(struct sb *b, const struct view_ctx *ctx, const char *nick)
{
    size_t at = b->len;
    sb_safe(b, nick);
    if (ctx->marks) {
        ctx->marks->nick_off = at;
        ctx->marks->nick_len = b->len - at;
    }
}

static int is_me(const struct view_ctx *ctx, const char *nick)
{
    return ctx->nick && ircname_cmp(ctx->nick, nick) == 0;
}

static int is_current(const struct view_ctx *ctx, const char *channel)
{
    return ctx->channel && ircname_cmp(ctx->channel, channel) == 0;
}

/* "[#chan] " before messages that are not for the current channel. */
static void sb_target_tag(struct sb *b, const struct view_ctx *ctx, const char *target)
{
    if (is_me(ctx, target) || is_current(ctx, target))
        return;
    sb_raw(b, "[");
    sb_safe(b, target);
    sb_raw(b, "] ");
}

/* "a b c" from params[first..nparams), with ": " before the last one if colon is set. */
static void sb_params(struct sb *b, const struct ircmsg *msg, int first, int colon)
{
    for (int i = first; i < msg->nparams; i++) {
        if (i > first)
            sb_raw(b, colon && i == msg->nparams - 1 ? ": " : " ");
        sb_safe(b, msg->params[i]);
    }
}

static const char *param(const struct ircmsg *msg, int i)
{
    return i < msg->nparams ? msg->params[i] : "";
}

static const char *last_param(const struct ircmsg *msg)
{
    return msg->nparams > 0 ? msg->params[msg->nparams - 1] : "";
}

/* " (reason)" when there is one. */
static void sb_reason(struct sb *b, const char *reason)
{
    if (!reason || !*reason)
        return;
    sb_raw(b, " (");
    sb_safe(b, reason);
    sb_raw(b, ")");
}

static void format_privmsg(struct sb *b, const struct ircmsg *msg, const struct view_ctx *ctx,
                           const char *nick)
{
    const char *target = param(msg, 0);
    const char *text = param(msg, 1);
    int private = is_me(ctx, target);
    /* Our own message to someone else, relayed back to us (echo-message): shown as the local
     * echo of cmd would show it, "-> *bob* text". */
    int sent = !private && is_me(ctx, nick) && !ircname_is_channel(target);
    if (text[0] == CTCP_DELIM) {
        char body[VIEW_LINE_MAX];
        snprintf(body, sizeof body, "%s", text + 1);
        char *end = strchr(body, CTCP_DELIM);
        if (end)
            *end = '\0';
        size_t alen = strlen(CTCP_ACTION);
        if (strncmp(body, CTCP_ACTION, alen) == 0 && (body[alen] == ' ' || !body[alen])) {
            if (sent) {
                sb_raw(b, "-> *");
                sb_safe(b, target);
                sb_raw(b, "* ");
            } else if (!private) {
                sb_target_tag(b, ctx, target);
            }
            sb_raw(b, "* ");
            sb_sender(b, ctx, nick);
            sb_raw(b, " ");
            sb_safe(b, body[alen] ? body + alen + 1 : "");
            if (ctx->marks && !sent && !is_me(ctx, nick))
                ctx->marks->alert = private || view_mentions(body + alen, ctx->nick);
            return;
        }
        sb_raw(b, "--- CTCP ");
        sb_safe(b, body);
        sb_raw(b, sent ? " sent to " : " from ");
        sb_safe(b, sent ? target : nick);
        return;
    }
    if (sent) {
        sb_raw(b, "-> *");
        sb_safe(b, target);
        sb_raw(b, "* ");
    } else if (private) {
        sb_raw(b, "*");
        sb_sender(b, ctx, nick);
        sb_raw(b, "* ");
    } else {
        sb_target_tag(b, ctx, target);
        sb_raw(b, "<");
        sb_sender(b, ctx, nick);
        sb_raw(b, "> ");
    }
    sb_safe(b, text);
    if (ctx->marks && !sent && !is_me(ctx, nick))
        ctx->marks->alert = private || view_mentions(text, ctx->nick);
}

static void format_notice(struct sb *b, const struct ircmsg *msg, const struct view_ctx *ctx,
                          const char *nick)
{
    const char *target = param(msg, 0);
    const char *text = param(msg, 1);
    if (text[0] == CTCP_DELIM && is_me(ctx, nick))
        return; /* our own answer to a CTCP request, relayed back (echo-message) */
    if (text[0] == CTCP_DELIM && *nick) {
        /* A CTCP reply: "\1VERSION tcpchat-1.0\1" */
        char body[VIEW_LINE_MAX];
        snprintf(body, sizeof body, "%s", text + 1);
        char *end = strchr(body, CTCP_DELIM);
        if (end)
            *end = '\0';
        char *rest = strchr(body, ' ');
        if (rest)
            *rest++ = '\0';
        sb_raw(b, "--- CTCP ");
        sb_safe(b, body);
        sb_raw(b, " reply from ");
        sb_safe(b, nick);
        if (rest && *rest) {
            sb_raw(b, ": ");
            sb_safe(b, rest);
        }
        return;
    }
    if (is_me(ctx, nick) && !is_me(ctx, target)) {
        /* Ours, relayed back (echo-message): shown as cmd's local echo would show it. */
        sb_raw(b, "-> -");
        sb_safe(b, target);
        sb_raw(b, "- ");
        sb_safe(b, text);
        return;
    }
    sb_raw(b, "-");
    /* who is a nickname, a server name, or empty for a notice without a source. */
    sb_safe(b, *nick ? nick : "server");
    if (ircname_is_channel(target) && !is_current(ctx, target)) {
        sb_raw(b, ":");
        sb_safe(b, target);
    }
    sb_raw(b, "- ");
    sb_safe(b, param(msg, 1));
}

/* "--- nick<what>" for the replies about a user, which all start with "<me> <nick>". */
static void sb_about(struct sb *b, const struct ircmsg *msg, const char *what)
{
    sb_raw(b, "--- ");
    sb_safe(b, param(msg, 1));
    sb_raw(b, what);
}

/* RPL_TOPICWHOTIME: "<me> <channel> <setter> <seconds since the epoch>". */
static void format_topic_whotime(struct sb *b, const struct ircmsg *msg)
{
    char nick[VIEW_LINE_MAX], date[VIEW_DATE_MAX];
    char *end;
    time_t when = (time_t)strtoll(param(msg, 3), &end, DECIMAL);
    struct tm tm;
    view_source_nick(param(msg, 2), nick, sizeof nick);
    sb_raw(b, "--- Topic set by ");
    sb_safe(b, nick);
    if (*param(msg, 3) && !*end && when > 0 && localtime_r(&when, &tm) &&
        strftime(date, sizeof date, VIEW_DATE_FORMAT, &tm) > 0) {
        sb_raw(b, " on ");
        sb_raw(b, date);
    }
}

/* The replies (RFC 2812 5.1) that read better rephrased. Returns 1 when it handled code. */
static int format_reply(struct sb *b, const struct ircmsg *msg, int code)
{
    switch (code) {
    case 301: /* RPL_AWAY: "<me> <nick> :<message>" */
        sb_about(b, msg, " is away: ");
        sb_safe(b, param(msg, 2));
        return 1;
    case 305: /* RPL_UNAWAY */
        sb_raw(b, "--- You are no longer marked as away");
        return 1;
    case 306: /* RPL_NOWAWAY */
        sb_raw(b, "--- You are marked as away");
        return 1;
    case 311: /* RPL_WHOISUSER: "<me> <nick> <user> <host> * :<real name>" */
        sb_about(b, msg, " is ");
        sb_safe(b, param(msg, 2));
        sb_raw(b, "@");
        sb_safe(b, param(msg, 3));
        sb_reason(b, param(msg, 5));
        return 1;
    case 312: /* RPL_WHOISSERVER: "<me> <nick> <server> :<server info>" */
        sb_about(b, msg, " is connected to ");
        sb_safe(b, param(msg, 2));
        sb_reason(b, param(msg, 3));
        return 1;
    case 313: /* RPL_WHOISOPERATOR */
        sb_about(b, msg, " is an IRC operator");
        return 1;
    case 317: /* RPL_WHOISIDLE: "<me> <nick> <seconds> [<signon>] :seconds idle" */
        sb_about(b, msg, " has been idle for ");
        sb_safe(b, param(msg, 2));
        sb_raw(b, " seconds");
        return 1;
    case 318: /* RPL_ENDOFWHOIS */
        sb_raw(b, "--- End of WHOIS for ");
        sb_safe(b, param(msg, 1));
        return 1;
    case 319: /* RPL_WHOISCHANNELS: "<me> <nick> :{[@|+]<channel>}" */
        sb_about(b, msg, " is on ");
        sb_safe(b, last_param(msg));
        return 1;
    case 330: /* RPL_WHOISACCOUNT: "<me> <nick> <account> :is logged in as" */
        sb_about(b, msg, " is logged in as ");
        sb_safe(b, param(msg, 2));
        return 1;
    case 324: /* RPL_CHANNELMODEIS: "<me> <channel> <modes> [<args>...]" */
        sb_raw(b, "--- Modes of ");
        sb_safe(b, param(msg, 1));
        sb_raw(b, ": ");
        sb_params(b, msg, 2, 0);
        return 1;
    case 333: /* RPL_TOPICWHOTIME */
        format_topic_whotime(b, msg);
        return 1;
    case 900: /* RPL_LOGGEDIN: "<me> <nick!user@host> <account> :You are now logged in as .." */
        sb_raw(b, "--- You are now logged in as ");
        sb_safe(b, param(msg, 2));
        return 1;
    case 901: /* RPL_LOGGEDOUT */
        sb_raw(b, "--- You are now logged out");
        return 1;
    case 341: /* RPL_INVITING: "<me> <nick> <channel>" */
        sb_raw(b, "--- You invited ");
        sb_safe(b, param(msg, 1));
        sb_raw(b, " to ");
        sb_safe(b, param(msg, 2));
        return 1;
    default:
        return 0;
    }
}

static void format_numeric(struct sb *b, const struct ircmsg *msg, int code)
{
    if (format_reply(b, msg, code))
        return;
    switch (code) {
    case 4:   /* RPL_MYINFO: modes, for programs */
    case 5:   /* RPL_ISUPPORT */
    case 329: /* RPL_CREATIONTIME */
    case 353: /* RPL_NAMREPLY, RPL_ENDOFNAMES: the session collects them (names module) */
    case 366:
        return;
    case 1: /* RPL_WELCOME .. RPL_CREATED: the text is for humans */
    case 2:
    case 3:
    case 372: /* MOTD lines */
    case 375:
    case 376:
    case 265: /* RPL_LOCALUSERS, RPL_GLOBALUSERS: the text repeats the numbers */
    case 266:
        sb_safe(b, last_param(msg));
        return;
    case 422: /* ERR_NOMOTD: "MOTD File is missing" reads like a fault; it is not one */
        sb_raw(b, "(this server has no message of the day)");
        return;
    case 321: /* RPL_LISTSTART */
        return;
    case 322: /* RPL_LIST: "<me> <channel> <visible> :<topic>" */
        sb_raw(b, "--- ");
        sb_safe(b, param(msg, 1));
        sb_raw(b, " (");
        sb_safe(b, param(msg, 2));
        sb_raw(b, strcmp(param(msg, 2), "1") == 0 ? " user)" : " users)");
        if (*param(msg, 3)) {
            sb_raw(b, ": ");
            sb_safe(b, param(msg, 3));
        }
        return;
    case 323: /* RPL_LISTEND */
        sb_raw(b, "--- End of the channel list");
        return;
    case 331: /* RPL_NOTOPIC */
        sb_raw(b, "--- No topic is set for ");
        sb_safe(b, param(msg, 1));
        return;
    case 332: /* RPL_TOPIC */
        sb_raw(b, "--- Topic for ");
        sb_safe(b, param(msg, 1));
        sb_raw(b, ": ");
        sb_safe(b, param(msg, 2));
        return;
    default:
        break;
    }
    if (code >= NUMERIC_ERROR_FIRST && code <= NUMERIC_ERROR_LAST) {
        sb_raw(b, "Error: ");
        sb_params(b, msg, 1, 1);
    } else {
        sb_params(b, msg, 1, 0);
    }
}

/* "alice set the topic: text", naming the channel when it is not the current one. */
static void format_topic(struct sb *b, const struct ircmsg *msg, const struct view_ctx *ctx,
                         const char *who)
{
    const char *channel = param(msg, 0);
    const char *topic = param(msg, 1);
    sb_raw(b, "--- ");
    sb_safe(b, is_me(ctx, who) ? "You" : who);
    sb_raw(b, *topic ? " set the topic" : " cleared the topic");
    if (!is_current(ctx, channel)) {
        sb_raw(b, " of ");
        sb_safe(b, channel);
    }
    if (*topic) {
        sb_raw(b, ": ");
        sb_safe(b, topic);
    }
}

/* "alice sets mode +o bob on #c"; a change of our own user modes reads "Your mode: +i". */
static void format_mode(struct sb *b, const struct ircmsg *msg, const struct view_ctx *ctx,
                        const char *who)
{
    const char *target = param(msg, 0);
    sb_raw(b, "--- ");
    if (is_me(ctx, target)) {
        sb_raw(b, "Your mode: ");
        sb_params(b, msg, 1, 0);
        return;
    }
    sb_safe(b, is_me(ctx, who) ? "You" : who);
    sb_raw(b, is_me(ctx, who) ? " set mode " : " sets mode ");
    sb_params(b, msg, 1, 0);
    sb_raw(b, " on ");
    sb_safe(b, target);
}

/* CAP: "<target> <subcommand> [*] :<list>". Negotiation itself is not shown; the answer to
 * a CAP LIST the user asked for, and a refusal, are. */
static void format_cap(struct sb *b, const struct ircmsg *msg)
{
    if (msg->nparams < 3)
        return;
    if (!strcasecmp(param(msg, 1), "LIST")) {
        sb_raw(b, "--- Capabilities in use: ");
    } else if (!strcasecmp(param(msg, 1), "NAK")) {
        sb_raw(b, "--- Capabilities refused: ");
    } else {
        return;
    }
    sb_safe(b, *last_param(msg) ? last_param(msg) : "none");
}

static int is_numeric(const char *command)
{
    return strlen(command) == 3 && is_digit(command[0]) && is_digit(command[1]) &&
           is_digit(command[2]);
}

time_t view_msg_time(const struct ircmsg *msg)
{
    char value[SERVER_TIME_MAX];
    struct tm tm;
    if (!msg->tags || ircmsg_tag_get(msg->tags, SERVER_TIME_TAG, value, sizeof value) != 1)
        return 0;
    memset(&tm, 0, sizeof tm);
    /* NOLINTNEXTLINE(cert-err34-c): the field widths (at most 4 digits) cannot overflow */
    int n = sscanf(value, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                   &tm.tm_hour, &tm.tm_min, &tm.tm_sec);
    if (n != SERVER_TIME_FIELDS)
        return 0;
    /* Fractional seconds may follow; the zone must be Z (the spec says UTC). */
    if (value[strlen(value) - 1] != 'Z')
        return 0;
    tm.tm_year -= TM_YEAR_BASE;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    return t == (time_t)-1 ? 0 : t;
}

size_t view_format(const struct ircmsg *msg, const struct view_ctx *ctx, char *out, size_t cap)
{
    struct sb b = {out, cap, 0};
    char nick[VIEW_LINE_MAX];
    if (cap == 0)
        return 0;
    out[0] = '\0';
    /* Only a user source ("nick!user@host") names a person; a server name stays empty. */
    if (msg->prefix && strchr(msg->prefix, '!'))
        view_source_nick(msg->prefix, nick, sizeof nick);
    else
        nick[0] = '\0';
    const char *who = *nick ? nick : (msg->prefix ? msg->prefix : "");

    if (is_numeric(msg->command)) {
        int code =
            (msg->command[0] - '0') * 100 + (msg->command[1] - '0') * 10 + (msg->command[2] - '0');
        format_numeric(&b, msg, code);
    } else if (ircmsg_is(msg, "PRIVMSG")) {
        format_privmsg(&b, msg, ctx, who);
    } else if (ircmsg_is(msg, "NOTICE")) {
        format_notice(&b, msg, ctx, who);
    } else if (ircmsg_is(msg, "JOIN")) {
        sb_raw(&b, "--> ");
        if (is_me(ctx, who)) {
            sb_raw(&b, "You joined ");
        } else {
            sb_safe(&b, who);
            sb_raw(&b, " joined ");
        }
        sb_safe(&b, param(msg, 0));
    } else if (ircmsg_is(msg, "PART")) {
        sb_raw(&b, "<-- ");
        sb_safe(&b, is_me(ctx, who) ? "You" : who);
        sb_raw(&b, " left ");
        sb_safe(&b, param(msg, 0));
        sb_reason(&b, param(msg, 1));
    } else if (ircmsg_is(msg, "QUIT")) {
        sb_raw(&b, "<-- ");
        sb_safe(&b, who);
        sb_raw(&b, " quit");
        sb_reason(&b, param(msg, 0));
    } else if (ircmsg_is(msg, "NICK")) {
        sb_raw(&b, "--- ");
        if (is_me(ctx, who)) {
            sb_raw(&b, "You are");
        } else {
            sb_safe(&b, who);
            sb_raw(&b, " is");
        }
        sb_raw(&b, " now known as ");
        sb_safe(&b, param(msg, 0));
    } else if (ircmsg_is(msg, "KICK")) {
        sb_raw(&b, "<-- ");
        if (is_me(ctx, param(msg, 1))) {
            sb_raw(&b, "You were");
        } else {
            sb_safe(&b, param(msg, 1));
            sb_raw(&b, " was");
        }
        sb_raw(&b, " kicked from ");
        sb_safe(&b, param(msg, 0));
        sb_raw(&b, " by ");
        sb_safe(&b, who);
        sb_reason(&b, param(msg, 2));
    } else if (ircmsg_is(msg, "TOPIC")) {
        format_topic(&b, msg, ctx, who);
    } else if (ircmsg_is(msg, "MODE")) {
        format_mode(&b, msg, ctx, who);
    } else if (ircmsg_is(msg, "INVITE")) {
        /* With invite-notify we also see invitations of others to our channels. */
        sb_raw(&b, "--- ");
        sb_safe(&b, who);
        if (is_me(ctx, param(msg, 0))) {
            sb_raw(&b, " invites you to ");
        } else {
            sb_raw(&b, " invited ");
            sb_safe(&b, param(msg, 0));
            sb_raw(&b, " to ");
        }
        sb_safe(&b, param(msg, 1));
    } else if (ircmsg_is(msg, "AWAY")) {
        /* away-notify: a channel peer went away (with a message) or came back (without).
         * Our own state is told by 305/306. */
        if (is_me(ctx, who))
            return 0;
        sb_raw(&b, "--- ");
        sb_safe(&b, who);
        if (*param(msg, 0)) {
            sb_raw(&b, " is away");
            sb_reason(&b, param(msg, 0));
        } else {
            sb_raw(&b, " is back");
        }
    } else if (ircmsg_is(msg, "CAP")) {
        format_cap(&b, msg);
    } else if (ircmsg_is(msg, "ERROR")) {
        sb_raw(&b, "Server error: ");
        sb_safe(&b, param(msg, 0));
    } else if (ircmsg_is(msg, "FAIL") || ircmsg_is(msg, "WARN") || ircmsg_is(msg, "NOTE")) {
        /* IRCv3 standard replies: COMMAND CODE [context...] :description. The description is
         * for people; the command and code, in brackets, for a bug report. */
        sb_raw(&b, ircmsg_is(msg, "FAIL") ? "Error: " : "Note: ");
        sb_safe(&b, last_param(msg));
        sb_raw(&b, " [");
        sb_safe(&b, param(msg, 0));
        sb_raw(&b, " ");
        sb_safe(&b, param(msg, 1));
        sb_raw(&b, "]");
    } else if (ircmsg_is(msg, "REGISTER") && strcmp(param(msg, 0), "SUCCESS") == 0) {
        /* draft/account-registration: "REGISTER SUCCESS <account> :<message>" */
        sb_raw(&b, "--- Your account ");
        sb_safe(&b, param(msg, 1));
        sb_raw(&b, " is registered; log in with it next time (tcpchat --sasl)");
    } else if (ircmsg_is(msg, "PING") || ircmsg_is(msg, "PONG")) {
        return 0;
    } else {
        /* Something we do not know: show it plainly rather than hide it. */
        if (*who) {
            sb_safe(&b, who);
            sb_raw(&b, " ");
        }
        sb_safe(&b, msg->command);
        if (msg->nparams > 0)
            sb_raw(&b, " ");
        sb_params(&b, msg, 0, 0);
    }
    return b.len;
}
