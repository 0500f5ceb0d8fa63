/* cmd_oper: operator commands: OPER to become one (entries and argon2id hashes from the config
 * file), then KILL, WALLOPS, ANNOUNCE (a server NOTICE to everyone: the console announcement,
 * remotely) and REHASH. Whether a user is an operator is user mode +o in the nick table. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cluster/cluster.h"
#include "core/client.h"
#include "core/conn.h"
#include "cmd.h"
#include "common/log.h"
#include "common/utf8.h"
#include "core/event.h"
#include "core/fanout.h"
#include "state/nick.h"
#include "store/account.h"
#include "core/numerics.h"
#include "core/rehash.h"
#include "core/send.h"
#include "core/server.h"
#include "core/worker.h"

/* 1 if c has user mode +o; else tells c so (481) and returns 0. */
int cmd_need_oper(struct client *c)
{
    struct nick_info me;
    if (nick_info(client_srv(c), c->nick, &me) == 0 && me.id == c->id && me.oper)
        return 1;
    send_reply(c, ERR_NOPRIVILEGES);
    return 0;
}

/* An entry's host mask: "user@host" masks match c's user@host, others c's host alone. */
static int host_allowed(struct client *c, const struct config_oper *o)
{
    const char *mask = o->host ? o->host : "*";
    if (!strchr(mask, '@'))
        return ircname_match(mask, c->host);
    char userhost[USER_MAX + 1 + HOST_MAX + 1];
    snprintf(userhost, sizeof userhost, "%s@%s", c->user, c->host);
    return ircname_match(mask, userhost);
}

/* Failed OPERs are logged, at most a few lines a second whatever an attacker does
 * (LOG_LOGIN_LINES_PER_S). */
static struct log_budget oper_failures_logged = LOG_BUDGET_INIT;

static void log_oper_failed(const struct client *c, const char *name, const char *reason)
{
    log_event_limited(&oper_failures_logged, LOG_LOGIN_LINES_PER_S, LOG_WARN, "oper failed",
                      LOG_TEXT("addr", c->host), LOG_TEXT("oper", name), LOG_TEXT("nick", c->nick),
                      LOG_TEXT("reason", reason), LOG_NUM("id", c->id));
}

/* The account thread's verdict on an OPER password, on c's worker. */
static void oper_checked(struct client *c, int op, int result, const char *name)
{
    (void)op;
    c->oper_pending = 0;
    if (c->closing)
        return;
    if (result != ACCOUNT_OK) {
        log_oper_failed(c, name,
                        result == ACCOUNT_BAD_PASSWORD ? "bad password"
                                                       : "password could not be checked");
        if (result != ACCOUNT_BAD_PASSWORD) {
            send_reply(c, ERR_UNKNOWNERROR, "OPER", "Cannot check the password now");
            return;
        }
        send_reply(c, ERR_PASSWDMISMATCH);
        if (++c->oper_failures >= OPER_FAILURES_MAX)
            conn_close_later(c, "Too many failed OPER attempts");
        return;
    }
    nick_set_oper(client_srv(c), c->nick, c->id, 1);
    cmd_user_changed(c);
    log_info("%s is now an IRC operator (OPER %s)", c->source, name);
    send_reply(c, RPL_YOUREOPER);
    send_line(c, ":%s MODE %s :+o", c->nick, c->nick);
}

void cmd_oper(struct client *c, struct ircmsg *m)
{
    const char *name = m->params[0], *password = m->params[1];
    /* The entry is read in place: srv->cfg only changes while this worker is parked. */
    const struct config_oper *o = config_find_oper(&client_srv(c)->cfg, name);
    if (!o || !host_allowed(c, o)) {
        log_oper_failed(c, name, o ? "host not allowed" : "no such operator");
        send_reply(c, ERR_NOOPERHOST);
        return;
    }
    if (c->oper_pending) { /* one guess at a time per connection */
        send_reply(c, ERR_UNKNOWNERROR, "OPER", "An OPER of yours is being checked already");
        return;
    }
    /* argon2id is slow on purpose: it runs on the account thread, never on this worker (a
     * client guessing must not stall everyone else here), and still costs the guesser's
     * flood allowance. */
    c->tokens -= OPER_PENALTY;
    if (account_request_oper(client_srv(c), c->w->index, c->id, c->host, o->name, o->hash, password,
                             oper_checked) < 0) {
        c->w->metrics.busy_login_queue++; /* its queue is full (or the thread stops) */
        send_reply(c, ERR_UNKNOWNERROR, "OPER", "Cannot check the password now");
        return;
    }
    c->oper_pending = 1;
}

void cmd_kill(struct client *c, struct ircmsg *m)
{
    if (!cmd_need_oper(c))
        return;
    struct nick_info victim;
    if (nick_info(client_srv(c), m->params[0], &victim) < 0 || !victim.registered) {
        send_reply(c, ERR_NOSUCHNICK, m->params[0]);
        return;
    }
    char reason[KILL_REASON_MAX + 1];
    utf8_copy(reason, m->params[1], KILL_REASON_MAX);
    log_info("%s killed %s: %s", c->source, victim.nick, reason);
    /* Both items go to the victim's mailbox in this order: the KILL line is queued before
     * the connection closes with its ERROR. */
    struct event *ev = event_new(NULL, ":%s KILL %s :%s", c->source, victim.nick, reason);
    if (ev)
        fanout_to_client(client_srv(c), victim.worker, victim.id, ev);
    event_unref(ev);
    char why[CLOSE_REASON_MAX + 1];
    snprintf(why, sizeof why, "Killed (%s (%s))", c->nick, reason);
    fanout_kill(client_srv(c), victim.worker, victim.id, why);
}

void cmd_wallops(struct client *c, struct ircmsg *m)
{
    if (!cmd_need_oper(c))
        return;
    char line[IRC_LINE_MAX + 1];
    snprintf(line, sizeof line, ":%s WALLOPS :%s", c->source, m->params[0]);
    struct event *ev = event_new(NULL, "%s", line);
    if (ev)
        fanout_wallops(client_srv(c), ev);
    event_unref(ev);
    cluster_wallops(client_srv(c), line);
}

void cmd_announce(struct client *c, struct ircmsg *m)
{
    if (!cmd_need_oper(c))
        return;
    char text[ANNOUNCE_MAX + 1];
    utf8_copy(text, m->params[0], ANNOUNCE_MAX);
    log_info("announcement by %s: %s", c->source, text);
    fanout_announce(client_srv(c), text);
    cluster_announce(client_srv(c), text);
}

/* DIE and RESTART: everyone is told why (a server notice, as ANNOUNCE sends), then the server
 * stops as on SIGTERM (what was said is stored, everyone gets ERROR); RESTART then runs the
 * same binary with the same arguments, in the same process (main.c). The signal is the one
 * way to the acceptor thread that owns the stop; the notice is queued to every worker first,
 * so it comes before the goodbye. */
static void stop_server(struct client *c, struct ircmsg *m, int restart)
{
    if (!cmd_need_oper(c))
        return;
    struct server *srv = client_srv(c);
    char reason[ANNOUNCE_MAX + 1] = "";
    if (m->nparams > 0)
        utf8_copy(reason, m->params[0], ANNOUNCE_MAX / 2);
    log_event(LOG_INFO, restart ? "restart asked" : "stop asked", LOG_TEXT("oper", c->source),
              LOG_TEXT("reason", reason));
    char text[ANNOUNCE_MAX + 1];
    snprintf(text, sizeof text, "%s by %.*s%s%.*s",
             restart ? "Server restarting" : "Server going down", IRC_NICK_MAX, c->nick,
             reason[0] ? ": " : "", ANNOUNCE_MAX / 2, reason);
    fanout_announce(srv, text);
    if (restart)
        atomic_store(&srv->restart, 1);
    kill(getpid(), SIGTERM);
}

void cmd_die(struct client *c, struct ircmsg *m)
{
    stop_server(c, m, 0);
}

void cmd_restart(struct client *c, struct ircmsg *m)
{
    stop_server(c, m, 1);
}

void cmd_rehash(struct client *c, struct ircmsg *m)
{
    (void)m;
    if (!cmd_need_oper(c))
        return;
    const char *path = client_srv(c)->cfg.config_path; /* fixed for the server's life */
    send_reply(c, RPL_REHASHING, path ? path : "-");
    log_info("%s asked for a rehash", c->source);
    rehash_request(client_srv(c), c->w->index, c->id, c->nick);
}
