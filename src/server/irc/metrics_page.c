/* metrics_page: the web listener's /metrics page in the Prometheus text exposition format
 * (version 0.0.4): the workers' published counters (core/metrics.h) summed, and what the
 * shared state says now (users, channels, the history writer's backlog, the cluster's Redis
 * links). Built on the worker that answers the request; reads other workers' counters only
 * through their published atomics, and the shared state under its own locks. */
#include "metrics_page.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/cluster.h"
#include "common/version.h"
#include "core/metrics.h"
#include "core/msg.h"
#include "core/server.h"
#include "core/worker.h"
#include "state/chan.h"
#include "state/nick.h"
#include "store/history.h"

#define NS_PER_S 1e9

static const char *const transport_names[METRICS_TRANSPORTS] = {
    [METRICS_IRC] = "irc",
    [METRICS_IRC_TLS] = "irc-tls",
    [METRICS_WEBSOCKET] = "websocket",
    [METRICS_WEBSOCKET_TLS] = "websocket-tls",
    [METRICS_HTTP] = "http",
};

static void head(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP tcpchat_%s %s\n# TYPE tcpchat_%s %s\n", name, help, name, type);
}

/* A label value as the format wants it: backslash, double quote and newline escaped. */
static void label_value(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            fputc('\\', f);
        if (*s == '\n')
            fputs("\\n", f);
        else
            fputc(*s, f);
    }
}

static uint64_t load(const _Atomic uint64_t *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}

static void counters(FILE *f, struct server *srv)
{
#define METRICS_SUM(field, name, help)                                                             \
    {                                                                                              \
        uint64_t sum = 0;                                                                          \
        for (int i = 0; i < srv->nworkers; i++)                                                    \
            sum += load(&srv->workers[i].published.field);                                         \
        head(f, name "_total", "counter", help);                                                   \
        fprintf(f, "tcpchat_" name "_total %llu\n", (unsigned long long)sum);                      \
    }
    /* cppcheck-suppress unknownMacro ; the X-macro list of core/metrics.h, which it cannot see */
    METRICS_COUNTERS(METRICS_SUM)
#undef METRICS_SUM
    head(f, "busy_refusals_total", "counter",
         "Requests refused, clients paused or dropped because the server (or a queue of it) was "
         "busy, by reason");
#define METRICS_BUSY_SUM(field, reason, help)                                                      \
    {                                                                                              \
        uint64_t sum = 0;                                                                          \
        for (int i = 0; i < srv->nworkers; i++)                                                    \
            sum += load(&srv->workers[i].published.field);                                         \
        fprintf(f, "tcpchat_busy_refusals_total{reason=\"" reason "\"} %llu\n",                    \
                (unsigned long long)sum);                                                          \
    }
    /* cppcheck-suppress unknownMacro ; as above */
    METRICS_BUSY(METRICS_BUSY_SUM)
#undef METRICS_BUSY_SUM
    head(f, "backlog_bytes", "gauge",
         "Bytes accepted and not yet carried out: mailbox items waiting for their worker and "
         "messages waiting for the history writer (bound: --backlog-max)");
    fprintf(f, "tcpchat_backlog_bytes %lld\n", (long long)atomic_load(&srv->backlog));
    head(f, "connections", "gauge",
         "Open connections by transport and state, as the workers counted them at their last "
         "tick");
    for (int t = 0; t < METRICS_TRANSPORTS; t++) {
        for (int r = 0; r < 2; r++) {
            if (t == METRICS_HTTP && r)
                continue; /* nobody registers over HTTP */
            uint64_t sum = 0;
            for (int i = 0; i < srv->nworkers; i++)
                sum += load(&srv->workers[i].published.conns[t][r]);
            fprintf(f, "tcpchat_connections{transport=\"%s\",state=\"%s\"} %llu\n",
                    transport_names[t], r ? "registered" : "registering", (unsigned long long)sum);
        }
    }
    head(f, "worker_busy_seconds_total", "counter",
         "Time each worker thread spent working, not waiting for events");
    for (int i = 0; i < srv->nworkers; i++) {
        const struct metrics_published *p = &srv->workers[i].published;
        uint64_t elapsed = load(&p->elapsed_ns), idle = load(&p->idle_ns);
        fprintf(f, "tcpchat_worker_busy_seconds_total{worker=\"%d\"} %.3f\n", i,
                (double)(elapsed > idle ? elapsed - idle : 0) / NS_PER_S);
    }
}

static void state(FILE *f, struct server *srv)
{
    struct nick_stats st;
    nick_count(srv, &st);
    head(f, "users", "gauge", "Registered users, on this node and on the others of a cluster");
    fprintf(f, "tcpchat_users{node=\"local\"} %d\ntcpchat_users{node=\"remote\"} %d\n",
            st.users - st.remote, st.remote);
    head(f, "operators", "gauge", "IRC operators online");
    fprintf(f, "tcpchat_operators %d\n", st.opers);
    head(f, "channels", "gauge", "Channels in existence");
    fprintf(f, "tcpchat_channels %d\n", chan_count(srv));
    head(f, "connections_open", "gauge", "Open connections now (every transport and state)");
    fprintf(f, "tcpchat_connections_open %d\n", atomic_load(&srv->nclients));
}

static void history(FILE *f, struct server *srv)
{
    if (!srv->hist)
        return;
    struct history_stats hs;
    history_stats(srv, &hs);
    head(f, "history_queued", "gauge", "Messages waiting for the history writer");
    fprintf(f, "tcpchat_history_queued %d\n", hs.queued);
    head(f, "history_writer_lag_seconds", "gauge",
         "How long the oldest item waiting for the history writer has waited");
    fprintf(f, "tcpchat_history_writer_lag_seconds %.3f\n", (double)hs.lag_ms / 1000.0);
    head(f, "history_journal_bytes", "gauge", "Bytes of the history journal not yet deleted");
    fprintf(f, "tcpchat_history_journal_bytes %zu\n", hs.journal_bytes);
    head(f, "history_unstored_total", "counter",
         "Messages relayed without being stored since the journal last failed");
    fprintf(f, "tcpchat_history_unstored_total %lld\n", hs.unstored);
}

static void link_line(void *arg, const struct cluster_link *l)
{
    FILE *f = arg;
    fputs("tcpchat_cluster_link_up{link=\"", f);
    label_value(f, l->name);
    fprintf(f, "\"} %d\n", l->open_s >= 0);
}

static void link_sendq(void *arg, const struct cluster_link *l)
{
    FILE *f = arg;
    fputs("tcpchat_cluster_link_sendq{link=\"", f);
    label_value(f, l->name);
    fprintf(f, "\"} %d\n", l->sendq);
}

static void cluster(FILE *f, struct server *srv)
{
    if (!srv->cluster)
        return;
    head(f, "cluster_link_up", "gauge", "1 while the connection to a Redis server is up");
    cluster_links(srv, link_line, f);
    head(f, "cluster_link_sendq", "gauge", "Requests waiting for a Redis connection");
    cluster_links(srv, link_sendq, f);
    head(f, "cluster_nodes", "gauge", "Nodes of the network, as the last heartbeats say");
    fprintf(f, "tcpchat_cluster_nodes %d\n", cluster_nodes(srv));
}

/* The process's resident memory, from /proc/self/statm (its second field, in pages). */
static void process(FILE *f, struct server *srv)
{
    unsigned long long resident = 0;
    char buf[128];
    FILE *statm = fopen("/proc/self/statm", "r");
    if (statm) {
        if (fgets(buf, sizeof buf, statm)) {
            char *end;
            strtoull(buf, &end, 10);
            resident = strtoull(end, NULL, 10);
        }
        fclose(statm);
    }
    head(f, "resident_memory_bytes", "gauge", "Resident memory of the server process");
    fprintf(f, "tcpchat_resident_memory_bytes %llu\n",
            resident * (unsigned long long)sysconf(_SC_PAGESIZE));
    head(f, "start_time_seconds", "gauge", "When the server started (Unix time)");
    fprintf(f, "tcpchat_start_time_seconds %lld\n", (long long)srv->started);
    head(f, "build_info", "gauge", "The server's version");
    fprintf(f, "tcpchat_build_info{version=\"%s\"} 1\n", TCPCHAT_VERSION);
}

struct msg *metrics_page(struct server *srv)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    process(f, srv);
    state(f, srv);
    counters(f, srv);
    history(f, srv);
    cluster(f, srv);
    struct msg *m = NULL;
    if (fclose(f) == 0)
        m = msg_raw(text, len);
    free(text);
    return m;
}
