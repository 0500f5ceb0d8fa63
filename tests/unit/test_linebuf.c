/* Unit tests for src/common/linebuf.c: CR, LF and CR LF terminators, lines split across
 * reads, overlong lines (reported once, then dropped) and the bound on buffer growth. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "common/linebuf.h"

/* Bounds for most tests: short lines make overlong cases cheap to write. */
#define TEST_LINE_MAX 8
#define TEST_MAX      64

/* Writes n bytes of s into lb as a reader would, through linebuf_space and linebuf_commit. */
static void feed_n(struct linebuf *lb, const char *s, size_t n)
{
    while (n > 0) {
        size_t avail = 0;
        char *space = linebuf_space(lb, &avail);
        assert_non_null(space);
        size_t k = n < avail ? n : avail;
        memcpy(space, s, k);
        linebuf_commit(lb, k);
        s += k;
        n -= k;
    }
}

static void feed(struct linebuf *lb, const char *s)
{
    feed_n(lb, s, strlen(s));
}

static void expect_line(struct linebuf *lb, const char *want)
{
    char *line = NULL;
    size_t len = 99;
    assert_int_equal(linebuf_next(lb, &line, &len), LINEBUF_LINE);
    assert_int_equal(len, strlen(want));
    assert_string_equal(line, want);
}

static void expect_none(struct linebuf *lb)
{
    char *line = NULL;
    size_t len = 0;
    assert_int_equal(linebuf_next(lb, &line, &len), LINEBUF_NONE);
}

static void expect_toolong(struct linebuf *lb)
{
    char *line = NULL;
    size_t len = 0;
    assert_int_equal(linebuf_next(lb, &line, &len), LINEBUF_TOOLONG);
}

static int setup(void **state)
{
    static struct linebuf lb;
    if (linebuf_init(&lb, TEST_LINE_MAX, TEST_MAX) != 0)
        return -1;
    *state = &lb;
    return 0;
}

static int teardown(void **state)
{
    linebuf_free(*state);
    return 0;
}

static void init_rejects_bad_bounds(void **state)
{
    (void)state;
    struct linebuf lb;
    assert_int_equal(linebuf_init(&lb, 0, 64), -1);
    assert_int_equal(linebuf_init(&lb, 64, 64), -1);
    assert_int_equal(linebuf_init(&lb, 65, 64), -1);
    linebuf_free(&lb); /* safe after a failed init */
    assert_int_equal(linebuf_init(&lb, 63, 64), 0);
    assert_int_equal(linebuf_pending(&lb), 0);
    linebuf_free(&lb);
    linebuf_free(&lb); /* and twice */
}

static void empty_buffer_has_no_line(void **state)
{
    struct linebuf *lb = *state;
    expect_none(lb);
    expect_none(lb);
    assert_int_equal(linebuf_pending(lb), 0);
}

static void crlf_lines(void **state)
{
    struct linebuf *lb = *state;
    feed(lb, "NICK a\r\nUSER b\r\n");
    expect_line(lb, "NICK a");
    expect_line(lb, "USER b");
    expect_none(lb);
    assert_int_equal(linebuf_pending(lb), 0);
}

static void bare_lf_lines(void **state)
{
    struct linebuf *lb = *state;
    feed(lb, "one\ntwo\n");
    expect_line(lb, "one");
    expect_line(lb, "two");
    expect_none(lb);
}

static void bare_cr_lines(void **state)
{
    struct linebuf *lb = *state;
    feed(lb, "one\rtwo\rx");
    expect_line(lb, "one");
    expect_line(lb, "two");
    expect_none(lb);
    assert_int_equal(linebuf_pending(lb), 1);
}

static void mixed_terminators(void **state)
{
    struct linebuf *lb = *state;
    feed(lb, "a\rb\nc\r\nd\n\re");
    expect_line(lb, "a");
    expect_line(lb, "b");
    expect_line(lb, "c");
    expect_line(lb, "d");
    expect_line(lb, ""); /* LF CR is two terminators: the CR ends an empty line */
    expect_none(lb);
    assert_int_equal(linebuf_pending(lb), 1);
}

static void empty_lines(void **state)
{
    struct linebuf *lb = *state;
    feed(lb, "\r\n\n\r\r\n");
    expect_line(lb, "");
    expect_line(lb, "");
    expect_line(lb, "");
    expect_line(lb, "");
    expect_none(lb);
}

static void line_split_across_commits(void **state)
{
    struct linebuf *lb = *state;
    feed(lb, "PI");
    expect_none(lb);
    feed(lb, "NG");
    expect_none(lb);
    feed(lb, " x\r\nPO");
    expect_line(lb, "PING x");
    expect_none(lb);
    feed(lb, "NG\n");
    expect_line(lb, "PONG");
    expect_none(lb);
}

static void line_split_byte_by_byte(void **state)
{
    struct linebuf *lb = *state;
    const char *s = "ab\ncd\n";
    for (size_t i = 0; s[i]; i++) {
        feed_n(lb, s + i, 1);
        if (s[i] == '\n') {
            expect_line(lb, i < 3 ? "ab" : "cd");
        }
        expect_none(lb);
    }
}

/* A CR LF whose LF arrives in the next read is still one terminator: no empty line. */
static void crlf_split_across_commits(void **state)
{
    struct linebuf *lb = *state;
    feed(lb, "A\r");
    expect_line(lb, "A");
    expect_none(lb);
    feed(lb, "\nB\r\n");
    expect_line(lb, "B");
    expect_none(lb);
}

static void line_of_exactly_line_max(void **state)
{
    struct linebuf *lb = *state;
    feed(lb, "12345678");
    expect_none(lb); /* not too long yet: line_max bytes are allowed */
    feed(lb, "\r\n");
    expect_line(lb, "12345678");
    expect_none(lb);
}

static void overlong_line_in_one_read(void **state)
{
    struct linebuf *lb = *state;
    feed(lb, "123456789\r\nok\r\n");
    expect_toolong(lb);
    expect_line(lb, "ok");
    expect_none(lb);
}

static void overlong_line_reported_once(void **state)
{
    struct linebuf *lb = *state;
    feed(lb, "12345678");
    expect_none(lb);
    feed(lb, "9");
    expect_toolong(lb);
    expect_none(lb);
    /* More of the same line, well past any bound, across several reads: silence. */
    for (int i = 0; i < 20; i++) {
        feed(lb, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
        expect_none(lb);
    }
    feed(lb, "tail\r\nnext\r\n");
    expect_line(lb, "next");
    expect_none(lb);
    /* The state is reset: the following overlong line is reported again. */
    feed(lb, "aaaaaaaaaaaa\n");
    expect_toolong(lb);
    expect_none(lb);
    feed(lb, "b\n");
    expect_line(lb, "b");
}

static void overlong_then_short_lines_in_one_read(void **state)
{
    struct linebuf *lb = *state;
    feed(lb, "ok1\n0123456789abcdef\nok2\n");
    expect_line(lb, "ok1");
    expect_toolong(lb);
    expect_line(lb, "ok2");
    expect_none(lb);
}

/* Without taking lines, the buffer fills to max and then offers no space. */
static void space_is_null_when_full(void **state)
{
    (void)state;
    struct linebuf lb;
    const size_t max = 2048;
    assert_int_equal(linebuf_init(&lb, 100, max), 0);
    size_t total = 0;
    for (;;) {
        size_t avail = 12345;
        char *space = linebuf_space(&lb, &avail);
        if (!space) {
            assert_int_equal(avail, 0);
            break;
        }
        assert_true(avail > 0);
        assert_true(lb.cap <= max);
        memset(space, 'a', avail);
        linebuf_commit(&lb, avail);
        total += avail;
        assert_true(total <= max);
    }
    assert_int_equal(total, max);
    assert_int_equal(linebuf_pending(&lb), max);
    assert_int_equal(lb.cap, max);
    /* Taking the (overlong) input frees the room again. */
    char *line;
    size_t len;
    assert_int_equal(linebuf_next(&lb, &line, &len), LINEBUF_TOOLONG);
    size_t avail = 0;
    assert_non_null(linebuf_space(&lb, &avail));
    assert_true(avail > 0);
    linebuf_free(&lb);
}

/* The buffer starts small and grows only as input needs it, never past max. */
static void growth_is_on_demand_and_bounded(void **state)
{
    (void)state;
    struct linebuf lb;
    const size_t max = 16384;
    assert_int_equal(linebuf_init(&lb, 9000, max), 0);
    assert_int_equal(lb.cap, 0); /* nothing until the first read */
    size_t avail = 0;
    assert_non_null(linebuf_space(&lb, &avail));
    size_t first = lb.cap;
    assert_true(first > 0 && first < max);

    /* Short lines, taken as they come, never make it grow. */
    for (int i = 0; i < 1000; i++) {
        feed(&lb, "PRIVMSG #c :hello\r\n");
        expect_line(&lb, "PRIVMSG #c :hello");
        expect_none(&lb);
    }
    assert_int_equal(lb.cap, first);

    /* A long line grows it, and the line survives the moves. */
    static char big[8001];
    memset(big, 'z', 8000);
    big[8000] = '\0';
    feed(&lb, big);
    expect_none(&lb);
    assert_true(lb.cap > first);
    assert_true(lb.cap <= max);
    feed(&lb, "\n");
    expect_line(&lb, big);
    linebuf_free(&lb);
}

static void small_max_below_initial_size(void **state)
{
    (void)state;
    struct linebuf lb;
    assert_int_equal(linebuf_init(&lb, 16, 32), 0);
    assert_true(lb.cap <= 32);
    feed(&lb, "0123456789abcdef\n");
    expect_line(&lb, "0123456789abcdef");
    linebuf_free(&lb);
}

/* A peer that never sends a terminator cannot fill the buffer when lines are taken. */
static void endless_line_never_fills_buffer(void **state)
{
    struct linebuf *lb = *state;
    int toolong = 0;
    char chunk[TEST_MAX];
    memset(chunk, 'q', sizeof chunk);
    for (int i = 0; i < 200; i++) {
        size_t avail = 0;
        char *space = linebuf_space(lb, &avail);
        assert_non_null(space);
        size_t k = avail < sizeof chunk ? avail : sizeof chunk;
        memcpy(space, chunk, k);
        linebuf_commit(lb, k);
        char *line;
        size_t len;
        int r;
        while ((r = linebuf_next(lb, &line, &len)) != LINEBUF_NONE) {
            assert_int_equal(r, LINEBUF_TOOLONG);
            toolong++;
        }
        assert_true(lb->cap <= TEST_MAX);
    }
    assert_int_equal(toolong, 1);
    feed(lb, "\nhi\n");
    expect_line(lb, "hi");
    expect_none(lb);
}

/* Taken lines free their room: a long run of lines through a small buffer. */
static void consumed_space_is_reused(void **state)
{
    struct linebuf *lb = *state;
    for (int i = 0; i < 500; i++) {
        feed(lb, "abc\r\nde");
        expect_line(lb, "abc");
        feed(lb, "f\n");
        expect_line(lb, "def");
        expect_none(lb);
        assert_int_equal(linebuf_pending(lb), 0);
    }
    assert_true(lb->cap <= TEST_MAX);
}

/* An idle buffer holds no memory: nothing before the first read, and release gives it back
 * once every byte is taken, but not while part of a line waits for the rest. */
static void release_only_when_empty(void **state)
{
    struct linebuf *lb = *state;
    assert_null(lb->data);
    expect_none(lb);
    linebuf_release(lb); /* nothing to give back */
    assert_null(lb->data);
    feed(lb, "ab\r\nc");
    assert_non_null(lb->data);
    expect_line(lb, "ab");
    linebuf_release(lb);
    assert_non_null(lb->data); /* "c" waits for its end */
    feed(lb, "d\r");
    expect_line(lb, "cd");
    linebuf_release(lb);
    assert_null(lb->data);
    assert_int_equal(linebuf_pending(lb), 0);
    /* The LF of that CR arrives after the release: still one terminator, no empty line. */
    feed(lb, "\nef\n");
    expect_line(lb, "ef");
    expect_none(lb);
    linebuf_release(lb);
    assert_null(lb->data);
}

/* Release in the middle of an overlong line keeps dropping it until its end. */
static void release_while_discarding(void **state)
{
    struct linebuf *lb = *state;
    feed(lb, "0123456789");
    expect_toolong(lb);
    linebuf_release(lb);
    assert_null(lb->data);
    feed(lb, "abc\nok\n");
    expect_line(lb, "ok");
    expect_none(lb);
}

#define LB_TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(init_rejects_bad_bounds),
        LB_TEST(empty_buffer_has_no_line),
        LB_TEST(crlf_lines),
        LB_TEST(bare_lf_lines),
        LB_TEST(bare_cr_lines),
        LB_TEST(mixed_terminators),
        LB_TEST(empty_lines),
        LB_TEST(line_split_across_commits),
        LB_TEST(line_split_byte_by_byte),
        LB_TEST(crlf_split_across_commits),
        LB_TEST(line_of_exactly_line_max),
        LB_TEST(overlong_line_in_one_read),
        LB_TEST(overlong_line_reported_once),
        LB_TEST(overlong_then_short_lines_in_one_read),
        cmocka_unit_test(space_is_null_when_full),
        cmocka_unit_test(growth_is_on_demand_and_bounded),
        cmocka_unit_test(small_max_below_initial_size),
        LB_TEST(endless_line_never_fills_buffer),
        LB_TEST(consumed_space_is_reused),
        LB_TEST(release_only_when_empty),
        LB_TEST(release_while_discarding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
