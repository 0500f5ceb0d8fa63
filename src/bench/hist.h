/* hist: a latency histogram with log-linear buckets (the HDR histogram idea): constant memory,
 * O(1) insert, about 1.6 % relative error, so a run can record millions of samples without
 * storing them. Values are nanoseconds. */
#ifndef TCPCHAT_BENCH_HIST_H
#define TCPCHAT_BENCH_HIST_H

#include <stdint.h>

/* Each power of two is split into 2^HIST_SUB_BITS linear sub-buckets: 64 gives a worst-case
 * relative error of 1/64 (1.6 %), plenty for p99.9 of latencies. */
#define HIST_SUB_BITS 6
#define HIST_SUB      (1u << HIST_SUB_BITS)
/* Values up to 2^HIST_EXP_MAX ns (about 18 minutes) are kept; larger ones land in the top
 * bucket. Longer than any run's timeout. */
#define HIST_EXP_MAX 40
/* Bucket rows: one for the exact values below HIST_SUB, one per exponent up to HIST_EXP_MAX. */
#define HIST_BUCKETS ((HIST_EXP_MAX - HIST_SUB_BITS + 2) * HIST_SUB)

struct hist {
    uint64_t count;
    uint64_t max; /* exact, not bucketed */
    uint64_t sum; /* for the mean */
    uint64_t buckets[HIST_BUCKETS];
};

void hist_init(struct hist *h);
void hist_add(struct hist *h, uint64_t value);
/* Value at quantile q (0..1): the upper edge of the bucket holding it, capped at the exact max.
 * 0 when empty. */
uint64_t hist_quantile(const struct hist *h, double q);

#endif
