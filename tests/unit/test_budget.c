/* Unit tests for src/server/core/budget.c: events per address per window, the wait past the
 * budget, and the table's bound (BUDGET_ADDRS_MAX addresses, the oldest forgotten first), which
 * bounds every table of the account thread: failed logins and registrations per address, the
 * global budget, the trusted addresses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "server/core/budget.h"
#include "server/core/defines.h"

#define WINDOW 60
#define T0     1000000 /* any start; the clock is the caller's */

static void test_wait_past_the_budget_until_the_window_ends(void **state)
{
    (void)state;
    struct budget *b = budget_new(WINDOW);
    assert_non_null(b);
    assert_int_equal(budget_wait(b, "192.0.2.1", 2, T0), 0);
    assert_int_equal(budget_recent(b, "192.0.2.1", T0), 0);
    budget_count(b, "192.0.2.1", T0);
    assert_int_equal(budget_wait(b, "192.0.2.1", 2, T0 + 1), 0);
    budget_count(b, "192.0.2.1", T0 + 10);
    assert_int_equal(budget_recent(b, "192.0.2.1", T0 + 10), 2);
    /* The window started with the first event: the wait is what is left of it. */
    assert_int_equal(budget_wait(b, "192.0.2.1", 2, T0 + 10), WINDOW - 10);
    assert_int_equal(budget_wait(b, "192.0.2.2", 2, T0 + 10), 0); /* another address */
    /* Over: a new window, nothing counted in it. */
    assert_int_equal(budget_wait(b, "192.0.2.1", 2, T0 + WINDOW), 0);
    assert_int_equal(budget_recent(b, "192.0.2.1", T0 + WINDOW), 0);
    budget_free(b);
}

static void test_table_keeps_at_most_its_bound_forgetting_the_oldest(void **state)
{
    (void)state;
    struct budget *b = budget_new(WINDOW);
    assert_non_null(b);
    char host[64];
    int extra = 5;
    for (int i = 0; i < BUDGET_ADDRS_MAX + extra; i++) {
        snprintf(host, sizeof host, "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
        budget_count(b, host, T0);
        assert_true(budget_addrs(b) <= BUDGET_ADDRS_MAX);
    }
    assert_int_equal(budget_addrs(b), BUDGET_ADDRS_MAX);
    for (int i = 0; i < extra; i++) { /* the first ones are forgotten */
        snprintf(host, sizeof host, "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
        assert_int_equal(budget_recent(b, host, T0), 0);
    }
    for (int i = extra; i < BUDGET_ADDRS_MAX + extra; i += 997) { /* the rest are known */
        snprintf(host, sizeof host, "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
        assert_int_equal(budget_recent(b, host, T0), 1);
    }
    /* Counting a known address again adds no entry. */
    budget_count(b, "10.0.0.100", T0);
    assert_int_equal(budget_addrs(b), BUDGET_ADDRS_MAX);
    assert_int_equal(budget_recent(b, "10.0.0.100", T0), 2);
    budget_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wait_past_the_budget_until_the_window_ends),
        cmocka_unit_test(test_table_keeps_at_most_its_bound_forgetting_the_oldest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
