/* session: registration (NICK/USER, and asking for another nickname on 433/432), the
 * channels we are in and which one is current, PING/PONG, and how the connection ends.
 * The current channel follows the server: it is the last channel the server JOINed us to. */
#include "session.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "common/ircmsg.h"
#include "common/ircname.h"
#include "ui.h"
#include "view.h"

/* Room for a nickname: ours is IRC_NICK_MAX, other servers may allow longer ones. */
#define SESSION_NICK_MAX 64
/* Channels we remember being in; joins past this still work, we just cannot switch back. */
#define SESSION_CHANNELS_MAX 32
/* Unsent output held at most; past it typed lines are refused (the server is not reading). */
#define SESSION_OUT_MAX    (1024 * 1024)
#define SESSION_ERROR_MAX  512
#define SESSION_PROMPT_MAX (IRC_CHANNEL_MAX + SESSION_NICK_MAX + 64)
/* Token of the PING sent after the MOTD: its PONG says registration replies are over. */
#define SESSION_SYNC_TOKEN "tcpchat-ready"

/* Numerics (RFC 2812 5.1, 5.2). */
#define RPL_WELCOME          "001"
#define RPL_ENDOFMOTD        "376"
#define ERR_NOMOTD           "422"
#define ERR_ERRONEUSNICKNAME "432"
#define ERR_NICKNAMEINUSE    "433"
#define NUMERIC_ERROR_FIRST  '4' /* 4xx and 5xx are errors */
#define NUMERIC_ERROR_LAST   '5'

/* Owned by the main thread: the client has no other thread. */
struct session {
    enum session_state state;
    char nick[SESSION_NICK_MAX];
    int registered; /* 001 received */
    int synced;     /* PONG to our post-MOTD PING received */
    int sync_sent;
    int nick_prompt; /* registration refused our nick: the next typed line is a new one */
    char bad_nick[SESSION_NICK_MAX];
    const char *nick_problem;          /* "in use" or "not allowed" */
    int awaiting_join;                 /* sent a JOIN, no answer yet */
    char channel[IRC_CHANNEL_MAX + 1]; /* current channel, "" for none */
    char joined[SESSION_CHANNELS_MAX][IRC_CHANNEL_MAX + 1];
    int njoined;
    char error[SESSION_ERROR_MAX];
    char *out; /* bytes to send: out[out_start .. out_len) */
    size_t out_start;
    size_t out_len;
    size_t out_cap;
};

struct session *session_new(const char *nick)
{
    struct session *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    snprintf(s->nick, sizeof s->nick, "%s", nick);
    return s;
}

void session_free(struct session *s)
{
    if (!s)
        return;
    free(s->out);
    free(s);
}

static int out_append(struct session *s, const char *data, size_t n)
{
    if (s->out_start > 0 && s->out_start == s->out_len)
        s->out_start = s->out_len = 0;
    if (s->out_len - s->out_start + n > SESSION_OUT_MAX)
        return -1;
    if (s->out_len + n > s->out_cap) {
        if (s->out_start > 0) {
            memmove(s->out, s->out + s->out_start, s->out_len - s->out_start);
            s->out_len -= s->out_start;
            s->out_start = 0;
        }
        size_t ncap = s->out_cap ? s->out_cap : CMD_WIRE_MAX;
        while (ncap < s->out_len + n)
            ncap *= 2;
        if (ncap != s->out_cap) {
            char *p = realloc(s->out, ncap);
            if (!p)
                return -1;
            s->out = p;
            s->out_cap = ncap;
        }
    }
    memcpy(s->out + s->out_len, data, n);
    s->out_len += n;
    return 0;
}

static int send_line(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int send_line(struct session *s, const char *fmt, ...)
{
    char line[IRC_LINE_MAX + 1];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 2, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    if ((size_t)n > sizeof line - 3)
        n = sizeof line - 3;
    memcpy(line + n, "\r\n", 2);
    return out_append(s, line, (size_t)n + 2);
}

const char *session_output(const struct session *s, size_t *len)
{
    *len = s->out_len - s->out_start;
    return s->out + s->out_start;
}

void session_output_done(struct session *s, size_t n)
{
    s->out_start += n;
    if (s->out_start >= s->out_len)
        s->out_start = s->out_len = 0;
}

enum session_state session_state(const struct session *s)
{
    return s->state;
}

const char *session_error(const struct session *s)
{
    return s->error;
}

static void fail(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct session *s, const char *fmt, ...)
{
    char raw[SESSION_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    /* Part of it may come from the server: it goes to stderr, a terminal too. */
    view_sanitize(raw, s->error, sizeof s->error);
    s->state = SESSION_FAILED;
}

static void update_prompt(const struct session *s)
{
    char prompt[SESSION_PROMPT_MAX];
    if (s->nick_prompt)
        snprintf(prompt, sizeof prompt, "Nickname %s is %s, choose another: ", s->bad_nick,
                 s->nick_problem);
    else if (s->channel[0])
        snprintf(prompt, sizeof prompt, "%s> ", s->channel);
    else
        snprintf(prompt, sizeof prompt, "> ");
    ui_set_prompt(prompt);
}

int session_start(struct session *s)
{
    /* RFC 2812 3.1.3: USER <user> <mode> <unused> :<realname>. */
    if (send_line(s, "NICK %s", s->nick) < 0 ||
        send_line(s, "USER %s 0 * :%s", s->nick, s->nick) < 0)
        return -1;
    update_prompt(s);
    return 0;
}

int session_wants_input(const struct session *s)
{
    if (s->state != SESSION_RUNNING)
        return 0;
    if (s->nick_prompt)
        return 1;
    if (!s->registered || s->awaiting_join)
        return 0;
    return s->channel[0] || s->synced;
}

void session_quit(struct session *s, const char *reason)
{
    if (s->state != SESSION_RUNNING)
        return;
    if (reason && *reason)
        send_line(s, "QUIT :%s", reason);
    else
        send_line(s, "QUIT");
    s->state = SESSION_QUITTING;
}

void session_closed(struct session *s, const char *why)
{
    if (s->state == SESSION_QUITTING) {
        s->state = SESSION_DONE;
        return;
    }
    if (s->state != SESSION_RUNNING)
        return;
    if (why)
        fail(s, "connection to the server lost: %s", why);
    else
        fail(s, "server closed the connection");
}

static int find_joined(const struct session *s, const char *channel)
{
    for (int i = 0; i < s->njoined; i++)
        if (ircname_cmp(s->joined[i], channel) == 0)
            return i;
    return -1;
}

static void joined_add(struct session *s, const char *channel)
{
    int i = find_joined(s, channel);
    if (i < 0 && s->njoined < SESSION_CHANNELS_MAX)
        i = s->njoined++;
    if (i >= 0)
        snprintf(s->joined[i], sizeof s->joined[i], "%s", channel);
    snprintf(s->channel, sizeof s->channel, "%s", channel);
}

/* We left channel: the current one becomes the most recently joined of the rest. */
static void joined_remove(struct session *s, const char *channel)
{
    int i = find_joined(s, channel);
    if (i >= 0) {
        memmove(s->joined[i], s->joined[i + 1], (size_t)(s->njoined - i - 1) * sizeof s->joined[0]);
        s->njoined--;
    }
    if (ircname_cmp(s->channel, channel) == 0)
        snprintf(s->channel, sizeof s->channel, "%s",
                 s->njoined > 0 ? s->joined[s->njoined - 1] : "");
}

static int from_me(const struct session *s, const struct ircmsg *msg)
{
    char nick[SESSION_NICK_MAX];
    if (!msg->prefix)
        return 0;
    view_source_nick(msg->prefix, nick, sizeof nick);
    return ircname_cmp(nick, s->nick) == 0;
}

/* 433/432 before 001: ask the user for another nickname. */
static void nick_refused(struct session *s, const struct ircmsg *msg)
{
    const char *bad = msg->nparams > 1 ? msg->params[1] : s->nick;
    view_sanitize(bad, s->bad_nick, sizeof s->bad_nick);
    s->nick_prompt = 1;
    s->nick_problem = ircmsg_is(msg, ERR_NICKNAMEINUSE) ? "in use" : "not allowed";
    ui_printf("Nickname %s is %s; type another one.", s->bad_nick, s->nick_problem);
    update_prompt(s);
}

/* What a message changes in our state (after it was shown). */
static void track(struct session *s, const struct ircmsg *msg)
{
    const char *p0 = msg->nparams > 0 ? msg->params[0] : "";
    if (ircmsg_is(msg, RPL_WELCOME)) {
        s->registered = 1;
        s->nick_prompt = 0;
        if (*p0)
            snprintf(s->nick, sizeof s->nick, "%s", p0);
        update_prompt(s);
    } else if (ircmsg_is(msg, RPL_ENDOFMOTD) || ircmsg_is(msg, ERR_NOMOTD)) {
        /* A server that joins us to a default channel does so around here; one that does
         * not gives us no sign. The PONG to this PING is that sign. */
        if (s->registered && !s->sync_sent) {
            send_line(s, "PING :%s", SESSION_SYNC_TOKEN);
            s->sync_sent = 1;
        }
    } else if (ircmsg_is(msg, "PONG")) {
        if (msg->nparams > 0 && strcmp(msg->params[msg->nparams - 1], SESSION_SYNC_TOKEN) == 0)
            s->synced = 1;
    } else if (ircmsg_is(msg, "JOIN") && from_me(s, msg)) {
        joined_add(s, p0);
        s->awaiting_join = 0;
        update_prompt(s);
    } else if (ircmsg_is(msg, "PART") && from_me(s, msg)) {
        joined_remove(s, p0);
        update_prompt(s);
    } else if (ircmsg_is(msg, "KICK") && msg->nparams > 1 &&
               ircname_cmp(msg->params[1], s->nick) == 0) {
        joined_remove(s, p0);
        update_prompt(s);
    } else if (ircmsg_is(msg, "NICK") && from_me(s, msg)) {
        snprintf(s->nick, sizeof s->nick, "%s", p0);
    } else if (msg->command[0] >= NUMERIC_ERROR_FIRST && msg->command[0] <= NUMERIC_ERROR_LAST &&
               strlen(msg->command) == 3) {
        /* An error is the only answer a refused JOIN gets (403, 405, 471, 473...). */
        s->awaiting_join = 0;
    }
}

void session_handle_line(struct session *s, char *line)
{
    struct ircmsg msg;
    if (ircmsg_parse(line, &msg) != IRCMSG_OK)
        return;
    if (ircmsg_is(&msg, "PING")) {
        send_line(s, "PONG :%s", msg.nparams > 0 ? msg.params[msg.nparams - 1] : "");
        return;
    }
    if (ircmsg_is(&msg, "ERROR")) {
        if (s->state == SESSION_QUITTING)
            s->state = SESSION_DONE;
        else if (s->state == SESSION_RUNNING)
            fail(s, "server closed the connection: %s", msg.nparams > 0 ? msg.params[0] : "");
        return;
    }
    if (!s->registered &&
        (ircmsg_is(&msg, ERR_NICKNAMEINUSE) || ircmsg_is(&msg, ERR_ERRONEUSNICKNAME))) {
        nick_refused(s, &msg);
        return;
    }
    struct view_ctx ctx = {s->nick, s->channel[0] ? s->channel : NULL};
    char text[VIEW_LINE_MAX];
    if (view_format(&msg, &ctx, text, sizeof text) > 0)
        ui_print(text);
    track(s, &msg);
}

/* The line typed at the "choose another nickname" prompt. */
static void choose_nick(struct session *s, const char *line)
{
    char nick[SESSION_NICK_MAX];
    while (*line == ' ')
        line++;
    size_t n = strcspn(line, " ");
    if (n == 0 || n >= sizeof nick) {
        update_prompt(s);
        return;
    }
    memcpy(nick, line, n);
    nick[n] = '\0';
    if (send_line(s, "NICK %s", nick) < 0)
        return;
    snprintf(s->nick, sizeof s->nick, "%s", nick);
    s->nick_prompt = 0;
    update_prompt(s);
}

void session_handle_input(struct session *s, const char *line)
{
    if (s->state != SESSION_RUNNING)
        return;
    if (!line) {
        if (s->nick_prompt && !s->registered)
            fail(s, "nickname %s is %s and no other was given", s->bad_nick, s->nick_problem);
        else
            session_quit(s, NULL);
        return;
    }
    if (s->nick_prompt) {
        choose_nick(s, line);
        return;
    }
    static struct cmd_result res; /* large; main thread only */
    struct cmd_ctx ctx = {s->nick, s->channel[0] ? s->channel : NULL};
    cmd_parse(line, &ctx, &res);
    switch (res.kind) {
    case CMD_NONE:
        return;
    case CMD_HELP:
        for (const char *const *h = cmd_help_lines(); *h; h++)
            ui_print(*h);
        return;
    case CMD_ERROR:
        ui_print(res.echo);
        return;
    case CMD_SEND:
    case CMD_QUIT:
        break;
    }
    if (out_append(s, res.wire, res.wire_len) < 0) {
        ui_print("The server is not reading what we send; line dropped.");
        return;
    }
    if (res.echo[0])
        ui_print(res.echo);
    if (res.joins)
        s->awaiting_join = 1;
    if (res.kind == CMD_QUIT)
        s->state = SESSION_QUITTING;
}
