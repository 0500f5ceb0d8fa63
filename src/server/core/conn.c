/* conn: the connection layer of a client. Input goes socket -> linebuf -> flood control ->
 * the protocol's line hook (the IRC command layer, server.h); output goes conn_send -> sendq
 * -> writev at the end of the loop turn. */
#include "conn.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sodium.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"
#include "common/ircmsg.h"
#include "common/log.h"
#include "common/tlsio.h"
#include "common/utf8.h"
#include "event.h"
#include "iplimit.h"
#include "loop.h"
#include "metrics.h"
#include "pool.h"
#include "server.h"
#include "tls.h"
#include "web.h"
#include "worker.h"

char conn_no_str[1];

int conn_set_str(char **slot, const char *text, size_t max)
{
    size_t n = utf8_cut(text, max);
    char *copy = pool_alloc(n + 1);
    if (!copy)
        return -1;
    memcpy(copy, text, n);
    copy[n] = '\0';
    conn_str_free(slot);
    *slot = copy;
    return 0;
}

void conn_str_free(char **slot)
{
    if (*slot != conn_no_str)
        pool_free(*slot, strlen(*slot) + 1);
    *slot = conn_no_str;
}

/* The socket's events, from the worker's loop. While the worker says goodbye at shutdown,
 * only writes go on. */
static void conn_on_event(struct loop_io *io, unsigned events)
{
    struct client *c = loop_owner(io, struct client, io);
    if (c->dead)
        return;
    if (!c->w->draining && (events & (LOOP_READ | LOOP_HUP)))
        conn_on_readable(c, (events & LOOP_HUP) != 0);
    if (events & LOOP_WRITE)
        conn_on_writable(c);
}

struct client *conn_create(struct worker *w, int fd, const char *host, int ip_counted)
{
    struct server *srv = w->srv;
    struct client *c = pool_alloc(sizeof *c);
    /* A --recvq below one tagged line also bounds the line length (tags get less room). */
    size_t line_max = srv->cfg.recvq - 1 < IRC_RAW_LINE_MAX ? srv->cfg.recvq - 1 : IRC_RAW_LINE_MAX;
    if (!c || linebuf_init(&c->in, line_max, srv->cfg.recvq) < 0) {
        log_error("out of memory accepting a connection from %s", host);
        pool_free(c, sizeof *c);
        close(fd);
        return NULL;
    }
    c->realname = c->source = c->close_reason = c->account = conn_no_str;
    c->id = atomic_fetch_add(&srv->next_client_id, 1) + 1;
    w->metrics.accepted++;
    c->w = w;
    c->fd = fd;
    snprintf(c->host, sizeof c->host, "%s", host);
    c->ip_counted = ip_counted != 0;
    sendq_init(&c->sq);
    c->tokens = srv->cfg.flood_burst;
    c->tokens_ms = c->connected_ms = c->active_ms = w->now_ms;
    c->pass_ok = srv->cfg.password == NULL;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (loop_watch(w->loop, fd, LOOP_READ | LOOP_WRITE | LOOP_EDGE, &c->io, conn_on_event) < 0) {
        log_error("cannot watch a connection: %s", strerror(errno));
        linebuf_free(&c->in);
        pool_free(c, sizeof *c);
        close(fd);
        return NULL;
    }
    HASH_ADD(hh, w->clients, id, sizeof c->id, c);
    atomic_fetch_add(&w->nconns, 1);
    return c;
}

/* Connection lines go through budgets (LOG_CONN_LINES_PER_S): anyone can open connections as
 * fast as the network allows, from as many addresses as they have, and a line for each would
 * flood the log (and the disk under it). */
static struct log_budget opened_logged = LOG_BUDGET_INIT;
static struct log_budget closed_logged = LOG_BUDGET_INIT;

/* What c came over, for the log: its port's protocol and, from the web listener, whether it
 * has become a WebSocket. */
static const char *conn_transport(const struct client *c)
{
    int tls = c->tls.ssl != NULL;
    if (!c->web)
        return tls ? "irc-tls" : "irc";
    if (web_http(c))
        return tls ? "https" : "http";
    return tls ? "websocket-tls" : "websocket";
}

void conn_log_opened(struct client *c)
{
    struct sockaddr_storage ss = {0};
    socklen_t len = sizeof ss;
    int port = -1; /* none for a socketpair (tests) */
    if (getpeername(c->fd, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET)
            port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        else if (ss.ss_family == AF_INET6)
            port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    log_event_limited(&opened_logged, LOG_CONN_LINES_PER_S, LOG_INFO, "connection opened",
                      LOG_NUM("id", c->id), LOG_TEXT("addr", c->host), LOG_NUM("port", port),
                      LOG_TEXT("transport", conn_transport(c)), LOG_NUM("worker", c->w->index));
}

/* The line for c's end, with reason; before its TLS and web state are freed (they say
 * what it came over). */
static void log_closed(const struct client *c, const char *reason)
{
    uint64_t ms = c->w->now_ms - c->connected_ms;
    char duration[32];
    snprintf(duration, sizeof duration, "%llu.%03llus", (unsigned long long)(ms / 1000),
             (unsigned long long)(ms % 1000));
    log_event_limited(&closed_logged, LOG_CONN_LINES_PER_S, LOG_INFO, "connection closed",
                      LOG_NUM("id", c->id), LOG_TEXT("addr", c->host),
                      LOG_TEXT("nick", c->nick[0] ? c->nick : NULL),
                      LOG_TEXT("account", c->account[0] ? c->account : NULL),
                      LOG_TEXT("transport", conn_transport(c)), LOG_TEXT("reason", reason),
                      LOG_TEXT("duration", duration));
}

int conn_start_tls(struct client *c)
{
    struct ssl_ctx_st *ctx = client_srv(c)->tls_ctx;
    if (!ctx || tlsio_init(&c->tls, ctx, c->fd, TLSIO_SERVER) < 0) {
        conn_close_later(c, "TLS unavailable");
        return -1;
    }
    return 0;
}

/* read(2), or its TLS counterpart. */
static ssize_t conn_read(struct client *c, char *buf, size_t len)
{
    ssize_t n = c->tls.ssl ? tlsio_read(&c->tls, buf, len) : read(c->fd, buf, len);
    if (n > 0)
        c->w->metrics.bytes_in += (uint64_t)n;
    return n;
}

/* sendq_flush, or its TLS or WebSocket counterpart. */
static int conn_write(struct client *c)
{
    if (c->web)
        return web_flush(c);
    return c->tls.ssl ? tls_conn_flush(&c->tls, &c->sq) : sendq_flush(&c->sq, c->fd);
}

/* A read or write failed (errno set): c closes, saying why (what, or the TLS error). */
static void close_on_error(struct client *c, const char *what)
{
    char why[96];
    if (c->tls.error)
        snprintf(why, sizeof why, "TLS error: %s", c->tls.error);
    else
        snprintf(why, sizeof why, "%s: %s", what, strerror(errno));
    conn_close_later(c, why);
}

static void stall(struct client *c)
{
    if (!c->stalled) {
        c->stalled = 1;
        c->next_stalled = c->w->stalled;
        c->w->stalled = c;
    }
}

/* Tops up the flood-control bucket for the time elapsed. */
static void refill(struct client *c)
{
    const struct config *cfg = client_cfg(c);
    uint64_t now = c->w->now_ms;
    if (now > c->tokens_ms) {
        c->tokens += (double)(now - c->tokens_ms) * cfg->flood_rate / 1000.0;
        if (c->tokens > cfg->flood_burst)
            c->tokens = cfg->flood_burst;
        c->tokens_ms = now;
    }
}

/* Runs the complete lines buffered, as far as flood control and the soft send-queue bound
 * allow. Returns 1 if it stopped for flood control with input left, else 0. */
static int process_input(struct client *c)
{
    while (!c->dead && !c->closing && linebuf_pending(&c->in) > 0) {
        refill(c);
        if (sendq_bytes(&c->sq) > client_cfg(c)->sendq_soft) {
            stall(c); /* our reader is behind: stop taking its commands until it catches up */
            return 0;
        }
        /* The server as a whole is behind (its mailboxes, the history writer): nobody's input
         * runs until that drains, so a sender waits instead of piling up memory, whatever
         * its flood allowance. The workers go on delivering and the writer on writing; the
         * bytes stay in the kernel, and the stall tick looks again. */
        if (atomic_load_explicit(&client_srv(c)->backlog, memory_order_relaxed) >
            (long long)client_cfg(c)->backlog_max) {
            if (!c->backlog_paused) {
                c->backlog_paused = 1;
                c->w->metrics.busy_backlog++;
            }
            stall(c);
            return 0;
        }
        c->backlog_paused = 0;
        if (c->tokens < 1.0) {
            stall(c);
            return 1;
        }
        char *line;
        size_t len;
        int r = linebuf_next(&c->in, &line, &len);
        if (r == LINEBUF_NONE)
            return 0;
        c->tokens -= 1.0;
        if (r == LINEBUF_TOOLONG) {
            client_srv(c)->hooks.too_long(c);
            continue;
        }
        if (len > 0) {
            worker_mark_urgent(c->w, c);
            /* A command is charged for what it makes the server send too: one line may ask
             * for thousands (WHO *, NAMES, LIST, a ban list), and the flood budget was only
             * by lines in. */
            size_t before = sendq_bytes(&c->sq);
            c->w->metrics.lines_in++;
            client_srv(c)->hooks.line(c, line, len);
            size_t after = sendq_bytes(&c->sq);
            if (after > before + FLOOD_OUTPUT_BYTES) {
                size_t extra = (after - before) / FLOOD_OUTPUT_BYTES; /* whole 2 KB parts */
                c->tokens -= (double)extra;
            }
        }
    }
    return 0;
}

/* Runs buffered lines and reads more while the socket may have bytes and nothing pauses
 * the client. */
static void input_lines(struct client *c)
{
    for (;;) {
        int throttled = process_input(c);
        if (c->dead || c->closing)
            return;
        if (c->stalled && !throttled)
            return; /* paused by the send queue: leave the bytes in the kernel */
        if (!c->want_read)
            return;
        if (c->web) {
            enum web_input r = web_input(c);
            if (r == WEB_FULL) {
                /* As below: full of lines that flood control holds back. An HTTP connection
                 * waits for its answers to go out instead. */
                if (throttled && !web_http(c)) {
                    conn_close_later(c, CONN_EXCESS_FLOOD);
                    return;
                }
                stall(c);
                return;
            }
            if (r == WEB_AGAIN) {
                process_input(c);
                return;
            }
            continue;
        }
        size_t avail;
        char *space = linebuf_space(&c->in, &avail);
        if (!space) {
            /* Full of lines that flood control holds back: the client sends faster than its
             * allowance for longer than --recvq can absorb. */
            conn_close_later(c, CONN_EXCESS_FLOOD);
            return;
        }
        /* TLS: want_read is cleared only when OpenSSL too has nothing left (SSL_read returns
         * what it holds before asking the socket), so a pause above loses no decrypted
         * input: resuming reads on. */
        ssize_t n = conn_read(c, space, avail);
        if (n > 0) {
            linebuf_commit(&c->in, (size_t)n);
            c->active_ms = c->w->now_ms;
            c->ping_pending = 0;
            /* A short read of a TCP socket took everything it held, and bytes arriving later
             * raise a new edge: no second read just to hear EAGAIN (it was half of the server's
             * reads in bench/ manyrooms). Not for TLS (OpenSSL may hold decrypted bytes), nor
             * once the peer has shut down (reading on finds the end). */
            if ((size_t)n < avail && !c->tls.ssl && !c->peer_done)
                c->want_read = 0;
        } else if (n == 0) {
            conn_close_later(c, "Connection closed");
            return;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            c->want_read = 0;
        } else if (errno != EINTR) {
            close_on_error(c, "Read error");
            return;
        }
    }
}

/* input_lines, then the input buffer goes back if it holds nothing: most connections are
 * idle most of the time, and an idle one should cost no buffer (DESIGN.md). */
static void input(struct client *c)
{
    input_lines(c);
    linebuf_release(&c->in);
}

void conn_on_readable(struct client *c, int peer_done)
{
    c->want_read = 1;
    if (peer_done)
        c->peer_done = 1;
    if (c->tls.write_wants_read) /* a TLS flush waits on input: retry at the end of the turn */
        worker_mark_dirty(c->w, c);
    input(c);
}

void conn_resume(struct client *c)
{
    input(c);
}

void conn_flush(struct client *c)
{
    if (c->dead || c->fd < 0)
        return;
    if (conn_write(c) < 0) {
        close_on_error(c, "Write error");
        return;
    }
    /* A client paused by the soft bound resumes as soon as its reader has caught up, not at
     * the next stall tick. */
    if (c->stalled && sendq_bytes(&c->sq) <= client_cfg(c)->sendq_soft &&
        !atomic_load(&c->w->stopping))
        input(c);
}

void conn_on_writable(struct client *c)
{
    if (c->tls.read_wants_write && !c->dead) { /* a TLS read waits on output: retry it */
        c->want_read = 1;
        input(c);
    }
    conn_flush(c);
}

/* Queues m for c; own: a reply to c's own commands (counted in new_own while c is new), not
 * someone else's event. */
static void queue(struct client *c, struct msg *m, int own)
{
    if (c->dead || !m) /* a closing client still gets what comes before its ERROR line */
        return;
    if (c->held) { /* a labeled command is running: its replies go out together after it */
        if (sendq_push(c->held, m) < 0)
            conn_close_later(c, "Out of memory");
        return;
    }
    if (own && (!c->registered || c->w->now_ms < c->new_until_ms))
        c->new_own += m->len;
    worker_note_line(c->w, c);
    c->w->metrics.deliveries++;
    c->w->metrics.bytes_out += m->len;
    if (sendq_push(&c->sq, m) < 0) {
        conn_close_later(c, "Out of memory");
        return;
    }
    if (sendq_bytes(&c->sq) > client_cfg(c)->sendq) {
        /* Past the bound within one turn (say a chain of notices from the other worker's
         * mailbox): hand the socket what it takes before judging, so that only a client
         * whose socket is full as well, one that does not read, is dropped. conn_write, not
         * conn_flush: no input may run from here. */
        if (c->fd >= 0 && conn_write(c) < 0) {
            conn_close_later(c, "Write error");
            return;
        }
        if (sendq_bytes(&c->sq) > client_cfg(c)->sendq) {
            conn_close_later(c, CONN_SENDQ_EXCEEDED);
            return;
        }
    }
    worker_mark_dirty(c->w, c);
}

void conn_send(struct client *c, struct msg *m)
{
    queue(c, m, 1);
}

void conn_send_event(struct client *c, struct event *ev)
{
    if (ev && (!ev->need_cap || (c->caps & ev->need_cap)))
        conn_send(c, event_render(ev, c->variant));
}

void conn_registered(struct client *c)
{
    c->new_until_ms = c->w->now_ms + SENDQ_NEW_MS;
}

void conn_deliver_event(struct client *c, struct event *ev)
{
    if (!ev || (ev->need_cap && !(c->caps & ev->need_cap)) || c->dead)
        return;
    queue(c, event_render(ev, c->variant), 0);
    size_t bound = client_cfg(c)->sendq_new; /* 0: none */
    if (!bound || c->w->now_ms >= c->new_until_ms || c->held || c->dead || c->closing ||
        sendq_bytes(&c->sq) <= c->new_own + bound)
        return;
    /* As for the hard bound: only a client whose socket takes no more is dropped. */
    if (c->fd >= 0 && conn_write(c) < 0) {
        conn_close_later(c, "Write error");
        return;
    }
    if (sendq_bytes(&c->sq) > c->new_own + bound) {
        c->w->metrics.busy_sendq_new++;
        conn_close_later(c, CONN_SENDQ_EXCEEDED);
    }
}

/* The close reason when even that could not be copied (static: never freed). */
static char oom_reason[] = "Out of memory";

void conn_close_later(struct client *c, const char *reason)
{
    if (c->dead || c->closing)
        return;
    /* Long reasons (a client's QUIT text) are cut without splitting a UTF-8 character;
     * without memory for a copy the connection still closes, with a reason of its own. */
    if (conn_set_str(&c->close_reason, reason, CLOSE_REASON_MAX) < 0)
        c->close_reason = oom_reason;
    c->closing = 1;
    c->next_close = c->w->closing;
    c->w->closing = c;
}

/* Puts line on the wire if the socket takes it now; used for last words. */
static void last_words(struct client *c, const char *line)
{
    if (c->web) {
        web_last_words(c, line);
        tlsio_shutdown(&c->tls);
        return;
    }
    struct msg *m = msg_printf("%s", line);
    if (m) {
        sendq_push(&c->sq, m);
        msg_unref(m);
    }
    if (!c->tls.ssl || tlsio_ready(&c->tls)) /* not into a half-done handshake */
        conn_write(c);
    tlsio_shutdown(&c->tls);
}

void conn_close(struct client *c)
{
    if (c->dead)
        return;
    struct worker *w = c->w;
    struct server *srv = w->srv;
    log_closed(c, c->close_reason);
    metrics_count_close(w, c->close_reason);
    /* The user goes first (its nick is free before the peer sees the connection end: it may
     * reconnect at once); the protocol layer posts c's QUIT, which frees c when it comes back
     * to this worker. */
    srv->hooks.closing(c);
    char line[IRC_LINE_MAX];
    snprintf(line, sizeof line, "ERROR :Closing Link: %s (%s)", c->host, c->close_reason);
    last_words(c, line);
    loop_unwatch(w->loop, c->fd);
    tlsio_free(&c->tls);
    web_free(c);
    close(c->fd);
    c->fd = -1;
    c->dead = 1;
    atomic_fetch_sub(&srv->nclients, 1);
    atomic_fetch_sub(&w->nconns, 1);
    if (c->ip_counted)
        iplimit_release(c->host);
    sendq_free(&c->sq);
    linebuf_free(&c->in);
}

void conn_hangup(struct client *c)
{
    if (c->dead || c->fd < 0)
        return;
    tlsio_shutdown(&c->tls);
    shutdown(c->fd, SHUT_RDWR);
}

void conn_goodbye(struct client *c, const char *line)
{
    if (c->dead || web_http(c))
        return;
    struct msg *m = msg_printf("%s", line);
    if (m) {
        sendq_push(&c->sq, m);
        msg_unref(m);
    }
    conn_flush(c);
}

void conn_free(struct client *c)
{
    HASH_DEL(c->w->clients, c);
    if (c->fd >= 0) /* at shutdown: never closed by conn_close */
        log_closed(c, "Server shutting down");
    tlsio_free(&c->tls);
    web_free(c);
    if (c->fd >= 0) {
        /* Only at shutdown: the worker stops without the QUIT fan-out. */
        close(c->fd);
        atomic_fetch_sub(&client_srv(c)->nclients, 1);
        atomic_fetch_sub(&c->w->nconns, 1);
    }
    sendq_free(&c->sq);
    linebuf_free(&c->in);
    pool_free(c->chans, (size_t)c->chans_cap * sizeof c->chans[0]);
    free(c->monitor);
    free(c->ml);
    free(c->md_subs);
    conn_str_free(&c->realname);
    conn_str_free(&c->source);
    conn_str_free(&c->account);
    if (c->close_reason != oom_reason)
        conn_str_free(&c->close_reason);
    if (c->sasl_buf) {
        sodium_memzero(c->sasl_buf, c->sasl_len);
        free(c->sasl_buf);
    }
    pool_free(c, sizeof *c);
}

void conn_tick(struct client *c)
{
    const struct config *cfg = client_cfg(c);
    uint64_t now = c->w->now_ms;
    if (c->dead || c->closing)
        return;
    if (c->web && web_tick(c))
        return; /* HTTP: its own timeout */
    if (!c->registered) {
        /* Also the TLS handshake's timeout: nobody registers before it is done. */
        if (now - c->connected_ms >= (uint64_t)cfg->reg_timeout * 1000)
            conn_close_later(c, c->tls.ssl && !tlsio_ready(&c->tls) ? CONN_TLS_TIMEOUT
                                                                    : CONN_REG_TIMEOUT);
        return;
    }
    if (c->ping_pending) {
        if (now - c->ping_ms >= (uint64_t)cfg->ping_timeout * 1000) {
            char why[64];
            snprintf(why, sizeof why, CONN_PING_TIMEOUT ": %llu seconds",
                     (unsigned long long)((now - c->active_ms) / 1000));
            conn_close_later(c, why);
        }
    } else if (now - c->active_ms >= (uint64_t)cfg->ping_interval * 1000) {
        struct msg *ping = msg_printf("PING :%s", cfg->server_name);
        conn_send(c, ping);
        msg_unref(ping);
        c->ping_pending = 1;
        c->ping_ms = now;
    }
}
