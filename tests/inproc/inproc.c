/* inproc: an in-process tcpchatd for tests. One worker whose thread is never started: the
 * harness turns its loop by hand (worker_drain), as the worker's epoll loop would, minus the
 * waiting. Each client is one end of a socketpair made with conn_create; the harness holds the
 * other end, writes what the client sends and reads back what it is sent. The only file of
 * the tests that knows the server's internals: when they change, this file follows. */
#include "inproc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/ircmsg.h"
#include "common/utf8.h"
#include "server/state/chan.h"
#include "server/core/client.h"
#include "server/irc/cmd.h"
#include "server/core/config.h"
#include "server/core/conn.h"
#include "server/state/nick.h"
#include "server/core/numerics.h"
#include "server/core/rehash.h"
#include "server/core/sendq.h"
#include "server/core/server.h"
#include "server/core/web.h"
#include "server/core/webfiles.h"
#include "server/core/worker.h"

#define INPROC_TURNS_MAX  64 /* mailbox passes per run; a close takes two or three */
#define INPROC_ROUNDS_MAX 64 /* read-then-write rounds per run, for output a socket held */
#define INPROC_READ_CHUNK 65536
#define INPROC_SEND_MAX   16384 /* longest line inproc_sendf formats */
#define INPROC_ERROR_MAX  256
#define INPROC_ARGS_MAX   64 /* options, with the harness's own and the program name */
/* A web client's bytes not yet understood: an HTTP response head or a WebSocket frame. */
#define INPROC_WEB_HEAD_MAX 8192
#define INPROC_WEB_BUF      (INPROC_WEB_HEAD_MAX + IRC_RAW_LINE_MAX + 16)

/* The options every harness server starts with, ahead of the caller's. */
static const char *const base_opts[] = {"--workers", "1",   "--log-level", "error",
                                        "--history", "off", NULL};

/* One client as the harness sees it: the server's id for it (the struct may be freed under
 * us), our end of its socketpair, the bytes of a reply line not yet ended by LF, and the lines
 * received and not yet cleared. */
struct peer {
    uint64_t id;
    int fd;        /* our end of the socketpair */
    int hung_up;   /* we shut our sending side: nothing more may be written */
    char *partial; /* IRC_RAW_LINE_MAX + 1 bytes: a line and its CR */
    size_t plen;
    int overlong; /* the line being read outgrew partial: skip to its LF */
    char **lines;
    int nlines, cap;
    /* A web client (inproc_connect_web): what it was sent and not yet parsed, in HTTP until
     * the 101 answer, then WebSocket frames until a close frame. */
    int web;
    enum { WEB_PEER_HTTP, WEB_PEER_WS, WEB_PEER_CLOSED } wstate;
    unsigned char *wbuf; /* INPROC_WEB_BUF bytes */
    size_t wlen;
    size_t skip; /* bytes of a body still to pass over */
};

struct inproc {
    struct server srv;
    struct worker wk;
    int argc;
    char **argv; /* kept for the server's life: rehash_init keeps a pointer to it */
    struct peer peers[INPROC_CLIENTS_MAX];
    int npeers;
    FILE *trace;
    char error[INPROC_ERROR_MAX]; /* the first malformed reply, "" while none */
};

/* Where replies are read into: every use is over before the call that made it returns. */
static char readbuf[INPROC_READ_CHUNK];

static void set_error(struct inproc *ip, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_error(struct inproc *ip, const char *fmt, ...)
{
    if (ip->error[0])
        return; /* the first one says the most */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ip->error, sizeof ip->error, fmt, ap);
    va_end(ap);
}

static void free_argv(char **argv, int argc)
{
    for (int i = 0; i < argc; i++)
        free(argv[i]);
    free(argv);
}

/* "tcpchatd", the base options, then opts, each copied; NULL-terminated. */
static char **make_argv(const char *const *opts, int *argc)
{
    char **argv = calloc(INPROC_ARGS_MAX + 1, sizeof *argv);
    if (!argv)
        return NULL;
    int n = 0;
    argv[n++] = strdup("tcpchatd");
    for (const char *const *o = base_opts; *o && n < INPROC_ARGS_MAX; o++)
        argv[n++] = strdup(*o);
    for (const char *const *o = opts; o && *o; o++) {
        if (n == INPROC_ARGS_MAX) {
            free_argv(argv, n);
            return NULL;
        }
        argv[n++] = strdup(*o);
    }
    for (int i = 0; i < n; i++) {
        if (!argv[i]) {
            free_argv(argv, n);
            return NULL;
        }
    }
    *argc = n;
    return argv;
}

struct inproc *inproc_start(const char *const *opts, char *why, size_t whylen)
{
    struct inproc *ip = calloc(1, sizeof *ip);
    if (!ip || !(ip->argv = make_argv(opts, &ip->argc))) {
        snprintf(why, whylen, "out of memory (or more than %d options)", INPROC_ARGS_MAX);
        free(ip);
        return NULL;
    }
    struct server *srv = &ip->srv;
    if (config_load(&srv->cfg, ip->argc, ip->argv) != CONFIG_OK) {
        snprintf(why, whylen, "%s", srv->cfg.error);
        config_free(&srv->cfg);
        free_argv(ip->argv, ip->argc);
        free(ip);
        return NULL;
    }
    log_set_level(srv->cfg.log_level);
    pthread_mutex_init(&srv->nick_lock, NULL);
    pthread_mutex_init(&srv->chan_lock, NULL);
    atomic_init(&srv->next_client_id, 0);
    atomic_init(&srv->next_chan_id, 0);
    atomic_init(&srv->nclients, 0);
    atomic_init(&srv->backlog, 0);
    snprintf(srv->created, sizeof srv->created, "2026-01-01 00:00:00 UTC");
    srv->nworkers = 1;
    srv->workers = &ip->wk;
    if (worker_init(&ip->wk, srv, 0) < 0) {
        snprintf(why, whylen, "worker_init: %s", strerror(errno));
        goto fail;
    }
    if (rehash_init(srv, ip->argc, ip->argv) < 0) {
        snprintf(why, whylen, "rehash_init failed");
        worker_destroy(&ip->wk);
        goto fail;
    }
    cmd_install(srv);
    if (webfiles_load(NULL, why, whylen) < 0) { /* the built-in web client, as main.c */
        webfiles_free();
        rehash_free(srv);
        worker_destroy(&ip->wk);
        goto fail;
    }
    ip->wk.now_ms = INPROC_START_MS;
    ip->wk.next_tick_ms = INPROC_START_MS; /* unused: timers run on inproc_advance */
    if (getenv("INPROC_TRACE"))
        ip->trace = stderr;
    return ip;
fail:
    pthread_mutex_destroy(&srv->nick_lock);
    pthread_mutex_destroy(&srv->chan_lock);
    config_free(&srv->cfg);
    free_argv(ip->argv, ip->argc);
    free(ip);
    return NULL;
}

/* The server's client behind peer i, unless it has closed. */
static struct client *live_client(struct inproc *ip, int i)
{
    if (i < 0 || i >= ip->npeers)
        return NULL;
    struct client *c = worker_find_client(&ip->wk, ip->peers[i].id);
    return c && !c->dead ? c : NULL;
}

int inproc_connect(struct inproc *ip, const char *host)
{
    if (ip->npeers == INPROC_CLIENTS_MAX)
        return -1;
    struct peer *p = &ip->peers[ip->npeers];
    char *partial = malloc(IRC_RAW_LINE_MAX + 1);
    int sv[2];
    if (!partial || socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
        free(partial);
        return -1;
    }
    atomic_fetch_add(&ip->srv.nclients, 1);                  /* as the acceptor counts it */
    struct client *c = conn_create(&ip->wk, sv[0], host, 0); /* owns sv[0], even on failure */
    if (!c) {
        atomic_fetch_sub(&ip->srv.nclients, 1);
        close(sv[1]);
        free(partial);
        return -1;
    }
    memset(p, 0, sizeof *p);
    p->partial = partial;
    p->id = c->id;
    p->fd = sv[1];
    return ip->npeers++;
}

int inproc_connect_web(struct inproc *ip, const char *host)
{
    int i = inproc_connect(ip, host);
    if (i < 0)
        return -1;
    struct peer *p = &ip->peers[i];
    p->wbuf = malloc(INPROC_WEB_BUF);
    struct client *c = live_client(ip, i);
    if (!p->wbuf || !c) {
        set_error(ip, "client %d: out of memory for a web client", i);
        return i;
    }
    p->web = 1;
    web_start(c); /* as deliver.c does for a connection from the web listener */
    return i;
}

int inproc_alive(struct inproc *ip, int i)
{
    return live_client(ip, i) != NULL;
}

/* Prints n bytes that client i sent, a line at a time, bytes outside printable ASCII as \xNN. */
static void trace_sent(struct inproc *ip, int i, const unsigned char *b, size_t n)
{
    int at_start = 1;
    for (size_t k = 0; k < n; k++) {
        if (at_start)
            fprintf(ip->trace, "%d> ", i);
        at_start = b[k] == '\n';
        if (b[k] == '\n')
            fputc('\n', ip->trace);
        else if (b[k] == '\r')
            continue;
        else if (b[k] < 0x20 || b[k] >= 0x7f)
            fprintf(ip->trace, "\\x%02x", b[k]);
        else
            fputc(b[k], ip->trace);
    }
    if (!at_start)
        fputc('\n', ip->trace);
}

int inproc_send(struct inproc *ip, int i, const void *bytes, size_t n)
{
    struct client *c = live_client(ip, i);
    if (!c || ip->peers[i].hung_up)
        return -1;
    if (n == 0)
        return 0;
    if (ip->trace)
        trace_sent(ip, i, bytes, n);
    ssize_t w = write(ip->peers[i].fd, bytes, n);
    if (w != (ssize_t)n) {
        set_error(ip, "client %d: the socket took %zd of %zu bytes", i, w, n);
        return -1;
    }
    conn_on_readable(c, 0); /* what epoll reports for new bytes */
    return 0;
}

int inproc_sendf(struct inproc *ip, int i, const char *fmt, ...)
{
    char line[INPROC_SEND_MAX + 2];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, INPROC_SEND_MAX, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= INPROC_SEND_MAX) {
        set_error(ip, "client %d: inproc_sendf line longer than %d bytes", i, INPROC_SEND_MAX);
        return -1;
    }
    line[n] = '\r';
    line[n + 1] = '\n';
    return inproc_send(ip, i, line, (size_t)n + 2);
}

int inproc_cmd(struct inproc *ip, int i, const char *fmt, ...)
{
    char line[INPROC_SEND_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= (int)sizeof line) {
        set_error(ip, "client %d: inproc_cmd line longer than %d bytes", i, INPROC_SEND_MAX);
        return -1;
    }
    int rc = inproc_sendf(ip, i, "%s", line);
    inproc_run(ip);
    return rc;
}

void inproc_hang_up(struct inproc *ip, int i)
{
    struct client *c = live_client(ip, i);
    if (!c || ip->peers[i].hung_up)
        return;
    ip->peers[i].hung_up = 1;
    shutdown(ip->peers[i].fd, SHUT_WR);
    conn_on_readable(c, 1); /* epoll reports EPOLLRDHUP with it */
}

void inproc_advance(struct inproc *ip, uint64_t ms)
{
    ip->wk.now_ms += ms;
    struct client *c, *tmp;
    HASH_ITER(hh, ip->wk.clients, c, tmp)
    {
        conn_tick(c);
    }
}

/* Checks one received line (len bytes before its CR LF, NUL-terminated here) and keeps it. */
static void take_line(struct inproc *ip, int i, char *line, size_t len)
{
    struct peer *p = &ip->peers[i];
    line[len] = '\0';
    if (ip->trace)
        fprintf(ip->trace, "%d< %s\n", i, line);
    if (len == 0)
        set_error(ip, "client %d: an empty line", i);
    else if (memchr(line, '\0', len))
        set_error(ip, "client %d: a NUL byte in: %.80s", i, line);
    else if (memchr(line, '\r', len))
        set_error(ip, "client %d: a bare CR in: %.80s", i, line);
    char *copy = strdup(line);
    if (!copy) {
        set_error(ip, "client %d: out of memory keeping a line", i);
        return;
    }
    struct ircmsg m;
    if (len > 0 && ircmsg_parse(line, &m) != IRCMSG_OK) /* in place: line is spent */
        set_error(ip, "client %d: ircmsg_parse refuses: %.80s", i, copy);
    if (p->nlines == p->cap) {
        int ncap = p->cap ? p->cap * 2 : 64;
        char **n = realloc(p->lines, (size_t)ncap * sizeof *n);
        if (!n) {
            free(copy);
            set_error(ip, "client %d: out of memory keeping a line", i);
            return;
        }
        p->lines = n;
        p->cap = ncap;
    }
    p->lines[p->nlines++] = copy;
}

/* The length of an HTTP response head at b (up to and including its blank line), 0 while it is
 * incomplete. */
static size_t http_head_len(const unsigned char *b, size_t n)
{
    for (size_t k = 3; k < n; k++) {
        if (b[k] == '\n' && b[k - 1] == '\r' && b[k - 2] == '\n' && b[k - 3] == '\r')
            return k + 1;
    }
    return 0;
}

/* An HTTP response head: "HTTP/1.1 NNN reason", headers, and the length of the body that
 * follows (Content-Length; 0 for 101, or for HEAD answers, which the harness cannot tell
 * apart: it passes over a body only as far as the bytes that came with it look like one). */
static void take_http_head(struct inproc *ip, int i, const unsigned char *b, size_t n)
{
    struct peer *p = &ip->peers[i];
    char head[INPROC_WEB_HEAD_MAX + 1];
    memcpy(head, b, n);
    head[n] = '\0';
    if (ip->trace)
        fprintf(ip->trace, "%d< %.*s\n", i, (int)strcspn(head, "\r"), head);
    if (n < 13 || memcmp(head, "HTTP/1.1 ", 9) != 0 || head[12] != ' ' || head[9] < '1' ||
        head[9] > '5' || head[10] < '0' || head[10] > '9' || head[11] < '0' || head[11] > '9') {
        set_error(ip, "client %d: not an HTTP/1.1 status line: %.40s", i, head);
        return;
    }
    if (memchr(b, '\0', n))
        set_error(ip, "client %d: a NUL byte in an HTTP head", i);
    if (memcmp(head + 9, "101", 3) == 0) {
        p->wstate = WEB_PEER_WS;
        return;
    }
    const char *cl = strcasestr(head, "\r\nContent-Length: ");
    if (!cl) {
        set_error(ip, "client %d: an HTTP answer without Content-Length", i);
        return;
    }
    p->skip = strtoul(cl + 18, NULL, 10);
}

/* One WebSocket frame from the server at b (n bytes available): its size, or 0 while it is
 * incomplete. A server's frame is whole (FIN), unmasked, of a known opcode; a data frame is
 * one IRC line without CR LF (UTF-8 in a text frame); nothing follows a close frame. */
static size_t take_frame(struct inproc *ip, int i, const unsigned char *b, size_t n)
{
    struct peer *p = &ip->peers[i];
    if (n < 2)
        return 0;
    int op = b[0] & 0x0f;
    size_t len = b[1] & 0x7f, at = 2;
    if (len == 126) {
        if (n < 4)
            return 0;
        len = (size_t)b[2] << 8 | b[3];
        at = 4;
        if (len < 126)
            set_error(ip, "client %d: a frame length not in its shortest form", i);
    } else if (len == 127) {
        set_error(ip, "client %d: a 64-bit frame length", i); /* no line is that long */
        return n;
    }
    if ((b[0] & 0xf0) != 0x80 || (b[1] & 0x80))
        set_error(ip, "client %d: a frame not FIN, with RSV bits or masked: %02x %02x", i, b[0],
                  b[1]);
    if (op != 1 && op != 2 && op != 8 && op != 9 && op != 10)
        set_error(ip, "client %d: a frame with opcode %d", i, op);
    if (len > IRC_RAW_LINE_MAX || ((op & 8) && len > 125)) {
        set_error(ip, "client %d: a frame of %zu bytes", i, len);
        return n;
    }
    if (n < at + len)
        return 0;
    const unsigned char *payload = b + at;
    if (op == 1 || op == 2) {
        char line[IRC_RAW_LINE_MAX + 1];
        memcpy(line, payload, len);
        if (memchr(line, '\n', len))
            set_error(ip, "client %d: a frame with more than one line", i);
        else if (op == 1 && !utf8_valid(line, len))
            set_error(ip, "client %d: a text frame that is not UTF-8", i);
        else
            take_line(ip, i, line, len);
    } else if (op == 8) {
        if (len == 1 || (len >= 2 && (payload[0] << 8 | payload[1]) < 1000))
            set_error(ip, "client %d: a close frame without a valid code", i);
        if (ip->trace)
            fprintf(ip->trace, "%d< [close %d]\n", i, len >= 2 ? payload[0] << 8 | payload[1] : 0);
        p->wstate = WEB_PEER_CLOSED;
    }
    return at + len;
}

/* Passes over what of p->wbuf the last unit (a head, a frame, a stretch of body) was. */
static void consume(struct peer *p, size_t used)
{
    memmove(p->wbuf, p->wbuf + used, p->wlen - used);
    p->wlen -= used;
}

/* Parses what a web client was sent so far: HTTP answers, then frames. */
static void parse_web(struct inproc *ip, int i)
{
    struct peer *p = &ip->peers[i];
    while (p->wlen > 0) {
        if (p->skip) {
            /* A HEAD answer has a Content-Length and no body: the next answer starts here. */
            if (p->wlen >= 9 && memcmp(p->wbuf, "HTTP/1.1 ", 9) == 0) {
                p->skip = 0;
            } else {
                size_t k = p->skip < p->wlen ? p->skip : p->wlen;
                p->skip -= k;
                consume(p, k);
            }
            continue;
        }
        size_t used = 0;
        if (p->wstate == WEB_PEER_CLOSED) {
            set_error(ip, "client %d: %zu bytes after a close frame", i, p->wlen);
            p->wlen = 0;
            return;
        } else if (p->wstate == WEB_PEER_HTTP) {
            used = http_head_len(p->wbuf, p->wlen);
            if (used > INPROC_WEB_HEAD_MAX || (!used && p->wlen > INPROC_WEB_HEAD_MAX)) {
                set_error(ip, "client %d: an HTTP head past %d bytes", i, INPROC_WEB_HEAD_MAX);
                p->wlen = 0;
                return;
            }
            if (used)
                take_http_head(ip, i, p->wbuf, used);
        } else {
            used = take_frame(ip, i, p->wbuf, p->wlen);
        }
        if (!used)
            return; /* the rest of it is yet to come */
        consume(p, used);
    }
}

/* Takes n bytes a web client was sent, a buffer's worth at a time. */
static void take_web(struct inproc *ip, int i, const unsigned char *b, size_t n)
{
    struct peer *p = &ip->peers[i];
    while (n > 0) {
        size_t room = INPROC_WEB_BUF - p->wlen, k = n < room ? n : room;
        memcpy(p->wbuf + p->wlen, b, k);
        p->wlen += k;
        b += k;
        n -= k;
        parse_web(ip, i);
        if (p->wlen == INPROC_WEB_BUF) { /* cannot be: every unit fits */
            set_error(ip, "client %d: a unit longer than the buffer", i);
            p->wlen = 0;
        }
    }
}

/* Reads everything the server wrote to client i and splits it into lines. */
static void read_replies(struct inproc *ip, int i)
{
    struct peer *p = &ip->peers[i];
    for (;;) {
        ssize_t n = read(p->fd, readbuf, sizeof readbuf);
        if (n <= 0)
            return;
        if (p->web) {
            take_web(ip, i, (const unsigned char *)readbuf, (size_t)n);
            continue;
        }
        for (ssize_t k = 0; k < n; k++) {
            char ch = readbuf[k];
            if (ch == '\n') {
                if (p->overlong) {
                    p->overlong = 0;
                } else if (p->plen == 0 || p->partial[p->plen - 1] != '\r') {
                    p->partial[p->plen] = '\0';
                    set_error(ip, "client %d: a line ends without CR LF: %.80s", i, p->partial);
                } else {
                    take_line(ip, i, p->partial, p->plen - 1);
                }
                p->plen = 0;
            } else if (p->overlong) {
                continue;
            } else if (p->plen == IRC_RAW_LINE_MAX + 1) {
                set_error(ip, "client %d: a line longer than %d bytes: %.80s", i, IRC_RAW_LINE_MAX,
                          p->partial);
                p->overlong = 1;
                p->plen = 0;
            } else {
                p->partial[p->plen++] = ch;
            }
        }
    }
}

/* What epoll would report once the harness has read: the socket is writable again for every
 * client whose output it held. Returns how many clients were flushed. */
static int resume_writers(struct inproc *ip)
{
    int n = 0;
    for (int i = 0; i < ip->npeers; i++) {
        struct client *c = live_client(ip, i);
        if (c && c->fd >= 0 && sendq_bytes(&c->sq) > 0) {
            conn_on_writable(c);
            n++;
        }
    }
    return n;
}

void inproc_run(struct inproc *ip)
{
    struct worker *w = &ip->wk;
    for (int round = 0; round < INPROC_ROUNDS_MAX; round++) {
        for (int t = 0; t < INPROC_TURNS_MAX; t++) {
            worker_drain(w);
            /* The worker's thread never runs: nobody else touches the mailbox. */
            if (!w->mb.head && !w->closing && !w->dirty && !w->to_free)
                break;
        }
        for (int i = 0; i < ip->npeers; i++)
            read_replies(ip, i);
        if (resume_writers(ip) == 0)
            return;
    }
}

int inproc_nlines(const struct inproc *ip, int i)
{
    return i >= 0 && i < ip->npeers ? ip->peers[i].nlines : 0;
}

const char *inproc_line(const struct inproc *ip, int i, int k)
{
    if (k < 0 || k >= inproc_nlines(ip, i))
        return "";
    return ip->peers[i].lines[k];
}

int inproc_find(const struct inproc *ip, int i, const char *line)
{
    for (int k = 0; k < inproc_nlines(ip, i); k++) {
        if (strcmp(ip->peers[i].lines[k], line) == 0)
            return k;
    }
    return -1;
}

void inproc_clear(struct inproc *ip, int i)
{
    if (i == INPROC_ALL) {
        for (int k = 0; k < ip->npeers; k++)
            inproc_clear(ip, k);
        return;
    }
    if (i < 0 || i >= ip->npeers)
        return;
    struct peer *p = &ip->peers[i];
    for (int k = 0; k < p->nlines; k++)
        free(p->lines[k]);
    p->nlines = 0;
}

int inproc_register(struct inproc *ip, int i, const char *nick)
{
    if (inproc_sendf(ip, i, "NICK %s", nick) < 0 ||
        inproc_sendf(ip, i, "USER %s 0 * :Real %s", nick, nick) < 0)
        return -1;
    inproc_run(ip);
    char welcome[64];
    snprintf(welcome, sizeof welcome, " %03d %s ", NUM(RPL_WELCOME), nick);
    for (int k = 0; k < inproc_nlines(ip, i); k++) {
        if (strstr(inproc_line(ip, i, k), welcome)) {
            inproc_clear(ip, i);
            return 0;
        }
    }
    return -1;
}

const char *inproc_error(const struct inproc *ip)
{
    return ip->error[0] ? ip->error : NULL;
}

void inproc_trace(struct inproc *ip, FILE *out)
{
    ip->trace = out;
}

int inproc_close(struct inproc *ip, char *why, size_t whylen)
{
    struct server *srv = &ip->srv;
    for (int i = 0; i < ip->npeers; i++) {
        struct client *c = live_client(ip, i);
        if (c)
            conn_close_later(c, "Test done");
    }
    inproc_run(ip);
    int rc = 0;
    if (ip->error[0]) {
        snprintf(why, whylen, "%s", ip->error);
        rc = -1;
    }
    for (int i = 0; i < ip->npeers; i++) {
        inproc_clear(ip, i);
        free(ip->peers[i].lines);
        free(ip->peers[i].partial);
        free(ip->peers[i].wbuf);
        close(ip->peers[i].fd);
    }
    /* Every QUIT came back through the mailbox and freed its client. */
    if (rc == 0 && (atomic_load(&srv->nclients) != 0 || ip->wk.clients != NULL)) {
        snprintf(why, whylen, "%d connections counted, %s after every client closed",
                 (int)atomic_load(&srv->nclients),
                 ip->wk.clients ? "clients left" : "no client left");
        rc = -1;
    }
    worker_destroy(&ip->wk); /* frees any client left, so a failure here is no leak too */
    chan_table_free(srv);
    nick_table_free(srv);
    rehash_free(srv);
    pthread_mutex_destroy(&srv->nick_lock);
    pthread_mutex_destroy(&srv->chan_lock);
    config_free(&srv->cfg);
    free_argv(ip->argv, ip->argc);
    free(ip);
    webfiles_free();
    return rc;
}
