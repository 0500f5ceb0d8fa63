/* budget: a uthash of addresses, each with its window's start and count. */
#include "budget.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "defines.h"
#include "hash.h"

struct entry {
    char host[HOST_MAX];
    time_t start; /* when the current window began */
    int count;
    UT_hash_handle hh;
};

struct budget {
    pthread_mutex_t lock;
    int window_s;
    int n;
    struct entry *table; /* insertion order: the oldest first */
};

struct budget *budget_new(int window_s)
{
    struct budget *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    pthread_mutex_init(&b->lock, NULL);
    b->window_s = window_s;
    return b;
}

void budget_free(struct budget *b)
{
    if (!b)
        return;
    struct entry *e, *tmp;
    HASH_ITER(hh, b->table, e, tmp)
    {
        /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): false positive, delete in HASH_ITER */
        HASH_DEL(b->table, e);
        free(e);
    }
    pthread_mutex_destroy(&b->lock);
    free(b);
}

/* host's entry, its window renewed if over (under the lock); NULL if it has none. */
static struct entry *find(struct budget *b, const char *host, time_t now)
{
    struct entry *e;
    HASH_FIND_STR(b->table, host, e);
    if (e && now - e->start >= b->window_s) {
        e->start = now;
        e->count = 0;
    }
    return e;
}

long budget_wait(struct budget *b, const char *host, int max, time_t now)
{
    pthread_mutex_lock(&b->lock);
    struct entry *e = find(b, host, now);
    long wait = e && e->count >= max ? (long)(e->start + b->window_s - now) : 0;
    pthread_mutex_unlock(&b->lock);
    return wait > 0 ? wait : 0;
}

void budget_count(struct budget *b, const char *host, time_t now)
{
    pthread_mutex_lock(&b->lock);
    struct entry *e = find(b, host, now);
    if (!e) {
        if (b->n >= BUDGET_ADDRS_MAX) { /* forget the oldest */
            struct entry *old = b->table;
            HASH_DEL(b->table, old);
            free(old);
            b->n--;
        }
        e = calloc(1, sizeof *e);
        if (!e) {
            pthread_mutex_unlock(&b->lock);
            return;
        }
        strncpy(e->host, host, sizeof e->host - 1);
        e->start = now;
        /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): false positive, the oldest was freed */
        HASH_ADD_STR(b->table, host, e);
        b->n++;
    }
    e->count++;
    pthread_mutex_unlock(&b->lock);
}

int budget_recent(struct budget *b, const char *host, time_t now)
{
    pthread_mutex_lock(&b->lock);
    struct entry *e = find(b, host, now);
    int n = e ? e->count : 0;
    pthread_mutex_unlock(&b->lock);
    return n;
}

int budget_addrs(struct budget *b)
{
    pthread_mutex_lock(&b->lock);
    int n = b->n;
    pthread_mutex_unlock(&b->lock);
    return n;
}
