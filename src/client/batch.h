/* batch: the IRCv3 batches the server has open (ircv3.net/specs/extensions/batch), so that a
 * line tagged batch=REF can be shown as what its batch says it is (replayed history). A fixed
 * table with no allocation: a server that opens batches and never closes them only pushes
 * the oldest out. Owned by the session (main thread). */
#ifndef TCPCHAT_CLIENT_BATCH_H
#define TCPCHAT_CLIENT_BATCH_H

#include <stddef.h>

/* Batches open at once; opening one more forgets the oldest. Servers nest a few at most. */
#define BATCH_OPEN_MAX 8
/* Longest reference and type kept; a batch with a longer one is not tracked (its lines are
 * shown as ordinary lines). */
#define BATCH_REF_MAX  64
#define BATCH_TYPE_MAX 64
/* Room for the first parameter after the type (a channel or nickname for chathistory). */
#define BATCH_TARGET_MAX 256

/* The batch type of replayed history (ircv3.net/specs/extensions/chathistory). */
#define BATCH_TYPE_CHATHISTORY "chathistory"

struct batch {
    char ref[BATCH_REF_MAX];
    char type[BATCH_TYPE_MAX];
    char target[BATCH_TARGET_MAX]; /* "" when the BATCH line had none */
    int history;                   /* a chathistory batch, or nested in one */
    int own_history;               /* a chathistory batch itself (it gets the header) */
    unsigned lines;                /* lines shown from it so far */
};

/* The open batches, oldest first. Zero-initialised it is empty. */
struct batch_set {
    struct batch open[BATCH_OPEN_MAX];
    int count;
};

/* Starts tracking batch ref of the given type; target may be NULL, parent (the batch tag of
 * the BATCH line itself) may be NULL or name a batch this one is nested in. Returns the
 * batch, or NULL when ref or type is empty or too long. */
struct batch *batch_open(struct batch_set *set, const char *ref, const char *type,
                         const char *target, const char *parent);
/* The open batch ref, or NULL. */
struct batch *batch_find(struct batch_set *set, const char *ref);
/* Stops tracking ref and copies what was known of it into *out. Returns 0, or -1 when ref
 * is not open. */
int batch_close(struct batch_set *set, const char *ref, struct batch *out);

#endif
