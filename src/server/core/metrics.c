/* metrics: each worker's counters and their publication (metrics.h); the page itself is
 * irc/metrics_page.c, which knows the shared state it also shows. */
#include "metrics.h"

#include <string.h>

#include "client.h"
#include "conn.h"
#include "web.h"
#include "worker.h"

void metrics_count_conn(struct worker *w, const struct client *c)
{
    if (c->dead)
        return;
    int tls = c->tls.ssl != NULL;
    enum metrics_transport t = !c->web       ? (tls ? METRICS_IRC_TLS : METRICS_IRC)
                               : web_http(c) ? METRICS_HTTP
                               : tls         ? METRICS_WEBSOCKET_TLS
                                             : METRICS_WEBSOCKET;
    w->metrics.conns[t][c->registered ? 1 : 0]++;
}

/* The reasons conn.c, flood control and the timers give, by what they count as. */
void metrics_count_close(struct worker *w, const char *reason)
{
    struct metrics_worker *m = &w->metrics;
    m->closed++;
    if (strcmp(reason, CONN_SENDQ_EXCEEDED) == 0)
        m->closed_sendq++;
    else if (strcmp(reason, CONN_EXCESS_FLOOD) == 0)
        m->closed_flood++;
    else if (strcmp(reason, CONN_REG_TIMEOUT) == 0 || strcmp(reason, CONN_TLS_TIMEOUT) == 0 ||
             strcmp(reason, CONN_HTTP_TIMEOUT) == 0)
        m->closed_reg_timeout++;
    else if (strncmp(reason, CONN_PING_TIMEOUT, sizeof CONN_PING_TIMEOUT - 1) == 0)
        m->closed_ping_timeout++;
}

void metrics_publish(struct worker *w, uint64_t elapsed_ns)
{
    struct metrics_worker *m = &w->metrics;
    struct metrics_published *p = &w->published;
#define METRICS_STORE(f, name, help) atomic_store_explicit(&p->f, m->f, memory_order_relaxed);
    METRICS_COUNTERS(METRICS_STORE)
    METRICS_BUSY(METRICS_STORE)
#undef METRICS_STORE
    for (int t = 0; t < METRICS_TRANSPORTS; t++) {
        for (int r = 0; r < 2; r++)
            atomic_store_explicit(&p->conns[t][r], m->conns[t][r], memory_order_relaxed);
    }
    memset(m->conns, 0, sizeof m->conns);
    atomic_store_explicit(&p->idle_ns, m->idle_ns, memory_order_relaxed);
    atomic_store_explicit(&p->elapsed_ns, elapsed_ns, memory_order_relaxed);
}
