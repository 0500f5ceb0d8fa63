/* pace: output pacing, the decision whether a worker's flush waits a moment so that the next
 * lines for the same clients leave with those already queued, one writev each. A write to a
 * socket costs a few microseconds of kernel time whatever it carries, so in a busy room a
 * hold that merges two lines per write halves the server's work; a hold that merges nothing
 * only adds its wait. So a worker holds only while its clients' lines come close together,
 * not when the lines queued already share their writes, and it lets the flush go as soon as
 * every held client has its next line (defines.h FLUSH_*, docs/server-behaviour.md "Output
 * pacing"). Worker-owned. */
#ifndef TCPCHAT_PACE_H
#define TCPCHAT_PACE_H

#include <stdint.h>

struct client;

struct pace {
    uint64_t big_flush_ms; /* when a flush last wrote to FLUSH_BIG_CLIENTS or more */
    uint64_t until_ms;     /* the hold's latest end; 0: no hold */
    unsigned held;         /* clients waiting when the hold began */
    unsigned merged;       /* lines queued since for clients already waiting */
    unsigned lines;        /* lines queued since the last flush */
    /* This window's lines that found their client with nothing pending (starts), and how many
     * of them came within FLUSH_MERGE_GAP_MS of that client's previous line (close). */
    unsigned starts, close;
    uint64_t since_ms;
    int merging; /* the last window's verdict: lines come close together, holds pay */
};

/* A line is being queued for c (waiting: c has lines pending already) at now (ms). */
void pace_line(struct pace *p, struct client *c, int waiting, uint64_t now);
/* Once a turn: 1 if this turn's flush of ndirty waiting clients is held (the caller then
 * flushes only the clients that sent a command), 0 if it goes now (ndirty 0: the flush must
 * go, a hold ends). */
int pace_hold(struct pace *p, unsigned ndirty, uint64_t now);
/* A flush wrote to n clients at now. */
void pace_flushed(struct pace *p, unsigned n, uint64_t now);
/* The loop's wait, shortened to the end of a hold. */
int pace_timeout(const struct pace *p, int timeout, uint64_t now);

#endif
