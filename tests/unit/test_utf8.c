/* Unit tests for src/common/utf8.c: strict validation by RFC 3629 (the boundaries of every
 * row of its table, overlongs, surrogates, past U+10FFFF, truncation) and utf8_trim. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "common/utf8.h"

static int valid(const char *s)
{
    return utf8_valid(s, strlen(s));
}

static void valid_ascii_and_empty(void **state)
{
    (void)state;
    assert_true(utf8_valid("", 0));
    assert_true(valid("hello, world"));
    assert_true(valid("\x01\x7f"));
    /* NUL is U+0000, valid UTF-8; the length decides, not the terminator. */
    assert_true(utf8_valid("a\0b", 3));
}

static void valid_multibyte_boundaries(void **state)
{
    (void)state;
    static const char *good[] = {
        "\xc2\x80",         /* U+0080, first two-byte */
        "\xc3\xa9",         /* U+00E9 */
        "\xdf\xbf",         /* U+07FF, last two-byte */
        "\xe0\xa0\x80",     /* U+0800, first three-byte */
        "\xe2\x82\xac",     /* U+20AC euro */
        "\xed\x9f\xbf",     /* U+D7FF, just below the surrogates */
        "\xee\x80\x80",     /* U+E000, just above them */
        "\xef\xbf\xbd",     /* U+FFFD */
        "\xef\xbf\xbf",     /* U+FFFF */
        "\xf0\x90\x80\x80", /* U+10000, first four-byte */
        "\xf0\x9f\x98\x80", /* U+1F600 */
        "\xf3\xbf\xbf\xbf", /* U+FFFFF */
        "\xf4\x8f\xbf\xbf", /* U+10FFFF, the last code point */
        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80!",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true(valid(good[i]));
}

static void invalid_overlongs(void **state)
{
    (void)state;
    static const char *bad[] = {
        "\xc0\x80",         "\xc0\xaf",         "\xc1\xbf",         /* two-byte overlongs */
        "\xe0\x80\x80",     "\xe0\x80\xaf",     "\xe0\x9f\xbf",     /* three-byte */
        "\xf0\x80\x80\x80", "\xf0\x80\x80\xaf", "\xf0\x8f\xbf\xbf", /* four-byte */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(valid(bad[i]));
}

static void invalid_surrogates(void **state)
{
    (void)state;
    static const char *bad[] = {
        "\xed\xa0\x80",             /* U+D800 */
        "\xed\xad\xbf",             /* U+DB7F */
        "\xed\xb0\x80",             /* U+DC00 */
        "\xed\xbf\xbf",             /* U+DFFF */
        "\xed\xa0\xbd\xed\xb8\x80", /* a CESU-8 style pair */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(valid(bad[i]));
}

static void invalid_past_max_code_point(void **state)
{
    (void)state;
    static const char *bad[] = {
        "\xf4\x90\x80\x80", /* U+110000 */
        "\xf4\xbf\xbf\xbf",
        "\xf5\x80\x80\x80",
        "\xf7\xbf\xbf\xbf",
        "\xf8\x88\x80\x80\x80",     /* old five-byte form */
        "\xfc\x84\x80\x80\x80\x80", /* old six-byte form */
        "\xfe",
        "\xff",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(valid(bad[i]));
}

static void invalid_stray_and_bad_continuations(void **state)
{
    (void)state;
    static const char *bad[] = {
        "\x80",
        "\xbf",
        "a\x80",
        "\xc3\xa9\xa9", /* continuation with no lead */
        "\xc3\x41",     /* lead then ASCII */
        "\xc3\xc3\xa9", /* lead then lead */
        "\xe2\x41\xac",
        "\xe2\x82\x41",
        "\xf0\x9f\x41\x80",
        "\xf0\x9f\x98\x41",
        "\xe2\x82\xc0",
        "\xf0\x9f\x98\xc0",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(valid(bad[i]));
}

static void invalid_truncated(void **state)
{
    (void)state;
    static const char *bad[] = {
        "\xc3",     "a\xc3",        "\xe2",     "\xe2\x82",     "\xf0",
        "\xf0\x9f", "\xf0\x9f\x98", "\xe0\xa0", "\xf4\x8f\xbf",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(valid(bad[i]));
    /* The length bounds the check: a valid sequence cut by len is invalid. */
    assert_false(utf8_valid("\xe2\x82\xac", 2));
    assert_true(utf8_valid("\xe2\x82\xac", 3));
    assert_true(utf8_valid("ab\xe2\x82\xac", 2));
}

static void trim_keeps_whole_text(void **state)
{
    (void)state;
    static const char *whole[] = {"",
                                  "abc",
                                  "\xc3\xa9",
                                  "\xe2\x82\xac",
                                  "\xf0\x9f\x98\x80",
                                  "a\xc3\xa9",
                                  "\xe2\x82\xac\xf0\x9f\x98\x80"};
    for (size_t i = 0; i < sizeof whole / sizeof whole[0]; i++)
        assert_int_equal(utf8_trim(whole[i], strlen(whole[i])), strlen(whole[i]));
}

static void trim_cuts_partial_last_char(void **state)
{
    (void)state;
    /* Cutting "a" U+20AC U+1F600 at every length leaves only whole characters. */
    const char *s = "a\xe2\x82\xac\xf0\x9f\x98\x80";
    static const size_t want[] = {0, 1, 1, 1, 4, 4, 4, 4, 8};
    for (size_t len = 0; len <= 8; len++) {
        size_t n = utf8_trim(s, len);
        assert_int_equal(n, want[len]);
        assert_true(utf8_valid(s, n));
    }
    assert_int_equal(utf8_trim("\xc3", 1), 0);
    assert_int_equal(utf8_trim("ab\xc3", 3), 2);
    assert_int_equal(utf8_trim("\xc3\xa9\xc3", 3), 2);
}

static void trim_every_prefix_of_valid_text(void **state)
{
    (void)state;
    const char *s = "x\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbfy";
    size_t total = strlen(s);
    for (size_t len = 0; len <= total; len++) {
        size_t n = utf8_trim(s, len);
        assert_true(n <= len);
        assert_true(len - n < 4);
        assert_true(utf8_valid(s, n));
        /* Largest: one more byte than n (when n < len) would not be valid. */
        if (n < len)
            assert_false(utf8_valid(s, n + 1));
    }
}

static void trim_leaves_invalid_endings(void **state)
{
    (void)state;
    /* Stray continuation bytes are not a partial character: nothing to cut. */
    assert_int_equal(utf8_trim("a\x80", 2), 2);
    assert_int_equal(utf8_trim("a\x80\x80\x80\x80\x80", 6), 6);
}

static void cut_and_copy_keep_whole_characters(void **state)
{
    (void)state;
    char out[8];
    /* "é" is two bytes: a cut at 2 or 3 keeps "a" and the "é", never half of it. */
    assert_int_equal(utf8_cut("a\xc3\xa9z", 2), 1);
    assert_int_equal(utf8_cut("a\xc3\xa9z", 3), 3);
    assert_int_equal(utf8_cut("short", 100), 5);
    assert_int_equal(utf8_copy(out, "a\xc3\xa9z", 2), 1);
    assert_string_equal(out, "a");
    assert_int_equal(utf8_copy(out, "a\xc3\xa9z", 7), 4);
    assert_string_equal(out, "a\xc3\xa9z");
    assert_int_equal(utf8_copy(out, "", 7), 0);
    assert_string_equal(out, "");
}

/* utf8_repair: valid text unchanged, each invalid byte one U+FFFD, the result valid and never
 * past the buffer, with no character cut in two. */
static void repair_replaces_each_invalid_byte(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(utf8_repair(out, sizeof out, "caf\xc3\xa9", 5), 5);
    assert_string_equal(out, "caf\xc3\xa9");
    const char latin1[] = "Jos\xe9 M\xfcller";
    size_t n = utf8_repair(out, sizeof out, latin1, strlen(latin1));
    assert_string_equal(out, "Jos\xef\xbf\xbd M\xef\xbf\xbdller");
    assert_int_equal(n, strlen(out));
    assert_true(utf8_valid(out, n));
    /* a truncated sequence at the end, a surrogate, an overlong */
    const char bad[] = "a\xe2\x82";
    n = utf8_repair(out, sizeof out, bad, strlen(bad));
    assert_string_equal(out, "a\xef\xbf\xbd\xef\xbf\xbd");
    n = utf8_repair(out, sizeof out, "\xed\xa0\x80", 3);
    assert_int_equal(n, 9);
    assert_true(utf8_valid(out, n));
    n = utf8_repair(out, sizeof out, "\xc0\xaf", 2);
    assert_int_equal(n, 6);
    /* the bound: a replacement that would not fit is left out whole */
    char small[5];
    n = utf8_repair(small, sizeof small, "ab\xff", 3);
    assert_int_equal(n, 2);
    assert_string_equal(small, "ab");
    n = utf8_repair(small, sizeof small, "a\xff", 2);
    assert_int_equal(n, 4);
    assert_true(utf8_valid(small, n));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_ascii_and_empty),
        cmocka_unit_test(valid_multibyte_boundaries),
        cmocka_unit_test(invalid_overlongs),
        cmocka_unit_test(invalid_surrogates),
        cmocka_unit_test(invalid_past_max_code_point),
        cmocka_unit_test(invalid_stray_and_bad_continuations),
        cmocka_unit_test(invalid_truncated),
        cmocka_unit_test(trim_keeps_whole_text),
        cmocka_unit_test(trim_cuts_partial_last_char),
        cmocka_unit_test(trim_every_prefix_of_valid_text),
        cmocka_unit_test(trim_leaves_invalid_endings),
        cmocka_unit_test(cut_and_copy_keep_whole_characters),
        cmocka_unit_test(repair_replaces_each_invalid_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
