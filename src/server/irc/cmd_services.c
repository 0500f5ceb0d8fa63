/* cmd_services: NickServ and ChanServ, built into the server. Clients and their scripts expect
 * them (`/msg NickServ IDENTIFY ...`, GHOST on reconnect), so they answer PRIVMSG to those
 * nicks and the NS/CS commands, in Ergo's spelling (which follows Atheme's), with NOTICEs
 * from NickServ!NickServ@services and ChanServ!ChanServ@services. They are not users: nobody
 * can take their nicks, and they hold no connection.
 *
 * NickServ is account self-service on the account store (store/account.h; passwords are
 * checked on the account thread, never here): IDENTIFY, REGISTER, PASSWD, DROP, LOGOUT
 * [OTHERS], SESSIONS, GHOST and REGAIN. ChanServ registers channels (store/chanreg.h):
 * REGISTER, DROP, INFO, AMODE (the access list) and OP/VOICE. */
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cmd.h"
#include "common/ircname.h"
#include "common/log.h"
#include "core/client.h"
#include "core/conn.h"
#include "core/fanout.h"
#include "core/numerics.h"
#include "core/send.h"
#include "core/server.h"
#include "state/chan-t.h"
#include "state/chan.h"
#include "state/nick.h"
#include "store/account.h"
#include "store/chanreg.h"

enum service { SVC_NONE, SVC_NICKSERV, SVC_CHANSERV };

#define SVC_WORDS_MAX 4  /* a command and its arguments; the rest is ignored */
#define SESSIONS_MAX  64 /* sessions of one account listed or logged out at once */

int services_is(const char *target)
{
    /* "NickServ" or "NickServ@<anything>", as clients address services. */
    char name[IRC_NICK_MAX + 1];
    size_t n = strcspn(target, "@");
    if (n >= sizeof name)
        return SVC_NONE;
    memcpy(name, target, n);
    name[n] = '\0';
    if (ircname_cmp(name, "NickServ") == 0)
        return SVC_NICKSERV;
    if (ircname_cmp(name, "ChanServ") == 0)
        return SVC_CHANSERV;
    return SVC_NONE;
}

/* One NOTICE from the service to c. */
static void __attribute__((format(printf, 3, 4)))
say(struct client *c, enum service svc, const char *fmt, ...)
{
    char text[IRC_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    send_line(c, ":%s NOTICE %s :%s", svc == SVC_NICKSERV ? NICKSERV_SOURCE : CHANSERV_SOURCE,
              c->nick, text);
}

/* Whether c is an operator (user mode +o), asked quietly. */
static int is_oper(struct client *c)
{
    struct nick_info me;
    return nick_info(client_srv(c), c->nick, &me) == 0 && me.id == c->id && me.oper;
}

static int need_account(struct client *c, enum service svc)
{
    if (c->account[0])
        return 1;
    say(c, svc, "You are not logged in; log in first (SASL, or /msg NickServ IDENTIFY <password>)");
    return 0;
}

/* --- NickServ ------------------------------------------------------------------------------ */

/* Another session's owner asked for it to go (GHOST, LOGOUT OTHERS, DROP): closed with why. */
static void kill_session(struct client *c, const struct nick_info *info, const char *why)
{
    log_event(LOG_INFO, "session closed by its account", LOG_TEXT("nick", info->nick),
              LOG_TEXT("by", c->source), LOG_TEXT("why", why));
    fanout_kill(client_srv(c), info->worker, info->id, why);
}

/* Closes every other session logged into c's account; how many. */
static int kill_others(struct client *c, const char *why)
{
    struct nick_info *s = calloc(SESSIONS_MAX, sizeof *s);
    int n = s ? nick_of_account(client_srv(c), c->account, s, SESSIONS_MAX) : 0, killed = 0;
    for (int i = 0; i < n; i++) {
        if (s[i].id != c->id) {
            kill_session(c, &s[i], why);
            killed++;
        }
    }
    free(s);
    return killed;
}

/* A password that failed (IDENTIFY, PASSWD, DROP): counted as a failed login, and past
 * SASL_FAILURES_MAX on one connection it closes, as SASL does. */
static void password_failed(struct client *c, const char *account, const char *what)
{
    cmd_login_failed(c, account, what);
    say(c, SVC_NICKSERV, "Invalid password for %s", account);
    if (++c->sasl_failures >= SASL_FAILURES_MAX)
        conn_close_later(c, "Too many failed login attempts");
}

/* The account thread's answer to IDENTIFY, PASSWD or DROP. */
static void ns_done(struct client *c, int op, int result, const char *name)
{
    c->sasl_pending = 0;
    if (result == ACCOUNT_ERROR) {
        say(c, SVC_NICKSERV, "Cannot do that now; try again later");
    } else if (result != ACCOUNT_OK) {
        password_failed(c, name,
                        op == ACCOUNT_VERIFY   ? "IDENTIFY"
                        : op == ACCOUNT_PASSWD ? "PASSWD"
                                               : "DROP");
    } else if (op == ACCOUNT_VERIFY) {
        c->sasl_failures = 0;
        account_login_ok(client_srv(c), c->host);
        cmd_logged_in(c, name);
        say(c, SVC_NICKSERV, "You are now identified for %s", name);
    } else if (op == ACCOUNT_PASSWD) {
        log_event(LOG_INFO, "password changed", LOG_TEXT("account", name),
                  LOG_TEXT("addr", c->host));
        say(c, SVC_NICKSERV, "Password of %s changed", name);
    } else {
        int chans = chanreg_forget_account(name);
        char why[CLOSE_REASON_MAX + 1];
        snprintf(why, sizeof why, "Account %s was dropped", name);
        int others = c->account[0] && ircname_cmp(c->account, name) == 0 ? kill_others(c, why) : 0;
        cmd_logged_out(c);
        log_event(LOG_INFO, "account dropped", LOG_TEXT("account", name), LOG_TEXT("addr", c->host),
                  LOG_NUM("channels", chans));
        say(c, SVC_NICKSERV,
            "Account %s dropped, with the %d channel%s it founded; %d other session%s closed", name,
            chans, chans == 1 ? "" : "s", others, others == 1 ? "" : "s");
    }
}

/* Refuses c's password check when its address or the server has failed too often, or one is
 * on its way; 1 when it may go ahead. */
static int may_check(struct client *c)
{
    struct server *srv = client_srv(c);
    long wait;
    if (c->sasl_pending) {
        say(c, SVC_NICKSERV, "One request at a time");
        return 0;
    }
    if ((wait = account_login_wait(srv, c->host)) > 0 ||
        (wait = account_login_busy(srv, c->host)) > 0) {
        say(c, SVC_NICKSERV, "Too many failed logins; try again in %ld seconds", wait);
        return 0;
    }
    return 1;
}

/* Queues op for c's check; reports a refusal. */
static void ns_request(struct client *c, enum account_op op, const char *name, const char *password,
                       const char *newpass)
{
    struct server *srv = client_srv(c);
    int rc = op == ACCOUNT_VERIFY ? account_request(srv, op, c->w->index, c->id, c->host, name,
                                                    password, NULL, ns_done)
                                  : account_request_change(srv, op, c->w->index, c->id, c->host,
                                                           name, password, newpass, ns_done);
    if (rc == -1)
        say(c, SVC_NICKSERV, "Server busy (too many requests waiting); try again later");
    else if (rc < 0)
        say(c, SVC_NICKSERV, "Accounts are not available on this server");
    else
        c->sasl_pending = 1;
}

static void ns_identify(struct client *c, int n, char **w)
{
    const char *name = n >= 3 ? w[1] : c->nick, *password = n >= 3 ? w[2] : w[1];
    if (n < 2) {
        say(c, SVC_NICKSERV, "Usage: IDENTIFY [<account>] <password>");
    } else if (c->account[0]) {
        say(c, SVC_NICKSERV, "You are already logged in as %s", c->account);
    } else if (!ircname_nick_valid(name) || strlen(password) > PASSWORD_MAX) {
        password_failed(c, name, "IDENTIFY");
    } else if (may_check(c)) {
        ns_request(c, ACCOUNT_VERIFY, name, password, NULL);
    }
}

static void ns_register(struct client *c, int n, char **w)
{
    if (n < 2) {
        say(c, SVC_NICKSERV, "Usage: REGISTER <password> [<email>]");
        return;
    }
    /* The REGISTER command does it (its replies are standard replies: REGISTER SUCCESS, or
     * FAIL REGISTER with the reason). */
    char star[] = "*", cmd[] = "REGISTER";
    struct ircmsg m = {.command = cmd, .nparams = 3, .params = {star, n >= 3 ? w[2] : star, w[1]}};
    cmd_register(c, &m);
}

static void ns_passwd(struct client *c, int n, char **w)
{
    if (n < 3) {
        say(c, SVC_NICKSERV, "Usage: PASSWD <current password> <new password>");
    } else if (!need_account(c, SVC_NICKSERV)) {
    } else if (strlen(w[2]) < PASSWORD_MIN || strlen(w[2]) > PASSWORD_MAX) {
        say(c, SVC_NICKSERV, "Passwords are %d to %d characters", PASSWORD_MIN, PASSWORD_MAX);
    } else if (strlen(w[1]) > PASSWORD_MAX) {
        password_failed(c, c->account, "PASSWD");
    } else if (may_check(c)) {
        ns_request(c, ACCOUNT_PASSWD, c->account, w[1], w[2]);
    }
}

static void ns_drop(struct client *c, int n, char **w)
{
    if (n < 2) {
        say(c, SVC_NICKSERV, "Usage: DROP <password> (deletes your account and its channels)");
    } else if (!need_account(c, SVC_NICKSERV)) {
    } else if (strlen(w[1]) > PASSWORD_MAX) {
        password_failed(c, c->account, "DROP");
    } else if (may_check(c)) {
        ns_request(c, ACCOUNT_DROP, c->account, w[1], NULL);
    }
}

static void ns_logout(struct client *c, int n, char **w)
{
    if (!need_account(c, SVC_NICKSERV))
        return;
    if (n >= 2 && strcasecmp(w[1], "OTHERS") == 0) {
        char why[CLOSE_REASON_MAX + 1];
        snprintf(why, sizeof why, "Logged out by %s from another session", c->nick);
        int k = kill_others(c, why);
        say(c, SVC_NICKSERV, "%d other session%s of %s closed", k, k == 1 ? "" : "s", c->account);
        return;
    }
    char account[IRC_NICK_MAX + 1];
    snprintf(account, sizeof account, "%s", c->account);
    cmd_logged_out(c);
    say(c, SVC_NICKSERV, "You are logged out of %s", account);
}

static void ns_sessions(struct client *c)
{
    if (!need_account(c, SVC_NICKSERV))
        return;
    struct nick_info *s = calloc(SESSIONS_MAX, sizeof *s);
    int n = s ? nick_of_account(client_srv(c), c->account, s, SESSIONS_MAX) : 0;
    say(c, SVC_NICKSERV, "%d session%s logged into %s:", n, n == 1 ? "" : "s", c->account);
    for (int i = 0; i < n; i++)
        say(c, SVC_NICKSERV, "%s (%s@%s)%s", s[i].nick, s[i].user, s[i].host,
            s[i].id == c->id ? " - this one" : "");
    free(s);
}

/* REGAIN waiting for a ghost's nick to be freed (services_nick_freed: the ghost closed on this
 * node, or its QUIT came from another node of the network). A few at once, each for a moment:
 * a ghost is gone within a turn of its worker, or a round trip through the network. */
#define REGAIN_WAITERS_MAX 64
#define REGAIN_WAIT_S      10

static struct regain {
    char key[IRC_NICK_MAX + 1]; /* the nick folded; "" for a free slot */
    int worker;
    uint64_t id;
    time_t until;
} regains[REGAIN_WAITERS_MAX];
static pthread_mutex_t regain_lock = PTHREAD_MUTEX_INITIALIZER;

static int regain_wait(struct client *c, const char *nick)
{
    time_t now = time(NULL);
    int rc = -1;
    pthread_mutex_lock(&regain_lock);
    for (int i = 0; i < REGAIN_WAITERS_MAX && rc < 0; i++) {
        struct regain *r = &regains[i];
        if (r->key[0] && r->until > now)
            continue;
        ircname_fold(nick, r->key, sizeof r->key);
        r->worker = c->w->index;
        r->id = c->id;
        r->until = now + REGAIN_WAIT_S;
        rc = 0;
    }
    pthread_mutex_unlock(&regain_lock);
    return rc;
}

/* On the waiter's worker: the nick is free, it asks for it as NICK would. */
static void regain_call(struct client *c, int op, int result, const char *nick)
{
    (void)op;
    (void)result;
    char buf[IRC_NICK_MAX + 1], cmd[] = "NICK";
    snprintf(buf, sizeof buf, "%s", nick);
    struct ircmsg m = {.command = cmd, .nparams = 1, .params = {buf}};
    cmd_nick(c, &m);
}

void services_nick_freed(struct server *srv, const char *nick)
{
    char key[IRC_NICK_MAX + 1];
    ircname_fold(nick, key, sizeof key);
    time_t now = time(NULL);
    pthread_mutex_lock(&regain_lock);
    for (int i = 0; i < REGAIN_WAITERS_MAX; i++) {
        struct regain *r = &regains[i];
        if (r->key[0] && r->until > now && strcmp(r->key, key) == 0) {
            r->key[0] = '\0';
            fanout_call(srv, r->worker, r->id, regain_call, 0, 0, nick);
        }
    }
    pthread_mutex_unlock(&regain_lock);
}

/* GHOST nick: closes the connection holding it, when it is c's: the nick is c's account's, or
 * its holder is logged into c's account. REGAIN then takes the nick. */
static void ns_ghost(struct client *c, int n, char **w, int regain)
{
    const char *verb = regain ? "REGAIN" : "GHOST";
    struct nick_info info;
    if (n < 2 && !regain) {
        say(c, SVC_NICKSERV, "Usage: GHOST <nick>");
        return;
    }
    if (!need_account(c, SVC_NICKSERV))
        return;
    const char *nick = n >= 2 ? w[1] : c->account;
    if (nick_info(client_srv(c), nick, &info) < 0) {
        if (!regain) {
            say(c, SVC_NICKSERV, "%s is not online", nick);
            return;
        }
        regain_call(c, 0, 0, nick);
        return;
    }
    if (info.id == c->id) {
        say(c, SVC_NICKSERV, "%s is you", info.nick);
        return;
    }
    if (ircname_cmp(info.nick, c->account) != 0 &&
        !(info.account[0] && ircname_cmp(info.account, c->account) == 0)) {
        say(c, SVC_NICKSERV,
            "%s is not yours: it is neither your account's nick nor logged into %s", info.nick,
            c->account);
        return;
    }
    char why[CLOSE_REASON_MAX + 1];
    snprintf(why, sizeof why, "%s command used by %s", verb, c->nick);
    if (regain && regain_wait(c, info.nick) == 0) {
        kill_session(c, &info, why);
        say(c, SVC_NICKSERV, "%s has been disconnected; taking the nick", info.nick);
        return;
    }
    kill_session(c, &info, why);
    say(c, SVC_NICKSERV, "%s has been disconnected%s", info.nick,
        regain ? "; /nick to it once it is free" : "");
}

static const char ns_help[] =
    "NickServ manages your account. Commands (/msg NickServ <command>, or /NS <command>):\n"
    "IDENTIFY [<account>] <password>: log in\n"
    "REGISTER <password> [<email>]: register your nick as an account\n"
    "PASSWD <current> <new>: change your password\n"
    "DROP <password>: delete your account, and the channels it founded\n"
    "LOGOUT: log out; LOGOUT OTHERS: close your account's other sessions\n"
    "SESSIONS: list your account's sessions\n"
    "GHOST <nick>: disconnect a session holding your nick\n"
    "REGAIN [<nick>]: GHOST it, then take the nick";

/* --- ChanServ ------------------------------------------------------------------------------ */

static int need_channel(struct client *c, int n, char **w, const char *usage)
{
    if (n >= 2 && ircname_is_channel(w[1]))
        return 1;
    say(c, SVC_CHANSERV, "Usage: %s", usage);
    return 0;
}

static void cs_register(struct client *c, int n, char **w)
{
    if (!need_channel(c, n, w, "REGISTER <#channel>") || !need_account(c, SVC_CHANSERV))
        return;
    struct chan *ch = chan_lock_name(client_srv(c), w[1]);
    struct member *me = ch ? chan_member(ch, c->id) : NULL;
    int op = me && me->op;
    char name[IRC_CHANNEL_MAX + 1];
    snprintf(name, sizeof name, "%s", ch ? chan_name(ch) : w[1]);
    if (ch)
        chan_unlock(ch);
    if (!op) {
        say(c, SVC_CHANSERV, "You must be an operator of %s to register it", name);
        return;
    }
    enum chanreg_result res = chanreg_register(name, c->account);
    if (res == CHANREG_EXISTS)
        say(c, SVC_CHANSERV, "%s is registered already", name);
    else if (res == CHANREG_TOO_MANY)
        say(c, SVC_CHANSERV, "An account may found at most %d channels", CHANREG_PER_ACCOUNT);
    else
        say(c, SVC_CHANSERV, "%s is registered to %s%s", name, c->account,
            res == CHANREG_FAILED ? " (but could not be saved yet: see the server's log)" : "");
    if (res == CHANREG_OK || res == CHANREG_FAILED)
        log_event(LOG_INFO, "channel registered", LOG_TEXT("channel", name),
                  LOG_TEXT("founder", c->account));
}

/* The founder, or an operator: 1; else says so. */
static int need_founder(struct client *c, const char *name)
{
    enum chanreg_role role = chanreg_role(name, c->account);
    if (role == CHANREG_UNREGISTERED)
        say(c, SVC_CHANSERV, "%s is not registered", name);
    else if (role != CHANREG_FOUNDER && !is_oper(c))
        say(c, SVC_CHANSERV, "Only the founder of %s may do that", name);
    else
        return 1;
    return 0;
}

static void cs_drop(struct client *c, int n, char **w)
{
    if (!need_channel(c, n, w, "DROP <#channel>") || !need_founder(c, w[1]))
        return;
    chanreg_drop(w[1]);
    log_event(LOG_INFO, "channel dropped", LOG_TEXT("channel", w[1]), LOG_TEXT("by", c->source));
    say(c, SVC_CHANSERV, "%s is no longer registered", w[1]);
}

static void cs_info(struct client *c, int n, char **w)
{
    if (!need_channel(c, n, w, "INFO <#channel>"))
        return;
    struct chanreg_info *info = malloc(sizeof *info);
    if (!info || chanreg_info(w[1], info) != CHANREG_OK) {
        say(c, SVC_CHANSERV, "%s is not registered", w[1]);
        free(info);
        return;
    }
    char when[32];
    time_t t = (time_t)info->registered;
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", gmtime_r(&t, &tm));
    say(c, SVC_CHANSERV, "%s: founder %s, registered %s", info->name, info->founder, when);
    /* The access list is for those on it and the operators. */
    if (chanreg_role(w[1], c->account) > CHANREG_NONE || is_oper(c))
        for (int i = 0; i < info->naccess; i++)
            say(c, SVC_CHANSERV, "  +%c %s", info->access[i].mode, info->access[i].account);
    free(info);
}

/* AMODE #channel [{+|-}{o|v} <account>]: the access list, or a change to it. */
static void cs_amode(struct client *c, int n, char **w)
{
    const char *usage = "AMODE <#channel> [{+|-}{o|v} <account>]";
    if (!need_channel(c, n, w, usage))
        return;
    if (n < 3) {
        char *args[] = {w[0], w[1]};
        cs_info(c, 2, args);
        return;
    }
    const char *mc = w[2];
    if (n < 4 || strlen(mc) != 2 || (mc[0] != '+' && mc[0] != '-') ||
        (mc[1] != 'o' && mc[1] != 'v') || !ircname_nick_valid(w[3])) {
        say(c, SVC_CHANSERV, "Usage: %s", usage);
        return;
    }
    if (!need_founder(c, w[1]))
        return;
    char mode = '\0'; /* '-': off the list */
    if (mc[0] == '+')
        mode = mc[1];
    enum chanreg_result res = chanreg_access(w[1], w[3], mode);
    if (res == CHANREG_TOO_MANY)
        say(c, SVC_CHANSERV, "The access list of %s is full (%d accounts)", w[1],
            CHANREG_ACCESS_MAX);
    else if (res == CHANREG_NOT_FOUND)
        say(c, SVC_CHANSERV, "%s is not on the access list of %s", w[3], w[1]);
    else
        say(c, SVC_CHANSERV, "%s of %s: %s %s", mc, w[1], w[3],
            mc[0] == '+' ? "gets it on joining" : "no longer gets it");
}

/* OP/VOICE #channel [<nick>]: for those the access list gives it (and operators on an owned
 * default channel, or anywhere). */
static void cs_status(struct client *c, int n, char **w, char letter)
{
    if (!need_channel(c, n, w,
                      letter == 'o' ? "OP <#channel> [<nick>]" : "VOICE <#channel> [<nick>]"))
        return;
    struct server *srv = client_srv(c);
    enum chanreg_role role = chanreg_role(w[1], c->account);
    const char *lobby = srv->cfg.default_channel;
    int owned_lobby = srv->cfg.default_channel_owned && lobby && ircname_cmp(lobby, w[1]) == 0;
    int allowed = role >= CHANREG_OP || (letter == 'v' && role == CHANREG_VOICE && n < 3);
    if (!allowed && (role != CHANREG_UNREGISTERED || owned_lobby) && is_oper(c))
        allowed = 1;
    if (role == CHANREG_UNREGISTERED && !owned_lobby) {
        say(c, SVC_CHANSERV, "%s is not registered", w[1]);
    } else if (!allowed) {
        say(c, SVC_CHANSERV, "You may not do that on %s", w[1]);
    } else if (cmd_mode_service(srv, w[1], n >= 3 ? w[2] : c->nick, letter) < 0) {
        say(c, SVC_CHANSERV, "%s is not on %s", n >= 3 ? w[2] : c->nick, w[1]);
    }
}

static const char cs_help[] =
    "ChanServ registers channels. Commands (/msg ChanServ <command>, or /CS <command>):\n"
    "REGISTER <#channel>: register a channel you are an operator of; you are its founder\n"
    "DROP <#channel>: unregister it (founder)\n"
    "INFO <#channel>: its founder, and its access list for those on it\n"
    "AMODE <#channel> [{+|-}{o|v} <account>]: who gets ops or voice on joining (founder)\n"
    "OP <#channel> [<nick>], VOICE <#channel> [<nick>]: give ops or voice now\n"
    "The founder and the accounts given +o get ops when they join a registered channel; "
    "nobody else gets them by joining first.";

/* --- dispatch ------------------------------------------------------------------------------ */

static void help(struct client *c, enum service svc)
{
    const char *text = svc == SVC_NICKSERV ? ns_help : cs_help;
    while (*text) {
        size_t len = strcspn(text, "\n");
        say(c, svc, "%.*s", (int)len, text);
        text += len + (text[len] == '\n');
    }
}

/* Runs one command (text, modified and wiped) for service svc. */
static void run(struct client *c, enum service svc, char *text)
{
    char *w[SVC_WORDS_MAX] = {0};
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(text, " ", &save); t && n < SVC_WORDS_MAX;
         t = strtok_r(NULL, " ", &save))
        w[n++] = t;
    const char *cmd = n ? w[0] : "HELP";
    if (svc == SVC_NICKSERV) {
        if (strcasecmp(cmd, "IDENTIFY") == 0 || strcasecmp(cmd, "LOGIN") == 0)
            ns_identify(c, n, w);
        else if (strcasecmp(cmd, "REGISTER") == 0)
            ns_register(c, n, w);
        else if (strcasecmp(cmd, "PASSWD") == 0)
            ns_passwd(c, n, w);
        else if (strcasecmp(cmd, "DROP") == 0 || strcasecmp(cmd, "UNREGISTER") == 0)
            ns_drop(c, n, w);
        else if (strcasecmp(cmd, "LOGOUT") == 0)
            ns_logout(c, n, w);
        else if (strcasecmp(cmd, "SESSIONS") == 0)
            ns_sessions(c);
        else if (strcasecmp(cmd, "GHOST") == 0)
            ns_ghost(c, n, w, 0);
        else if (strcasecmp(cmd, "REGAIN") == 0 || strcasecmp(cmd, "RECOVER") == 0)
            ns_ghost(c, n, w, 1);
        else if (strcasecmp(cmd, "HELP") == 0)
            help(c, svc);
        else
            say(c, svc, "Unknown command %.30s; /msg NickServ HELP lists them", cmd);
    } else {
        if (strcasecmp(cmd, "REGISTER") == 0)
            cs_register(c, n, w);
        else if (strcasecmp(cmd, "DROP") == 0)
            cs_drop(c, n, w);
        else if (strcasecmp(cmd, "INFO") == 0)
            cs_info(c, n, w);
        else if (strcasecmp(cmd, "AMODE") == 0)
            cs_amode(c, n, w);
        else if (strcasecmp(cmd, "OP") == 0)
            cs_status(c, n, w, 'o');
        else if (strcasecmp(cmd, "VOICE") == 0)
            cs_status(c, n, w, 'v');
        else if (strcasecmp(cmd, "HELP") == 0)
            help(c, svc);
        else
            say(c, svc, "Unknown command %.30s; /msg ChanServ HELP lists them", cmd);
    }
}

void services_message(struct client *c, const char *target, const char *text)
{
    char buf[IRC_LINE_MAX + 1];
    snprintf(buf, sizeof buf, "%s", text);
    run(c, (enum service)services_is(target), buf);
    sodium_memzero(buf, sizeof buf); /* it may hold a password */
}

/* NS and CS (and NICKSERV, CHANSERV): the parameters are the words of the command. */
static void from_command(struct client *c, struct ircmsg *m, enum service svc)
{
    char buf[IRC_LINE_MAX + 1] = "";
    size_t len = 0;
    for (int i = 0; i < m->nparams && len < sizeof buf - 1; i++) {
        int k = snprintf(buf + len, sizeof buf - len, "%s%s", i ? " " : "", m->params[i]);
        len = k < 0 || (size_t)k >= sizeof buf - len ? sizeof buf - 1 : len + (size_t)k;
    }
    run(c, svc, buf);
    sodium_memzero(buf, sizeof buf);
    for (int i = 0; i < m->nparams; i++)
        sodium_memzero(m->params[i], strlen(m->params[i]));
}

void cmd_ns(struct client *c, struct ircmsg *m)
{
    from_command(c, m, SVC_NICKSERV);
}

void cmd_cs(struct client *c, struct ircmsg *m)
{
    from_command(c, m, SVC_CHANSERV);
}
