/* account: the account store and its thread. */
#include "account.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <sqlite3.h>
#include <time.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/ircname.h"
#include "common/log.h"
#include "core/defines.h"
#include "core/hash.h"
#include "core/budget.h"
#include "core/fanout.h"
#include "core/server.h"
#include "core/tls.h"
#include "account_redis.h"
#include "chanreg.h"

struct request {
    struct request *next;
    enum account_op op;
    int worker;
    uint64_t id;
    account_done_fn *done;
    char name[IRC_NICK_MAX + 1];
    char oper[OPER_NAME_MAX + 1];      /* ACCOUNT_OPER: the [oper] entry's name */
    char password[PASSWORD_MAX + 1];   /* wiped as soon as it is used */
    char newpass[PASSWORD_MAX + 1];    /* ACCOUNT_PASSWD: the new password, wiped likewise */
    char hash[crypto_pwhash_STRBYTES]; /* ACCOUNT_OPER: the entry's hash */
    char certfp[TLS_CERTFP_MAX + 1];   /* "" without a client certificate */
};

/* Two queues, so that what anyone can cause at will does not delay the logins of everyone
 * else (issue "abuse": 20 connections looping failed logins made a good one take 3.3 s
 * instead of 0.15 s). QUEUE_CLEAN holds logins (PLAIN, EXTERNAL) and OPERs from addresses with
 * no failed login in their --login-fail-limit window; QUEUE_SLOW holds REGISTERs and what
 * addresses that failed lately ask. The thread takes from QUEUE_CLEAN whenever it has
 * something, so QUEUE_SLOW waits while clean logins keep coming (their rate is what users and
 * the global budget allow). Each holds at most --login-queue requests; past that a request is
 * refused at once (busy), never queued: memory and waiting stay bounded. */
enum { QUEUE_CLEAN, QUEUE_SLOW, QUEUES };

struct queue {
    struct request *head, *tail;
    int n;
};

/* A registered name, folded. */
struct known {
    char key[IRC_NICK_MAX + 1];
    int taken; /* a cluster's: another account than the one of this node's accounts.db */
    UT_hash_handle hh;
};

struct accounts {
    struct server *srv;
    sqlite3 *db;               /* the store on a single node, or NULL */
    struct account_redis *net; /* the store of a cluster (account_redis.h), or NULL */
    pthread_t thread;
    pthread_mutex_t lock; /* guards the queues, stop, and known */
    pthread_cond_t wake;
    struct queue queues[QUEUES];
    int stop;
    struct known *known;
    /* Budgets (budget.h, each its own leaf lock): failed logins and registrations per
     * address; failed PLAIN logins of all addresses together (one entry, GLOBAL_KEY); the
     * addresses that logged in successfully within LOGIN_TRUSTED_S. */
    struct budget *login_failures, *registrations, *global_failures, *trusted;
    int expire_days; /* --account-expire-days, copied at start (the thread's own) */
};

static void forget_request(struct request *r)
{
    sodium_memzero(r->password, sizeof r->password);
    sodium_memzero(r->newpass, sizeof r->newpass);
    free(r);
}

static void know(struct accounts *a, const char *name)
{
    struct known *k = calloc(1, sizeof *k);
    if (!k)
        return;
    ircname_fold(name, k->key, sizeof k->key);
    struct known *old = NULL;
    pthread_mutex_lock(&a->lock);
    HASH_FIND_STR(a->known, k->key, old);
    if (old)
        free(k);
    else
        HASH_ADD_STR(a->known, key, k);
    pthread_mutex_unlock(&a->lock);
}

static void forget(struct accounts *a, const char *name)
{
    char key[IRC_NICK_MAX + 1];
    ircname_fold(name, key, sizeof key);
    struct known *k = NULL;
    pthread_mutex_lock(&a->lock);
    HASH_FIND_STR(a->known, key, k);
    if (k) {
        /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): false positive, uthash's delete */
        HASH_DEL(a->known, k);
        free(k);
    }
    pthread_mutex_unlock(&a->lock);
}

/* Whether name is registered (1), and when taken is not NULL whether it is taken; with
 * mark, it is marked taken: not the account this node's own file has. */
static int find_known(struct accounts *a, const char *name, int *taken, int mark)
{
    char key[IRC_NICK_MAX + 1];
    ircname_fold(name, key, sizeof key);
    struct known *k = NULL;
    pthread_mutex_lock(&a->lock);
    HASH_FIND_STR(a->known, key, k);
    if (k && mark)
        k->taken = 1;
    if (k && taken)
        *taken = k->taken;
    pthread_mutex_unlock(&a->lock);
    return k != NULL;
}

int account_exists(struct server *srv, const char *name)
{
    return srv->accounts && find_known(srv->accounts, name, NULL, 0);
}

int account_of_this_node(struct server *srv, const char *name)
{
    int taken = 0;
    return srv->accounts && find_known(srv->accounts, name, &taken, 0) && !taken;
}

/* The stored hash of name into hash; 0, -1 when there is no such account, -2 when the store
 * failed. */
static int load_hash(struct accounts *a, const char *key, char *hash, size_t cap)
{
    if (a->net)
        return account_redis_hash(a->net, key, hash, cap);
    sqlite3_stmt *st = NULL;
    int found = -1;
    if (sqlite3_prepare_v2(a->db, "SELECT hash FROM accounts WHERE name = ?", -1, &st, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
            snprintf(hash, cap, "%s", (const char *)sqlite3_column_text(st, 0));
            found = 0;
        }
    }
    sqlite3_finalize(st);
    return found;
}

static void bind_cert(struct accounts *a, const char *key, const struct request *r);

/* Account key (folded) was logged into: it is in use, and never expires. */
static void touch(struct accounts *a, const char *key)
{
    if (a->net) {
        account_redis_touch(a->net, key);
        return;
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(a->db, "UPDATE accounts SET last_login = ? WHERE name = ?", -1, &st,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL));
        sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            log_error("accounts: cannot record a login: %s", sqlite3_errmsg(a->db));
    }
    sqlite3_finalize(st);
}

static void forget_cb(void *arg, const char *name)
{
    forget(arg, name);
    int chans = chanreg_forget_account(name); /* its channels go with it */
    log_info("accounts: %s expired (never logged into; %d registered channels dropped)", name,
             chans);
}

/* Deletes the accounts nobody logged into within --account-expire-days of registering them
 * (squatted names, mass registrations), and forgets their names. */
static void expire(struct accounts *a)
{
    int days = a->expire_days;
    if (days <= 0)
        return;
    long long before = (long long)time(NULL) - (long long)days * 86400;
    if (a->net) {
        account_redis_expire(a->net, before, forget_cb, a);
        return;
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(a->db,
                           "DELETE FROM accounts WHERE last_login IS NULL AND created < ? "
                           "RETURNING display",
                           -1, &st, NULL) != SQLITE_OK) {
        log_error("accounts: cannot expire accounts: %s", sqlite3_errmsg(a->db));
        return;
    }
    sqlite3_bind_int64(st, 1, (sqlite3_int64)before);
    while (sqlite3_step(st) == SQLITE_ROW)
        forget_cb(a, (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
}

static enum account_result verify(struct accounts *a, struct request *r)
{
    char key[IRC_NICK_MAX + 1], hash[crypto_pwhash_STRBYTES];
    ircname_fold(r->name, key, sizeof key);
    int found = load_hash(a, key, hash, sizeof hash);
    if (found == -2)
        return ACCOUNT_ERROR;
    if (found < 0) {
        /* Hash anyway, so that a missing account takes as long as a wrong password. */
        char dummy[crypto_pwhash_STRBYTES];
        if (crypto_pwhash_str(dummy, r->password, strlen(r->password),
                              crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
            return ACCOUNT_ERROR;
        return ACCOUNT_BAD_PASSWORD;
    }
    if (crypto_pwhash_str_verify(hash, r->password, strlen(r->password)) != 0)
        return ACCOUNT_BAD_PASSWORD;
    bind_cert(a, key, r);
    touch(a, key);
    return ACCOUNT_OK;
}

/* Binds the request's certificate, if any, to account key. */
static void bind_cert(struct accounts *a, const char *key, const struct request *r)
{
    if (a->net) {
        if (r->certfp[0] && account_redis_bind_cert(a->net, key, r->certfp) < 0)
            log_error("accounts: cannot record a certificate in Redis");
        return;
    }
    sqlite3_stmt *st = NULL;
    if (!r->certfp[0] || sqlite3_prepare_v2(a->db, "UPDATE accounts SET certfp = ? WHERE name = ?",
                                            -1, &st, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_text(st, 1, r->certfp, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        log_error("accounts: cannot record a certificate: %s", sqlite3_errmsg(a->db));
    sqlite3_finalize(st);
}

/* SASL EXTERNAL: the account the certificate was bound to; its name goes into r->name. */
static enum account_result external(struct accounts *a, struct request *r)
{
    if (a->net) {
        char key[IRC_NICK_MAX + 1], display[IRC_NICK_MAX + 1], want[IRC_NICK_MAX + 1];
        int rc = r->certfp[0] ? account_redis_by_cert(a->net, r->certfp, key, sizeof key, display,
                                                      sizeof display)
                              : -1;
        if (rc == -2)
            return ACCOUNT_ERROR;
        ircname_fold(r->name, want, sizeof want);
        if (rc < 0 || (r->name[0] && strcmp(want, key) != 0))
            return ACCOUNT_BAD_PASSWORD;
        snprintf(r->name, sizeof r->name, "%s", display);
        touch(a, key);
        return ACCOUNT_OK;
    }
    sqlite3_stmt *st = NULL;
    enum account_result res = ACCOUNT_BAD_PASSWORD;
    if (r->certfp[0] &&
        sqlite3_prepare_v2(a->db, "SELECT name, display FROM accounts WHERE certfp = ?", -1, &st,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, r->certfp, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
            char want[IRC_NICK_MAX + 1];
            ircname_fold(r->name, want, sizeof want);
            if (!r->name[0] || strcmp(want, (const char *)sqlite3_column_text(st, 0)) == 0) {
                snprintf(r->name, sizeof r->name, "%s", (const char *)sqlite3_column_text(st, 1));
                res = ACCOUNT_OK;
            }
        }
    }
    sqlite3_finalize(st);
    if (res == ACCOUNT_OK) {
        char key[IRC_NICK_MAX + 1];
        touch(a, ircname_fold(r->name, key, sizeof key));
    }
    return res;
}

static enum account_result create(struct accounts *a, struct request *r)
{
    char key[IRC_NICK_MAX + 1], hash[crypto_pwhash_STRBYTES];
    ircname_fold(r->name, key, sizeof key);
    if (crypto_pwhash_str(hash, r->password, strlen(r->password),
                          crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return ACCOUNT_ERROR;
    if (a->net) {
        int rc = account_redis_create(a->net, key, r->name, hash);
        if (rc != 0)
            return rc == 1 ? ACCOUNT_EXISTS : ACCOUNT_ERROR;
        know(a, r->name);
        bind_cert(a, key, r);
        return ACCOUNT_OK;
    }
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(a->db,
                                "INSERT INTO accounts(name, display, hash, created) "
                                "VALUES (?, ?, ?, strftime('%s', 'now'))",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, r->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, hash, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_CONSTRAINT)
        return ACCOUNT_EXISTS;
    if (rc != SQLITE_DONE) {
        log_error("accounts: cannot create %s: %s", r->name, sqlite3_errmsg(a->db));
        return ACCOUNT_ERROR;
    }
    know(a, r->name);
    bind_cert(a, key, r);
    return ACCOUNT_OK;
}

/* NickServ PASSWD and DROP: the owner proves it with the password, then the account's hash
 * is replaced, or the account deleted (its name freed on every node: account_forget). */
static enum account_result change(struct accounts *a, struct request *r)
{
    enum account_result res = verify(a, r);
    if (res != ACCOUNT_OK)
        return res;
    char key[IRC_NICK_MAX + 1], hash[crypto_pwhash_STRBYTES];
    ircname_fold(r->name, key, sizeof key);
    if (r->op == ACCOUNT_PASSWD &&
        crypto_pwhash_str(hash, r->newpass, strlen(r->newpass), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return ACCOUNT_ERROR;
    if (a->net) {
        int rc = r->op == ACCOUNT_PASSWD ? account_redis_set_hash(a->net, key, hash)
                                         : account_redis_drop(a->net, key);
        if (rc < 0)
            return ACCOUNT_ERROR;
    } else {
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(a->db,
                                    r->op == ACCOUNT_PASSWD
                                        ? "UPDATE accounts SET hash = ?2 WHERE name = ?1"
                                        : "DELETE FROM accounts WHERE name = ?1",
                                    -1, &st, NULL);
        if (rc == SQLITE_OK) {
            sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
            if (r->op == ACCOUNT_PASSWD)
                sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
            rc = sqlite3_step(st);
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) {
            log_error("accounts: cannot change %s: %s", r->name, sqlite3_errmsg(a->db));
            return ACCOUNT_ERROR;
        }
    }
    sodium_memzero(hash, sizeof hash);
    if (r->op == ACCOUNT_DROP) {
        forget(a, r->name);
        log_info("accounts: %s dropped by its owner", r->name);
    }
    return ACCOUNT_OK;
}

static void answer(struct accounts *a, struct request *r, enum account_result res)
{
    fanout_call(a->srv, r->worker, r->id, r->done, (int)r->op, (int)res,
                r->op == ACCOUNT_OPER ? r->oper : r->name);
}

/* The next request, QUEUE_CLEAN first (under a->lock); NULL when both are empty. */
static struct request *dequeue(struct accounts *a)
{
    for (int i = 0; i < QUEUES; i++) {
        struct queue *q = &a->queues[i];
        struct request *r = q->head;
        if (!r)
            continue;
        q->head = r->next;
        if (!q->head)
            q->tail = NULL;
        q->n--;
        return r;
    }
    return NULL;
}

static int queues_empty(const struct accounts *a)
{
    return !a->queues[QUEUE_CLEAN].head && !a->queues[QUEUE_SLOW].head;
}

static void *account_main(void *arg)
{
    struct accounts *a = arg;
    pthread_setname_np(pthread_self(), "tcpchatd-acct"); /* for top -H, perf, gdb */
    time_t next_expiry = 0; /* at start, then every ACCOUNT_EXPIRE_EVERY_S */
    for (;;) {
        if (time(NULL) >= next_expiry) {
            expire(a);
            next_expiry = time(NULL) + ACCOUNT_EXPIRE_EVERY_S;
        }
        pthread_mutex_lock(&a->lock);
        while (queues_empty(a) && !a->stop && time(NULL) < next_expiry) {
            struct timespec until = {.tv_sec = next_expiry};
            pthread_cond_timedwait(&a->wake, &a->lock, &until);
        }
        if (queues_empty(a) && !a->stop) {
            pthread_mutex_unlock(&a->lock);
            continue; /* time to expire */
        }
        if (a->stop) {
            pthread_mutex_unlock(&a->lock);
            break;
        }
        struct request *r = dequeue(a);
        pthread_mutex_unlock(&a->lock);
        enum account_result res;
        if (r->op == ACCOUNT_VERIFY)
            res = verify(a, r);
        else if (r->op == ACCOUNT_EXTERNAL)
            res = external(a, r);
        else if (r->op == ACCOUNT_OPER)
            res = crypto_pwhash_str_verify(r->hash, r->password, strlen(r->password)) == 0
                      ? ACCOUNT_OK
                      : ACCOUNT_BAD_PASSWORD;
        else if (r->op == ACCOUNT_PASSWD || r->op == ACCOUNT_DROP)
            res = change(a, r);
        else
            res = create(a, r);
        answer(a, r, res);
        forget_request(r);
    }
    return NULL;
}

/* A request with its common fields, not queued yet (NULL without memory or store). */
static struct request *request_new(struct server *srv, enum account_op op, int worker, uint64_t id,
                                   const char *name, const char *password, account_done_fn *done)
{
    struct request *r = srv->accounts ? calloc(1, sizeof *r) : NULL;
    if (!r)
        return NULL;
    r->op = op;
    r->worker = worker;
    r->id = id;
    r->done = done;
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->password, sizeof r->password, "%s", password);
    return r;
}

/* Queues r (QUEUE_SLOW for a REGISTER or when host failed lately, else QUEUE_CLEAN): 0, or -1
 * when that queue is full (r is freed). */
static int enqueue(struct server *srv, struct request *r, const char *host)
{
    struct accounts *a = srv->accounts;
    int slow = r->op == ACCOUNT_REGISTER || budget_recent(a->login_failures, host, time(NULL)) > 0;
    struct queue *q = &a->queues[slow ? QUEUE_SLOW : QUEUE_CLEAN];
    pthread_mutex_lock(&a->lock);
    int full = q->n >= srv->cfg.login_queue || a->stop;
    if (!full) {
        if (q->tail)
            q->tail->next = r;
        else
            q->head = r;
        q->tail = r;
        q->n++;
        pthread_cond_signal(&a->wake);
    }
    pthread_mutex_unlock(&a->lock);
    if (full)
        forget_request(r);
    return full ? -1 : 0;
}

int account_request(struct server *srv, enum account_op op, int worker, uint64_t id,
                    const char *host, const char *name, const char *password, const char *certfp,
                    account_done_fn *done)
{
    struct request *r = request_new(srv, op, worker, id, name, password, done);
    if (!r)
        return -2;
    snprintf(r->certfp, sizeof r->certfp, "%s", certfp ? certfp : "");
    return enqueue(srv, r, host);
}

int account_request_oper(struct server *srv, int worker, uint64_t id, const char *host,
                         const char *oper, const char *hash, const char *password,
                         account_done_fn *done)
{
    struct request *r = request_new(srv, ACCOUNT_OPER, worker, id, "", password, done);
    if (!r)
        return -2;
    snprintf(r->oper, sizeof r->oper, "%s", oper);
    snprintf(r->hash, sizeof r->hash, "%s", hash);
    return enqueue(srv, r, host);
}

int account_request_change(struct server *srv, enum account_op op, int worker, uint64_t id,
                           const char *host, const char *name, const char *password,
                           const char *newpass, account_done_fn *done)
{
    struct request *r = request_new(srv, op, worker, id, name, password, done);
    if (!r)
        return -2;
    snprintf(r->newpass, sizeof r->newpass, "%s", newpass ? newpass : "");
    return enqueue(srv, r, host);
}

static int store_open(struct accounts *a, const char *dir)
{
    char path[PATH_MAX];
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        fprintf(stderr, "tcpchatd: cannot create data directory %s: %s\n", dir, strerror(errno));
        return -1;
    }
    snprintf(path, sizeof path, "%s/accounts.db", dir);
    char *err = NULL;
    int rc = sqlite3_open_v2(
        path, &a->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK)
        sqlite3_busy_timeout(a->db, 5000);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(a->db,
                          "PRAGMA journal_mode=WAL;"
                          "CREATE TABLE IF NOT EXISTS accounts("
                          " name TEXT PRIMARY KEY," /* folded nick */
                          " display TEXT NOT NULL," /* as registered */
                          " hash TEXT NOT NULL,"    /* crypto_pwhash_str(): $argon2id$... */
                          " created INTEGER NOT NULL,"
                          " certfp TEXT," /* SHA-256 of a TLS client certificate (EXTERNAL) */
                          " last_login INTEGER);" /* seconds; NULL: never logged into */
                          "CREATE INDEX IF NOT EXISTS accounts_certfp ON accounts(certfp);",
                          NULL, NULL, &err);
    /* last_login (seconds; NULL: never logged into, which expires) came later: added to a
     * store made before it (a new one has it from CREATE TABLE). */
    sqlite3_stmt *probe = NULL;
    if (rc == SQLITE_OK && sqlite3_prepare_v2(a->db, "SELECT last_login FROM accounts LIMIT 0", -1,
                                              &probe, NULL) != SQLITE_OK)
        rc = sqlite3_exec(a->db,
                          "BEGIN IMMEDIATE;"
                          "ALTER TABLE accounts ADD COLUMN last_login INTEGER;"
                          /* the accounts there are taken as in use: none expires for it */
                          "UPDATE accounts SET last_login = CAST(strftime('%s', 'now') AS INTEGER);"
                          "COMMIT;",
                          NULL, NULL, &err);
    sqlite3_finalize(probe);
    probe = NULL;
    /* Another process on the same directory may have added it first (two servers started
     * at once on a new store): then the column is there, and that is all that was needed. */
    if (rc != SQLITE_OK && sqlite3_prepare_v2(a->db, "SELECT last_login FROM accounts LIMIT 0", -1,
                                              &probe, NULL) == SQLITE_OK) {
        sqlite3_exec(a->db, "ROLLBACK;", NULL, NULL, NULL);
        sqlite3_free(err);
        err = NULL;
        rc = SQLITE_OK;
    }
    sqlite3_finalize(probe);
    sqlite3_stmt *st = NULL;
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(a->db, "SELECT display FROM accounts", -1, &st, NULL);
    while (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        know(a, (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (rc == SQLITE_OK)
        return 0;
    fprintf(stderr,
            "tcpchatd: cannot use the account store %s: %s\n"
            "  (move it away to start without accounts)\n",
            path,
            err     ? err
            : a->db ? sqlite3_errmsg(a->db)
                    : "?");
    sqlite3_free(err);
    return -1;
}

static void know_cb(void *arg, const char *name)
{
    know(arg, name);
}

/* A node that ran alone before has accounts in its own store (--data-dir/accounts.db): they
 * go into Redis, so its users keep them in the network. A name the network has already
 * stays the network's (logged: that user must register another). Every start, cheaply:
 * what Redis has is skipped, and so is what was carried once (tc:carried, by name and
 * password hash): an account dropped on the network stays dropped, while one made again
 * alone since, with another password, is carried. The file is left as it is. */
static void carry_accounts(struct accounts *a)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/accounts.db", a->srv->cfg.data_dir);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    if (access(path, F_OK) != 0)
        return;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT name, display, hash, certfp FROM accounts", -1, &st, NULL) !=
            SQLITE_OK) {
        log_warn("accounts: cannot read %s to carry its accounts into the network: %s", path,
                 sqlite3_errmsg(db));
        sqlite3_close(db);
        return;
    }
    int carried = 0, taken = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *key = (const char *)sqlite3_column_text(st, 0);
        const char *display = (const char *)sqlite3_column_text(st, 1);
        const char *hash = (const char *)sqlite3_column_text(st, 2);
        const char *certfp = (const char *)sqlite3_column_text(st, 3);
        if (!key || !display || !hash || !ircname_nick_valid(display))
            continue;
        char have[crypto_pwhash_STRBYTES], memo[IRC_NICK_MAX + crypto_pwhash_STRBYTES + 4];
        snprintf(memo, sizeof memo, "A %s %s", key, hash);
        int rc = account_redis_hash(a->net, key, have, sizeof have);
        if (rc == -1 && account_redis_carried(a->net, memo) == 1)
            continue; /* carried once and dropped on the network since */
        if (rc == 0 && strcmp(have, hash) == 0)
            account_redis_mark_carried(a->net, memo);
        if (rc == 0 && strcmp(have, hash) != 0) {
            log_warn("accounts: %s of %s is another account on the network already; not "
                     "carried",
                     display, path);
            find_known(a, display, NULL, 1);
            taken++;
            continue;
        }
        if (rc == -1 && account_redis_create(a->net, key, display, hash) == 0) {
            know(a, display);
            account_redis_mark_carried(a->net, memo);
            carried++;
        }
        if (rc == -2)
            break;
        if (certfp && certfp[0])
            account_redis_bind_cert(a->net, key, certfp);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    if (carried || taken)
        log_info("accounts: carried %d accounts of %s into the network (%d names were taken)",
                 carried, path, taken);
}

/* The cluster's store: Redis, with every registered name known from the start. */
static int net_open(struct accounts *a)
{
    a->net = account_redis_open(&a->srv->cfg);
    if (!a->net || account_redis_each(a->net, know_cb, a) < 0) {
        fprintf(stderr, "tcpchatd: cannot use the network's account store in Redis\n");
        return -1;
    }
    carry_accounts(a);
    return 0;
}

void account_forget(struct server *srv, const char *name)
{
    if (srv->accounts)
        forget(srv->accounts, name);
}

void account_learn(struct server *srv, const char *name)
{
    if (srv->accounts && ircname_nick_valid(name))
        know(srv->accounts, name);
}

static void accounts_free(struct accounts *a)
{
    struct known *k, *tmp;
    HASH_ITER(hh, a->known, k, tmp)
    {
        /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): false positive, delete in HASH_ITER */
        HASH_DEL(a->known, k);
        free(k);
    }
    struct request *r;
    while ((r = dequeue(a)))
        forget_request(r);
    sqlite3_close(a->db);
    account_redis_free(a->net);
    budget_free(a->login_failures);
    budget_free(a->registrations);
    budget_free(a->global_failures);
    budget_free(a->trusted);
    pthread_mutex_destroy(&a->lock);
    pthread_cond_destroy(&a->wake);
    free(a);
}

int account_open(struct server *srv)
{
    struct accounts *a = calloc(1, sizeof *a);
    if (!a)
        return -1;
    a->login_failures = budget_new(LOGIN_WINDOW_S);
    a->registrations = budget_new(REGISTER_WINDOW_S);
    a->global_failures = budget_new(LOGIN_GLOBAL_WINDOW_S);
    a->trusted = budget_new(LOGIN_TRUSTED_S);
    if (!a->login_failures || !a->registrations || !a->global_failures || !a->trusted) {
        budget_free(a->login_failures);
        budget_free(a->registrations);
        budget_free(a->global_failures);
        budget_free(a->trusted);
        free(a);
        return -1;
    }
    a->srv = srv;
    a->expire_days = srv->cfg.account_expire_days;
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->wake, NULL);
    /* In a cluster the accounts are the network's, in Redis; else this node's, in SQLite. */
    if (srv->cfg.cluster ? net_open(a) < 0 : store_open(a, srv->cfg.data_dir) < 0) {
        accounts_free(a);
        return -1;
    }
    if (pthread_create(&a->thread, NULL, account_main, a) != 0) {
        fprintf(stderr, "tcpchatd: cannot start the account thread\n");
        accounts_free(a);
        return -1;
    }
    srv->accounts = a;
    return 0;
}

void account_close(struct server *srv)
{
    struct accounts *a = srv->accounts;
    if (!a)
        return;
    pthread_mutex_lock(&a->lock);
    a->stop = 1;
    pthread_cond_signal(&a->wake);
    pthread_mutex_unlock(&a->lock);
    pthread_join(a->thread, NULL);
    accounts_free(a);
    srv->accounts = NULL;
}

long account_login_wait(struct server *srv, const char *host)
{
    struct accounts *a = srv->accounts;
    return a ? budget_wait(a->login_failures, host, srv->cfg.login_fail_limit, time(NULL)) : 0;
}

/* The global budget. Per-address budgets do not bound a flood from many addresses, and every
 * failed PLAIN login costs the one account thread an argon2id check; so failed PLAIN logins
 * are also counted for the whole server, and past --login-fail-global of them in a minute
 * AUTHENTICATE PLAIN is refused at once ("server busy, try again in N s", N the rest of the
 * minute) with no check run: the attacker's guesses stop costing anything, and what they
 * still cost is bounded by the budget. A throttle for everyone would lock out the users too,
 * so an address with a successful login within LOGIN_TRUSTED_S (a user's own, most likely) is
 * exempt: its logins go on, still under its own --login-fail-limit. The trusted table is a
 * budget table too (at most BUDGET_ADDRS_MAX addresses, the oldest forgotten first); an
 * attacker with an account of its own can trust its few addresses, no more than that.
 * EXTERNAL runs no argon2id (a certificate lookup) and is not refused here. */
#define GLOBAL_KEY "*" /* the one entry of global_failures */

long account_login_busy(struct server *srv, const char *host)
{
    struct accounts *a = srv->accounts;
    if (!a)
        return 0;
    time_t now = time(NULL);
    long wait = budget_wait(a->global_failures, GLOBAL_KEY, srv->cfg.login_fail_global, now);
    return wait > 0 && budget_recent(a->trusted, host, now) == 0 ? wait : 0;
}

void account_login_failed(struct server *srv, const char *host, int plain)
{
    if (!srv->accounts)
        return;
    budget_count(srv->accounts->login_failures, host, time(NULL));
    if (plain)
        budget_count(srv->accounts->global_failures, GLOBAL_KEY, time(NULL));
}

void account_login_ok(struct server *srv, const char *host)
{
    if (srv->accounts)
        budget_count(srv->accounts->trusted, host, time(NULL));
}

long account_register_wait(struct server *srv, const char *host)
{
    struct accounts *a = srv->accounts;
    return a ? budget_wait(a->registrations, host, srv->cfg.register_limit, time(NULL)) : 0;
}

void account_register_counted(struct server *srv, const char *host)
{
    if (srv->accounts)
        budget_count(srv->accounts->registrations, host, time(NULL));
}
