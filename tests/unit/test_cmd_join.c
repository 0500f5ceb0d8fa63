/* Unit tests of JOIN (src/server/cmd_chan.c, chan.c) as clients see it, through the in-process
 * server (tests/inproc): the channel made on first join with its joiner as operator, the
 * NAMES and topic replies, what the other members see, several channels at once, the +k, +i,
 * +b and +l refusals, invalid names, JOIN 0, and the default channel. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "inproc/cmdtest.h"

static void test_join_creates_channel_with_joiner_as_op(void **state)
{
    struct inproc *ip = *state;
    inproc_cmd(ip, ALICE, "JOIN #c");
    expect_lines(ip, ALICE, ":alice!~alice@127.0.0.1 JOIN #c", ":srv 353 alice = #c :@alice",
                 ":srv 366 alice #c :End of /NAMES list");
    expect_nothing(ip, BOB);
    /* A new channel has the usual defaults, and its creation time. */
    inproc_cmd(ip, ALICE, "MODE #c");
    expect_lines(ip, ALICE, ":srv 324 alice #c +nt", ":srv 329 alice #c {}");
    /* Anyone can see who is in a public channel. */
    inproc_cmd(ip, BOB, "NAMES #c");
    expect_lines(ip, BOB, ":srv 353 bob = #c :@alice", ":srv 366 bob #c :End of /NAMES list");
}

static void test_join_second_member_is_seen_and_not_op(void **state)
{
    struct inproc *ip = *state;
    inproc_cmd(ip, ALICE, "JOIN #c");
    inproc_clear(ip, ALICE);
    inproc_cmd(ip, BOB, "JOIN #c");
    expect_lines(ip, ALICE, ":bob!~bob@127.0.0.2 JOIN #c");
    expect_lines(ip, BOB, ":bob!~bob@127.0.0.2 JOIN #c", ":srv 353 bob = #c :@alice bob",
                 ":srv 366 bob #c :End of /NAMES list");
    expect_nothing(ip, CAROL);
    /* Joining again changes nothing and says nothing. */
    inproc_cmd(ip, BOB, "JOIN #C");
    expect_nothing(ip, BOB);
    expect_nothing(ip, ALICE);
}

static void test_join_sends_topic(void **state)
{
    struct inproc *ip = *state;
    inproc_cmd(ip, ALICE, "JOIN #c");
    inproc_cmd(ip, ALICE, "TOPIC #c :the topic");
    inproc_clear(ip, ALICE);
    inproc_cmd(ip, BOB, "JOIN #c");
    expect_lines(ip, BOB, ":bob!~bob@127.0.0.2 JOIN #c", ":srv 332 bob #c :the topic",
                 ":srv 333 bob #c alice!~alice@127.0.0.1 {}", ":srv 353 bob = #c :@alice bob",
                 ":srv 366 bob #c :End of /NAMES list");
}

static void test_join_several_channels(void **state)
{
    struct inproc *ip = *state;
    inproc_cmd(ip, BOB, "JOIN #b");
    inproc_clear(ip, BOB);
    inproc_cmd(ip, ALICE, "JOIN #a,#b");
    expect_lines(ip, ALICE, ":alice!~alice@127.0.0.1 JOIN #a", ":srv 353 alice = #a :@alice",
                 ":srv 366 alice #a :End of /NAMES list", ":alice!~alice@127.0.0.1 JOIN #b",
                 ":srv 353 alice = #b :@bob alice", ":srv 366 alice #b :End of /NAMES list");
    expect_lines(ip, BOB, ":alice!~alice@127.0.0.1 JOIN #b");
}

static void test_join_keys_go_with_channels_in_order(void **state)
{
    struct inproc *ip = *state;
    inproc_cmd(ip, ALICE, "JOIN #a,#b");
    inproc_cmd(ip, ALICE, "MODE #a +k ka");
    inproc_cmd(ip, ALICE, "MODE #b +k kb");
    inproc_clear(ip, ALICE);
    /* The second key is #b's: #a is refused, #b joined. */
    inproc_cmd(ip, BOB, "JOIN #a,#b kb,kb");
    expect_lines(ip, BOB, ":srv 475 bob #a :Cannot join channel (+k)",
                 ":bob!~bob@127.0.0.2 JOIN #b", ":srv 353 bob = #b :@alice bob",
                 ":srv 366 bob #b :End of /NAMES list");
    /* An empty key in the list should be no key for #b and leave "ka" to #a (RFC 2812 3.2.1:
     * keys go with channels by position), but the list is split with strtok_r, which skips
     * empty fields: "ka" goes to #b, and #a gets no key. */
    inproc_cmd(ip, CAROL, "JOIN #b,#a ,ka");
    expect_lines(ip, CAROL, ":srv 475 carol #b :Cannot join channel (+k)",
                 ":srv 475 carol #a :Cannot join channel (+k)");
}

static void test_join_refused_without_the_key(void **state)
{
    struct inproc *ip = *state;
    inproc_cmd(ip, ALICE, "JOIN #c");
    inproc_cmd(ip, ALICE, "MODE #c +k sekrit");
    inproc_clear(ip, ALICE);
    inproc_cmd(ip, BOB, "JOIN #c");
    expect_lines(ip, BOB, ":srv 475 bob #c :Cannot join channel (+k)");
    inproc_cmd(ip, BOB, "JOIN #c wrong");
    expect_lines(ip, BOB, ":srv 475 bob #c :Cannot join channel (+k)");
    expect_nothing(ip, ALICE);
    inproc_cmd(ip, BOB, "JOIN #c sekrit");
    expect_lines(ip, BOB, ":bob!~bob@127.0.0.2 JOIN #c", ":srv 353 bob = #c :@alice bob",
                 ":srv 366 bob #c :End of /NAMES list");
    expect_lines(ip, ALICE, ":bob!~bob@127.0.0.2 JOIN #c");
}

static void test_join_invite_only(void **state)
{
    struct inproc *ip = *state;
    inproc_cmd(ip, ALICE, "JOIN #c");
    inproc_cmd(ip, ALICE, "MODE #c +i");
    inproc_clear(ip, ALICE);
    inproc_cmd(ip, BOB, "JOIN #c");
    expect_lines(ip, BOB, ":srv 473 bob #c :Cannot join channel (+i)");
    expect_nothing(ip, ALICE);
    /* An invitation lets one in, once. */
    inproc_cmd(ip, ALICE, "INVITE bob #c");
    expect_lines(ip, ALICE, ":srv 341 alice bob #c");
    expect_lines(ip, BOB, ":alice!~alice@127.0.0.1 INVITE bob #c");
    inproc_cmd(ip, BOB, "JOIN #c");
    expect_lines(ip, BOB, ":bob!~bob@127.0.0.2 JOIN #c", ":srv 353 bob = #c :@alice bob",
                 ":srv 366 bob #c :End of /NAMES list");
    inproc_cmd(ip, BOB, "PART #c");
    inproc_clear(ip, BOB);
    inproc_cmd(ip, BOB, "JOIN #c");
    expect_lines(ip, BOB, ":srv 473 bob #c :Cannot join channel (+i)");
    /* So does an invite exception (+I) matching the joiner. */
    inproc_cmd(ip, ALICE, "MODE #c +I *!*@127.0.0.3");
    inproc_cmd(ip, CAROL, "JOIN #c");
    expect_lines(ip, CAROL, ":carol!~carol@127.0.0.3 JOIN #c", ":srv 353 carol = #c :@alice carol",
                 ":srv 366 carol #c :End of /NAMES list");
}

static void test_join_banned(void **state)
{
    struct inproc *ip = *state;
    inproc_cmd(ip, ALICE, "JOIN #c");
    inproc_cmd(ip, ALICE, "MODE #c +b bob");
    expect_lines(ip, ALICE, ":alice!~alice@127.0.0.1 JOIN #c", ":srv 353 alice = #c :@alice",
                 ":srv 366 alice #c :End of /NAMES list",
                 ":alice!~alice@127.0.0.1 MODE #c +b bob!*@*");
    inproc_cmd(ip, BOB, "JOIN #c");
    /* RFC 2812 and Modern IRC: "Cannot join channel (+b)". */
    expect_lines(ip, BOB, ":srv 474 bob #c :Cannot join channel (+b)");
    /* A ban exception (+e) matching the joiner lets it in. */
    inproc_cmd(ip, ALICE, "MODE #c +e *!~bob@*");
    inproc_cmd(ip, BOB, "JOIN #c");
    expect_lines(ip, BOB, ":bob!~bob@127.0.0.2 JOIN #c", ":srv 353 bob = #c :@alice bob",
                 ":srv 366 bob #c :End of /NAMES list");
    /* A ban by host catches other nicks too. */
    inproc_cmd(ip, ALICE, "MODE #c +b *!*@127.0.0.3");
    inproc_cmd(ip, CAROL, "JOIN #c");
    expect_lines(ip, CAROL, ":srv 474 carol #c :Cannot join channel (+b)");
}

static void test_join_channel_full(void **state)
{
    struct inproc *ip = *state;
    inproc_cmd(ip, ALICE, "JOIN #c");
    inproc_cmd(ip, ALICE, "MODE #c +l 2");
    inproc_cmd(ip, BOB, "JOIN #c");
    inproc_clear(ip, INPROC_ALL);
    inproc_cmd(ip, CAROL, "JOIN #c");
    expect_lines(ip, CAROL, ":srv 471 carol #c :Cannot join channel (+l)");
    expect_nothing(ip, ALICE);
    /* Once a member leaves there is room again. */
    inproc_cmd(ip, BOB, "PART #c");
    inproc_cmd(ip, CAROL, "JOIN #c");
    expect_lines(ip, CAROL, ":carol!~carol@127.0.0.3 JOIN #c", ":srv 353 carol = #c :@alice carol",
                 ":srv 366 carol #c :End of /NAMES list");
}

static void test_join_invalid_names(void **state)
{
    struct inproc *ip = *state;
    inproc_cmd(ip, ALICE, "JOIN c");
    expect_lines(ip, ALICE, ":srv 403 alice c :No such channel");
    inproc_cmd(ip, ALICE, "JOIN #");
    expect_lines(ip, ALICE, ":srv 403 alice # :No such channel");
    /* CHANNELLEN=50: 51 bytes is too long, 50 are fine. */
    const char *too_long = "#12345678901234567890123456789012345678901234567890";
    char want[128];
    snprintf(want, sizeof want, ":srv 403 alice %s :No such channel", too_long);
    inproc_cmd(ip, ALICE, "JOIN %s", too_long);
    expect_lines(ip, ALICE, want);
    inproc_cmd(ip, ALICE, "JOIN %.50s", too_long);
    snprintf(want, sizeof want, ":alice!~alice@127.0.0.1 JOIN %.50s", too_long);
    assert_string_equal(inproc_line(ip, ALICE, 0), want);
    inproc_clear(ip, ALICE);
    /* Control characters are not allowed in a name (RFC 2812 2.3.1). */
    inproc_cmd(ip, ALICE, "JOIN #a\abell");
    expect_lines(ip, ALICE, ":srv 403 alice #a\abell :No such channel");
    /* A bad name in a list spoils only itself. */
    inproc_cmd(ip, ALICE, "JOIN x,#ok");
    expect_lines(ip, ALICE, ":srv 403 alice x :No such channel", ":alice!~alice@127.0.0.1 JOIN #ok",
                 ":srv 353 alice = #ok :@alice", ":srv 366 alice #ok :End of /NAMES list");
    inproc_cmd(ip, ALICE, "JOIN");
    expect_lines(ip, ALICE, ":srv 461 alice JOIN :Not enough parameters");
}

static void test_join_too_many_channels(void **state)
{
    struct inproc *ip = *state;
    char list[1024];
    size_t n = 0;
    for (int i = 1; i <= 51; i++) /* CHANLIMIT=#:50 */
        n += (size_t)snprintf(list + n, sizeof list - n, "%s#c%d", i > 1 ? "," : "", i);
    inproc_cmd(ip, ALICE, "JOIN %s", list);
    assert_int_equal(inproc_nlines(ip, ALICE), 50 * 3 + 1);
    assert_string_equal(inproc_line(ip, ALICE, 150),
                        ":srv 405 alice #c51 :You have joined too many channels");
}

static void test_join_zero_parts_all(void **state)
{
    struct inproc *ip = *state;
    inproc_cmd(ip, ALICE, "JOIN #a");
    inproc_cmd(ip, BOB, "JOIN #a,#b");
    inproc_clear(ip, INPROC_ALL);
    inproc_cmd(ip, BOB, "JOIN 0");
    expect_lines(ip, BOB, ":bob!~bob@127.0.0.2 PART #a", ":bob!~bob@127.0.0.2 PART #b");
    expect_lines(ip, ALICE, ":bob!~bob@127.0.0.2 PART #a");
    inproc_cmd(ip, ALICE, "NAMES #a");
    expect_lines(ip, ALICE, ":srv 353 alice = #a :@alice", ":srv 366 alice #a :End of /NAMES list");
    /* #b emptied and is gone: joining it makes a new channel. */
    inproc_cmd(ip, CAROL, "JOIN #b");
    expect_lines(ip, CAROL, ":carol!~carol@127.0.0.3 JOIN #b", ":srv 353 carol = #b :@carol",
                 ":srv 366 carol #b :End of /NAMES list");
    /* With no channel, nothing to say. */
    inproc_cmd(ip, BOB, "JOIN 0");
    expect_nothing(ip, BOB);
}

static void test_join_needs_registration(void **state)
{
    struct inproc *ip = *state;
    int i = inproc_connect(ip, "127.0.0.9");
    assert_true(i >= 0);
    inproc_cmd(ip, i, "JOIN #c");
    expect_lines(ip, i, ":srv 451 * :You have not registered");
}

static void test_join_default_channel_at_registration(void **state)
{
    (void)state;
    static const char *const opts[] = {"--default-channel", "#lobby", NULL};
    struct inproc *ip = cmdtest_start(opts, 1);
    assert_non_null(ip);
    int b = inproc_connect(ip, "127.0.0.2");
    inproc_sendf(ip, b, "NICK bob");
    inproc_cmd(ip, b, "USER bob 0 * :Bob");
    /* The welcome ends with the MOTD, then the lobby's JOIN burst. */
    int n = inproc_nlines(ip, b);
    assert_true(n > 4);
    assert_string_equal(inproc_line(ip, b, n - 4), ":srv 422 bob :MOTD File is missing");
    assert_string_equal(inproc_line(ip, b, n - 3), ":bob!~bob@127.0.0.2 JOIN #lobby");
    assert_string_equal(inproc_line(ip, b, n - 2), ":srv 353 bob = #lobby :@alice bob");
    assert_string_equal(inproc_line(ip, b, n - 1), ":srv 366 bob #lobby :End of /NAMES list");
    /* alice, registered first, made the lobby and is its operator. */
    expect_lines(ip, ALICE, ":bob!~bob@127.0.0.2 JOIN #lobby");
    void *s = ip;
    assert_int_equal(cmdtest_teardown(&s), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_join_creates_channel_with_joiner_as_op, cmdtest_setup,
                                        cmdtest_teardown),
        cmocka_unit_test_setup_teardown(test_join_second_member_is_seen_and_not_op, cmdtest_setup,
                                        cmdtest_teardown),
        cmocka_unit_test_setup_teardown(test_join_sends_topic, cmdtest_setup, cmdtest_teardown),
        cmocka_unit_test_setup_teardown(test_join_several_channels, cmdtest_setup,
                                        cmdtest_teardown),
        cmocka_unit_test_setup_teardown(test_join_keys_go_with_channels_in_order, cmdtest_setup,
                                        cmdtest_teardown),
        cmocka_unit_test_setup_teardown(test_join_refused_without_the_key, cmdtest_setup,
                                        cmdtest_teardown),
        cmocka_unit_test_setup_teardown(test_join_invite_only, cmdtest_setup, cmdtest_teardown),
        cmocka_unit_test_setup_teardown(test_join_banned, cmdtest_setup, cmdtest_teardown),
        cmocka_unit_test_setup_teardown(test_join_channel_full, cmdtest_setup, cmdtest_teardown),
        cmocka_unit_test_setup_teardown(test_join_invalid_names, cmdtest_setup, cmdtest_teardown),
        cmocka_unit_test_setup_teardown(test_join_too_many_channels, cmdtest_setup,
                                        cmdtest_teardown),
        cmocka_unit_test_setup_teardown(test_join_zero_parts_all, cmdtest_setup, cmdtest_teardown),
        cmocka_unit_test_setup_teardown(test_join_needs_registration, cmdtest_setup,
                                        cmdtest_teardown),
        cmocka_unit_test(test_join_default_channel_at_registration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
