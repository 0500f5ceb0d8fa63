/* mailbox: a mutex-guarded FIFO plus an eventfd to wake the owning worker. */
#include "mailbox.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

int mailbox_init(struct mailbox *mb, atomic_llong *backlog)
{
    mb->head = mb->tail = NULL;
    mb->backlog = backlog;
    mb->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (mb->efd < 0)
        return -1;
    if (pthread_mutex_init(&mb->lock, NULL) != 0) {
        close(mb->efd);
        return -1;
    }
    return 0;
}

void mailbox_destroy(struct mailbox *mb)
{
    struct mb_item *it = mb->head;
    size_t cost = 0;
    while (it) {
        struct mb_item *next = it->next;
        cost += it->cost;
        mailbox_item_free(it);
        it = next;
    }
    mailbox_done(mb, cost);
    mb->head = mb->tail = NULL;
    close(mb->efd);
    pthread_mutex_destroy(&mb->lock);
}

struct mb_item *mailbox_item_new(enum mb_kind kind, int nchans)
{
    struct mb_item *it = calloc(1, sizeof *it + (size_t)nchans * sizeof it->chans[0]);
    if (!it)
        return NULL;
    it->kind = kind;
    it->target_worker = -1;
    it->fd = -1;
    it->nchans = nchans;
    return it;
}

void mailbox_item_free(struct mb_item *it)
{
    event_unref(it->ev);
    msg_unref(it->extra);
    if (it->kind == MB_NEW_CONN && it->fd >= 0)
        close(it->fd); /* never handed to a worker (shutdown) */
    free(it->text);
    free(it);
}

/* The bytes an item holds, about: itself, its event, its lines, its text. */
static size_t item_cost(const struct mb_item *it)
{
    size_t n = sizeof *it + (size_t)it->nchans * sizeof it->chans[0];
    if (it->ev)
        n += event_cost(it->ev);
    if (it->extra)
        n += sizeof *it->extra + it->extra->len;
    if (it->text)
        n += strlen(it->text) + 1;
    return n;
}

void mailbox_post_chain(struct mailbox *mb, struct mb_item *first, struct mb_item *last)
{
    last->next = NULL;
    long long cost = 0;
    for (struct mb_item *it = first; it; it = it->next) {
        it->cost = item_cost(it);
        cost += (long long)it->cost;
    }
    atomic_fetch_add_explicit(mb->backlog, cost, memory_order_relaxed);
    pthread_mutex_lock(&mb->lock);
    int was_empty = mb->head == NULL;
    if (mb->tail)
        mb->tail->next = first;
    else
        mb->head = first;
    mb->tail = last;
    pthread_mutex_unlock(&mb->lock);
    /* One wake-up per batch: while the list is non-empty the owner has a wake-up pending. */
    if (was_empty) {
        uint64_t one = 1;
        while (write(mb->efd, &one, sizeof one) < 0 && errno == EINTR)
            ;
    }
}

void mailbox_done(struct mailbox *mb, size_t cost)
{
    if (cost)
        atomic_fetch_sub_explicit(mb->backlog, (long long)cost, memory_order_relaxed);
}

struct mb_item *mailbox_take(struct mailbox *mb)
{
    /* Read the eventfd before taking the list: an item posted after the take then finds the
     * list empty and writes a fresh wake-up, so none is lost. */
    uint64_t v;
    while (read(mb->efd, &v, sizeof v) < 0 && errno == EINTR)
        ;
    pthread_mutex_lock(&mb->lock);
    struct mb_item *list = mb->head;
    mb->head = mb->tail = NULL;
    pthread_mutex_unlock(&mb->lock);
    return list;
}
