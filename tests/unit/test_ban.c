/* Unit tests for src/server/store/ban.c: the masks K-lines and D-lines take, durations, who a
 * ban matches, the store kept across a close and an open, the store's file read as it is (for
 * a node carrying it into a network), and the network's store of a cluster (changes handed to
 * a save function; the network's bans learnt). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
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

/* The bans ban_file_each hands over. */
static struct {
    int n;
    struct ban b[4];
} read_back;

static void collect(void *arg, const struct ban *b)
{
    (void)arg;
    if (read_back.n < 4)
        read_back.b[read_back.n++] = *b;
}

static void the_file_read_as_it_is(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_ban.XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    assert_int_equal(ban_file_each(dir, collect, NULL), 0); /* no file: nothing */
    assert_int_equal(ban_open(dir), 0);
    int stored;
    assert_int_equal(
        ban_add(BAN_KLINE, "~eve@192.0.2.1", "spam", "op!~op@h", 0, NULL, why, sizeof why, &stored),
        BAN_OK);
    assert_int_equal(ban_add(BAN_DLINE, "198.51.100.0/24", "bad network", "op!~op@h", 3600, NULL,
                             why, sizeof why, &stored),
                     BAN_OK);
    ban_close();
    /* A ban whose end has passed stays in the file until a node prunes it: not read. */
    sqlite3 *db;
    snprintf(path, sizeof path, "%s/bans.db", dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO bans VALUES ('K', '~old@192.0.2.2', 'past', "
                                  "'op!~op@h', 1000, 2000)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    read_back.n = 0;
    assert_int_equal(ban_file_each(dir, collect, NULL), 2);
    assert_int_equal(read_back.n, 2);
    assert_int_equal(read_back.b[0].kind, BAN_KLINE);
    assert_string_equal(read_back.b[0].mask, "~eve@192.0.2.1");
    assert_string_equal(read_back.b[0].reason, "spam");
    assert_string_equal(read_back.b[0].setter, "op!~op@h");
    assert_int_equal(read_back.b[0].expires, 0);
    assert_int_equal(read_back.b[1].kind, BAN_DLINE);
    assert_true(read_back.b[1].expires > read_back.b[1].set_at);
    /* The table is not touched, and the file is as it was (the expired row too). */
    assert_false(ban_find("~eve", "192.0.2.1", NULL));
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM bans", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 3);
    sqlite3_finalize(st);
    sqlite3_close(db);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* What the network's store was handed, as cluster.c's save_ban gets it. */
static struct {
    int n;
    enum ban_save how[8];
    char mask[8][BAN_MASK_MAX + 1];
} saved;

static int save(void *arg, const struct ban *b, enum ban_save how)
{
    (void)arg;
    if (saved.n < 8) {
        saved.how[saved.n] = how;
        snprintf(saved.mask[saved.n++], sizeof saved.mask[0], "%s", b->mask);
    }
    return 0;
}

static struct ban network_ban(enum ban_kind kind, const char *mask, const char *reason,
                              long long expires)
{
    struct ban b;
    assert_int_equal(ban_parse(kind, mask, &b, why, sizeof why), BAN_OK);
    snprintf(b.reason, sizeof b.reason, "%s", reason);
    snprintf(b.setter, sizeof b.setter, "op!~op@elsewhere");
    b.set_at = 1000;
    b.expires = expires;
    return b;
}

static void the_network_keeps_them(void **state)
{
    (void)state;
    assert_int_equal(ban_open(NULL), 0); /* no bans.db */
    ban_use_network(save, NULL);
    saved.n = 0;
    int stored;
    struct ban b;
    /* Changes made here go to the network's store. */
    assert_int_equal(
        ban_add(BAN_KLINE, "~eve@192.0.2.1", "spam", "op!~op@h", 0, &b, why, sizeof why, &stored),
        BAN_OK);
    assert_true(stored);
    assert_int_equal(ban_remove(BAN_KLINE, "~eve@192.0.2.1"), BAN_OK);
    assert_int_equal(saved.n, 2);
    assert_int_equal(saved.how[0], BAN_SAVE_SET);
    assert_int_equal(saved.how[1], BAN_SAVE_LIFT);
    assert_string_equal(saved.mask[1], "~eve@192.0.2.1");

    /* What the network sets is learnt without going back to it; the same again changes
     * nothing, a new reason is a new ban (a sweep from its number). */
    struct ban k = network_ban(BAN_KLINE, "~bob@192.0.2.0/24", "flood", 0);
    unsigned long long seq = ban_learn(&k);
    assert_true(seq > 0);
    assert_int_equal(ban_learn(&k), 0);
    assert_true(ban_find_since(seq, "~bob", "192.0.2.7", &b));
    assert_string_equal(b.setter, "op!~op@elsewhere");
    snprintf(k.reason, sizeof k.reason, "flood, again");
    assert_true(ban_learn(&k) > seq);
    assert_true(ban_forget(BAN_KLINE, "~bob@192.0.2.0/24"));
    assert_false(ban_forget(BAN_KLINE, "~bob@192.0.2.0/24"));
    assert_false(ban_find("~bob", "192.0.2.7", NULL));
    assert_int_equal(saved.n, 2);

    /* The network's whole list replaces the table; those kept as they were keep their
     * number, so the first new one's is returned. */
    struct ban d = network_ban(BAN_DLINE, "198.51.100.0/24", "bad network", 0);
    struct ban gone = network_ban(BAN_DLINE, "203.0.113.5", "old", 0);
    ban_learn(&d);
    ban_learn(&gone);
    struct ban list[2] = {d, network_ban(BAN_KLINE, "~mal@*.example", "malice", 0)};
    seq = ban_learn_all(list, 2);
    assert_true(seq > 0);
    assert_true(ban_find(NULL, "198.51.100.9", NULL));
    assert_false(ban_find(NULL, "203.0.113.5", NULL));
    assert_false(ban_find_since(seq, NULL, "198.51.100.9", NULL)); /* kept: checked before */
    assert_true(ban_find_since(seq, "~mal", "h.example", NULL));

    /* A ban expires on every node by its own clock; the network is told. */
    struct ban t = network_ban(BAN_KLINE, "~tim@192.0.2.2", "timed", 2000);
    ban_learn(&t);
    ban_prune(2000);
    assert_false(ban_find("~tim", "192.0.2.2", NULL));
    assert_int_equal(saved.n, 3);
    assert_int_equal(saved.how[2], BAN_SAVE_EXPIRE);
    assert_string_equal(saved.mask[2], "~tim@192.0.2.2");
    ban_use_network(NULL, NULL);
    ban_close();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(masks_taken_and_refused), cmocka_unit_test(durations),
        cmocka_unit_test(matching_and_the_store),  cmocka_unit_test(the_file_read_as_it_is),
        cmocka_unit_test(the_network_keeps_them),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
