/* run: the bench's event loop. One thread, one epoll set over every client connection; the
 * clients follow one script (connect, register, join, send, receive) and the loop moves all of
 * them from phase to phase, measuring each. Receiving is the hot path: one read per ready
 * socket into a shared buffer, memchr for line ends, and only PRIVMSG lines are looked at
 * closely; everything else that matters is rare and goes through the common IRC parser. */
#include "run.h"

#include "bconn.h"
#include "btls.h"
#include "common/ircmsg.h"
#include "payload.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_S  1000000000ull
#define NS_PER_MS 1000000ull

/* One read takes at most this much: a busy receiver's socket buffer in one go. */
#define READ_BUF_CAP (256 * 1024)
/* Events taken per epoll wait. */
#define EVENTS_MAX 1024
/* Longest the loop sleeps, so progress, phase changes and the timeout are checked often. */
#define TICK_NS     (100 * NS_PER_MS)
#define PROGRESS_NS NS_PER_S
/* Output buffer of an ordinary client: NICK, USER, JOIN, PONG. */
#define CONTROL_OUT_CAP 1024
/* A sender's output buffer: big enough for one large write per wakeup, small enough that a
 * sender never holds many messages the server has not taken (no unbounded buffering). */
#define SENDER_OUT_CAP (64 * 1024)
/* Room a sender keeps free in its buffer for PONG replies amid its messages. */
#define CONTROL_RESERVE 512
/* Fills per EPOLLOUT for a full-speed sender before giving others a turn. */
#define SENDER_FILLS_MAX 4
/* Times a connection dropped before registration (without ERROR) is reopened. A server with a
 * short listen backlog makes the kernel complete handshakes it then resets (SYN cookies with a
 * full accept queue); that is the server's queue, not a refusal, so the bench tries again. */
#define RECONNECTS_MAX 5
/* Nicks tried per client before giving up (the first one plus retries with a letter). */
#define NICK_TRIES_MAX 20
/* Longest line the bench builds: a PRIVMSG with the largest payload fits in IRC_LINE_MAX. */
#define OUT_LINE_MAX     IRC_LINE_MAX
#define CHANNEL_NAME_MAX 64

enum phase {
    PHASE_CONNECT,
    PHASE_JOIN,
    PHASE_JOIN_NOTICES,
    PHASE_SETTLE,
    PHASE_SEND,
    PHASE_DRAIN,
    PHASE_DONE,
};

static const char *const phase_names[] = {"connect", "join",  "join-notices", "settle",
                                          "send",    "drain", "done"};

struct run {
    const struct bench_opts *o;
    struct bench_result *r;
    int ep;
    struct bconn *conns;
    struct ssl_ctx_st *tls; /* --tls: the context every connection's session comes from */
    char *rbuf;
    enum phase phase;
    struct sockaddr_storage dst[BENCH_SERVERS_MAX]; /* client i connects to dst[i % ndst] */
    socklen_t dstlen[BENCH_SERVERS_MAX];
    int ndst;
    struct sockaddr_in *srcs; /* loopback source addresses, NULL when not on 127/8 */
    int nsrcs;
    uint32_t n, c, s;        /* clients, channels, senders */
    uint32_t next_open;      /* next client to open */
    uint32_t inflight;       /* connecting or registering */
    uint32_t joining;        /* JOIN sent, no 366 yet */
    uint32_t senders_active; /* senders still sending or flushing */
    uint32_t *chan_joined;   /* members per channel */
    size_t prefix_len;       /* of the channel prefix */
    uint64_t t0, deadline, now;
    uint64_t t_join_start, t_last_join_notice, t_send_start, t_last_delivery;
    uint64_t t_settled; /* end of the --settle pause */
    uint64_t t_progress, progress_delivered;
    uint64_t last_activity; /* last join notice or delivery: drives the idle cut-offs */
    uint64_t interval_ns;   /* fixed rate: between two messages of one sender */
    uint64_t sched_next;    /* fixed rate: next slot of the global schedule */
    uint64_t sched_total;
};

static uint64_t run_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static double run_secs(uint64_t from, uint64_t to)
{
    return to > from ? (double)(to - from) / (double)NS_PER_S : 0;
}

static uint32_t run_channel_of(const struct run *run, uint32_t idx)
{
    return run->c ? idx % run->c : 0; /* no channels: nobody joins, but never divide by 0 */
}

/* Senders in channel ch: the clients j < s with j % c == ch. */
static uint32_t run_senders_in(const struct run *run, uint32_t ch)
{
    return ch < run->s && run->c ? (run->s - ch + run->c - 1) / run->c : 0;
}

static void run_snap(struct run *run, struct run_server_snap *snap)
{
    if (run->o->server_pid > 0)
        snap->ok = procstat_read(run->o->server_pid, &snap->st) == 0;
}

/* Disconnect reasons -------------------------------------------------------------------- */

/* "Closing Link: host (Max SendQ exceeded)" -> "Max SendQ exceeded": the part in the last
 * brackets, when the reason ends in one, names the cause without the per-client host. */
static void run_reason_text(const char *in, char *out, size_t cap)
{
    size_t len = strlen(in);
    char close = (char)(len ? in[len - 1] : '\0');
    char open = (char)(close == ')' ? '(' : close == ']' ? '[' : '\0');
    if (open) {
        const char *start = NULL;
        for (const char *p = in + len - 1; p > in; p--)
            if (p[-1] == open) {
                start = p;
                break;
            }
        if (start && (size_t)(in + len - 1 - start) > 0) {
            snprintf(out, cap, "%.*s", (int)(in + len - 1 - start), start);
            return;
        }
    }
    snprintf(out, cap, "%s", in);
}

static void run_record_reason(struct run *run, const char *raw)
{
    char text[RUN_REASON_LEN];
    run_reason_text(raw, text, sizeof text);
    struct bench_result *r = run->r;
    for (int i = 0; i < RUN_REASONS_MAX; i++) {
        if (r->reasons[i].count == 0) {
            snprintf(r->reasons[i].text, sizeof r->reasons[i].text, "%s", text);
            r->reasons[i].count = 1;
            return;
        }
        if (strcmp(r->reasons[i].text, text) == 0) {
            r->reasons[i].count++;
            return;
        }
    }
    r->reasons_other++;
}

/* Connection bookkeeping ---------------------------------------------------------------- */

static void run_arm(struct run *run, struct bconn *c, int want_out)
{
    want_out = want_out || c->tls.read_wants_write; /* TLS may need to write to read */
    if (c->fd < 0 || (int)c->out_armed == want_out)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.u32 = c->idx};
    if (epoll_ctl(run->ep, EPOLL_CTL_MOD, c->fd, &ev) == 0)
        c->out_armed = (uint8_t)want_out;
}

static int run_is_sender(const struct run *run, const struct bconn *c)
{
    return c->idx < run->s && run->o->messages > 0;
}

/* A sender is finished when every message is written or it can send no more; counted once. */
static void run_sender_done(struct run *run, struct bconn *c)
{
    if (c->done)
        return;
    c->done = 1;
    if (run->senders_active > 0)
        run->senders_active--;
}

static void run_open_one(struct run *run, struct bconn *c);

static void run_close(struct run *run, struct bconn *c, const char *why)
{
    if (c->state == BCONN_CLOSED || c->state == BCONN_IDLE)
        return;
    int opening = c->state == BCONN_CONNECTING || c->state == BCONN_HANDSHAKING ||
                  c->state == BCONN_REGISTERING;
    if (opening && !c->got_error && !c->doomed && c->reconnects < RECONNECTS_MAX) {
        c->reconnects++;
        run->r->reconnects++;
        run->inflight--;
        if (c->state != BCONN_CONNECTING)
            run->r->connected--; /* counted again when the new connection completes */
        uint8_t reconnects = c->reconnects;
        bconn_close(c);
        c->reconnects = reconnects;
        c->nick_tries = 0;
        c->skipping = 0;
        run_open_one(run, c);
        return;
    }
    if (opening) {
        run->inflight--;
        if (c->state == BCONN_CONNECTING)
            run->r->failed_connect++;
    }
    if (c->state == BCONN_JOINING) {
        run->joining--;
        run->r->failed_join++;
    }
    if (c->state == BCONN_JOINED && run->chan_joined)
        run->chan_joined[run_channel_of(run, c->idx)]--;
    if (run->phase == PHASE_SEND && run_is_sender(run, c) && c->state == BCONN_JOINED)
        run_sender_done(run, c);
    run->r->disconnects++;
    if (!c->got_error)
        run_record_reason(run, why);
    bconn_close(c);
}

/* Queues a control line (NICK, JOIN, PONG ...) and writes it. */
static void run_send_line(struct run *run, struct bconn *c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void run_send_line(struct run *run, struct bconn *c, const char *fmt, ...)
{
    char line[OUT_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 2, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line - 2)
        return;
    line[n++] = '\r';
    line[n++] = '\n';
    size_t cap = run_is_sender(run, c) ? SENDER_OUT_CAP : CONTROL_OUT_CAP;
    if (bconn_queue(c, line, (size_t)n, cap) < 0) {
        c->doomed = 1; /* cannot even answer a PING: the server is not reading us */
        return;
    }
    if (bconn_flush(c) < 0)
        c->doomed = 1;
    else
        run_arm(run, c, bconn_pending(c) > 0);
}

static void run_send_nick(struct run *run, struct bconn *c)
{
    const char *p = run->o->nick_prefix;
    if (c->nick_tries == 0)
        run_send_line(run, c, "NICK %s%u", p, c->idx);
    else /* b12a, b12b ... : still within the 9 characters of RFC 2812 nicks */
        run_send_line(run, c, "NICK %s%u%c", p, c->idx, 'a' + (c->nick_tries - 1) % 26);
}

/* Starts client c's connection; on failure it is closed and counted. */
static void run_open_one(struct run *run, struct bconn *c)
{
    const struct sockaddr *src = NULL;
    if (run->srcs)
        src = (const struct sockaddr *)&run->srcs[c->idx % (uint32_t)run->nsrcs];
    uint32_t d = c->idx % (uint32_t)run->ndst;
    if (bconn_open(c, (const struct sockaddr *)&run->dst[d], run->dstlen[d], src,
                   sizeof(struct sockaddr_in)) < 0) {
        char why[RUN_REASON_LEN];
        snprintf(why, sizeof why, "connect: %s", strerror(errno));
        run->r->failed_connect++;
        run->r->disconnects++;
        run_record_reason(run, why);
        c->state = BCONN_CLOSED;
        return;
    }
    run->inflight++;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = c->idx};
    if (epoll_ctl(run->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        char why[RUN_REASON_LEN];
        snprintf(why, sizeof why, "epoll: %s", strerror(errno));
        run_close(run, c, why);
        return;
    }
    c->out_armed = 1;
}

static void run_open_more(struct run *run)
{
    while (run->next_open < run->n && run->inflight < (uint32_t)run->o->connect_window)
        run_open_one(run, &run->conns[run->next_open++]);
}

/* --websocket: asks for the upgrade to IRC over WebSocket; run_http_line registers once the
 * server agrees. The key is fixed: it only proves the server speaks WebSocket. */
static void run_upgrade(struct run *run, struct bconn *c)
{
    c->ws = BCONN_WS_STATUS;
    run_send_line(run, c,
                  "GET /irc HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                  "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: text.ircv3.net\r\n",
                  run->o->host[0] ? run->o->host : "localhost");
}

/* The connection is up (and secured, with --tls): register. */
static void run_register(struct run *run, struct bconn *c)
{
    c->state = BCONN_REGISTERING;
    if (run->o->websocket && c->ws == BCONN_WS_OFF) {
        run_upgrade(run, c);
        return;
    }
    run_send_nick(run, c);
    run_send_line(run, c, "USER %s%u 0 * :tcpchat-bench", run->o->nick_prefix, c->idx);
    if (!bconn_pending(c))
        run_arm(run, c, 0);
}

/* Moves a TLS handshake on; registers once it is done. */
static void run_handshake(struct run *run, struct bconn *c)
{
    char why[RUN_REASON_LEN];
    int fatal = 0;
    int rc = btls_handshake(c, why, sizeof why, &fatal);
    if (rc < 0) {
        if (fatal)
            c->doomed = 1; /* the server does not speak our TLS: reconnecting will not help */
        run_close(run, c, why);
    } else if (rc == 0) {
        run_arm(run, c, 0);
    } else {
        run_register(run, c);
    }
}

static void run_connected(struct run *run, struct bconn *c)
{
    if (bconn_connect_result(c) < 0) {
        char why[RUN_REASON_LEN];
        snprintf(why, sizeof why, "connect: %s", strerror(errno));
        run_close(run, c, why);
        return;
    }
    run->r->connected++;
    run->r->connect_s = run_secs(run->t0, run->now);
    if (!run->tls) {
        run_register(run, c);
        return;
    }
    c->state = BCONN_HANDSHAKING;
    if (btls_start(c, run->tls) < 0) {
        c->doomed = 1;
        run_close(run, c, "TLS: out of memory");
        return;
    }
    run_handshake(run, c);
}

/* Sending ------------------------------------------------------------------------------- */

/* Writes messages into the sender's buffer while there is room and the schedule allows
 * (limit), then flushes. Returns how many were added. */
static uint32_t run_fill(struct run *run, struct bconn *c, uint32_t limit)
{
    const struct bench_opts *o = run->o;
    uint32_t added = 0;
    char head[CHANNEL_NAME_MAX + sizeof "PRIVMSG  :"];
    int head_len = snprintf(head, sizeof head, "PRIVMSG %s%u :", o->channel_prefix,
                            run_channel_of(run, c->idx));
    size_t need = (size_t)head_len + (size_t)o->size + sizeof "\r\n" + CONTROL_RESERVE;
    while (c->sent < limit) {
        char *p = bconn_reserve(c, need, SENDER_OUT_CAP);
        if (!p)
            break;
        uint64_t stamp = run->now;
        if (run->interval_ns) {
            /* Fixed rate: stamp the time the schedule meant, so a late send counts against
             * latency instead of hiding (no coordinated omission). */
            uint64_t slot = (uint64_t)c->sent * run->s + c->idx;
            stamp = run->t_send_start + slot * run->interval_ns / run->s;
            double lag = (double)(run->now > stamp ? run->now - stamp : 0) / (double)NS_PER_MS;
            if (lag > run->r->sched_lag_max_ms)
                run->r->sched_lag_max_ms = lag;
        }
        size_t n = (size_t)head_len;
        memcpy(p, head, n);
        int m = payload_format(p + n, (size_t)o->size + PAYLOAD_HEADER_MAX, c->idx, c->sent + 1,
                               stamp, (size_t)o->size);
        if (m < 0)
            break;
        n += (size_t)m;
        p[n++] = '\r';
        p[n++] = '\n';
        bconn_commit(c, n);
        c->sent++;
        added++;
    }
    run->r->sent += added;
    if (bconn_flush(c) < 0)
        c->doomed = 1;
    return added;
}

/* A sender's turn: fill and write as the mode allows, arm EPOLLOUT while it has more. */
static void run_sender_turn(struct run *run, struct bconn *c)
{
    uint32_t total = (uint32_t)run->o->messages;
    if (run->interval_ns) {
        run_fill(run, c, c->due);
    } else {
        for (int i = 0; i < SENDER_FILLS_MAX && c->sent < total && !c->doomed; i++)
            if (run_fill(run, c, total) == 0 || bconn_pending(c))
                break;
    }
    if (c->doomed)
        return;
    int more = bconn_pending(c) > 0 || (run->interval_ns ? c->sent < c->due : c->sent < total);
    run_arm(run, c, more);
    if (c->sent >= total && !bconn_pending(c))
        run_sender_done(run, c);
}

/* Fixed rate: releases every schedule slot that is due; slot k is sender k % s's message
 * number k / s + 1, at t_send_start + k * interval / s, so senders are evenly staggered. */
static void run_schedule(struct run *run)
{
    while (run->sched_next < run->sched_total) {
        uint64_t at = run->t_send_start + run->sched_next * run->interval_ns / run->s;
        if (at > run->now)
            break;
        struct bconn *c = &run->conns[run->sched_next % run->s];
        run->sched_next++;
        if (c->state != BCONN_JOINED)
            continue;
        c->due++;
        run_sender_turn(run, c);
    }
}

/* Receiving ----------------------------------------------------------------------------- */

static void run_delivery(struct run *run, struct bconn *c, const char *text, size_t len)
{
    uint32_t sender, seq;
    uint64_t sent_ns;
    struct bench_result *r = run->r;
    if (payload_parse(text, len, &sender, &seq, &sent_ns) < 0) {
        r->foreign++;
        return;
    }
    uint32_t ch = run_channel_of(run, c->idx);
    /* A stamp from before this run's sending began (CLOCK_MONOTONIC, shared by every process on
     * the machine) is an earlier run's message, such as the server's history replay on JOIN,
     * which can arrive after sending has begun. */
    if (sender >= run->s || run_channel_of(run, sender) != ch || !c->last_seq ||
        sent_ns < run->t_send_start) {
        r->foreign++;
        return;
    }
    uint32_t *last = &c->last_seq[sender / run->c];
    if (seq <= *last)
        r->reordered++;
    else {
        if (seq != *last + 1)
            r->gaps++;
        *last = seq;
    }
    r->delivered++;
    hist_add(&r->latency, run->now > sent_ns ? run->now - sent_ns : 0);
    run->t_last_delivery = run->now;
    run->last_activity = run->now;
}

/* JOIN of a bench channel by anyone (ourselves included): counted for the join storm. */
static void run_join_notice(struct run *run, const char *args, const char *end)
{
    if (args < end && *args == ':')
        args++;
    size_t plen = run->prefix_len;
    if ((size_t)(end - args) > plen && strncasecmp(args, run->o->channel_prefix, plen) == 0) {
        run->r->join_notices++;
        run->t_last_join_notice = run->now;
        run->last_activity = run->now;
    }
}

/* The channel number of a bench channel name, or -1. */
static long run_channel_number(const struct run *run, const char *name)
{
    if (strncasecmp(name, run->o->channel_prefix, run->prefix_len) != 0)
        return -1;
    char *end;
    const char *digits = name + run->prefix_len;
    if (*digits < '0' || *digits > '9')
        return -1;
    long v = strtol(digits, &end, 10);
    return *end ? -1 : v;
}

static void run_numeric(struct run *run, struct bconn *c, const struct ircmsg *m)
{
    int code = (int)strtol(m->command, NULL, 10); /* the parser allows three digits */
    const char *arg1 = m->nparams > 1 ? m->params[1] : "";
    switch (code) {
    case 1: /* RPL_WELCOME */
        if (c->state == BCONN_REGISTERING) {
            c->state = BCONN_REGISTERED;
            run->inflight--;
            run->r->registered++;
            run->r->register_s = run_secs(run->t0, run->now);
        }
        break;
    case 432: /* ERR_ERRONEUSNICKNAME */
    case 433: /* ERR_NICKNAMEINUSE */
    case 436: /* ERR_NICKCOLLISION */
    case 437: /* ERR_UNAVAILRESOURCE: nick or channel */
        if (c->state == BCONN_REGISTERING) {
            if (++c->nick_tries >= NICK_TRIES_MAX) {
                c->doomed = 1;
                break;
            }
            run->r->nick_retries++;
            run_send_nick(run, c);
            break;
        }
        if (code != 437)
            break;
        __attribute__((fallthrough)); /* 437 about a channel is a refused JOIN */
    case 403:                         /* ERR_NOSUCHCHANNEL */
    case 405:                         /* ERR_TOOMANYCHANNELS */
    case 471:                         /* ERR_CHANNELISFULL */
    case 473:                         /* ERR_INVITEONLYCHAN */
    case 474:                         /* ERR_BANNEDFROMCHAN */
    case 475:                         /* ERR_BADCHANNELKEY */
    case 477:                         /* ERR_NEEDREGGEDNICK (various servers) */
    case 489:                         /* ERR_SECUREONLYCHAN */
        if (c->state == BCONN_JOINING &&
            run_channel_number(run, arg1) == (long)run_channel_of(run, c->idx)) {
            char why[RUN_REASON_LEN];
            snprintf(why, sizeof why, "JOIN refused: %s", m->command);
            run_record_reason(run, why);
            c->state = BCONN_REGISTERED;
            run->joining--;
            run->r->failed_join++;
        }
        break;
    case 366: /* RPL_ENDOFNAMES */
        if (c->state == BCONN_JOINING &&
            run_channel_number(run, arg1) == (long)run_channel_of(run, c->idx)) {
            c->state = BCONN_JOINED;
            run->joining--;
            run->r->joined++;
            run->chan_joined[run_channel_of(run, c->idx)]++;
            run->r->join_s = run_secs(run->t_join_start, run->now);
        }
        break;
    case 404: /* ERR_CANNOTSENDTOCHAN */
    case 263: /* RPL_TRYAGAIN: some servers' load shedding */
        run->r->send_refused++;
        break;
    default:
        break; /* every other numeric is fine to ignore */
    }
}

/* --websocket: a line of the server's answer to the upgrade. 101, then the headers up to the
 * blank line; then frames, and registration. Anything else is the server refusing. */
static void run_http_line(struct run *run, struct bconn *c, const char *line, size_t len)
{
    if (c->ws == BCONN_WS_STATUS) {
        if (len < 13 || memcmp(line, "HTTP/1.1 101 ", 13) != 0) {
            char why[RUN_REASON_LEN];
            snprintf(why, sizeof why, "WebSocket upgrade refused: %.60s", line);
            run_record_reason(run, why);
            c->got_error = 1; /* the server answered: no use reconnecting */
            c->doomed = 1;
            return;
        }
        c->ws = BCONN_WS_HEADERS;
    } else if (len == 0) {
        c->ws = BCONN_WS_FRAMES;
        run_register(run, c);
    }
}

static void run_line(void *ctx, struct bconn *c, char *line, size_t len)
{
    struct run *run = ctx;
    if (c->ws == BCONN_WS_STATUS || c->ws == BCONN_WS_HEADERS) {
        run_http_line(run, c, line, len);
        return;
    }
    char *p = line, *end = line + len;
    /* Hot path first, without a full parse: ":src PRIVMSG target :text". */
    if (p < end && *p == '@') {
        char *sp = memchr(p, ' ', (size_t)(end - p));
        if (!sp)
            return;
        p = sp + 1;
    }
    if (p < end && *p == ':') {
        char *sp = memchr(p, ' ', (size_t)(end - p));
        if (!sp)
            return;
        p = sp + 1;
        while (p < end && *p == ' ')
            p++;
    }
    char *sp = memchr(p, ' ', (size_t)(end - p));
    size_t cmdlen = sp ? (size_t)(sp - p) : (size_t)(end - p);
    char *args = sp ? sp + 1 : end;
    if (cmdlen == 7 && memcmp(p, "PRIVMSG", 7) == 0) {
        char *colon = memchr(args, ':', (size_t)(end - args));
        if (colon)
            run_delivery(run, c, colon + 1, (size_t)(end - colon - 1));
        return;
    }
    if (cmdlen == 4 && memcmp(p, "JOIN", 4) == 0) {
        run_join_notice(run, args, end);
        return;
    }
    if (!(cmdlen == 3 || (cmdlen == 4 && memcmp(p, "PING", 4) == 0) ||
          (cmdlen == 5 && memcmp(p, "ERROR", 5) == 0)))
        return; /* NOTICE, MODE, PART, QUIT ...: nothing the bench needs */
    struct ircmsg m;
    if (ircmsg_parse(line, &m) != IRCMSG_OK)
        return;
    if (ircmsg_is(&m, "PING")) {
        run_send_line(run, c, "PONG :%s", m.nparams ? m.params[m.nparams - 1] : "");
    } else if (ircmsg_is(&m, "ERROR")) {
        run_record_reason(run, m.nparams ? m.params[0] : "ERROR");
        c->got_error = 1;
    } else if (m.command[0] >= '0' && m.command[0] <= '9') {
        run_numeric(run, c, &m);
    }
}

/* Events -------------------------------------------------------------------------------- */

static void run_event(struct run *run, struct bconn *c, uint32_t events)
{
    if (c->state == BCONN_CONNECTING) {
        if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            run_connected(run, c);
        if (c->state == BCONN_CLOSED)
            return;
        if (!(events & EPOLLIN) || c->state == BCONN_HANDSHAKING)
            return; /* a handshake just begun: its first flight is out, wait for the reply */
    }
    if (c->state == BCONN_HANDSHAKING) {
        run_handshake(run, c);
        return;
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR) ||
        (c->tls.read_wants_write && (events & EPOLLOUT))) {
        /* The receive time of every line in this read: one clock read per read call. */
        run->now = run_clock();
        ssize_t n = bconn_read(c, run->rbuf, READ_BUF_CAP, run_line, run);
        if (n == 0) {
            run_close(run, c, "closed by the server without ERROR");
            return;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            char why[RUN_REASON_LEN];
            snprintf(why, sizeof why, "read: %s", strerror(errno));
            run_close(run, c, why);
            return;
        }
    }
    if (c->doomed) {
        run_close(run, c, "bench gave up (nick refused or output full)");
        return;
    }
    if (events & EPOLLOUT) {
        if (bconn_flush(c) < 0) {
            char why[RUN_REASON_LEN];
            snprintf(why, sizeof why, "write: %s", strerror(errno));
            run_close(run, c, why);
            return;
        }
        if (run->phase == PHASE_SEND && run_is_sender(run, c) && c->state == BCONN_JOINED &&
            !c->done)
            run_sender_turn(run, c);
        else
            run_arm(run, c, bconn_pending(c) > 0);
        if (c->doomed)
            run_close(run, c, "bench write failed");
    }
}

/* Phases -------------------------------------------------------------------------------- */

static void run_start_join(struct run *run)
{
    run->phase = PHASE_JOIN;
    run->t_join_start = run->now;
    run->last_activity = run->now;
    for (uint32_t i = 0; i < run->n; i++) {
        struct bconn *c = &run->conns[i];
        if (c->state != BCONN_REGISTERED)
            continue;
        c->state = BCONN_JOINING;
        run->joining++;
        run_send_line(run, c, "JOIN %s%u", run->o->channel_prefix, run_channel_of(run, i));
        if (c->doomed)
            run_close(run, c, "bench write failed");
    }
}

static int run_start_send(struct run *run)
{
    struct bench_result *r = run->r;
    const struct bench_opts *o = run->o;
    run_snap(run, &r->srv_joined);
    r->bench_cpu_send_s = procstat_self_cpu();
    run->phase = PHASE_SEND;
    run->t_send_start = run->now;
    run->last_activity = run->now;
    /* Expected deliveries: each live sender's messages to every other member of its room. */
    for (uint32_t i = 0; i < run->n; i++) {
        struct bconn *c = &run->conns[i];
        if (c->state != BCONN_JOINED)
            continue;
        uint32_t ch = run_channel_of(run, i), k = run_senders_in(run, ch);
        if (k && !(c->last_seq = calloc(k, sizeof *c->last_seq))) {
            snprintf(r->why, sizeof r->why, "out of memory");
            return -1;
        }
        if (run_is_sender(run, c)) {
            run->senders_active++;
            r->expected += (uint64_t)o->messages * (run->chan_joined[ch] - 1);
        }
    }
    if (o->rate > 0) {
        run->interval_ns = (uint64_t)((double)NS_PER_S / o->rate);
        if (run->interval_ns == 0)
            run->interval_ns = 1;
        run->sched_total = (uint64_t)run->s * (uint64_t)o->messages;
    } else {
        for (uint32_t j = 0; j < run->s; j++)
            if (run->conns[j].state == BCONN_JOINED)
                run_sender_turn(run, &run->conns[j]);
    }
    return 0;
}

static void run_finish_send(struct run *run)
{
    run->r->send_s = run_secs(run->t_send_start, run->now);
    run->phase = PHASE_DRAIN;
}

/* Moves to the next phase when the current one is complete. */
static int run_advance(struct run *run)
{
    struct bench_result *r = run->r;
    const struct bench_opts *o = run->o;
    uint64_t idle_ns = (uint64_t)(o->drain_idle * (double)NS_PER_S);
    for (;;) {
        switch (run->phase) {
        case PHASE_CONNECT:
            run_open_more(run);
            if (run->next_open < run->n || run->inflight > 0)
                return 0;
            run_snap(run, &r->srv_registered);
            if (r->registered == 0) {
                snprintf(r->why, sizeof r->why, "no client registered");
                return -1;
            }
            if (run->c == 0) {
                run->phase = PHASE_DONE;
                return 0;
            }
            run_start_join(run);
            break;
        case PHASE_JOIN:
            if (run->joining > 0)
                return 0;
            if (r->joined == 0) {
                snprintf(r->why, sizeof r->why, "no client joined");
                return -1;
            }
            for (uint32_t ch = 0; ch < run->c; ch++)
                r->join_notices_expected +=
                    (uint64_t)run->chan_joined[ch] * (run->chan_joined[ch] + 1) / 2;
            run->phase = o->wait_join_notices ? PHASE_JOIN_NOTICES : PHASE_SEND;
            if (!o->wait_join_notices && run_start_send(run) < 0)
                return -1;
            break;
        case PHASE_JOIN_NOTICES:
            if (r->join_notices < r->join_notices_expected &&
                run->now - run->last_activity < idle_ns)
                return 0;
            r->join_seen_s = run_secs(run->t_join_start, run->t_last_join_notice);
            run_snap(run, &r->srv_last_join);
            run->phase = PHASE_SETTLE;
            run->t_settled = run->now + (uint64_t)(o->settle * (double)NS_PER_S);
            break;
        case PHASE_SETTLE:
            /* Idle clients, the server left alone: what it holds once the joins' short-lived
             * work is done, as opposed to the instant the last JOIN notice arrived. */
            if (run->now < run->t_settled)
                return 0;
            if (run->s == 0 || o->messages == 0) {
                run_snap(run, &r->srv_joined);
                run->phase = PHASE_DONE;
                return 0;
            }
            if (run_start_send(run) < 0)
                return -1;
            break;
        case PHASE_SEND:
            if (run->interval_ns)
                run_schedule(run);
            if (run->senders_active > 0)
                return 0;
            run_finish_send(run);
            break;
        case PHASE_DRAIN:
            if (r->delivered < r->expected && run->now - run->last_activity < idle_ns)
                return 0;
            run->phase = PHASE_DONE;
            return 0;
        case PHASE_DONE:
            return 0;
        }
    }
}

static void run_progress(struct run *run)
{
    if (run->o->quiet || run->now < run->t_progress)
        return;
    struct bench_result *r = run->r;
    double dt = run_secs(run->t_progress - PROGRESS_NS, run->now);
    uint64_t d = r->delivered - run->progress_delivered;
    fprintf(stderr,
            "[%6.1fs] %-12s conn %u reg %u joined %u | join notices %llu | sent %llu "
            "delivered %llu (%.0f/s) | disconnects %u\n",
            run_secs(run->t0, run->now), phase_names[run->phase], r->connected, r->registered,
            r->joined, (unsigned long long)r->join_notices, (unsigned long long)r->sent,
            (unsigned long long)r->delivered, dt > 0 ? (double)d / dt : 0, r->disconnects);
    run->progress_delivered = r->delivered;
    run->t_progress = run->now + PROGRESS_NS;
}

/* How long epoll may sleep: until the next schedule slot, the next tick, or the deadline. */
static void run_wait_time(const struct run *run, struct timespec *ts)
{
    uint64_t wait = TICK_NS;
    if (run->phase == PHASE_SEND && run->interval_ns && run->sched_next < run->sched_total) {
        uint64_t at = run->t_send_start + run->sched_next * run->interval_ns / run->s;
        wait = at > run->now ? at - run->now : 0;
        if (wait > TICK_NS)
            wait = TICK_NS;
    }
    if (run->phase == PHASE_SETTLE) {
        uint64_t left = run->t_settled > run->now ? run->t_settled - run->now : 0;
        if (left < wait)
            wait = left;
    }
    ts->tv_sec = (time_t)(wait / NS_PER_S);
    ts->tv_nsec = (long)(wait % NS_PER_S);
}

/* Setup --------------------------------------------------------------------------------- */

/* One server's address into run->dst[run->ndst]. 0, or -1 with the reason in run->r->why. */
static int run_resolve_one(struct run *run, const char *host, const char *port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        snprintf(run->r->why, sizeof run->r->why, "cannot resolve %s port %s: %s", host, port,
                 gai_strerror(rc));
        return -1;
    }
    memcpy(&run->dst[run->ndst], res->ai_addr, res->ai_addrlen);
    run->dstlen[run->ndst] = res->ai_addrlen;
    run->ndst++;
    freeaddrinfo(res);
    return 0;
}

/* --servers: "HOST:PORT,..." ("[v6]:PORT" too). */
static int run_resolve_list(struct run *run, const char *list)
{
    char buf[OPTS_SERVERS_MAX];
    snprintf(buf, sizeof buf, "%s", list);
    char *save = NULL;
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *colon = strrchr(item, ':');
        if (!colon || run->ndst == BENCH_SERVERS_MAX) {
            snprintf(run->r->why, sizeof run->r->why, "--servers: %s",
                     colon ? "too many servers" : "each server is HOST:PORT");
            return -1;
        }
        *colon = '\0';
        char *host = item;
        size_t hl = strlen(host);
        if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
            host[hl - 1] = '\0';
            host++;
        }
        if (run_resolve_one(run, host, colon + 1) < 0)
            return -1;
    }
    return run->ndst > 0 ? 0 : -1;
}

static int run_resolve(struct run *run)
{
    if (run->o->servers[0] ? run_resolve_list(run, run->o->servers) < 0
                           : run_resolve_one(run, run->o->host, run->o->port) < 0)
        return -1;
    /* Several loopback sources only make sense towards loopback IPv4 servers. */
    for (int d = 0; d < run->ndst; d++) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)&run->dst[d];
        if (run->dst[d].ss_family != AF_INET ||
            (ntohl(sin->sin_addr.s_addr) >> 24) != IN_LOOPBACKNET)
            return 0;
    }
    run->nsrcs = run->o->sources;
    run->srcs = calloc((size_t)run->nsrcs, sizeof *run->srcs);
    if (!run->srcs)
        return -1;
    for (int i = 0; i < run->nsrcs; i++) {
        run->srcs[i].sin_family = AF_INET;
        run->srcs[i].sin_addr.s_addr = htonl((uint32_t)INADDR_LOOPBACK + (uint32_t)i);
    }
    return 0;
}

static int run_setup(struct run *run, const struct bench_opts *o, struct bench_result *r)
{
    memset(run, 0, sizeof *run);
    run->o = o;
    run->r = r;
    run->ep = -1;
    run->n = (uint32_t)o->clients;
    run->c = (uint32_t)o->channels;
    run->s = (uint32_t)o->senders;
    run->prefix_len = strlen(o->channel_prefix);
    if (run_resolve(run) < 0)
        return -1;
    if (o->tls && !(run->tls = btls_ctx_new(r->why, sizeof r->why)))
        return -1;
    run->conns = calloc(run->n, sizeof *run->conns);
    run->rbuf = malloc(READ_BUF_CAP);
    run->chan_joined = calloc(run->c ? run->c : 1, sizeof *run->chan_joined);
    run->ep = epoll_create1(EPOLL_CLOEXEC);
    if (!run->conns || !run->rbuf || !run->chan_joined || run->ep < 0) {
        snprintf(r->why, sizeof r->why, "setup: %s", strerror(errno));
        return -1;
    }
    for (uint32_t i = 0; i < run->n; i++) {
        run->conns[i].fd = -1;
        run->conns[i].idx = i;
    }
    return 0;
}

static void run_teardown(struct run *run)
{
    if (run->conns)
        for (uint32_t i = 0; i < run->n; i++)
            bconn_close(&run->conns[i]);
    if (run->ep >= 0)
        close(run->ep);
    free(run->conns);
    free(run->rbuf);
    free(run->chan_joined);
    free(run->srcs);
    if (run->tls)
        btls_ctx_free(run->tls);
}

/* The figures derived once the loop has stopped. */
static void run_summarise(struct run *run)
{
    struct bench_result *r = run->r;
    r->phase = phase_names[run->phase];
    r->size = run->o->size;
    r->elapsed_s = run_secs(run->t0, run->now);
    if (run->t_send_start) {
        if (run->phase == PHASE_SEND)
            r->send_s = run_secs(run->t_send_start, run->now);
        r->deliver_s = run_secs(run->t_send_start, run->t_last_delivery);
        if (r->deliver_s > 0)
            r->deliveries_per_s = (double)r->delivered / r->deliver_s;
        r->lost = r->expected > r->delivered ? r->expected - r->delivered : 0;
        r->bench_cpu_send_s = procstat_self_cpu() - r->bench_cpu_send_s;
    } else {
        r->bench_cpu_send_s = 0;
    }
    if (run->phase == PHASE_JOIN_NOTICES)
        r->join_seen_s = run_secs(run->t_join_start, run->t_last_join_notice);
    run_snap(run, &r->srv_end);
    r->bench_cpu_s = procstat_self_cpu();
}

int run_bench(const struct bench_opts *o, struct bench_result *r)
{
    struct run run;
    memset(r, 0, sizeof *r);
    hist_init(&r->latency);
    r->phase = phase_names[PHASE_CONNECT];
    r->status = RUN_FAILED;
    if (run_setup(&run, o, r) < 0) {
        run_teardown(&run);
        return -1;
    }
    struct epoll_event *events = calloc(EVENTS_MAX, sizeof *events);
    if (!events) {
        snprintf(r->why, sizeof r->why, "out of memory");
        run_teardown(&run);
        return -1;
    }
    run_snap(&run, &r->srv_start);
    run.now = run.t0 = run_clock();
    run.deadline = run.t0 + (uint64_t)(o->timeout * (double)NS_PER_S);
    run.t_progress = run.t0 + PROGRESS_NS;
    int rc = 0;
    while (run.phase != PHASE_DONE) {
        if (run_advance(&run) < 0) {
            rc = -1;
            break;
        }
        if (run.phase == PHASE_DONE)
            break;
        if (run.now >= run.deadline) {
            snprintf(r->why, sizeof r->why, "timed out after %.1f s in phase %s", o->timeout,
                     phase_names[run.phase]);
            r->status = RUN_TIMEOUT;
            rc = -1;
            break;
        }
        struct timespec ts;
        run_wait_time(&run, &ts);
        int n = epoll_pwait2(run.ep, events, EVENTS_MAX, &ts, NULL);
        if (n < 0 && errno != EINTR) {
            snprintf(r->why, sizeof r->why, "epoll_wait: %s", strerror(errno));
            rc = -1;
            break;
        }
        /* One clock read per batch: the receive time of every line in it. */
        run.now = run_clock();
        for (int i = 0; i < n; i++)
            run_event(&run, &run.conns[events[i].data.u32], events[i].events);
        run_progress(&run);
    }
    if (rc == 0)
        r->status = RUN_OK;
    run_summarise(&run);
    free(events);
    run_teardown(&run);
    return rc;
}
