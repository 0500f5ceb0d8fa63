/* Unit tests for src/server/state/metadata.c: the key grammar of draft/metadata-2, a
 * target's pairs (sorted, replaced, deleted, bounded by METADATA_KEYS_MAX, freed when the
 * last goes), copies, and the users' table under several threads at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "server/core/defines.h"
#include "server/state/metadata.h"

static void test_key_grammar(void **state)
{
    (void)state;
    /* "Key names are restricted to the ranges a-z, 0-9, and _./-. The empty string is an
     * invalid value." (Keys and Values) */
    assert_true(metadata_key_valid("display-name"));
    assert_true(metadata_key_valid("a_b.c/d-9"));
    assert_false(metadata_key_valid(""));
    assert_false(metadata_key_valid("Avatar"));
    assert_false(metadata_key_valid("a:b"));
    assert_false(metadata_key_valid("a b"));
    assert_false(metadata_key_valid("\xc3\xa9"));
    char key[METADATA_KEY_MAX + 2];
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    assert_false(metadata_key_valid(key)); /* one byte too long */
    key[METADATA_KEY_MAX] = '\0';
    assert_true(metadata_key_valid(key));
}

static void test_pairs_sorted_replaced_deleted_bounded(void **state)
{
    (void)state;
    struct metadata *md = NULL;
    assert_int_equal(metadata_set(&md, "url", NULL), MD_NOT_SET);
    assert_null(md);
    assert_int_equal(metadata_set(&md, "url", "https://a"), MD_CHANGED);
    assert_int_equal(metadata_set(&md, "avatar", "x"), MD_CHANGED);
    assert_int_equal(metadata_set(&md, "status", ""), MD_CHANGED);
    assert_int_equal(metadata_set(&md, "url", "https://a"), MD_UNCHANGED);
    assert_int_equal(metadata_set(&md, "url", "https://b"), MD_CHANGED);
    assert_int_equal(metadata_count(md), 3);
    assert_string_equal(metadata_key(md, 0), "avatar");
    assert_string_equal(metadata_key(md, 1), "status");
    assert_string_equal(metadata_value(md, 1), "");
    assert_string_equal(metadata_get(md, "url"), "https://b");
    assert_null(metadata_get(md, "nope"));

    int oom = 0;
    struct metadata *copy = metadata_copy(md, &oom);
    assert_false(oom);
    assert_int_equal(metadata_set(&md, "avatar", NULL), MD_CHANGED);
    assert_int_equal(metadata_count(copy), 3); /* the copy is its own */
    metadata_free(copy);
    assert_int_equal(metadata_set(&md, "status", NULL), MD_CHANGED);
    assert_int_equal(metadata_set(&md, "url", NULL), MD_CHANGED);
    assert_null(md); /* the last key took the set with it */

    char key[16];
    for (int i = 0; i < METADATA_KEYS_MAX; i++) {
        snprintf(key, sizeof key, "k%02d", i);
        assert_int_equal(metadata_set(&md, key, "v"), MD_CHANGED);
    }
    assert_int_equal(metadata_set(&md, "one-more", "v"), MD_LIMIT);
    assert_int_equal(metadata_set(&md, "k00", "changed"), MD_CHANGED);
    assert_int_equal(metadata_count(md), METADATA_KEYS_MAX);
    metadata_free(md);
}

struct worker_arg {
    uint64_t id;
    int ok;
};

/* Each thread sets, reads and clears its own user while the others do theirs. */
static void *user_thread(void *p)
{
    struct worker_arg *a = p;
    char value[32];
    a->ok = 1;
    for (int r = 0; r < 2000; r++) {
        snprintf(value, sizeof value, "%llu-%d", (unsigned long long)a->id, r);
        a->ok &= metadata_user_set(a->id, "score", value) == MD_CHANGED;
        struct metadata *md = metadata_user_copy(a->id);
        a->ok &= md && strcmp(metadata_get(md, "score"), value) == 0;
        metadata_free(md);
        if (r % 100 == 99)
            metadata_free(metadata_user_take(a->id));
    }
    return NULL;
}

static void test_users_table_under_threads(void **state)
{
    (void)state;
    pthread_t t[4];
    struct worker_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i].id = (uint64_t)i + 1;
        assert_int_equal(pthread_create(&t[i], NULL, user_thread, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_true(a[i].ok);
    }
    assert_int_equal(metadata_user_set(9, "gone", NULL), MD_NOT_SET);
    assert_null(metadata_user_copy(9));
    metadata_table_free();
    assert_null(metadata_user_copy(1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_grammar),
        cmocka_unit_test(test_pairs_sorted_replaced_deleted_bounded),
        cmocka_unit_test(test_users_table_under_threads),
    };
    return cmocka_run_group_tests_name("metadata", tests, NULL, NULL);
}
