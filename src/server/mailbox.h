/* mailbox: a worker's inbox. Any thread posts items; the owning worker takes them all at
 * once, in posting order, when the eventfd wakes its epoll loop. Items posted under a
 * channel's lock therefore reach every worker in the channel's order. */
#ifndef TCPCHAT_MAILBOX_H
#define TCPCHAT_MAILBOX_H

#include <pthread.h>
#include <stdint.h>

#include "event.h"
#include "msg.h"

enum mb_kind {
    MB_CHAN_MSG, /* deliver msg to local members of chans[0] except skip */
    MB_JOIN,     /* target joins chans[0]: replica update, msg to members but skip (the
                    joiner, who got it directly) */
    MB_PART,     /* msg to local members of chans[0], then target leaves the replica */
    MB_QUIT,     /* msg once to local members of any of chans, target leaves them all and,
                    on its own worker, is freed */
    MB_KICK,     /* msg to local members of chans[0], then target leaves the replica and, on
                    its own worker, its list of channels */
    MB_NICK,     /* msg once to local members of any of chans but skip, and to target */
    MB_PRIVATE,  /* msg to target */
    MB_ANNOUNCE, /* text to every local client as a NOTICE from the server */
    MB_NEW_CONN, /* fd: a freshly accepted connection for this worker */
    MB_SHUTDOWN, /* say goodbye to every client and stop */
    MB_KILL,     /* close target (an operator's KILL) with text as the reason */
    MB_WALLOPS,  /* ev to every local client with user mode +w */
    MB_REHASH,   /* park until the config reload is done; target is the gate's generation */
    MB_REPLY,    /* extra to target: an answer from the history store */
    MB_ACCOUNT,  /* to target: the account thread's answer (op, result, text = account) */
};

struct mb_item {
    struct mb_item *next;
    enum mb_kind kind;
    struct event *ev;  /* the relayed event (reference owned by the item), or NULL */
    struct msg *extra; /* MB_JOIN: the topic and NAMES replies for the joiner */
    uint64_t skip;     /* client id that must not get msg (the sender), or 0 */
    uint64_t target;   /* client id the event is about, or 0 */
    int target_worker; /* worker owning target, -1 if none */
    int fd;            /* MB_NEW_CONN */
    int ip_counted;    /* MB_NEW_CONN: counted by iplimit, to be given back on close */
    int tls;           /* MB_NEW_CONN: accepted on the TLS port */
    int op, result;    /* MB_ACCOUNT: account_op and account_result (account.h) */
    char *text;        /* MB_ANNOUNCE, MB_KILL (owned), MB_NEW_CONN: peer address (owned) */
    int nchans;
    uint64_t chans[]; /* channel ids */
};

struct mailbox {
    pthread_mutex_t lock;
    struct mb_item *head, *tail;
    int efd; /* eventfd, readable while items may be waiting */
};

int mailbox_init(struct mailbox *mb);
/* Frees items still queued, closes the eventfd. */
void mailbox_destroy(struct mailbox *mb);
/* An item with room for nchans channel ids, zeroed but for target_worker = -1 and fd = -1. */
struct mb_item *mailbox_item_new(enum mb_kind kind, int nchans);
void mailbox_item_free(struct mb_item *it);
/* Appends it; wakes the owner. Never blocks beyond the mailbox lock. */
void mailbox_post(struct mailbox *mb, struct mb_item *it);
/* Appends the items first .. last (linked by next, in order) at once: one lock and at most
 * one wake-up, so the owner takes them in one turn. */
void mailbox_post_chain(struct mailbox *mb, struct mb_item *first, struct mb_item *last);
/* Clears the wake-up, then takes every queued item (oldest first) or NULL. */
struct mb_item *mailbox_take(struct mailbox *mb);

#endif
