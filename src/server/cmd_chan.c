/* cmd_chan: channel membership commands: JOIN, PART, NAMES. */
#include <stdio.h>
#include <string.h>

#include "chan.h"
#include "client.h"
#include "cmd.h"
#include "msg.h"
#include "numerics.h"
#include "send.h"

static void send_chan_error(struct client *c, int err, const char *name)
{
    switch (err) {
    case ERR_NOSUCHCHANNEL:
        send_numeric(c, err, "%s :No such channel", name);
        break;
    case ERR_NOTONCHANNEL:
        send_numeric(c, err, "%s :You're not on that channel", name);
        break;
    case ERR_TOOMANYCHANNELS:
        send_numeric(c, err, "%s :You have joined too many channels", name);
        break;
    default:
        send_numeric(c, err, "%s :Cannot join channel", name);
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
    char *save = NULL;
    for (char *name = strtok_r(m->params[0], ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        if (!ircname_channel_valid(name)) {
            send_numeric(c, ERR_NOSUCHCHANNEL, "%s :No such channel", name);
            continue;
        }
        int err = chan_join(c, name);
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
        send_numeric(c, RPL_ENDOFNAMES, "* :End of /NAMES list");
        return;
    }
    char *save = NULL;
    for (char *name = strtok_r(m->params[0], ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        struct msg *reply = chan_names(c, name);
        send_msg(c, reply);
        msg_unref(reply);
    }
}
