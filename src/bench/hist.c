/* hist: log-linear latency histogram. A value's bucket is its power of two (the exponent)
 * and its top HIST_SUB_BITS bits below the leading one (the sub-bucket); values below
 * HIST_SUB are exact. */
#include "hist.h"

#include <string.h>

static unsigned hist_index(uint64_t v)
{
    if (v < HIST_SUB)
        return (unsigned)v;
    unsigned exp = 63u - (unsigned)__builtin_clzll(v); /* position of the leading one */
    if (exp > HIST_EXP_MAX)
        return HIST_BUCKETS - 1;
    unsigned shift = exp - HIST_SUB_BITS;
    unsigned sub = (unsigned)(v >> shift) & (HIST_SUB - 1);
    return (shift + 1) * HIST_SUB + sub;
}

/* The largest value that maps to bucket i. */
static uint64_t hist_upper(unsigned i)
{
    if (i < HIST_SUB)
        return i;
    unsigned shift = i / HIST_SUB - 1;
    uint64_t sub = i % HIST_SUB;
    return ((HIST_SUB + sub + 1) << shift) - 1;
}

void hist_init(struct hist *h)
{
    memset(h, 0, sizeof *h);
}

void hist_add(struct hist *h, uint64_t value)
{
    h->buckets[hist_index(value)]++;
    h->count++;
    h->sum += value;
    if (value > h->max)
        h->max = value;
}

uint64_t hist_quantile(const struct hist *h, double q)
{
    if (h->count == 0)
        return 0;
    /* The rank-th smallest sample, 1-based; q = 1 is the maximum. */
    uint64_t rank = (uint64_t)(q * (double)h->count + 0.5);
    if (rank < 1)
        rank = 1;
    if (rank > h->count)
        rank = h->count;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= rank) {
            uint64_t up = hist_upper(i);
            return up < h->max ? up : h->max;
        }
    }
    return h->max;
}
