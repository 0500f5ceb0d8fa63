/* event: a relayed line with its per-capability renderings built once each, lazily. */
#include "event.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/ircmsg.h"

static struct msg *build_ml_lines(const struct event *ev, unsigned variant);

/* A msg's one line without its CR LF. */
static unsigned line_len(const struct msg *m)
{
    return m->len >= 2 ? m->len - 2 : 0;
}

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

/* A stamp given to an event made elsewhere (a cluster's other node), or NULL: stamp it here. */
struct given_stamp {
    const char *msgid, *time;
    long long time_ms;
    const char *const *msgids; /* each line's, or NULL */
};

static struct event *multiline(const char *client_tags, const char *account, int bot,
                               const char *source, const char *verb, const char *target, int n,
                               const char *const *text, const int *concat,
                               const struct given_stamp *given)
{
    /* Its line is the plain rendering, built below once the lines exist. */
    struct event *ev = given
                           ? event_from(client_tags, given->msgid, given->time, given->time_ms, "")
                           : event_new(client_tags, ":%s %s %s", source, verb, target);
    struct event_ml *ml = ev ? calloc(1, sizeof *ml + (size_t)n * sizeof ml->lines[0]) : NULL;
    if (!ml) {
        event_unref(ev);
        return NULL;
    }
    ev->ml = ml;
    snprintf(ev->account, sizeof ev->account, "%s", account);
    ev->bot = bot;
    for (int i = 0; i < EV_VARIANTS; i++)
        atomic_init(&ml->render[i], NULL);
    /* The reference only has to be unique among a recipient's open batches: the msgid's
     * letters and digits are unique on the server. */
    size_t r = 0;
    for (const char *p = ev->msgid; *p && r + 1 < sizeof ml->ref; p++)
        if ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z'))
            ml->ref[r++] = *p;
    ml->ref[r] = '\0';
    ml->start = msg_printf(":%s BATCH +%s draft/multiline %s", source, ml->ref, target);
    ml->end = msg_printf(":%s BATCH -%s", source, ml->ref);
    int failed = !ml->start || !ml->end, first = 1;
    for (int i = 0; i < n && !failed; i++) {
        struct event *l = event_new(NULL, ":%s %s %s :%s", source, verb, target, text[i]);
        if (!l) {
            failed = 1;
            break;
        }
        ml->lines[ml->n++] =
            (struct event_ml_line){.ev = l, .concat = concat[i] != 0, .blank = text[i][0] == '\0'};
        memcpy(l->time, ev->time, sizeof l->time);
        l->time_ms = ev->time_ms;
        memcpy(l->account, ev->account, sizeof l->account);
        l->bot = bot;
        if (given && given->msgids)
            snprintf(l->msgid, sizeof l->msgid, "%s", given->msgids[i]);
        if (first && text[i][0]) {
            /* The first line stands for the message: in history, and for clients without
             * draft/multiline, which get its msgid and client tags on it. */
            first = 0;
            memcpy(l->msgid, ev->msgid, sizeof l->msgid);
            if (ev->client_tags && !(l->client_tags = strdup(ev->client_tags)))
                failed = 1;
        }
    }
    struct msg *plain = failed ? NULL : build_ml_lines(ev, 0);
    if (!plain) {
        event_unref(ev);
        return NULL;
    }
    msg_unref(ev->line);
    ev->line = plain;
    return ev;
}

struct event *event_new_multiline(const char *client_tags, const char *account, int bot,
                                  const char *source, const char *verb, const char *target, int n,
                                  const char *const *text, const int *concat)
{
    return multiline(client_tags, account, bot, source, verb, target, n, text, concat, NULL);
}

struct event *event_from_multiline(const char *client_tags, const char *account, int bot,
                                   const char *msgid, const char *time, long long time_ms,
                                   const char *source, const char *verb, const char *target, int n,
                                   const char *const *text, const int *concat,
                                   const char *const *msgids)
{
    struct given_stamp given = {msgid, time, time_ms, msgids};
    return multiline(client_tags, account, bot, source, verb, target, n, text, concat, &given);
}

int event_set_ext(struct event *ev, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ev->line_ext = msg_vprintf(fmt, ap);
    va_end(ap);
    return ev->line_ext ? 0 : -1;
}

/* The tags of ev for variant, each after a ';' ("" for none); returns their length. */
static size_t tags_of(const struct event *ev, unsigned variant, char *tags, size_t cap)
{
    size_t n = 0;
    tags[0] = '\0';
    if (variant & EV_TIME)
        n += (size_t)snprintf(tags + n, cap - n, ";time=%s", ev->time);
    if ((variant & EV_ACCOUNT) && ev->account[0])
        n += (size_t)snprintf(tags + n, cap - n, ";account=%s", ev->account);
    if (variant & EV_TAGS) {
        n += (size_t)snprintf(tags + n, cap - n, ";msgid=%s", ev->msgid);
        if (ev->bot)
            n += (size_t)snprintf(tags + n, cap - n, ";bot");
        if (ev->client_tags && n + strlen(ev->client_tags) + 2 < cap)
            n += (size_t)snprintf(tags + n, cap - n, ";%s", ev->client_tags);
    }
    return n;
}

/* Builds the rendering for variant (never the plain one, which is ev->line itself). */
static struct msg *build(const struct event *ev, unsigned variant)
{
    const struct msg *base = (variant & EV_EXTJOIN) && ev->line_ext ? ev->line_ext : ev->line;
    char tags[IRC_TAGS_MAX + 1];
    size_t n = tags_of(ev, variant, tags, sizeof tags);
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

/* A multiline message's lines one by one, for a client without draft/multiline (the spec's
 * fallback): the message's tags, msgid included, on the first line sent; time and account on
 * the others; blank lines left out; concatenated lines kept as the sender split them. */
static struct msg *build_ml_lines(const struct event *ev, unsigned variant)
{
    struct msgbuf b = {0};
    char tags[IRC_TAGS_MAX + 1];
    int first = 1;
    for (int i = 0; i < ev->ml->n; i++) {
        const struct event_ml_line *l = &ev->ml->lines[i];
        if (l->blank)
            continue;
        unsigned v = first ? variant : variant & (EV_TIME | EV_ACCOUNT);
        size_t n = tags_of(ev, v, tags, sizeof tags);
        msgbuf_raw(&b, n ? tags + 1 : NULL, l->ev->line->data, line_len(l->ev->line));
        first = 0;
    }
    return msgbuf_finish(&b);
}

/* A multiline message as one draft/multiline BATCH, for a client with the capability: the
 * message's tags (time, msgid...) on the BATCH start, batch= and draft/multiline-concat on
 * its lines (the spec's example). One msg, so that it is queued whole: nothing the channel
 * says in between can land inside it. */
static struct msg *build_ml_batch(const struct event *ev, unsigned variant)
{
    const struct event_ml *ml = ev->ml;
    struct msgbuf b = {0};
    char tags[IRC_TAGS_MAX + 1];
    size_t n = tags_of(ev, variant, tags, sizeof tags);
    msgbuf_raw(&b, n ? tags + 1 : NULL, ml->start->data, line_len(ml->start));
    for (int i = 0; i < ml->n; i++) {
        const struct event_ml_line *l = &ml->lines[i];
        snprintf(tags, sizeof tags, "batch=%s%s", ml->ref,
                 l->concat ? ";draft/multiline-concat" : "");
        msgbuf_raw(&b, tags, l->ev->line->data, line_len(l->ev->line));
    }
    msgbuf_raw(&b, NULL, ml->end->data, line_len(ml->end));
    return msgbuf_finish(&b);
}

struct msg *event_render(struct event *ev, unsigned variant)
{
    int batch = ev->ml && (variant & EV_MULTILINE);
    variant &= EV_VARIANTS - 1;
    if (ev->tags_only && !(variant & EV_TAGS))
        return NULL;
    if (!batch && (variant == 0 || (variant == EV_EXTJOIN && !ev->line_ext)))
        return ev->line;
    _Atomic(struct msg *) *slot = batch ? &ev->ml->render[variant] : &ev->render[variant];
    struct msg *m = atomic_load_explicit(slot, memory_order_acquire);
    if (m)
        return m;
    struct msg *mine = batch    ? build_ml_batch(ev, variant)
                       : ev->ml ? build_ml_lines(ev, variant)
                                : build(ev, variant);
    if (!mine)
        return NULL;
    struct msg *expected = NULL;
    if (atomic_compare_exchange_strong_explicit(slot, &expected, mine, memory_order_acq_rel,
                                                memory_order_acquire))
        return mine;
    msg_unref(mine); /* another worker built it first */
    return expected;
}

size_t event_cost(const struct event *ev)
{
    size_t tags = ev->client_tags ? strlen(ev->client_tags) : 0;
    size_t line = ev->line ? sizeof *ev->line + ev->line->len : 0;
    size_t n = sizeof *ev + tags + 3 * line + 2 * tags;
    if (ev->ml) /* each line is an event too, its text already counted in line */
        n += sizeof *ev->ml + (size_t)ev->ml->n * (sizeof ev->ml->lines[0] + sizeof *ev);
    return n;
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
    if (ev->ml) {
        for (int i = 0; i < EV_VARIANTS; i++)
            msg_unref(atomic_load(&ev->ml->render[i]));
        for (int i = 0; i < ev->ml->n; i++)
            event_unref(ev->ml->lines[i].ev);
        msg_unref(ev->ml->start);
        msg_unref(ev->ml->end);
        free(ev->ml);
    }
    free(ev->client_tags);
    free(ev);
}
