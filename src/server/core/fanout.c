/* fanout: events to workers, as mailbox items. */
#include "fanout.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "iplimit.h"
#include "server.h"
#include "worker.h"

/* An item of kind with a reference to ev (NULL allowed) and the channel ids; NULL, logged,
 * without memory: its event is then lost for that worker's clients, there being nothing
 * better to do while the caller holds locks. */
static struct mb_item *item(int w, enum mb_kind kind, struct event *ev, const uint64_t *chans,
                            int nchans)
{
    struct mb_item *it = mailbox_item_new(kind, nchans);
    if (!it) {
        log_error("out of memory posting to worker %d", w);
        return NULL;
    }
    it->ev = ev ? event_ref(ev) : NULL;
    if (nchans)
        memcpy(it->chans, chans, (size_t)nchans * sizeof chans[0]);
    return it;
}

/* Straight into worker w's mailbox. */
static void post_now(struct server *srv, int w, struct mb_item *it)
{
    mailbox_post_chain(&srv->workers[w].mb, it, it);
}

/* Through the ordering gate, if there is one. */
static void post(struct server *srv, int w, struct mb_item *it)
{
    if (srv->gate.fn && srv->gate.fn(srv->gate.arg, w, it))
        return;
    post_now(srv, w, it);
}

void fanout_set_gate(struct server *srv, fanout_gate_fn *fn, void *arg)
{
    srv->gate.fn = fn;
    srv->gate.arg = arg;
}

void fanout_release(struct server *srv, int worker, struct mb_item *first, struct mb_item *last)
{
    mailbox_post_chain(&srv->workers[worker].mb, first, last);
}

/* One item per worker with members in ch (but a worker whose only member is skipped). */
static void to_members(struct server *srv, const struct fanout_chan *ch, enum mb_kind kind,
                       struct event *ev, uint64_t skip, int skip_worker, uint64_t target,
                       int target_worker, mb_kicked_fn *kicked)
{
    for (int w = 0; w < srv->nworkers; w++) {
        if (ch->wcount[w] <= (w == skip_worker ? 1u : 0u))
            continue;
        struct mb_item *it = item(w, kind, ev, &ch->id, 1);
        if (!it)
            continue;
        it->skip = skip;
        it->target = target;
        it->target_worker = target_worker;
        it->fn.kicked = kicked;
        post(srv, w, it);
    }
}

void fanout_chan_event(struct server *srv, const struct fanout_chan *ch, struct event *ev,
                       uint64_t skip, int skip_worker)
{
    to_members(srv, ch, MB_CHAN, ev, skip, skip_worker, 0, -1, NULL);
}

void fanout_chan_join(struct server *srv, const struct fanout_chan *ch, struct event *ev,
                      uint64_t joiner, int joiner_worker)
{
    /* The joiner's own worker adds it to its replica and skips it; the others relay. */
    for (int w = 0; w < srv->nworkers; w++) {
        if (ch->wcount[w] == 0)
            continue;
        struct mb_item *it = item(w, MB_JOIN, ev, &ch->id, 1);
        if (!it)
            continue;
        it->skip = w == joiner_worker ? joiner : 0;
        it->target = joiner;
        it->target_worker = joiner_worker;
        post(srv, w, it);
    }
}

void fanout_chan_part(struct server *srv, const struct fanout_chan *ch, struct event *ev,
                      uint64_t who, int who_worker)
{
    to_members(srv, ch, MB_PART, ev, 0, -1, who, who_worker, NULL);
}

void fanout_chan_kick(struct server *srv, const struct fanout_chan *ch, struct event *ev,
                      uint64_t who, int who_worker, mb_kicked_fn *kicked)
{
    to_members(srv, ch, MB_KICK, ev, 0, -1, who, who_worker, kicked);
}

void fanout_chan_each(struct server *srv, const struct fanout_chan *ch, mb_member_fn *fn,
                      struct event *ev, const char *text)
{
    for (int w = 0; w < srv->nworkers; w++) {
        if (ch->wcount[w] == 0)
            continue;
        struct mb_item *it = item(w, MB_EACH, ev, &ch->id, 1);
        if (!it)
            continue;
        it->fn.member = fn;
        if (text && !(it->text = strdup(text))) {
            log_error("out of memory posting to worker %d", w);
            mailbox_item_free(it);
            continue;
        }
        post(srv, w, it);
    }
}

/* One item per worker of the span. */
static void to_span(struct server *srv, const struct fanout_span *s, enum mb_kind kind,
                    struct event *ev, uint64_t skip, uint64_t target, int target_worker)
{
    for (int w = 0; w < srv->nworkers; w++) {
        if (!s->workers[w])
            continue;
        struct mb_item *it = item(w, kind, ev, s->ids, s->n);
        if (!it)
            continue;
        it->skip = skip;
        it->target = target;
        it->target_worker = target_worker;
        post(srv, w, it);
    }
}

void fanout_peers_each(struct server *srv, const struct fanout_span *s, mb_member_fn *fn,
                       struct event *ev, const char *text, uint64_t skip)
{
    for (int w = 0; w < srv->nworkers; w++) {
        if (!s->workers[w])
            continue;
        struct mb_item *it = item(w, MB_PEERS_EACH, ev, s->ids, s->n);
        if (!it)
            continue;
        it->fn.member = fn;
        it->skip = skip;
        if (text && !(it->text = strdup(text))) {
            log_error("out of memory posting to worker %d", w);
            mailbox_item_free(it);
            continue;
        }
        post(srv, w, it);
    }
}

void fanout_user_quit(struct server *srv, const struct fanout_span *s, struct event *ev,
                      uint64_t who, int who_worker)
{
    to_span(srv, s, MB_QUIT, ev, 0, who, who_worker);
}

void fanout_user_peers(struct server *srv, const struct fanout_span *s, struct event *ev,
                       uint64_t skip, uint64_t also, int also_worker)
{
    to_span(srv, s, MB_PEERS, ev, skip, also, also ? also_worker : -1);
}

void fanout_to_client(struct server *srv, int worker, uint64_t id, struct event *ev)
{
    if (worker >= WORKER_REMOTE) { /* a user on another node: through the cluster */
        if (srv->remote.to_client)
            srv->remote.to_client(srv->remote.arg, worker - WORKER_REMOTE, id, ev);
        return;
    }
    struct mb_item *it = item(worker, MB_PRIVATE, ev, NULL, 0);
    if (!it)
        return;
    it->target = id;
    it->target_worker = worker;
    post(srv, worker, it);
}

void fanout_reply(struct server *srv, int worker, uint64_t id, struct msg *m)
{
    struct mb_item *it = item(worker, MB_REPLY, NULL, NULL, 0);
    if (!it) {
        msg_unref(m);
        return;
    }
    it->extra = m;
    it->target = id;
    it->target_worker = worker;
    post_now(srv, worker, it); /* it is what the gate waits for */
}

void fanout_call(struct server *srv, int worker, uint64_t id, mb_client_fn *fn, int op, int result,
                 const char *text)
{
    struct mb_item *it = item(worker, MB_CALL, NULL, NULL, 0);
    if (!it || !(it->text = strdup(text))) {
        free(it);
        return;
    }
    it->target = id;
    it->target_worker = worker;
    it->fn.client = fn;
    it->op = op;
    it->result = result;
    post_now(srv, worker, it);
}

void fanout_kill(struct server *srv, int worker, uint64_t id, const char *reason)
{
    if (worker >= WORKER_REMOTE) {
        if (srv->remote.kill)
            srv->remote.kill(srv->remote.arg, worker - WORKER_REMOTE, id, reason);
        return;
    }
    struct mb_item *it = item(worker, MB_KILL, NULL, NULL, 0);
    if (!it || !(it->text = strdup(reason))) {
        free(it);
        return;
    }
    it->target = id;
    it->target_worker = worker;
    post(srv, worker, it); /* after the KILL line queued for the victim */
}

void fanout_announce(struct server *srv, const char *text)
{
    for (int w = 0; w < srv->nworkers; w++) {
        struct mb_item *it = item(w, MB_ANNOUNCE, NULL, NULL, 0);
        if (!it || !(it->text = strdup(text))) {
            free(it);
            continue;
        }
        post(srv, w, it); /* after whatever was said before it */
    }
}

void fanout_wallops(struct server *srv, struct event *ev)
{
    for (int w = 0; w < srv->nworkers; w++) {
        struct mb_item *it = item(w, MB_WALLOPS, ev, NULL, 0);
        if (it)
            post(srv, w, it);
    }
}

int fanout_call_worker(struct server *srv, int worker, mb_worker_fn *fn, uint64_t arg)
{
    struct mb_item *it = item(worker, MB_CALL_WORKER, NULL, NULL, 0);
    if (!it)
        return -1;
    it->fn.worker = fn;
    it->arg = arg;
    post_now(srv, worker, it);
    return 0;
}

void fanout_new_conn(struct server *srv, int worker, int fd, const char *host, int ip_counted,
                     int how)
{
    struct mb_item *it = item(worker, MB_NEW_CONN, NULL, NULL, 0);
    char *h = strdup(host);
    if (!it || !h) {
        free(it);
        free(h);
        close(fd);
        atomic_fetch_sub(&srv->nclients, 1);
        if (ip_counted)
            iplimit_release(host);
        return;
    }
    it->fd = fd;
    it->text = h;
    it->ip_counted = ip_counted;
    it->how = how;
    post_now(srv, worker, it);
}

void fanout_shutdown(struct server *srv, int worker)
{
    struct mb_item *it = item(worker, MB_SHUTDOWN, NULL, NULL, 0);
    if (it)
        post_now(srv, worker, it);
    else
        srv->workers[worker].stopping = 1; /* racy but harmless: the loop wakes within a tick */
}
