/* cluster: this node's part in a network of tcpchatd nodes joined through Redis
 * (--cluster; docs/cluster.md has the design). One thread, tcpchatd-clus, owns every Redis
 * connection (hiredis's async API on a core/loop.c event loop): per Redis server one
 * connection for commands and one subscribed to the network's events. Workers hand it
 * requests (claim a nick, announce a user, a message for a user on another node) through a
 * bounded queue; what comes from other nodes it turns into nick-table changes and fan-out
 * items, like any other thread.
 *
 * What lives where: nicks (who holds each, network-wide) on the Redis server their folded
 * name hashes to; the nodes and their users (the network's directory), the accounts and the
 * server bans and the registered channels (store/ban.h and store/chanreg.h hand this thread
 * their changes) on the first Redis server named; a private conversation's history on the server
 * its pair of names hashes to. Every change is one Lua script that changes the keys and publishes
 * the event in the same step, so an event is never seen without its change and the order of a
 * server's events is the one order every node sees. */
#ifndef TCPCHAT_CLUSTER_H
#define TCPCHAT_CLUSTER_H

#include <stdint.h>

#include "common/redis_url.h"
#include "core/mailbox.h"

struct server;
struct client;
struct nick_info;

/* How cluster_claim's answer comes back (its result argument). */
enum {
    CLUSTER_OK = 0,
    CLUSTER_TAKEN = -1,       /* someone on the network holds the nick */
    CLUSTER_UNAVAILABLE = -2, /* Redis cannot be reached, or the queue is full */
};

/* Joins the network named by srv->cfg.cluster: takes a node number (client ids and msgids
 * then carry it), frees what an earlier run of this node left behind, and starts the
 * cluster thread. Call before the workers start. Returns 0, or -1 after logging why. */
int cluster_open(struct server *srv);
/* Leaves the network (after the workers have stopped and said their QUITs): sends what is
 * queued, tells the other nodes this node is gone, stops the thread. */
void cluster_close(struct server *srv);

/* Asks the network for nick on behalf of client id on worker; done(c, 0, result, nick) runs on
 * that worker with CLUSTER_OK, CLUSTER_TAKEN or CLUSTER_UNAVAILABLE. Returns 0, or -1 when
 * the request cannot even be queued (done is not called). */
int cluster_claim(struct server *srv, int worker, uint64_t id, const char *nick,
                  mb_client_fn *done);
/* Gives nick back if client id holds it (or is being given it) on the network; nick NULL:
 * every nick asked for client id that it has not taken up (a client leaving unregistered). */
void cluster_release(struct server *srv, uint64_t id, const char *nick);
/* Announces a registered user, or the new facts of one (away, account, modes): info as the
 * nick table has it. */
void cluster_user(struct server *srv, const struct nick_info *info);
/* A user changed nick (the network granted nick already): old is released. */
void cluster_user_nick(struct server *srv, const struct nick_info *info, const char *old);
/* A user logged in to account here: its private conversations' last messages, from the
 * network's streams, into this node's store (its CHATHISTORY of them then answers here). */
void cluster_private_history(struct server *srv, const char *account);
/* Learns from the network who holds nick, which a local user held here until now (it was
 * renamed: conn_hooks.nick_lost). */
void cluster_learn_nick(struct server *srv, const char *nick);
/* A user is gone: the network forgets it and frees its nick. */
void cluster_user_quit(struct server *srv, uint64_t id, const char *nick, const char *reason);

/* An operator's announcement (ANNOUNCE, the console) for every other node's users. */
void cluster_announce(struct server *srv, const char *text);
/* A WALLOPS line (":nick!user@host WALLOPS :text") for every other node's +w users. */
void cluster_wallops(struct server *srv, const char *line);
/* The name of the node that user id is on, into buf: 0, or -1 if unknown (or no cluster). */
int cluster_server_name(struct server *srv, uint64_t id, char *buf, size_t len);
/* One of this node's connections to Redis, for STATS l. */
struct cluster_link {
    char name[REDIS_HOST_MAX + 32]; /* "redis:HOST:PORT/cmd" or ".../sub" */
    int sendq;                      /* requests waiting for the cluster thread (cmd) */
    unsigned long long sent, sent_bytes, received, received_bytes;
    long long open_s; /* seconds up, -1 while down */
};
/* fn(arg, link) for each connection to each Redis server; returns how many (0 without a
 * cluster). */
int cluster_links(struct server *srv, void (*fn)(void *arg, const struct cluster_link *l),
                  void *arg);
/* fn(arg, name) for every other node of the network, as the last heartbeat knew them (under
 * a lock: fn only copies or sends). Returns how many. */
int cluster_other_nodes(struct server *srv, void (*fn)(void *arg, const char *name), void *arg);
/* The nodes in the network (1 without a cluster). */
int cluster_nodes(struct server *srv);

#endif
