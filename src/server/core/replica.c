/* replica: per-worker member lists, an array each (order does not matter), by channel id. */
#include "replica.h"

#include "pool.h"
#include "worker.h"

struct replica *replica_find(struct worker *w, uint64_t id)
{
    struct replica *r = NULL;
    HASH_FIND(hh, w->replicas, &id, sizeof id, r);
    return r;
}

static void replica_free(struct replica *r)
{
    pool_free(r->members, (size_t)r->cap * sizeof r->members[0]);
    pool_free(r, sizeof *r);
}

int replica_add(struct worker *w, uint64_t id, struct client *c)
{
    struct replica *r = replica_find(w, id);
    if (!r) {
        r = pool_alloc(sizeof *r);
        if (!r)
            return -1;
        r->id = id;
        HASH_ADD(hh, w->replicas, id, sizeof r->id, r);
    }
    if (r->n == r->cap) {
        int ncap = r->cap ? r->cap * 2 : 8;
        struct client **n =
            pool_realloc(r->members, (size_t)r->cap * sizeof *n, (size_t)ncap * sizeof *n);
        if (!n)
            return -1;
        r->members = n;
        r->cap = ncap;
    }
    r->members[r->n++] = c;
    return 0;
}

void replica_remove(struct worker *w, uint64_t id, struct client *c)
{
    struct replica *r = replica_find(w, id);
    if (!r)
        return;
    for (int i = 0; i < r->n; i++) {
        if (r->members[i] == c) {
            r->members[i] = r->members[--r->n]; /* swap-remove */
            break;
        }
    }
    if (r->n == 0) {
        HASH_DEL(w->replicas, r);
        replica_free(r);
    }
}

void replica_free_all(struct worker *w)
{
    struct replica *r, *tmp;
    HASH_ITER(hh, w->replicas, r, tmp)
    {
        /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): false positive, delete in HASH_ITER */
        HASH_DEL(w->replicas, r);
        replica_free(r);
    }
}
