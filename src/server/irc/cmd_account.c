/* cmd_account: SASL PLAIN (AUTHENTICATE, IRCv3 sasl 3.1) and account registration (REGISTER,
 * IRCv3 draft/account-registration). An account's name is the nick it owns. Passwords are
 * checked and hashed on the account thread (account.h); its answer comes back here, on the
 * client's worker (account_done). */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store/account.h"
#include "cluster/cluster.h"
#include "core/caps.h"
#include "state/chan.h"
#include "core/client.h"
#include "common/log.h"
#include "cmd.h"
#include "core/conn.h"
#include "core/event.h"
#include "state/monitor.h"
#include "state/nick.h"
#include "core/numerics.h"
#include "core/send.h"
#include "core/server.h"
#include "core/tls.h"

/* The fingerprint of c's TLS client certificate into fp, or NULL without one. */
static const char *certfp(const struct client *c, char fp[TLS_CERTFP_MAX + 1])
{
    return tls_conn_certfp(&c->tls, fp, TLS_CERTFP_MAX + 1) == 0 ? fp : NULL;
}

static account_done_fn account_done;

/* Queues op for c on the account thread; account_done gets the answer. 0, -1 when its queue
 * is full, -2 without a store (account_request). */
static int request(struct client *c, enum account_op op, const char *name, const char *password,
                   const char *cert)
{
    return account_request(client_srv(c), op, c->w->index, c->id, c->host, name, password, cert,
                           account_done);
}

static void sasl_reset(struct client *c)
{
    if (c->sasl_buf) {
        sodium_memzero(c->sasl_buf, c->sasl_len);
        free(c->sasl_buf);
    }
    c->sasl_buf = NULL;
    c->sasl_len = 0;
    c->sasl_started = 0;
    c->sasl_external = 0;
}

/* Failed logins are logged, at most a few lines a second whatever an attacker does
 * (LOG_LOGIN_LINES_PER_S): anyone may try passwords from many addresses at once. */
static struct log_budget login_failures_logged = LOG_BUDGET_INIT;

/* The line of a failed login by c: the account tried (NULL: not known yet), how, and why. */
static void log_login_failed(const struct client *c, const char *account, const char *mechanism,
                             const char *reason)
{
    log_event_limited(&login_failures_logged, LOG_LOGIN_LINES_PER_S, LOG_WARN, "login failed",
                      LOG_TEXT("addr", c->host), LOG_TEXT("account", account),
                      LOG_TEXT("mechanism", mechanism), LOG_TEXT("reason", reason),
                      LOG_TEXT("nick", c->nick[0] ? c->nick : NULL), LOG_NUM("id", c->id));
}

void cmd_login_failed(struct client *c, const char *account, const char *mechanism)
{
    c->w->metrics.failed_logins++;
    account_login_failed(client_srv(c), c->host, 1);
    log_login_failed(c, account, mechanism, "bad password or no such account");
}

/* The account thread's queue is full: refused, but not the client's failure (not counted
 * toward SASL_FAILURES_MAX). */
static void sasl_busy(struct client *c)
{
    sasl_reset(c);
    c->w->metrics.busy_login_queue++;
    send_reply(c, ERR_SASLFAIL_QUEUE);
}

static void sasl_fail(struct client *c)
{
    sasl_reset(c);
    send_reply(c, ERR_SASLFAIL);
    if (++c->sasl_failures >= SASL_FAILURES_MAX)
        conn_close_later(c, "Too many failed login attempts");
}

/* Decodes what AUTHENTICATE gathered into raw (at least SASL_MAX bytes): 0 and its length,
 * or -1. */
static int sasl_decode(struct client *c, unsigned char *raw, size_t *n)
{
    *n = 0;
    if (c->sasl_len > 0 && sodium_base642bin(raw, SASL_MAX - 1, c->sasl_buf, c->sasl_len, NULL, n,
                                             NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
        return -1;
    raw[*n] = '\0';
    return 0;
}

/* EXTERNAL: the message is empty ("+") or the authorization id; the certificate names the
 * account. */
static void sasl_external(struct client *c)
{
    unsigned char raw[SASL_MAX];
    size_t n;
    char fp[TLS_CERTFP_MAX + 1];
    const char *cert = certfp(c, fp);
    int ok = cert && sasl_decode(c, raw, &n) == 0 && strlen((char *)raw) == n &&
             (n == 0 || (n <= IRC_NICK_MAX && ircname_nick_valid((char *)raw)));
    int rc = ok ? request(c, ACCOUNT_EXTERNAL, (char *)raw, "", cert) : -2;
    c->sasl_pending = rc == 0;
    if (rc == -1)
        sasl_busy(c);
    else if (rc < 0)
        sasl_fail(c);
    else
        sasl_reset(c);
}

/* Decodes the PLAIN message "authzid \0 authcid \0 password" and queues the check. */
static void sasl_plain(struct client *c)
{
    unsigned char raw[SASL_MAX];
    size_t n = 0;
    if (c->sasl_len == 0 || sasl_decode(c, raw, &n) < 0) {
        sasl_fail(c);
        return;
    }
    const char *authzid = (const char *)raw;
    size_t zlen = strnlen(authzid, n);
    const char *authcid = zlen < n ? authzid + zlen + 1 : NULL;
    size_t clen = authcid ? strnlen(authcid, n - zlen - 1) : 0;
    const char *password = authcid && zlen + clen + 2 <= n ? authcid + clen + 1 : NULL;
    size_t plen = password ? n - zlen - clen - 2 : 0;
    /* One may only log in as oneself: the authorization id is empty or the same account. */
    int ok = password && clen > 0 && clen <= IRC_NICK_MAX && plen > 0 && plen <= PASSWORD_MAX &&
             memchr(password, '\0', plen) == NULL && ircname_nick_valid(authcid) &&
             (zlen == 0 || ircname_cmp(authzid, authcid) == 0);
    /* The global budget again: a client may have started AUTHENTICATE PLAIN (on many
     * connections) before it ran out. */
    long wait = ok ? account_login_busy(client_srv(c), c->host) : 0;
    char fp[TLS_CERTFP_MAX + 1];
    int rc = ok && wait == 0 ? request(c, ACCOUNT_VERIFY, authcid, password, certfp(c, fp)) : -2;
    c->sasl_pending = rc == 0;
    sodium_memzero(raw, sizeof raw);
    if (wait > 0) {
        log_login_failed(c, NULL, "PLAIN", "too many failed logins on the server");
        sasl_reset(c);
        send_reply(c, ERR_SASLFAIL_GLOBAL, wait);
    } else if (rc == -1)
        sasl_busy(c);
    else if (rc < 0)
        sasl_fail(c);
    else
        sasl_reset(c);
}

void cmd_authenticate(struct client *c, struct ircmsg *m)
{
    const char *arg = m->params[0];
    if (!(c->caps & CAP_SASL)) {
        send_reply(c, ERR_SASLFAIL_NOCAP);
        return;
    }
    if (c->account[0]) {
        send_reply(c, ERR_SASLALREADY);
        return;
    }
    if (c->sasl_pending) {
        send_reply(c, ERR_SASLFAIL_BUSY);
        return;
    }
    if (strcmp(arg, "*") == 0) {
        sasl_reset(c);
        send_reply(c, ERR_SASLABORTED);
        return;
    }
    if (!c->sasl_started) {
        int external = strcasecmp(arg, "EXTERNAL") == 0;
        char fp[TLS_CERTFP_MAX + 1];
        if (!external && strcasecmp(arg, "PLAIN") != 0) {
            send_reply(c, RPL_SASLMECHS);
            send_reply(c, ERR_SASLFAIL);
            return;
        }
        if (external && !certfp(c, fp)) {
            send_reply(c, ERR_SASLFAIL_NOCERT);
            return;
        }
        /* An address that failed too often waits, without costing the account thread a
         * check (--login-fail-limit). */
        long wait = account_login_wait(client_srv(c), c->host);
        if (wait > 0) {
            log_login_failed(c, NULL, external ? "EXTERNAL" : "PLAIN",
                             "too many failed logins from the address");
            send_reply(c, ERR_SASLFAIL_WAIT, wait);
            if (++c->sasl_failures >= SASL_FAILURES_MAX)
                conn_close_later(c, "Too many failed login attempts");
            return;
        }
        /* Past the global budget, PLAIN is refused at once unless the address logged in
         * lately (--login-fail-global; store/account.c says why). Not counted against the
         * client: the server is busy, the client did nothing wrong. */
        if (!external && (wait = account_login_busy(client_srv(c), c->host)) > 0) {
            log_login_failed(c, NULL, "PLAIN", "too many failed logins on the server");
            send_reply(c, ERR_SASLFAIL_GLOBAL, wait);
            return;
        }
        c->sasl_started = 1;
        c->sasl_external = external;
        send_line(c, "AUTHENTICATE +");
        return;
    }
    size_t len = strlen(arg);
    int more = strcmp(arg, "+") != 0; /* "+" ends a message that filled its last chunk */
    if (len > SASL_CHUNK || c->sasl_len + (more ? len : 0) > SASL_MAX) { /* over 1200: 905 */
        sasl_reset(c);
        send_reply(c, ERR_SASLTOOLONG);
        return;
    }
    if (more) {
        char *nb = realloc(c->sasl_buf, c->sasl_len + len + 1);
        if (!nb) {
            sasl_fail(c);
            return;
        }
        memcpy(nb + c->sasl_len, arg, len + 1);
        c->sasl_buf = nb;
        c->sasl_len += len;
    }
    /* A chunk of exactly SASL_CHUNK bytes means more follow ("+" if none). */
    if (len == SASL_CHUNK)
        return;
    if (c->sasl_external)
        sasl_external(c);
    else
        sasl_plain(c);
}

void cmd_register(struct client *c, struct ircmsg *m)
{
    if (m->nparams < 3) {
        send_fail(c, "REGISTER", "NEED_MORE_PARAMS", "*",
                  "Usage: REGISTER <account|*> <email|*> <password>");
        return;
    }
    const char *name = strcmp(m->params[0], "*") == 0 ? c->nick : m->params[0];
    const char *password = m->params[2];
    char fp[TLS_CERTFP_MAX + 1];
    long wait;
    int rc;
    if (!c->registered) {
        send_fail(c, "REGISTER", "COMPLETE_CONNECTION_REQUIRED", name[0] ? name : "*",
                  "Register after connecting");
    } else if (c->account[0]) {
        send_fail(c, "REGISTER", "ALREADY_AUTHENTICATED", name, "You are already logged in as %s",
                  c->account);
    } else if (ircname_cmp(name, c->nick) != 0) {
        send_fail(c, "REGISTER", "ACCOUNT_NAME_MUST_BE_NICK", name,
                  "An account is named after the nick that registers it");
    } else if (account_exists(client_srv(c), name)) {
        send_fail(c, "REGISTER", "ACCOUNT_EXISTS", name, "Account already exists");
    } else if (strlen(password) < PASSWORD_MIN || strlen(password) > PASSWORD_MAX) {
        send_fail(c, "REGISTER", "WEAK_PASSWORD", name, "Passwords are %d to %d characters",
                  PASSWORD_MIN, PASSWORD_MAX);
    } else if (c->sasl_pending) {
        send_fail(c, "REGISTER", "TEMPORARILY_UNAVAILABLE", name, "One request at a time");
    } else if (client_cfg(c)->register_limit == 0) {
        send_fail(c, "REGISTER", "TEMPORARILY_UNAVAILABLE", name,
                  "Registering accounts is turned off on this server");
    } else if ((wait = account_register_wait(client_srv(c), c->host)) > 0) {
        /* --register-limit: a few accounts per address per hour, so that nobody takes every
         * name there is from one address. */
        send_fail(c, "REGISTER", "TEMPORARILY_UNAVAILABLE", name,
                  "Too many accounts registered from your address; try again in %ld minutes",
                  (wait + 59) / 60);
    } else if ((rc = request(c, ACCOUNT_REGISTER, name, password, certfp(c, fp))) == -1) {
        c->w->metrics.busy_login_queue++;
        send_fail(c, "REGISTER", "TEMPORARILY_UNAVAILABLE", name,
                  "Server busy (too many requests waiting); try again later");
    } else if (rc < 0) {
        send_fail(c, "REGISTER", "TEMPORARILY_UNAVAILABLE", name, "Try again later");
    } else {
        account_register_counted(client_srv(c), c->host);
        c->sasl_pending = 1;
    }
    sodium_memzero(m->params[2], strlen(m->params[2]));
}

void cmd_logged_in(struct client *c, const char *name)
{
    if (conn_set_str(&c->account, name, IRC_NICK_MAX) < 0) {
        conn_close_later(c, "Out of memory");
        return;
    }
    const char *src = c->registered ? c->source : "*";
    send_reply(c, RPL_LOGGEDIN, src, name, name);
    if (client_srv(c)->cluster) /* its conversations, from wherever they were had */
        cluster_private_history(client_srv(c), name);
    if (!c->registered)
        return;
    nick_set_account(client_srv(c), c->nick, c->id, name);
    cmd_host_changed(c);
    cmd_user_changed(c);
    struct event *ev = event_new(NULL, ":%s ACCOUNT %s", c->source, name);
    if (ev) {
        ev->need_cap = CAP_ACCOUNT_NOTIFY;
        chan_peers(c, ev, 0);
        monitor_extended(c, ev, CAP_ACCOUNT_NOTIFY);
    }
    event_unref(ev);
}

/* The account thread's answer for c. */
static void account_done(struct client *c, int op, int result, const char *name)
{
    c->sasl_pending = 0;
    if (op == ACCOUNT_VERIFY || op == ACCOUNT_EXTERNAL) {
        if (result == ACCOUNT_OK) {
            c->sasl_failures = 0;
            account_login_ok(client_srv(c), c->host);
            cmd_logged_in(c, name);
            send_reply(c, RPL_SASLSUCCESS);
        } else {
            if (result == ACCOUNT_BAD_PASSWORD) {
                c->w->metrics.failed_logins++;
                account_login_failed(client_srv(c), c->host, op == ACCOUNT_VERIFY);
                if (op == ACCOUNT_EXTERNAL)
                    log_login_failed(c, name[0] ? name : NULL, "EXTERNAL",
                                     "no account has this certificate");
                else
                    log_login_failed(c, name, "PLAIN", "bad password or no such account");
            }
            sasl_fail(c);
        }
    } else if (result == ACCOUNT_OK) {
        send_line(c, "REGISTER SUCCESS %s :Account created", name);
        cmd_logged_in(c, name);
    } else if (result == ACCOUNT_EXISTS) {
        send_fail(c, "REGISTER", "ACCOUNT_EXISTS", name, "Account already exists");
    } else {
        send_fail(c, "REGISTER", "TEMPORARILY_UNAVAILABLE", name, "Try again later");
    }
    reg_try(c); /* registration may have been waiting for the answer */
}

void cmd_logged_out(struct client *c)
{
    if (!c->account[0])
        return;
    conn_str_free(&c->account);
    send_reply(c, RPL_LOGGEDOUT, c->source);
    nick_set_account(client_srv(c), c->nick, c->id, "");
    cmd_host_changed(c);
    cmd_user_changed(c);
    struct event *ev = event_new(NULL, ":%s ACCOUNT *", c->source);
    if (ev) {
        ev->need_cap = CAP_ACCOUNT_NOTIFY;
        chan_peers(c, ev, 0);
        monitor_extended(c, ev, CAP_ACCOUNT_NOTIFY);
    }
    event_unref(ev);
}
