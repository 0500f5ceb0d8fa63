/* mailbox: a worker's inbox, a FIFO of items plus an eventfd that wakes the worker's loop.
 * Any thread appends; the owning worker takes them all at once, in posting order. Items are
 * made and posted only by the fan-out (fanout.h), and carried out only by deliver.c: items
 * posted under a channel's lock therefore reach every worker in the channel's order. */
#ifndef TCPCHAT_MAILBOX_H
#define TCPCHAT_MAILBOX_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "msg.h"

struct client;
struct worker;

enum mb_kind {
    MB_CHAN,        /* ev to the local members of chans[0] but skip */
    MB_JOIN,        /* target joins chans[0]'s replica, then ev to its members but skip */
    MB_PART,        /* ev to the members of chans[0], then target leaves the replica */
    MB_KICK,        /* as MB_PART; then, on target's worker, fn.kicked(target, chans[0]) */
    MB_EACH,        /* fn.member(c, chans[0], ev, text) for each local member c of chans[0]:
                     * what differs per member (a RENAME's fallback) */
    MB_QUIT,        /* ev once to the members of any of chans but target, who leaves them all
                     * and, on its own worker, is freed: nothing about it comes after this */
    MB_PEERS,       /* ev once to the members of any of chans but skip, and to target */
    MB_PEERS_EACH,  /* fn.member(c, 0, ev, text) once for each member c of any of chans but
                     * skip: what each decides for itself (a metadata subscription) */
    MB_PRIVATE,     /* ev to target */
    MB_REPLY,       /* extra (lines already rendered for it) to target */
    MB_CALL,        /* fn.client(target, op, result, text) on target's worker, if it is alive */
    MB_CALL_WORKER, /* fn.worker(the worker, arg) */
    MB_ANNOUNCE,    /* text to every local client as a NOTICE from the server */
    MB_WALLOPS,     /* ev to every local client with user mode +w */
    MB_KILL,        /* close target with text as the reason */
    MB_NEW_CONN,    /* fd: a freshly accepted connection for this worker */
    MB_SHUTDOWN,    /* say goodbye to every client and stop */
};

typedef void mb_kicked_fn(struct client *c, uint64_t chan);
typedef void mb_client_fn(struct client *c, int op, int result, const char *text);
typedef void mb_worker_fn(struct worker *w, uint64_t arg);
struct event;
typedef void mb_member_fn(struct client *c, uint64_t chan, struct event *ev, const char *text);

struct mb_item {
    struct mb_item *next;
    enum mb_kind kind;
    struct event *ev;  /* the relayed event (reference owned by the item), or NULL */
    struct msg *extra; /* MB_REPLY: the lines (reference owned by the item) */
    uint64_t skip;     /* client id that must not get ev (the sender), or 0 */
    uint64_t target;   /* client id the item is about, or 0 */
    int target_worker; /* worker owning target, -1 if none */
    int fd;            /* MB_NEW_CONN */
    int ip_counted;    /* MB_NEW_CONN: counted by iplimit, to be given back on close */
    int how;           /* MB_NEW_CONN: CONN_TLS, CONN_WEB (fanout.h): the port it came to */
    int op, result;    /* MB_CALL */
    uint64_t arg;      /* MB_CALL_WORKER */
    union {
        mb_kicked_fn *kicked;
        mb_client_fn *client;
        mb_worker_fn *worker;
        mb_member_fn *member;
    } fn;
    char *text;  /* MB_ANNOUNCE, MB_KILL, MB_CALL, MB_EACH, MB_PEERS_EACH (owned, or NULL),
                  * MB_NEW_CONN: peer address (owned) */
    size_t cost; /* its bytes in the backlog, set when posted (mailbox_post_chain) */
    int nchans;
    uint64_t chans[]; /* channel ids */
};

struct mailbox {
    pthread_mutex_t lock;
    struct mb_item *head, *tail;
    int efd;               /* eventfd, readable while items may be waiting */
    atomic_llong *backlog; /* the server's (server.h): posts add their items' cost */
};

/* backlog: the counter posts add their items' bytes to (srv->backlog). */
int mailbox_init(struct mailbox *mb, atomic_llong *backlog);
/* Frees items still queued, closes the eventfd. */
void mailbox_destroy(struct mailbox *mb);
/* An item with room for nchans channel ids, zeroed but for target_worker = -1 and fd = -1. */
struct mb_item *mailbox_item_new(enum mb_kind kind, int nchans);
void mailbox_item_free(struct mb_item *it);
/* Appends the items first .. last (linked by next, in order) at once: one lock and at most
 * one wake-up, so the owner takes them in one turn. Never blocks beyond the mailbox lock. */
void mailbox_post_chain(struct mailbox *mb, struct mb_item *first, struct mb_item *last);
/* Clears the wake-up, then takes every queued item (oldest first) or NULL. */
struct mb_item *mailbox_take(struct mailbox *mb);
/* The taker has carried out items whose costs add up to cost: out of the backlog. */
void mailbox_done(struct mailbox *mb, size_t cost);

#endif
