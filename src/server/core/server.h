/* server: the state shared by every thread of tcpchatd, and the lock for each part of it.
 * Lock order (never take them the other way round): nick_lock -> chan_lock -> channel locks
 * in ascending channel id -> the history store's jlock -> its queue lock -> mailbox locks.
 * No lock is held across network I/O; one file write is, by design: the journal's write(2),
 * under jlock inside the channel's lock (store/history.h). docs/architecture.md "Locks". */
#ifndef TCPCHAT_SERVER_H
#define TCPCHAT_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config.h"

struct worker;
struct nick_entry;
struct chan;
struct client;
struct mb_item;
struct event;
struct cluster;

/* What the protocol layer above the connections does with them (cmd_install sets these: the
 * IRC command layer). The only calls from the core (conn.c) up into it. */
struct msg;
struct server;
struct conn_hooks {
    /* A complete line of len bytes from c (no terminator; it may hold NUL bytes). */
    void (*line)(struct client *c, char *line, size_t len);
    /* A line longer than the limit was dropped. */
    void (*too_long)(struct client *c);
    /* c is closing (c->close_reason says why): release what its user holds in shared state
     * and tell whoever must know. Must post c's fanout_user_quit (to c's own worker at
     * least), after which c is freed. */
    void (*closing)(struct client *c);
    /* Cluster: the network gave c's nick (the text) to someone else while this node was cut
     * off from it; c must take another. A mailbox call (mailbox.h: mb_client_fn). */
    void (*nick_lost)(struct client *c, int op, int result, const char *nick);
    /* The web listener's /metrics page (metrics.h), or NULL: none. */
    struct msg *(*metrics_page)(struct server *srv);
    /* Cluster: bans from number seq on came from the network (store/ban.h): close the local
     * users they match, as a KLINE or DLINE set here does. Any thread. */
    void (*ban_sweep)(struct server *srv, unsigned long long seq);
    /* Cluster: a user of another node gave up nick (QUIT, NICK): a REGAIN here may be waiting
     * for it. The cluster's thread. */
    void (*nick_freed)(struct server *srv, const char *nick);
};

/* Users counted for LUSERS. */
struct nick_stats {
    int users;     /* registered */
    int invisible; /* of those, +i */
    int opers;     /* of those, operators */
    int max_users; /* most users at once since start */
    int remote;    /* of users, on other nodes of a cluster */
    int max_local; /* most users of this node at once since start */
};
struct rehash;
struct chan_change;
struct history;
struct accounts;

struct server {
    struct config cfg; /* read-only for the workers; changed only by rehash.c, with them parked */
    int nworkers;
    struct worker *workers; /* array of nworkers */
    char created[64];       /* start time, for RPL_CREATED */
    time_t started;         /* the same, for STATS u */

    pthread_mutex_t nick_lock;    /* guards nicks */
    struct nick_entry *nicks;     /* folded nick -> client handle (uthash) */
    struct nick_stats nick_stats; /* registered users in nicks, also under nick_lock */

    pthread_mutex_t chan_lock; /* guards chans (the table, not the channels in it) */
    struct chan *chans;        /* folded name -> channel (uthash) */

    atomic_uint_fast64_t next_client_id; /* ids are unique for the server's life */
    atomic_uint_fast64_t next_chan_id;
    atomic_int nclients; /* open connections, for --max-clients */
    /* Bytes accepted and not yet carried out: mailbox items waiting for their worker
     * (mailbox.c, given back by deliver.c) and messages waiting for the history writer
     * (store/history.c). Past --backlog-max the workers stop running their clients' input until
     * it falls below (conn.c): back-pressure on the senders that holds whatever the flood
     * settings, while the threads that drain it never wait on it. */
    atomic_llong backlog;
    atomic_int restart;    /* RESTART: after the orderly stop, main runs itself again */
    struct rehash *rehash; /* config reload (rehash.c); changes cfg with the workers parked */
    /* TLS context for new connections on the TLS port, NULL without one. Read by workers as
     * they take a connection; replaced only by rehash.c with them parked (a connection holds
     * a reference to the context it started with). */
    struct ssl_ctx_st *tls_ctx;
    struct history *hist;      /* the message store (history.h), NULL with --history off */
    struct accounts *accounts; /* the account store and its thread (account.h) */
    struct conn_hooks hooks;   /* set before the workers start, read-only after */
    struct {
        /* fanout.h's ordering gate (the history store's), or NULL: fanout_gate_fn */
        int (*fn)(void *arg, int worker, struct mb_item *it);
        void *arg;
    } gate;                  /* set before the workers start, read-only after */
    struct cluster *cluster; /* the cluster node (cluster.h), NULL on a single node */
    struct {
        /* Where fanout_to_client and fanout_kill send a user on another node (worker is its
         * worker there): the cluster's, or NULL (dropped). */
        void (*to_client)(void *arg, int worker, uint64_t id, struct event *ev);
        void (*kill)(void *arg, int worker, uint64_t id, const char *reason);
        /* A change of a channel for the network (state/chan_net.h); 0, or -1 if it cannot
         * go. */
        int (*chan)(void *arg, const struct chan_change *chg);
        void *arg;
    } remote; /* set before the workers start, read-only after */
};

#endif
