/* worker: one thread, one event loop (loop.h). It owns its connections (reads, parses, runs
 * commands, writes), its mailbox (deliver.h carries out what comes in), and its replica of
 * the member list of every channel that has members here (replica.h). See
 * docs/architecture.md "Threads". */
#ifndef TCPCHAT_WORKER_H
#define TCPCHAT_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "loop.h"
#include "mailbox.h"
#include "metrics.h"
#include "pace.h"

struct server;
struct client;
struct replica;

struct worker {
    int index;
    struct server *srv;
    pthread_t thread;
    struct loop *loop;
    struct mailbox mb;
    struct loop_io mb_io;
    atomic_int nconns; /* written by this worker, read by the acceptor to balance load */

    /* Everything below is this worker's alone. */
    struct client *clients;   /* by id (uthash), dead ones included until freed */
    struct replica *replicas; /* channel replicas, by channel id (uthash) */
    struct client *dirty, *closing, *stalled, *to_free, *urgent;
    uint64_t now_ms; /* monotonic clock, read once per loop turn */
    uint64_t next_tick_ms;
    uint64_t gen;                  /* event generation, for sending an event once per client */
    int draining;                  /* shutting down: only writes are handled, the goodbye leaving */
    unsigned ndirty;               /* clients on the dirty list */
    struct pace pace;              /* output pacing: whether the next flush waits (pace.h) */
    atomic_int stopping;           /* set by MB_SHUTDOWN (or, failing that, by the main thread) */
    struct metrics_worker metrics; /* this worker's counters (metrics.h) */
    uint64_t started_ms;           /* when its loop started, for the busy time */
    struct metrics_published published; /* their copy at the last tick, read by any worker */
};

int worker_init(struct worker *w, struct server *srv, int index);
int worker_start(struct worker *w);
void worker_join(struct worker *w);
/* After worker_join: frees what the worker still holds. */
void worker_destroy(struct worker *w);
/* Looks up a client of this worker by id (dead ones included); NULL if gone. */
struct client *worker_find_client(struct worker *w, uint64_t id);
/* Queues c to be flushed at the end of this loop turn. */
void worker_mark_dirty(struct worker *w, struct client *c);
/* A line was queued for c (before it is marked dirty): counts it for the output pacing. */
void worker_note_line(struct worker *w, struct client *c);
/* c sent a command: its answer leaves at the end of this turn even while output is held. */
void worker_mark_urgent(struct worker *w, struct client *c);
/* c (dead, out of every replica) is freed at the end of this turn. */
void worker_free_later(struct worker *w, struct client *c);
/* Monotonic milliseconds. */
uint64_t worker_clock_ms(void);
/* One loop turn without waiting for events, for in-process tests and the fuzzer: runs the
 * queued mailbox items, resumes paused clients, closes, flushes and frees what is due.
 * Returns how many mailbox items it ran (a close posts new ones: call again until 0). Only on
 * a worker whose thread was never started. */
int worker_drain(struct worker *w);

#endif
