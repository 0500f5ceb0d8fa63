/* cmd_msg: PRIVMSG and NOTICE to channels and nicks. NOTICE never draws an error reply
 * (RFC 2812 3.3.2), so that automatic replies cannot loop. */
#include <string.h>

#include "chan.h"
#include "client.h"
#include "cmd.h"
#include "msg.h"
#include "nick.h"
#include "numerics.h"
#include "send.h"
#include "server.h"
#include "worker.h"

static void relay(struct client *c, struct ircmsg *m, const char *verb, int quiet)
{
    if (m->nparams < 1 || m->params[0][0] == '\0') {
        if (!quiet)
            send_numeric(c, ERR_NORECIPIENT, ":No recipient given (%s)", verb);
        return;
    }
    if (m->nparams < 2 || m->params[1][0] == '\0') {
        if (!quiet)
            send_numeric(c, ERR_NOTEXTTOSEND, ":No text to send");
        return;
    }
    struct server *srv = c->w->srv;
    const char *text = m->params[1];
    int ntargets = 0;
    char *save = NULL;
    for (char *target = strtok_r(m->params[0], ",", &save); target;
         target = strtok_r(NULL, ",", &save)) {
        if (++ntargets > TARGETS_MAX) {
            if (!quiet)
                send_numeric(c, ERR_TOOMANYTARGETS, "%s :Too many recipients", target);
            continue;
        }
        struct msg *out = msg_printf(":%s %s %s :%s", c->source, verb, target, text);
        if (!out)
            continue;
        if (ircname_is_channel(target)) {
            int err = chan_send(c, target, out);
            if (err == ERR_CANNOTSENDTOCHAN && !quiet)
                send_numeric(c, err, "%s :Cannot send to channel", target);
            else if (err && !quiet)
                send_numeric(c, ERR_NOSUCHCHANNEL, "%s :No such channel", target);
        } else {
            struct nick_info info;
            if (nick_info(srv, target, &info) == 0) {
                worker_post_private(srv, info.worker, info.id, out);
                if (info.away[0] && !quiet)
                    send_numeric(c, RPL_AWAY, "%s :%s", info.nick, info.away);
            } else if (!quiet) {
                send_numeric(c, ERR_NOSUCHNICK, "%s :No such nick/channel", target);
            }
        }
        msg_unref(out);
    }
}

void cmd_privmsg(struct client *c, struct ircmsg *m)
{
    relay(c, m, "PRIVMSG", 0);
}

void cmd_notice(struct client *c, struct ircmsg *m)
{
    relay(c, m, "NOTICE", 1);
}
