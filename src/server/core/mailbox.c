/* mailbox: a mutex-guarded FIFO plus an eventfd to wake the owning worker. */
#include "mailbox.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

int mailbox_init(struct mailbox *mb)
{
    mb->head = mb->tail = NULL;
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
    while (it) {
        struct mb_item *next = it->next;
        mailbox_item_free(it);
        it = next;
    }
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

void mailbox_post_chain(struct mailbox *mb, struct mb_item *first, struct mb_item *last)
{
    last->next = NULL;
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
