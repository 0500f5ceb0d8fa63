/* worker: one thread, one epoll loop. It owns its connections (reads, parses, runs commands,
 * writes), its mailbox, and its replica of the member list of every channel that has members
 * here. See DESIGN.md "Concurrency model". */
#ifndef TCPCHAT_WORKER_H
#define TCPCHAT_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "mailbox.h"

struct server;
struct client;
struct lchan;

struct worker {
    int index;
    struct server *srv;
    pthread_t thread;
    int epfd;
    struct mailbox mb;
    atomic_int nconns; /* written by this worker, read by the acceptor to balance load */

    /* Everything below is this worker's alone. */
    struct client *clients; /* by id (uthash), dead ones included until freed */
    struct lchan *lchans;   /* channel replicas, by channel id (uthash) */
    struct client *dirty, *closing, *stalled, *to_free, *urgent;
    uint64_t now_ms; /* monotonic clock, read once per loop turn */
    uint64_t next_tick_ms;
    uint64_t gen; /* event generation, for sending an event once per client */
    /* Output pacing (defines.h FLUSH_HOLD_MS): when the last flush that wrote to many
     * clients was recent, the next one waits until hold_until_ms. */
    uint64_t big_flush_ms;  /* when a flush last wrote to FLUSH_BIG_CLIENTS or more */
    uint64_t hold_until_ms; /* 0: no flush held */
    /* Whether holding would merge anything: over the last FLUSH_PACE_WINDOW_MS, how many
     * lines started a new write for their client (it had nothing pending), and how many of
     * those came within FLUSH_MERGE_GAP_MS of that client's previous line. */
    unsigned pace_starts, pace_close;
    uint64_t pace_since_ms;
    int pace_merging;    /* the last window's verdict: holds pay */
    atomic_int stopping; /* set by MB_SHUTDOWN (or, failing that, by the main thread) */
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
/* Monotonic milliseconds. */
uint64_t worker_clock_ms(void);
/* One loop turn without waiting on epoll, for the in-process fuzzer (fuzz/fuzz_input.c): runs
 * the queued mailbox items, resumes paused clients, closes, flushes and frees what is due.
 * Returns how many mailbox items it ran (a close posts new ones: call again until 0). Only on
 * a worker whose thread was never started. */
int worker_drain(struct worker *w);

/* Posting from other threads (the acceptor, the console, other workers). */
struct msg;
/* Hands a freshly accepted socket to w; takes ownership of fd. ip_counted: iplimit counted
 * it, and the worker gives it back when the connection closes. tls: it came from the TLS
 * port (the worker runs the handshake). */
void worker_post_new_conn(struct worker *w, int fd, const char *host, int ip_counted, int tls);
/* Sends ev to client id on worker (dropped there if the client has gone). */
struct event;
void worker_post_event(struct server *srv, int worker, uint64_t id, struct event *ev);
/* Sends text to every client of every worker as a NOTICE from the server. */
void worker_post_announce(struct server *srv, const char *text);
/* Closes client id on worker with reason (KILL); nothing if it has gone. */
void worker_post_kill(struct server *srv, int worker, uint64_t id, const char *reason);
/* Sends ev to every client of every worker that has user mode +w. */
void worker_post_wallops(struct server *srv, struct event *ev);
/* Tells w to say goodbye to its clients and stop. */
void worker_post_shutdown(struct worker *w);
#endif
