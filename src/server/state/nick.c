/* nick: the server-wide nick table and user directory. */
#include "nick.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/pool.h"
#include "core/server.h"
#include "monitor.h"

/* One held nick. Kept small, since there is one per connection: the user's details live
 * in heap strings of their own length, filled in as the user registers, goes away or logs in. */
struct nick_entry {
    UT_hash_handle hh;
    uint64_t id;
    int worker;
    unsigned registered : 1;
    unsigned invisible : 1;
    unsigned wallops : 1;
    unsigned secure : 1;
    unsigned oper : 1;
    unsigned bot : 1;
    char nick[IRC_NICK_MAX + 1]; /* also the table key, by its fold (below) */
    char *ident;                 /* "user\0host\0realname\0" once registered, else NULL */
    char *away;                  /* NULL when not away */
    char *account;               /* NULL when not logged in */
};

/* The table is keyed by each nick as its holder wrote it, hashed (FNV-1a) and compared by its
 * rfc1459 fold, so an entry needs no folded copy of its nick. The fold maps byte to byte:
 * names equal under it have the same length, which uthash compares first. */
static unsigned nick_hash(const void *key, size_t len)
{
    const unsigned char *p = key;
    unsigned h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ ircname_fold_char(p[i])) * 16777619u;
    return h;
}

static int nick_keycmp(const void *a, const void *b, size_t len)
{
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < len; i++) {
        if (ircname_fold_char(x[i]) != ircname_fold_char(y[i]))
            return 1;
    }
    return 0;
}

#undef HASH_FUNCTION
#undef HASH_KEYCMP
#define HASH_FUNCTION(keyptr, keylen, hashv) ((hashv) = nick_hash((keyptr), (keylen)))
#define HASH_KEYCMP(a, b, n)                 nick_keycmp((a), (b), (n))

static struct nick_entry *nick_lookup(struct server *srv, const char *nick)
{
    size_t len = strlen(nick);
    struct nick_entry *e = NULL;
    if (len <= IRC_NICK_MAX)
        HASH_FIND(hh, srv->nicks, nick, (unsigned)len, e);
    return e;
}

/* The entry and its strings live in the pool (pool.h), like the connection they describe. */
static void text_free(char *text)
{
    if (text)
        pool_free(text, strlen(text) + 1);
}

/* "user\0host\0realname\0": three strings in one allocation. */
static void ident_free(char *ident)
{
    if (!ident)
        return;
    size_t lu = strlen(ident), lh = strlen(ident + lu + 1);
    pool_free(ident, lu + 1 + lh + 1 + strlen(ident + lu + 1 + lh + 1) + 1);
}

static void entry_free(struct nick_entry *e)
{
    ident_free(e->ident);
    text_free(e->away);
    text_free(e->account);
    pool_free(e, sizeof *e);
}

/* Replaces *slot with a copy of text (NULL for ""). Keeps the old value without memory. */
static void set_text(char **slot, const char *text)
{
    char *copy = NULL;
    if (*text && !(copy = pool_strdup(text)))
        return;
    text_free(*slot);
    *slot = copy;
}

static int gives_way(const struct nick_entry *e);
static void entry_drop(struct server *srv, struct nick_entry *e);
static void tell_monitors(struct server *srv, const struct nick_entry *e, int online);

/* nick_claim; granted: the network has given the nick, so a local holder still registering
 * gives way. */
static int claim(struct server *srv, const char *nick, const char *old, int worker, uint64_t id,
                 int granted)
{
    int rc = 0;
    pthread_mutex_lock(&srv->nick_lock);
    struct nick_entry *e = nick_lookup(srv, nick);
    if (e && e->id != id && granted && gives_way(e)) {
        entry_drop(srv, e);
        e = NULL;
    }
    if (e) {
        /* Only a case change of one's own nick finds oneself here. */
        if (e->id == id)
            snprintf(e->nick, sizeof e->nick, "%s", nick);
        else
            rc = -1;
        goto out;
    }
    struct nick_entry *mine = old && *old ? nick_lookup(srv, old) : NULL;
    int renamed = 0;
    if (mine && mine->id == id) {
        HASH_DEL(srv->nicks, mine); /* keep the user's details under the new key */
        renamed = mine->registered;
        if (renamed)
            tell_monitors(srv, mine, 0);
    } else {
        mine = pool_alloc(sizeof *mine);
        if (!mine) {
            rc = -1;
            goto out;
        }
        mine->worker = worker;
        mine->id = id;
    }
    snprintf(mine->nick, sizeof mine->nick, "%s", nick);
    HASH_ADD_KEYPTR(hh, srv->nicks, mine->nick, (unsigned)strlen(mine->nick), mine);
    if (renamed)
        tell_monitors(srv, mine, 1);
out:
    pthread_mutex_unlock(&srv->nick_lock);
    return rc;
}

int nick_claim(struct server *srv, const char *nick, const char *old, int worker, uint64_t id)
{
    return claim(srv, nick, old, worker, id, 0);
}

int nick_claim_granted(struct server *srv, const char *nick, const char *old, int worker,
                       uint64_t id)
{
    return claim(srv, nick, old, worker, id, 1);
}

void nick_release(struct server *srv, const char *nick, uint64_t id)
{
    pthread_mutex_lock(&srv->nick_lock);
    struct nick_entry *e = nick_lookup(srv, nick);
    if (e && e->id == id)
        entry_drop(srv, e);
    pthread_mutex_unlock(&srv->nick_lock);
}

/* Fills the ident of e from user, host and realname. -1 without memory (e unchanged). */
static int set_ident(struct nick_entry *e, const char *user, const char *host, const char *realname)
{
    size_t lu = strlen(user), lh = strlen(host), lr = strlen(realname);
    char *ident = pool_alloc(lu + lh + lr + 3);
    if (!ident)
        return -1;
    memcpy(ident, user, lu + 1);
    memcpy(ident + lu + 1, host, lh + 1);
    memcpy(ident + lu + 1 + lh + 1, realname, lr + 1);
    ident_free(e->ident);
    e->ident = ident;
    return 0;
}

/* MONITOR: e (registered) came online or goes offline. */
static void tell_monitors(struct server *srv, const struct nick_entry *e, int online)
{
    char source[IRC_NICK_MAX + USER_MAX + HOST_MAX + 3];
    if (e->ident)
        snprintf(source, sizeof source, "%s!%s@%s", e->nick, e->ident,
                 e->ident + strlen(e->ident) + 1);
    else
        snprintf(source, sizeof source, "%s", e->nick);
    monitor_notify(srv, e->nick, source, online);
}

/* Unlinks and frees e, keeping the counts. */
static void entry_drop(struct server *srv, struct nick_entry *e)
{
    if (e->registered) {
        tell_monitors(srv, e, 0);
        srv->nick_stats.users--;
        srv->nick_stats.invisible -= e->invisible;
        srv->nick_stats.opers -= e->oper;
        srv->nick_stats.remote -= e->worker >= WORKER_REMOTE;
    }
    /* NOLINTNEXTLINE(clang-analyzer-core.NullDereference): e is in the table, so it is set */
    HASH_DEL(srv->nicks, e);
    entry_free(e);
}

/* Whether e may be taken over by a claim the network granted: only a local client that has
 * not registered yet (its claim through the network is still on its way, and will fail). */
static int gives_way(const struct nick_entry *e)
{
    return e->worker < WORKER_REMOTE && !e->registered;
}

int nick_put_remote(struct server *srv, const struct nick_info *info)
{
    int rc = 0, came_online = 0;
    pthread_mutex_lock(&srv->nick_lock);
    struct nick_entry *e = nick_lookup(srv, info->nick);
    if (e && e->id != info->id) {
        if (!gives_way(e)) {
            rc = -1;
            goto out;
        }
        entry_drop(srv, e);
        e = NULL;
    }
    if (!e) {
        e = pool_alloc(sizeof *e);
        if (!e) {
            rc = -1;
            goto out;
        }
        memset(e, 0, sizeof *e);
        e->id = info->id;
        snprintf(e->nick, sizeof e->nick, "%s", info->nick);
        HASH_ADD_KEYPTR(hh, srv->nicks, e->nick, (unsigned)strlen(e->nick), e);
    }
    e->worker = info->worker;
    set_ident(e, info->user, info->host, info->realname);
    set_text(&e->away, info->away);
    set_text(&e->account, info->account);
    if (e->registered) {
        srv->nick_stats.invisible += (int)info->invisible - (int)e->invisible;
        srv->nick_stats.opers += (int)info->oper - (int)e->oper;
    } else {
        e->registered = 1;
        srv->nick_stats.invisible += info->invisible;
        srv->nick_stats.opers += info->oper;
        srv->nick_stats.remote++;
        if (++srv->nick_stats.users > srv->nick_stats.max_users)
            srv->nick_stats.max_users = srv->nick_stats.users;
        came_online = 1;
    }
    e->invisible = info->invisible;
    e->wallops = info->wallops;
    e->bot = info->bot;
    e->secure = info->secure;
    e->oper = info->oper;
    if (came_online)
        tell_monitors(srv, e, 1);
out:
    pthread_mutex_unlock(&srv->nick_lock);
    return rc;
}

int nick_rename_remote(struct server *srv, const char *old, const char *nick, uint64_t id)
{
    int rc = -1;
    pthread_mutex_lock(&srv->nick_lock);
    struct nick_entry *e = nick_lookup(srv, old);
    if (!e || e->id != id)
        goto out;
    struct nick_entry *other = nick_lookup(srv, nick);
    if (other && other != e) {
        if (!gives_way(other))
            goto out;
        entry_drop(srv, other);
    }
    HASH_DEL(srv->nicks, e);
    if (e->registered)
        tell_monitors(srv, e, 0);
    snprintf(e->nick, sizeof e->nick, "%s", nick);
    HASH_ADD_KEYPTR(hh, srv->nicks, e->nick, (unsigned)strlen(e->nick), e);
    if (e->registered)
        tell_monitors(srv, e, 1);
    rc = 0;
out:
    pthread_mutex_unlock(&srv->nick_lock);
    return rc;
}

int nick_drop_node(struct server *srv, uint64_t node,
                   void (*fn)(void *arg, const char *nick, uint64_t id), void *arg)
{
    int n = 0;
    pthread_mutex_lock(&srv->nick_lock);
    struct nick_entry *e, *tmp;
    HASH_ITER(hh, srv->nicks, e, tmp)
    {
        if (e->worker >= WORKER_REMOTE &&
            (node == UINT64_MAX || e->id >> CLUSTER_NODE_SHIFT == node)) {
            if (fn)
                fn(arg, e->nick, e->id);
            /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): false positive, delete in HASH_ITER */
            entry_drop(srv, e);
            n++;
        }
    }
    pthread_mutex_unlock(&srv->nick_lock);
    return n;
}

/* info from e (under the lock). */
static void entry_info(const struct nick_entry *e, struct nick_info *info)
{
    memset(info, 0, sizeof *info);
    info->worker = e->worker;
    info->id = e->id;
    snprintf(info->nick, sizeof info->nick, "%s", e->nick);
    if (e->ident) {
        const char *host = e->ident + strlen(e->ident) + 1;
        const char *realname = host + strlen(host) + 1;
        snprintf(info->user, sizeof info->user, "%s", e->ident);
        snprintf(info->host, sizeof info->host, "%s", host);
        snprintf(info->realname, sizeof info->realname, "%s", realname);
    }
    snprintf(info->away, sizeof info->away, "%s", e->away ? e->away : "");
    snprintf(info->account, sizeof info->account, "%s", e->account ? e->account : "");
    info->registered = e->registered;
    info->invisible = e->invisible;
    info->wallops = e->wallops;
    info->bot = e->bot;
    info->secure = e->secure;
    info->oper = e->oper;
}

int nick_each_local(struct server *srv, void (*fn)(void *arg, const struct nick_info *info),
                    void *arg)
{
    int n = 0;
    struct nick_info info;
    pthread_mutex_lock(&srv->nick_lock);
    struct nick_entry *e, *tmp;
    HASH_ITER(hh, srv->nicks, e, tmp)
    {
        if (e->worker < WORKER_REMOTE && e->registered) {
            entry_info(e, &info);
            fn(arg, &info);
            n++;
        }
    }
    pthread_mutex_unlock(&srv->nick_lock);
    return n;
}

int nick_match(struct server *srv, const char *mask, struct nick_info *out, int max)
{
    int n = 0, full = strpbrk(mask, "!@") != NULL;
    pthread_mutex_lock(&srv->nick_lock);
    struct nick_entry *e, *tmp;
    HASH_ITER(hh, srv->nicks, e, tmp)
    {
        if (n == max)
            break;
        if (!e->registered)
            continue;
        entry_info(e, &out[n]);
        char source[IRC_NICK_MAX + USER_MAX + HOST_MAX + 3] = "";
        const char *subject = out[n].nick;
        if (full) {
            snprintf(source, sizeof source, "%s!%s@%s", out[n].nick, out[n].user, out[n].host);
            subject = source;
        }
        if (ircname_match(mask, subject))
            n++;
    }
    pthread_mutex_unlock(&srv->nick_lock);
    return n;
}

int nick_of_account(struct server *srv, const char *account, struct nick_info *out, int max)
{
    int n = 0;
    pthread_mutex_lock(&srv->nick_lock);
    struct nick_entry *e, *tmp;
    HASH_ITER(hh, srv->nicks, e, tmp)
    {
        if (n == max)
            break;
        if (e->registered && e->account && ircname_cmp(e->account, account) == 0)
            entry_info(e, &out[n++]);
    }
    pthread_mutex_unlock(&srv->nick_lock);
    return n;
}

int nick_find(struct server *srv, const char *nick, int *worker, uint64_t *id)
{
    pthread_mutex_lock(&srv->nick_lock);
    struct nick_entry *e = nick_lookup(srv, nick);
    if (e) {
        *worker = e->worker;
        *id = e->id;
    }
    pthread_mutex_unlock(&srv->nick_lock);
    return e ? 0 : -1;
}

int nick_info(struct server *srv, const char *nick, struct nick_info *info)
{
    pthread_mutex_lock(&srv->nick_lock);
    struct nick_entry *e = nick_lookup(srv, nick);
    if (e)
        entry_info(e, info);
    pthread_mutex_unlock(&srv->nick_lock);
    return e ? 0 : -1;
}

/* Runs with the entry of nick if id holds it. */
static struct nick_entry *mine_locked(struct server *srv, const char *nick, uint64_t id)
{
    struct nick_entry *e = nick_lookup(srv, nick);
    return e && e->id == id ? e : NULL;
}

void nick_set_user(struct server *srv, const char *nick, uint64_t id, const char *user,
                   const char *host, const char *realname)
{
    size_t lu = strlen(user), lh = strlen(host), lr = strlen(realname);
    char *ident = pool_alloc(lu + lh + lr + 3);
    if (ident) {
        memcpy(ident, user, lu + 1);
        memcpy(ident + lu + 1, host, lh + 1);
        memcpy(ident + lu + 1 + lh + 1, realname, lr + 1);
    }
    pthread_mutex_lock(&srv->nick_lock);
    struct nick_entry *e = mine_locked(srv, nick, id);
    if (e) {
        if (ident) { /* without memory WHOIS shows the details known before */
            ident_free(e->ident);
            e->ident = ident;
            ident = NULL;
        }
        if (!e->registered) {
            e->registered = 1;
            if (++srv->nick_stats.users > srv->nick_stats.max_users)
                srv->nick_stats.max_users = srv->nick_stats.users;
            int local = srv->nick_stats.users - srv->nick_stats.remote;
            if (local > srv->nick_stats.max_local)
                srv->nick_stats.max_local = local;
            tell_monitors(srv, e, 1);
        }
    }
    pthread_mutex_unlock(&srv->nick_lock);
    ident_free(ident);
}

void nick_set_away(struct server *srv, const char *nick, uint64_t id, const char *away)
{
    pthread_mutex_lock(&srv->nick_lock);
    struct nick_entry *e = mine_locked(srv, nick, id);
    if (e)
        set_text(&e->away, away);
    pthread_mutex_unlock(&srv->nick_lock);
}

void nick_set_modes(struct server *srv, const char *nick, uint64_t id, int invisible, int wallops,
                    int bot)
{
    pthread_mutex_lock(&srv->nick_lock);
    struct nick_entry *e = mine_locked(srv, nick, id);
    if (e && invisible >= 0) {
        if (e->registered)
            srv->nick_stats.invisible += (invisible != 0) - (int)e->invisible;
        e->invisible = invisible != 0;
    }
    if (e && wallops >= 0)
        e->wallops = wallops != 0;
    if (e && bot >= 0)
        e->bot = bot != 0;
    pthread_mutex_unlock(&srv->nick_lock);
}

void nick_count(struct server *srv, struct nick_stats *out)
{
    pthread_mutex_lock(&srv->nick_lock);
    *out = srv->nick_stats;
    pthread_mutex_unlock(&srv->nick_lock);
}

void nick_table_free(struct server *srv)
{
    struct nick_entry *e, *tmp;
    HASH_ITER(hh, srv->nicks, e, tmp)
    {
        /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): false positive, delete in HASH_ITER */
        HASH_DEL(srv->nicks, e);
        entry_free(e);
    }
}

void nick_set_oper(struct server *srv, const char *nick, uint64_t id, int oper)
{
    pthread_mutex_lock(&srv->nick_lock);
    struct nick_entry *e = mine_locked(srv, nick, id);
    if (e) {
        if (e->registered)
            srv->nick_stats.opers += (oper != 0) - (int)e->oper;
        e->oper = oper != 0;
    }
    pthread_mutex_unlock(&srv->nick_lock);
}

void nick_set_account(struct server *srv, const char *nick, uint64_t id, const char *account)
{
    pthread_mutex_lock(&srv->nick_lock);
    struct nick_entry *e = mine_locked(srv, nick, id);
    if (e)
        set_text(&e->account, account);
    pthread_mutex_unlock(&srv->nick_lock);
}

void nick_set_secure(struct server *srv, const char *nick, uint64_t id)
{
    pthread_mutex_lock(&srv->nick_lock);
    struct nick_entry *e = mine_locked(srv, nick, id);
    if (e)
        e->secure = 1;
    pthread_mutex_unlock(&srv->nick_lock);
}
