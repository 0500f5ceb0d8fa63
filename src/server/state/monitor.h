/* monitor: IRCv3 MONITOR's table: for each nick (case-folded), the clients watching it. The
 * nick table tells it when a watched nick comes online or goes offline (a registration, a
 * quit, a nick change, a user of another node arriving or leaving), and the watchers are told
 * on their workers (730/731). A leaf lock of its own: taken under the nick table's lock, and
 * posting to mailboxes (innermost) under it. Each client keeps its own list too (client.h),
 * at most MONITOR_MAX nicks. */
#ifndef TCPCHAT_MONITOR_H
#define TCPCHAT_MONITOR_H

#include <stdint.h>

struct client;
struct event;
struct server;

/* Client id on worker watches nick. 0, or -1 without memory. */
int monitor_add(const char *nick, int worker, uint64_t id);
/* Client id no longer watches nick. */
void monitor_remove(const char *nick, uint64_t id);
/* source ("nick!user@host") came online (online 1) or nick went offline (online 0; source
 * may be just the nick): each watcher gets 730 or 731. */
void monitor_notify(struct server *srv, const char *nick, const char *source, int online);
/* extended-monitor: line (a user's AWAY, ACCOUNT, CHGHOST or SETNAME, from user c) for each
 * client watching c's nick that has extended-monitor and cap, unless it shares a channel with
 * c (it has the line from there). */
void monitor_extended(struct client *c, const struct event *ev, unsigned cap);
/* Frees the table (at exit). */
void monitor_free(void);

#endif
