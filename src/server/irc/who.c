/* who: one WHO reply line, classic or WHOX. */
#include "who.h"

#include <stdio.h>
#include <string.h>

#include "cluster/cluster.h"
#include "core/client.h"
#include "common/ircmsg.h"
#include "state/nick.h"
#include "core/numerics.h"
#include "core/send.h"
#include "core/server.h"
#include "core/defines.h"

void who_parse(char *param, struct who_query *q)
{
    q->fields = NULL;
    q->token = NULL;
    if (!param || param[0] != '%')
        return;
    q->fields = param + 1;
    char *comma = strchr(param, ',');
    if (comma) {
        *comma = '\0';
        q->token = comma + 1;
    }
}

void who_reply(struct client *c, const char *chname, const struct nick_info *info,
               const char *prefix, const struct who_query *q)
{
    char server[64];
    if (info->worker < WORKER_REMOTE ||
        cluster_server_name(client_srv(c), info->id, server, sizeof server) < 0)
        snprintf(server, sizeof server, "%s", client_cfg(c)->server_name);
    /* H here or G gone, * an operator, B a bot (IRCv3 bot mode), then the channel status
     * (Modern IRC RPL_WHOREPLY). */
    char flags[8];
    snprintf(flags, sizeof flags, "%s%s%s%s", info->away[0] ? "G" : "H", info->oper ? "*" : "",
             info->bot ? "B" : "", prefix);
    if (!q || !q->fields) {
        send_reply(c, RPL_WHOREPLY, chname, info->user, info->host, server, info->nick, flags,
                   info->realname);
        return;
    }
    char out[IRC_LINE_MAX];
    size_t n = 0;
    out[0] = '\0';
    static const char order[] = "tcuihsnfdlaor";
    for (const char *f = order; *f; f++) {
        if (!strchr(q->fields, *f))
            continue;
        const char *v = NULL;
        switch (*f) {
        case 't':
            v = q->token ? q->token : "0";
            break;
        case 'c':
            v = chname;
            break;
        case 'u':
            v = info->user;
            break;
        case 'i':
            v = info->host;
            break; /* the host is the numeric address here */
        case 'h':
            v = info->host;
            break;
        case 's':
            v = server;
            break;
        case 'n':
            v = info->nick;
            break;
        case 'f':
            v = flags;
            break;
        case 'd':
            v = "0";
            break;
        case 'l':
            v = "0";
            break; /* idle time is not tracked */
        case 'a':
            v = info->account[0] ? info->account : "0"; /* "0": not logged in (WHOX) */
            break;
        case 'o':
            v = "n/a";
            break;
        case 'r':
            v = NULL;
            break;
        }
        if (*f == 'r')
            n += (size_t)snprintf(out + n, sizeof out - n, "%s:%s", n ? " " : "", info->realname);
        else
            n += (size_t)snprintf(out + n, sizeof out - n, "%s%s", n ? " " : "", v);
        if (n >= sizeof out)
            break;
    }
    send_reply(c, RPL_WHOSPCRPL, out);
}
