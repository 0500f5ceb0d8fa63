/* main: tcpchatd's entry point. Parses the options, opens the listening sockets, starts the
 * workers, then runs the acceptor: new connections go to the least loaded worker; lines typed
 * on stdin become announcements to everyone; SIGHUP and the REHASH command reload the config
 * file (rehash.c); SIGINT/SIGTERM start an orderly shutdown. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "state/chan.h"
#include "irc/cmd.h"
#include "common/ircmsg.h"
#include "common/linebuf.h"
#include <systemd/sd-daemon.h>
#include "common/log.h"
#include "common/net.h"
#include "common/utf8.h"
#include "cluster/cluster.h"
#include "core/conffile.h"
#include "core/config.h"
#include "core/defines.h"
#include "core/fanout.h"
#include "core/loop.h"
#include "store/account.h"
#include "store/history.h"
#include "core/iplimit.h"
#include "core/privs.h"
#include "state/monitor.h"
#include "store/ban.h"
#include "store/chanreg.h"
#include "store/readmark.h"
#include "state/metadata.h"
#include "state/nick.h"
#include "core/rehash.h"
#include "core/server.h"
#include "core/tls.h"
#include "core/webfiles.h"
#include "core/worker.h"

/* A listening socket in the acceptor's loop. */
struct listener {
    struct loop_io io;
    struct acceptor *a;
    int fd;
    int how; /* CONN_TLS, CONN_WEB (core/fanout.h): which port's */
};

struct acceptor {
    struct server *srv;
    struct loop *loop;
    /* The IRC port's, the TLS port's, the HTTP port's, the HTTPS port's. */
    struct listener listeners[4 * NET_LISTEN_MAX];
    int nlisten;
    int spare_fd;           /* kept open to shed connections when out of descriptors */
    struct linebuf console; /* stdin, split into announcement lines */
    struct loop_io signal_io, stdin_io, rehash_io;
    int sigfd;
    int stop; /* a stop signal came */
};

static int least_loaded(struct server *srv)
{
    int best = 0;
    for (int i = 1; i < srv->nworkers; i++) {
        if (atomic_load(&srv->workers[i].nconns) < atomic_load(&srv->workers[best].nconns))
            best = i;
    }
    return best;
}

/* Refused connections are logged, at most 5 lines a second (a flood of them made 10,000
 * lines in 0.3 s); the next line logged says how many were left out. */
static struct log_budget refusals_logged = LOG_BUDGET_INIT;

/* Refuses a connection with a reason it can read, without blocking on it. */
static void refuse(int fd, int how, const char *host, const char *reason)
{
    if (how & CONN_TLS) { /* never plaintext on a TLS port: just close */
        close(fd);
        return;
    }
    char line[IRC_LINE_MAX];
    int n = how & CONN_WEB
                ? snprintf(line, sizeof line,
                           "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain"
                           "\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s\n",
                           strlen(reason) + 1, reason)
                : snprintf(line, sizeof line, "ERROR :Closing Link: %s (%s)\r\n", host, reason);
    ssize_t w = send(fd, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
    (void)w; /* best effort: the peer may already be gone */
    close(fd);
}

/* A listening socket is readable: accepts everything waiting. */
static void on_listener(struct loop_io *io, unsigned events)
{
    (void)events;
    struct listener *l = loop_owner(io, struct listener, io);
    struct acceptor *a = l->a;
    int lfd = l->fd, how = l->how;
    struct server *srv = a->srv;
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if ((errno == EMFILE || errno == ENFILE) && a->spare_fd >= 0) {
                /* Out of descriptors: free the spare to accept and drop one, so the pending
                 * connection does not wake us again and again. */
                log_limited(&refusals_logged, 5, LOG_WARN,
                            "out of file descriptors: refusing a connection");
                close(a->spare_fd);
                fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
                if (fd >= 0)
                    close(fd);
                a->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                log_warn("accept: %s", strerror(errno));
            return;
        }
        char host[HOST_MAX];
        net_addr_str((struct sockaddr *)&ss, host, sizeof host);
        struct ban ban;
        if (ban_find(NULL, host, &ban)) { /* a D-line: before any IRC is spoken */
            log_limited(&refusals_logged, 5, LOG_INFO, "refusing %s: D-lined (%s)", host, ban.mask);
            char why[CLOSE_REASON_MAX + 1];
            snprintf(why, sizeof why, "D-lined: %s", ban.reason);
            refuse(fd, how, host, why);
            continue;
        }
        if (atomic_fetch_add(&srv->nclients, 1) >= srv->cfg.max_clients) {
            atomic_fetch_sub(&srv->nclients, 1);
            log_limited(&refusals_logged, 5, LOG_INFO, "refusing %s: too many connections", host);
            refuse(fd, how, host, "Too many connections");
            continue;
        }
        enum iplimit_verdict v = iplimit_acquire((struct sockaddr *)&ss, host, srv->cfg.max_per_ip,
                                                 srv->cfg.conn_rate, worker_clock_ms());
        if (v == IPLIMIT_TOO_MANY || v == IPLIMIT_TOO_FAST) {
            atomic_fetch_sub(&srv->nclients, 1);
            log_limited(&refusals_logged, 5, LOG_INFO, "refusing %s: %s", host,
                        v == IPLIMIT_TOO_MANY ? "too many connections from it" : "throttled");
            refuse(fd, how, host,
                   v == IPLIMIT_TOO_MANY ? "Too many connections from your address"
                                         : "Throttled: reconnecting too fast, try again later");
            continue;
        }
        fanout_new_conn(srv, least_loaded(srv), fd, host, v == IPLIMIT_OK, how);
    }
}

/* Reads what stdin has; each complete line goes out as an announcement. Returns -1 at end of
 * input, after which stdin is ignored (the server keeps running). */
static int read_console(struct acceptor *a)
{
    size_t avail;
    char *space = linebuf_space(&a->console, &avail);
    if (!space)
        return 0;
    ssize_t n = read(STDIN_FILENO, space, avail);
    if (n <= 0)
        return n < 0 && errno == EINTR ? 0 : -1;
    linebuf_commit(&a->console, (size_t)n);
    char *line;
    size_t len;
    int r;
    while ((r = linebuf_next(&a->console, &line, &len)) != LINEBUF_NONE) {
        if (r == LINEBUF_TOOLONG || len == 0)
            continue;
        if (memchr(line, '\0', len) || !utf8_valid(line, len)) {
            log_warn("console: line not sent: it is not valid UTF-8 text");
            continue;
        }
        if (len > ANNOUNCE_MAX)
            line[utf8_trim(line, ANNOUNCE_MAX)] = '\0';
        log_info("announcement: %s", line);
        fanout_announce(a->srv, line);
        cluster_announce(a->srv, line);
    }
    return 0;
}

/* Tells systemd (Type=notify, NOTIFY_SOCKET) how the server is: READY=1 once the ports and
 * stores are open, RELOADING=1 (with the monotonic time it asks for) then READY=1 around a
 * configuration reload, STOPPING=1 on the way out. Nothing without systemd. */
static void notify(const char *state)
{
    if (strcmp(state, "RELOADING=1") == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
                   (unsigned long long)ts.tv_sec * 1000000ull +
                       (unsigned long long)ts.tv_nsec / 1000ull);
        return;
    }
    sd_notify(0, state);
}

static void reload(struct server *srv)
{
    notify("RELOADING=1");
    rehash_run(srv);
    notify("READY=1");
}

/* The signalfd: SIGHUP reloads, the others stop the server. */
static void on_signal(struct loop_io *io, unsigned events)
{
    (void)events;
    struct acceptor *a = loop_owner(io, struct acceptor, signal_io);
    struct signalfd_siginfo si;
    if (read(a->sigfd, &si, sizeof si) != (ssize_t)sizeof si)
        return;
    if (si.ssi_signo == SIGHUP) {
        log_info("got SIGHUP, reloading the configuration");
        reload(a->srv);
        return;
    }
    log_info("got %s, shutting down", strsignal((int)si.ssi_signo));
    a->stop = 1;
}

/* An operator sent REHASH. */
static void on_rehash(struct loop_io *io, unsigned events)
{
    (void)events;
    struct acceptor *a = loop_owner(io, struct acceptor, rehash_io);
    reload(a->srv);
}

static void on_stdin(struct loop_io *io, unsigned events)
{
    (void)events;
    struct acceptor *a = loop_owner(io, struct acceptor, stdin_io);
    if (read_console(a) < 0) {
        log_info("console closed; the server keeps running");
        loop_unwatch(a->loop, STDIN_FILENO);
    }
}

static void run(struct acceptor *a)
{
    if (loop_watch(a->loop, STDIN_FILENO, LOOP_READ, &a->stdin_io, on_stdin) < 0)
        log_debug("stdin cannot be watched (%s): no console announcements", strerror(errno));
    uint64_t next_prune = worker_clock_ms() + IP_PRUNE_MS;
    while (!a->stop) {
        int n = loop_wait(a->loop, IP_PRUNE_MS);
        if (worker_clock_ms() >= next_prune) {
            iplimit_prune(a->srv->cfg.conn_rate, worker_clock_ms());
            ban_prune((long long)time(NULL));
            next_prune = worker_clock_ms() + IP_PRUNE_MS;
        }
        if (n < 0) {
            log_error("epoll_wait: %s", strerror(errno));
            return;
        }
    }
}

/* Opens the listening sockets of port (how: CONN_* of its connections). 0, or -1 with why. */
static int listen_port(struct acceptor *a, int port, int how, char *why, size_t whylen)
{
    int fds[NET_LISTEN_MAX];
    int n = net_listen(a->srv->cfg.bind, port, LISTEN_BACKLOG, fds, NET_LISTEN_MAX, why, whylen);
    for (int i = 0; i < n; i++) {
        struct listener *l = &a->listeners[a->nlisten++];
        l->a = a;
        l->fd = fds[i];
        l->how = how;
    }
    return n < 0 ? -1 : 0;
}

/* Loads the certificate and opens the TLS port. 0, or -1 after saying why on stderr. */
static int listen_tls(struct acceptor *a)
{
    struct server *srv = a->srv;
    char why[CONFIG_ERROR_MAX];
    srv->tls_ctx = tls_ctx_new(srv->cfg.tls_cert, srv->cfg.tls_key, why, sizeof why);
    if (!srv->tls_ctx || listen_port(a, srv->cfg.tls_port, CONN_TLS, why, sizeof why) < 0) {
        fprintf(stderr, "tcpchatd: %s\n", why);
        return -1;
    }
    return 0;
}

/* Loads the web client's files and opens the HTTP and HTTPS ports (after the TLS port: HTTPS
 * uses its context). A default port that is taken is left out with a warning; one asked for
 * must open. 0, or -1 after saying why on stderr. */
static int listen_web(struct acceptor *a)
{
    struct config *cfg = &a->srv->cfg;
    char why[CONFIG_ERROR_MAX];
    if (!cfg->http_port && !cfg->https_port)
        return 0;
    if (webfiles_load(cfg->web_root, why, sizeof why) < 0) {
        fprintf(stderr, "tcpchatd: %s\n", why);
        return -1;
    }
    int *ports[] = {&cfg->http_port, &cfg->https_port};
    const int defaults[] = {cfg->http_port_default, cfg->https_port_default};
    for (int i = 0; i < 2; i++) {
        if (!*ports[i] ||
            listen_port(a, *ports[i], CONN_WEB | (i ? CONN_TLS : 0), why, sizeof why) == 0)
            continue;
        if (!defaults[i]) {
            fprintf(stderr, "tcpchatd: %s\n", why);
            return -1;
        }
        log_warn("no %s port for the web client: %s (--%s N to choose another)",
                 i ? "HTTPS" : "HTTP", why, i ? "https-port" : "http-port");
        *ports[i] = 0;
    }
    return 0;
}

static int server_init(struct server *srv)
{
    pthread_mutex_init(&srv->nick_lock, NULL);
    pthread_mutex_init(&srv->chan_lock, NULL);
    atomic_init(&srv->next_client_id, 0);
    atomic_init(&srv->next_chan_id, 0);
    atomic_init(&srv->nclients, 0);
    atomic_init(&srv->backlog, 0);
    time_t now = time(NULL);
    srv->started = now;
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(srv->created, sizeof srv->created, "%Y-%m-%d %H:%M:%S UTC", &tm);
    srv->nworkers = srv->cfg.workers;
    srv->workers = calloc((size_t)srv->nworkers, sizeof *srv->workers);
    if (!srv->workers)
        return -1;
    for (int i = 0; i < srv->nworkers; i++) {
        if (worker_init(&srv->workers[i], srv, i) < 0) {
            log_error("cannot set up worker %d: %s", i, strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* --mkpasswd: a password on stdin, its hash on stdout. */
static int mkpasswd(void)
{
    char why[CONFIG_ERROR_MAX];
    if (conffile_mkpasswd(stdin, stdout, why, sizeof why) < 0) {
        fprintf(stderr, "tcpchatd: %s\n", why);
        return 1;
    }
    return 0;
}

/* -t: the options and the config file have been read and checked (config_parse said what
 * was wrong, with FILE:LINE); what is left to try without starting is the certificate and
 * its key. */
static int configtest(struct server *srv)
{
    int ok = 1;
    if (srv->cfg.tls_cert) {
        char why[CONFIG_ERROR_MAX];
        struct ssl_ctx_st *ctx = tls_ctx_new(srv->cfg.tls_cert, srv->cfg.tls_key, why, sizeof why);
        if (!ctx) {
            fprintf(stderr, "tcpchatd: %s\n", why);
            ok = 0;
        }
        tls_ctx_free(ctx);
    }
    char why[CONFIG_ERROR_MAX];
    if ((srv->cfg.http_port || srv->cfg.https_port) &&
        webfiles_load(srv->cfg.web_root, why, sizeof why) < 0) {
        fprintf(stderr, "tcpchatd: %s\n", why);
        ok = 0;
    }
    webfiles_free();
    if (ok)
        printf("tcpchatd: the configuration%s%s is good\n", srv->cfg.config_path ? " in " : "",
               srv->cfg.config_path ? srv->cfg.config_path : "");
    config_free(&srv->cfg);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    static struct server srv;
    if (sodium_init() < 0) {
        fprintf(stderr, "tcpchatd: cannot initialise libsodium\n");
        return 1;
    }
    switch (config_parse(&srv.cfg, argc, argv)) {
    case CONFIG_OK:
        break;
    case CONFIG_EXIT_OK:
        config_free(&srv.cfg);
        return 0;
    case CONFIG_ERROR:
        config_free(&srv.cfg);
        return 1;
    }
    if (srv.cfg.mkpasswd) {
        config_free(&srv.cfg);
        return mkpasswd();
    }
    if (srv.cfg.configtest)
        return configtest(&srv);
    log_set_level(srv.cfg.log_level);
    log_set_format(srv.cfg.log_format);
    log_detect_journal();
    if (privs_check(&srv.cfg) < 0) {
        config_free(&srv.cfg);
        return 1;
    }
    iplimit_set_exempt(srv.cfg.ip_exempt ? srv.cfg.ip_exempt : "");
    signal(SIGPIPE, SIG_IGN);
    /* A file size limit reached by the history store is a write error to report, not a
     * reason to die. */
    signal(SIGXFSZ, SIG_IGN);
    /* Block the stop and reload signals in every thread; the acceptor takes them from a
     * signalfd. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    struct acceptor a = {.srv = &srv, .spare_fd = -1};
    char err[NET_ERR_MAX];
    if (listen_port(&a, srv.cfg.port, 0, err, sizeof err) < 0) {
        fprintf(stderr, "tcpchatd: %s\n", err);
        config_free(&srv.cfg);
        return 1;
    }
    if ((srv.cfg.tls_cert && listen_tls(&a) < 0) || listen_web(&a) < 0) {
        for (int i = 0; i < a.nlisten; i++)
            close(a.listeners[i].fd);
        tls_ctx_free(srv.tls_ctx);
        webfiles_free();
        config_free(&srv.cfg);
        return 1;
    }
    a.sigfd = signalfd(-1, &stop, SFD_CLOEXEC);
    a.loop = loop_create(4 * NET_LISTEN_MAX + 3);
    a.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (a.sigfd < 0 || !a.loop || server_init(&srv) < 0 || rehash_init(&srv, argc, argv) < 0 ||
        linebuf_init(&a.console, ANNOUNCE_MAX * 4, ANNOUNCE_MAX * 4 + 1) < 0) {
        fprintf(stderr, "tcpchatd: cannot start: %s\n", strerror(errno));
        return 1;
    }
    cmd_install(&srv);
    /* A store that cannot open stops the start; what did open is closed below as on a stop. */
    int opened = history_open(&srv) == 0 && account_open(&srv) == 0 &&
                 /* in a cluster Redis keeps the bans, not bans.db (docs/cluster.md) */
                 ban_open(srv.cfg.cluster ? NULL : srv.cfg.data_dir) == 0 &&
                 chanreg_open(srv.cfg.cluster ? NULL : srv.cfg.data_dir) == 0 &&
                 privs_drop(&srv.cfg) == 0 && cluster_open(&srv) == 0;
    if (opened) {
        loop_watch(a.loop, a.sigfd, LOOP_READ, &a.signal_io, on_signal);
        loop_watch(a.loop, rehash_fd(&srv), LOOP_READ, &a.rehash_io, on_rehash);
        for (int i = 0; i < a.nlisten; i++)
            loop_watch(a.loop, a.listeners[i].fd, LOOP_READ, &a.listeners[i].io, on_listener);
    }
    int started = 0;
    for (; opened && started < srv.nworkers; started++) {
        if (worker_start(&srv.workers[started]) < 0) {
            log_error("cannot start worker thread %d", started);
            break;
        }
    }
    int ok = opened && started == srv.nworkers;
    if (ok) {
        log_info("tcpchatd %s listening on %s port %d with %d workers", TCPCHAT_VERSION,
                 srv.cfg.bind ? srv.cfg.bind : "all addresses", srv.cfg.port, srv.nworkers);
        if (srv.tls_ctx)
            log_info("TLS on port %d with certificate %s", srv.cfg.tls_port, srv.cfg.tls_cert);
        const char *web_host = srv.cfg.bind ? srv.cfg.bind : "localhost";
        if (srv.cfg.http_port)
            log_info("web client: http://%s:%d", web_host, srv.cfg.http_port);
        if (srv.cfg.https_port)
            log_info("web client: https://%s:%d", web_host, srv.cfg.https_port);
        notify("READY=1");
        run(&a);
        /* A RESTART is a reload to systemd: the same process says READY=1 again. */
        notify(atomic_load(&srv.restart) ? "RELOADING=1" : "STOPPING=1");
    }

    for (int i = 0; i < a.nlisten; i++)
        close(a.listeners[i].fd);
    /* What was said before the stop reaches its readers before the goodbye. */
    history_drain(&srv);
    for (int i = 0; i < started; i++)
        fanout_shutdown(&srv, i);
    for (int i = 0; i < started; i++)
        worker_join(&srv.workers[i]);
    cluster_close(&srv); /* after the workers: their users' QUITs go out first */
    history_close(&srv); /* after the workers: they post through it to the end */
    account_close(&srv);
    ban_close();
    chanreg_close();
    for (int i = 0; i < srv.nworkers; i++)
        worker_destroy(&srv.workers[i]);
    tls_ctx_free(srv.tls_ctx);
    webfiles_free();
    chan_table_free(&srv);
    nick_table_free(&srv);
    metadata_table_free();
    iplimit_free();
    monitor_free();
    readmark_free();
    rehash_free(&srv);
    free(srv.workers);
    linebuf_free(&a.console);
    loop_destroy(a.loop);
    close(a.sigfd);
    if (a.spare_fd >= 0)
        close(a.spare_fd);
    pthread_mutex_destroy(&srv.nick_lock);
    pthread_mutex_destroy(&srv.chan_lock);
    config_free(&srv.cfg);
    if (ok && atomic_load(&srv.restart)) {
        /* RESTART: the same binary with the same arguments, in this process (the same PID
         * for systemd); privileges dropped at the first start stay dropped. */
        log_info("tcpchatd stopped; starting again (RESTART)");
        fflush(stdout);
        fflush(stderr);
        execv("/proc/self/exe", argv);
        log_error("cannot start again: %s", strerror(errno));
        return 1;
    }
    log_info("tcpchatd stopped");
    return ok ? 0 : 1;
}
