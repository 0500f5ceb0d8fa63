/* cmd_ban: server bans, as Solanum and InspIRCd have them: KLINE and UNKLINE (user@host),
 * DLINE and UNDLINE (an address or a block), their STATS k and d lists, and who they keep out:
 * the users they match when set (on every worker), and new clients at registration (the
 * acceptor refuses a D-lined address before that). The table and its store: store/ban.h. In a
 * cluster the bans are the network's: a change made here goes to Redis through the table's
 * store (cluster.c), and a ban another node set sweeps this node's users too
 * (cmd_ban_sweep, called from the cluster thread). */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cmd.h"
#include "common/log.h"
#include "core/client.h"
#include "core/conn.h"
#include "core/fanout.h"
#include "core/hash.h"
#include "core/numerics.h"
#include "core/send.h"
#include "core/server.h"
#include "core/worker.h"
#include "store/ban.h"

/* Closes c for ban b: a K-lined user is told with 465 first (RFC 2812 ERR_YOUREBANNEDCREEP);
 * either way the ERROR line and the QUIT others see say "K-lined: <reason>" ("D-lined: "). */
static void refuse(struct client *c, const struct ban *b)
{
    if (b->kind == BAN_KLINE)
        send_reply(c, ERR_YOUREBANNEDCREEP, b->reason);
    char why[CLOSE_REASON_MAX + 1];
    snprintf(why, sizeof why, "%c-lined: %s", b->kind == BAN_KLINE ? 'K' : 'D', b->reason);
    conn_close_later(c, why);
}

/* Refused registrations are logged, at most a few lines a second: a banned client may come
 * back as often as the per-address limits let it, from every address of a block. */
static struct log_budget refusals_logged = LOG_BUDGET_INIT;

int cmd_ban_check(struct client *c)
{
    struct ban b;
    if (!ban_find(c->user, c->host, &b))
        return 0;
    log_event_limited(&refusals_logged, LOG_LOGIN_LINES_PER_S, LOG_INFO, "banned client refused",
                      LOG_TEXT("addr", c->host), LOG_TEXT("user", c->user),
                      LOG_TEXT("mask", b.mask), LOG_NUM("id", c->id));
    refuse(c, &b);
    return 1;
}

/* On each worker after ban number seq is set: closes its clients that ban (or one set since)
 * matches; a D-line also those not registered yet. Only the new bans: the others were
 * checked when the clients came. */
static void sweep(struct worker *w, uint64_t seq)
{
    struct client *c, *tmp;
    HASH_ITER(hh, w->clients, c, tmp)
    {
        struct ban b;
        if (!c->dead && !c->closing &&
            ban_find_since(seq, c->registered ? c->user : NULL, c->host, &b))
            refuse(c, &b);
    }
}

void cmd_ban_sweep(struct server *srv, unsigned long long seq)
{
    for (int i = 0; i < srv->nworkers; i++) {
        if (fanout_call_worker(srv, i, sweep, seq) < 0)
            log_warn("out of memory: matching users of worker %d not checked for a new ban", i);
    }
}

static const char *kind_word(enum ban_kind kind)
{
    return kind == BAN_KLINE ? "K-line" : "D-line";
}

/* A notice from the server to the operator. */
#define tell(c, ...) send_server_line((c), "NOTICE %s :" __VA_ARGS__)

/* KLINE|DLINE [duration] <mask> [:<reason>] */
static void set_ban(struct client *c, struct ircmsg *m, enum ban_kind kind)
{
    if (!cmd_need_oper(c))
        return;
    const char *command = kind == BAN_KLINE ? "KLINE" : "DLINE";
    int arg = 0;
    long long duration = 0;
    /* The first parameter is a duration when it starts with a digit and holds no character a
     * mask of an address needs: an IPv4 address has dots, an IPv6 one colons. */
    const char *first = m->params[0];
    if (first[0] >= '0' && first[0] <= '9' && !strpbrk(first, ".:@/*?")) {
        duration = ban_parse_duration(first);
        if (duration < 0) {
            send_reply(c, ERR_UNKNOWNERROR, command,
                       "Invalid duration: minutes, or a number with s, m, h, d or w (10s, 2h)");
            return;
        }
        arg = 1;
    }
    if (m->nparams <= arg) {
        send_reply(c, ERR_NEEDMOREPARAMS, command);
        return;
    }
    const char *mask = m->params[arg];
    const char *reason =
        m->nparams > arg + 1 && m->params[arg + 1][0] ? m->params[arg + 1] : "No reason";
    struct ban b;
    char why[128];
    int stored;
    switch (ban_add(kind, mask, reason, c->source, duration, &b, why, sizeof why, &stored)) {
    case BAN_OK:
        break;
    case BAN_INVALID:
        send_reply(c, ERR_UNKNOWNERROR, command, why);
        return;
    case BAN_EXISTS:
        tell(c, "[%s] is already %sd", c->nick, mask, kind_word(kind));
        return;
    default:
        send_reply(c, ERR_UNKNOWNERROR, command, "Too many bans are set (BANS_MAX)");
        return;
    }
    char length[64];
    ban_duration_str(duration, length, sizeof length);
    log_event(LOG_INFO, "ban set", LOG_TEXT("kind", kind_word(kind)), LOG_TEXT("mask", b.mask),
              LOG_TEXT("by", c->source), LOG_NUM("duration_s", duration),
              LOG_TEXT("reason", b.reason));
    tell(c, "Added %s%s for [%s]: %s%s", c->nick, duration ? "temporary " : "", kind_word(kind),
         b.mask, b.reason,
         stored ? "" : " (not saved yet: the ban store failed or is away, see the log)");
    if (duration)
        tell(c, "%s [%s] expires in %s", c->nick, kind_word(kind), b.mask, length);
    cmd_ban_sweep(client_srv(c), b.seq);
}

static void lift_ban(struct client *c, struct ircmsg *m, enum ban_kind kind)
{
    if (!cmd_need_oper(c))
        return;
    const char *mask = m->params[0];
    if (ban_remove(kind, mask) != BAN_OK) {
        tell(c, "No %s for [%s]", c->nick, kind_word(kind), mask);
        return;
    }
    log_event(LOG_INFO, "ban removed", LOG_TEXT("kind", kind_word(kind)), LOG_TEXT("mask", mask),
              LOG_TEXT("by", c->source));
    tell(c, "%s for [%s] is removed", c->nick, kind_word(kind), mask);
}

void cmd_kline(struct client *c, struct ircmsg *m)
{
    set_ban(c, m, BAN_KLINE);
}

void cmd_dline(struct client *c, struct ircmsg *m)
{
    set_ban(c, m, BAN_DLINE);
}

void cmd_unkline(struct client *c, struct ircmsg *m)
{
    lift_ban(c, m, BAN_KLINE);
}

void cmd_undline(struct client *c, struct ircmsg *m)
{
    lift_ban(c, m, BAN_DLINE);
}

/* One line of STATS k or d: Solanum's shapes, the letter in lower case for a timed ban. */
static void stats_line(void *arg, const struct ban *b)
{
    struct client *c = arg;
    if (b->kind == BAN_KLINE)
        send_reply(c, RPL_STATSKLINE, b->expires ? 'k' : 'K', b->host, b->user, b->reason);
    else
        send_reply(c, RPL_STATSDLINE, b->expires ? 'd' : 'D', b->mask, b->reason);
}

void cmd_ban_stats(struct client *c, char letter)
{
    ban_prune((long long)time(NULL));
    ban_each(letter == 'k' ? BAN_KLINE : BAN_DLINE, stats_line, c);
}
