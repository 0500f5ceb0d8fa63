/* replica: a worker's copy of the member list of each channel that has members on it, only
 * the local ones. Only deliver.c changes a replica, as it carries out the channel's JOIN,
 * PART, KICK and QUIT items, so a replica changes in the channel's order and the worker can
 * fan a message out to its members without taking the channel's lock. Worker-owned. */
#ifndef TCPCHAT_REPLICA_H
#define TCPCHAT_REPLICA_H

#include <stdint.h>

#include "hash.h"

struct client;
struct worker;

struct replica {
    uint64_t id; /* the channel's id */
    struct client **members;
    int n, cap;
    UT_hash_handle hh; /* in w->replicas */
};

/* The replica of channel id on w, or NULL when it has no local member. */
struct replica *replica_find(struct worker *w, uint64_t id);
/* Adds c to channel id's replica. 0, or -1 without memory (c then misses the channel's
 * traffic: the caller closes it). */
int replica_add(struct worker *w, uint64_t id, struct client *c);
/* Removes c from channel id's replica; the replica goes with its last member. */
void replica_remove(struct worker *w, uint64_t id, struct client *c);
/* Frees every replica of w (at exit). */
void replica_free_all(struct worker *w);

#endif
