/* rehash: config reload with every worker parked (see rehash.h for why). The park is a
 * generation-numbered gate: a worker whose park call comes after the gate was given up on
 * (timeout, out of memory) sees a newer generation or an open gate and goes straight on. */
#include "rehash.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "common/ircname.h"
#include "common/log.h"
#include "config.h"
#include "event.h"
#include "fanout.h"
#include "server.h"
#include "tls.h"
#include "worker.h"

struct rehash_waiter {
    int worker;
    uint64_t id;
    char nick[IRC_NICK_MAX + 1];
};

struct rehash {
    int argc;
    char **argv;
    int efd; /* written by rehash_request, read by the main thread */

    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t cond;  /* parked, open or gen changed */
    uint64_t gen;         /* the current gate; items carry the one they were posted for */
    int parked;           /* workers waiting at the gate */
    int open;             /* the swap is done (or given up): parked workers may go */
    struct rehash_waiter waiting[REHASH_WAITING_MAX];
    int nwaiting;
};

int rehash_init(struct server *srv, int argc, char **argv)
{
    struct rehash *rh = calloc(1, sizeof *rh);
    if (!rh)
        return -1;
    rh->argc = argc;
    rh->argv = argv;
    rh->open = 1;
    rh->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int ok = rh->efd >= 0 && pthread_cond_init(&rh->cond, &ca) == 0;
    pthread_condattr_destroy(&ca);
    if (!ok) {
        if (rh->efd >= 0)
            close(rh->efd);
        free(rh);
        return -1;
    }
    pthread_mutex_init(&rh->lock, NULL);
    srv->rehash = rh;
    return 0;
}

void rehash_free(struct server *srv)
{
    struct rehash *rh = srv->rehash;
    if (!rh)
        return;
    close(rh->efd);
    pthread_cond_destroy(&rh->cond);
    pthread_mutex_destroy(&rh->lock);
    free(rh);
    srv->rehash = NULL;
}

int rehash_fd(const struct server *srv)
{
    return srv->rehash->efd;
}

void rehash_request(struct server *srv, int worker, uint64_t id, const char *nick)
{
    struct rehash *rh = srv->rehash;
    pthread_mutex_lock(&rh->lock);
    if (rh->nwaiting < REHASH_WAITING_MAX) {
        struct rehash_waiter *wt = &rh->waiting[rh->nwaiting++];
        wt->worker = worker;
        wt->id = id;
        snprintf(wt->nick, sizeof wt->nick, "%s", nick);
    }
    pthread_mutex_unlock(&rh->lock);
    uint64_t one = 1;
    ssize_t n = write(rh->efd, &one, sizeof one);
    (void)n; /* EAGAIN only when the counter is full, and then a rehash is pending anyway */
}

/* On each worker's thread, posted by swap_parked with the gate's generation: waits until the
 * settings are swapped. */
static void park(struct worker *w, uint64_t gen)
{
    struct rehash *rh = w->srv->rehash;
    if (!rh)
        return;
    pthread_mutex_lock(&rh->lock);
    if (gen == rh->gen && !rh->open) {
        rh->parked++;
        pthread_cond_broadcast(&rh->cond);
        while (gen == rh->gen && !rh->open)
            pthread_cond_wait(&rh->cond, &rh->lock);
        rh->parked--;
        pthread_cond_broadcast(&rh->cond);
    }
    pthread_mutex_unlock(&rh->lock);
}

/* Parks every worker, moves fresh's reloadable settings into srv->cfg (and *tls_ctx, when
 * not NULL, into srv->tls_ctx: *tls_ctx gets the old one), releases them. Returns 0, or -1 if
 * the workers could not all be parked (nothing changed then). */
static int swap_parked(struct server *srv, struct config *fresh, struct ssl_ctx_st **tls_ctx)
{
    struct rehash *rh = srv->rehash;
    pthread_mutex_lock(&rh->lock);
    uint64_t gen = ++rh->gen;
    rh->open = 0;
    pthread_mutex_unlock(&rh->lock);

    int rc = 0;
    for (int i = 0; i < srv->nworkers && rc == 0; i++)
        rc = fanout_call_worker(srv, i, park, gen);

    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += REHASH_PAUSE_MS / 1000;
    deadline.tv_nsec += (long)(REHASH_PAUSE_MS % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&rh->lock);
    while (rc == 0 && rh->parked < srv->nworkers) {
        if (pthread_cond_timedwait(&rh->cond, &rh->lock, &deadline) == ETIMEDOUT)
            rc = -1;
    }
    if (rc == 0) {
        config_take_reloadable(&srv->cfg, fresh);
        log_set_level(srv->cfg.log_level);
        log_set_format(srv->cfg.log_format);
        if (*tls_ctx) {
            struct ssl_ctx_st *old = srv->tls_ctx;
            srv->tls_ctx = *tls_ctx;
            *tls_ctx = old;
        }
    }
    rh->open = 1;
    pthread_cond_broadcast(&rh->cond);
    /* The next rehash must not start while some worker is still leaving this gate. */
    while (rh->parked > 0)
        pthread_cond_wait(&rh->cond, &rh->lock);
    pthread_mutex_unlock(&rh->lock);
    return rc;
}

/* Tells everyone who sent REHASH since the last run how it went. */
static void tell_waiting(struct server *srv, const char *outcome)
{
    struct rehash *rh = srv->rehash;
    struct rehash_waiter waiting[REHASH_WAITING_MAX];
    pthread_mutex_lock(&rh->lock);
    int n = rh->nwaiting;
    memcpy(waiting, rh->waiting, (size_t)n * sizeof waiting[0]);
    rh->nwaiting = 0;
    pthread_mutex_unlock(&rh->lock);
    for (int i = 0; i < n; i++) {
        struct event *ev =
            event_new(NULL, ":%s NOTICE %s :%s", srv->cfg.server_name, waiting[i].nick, outcome);
        if (ev)
            fanout_to_client(srv, waiting[i].worker, waiting[i].id, ev);
        event_unref(ev);
    }
}

/* A new TLS context from fresh's certificate and key, built before the workers are parked
 * (reading and checking them is the slow part). NULL when the server has no TLS port, or
 * with the reason in why on error. */
static struct ssl_ctx_st *reload_tls(const struct server *srv, const struct config *fresh,
                                     char *why, size_t whylen)
{
    if (!srv->tls_ctx)
        return NULL; /* the TLS port opens only at start */
    if (!fresh->tls_cert) {
        snprintf(why, whylen, "the TLS port is open: tls-cert and tls-key are still needed");
        return NULL;
    }
    return tls_ctx_new(fresh->tls_cert, fresh->tls_key, why, whylen);
}

int rehash_run(struct server *srv)
{
    struct rehash *rh = srv->rehash;
    uint64_t count;
    ssize_t n = read(rh->efd, &count, sizeof count); /* clears the wake-up, if any */
    (void)n;
    struct config fresh;
    char outcome[CONFIG_ERROR_MAX + 64];
    char why[CONFIG_ERROR_MAX] = "";
    struct ssl_ctx_st *tls_ctx = NULL;
    int rc = -1;
    if (config_load(&fresh, rh->argc, rh->argv) != CONFIG_OK) {
        snprintf(outcome, sizeof outcome, "Rehash failed, settings unchanged: %s", fresh.error);
        log_error("%s", outcome);
    } else if (!(tls_ctx = reload_tls(srv, &fresh, why, sizeof why)) && why[0]) {
        snprintf(outcome, sizeof outcome, "Rehash failed, settings unchanged: %s", why);
        log_error("%s", outcome);
    } else if (swap_parked(srv, &fresh, &tls_ctx) < 0) {
        snprintf(outcome, sizeof outcome, "Rehash failed: the workers could not be paused");
        log_error("%s", outcome);
    } else {
        snprintf(outcome, sizeof outcome, "Rehash done: %s reloaded",
                 srv->cfg.config_path ? srv->cfg.config_path : "MOTD");
        log_info("%s (%d operators)", outcome, srv->cfg.nopers);
        if (srv->tls_ctx)
            log_info("TLS certificate %s reloaded", srv->cfg.tls_cert);
        rc = 0;
    }
    tls_ctx_free(tls_ctx); /* the replaced context, or the unused new one */
    config_free(&fresh);
    tell_waiting(srv, outcome);
    return rc;
}
