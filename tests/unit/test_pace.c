/* Unit tests for src/server/core/pace.c: when a worker's flush waits, and for how long. The
 * worker's side is played by hand: lines for a room of clients at a steady rate, the flush
 * decision each turn, the flush itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "server/core/client.h"
#include "server/core/defines.h"
#include "server/core/pace.h"

#define ROOM 200 /* clients of the worker, above FLUSH_BIG_CLIENTS */

static struct client clients[ROOM];
static int dirty[ROOM];

/* One message for every client of the room at now, as deliver.c queues it. Returns how
 * many clients are waiting for a write afterwards. */
static unsigned message(struct pace *p, uint64_t now)
{
    unsigned n = 0;
    for (int i = 0; i < ROOM; i++) {
        pace_line(p, &clients[i], dirty[i], now);
        dirty[i] = 1;
        n++;
    }
    return n;
}

static void flush(struct pace *p, uint64_t now)
{
    memset(dirty, 0, sizeof dirty);
    pace_flushed(p, ROOM, now);
}

static void reset(struct pace *p)
{
    memset(p, 0, sizeof *p);
    memset(clients, 0, sizeof clients);
    memset(dirty, 0, sizeof dirty);
}

/* Messages every period ms from t = 1000, flushed at once, for a second: the verdicts of the
 * pacing windows settle. Returns the time after the last one. */
static uint64_t warm_up(struct pace *p, unsigned period)
{
    uint64_t t = 1000;
    p->since_ms = t;
    for (; t < 2000; t += period) {
        unsigned n = message(p, t);
        if (!pace_hold(p, n, t))
            flush(p, t);
        else
            flush(p, t + period - 1); /* held: the warm-up only wants the verdicts */
    }
    return t;
}

static void test_quiet_worker_writes_at_once(void **state)
{
    (void)state;
    struct pace p;
    reset(&p);
    p.since_ms = 1000;
    /* Lines close together, but no big flush lately: nothing is held. */
    unsigned n = message(&p, 1000);
    assert_int_equal(pace_hold(&p, n, 1000), 0);
}

static void test_busy_room_holds_until_the_next_line(void **state)
{
    (void)state;
    struct pace p;
    reset(&p);
    uint64_t t = warm_up(&p, 5);
    assert_true(p.merging); /* lines every 5 ms */
    flush(&p, t);
    unsigned n = message(&p, t);
    assert_int_equal(pace_hold(&p, n, t), 1);
    assert_int_equal(pace_hold(&p, n, t + 1), 1);
    assert_int_equal(pace_timeout(&p, 1000, t + 1), FLUSH_HOLD_MS - 1);
    /* The next message comes: every held client has its second line, the flush goes. */
    n = message(&p, t + 5);
    assert_int_equal(pace_hold(&p, n, t + 5), 0);
}

static void test_lines_that_came_together_are_not_held(void **state)
{
    (void)state;
    struct pace p;
    reset(&p);
    uint64_t t = warm_up(&p, 5);
    flush(&p, t);
    /* Two messages in one turn: their lines share each write already. */
    message(&p, t);
    unsigned n = message(&p, t);
    assert_int_equal(pace_hold(&p, n, t), 0);
}

static void test_hold_ends_at_its_latest(void **state)
{
    (void)state;
    struct pace p;
    reset(&p);
    uint64_t t = warm_up(&p, 5);
    flush(&p, t);
    unsigned n = message(&p, t);
    assert_int_equal(pace_hold(&p, n, t), 1);
    /* No next message: the hold ends on its own. */
    assert_int_equal(pace_hold(&p, n, t + FLUSH_HOLD_MS - 1), 1);
    assert_int_equal(pace_hold(&p, n, t + FLUSH_HOLD_MS), 0);
}

static void test_lines_far_apart_are_not_held(void **state)
{
    (void)state;
    struct pace p;
    reset(&p);
    uint64_t t = warm_up(&p, FLUSH_MERGE_GAP_MS + 5); /* a hold would not see the next line */
    assert_false(p.merging);
    flush(&p, t);
    unsigned n = message(&p, t);
    assert_int_equal(pace_hold(&p, n, t), 0);
}

static void test_a_flush_that_must_go_ends_the_hold(void **state)
{
    (void)state;
    struct pace p;
    reset(&p);
    uint64_t t = warm_up(&p, 4);
    flush(&p, t);
    unsigned n = message(&p, t);
    assert_int_equal(pace_hold(&p, n, t), 1);
    /* A close, a free or a paused client: the worker passes 0 and flushes. */
    assert_int_equal(pace_hold(&p, 0, t + 1), 0);
    assert_int_equal(p.until_ms, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quiet_worker_writes_at_once),
        cmocka_unit_test(test_busy_room_holds_until_the_next_line),
        cmocka_unit_test(test_lines_that_came_together_are_not_held),
        cmocka_unit_test(test_hold_ends_at_its_latest),
        cmocka_unit_test(test_lines_far_apart_are_not_held),
        cmocka_unit_test(test_a_flush_that_must_go_ends_the_hold),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
