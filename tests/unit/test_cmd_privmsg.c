/* Unit tests of PRIVMSG, NOTICE and TAGMSG (src/server/cmd_msg.c) as clients see them, through
 * the in-process server (tests/inproc): to a channel (every member but the sender), to a nick,
 * echo-message, the errors (401, 403, 404 for +n and +m, 411, 412, 407 past TARGMAX) that
 * NOTICE never draws, several targets, and client-only tags under message-tags. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "inproc/cmdtest.h"

/* alice makes #c (and is its operator), bob joins it; carol stays outside. */
static int setup_channel(void **state)
{
    if (cmdtest_setup(state) < 0)
        return -1;
    struct inproc *ip = *state;
    inproc_cmd(ip, ALICE, "JOIN #c");
    inproc_cmd(ip, BOB, "JOIN #c");
    inproc_clear(ip, INPROC_ALL);
    return 0;
}

static void test_privmsg_channel_reaches_others_not_sender(void **state)
{
    struct inproc *ip = *state;
    inproc_cmd(ip, CAROL, "JOIN #c");
    inproc_clear(ip, INPROC_ALL);
    inproc_cmd(ip, ALICE, "PRIVMSG #c :hi");
    expect_nothing(ip, ALICE);
    expect_lines(ip, BOB, ":alice!~alice@127.0.0.1 PRIVMSG #c :hi");
    expect_lines(ip, CAROL, ":alice!~alice@127.0.0.1 PRIVMSG #c :hi");
    /* The channel is named as the sender wrote it; a text without ':' is one word. */
    inproc_cmd(ip, BOB, "PRIVMSG #C word");
    expect_lines(ip, ALICE, ":bob!~bob@127.0.0.2 PRIVMSG #C :word");
    expect_lines(ip, CAROL, ":bob!~bob@127.0.0.2 PRIVMSG #C :word");
    expect_nothing(ip, BOB);
}

static void test_privmsg_echo_message(void **state)
{
    struct inproc *ip = *state;
    inproc_cmd(ip, ALICE, "CAP REQ :echo-message");
    expect_lines(ip, ALICE, ":srv CAP alice ACK :echo-message");
    inproc_cmd(ip, ALICE, "PRIVMSG #c :hi");
    expect_lines(ip, ALICE, ":alice!~alice@127.0.0.1 PRIVMSG #c :hi");
    expect_lines(ip, BOB, ":alice!~alice@127.0.0.1 PRIVMSG #c :hi");
    inproc_cmd(ip, ALICE, "PRIVMSG carol :psst");
    expect_lines(ip, ALICE, ":alice!~alice@127.0.0.1 PRIVMSG carol :psst");
    expect_lines(ip, CAROL, ":alice!~alice@127.0.0.1 PRIVMSG carol :psst");
    inproc_cmd(ip, ALICE, "NOTICE #c :note");
    expect_lines(ip, ALICE, ":alice!~alice@127.0.0.1 NOTICE #c :note");
    expect_lines(ip, BOB, ":alice!~alice@127.0.0.1 NOTICE #c :note");
    /* What is not delivered is not echoed. */
    inproc_cmd(ip, ALICE, "PRIVMSG nobody :x");
    expect_lines(ip, ALICE, ":srv 401 alice nobody :No such nick/channel");
    /* Only the one who asked gets echoes. */
    inproc_cmd(ip, BOB, "PRIVMSG #c :back");
    expect_nothing(ip, BOB);
    expect_lines(ip, ALICE, ":bob!~bob@127.0.0.2 PRIVMSG #c :back");
}

static void test_privmsg_to_nick(void **state)
{
    struct inproc *ip = *state;
    inproc_cmd(ip, ALICE, "PRIVMSG carol :hello carol");
    expect_lines(ip, CAROL, ":alice!~alice@127.0.0.1 PRIVMSG carol :hello carol");
    expect_nothing(ip, ALICE);
    expect_nothing(ip, BOB);
    /* Nicks compare without case; the target is shown as written. */
    inproc_cmd(ip, ALICE, "PRIVMSG CAROL :again");
    expect_lines(ip, CAROL, ":alice!~alice@127.0.0.1 PRIVMSG CAROL :again");
    /* To oneself it comes back, echo-message or not. */
    inproc_cmd(ip, ALICE, "PRIVMSG alice :me");
    expect_lines(ip, ALICE, ":alice!~alice@127.0.0.1 PRIVMSG alice :me");
    /* An away recipient still gets it; the sender learns it is away. */
    inproc_cmd(ip, CAROL, "AWAY :lunch");
    inproc_clear(ip, CAROL);
    inproc_cmd(ip, ALICE, "PRIVMSG carol :there?");
    expect_lines(ip, ALICE, ":srv 301 alice carol :lunch");
    expect_lines(ip, CAROL, ":alice!~alice@127.0.0.1 PRIVMSG carol :there?");
}

static void test_privmsg_unknown_targets(void **state)
{
    struct inproc *ip = *state;
    inproc_cmd(ip, ALICE, "PRIVMSG dave :x");
    expect_lines(ip, ALICE, ":srv 401 alice dave :No such nick/channel");
    inproc_cmd(ip, ALICE, "PRIVMSG #nope :x");
    expect_lines(ip, ALICE, ":srv 403 alice #nope :No such channel");
    expect_nothing(ip, BOB);
}

static void test_privmsg_no_external_messages(void **state)
{
    struct inproc *ip = *state;
    /* A new channel is +n: outsiders cannot send to it. */
    inproc_cmd(ip, CAROL, "PRIVMSG #c :from outside");
    expect_lines(ip, CAROL, ":srv 404 carol #c :Cannot send to channel");
    expect_nothing(ip, ALICE);
    expect_nothing(ip, BOB);
    inproc_cmd(ip, ALICE, "MODE #c -n");
    inproc_clear(ip, INPROC_ALL);
    inproc_cmd(ip, CAROL, "PRIVMSG #c :from outside");
    expect_nothing(ip, CAROL);
    expect_lines(ip, ALICE, ":carol!~carol@127.0.0.3 PRIVMSG #c :from outside");
    expect_lines(ip, BOB, ":carol!~carol@127.0.0.3 PRIVMSG #c :from outside");
}

static void test_privmsg_moderated(void **state)
{
    struct inproc *ip = *state;
    inproc_cmd(ip, ALICE, "MODE #c +m");
    inproc_clear(ip, INPROC_ALL);
    inproc_cmd(ip, BOB, "PRIVMSG #c :may I?");
    expect_lines(ip, BOB, ":srv 404 bob #c :Cannot send to channel");
    expect_nothing(ip, ALICE);
    /* Operators speak; voiced members too. */
    inproc_cmd(ip, ALICE, "PRIVMSG #c :ops may");
    expect_lines(ip, BOB, ":alice!~alice@127.0.0.1 PRIVMSG #c :ops may");
    inproc_cmd(ip, ALICE, "MODE #c +v bob");
    inproc_clear(ip, INPROC_ALL);
    inproc_cmd(ip, BOB, "PRIVMSG #c :now I may");
    expect_lines(ip, ALICE, ":bob!~bob@127.0.0.2 PRIVMSG #c :now I may");
    expect_nothing(ip, BOB);
}

static void test_privmsg_banned_member(void **state)
{
    struct inproc *ip = *state;
    inproc_cmd(ip, ALICE, "MODE #c +b bob");
    inproc_clear(ip, INPROC_ALL);
    /* A banned member keeps listening but cannot speak. */
    inproc_cmd(ip, BOB, "PRIVMSG #c :hello?");
    expect_lines(ip, BOB, ":srv 404 bob #c :Cannot send to channel");
    inproc_cmd(ip, ALICE, "PRIVMSG #c :quiet");
    expect_lines(ip, BOB, ":alice!~alice@127.0.0.1 PRIVMSG #c :quiet");
}

static void test_privmsg_missing_recipient_or_text(void **state)
{
    struct inproc *ip = *state;
    inproc_cmd(ip, ALICE, "PRIVMSG");
    expect_lines(ip, ALICE, ":srv 411 alice :No recipient given (PRIVMSG)");
    inproc_cmd(ip, ALICE, "PRIVMSG bob");
    expect_lines(ip, ALICE, ":srv 412 alice :No text to send");
    inproc_cmd(ip, ALICE, "PRIVMSG bob :");
    expect_lines(ip, ALICE, ":srv 412 alice :No text to send");
    inproc_cmd(ip, ALICE, "PRIVMSG :");
    expect_lines(ip, ALICE, ":srv 411 alice :No recipient given (PRIVMSG)");
    expect_nothing(ip, BOB);
}

static void test_notice_never_draws_an_error(void **state)
{
    struct inproc *ip = *state;
    static const char *const lines[] = {
        "NOTICE",         "NOTICE bob",      "NOTICE bob :",
        "NOTICE dave :x", "NOTICE #nope :x", "NOTICE a,b,c,d,e :x", /* past TARGMAX */
    };
    for (size_t k = 0; k < sizeof lines / sizeof lines[0]; k++)
        inproc_cmd(ip, ALICE, "%s", lines[k]);
    inproc_cmd(ip, CAROL, "NOTICE #c :from outside"); /* +n */
    inproc_cmd(ip, ALICE, "MODE #c +m");
    inproc_clear(ip, INPROC_ALL);
    inproc_cmd(ip, BOB, "NOTICE #c :unvoiced");
    for (int i = ALICE; i <= CAROL; i++)
        expect_nothing(ip, i);
    /* And what may be delivered is. */
    inproc_cmd(ip, ALICE, "NOTICE #c :heads up");
    expect_lines(ip, BOB, ":alice!~alice@127.0.0.1 NOTICE #c :heads up");
    inproc_cmd(ip, ALICE, "NOTICE carol :hey");
    expect_lines(ip, CAROL, ":alice!~alice@127.0.0.1 NOTICE carol :hey");
    expect_nothing(ip, ALICE);
}

static void test_privmsg_several_targets(void **state)
{
    struct inproc *ip = *state;
    inproc_cmd(ip, ALICE, "PRIVMSG #c,carol,nobody :all of you");
    expect_lines(ip, ALICE, ":srv 401 alice nobody :No such nick/channel");
    expect_lines(ip, BOB, ":alice!~alice@127.0.0.1 PRIVMSG #c :all of you");
    expect_lines(ip, CAROL, ":alice!~alice@127.0.0.1 PRIVMSG carol :all of you");
    /* A member named both as itself and through the channel gets both; a nick named twice
     * gets it twice (targets are not merged). */
    inproc_cmd(ip, ALICE, "PRIVMSG bob,#c,bob :hey");
    expect_lines(ip, BOB, ":alice!~alice@127.0.0.1 PRIVMSG bob :hey",
                 ":alice!~alice@127.0.0.1 PRIVMSG #c :hey",
                 ":alice!~alice@127.0.0.1 PRIVMSG bob :hey");
}

static void test_privmsg_too_many_targets(void **state)
{
    struct inproc *ip = *state;
    int d = inproc_connect(ip, "127.0.0.4");
    assert_int_equal(inproc_register(ip, d, "dave"), 0);
    /* TARGMAX=PRIVMSG:4: the first four are served, each one past them refused. */
    inproc_cmd(ip, ALICE, "PRIVMSG bob,carol,dave,#c,alice,nobody :five");
    expect_lines(ip, ALICE, ":srv 407 alice alice :Too many recipients",
                 ":srv 407 alice nobody :Too many recipients");
    expect_lines(ip, BOB, ":alice!~alice@127.0.0.1 PRIVMSG bob :five",
                 ":alice!~alice@127.0.0.1 PRIVMSG #c :five");
    expect_lines(ip, CAROL, ":alice!~alice@127.0.0.1 PRIVMSG carol :five");
    expect_lines(ip, d, ":alice!~alice@127.0.0.1 PRIVMSG dave :five");
}

static void test_privmsg_status_prefix(void **state)
{
    struct inproc *ip = *state;
    inproc_cmd(ip, CAROL, "JOIN #c");
    inproc_cmd(ip, ALICE, "MODE #c +v carol");
    inproc_clear(ip, INPROC_ALL);
    /* STATUSMSG=@+: "+#c" reaches the voiced and the operators, "@#c" the operators. */
    inproc_cmd(ip, BOB, "PRIVMSG +#c :voices");
    expect_lines(ip, ALICE, ":bob!~bob@127.0.0.2 PRIVMSG +#c :voices");
    expect_lines(ip, CAROL, ":bob!~bob@127.0.0.2 PRIVMSG +#c :voices");
    expect_nothing(ip, BOB);
    inproc_cmd(ip, BOB, "PRIVMSG @#c :ops");
    expect_lines(ip, ALICE, ":bob!~bob@127.0.0.2 PRIVMSG @#c :ops");
    expect_nothing(ip, CAROL);
    inproc_cmd(ip, BOB, "PRIVMSG @#nope :ops");
    expect_lines(ip, BOB, ":srv 403 bob #nope :No such channel");
}

static void test_privmsg_client_only_tags(void **state)
{
    struct inproc *ip = *state;
    inproc_cmd(ip, CAROL, "JOIN #c");
    inproc_cmd(ip, BOB, "CAP REQ :message-tags");
    inproc_clear(ip, INPROC_ALL);
    /* Client-only tags (+name) reach those who negotiated message-tags, with a msgid; other
     * tags a client sends are dropped; without the capability no tag is seen. */
    inproc_cmd(ip, ALICE, "@+example=1;+draft/reply=abc;notclient=2 PRIVMSG #c :tagged");
    expect_lines(ip, BOB,
                 "@msgid={};+example=1;+draft/reply=abc :alice!~alice@127.0.0.1 PRIVMSG #c "
                 ":tagged");
    expect_lines(ip, CAROL, ":alice!~alice@127.0.0.1 PRIVMSG #c :tagged");
    expect_nothing(ip, ALICE);
    /* Escaped values travel as they came. */
    inproc_cmd(ip, ALICE, "@+example=a\\sb PRIVMSG bob :to you");
    expect_lines(ip, BOB, "@msgid={};+example=a\\sb :alice!~alice@127.0.0.1 PRIVMSG bob :to you");
    /* TAGMSG carries only tags: only message-tags clients see it. */
    inproc_cmd(ip, ALICE, "@+typing=active TAGMSG #c");
    expect_lines(ip, BOB, "@msgid={};+typing=active :alice!~alice@127.0.0.1 TAGMSG #c");
    expect_nothing(ip, CAROL);
    /* The client tag budget is 4094 bytes. */
    char big[4200];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    inproc_cmd(ip, ALICE, "@+big=%s PRIVMSG #c :heavy", big);
    expect_lines(ip, ALICE, ":srv 417 alice :Input line was too long");
    expect_nothing(ip, BOB);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_privmsg_channel_reaches_others_not_sender,
                                        setup_channel, cmdtest_teardown),
        cmocka_unit_test_setup_teardown(test_privmsg_echo_message, setup_channel, cmdtest_teardown),
        cmocka_unit_test_setup_teardown(test_privmsg_to_nick, setup_channel, cmdtest_teardown),
        cmocka_unit_test_setup_teardown(test_privmsg_unknown_targets, setup_channel,
                                        cmdtest_teardown),
        cmocka_unit_test_setup_teardown(test_privmsg_no_external_messages, setup_channel,
                                        cmdtest_teardown),
        cmocka_unit_test_setup_teardown(test_privmsg_moderated, setup_channel, cmdtest_teardown),
        cmocka_unit_test_setup_teardown(test_privmsg_banned_member, setup_channel,
                                        cmdtest_teardown),
        cmocka_unit_test_setup_teardown(test_privmsg_missing_recipient_or_text, setup_channel,
                                        cmdtest_teardown),
        cmocka_unit_test_setup_teardown(test_notice_never_draws_an_error, setup_channel,
                                        cmdtest_teardown),
        cmocka_unit_test_setup_teardown(test_privmsg_several_targets, setup_channel,
                                        cmdtest_teardown),
        cmocka_unit_test_setup_teardown(test_privmsg_too_many_targets, setup_channel,
                                        cmdtest_teardown),
        cmocka_unit_test_setup_teardown(test_privmsg_status_prefix, setup_channel,
                                        cmdtest_teardown),
        cmocka_unit_test_setup_teardown(test_privmsg_client_only_tags, setup_channel,
                                        cmdtest_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
