/* batch: a small table of open batches keyed by their reference, in the order they were
 * opened (so open[0] is the oldest). Lookups are linear: there are at most BATCH_OPEN_MAX. */
#include "batch.h"

#include <stdio.h>
#include <string.h>

struct batch *batch_find(struct batch_set *set, const char *ref)
{
    if (!ref || !*ref)
        return NULL;
    for (int i = 0; i < set->count; i++)
        if (strcmp(set->open[i].ref, ref) == 0)
            return &set->open[i];
    return NULL;
}

static void batch_remove(struct batch_set *set, struct batch *b)
{
    int i = (int)(b - set->open);
    memmove(&set->open[i], &set->open[i + 1], (size_t)(set->count - i - 1) * sizeof set->open[0]);
    set->count--;
}

struct batch *batch_open(struct batch_set *set, const char *ref, const char *type,
                         const char *target, const char *parent)
{
    if (!ref || !*ref || strlen(ref) >= BATCH_REF_MAX || !type || !*type ||
        strlen(type) >= BATCH_TYPE_MAX)
        return NULL;
    const struct batch *up = batch_find(set, parent);
    int nested_history = up && up->history;
    /* A reference reused while still open starts over. */
    struct batch *old = batch_find(set, ref);
    if (old)
        batch_remove(set, old);
    if (set->count == BATCH_OPEN_MAX) {
        /* Full: a server that never closes its batches. The newest is the likeliest to be
         * real, so the oldest goes (its lines are then shown as ordinary ones). */
        batch_remove(set, &set->open[0]);
    }
    struct batch *b = &set->open[set->count++];
    memset(b, 0, sizeof *b);
    snprintf(b->ref, sizeof b->ref, "%s", ref);
    snprintf(b->type, sizeof b->type, "%s", type);
    snprintf(b->target, sizeof b->target, "%s", target ? target : "");
    b->own_history = strcmp(type, BATCH_TYPE_CHATHISTORY) == 0;
    b->history = b->own_history || nested_history;
    return b;
}

int batch_close(struct batch_set *set, const char *ref, struct batch *out)
{
    struct batch *b = batch_find(set, ref);
    if (!b)
        return -1;
    *out = *b;
    batch_remove(set, b);
    return 0;
}
