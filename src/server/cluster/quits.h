/* quits: the QUIT events of this node's users who left while the network could not take them
 * (a Redis server away), kept so that their real QUIT lines reach the other nodes when it
 * returns, instead of the generic "Left while the network was away" (docs/cluster.md
 * "Redis persistence"). Bounded: past the most, a departure is not kept and the network
 * hears of it only through the generic reason.
 *
 * Owned by the cluster thread alone: no locking. */
#ifndef TCPCHAT_QUITS_H
#define TCPCHAT_QUITS_H

#include <stddef.h>
#include <stdint.h>

/* One departure: the channel QUIT event ("C" "Q", as chan_span packs it) a user's QUIT could
 * not publish on one Redis server. */
struct quit {
    struct quit *next;
    uint64_t id; /* the user's client id */
    int shard;   /* the Redis server the event is for */
    size_t len;
    char event[];
};

/* The record: departures waiting, oldest first, and those taken out to be sent (counted
 * until they are done or put back, so the bound holds for both). */
struct quits {
    struct quit *head, *tail;
    int count; /* waiting and taken */
    int max;
};

void quits_init(struct quits *q, int max);
/* Keeps a copy of event for user id on shard: 0, or -1 when the record is full (max
 * departures waiting or being sent) or without memory. */
int quits_add(struct quits *q, uint64_t id, int shard, const char *event, size_t len);
/* Takes the oldest departure waiting for shard out of the record (NULL: none); the caller
 * hands it back with quits_done (the network took it) or quits_put_back (it did not). */
struct quit *quits_take(struct quits *q, int shard);
void quits_done(struct quits *q, struct quit *e);
/* e waits again, at the front (it is older than what was added meanwhile). */
void quits_put_back(struct quits *q, struct quit *e);
/* Frees every departure waiting (the node is leaving; taken ones are their holders'). */
void quits_clear(struct quits *q);

#endif
