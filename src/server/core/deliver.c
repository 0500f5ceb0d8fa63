/* deliver: one mailbox item at a time, on its worker. */
#include "deliver.h"

#include "client.h"
#include "common/log.h"
#include "conn.h"
#include "fanout.h"
#include "iplimit.h"
#include "mailbox.h"
#include "replica.h"
#include "send.h"
#include "server.h"
#include "web.h"
#include "worker.h"

/* ev to every local member of channel id but skip. */
static void to_replica(struct worker *w, uint64_t id, struct event *ev, uint64_t skip)
{
    struct replica *r = replica_find(w, id);
    for (int i = 0; r && i < r->n; i++) {
        if (r->members[i]->id != skip)
            conn_deliver_event(r->members[i], ev);
    }
}

/* ev once to every local member of any of the item's channels but skip. */
static void to_union(struct worker *w, const struct mb_item *it, uint64_t skip)
{
    uint64_t gen = ++w->gen;
    for (int k = 0; k < it->nchans; k++) {
        struct replica *r = replica_find(w, it->chans[k]);
        for (int i = 0; r && i < r->n; i++) {
            struct client *c = r->members[i];
            if (c->mark != gen && c->id != skip) {
                c->mark = gen;
                conn_deliver_event(c, it->ev);
            }
        }
    }
}

/* fn once for every local member of any of the item's channels but skip. */
static void each_union(struct worker *w, const struct mb_item *it)
{
    uint64_t gen = ++w->gen;
    for (int k = 0; k < it->nchans; k++) {
        struct replica *r = replica_find(w, it->chans[k]);
        for (int i = 0; r && i < r->n; i++) {
            struct client *c = r->members[i];
            if (c->mark != gen && c->id != it->skip) {
                c->mark = gen;
                it->fn.member(c, 0, it->ev, it->text);
            }
        }
    }
}

static void join(struct worker *w, uint64_t id, struct client *c)
{
    if (replica_add(w, id, c) < 0) {
        /* The member would silently miss the channel's traffic: better to drop it visibly. */
        log_error("out of memory adding a member to a channel replica");
        conn_close_later(c, "Out of memory");
    }
}

static void announce(struct worker *w, const char *text)
{
    struct client *c, *tmp;
    HASH_ITER(hh, w->clients, c, tmp)
    {
        /* Not to a web connection still speaking HTTP: the line would go before its
         * response (a /metrics scrape got the cluster's "degraded" notice so). */
        if (!c->dead && !web_http(c))
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
            conn_deliver_event(c, ev);
    }
}

static void new_conn(struct worker *w, struct mb_item *it)
{
    const char *host = it->text ? it->text : "unknown";
    struct client *c = conn_create(w, it->fd, host, it->ip_counted);
    it->fd = -1; /* conn_create owns it now, even on failure */
    if (!c) {
        /* Refused for want of memory: the acceptor's counts are given back here. */
        atomic_fetch_sub(&w->srv->nclients, 1);
        if (it->ip_counted)
            iplimit_release(host);
    } else {
        if ((!(it->how & CONN_TLS) || conn_start_tls(c) == 0) && (it->how & CONN_WEB))
            web_start(c);
        conn_log_opened(c);
    }
}

static void deliver(struct worker *w, struct mb_item *it)
{
    /* The client the item is about, when it lives here. */
    struct client *target =
        it->target_worker == w->index ? worker_find_client(w, it->target) : NULL;
    switch (it->kind) {
    case MB_CHAN:
        to_replica(w, it->chans[0], it->ev, it->skip);
        break;
    case MB_JOIN:
        if (target)
            join(w, it->chans[0], target);
        to_replica(w, it->chans[0], it->ev, it->skip);
        break;
    case MB_PART:
    case MB_KICK:
        to_replica(w, it->chans[0], it->ev, 0);
        if (target) {
            replica_remove(w, it->chans[0], target);
            if (it->kind == MB_KICK)
                it->fn.kicked(target, it->chans[0]);
        }
        break;
    case MB_EACH: {
        struct replica *r = replica_find(w, it->chans[0]);
        for (int i = 0; r && i < r->n; i++)
            it->fn.member(r->members[i], it->chans[0], it->ev, it->text);
        break;
    }
    case MB_QUIT:
        if (it->ev)
            to_union(w, it, it->target);
        if (target) {
            for (int k = 0; k < it->nchans; k++)
                replica_remove(w, it->chans[k], target);
            /* Every item about this client that this worker will ever see is behind us. */
            worker_free_later(w, target);
        }
        break;
    case MB_PEERS:
        to_union(w, it, it->skip);
        if (target && target->mark != w->gen)
            conn_deliver_event(target, it->ev);
        break;
    case MB_PEERS_EACH:
        each_union(w, it);
        break;
    case MB_PRIVATE:
        if (target)
            conn_deliver_event(target, it->ev);
        break;
    case MB_REPLY:
        if (target && it->extra)
            conn_send(target, it->extra);
        break;
    case MB_CALL:
        if (target && !target->dead)
            it->fn.client(target, it->op, it->result, it->text);
        break;
    case MB_CALL_WORKER:
        it->fn.worker(w, it->arg);
        break;
    case MB_ANNOUNCE:
        announce(w, it->text);
        break;
    case MB_WALLOPS:
        wallops(w, it->ev);
        break;
    case MB_KILL:
        if (target)
            conn_close_later(target, it->text);
        break;
    case MB_NEW_CONN:
        new_conn(w, it);
        break;
    case MB_SHUTDOWN:
        w->stopping = 1;
        break;
    }
}

int deliver_mailbox(struct worker *w)
{
    int n = 0;
    size_t cost = 0;
    struct mb_item *it = mailbox_take(&w->mb);
    while (it) {
        struct mb_item *next = it->next;
        deliver(w, it);
        cost += it->cost;
        mailbox_item_free(it);
        it = next;
        n++;
    }
    mailbox_done(&w->mb, cost);
    return n;
}
