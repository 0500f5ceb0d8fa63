/* password: termios for the no-echo prompt (readline is not started yet, and must not put
 * the password in its history). Every buffer that held the password is wiped. */
#include "password.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* The terminal's modes while the prompt has echo off, for the signal handler to put back. */
static struct termios saved_modes;

/* Signals that end the process by default while the user types the password. */
static const int fatal_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
#define FATAL_SIGNALS (sizeof fatal_signals / sizeof fatal_signals[0])

static void restore_and_die(int sig)
{
    /* tcsetattr and raise are async-signal-safe (POSIX 2.4.3). */
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_modes);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Strips a trailing CR and/or LF. */
static void chomp(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
}

int password_from_file(const char *path, char *out, size_t cap, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read the password file %s: %s", path, strerror(errno));
        return -1;
    }
    /* Unbuffered: no copy of the password is left in a stdio buffer. */
    setvbuf(f, NULL, _IONBF, 0);
    int ok = fgets(out, (int)cap, f) != NULL;
    int whole = 1;
    if (ok && !strchr(out, '\n')) {
        /* The buffer filled up: fine if the line (or the file) ends right there. */
        int next = fgetc(f);
        whole = next == EOF || next == '\n' || next == '\r';
    }
    fclose(f);
    if (ok && !whole) {
        explicit_bzero(out, cap);
        snprintf(err, errlen, "the password in %s is too long (at most %zu bytes)", path, cap - 1);
        return -1;
    }
    if (ok)
        chomp(out);
    if (!ok || !out[0]) {
        snprintf(err, errlen, "the password file %s is empty", path);
        return -1;
    }
    return 0;
}

/* Reads one line from stdin with read(2), byte by byte: stdio would buffer past it. Returns
 * the length, or -1 at end of input or on an error with nothing read. Too long: cap. */
static ssize_t read_line(char *out, size_t cap)
{
    size_t n = 0;
    int too_long = 0;
    for (;;) {
        char c;
        ssize_t r = read(STDIN_FILENO, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (n == 0)
                return -1;
            break;
        }
        if (c == '\n')
            break;
        if (n + 1 < cap)
            out[n++] = c;
        else
            too_long = 1;
    }
    out[n] = '\0';
    chomp(out);
    return too_long ? (ssize_t)cap : (ssize_t)strlen(out);
}

int password_prompt(const char *prompt, char *out, size_t cap, char *err, size_t errlen)
{
    struct sigaction old[FATAL_SIGNALS];
    int tty = isatty(STDIN_FILENO);
    if (tty) {
        struct termios quiet;
        if (tcgetattr(STDIN_FILENO, &saved_modes) < 0) {
            snprintf(err, errlen, "cannot read the terminal's modes: %s", strerror(errno));
            return -1;
        }
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sigemptyset(&sa.sa_mask);
        sa.sa_handler = restore_and_die;
        for (size_t i = 0; i < FATAL_SIGNALS; i++)
            sigaction(fatal_signals[i], &sa, &old[i]);
        quiet = saved_modes;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        quiet.c_lflag |= ECHONL; /* the Enter still moves to the next line */
        fputs(prompt, stderr);
        fflush(stderr);
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    ssize_t n = read_line(out, cap);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_modes);
        for (size_t i = 0; i < FATAL_SIGNALS; i++)
            sigaction(fatal_signals[i], &old[i], NULL);
    }
    if (n >= (ssize_t)cap) {
        explicit_bzero(out, cap);
        snprintf(err, errlen, "the password is too long (at most %zu bytes)", cap - 1);
        return -1;
    }
    if (n <= 0) {
        snprintf(err, errlen, "no password given");
        return -1;
    }
    return 0;
}
