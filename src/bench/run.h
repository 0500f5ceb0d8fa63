/* run: one benchmark run, from the first connect to the last delivery, and what it measured.
 * Phases: connect + register (staged) -> join -> wait for the JOIN notices -> send -> drain. */
#ifndef TCPCHAT_BENCH_RUN_H
#define TCPCHAT_BENCH_RUN_H

#include "hist.h"
#include "opts.h"
#include "procstat.h"

#include <stdint.h>

/* Distinct disconnect reasons kept; any further ones are counted under "other". */
#define RUN_REASONS_MAX 8
#define RUN_REASON_LEN  96
#define RUN_WHY_LEN     256

enum run_status { RUN_OK, RUN_TIMEOUT, RUN_FAILED };

struct run_reason {
    char text[RUN_REASON_LEN];
    uint32_t count;
};

/* A server snapshot at a phase boundary; valid only when ok. */
struct run_server_snap {
    int ok;
    struct procstat st;
};

struct bench_result {
    enum run_status status;
    char why[RUN_WHY_LEN]; /* what stopped a run that did not complete */
    const char *phase;     /* phase reached */
    int size;              /* payload size actually sent */
    uint32_t connected, registered, joined;
    uint32_t failed_connect, failed_join, nick_retries;
    uint32_t reconnects; /* connections reopened after a drop before registration */
    double connect_s;    /* start -> last TCP connect completed */
    double register_s;   /* start -> last 001 */
    double join_s;       /* JOINs sent -> last 366 */
    double join_seen_s;  /* JOINs sent -> every JOIN notice seen (or last one, if some missing) */
    uint64_t join_notices, join_notices_expected;
    double send_s;    /* first message -> last one written */
    double deliver_s; /* first message -> last delivery */
    double elapsed_s;
    uint64_t sent, expected, delivered, lost, reordered, gaps, foreign;
    uint64_t send_refused; /* 404 and similar replies to a PRIVMSG */
    double deliveries_per_s;
    double sched_lag_max_ms; /* fixed-rate mode: how late the bench sent against its schedule */
    struct hist latency;     /* receive time - send time, ns */
    uint32_t disconnects;
    uint32_t reasons_other;
    struct run_reason reasons[RUN_REASONS_MAX];
    /* srv_joined is taken after --settle (srv_last_join: at the last JOIN notice). */
    struct run_server_snap srv_start, srv_registered, srv_last_join, srv_joined, srv_end;
    double bench_cpu_s, bench_cpu_send_s;
};

/* Runs the benchmark described by o, filling r. Returns 0 when the run completed (r->status
 * RUN_OK), -1 otherwise (timeout, every client failed, setup error: r->why says which). */
int run_bench(const struct bench_opts *o, struct bench_result *r);

#endif
