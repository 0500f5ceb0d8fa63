/* tcpchat: the terminal IRC client. `tcpchat HOST PORT NICK` connects, registers and chats.
 * This file owns the process: arguments, the connection, signals, and one poll() loop over
 * the socket and stdin that feeds the session and writes out what it queues. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/ircmsg.h"
#include "common/ircname.h"
#include "common/linebuf.h"
#include "common/net.h"
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

enum { PFD_SOCKET, PFD_STDIN, PFD_COUNT };

/* Why the loop itself failed, printed after the terminal is restored. */
static char poll_error[NET_ERR_MAX];

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
static int flush_output(int fd, struct session *s)
{
    size_t len;
    const char *data = session_output(s, &len);
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            session_closed(s, strerror(errno));
            return -1;
        }
        session_output_done(s, (size_t)n);
        data = session_output(s, &len);
    }
    return 0;
}

/* Reads what the server sent and hands each complete line to the session. */
static void read_server(int fd, struct linebuf *in, struct session *s)
{
    size_t avail;
    char *space = linebuf_space(in, &avail);
    /* No space means lines are waiting to be taken: take them, read on the next turn. */
    ssize_t n = space ? recv(fd, space, avail, 0) : -1;
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
        session_closed(s, strerror(err));
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

/* Runs until the session is over. Returns the exit status. */
static int run(int fd, struct session *s, const sigset_t *wait_mask)
{
    struct linebuf in;
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
        flush_output(fd, s);
        if (quit_signal) {
            quit_signal = 0;
            if (signalled)
                break; /* a second signal: leave without waiting for the server */
            signalled = 1;
            session_quit(s, NULL);
            flush_output(fd, s);
        }
        if (resized) {
            resized = 0;
            ui_resize();
        }
        enum session_state st = session_state(s);
        if (st == SESSION_DONE || st == SESSION_FAILED)
            break;
        struct timespec timeout, *tp = NULL;
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
        size_t pending;
        session_output(s, &pending);
        struct pollfd pfd[PFD_COUNT] = {
            [PFD_SOCKET] = {.fd = fd, .events = POLLIN | (pending ? POLLOUT : 0)},
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
        if (pfd[PFD_SOCKET].revents & (POLLIN | POLLHUP | POLLERR))
            read_server(fd, &in, s);
        if (pfd[PFD_SOCKET].revents & POLLOUT)
            flush_output(fd, s);
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

int main(int argc, char **argv)
{
    char err[NET_ERR_MAX];
    if (argc != 4) {
        fprintf(stderr, "usage: tcpchat HOST PORT NICK\n");
        return EXIT_USAGE;
    }
    const char *host = argv[1], *port = argv[2], *nick = argv[3];
    if (!ircname_nick_valid(nick)) {
        fprintf(stderr, "tcpchat: invalid nickname '%s'\n", nick);
        return EXIT_USAGE;
    }
    /* Until the UI is up, the default actions are right: Ctrl-C ends a slow connect. */
    int fd = net_connect(host, port, err, sizeof err);
    if (fd < 0) {
        fprintf(stderr, "tcpchat: %s\n", err);
        return EXIT_FAILURE;
    }
    sigset_t wait_mask;
    struct session *s = session_new(nick);
    if (!s)
        snprintf(err, sizeof err, "out of memory");
    else if (net_set_nonblock(fd) < 0 || install_signals(&wait_mask) < 0)
        snprintf(err, sizeof err, "%s", strerror(errno));
    else if (ui_init("> ", err, sizeof err) == 0)
        err[0] = '\0';
    if (err[0]) {
        fprintf(stderr, "tcpchat: cannot start: %s\n", err);
        session_free(s);
        close(fd);
        return EXIT_FAILURE;
    }
    ui_printf("Connected to %s port %s; registering as %s.", host, port, nick);
    int status = EXIT_FAILURE;
    if (session_start(s) == 0)
        status = run(fd, s, &wait_mask);
    ui_shutdown();
    if (session_state(s) == SESSION_FAILED)
        fprintf(stderr, "tcpchat: %s\n", session_error(s));
    else if (poll_error[0])
        fprintf(stderr, "tcpchat: %s\n", poll_error);
    session_free(s);
    close(fd);
    return status;
}
