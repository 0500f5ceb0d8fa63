/* Unit tests for src/server/store/ban.c: the masks K-lines and D-lines take, durations, who a
 * ban matches, and the store kept across a close and an open. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/ban.h"

static char why[128];

static int parses(enum ban_kind kind, const char *mask)
{
    struct ban b;
    return ban_parse(kind, mask, &b, why, sizeof why) == BAN_OK;
}

static void masks_taken_and_refused(void **state)
{
    (void)state;
    struct ban b;
    assert_int_equal(ban_parse(BAN_KLINE, "~Eve@192.0.2.*", &b, why, sizeof why), BAN_OK);
    assert_string_equal(b.mask, "~eve@192.0.2.*");
    assert_string_equal(b.user, "~eve");
    assert_string_equal(b.host, "192.0.2.*");
    assert_int_equal(b.is_cidr, 0);
    assert_int_equal(ban_parse(BAN_KLINE, "198.51.100.0/24", &b, why, sizeof why), BAN_OK);
    assert_string_equal(b.mask, "*@198.51.100.0/24");
    assert_int_equal(b.is_cidr, 1);
    assert_true(parses(BAN_DLINE, "2001:db8::/32"));
    assert_true(parses(BAN_DLINE, "203.0.113.7"));
    const char *bad_k[] = {"",   "*",  "*@*", "*@*.*",        "a@b@c",        "n!u@h",
                           "@h", "u@", "u h", "u@1.2.3.0/33", "u@10.0.0.0/7", "toolonguser@h"};
    for (size_t i = 0; i < sizeof bad_k / sizeof bad_k[0]; i++) {
        why[0] = '\0';
        assert_false(parses(BAN_KLINE, bad_k[i]));
        assert_true(why[0] != '\0');
    }
    const char *bad_d[] = {"", "host.example", "1.2.3.4/40", "0.0.0.0/0", "::/8", "*", "u@1.2.3.4"};
    for (size_t i = 0; i < sizeof bad_d / sizeof bad_d[0]; i++)
        assert_false(parses(BAN_DLINE, bad_d[i]));
}

static void durations(void **state)
{
    (void)state;
    assert_int_equal(ban_parse_duration("0"), 0);
    assert_int_equal(ban_parse_duration("30"), 30 * 60);
    assert_int_equal(ban_parse_duration("10s"), 10);
    assert_int_equal(ban_parse_duration("5m"), 300);
    assert_int_equal(ban_parse_duration("2h"), 7200);
    assert_int_equal(ban_parse_duration("3d"), 3 * 86400);
    assert_int_equal(ban_parse_duration("1w"), 7 * 86400);
    assert_int_equal(ban_parse_duration("99999999999w"), BAN_DURATION_MAX);
    assert_int_equal(ban_parse_duration("10x"), -1);
    assert_int_equal(ban_parse_duration("10ss"), -1);
    assert_int_equal(ban_parse_duration("s"), -1);
    assert_int_equal(ban_parse_duration("-5"), -1);
    char out[64];
    ban_duration_str(0, out, sizeof out);
    assert_string_equal(out, "permanent");
    ban_duration_str(7200, out, sizeof out);
    assert_string_equal(out, "2 hours");
    ban_duration_str(60, out, sizeof out);
    assert_string_equal(out, "1 minute");
    ban_duration_str(90, out, sizeof out);
    assert_string_equal(out, "90 seconds");
}

static void matching_and_the_store(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_ban.XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_int_equal(ban_open(dir), 0);
    int stored;
    struct ban b;
    assert_int_equal(ban_add(BAN_KLINE, "~eve@192.0.2.0/24", "spam", "op!~op@h", 0, &b, why,
                             sizeof why, &stored),
                     BAN_OK);
    assert_true(stored);
    assert_int_equal(ban_add(BAN_KLINE, "~EVE@192.0.2.0/24", "again", "op!~op@h", 0, NULL, why,
                             sizeof why, &stored),
                     BAN_EXISTS);
    assert_int_equal(
        ban_add(BAN_DLINE, "2001:db8::/32", "v6", "op!~op@h", 3600, NULL, why, sizeof why, &stored),
        BAN_OK);
    assert_true(ban_find("~eve", "192.0.2.9", &b));
    assert_string_equal(b.reason, "spam");
    assert_false(ban_find("~bob", "192.0.2.9", NULL));
    assert_false(ban_find(NULL, "192.0.2.9", NULL)); /* a K-line needs the user name */
    assert_false(ban_find("~eve", "192.0.3.9", NULL));
    assert_true(ban_find(NULL, "2001:db8::1", &b));
    assert_int_equal(b.kind, BAN_DLINE);
    assert_true(b.expires > 0);
    ban_close();

    assert_int_equal(ban_open(dir), 0);
    assert_true(ban_find("~eve", "192.0.2.9", NULL));
    assert_true(ban_find(NULL, "2001:db8::1", NULL));
    assert_int_equal(ban_remove(BAN_KLINE, "~eve@192.0.2.0/24"), BAN_OK);
    assert_int_equal(ban_remove(BAN_KLINE, "~eve@192.0.2.0/24"), BAN_NONE);
    assert_false(ban_find("~eve", "192.0.2.9", NULL));
    ban_prune(b.expires); /* the D-line's time has come */
    assert_false(ban_find(NULL, "2001:db8::1", NULL));
    ban_close();

    assert_int_equal(ban_open(dir), 0);
    assert_false(ban_find("~eve", "192.0.2.9", NULL));
    assert_false(ban_find(NULL, "2001:db8::1", NULL));
    ban_close();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(masks_taken_and_refused),
        cmocka_unit_test(durations),
        cmocka_unit_test(matching_and_the_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
