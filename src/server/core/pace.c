/* pace: when a worker's flush waits, and for how long. */
#include "pace.h"

#include "client.h"
#include "defines.h"

void pace_line(struct pace *p, struct client *c, int waiting, uint64_t now)
{
    uint16_t t = (uint16_t)now;
    p->lines++;
    if (waiting) {
        if (p->until_ms)
            p->merged++; /* it shares the held write */
    } else {
        p->starts++;
        if ((uint16_t)(t - c->line_ms) <= FLUSH_MERGE_GAP_MS)
            p->close++;
    }
    c->line_ms = t;
}

/* The verdict for the next window: holds pay only if at least FLUSH_MERGE_SHARE_PCT % of
 * the new writes came within FLUSH_MERGE_GAP_MS of their client's previous line. */
static void window(struct pace *p, uint64_t now)
{
    p->merging = p->starts > 0 && p->close * 100 >= p->starts * FLUSH_MERGE_SHARE_PCT;
    p->starts = p->close = 0;
    p->since_ms = now;
}

int pace_hold(struct pace *p, unsigned ndirty, uint64_t now)
{
    if (now - p->since_ms >= FLUSH_PACE_WINDOW_MS)
        window(p, now);
    if (!ndirty) {
        p->until_ms = 0;
        return 0;
    }
    if (!p->until_ms) {
        /* Only while the worker keeps writing to many clients: a quiet one writes at once. */
        if (!p->merging || !p->big_flush_ms || now - p->big_flush_ms >= FLUSH_BUSY_MS)
            return 0;
        /* Lines that came together (1.5 or more per client) share their writes already. */
        if (p->lines * 2 >= ndirty * 3)
            return 0;
        p->until_ms = now + FLUSH_HOLD_MS;
        p->held = ndirty;
        p->merged = 0;
        return 1;
    }
    /* Over once every held client has its next line, or at the latest at until_ms. */
    if (now >= p->until_ms || p->merged >= p->held) {
        p->until_ms = 0;
        return 0;
    }
    return 1;
}

void pace_flushed(struct pace *p, unsigned n, uint64_t now)
{
    if (n >= FLUSH_BIG_CLIENTS)
        p->big_flush_ms = now;
    p->until_ms = 0;
    p->lines = 0;
}

int pace_timeout(const struct pace *p, int timeout, uint64_t now)
{
    if (!p->until_ms)
        return timeout;
    int left = p->until_ms > now ? (int)(p->until_ms - now) : 0;
    return timeout > left ? left : timeout;
}
