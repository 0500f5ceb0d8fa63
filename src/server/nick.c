/* nick: the server-wide nick table and user directory. */
#include "nick.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "server.h"

struct nick_entry {
    char key[IRC_NICK_MAX + 1]; /* folded */
    UT_hash_handle hh;
    struct nick_info info;
};

static struct nick_entry *nick_lookup(struct server *srv, const char *nick)
{
    char key[IRC_NICK_MAX + 1];
    ircname_fold(nick, key, sizeof key);
    struct nick_entry *e = NULL;
    HASH_FIND_STR(srv->nicks, key, e);
    return e;
}

int nick_claim(struct server *srv, const char *nick, const char *old, int worker, uint64_t id)
{
    int rc = 0;
    pthread_mutex_lock(&srv->nick_lock);
    struct nick_entry *e = nick_lookup(srv, nick);
    if (e) {
        /* Only a case change of one's own nick finds oneself here. */
        if (e->info.id == id)
            snprintf(e->info.nick, sizeof e->info.nick, "%s", nick);
        else
            rc = -1;
        goto out;
    }
    struct nick_entry *mine = old && *old ? nick_lookup(srv, old) : NULL;
    if (mine && mine->info.id == id) {
        HASH_DEL(srv->nicks, mine); /* keep the user's details under the new key */
    } else {
        mine = calloc(1, sizeof *mine);
        if (!mine) {
            rc = -1;
            goto out;
        }
        mine->info.worker = worker;
        mine->info.id = id;
    }
    ircname_fold(nick, mine->key, sizeof mine->key);
    snprintf(mine->info.nick, sizeof mine->info.nick, "%s", nick);
    HASH_ADD_STR(srv->nicks, key, mine);
out:
    pthread_mutex_unlock(&srv->nick_lock);
    return rc;
}

void nick_release(struct server *srv, const char *nick, uint64_t id)
{
    pthread_mutex_lock(&srv->nick_lock);
    struct nick_entry *e = nick_lookup(srv, nick);
    if (e && e->info.id == id) {
        if (e->info.registered) {
            srv->nick_stats.users--;
            srv->nick_stats.invisible -= e->info.invisible;
            srv->nick_stats.opers -= e->info.oper;
        }
        HASH_DEL(srv->nicks, e);
        free(e);
    }
    pthread_mutex_unlock(&srv->nick_lock);
}

int nick_find(struct server *srv, const char *nick, int *worker, uint64_t *id)
{
    pthread_mutex_lock(&srv->nick_lock);
    struct nick_entry *e = nick_lookup(srv, nick);
    if (e) {
        *worker = e->info.worker;
        *id = e->info.id;
    }
    pthread_mutex_unlock(&srv->nick_lock);
    return e ? 0 : -1;
}

int nick_info(struct server *srv, const char *nick, struct nick_info *info)
{
    pthread_mutex_lock(&srv->nick_lock);
    struct nick_entry *e = nick_lookup(srv, nick);
    if (e)
        *info = e->info;
    pthread_mutex_unlock(&srv->nick_lock);
    return e ? 0 : -1;
}

/* Runs with the entry of nick if id holds it. */
static struct nick_entry *mine_locked(struct server *srv, const char *nick, uint64_t id)
{
    struct nick_entry *e = nick_lookup(srv, nick);
    return e && e->info.id == id ? e : NULL;
}

void nick_set_user(struct server *srv, const char *nick, uint64_t id, const char *user,
                   const char *host, const char *realname)
{
    pthread_mutex_lock(&srv->nick_lock);
    struct nick_entry *e = mine_locked(srv, nick, id);
    if (e) {
        snprintf(e->info.user, sizeof e->info.user, "%s", user);
        snprintf(e->info.host, sizeof e->info.host, "%s", host);
        snprintf(e->info.realname, sizeof e->info.realname, "%s", realname);
        if (!e->info.registered) {
            e->info.registered = 1;
            if (++srv->nick_stats.users > srv->nick_stats.max_users)
                srv->nick_stats.max_users = srv->nick_stats.users;
        }
    }
    pthread_mutex_unlock(&srv->nick_lock);
}

void nick_set_away(struct server *srv, const char *nick, uint64_t id, const char *away)
{
    pthread_mutex_lock(&srv->nick_lock);
    struct nick_entry *e = mine_locked(srv, nick, id);
    if (e)
        snprintf(e->info.away, sizeof e->info.away, "%s", away);
    pthread_mutex_unlock(&srv->nick_lock);
}

void nick_set_modes(struct server *srv, const char *nick, uint64_t id, int invisible, int wallops)
{
    pthread_mutex_lock(&srv->nick_lock);
    struct nick_entry *e = mine_locked(srv, nick, id);
    if (e && invisible >= 0) {
        if (e->info.registered)
            srv->nick_stats.invisible += (invisible != 0) - (int)e->info.invisible;
        e->info.invisible = invisible != 0;
    }
    if (e && wallops >= 0)
        e->info.wallops = wallops != 0;
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
        free(e);
    }
}

void nick_set_oper(struct server *srv, const char *nick, uint64_t id, int oper)
{
    pthread_mutex_lock(&srv->nick_lock);
    struct nick_entry *e = mine_locked(srv, nick, id);
    if (e) {
        if (e->info.registered)
            srv->nick_stats.opers += (oper != 0) - (int)e->info.oper;
        e->info.oper = oper != 0;
    }
    pthread_mutex_unlock(&srv->nick_lock);
}

void nick_set_account(struct server *srv, const char *nick, uint64_t id, const char *account)
{
    pthread_mutex_lock(&srv->nick_lock);
    struct nick_entry *e = mine_locked(srv, nick, id);
    if (e)
        snprintf(e->info.account, sizeof e->info.account, "%s", account);
    pthread_mutex_unlock(&srv->nick_lock);
}

void nick_set_secure(struct server *srv, const char *nick, uint64_t id)
{
    pthread_mutex_lock(&srv->nick_lock);
    struct nick_entry *e = mine_locked(srv, nick, id);
    if (e)
        e->info.secure = 1;
    pthread_mutex_unlock(&srv->nick_lock);
}
