/* Unit tests for src/common/log.c: logfmt values (bare, quoted, every escape, values that are
 * not UTF-8, values cut to fit) and whole lines in both formats, where anyone's text must not
 * end a line or pose as another field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"

/* log_quote of s, in a buffer of cap bytes. */
static const char *quoted(const char *s, size_t cap)
{
    static char out[LOG_LINE_MAX];
    assert_true(cap <= sizeof out);
    size_t n = log_quote(out, cap, s);
    assert_int_equal(n, strlen(out));
    return out;
}

#define assert_quotes(in, want) assert_string_equal(quoted(in, sizeof(char[LOG_LINE_MAX])), want)

static void plain_values_go_bare(void **state)
{
    (void)state;
    assert_quotes("bob", "bob");
    assert_quotes("127.0.0.1", "127.0.0.1");
    assert_quotes("[bob]`^{}|-_", "[bob]`^{}|-_");
    assert_quotes("caf\xc3\xa9", "caf\xc3\xa9");           /* UTF-8 is fine as it is */
    assert_quotes("\xe2\x82\xac", "\xe2\x82\xac");         /* U+20AC */
    assert_quotes("\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"); /* U+1F600, four bytes */
}

static void empty_spaces_and_equals_are_quoted(void **state)
{
    (void)state;
    assert_quotes("", "\"\"");
    assert_quotes("Ping timeout: 120 seconds", "\"Ping timeout: 120 seconds\"");
    assert_quotes(" ", "\" \"");
    assert_quotes("a=b", "\"a=b\"");
}

static void quotes_and_backslashes_are_escaped(void **state)
{
    (void)state;
    assert_quotes("a\"b", "\"a\\\"b\"");
    assert_quotes("\" level=error", "\"\\\" level=error\"");
    assert_quotes("a\\b", "\"a\\\\b\"");
    assert_quotes("\\", "\"\\\\\"");
    /* A backslash before a quote: both escaped, so the quote cannot close the value. */
    assert_quotes("x\\\" level=error msg=\"forged", "\"x\\\\\\\" level=error msg=\\\"forged\"");
}

static void line_breaks_and_controls_are_escaped(void **state)
{
    (void)state;
    assert_quotes("a\nb", "\"a\\nb\"");
    assert_quotes("a\rb", "\"a\\rb\"");
    assert_quotes("a\r\ntime=x level=error", "\"a\\r\\ntime=x level=error\"");
    assert_quotes("a\tb", "\"a\\tb\"");
    assert_quotes("\x01"
                  "ACTION\x01",
                  "\"\\x01ACTION\\x01\"");
    assert_quotes("\x1b[2J", "\"\\x1b[2J\"");
    assert_quotes("\x7f", "\"\\x7f\"");
    assert_quotes("\x0b\x0c", "\"\\x0b\\x0c\"");
    /* C1 controls (U+0085 is a newline to some readers) and the Unicode line separators. */
    assert_quotes("a\xc2\x85"
                  "b",
                  "\"a\\u0085b\"");
    assert_quotes("\xc2\x9b", "\"\\u009b\"");
    assert_quotes("a\xe2\x80\xa8"
                  "b\xe2\x80\xa9",
                  "\"a\\u2028b\\u2029\"");
    assert_quotes("\xc2\xa0", "\xc2\xa0"); /* U+00A0 is no control */
}

static void bytes_that_are_not_utf8_are_escaped_one_by_one(void **state)
{
    (void)state;
    assert_quotes("\xff", "\"\\xff\"");
    assert_quotes("a\xfe\xff"
                  "b",
                  "\"a\\xfe\\xffb\"");
    assert_quotes("\xc3", "\"\\xc3\"");                   /* cut short at the end */
    assert_quotes("\xc3(", "\"\\xc3(\"");                 /* bad continuation */
    assert_quotes("\xc0\xaf", "\"\\xc0\\xaf\"");          /* overlong '/' */
    assert_quotes("\xed\xa0\x80", "\"\\xed\\xa0\\x80\""); /* a surrogate */
    assert_quotes("\x80"
                  "abc",
                  "\"\\x80abc\"");                          /* stray continuation */
    assert_quotes("\xe2\x82", "\"\\xe2\\x82\"");            /* three-byte, cut short */
    assert_quotes("ok\xc3\xa9\xff", "\"ok\xc3\xa9\\xff\""); /* valid kept, invalid escaped */
}

static void a_value_cut_to_fit_keeps_its_closing_quote(void **state)
{
    (void)state;
    assert_string_equal(quoted("hello world", 8), "\"hello\""); /* 7 bytes and the NUL */
    /* Never half an escape: "\n" is two bytes, taken whole or not at all. */
    const char *s = quoted("\n\n\n\n\n\n", 8);
    assert_string_equal(s, "\"\\n\\n\"");
    s = quoted("\xff\xff\xff", 8);
    assert_string_equal(s, "\"\\xff\"");
    assert_string_equal(quoted("ab", 3), "ab");
    assert_string_equal(quoted("a b", 2), ""); /* not even both quotes */
    char one[1] = {'x'};
    assert_int_equal(log_quote(one, 1, "abc"), 0);
    assert_int_equal(one[0], '\0');
    assert_int_equal(log_quote(one, 0, "abc"), 0);
}

/* --- whole lines, written to a file that stands in for stderr --------------------------- */

static int saved_stderr = -1;
static FILE *capture;
static long read_to; /* how much of capture captured() has returned */

static int capture_start(void **state)
{
    (void)state;
    capture = tmpfile();
    assert_non_null(capture);
    read_to = 0;
    fflush(stderr);
    saved_stderr = dup(STDERR_FILENO);
    assert_true(dup2(fileno(capture), STDERR_FILENO) >= 0);
    log_set_level(LOG_INFO);
    log_set_format(LOG_FORMAT_TEXT);
    return 0;
}

static int capture_stop(void **state)
{
    (void)state;
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    fclose(capture);
    unsetenv("JOURNAL_STREAM");
    log_detect_journal();
    log_set_format(LOG_FORMAT_TEXT);
    return 0;
}

/* Everything written since the last call. */
static char *captured(void)
{
    static char buf[4 * LOG_LINE_MAX];
    long end = lseek(fileno(capture), 0, SEEK_END);
    size_t n = (size_t)(end - read_to);
    assert_true(n < sizeof buf);
    assert_int_equal(pread(fileno(capture), buf, n, read_to), (ssize_t)n);
    buf[n] = '\0';
    read_to = end;
    return buf;
}

/* The line after its time ("2026-01-01T00:00:00.000Z " in text, "time=... " in logfmt). */
static const char *after_time(const char *line, int logfmt)
{
    if (logfmt) {
        assert_memory_equal(line, "time=", 5);
        line += 5;
    }
    const char *sp = strchr(line, ' ');
    assert_non_null(sp);
    assert_int_equal(sp - line, (long)strlen("2026-01-01T00:00:00.000Z"));
    assert_int_equal(sp[-1], 'Z');
    return sp + 1;
}

static void log_connection_closed(void)
{
    log_event(LOG_INFO, "connection closed", LOG_TEXT("addr", "192.0.2.1"),
              LOG_TEXT("nick", "bob\" level=error"), LOG_TEXT("account", NULL),
              LOG_TEXT("reason", "Quit: bye\r\ntime=x level=error msg=forged"), LOG_NUM("id", 7),
              LOG_TEXT("empty", ""));
}

static void text_lines_quote_fields(void **state)
{
    (void)state;
    log_connection_closed();
    const char *line = after_time(captured(), 0);
    assert_string_equal(line, "info  connection closed addr=192.0.2.1 nick=\"bob\\\" level=error\" "
                              "reason=\"Quit: bye\\r\\ntime=x level=error msg=forged\" id=7 "
                              "empty=\"\"\n");
}

static void logfmt_lines_have_time_level_msg_and_fields(void **state)
{
    (void)state;
    log_set_format(LOG_FORMAT_LOGFMT);
    log_connection_closed();
    const char *line = after_time(captured(), 1);
    assert_string_equal(line, "level=info msg=\"connection closed\" addr=192.0.2.1 "
                              "nick=\"bob\\\" level=error\" reason=\"Quit: bye\\r\\ntime=x "
                              "level=error msg=forged\" id=7 empty=\"\"\n");
    log_warn("free %s", "form");
    assert_string_equal(after_time(captured(), 1), "level=warn msg=\"free form\"\n");
    log_error("one");
    assert_string_equal(after_time(captured(), 1), "level=error msg=one\n");
}

static void free_form_text_escapes_line_breaks(void **state)
{
    (void)state;
    log_info("announcement: %s", "hi\nfake line\x1b[2J");
    assert_string_equal(after_time(captured(), 0), "info  announcement: hi\\nfake line\\x1b[2J\n");
    log_set_format(LOG_FORMAT_LOGFMT);
    log_info("announcement: %s", "hi\nfake");
    assert_string_equal(after_time(captured(), 1), "level=info msg=\"announcement: hi\\nfake\"\n");
}

static void levels_below_the_threshold_are_not_written(void **state)
{
    (void)state;
    log_debug("not shown");
    log_event(LOG_DEBUG, "not shown either", LOG_NUM("n", 1));
    assert_string_equal(captured(), "");
    log_set_level(LOG_DEBUG);
    log_event(LOG_DEBUG, "shown", LOG_NUM("n", -1));
    assert_string_equal(after_time(captured(), 0), "debug shown n=-1\n");
}

static void journal_lines_carry_the_priority_and_no_time(void **state)
{
    (void)state;
    struct stat st;
    assert_int_equal(fstat(fileno(capture), &st), 0);
    char env[64];
    snprintf(env, sizeof env, "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino);
    setenv("JOURNAL_STREAM", env, 1);
    assert_int_equal(log_detect_journal(), 1);
    log_event(LOG_WARN, "login failed", LOG_TEXT("addr", "192.0.2.1"));
    assert_string_equal(captured(), "<4>login failed addr=192.0.2.1\n");
    log_set_format(LOG_FORMAT_LOGFMT);
    log_event(LOG_INFO, "connection opened", LOG_TEXT("addr", "192.0.2.1"));
    assert_string_equal(captured(), "<6>level=info msg=\"connection opened\" addr=192.0.2.1\n");
}

static void budget_reports_what_it_left_out(void **state)
{
    (void)state;
    static struct log_budget b = LOG_BUDGET_INIT;
    log_set_format(LOG_FORMAT_LOGFMT);
    for (int i = 0; i < 50; i++)
        log_event_limited(&b, 1, LOG_INFO, "connection opened", LOG_NUM("id", i));
    char *burst = captured();
    int lines = 0;
    for (char *p = burst; (p = strchr(p, '\n')); p++)
        lines++;
    assert_in_range(lines, 1, 2); /* 2 if a second began during the burst */
    usleep(1100 * 1000);          /* the next second's budget */
    log_event_limited(&b, 1, LOG_INFO, "connection opened", LOG_NUM("id", 50));
    const char *line = after_time(captured(), 1);
    assert_non_null(strstr(line, "level=info msg=\"connection opened\" id=50 suppressed="));
    assert_true(atoi(strstr(line, "suppressed=") + strlen("suppressed=")) >= 48);
}

static void long_lines_are_cut_and_still_end_well(void **state)
{
    (void)state;
    char big[3 * LOG_LINE_MAX];
    memset(big, '\n', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    log_set_format(LOG_FORMAT_LOGFMT);
    log_event(LOG_INFO, "x", LOG_TEXT("reason", big), LOG_NUM("id", 1));
    const char *all = captured();
    size_t n = strlen(all);
    assert_true(n <= LOG_LINE_MAX);
    assert_ptr_equal(strchr(all, '\n'), all + n - 1); /* one line */
    assert_memory_equal(all + n - 3, "n\"\n", 3);     /* an escape whole, the quote closed */
}

static void formats_and_levels_parse(void **state)
{
    (void)state;
    enum log_format f;
    assert_int_equal(log_parse_format("logfmt", &f), 0);
    assert_int_equal(f, LOG_FORMAT_LOGFMT);
    assert_int_equal(log_parse_format("text", &f), 0);
    assert_int_equal(f, LOG_FORMAT_TEXT);
    assert_int_equal(log_parse_format("json", &f), -1);
    assert_int_equal(log_parse_format("", &f), -1);
    enum log_level l;
    assert_int_equal(log_parse_level("warn", &l), 0);
    assert_int_equal(l, LOG_WARN);
    assert_int_equal(log_parse_level("verbose", &l), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_values_go_bare),
        cmocka_unit_test(empty_spaces_and_equals_are_quoted),
        cmocka_unit_test(quotes_and_backslashes_are_escaped),
        cmocka_unit_test(line_breaks_and_controls_are_escaped),
        cmocka_unit_test(bytes_that_are_not_utf8_are_escaped_one_by_one),
        cmocka_unit_test(a_value_cut_to_fit_keeps_its_closing_quote),
        cmocka_unit_test_setup_teardown(text_lines_quote_fields, capture_start, capture_stop),
        cmocka_unit_test_setup_teardown(logfmt_lines_have_time_level_msg_and_fields, capture_start,
                                        capture_stop),
        cmocka_unit_test_setup_teardown(free_form_text_escapes_line_breaks, capture_start,
                                        capture_stop),
        cmocka_unit_test_setup_teardown(levels_below_the_threshold_are_not_written, capture_start,
                                        capture_stop),
        cmocka_unit_test_setup_teardown(journal_lines_carry_the_priority_and_no_time, capture_start,
                                        capture_stop),
        cmocka_unit_test_setup_teardown(budget_reports_what_it_left_out, capture_start,
                                        capture_stop),
        cmocka_unit_test_setup_teardown(long_lines_are_cut_and_still_end_well, capture_start,
                                        capture_stop),
        cmocka_unit_test(formats_and_levels_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
