/* Unit tests for src/server/core/event.c's draft/multiline messages: one msg per rendering,
 * the whole BATCH for a client with the capability, the lines one by one for the others
 * (blank ones left out, the msgid on the first only), each line an event of its own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "server/core/event.h"

static const char *const texts[] = {"hello", "", "how is ", "everyone?"};
static const int concat[] = {0, 0, 0, 1};

static struct event *sample(void)
{
    struct event *ev = event_new_multiline("+draft/reply=x", "acct", 0, "n!u@h", "PRIVMSG", "#c", 4,
                                           texts, concat);
    assert_non_null(ev);
    assert_non_null(ev->ml);
    return ev;
}

/* How many CR LF ended lines m holds. */
static int lines_of(const struct msg *m)
{
    int n = 0;
    for (unsigned i = 0; i + 1 < m->len; i++)
        n += m->data[i] == '\r' && m->data[i + 1] == '\n';
    return n;
}

static void test_multiline_plain_lines(void **state)
{
    (void)state;
    struct event *ev = sample();
    struct msg *m = event_render(ev, 0);
    assert_string_equal(m->data, ":n!u@h PRIVMSG #c :hello\r\n"
                                 ":n!u@h PRIVMSG #c :how is \r\n"
                                 ":n!u@h PRIVMSG #c :everyone?\r\n");
    /* message-tags: the msgid and client tags on the first line only. */
    m = event_render(ev, EV_TAGS);
    char first[256];
    snprintf(first, sizeof first, "@msgid=%s;+draft/reply=x :n!u@h PRIVMSG #c :hello\r\n",
             ev->msgid);
    assert_memory_equal(m->data, first, strlen(first));
    assert_int_equal(lines_of(m), 3);
    assert_null(strstr(m->data + strlen(first), "msgid="));
    event_unref(ev);
}

static void test_multiline_batch(void **state)
{
    (void)state;
    struct event *ev = sample();
    struct msg *m = event_render(ev, EV_MULTILINE | EV_TAGS | EV_ACCOUNT);
    assert_int_equal(lines_of(m), 6);
    char want[1024];
    const char *ref = ev->ml->ref;
    snprintf(want, sizeof want,
             "@account=acct;msgid=%s;+draft/reply=x :n!u@h BATCH +%s draft/multiline #c\r\n"
             "@batch=%s :n!u@h PRIVMSG #c :hello\r\n"
             "@batch=%s :n!u@h PRIVMSG #c :\r\n"
             "@batch=%s :n!u@h PRIVMSG #c :how is \r\n"
             "@batch=%s;draft/multiline-concat :n!u@h PRIVMSG #c :everyone?\r\n"
             ":n!u@h BATCH -%s\r\n",
             ev->msgid, ref, ref, ref, ref, ref, ref);
    assert_string_equal(m->data, want);
    /* Built once per variant, shared after. */
    assert_ptr_equal(m, event_render(ev, EV_MULTILINE | EV_TAGS | EV_ACCOUNT));
    event_unref(ev);
}

static void test_multiline_lines_are_events(void **state)
{
    (void)state;
    struct event *ev = sample();
    assert_int_equal(ev->ml->n, 4);
    assert_string_equal(ev->ml->lines[0].ev->msgid, ev->msgid);
    assert_string_not_equal(ev->ml->lines[2].ev->msgid, ev->msgid);
    assert_true(ev->ml->lines[1].blank);
    assert_true(ev->ml->lines[3].concat);
    assert_string_equal(ev->ml->lines[0].ev->client_tags, "+draft/reply=x");
    assert_null(ev->ml->lines[2].ev->client_tags);
    assert_int_equal(ev->ml->lines[3].ev->time_ms, ev->time_ms);
    event_unref(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_multiline_plain_lines),
        cmocka_unit_test(test_multiline_batch),
        cmocka_unit_test(test_multiline_lines_are_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
