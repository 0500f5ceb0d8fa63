/* quits: the departures a Redis outage kept from the network, in a bounded list (quits.h).
 * A few at a time, rare and short-lived: a list, oldest first. */
#include "quits.h"

#include <stdlib.h>
#include <string.h>

void quits_init(struct quits *q, int max)
{
    *q = (struct quits){.max = max};
}

int quits_add(struct quits *q, uint64_t id, int shard, const char *event, size_t len)
{
    if (q->count >= q->max)
        return -1;
    struct quit *e = malloc(sizeof *e + len);
    if (!e)
        return -1;
    e->next = NULL;
    e->id = id;
    e->shard = shard;
    e->len = len;
    memcpy(e->event, event, len);
    if (q->tail)
        q->tail->next = e;
    else
        q->head = e;
    q->tail = e;
    q->count++;
    return 0;
}

struct quit *quits_take(struct quits *q, int shard)
{
    struct quit *prev = NULL;
    for (struct quit *e = q->head; e; prev = e, e = e->next) {
        if (e->shard != shard)
            continue;
        if (prev)
            prev->next = e->next;
        else
            q->head = e->next;
        if (q->tail == e)
            q->tail = prev;
        e->next = NULL;
        return e;
    }
    return NULL;
}

void quits_done(struct quits *q, struct quit *e)
{
    free(e);
    q->count--;
}

void quits_put_back(struct quits *q, struct quit *e)
{
    e->next = q->head;
    q->head = e;
    if (!q->tail)
        q->tail = e;
}

void quits_clear(struct quits *q)
{
    while (q->head) {
        struct quit *e = q->head;
        q->head = e->next;
        free(e);
        q->count--;
    }
    q->tail = NULL;
}
