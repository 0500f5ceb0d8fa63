/* worker: a worker's turn. Wait for events (loop.h); handle the sockets' (conn.h) and the
 * mailbox's (deliver.h); resume paused clients; run the timers; close what must close; flush
 * every queue that grew, one writev each, unless output pacing holds them a moment; free
 * clients whose QUIT came back. Only this thread touches its clients and replicas. */
#include "worker.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "common/log.h"
#include "conn.h"
#include "deliver.h"
#include "replica.h"
#include "server.h"

uint64_t worker_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The mailbox's eventfd is readable: carry out what came (not while saying goodbye). */
static void on_mailbox(struct loop_io *io, unsigned events)
{
    (void)events;
    struct worker *w = loop_owner(io, struct worker, mb_io);
    if (!w->draining)
        deliver_mailbox(w);
}

/* Each wait's end: the turn's clock. */
static void on_wake(void *arg)
{
    struct worker *w = arg;
    w->now_ms = worker_clock_ms();
}

int worker_init(struct worker *w, struct server *srv, int index)
{
    memset(w, 0, sizeof *w);
    w->index = index;
    w->srv = srv;
    atomic_init(&w->nconns, 0);
    w->loop = loop_create(EPOLL_BATCH);
    if (!w->loop)
        return -1;
    if (mailbox_init(&w->mb, &srv->backlog) < 0) {
        loop_destroy(w->loop);
        return -1;
    }
    if (loop_watch(w->loop, w->mb.efd, LOOP_READ, &w->mb_io, on_mailbox) < 0) {
        mailbox_destroy(&w->mb);
        loop_destroy(w->loop);
        return -1;
    }
    loop_on_wake(w->loop, on_wake, w);
    return 0;
}

struct client *worker_find_client(struct worker *w, uint64_t id)
{
    struct client *c = NULL;
    HASH_FIND(hh, w->clients, &id, sizeof id, c);
    return c;
}

void worker_mark_urgent(struct worker *w, struct client *c)
{
    if (!c->urgent) {
        c->urgent = 1;
        c->next_urgent = w->urgent;
        w->urgent = c;
    }
}

/* Empties the urgent list, flushing each client on it if flush. */
static void take_urgent(struct worker *w, int flush)
{
    while (w->urgent) {
        struct client *c = w->urgent;
        w->urgent = c->next_urgent;
        c->urgent = 0;
        if (flush)
            conn_flush(c);
    }
}

void worker_note_line(struct worker *w, struct client *c)
{
    pace_line(&w->pace, c, c->dirty, w->now_ms);
}

void worker_mark_dirty(struct worker *w, struct client *c)
{
    if (!c->dirty) {
        c->dirty = 1;
        c->next_dirty = w->dirty;
        w->dirty = c;
        w->ndirty++;
    }
}

void worker_free_later(struct worker *w, struct client *c)
{
    c->next_free = w->to_free;
    w->to_free = c;
}

/* Output pacing (pace.h): 1 if this turn's flush waits. It never waits for a close, a free
 * or a client paused by its send queue, and a client that sent a command is flushed at once
 * all the same (a person waits for that answer; only what others said waits). */
static int hold_flush(struct worker *w)
{
    int must = !w->dirty || w->closing || w->to_free || w->stalled;
    if (!pace_hold(&w->pace, must ? 0 : w->ndirty, w->now_ms))
        return 0;
    /* They stay on the dirty list: flushed again at the end of the hold, they cost no
     * write then unless more came for them. */
    take_urgent(w, 1);
    return !w->closing; /* a write failed: end_of_turn closes it now */
}

/* Closes, flushes and frees until nothing is pending: a flush can fail and ask for a close,
 * and a close queues nothing new for others on this turn (its QUIT goes via the mailbox). */
static void end_of_turn(struct worker *w)
{
    unsigned flushed = 0;
    /* Before anyone is closed, deliver what this turn posted to our own mailbox: a client
     * that sent PRIVMSG then QUIT in one packet still gets its echo-message copies. */
    if (w->closing)
        deliver_mailbox(w);
    while (w->closing || w->dirty) {
        while (w->closing) {
            struct client *c = w->closing;
            w->closing = c->next_close;
            conn_close(c);
        }
        while (w->dirty) {
            struct client *c = w->dirty;
            w->dirty = c->next_dirty;
            c->dirty = 0;
            conn_flush(c);
            flushed++;
        }
        w->ndirty = 0;
    }
    pace_flushed(&w->pace, flushed, w->now_ms);
    take_urgent(w, 0);
    while (w->to_free) {
        struct client *c = w->to_free;
        w->to_free = c->next_free;
        conn_free(c);
    }
}

static void resume_stalled(struct worker *w)
{
    struct client *list = w->stalled;
    w->stalled = NULL;
    while (list) {
        struct client *c = list;
        list = c->next_stalled;
        c->stalled = 0;
        if (!c->dead)
            conn_resume(c);
    }
}

static void run_timers(struct worker *w)
{
    struct client *c, *tmp;
    HASH_ITER(hh, w->clients, c, tmp)
    {
        conn_tick(c);
        metrics_count_conn(w, c);
    }
    w->metrics.idle_ns = loop_idle_ns(w->loop);
    metrics_publish(w, (w->now_ms - w->started_ms) * 1000000);
    /* After a burst (a join storm, a flood of messages) the freed queues stay in malloc's
     * arenas; hand the free pages back so the resident size follows the load down. Once a
     * second from one worker: malloc_trim walks every arena. */
    if (w->index == 0)
        malloc_trim(0);
}

/* Says goodbye to every client and gives the lines a little time to leave. */
static void shutdown_clients(struct worker *w)
{
    struct client *c, *tmp;
    HASH_ITER(hh, w->clients, c, tmp)
    {
        conn_goodbye(c, "ERROR :Server shutting down");
    }
    w->draining = 1; /* from now on the loop only writes */
    uint64_t deadline = worker_clock_ms() + SHUTDOWN_FLUSH_MS;
    for (;;) {
        int pending = 0;
        HASH_ITER(hh, w->clients, c, tmp)
        {
            if (!c->dead && c->fd >= 0 && sendq_bytes(&c->sq) > 0)
                pending = 1;
        }
        uint64_t now = worker_clock_ms();
        if (!pending || now >= deadline)
            break;
        if (loop_wait(w->loop, (int)(deadline - now)) < 0)
            break;
    }
    HASH_ITER(hh, w->clients, c, tmp)
    {
        conn_hangup(c);
    }
}

int worker_drain(struct worker *w)
{
    int n = deliver_mailbox(w);
    if (w->stalled)
        resume_stalled(w);
    end_of_turn(w);
    return n;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    char name[16]; /* for top -H, perf, gdb: at most 15 characters */
    snprintf(name, sizeof name, "tcpchatd-w%d", w->index);
    pthread_setname_np(pthread_self(), name);
    w->now_ms = worker_clock_ms();
    w->started_ms = w->now_ms;
    w->next_tick_ms = w->now_ms + TICK_MS;
    while (!w->stopping) {
        int timeout = w->next_tick_ms > w->now_ms ? (int)(w->next_tick_ms - w->now_ms) : 0;
        if (w->stalled && timeout > STALL_TICK_MS)
            timeout = STALL_TICK_MS;
        timeout = pace_timeout(&w->pace, timeout, w->now_ms);
        if (loop_wait(w->loop, timeout) < 0) {
            log_error("worker %d: epoll_wait: %s", w->index, strerror(errno));
            break;
        }
        if (w->stalled)
            resume_stalled(w);
        if (w->now_ms >= w->next_tick_ms) {
            run_timers(w);
            w->next_tick_ms = w->now_ms + TICK_MS;
        }
        if (!hold_flush(w))
            end_of_turn(w);
    }
    shutdown_clients(w);
    return NULL;
}

int worker_start(struct worker *w)
{
    return pthread_create(&w->thread, NULL, worker_main, w) == 0 ? 0 : -1;
}

void worker_join(struct worker *w)
{
    pthread_join(w->thread, NULL);
}

void worker_destroy(struct worker *w)
{
    struct client *c, *tmp;
    HASH_ITER(hh, w->clients, c, tmp)
    {
        conn_free(c);
    }
    replica_free_all(w);
    mailbox_destroy(&w->mb);
    loop_destroy(w->loop);
}
