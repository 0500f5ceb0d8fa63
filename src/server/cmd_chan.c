/* cmd_chan: channel membership commands: JOIN, PART, NAMES. */
#include <stdio.h>
#include <string.h>

#include "chan.h"
#include "client.h"
#include "cmd.h"
#include "msg.h"
#include "numerics.h"
#include "send.h"

/* The reply for an error chan_join or chan_part passed on as a number. */
static void send_chan_error(struct client *c, int err, const char *name)
{
    switch (err) {
    case NUM(ERR_NOSUCHCHANNEL):
        send_reply(c, ERR_NOSUCHCHANNEL, name);
        break;
    case NUM(ERR_NOTONCHANNEL):
        send_reply(c, ERR_NOTONCHANNEL, name);
        break;
    case NUM(ERR_TOOMANYCHANNELS):
        send_reply(c, ERR_TOOMANYCHANNELS, name);
        break;
    case NUM(ERR_INVITEONLYCHAN):
        send_reply(c, ERR_INVITEONLYCHAN, name);
        break;
    case NUM(ERR_BADCHANNELKEY):
        send_reply(c, ERR_BADCHANNELKEY, name);
        break;
    case NUM(ERR_CHANNELISFULL):
        send_reply(c, ERR_CHANNELISFULL, name);
        break;
    default:
        send_numeric(c, err, TEXT_CANNOTJOIN, name);
        break;
    }
}

void cmd_join(struct client *c, struct ircmsg *m)
{
    if (strcmp(m->params[0], "0") == 0) {
        /* "JOIN 0" leaves every channel (RFC 2812 3.2.1). */
        char names[CHANNELS_PER_USER][IRC_CHANNEL_MAX + 1];
        int n = c->nchans;
        for (int i = 0; i < n; i++)
            snprintf(names[i], sizeof names[i], "%s", chan_name(c->chans[i]));
        for (int i = 0; i < n; i++)
            chan_part(c, names[i], NULL);
        return;
    }
    char *save = NULL, *ksave = NULL;
    char *keys = m->nparams > 1 ? m->params[1] : NULL;
    char *key = keys ? strtok_r(keys, ",", &ksave) : NULL;
    for (char *name = strtok_r(m->params[0], ",", &save); name;
         name = strtok_r(NULL, ",", &save), key = key ? strtok_r(NULL, ",", &ksave) : NULL) {
        if (!ircname_channel_valid(name)) {
            send_reply(c, ERR_NOSUCHCHANNEL, name);
            continue;
        }
        int err = chan_join(c, name, key);
        if (err)
            send_chan_error(c, err, name);
    }
}

void cmd_part(struct client *c, struct ircmsg *m)
{
    const char *reason = m->nparams > 1 ? m->params[1] : NULL;
    char *save = NULL;
    for (char *name = strtok_r(m->params[0], ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        int err = chan_part(c, name, reason);
        if (err)
            send_chan_error(c, err, name);
    }
}

void cmd_names(struct client *c, struct ircmsg *m)
{
    if (m->nparams == 0) {
        /* Listing every channel is left to LIST; Modern IRC allows just the end. */
        send_reply(c, RPL_ENDOFNAMES, "*");
        return;
    }
    char *save = NULL;
    for (char *name = strtok_r(m->params[0], ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        struct msg *reply = chan_names(c, name);
        send_msg(c, reply);
        msg_unref(reply);
    }
}

void cmd_topic(struct client *c, struct ircmsg *m)
{
    chan_topic(c, m->params[0], m->nparams > 1 ? m->params[1] : NULL);
}

void cmd_kick(struct client *c, struct ircmsg *m)
{
    const char *reason = m->nparams > 2 ? m->params[2] : NULL;
    char *save = NULL;
    /* KICK #chan a,b kicks several users (TARGMAX KICK). */
    for (char *nick = strtok_r(m->params[1], ",", &save); nick; nick = strtok_r(NULL, ",", &save))
        chan_kick(c, m->params[0], nick, reason);
}

void cmd_invite(struct client *c, struct ircmsg *m)
{
    chan_invite(c, m->params[0], m->params[1]);
}

void cmd_list(struct client *c, struct ircmsg *m)
{
    const char *masks[TARGETS_MAX];
    int n = 0;
    char *save = NULL;
    if (m->nparams > 0) {
        for (char *mask = strtok_r(m->params[0], ",", &save); mask && n < TARGETS_MAX;
             mask = strtok_r(NULL, ",", &save))
            masks[n++] = mask;
    }
    chan_list(c, masks, n);
}
