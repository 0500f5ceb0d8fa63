/* chanreg: the table of registered channels and its store (channels.db); chanreg.h. */
#include "chanreg.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "core/hash.h"
#include "small_store.h"

struct reg {
    char key[IRC_CHANNEL_MAX + 1]; /* the name folded: the table's key */
    char name[IRC_CHANNEL_MAX + 1];
    char founder[IRC_NICK_MAX + 1];
    long long registered;
    int naccess, cap;
    struct chanreg_access *access; /* grown as the founder adds accounts */
    int stale;                     /* a sync has not seen it yet (chanreg_sync_begin) */
    UT_hash_handle hh;
};

/* table_lock guards regs. db_lock guards the SQLite handle: a change takes it before letting
 * table_lock go, so the store sees changes in the table's order while JOINs go on without
 * waiting for the disk (lock order: table_lock, then db_lock). */
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t db_lock = PTHREAD_MUTEX_INITIALIZER;
static struct reg *regs;
static sqlite3 *db;
static chanreg_save_fn *net_save; /* a cluster's store (chanreg_use_network), or NULL */
static void *net_arg;

static struct reg *find(const char *name)
{
    char key[IRC_CHANNEL_MAX + 1];
    ircname_fold(name, key, sizeof key);
    struct reg *r = NULL;
    HASH_FIND_STR(regs, key, r);
    return r;
}

static struct chanreg_access *access_find(struct reg *r, const char *account)
{
    for (int i = 0; i < r->naccess; i++)
        if (ircname_cmp(r->access[i].account, account) == 0)
            return &r->access[i];
    return NULL;
}

/* Sets account's mode on r (0 takes it off): 0, or -1 when the list is full (or no memory). */
static int access_set(struct reg *r, const char *account, char mode)
{
    struct chanreg_access *e = access_find(r, account);
    if (e && mode) {
        e->mode = mode;
        return 0;
    }
    if (e) {
        *e = r->access[--r->naccess];
        return 0;
    }
    if (!mode)
        return 0;
    if (r->naccess >= CHANREG_ACCESS_MAX)
        return -1;
    if (r->naccess == r->cap) {
        int ncap = r->cap ? r->cap * 2 : 4;
        struct chanreg_access *n = realloc(r->access, (size_t)ncap * sizeof *n);
        if (!n)
            return -1;
        r->access = n;
        r->cap = ncap;
    }
    if (!r->access)
        return -1; /* cannot happen (cap > 0 once allocated), but say so to the analyzer */
    e = &r->access[r->naccess++];
    snprintf(e->account, sizeof e->account, "%s", account);
    e->mode = mode;
    return 0;
}

static struct reg *reg_new(const char *name, const char *founder, long long registered)
{
    struct reg *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    ircname_fold(name, r->key, sizeof r->key);
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->founder, sizeof r->founder, "%s", founder);
    r->registered = registered;
    return r;
}

static void reg_free(struct reg *r)
{
    free(r->access);
    free(r);
}

/* --- the store --------------------------------------------------------------------------- */

/* A statement's parameters: texts ?1 to ?4 (NULL: unbound), and a number ?5. */
struct row {
    const char *t[4];
    long long n;
};

/* Runs one statement (db_lock held); logs a failure. Returns 0 or -1. */
static int store_exec(const char *sql, const struct row *row)
{
    if (!db)
        return -1;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        for (int i = 0; i < 4; i++)
            if (row->t[i])
                sqlite3_bind_text(st, i + 1, row->t[i], -1, SQLITE_STATIC);
        if (sqlite3_bind_parameter_count(st) >= 5)
            sqlite3_bind_int64(st, 5, row->n);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE)
        return 0;
    log_event(LOG_WARN, "channel registration store failed", LOG_TEXT("error", sqlite3_errmsg(db)));
    return -1;
}

static void info_of(const struct reg *r, struct chanreg_info *out)
{
    snprintf(out->name, sizeof out->name, "%s", r->name);
    snprintf(out->founder, sizeof out->founder, "%s", r->founder);
    out->registered = r->registered;
    out->naccess = r->naccess;
    if (r->naccess) /* r->access may be NULL then */
        memcpy(out->access, r->access, (size_t)r->naccess * sizeof *r->access);
}

/* Writes a change made to the table: the caller holds table_lock, which this lets go after
 * taking db_lock (the store's order is the table's; checks need not wait for the disk). In a
 * cluster the change goes to the network instead: r is the registration as it is now (NULL:
 * name was dropped). */
static enum chanreg_result store_change(const char *sql, const struct row *row, const struct reg *r,
                                        const char *name)
{
    struct chanreg_info *info = net_save && r ? malloc(sizeof *info) : NULL;
    char dropped[IRC_CHANNEL_MAX + 1];
    snprintf(dropped, sizeof dropped, "%s", name);
    if (info)
        info_of(r, info);
    int lost = net_save && r && !info; /* no memory to say it */
    pthread_mutex_lock(&db_lock);
    pthread_mutex_unlock(&table_lock);
    int rc = lost ? -1 : net_save ? net_save(net_arg, dropped, info) : store_exec(sql, row);
    pthread_mutex_unlock(&db_lock);
    free(info);
    return rc == 0 ? CHANREG_OK : CHANREG_FAILED;
}

static int store_load(void)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT name, display, founder, registered FROM channels", -1,
                                &st, NULL);
    while (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        const char *display = (const char *)sqlite3_column_text(st, 1);
        const char *founder = (const char *)sqlite3_column_text(st, 2);
        struct reg *r = NULL;
        if (!display || !founder || !ircname_channel_valid(display) || find(display) ||
            !(r = reg_new(display, founder, sqlite3_column_int64(st, 3)))) {
            log_event(LOG_WARN, "channel registration store: row ignored",
                      LOG_TEXT("channel", display ? display : ""));
            continue;
        }
        HASH_ADD_STR(regs, key, r);
    }
    sqlite3_finalize(st);
    st = NULL;
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, "SELECT channel, account, mode FROM access", -1, &st, NULL);
    while (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        const char *key = (const char *)sqlite3_column_text(st, 0);
        const char *account = (const char *)sqlite3_column_text(st, 1);
        const char *mode = (const char *)sqlite3_column_text(st, 2);
        struct reg *r = NULL;
        if (key)
            HASH_FIND_STR(regs, key, r);
        if (r && account && mode && (mode[0] == 'o' || mode[0] == 'v'))
            access_set(r, account, mode[0]);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? 0 : -1;
}

#define STORE_WHAT "channel registration store"
#define STORE_HINT "move it away to start without registered channels"

int chanreg_open(const char *dir)
{
    if (!dir)
        return 0; /* a cluster's: the network keeps them */
    if (small_store_open(dir, "channels.db",
                         "PRAGMA foreign_keys=ON;"
                         "CREATE TABLE IF NOT EXISTS channels("
                         " name TEXT PRIMARY KEY,"        /* folded */
                         " display TEXT NOT NULL,"        /* as registered */
                         " founder TEXT NOT NULL,"        /* the founder's account */
                         " registered INTEGER NOT NULL);" /* seconds since the epoch */
                         "CREATE TABLE IF NOT EXISTS access("
                         " channel TEXT NOT NULL REFERENCES channels(name) ON DELETE CASCADE,"
                         " key TEXT NOT NULL,"     /* the account, folded */
                         " account TEXT NOT NULL," /* as the founder wrote it */
                         " mode TEXT NOT NULL,"    /* 'o' or 'v' */
                         " PRIMARY KEY (channel, key));",
                         STORE_WHAT, STORE_HINT, &db) < 0)
        return -1;
    if (store_load() == 0)
        return 0;
    small_store_failed(dir, "channels.db", STORE_WHAT, STORE_HINT, &db, NULL);
    chanreg_close();
    return -1;
}

void chanreg_close(void)
{
    pthread_mutex_lock(&table_lock);
    pthread_mutex_lock(&db_lock);
    if (db)
        sqlite3_close(db);
    db = NULL;
    struct reg *r, *tmp;
    HASH_ITER(hh, regs, r, tmp)
    {
        /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): false positive, delete in HASH_ITER */
        HASH_DEL(regs, r);
        reg_free(r);
    }
    pthread_mutex_unlock(&db_lock);
    pthread_mutex_unlock(&table_lock);
}

/* A row of channels (name, display, founder, registered) with its access list (acc: its
 * account and mode, by channel) into info, as store_load takes them: 0, or -1 (logged) when
 * the row is not a registration. */
static int row_info(sqlite3_stmt *st, sqlite3_stmt *acc, struct chanreg_info *info)
{
    const char *key = (const char *)sqlite3_column_text(st, 0);
    const char *display = (const char *)sqlite3_column_text(st, 1);
    const char *founder = (const char *)sqlite3_column_text(st, 2);
    if (!key || !display || !founder || !ircname_channel_valid(display) ||
        !ircname_nick_valid(founder)) {
        log_event(LOG_WARN, "channel registration store: row ignored",
                  LOG_TEXT("channel", display ? display : ""));
        return -1;
    }
    snprintf(info->name, sizeof info->name, "%s", display);
    snprintf(info->founder, sizeof info->founder, "%s", founder);
    info->registered = sqlite3_column_int64(st, 3);
    info->naccess = 0;
    sqlite3_reset(acc);
    sqlite3_bind_text(acc, 1, key, -1, SQLITE_TRANSIENT);
    while (sqlite3_step(acc) == SQLITE_ROW && info->naccess < CHANREG_ACCESS_MAX) {
        const char *account = (const char *)sqlite3_column_text(acc, 0);
        const char *mode = (const char *)sqlite3_column_text(acc, 1);
        if (!account || !mode || !ircname_nick_valid(account) || (mode[0] != 'o' && mode[0] != 'v'))
            continue;
        struct chanreg_access *e = &info->access[info->naccess++];
        snprintf(e->account, sizeof e->account, "%s", account);
        e->mode = mode[0];
    }
    return 0;
}

int chanreg_file_each(const char *dir, void (*fn)(void *arg, const struct chanreg_info *info),
                      void *arg)
{
    sqlite3 *file = NULL;
    int rc = small_store_open_readonly(dir, "channels.db", STORE_WHAT, &file);
    if (rc <= 0)
        return rc;
    struct chanreg_info *info = malloc(sizeof *info);
    sqlite3_stmt *st = NULL, *acc = NULL;
    int n = 0;
    rc = info ? sqlite3_prepare_v2(file,
                                   "SELECT name, display, founder, registered FROM channels"
                                   " ORDER BY registered, rowid",
                                   -1, &st, NULL)
              : SQLITE_NOMEM;
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(file, "SELECT account, mode FROM access WHERE channel = ?1", -1,
                                &acc, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    for (; rc == SQLITE_ROW; rc = sqlite3_step(st)) {
        if (row_info(st, acc, info) == 0) {
            fn(arg, info);
            n++;
        }
    }
    if (rc != SQLITE_DONE)
        log_warn("cannot read the %s %s/channels.db: %s", STORE_WHAT, dir,
                 info ? sqlite3_errmsg(file) : "out of memory");
    sqlite3_finalize(acc);
    sqlite3_finalize(st);
    sqlite3_close(file);
    free(info);
    return rc == SQLITE_DONE ? n : -1;
}

/* --- the table --------------------------------------------------------------------------- */

enum chanreg_role chanreg_role(const char *name, const char *account)
{
    pthread_mutex_lock(&table_lock);
    struct reg *r = find(name);
    enum chanreg_role role = r ? CHANREG_NONE : CHANREG_UNREGISTERED;
    if (r && account && account[0]) {
        struct chanreg_access *e = access_find(r, account);
        if (ircname_cmp(r->founder, account) == 0)
            role = CHANREG_FOUNDER;
        else if (e)
            role = e->mode == 'o' ? CHANREG_OP : CHANREG_VOICE;
    }
    pthread_mutex_unlock(&table_lock);
    return role;
}

enum chanreg_result chanreg_register(const char *name, const char *founder)
{
    pthread_mutex_lock(&table_lock);
    int founded = 0;
    struct reg *r, *tmp;
    HASH_ITER(hh, regs, r, tmp)
    {
        if (ircname_cmp(r->founder, founder) == 0)
            founded++;
    }
    enum chanreg_result res = find(name)                       ? CHANREG_EXISTS
                              : founded >= CHANREG_PER_ACCOUNT ? CHANREG_TOO_MANY
                                                               : CHANREG_OK;
    r = res == CHANREG_OK ? reg_new(name, founder, (long long)time(NULL)) : NULL;
    if (res == CHANREG_OK && !r)
        res = CHANREG_FAILED;
    if (res != CHANREG_OK) {
        pthread_mutex_unlock(&table_lock);
        return res;
    }
    HASH_ADD_STR(regs, key, r);
    struct row row = {{r->key, r->name, r->founder}, r->registered};
    return store_change("INSERT OR REPLACE INTO channels(name, display, founder, registered)"
                        " VALUES (?1, ?2, ?3, ?5)",
                        &row, r, r->name);
}

enum chanreg_result chanreg_drop(const char *name)
{
    pthread_mutex_lock(&table_lock);
    struct reg *r = find(name);
    if (!r) {
        pthread_mutex_unlock(&table_lock);
        return CHANREG_NOT_FOUND;
    }
    char key[IRC_CHANNEL_MAX + 1], shown[IRC_CHANNEL_MAX + 1];
    snprintf(key, sizeof key, "%s", r->key);
    snprintf(shown, sizeof shown, "%s", r->name);
    HASH_DEL(regs, r);
    reg_free(r);
    struct row row = {{key}, 0};
    return store_change("DELETE FROM channels WHERE name = ?1", &row, NULL, shown);
}

enum chanreg_result chanreg_access(const char *name, const char *account, char mode)
{
    pthread_mutex_lock(&table_lock);
    struct reg *r = find(name);
    enum chanreg_result res = !r                                  ? CHANREG_NOT_FOUND
                              : !mode && !access_find(r, account) ? CHANREG_NOT_FOUND
                              : access_set(r, account, mode) < 0  ? CHANREG_TOO_MANY
                                                                  : CHANREG_OK;
    if (res != CHANREG_OK) {
        pthread_mutex_unlock(&table_lock);
        return res;
    }
    char key[IRC_CHANNEL_MAX + 1], akey[IRC_NICK_MAX + 1], m[2] = {mode, '\0'};
    snprintf(key, sizeof key, "%s", r->key);
    struct row row = {{key, ircname_fold(account, akey, sizeof akey), account, m}, 0};
    if (!mode)
        return store_change("DELETE FROM access WHERE channel = ?1 AND key = ?2", &row, r, r->name);
    return store_change("INSERT OR REPLACE INTO access(channel, key, account, mode)"
                        " VALUES (?1, ?2, ?3, ?4)",
                        &row, r, r->name);
}

enum chanreg_result chanreg_info(const char *name, struct chanreg_info *out)
{
    pthread_mutex_lock(&table_lock);
    struct reg *r = find(name);
    if (r)
        info_of(r, out);
    pthread_mutex_unlock(&table_lock);
    return r ? CHANREG_OK : CHANREG_NOT_FOUND;
}

int chanreg_forget_account(const char *account)
{
    int dropped = 0;
    for (;;) {
        /* One change per turn of the lock, each written as it is made. */
        pthread_mutex_lock(&table_lock);
        struct reg *r, *tmp, *hit = NULL;
        int founder = 0;
        HASH_ITER(hh, regs, r, tmp)
        {
            if ((founder = ircname_cmp(r->founder, account) == 0) || access_find(r, account)) {
                hit = r;
                break;
            }
        }
        if (!hit) {
            pthread_mutex_unlock(&table_lock);
            return dropped;
        }
        char name[IRC_CHANNEL_MAX + 1];
        snprintf(name, sizeof name, "%s", hit->name);
        pthread_mutex_unlock(&table_lock);
        if (founder) {
            if (chanreg_drop(name) != CHANREG_NOT_FOUND)
                dropped++;
        } else {
            chanreg_access(name, account, 0);
        }
    }
}

/* --- a cluster's registrations ----------------------------------------------------------- */

void chanreg_use_network(chanreg_save_fn *save, void *arg)
{
    pthread_mutex_lock(&db_lock);
    net_save = save;
    net_arg = arg;
    pthread_mutex_unlock(&db_lock);
}

void chanreg_learn(const struct chanreg_info *info)
{
    if (!ircname_channel_valid(info->name) || !ircname_nick_valid(info->founder))
        return; /* what comes from Redis is input like any other */
    pthread_mutex_lock(&table_lock);
    struct reg *r = find(info->name);
    if (!r && (r = reg_new(info->name, info->founder, info->registered)))
        HASH_ADD_STR(regs, key, r);
    if (r) {
        snprintf(r->name, sizeof r->name, "%s", info->name);
        snprintf(r->founder, sizeof r->founder, "%s", info->founder);
        r->registered = info->registered;
        r->stale = 0;
        r->naccess = 0;
        for (int i = 0; i < info->naccess && i < CHANREG_ACCESS_MAX; i++) {
            const struct chanreg_access *e = &info->access[i];
            if (ircname_nick_valid(e->account) && (e->mode == 'o' || e->mode == 'v'))
                access_set(r, e->account, e->mode);
        }
    }
    pthread_mutex_unlock(&table_lock);
}

void chanreg_unlearn(const char *name)
{
    pthread_mutex_lock(&table_lock);
    struct reg *r = find(name);
    if (r) {
        HASH_DEL(regs, r);
        reg_free(r);
    }
    pthread_mutex_unlock(&table_lock);
}

void chanreg_sync_begin(void)
{
    pthread_mutex_lock(&table_lock);
    struct reg *r, *tmp;
    HASH_ITER(hh, regs, r, tmp)
    {
        r->stale = 1;
    }
    pthread_mutex_unlock(&table_lock);
}

void chanreg_sync_end(int drop, void (*put_back)(void *arg, const struct chanreg_info *info),
                      void *arg)
{
    struct chanreg_info *info = malloc(sizeof *info);
    pthread_mutex_lock(&table_lock);
    struct reg *r, *tmp;
    HASH_ITER(hh, regs, r, tmp)
    {
        if (!r->stale)
            continue;
        r->stale = 0;
        if (drop) {
            /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): false positive, delete in HASH_ITER */
            HASH_DEL(regs, r);
            reg_free(r);
        } else if (info && put_back) {
            info_of(r, info);
            put_back(arg, info); /* it only queues */
        }
    }
    pthread_mutex_unlock(&table_lock);
    free(info);
}
