/* Unit tests of channel MODE (src/server/chan.c chan_mode) as clients see it, through the
 * in-process server (tests/inproc): the query (324, 329), +o/+v and the MODE line every member
 * sees, refusals (482, 442), unknown letters (472), missing arguments (461), the +b/+e/+I lists
 * and their listings, +k and +l with and without arguments, and MODES, the limit on changes
 * with an argument per command. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "inproc/cmdtest.h"

/* alice makes #c (and is its operator), then bob and carol join it; nothing left to read. */
static int setup_channel(void **state)
{
    if (cmdtest_setup(state) < 0)
        return -1;
    struct inproc *ip = *state;
    inproc_cmd(ip, ALICE, "JOIN #c");
    inproc_cmd(ip, BOB, "JOIN #c");
    inproc_cmd(ip, CAROL, "JOIN #c");
    inproc_clear(ip, INPROC_ALL);
    return 0;
}

static void test_mode_query(void **state)
{
    struct inproc *ip = *state;
    inproc_cmd(ip, BOB, "MODE #c");
    expect_lines(ip, BOB, ":srv 324 bob #c +nt", ":srv 329 bob #c {}");
    /* The key shows only to members. */
    inproc_cmd(ip, ALICE, "MODE #c +kl pw 5");
    inproc_clear(ip, INPROC_ALL);
    inproc_cmd(ip, BOB, "MODE #c");
    expect_lines(ip, BOB, ":srv 324 bob #c +ntkl pw 5", ":srv 329 bob #c {}");
    int d = inproc_connect(ip, "127.0.0.4");
    assert_int_equal(inproc_register(ip, d, "dave"), 0);
    inproc_cmd(ip, d, "MODE #c");
    expect_lines(ip, d, ":srv 324 dave #c +ntkl * 5", ":srv 329 dave #c {}");
    inproc_cmd(ip, d, "MODE #nope");
    expect_lines(ip, d, ":srv 403 dave #nope :No such channel");
    expect_nothing(ip, ALICE);
}

static void test_mode_op_and_voice_seen_by_every_member(void **state)
{
    struct inproc *ip = *state;
    inproc_cmd(ip, ALICE, "MODE #c +o bob");
    for (int i = ALICE; i <= CAROL; i++)
        expect_lines(ip, i, ":alice!~alice@127.0.0.1 MODE #c +o bob");
    /* bob is an operator now: he may give voice. */
    inproc_cmd(ip, BOB, "MODE #c +v carol");
    for (int i = ALICE; i <= CAROL; i++)
        expect_lines(ip, i, ":bob!~bob@127.0.0.2 MODE #c +v carol");
    inproc_cmd(ip, CAROL, "NAMES #c");
    expect_lines(ip, CAROL, ":srv 353 carol = #c :@alice @bob +carol",
                 ":srv 366 carol #c :End of /NAMES list");
    /* Several changes in one command make one MODE line, signs merged. */
    inproc_cmd(ip, ALICE, "MODE #c -o+v-v bob bob carol");
    for (int i = ALICE; i <= CAROL; i++)
        expect_lines(ip, i, ":alice!~alice@127.0.0.1 MODE #c -o+v-v bob bob carol");
    /* A change that changes nothing is announced all the same (most servers drop it). */
    inproc_cmd(ip, ALICE, "MODE #c +o alice");
    expect_lines(ip, BOB, ":alice!~alice@127.0.0.1 MODE #c +o alice");
    inproc_clear(ip, INPROC_ALL);
    /* Flags without an argument are announced only when they change. */
    inproc_cmd(ip, ALICE, "MODE #c +imnst");
    expect_lines(ip, BOB, ":alice!~alice@127.0.0.1 MODE #c +ims");
    inproc_clear(ip, INPROC_ALL);
    inproc_cmd(ip, ALICE, "MODE #c +n");
    expect_nothing(ip, ALICE);
    expect_nothing(ip, BOB);
}

static void test_mode_op_needs_a_member_and_a_nick(void **state)
{
    struct inproc *ip = *state;
    inproc_cmd(ip, ALICE, "MODE #c +o dave");
    expect_lines(ip, ALICE, ":srv 401 alice dave :No such nick/channel");
    int d = inproc_connect(ip, "127.0.0.4");
    assert_int_equal(inproc_register(ip, d, "dave"), 0);
    inproc_cmd(ip, ALICE, "MODE #c +v dave");
    expect_lines(ip, ALICE, ":srv 441 alice dave #c :They aren't on that channel");
    expect_nothing(ip, BOB);
}

static void test_mode_refused_for_non_ops(void **state)
{
    struct inproc *ip = *state;
    inproc_cmd(ip, BOB, "MODE #c +o carol");
    expect_lines(ip, BOB, ":srv 482 bob #c :You're not channel operator");
    /* One refusal per command, however many changes it asks for. */
    inproc_cmd(ip, BOB, "MODE #c +mi-t");
    expect_lines(ip, BOB, ":srv 482 bob #c :You're not channel operator");
    inproc_cmd(ip, BOB, "MODE #c +b carol");
    expect_lines(ip, BOB, ":srv 482 bob #c :You're not channel operator");
    expect_nothing(ip, ALICE);
    expect_nothing(ip, CAROL);
    /* Not a member at all: 442. */
    int d = inproc_connect(ip, "127.0.0.4");
    assert_int_equal(inproc_register(ip, d, "dave"), 0);
    inproc_cmd(ip, d, "MODE #c +m");
    expect_lines(ip, d, ":srv 442 dave #c :You're not on that channel");
    inproc_cmd(ip, BOB, "MODE #c");
    expect_lines(ip, BOB, ":srv 324 bob #c +nt", ":srv 329 bob #c {}");
}

static void test_mode_unknown_letter(void **state)
{
    struct inproc *ip = *state;
    inproc_cmd(ip, ALICE, "MODE #c +z");
    expect_lines(ip, ALICE, ":srv 472 alice z :is unknown mode char to me");
    /* Each unknown letter is named; the known ones still apply. */
    inproc_cmd(ip, ALICE, "MODE #c +zmq");
    expect_lines(ip, ALICE, ":srv 472 alice z :is unknown mode char to me",
                 ":srv 472 alice q :is unknown mode char to me",
                 ":alice!~alice@127.0.0.1 MODE #c +m");
    expect_lines(ip, BOB, ":alice!~alice@127.0.0.1 MODE #c +m");
    /* Checked before privileges: a non-operator is told the same. */
    inproc_cmd(ip, BOB, "MODE #c +z");
    expect_lines(ip, BOB, ":srv 472 bob z :is unknown mode char to me");
}

static void test_mode_missing_argument(void **state)
{
    struct inproc *ip = *state;
    static const char *const changes[] = {"+o", "-v", "+k", "+l"};
    for (size_t k = 0; k < sizeof changes / sizeof changes[0]; k++) {
        inproc_cmd(ip, ALICE, "MODE #c %s", changes[k]);
        expect_lines(ip, ALICE, ":srv 461 alice MODE :Not enough parameters");
    }
    /* Two changes short of an argument: one reply each. */
    inproc_cmd(ip, ALICE, "MODE #c +kl");
    expect_lines(ip, ALICE, ":srv 461 alice MODE :Not enough parameters",
                 ":srv 461 alice MODE :Not enough parameters");
    expect_nothing(ip, BOB);
}

static void test_mode_ban_list(void **state)
{
    struct inproc *ip = *state;
    inproc_cmd(ip, ALICE, "MODE #c +b");
    expect_lines(ip, ALICE, ":srv 368 alice #c :End of channel ban list");
    /* Masks are completed to nick!user@host. */
    inproc_cmd(ip, ALICE, "MODE #c +bb dave *!*@192.0.2.*");
    expect_lines(ip, BOB, ":alice!~alice@127.0.0.1 MODE #c +bb dave!*@* *!*@192.0.2.*");
    inproc_cmd(ip, ALICE, "MODE #c +b ~x@host");
    inproc_cmd(ip, ALICE, "MODE #c +b eve!~e");
    inproc_clear(ip, INPROC_ALL);
    /* Anyone in the channel may list the bans: who set each and when. */
    inproc_cmd(ip, BOB, "MODE #c b");
    expect_lines(ip, BOB, ":srv 367 bob #c dave!*@* alice!~alice@127.0.0.1 {}",
                 ":srv 367 bob #c *!*@192.0.2.* alice!~alice@127.0.0.1 {}",
                 ":srv 367 bob #c *!~x@host alice!~alice@127.0.0.1 {}",
                 ":srv 367 bob #c eve!~e@* alice!~alice@127.0.0.1 {}",
                 ":srv 368 bob #c :End of channel ban list");
    /* Removing one that is there is announced; one that is not, silently ignored. */
    inproc_cmd(ip, ALICE, "MODE #c -b-b dave nobody");
    expect_lines(ip, CAROL, ":alice!~alice@127.0.0.1 MODE #c -b dave!*@*");
    inproc_clear(ip, INPROC_ALL);
    inproc_cmd(ip, ALICE, "MODE #c +b");
    assert_int_equal(inproc_nlines(ip, ALICE), 4);
    assert_string_equal(inproc_line(ip, ALICE, 3), ":srv 368 alice #c :End of channel ban list");
    inproc_clear(ip, ALICE);
    /* Adding one already there changes nothing. */
    inproc_cmd(ip, ALICE, "MODE #c +b eve!~e@*");
    expect_nothing(ip, ALICE);
}

static void test_mode_exception_and_invex_lists(void **state)
{
    struct inproc *ip = *state;
    inproc_cmd(ip, ALICE, "MODE #c +eI friend *!*@2001:db8::*");
    expect_lines(ip, BOB, ":alice!~alice@127.0.0.1 MODE #c +eI friend!*@* *!*@2001:db8::*");
    inproc_clear(ip, INPROC_ALL);
    inproc_cmd(ip, ALICE, "MODE #c e");
    expect_lines(ip, ALICE, ":srv 348 alice #c friend!*@* alice!~alice@127.0.0.1 {}",
                 ":srv 349 alice #c :End of channel exception list");
    inproc_cmd(ip, ALICE, "MODE #c +I");
    expect_lines(ip, ALICE, ":srv 346 alice #c *!*@2001:db8::* alice!~alice@127.0.0.1 {}",
                 ":srv 347 alice #c :End of channel invite list");
    /* Members who are not operators see them too (ops only, on most servers); one list per
     * MODE command, the first asked for (as other servers do: no amplification). */
    inproc_cmd(ip, CAROL, "MODE #c eI");
    expect_lines(ip, CAROL, ":srv 348 carol #c friend!*@* alice!~alice@127.0.0.1 {}",
                 ":srv 349 carol #c :End of channel exception list");
    inproc_cmd(ip, CAROL, "MODE #c I");
    expect_lines(ip, CAROL, ":srv 346 carol #c *!*@2001:db8::* alice!~alice@127.0.0.1 {}",
                 ":srv 347 carol #c :End of channel invite list");
}

static void test_mode_list_full(void **state)
{
    struct inproc *ip = *state;
    for (int k = 0; k < 100; k++) /* MAXLIST=beI:100 */
        inproc_cmd(ip, ALICE, "MODE #c +b mask%d", k);
    inproc_clear(ip, INPROC_ALL);
    inproc_cmd(ip, ALICE, "MODE #c +b one-more");
    expect_lines(ip, ALICE, ":srv 478 alice #c b :Channel list is full");
    expect_nothing(ip, BOB);
    /* Each list has its own room. */
    inproc_cmd(ip, ALICE, "MODE #c +e one-more");
    expect_lines(ip, ALICE, ":alice!~alice@127.0.0.1 MODE #c +e one-more!*@*");
}

static void test_mode_key(void **state)
{
    struct inproc *ip = *state;
    inproc_cmd(ip, ALICE, "MODE #c +k pw");
    for (int i = ALICE; i <= CAROL; i++)
        expect_lines(ip, i, ":alice!~alice@127.0.0.1 MODE #c +k pw");
    inproc_cmd(ip, ALICE, "MODE #c +k other");
    expect_lines(ip, ALICE, ":srv 467 alice #c :Channel key already set");
    /* -k without the key still clears it; the MODE line shows "*" for it. */
    inproc_cmd(ip, ALICE, "MODE #c -k");
    expect_lines(ip, BOB, ":alice!~alice@127.0.0.1 MODE #c -k *");
    inproc_clear(ip, INPROC_ALL);
    inproc_cmd(ip, ALICE, "MODE #c -k");
    expect_nothing(ip, ALICE);
    /* Nor does -k need the right key: whatever is given is cleared and shown. */
    inproc_cmd(ip, ALICE, "MODE #c +k pw");
    inproc_clear(ip, INPROC_ALL);
    inproc_cmd(ip, ALICE, "MODE #c -k wrong");
    expect_lines(ip, BOB, ":alice!~alice@127.0.0.1 MODE #c -k wrong");
    inproc_cmd(ip, ALICE, "MODE #c +k a,b");
    expect_lines(ip, ALICE, ":alice!~alice@127.0.0.1 MODE #c -k wrong",
                 ":srv 525 alice #c :Key is not well-formed");
    inproc_cmd(ip, ALICE, "MODE #c");
    expect_lines(ip, ALICE, ":srv 324 alice #c +nt", ":srv 329 alice #c {}");
}

static void test_mode_limit(void **state)
{
    struct inproc *ip = *state;
    inproc_cmd(ip, ALICE, "MODE #c +l 5");
    expect_lines(ip, BOB, ":alice!~alice@127.0.0.1 MODE #c +l 5");
    /* -l takes no argument. */
    inproc_cmd(ip, ALICE, "MODE #c -l");
    expect_lines(ip, BOB, ":alice!~alice@127.0.0.1 MODE #c -l");
    inproc_cmd(ip, ALICE, "MODE #c -l");
    expect_nothing(ip, BOB);
    /* A limit that is no positive number is ignored without a word. */
    inproc_cmd(ip, ALICE, "MODE #c +l many");
    inproc_cmd(ip, ALICE, "MODE #c +l 0");
    inproc_clear(ip, ALICE);
    expect_nothing(ip, BOB);
    inproc_cmd(ip, ALICE, "MODE #c");
    expect_lines(ip, ALICE, ":srv 324 alice #c +nt", ":srv 329 alice #c {}");
}

static void test_mode_changes_per_line(void **state)
{
    struct inproc *ip = *state;
    /* MODES=4: the fifth change with an argument is dropped without a word. */
    inproc_cmd(ip, ALICE, "MODE #c +vvvvv alice bob carol alice bob");
    expect_lines(ip, BOB, ":alice!~alice@127.0.0.1 MODE #c +vvvv alice bob carol alice");
    /* Flags without an argument do not count. */
    inproc_clear(ip, INPROC_ALL);
    inproc_cmd(ip, ALICE, "MODE #c +imsbbbb m1 m2 m3 m4");
    expect_lines(ip, BOB, ":alice!~alice@127.0.0.1 MODE #c +imsbbbb m1!*@* m2!*@* m3!*@* m4!*@*");
    inproc_clear(ip, INPROC_ALL);
    inproc_cmd(ip, ALICE, "MODE #c +ooooo bob carol bob carol bob");
    expect_lines(ip, CAROL, ":alice!~alice@127.0.0.1 MODE #c +oooo bob carol bob carol");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mode_query, setup_channel, cmdtest_teardown),
        cmocka_unit_test_setup_teardown(test_mode_op_and_voice_seen_by_every_member, setup_channel,
                                        cmdtest_teardown),
        cmocka_unit_test_setup_teardown(test_mode_op_needs_a_member_and_a_nick, setup_channel,
                                        cmdtest_teardown),
        cmocka_unit_test_setup_teardown(test_mode_refused_for_non_ops, setup_channel,
                                        cmdtest_teardown),
        cmocka_unit_test_setup_teardown(test_mode_unknown_letter, setup_channel, cmdtest_teardown),
        cmocka_unit_test_setup_teardown(test_mode_missing_argument, setup_channel,
                                        cmdtest_teardown),
        cmocka_unit_test_setup_teardown(test_mode_ban_list, setup_channel, cmdtest_teardown),
        cmocka_unit_test_setup_teardown(test_mode_exception_and_invex_lists, setup_channel,
                                        cmdtest_teardown),
        cmocka_unit_test_setup_teardown(test_mode_list_full, setup_channel, cmdtest_teardown),
        cmocka_unit_test_setup_teardown(test_mode_key, setup_channel, cmdtest_teardown),
        cmocka_unit_test_setup_teardown(test_mode_limit, setup_channel, cmdtest_teardown),
        cmocka_unit_test_setup_teardown(test_mode_changes_per_line, setup_channel,
                                        cmdtest_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
