/* cmd_msg: PRIVMSG, NOTICE and TAGMSG to channels and nicks. NOTICE never draws an error
 * reply (RFC 2812 3.3.2), so that automatic replies cannot loop. Client-only tags (+name)
 * travel with the event to recipients that negotiated message-tags. */
#include <stdio.h>
#include <string.h>

#include "core/caps.h"
#include "state/chan.h"
#include "core/client.h"
#include "cmd.h"
#include "core/event.h"
#include "core/fanout.h"
#include "store/history.h"
#include "state/nick.h"
#include "core/numerics.h"
#include "core/send.h"
#include "core/server.h"
#include "core/worker.h"

int cmd_client_tags(const char *raw, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    if (!raw)
        return 0;
    if (strlen(raw) > CLIENT_TAGS_MAX)
        return -1;
    const char *p = raw;
    while (*p) {
        size_t len = strcspn(p, ";");
        if (p[0] == '+' && len > 1) {
            /* Relayed whole or not at all: a tag that does not fit is the sender's 417. */
            if (n + (n ? 1 : 0) + len + 1 > cap)
                return -1;
            /* Control characters in a value would reach other people's terminals raw
             * (message-tags escapes only ; space \\ CR LF): refused. */
            for (size_t i = 0; i < len; i++)
                if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
                    return -2;
            if (n)
                out[n++] = ';';
            memcpy(out + n, p, len);
            n += len;
            out[n] = '\0';
        }
        p += len;
        if (*p == ';')
            p++;
    }
    return 0;
}

/* The history store cannot write (a full disk): the message was relayed, not kept. */
static void warn_unstored(struct client *c, const char *verb, const char *target)
{
    send_warn(c, verb, "MESSAGE_NOT_STORED", target,
              "The message store cannot write: messages are delivered but not kept in history "
              "until it can");
}

/* The history store is too far behind to take the message: it is not relayed, and the
 * sender is told so (even for NOTICE: nothing may be dropped silently). */
static void store_behind(struct client *c, const char *verb, const char *target)
{
    c->w->metrics.busy_history_queue++;
    send_fail(c, verb, "TEMPORARILY_UNAVAILABLE", target,
              "The message store is behind; message not sent, try again");
}

static void network_down(struct client *c, const char *verb, const char *target)
{
    send_fail(c, verb, "TEMPORARILY_UNAVAILABLE", target,
              "The chat network is degraded and members on other servers cannot get it; "
              "message not sent, try again");
}

/* Sends ev (built for target) to target: a channel, @#channel / +#channel (STATUSMSG) or a
 * nick, with echo-message now (a labeled command) or later, and the error replies. */
static void relay_one(struct client *c, const char *verb, const char *target, struct event *ev,
                      int quiet, int echo_now, int echo_later)
{
    struct server *srv = client_srv(c);
    if ((target[0] == '@' || target[0] == '+') && ircname_is_channel(target + 1)) {
        int err = chan_send_status(c, target + 1, target[0], ev, echo_later);
        if (!err && echo_now)
            send_msg(c, event_render(ev, c->variant));
        else if (err == CHAN_NETWORK_DOWN)
            network_down(c, verb, target);
        else if (err == NUM(ERR_CANNOTSENDTOCHAN) && !quiet)
            send_reply(c, ERR_CANNOTSENDTOCHAN, target + 1);
        else if (err && !quiet)
            send_reply(c, ERR_NOSUCHCHANNEL, target + 1);
    } else if (ircname_is_channel(target)) {
        int unstored;
        int err = chan_send(c, target, ev, echo_later, &unstored);
        if (unstored)
            warn_unstored(c, verb, target);
        if (!err && echo_now)
            send_msg(c, event_render(ev, c->variant));
        else if (err == CHAN_NETWORK_DOWN)
            network_down(c, verb, target);
        else if (err == NUM(ERR_UNAVAILRESOURCE))
            store_behind(c, verb, target);
        else if (err == NUM(ERR_CANNOTSENDTOCHAN) && !quiet)
            send_reply(c, ERR_CANNOTSENDTOCHAN, target);
        else if (err && !quiet)
            send_reply(c, ERR_NOSUCHCHANNEL, target);
    } else {
        struct nick_info info;
        if (nick_info(srv, target, &info) == 0) {
            int stored =
                ev->tags_only ? 0 : history_store_private(srv, ev, c->account, info.account);
            if (stored > 0 && c->unstored_warned != stored) { /* relayed, not kept */
                c->unstored_warned = stored;
                warn_unstored(c, verb, target);
            }
            if (stored < 0) {
                store_behind(c, verb, target);
                return;
            }
            fanout_to_client(srv, info.worker, info.id, ev);
            if (echo_later && info.id != c->id) /* after anything queued for us */
                fanout_to_client(srv, c->w->index, c->id, ev);
            else if (echo_now && info.id != c->id)
                send_msg(c, event_render(ev, c->variant));
            if (info.away[0] && !quiet && !ev->tags_only)
                send_reply(c, RPL_AWAY, info.nick, info.away);
        } else if (!quiet) {
            send_reply(c, ERR_NOSUCHNICK, target);
        }
    }
}

/* echo-message: the sender's copy comes through its mailbox in the channel's order; or,
 * answering a labeled command, at once, as the reply that carries the label (IRCv3
 * labeled-response: no ACK; several targets' echoes in one labeled batch). */
static void echo_mode(const struct client *c, int *echo_now, int *echo_later)
{
    int echo = (c->caps & CAP_ECHO_MESSAGE) != 0;
    *echo_now = echo && c->label;
    *echo_later = echo && !c->label;
}

static void relay(struct client *c, struct ircmsg *m, const char *verb, int quiet, int tags_only)
{
    if (m->nparams < 1 || m->params[0][0] == '\0') {
        if (!quiet)
            send_reply(c, ERR_NORECIPIENT, verb);
        return;
    }
    if (!tags_only && (m->nparams < 2 || m->params[1][0] == '\0')) {
        if (!quiet)
            send_reply(c, ERR_NOTEXTTOSEND);
        return;
    }
    char tags[CLIENT_TAGS_MAX + 1];
    int tags_ok = cmd_client_tags(m->tags, tags, sizeof tags);
    if (tags_ok == -2) {
        send_fail(c, verb, "INVALID_TAGS", "*",
                  "Tag values may not hold control characters; message not sent");
        return;
    }
    if (tags_ok < 0) {
        send_reply(c, ERR_INPUTTOOLONG);
        return;
    }
    c->w->metrics.messages_in++;
    int echo_now, echo_later;
    echo_mode(c, &echo_now, &echo_later);
    int ntargets = 0;
    char *save = NULL;
    for (char *target = strtok_r(m->params[0], ",", &save); target;
         target = strtok_r(NULL, ",", &save)) {
        if (++ntargets > TARGETS_MAX) {
            if (!quiet)
                send_reply(c, ERR_TOOMANYTARGETS, target);
            continue;
        }
        if (services_is(target)) { /* NickServ, ChanServ: commands, never relayed or kept */
            if (!tags_only && !quiet)
                services_message(c, target, m->params[1]);
            continue;
        }
        struct event *ev =
            tags_only ? event_new(tags, ":%s %s %s", c->source, verb, target)
                      : event_new(tags, ":%s %s %s :%s", c->source, verb, target, m->params[1]);
        if (!ev)
            continue;
        ev->tags_only = tags_only;
        ev->bot = c->bot;
        snprintf(ev->account, sizeof ev->account, "%s", c->account);
        relay_one(c, verb, target, ev, quiet, echo_now, echo_later);
        event_unref(ev);
    }
}

void cmd_msg_relay(struct client *c, const char *verb, const char *target, struct event *ev)
{
    c->w->metrics.messages_in++;
    int echo_now, echo_later;
    echo_mode(c, &echo_now, &echo_later);
    relay_one(c, verb, target, ev, strcmp(verb, "NOTICE") == 0, echo_now, echo_later);
}

void cmd_privmsg(struct client *c, struct ircmsg *m)
{
    relay(c, m, "PRIVMSG", 0, 0);
}

void cmd_notice(struct client *c, struct ircmsg *m)
{
    relay(c, m, "NOTICE", 1, 0);
}

void cmd_tagmsg(struct client *c, struct ircmsg *m)
{
    relay(c, m, "TAGMSG", 0, 1);
}
