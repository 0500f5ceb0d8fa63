/* worker: one thread running one epoll loop over its own connections and its mailbox.
 * A loop turn: wait; handle socket events and mailbox items; resume paused clients; run the
 * timers; close what must close; flush every queue that grew (one writev each); free clients
 * whose QUIT came back. Only this thread touches its clients and replicas. */
#include "worker.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "chan.h"
#include "client.h"
#include "cmd.h"
#include "common/log.h"
#include "conn.h"
#include "history.h"
#include "iplimit.h"
#include "msg.h"
#include "pool.h"
#include "rehash.h"
#include "send.h"
#include "server.h"

/* A replica of one channel's members on this worker: only the local ones. Updated solely by
 * mailbox items, so it changes in the channel's order. */
struct lchan {
    uint64_t id;
    struct client **members;
    int n, cap;
    UT_hash_handle hh;
};

uint64_t worker_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int worker_init(struct worker *w, struct server *srv, int index)
{
    memset(w, 0, sizeof *w);
    w->index = index;
    w->srv = srv;
    atomic_init(&w->nconns, 0);
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (w->epfd < 0)
        return -1;
    if (mailbox_init(&w->mb) < 0) {
        close(w->epfd);
        return -1;
    }
    /* data.ptr NULL marks the mailbox; clients carry their struct pointer. */
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->mb.efd, &ev) < 0) {
        mailbox_destroy(&w->mb);
        close(w->epfd);
        return -1;
    }
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
    uint16_t now = (uint16_t)w->now_ms;
    if (!c->dirty) {
        w->pace_starts++;
        if ((uint16_t)(now - c->line_ms) <= FLUSH_MERGE_GAP_MS)
            w->pace_close++;
    }
    c->line_ms = now;
}

void worker_mark_dirty(struct worker *w, struct client *c)
{
    if (!c->dirty) {
        c->dirty = 1;
        c->next_dirty = w->dirty;
        w->dirty = c;
    }
}

static void lchan_free(struct lchan *lc)
{
    pool_free(lc->members, (size_t)lc->cap * sizeof lc->members[0]);
    pool_free(lc, sizeof *lc);
}

static struct lchan *lchan_find(struct worker *w, uint64_t id)
{
    struct lchan *lc = NULL;
    HASH_FIND(hh, w->lchans, &id, sizeof id, lc);
    return lc;
}

static void lchan_add(struct worker *w, uint64_t id, struct client *c)
{
    struct lchan *lc = lchan_find(w, id);
    if (!lc) {
        lc = pool_alloc(sizeof *lc);
        if (!lc)
            goto oom;
        lc->id = id;
        HASH_ADD(hh, w->lchans, id, sizeof lc->id, lc);
    }
    if (lc->n == lc->cap) {
        int ncap = lc->cap ? lc->cap * 2 : 8;
        struct client **n =
            pool_realloc(lc->members, (size_t)lc->cap * sizeof *n, (size_t)ncap * sizeof *n);
        if (!n)
            goto oom;
        lc->members = n;
        lc->cap = ncap;
    }
    lc->members[lc->n++] = c;
    return;
oom:
    /* The member would silently miss the channel's traffic: better to drop it visibly. */
    log_error("out of memory adding a member to a channel replica");
    conn_close_later(c, "Out of memory");
}

static void lchan_remove(struct worker *w, uint64_t id, struct client *c)
{
    struct lchan *lc = lchan_find(w, id);
    if (!lc)
        return;
    for (int i = 0; i < lc->n; i++) {
        if (lc->members[i] == c) {
            /* Order within a replica does not matter: swap-remove. */
            lc->members[i] = lc->members[--lc->n];
            break;
        }
    }
    if (lc->n == 0) {
        HASH_DEL(w->lchans, lc);
        lchan_free(lc);
    }
}

/* Sends m once to every local member of the listed channels but skip. */
static void send_union(struct worker *w, const struct mb_item *it, uint64_t skip)
{
    uint64_t gen = ++w->gen;
    for (int k = 0; k < it->nchans; k++) {
        struct lchan *lc = lchan_find(w, it->chans[k]);
        for (int i = 0; lc && i < lc->n; i++) {
            struct client *c = lc->members[i];
            if (c->mark != gen && c->id != skip) {
                c->mark = gen;
                conn_send_event(c, it->ev);
            }
        }
    }
}

static void announce(struct worker *w, const char *text)
{
    struct client *c, *tmp;
    HASH_ITER(hh, w->clients, c, tmp)
    {
        if (!c->dead)
            send_server_line(c, "NOTICE %s :%s", c->nick[0] ? c->nick : "*", text);
    }
}

/* WALLOPS: to every local user with user mode +w. */
static void wallops(struct worker *w, struct event *ev)
{
    struct client *c, *tmp;
    HASH_ITER(hh, w->clients, c, tmp)
    {
        if (!c->dead && c->registered && c->wallops)
            conn_send_event(c, ev);
    }
}

static void handle_item(struct worker *w, struct mb_item *it)
{
    struct client *target = NULL;
    if (it->target_worker == w->index)
        target = worker_find_client(w, it->target);
    switch (it->kind) {
    case MB_CHAN_MSG: {
        struct lchan *lc = lchan_find(w, it->chans[0]);
        for (int i = 0; lc && i < lc->n; i++) {
            if (lc->members[i]->id != it->skip)
                conn_send_event(lc->members[i], it->ev);
        }
        break;
    }
    case MB_JOIN: {
        if (target)
            lchan_add(w, it->chans[0], target);
        struct lchan *lc = lchan_find(w, it->chans[0]);
        for (int i = 0; lc && i < lc->n; i++) {
            if (lc->members[i]->id != it->skip)
                conn_send_event(lc->members[i], it->ev);
        }
        break;
    }
    case MB_PART: {
        struct lchan *lc = lchan_find(w, it->chans[0]);
        for (int i = 0; lc && i < lc->n; i++)
            conn_send_event(lc->members[i], it->ev);
        if (target)
            lchan_remove(w, it->chans[0], target);
        break;
    }
    case MB_KICK: {
        struct lchan *lc = lchan_find(w, it->chans[0]);
        for (int i = 0; lc && i < lc->n; i++)
            conn_send_event(lc->members[i], it->ev);
        if (target) {
            lchan_remove(w, it->chans[0], target);
            chan_kicked(target, it->chans[0]);
        }
        break;
    }
    case MB_QUIT:
        if (it->ev)
            send_union(w, it, it->target);
        if (target) {
            for (int k = 0; k < it->nchans; k++)
                lchan_remove(w, it->chans[k], target);
            /* Every item about this client that this worker will ever see is behind us. */
            target->next_free = w->to_free;
            w->to_free = target;
        }
        break;
    case MB_NICK:
        send_union(w, it, it->skip);
        if (target && target->mark != w->gen)
            conn_send_event(target, it->ev);
        break;
    case MB_PRIVATE:
        target = worker_find_client(w, it->target);
        if (target)
            conn_send_event(target, it->ev);
        break;
    case MB_ACCOUNT:
        target = worker_find_client(w, it->target);
        if (target && !target->dead)
            cmd_account_result(target, it->op, it->text, it->result);
        break;
    case MB_REPLY:
        target = worker_find_client(w, it->target);
        if (target && it->extra)
            conn_send(target, it->extra);
        break;
    case MB_ANNOUNCE:
        announce(w, it->text);
        break;
    case MB_NEW_CONN: {
        struct client *c = conn_create(w, it->fd, it->text ? it->text : "unknown", it->ip_counted);
        if (!c) {
            /* Refused for want of memory: the acceptor's counts are given back here. */
            atomic_fetch_sub(&w->srv->nclients, 1);
            if (it->ip_counted)
                iplimit_release(it->text ? it->text : "unknown");
        } else if (it->tls) {
            conn_start_tls(c);
        }
        it->fd = -1; /* conn_create owns it now, even on failure */
        break;
    }
    case MB_SHUTDOWN:
        w->stopping = 1;
        break;
    case MB_KILL:
        if (target)
            conn_close_later(target, it->text);
        break;
    case MB_WALLOPS:
        wallops(w, it->ev);
        break;
    case MB_REHASH:
        rehash_park(w->srv, it->target);
        break;
    }
}

/* Runs every queued item; returns how many. */
static int drain_mailbox(struct worker *w)
{
    int n = 0;
    struct mb_item *it = mailbox_take(&w->mb);
    while (it) {
        struct mb_item *next = it->next;
        handle_item(w, it);
        mailbox_item_free(it);
        it = next;
        n++;
    }
    return n;
}

/* Output pacing: the verdict for the next window. A hold pays only if, while it waits, more
 * lines come for the clients held: if at least FLUSH_MERGE_SHARE_PCT % of the new writes of
 * the window came soon after the same client's previous line. */
static void pace_window(struct worker *w)
{
    w->pace_merging =
        w->pace_starts > 0 && w->pace_close * 100 >= w->pace_starts * FLUSH_MERGE_SHARE_PCT;
    w->pace_starts = w->pace_close = 0;
    w->pace_since_ms = w->now_ms;
}

/* Output pacing (defines.h): 1 if this turn's flush waits. It never waits for a close, a
 * free or a client paused by its send queue, and a client that sent a command is flushed at
 * once all the same (a person waits for that answer; only what others said waits). A hold,
 * once started, ends at hold_until_ms. */
static int hold_flush(struct worker *w)
{
    if (!w->dirty || w->closing || w->to_free || w->stalled) {
        w->hold_until_ms = 0;
        return 0;
    }
    if (!w->hold_until_ms) {
        if (!w->big_flush_ms || w->now_ms - w->big_flush_ms >= FLUSH_BUSY_MS)
            return 0;
        if (!w->pace_merging)
            return 0;
        w->hold_until_ms = w->now_ms + FLUSH_HOLD_MS;
    }
    if (w->now_ms >= w->hold_until_ms) {
        w->hold_until_ms = 0;
        return 0;
    }
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
        drain_mailbox(w);
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
    }
    if (flushed >= FLUSH_BIG_CLIENTS)
        w->big_flush_ms = w->now_ms;
    w->hold_until_ms = 0;
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
    }
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
        struct epoll_event evs[EPOLL_BATCH];
        int n = epoll_wait(w->epfd, evs, EPOLL_BATCH, (int)(deadline - now));
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr && (evs[i].events & EPOLLOUT))
                conn_on_writable(evs[i].data.ptr);
        }
    }
    HASH_ITER(hh, w->clients, c, tmp)
    {
        conn_hangup(c);
    }
}

int worker_drain(struct worker *w)
{
    int n = drain_mailbox(w);
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
    struct epoll_event evs[EPOLL_BATCH];
    w->now_ms = worker_clock_ms();
    w->next_tick_ms = w->now_ms + TICK_MS;
    while (!w->stopping) {
        int timeout = w->next_tick_ms > w->now_ms ? (int)(w->next_tick_ms - w->now_ms) : 0;
        if (w->stalled && timeout > STALL_TICK_MS)
            timeout = STALL_TICK_MS;
        if (w->hold_until_ms) {
            int left = w->hold_until_ms > w->now_ms ? (int)(w->hold_until_ms - w->now_ms) : 0;
            if (timeout > left)
                timeout = left;
        }
        int n = epoll_wait(w->epfd, evs, EPOLL_BATCH, timeout);
        if (n < 0 && errno != EINTR) {
            log_error("worker %d: epoll_wait: %s", w->index, strerror(errno));
            break;
        }
        w->now_ms = worker_clock_ms();
        for (int i = 0; i < n; i++) {
            struct client *c = evs[i].data.ptr;
            if (!c) {
                drain_mailbox(w);
                continue;
            }
            if (c->dead)
                continue;
            if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                conn_on_readable(c, (evs[i].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0);
            if (evs[i].events & EPOLLOUT)
                conn_on_writable(c);
        }
        if (w->stalled)
            resume_stalled(w);
        if (w->now_ms - w->pace_since_ms >= FLUSH_PACE_WINDOW_MS)
            pace_window(w);
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
    struct lchan *lc, *ltmp;
    HASH_ITER(hh, w->lchans, lc, ltmp)
    {
        /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): false positive, delete in HASH_ITER */
        HASH_DEL(w->lchans, lc);
        lchan_free(lc);
    }
    mailbox_destroy(&w->mb);
    close(w->epfd);
}

void worker_post_new_conn(struct worker *w, int fd, const char *host, int ip_counted, int tls)
{
    struct mb_item *it = mailbox_item_new(MB_NEW_CONN, 0);
    char *h = strdup(host);
    if (!it || !h) {
        free(it);
        free(h);
        close(fd);
        atomic_fetch_sub(&w->srv->nclients, 1);
        if (ip_counted)
            iplimit_release(host);
        return;
    }
    it->fd = fd;
    it->text = h;
    it->ip_counted = ip_counted;
    it->tls = tls;
    mailbox_post(&w->mb, it);
}

void worker_post_event(struct server *srv, int worker, uint64_t id, struct event *ev)
{
    struct mb_item *it = mailbox_item_new(MB_PRIVATE, 0);
    if (!it)
        return;
    it->ev = event_ref(ev);
    it->target = id;
    it->target_worker = worker;
    history_post(srv, worker, it);
}

void worker_post_announce(struct server *srv, const char *text)
{
    for (int i = 0; i < srv->nworkers; i++) {
        struct mb_item *it = mailbox_item_new(MB_ANNOUNCE, 0);
        if (!it || !(it->text = strdup(text))) {
            free(it);
            continue;
        }
        history_post(srv, i, it); /* after whatever was said before it */
    }
}

void worker_post_kill(struct server *srv, int worker, uint64_t id, const char *reason)
{
    struct mb_item *it = mailbox_item_new(MB_KILL, 0);
    if (!it || !(it->text = strdup(reason))) {
        free(it);
        return;
    }
    it->target = id;
    it->target_worker = worker;
    history_post(srv, worker, it); /* after the KILL line queued for the victim */
}

void worker_post_wallops(struct server *srv, struct event *ev)
{
    for (int i = 0; i < srv->nworkers; i++) {
        struct mb_item *it = mailbox_item_new(MB_WALLOPS, 0);
        if (!it)
            continue;
        it->ev = event_ref(ev);
        history_post(srv, i, it);
    }
}

void worker_post_shutdown(struct worker *w)
{
    struct mb_item *it = mailbox_item_new(MB_SHUTDOWN, 0);
    if (it) {
        mailbox_post(&w->mb, it);
    } else {
        w->stopping = 1; /* racy but harmless fallback: the loop wakes within a tick */
    }
}
