/* Unit tests for src/server/pool.c: zeroed, aligned, separate objects of every size; contents
 * kept across many slabs and across resizing; slabs given back once emptied; several threads
 * at once. Under ASan/TSan the pool hands every call to malloc: the same tests then check
 * that path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/core/pool.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(seed * 31 + i);
}

static int intact(const unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != (unsigned char)(seed * 31 + i))
            return 0;
    }
    return 1;
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f)) {
        if (sscanf(line, "VmRSS: %ld", &kib) == 1)
            break;
    }
    if (f)
        fclose(f);
    return kib;
}

static void test_every_size_zeroed_aligned_separate(void **state)
{
    (void)state;
    enum { SIZES = 1100 };
    static unsigned char *p[SIZES + 1];
    for (size_t n = 0; n <= SIZES; n++) {
        p[n] = pool_alloc(n);
        assert_non_null(p[n]);
        assert_int_equal((uintptr_t)p[n] % 16, 0);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(p[n][i], 0);
        fill(p[n], n, (unsigned)n);
    }
    for (size_t n = 0; n <= SIZES; n++) {
        assert_true(intact(p[n], n, (unsigned)n));
        pool_free(p[n], n);
    }
    /* Freed memory comes back zeroed too. */
    unsigned char *q = pool_alloc(100);
    assert_non_null(q);
    for (size_t i = 0; i < 100; i++)
        assert_int_equal(q[i], 0);
    pool_free(q, 100);
    pool_free(NULL, 10);
}

static void test_many_objects_across_slabs(void **state)
{
    (void)state;
    enum { N = 20000, SIZE = 56 };
    unsigned char **v = calloc(N, sizeof *v);
    assert_non_null(v);
    for (unsigned i = 0; i < N; i++) {
        v[i] = pool_alloc(SIZE);
        assert_non_null(v[i]);
        fill(v[i], SIZE, i);
    }
    /* Free every other one, allocate as many again: the holes are reused, nothing clobbered. */
    for (unsigned i = 0; i < N; i += 2)
        pool_free(v[i], SIZE);
    for (unsigned i = 0; i < N; i += 2) {
        v[i] = pool_alloc(SIZE);
        assert_non_null(v[i]);
        fill(v[i], SIZE, i);
    }
    for (unsigned i = 0; i < N; i++) {
        assert_true(intact(v[i], SIZE, i));
        pool_free(v[i], SIZE);
    }
    free(v);
}

static void test_realloc_keeps_the_prefix(void **state)
{
    (void)state;
    unsigned char *p = pool_realloc(NULL, 0, 8);
    assert_non_null(p);
    fill(p, 8, 1);
    /* Within the class, across classes, beyond the slab sizes and back. */
    size_t sizes[] = {12, 40, 300, 1024, 5000, 20000, 700, 16};
    size_t old = 8, kept = 8;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        p = pool_realloc(p, old, sizes[i]);
        assert_non_null(p);
        if (sizes[i] < kept)
            kept = sizes[i];
        assert_true(intact(p, kept, 1));
        old = sizes[i];
    }
    pool_free(p, old);

    char *s = pool_strdup("nick!user@host");
    assert_string_equal(s, "nick!user@host");
    pool_free(s, strlen(s) + 1);
}

static void test_emptied_slabs_go_back(void **state)
{
    (void)state;
    if (SANITIZED)
        skip(); /* malloc's heap, not slabs: whether it shrinks is malloc's business */
    enum { N = 100000, SIZE = 96 }; /* ~9.6 MB: about 150 slabs */
    unsigned char **v = calloc(N, sizeof *v);
    assert_non_null(v);
    long before = rss_kib();
    for (unsigned i = 0; i < N; i++) {
        v[i] = pool_alloc(SIZE);
        assert_non_null(v[i]);
        v[i][0] = 1;
    }
    long full = rss_kib();
    for (unsigned i = 0; i < N; i++)
        pool_free(v[i], SIZE);
    long after = rss_kib();
    free(v);
    assert_true(full - before > 8000);
    /* All but the one empty slab kept for reuse are unmapped. */
    assert_true(full - after > 8000);
}

struct worker_arg {
    unsigned seed;
    int ok;
};

static void *churn(void *arg)
{
    struct worker_arg *a = arg;
    enum { LIVE = 512, ROUNDS = 50000 };
    unsigned char *p[LIVE] = {0};
    size_t n[LIVE] = {0};
    unsigned r = a->seed;
    a->ok = 1;
    for (unsigned i = 0; i < ROUNDS; i++) {
        r = r * 1103515245u + 12345u;
        unsigned k = (r >> 8) % LIVE;
        if (p[k]) {
            if (!intact(p[k], n[k], k + a->seed))
                a->ok = 0;
            pool_free(p[k], n[k]);
        }
        n[k] = 1 + (r >> 16) % 600;
        p[k] = pool_alloc(n[k]);
        if (!p[k]) {
            a->ok = 0;
            break;
        }
        fill(p[k], n[k], k + a->seed);
    }
    for (unsigned k = 0; k < LIVE; k++) {
        if (p[k] && !intact(p[k], n[k], k + a->seed))
            a->ok = 0;
        pool_free(p[k], n[k]);
    }
    return NULL;
}

static void test_threads_share_the_pool(void **state)
{
    (void)state;
    enum { THREADS = 4 };
    pthread_t t[THREADS];
    struct worker_arg a[THREADS];
    for (int i = 0; i < THREADS; i++) {
        a[i].seed = 1000u * (unsigned)(i + 1);
        assert_int_equal(pthread_create(&t[i], NULL, churn, &a[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        assert_true(a[i].ok);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_size_zeroed_aligned_separate),
        cmocka_unit_test(test_many_objects_across_slabs),
        cmocka_unit_test(test_realloc_keeps_the_prefix),
        cmocka_unit_test(test_emptied_slabs_go_back),
        cmocka_unit_test(test_threads_share_the_pool),
    };
    return cmocka_run_group_tests_name("pool", tests, NULL, NULL);
}
