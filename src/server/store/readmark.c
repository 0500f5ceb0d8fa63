/* readmark: a hash of folded accounts, each with a hash of its targets' last-read times and
 * a small array of its connections. */
#include "readmark.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/ircmsg.h"
#include "common/ircname.h"
#include "core/client.h"
#include "core/defines.h"
#include "core/hash.h"
#include "store/history.h"

struct mark {
    char target[IRC_CHANNEL_MAX + 1]; /* folded channel or nick */
    long long ms;
    UT_hash_handle hh;
};

struct reader {
    char account[IRC_NICK_MAX + 1]; /* folded */
    struct mark *marks;
    int nmarks;
    struct readmark_session sess[READMARK_SESSIONS_MAX];
    int nsess;
    UT_hash_handle hh;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct reader *table;

void readmark_owner(const struct client *c, char *out, size_t cap)
{
    if (c->account[0])
        ircname_fold(c->account, out, cap);
    else
        snprintf(out, cap, "~%llu", (unsigned long long)c->id);
}

/* The account's entry (lock held), made when make; NULL if none or without memory. */
static struct reader *reader(const char *account, int make)
{
    struct reader *r = NULL;
    HASH_FIND_STR(table, account, r);
    if (!r && make && (r = calloc(1, sizeof *r))) {
        snprintf(r->account, sizeof r->account, "%s", account);
        HASH_ADD_STR(table, account, r);
    }
    return r;
}

/* Sets target's time in r (lock held) if later; the time kept, or -1. */
static long long put(struct reader *r, const char *target, long long ms, int *changed)
{
    struct mark *m = NULL;
    *changed = 0;
    HASH_FIND_STR(r->marks, target, m);
    if (!m) {
        if (r->nmarks >= READMARK_TARGETS_MAX || !(m = calloc(1, sizeof *m)))
            return -1;
        snprintf(m->target, sizeof m->target, "%s", target);
        m->ms = -1;
        HASH_ADD_STR(r->marks, target, m);
        r->nmarks++;
    }
    if (ms > m->ms) {
        m->ms = ms;
        *changed = 1;
    }
    return m->ms;
}

long long readmark_get(const char *account, const char *target)
{
    long long ms = -1;
    pthread_mutex_lock(&lock);
    struct reader *r = reader(account, 0);
    struct mark *m = NULL;
    if (r)
        HASH_FIND_STR(r->marks, target, m);
    if (m)
        ms = m->ms;
    pthread_mutex_unlock(&lock);
    return ms;
}

long long readmark_set(struct server *srv, const char *account, const char *target, long long ms,
                       int *changed)
{
    long long kept = -1;
    *changed = 0;
    pthread_mutex_lock(&lock);
    struct reader *r = reader(account, 1);
    if (r)
        kept = put(r, target, ms, changed);
    pthread_mutex_unlock(&lock);
    if (*changed && account[0] != '~') /* a connection's own die with it */
        history_mark(srv, account, target, kept);
    return kept;
}

void readmark_rename(const char *from, const char *to)
{
    pthread_mutex_lock(&lock);
    struct reader *r, *tmp;
    HASH_ITER(hh, table, r, tmp)
    {
        struct mark *m = NULL, *old = NULL;
        HASH_FIND_STR(r->marks, to, old);
        if (old) {
            HASH_DEL(r->marks, old);
            free(old);
            r->nmarks--;
        }
        HASH_FIND_STR(r->marks, from, m);
        if (m) {
            HASH_DEL(r->marks, m);
            snprintf(m->target, sizeof m->target, "%s", to);
            HASH_ADD_STR(r->marks, target, m);
        }
    }
    pthread_mutex_unlock(&lock);
}

void readmark_load(const char *account, const char *target, long long ms)
{
    int changed;
    pthread_mutex_lock(&lock);
    struct reader *r = reader(account, 1);
    if (r)
        (void)put(r, target, ms, &changed);
    pthread_mutex_unlock(&lock);
}

void readmark_attach(const char *account, int worker, uint64_t id)
{
    pthread_mutex_lock(&lock);
    struct reader *r = reader(account, 1);
    int known = 0;
    for (int i = 0; r && i < r->nsess; i++)
        known = known || r->sess[i].id == id;
    if (r && !known) {
        if (r->nsess == READMARK_SESSIONS_MAX) { /* the oldest goes */
            memmove(r->sess, r->sess + 1, (READMARK_SESSIONS_MAX - 1) * sizeof r->sess[0]);
            r->nsess--;
        }
        r->sess[r->nsess++] = (struct readmark_session){.worker = worker, .id = id};
    }
    pthread_mutex_unlock(&lock);
}

void readmark_detach(const char *account, uint64_t id)
{
    pthread_mutex_lock(&lock);
    struct reader *r = reader(account, 0);
    for (int i = 0; r && i < r->nsess; i++) {
        if (r->sess[i].id == id) {
            r->sess[i] = r->sess[--r->nsess];
            break;
        }
    }
    pthread_mutex_unlock(&lock);
}

static void reader_free(struct reader *r)
{
    struct mark *m, *mt;
    HASH_ITER(hh, r->marks, m, mt)
    {
        /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): false positive, delete in HASH_ITER */
        HASH_DEL(r->marks, m);
        free(m);
    }
    free(r);
}

void readmark_closing(const struct client *c)
{
    char own[IRC_NICK_MAX + 1];
    snprintf(own, sizeof own, "~%llu", (unsigned long long)c->id);
    if (c->account[0]) {
        char account[IRC_NICK_MAX + 1];
        readmark_owner(c, account, sizeof account);
        readmark_detach(account, c->id);
    }
    pthread_mutex_lock(&lock);
    struct reader *r = reader(own, 0);
    if (r) {
        HASH_DEL(table, r);
        reader_free(r);
    }
    pthread_mutex_unlock(&lock);
}

int readmark_sessions(const char *account, struct readmark_session *out, int max)
{
    int n = 0;
    pthread_mutex_lock(&lock);
    struct reader *r = reader(account, 0);
    for (int i = 0; r && i < r->nsess && n < max; i++)
        out[n++] = r->sess[i];
    pthread_mutex_unlock(&lock);
    return n;
}

void readmark_format(long long ms, char *out, size_t cap)
{
    if (ms < 0) {
        snprintf(out, cap, "*");
        return;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char day[32];
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, cap, "timestamp=%s.%03lldZ", day, ms % 1000);
}

void readmark_free(void)
{
    pthread_mutex_lock(&lock);
    struct reader *r, *tmp;
    HASH_ITER(hh, table, r, tmp)
    {
        /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): false positive, delete in HASH_ITER */
        HASH_DEL(table, r);
        reader_free(r);
    }
    pthread_mutex_unlock(&lock);
}
