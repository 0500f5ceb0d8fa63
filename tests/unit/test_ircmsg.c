/* Unit tests for src/common/ircmsg.c: line parsing (tags, prefix, command, params), IRCv3 tag
 * lookup and escaping, and serialisation, including what serialise must refuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "common/ircmsg.h"

/* Room for the longest raw line plus the CR LF and the ':' serialise may add. */
#define TEST_LINE_BUF (IRC_RAW_LINE_MAX + 16)

/* Parses a copy of text; the copy lives in buf so msg may point into it. */
static int parse_copy(const char *text, char *buf, size_t cap, struct ircmsg *msg)
{
    assert_true(strlen(text) < cap);
    strcpy(buf, text);
    return ircmsg_parse(buf, msg);
}

/* Parses text, serialises it and checks the wire form is want. */
static void assert_roundtrip(const char *text, const char *want)
{
    char buf[TEST_LINE_BUF];
    char out[TEST_LINE_BUF];
    struct ircmsg msg;
    assert_int_equal(parse_copy(text, buf, sizeof buf, &msg), IRCMSG_OK);
    int n = ircmsg_serialise(&msg, out, sizeof out);
    assert_int_equal(n, (int)strlen(want));
    assert_string_equal(out, want);

    /* Parsing the serialised line (without CR LF) gives the same command and params. */
    struct ircmsg again;
    out[n - 2] = '\0';
    assert_int_equal(ircmsg_parse(out, &again), IRCMSG_OK);
    assert_string_equal(again.command, msg.command);
    assert_int_equal(again.nparams, msg.nparams);
    for (int i = 0; i < msg.nparams; i++)
        assert_string_equal(again.params[i], msg.params[i]);
}

/* ---- parsing: the basic shapes ---- */

static void parse_command_only(void **state)
{
    (void)state;
    char buf[64];
    struct ircmsg msg;
    assert_int_equal(parse_copy("PING", buf, sizeof buf, &msg), IRCMSG_OK);
    assert_null(msg.tags);
    assert_null(msg.prefix);
    assert_string_equal(msg.command, "PING");
    assert_int_equal(msg.nparams, 0);
}

static void parse_prefix_and_trailing(void **state)
{
    (void)state;
    char buf[128];
    struct ircmsg msg;
    assert_int_equal(
        parse_copy(":nick!user@host PRIVMSG #chan :hello world", buf, sizeof buf, &msg), IRCMSG_OK);
    assert_null(msg.tags);
    assert_string_equal(msg.prefix, "nick!user@host");
    assert_string_equal(msg.command, "PRIVMSG");
    assert_int_equal(msg.nparams, 2);
    assert_string_equal(msg.params[0], "#chan");
    assert_string_equal(msg.params[1], "hello world");
}

static void parse_leading_spaces_before_command(void **state)
{
    (void)state;
    char buf[64];
    struct ircmsg msg;
    assert_int_equal(parse_copy("   NICK   bob", buf, sizeof buf, &msg), IRCMSG_OK);
    assert_string_equal(msg.command, "NICK");
    assert_int_equal(msg.nparams, 1);
    assert_string_equal(msg.params[0], "bob");
}

static void parse_empty_and_blank_lines(void **state)
{
    (void)state;
    char buf[64];
    struct ircmsg msg;
    assert_int_equal(parse_copy("", buf, sizeof buf, &msg), IRCMSG_EEMPTY);
    assert_int_equal(parse_copy(" ", buf, sizeof buf, &msg), IRCMSG_EEMPTY);
    assert_int_equal(parse_copy("        ", buf, sizeof buf, &msg), IRCMSG_EEMPTY);
}

static void parse_missing_command(void **state)
{
    (void)state;
    char buf[64];
    struct ircmsg msg;
    assert_int_equal(parse_copy(":prefix", buf, sizeof buf, &msg), IRCMSG_ENOCOMMAND);
    assert_int_equal(parse_copy(":prefix   ", buf, sizeof buf, &msg), IRCMSG_ENOCOMMAND);
    assert_int_equal(parse_copy("@a=1", buf, sizeof buf, &msg), IRCMSG_ENOCOMMAND);
    assert_int_equal(parse_copy("@a=1 :prefix", buf, sizeof buf, &msg), IRCMSG_ENOCOMMAND);
    assert_int_equal(parse_copy("@a=1 :prefix  ", buf, sizeof buf, &msg), IRCMSG_ENOCOMMAND);
}

/* ---- parsing: tags ---- */

static void parse_tags_present(void **state)
{
    (void)state;
    char buf[128];
    struct ircmsg msg;
    assert_int_equal(
        parse_copy("@time=12:00;+draft/x;msgid=a\\sb :src PRIVMSG #c :hi", buf, sizeof buf, &msg),
        IRCMSG_OK);
    assert_string_equal(msg.tags, "time=12:00;+draft/x;msgid=a\\sb");
    assert_string_equal(msg.prefix, "src");
    assert_string_equal(msg.command, "PRIVMSG");
    assert_int_equal(msg.nparams, 2);

    char val[64];
    assert_int_equal(ircmsg_tag_get(msg.tags, "time", val, sizeof val), 1);
    assert_string_equal(val, "12:00");
    assert_int_equal(ircmsg_tag_get(msg.tags, "+draft/x", val, sizeof val), 1);
    assert_string_equal(val, "");
    assert_int_equal(ircmsg_tag_get(msg.tags, "msgid", val, sizeof val), 1);
    assert_string_equal(val, "a b");
    assert_int_equal(ircmsg_tag_get(msg.tags, "absent", val, sizeof val), 0);
}

static void parse_tags_absent(void **state)
{
    (void)state;
    char buf[64];
    struct ircmsg msg;
    assert_int_equal(parse_copy(":src NOTICE x :y", buf, sizeof buf, &msg), IRCMSG_OK);
    assert_null(msg.tags);
    char val[8];
    assert_int_equal(ircmsg_tag_get(msg.tags, "time", val, sizeof val), 0);
    assert_int_equal(ircmsg_tag_get("", "time", val, sizeof val), 0);
}

static void parse_tags_without_prefix(void **state)
{
    (void)state;
    char buf[64];
    struct ircmsg msg;
    assert_int_equal(parse_copy("@k=v    PING   x", buf, sizeof buf, &msg), IRCMSG_OK);
    assert_string_equal(msg.tags, "k=v");
    assert_null(msg.prefix);
    assert_string_equal(msg.command, "PING");
    assert_int_equal(msg.nparams, 1);
    assert_string_equal(msg.params[0], "x");
}

/* IRCv3: the tag section, '@' and the space after it included, is at most 8191 bytes. */
static void parse_tags_length_bound(void **state)
{
    (void)state;
    static char line[TEST_LINE_BUF];
    struct ircmsg msg;
    size_t longest = IRC_TAGS_MAX - 2; /* without '@' and ' ' */

    line[0] = '@';
    memset(line + 1, 'a', longest);
    strcpy(line + 1 + longest, " PING");
    assert_int_equal(ircmsg_parse(line, &msg), IRCMSG_OK);
    assert_int_equal(strlen(msg.tags), longest);
    assert_string_equal(msg.command, "PING");

    line[0] = '@';
    memset(line + 1, 'a', longest + 1);
    strcpy(line + 2 + longest, " PING");
    assert_int_equal(ircmsg_parse(line, &msg), IRCMSG_ETAGS);
}

static void tag_get_unescapes(void **state)
{
    (void)state;
    char val[64];
    assert_int_equal(ircmsg_tag_get("k=a\\:b\\sc\\\\d\\re\\nf", "k", val, sizeof val), 1);
    assert_string_equal(val, "a;b c\\d\re\nf");
    /* An unknown escape stands for the character; a lone trailing backslash is dropped. */
    assert_int_equal(ircmsg_tag_get("k=\\b\\x", "k", val, sizeof val), 1);
    assert_string_equal(val, "bx");
    assert_int_equal(ircmsg_tag_get("k=ab\\;z=1", "k", val, sizeof val), 1);
    assert_string_equal(val, "ab");
    assert_int_equal(ircmsg_tag_get("k=ab\\;z=1", "z", val, sizeof val), 1);
    assert_string_equal(val, "1");
    /* '=' inside a value is a plain character. */
    assert_int_equal(ircmsg_tag_get("k=a=b", "k", val, sizeof val), 1);
    assert_string_equal(val, "a=b");
}

static void tag_get_key_without_value(void **state)
{
    (void)state;
    char val[8] = "junk";
    assert_int_equal(ircmsg_tag_get("a;b=1", "a", val, sizeof val), 1);
    assert_string_equal(val, "");
    assert_int_equal(ircmsg_tag_get("a=1;b", "b", val, sizeof val), 1);
    assert_string_equal(val, "");
    assert_int_equal(ircmsg_tag_get("a=;b=1", "a", val, sizeof val), 1);
    assert_string_equal(val, "");
}

static void tag_get_matches_whole_keys(void **state)
{
    (void)state;
    char val[8];
    assert_int_equal(ircmsg_tag_get("ab=1;c=2", "a", val, sizeof val), 0);
    assert_int_equal(ircmsg_tag_get("a=1;c=2", "ab", val, sizeof val), 0);
    assert_int_equal(ircmsg_tag_get("x=a;c=2", "a", val, sizeof val), 0);
    assert_int_equal(ircmsg_tag_get("ab=1;a=2", "a", val, sizeof val), 1);
    assert_string_equal(val, "2");
    /* Keys are case-sensitive opaque identifiers. */
    assert_int_equal(ircmsg_tag_get("Time=1", "time", val, sizeof val), 0);
}

static void tag_get_out_too_small(void **state)
{
    (void)state;
    char val[4];
    assert_int_equal(ircmsg_tag_get("k=abc", "k", val, 4), 1);
    assert_string_equal(val, "abc");
    assert_int_equal(ircmsg_tag_get("k=abcd", "k", val, 4), -1);
    assert_int_equal(ircmsg_tag_get("k=\\s\\s\\s", "k", val, 4), 1); /* escapes count once */
    assert_string_equal(val, "   ");
    assert_int_equal(ircmsg_tag_get("k", "k", val, 1), 1);
    assert_string_equal(val, "");
    assert_int_equal(ircmsg_tag_get("k", "k", val, 0), -1);
}

/* IRCv3 message-tags: "Implementations receiving messages with more than one occurrence of a
 * tag key name SHOULD disregard all but the final occurrence." */
static void tag_get_duplicate_key_last_wins(void **state)
{
    (void)state;
    char val[8];
    assert_int_equal(ircmsg_tag_get("k=first;x=1;k=last", "k", val, sizeof val), 1);
    assert_string_equal(val, "last");
}

static void tag_escape_and_back(void **state)
{
    (void)state;
    char esc[64];
    char back[64];
    const char *value = "a;b c\\d\re\nf";
    int n = ircmsg_tag_escape(value, esc, sizeof esc);
    assert_int_equal(n, (int)strlen("a\\:b\\sc\\\\d\\re\\nf"));
    assert_string_equal(esc, "a\\:b\\sc\\\\d\\re\\nf");

    char tags[80];
    snprintf(tags, sizeof tags, "x=1;k=%s;y", esc);
    assert_int_equal(ircmsg_tag_get(tags, "k", back, sizeof back), 1);
    assert_string_equal(back, value);

    assert_int_equal(ircmsg_tag_escape("", esc, sizeof esc), 0);
    assert_string_equal(esc, "");
    assert_int_equal(ircmsg_tag_escape("plain", esc, sizeof esc), 5);
    assert_string_equal(esc, "plain");
}

static void tag_escape_out_too_small(void **state)
{
    (void)state;
    char esc[8];
    assert_int_equal(ircmsg_tag_escape("abc", esc, 4), 3);
    assert_int_equal(ircmsg_tag_escape("abcd", esc, 4), -1);
    assert_int_equal(ircmsg_tag_escape("a b", esc, 4), -1); /* "a\sb" needs 5 with the NUL */
    assert_int_equal(ircmsg_tag_escape("a b", esc, 5), 4);
    assert_string_equal(esc, "a\\sb");
    assert_int_equal(ircmsg_tag_escape("", esc, 0), -1);
}

/* ---- parsing: the command ---- */

static void parse_command_letters_and_numerics(void **state)
{
    (void)state;
    static const char *good[] = {"PRIVMSG", "privmsg", "PrivMsg", "A", "001", "433", "999"};
    char buf[64];
    struct ircmsg msg;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char line[64];
        snprintf(line, sizeof line, ":s %s x", good[i]);
        assert_int_equal(parse_copy(line, buf, sizeof buf, &msg), IRCMSG_OK);
        assert_string_equal(msg.command, good[i]); /* case kept */
    }
    assert_int_equal(parse_copy("privmsg #a :b", buf, sizeof buf, &msg), IRCMSG_OK);
    assert_true(ircmsg_is(&msg, "PRIVMSG"));
    assert_true(ircmsg_is(&msg, "privmsg"));
    assert_false(ircmsg_is(&msg, "PRIVMS"));
    assert_false(ircmsg_is(&msg, "NOTICE"));
}

static void parse_bad_commands(void **state)
{
    (void)state;
    static const char *bad[] = {"01",    "0001", "1",   "12a",   "a12",
                                "PRIV1", "1AB",  "A-B", "#chan", "\xc3\xa9",
                                "A\tB",  "\x01", "P_N", "!",     "PRIV:MSG"};
    char buf[64];
    struct ircmsg msg;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char line[64];
        snprintf(line, sizeof line, "%s x :y", bad[i]);
        assert_int_equal(parse_copy(line, buf, sizeof buf, &msg), IRCMSG_EBADCOMMAND);
    }
}

/* ---- parsing: parameters ---- */

static void parse_middle_params_with_runs_of_spaces(void **state)
{
    (void)state;
    char buf[64];
    struct ircmsg msg;
    assert_int_equal(parse_copy("CMD  a   b    c   ", buf, sizeof buf, &msg), IRCMSG_OK);
    assert_int_equal(msg.nparams, 3);
    assert_string_equal(msg.params[0], "a");
    assert_string_equal(msg.params[1], "b");
    assert_string_equal(msg.params[2], "c");

    assert_int_equal(parse_copy("CMD a:b c::", buf, sizeof buf, &msg), IRCMSG_OK);
    assert_int_equal(msg.nparams, 2);
    assert_string_equal(msg.params[0], "a:b"); /* ':' inside a middle param is plain */
    assert_string_equal(msg.params[1], "c::");
}

static void parse_trailing_keeps_spaces(void **state)
{
    (void)state;
    char buf[64];
    struct ircmsg msg;
    assert_int_equal(parse_copy("CMD a   :  hello  world  ", buf, sizeof buf, &msg), IRCMSG_OK);
    assert_int_equal(msg.nparams, 2);
    assert_string_equal(msg.params[0], "a");
    assert_string_equal(msg.params[1], "  hello  world  ");

    assert_int_equal(parse_copy("CMD :a :b", buf, sizeof buf, &msg), IRCMSG_OK);
    assert_int_equal(msg.nparams, 1);
    assert_string_equal(msg.params[0], "a :b");

    assert_int_equal(parse_copy("CMD ::x", buf, sizeof buf, &msg), IRCMSG_OK);
    assert_int_equal(msg.nparams, 1);
    assert_string_equal(msg.params[0], ":x");
}

static void parse_empty_trailing(void **state)
{
    (void)state;
    char buf[64];
    struct ircmsg msg;
    assert_int_equal(parse_copy("CMD a :", buf, sizeof buf, &msg), IRCMSG_OK);
    assert_int_equal(msg.nparams, 2);
    assert_string_equal(msg.params[0], "a");
    assert_string_equal(msg.params[1], "");

    assert_int_equal(parse_copy("TOPIC :", buf, sizeof buf, &msg), IRCMSG_OK);
    assert_int_equal(msg.nparams, 1);
    assert_string_equal(msg.params[0], "");
}

static void parse_exactly_fifteen_params(void **state)
{
    (void)state;
    char buf[128];
    struct ircmsg msg;
    assert_int_equal(parse_copy("CMD 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15", buf, sizeof buf, &msg),
                     IRCMSG_OK);
    assert_int_equal(msg.nparams, IRC_PARAMS_MAX);
    for (int i = 0; i < IRC_PARAMS_MAX; i++) {
        char want[16];
        snprintf(want, sizeof want, "%d", i + 1);
        assert_string_equal(msg.params[i], want);
    }

    assert_int_equal(
        parse_copy("CMD 1 2 3 4 5 6 7 8 9 10 11 12 13 14 :last one", buf, sizeof buf, &msg),
        IRCMSG_OK);
    assert_int_equal(msg.nparams, IRC_PARAMS_MAX);
    assert_string_equal(msg.params[13], "14");
    assert_string_equal(msg.params[14], "last one");
}

/* RFC 2812 2.3.1: the fifteenth parameter may omit its ':' and then takes the rest. */
static void parse_more_than_fifteen_params(void **state)
{
    (void)state;
    char buf[128];
    struct ircmsg msg;
    assert_int_equal(
        parse_copy("CMD 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16  17 :18", buf, sizeof buf, &msg),
        IRCMSG_OK);
    assert_int_equal(msg.nparams, IRC_PARAMS_MAX);
    assert_string_equal(msg.params[13], "14");
    assert_string_equal(msg.params[14], "15 16  17 :18");
}

/* ---- serialising ---- */

static void serialise_round_trips(void **state)
{
    (void)state;
    assert_roundtrip("PING", "PING\r\n");
    assert_roundtrip("PING x", "PING x\r\n");
    assert_roundtrip(":nick!u@h PRIVMSG #c :hello world", ":nick!u@h PRIVMSG #c :hello world\r\n");
    assert_roundtrip("  CMD   a   b  ", "CMD a b\r\n");
    assert_roundtrip("@a=1;b :src 001 me :Welcome", "@a=1;b :src 001 me Welcome\r\n");
    assert_roundtrip("@a=1;b :src 001 me :Welcome home", "@a=1;b :src 001 me :Welcome home\r\n");
    assert_roundtrip("TOPIC #c :", "TOPIC #c :\r\n");
    assert_roundtrip("CMD ::x", "CMD ::x\r\n");
    assert_roundtrip("CMD :word", "CMD word\r\n"); /* a single word needs no ':' */
    assert_roundtrip("CMD 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16",
                     "CMD 1 2 3 4 5 6 7 8 9 10 11 12 13 14 :15 16\r\n");
    assert_roundtrip("CMD 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15",
                     "CMD 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15\r\n");
}

static void serialise_built_message(void **state)
{
    (void)state;
    struct ircmsg msg = {0};
    char tags[] = "time=now";
    char prefix[] = "srv";
    char command[] = "NOTICE";
    char p0[] = "bob";
    char p1[] = "hi there";
    msg.tags = tags;
    msg.prefix = prefix;
    msg.command = command;
    msg.nparams = 2;
    msg.params[0] = p0;
    msg.params[1] = p1;
    char out[64];
    const char *want = "@time=now :srv NOTICE bob :hi there\r\n";
    assert_int_equal(ircmsg_serialise(&msg, out, sizeof out), (int)strlen(want));
    assert_string_equal(out, want);

    /* An empty tag section is left out. */
    char empty[] = "";
    msg.tags = empty;
    want = ":srv NOTICE bob :hi there\r\n";
    assert_int_equal(ircmsg_serialise(&msg, out, sizeof out), (int)strlen(want));
    assert_string_equal(out, want);
}

static void serialise_refuses_bad_middle_params(void **state)
{
    (void)state;
    static const char *bad[] = {"a b", "", ":x", " ", "a\rb", "a\nb"};
    char command[] = "CMD";
    char last[] = "last";
    char out[64];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct ircmsg msg = {0};
        char param[8];
        strcpy(param, bad[i]);
        msg.command = command;
        msg.nparams = 2;
        msg.params[0] = param;
        msg.params[1] = last;
        assert_int_equal(ircmsg_serialise(&msg, out, sizeof out), -1);
    }
}

static void serialise_refuses_cr_lf_in_trailing(void **state)
{
    (void)state;
    static const char *bad[] = {"a\rb", "a\nb", "a b\r\nQUIT", "\n", ":\r"};
    char command[] = "PRIVMSG";
    char target[] = "#c";
    char out[64];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct ircmsg msg = {0};
        char param[16];
        strcpy(param, bad[i]);
        msg.command = command;
        msg.nparams = 2;
        msg.params[0] = target;
        msg.params[1] = param;
        assert_int_equal(ircmsg_serialise(&msg, out, sizeof out), -1);
    }
}

static void serialise_refuses_bad_command(void **state)
{
    (void)state;
    char out[64];
    struct ircmsg msg = {0};
    assert_int_equal(ircmsg_serialise(&msg, out, sizeof out), -1); /* NULL command */

    static const char *bad[] = {"01", "1234", "PRIV MSG", "A1", "\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char command[16];
        strcpy(command, bad[i]);
        msg.command = command;
        assert_int_equal(ircmsg_serialise(&msg, out, sizeof out), -1);
    }

    char command[] = "CMD";
    msg.command = command;
    msg.nparams = IRC_PARAMS_MAX + 1;
    assert_int_equal(ircmsg_serialise(&msg, out, sizeof out), -1);
    msg.nparams = -1;
    assert_int_equal(ircmsg_serialise(&msg, out, sizeof out), -1);
}

/* An empty command is neither letters nor a numeric; serialising it would put a line with no
 * command (or a bare CR LF) on the wire. */
static void serialise_refuses_empty_command(void **state)
{
    (void)state;
    char out[64];
    char command[] = "";
    char p0[] = "x";
    struct ircmsg msg = {0};
    msg.command = command;
    assert_int_equal(ircmsg_serialise(&msg, out, sizeof out), -1);
    msg.nparams = 1;
    msg.params[0] = p0;
    assert_int_equal(ircmsg_serialise(&msg, out, sizeof out), -1);
}

static void serialise_output_too_small(void **state)
{
    (void)state;
    char buf[64];
    char out[64];
    struct ircmsg msg;
    assert_int_equal(parse_copy(":s PRIVMSG #c :hi there", buf, sizeof buf, &msg), IRCMSG_OK);
    const char *want = ":s PRIVMSG #c :hi there\r\n";
    size_t n = strlen(want);

    assert_int_equal(ircmsg_serialise(&msg, out, n + 1), (int)n);
    assert_string_equal(out, want);
    assert_int_equal(ircmsg_serialise(&msg, out, n), -1); /* no room for the NUL */
    assert_int_equal(ircmsg_serialise(&msg, out, n - 1), -1);
    assert_int_equal(ircmsg_serialise(&msg, out, 3), -1);
    assert_int_equal(ircmsg_serialise(&msg, out, 0), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_command_only),
        cmocka_unit_test(parse_prefix_and_trailing),
        cmocka_unit_test(parse_leading_spaces_before_command),
        cmocka_unit_test(parse_empty_and_blank_lines),
        cmocka_unit_test(parse_missing_command),
        cmocka_unit_test(parse_tags_present),
        cmocka_unit_test(parse_tags_absent),
        cmocka_unit_test(parse_tags_without_prefix),
        cmocka_unit_test(parse_tags_length_bound),
        cmocka_unit_test(tag_get_unescapes),
        cmocka_unit_test(tag_get_key_without_value),
        cmocka_unit_test(tag_get_matches_whole_keys),
        cmocka_unit_test(tag_get_out_too_small),
        cmocka_unit_test(tag_get_duplicate_key_last_wins),
        cmocka_unit_test(tag_escape_and_back),
        cmocka_unit_test(tag_escape_out_too_small),
        cmocka_unit_test(parse_command_letters_and_numerics),
        cmocka_unit_test(parse_bad_commands),
        cmocka_unit_test(parse_middle_params_with_runs_of_spaces),
        cmocka_unit_test(parse_trailing_keeps_spaces),
        cmocka_unit_test(parse_empty_trailing),
        cmocka_unit_test(parse_exactly_fifteen_params),
        cmocka_unit_test(parse_more_than_fifteen_params),
        cmocka_unit_test(serialise_round_trips),
        cmocka_unit_test(serialise_built_message),
        cmocka_unit_test(serialise_refuses_bad_middle_params),
        cmocka_unit_test(serialise_refuses_cr_lf_in_trailing),
        cmocka_unit_test(serialise_refuses_bad_command),
        cmocka_unit_test(serialise_refuses_empty_command),
        cmocka_unit_test(serialise_output_too_small),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
