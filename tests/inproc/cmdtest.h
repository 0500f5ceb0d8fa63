/* cmdtest: what the unit tests of the command layer share: an in-process server (inproc.h)
 * with users already registered, and cmocka assertions over the lines they received. Include
 * it after <cmocka.h>.
 * A wanted line is compared byte for byte, except that "{}" in it stands for what a test
 * cannot know: a non-empty run of digits, lower-case letters and '-' (a Unix time from the
 * wall clock, a msgid). */
#ifndef TCPCHAT_CMDTEST_H
#define TCPCHAT_CMDTEST_H

#include <stdio.h>
#include <string.h>

#include "inproc.h"

/* The users cmdtest_start registers, by client index: nick, and host 127.0.0.(index + 1). */
enum { ALICE, BOB, CAROL, DAVE, CMDTEST_USERS_MAX };

/* Starts a server named "srv" without a default channel, history or flood limits (--flood-burst
 * and --flood-rate 1000000), then extra_opts (NULL-terminated, or NULL), which may override
 * them; connects and registers the first nusers of alice, bob, carol and dave, and forgets
 * their welcome. NULL, with the reason printed, on failure. */
static inline struct inproc *cmdtest_start(const char *const *extra_opts, int nusers)
{
    static const char *const base[] = {
        "--server-name", "srv",     "--default-channel", "",        "--history", "off",
        "--flood-burst", "1000000", "--flood-rate",      "1000000", NULL};
    static const char *const nicks[CMDTEST_USERS_MAX] = {"alice", "bob", "carol", "dave"};
    const char *opts[64];
    int n = 0;
    for (const char *const *o = base; *o; o++)
        opts[n++] = *o;
    for (const char *const *o = extra_opts; o && *o && n < 63; o++)
        opts[n++] = *o;
    opts[n] = NULL;
    char why[256];
    struct inproc *ip = inproc_start(opts, why, sizeof why);
    if (!ip) {
        print_error("inproc_start: %s\n", why);
        return NULL;
    }
    for (int i = 0; i < nusers && i < CMDTEST_USERS_MAX; i++) {
        char host[32];
        snprintf(host, sizeof host, "127.0.0.%d", i + 1);
        if (inproc_connect(ip, host) != i || inproc_register(ip, i, nicks[i]) < 0) {
            print_error("cannot register %s\n", nicks[i]);
            inproc_close(ip, why, sizeof why);
            return NULL;
        }
    }
    return ip;
}

/* cmocka setup: alice, bob and carol on a cmdtest_start server. */
static inline int cmdtest_setup(void **state)
{
    *state = cmdtest_start(NULL, 3);
    return *state ? 0 : -1;
}

/* cmocka teardown: every line received was well formed and the server frees everything. */
static inline int cmdtest_teardown(void **state)
{
    char why[256];
    if (*state && inproc_close(*state, why, sizeof why) < 0) {
        print_error("inproc_close: %s\n", why);
        return -1;
    }
    return 0;
}

/* Asserts that client i received exactly these lines, in this order, since its lines were
 * last cleared; then clears them. */
#define expect_lines(ip, i, ...)                                                                   \
    expect_lines_at((ip), (i), (const char *const[]){__VA_ARGS__, NULL}, __FILE__, __LINE__)
/* Asserts that client i received nothing since its lines were last cleared. */
#define expect_nothing(ip, i)                                                                      \
    expect_lines_at((ip), (i), (const char *const[]){NULL}, __FILE__, __LINE__)

static inline int expect_token_char(char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || ch == '-';
}

/* 1 if got is want, with each "{}" of want matching a run of expect_token_char. */
static inline int expect_match(const char *want, const char *got)
{
    while (*want) {
        if (want[0] == '{' && want[1] == '}') {
            if (!expect_token_char(*got))
                return 0;
            while (expect_token_char(*got))
                got++;
            want += 2;
        } else if (*want++ != *got++) {
            return 0;
        }
    }
    return *got == '\0';
}

static inline void expect_lines_at(struct inproc *ip, int i, const char *const *want,
                                   const char *file, int line)
{
    int n = 0;
    while (want[n])
        n++;
    int got = inproc_nlines(ip, i);
    int ok = got == n;
    for (int k = 0; ok && k < n; k++)
        ok = expect_match(want[k], inproc_line(ip, i, k));
    if (!ok) {
        print_error("client %d received %d lines, %d wanted:\n", i, got, n);
        for (int k = 0; k < got || k < n; k++) {
            if (k < got)
                print_error("  got  %s\n", inproc_line(ip, i, k));
            if (k < n)
                print_error("  want %s\n", want[k]);
        }
        _fail(file, line);
    }
    inproc_clear(ip, i);
}

#endif
