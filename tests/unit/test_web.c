/* Unit tests of IRC over WebSocket (src/server/core/web.c) through the in-process server
 * (tests/inproc): a web client next to TCP clients, as the harness sees it: every HTTP answer
 * and frame it is sent is checked (inproc_connect_web), the lines they carry compared here.
 * The fan-out test sends the web client more than its socket holds, so frames are cut by short
 * writes and must go on whole. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/defines.h"
#include "inproc/cmdtest.h"

enum { WEB = CAROL + 1 }; /* after alice, bob and carol */

#define FANOUT_LINES 1500
#define FANOUT_TEXT  200

/* Frame types by their first byte: FIN and opcode. */
enum {
    TEXT = 0x81,
    TEXT_MORE = 0x01,
    CONT_MORE = 0x00,
    CONT_LAST = 0x80,
    CLOSE = 0x88,
    PING = 0x89
};

/* Sends one masked frame from client i carrying text; b0 is its first byte (FIN, opcode). */
static void send_frame(struct inproc *ip, int i, int b0, const char *text)
{
    static const unsigned char key[4] = {0x11, 0x22, 0x33, 0x44};
    unsigned char frame[1024];
    size_t len = strlen(text), at = 0;
    assert_true(len < 1000);
    frame[at++] = (unsigned char)b0;
    if (len < 126) {
        frame[at++] = (unsigned char)(0x80 | len);
    } else {
        frame[at++] = 0x80 | 126;
        frame[at++] = (unsigned char)(len >> 8);
        frame[at++] = (unsigned char)len;
    }
    memcpy(frame + at, key, 4);
    at += 4;
    for (size_t k = 0; k < len; k++)
        frame[at + k] = (unsigned char)text[k] ^ key[k % 4];
    assert_int_equal(inproc_send(ip, i, frame, at + len), 0);
    inproc_run(ip);
}

/* alice, bob, carol, and a web client that did the handshake and registered as "webby". */
static int setup(void **state)
{
    static const char *const opts[] = {"--sendq", "4194304", NULL};
    struct inproc *ip = cmdtest_start(opts, 3);
    if (!ip)
        return -1;
    *state = ip;
    if (inproc_connect_web(ip, "192.0.2.8") != WEB)
        return -1;
    static const char hs[] =
        "GET /irc HTTP/1.1\r\nHost: srv\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: text.ircv3.net\r\n\r\n";
    inproc_send(ip, WEB, hs, sizeof hs - 1);
    inproc_run(ip);
    send_frame(ip, WEB, TEXT, "NICK webby");
    send_frame(ip, WEB, TEXT, "USER webby 0 * :Web User\r\n"); /* a CR LF sent along is dropped */
    if (inproc_find(ip, WEB,
                    ":srv 001 webby :Welcome to the tcpchat IRC network, "
                    "webby!~webby@192.0.2.8") < 0)
        return -1;
    inproc_clear(ip, INPROC_ALL);
    return 0;
}

static void test_web_user_chats_with_tcp_users(void **state)
{
    struct inproc *ip = *state;
    inproc_cmd(ip, ALICE, "JOIN #c");
    send_frame(ip, WEB, TEXT, "JOIN #c");
    expect_lines(ip, WEB, ":webby!~webby@192.0.2.8 JOIN #c", ":srv 353 webby = #c :@alice webby",
                 ":srv 366 webby #c :End of /NAMES list");
    inproc_clear(ip, ALICE);
    send_frame(ip, WEB, TEXT, "PRIVMSG #c :hello from a browser \xc3\xa9");
    expect_lines(ip, ALICE, ":webby!~webby@192.0.2.8 PRIVMSG #c :hello from a browser \xc3\xa9");
    inproc_cmd(ip, ALICE, "PRIVMSG #c :hi webby");
    inproc_cmd(ip, BOB, "PRIVMSG webby :psst");
    expect_lines(ip, WEB, ":alice!~alice@127.0.0.1 PRIVMSG #c :hi webby",
                 ":bob!~bob@127.0.0.2 PRIVMSG webby :psst");
    /* A message in fragments is one line; a ping between them is answered by a pong (which
     * the harness checks as a frame) and is no line. */
    send_frame(ip, WEB, TEXT_MORE, "PRIVMSG alice");
    send_frame(ip, WEB, PING, "are you there");
    send_frame(ip, WEB, CONT_MORE, " :in three");
    expect_nothing(ip, ALICE);
    send_frame(ip, WEB, CONT_LAST, " parts");
    expect_lines(ip, ALICE, ":webby!~webby@192.0.2.8 PRIVMSG alice :in three parts");
    expect_nothing(ip, WEB);
}

static void test_fanout_past_the_socket_buffer_arrives_whole(void **state)
{
    struct inproc *ip = *state;
    inproc_cmd(ip, ALICE, "JOIN #c");
    send_frame(ip, WEB, TEXT, "JOIN #c");
    inproc_clear(ip, INPROC_ALL);
    /* Registered long enough ago that others' lines are bounded by --sendq, not by what a
     * client that has just registered may be sent without reading (SENDQ_NEW_BYTES). */
    inproc_advance(ip, SENDQ_NEW_MS);
    /* 1,500 lines of some 250 bytes: 370 KB, more than a socketpair holds, sent before the
     * harness reads any, so the server's writev stops inside frames. */
    char text[FANOUT_TEXT + 1];
    memset(text, 'x', FANOUT_TEXT);
    text[FANOUT_TEXT] = '\0';
    for (int k = 0; k < FANOUT_LINES; k++)
        inproc_sendf(ip, ALICE, "PRIVMSG #c :%05d %s", k, text);
    inproc_run(ip);
    assert_int_equal(inproc_nlines(ip, WEB), FANOUT_LINES);
    char want[FANOUT_TEXT + 64];
    for (int k = 0; k < FANOUT_LINES; k++) {
        snprintf(want, sizeof want, ":alice!~alice@127.0.0.1 PRIVMSG #c :%05d %s", k, text);
        assert_string_equal(inproc_line(ip, WEB, k), want);
    }
    assert_null(inproc_error(ip));
}

static void test_close_frame_ends_the_session(void **state)
{
    struct inproc *ip = *state;
    inproc_cmd(ip, ALICE, "JOIN #c");
    send_frame(ip, WEB, TEXT, "JOIN #c");
    inproc_clear(ip, INPROC_ALL);
    send_frame(ip, WEB, CLOSE, "\x03\xe8");
    assert_false(inproc_alive(ip, WEB));
    /* The others see a QUIT; the harness saw a close frame, and nothing after it. */
    expect_lines(ip, ALICE, ":webby!~webby@192.0.2.8 QUIT :Connection closed");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_web_user_chats_with_tcp_users, setup,
                                        cmdtest_teardown),
        cmocka_unit_test_setup_teardown(test_fanout_past_the_socket_buffer_arrives_whole, setup,
                                        cmdtest_teardown),
        cmocka_unit_test_setup_teardown(test_close_frame_ends_the_session, setup, cmdtest_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
