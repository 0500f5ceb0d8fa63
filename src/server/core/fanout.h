/* fanout: the one way anything reaches other workers. A message to a channel, a membership
 * change, a private message, an answer from a store thread, an operator's broadcast: each has
 * a function here that turns it into one mailbox item per worker concerned (never one per
 * recipient) and posts it; deliver.c carries the items out on each worker. No other module
 * posts to a mailbox.
 *
 * Order. Channel events are posted while the caller holds the channel's lock (several
 * channels' locks, in ascending id, for events that span them), so every worker receives a
 * channel's events in one order, and its replica of the channel changes in that order too.
 * An ordering gate may hold items back: the history store installs one so that a live message
 * does not overtake a history answer on its way to the same worker (history.h). Without a
 * gate, or when it lets an item through, the item goes straight to the mailbox.
 *
 * This is the seam for transports and nodes to come: a cluster node is one more destination
 * of these functions (fanout_chan carries the channel's folded name for routing), and a
 * WebSocket client is just another client behind the same items. */
#ifndef TCPCHAT_FANOUT_H
#define TCPCHAT_FANOUT_H

#include <stdbool.h>
#include <stdint.h>

#include "mailbox.h"

struct event;
struct msg;
struct server;

/* A channel as the fan-out sees it: the id its replicas go by, and how many members it has on
 * each worker (srv->nworkers counts, under the channel's lock). */
struct fanout_chan {
    uint64_t id;
    const unsigned *wcount;
};

/* The channels of one user, for an event that spans them (QUIT, NICK, AWAY...): their ids,
 * and which workers have members in any of them (the user's own worker always). */
struct fanout_span {
    const uint64_t *ids;
    int n;
    const bool *workers;
};

/* --- channels (call with the channel's lock held) -------------------------------------- */

/* ev to every member but skip (0: none). skip_worker is skip's worker when skip is a member,
 * else -1: a worker whose only member is skip gets nothing. */
void fanout_chan_event(struct server *srv, const struct fanout_chan *ch, struct event *ev,
                       uint64_t skip, int skip_worker);
/* joiner (already counted in ch->wcount) enters the replicas; every member but the joiner
 * gets ev (the joiner gets its JOIN with its reply). */
void fanout_chan_join(struct server *srv, const struct fanout_chan *ch, struct event *ev,
                      uint64_t joiner, int joiner_worker);
/* Every member gets ev, then who leaves the replicas (PART). */
void fanout_chan_part(struct server *srv, const struct fanout_chan *ch, struct event *ev,
                      uint64_t who, int who_worker);
/* The same for a KICK; then, on who's worker, kicked(who, ch->id) (who's own list). */
void fanout_chan_kick(struct server *srv, const struct fanout_chan *ch, struct event *ev,
                      uint64_t who, int who_worker, mb_kicked_fn *kicked);

/* fn(c, ch->id, ev, text) on each member c, on its worker, in the channel's order: for what
 * each member is told differently (a RENAME's fallback, chan.c). text is copied; NULL allowed. */
void fanout_chan_each(struct server *srv, const struct fanout_chan *ch, mb_member_fn *fn,
                      struct event *ev, const char *text);

/* --- a user's channels (call with all of them locked, ascending id) --------------------- */

/* who quits: ev (NULL: nobody is told) once to everyone sharing a channel with who; who
 * leaves the replicas and, once its own worker has seen this, is freed. */
void fanout_user_quit(struct server *srv, const struct fanout_span *s, struct event *ev,
                      uint64_t who, int who_worker);
/* ev once to everyone sharing a channel with the user but skip (0: none), and to also (0:
 * nobody else) on also_worker: NICK (to the user too), AWAY, SETNAME, ACCOUNT. */
void fanout_user_peers(struct server *srv, const struct fanout_span *s, struct event *ev,
                       uint64_t skip, uint64_t also, int also_worker);

/* fn(c, 0, ev, text) once for each member c of any of the span's channels but skip (0: none),
 * on its worker, in those channels' order: an event each recipient filters for itself
 * (draft/metadata-2 subscriptions). text is copied; NULL allowed. Also for one channel. */
void fanout_peers_each(struct server *srv, const struct fanout_span *s, mb_member_fn *fn,
                       struct event *ev, const char *text, uint64_t skip);

/* --- one client ------------------------------------------------------------------------ */

/* ev to client id on worker (dropped there if it has gone): a private message, its echo, a
 * KILL or INVITE line, a notice. A worker from WORKER_REMOTE up is on another node: the
 * cluster's hook (srv->remote) carries ev there; so for fanout_kill. */
void fanout_to_client(struct server *srv, int worker, uint64_t id, struct event *ev);
/* Lines rendered for client id (a history answer); takes over the caller's reference to m. */
void fanout_reply(struct server *srv, int worker, uint64_t id, struct msg *m);
/* fn(client, op, result, text) on client id's worker while it is connected: a store thread's
 * answer (account.h). Not behind the ordering gate. */
void fanout_call(struct server *srv, int worker, uint64_t id, mb_client_fn *fn, int op, int result,
                 const char *text);
/* Closes client id with reason (KILL), after whatever was posted to it before. */
void fanout_kill(struct server *srv, int worker, uint64_t id, const char *reason);

/* --- workers --------------------------------------------------------------------------- */

/* text as a NOTICE from the server to every client of every worker. */
void fanout_announce(struct server *srv, const char *text);
/* ev to every client with user mode +w. */
void fanout_wallops(struct server *srv, struct event *ev);
/* fn(worker, arg) on the given worker's thread (the config reload parks each worker so).
 * Returns 0, or -1 without memory for it. */
int fanout_call_worker(struct server *srv, int worker, mb_worker_fn *fn, uint64_t arg);
/* Hands a freshly accepted socket to worker, which owns it from now on (closed here when it
 * cannot be handed over). ip_counted: iplimit counted it; how: CONN_* of the port it came
 * to. */
enum { CONN_TLS = 1, CONN_WEB = 2 };
void fanout_new_conn(struct server *srv, int worker, int fd, const char *host, int ip_counted,
                     int how);
/* Tells worker to say goodbye to its clients and stop. */
void fanout_shutdown(struct server *srv, int worker);

/* --- the ordering gate ----------------------------------------------------------------- */

/* Offered every item bound for a worker's mailbox but a store answer, a call, a new
 * connection and the shutdown: returns 1 if it keeps the item to post later (in order,
 * through fanout_release), 0 to let it go now. */
typedef int fanout_gate_fn(void *arg, int worker, struct mb_item *it);
/* Installs the gate (before the workers start; NULL removes it). */
void fanout_set_gate(struct server *srv, fanout_gate_fn *fn, void *arg);
/* For the gate: posts items it kept (first .. last, in order) to worker at once. */
void fanout_release(struct server *srv, int worker, struct mb_item *first, struct mb_item *last);

#endif
