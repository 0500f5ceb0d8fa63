/* metadata: draft/metadata-2's pairs, and the table of users' pairs. */
#include "metadata.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/defines.h"
#include "core/hash.h"

struct md_pair {
    char *key, *value;
};

struct metadata {
    int n;
    struct md_pair v[METADATA_KEYS_MAX];
};

/* A user's pairs in the table. */
struct md_user {
    uint64_t id;
    struct metadata *md;
    UT_hash_handle hh;
};

/* The users' table: any worker reads and changes it (a user's own worker sets, others copy
 * for GET, LIST and SYNC), always under users_lock, a leaf lock held only to copy. */
static pthread_mutex_t users_lock = PTHREAD_MUTEX_INITIALIZER;
static struct md_user *users;

int metadata_key_valid(const char *key)
{
    size_t n = strlen(key);
    if (n == 0 || n > METADATA_KEY_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = key[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' ||
              ch == '/' || ch == '-'))
            return 0;
    }
    return 1;
}

/* The index of key in md, or where it would go (as -1 - index). */
static int find(const struct metadata *md, const char *key)
{
    int lo = 0, hi = md ? md->n : 0;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        int cmp = strcmp(md->v[mid].key, key);
        if (cmp == 0)
            return mid;
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1 - lo;
}

int metadata_set(struct metadata **md, const char *key, const char *value)
{
    int i = find(*md, key); /* >= 0 only when *md holds key */
    if (!value) {
        if (i < 0 || !*md)
            return MD_NOT_SET;
        struct metadata *m = *md;
        free(m->v[i].key);
        free(m->v[i].value);
        memmove(&m->v[i], &m->v[i + 1], (size_t)(m->n - i - 1) * sizeof m->v[0]);
        if (--m->n == 0) {
            free(m);
            *md = NULL;
        }
        return MD_CHANGED;
    }
    if (i >= 0 && *md) {
        if (strcmp((*md)->v[i].value, value) == 0)
            return MD_UNCHANGED;
        char *copy = strdup(value);
        if (!copy)
            return MD_NO_MEMORY;
        free((*md)->v[i].value);
        (*md)->v[i].value = copy;
        return MD_CHANGED;
    }
    if (*md && (*md)->n >= METADATA_KEYS_MAX)
        return MD_LIMIT;
    if (!*md && !(*md = calloc(1, sizeof **md)))
        return MD_NO_MEMORY;
    struct metadata *m = *md;
    char *k = strdup(key), *v = strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        if (m->n == 0) {
            free(m);
            *md = NULL;
        }
        return MD_NO_MEMORY;
    }
    i = -1 - i;
    memmove(&m->v[i + 1], &m->v[i], (size_t)(m->n - i) * sizeof m->v[0]);
    m->v[i].key = k;
    m->v[i].value = v;
    m->n++;
    return MD_CHANGED;
}

const char *metadata_get(const struct metadata *md, const char *key)
{
    int i = find(md, key);
    return i >= 0 && md ? md->v[i].value : NULL;
}

int metadata_count(const struct metadata *md)
{
    return md ? md->n : 0;
}

const char *metadata_key(const struct metadata *md, int i)
{
    return md->v[i].key;
}

const char *metadata_value(const struct metadata *md, int i)
{
    return md->v[i].value;
}

void metadata_free(struct metadata *md)
{
    for (int i = 0; md && i < md->n; i++) {
        free(md->v[i].key);
        free(md->v[i].value);
    }
    free(md);
}

struct metadata *metadata_copy(const struct metadata *md, int *oom)
{
    if (!md || md->n == 0)
        return NULL;
    struct metadata *m = calloc(1, sizeof *m);
    for (int i = 0; m && i < md->n; i++) {
        m->v[i].key = strdup(md->v[i].key);
        m->v[i].value = strdup(md->v[i].value);
        m->n = i + 1;
        if (!m->v[i].key || !m->v[i].value) {
            metadata_free(m);
            m = NULL;
        }
    }
    if (!m && oom)
        *oom = 1;
    return m;
}

/* The user id's entry (users_lock held), or NULL. */
static struct md_user *user_find(uint64_t id)
{
    struct md_user *u = NULL;
    HASH_FIND(hh, users, &id, sizeof id, u);
    return u;
}

int metadata_user_set(uint64_t id, const char *key, const char *value)
{
    pthread_mutex_lock(&users_lock);
    struct md_user *u = user_find(id);
    int r;
    if (!u && !value) {
        r = MD_NOT_SET;
    } else if (!u && !(u = calloc(1, sizeof *u))) {
        r = MD_NO_MEMORY;
    } else {
        if (!u->md && u->id == 0) { /* new: into the table */
            u->id = id;
            HASH_ADD(hh, users, id, sizeof u->id, u);
        }
        r = metadata_set(&u->md, key, value);
        if (!u->md) { /* its last key went, or the first could not be set */
            HASH_DEL(users, u);
            free(u);
        }
    }
    pthread_mutex_unlock(&users_lock);
    return r;
}

struct metadata *metadata_user_copy(uint64_t id)
{
    pthread_mutex_lock(&users_lock);
    struct md_user *u = user_find(id);
    struct metadata *m = u ? metadata_copy(u->md, NULL) : NULL;
    pthread_mutex_unlock(&users_lock);
    return m;
}

struct metadata *metadata_user_take(uint64_t id)
{
    pthread_mutex_lock(&users_lock);
    struct md_user *u = user_find(id);
    struct metadata *m = NULL;
    if (u) {
        m = u->md;
        HASH_DEL(users, u);
        free(u);
    }
    pthread_mutex_unlock(&users_lock);
    return m;
}

void metadata_table_free(void)
{
    pthread_mutex_lock(&users_lock);
    struct md_user *u, *tmp;
    HASH_ITER(hh, users, u, tmp)
    {
        HASH_DEL(users, u);
        metadata_free(u->md);
        free(u);
    }
    pthread_mutex_unlock(&users_lock);
}
