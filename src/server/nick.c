/* nick: the server-wide nick table. */
#include "nick.h"

#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "common/ircname.h"
#include "server.h"

struct nick_entry {
    char key[IRC_NICK_MAX + 1]; /* folded */
    int worker;
    uint64_t id;
    UT_hash_handle hh;
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
        rc = e->id == id ? 0 : -1;
        goto out;
    }
    struct nick_entry *mine = old && *old ? nick_lookup(srv, old) : NULL;
    if (mine && mine->id == id) {
        HASH_DEL(srv->nicks, mine); /* reuse the entry under its new key */
    } else {
        mine = malloc(sizeof *mine);
        if (!mine) {
            rc = -1;
            goto out;
        }
    }
    ircname_fold(nick, mine->key, sizeof mine->key);
    mine->worker = worker;
    mine->id = id;
    HASH_ADD_STR(srv->nicks, key, mine);
out:
    pthread_mutex_unlock(&srv->nick_lock);
    return rc;
}

void nick_release(struct server *srv, const char *nick, uint64_t id)
{
    pthread_mutex_lock(&srv->nick_lock);
    struct nick_entry *e = nick_lookup(srv, nick);
    if (e && e->id == id) {
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
        *worker = e->worker;
        *id = e->id;
    }
    pthread_mutex_unlock(&srv->nick_lock);
    return e ? 0 : -1;
}

void nick_table_free(struct server *srv)
{
    struct nick_entry *e, *tmp;
    HASH_ITER(hh, srv->nicks, e, tmp)
    {
        HASH_DEL(srv->nicks, e);
        free(e);
    }
}
