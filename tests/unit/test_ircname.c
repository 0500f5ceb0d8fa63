/* Unit tests for src/common/ircname.c: nickname and channel-name validity, and rfc1459 case
 * folding (A-Z with a-z, []\~ with {}|^) in both ircname_fold and ircname_cmp. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "common/ircname.h"

/* A name of n copies of c after an optional prefix, in buf. */
static const char *make_name(char *buf, size_t cap, const char *prefix, char c, size_t n)
{
    size_t plen = strlen(prefix);
    assert_true(plen + n < cap);
    memcpy(buf, prefix, plen);
    memset(buf + plen, c, n);
    buf[plen + n] = '\0';
    return buf;
}

static void nick_valid_examples(void **state)
{
    (void)state;
    static const char *good[] = {"a",   "Nick", "bob42", "a-b-", "[]\\`_^{|}",
                                 "_x_", "`a",   "|b",    "Z9-",  "{away}"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true(ircname_nick_valid(good[i]));
}

static void nick_invalid_first_char(void **state)
{
    (void)state;
    static const char *bad[] = {"", "1abc", "9", "-abc", "-", "#chan", ":x", "@op", "+v", " a"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(ircname_nick_valid(bad[i]));
}

static void nick_invalid_chars(void **state)
{
    (void)state;
    static const char *bad[] = {"a b", "a!b", "a@b", "a.b", "a,b", "a:b",       "a*",
                                "a?",  "a#",  "a~",  "a\r", "a\n", "a\x01",     "a\x7f",
                                "a/",  "a=b", "a+",  "a'",  "a\"", "n\xc3\xa9", "\xc3\xa9"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(ircname_nick_valid(bad[i]));
}

static void nick_length_limit(void **state)
{
    (void)state;
    char buf[IRC_NICK_MAX + 8];
    assert_true(ircname_nick_valid(make_name(buf, sizeof buf, "", 'n', IRC_NICK_MAX)));
    assert_false(ircname_nick_valid(make_name(buf, sizeof buf, "", 'n', IRC_NICK_MAX + 1)));
    assert_true(ircname_nick_valid(make_name(buf, sizeof buf, "a", '9', IRC_NICK_MAX - 1)));
    assert_false(ircname_nick_valid(make_name(buf, sizeof buf, "a", '9', IRC_NICK_MAX)));
}

static void channel_valid_examples(void **state)
{
    (void)state;
    static const char *good[] = {
        "#a", "##", "#lobby", "#a.b!c", "#UPPER", "#[x]", "#\xc3\xa9t\xc3\xa9", "#\xe2\x80\x94"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true(ircname_channel_valid(good[i]));
}

static void channel_invalid_names(void **state)
{
    (void)state;
    static const char *bad[] = {"", "#", "a", "lobby", "&local", "+x", "!abc", "# a", "#a ", "#a,b",
                                "#a:b", "#a\a", "#a\r", "#a\n", "#,", "#:", "#\a", " #a",
                                /* control and invisible formatting characters (issue 21) */
                                "#a\tb", "#a\x01", "#\x1b[31m", "#a\x7f",
                                "#a\xe2\x80\x8b"
                                "b", /* U+200B zero width space */
                                "#a\xe2\x80\xae"
                                "b", /* U+202E right-to-left override */
                                "#\xef\xbb\xbf"
                                "lobby", /* U+FEFF byte order mark */
                                "#a\xc2\xad"
                                "b", /* U+00AD soft hyphen */
                                "#a\xe2\x81\xa0"
                                "b"}; /* U+2060 word joiner */
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(ircname_channel_valid(bad[i]));
}

static void channel_length_limit(void **state)
{
    (void)state;
    char buf[IRC_CHANNEL_MAX + 8];
    assert_true(ircname_channel_valid(make_name(buf, sizeof buf, "#", 'c', IRC_CHANNEL_MAX - 1)));
    assert_int_equal(strlen(buf), IRC_CHANNEL_MAX);
    assert_false(ircname_channel_valid(make_name(buf, sizeof buf, "#", 'c', IRC_CHANNEL_MAX)));
}

static void is_channel_checks_prefix_only(void **state)
{
    (void)state;
    assert_true(ircname_is_channel("#x"));
    assert_true(ircname_is_channel("#"));
    assert_true(ircname_is_channel("#a b")); /* a prefix test, not a validity test */
    assert_false(ircname_is_channel("x"));
    assert_false(ircname_is_channel(""));
    assert_false(ircname_is_channel("&x"));
}

static void fold_ascii_and_specials(void **state)
{
    (void)state;
    char out[64];
    assert_string_equal(ircname_fold("NickName", out, sizeof out), "nickname");
    assert_string_equal(ircname_fold("ABC[]\\", out, sizeof out), "abc{}|");
    assert_string_equal(ircname_fold("abc{}|", out, sizeof out), "abc{}|");
    /* Characters outside the mapping are kept. */
    assert_string_equal(ircname_fold("_`-09#@", out, sizeof out), "_`-09#@");
    assert_string_equal(ircname_fold("\xc3\x89", out, sizeof out), "\xc3\x89");
    assert_ptr_equal(ircname_fold("X", out, sizeof out), out);
}

static void fold_pairs_agree(void **state)
{
    (void)state;
    char a[16];
    char b[16];
    assert_string_equal(ircname_fold("[]\\~", a, sizeof a), ircname_fold("{}|^", b, sizeof b));
    assert_string_equal(ircname_fold("~", a, sizeof a), ircname_fold("^", b, sizeof b));
    assert_string_equal(ircname_fold("Q[\\]~", a, sizeof a), ircname_fold("q{|}^", b, sizeof b));
    /* Folding twice changes nothing. */
    char c[16];
    ircname_fold("A[]\\~^{}|", a, sizeof a);
    assert_string_equal(ircname_fold(a, c, sizeof c), a);
}

static void fold_char_agrees_with_fold(void **state)
{
    (void)state;
    /* Byte by byte, the fold of every byte is what ircname_fold makes of it. */
    for (int c = 1; c < 256; c++) {
        char in[2] = {(char)c, '\0'}, out[2];
        ircname_fold(in, out, sizeof out);
        assert_int_equal(ircname_fold_char((unsigned char)c), (unsigned char)out[0]);
    }
}

static void fold_truncates_to_cap(void **state)
{
    (void)state;
    char out[8];
    memset(out, 'x', sizeof out);
    assert_string_equal(ircname_fold("ABCDEF", out, 4), "abc");
    assert_int_equal(out[4], 'x'); /* nothing written past cap */
    assert_string_equal(ircname_fold("ABCDEF", out, 1), "");
    out[0] = 'x';
    ircname_fold("ABCDEF", out, 0);
    assert_int_equal(out[0], 'x');
    assert_string_equal(ircname_fold("", out, sizeof out), "");
}

static void cmp_rfc1459(void **state)
{
    (void)state;
    assert_int_equal(ircname_cmp("Nick[]", "nick{}"), 0);
    assert_int_equal(ircname_cmp("a\\b", "A|B"), 0);
    assert_int_equal(ircname_cmp("x~", "X^"), 0);
    assert_int_equal(ircname_cmp("[]\\~", "{}|^"), 0);
    assert_int_equal(ircname_cmp("", ""), 0);

    assert_int_not_equal(ircname_cmp("a", "b"), 0);
    assert_true(ircname_cmp("a", "b") < 0);
    assert_true(ircname_cmp("B", "a") > 0);
    assert_true(ircname_cmp("ab", "abc") < 0);
    assert_true(ircname_cmp("abc", "AB") > 0);
    /* Neighbours of the folded ranges do not fold. */
    assert_int_not_equal(ircname_cmp("_", "\x7f"), 0);
    assert_int_not_equal(ircname_cmp("@", "`"), 0);
    assert_int_not_equal(ircname_cmp("-", "_"), 0);
}

/* ircname_cmp and ircname_fold must agree on every pair of bytes, or a hash keyed by the fold
 * and a lookup by cmp would disagree. */
static void cmp_agrees_with_fold(void **state)
{
    (void)state;
    for (int x = 1; x < 256; x++) {
        for (int y = 1; y < 256; y++) {
            char a[2] = {(char)x, 0};
            char b[2] = {(char)y, 0};
            char fa[2];
            char fb[2];
            int same = strcmp(ircname_fold(a, fa, sizeof fa), ircname_fold(b, fb, sizeof fb)) == 0;
            assert_int_equal(ircname_cmp(a, b) == 0, same);
            int c1 = ircname_cmp(a, b);
            int c2 = ircname_cmp(b, a);
            assert_true((c1 < 0 && c2 > 0) || (c1 > 0 && c2 < 0) || (c1 == 0 && c2 == 0));
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nick_valid_examples),     cmocka_unit_test(nick_invalid_first_char),
        cmocka_unit_test(nick_invalid_chars),      cmocka_unit_test(nick_length_limit),
        cmocka_unit_test(channel_valid_examples),  cmocka_unit_test(channel_invalid_names),
        cmocka_unit_test(channel_length_limit),    cmocka_unit_test(is_channel_checks_prefix_only),
        cmocka_unit_test(fold_ascii_and_specials), cmocka_unit_test(fold_pairs_agree),
        cmocka_unit_test(fold_truncates_to_cap),   cmocka_unit_test(cmp_rfc1459),
        cmocka_unit_test(cmp_agrees_with_fold),    cmocka_unit_test(fold_char_agrees_with_fold),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
