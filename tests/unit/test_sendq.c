/* Unit tests for src/server/sendq.c and msg.c: refcounted lines queued by reference and
 * flushed with writev, partial writes resumed at the right byte, the byte count kept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "common/ircmsg.h"
#include "server/core/msg.h"
#include "server/core/defines.h"
#include "server/core/sendq.h"

static size_t drain(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    ssize_t r;
    while (n < cap && (r = read(fd, buf + n, cap - n)) > 0)
        n += (size_t)r;
    return n;
}

static void test_msg_printf_adds_crlf_and_truncates(void **state)
{
    (void)state;
    struct msg *m = msg_printf(":a PRIVMSG #c :%s", "hi");
    assert_non_null(m);
    assert_int_equal(m->len, strlen(":a PRIVMSG #c :hi\r\n"));
    assert_memory_equal(m->data, ":a PRIVMSG #c :hi\r\n", m->len);
    msg_unref(m);

    char big[2000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    m = msg_printf("%s", big);
    assert_int_equal(m->len, IRC_LINE_MAX); /* 510 bytes + CR LF: RFC 1459's limit */
    assert_memory_equal(m->data + IRC_LINE_MAX - 2, "\r\n", 2);
    msg_unref(m);
}

static void test_msg_truncation_keeps_utf8_whole(void **state)
{
    (void)state;
    char text[IRC_LINE_MAX + 8];
    memset(text, 'a', 509);
    strcpy(text + 509, "\xc3\xa9"); /* 'é' straddles byte 510 */
    struct msg *m = msg_printf("%s", text);
    assert_int_equal(m->len, 509 + 2);
    msg_unref(m);
}

static void test_msgbuf_gathers_lines(void **state)
{
    (void)state;
    struct msgbuf b = {0};
    msgbuf_line(&b, "one %d", 1);
    msgbuf_line(&b, "two");
    struct msg *m = msgbuf_finish(&b);
    assert_non_null(m);
    assert_int_equal(m->len, strlen("one 1\r\ntwo\r\n"));
    assert_memory_equal(m->data, "one 1\r\ntwo\r\n", m->len);
    msg_unref(m);
    assert_null(msgbuf_finish(&b)); /* empty */
}

static void test_sendq_shares_one_message(void **state)
{
    (void)state;
    struct msg *m = msg_printf("hello");
    struct sendq a, b;
    sendq_init(&a);
    sendq_init(&b);
    assert_int_equal(sendq_push(&a, m), 0);
    assert_int_equal(sendq_push(&b, m), 0);
    assert_int_equal(atomic_load(&m->refs), 3);
    assert_int_equal(sendq_bytes(&a), 7);
    sendq_free(&a);
    sendq_free(&b);
    assert_int_equal(atomic_load(&m->refs), 1);
    msg_unref(m);
}

static void test_sendq_flush_in_order_across_growth(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct sendq q;
    sendq_init(&q);
    static char expect[(WRITEV_MAX + 100) * 16];
    size_t elen = 0;
    for (int i = 0; i < WRITEV_MAX + 100; i++) { /* past the initial ring, past one writev */
        struct msg *m = msg_printf("line %d", i);
        assert_int_equal(sendq_push(&q, m), 0);
        elen += (size_t)snprintf(expect + elen, sizeof expect - elen, "line %d\r\n", i);
        msg_unref(m);
    }
    assert_int_equal(sendq_bytes(&q), elen);
    assert_int_equal(sendq_flush(&q, sv[0]), 0);
    assert_int_equal(sendq_bytes(&q), 0);
    close(sv[0]);
    static char got[sizeof expect];
    assert_int_equal(drain(sv[1], got, sizeof got), elen);
    assert_memory_equal(got, expect, elen);
    close(sv[1]);
    sendq_free(&q);
}

/* An empty queue holds no ring: none before the first push, none once flushed empty. */
static void test_sendq_ring_only_while_queued(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct sendq q;
    sendq_init(&q);
    assert_null(q.ring);
    assert_int_equal(sendq_flush(&q, sv[0]), 0);
    for (int round = 0; round < 3; round++) {
        struct msg *m = msg_printf("round %d", round);
        assert_int_equal(sendq_push(&q, m), 0);
        msg_unref(m);
        assert_non_null(q.ring);
        assert_int_equal(sendq_flush(&q, sv[0]), 0);
        assert_null(q.ring);
        assert_int_equal(sendq_bytes(&q), 0);
        char got[64];
        char want[32];
        snprintf(want, sizeof want, "round %d\r\n", round);
        assert_int_equal(read(sv[1], got, sizeof got), strlen(want));
        assert_memory_equal(got, want, strlen(want));
    }
    close(sv[0]);
    close(sv[1]);
    sendq_free(&q);
}

static void test_sendq_partial_write_resumes(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    int small = 4096;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    struct sendq q;
    sendq_init(&q);
    char payload[400];
    memset(payload, 'p', sizeof payload - 1);
    payload[sizeof payload - 1] = '\0';
    size_t total = 0;
    for (int i = 0; i < 500; i++) {
        struct msg *m = msg_printf("%03d %s", i % 1000, payload);
        sendq_push(&q, m);
        total += m->len;
        msg_unref(m);
    }
    /* The socket takes only part: the queue keeps the rest, byte-exact. */
    assert_int_equal(sendq_flush(&q, sv[0]), 0);
    size_t left = sendq_bytes(&q);
    assert_true(left > 0 && left < total);
    static char got[500 * 512];
    size_t n = 0;
    while (sendq_bytes(&q) > 0) {
        ssize_t r = read(sv[1], got + n, sizeof got - n);
        assert_true(r > 0);
        n += (size_t)r;
        assert_int_equal(sendq_flush(&q, sv[0]), 0);
    }
    close(sv[0]);
    n += drain(sv[1], got + n, sizeof got - n);
    assert_int_equal(n, total);
    for (int i = 0; i < 500; i++) { /* every line whole and in order */
        char want[16];
        snprintf(want, sizeof want, "%03d ", i);
        assert_memory_equal(got + (size_t)i * (total / 500), want, 4);
    }
    close(sv[1]);
    sendq_free(&q);
}

static void test_sendq_write_error(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    close(sv[1]);
    signal(SIGPIPE, SIG_IGN);
    struct sendq q;
    sendq_init(&q);
    struct msg *m = msg_printf("x");
    sendq_push(&q, m);
    msg_unref(m);
    assert_int_equal(sendq_flush(&q, sv[0]), -1);
    close(sv[0]);
    sendq_free(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_msg_printf_adds_crlf_and_truncates),
        cmocka_unit_test(test_msg_truncation_keeps_utf8_whole),
        cmocka_unit_test(test_msgbuf_gathers_lines),
        cmocka_unit_test(test_sendq_shares_one_message),
        cmocka_unit_test(test_sendq_flush_in_order_across_growth),
        cmocka_unit_test(test_sendq_ring_only_while_queued),
        cmocka_unit_test(test_sendq_partial_write_resumes),
        cmocka_unit_test(test_sendq_write_error),
    };
    return cmocka_run_group_tests_name("sendq", tests, NULL, NULL);
}
