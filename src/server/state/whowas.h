/* whowas: the server's memory of nicknames recently given up (by QUIT or NICK), for WHOWAS.
 * A fixed ring of WHOWAS_MAX entries under its own mutex, a leaf lock: nothing else is taken
 * while it is held. */
#ifndef TCPCHAT_WHOWAS_H
#define TCPCHAT_WHOWAS_H

#include <time.h>

#include "common/ircname.h"
#include "core/defines.h"

struct whowas_entry {
    char nick[IRC_NICK_MAX + 1];
    char user[USER_MAX + 1];
    char host[HOST_MAX];
    char realname[REALNAME_MAX + 1];
    time_t when;
};

/* Remembers that a user gave up nick. */
void whowas_add(const char *nick, const char *user, const char *host, const char *realname);
/* Copies up to max entries for nick, newest first, into out; returns how many. */
int whowas_find(const char *nick, struct whowas_entry *out, int max);

#endif
