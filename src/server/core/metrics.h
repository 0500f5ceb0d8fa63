/* metrics: the server's counters and gauges, and the page that shows them in the Prometheus
 * text format (/metrics on the web listener, for the addresses in --metrics-allow). Counting
 * costs a plain add: each worker counts into its own struct metrics_worker, which only it
 * writes, and once a tick (TICK_MS) copies it into atomics the page reads from any worker. So
 * what the page shows is up to a second old. */
#ifndef TCPCHAT_METRICS_H
#define TCPCHAT_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

struct server;
struct worker;
struct client;
struct msg;

/* Each worker's counters: field, metric name (tcpchat_..._total), help text. */
#define METRICS_COUNTERS(X)                                                                        \
    X(accepted, "connections_accepted", "Connections handed to this worker")                       \
    X(registered, "registrations", "Connections that completed IRC registration")                  \
    X(lines_in, "lines_in", "IRC lines received from clients and run")                             \
    X(messages_in, "messages_in", "PRIVMSG, NOTICE and TAGMSG accepted from clients")              \
    X(deliveries, "deliveries", "Lines queued to clients (every recipient of a message counts)")   \
    X(bytes_in, "bytes_in", "Bytes read from clients (after TLS)")                                 \
    X(bytes_out, "bytes_out", "Bytes of lines queued to clients")                                  \
    X(closed, "disconnects", "Connections closed, for any reason")                                 \
    X(closed_sendq, "sendq_disconnects", "Connections closed for a full send queue")               \
    X(closed_flood, "flood_disconnects", "Connections closed for flooding")                        \
    X(closed_reg_timeout, "registration_timeouts",                                                 \
      "Connections closed unregistered (TLS, HTTP or IRC registration too slow)")                  \
    X(closed_ping_timeout, "ping_timeouts", "Connections closed for not answering PING")           \
    X(failed_logins, "failed_logins", "SASL logins refused for a wrong password")

/* Refusals and pauses for being busy, by reason: tcpchat_busy_refusals_total{reason=...}.
 * field, reason label, what it counts. */
#define METRICS_BUSY(X)                                                                            \
    X(busy_login_queue, "login_queue",                                                             \
      "a login, REGISTER or OPER refused: the account thread's queue was full")                    \
    X(busy_history_queue, "history_queue",                                                         \
      "a message refused: the history writer's queue was full")                                    \
    X(busy_backlog, "backlog",                                                                     \
      "a client's input paused: the server-wide backlog (mailboxes, history queue) was full")      \
    X(busy_sendq_new, "sendq_new",                                                                 \
      "a newly registered client dropped: it did not read what others' events queued for it")

/* Connections by transport and state, counted by each worker once a tick. */
enum metrics_transport {
    METRICS_IRC,
    METRICS_IRC_TLS,
    METRICS_WEBSOCKET,
    METRICS_WEBSOCKET_TLS,
    METRICS_HTTP, /* on the web listener, not (yet) a WebSocket */
    METRICS_TRANSPORTS
};

struct metrics_worker {
#define METRICS_FIELD(f, name, help) uint64_t f;
    METRICS_COUNTERS(METRICS_FIELD)
    METRICS_BUSY(METRICS_FIELD)
#undef METRICS_FIELD
    uint64_t conns[METRICS_TRANSPORTS][2]; /* [transport][registered] */
    uint64_t idle_ns; /* time in epoll_wait (the loop's), for busy = elapsed - idle */
};

/* What a worker published at its last tick: the page's copy. */
struct metrics_published {
#define METRICS_FIELD(f, name, help) _Atomic uint64_t f;
    METRICS_COUNTERS(METRICS_FIELD)
    METRICS_BUSY(METRICS_FIELD)
#undef METRICS_FIELD
    _Atomic uint64_t conns[METRICS_TRANSPORTS][2];
    _Atomic uint64_t idle_ns;
    _Atomic uint64_t elapsed_ns; /* since the worker started */
};

/* The worker counts into w->metrics directly: w->metrics.lines_in++. */

/* Counts c among the connections of the tick being taken (from the worker's timer pass). */
void metrics_count_conn(struct worker *w, const struct client *c);
/* Counts a connection's end by its reason (conn_close). */
void metrics_count_close(struct worker *w, const char *reason);
/* The tick: publishes the worker's counters and the connections counted since the last tick,
 * then starts counting connections again. */
void metrics_publish(struct worker *w, uint64_t elapsed_ns);
/* The page, as one msg (text/plain; version=0.0.4), or NULL without memory. */
struct msg *metrics_page(struct server *srv);

#endif
