/* monitor: a hash of folded nicks, each with a small array of watchers. */
#include "monitor.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ircmsg.h"
#include "common/ircname.h"
#include "core/caps.h"
#include "core/client.h"
#include "core/event.h"
#include "core/msg.h"
#include "state/chan.h"
#include "core/fanout.h"
#include "core/hash.h"
#include "core/numerics.h"
#include "core/send.h"

struct watcher {
    int worker;
    uint64_t id;
};

struct watched {
    char key[IRC_NICK_MAX + 1]; /* folded */
    struct watcher *w;
    int n, cap;
    UT_hash_handle hh;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct watched *table;

int monitor_add(const char *nick, int worker, uint64_t id)
{
    char key[IRC_NICK_MAX + 1];
    ircname_fold(nick, key, sizeof key);
    int rc = 0;
    pthread_mutex_lock(&lock);
    struct watched *e;
    HASH_FIND_STR(table, key, e);
    if (!e) {
        if (!(e = calloc(1, sizeof *e))) {
            rc = -1;
            goto out;
        }
        memcpy(e->key, key, sizeof key);
        HASH_ADD_STR(table, key, e);
    }
    for (int i = 0; i < e->n; i++)
        if (e->w[i].id == id)
            goto out; /* already */
    if (e->n == e->cap) {
        int cap = e->cap ? e->cap * 2 : 4;
        struct watcher *grown = realloc(e->w, (size_t)cap * sizeof *grown);
        if (!grown) {
            rc = -1;
            goto out;
        }
        e->w = grown;
        e->cap = cap;
    }
    e->w[e->n++] = (struct watcher){worker, id};
out:
    pthread_mutex_unlock(&lock);
    return rc;
}

void monitor_remove(const char *nick, uint64_t id)
{
    char key[IRC_NICK_MAX + 1];
    ircname_fold(nick, key, sizeof key);
    pthread_mutex_lock(&lock);
    struct watched *e;
    HASH_FIND_STR(table, key, e);
    for (int i = 0; e && i < e->n; i++) {
        if (e->w[i].id == id) {
            e->w[i] = e->w[--e->n];
            break;
        }
    }
    if (e && e->n == 0) {
        HASH_DEL(table, e);
        free(e->w);
        free(e);
    }
    pthread_mutex_unlock(&lock);
}

/* On the watcher's worker: 730 (op 1) or 731 (op 0) for text. */
static void tell(struct client *c, int op, int result, const char *text)
{
    (void)result;
    if (!c->registered || c->closing)
        return;
    if (op)
        send_reply(c, RPL_MONONLINE, text);
    else
        send_reply(c, RPL_MONOFFLINE, text);
}

void monitor_notify(struct server *srv, const char *nick, const char *source, int online)
{
    char key[IRC_NICK_MAX + 1];
    ircname_fold(nick, key, sizeof key);
    pthread_mutex_lock(&lock);
    struct watched *e;
    HASH_FIND_STR(table, key, e);
    for (int i = 0; e && i < e->n; i++)
        fanout_call(srv, e->w[i].worker, e->w[i].id, tell, online, 0, online ? source : nick);
    pthread_mutex_unlock(&lock);
}

/* On the watcher's worker: an extended-monitor line (op: the capability it needs too). */
static void tell_extended(struct client *c, int op, int result, const char *text)
{
    (void)result;
    if (c->registered && !c->closing && (c->caps & CAP_EXTENDED_MONITOR) &&
        (c->caps & (unsigned)op))
        send_line(c, "%s", text);
}

void monitor_extended(struct client *c, const struct event *ev, unsigned cap)
{
    char key[IRC_NICK_MAX + 1];
    ircname_fold(c->nick, key, sizeof key);
    /* The watchers first (this lock is a leaf: chan_shares takes channel locks). */
    struct watcher *ws = NULL;
    int n = 0;
    pthread_mutex_lock(&lock);
    struct watched *e;
    HASH_FIND_STR(table, key, e);
    if (e && (ws = malloc((size_t)e->n * sizeof *ws)) != NULL) {
        n = e->n;
        memcpy(ws, e->w, (size_t)n * sizeof *ws);
    }
    pthread_mutex_unlock(&lock);
    char line[IRC_LINE_MAX + 1];
    size_t len = ev->line->len >= 2 ? ev->line->len - 2 : 0; /* without CR LF */
    snprintf(line, sizeof line, "%.*s", (int)len, ev->line->data);
    for (int i = 0; i < n; i++) {
        if (ws[i].id != c->id && !chan_shares(c, ws[i].id))
            fanout_call(client_srv(c), ws[i].worker, ws[i].id, tell_extended, (int)cap, 0, line);
    }
    free(ws);
}

void monitor_free(void)
{
    pthread_mutex_lock(&lock);
    struct watched *e, *tmp;
    HASH_ITER(hh, table, e, tmp)
    {
        /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): false positive, delete in HASH_ITER */
        HASH_DEL(table, e);
        free(e->w);
        free(e);
    }
    pthread_mutex_unlock(&lock);
}
