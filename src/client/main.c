/* tcpchat: the terminal IRC client. `tcpchat [--tls ...] [--password] HOST PORT NICK`
 * connects, registers (logging in with SASL when given a password) and chats. This file owns the
 * process: arguments, the connection, signals, and one poll() loop over the socket and stdin that
 * feeds the session and writes out what it queues. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/ircmsg.h"
#include "common/ircname.h"
#include "common/linebuf.h"
#include "link.h"
#include "password.h"
#include "session.h"
#include "ui.h"

#define EXIT_USAGE 2
/* After QUIT, how long to wait for the server to close before leaving anyway. */
#define QUIT_WAIT_MS 5000
/* Before QUIT, how long to wait for the echoes of our last messages (echo-message). */
#define ECHO_WAIT_MS 3000
#define MS_PER_SEC   1000
#define NS_PER_MS    1000000L
/* Server input buffered at most: a few of the longest (tagged) lines. */
#define SERVER_LINE_MAX IRC_RAW_LINE_MAX
#define SERVER_BUF_MAX  (4 * IRC_RAW_LINE_MAX)
/* Reconnecting: the first wait, doubled after each failed try up to the last. */
#define RECONNECT_FIRST_MS 1000
#define RECONNECT_MAX_MS   60000
/* /server: connections to the new server that may fail (not reach it, or end before
 * registering) before going back to the one before. */
#define SERVER_TRIES_MAX 3
/* --keepalive: seconds of silence before a PING, and as long again for its answer. */
#define KEEPALIVE_DEFAULT_S 60
#define KEEPALIVE_MAX_S     3600

enum { PFD_SOCKET, PFD_STDIN, PFD_COUNT };

/* Why the loop itself failed, printed after the terminal is restored. */
static char poll_error[LINK_ERR_MAX];

/* Set by signal handlers, read by the loop. */
static volatile sig_atomic_t quit_signal;
static volatile sig_atomic_t resized;

static void on_quit_signal(int sig)
{
    quit_signal = sig;
}

static void on_winch(int sig)
{
    (void)sig;
    resized = 1;
}

/* Installs the handlers and blocks those signals; the loop unblocks them only inside ppoll()
 * (with *wait_mask), so a signal is never lost between checking the flags and sleeping. */
static int install_signals(sigset_t *wait_mask)
{
    struct sigaction sa;
    sigset_t block;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_quit_signal;
    if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0 ||
        sigaction(SIGHUP, &sa, NULL) < 0)
        return -1;
    sa.sa_handler = on_winch;
    if (sigaction(SIGWINCH, &sa, NULL) < 0)
        return -1;
    sa.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &sa, NULL) < 0)
        return -1;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    sigaddset(&block, SIGWINCH);
    return sigprocmask(SIG_BLOCK, &block, wait_mask);
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * MS_PER_SEC + ts.tv_nsec / NS_PER_MS;
}

/* Writes as much queued output as the socket takes. Returns 0, or -1 when it is broken. */
static int flush_output(struct link *l, struct session *s)
{
    size_t len;
    const char *data = session_output(s, &len);
    while (len > 0) {
        ssize_t n = link_write(l, data, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            session_closed(s, link_error(l));
            return -1;
        }
        session_output_done(s, (size_t)n);
        data = session_output(s, &len);
    }
    return 0;
}

/* Reads what the server sent and hands each complete line to the session. Returns what
 * link_read returned. */
static ssize_t read_server(struct link *l, struct linebuf *in, struct session *s)
{
    size_t avail;
    char *space = linebuf_space(in, &avail);
    /* No space means lines are waiting to be taken: take them, read on the next turn. */
    ssize_t n = space ? link_read(l, space, avail) : -1;
    int err = space ? errno : EAGAIN;
    if (n > 0)
        linebuf_commit(in, (size_t)n);
    char *line;
    size_t len;
    int rc;
    while ((rc = linebuf_next(in, &line, &len)) != LINEBUF_NONE)
        if (rc == LINEBUF_LINE)
            session_handle_line(s, line);
    if (n == 0)
        session_closed(s, NULL);
    else if (n < 0 && err != EINTR && err != EAGAIN && err != EWOULDBLOCK)
        session_closed(s, link_error(l));
    return n;
}

/* Gives the session every typed line it is ready for. */
static void feed_input(struct session *s)
{
    while (session_wants_input(s) && ui_pending()) {
        char *line = NULL;
        int rc = ui_next(&line);
        if (rc < 0)
            break;
        session_handle_input(s, rc == 1 ? line : NULL);
        free(line);
    }
}

/* --keepalive: a server that says nothing for keepalive_ms is sent a PING; one that then says
 * nothing for as long again is gone (a vanished peer never closes the connection). */
static long keepalive_ms = KEEPALIVE_DEFAULT_S * MS_PER_SEC;

/* A keepalive PING unanswered for this long shows the lag on the status line, counting. */
#define LAG_SHOW_MS 3000

/* Milliseconds until the keepalive has something to do (0: now), or -1 for never. Sends the
 * PING, or ends the connection, when it is time; while its answer is late, the status line
 * says how long the server has been silent (*lag_shown: it does). */
static long keepalive(struct session *s, long last_rx, long *ping_at, int *lag_shown)
{
    if (keepalive_ms <= 0 || session_state(s) != SESSION_RUNNING)
        return -1;
    long now = now_ms();
    if (*ping_at && now - *ping_at >= keepalive_ms) {
        char why[LINK_ERR_MAX];
        snprintf(why, sizeof why, "no answer from the server for %ld s",
                 (now - last_rx) / MS_PER_SEC);
        session_closed(s, why);
        return 0;
    }
    if (!*ping_at && now - last_rx >= keepalive_ms) {
        session_keepalive(s);
        *ping_at = now;
    }
    if (!*ping_at)
        return last_rx + keepalive_ms - now;
    long late = now - *ping_at, left = *ping_at + keepalive_ms - now;
    if (late < LAG_SHOW_MS)
        return left < LAG_SHOW_MS - late ? left : LAG_SHOW_MS - late;
    char note[64];
    snprintf(note, sizeof note, "lag: no answer for %ld s", (now - last_rx) / MS_PER_SEC);
    ui_set_note(note);
    *lag_shown = 1;
    long tick = MS_PER_SEC - (now - last_rx) % MS_PER_SEC; /* the count's next second */
    return left < tick ? left : tick;
}

/* Runs until the session is over or wants another connection. Returns the exit status. */
static int run(struct link *l, struct session *s, const sigset_t *wait_mask)
{
    struct linebuf in;
    long last_rx = now_ms(), ping_at = 0;
    int lag_shown = 0;
    long quit_deadline = 0;
    int deadline_held = 0; /* quit_deadline is the wait for echoes, not for the close */
    int signalled = 0;
    int status = EXIT_SUCCESS;
    if (linebuf_init(&in, SERVER_LINE_MAX, SERVER_BUF_MAX) < 0) {
        fprintf(stderr, "tcpchat: out of memory\n");
        return EXIT_FAILURE;
    }
    for (;;) {
        feed_input(s);
        flush_output(l, s);
        if (quit_signal) {
            quit_signal = 0;
            if (signalled)
                break; /* a second signal: leave without waiting for the server */
            signalled = 1;
            session_quit(s, NULL);
            flush_output(l, s);
        }
        if (resized) {
            resized = 0;
            ui_resize();
        }
        long keep = keepalive(s, last_rx, &ping_at, &lag_shown);
        flush_output(l, s);
        enum session_state st = session_state(s);
        if (st == SESSION_DONE || st == SESSION_FAILED || st == SESSION_RECONNECT)
            break;
        ui_flush();
        struct timespec timeout, *tp = NULL;
        if (keep >= 0) {
            timeout.tv_sec = keep / MS_PER_SEC;
            timeout.tv_nsec = (keep % MS_PER_SEC) * NS_PER_MS;
            tp = &timeout;
        }
        if (st == SESSION_QUITTING) {
            int held = session_quit_held(s);
            if (!quit_deadline || held != deadline_held) {
                quit_deadline = now_ms() + (held ? ECHO_WAIT_MS : QUIT_WAIT_MS);
                deadline_held = held;
            }
            long left = quit_deadline - now_ms();
            if (left <= 0 && held) {
                session_release_quit(s); /* the next turn sends it and waits for the close */
                continue;
            }
            if (left <= 0)
                break;
            timeout.tv_sec = left / MS_PER_SEC;
            timeout.tv_nsec = (left % MS_PER_SEC) * NS_PER_MS;
            tp = &timeout;
        }
        /* Bytes TLS has decrypted already are invisible to poll: do not sleep on them. */
        int tls_pending = link_pending(l);
        if (tls_pending) {
            timeout.tv_sec = timeout.tv_nsec = 0;
            tp = &timeout;
        }
        int read_wants_out = link_read_wants_write(l);
        size_t pending;
        session_output(s, &pending);
        struct pollfd pfd[PFD_COUNT] = {
            [PFD_SOCKET] = {.fd = link_fd(l),
                            .events = POLLIN | (pending || read_wants_out ? POLLOUT : 0)},
            [PFD_STDIN] = {.fd = -1, .events = POLLIN},
        };
        if (session_wants_input(s) && !ui_input_closed() && !ui_pending())
            pfd[PFD_STDIN].fd = STDIN_FILENO;
        if (ppoll(pfd, PFD_COUNT, tp, wait_mask) < 0) {
            if (errno == EINTR)
                continue;
            snprintf(poll_error, sizeof poll_error, "poll: %s", strerror(errno));
            status = EXIT_FAILURE;
            break;
        }
        short sock_ev = pfd[PFD_SOCKET].revents;
        if ((sock_ev & (POLLIN | POLLHUP | POLLERR)) || tls_pending ||
            (read_wants_out && (sock_ev & POLLOUT))) {
            if (read_server(l, &in, s) > 0) {
                last_rx = now_ms();
                ping_at = 0;
                if (lag_shown && session_state(s) == SESSION_RUNNING)
                    ui_set_note(NULL); /* the server speaks again */
                lag_shown = 0;
            }
        }
        if (sock_ev & POLLOUT)
            flush_output(l, s);
        short in_ev = pfd[PFD_STDIN].revents;
        if (ui_is_tty() && (in_ev & (POLLHUP | POLLERR | POLLNVAL)) && !(in_ev & POLLIN)) {
            /* A vanished terminal polls ready forever: treat it as end of input, or the loop
             * would spin (seen with clients orphaned by a killed tmux). */
            ui_hangup();
            session_handle_input(s, NULL);
        } else if (in_ev & (POLLIN | POLLHUP | POLLERR)) {
            if (ui_read() < 0)
                session_handle_input(s, NULL);
        }
    }
    linebuf_free(&in);
    return session_state(s) == SESSION_FAILED ? EXIT_FAILURE : status;
}

/* Waits (RECONNECT_FIRST_MS, doubling up to RECONNECT_MAX_MS) and connects again, until that
 * works (the new link) or the user quits meanwhile (NULL). Typed lines wait for the session.
 * With tries_left, each failed connection counts it down, and at 0 it is NULL too. */
static struct link *reconnect(const char *host, const char *port, const struct link_tls *tls,
                              long *wait_ms, const sigset_t *wait_mask, int *tries_left)
{
    long wait = *wait_ms;
    for (;;) {
        *wait_ms = wait * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS
                   : wait                      ? wait * 2
                                               : RECONNECT_FIRST_MS;
        if (wait)
            ui_printf("--- Reconnecting to %s port %s in %ld s (Ctrl-C quits)", host, port,
                      wait / MS_PER_SEC);
        else
            ui_printf("--- Connecting to %s port %s", host, port);
        long deadline = now_ms() + wait;
        for (;;) {
            if (quit_signal) {
                quit_signal = 0;
                return NULL;
            }
            if (resized) {
                resized = 0;
                ui_resize();
            }
            long left = deadline - now_ms();
            if (left <= 0)
                break;
            /* The status line counts the seconds down: wake at each one. */
            char note[LINK_ERR_MAX];
            snprintf(note, sizeof note, "disconnected; reconnecting in %ld s",
                     (left + MS_PER_SEC - 1) / MS_PER_SEC);
            ui_set_note(note);
            ui_flush();
            long nap = left % MS_PER_SEC ? left % MS_PER_SEC : MS_PER_SEC;
            struct timespec ts = {nap / MS_PER_SEC, (nap % MS_PER_SEC) * NS_PER_MS};
            struct pollfd pfd = {.fd = ui_input_closed() ? -1 : STDIN_FILENO, .events = POLLIN};
            if (ppoll(&pfd, 1, &ts, wait_mask) <= 0)
                continue; /* the time is up, or a signal: the checks above */
            if ((pfd.revents & (POLLHUP | POLLERR | POLLNVAL)) && !(pfd.revents & POLLIN))
                return NULL; /* the terminal is gone */
            if (ui_read() < 0 || ui_input_closed())
                return NULL; /* end of input: the user is done */
        }
        char err[LINK_ERR_MAX];
        ui_set_note("disconnected; connecting");
        ui_flush();
        struct link *l = link_open(host, port, tls, err, sizeof err);
        if (l) {
            ui_printf("--- Connected to %s port %s%s; registering.", host, port,
                      wait ? " again" : "");
            return l;
        }
        ui_printf("--- Cannot reconnect: %s", err);
        ui_set_note("disconnected");
        if (tries_left && --*tries_left <= 0)
            return NULL;
        wait = *wait_ms;
    }
}

/* The server of a /server failed SERVER_TRIES_MAX times: back to the one before (cur_* and
 * back_*: LINK_ERR_MAX bytes each). */
static void server_back(struct session *s, char *cur_host, char *cur_port, const char *back_host,
                        const char *back_port)
{
    ui_printf("--- Giving up on %s port %s after %d tries; back to %s port %s", cur_host, cur_port,
              SERVER_TRIES_MAX, back_host, back_port);
    memcpy(cur_host, back_host, LINK_ERR_MAX);
    memcpy(cur_port, back_port, LINK_ERR_MAX);
    session_server_back(s);
}

static const char usage_short[] =
    "usage: tcpchat HOST PORT NICK\n"
    "       tcpchat [--plain] --tls [--tls-ca FILE | --tls-insecure] HOST "
    "PORT NICK\n"
    "       tcpchat [--sasl | --sasl-file FILE] "
    "[--server-password | --server-password-file FILE] HOST PORT "
    "NICK\n"
    "       tcpchat --help\n";

static const char usage_text[] =
    "usage: tcpchat [options] HOST PORT NICK\n"
    "Connects to the IRC server at HOST PORT as NICK; type /help once in for the commands.\n"
    "  --tls            connect with TLS (tcpchatd's TLS port is 6697); the server's\n"
    "                   certificate must chain to the system trust store and name HOST\n"
    "  --tls-ca FILE    trust the CA certificates in FILE (PEM) instead of the system's,\n"
    "                   e.g. a server's self-signed certificate; implies --tls\n"
    "  --tls-insecure   encrypt but do not verify the certificate at all (anyone on the\n"
    "                   way can pose as the server); implies --tls\n"
    "  --sasl           log in to the account NICK (SASL PLAIN): asks for the password\n"
    "                   (without echo; from a pipe, reads the first line of stdin)\n"
    "  --sasl-file FILE the same with the first line of FILE as the password\n"
    "                   (--password and --password-file are the old names of these two)\n"
    "  --server-password  the server's own password (IRC PASS, a server started with\n"
    "                   tcpchatd --password): asks for it as --sasl does\n"
    "  --server-password-file FILE  the same from the first line of FILE\n"
    "  --reconnect      when the connection is lost, connect again (waiting 1 s, then 2,\n"
    "                   4 ... up to 60 s), log in, rejoin the channels and show what was\n"
    "                   said meanwhile; the default on a terminal\n"
    "  --no-reconnect   end instead (the default when stdin is not a terminal)\n"
    "  --plain          line mode: the messages scroll above a readline input line, one\n"
    "                   channel at a time (the default when stdin or stdout is not a\n"
    "                   terminal); without it a terminal gets the full-screen mode\n"
    "  --keepalive SECONDS  after this long without a word from the server, send it a\n"
    "                   PING; no answer for as long again ends the connection (default\n"
    "                   60, 0 for never)\n"
    "  -h, --help       show this help\n"
    "Exit status: 0 after /quit, 1 when the connection fails or is lost (without\n"
    "reconnecting), 2 on bad usage.\n";

enum {
    OPT_TLS = 256,
    OPT_TLS_CA,
    OPT_TLS_INSECURE,
    OPT_PASSWORD,
    OPT_PASSWORD_FILE,
    OPT_SERVER_PASSWORD,
    OPT_SERVER_PASSWORD_FILE,
    OPT_RECONNECT,
    OPT_NO_RECONNECT,
    OPT_KEEPALIVE,
    OPT_PLAIN
};

/* What the options ask for besides TLS. */
struct login {
    int prompt;       /* --sasl (--password) */
    const char *file; /* --sasl-file (--password-file) */
    char password[SESSION_PASSWORD_MAX];
    int server_prompt;       /* --server-password */
    const char *server_file; /* --server-password-file */
    char server_password[SESSION_PASSWORD_MAX];
    int reconnect; /* -1: the default (on a terminal) */
    int plain;     /* --plain: line mode on a terminal too */
};

static const struct option long_opts[] = {
    {"tls", no_argument, NULL, OPT_TLS},
    {"tls-ca", required_argument, NULL, OPT_TLS_CA},
    {"tls-insecure", no_argument, NULL, OPT_TLS_INSECURE},
    {"sasl", no_argument, NULL, OPT_PASSWORD},
    {"sasl-file", required_argument, NULL, OPT_PASSWORD_FILE},
    {"password", no_argument, NULL, OPT_PASSWORD},
    {"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
    {"server-password", no_argument, NULL, OPT_SERVER_PASSWORD},
    {"server-password-file", required_argument, NULL, OPT_SERVER_PASSWORD_FILE},
    {"reconnect", no_argument, NULL, OPT_RECONNECT},
    {"no-reconnect", no_argument, NULL, OPT_NO_RECONNECT},
    {"keepalive", required_argument, NULL, OPT_KEEPALIVE},
    {"plain", no_argument, NULL, OPT_PLAIN},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Fills tls and login from the options; *first is the index of HOST. Returns -1 to exit with
 * *status (help printed, or bad usage reported), else 0. */
static int parse_args(int argc, char **argv, struct link_tls *tls, struct login *login, int *first,
                      int *status)
{
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        switch (c) {
        case OPT_TLS:
            tls->enabled = 1;
            break;
        case OPT_TLS_CA:
            tls->enabled = 1;
            tls->ca_file = optarg;
            break;
        case OPT_TLS_INSECURE:
            tls->enabled = 1;
            tls->insecure = 1;
            break;
        case OPT_PASSWORD:
            login->prompt = 1;
            break;
        case OPT_PASSWORD_FILE:
            login->file = optarg;
            break;
        case OPT_SERVER_PASSWORD:
            login->server_prompt = 1;
            break;
        case OPT_SERVER_PASSWORD_FILE:
            login->server_file = optarg;
            break;
        case OPT_RECONNECT:
            login->reconnect = 1;
            break;
        case OPT_NO_RECONNECT:
            login->reconnect = 0;
            break;
        case OPT_PLAIN:
            login->plain = 1;
            break;
        case OPT_KEEPALIVE: {
            char *end = NULL;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (optarg[0] < '0' || optarg[0] > '9' || *end || errno || v > KEEPALIVE_MAX_S) {
                fprintf(stderr, "tcpchat: --keepalive takes seconds, 0 to %d\n", KEEPALIVE_MAX_S);
                *status = EXIT_USAGE;
                return -1;
            }
            keepalive_ms = v * MS_PER_SEC;
            break;
        }
        case 'h':
            fputs(usage_text, stdout);
            *status = EXIT_SUCCESS;
            return -1;
        default:
            fprintf(stderr, "tcpchat: unknown or incomplete option '%s'\n", argv[optind - 1]);
            fputs(usage_short, stderr);
            *status = EXIT_USAGE;
            return -1;
        }
    }
    if (tls->ca_file && tls->insecure) {
        fprintf(stderr, "tcpchat: --tls-ca and --tls-insecure contradict each other\n");
        *status = EXIT_USAGE;
        return -1;
    }
    if (login->prompt && login->file) {
        fprintf(stderr, "tcpchat: --sasl and --sasl-file contradict each other\n");
        *status = EXIT_USAGE;
        return -1;
    }
    if (login->server_prompt && login->server_file) {
        fprintf(stderr,
                "tcpchat: --server-password and --server-password-file contradict each other\n");
        *status = EXIT_USAGE;
        return -1;
    }
    if (login->server_prompt && login->prompt && !isatty(STDIN_FILENO)) {
        fprintf(stderr, "tcpchat: --server-password and --sasl cannot both read a pipe; give "
                        "one of them a file\n");
        *status = EXIT_USAGE;
        return -1;
    }
    if (argc - optind != 3) {
        fputs(usage_short, stderr);
        *status = EXIT_USAGE;
        return -1;
    }
    *first = optind;
    return 0;
}

/* A password from file, or asked for with prompt when ask, into out; nothing when neither.
 * 0, or -1 after saying why. */
static int get_password(int ask, const char *file, const char *prompt, char *out, size_t cap)
{
    char err[LINK_ERR_MAX];
    if (!ask && !file)
        return 0;
    if ((file ? password_from_file(file, out, cap, err, sizeof err)
              : password_prompt(prompt, out, cap, err, sizeof err)) < 0) {
        fprintf(stderr, "tcpchat: %s\n", err);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    char err[LINK_ERR_MAX];
    struct link_tls tls = {0};
    static struct login login; /* holds the password until the session has its copy */
    int first = 0, status = EXIT_FAILURE;
    login.reconnect = -1;
    if (parse_args(argc, argv, &tls, &login, &first, &status) < 0)
        return status;
    const char *host = argv[first], *port = argv[first + 1], *nick = argv[first + 2];
    /* A port is a number from 1 to 65535: anything else would be taken modulo 65536 or
     * looked up as a service name, and the user told the wrong port or a resolver error. */
    char *end = NULL;
    errno = 0;
    long pnum = strtol(port, &end, 10);
    if (port[0] < '0' || port[0] > '9' || *end || errno || pnum < 1 || pnum > 65535) {
        fprintf(stderr, "tcpchat: invalid port '%s' (a number from 1 to 65535)\n", port);
        return EXIT_USAGE;
    }
    if (!ircname_nick_valid(nick)) {
        fprintf(stderr,
                "tcpchat: invalid nickname '%s' (1 to %d letters, digits and any of "
                "[]\\`_^{|}-, not starting with a digit or '-')\n",
                nick, IRC_NICK_MAX);
        return EXIT_USAGE;
    }
    /* The passwords first: nothing is sent before we know we can log in. */
    char prompt[LINK_ERR_MAX];
    snprintf(prompt, sizeof prompt, "Server password for %s: ", host);
    if (get_password(login.server_prompt, login.server_file, prompt, login.server_password,
                     sizeof login.server_password) < 0)
        return EXIT_FAILURE;
    snprintf(prompt, sizeof prompt, "Password for %s on %s: ", nick, host);
    if (get_password(login.prompt, login.file, prompt, login.password, sizeof login.password) < 0)
        return EXIT_FAILURE;
    /* A write to a connection the server closed must be an error, not a signal, in the TLS
     * handshake too. Until the UI is up, the other default actions are right: Ctrl-C ends a
     * slow connect. */
    signal(SIGPIPE, SIG_IGN);
    struct link *l = link_open(host, port, &tls, err, sizeof err);
    if (!l) {
        explicit_bzero(login.password, sizeof login.password);
        explicit_bzero(login.server_password, sizeof login.server_password);
        fprintf(stderr, "tcpchat: %s\n", err);
        return EXIT_FAILURE;
    }
    if (tls.insecure)
        fprintf(stderr, "tcpchat: WARNING: --tls-insecure: the server's certificate is NOT "
                        "verified; this connection may be intercepted\n");
    sigset_t wait_mask;
    struct session *s = session_new(nick);
    int bad_password =
        s &&
        ((login.password[0] && session_set_password(s, login.password) < 0) ||
         (login.server_password[0] && session_set_server_password(s, login.server_password) < 0));
    explicit_bzero(login.password, sizeof login.password); /* the session has its own copy */
    explicit_bzero(login.server_password, sizeof login.server_password);
    if (!s)
        snprintf(err, sizeof err, "out of memory");
    else if (bad_password)
        snprintf(err, sizeof err, "the password is too long");
    else if (install_signals(&wait_mask) < 0)
        snprintf(err, sizeof err, "%s", strerror(errno));
    else if (ui_init("> ", !login.plain, err, sizeof err) == 0) {
        err[0] = '\0';
        session_enable_completion(s);
    }
    if (err[0]) {
        fprintf(stderr, "tcpchat: cannot start: %s\n", err);
        session_free(s);
        link_close(l);
        return EXIT_FAILURE;
    }
    char secured[LINK_ERR_MAX];
    link_describe(l, secured, sizeof secured);
    if (!secured[0])
        ui_printf("Connected to %s port %s; registering as %s.", host, port, nick);
    else
        ui_printf("Connected to %s port %s over TLS (%s, certificate %s); registering as %s.", host,
                  port, secured, tls.insecure ? "NOT verified" : "verified", nick);
    session_set_reconnect(s, login.reconnect < 0 ? isatty(STDIN_FILENO) : login.reconnect);
    if (session_start(s) == 0) {
        long wait = RECONNECT_FIRST_MS; /* grows while connections end before registering */
        /* Where we connect (after /server, not argv's), and the server before a /server, to
         * go back to after SERVER_TRIES_MAX failed connections (tries_left) to the new one. */
        static char cur_host[LINK_ERR_MAX], cur_port[LINK_ERR_MAX];
        static char back_host[LINK_ERR_MAX], back_port[LINK_ERR_MAX];
        int tries_left = 0;
        snprintf(cur_host, sizeof cur_host, "%s", host);
        snprintf(cur_port, sizeof cur_port, "%s", port);
        for (;;) {
            status = run(l, s, &wait_mask);
            if (session_state(s) != SESSION_RECONNECT)
                break;
            link_close(l);
            l = NULL;
            const char *to_host, *to_port;
            if (session_registered(s)) {
                wait = RECONNECT_FIRST_MS;
                tries_left = 0; /* the new server took us */
            } else if (tries_left > 0 && --tries_left == 0) {
                server_back(s, cur_host, cur_port, back_host, back_port);
                wait = 0;
            }
            if (session_take_server(s, &to_host, &to_port)) {
                memcpy(back_host, cur_host, sizeof back_host);
                memcpy(back_port, cur_port, sizeof back_port);
                snprintf(cur_host, sizeof cur_host, "%s", to_host);
                snprintf(cur_port, sizeof cur_port, "%s", to_port);
                tries_left = SERVER_TRIES_MAX;
                wait = 0; /* /server: at once */
            }
            int limited = tries_left > 0;
            l = reconnect(cur_host, cur_port, &tls, &wait, &wait_mask,
                          limited ? &tries_left : NULL);
            if (!l && limited && tries_left == 0) {
                server_back(s, cur_host, cur_port, back_host, back_port);
                wait = 0;
                l = reconnect(cur_host, cur_port, &tls, &wait, &wait_mask, NULL);
            }
            if (!l) {
                status = EXIT_SUCCESS; /* the user quit while we waited */
                break;
            }
            if (session_restart(s) < 0) {
                snprintf(poll_error, sizeof poll_error, "out of memory");
                status = EXIT_FAILURE;
                break;
            }
        }
    }
    ui_shutdown();
    if (session_state(s) == SESSION_FAILED)
        fprintf(stderr, "tcpchat: %s\n", session_error(s));
    else if (poll_error[0])
        fprintf(stderr, "tcpchat: %s\n", poll_error);
    session_free(s);
    link_close(l);
    return status;
}
