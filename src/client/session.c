/* session: registration (IRCv3 capability negotiation, SASL PLAIN login, NICK/USER, and
 * asking for another nickname on 433/432), the channels we are in and which one is current,
 * PING/PONG, replayed history (chathistory batches), and how the connection ends. The current
 * channel follows the server: it is the last channel the server JOINed us to (or, full-screen,
 * the window the user shows). Full-screen, each server line is routed to its window. */
#include "session.h"

#include <fnmatch.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "batch.h"
#include "cap.h"
#include "cmd.h"
#include "common/version.h"
#include "common/ircmsg.h"
#include "common/ircname.h"
#include "members.h"
#include "names.h"
#include "ui.h"
#include "view.h"

/* Room for a nickname: ours is IRC_NICK_MAX, other servers may allow longer ones. */
#define SESSION_NICK_MAX 64
/* Channels we remember being in; joins past this still work, we just cannot switch back. */
#define SESSION_CHANNELS_MAX 32
/* /ignore entries, and the longest (a nick!user@host mask). */
#define SESSION_IGNORES_MAX 64
#define SESSION_IGNORE_LEN  128
/* A msgid kept per channel (the last message seen), for CHATHISTORY AFTER on rejoining. */
#define SESSION_MSGID_MAX 128
/* Messages asked for per CHATHISTORY: a channel's history on joining, and each page of what
 * was missed (the server gives at most its ISUPPORT CHATHISTORY, tcpchatd 100). */
#define SESSION_HISTORY_LATEST 50
#define SESSION_HISTORY_PAGE   100
/* After a reconnect, a nick still held by our old connection: this many tries with '_'
 * added before asking the user. */
#define SESSION_NICK_RETRIES 3
/* The token of a keepalive PING. */
#define SESSION_KEEPALIVE_TOKEN "tcpchat-keepalive"
/* Unsent output held at most; past it typed lines are refused (the server is not reading). */
#define SESSION_OUT_MAX    (1024 * 1024)
#define SESSION_ERROR_MAX  512
#define SESSION_PROMPT_MAX (IRC_CHANNEL_MAX + SESSION_NICK_MAX + 64)
/* Private conversations followed at most (for catching up after a reconnect and for older
 * lines); past it the oldest is forgotten. */
#define SESSION_QUERIES_MAX 32
/* /server's host name (RFC 1035 2.3.4: 255 octets) and port (5 digits). */
#define SESSION_HOST_MAX 256
#define SESSION_PORT_MAX 8
/* Room for mode letters ("+intCms..."), a channel's or our own. */
#define SESSION_MODES_MAX 64
/* Channel modes that take an argument and are not the channel's state (lists, and the PREFIX
 * ov), those that take one only when set (l), and k, whose argument is secret: tcpchatd's
 * CHANMODES=beI,k,l,... and PREFIX=(ov). */
#define SESSION_MODES_LISTS   "beIov"
#define SESSION_MODES_SET_ARG "l"
#define SESSION_MODES_ARG     "k"
/* fetching_older: no CHATHISTORY BEFORE out; one sent; its first message seen. */
#define OLDER_NONE     0
#define OLDER_ASKED    1
#define OLDER_ARRIVING 2
/* Token of the PING sent after the MOTD: its PONG says registration replies are over. */
#define SESSION_SYNC_TOKEN "tcpchat-ready"

/* Capabilities we ask for when the server offers them (see cap.h for what each is for); sasl
 * too when we have a password. */
#define SESSION_CAPS_WANTED                                                                        \
    (CAP_SERVER_TIME | CAP_ECHO_MESSAGE | CAP_MESSAGE_TAGS | CAP_MULTI_PREFIX | CAP_AWAY_NOTIFY |  \
     CAP_INVITE_NOTIFY | CAP_BATCH | CAP_CHATHISTORY)
/* Room for "server-time echo-message ..." (every capability we know, space-separated). */
#define SESSION_CAPS_TEXT_MAX 160
/* CAP LS 302: the server may send its list in several lines, and values after '='. */
#define SESSION_CAP_VERSION "302"
/* The IRCv3 tag that puts a line in a batch. */
#define SESSION_BATCH_TAG "batch"

/* SASL (ircv3.net/specs/extensions/sasl-3.1): the mechanism, the "sasl=PLAIN,EXTERNAL" value
 * of CAP LS (mechanisms, comma-separated), and AUTHENTICATE's framing: the base64 payload
 * goes in lines of at most 400 bytes, and one of exactly 400 is followed by "+" (empty). */
#define SASL_MECHANISM     "PLAIN"
#define SASL_MECHS_MAX     128
#define SASL_CHUNK         400
#define SASL_EMPTY         "+"
#define SASL_PLAIN_RAW_MAX (1 + SESSION_NICK_MAX + 1 + SESSION_PASSWORD_MAX)
/* base64 (RFC 4648 4) turns each 3 bytes, the last ones padded, into 4 characters. */
#define BASE64_IN_PER_BLOCK  3
#define BASE64_OUT_PER_BLOCK 4
#define SASL_BASE64_MAX                                                                            \
    (BASE64_OUT_PER_BLOCK *                                                                        \
         ((SASL_PLAIN_RAW_MAX + BASE64_IN_PER_BLOCK - 1) / BASE64_IN_PER_BLOCK) +                  \
     1)
/* Numerics (RFC 2812 5.1, 5.2). */
#define RPL_WELCOME          "001"
#define RPL_UMODEIS          "221"
#define RPL_UNAWAY           "305"
#define RPL_NOWAWAY          "306"
#define RPL_CHANNELMODEIS    "324"
#define RPL_TOPIC            "332"
#define RPL_NAMREPLY         "353"
#define RPL_ENDOFNAMES       "366"
#define RPL_ENDOFMOTD        "376"
#define ERR_UNKNOWNCOMMAND   "421"
#define ERR_NOMOTD           "422"
#define ERR_NOTREGISTERED    "451"
#define ERR_ERRONEUSNICKNAME "432"
#define ERR_NICKNAMEINUSE    "433"
/* SASL numerics (ircv3.net/specs/extensions/sasl-3.1, "Numerics"). */
#define ERR_NICKLOCKED      "902"
#define RPL_SASLSUCCESS     "903"
#define ERR_SASLFAIL        "904"
#define ERR_SASLTOOLONG     "905"
#define ERR_SASLABORTED     "906"
#define RPL_SASLMECHS       "908"
#define NUMERIC_ERROR_FIRST '4' /* 4xx and 5xx are errors */
#define NUMERIC_ERROR_LAST  '5'

/* Capability negotiation: CAP LS sent (waiting for the whole list), CAP REQ sent (waiting
 * for ACK or NAK), or over (CAP END sent, or the server does not do CAP: 421, or 001). */
enum session_capneg {
    CAPNEG_LS,
    CAPNEG_REQ,
    CAPNEG_DONE,
};

/* SASL login: none asked (no password); wanted (waiting for the sasl capability); the
 * mechanism sent (waiting for "AUTHENTICATE +"); the credentials sent (waiting for 903 or a
 * failure); done (903: CAP END sent). A failure ends the session. */
enum session_sasl {
    SASL_NONE,
    SASL_WANTED,
    SASL_MECH_SENT,
    SASL_CREDS_SENT,
    SASL_DONE,
};

/* A conversation whose history we follow: a channel we are in, or a private one (name is
 * the other person's nick). The msgids are those of the newest message seen (where CHATHISTORY
 * AFTER starts after a reconnect) and of the oldest (where CHATHISTORY BEFORE starts when the
 * full-screen scrollback reaches the top); "" when none was seen. */
struct convo {
    char name[IRC_CHANNEL_MAX + 1];
    char last_msgid[SESSION_MSGID_MAX];
    char first_msgid[SESSION_MSGID_MAX];
    unsigned char catching_up;     /* a CHATHISTORY AFTER is out */
    unsigned char fetching_older;  /* OLDER_NONE, OLDER_ASKED, OLDER_ARRIVING */
    char modes[SESSION_MODES_MAX]; /* a channel's modes ("+nt"), "" unknown */
    unsigned char modes_asked;     /* MODE #chan sent on joining: its 324 is not shown */
};

/* Owned by the main thread: the client has no other thread. */
struct session {
    enum session_state state;
    enum session_capneg capneg;
    unsigned caps_offered; /* capabilities we want that the server offers (enum cap_bit) */
    unsigned caps;         /* those the server enabled for us */
    unsigned caps_wanted;  /* SESSION_CAPS_WANTED, and CAP_SASL while a login is due */
    enum session_sasl sasl;
    char account[SESSION_NICK_MAX];             /* who we log in as: the nick we started with */
    char password[SESSION_PASSWORD_MAX];        /* wiped once sent, unless we may reconnect */
    char server_password[SESSION_PASSWORD_MAX]; /* IRC PASS, "" for none; the same */
    char prev_server_password[SESSION_PASSWORD_MAX]; /* the one before /server, for going back */
    int reconnect;                                   /* session_set_reconnect */
    int ever_registered;             /* some connection got 001: a lost one is worth another */
    int rejoin_due;                  /* registered again after a reconnect: JOIN our channels */
    int nick_retries;                /* '_' added to our nick after a reconnect */
    char sasl_mechs[SASL_MECHS_MAX]; /* what CAP LS said of sasl ("" for nothing) */
    struct batch_set batches;        /* IRCv3 batches the server has open */
    struct names *names;             /* the NAMES reply being collected */
    struct members *members;         /* who is in our channels: what Tab completes */
    char member_shown[SESSION_NICK_MAX + 2]; /* window_member's answer */
    char nick[SESSION_NICK_MAX];
    int registered; /* 001 received */
    int synced;     /* PONG to our post-MOTD PING received */
    int sync_sent;
    int nick_prompt; /* registration refused our nick: the next typed line is a new one */
    char bad_nick[SESSION_NICK_MAX];
    const char *nick_problem;          /* "in use" or "not allowed" */
    int awaiting_join;                 /* sent a JOIN, no answer yet */
    time_t ctcp_answered;              /* when we last answered a CTCP request */
    int echoes_due;                    /* echo-message: our PRIVMSGs not relayed back yet */
    char held_quit[IRC_LINE_MAX + 1];  /* QUIT line (CR LF included) waiting for them, or "" */
    char channel[IRC_CHANNEL_MAX + 1]; /* current channel, or nick after /query; "" for none */
    struct convo joined[SESSION_CHANNELS_MAX]; /* the channels we are in */
    int njoined;
    struct convo queries[SESSION_QUERIES_MAX]; /* private conversations, oldest first */
    int nqueries;
    char ignores[SESSION_IGNORES_MAX][SESSION_IGNORE_LEN + 1]; /* /ignore: nicks or masks */
    int nignores;
    char away[IRC_LINE_MAX + 1];    /* our /away message, sent again after a reconnect; "" */
    int is_away;                    /* the server says we are away (306, 305) */
    int hide_joins;                 /* /hidejoins: others' JOIN, PART and QUIT are not shown */
    char umodes[SESSION_MODES_MAX]; /* our user modes ("+i"), "" for none */
    /* /server: where to connect next ("" when it is the same server again). */
    char next_host[SESSION_HOST_MAX];
    char next_port[SESSION_PORT_MAX];
    char error[SESSION_ERROR_MAX];
    char *out; /* bytes to send: out[out_start .. out_len) */
    size_t out_start;
    size_t out_len;
    size_t out_cap;
};

/* The session Tab completes for (session_enable_completion; main thread only). */
static struct session *completing;

struct session *session_new(const char *nick)
{
    struct session *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->names = names_new();
    s->members = members_new();
    if (!s->names || !s->members) {
        members_free(s->members);
        names_free(s->names);
        free(s);
        return NULL;
    }
    snprintf(s->nick, sizeof s->nick, "%s", nick);
    snprintf(s->account, sizeof s->account, "%s", nick);
    s->caps_wanted = SESSION_CAPS_WANTED;
    return s;
}

int session_set_password(struct session *s, const char *password)
{
    size_t n = strlen(password);
    if (n == 0 || n >= sizeof s->password)
        return -1;
    memcpy(s->password, password, n + 1);
    s->sasl = SASL_WANTED;
    s->caps_wanted |= CAP_SASL;
    return 0;
}

int session_set_server_password(struct session *s, const char *password)
{
    size_t n = strlen(password);
    /* PASS takes one trailing parameter: no line breaks, and it must fit a line. */
    if (n == 0 || n >= sizeof s->server_password || n > IRC_LINE_MAX - 16 ||
        strpbrk(password, "\r\n"))
        return -1;
    memcpy(s->server_password, password, n + 1);
    return 0;
}

void session_free(struct session *s)
{
    if (!s)
        return;
    names_free(s->names);
    members_free(s->members);
    if (completing == s)
        completing = NULL;
    explicit_bzero(s->password, sizeof s->password);
    explicit_bzero(s->server_password, sizeof s->server_password);
    explicit_bzero(s->prev_server_password, sizeof s->prev_server_password);
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
    /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): a counted line, not a string */
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

/* Our nick, user modes and away state, for the full-screen status line. */
static void update_self(const struct session *s)
{
    char text[SESSION_NICK_MAX + SESSION_MODES_MAX + 4];
    if (s->umodes[0] && s->umodes[1])
        snprintf(text, sizeof text, "%s(%s)", s->nick, s->umodes);
    else
        snprintf(text, sizeof text, "%s", s->nick);
    ui_set_self(text, s->is_away);
}

/* Applies a MODE change ("+mk-t", its arguments left out) to modes ("+nt"), keeping the
 * letters in the order they came; letters in skip are not kept (lists, nick prefixes). */
static void modes_apply(char *modes, size_t cap, const char *change, const char *skip)
{
    char letters[SESSION_MODES_MAX];
    snprintf(letters, sizeof letters, "%s", modes[0] == '+' ? modes + 1 : modes);
    int adding = 1;
    for (const char *c = change; *c; c++) {
        if (*c == '+' || *c == '-') {
            adding = *c == '+';
            continue;
        }
        if (strchr(skip, *c))
            continue;
        char *at = strchr(letters, *c);
        size_t n = strlen(letters);
        if (adding && !at && n + 1 < sizeof letters) {
            letters[n] = *c;
            letters[n + 1] = '\0';
        } else if (!adding && at) {
            memmove(at, at + 1, strlen(at));
        }
    }
    snprintf(modes, cap, "%s%s", letters[0] ? "+" : "", letters);
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
    if (!s->nick_prompt)
        ui_set_current(s->channel);
}

int session_start(struct session *s)
{
    /* CAP LS first, so a server that knows CAP holds registration until our CAP END; one
     * that does not answers 421 (or nothing) and registers us on NICK/USER as before.
     * RFC 2812 3.1.3: USER <user> <mode> <unused> :<realname>. */
    /* PASS comes before NICK and USER (RFC 2812 3.1.1). */
    int pass = s->server_password[0] ? send_line(s, "PASS :%s", s->server_password) : 0;
    if (!s->reconnect)
        explicit_bzero(s->server_password, sizeof s->server_password);
    if (pass < 0 || send_line(s, "CAP LS %s", SESSION_CAP_VERSION) < 0 ||
        send_line(s, "NICK %s", s->nick) < 0 ||
        send_line(s, "USER %s 0 * :%s", s->nick, s->nick) < 0)
        return -1;
    update_prompt(s);
    return 0;
}

void session_set_reconnect(struct session *s, int on)
{
    s->reconnect = on;
}

int session_restart(struct session *s)
{
    struct names *names = names_new();
    struct members *members = members_new();
    if (!names || !members) {
        names_free(names);
        members_free(members);
        return -1;
    }
    names_free(s->names);
    members_free(s->members);
    s->names = names;
    s->members = members;
    s->state = SESSION_RUNNING;
    s->capneg = CAPNEG_LS;
    s->caps_offered = s->caps = 0;
    s->caps_wanted = SESSION_CAPS_WANTED;
    s->sasl = SASL_NONE;
    if (s->password[0]) {
        s->sasl = SASL_WANTED;
        s->caps_wanted |= CAP_SASL;
    }
    s->sasl_mechs[0] = '\0';
    memset(&s->batches, 0, sizeof s->batches);
    s->registered = s->synced = s->sync_sent = 0;
    s->nick_prompt = s->awaiting_join = s->echoes_due = 0;
    s->nick_retries = 0;
    s->is_away = 0;
    s->umodes[0] = '\0';
    s->held_quit[0] = '\0';
    for (int i = 0; i < s->njoined; i++) {
        s->joined[i].catching_up = s->joined[i].fetching_older = 0;
        s->joined[i].modes_asked = 0;
    }
    for (int i = 0; i < s->nqueries; i++)
        s->queries[i].catching_up = s->queries[i].fetching_older = 0;
    s->out_start = s->out_len = 0;
    s->rejoin_due = 1;
    return session_start(s);
}

void session_keepalive(struct session *s)
{
    if (s->state == SESSION_RUNNING || s->state == SESSION_QUITTING)
        send_line(s, "PING :%s", SESSION_KEEPALIVE_TOKEN);
}

int session_registered(const struct session *s)
{
    return s->registered;
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

/* Sends wire (one QUIT line with its CR LF), or holds it while echoes are due: a server
 * may close the connection on QUIT before it relays them back to us. Returns 0, or -1 when
 * the output buffer is full. */
static int quit_send(struct session *s, const char *wire, size_t len)
{
    if (s->echoes_due > 0 && len < sizeof s->held_quit) {
        memcpy(s->held_quit, wire, len);
        s->held_quit[len] = '\0';
    } else if (out_append(s, wire, len) < 0) {
        return -1;
    }
    s->state = SESSION_QUITTING;
    return 0;
}

void session_quit(struct session *s, const char *reason)
{
    char line[IRC_LINE_MAX + 1];
    if (s->state != SESSION_RUNNING)
        return;
    int n = reason && *reason ? snprintf(line, sizeof line - 2, "QUIT :%s", reason)
                              : snprintf(line, sizeof line - 2, "QUIT");
    if (n < 0)
        return;
    if ((size_t)n > sizeof line - 3)
        n = sizeof line - 3;
    memcpy(line + n, "\r\n", 3);
    quit_send(s, line, (size_t)n + 2);
}

int session_quit_held(const struct session *s)
{
    return s->held_quit[0] != '\0';
}

void session_release_quit(struct session *s)
{
    if (!s->held_quit[0])
        return;
    out_append(s, s->held_quit, strlen(s->held_quit));
    s->held_quit[0] = '\0';
}

/* One of our messages came back (or was refused): the held QUIT goes once none is due. */
static void echo_arrived(struct session *s)
{
    if (s->echoes_due > 0)
        s->echoes_due--;
    if (s->echoes_due == 0)
        session_release_quit(s);
}

/* A lost connection: another one when reconnecting is on and we had registered once (a
 * server that never let us in will not now). Returns 1 when that is so. */
static int lost(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int lost(struct session *s, const char *fmt, ...)
{
    if (!s->reconnect || !s->ever_registered)
        return 0;
    char raw[SESSION_ERROR_MAX], safe[SESSION_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    view_sanitize(raw, safe, sizeof safe);
    ui_printf("--- Disconnected: %s", safe);
    ui_set_note("disconnected");
    s->state = SESSION_RECONNECT;
    return 1;
}

void session_closed(struct session *s, const char *why)
{
    if (s->state == SESSION_QUITTING) {
        s->state = SESSION_DONE;
        return;
    }
    if (s->state != SESSION_RUNNING)
        return;
    if (why ? lost(s, "connection to the server lost: %s", why)
            : lost(s, "the server closed the connection"))
        return;
    if (why)
        fail(s, "connection to the server lost: %s", why);
    else
        fail(s, "server closed the connection");
}

static int find_joined(const struct session *s, const char *channel)
{
    for (int i = 0; i < s->njoined; i++)
        if (ircname_cmp(s->joined[i].name, channel) == 0)
            return i;
    return -1;
}

static int find_query(const struct session *s, const char *nick)
{
    for (int i = 0; i < s->nqueries; i++)
        if (ircname_cmp(s->queries[i].name, nick) == 0)
            return i;
    return -1;
}

/* The conversation of name (a channel we are in, or a private one we follow), or NULL. */
static struct convo *find_convo(struct session *s, const char *name)
{
    int i = ircname_is_channel(name) ? find_joined(s, name) : find_query(s, name);
    if (i < 0)
        return NULL;
    return ircname_is_channel(name) ? &s->joined[i] : &s->queries[i];
}

static void convo_init(struct convo *c, const char *name)
{
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
}

/* Our JOIN of channel. Joining it again after a reconnect keeps what it knew (the last
 * msgid) and keeps the current target as it was. */
static void joined_add(struct session *s, const char *channel)
{
    int i = find_joined(s, channel);
    if (i >= 0)
        return;
    if (s->njoined < SESSION_CHANNELS_MAX)
        convo_init(&s->joined[s->njoined++], channel);
    snprintf(s->channel, sizeof s->channel, "%s", channel);
}

/* We left channel: the current one becomes the most recently joined of the rest. */
static void joined_remove(struct session *s, const char *channel)
{
    int i = find_joined(s, channel);
    if (i >= 0) {
        memmove(&s->joined[i], &s->joined[i + 1],
                (size_t)(s->njoined - i - 1) * sizeof s->joined[0]);
        s->njoined--;
    }
    if (ircname_cmp(s->channel, channel) == 0)
        snprintf(s->channel, sizeof s->channel, "%s",
                 s->njoined > 0 ? s->joined[s->njoined - 1].name : "");
}

/* A private conversation with nick (a message to or from them, or /query): followed from now
 * on. The oldest is forgotten when there are too many. */
static struct convo *query_add(struct session *s, const char *nick)
{
    int i = find_query(s, nick);
    if (i >= 0)
        return &s->queries[i];
    if (strlen(nick) >= sizeof s->queries[0].name || !ircname_nick_valid(nick))
        return NULL;
    if (s->nqueries == SESSION_QUERIES_MAX) {
        memmove(&s->queries[0], &s->queries[1], (SESSION_QUERIES_MAX - 1) * sizeof s->queries[0]);
        s->nqueries--;
    }
    convo_init(&s->queries[s->nqueries], nick);
    return &s->queries[s->nqueries++];
}

static void query_remove(struct session *s, const char *nick)
{
    int i = find_query(s, nick);
    if (i < 0)
        return;
    memmove(&s->queries[i], &s->queries[i + 1],
            (size_t)(s->nqueries - i - 1) * sizeof s->queries[0]);
    s->nqueries--;
}

/* The other person of a private conversation is now known as to: the conversation (its
 * window, and where plain text goes when it is the current one) follows them. */
static void query_rename(struct session *s, const struct ircmsg *msg, const char *to)
{
    char who[SESSION_NICK_MAX];
    view_source_nick(msg->prefix, who, sizeof who);
    int i = find_query(s, who);
    if (i < 0 || strlen(to) >= sizeof s->queries[i].name)
        return;
    int other = find_query(s, to);
    if (other >= 0 && other != i) { /* a conversation with the new nick already: it goes on there */
        query_remove(s, who);
    } else {
        snprintf(s->queries[i].name, sizeof s->queries[i].name, "%s", to);
        ui_rename_window(who, to);
    }
    if (ircname_cmp(s->channel, who) == 0) {
        snprintf(s->channel, sizeof s->channel, "%s", to);
        update_prompt(s);
    }
}

/* /join of channels we are all in already: the last becomes the current one, and nothing is
 * sent (the server would not answer, and we would wait for that answer for ever). wire is
 * "JOIN #a,#b[ key]\r\n". Returns 1 when that was the case. */
static int switch_to_joined(struct session *s, const char *wire)
{
    if (strncmp(wire, "JOIN ", 5) != 0)
        return 0;
    char list[IRC_LINE_MAX], last[IRC_CHANNEL_MAX + 1] = "";
    size_t n = strcspn(wire + 5, " \r\n");
    if (n >= sizeof list)
        return 0;
    memcpy(list, wire + 5, n);
    list[n] = '\0';
    char *save = NULL;
    for (char *c = strtok_r(list, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
        int i = find_joined(s, c);
        if (i < 0)
            return 0;
        snprintf(last, sizeof last, "%s", s->joined[i].name);
    }
    if (!last[0])
        return 0;
    snprintf(s->channel, sizeof s->channel, "%s", last);
    ui_printf("--- Talking in %s now", last);
    update_prompt(s);
    return 1;
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
    /* After a reconnect our old connection may still hold the nick (the server has not seen
     * it drop): take the nick with '_' added, as other clients do, rather than ask. */
    size_t len = strlen(s->nick);
    if (s->ever_registered && ircmsg_is(msg, ERR_NICKNAMEINUSE) &&
        s->nick_retries < SESSION_NICK_RETRIES && len < IRC_NICK_MAX) {
        s->nick_retries++;
        s->nick[len] = '_';
        s->nick[len + 1] = '\0';
        ui_printf("--- Nickname %.*s is in use; trying %s", (int)len, s->nick, s->nick);
        send_line(s, "NICK %s", s->nick);
        return;
    }
    view_sanitize(bad, s->bad_nick, sizeof s->bad_nick);
    s->nick_prompt = 1;
    s->nick_problem = ircmsg_is(msg, ERR_NICKNAMEINUSE) ? "in use" : "not allowed";
    /* The server's own reason, when it says more than the usual text (a nick registered to
     * an account: log in with SASL to use it). */
    char why[SESSION_ERROR_MAX] = "";
    if (msg->nparams > 2)
        view_sanitize(msg->params[msg->nparams - 1], why, sizeof why);
    if (why[0] && strcasecmp(why, "Nickname is already in use") != 0 &&
        strcasecmp(why, "Erroneous nickname") != 0 && strcasecmp(why, "Erroneus nickname") != 0)
        ui_printf("Nickname %s is %s (%s); type another one.", s->bad_nick, s->nick_problem, why);
    else
        ui_printf("Nickname %s is %s; type another one.", s->bad_nick, s->nick_problem);
    update_prompt(s);
}

/* --- SASL PLAIN ------------------------------------------------------------------------ */

static void cap_end(struct session *s);

/* Ends the session before registration: the login cannot or did not succeed. The password is
 * never sent any other way. */
static void login_abort(struct session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void login_abort(struct session *s, const char *fmt, ...)
{
    char why[SESSION_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    explicit_bzero(s->password, sizeof s->password);
    send_line(s, "QUIT");
    fail(s, "%s", why);
}

/* 1 when the mechanism list (comma-separated, as in "sasl=PLAIN,EXTERNAL") names PLAIN; an
 * empty list says nothing (cap-notify 302 servers may leave it out) and counts as yes. */
static int sasl_plain_offered(const char *mechs)
{
    if (!*mechs)
        return 1;
    size_t want = strlen(SASL_MECHANISM);
    for (const char *p = mechs; *p;) {
        size_t n = strcspn(p, ",");
        if (n == want && strncasecmp(p, SASL_MECHANISM, n) == 0)
            return 1;
        p += n;
        p += *p == ',';
    }
    return 0;
}

/* "AUTHENTICATE +": the server waits for the credentials. PLAIN (RFC 4616) is
 * authzid NUL authcid NUL password; an empty authzid means "the account of authcid". */
static void sasl_send_credentials(struct session *s)
{
    unsigned char raw[SASL_PLAIN_RAW_MAX];
    unsigned char b64[SASL_BASE64_MAX];
    size_t alen = strlen(s->account), plen = strlen(s->password);
    size_t n = 0;
    raw[n++] = '\0';
    memcpy(raw + n, s->account, alen);
    n += alen;
    raw[n++] = '\0';
    memcpy(raw + n, s->password, plen);
    n += plen;
    int len = EVP_EncodeBlock(b64, raw, (int)n);
    explicit_bzero(raw, sizeof raw);
    if (!s->reconnect)
        explicit_bzero(s->password, sizeof s->password);
    if (len <= 0) {
        login_abort(s, "login failed: cannot encode the credentials");
        return;
    }
    for (int off = 0; off < len; off += SASL_CHUNK) {
        int chunk = len - off < SASL_CHUNK ? len - off : SASL_CHUNK;
        send_line(s, "AUTHENTICATE %.*s", chunk, (const char *)b64 + off);
    }
    /* A last line of exactly 400 bytes says "more follows": an empty one ends it. */
    if (len % SASL_CHUNK == 0)
        send_line(s, "AUTHENTICATE %s", SASL_EMPTY);
    explicit_bzero(b64, sizeof b64);
    s->sasl = SASL_CREDS_SENT;
}

/* AUTHENTICATE from the server. Returns 1 when it was ours to handle (never shown). */
static int sasl_authenticate(struct session *s, const struct ircmsg *msg)
{
    if (!ircmsg_is(msg, "AUTHENTICATE"))
        return 0;
    if (s->sasl == SASL_MECH_SENT && msg->nparams > 0 && strcmp(msg->params[0], SASL_EMPTY) == 0)
        sasl_send_credentials(s);
    return 1;
}

/* The numerics that end a login: 903 ends negotiation (registration goes on), a failure
 * ends the session. Returns 1 when msg was a failure (the session error says it all). */
static int sasl_result(struct session *s, const struct ircmsg *msg)
{
    if (s->sasl != SASL_MECH_SENT && s->sasl != SASL_CREDS_SENT)
        return 0;
    if (ircmsg_is(msg, RPL_SASLSUCCESS)) {
        s->sasl = SASL_DONE;
        s->caps_wanted &= ~CAP_SASL;
        cap_end(s);
        return 0;
    }
    if (ircmsg_is(msg, ERR_SASLFAIL) || ircmsg_is(msg, ERR_SASLTOOLONG) ||
        ircmsg_is(msg, ERR_SASLABORTED) || ircmsg_is(msg, RPL_SASLMECHS) ||
        ircmsg_is(msg, ERR_NICKLOCKED)) {
        /* "<nick> [<mechanisms>] :<text>": all but our nick says what happened. */
        char text[SESSION_ERROR_MAX];
        size_t o = 0;
        text[0] = '\0';
        for (int i = 1; i < msg->nparams && o < sizeof text; i++) {
            int w = snprintf(text + o, sizeof text - o, "%s%s", i > 1 ? " " : "", msg->params[i]);
            if (w < 0)
                break;
            o += (size_t)w;
        }
        login_abort(s, "login failed: %s", text[0] ? text : msg->command);
        return 1;
    }
    return 0;
}

static void cap_end(struct session *s)
{
    if (s->capneg == CAPNEG_DONE)
        return;
    send_line(s, "CAP END");
    s->capneg = CAPNEG_DONE;
}

/* Asks for the capabilities in want we do not have yet; ends negotiation if there are none. */
static void cap_request(struct session *s, unsigned want)
{
    char names[SESSION_CAPS_TEXT_MAX];
    want &= s->caps_wanted & ~s->caps;
    if (!want || cap_names(want, names, sizeof names) < 0) {
        cap_end(s);
        return;
    }
    send_line(s, "CAP REQ :%s", names);
    if (s->capneg == CAPNEG_LS)
        s->capneg = CAPNEG_REQ;
}

/* CAP <target> <subcommand> [*] :<list>. A "*" before the list says more lines of the same
 * reply follow. With CAP LS 302 the server may also announce NEW and DEL later
 * (cap-notify is implied). */
static void cap_reply(struct session *s, const struct ircmsg *msg)
{
    if (msg->nparams < 3)
        return;
    const char *sub = msg->params[1];
    int more = msg->nparams > 3 && strcmp(msg->params[2], "*") == 0;
    unsigned added, removed;
    cap_parse(msg->params[msg->nparams - 1], &added, &removed);
    if (!strcasecmp(sub, "LS")) {
        s->caps_offered |= added;
        if (cap_value(msg->params[msg->nparams - 1], "sasl", s->sasl_mechs, sizeof s->sasl_mechs) <
            0)
            s->sasl_mechs[0] = '\0';
        if (more || s->capneg != CAPNEG_LS)
            return;
        if (s->sasl == SASL_WANTED && !(s->caps_offered & CAP_SASL)) {
            login_abort(s, "the server does not offer SASL login; the password was not sent");
            return;
        }
        if (s->sasl == SASL_WANTED && !sasl_plain_offered(s->sasl_mechs)) {
            login_abort(s,
                        "the server offers no SASL PLAIN login (only %s); the password was "
                        "not sent",
                        s->sasl_mechs);
            return;
        }
        cap_request(s, s->caps_offered);
    } else if (!strcasecmp(sub, "NEW")) {
        s->caps_offered |= added;
        if (s->capneg == CAPNEG_DONE && (added & s->caps_wanted & ~s->caps))
            cap_request(s, added);
    } else if (!strcasecmp(sub, "DEL")) {
        s->caps_offered &= ~added;
        s->caps &= ~added;
    } else if (!strcasecmp(sub, "ACK")) {
        s->caps = (s->caps | added) & ~removed;
        if (more)
            return;
        if (s->sasl == SASL_WANTED && (s->caps & CAP_SASL)) {
            /* Registration waits for CAP END: log in first. */
            send_line(s, "AUTHENTICATE %s", SASL_MECHANISM);
            s->sasl = SASL_MECH_SENT;
        } else if (s->sasl == SASL_WANTED) {
            login_abort(s, "the server did not enable SASL login; the password was not sent");
        } else {
            cap_end(s);
        }
    } else if (!strcasecmp(sub, "NAK")) {
        if (more)
            return;
        if (s->sasl == SASL_WANTED)
            login_abort(s, "the server refused SASL login; the password was not sent");
        else
            cap_end(s);
    }
}

/* A 421 for our CAP, or a 451 before we are registered: the server does not do capability
 * negotiation, and NICK/USER register us anyway. Nothing worth showing (but without CAP there
 * is no SASL: a login that is due ends the session). */
static int cap_unsupported(const struct session *s, const struct ircmsg *msg)
{
    if (ircmsg_is(msg, ERR_UNKNOWNCOMMAND))
        return msg->nparams > 1 && !strcasecmp(msg->params[1], "CAP");
    return ircmsg_is(msg, ERR_NOTREGISTERED) && !s->registered;
}

static void show_names_line(const char *line, void *arg)
{
    (void)arg;
    ui_print(line);
}

/* Who is where, for Tab: NAMES entries, JOIN, PART, KICK, QUIT, NICK. */
static void track_members(struct session *s, const struct ircmsg *msg)
{
    char who[SESSION_NICK_MAX] = "";
    if (msg->prefix)
        view_source_nick(msg->prefix, who, sizeof who);
    const char *p0 = msg->nparams > 0 ? msg->params[0] : "";
    if (ircmsg_is(msg, RPL_NAMREPLY) && msg->nparams >= 3) {
        char list[IRC_LINE_MAX + 1];
        snprintf(list, sizeof list, "%s", msg->params[msg->nparams - 1]);
        char *save = NULL;
        for (char *e = strtok_r(list, " ", &save); e; e = strtok_r(NULL, " ", &save)) {
            e[strcspn(e, "!")] = '\0'; /* userhost-in-names */
            members_add(s->members, msg->params[msg->nparams - 2], e);
        }
    } else if (ircmsg_is(msg, "JOIN") && who[0]) {
        members_add(s->members, p0, who);
    } else if (ircmsg_is(msg, "PART") && who[0]) {
        if (ircname_cmp(who, s->nick) == 0)
            members_drop(s->members, p0);
        else
            members_remove(s->members, p0, who);
    } else if (ircmsg_is(msg, "KICK") && msg->nparams > 1) {
        if (ircname_cmp(msg->params[1], s->nick) == 0)
            members_drop(s->members, p0);
        else
            members_remove(s->members, p0, msg->params[1]);
    } else if (ircmsg_is(msg, "QUIT") && who[0]) {
        members_quit(s->members, who);
    } else if (ircmsg_is(msg, "NICK") && who[0] && msg->nparams > 0) {
        members_rename(s->members, who, p0);
    } else if (ircmsg_is(msg, "MODE") && msg->nparams >= 3 && ircname_is_channel(p0)) {
        /* "+ov-v alice bob carol": the letters with an argument (CHANMODES beI,k,l and the
         * PREFIX ov; l only when set) take the next one. */
        int adding = 1, arg = 2;
        for (const char *l = msg->params[1]; *l && arg < msg->nparams; l++) {
            if (*l == '+' || *l == '-') {
                adding = *l == '+';
            } else if (strchr("ovbeIk", *l) || (*l == 'l' && adding)) {
                const char *a = msg->params[arg++];
                if (*l == 'o' || *l == 'v')
                    members_mode(s->members, p0, a, *l, adding);
            }
        }
    }
}

/* CTCP VERSION, PING and TIME sent to us are answered (by NOTICE, as CTCP says), at most one
 * answer a second so that nobody can make us flood the server. */
static void ctcp_answer(struct session *s, const struct ircmsg *msg)
{
    if (!ircmsg_is(msg, "PRIVMSG") || msg->nparams < 2 || !msg->prefix || from_me(s, msg) ||
        ircname_cmp(msg->params[0], s->nick) != 0 || msg->params[1][0] != '\001')
        return;
    char body[IRC_LINE_MAX];
    snprintf(body, sizeof body, "%s", msg->params[1] + 1);
    body[strcspn(body, "\001")] = '\0';
    char who[SESSION_NICK_MAX];
    view_source_nick(msg->prefix, who, sizeof who);
    time_t now = time(NULL);
    if (now == s->ctcp_answered)
        return;
    if (strcasecmp(body, "VERSION") == 0) {
        send_line(s, "NOTICE %s :\001VERSION %s (the tcpchat terminal client)\001", who,
                  TCPCHAT_VERSION);
    } else if (strncasecmp(body, "PING", 4) == 0 && (body[4] == ' ' || !body[4])) {
        /* The argument comes back as it came, within the line (no CR, LF or NUL in it). */
        send_line(s, "NOTICE %s :\001%s\001", who, body);
    } else if (strcasecmp(body, "TIME") == 0) {
        char t[64];
        struct tm tm;
        localtime_r(&now, &tm);
        strftime(t, sizeof t, "%a %b %d %H:%M:%S %Y", &tm);
        send_line(s, "NOTICE %s :\001TIME %s\001", who, t);
    } else {
        return;
    }
    s->ctcp_answered = now;
}

/* Asks for what was said in c after the last message we saw of it (draft/chathistory), a
 * page at a time (history_page_done asks for the next). */
static void catch_up(struct session *s, struct convo *c)
{
    c->catching_up = 1;
    send_line(s, "CHATHISTORY AFTER %s msgid=%s %d", c->name, c->last_msgid, SESSION_HISTORY_PAGE);
}

/* After a reconnect: JOIN the channels we were in, as few lines as they fit in (each asks for
 * its missed messages once joined), and ask for what was said in our private conversations. */
static void rejoin(struct session *s)
{
    s->rejoin_due = 0;
    char list[IRC_LINE_MAX];
    size_t n = 0;
    for (int i = 0; i < s->njoined; i++) {
        size_t len = strlen(s->joined[i].name);
        if (n && n + 1 + len > IRC_LINE_MAX - sizeof "JOIN \r\n") {
            send_line(s, "JOIN %.*s", (int)n, list);
            n = 0;
        }
        if (n)
            list[n++] = ',';
        memcpy(list + n, s->joined[i].name, len);
        n += len;
    }
    if (n)
        send_line(s, "JOIN %.*s", (int)n, list);
    if (s->away[0])
        send_line(s, "AWAY :%s", s->away);
    if (!(s->caps & CAP_CHATHISTORY))
        return;
    for (int i = 0; i < s->nqueries; i++)
        if (s->queries[i].last_msgid[0])
            catch_up(s, &s->queries[i]);
}

/* With draft/chathistory the server replays nothing on JOIN: we ask. A channel we have seen a
 * message of (we are joining it again after a reconnect) gets what came after that message,
 * page by page (history_page_done); a new one its latest messages. */
static void ask_history(struct session *s, const char *channel)
{
    int i = find_joined(s, channel);
    if (!(s->caps & CAP_CHATHISTORY) || i < 0)
        return;
    if (s->joined[i].last_msgid[0])
        catch_up(s, &s->joined[i]);
    else
        send_line(s, "CHATHISTORY LATEST %s * %d", s->joined[i].name, SESSION_HISTORY_LATEST);
}

/* A chathistory batch of target ended with lines in it: a full page of what we missed means
 * there may be more. */
static void history_page_done(struct session *s, const char *target, unsigned lines)
{
    struct convo *c = find_convo(s, target);
    if (!c || !c->catching_up)
        return;
    c->catching_up = 0;
    if (lines >= SESSION_HISTORY_PAGE && c->last_msgid[0])
        catch_up(s, c);
}

/* The msgid of a message in one of our conversations (a channel we are in, or a private one:
 * the other person's, which starts following it), live or replayed: where to start asking
 * after a reconnect, and (the oldest) where to start asking for older lines. A page of older
 * lines (replayed, with fetching_older) moves only the oldest: its first message. */
static void note_msgid(struct session *s, const struct ircmsg *msg, const struct batch *replayed)
{
    char id[SESSION_MSGID_MAX];
    if (!msg->tags || msg->nparams < 1 ||
        (!ircmsg_is(msg, "PRIVMSG") && !ircmsg_is(msg, "NOTICE")) ||
        ircmsg_tag_get(msg->tags, "msgid", id, sizeof id) != 1 || !id[0] || strchr(id, ' '))
        return;
    struct convo *c;
    if (ircname_is_channel(msg->params[0])) {
        c = find_convo(s, msg->params[0]);
    } else if (replayed && replayed->own_history && replayed->target[0]) {
        c = find_convo(s, replayed->target); /* the nick we asked about, whoever spoke */
    } else if (from_me(s, msg)) {
        c = query_add(s, msg->params[0]);
    } else if (msg->prefix && strchr(msg->prefix, '!')) {
        char nick[SESSION_NICK_MAX];
        view_source_nick(msg->prefix, nick, sizeof nick);
        c = query_add(s, nick);
    } else {
        return; /* the server's own notice */
    }
    if (!c)
        return;
    if (replayed && c->fetching_older) {
        if (c->fetching_older == OLDER_ASKED) {
            memcpy(c->first_msgid, id, sizeof id);
            c->fetching_older = OLDER_ARRIVING;
        }
        return;
    }
    memcpy(c->last_msgid, id, sizeof id);
    if (!c->first_msgid[0])
        memcpy(c->first_msgid, id, sizeof id);
}

static void track(struct session *s, const struct ircmsg *msg)
{
    ctcp_answer(s, msg);
    const char *p0 = msg->nparams > 0 ? msg->params[0] : "";
    track_members(s, msg);
    if (ircmsg_is(msg, RPL_WELCOME)) {
        s->registered = 1;
        s->ever_registered = 1;
        ui_set_note(NULL); /* connected (again) */
        if (s->rejoin_due)
            rejoin(s);
        s->capneg = CAPNEG_DONE; /* registration is complete: nothing more to negotiate */
        s->nick_prompt = 0;
        if (*p0)
            snprintf(s->nick, sizeof s->nick, "%s", p0);
        update_prompt(s);
        update_self(s);
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
        ask_history(s, p0);
        int i = find_joined(s, p0);
        if (i >= 0 && send_line(s, "MODE %s", s->joined[i].name) == 0)
            s->joined[i].modes_asked = 1; /* for the topic line */
    } else if (ircmsg_is(msg, "PART") && from_me(s, msg)) {
        joined_remove(s, p0);
        update_prompt(s);
    } else if (ircmsg_is(msg, "KICK") && msg->nparams > 1 &&
               ircname_cmp(msg->params[1], s->nick) == 0) {
        joined_remove(s, p0);
        update_prompt(s);
    } else if (ircmsg_is(msg, "NICK") && from_me(s, msg)) {
        snprintf(s->nick, sizeof s->nick, "%s", p0);
        update_self(s);
    } else if (ircmsg_is(msg, "MODE") && msg->nparams >= 2 && ircname_cmp(p0, s->nick) == 0) {
        modes_apply(s->umodes, sizeof s->umodes, msg->params[1], "");
        update_self(s);
    } else if (ircmsg_is(msg, "MODE") && msg->nparams >= 2 && find_joined(s, p0) >= 0) {
        struct convo *c = &s->joined[find_joined(s, p0)];
        modes_apply(c->modes, sizeof c->modes, msg->params[1], SESSION_MODES_LISTS);
        ui_set_modes(c->name, c->modes);
    } else if (ircmsg_is(msg, RPL_UMODEIS) && msg->nparams >= 2) {
        s->umodes[0] = '\0';
        modes_apply(s->umodes, sizeof s->umodes, msg->params[1], "");
        update_self(s);
    } else if (ircmsg_is(msg, RPL_NOWAWAY) || ircmsg_is(msg, RPL_UNAWAY)) {
        s->is_away = ircmsg_is(msg, RPL_NOWAWAY);
        update_self(s);
    } else if (ircmsg_is(msg, "NICK") && msg->prefix && *p0) {
        query_rename(s, msg, p0);
    } else if (ircmsg_is(msg, RPL_TOPIC) && msg->nparams >= 3) {
        ui_set_topic(msg->params[1], msg->params[2]);
    } else if (ircmsg_is(msg, "TOPIC") && msg->nparams >= 2) {
        ui_set_topic(p0, msg->params[1]);
    } else if ((ircmsg_is(msg, "PRIVMSG") || ircmsg_is(msg, "NOTICE")) && from_me(s, msg)) {
        echo_arrived(s);
    } else if (msg->command[0] >= NUMERIC_ERROR_FIRST && msg->command[0] <= NUMERIC_ERROR_LAST &&
               strlen(msg->command) == 3) {
        /* An error is the only answer a refused JOIN gets (403, 405, 471, 473...), and the
         * only one a refused message gets (401, 404...). */
        s->awaiting_join = 0;
        if (s->echoes_due > 0)
            echo_arrived(s);
    }
}

/* --- batches (replayed history) --------------------------------------------------------- */

/* "BATCH +ref type [params...]" opens a batch, "BATCH -ref" closes it (IRCv3 batch). The
 * framing is not shown as such; a chathistory batch that held lines ends with a footer. */
static void batch_frame(struct session *s, const struct ircmsg *msg)
{
    if (msg->nparams < 1)
        return;
    const char *ref = msg->params[0];
    if (ref[0] == '+' && msg->nparams >= 2) {
        char parent[BATCH_REF_MAX];
        int nested =
            msg->tags && ircmsg_tag_get(msg->tags, SESSION_BATCH_TAG, parent, sizeof parent) == 1;
        struct batch *b =
            batch_open(&s->batches, ref + 1, msg->params[1],
                       msg->nparams > 2 ? msg->params[2] : NULL, nested ? parent : NULL);
        struct convo *c = b && b->own_history ? find_convo(s, b->target) : NULL;
        if (c && c->fetching_older)
            ui_older_begin(b->target); /* the page of older lines asked for (fetch_older) */
    } else if (ref[0] == '-') {
        struct batch b;
        if (batch_close(&s->batches, ref + 1, &b) == 0 && b.own_history) {
            struct convo *c = find_convo(s, b.target);
            ui_set_target(b.target, 0);
            if (b.lines > 0)
                ui_printf("--- end of history%s%s (%u message%s) ---", b.target[0] ? " of " : "",
                          b.target, b.lines, b.lines == 1 ? "" : "s");
            if (c && c->fetching_older) {
                c->fetching_older = OLDER_NONE;
                ui_older_end(b.target, b.lines);
            }
            history_page_done(s, b.target, b.lines);
        }
    }
}

/* The history batch msg belongs to (by its batch tag), or NULL for a live line. */
static struct batch *history_batch(struct session *s, const struct ircmsg *msg)
{
    char ref[BATCH_REF_MAX];
    if (!msg->tags || ircmsg_tag_get(msg->tags, SESSION_BATCH_TAG, ref, sizeof ref) != 1)
        return NULL;
    struct batch *b = batch_find(&s->batches, ref);
    return b && b->history ? b : NULL;
}

/* One replayed line; the first of a chathistory batch comes after a header. missed: a
 * message from someone while we were disconnected (alert: one for us). */
static void history_show(struct batch *b, time_t when, const char *text, int missed, int alert)
{
    if (b->own_history && b->lines == 0)
        ui_printf("--- history of %s ---", b->target[0] ? b->target : "this conversation");
    b->lines++;
    ui_print_history(when, text, missed, alert);
}

/* /ignore: a mask with '!' or '@' matches the whole source (nick!user@host, wildcards, any
 * case); anything else is a nick, compared under the IRC case mapping. */
static int ignored(const struct session *s, const struct ircmsg *msg)
{
    if (!s->nignores || !msg->prefix || !strchr(msg->prefix, '!') || from_me(s, msg))
        return 0;
    if (!ircmsg_is(msg, "PRIVMSG") && !ircmsg_is(msg, "NOTICE") && !ircmsg_is(msg, "TAGMSG") &&
        !ircmsg_is(msg, "INVITE"))
        return 0;
    char nick[SESSION_NICK_MAX];
    view_source_nick(msg->prefix, nick, sizeof nick);
    for (int i = 0; i < s->nignores; i++) {
        const char *m = s->ignores[i];
        if (strpbrk(m, "!@") ? fnmatch(m, msg->prefix, FNM_CASEFOLD) == 0
                             : ircname_cmp(m, nick) == 0)
            return 1;
    }
    return 0;
}

static int find_ignore(const struct session *s, const char *mask)
{
    for (int i = 0; i < s->nignores; i++)
        if (ircname_cmp(s->ignores[i], mask) == 0)
            return i;
    return -1;
}

static void ignore_command(struct session *s, enum cmd_local what, const char *mask)
{
    if (what == LOCAL_IGNORE && !*mask) {
        if (!s->nignores)
            ui_print("--- You are not ignoring anyone");
        for (int i = 0; i < s->nignores; i++)
            ui_printf("--- Ignoring %s", s->ignores[i]);
        return;
    }
    int i = find_ignore(s, mask);
    if (what == LOCAL_UNIGNORE) {
        if (i < 0) {
            ui_printf("--- You were not ignoring %s", mask);
            return;
        }
        memmove(s->ignores[i], s->ignores[i + 1],
                (size_t)(s->nignores - i - 1) * sizeof s->ignores[0]);
        s->nignores--;
        ui_printf("--- No longer ignoring %s", mask);
        return;
    }
    if (i >= 0) {
        ui_printf("--- Already ignoring %s", mask);
    } else if (strlen(mask) > SESSION_IGNORE_LEN) {
        ui_printf("--- Too long to ignore (%d characters at most)", SESSION_IGNORE_LEN);
    } else if (s->nignores == SESSION_IGNORES_MAX) {
        ui_printf("--- Ignoring %d already, the most there can be; /unignore one first",
                  SESSION_IGNORES_MAX);
    } else {
        memcpy(s->ignores[s->nignores++], mask, strlen(mask) + 1); /* fits: checked above */
        ui_printf("--- Ignoring %s: their messages, notices, CTCPs and invitations are hidden",
                  mask);
    }
}

/* /server HOST PORT [PASSWORD] (checked by cmd.c): QUIT here, and main connects there (the
 * session goes to SESSION_RECONNECT). The channels are joined there too; what we saw here
 * (the msgids) means nothing there, so a channel gets its latest lines as on a first join. */
static void switch_server(struct session *s, const char *arg)
{
    char host[SESSION_HOST_MAX], port[SESSION_PORT_MAX];
    while (*arg == ' ')
        arg++;
    size_t n = strcspn(arg, " ");
    if (n >= sizeof host) {
        ui_printf("--- No host name is that long (%zu characters at most)", sizeof host - 1);
        return;
    }
    memcpy(host, arg, n);
    host[n] = '\0';
    for (arg += n; *arg == ' ';)
        arg++;
    n = strcspn(arg, " ");
    snprintf(port, sizeof port, "%.*s", (int)n, arg);
    for (arg += n; *arg == ' ';)
        arg++;
    char prev[SESSION_PASSWORD_MAX];
    memcpy(prev, s->server_password, sizeof prev);
    if (*arg && session_set_server_password(s, arg) < 0) {
        explicit_bzero(prev, sizeof prev);
        ui_print("--- That password cannot be sent (too long)");
        return;
    }
    memcpy(s->prev_server_password, prev, sizeof prev);
    explicit_bzero(prev, sizeof prev);
    if (!*arg)
        explicit_bzero(s->server_password, sizeof s->server_password);
    memcpy(s->next_host, host, sizeof host);
    memcpy(s->next_port, port, sizeof port);
    for (int i = 0; i < s->njoined; i++)
        s->joined[i].last_msgid[0] = s->joined[i].first_msgid[0] = '\0';
    s->nqueries = 0;
    send_line(s, "QUIT :Changing servers");
    ui_printf("--- Leaving for %s port %s", host, port);
    s->state = SESSION_RECONNECT;
}

void session_server_back(struct session *s)
{
    memcpy(s->server_password, s->prev_server_password, sizeof s->server_password);
    explicit_bzero(s->prev_server_password, sizeof s->prev_server_password);
}

int session_take_server(struct session *s, const char **host, const char **port)
{
    if (!s->next_host[0])
        return 0;
    static char h[SESSION_HOST_MAX], p[SESSION_PORT_MAX]; /* main thread only */
    memcpy(h, s->next_host, sizeof h);
    memcpy(p, s->next_port, sizeof p);
    s->next_host[0] = s->next_port[0] = '\0';
    *host = h;
    *port = p;
    return 1;
}

/* A command that changes only what this client shows or where plain text goes. */
static void local_command(struct session *s, const struct cmd_result *res)
{
    switch (res->local) {
    case LOCAL_QUERY:
        if (strlen(res->arg) >= sizeof s->channel) {
            ui_printf("--- No nick is that long (%zu characters at most)", sizeof s->channel - 1);
            break;
        }
        {
            /* A conversation new to this client shows its latest messages, as a channel does
             * on joining (the server keeps those between accounts). */
            int fresh = find_query(s, res->arg) < 0;
            memcpy(s->channel, res->arg, strlen(res->arg) + 1);
            if (query_add(s, s->channel) && fresh && (s->caps & CAP_CHATHISTORY))
                send_line(s, "CHATHISTORY LATEST %s * %d", s->channel, SESSION_HISTORY_LATEST);
        }
        ui_printf("--- Talking with %s now (/close ends it)", s->channel);
        update_prompt(s);
        break;
    case LOCAL_CLOSE: {
        const char *closed = res->arg;
        if (ircname_is_channel(closed) && find_joined(s, closed) >= 0) {
            ui_print("--- No private conversation to close; /part leaves a channel.");
            break;
        }
        snprintf(s->channel, sizeof s->channel, "%s",
                 s->njoined > 0 ? s->joined[s->njoined - 1].name : "");
        if (!ircname_is_channel(closed))
            query_remove(s, closed);
        ui_close_window(closed); /* full-screen: the window shown next is the current one */
        if (ircname_is_channel(closed))
            ui_printf("--- Closed the window of %s", closed);
        else
            ui_printf("--- Closed the conversation with %s", closed);
        update_prompt(s);
        break;
    }
    case LOCAL_IGNORE:
    case LOCAL_UNIGNORE:
        ignore_command(s, res->local, res->arg);
        break;
    case LOCAL_CLEAR:
        ui_clear();
        break;
    case LOCAL_HIDEJOINS:
        s->hide_joins = !s->hide_joins;
        ui_print(s->hide_joins ? "--- Others' joins, parts and quits are hidden now (/hidejoins "
                                 "shows them again)"
                               : "--- Others' joins, parts and quits are shown again");
        break;
    case LOCAL_LASTLOG:
        if (!ui_is_fullscreen())
            ui_print("--- /lastlog is for the full-screen mode (this is --plain)");
        else
            ui_lastlog(res->arg);
        break;
    case LOCAL_WINDOW:
        if (!ui_is_fullscreen())
            ui_print("--- /win is for the full-screen mode (this is --plain)");
        else if (ui_window((int)strtol(res->arg, NULL, 10)) < 0)
            ui_printf("--- There is no window %s (see the status line)", res->arg);
        break;
    case LOCAL_SERVER:
        switch_server(s, res->arg);
        break;
    case LOCAL_NICKLIST:
        if (!ui_is_fullscreen())
            ui_print("--- /nicklist is for the full-screen mode (this is --plain)");
        else
            ui_toggle_nicklist();
        break;
    }
}

/* The full-screen window msg belongs in: a channel's, or a private conversation's (the other
 * person's nick, copied to nick); NULL for the one shown (server notices, QUIT, NICK, most
 * numerics). *create: the message may open a window (a message, our JOIN); an error about a
 * channel may not. */
static const char *msg_window(const struct session *s, const struct ircmsg *msg, char *nick,
                              size_t cap, int *create)
{
    const char *p0 = msg->nparams > 0 ? msg->params[0] : "";
    *create = 0;
    if (ircmsg_is(msg, "PRIVMSG") || ircmsg_is(msg, "NOTICE")) {
        if (msg->nparams < 2)
            return NULL;
        *create = 1;
        if (ircname_is_channel(p0) || from_me(s, msg))
            return p0;
        if (!msg->prefix || !strchr(msg->prefix, '!'))
            return NULL; /* the server's own notice */
        view_source_nick(msg->prefix, nick, cap);
        return nick;
    }
    if ((ircmsg_is(msg, "JOIN") || ircmsg_is(msg, "PART") || ircmsg_is(msg, "KICK") ||
         ircmsg_is(msg, "TOPIC") || ircmsg_is(msg, "MODE")) &&
        ircname_is_channel(p0)) {
        *create = ircmsg_is(msg, "JOIN") && from_me(s, msg);
        return p0;
    }
    if (ircmsg_is(msg, RPL_NAMREPLY) && msg->nparams >= 3)
        return msg->params[msg->nparams - 2];
    if (strlen(msg->command) == 3 && msg->nparams >= 2 && ircname_is_channel(msg->params[1]))
        return msg->params[1];
    return NULL;
}

/* 324 "<me> <channel> <modes> [<args>]": the channel's modes, for the topic line. Returns 1
 * when it answers the MODE we sent on joining (not shown: the user did not ask). */
static int channel_modes(struct session *s, const struct ircmsg *msg)
{
    int i = find_joined(s, msg->params[1]);
    if (i < 0)
        return 0;
    struct convo *c = &s->joined[i];
    c->modes[0] = '\0';
    modes_apply(c->modes, sizeof c->modes, msg->params[2], SESSION_MODES_LISTS);
    ui_set_modes(c->name, c->modes);
    int silent = c->modes_asked;
    c->modes_asked = 0;
    return silent;
}

static void handle_line(struct session *s, struct ircmsg *msg);

/* Full-screen: a QUIT or a NICK (before track() forgets the old nick) goes to the window of
 * every channel its sender is in, where it matters. Returns 0 when it went nowhere (line mode,
 * another message, nobody we know): then it goes to the window shown as usual. */
static int print_where_seen(struct session *s, const struct ircmsg *msg, const char *text)
{
    char who[SESSION_NICK_MAX];
    if (!ui_is_fullscreen() || !msg->prefix || (!ircmsg_is(msg, "QUIT") && !ircmsg_is(msg, "NICK")))
        return 0;
    view_source_nick(msg->prefix, who, sizeof who);
    int shown = 0;
    for (int i = 0; i < s->njoined; i++) {
        const char *first = members_match(s->members, s->joined[i].name, who, 0);
        if (!first || ircname_cmp(first, who) != 0)
            continue;
        ui_set_target(s->joined[i].name, 0);
        ui_print_at(view_msg_time(msg), text);
        shown++;
    }
    if (find_query(s, who) >= 0) { /* and in our private conversation with them */
        ui_set_target(who, 0);
        ui_print_at(view_msg_time(msg), text);
        shown++;
    }
    ui_set_target(NULL, 0);
    return shown > 0;
}

void session_handle_line(struct session *s, char *line)
{
    struct ircmsg msg;
    if (ircmsg_parse(line, &msg) != IRCMSG_OK)
        return;
    char nick[SESSION_NICK_MAX];
    int create = 0;
    const char *window = msg_window(s, &msg, nick, sizeof nick, &create);
    ui_set_target(window, create);
    handle_line(s, &msg);
    ui_set_target(NULL, 0);
}

static void handle_line(struct session *s, struct ircmsg *m)
{
    struct ircmsg msg = *m;
    if (ircmsg_is(&msg, "PING")) {
        send_line(s, "PONG :%s", msg.nparams > 0 ? msg.params[msg.nparams - 1] : "");
        return;
    }
    if (ircmsg_is(&msg, "ERROR")) {
        if (s->state == SESSION_QUITTING)
            s->state = SESSION_DONE;
        else if (s->state == SESSION_RUNNING && !lost(s, "the server closed the connection: %s",
                                                      msg.nparams > 0 ? msg.params[0] : ""))
            fail(s, "server closed the connection: %s", msg.nparams > 0 ? msg.params[0] : "");
        return;
    }
    if (!s->registered &&
        (ircmsg_is(&msg, ERR_NICKNAMEINUSE) || ircmsg_is(&msg, ERR_ERRONEUSNICKNAME))) {
        nick_refused(s, &msg);
        return;
    }
    if (sasl_authenticate(s, &msg) || sasl_result(s, &msg))
        return;
    if (ircmsg_is(&msg, RPL_WELCOME) && s->sasl != SASL_NONE && s->sasl != SASL_DONE) {
        /* Registered without logging in: a server that ignored our CAP LS. */
        login_abort(s, "the server does not offer SASL login; the password was not sent");
        return;
    }
    if (ircmsg_is(&msg, "BATCH")) {
        batch_frame(s, &msg);
        return;
    }
    if (ircmsg_is(&msg, "CAP")) {
        cap_reply(s, &msg);
    } else if (cap_unsupported(s, &msg)) {
        s->capneg = CAPNEG_DONE;
        if (s->sasl == SASL_WANTED)
            login_abort(s, "the server does not offer SASL login; the password was not sent");
        return;
    } else if (ircmsg_is(&msg, RPL_NAMREPLY) && msg.nparams >= 3) {
        /* "<me> <symbol> <channel> :<names>": shown sorted once 366 ends the list. */
        track_members(s, &msg);
        if (names_add(s->names, msg.params[msg.nparams - 2], msg.params[msg.nparams - 1],
                      show_names_line, NULL) < 0)
            ui_print("Some names of a long user list were dropped (out of memory).");
        return;
    } else if (ircmsg_is(&msg, RPL_ENDOFNAMES) && msg.nparams >= 2) {
        names_end(s->names, msg.params[1], show_names_line, NULL);
        return;
    }
    if (ircmsg_is(&msg, RPL_CHANNELMODEIS) && msg.nparams >= 3 && channel_modes(s, &msg))
        return;
    struct batch *replayed = history_batch(s, &msg);
    note_msgid(s, &msg, replayed);
    if (ignored(s, &msg)) {
        return; /* not shown, and a CTCP request not answered */
    }
    struct view_marks marks = {0};
    struct view_ctx ctx = {s->nick, s->channel[0] ? s->channel : NULL, &marks};
    char text[VIEW_LINE_MAX];
    if (replayed) {
        /* History: shown with its own time, and it changes nothing (the JOIN in it is not
         * ours now, and our own old messages are not echoes we wait for). */
        if (view_format(&msg, &ctx, text, sizeof text) > 0) {
            /* What we missed while disconnected is news: its window counts it as unread. */
            const struct convo *c = find_convo(s, replayed->target);
            int missed = c && c->catching_up && marks.nick_len && !from_me(s, &msg);
            history_show(replayed, view_msg_time(&msg), text, missed, missed && marks.alert);
        }
        return;
    }
    if (s->hide_joins && !from_me(s, &msg) &&
        (ircmsg_is(&msg, "JOIN") || ircmsg_is(&msg, "PART") || ircmsg_is(&msg, "QUIT"))) {
        track(s, &msg); /* not shown, but who is where still counts */
        return;
    }
    /* server-time: the line is stamped with when the server saw it, not when it got here. */
    if (view_format(&msg, &ctx, text, sizeof text) > 0) {
        if (marks.nick_len)
            ui_print_chat(view_msg_time(&msg), text, marks.nick_off, marks.nick_len, marks.alert);
        else if (!print_where_seen(s, &msg, text))
            ui_print_at(view_msg_time(&msg), text);
    }
    track(s, &msg);
}

/* Tab (ui_set_completion): at the start of the line a word with '/' completes a command
 * name; a word with '#' one of our channels; any other word a nick of the current channel, or
 * the other person of the private conversation ("nick: " at the start of the line). */
static char *complete(const char *text, int at_start, int state)
{
    static int next; /* readline asks for matches one state at a time */
    if (state == 0)
        next = 0;
    struct session *s = completing;
    if (!s)
        return NULL;
    if (at_start && text[0] == '/') {
        size_t n = strlen(text);
        for (const char *const *h = cmd_help_lines(); h[next]; next++) {
            const char *cmd = strstr(h[next], "/");
            if (!cmd || strncasecmp(cmd, text, n) != 0)
                continue;
            size_t len = strcspn(cmd, " ");
            char *out = malloc(len + 1);
            if (out) {
                memcpy(out, cmd, len);
                out[len] = '\0';
            }
            next++;
            return out;
        }
        return NULL;
    }
    size_t n = strlen(text);
    if (ircname_is_channel(text)) { /* "#de" completes the channels we are in */
        for (; next < s->njoined; next++)
            if (strncasecmp(s->joined[next].name, text, n) == 0)
                return strdup(s->joined[next++].name);
        return NULL;
    }
    const char *nick = NULL;
    if (s->channel[0] && ircname_is_channel(s->channel))
        nick = members_match(s->members, s->channel, text, next++);
    else if (s->channel[0] && next++ == 0 && strncasecmp(s->channel, text, n) == 0)
        nick = s->channel; /* a private conversation: the other person */
    if (!nick)
        return NULL;
    size_t len = strlen(nick);
    char *out = malloc(len + 2);
    if (out)
        snprintf(out, len + 2, "%s%s", nick, at_start ? ":" : "");
    return out;
}

/* Full-screen: the user showed the window of name. Plain text goes there from now on: to a
 * channel, to a nick (as after /query), or nowhere (the status window, name ""). */
static void window_switched(const char *name, void *arg)
{
    struct session *s = arg;
    if (s->nick_prompt || strlen(name) >= sizeof s->channel)
        return;
    int i = find_joined(s, name);
    snprintf(s->channel, sizeof s->channel, "%s", i >= 0 ? s->joined[i].name : name);
    update_prompt(s);
}

/* Full-screen nick list: channel's operators ("@nick"), voiced ("+nick"), then the rest,
 * each in alphabetical order. The text stays valid until the next call. */
static const char *window_member(const char *channel, int index, void *arg)
{
    struct session *s = arg;
    return members_ranked(s->members, channel, index, s->member_shown, sizeof s->member_shown);
}

/* Full-screen scrollback reached the top of name's window: the page before the oldest message
 * seen (CHATHISTORY BEFORE); the batch that answers goes above it (batch_frame). */
static void fetch_older(const char *name, void *arg)
{
    struct session *s = arg;
    struct convo *c = find_convo(s, name);
    if (c && c->fetching_older)
        return;
    if (!c || s->state != SESSION_RUNNING || !s->registered || !(s->caps & CAP_CHATHISTORY) ||
        !c->first_msgid[0] ||
        send_line(s, "CHATHISTORY BEFORE %s msgid=%s %d", c->name, c->first_msgid,
                  SESSION_HISTORY_PAGE) < 0) {
        ui_older_end(name, 0);
        return;
    }
    c->fetching_older = OLDER_ASKED;
}

void session_enable_completion(struct session *s)
{
    completing = s;
    ui_set_completion(complete);
    struct ui_hooks hooks = {window_switched, window_member, fetch_older, s};
    ui_set_hooks(&hooks);
}

/* An AWAY we send (wire: lines ending in CR LF): its message is remembered, to be away again
 * after a reconnect; AWAY without one forgets it. */
static void note_away(struct session *s, const char *wire)
{
    for (const char *l = wire; *l;) {
        const char *end = strstr(l, "\r\n");
        size_t n = end ? (size_t)(end - l) : strlen(l);
        if (n >= 4 && strncasecmp(l, "AWAY", 4) == 0 && (n == 4 || l[4] == ' ')) {
            const char *text = l + 4 + (n > 4) + (n > 5 && l[5] == ':');
            size_t len = n - (size_t)(text - l);
            if (len >= sizeof s->away)
                len = sizeof s->away - 1;
            memcpy(s->away, text, len);
            s->away[len] = '\0';
        }
        if (!end)
            break;
        l = end + 2;
    }
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
    case CMD_LOCAL:
        local_command(s, &res);
        return;
    case CMD_SEND:
    case CMD_QUIT:
        break;
    }
    if (res.joins && switch_to_joined(s, res.wire))
        return;
    note_away(s, res.wire);
    if (res.kind == CMD_QUIT ? quit_send(s, res.wire, res.wire_len) < 0
                             : out_append(s, res.wire, res.wire_len) < 0) {
        ui_print("The server is not reading what we send; line dropped.");
        return;
    }
    /* With echo-message our message is shown when the server relays it back: the screen then
     * holds what the server sent on, in the order it sent it. */
    if ((s->caps & CAP_ECHO_MESSAGE) && res.messages)
        s->echoes_due += res.messages;
    else if (res.echo[0])
        ui_print(res.echo);
    if (res.joins)
        s->awaiting_join = 1;
}
