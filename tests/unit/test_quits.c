/* Unit tests for src/server/cluster/quits.c: the record of QUITs a Redis outage kept from the
 * network holds at most its bound (past it a departure is refused, and the network hears of
 * it with the generic reason), counts the ones being sent against that bound, hands them out
 * per server oldest first, and keeps one whose sending failed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "cluster/quits.h"
#include "core/defines.h"

static int add(struct quits *q, uint64_t id, int shard)
{
    char ev[32];
    int n = snprintf(ev, sizeof ev, "quit of %llu", (unsigned long long)id);
    return quits_add(q, id, shard, ev, (size_t)n);
}

static void the_bound_is_kept(void **state)
{
    (void)state;
    struct quits q;
    quits_init(&q, CLUSTER_QUITS_MAX);
    for (int i = 0; i < CLUSTER_QUITS_MAX; i++)
        assert_int_equal(add(&q, (uint64_t)i + 1, 0), 0);
    /* past the bound: not kept */
    assert_int_equal(add(&q, 5000, 0), -1);
    assert_int_equal(q.count, CLUSTER_QUITS_MAX);
    /* every one kept comes back, oldest first, and the one refused does not */
    struct quit *e;
    uint64_t want = 1;
    while ((e = quits_take(&q, 0)) != NULL) {
        assert_int_equal(e->id, want);
        char ev[32];
        int n = snprintf(ev, sizeof ev, "quit of %llu", (unsigned long long)want);
        assert_int_equal(e->len, (size_t)n);
        assert_memory_equal(e->event, ev, e->len);
        quits_done(&q, e);
        want++;
    }
    assert_int_equal(want, CLUSTER_QUITS_MAX + 1);
    assert_int_equal(q.count, 0);
    /* room again once they are done */
    assert_int_equal(add(&q, 6000, 0), 0);
    quits_clear(&q);
    assert_int_equal(q.count, 0);
}

static void ones_being_sent_count_against_the_bound(void **state)
{
    (void)state;
    struct quits q;
    quits_init(&q, 2);
    assert_int_equal(add(&q, 1, 0), 0);
    assert_int_equal(add(&q, 2, 0), 0);
    struct quit *e = quits_take(&q, 0);
    assert_non_null(e);
    assert_int_equal(add(&q, 3, 0), -1); /* 1 is on its way, not done */
    quits_put_back(&q, e);               /* its server went away again */
    assert_int_equal(add(&q, 3, 0), -1);
    e = quits_take(&q, 0);
    assert_int_equal(e->id, 1); /* put back in front: still the oldest */
    quits_done(&q, e);
    assert_int_equal(add(&q, 3, 0), 0);
    quits_clear(&q);
}

static void each_server_gets_its_own(void **state)
{
    (void)state;
    struct quits q;
    quits_init(&q, 8);
    assert_int_equal(add(&q, 1, 0), 0);
    assert_int_equal(add(&q, 2, 1), 0);
    assert_int_equal(add(&q, 3, 0), 0);
    struct quit *e = quits_take(&q, 1);
    assert_int_equal(e->id, 2);
    assert_null(quits_take(&q, 1));
    quits_done(&q, e);
    e = quits_take(&q, 0);
    assert_int_equal(e->id, 1);
    quits_done(&q, e);
    e = quits_take(&q, 0);
    assert_int_equal(e->id, 3);
    quits_done(&q, e);
    assert_null(quits_take(&q, 0));
    /* the list is whole after taking from its middle and its end */
    assert_int_equal(add(&q, 4, 2), 0);
    e = quits_take(&q, 2);
    assert_int_equal(e->id, 4);
    quits_done(&q, e);
    assert_int_equal(q.count, 0);
    quits_clear(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_bound_is_kept),
        cmocka_unit_test(ones_being_sent_count_against_the_bound),
        cmocka_unit_test(each_server_gets_its_own),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
