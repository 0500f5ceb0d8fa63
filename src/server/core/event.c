/* event: a relayed line with its per-capability renderings built once each, lazily. */
#include "event.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/ircmsg.h"

/* msgids: the server's start time in milliseconds and a counter, both base 36: unique for
 * the server's life and across restarts (two starts of one server cannot fall in the same
 * millisecond: the first must have stopped). The history store keeps a message once by its
 * msgid, so a repeated one would be lost from history. */
static atomic_uint_fast64_t msgid_counter;
static atomic_llong msgid_epoch;
static atomic_uint_fast64_t msgid_node; /* event_set_node: 0 on a single node */

static void base36(unsigned long long v, char *out, size_t cap)
{
    char tmp[16];
    size_t n = 0;
    do {
        tmp[n++] = "0123456789abcdefghijklmnopqrstuvwxyz"[v % 36];
        v /= 36;
    } while (v && n < sizeof tmp);
    size_t i = 0;
    for (; i < n && i + 1 < cap; i++)
        out[i] = tmp[n - 1 - i];
    out[i] = '\0';
}

static void stamp(struct event *ev)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long zero = 0;
    atomic_compare_exchange_strong(&msgid_epoch, &zero,
                                   (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000L);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(ev->time, sizeof ev->time, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ev->time + n, sizeof ev->time - n, ".%03ldZ", ts.tv_nsec / 1000000L);
    ev->time_ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000L;
    char a[16], b[16];
    base36((unsigned long long)atomic_load(&msgid_epoch), a, sizeof a);
    base36((unsigned long long)atomic_fetch_add(&msgid_counter, 1), b, sizeof b);
    uint_fast64_t node = atomic_load(&msgid_node);
    if (node) {
        char nd[16];
        base36((unsigned long long)node, nd, sizeof nd);
        snprintf(ev->msgid, sizeof ev->msgid, "%s.%s-%s", a, nd, b);
    } else {
        snprintf(ev->msgid, sizeof ev->msgid, "%s-%s", a, b);
    }
}

void event_set_node(uint64_t node)
{
    atomic_store(&msgid_node, node);
}

/* A new event with one reference and empty renderings around line (taken over); NULL (line
 * freed) without memory. */
static struct event *event_around(struct msg *line, const char *client_tags)
{
    struct event *ev = line ? calloc(1, sizeof *ev) : NULL;
    if (ev && client_tags && *client_tags && !(ev->client_tags = strdup(client_tags))) {
        free(ev);
        ev = NULL;
    }
    if (!ev) {
        msg_unref(line);
        return NULL;
    }
    ev->line = line;
    atomic_init(&ev->refs, 1);
    for (int i = 0; i < EV_VARIANTS; i++)
        atomic_init(&ev->render[i], NULL);
    return ev;
}

struct event *event_from(const char *client_tags, const char *msgid, const char *time,
                         long long time_ms, const char *line)
{
    struct event *ev = event_around(msg_printf("%s", line), client_tags);
    if (!ev)
        return NULL;
    snprintf(ev->msgid, sizeof ev->msgid, "%s", msgid);
    snprintf(ev->time, sizeof ev->time, "%s", time);
    ev->time_ms = time_ms;
    return ev;
}

struct event *event_new(const char *client_tags, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    struct msg *line = msg_vprintf(fmt, ap);
    va_end(ap);
    struct event *ev = event_around(line, client_tags);
    if (ev)
        stamp(ev);
    return ev;
}

int event_set_ext(struct event *ev, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ev->line_ext = msg_vprintf(fmt, ap);
    va_end(ap);
    return ev->line_ext ? 0 : -1;
}

/* Builds the rendering for variant (never the plain one, which is ev->line itself). */
static struct msg *build(const struct event *ev, unsigned variant)
{
    const struct msg *base = (variant & EV_EXTJOIN) && ev->line_ext ? ev->line_ext : ev->line;
    char tags[IRC_TAGS_MAX + 1];
    size_t n = 0;
    if (variant & EV_TIME)
        n += (size_t)snprintf(tags + n, sizeof tags - n, ";time=%s", ev->time);
    if ((variant & EV_ACCOUNT) && ev->account[0])
        n += (size_t)snprintf(tags + n, sizeof tags - n, ";account=%s", ev->account);
    if (variant & EV_TAGS) {
        n += (size_t)snprintf(tags + n, sizeof tags - n, ";msgid=%s", ev->msgid);
        if (ev->bot)
            n += (size_t)snprintf(tags + n, sizeof tags - n, ";bot");
        if (ev->client_tags && n + strlen(ev->client_tags) + 2 < sizeof tags)
            n += (size_t)snprintf(tags + n, sizeof tags - n, ";%s", ev->client_tags);
    }
    if (n == 0) /* extended-join alone */
        return msg_ref((struct msg *)base);
    tags[0] = '@'; /* the first ';' becomes the '@' */
    struct msg *m = malloc(sizeof *m + n + 1 + base->len + 1);
    if (!m)
        return NULL;
    atomic_init(&m->refs, 1);
    memcpy(m->data, tags, n);
    m->data[n] = ' ';
    memcpy(m->data + n + 1, base->data, base->len + 1);
    m->len = (unsigned)(n + 1 + base->len);
    return m;
}

struct msg *event_render(struct event *ev, unsigned variant)
{
    variant &= EV_VARIANTS - 1;
    if (ev->tags_only && !(variant & EV_TAGS))
        return NULL;
    if (variant == 0 || (variant == EV_EXTJOIN && !ev->line_ext))
        return ev->line;
    struct msg *m = atomic_load_explicit(&ev->render[variant], memory_order_acquire);
    if (m)
        return m;
    struct msg *mine = build(ev, variant);
    if (!mine)
        return NULL;
    struct msg *expected = NULL;
    if (atomic_compare_exchange_strong_explicit(&ev->render[variant], &expected, mine,
                                                memory_order_acq_rel, memory_order_acquire))
        return mine;
    msg_unref(mine); /* another worker built it first */
    return expected;
}

struct event *event_ref(struct event *ev)
{
    atomic_fetch_add_explicit(&ev->refs, 1, memory_order_relaxed);
    return ev;
}

void event_unref(struct event *ev)
{
    if (!ev || atomic_fetch_sub_explicit(&ev->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (int i = 0; i < EV_VARIANTS; i++)
        msg_unref(atomic_load(&ev->render[i]));
    msg_unref(ev->line);
    msg_unref(ev->line_ext);
    free(ev->client_tags);
    free(ev);
}
