/* pool: a small slab allocator for long-lived objects, apart from malloc's heap.
 *
 * Why not malloc: a join storm allocates, per JOIN, a membership that stays and an event, lines
 * and queue rings that go a moment later. In one heap the long-lived chunks end up between the
 * short-lived ones' holes, so after the storm the heap cannot shrink: measured with
 * `tcpchat-bench --scenario capacity` (10,000 clients in rooms of 10) and malloc_info, ~3.5 MB
 * of free 288- and 368-byte holes stayed, ~350 bytes per client on top of ~1,200 in use. glibc
 * has no separate heaps to ask for, and jemalloc or mimalloc in its place did not help (1,622
 * and 1,478 bytes per client). Here every size class has its own 64 KiB slabs, so the heap
 * keeps only short-lived chunks and gives its pages back once they are freed, and a slab whose
 * objects are all freed goes back to the kernel (one empty slab per class is kept for reuse).
 *
 * Objects carry no header: the caller passes the size to pool_free, and a slab's header (at
 * the start of its 64 KiB-aligned block) says which class it serves. Requests above POOL_MAX
 * (big channels' hash buckets and member arrays) go to malloc, which serves them well.
 *
 * Under ASan, TSan or valgrind every call goes to malloc instead (with the size recorded and
 * checked), so those tools still see each object's bounds, lifetime and leaks. */
#include "pool.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/log.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define POOL_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define POOL_SANITIZED 1
#endif
#endif
#ifndef POOL_SANITIZED
#define POOL_SANITIZED 0
#endif

#define POOL_SLAB    (64 * 1024) /* bytes per slab, also its alignment */
#define POOL_GRAIN   16          /* size classes are multiples of this (malloc's alignment) */
#define POOL_MAX     1024        /* largest request served from slabs */
#define POOL_CLASSES (POOL_MAX / POOL_GRAIN)

struct slab {
    struct slab *next, *prev; /* in its class's list of slabs with a free slot */
    void *free;               /* freed slots, linked through their first bytes */
    char *bump;               /* the first never-used slot */
    char *end;                /* end of the slot area */
    size_t size;              /* the class's object size */
    size_t stride;            /* slot size: size, or a little more (slot_stride) */
    unsigned live;            /* slots in use */
    int listed;               /* on the class's list */
};

/* Slots start after the header, rounded up to the grain. */
#define SLAB_HEAD (((sizeof(struct slab) + POOL_GRAIN - 1) / POOL_GRAIN) * POOL_GRAIN)

struct pool_class {
    pthread_mutex_t lock; /* guards the list and every field of its slabs */
    struct slab *avail;   /* slabs with a free slot (full ones are on no list) */
    unsigned empty;       /* slabs on the list with no slot in use */
};

static struct pool_class classes[POOL_CLASSES];
static pthread_once_t classes_once = PTHREAD_ONCE_INIT;
static int passthrough; /* set once, before any allocation, by classes_init */

static void classes_init(void)
{
    for (int i = 0; i < POOL_CLASSES; i++)
        pthread_mutex_init(&classes[i].lock, NULL);
    passthrough = POOL_SANITIZED || RUNNING_ON_VALGRIND;
}

static size_t class_of(size_t n)
{
    return (n + POOL_GRAIN - 1) / POOL_GRAIN - 1;
}

static struct slab *slab_of(const void *p)
{
    size_t off = (uintptr_t)p & (POOL_SLAB - 1);
    return (struct slab *)(void *)((char *)p - off);
}

/* Slots of big objects packed at an even multiple of 16 bytes put the same field of
 * consecutive objects in few cache sets: at 512 bytes (struct client), the fan-out loop, which
 * touches each member's send queue, hit 8 of the L1 cache's 64 sets and delivered ~20 % less
 * (bench fanout, alternating runs). An odd multiple of 16 spreads them over every set. */
static size_t slot_stride(size_t size)
{
    return size >= 256 && (size / POOL_GRAIN) % 2 == 0 ? size + POOL_GRAIN : size;
}

/* A fresh slab for slots of size bytes, aligned to POOL_SLAB: mapped twice as large, then
 * trimmed to the aligned part. */
static struct slab *slab_new(size_t size)
{
    char *raw =
        mmap(NULL, 2 * POOL_SLAB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
        return NULL;
    size_t head = (POOL_SLAB - ((uintptr_t)raw & (POOL_SLAB - 1))) & (POOL_SLAB - 1);
    char *start = raw + head;
    if (head)
        munmap(raw, head);
    munmap(start + POOL_SLAB, POOL_SLAB - head);
    struct slab *s = (struct slab *)(void *)start;
    s->bump = start + SLAB_HEAD;
    s->stride = slot_stride(size);
    s->end = s->bump + ((POOL_SLAB - SLAB_HEAD) / s->stride) * s->stride;
    s->size = size;
    return s;
}

static void list_add(struct pool_class *k, struct slab *s)
{
    s->prev = NULL;
    s->next = k->avail;
    if (k->avail)
        k->avail->prev = s;
    k->avail = s;
    s->listed = 1;
}

static void list_remove(struct pool_class *k, struct slab *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        k->avail = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->listed = 0;
}

/* Passthrough: malloc with the size in front, so pool_free can check the caller's. */
#define PT_HEAD 16

static void *pt_alloc(size_t n)
{
    char *p = calloc(1, PT_HEAD + n);
    if (!p)
        return NULL;
    memcpy(p, &n, sizeof n);
    return p + PT_HEAD;
}

static char *pt_check(void *p, size_t n)
{
    char *base = (char *)p - PT_HEAD;
    size_t had;
    memcpy(&had, base, sizeof had);
    if (had != n) {
        log_error("pool: freeing %zu bytes of an object of %zu", n, had);
        abort();
    }
    return base;
}

void *pool_alloc(size_t n)
{
    pthread_once(&classes_once, classes_init);
    if (n == 0)
        n = 1;
    if (passthrough)
        return pt_alloc(n);
    if (n > POOL_MAX)
        return calloc(1, n);
    size_t ci = class_of(n);
    struct pool_class *k = &classes[ci];
    pthread_mutex_lock(&k->lock);
    struct slab *s = k->avail;
    if (!s) {
        s = slab_new((ci + 1) * POOL_GRAIN);
        if (!s) {
            pthread_mutex_unlock(&k->lock);
            return NULL;
        }
        list_add(k, s);
        k->empty++;
    }
    void *p;
    if (s->free) {
        p = s->free;
        memcpy(&s->free, p, sizeof s->free);
    } else {
        p = s->bump;
        s->bump += s->stride;
    }
    if (s->live++ == 0)
        k->empty--;
    if (!s->free && s->bump == s->end)
        list_remove(k, s);
    pthread_mutex_unlock(&k->lock);
    memset(p, 0, n);
    return p;
}

void pool_free(void *p, size_t n)
{
    if (!p)
        return;
    if (n == 0)
        n = 1;
    if (passthrough) {
        free(pt_check(p, n));
        return;
    }
    if (n > POOL_MAX) {
        free(p);
        return;
    }
    size_t ci = class_of(n);
    struct slab *s = slab_of(p);
    if (s->size != (ci + 1) * POOL_GRAIN) {
        log_error("pool: freeing %zu bytes of a %zu-byte slot", n, s->size);
        abort();
    }
    struct pool_class *k = &classes[ci];
    pthread_mutex_lock(&k->lock);
    memcpy(p, &s->free, sizeof s->free);
    s->free = p;
    if (!s->listed)
        list_add(k, s);
    if (--s->live == 0) {
        if (k->empty > 0) {
            list_remove(k, s);
            munmap(s, POOL_SLAB);
        } else {
            k->empty++;
        }
    }
    pthread_mutex_unlock(&k->lock);
}

void *pool_realloc(void *p, size_t old, size_t n)
{
    if (!p)
        return pool_alloc(n);
    if (n == 0)
        n = 1;
    if (old == 0)
        old = 1;
    if (passthrough) {
        char *base = realloc(pt_check(p, old), PT_HEAD + n);
        if (!base)
            return NULL;
        memcpy(base, &n, sizeof n);
        return base + PT_HEAD;
    }
    if (old > POOL_MAX && n > POOL_MAX)
        return realloc(p, n);
    if (old <= POOL_MAX && n <= POOL_MAX && class_of(old) == class_of(n))
        return p;
    void *q = pool_alloc(n);
    if (!q)
        return NULL;
    memcpy(q, p, old < n ? old : n);
    pool_free(p, old);
    return q;
}

char *pool_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = pool_alloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}
