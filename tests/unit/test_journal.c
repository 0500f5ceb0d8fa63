/* Unit tests for src/server/journal.c: rows come back from the file as they went in, in
 * order; a record cut short or damaged ends the log and is cut off, so later appends follow
 * whole records; a batch taken back leaves no trace; the buffer is written out as it grows;
 * a record too big, or a line with a NUL in it, is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/store/journal.h"

static char path[64];

static int setup(void **state)
{
    (void)state;
    snprintf(path, sizeof path, "/tmp/test_journal.XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    return 0;
}

static long file_size(void)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void row(struct jrec *r, long long id, char *line, size_t cap)
{
    snprintf(line, cap, ":alice!~a@h PRIVMSG #c :message %lld", id);
    *r = (struct jrec){
        .id = id,
        .time_ms = 1700000000000LL + id,
        .target = "#c",
        .pm_from = "",
        .pm_to = "",
        .msgid = "m-1",
        .tags = id % 2 ? "+draft/reply=x" : "",
        .line = line,
        .line_len = strlen(line),
    };
}

struct seen {
    long long ids[64];
    int n;
    int stop_at; /* the callback fails on this id (0: never) */
};

static int collect(void *arg, const struct jrec *r)
{
    struct seen *s = arg;
    char want[128];
    struct jrec w;
    row(&w, r->id, want, sizeof want);
    assert_int_equal(r->time_ms, w.time_ms);
    assert_string_equal(r->target, "#c");
    assert_string_equal(r->pm_from, "");
    assert_string_equal(r->msgid, "m-1");
    assert_string_equal(r->tags, w.tags);
    assert_string_equal(r->line, want);
    assert_int_equal(r->line_len, strlen(want));
    if (r->id == s->stop_at)
        return -1;
    if (s->n < 64)
        s->ids[s->n++] = r->id;
    return 0;
}

static void add_rows(struct journal *j, long long from, long long to)
{
    for (long long id = from; id <= to; id++) {
        char line[128];
        struct jrec r;
        row(&r, id, line, sizeof line);
        assert_int_equal(journal_add(j, &r), 0);
    }
}

/* Adds rows from..to and writes them out; the journal's length after. */
static size_t append(struct journal *j, long long from, long long to)
{
    add_rows(j, from, to);
    assert_int_equal(journal_flush(j), 0);
    return j->len;
}

static void reopen_and_check(long long from, long long to)
{
    struct journal j;
    assert_int_equal(journal_open(&j, path), 0);
    struct seen s = {0};
    assert_int_equal(journal_replay(&j, collect, &s), (int)(to - from + 1));
    for (int i = 0; i < s.n; i++)
        assert_int_equal(s.ids[i], from + i);
    assert_int_equal((long)j.len, file_size());
    journal_close(&j);
}

static void test_rows_come_back_in_order(void **state)
{
    (void)state;
    struct journal j;
    assert_int_equal(journal_open(&j, path), 0);
    assert_int_equal(j.len, 0);
    add_rows(&j, 1, 5);
    assert_int_equal(file_size(), 0); /* buffered until flushed */
    assert_int_equal(journal_flush(&j), 0);
    assert_int_equal((long)j.len, file_size());
    append(&j, 6, 9);
    journal_close(&j);
    reopen_and_check(1, 9);
}

static void test_partial_or_damaged_tail_is_cut(void **state)
{
    (void)state;
    struct journal j;
    assert_int_equal(journal_open(&j, path), 0);
    size_t first = append(&j, 1, 1);
    size_t whole = append(&j, 2, 3);
    append(&j, 4, 4);
    journal_close(&j);
    /* The process died inside the write of record 4: only part of it is there. */
    assert_int_equal(truncate(path, (off_t)whole + 11), 0);
    reopen_and_check(1, 3);
    assert_int_equal(file_size(), (long)whole); /* the partial record is gone */

    /* Appending after the cut follows whole records. */
    assert_int_equal(journal_open(&j, path), 0);
    struct seen s = {0};
    assert_int_equal(journal_replay(&j, collect, &s), 3);
    append(&j, 4, 5);
    journal_close(&j);
    reopen_and_check(1, 5);

    /* A flipped byte in record 2's body: replay stops before it. */
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    char c;
    assert_int_equal(pread(fd, &c, 1, (off_t)first + 30), 1);
    c ^= 0x20;
    assert_int_equal(pwrite(fd, &c, 1, (off_t)first + 30), 1);
    close(fd);
    reopen_and_check(1, 1);
}

static void test_rewind_takes_a_batch_back(void **state)
{
    (void)state;
    struct journal j;
    assert_int_equal(journal_open(&j, path), 0);
    size_t mark = append(&j, 1, 2);
    append(&j, 3, 4);
    add_rows(&j, 5, 5); /* still buffered */
    journal_rewind(&j, mark);
    assert_int_equal(j.len, mark);
    assert_int_equal(file_size(), (long)mark);
    append(&j, 6, 6);
    journal_close(&j);
    struct journal k;
    assert_int_equal(journal_open(&k, path), 0);
    struct seen s = {0};
    assert_int_equal(journal_replay(&k, collect, &s), 3);
    assert_int_equal(s.ids[2], 6);
    /* Committed: the journal starts over. */
    journal_rewind(&k, 0);
    assert_int_equal(file_size(), 0);
    journal_close(&k);
}

static void test_buffer_is_written_as_it_grows(void **state)
{
    (void)state;
    struct journal j;
    assert_int_equal(journal_open(&j, path), 0);
    /* ~8 KB lines: 256 KiB of buffer is reached after ~32 of them. */
    static char big[8200];
    memset(big, 'x', sizeof big - 1);
    for (int i = 1; i <= 100; i++) {
        struct jrec r = {.id = i,
                         .target = "#c",
                         .pm_from = "",
                         .pm_to = "",
                         .msgid = "m",
                         .tags = "",
                         .line = big,
                         .line_len = sizeof big - 1};
        assert_int_equal(journal_add(&j, &r), 0);
        assert_true(j.buf_len <= 256 * 1024 + sizeof big + 256);
    }
    assert_true(file_size() > 0);
    assert_int_equal(journal_flush(&j), 0);
    assert_true(file_size() > 100 * 8200);
    journal_close(&j);
}

static void test_refused_records(void **state)
{
    (void)state;
    struct journal j;
    assert_int_equal(journal_open(&j, path), 0);
    char *huge = malloc(JOURNAL_RECORD_MAX + 1);
    assert_non_null(huge);
    memset(huge, 'y', JOURNAL_RECORD_MAX);
    huge[JOURNAL_RECORD_MAX] = '\0';
    struct jrec r = {.id = 1,
                     .target = "#c",
                     .pm_from = "",
                     .pm_to = "",
                     .msgid = "m",
                     .tags = "",
                     .line = huge,
                     .line_len = JOURNAL_RECORD_MAX};
    assert_int_equal(journal_add(&j, &r), -1);
    assert_int_equal(errno, EMSGSIZE);
    free(huge);
    r.line = "a\0b";
    r.line_len = 3;
    assert_int_equal(journal_add(&j, &r), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(j.buf_len, 0);
    journal_close(&j);
}

static void test_write_failure_leaves_whole_records(void **state)
{
    (void)state;
    struct journal j;
    assert_int_equal(journal_open(&j, path), 0);
    size_t whole = append(&j, 1, 2);
    add_rows(&j, 3, 3);
    /* A descriptor that cannot be written (like a full disk's): the write fails. */
    int fd = j.fd;
    j.fd = open(path, O_RDONLY);
    assert_true(j.fd >= 0);
    assert_int_equal(journal_flush(&j), -1);
    assert_int_equal(errno, EBADF);
    assert_int_equal(j.len, whole);
    assert_int_equal(j.buf_len, 0);
    close(j.fd);
    j.fd = fd;
    journal_close(&j);
    reopen_and_check(1, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rows_come_back_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partial_or_damaged_tail_is_cut, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rewind_takes_a_batch_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_buffer_is_written_as_it_grows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_failure_leaves_whole_records, setup, teardown),
    };
    return cmocka_run_group_tests_name("journal", tests, NULL, NULL);
}
