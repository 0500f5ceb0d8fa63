/* ban: the table of K-lines and D-lines, its store (bans.db) and the matching (ban.h). */
#include "ban.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/ircname.h"
#include "common/log.h"
#include "common/utf8.h"
#include "small_store.h"

/* The bans in the order they were set; table_lock guards bans and nbans. db_lock guards the
 * SQLite handle: a change takes it before letting table_lock go, so the store sees changes in
 * the table's order while checks go on without waiting for the disk (lock order: table_lock,
 * then db_lock). */
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t db_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ban *bans; /* BANS_MAX of them, allocated by ban_open */
static int nbans;
static unsigned long long last_seq; /* the seq of the last ban put in the table */
static sqlite3 *db;
/* In a cluster (ban_use_network): where changes go instead of the SQLite store. Set before
 * the workers start, read-only after; called under db_lock, so in the table's order. */
static ban_save_fn *net_save;
static void *net_arg;

static const char *kind_name(enum ban_kind kind)
{
    return kind == BAN_KLINE ? "K" : "D";
}

static long long now_s(void)
{
    return (long long)time(NULL);
}

static int in_force(const struct ban *b, long long now)
{
    return b->expires == 0 || b->expires > now;
}

/* A host part that is nothing but wildcards and separators ("*", "*.*", "*:*") bans everyone. */
static int too_wide_glob(const char *host)
{
    return host[strspn(host, "*?.:")] == '\0';
}

static enum ban_result invalid(char *why, size_t cap, const char *text)
{
    snprintf(why, cap, "%s", text);
    return BAN_INVALID;
}

static int too_wide_block(const struct cidr *b)
{
    return b->bits < (b->family == AF_INET ? BAN_CIDR_MIN_V4 : BAN_CIDR_MIN_V6);
}

enum ban_result ban_parse(enum ban_kind kind, const char *mask, struct ban *out, char *why,
                          size_t cap)
{
    memset(out, 0, sizeof *out);
    out->kind = kind;
    size_t len = strlen(mask);
    if (len == 0 || len > BAN_MASK_MAX)
        return invalid(why, cap, "the mask is empty or too long");
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)mask[i];
        if (ch <= ' ' || ch == ',' || ch == '!' || ch >= 0x7F)
            return invalid(why, cap, "the mask has a character no mask may have");
        out->mask[i] = (char)tolower(ch);
    }
    if (kind == BAN_DLINE) {
        if (cidr_parse(out->mask, &out->block) < 0)
            return invalid(why, cap, "a D-line is an IP address or a CIDR block (1.2.3.0/24)");
        if (too_wide_block(&out->block))
            return invalid(why, cap, "the block is too wide");
        out->is_cidr = 1;
        return BAN_OK;
    }
    const char *at = strchr(out->mask, '@');
    if (at && strchr(at + 1, '@'))
        return invalid(why, cap, "a K-line is user@host or host");
    size_t user_len = at ? (size_t)(at - out->mask) : 1;
    const char *host = at ? at + 1 : out->mask;
    if (user_len == 0 || user_len > USER_MAX || !host[0] || strlen(host) >= HOST_MAX)
        return invalid(why, cap, "a K-line is user@host or host (user at most USERLEN)");
    memcpy(out->user, at ? out->mask : "*", user_len);
    out->user[user_len] = '\0';
    memcpy(out->host, host, strlen(host) + 1);
    if (strchr(out->host, '/')) {
        if (cidr_parse(out->host, &out->block) < 0)
            return invalid(why, cap, "the host is not a CIDR block (1.2.3.0/24)");
        if (too_wide_block(&out->block))
            return invalid(why, cap, "the block is too wide");
        out->is_cidr = 1;
    } else if (too_wide_glob(out->host)) {
        return invalid(why, cap, "the host mask would match everyone");
    }
    if (!at) /* the mask as it is matched */
        snprintf(out->mask, sizeof out->mask, "*@%s", out->host);
    return BAN_OK;
}

long long ban_parse_duration(const char *text)
{
    if (!isdigit((unsigned char)text[0]))
        return -1;
    errno = 0;
    char *end;
    long long n = strtoll(text, &end, 10);
    if (errno || n < 0)
        return -1;
    long long unit;
    switch (*end) {
    case '\0':
    case 'm':
        unit = 60;
        break;
    case 's':
        unit = 1;
        break;
    case 'h':
        unit = 3600;
        break;
    case 'd':
        unit = 86400;
        break;
    case 'w':
        unit = 7 * 86400;
        break;
    default:
        return -1;
    }
    if (*end && end[1])
        return -1;
    if (n > BAN_DURATION_MAX / unit)
        return BAN_DURATION_MAX;
    return n * unit;
}

void ban_duration_str(long long s, char *out, size_t cap)
{
    static const struct {
        long long seconds;
        const char *name;
    } units[] = {{7 * 86400, "week"}, {86400, "day"}, {3600, "hour"}, {60, "minute"}};
    if (s <= 0) {
        snprintf(out, cap, "permanent");
        return;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (s % units[i].seconds == 0) {
            long long n = s / units[i].seconds;
            snprintf(out, cap, "%lld %s%s", n, units[i].name, n == 1 ? "" : "s");
            return;
        }
    }
    snprintf(out, cap, "%lld second%s", s, s == 1 ? "" : "s");
}

/* --- the store --------------------------------------------------------------------------- */

/* Runs one statement of the store on a ban (db_lock held); logs a failure. Returns 0 or -1. */
static int store_exec(const char *sql, const struct ban *b, int with_row)
{
    if (!db)
        return -1;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, kind_name(b->kind), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, b->mask, -1, SQLITE_STATIC);
        if (with_row) {
            sqlite3_bind_text(st, 3, b->reason, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 4, b->setter, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 5, b->set_at);
            sqlite3_bind_int64(st, 6, b->expires);
        }
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE)
        return 0;
    log_event(LOG_WARN, "ban store failed", LOG_TEXT("mask", b->mask),
              LOG_TEXT("error", sqlite3_errmsg(db)));
    return -1;
}

static int store_put(const struct ban *b)
{
    if (net_save)
        return net_save(net_arg, b, BAN_SAVE_SET);
    return store_exec("INSERT OR REPLACE INTO bans(kind, mask, reason, setter, set_at, expires)"
                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                      b, 1);
}

/* how: BAN_SAVE_LIFT or BAN_SAVE_EXPIRE (for the network; the file does not care). */
static int store_delete(const struct ban *b, enum ban_save how)
{
    if (net_save)
        return net_save(net_arg, b, how);
    return store_exec("DELETE FROM bans WHERE kind = ?1 AND mask = ?2", b, 0);
}

/* The rows of the store, oldest first, each read by row_ban. */
#define SELECT_BANS                                                                                \
    "SELECT kind, mask, reason, setter, set_at, expires FROM bans ORDER BY set_at, rowid"

/* The ban of a row of SELECT_BANS into b: 0, or -1 (logged) when the row is not one. */
static int row_ban(sqlite3_stmt *st, struct ban *b)
{
    const char *kind = (const char *)sqlite3_column_text(st, 0);
    const char *mask = (const char *)sqlite3_column_text(st, 1);
    char why[128];
    if (!kind || !mask ||
        ban_parse(kind[0] == 'K' ? BAN_KLINE : BAN_DLINE, mask, b, why, sizeof why) != BAN_OK) {
        log_event(LOG_WARN, "ban store: row ignored", LOG_TEXT("mask", mask ? mask : ""));
        return -1;
    }
    const char *reason = (const char *)sqlite3_column_text(st, 2);
    const char *setter = (const char *)sqlite3_column_text(st, 3);
    utf8_copy(b->reason, reason ? reason : "", BAN_REASON_MAX);
    snprintf(b->setter, sizeof b->setter, "%s", setter ? setter : "*");
    b->set_at = sqlite3_column_int64(st, 4);
    b->expires = sqlite3_column_int64(st, 5);
    return 0;
}

/* Loads the rows into the table, forgetting the expired ones and any past BANS_MAX. */
static int store_load(void)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, SELECT_BANS, -1, &st, NULL);
    long long now = now_s();
    while (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        struct ban b;
        if (row_ban(st, &b) < 0)
            continue;
        if (!in_force(&b, now)) {
            store_delete(&b, BAN_SAVE_EXPIRE);
            continue;
        }
        if (nbans == BANS_MAX) {
            log_event(LOG_WARN, "ban store: more bans than BANS_MAX, the rest ignored",
                      LOG_NUM("max", BANS_MAX));
            break;
        }
        b.seq = ++last_seq;
        bans[nbans++] = b;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? 0 : -1;
}

int ban_file_each(const char *dir, void (*fn)(void *arg, const struct ban *b), void *arg)
{
    sqlite3 *file = NULL;
    int rc = small_store_open_readonly(dir, "bans.db", "ban store", &file);
    if (rc <= 0)
        return rc;
    sqlite3_stmt *st = NULL;
    int n = 0;
    long long now = now_s();
    rc = sqlite3_prepare_v2(file, SELECT_BANS, -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    for (; rc == SQLITE_ROW; rc = sqlite3_step(st)) {
        struct ban b;
        if (row_ban(st, &b) == 0 && in_force(&b, now)) {
            fn(arg, &b);
            n++;
        }
    }
    if (rc != SQLITE_DONE)
        log_warn("cannot read the ban store %s/bans.db: %s", dir, sqlite3_errmsg(file));
    sqlite3_finalize(st);
    sqlite3_close(file);
    return rc == SQLITE_DONE ? n : -1;
}

#define STORE_WHAT "ban store"
#define STORE_HINT "move it away to start without its bans"

int ban_open(const char *dir)
{
    bans = calloc(BANS_MAX, sizeof *bans);
    if (!bans) {
        fprintf(stderr, "tcpchatd: out of memory for the ban table\n");
        return -1;
    }
    if (!dir)
        return 0; /* a cluster's node: the network keeps them (ban_use_network) */
    if (small_store_open(dir, "bans.db",
                         "CREATE TABLE IF NOT EXISTS bans("
                         " kind TEXT NOT NULL," /* 'K' or 'D' */
                         " mask TEXT NOT NULL," /* lower-cased, as ban_parse makes it */
                         " reason TEXT NOT NULL,"
                         " setter TEXT NOT NULL,"     /* nick!user@host */
                         " set_at INTEGER NOT NULL,"  /* seconds since the epoch */
                         " expires INTEGER NOT NULL," /* the same; 0: never */
                         " PRIMARY KEY (kind, mask));",
                         STORE_WHAT, STORE_HINT, &db) == 0 &&
        store_load() == 0)
        return 0;
    if (db)
        small_store_failed(dir, "bans.db", STORE_WHAT, STORE_HINT, &db, NULL);
    ban_close();
    return -1;
}

void ban_close(void)
{
    pthread_mutex_lock(&table_lock);
    pthread_mutex_lock(&db_lock);
    if (db)
        sqlite3_close(db);
    db = NULL;
    free(bans);
    bans = NULL;
    nbans = 0;
    pthread_mutex_unlock(&db_lock);
    pthread_mutex_unlock(&table_lock);
}

/* --- the table --------------------------------------------------------------------------- */

/* The index of the ban of kind on mask (table_lock held), or -1. */
static int find(enum ban_kind kind, const char *mask)
{
    for (int i = 0; i < nbans; i++) {
        if (bans[i].kind == kind && strcasecmp(bans[i].mask, mask) == 0)
            return i;
    }
    return -1;
}

/* Takes ban i out of the table (table_lock held), keeping the others' order. */
static void drop(int i)
{
    memmove(&bans[i], &bans[i + 1], (size_t)(nbans - i - 1) * sizeof bans[0]);
    nbans--;
}

enum ban_result ban_add(enum ban_kind kind, const char *mask, const char *reason,
                        const char *setter, long long duration_s, struct ban *out, char *why,
                        size_t cap, int *stored)
{
    struct ban b;
    *stored = 0;
    enum ban_result r = ban_parse(kind, mask, &b, why, cap);
    if (r != BAN_OK)
        return r;
    utf8_copy(b.reason, reason, BAN_REASON_MAX);
    snprintf(b.setter, sizeof b.setter, "%s", setter);
    b.set_at = now_s();
    b.expires = duration_s > 0 ? b.set_at + duration_s : 0;
    ban_prune(b.set_at);
    pthread_mutex_lock(&table_lock);
    if (!bans) {
        r = BAN_FULL;
    } else if (find(kind, b.mask) >= 0) {
        r = BAN_EXISTS;
    } else if (nbans == BANS_MAX) {
        r = BAN_FULL;
    } else {
        b.seq = ++last_seq;
        bans[nbans++] = b;
    }
    if (r != BAN_OK) {
        pthread_mutex_unlock(&table_lock);
        return r;
    }
    pthread_mutex_lock(&db_lock);
    pthread_mutex_unlock(&table_lock);
    *stored = store_put(&b) == 0;
    pthread_mutex_unlock(&db_lock);
    if (out)
        *out = b;
    return BAN_OK;
}

enum ban_result ban_remove(enum ban_kind kind, const char *mask)
{
    /* A K-line set on a host alone is kept as "*@host": so is its name here. */
    char full[BAN_MASK_MAX + 3];
    snprintf(full, sizeof full, "%s%s", kind == BAN_KLINE && !strchr(mask, '@') ? "*@" : "", mask);
    pthread_mutex_lock(&table_lock);
    int i = bans ? find(kind, full) : -1;
    if (i < 0) {
        pthread_mutex_unlock(&table_lock);
        return BAN_NONE;
    }
    struct ban b = bans[i];
    drop(i);
    pthread_mutex_lock(&db_lock);
    pthread_mutex_unlock(&table_lock);
    store_delete(&b, BAN_SAVE_LIFT);
    pthread_mutex_unlock(&db_lock);
    return BAN_OK;
}

/* --- the network's bans (a cluster) ---------------------------------------------------------- */

void ban_use_network(ban_save_fn *save, void *arg)
{
    net_save = save;
    net_arg = arg;
}

static int same_ban(const struct ban *a, const struct ban *b)
{
    return a->set_at == b->set_at && a->expires == b->expires &&
           strcmp(a->reason, b->reason) == 0 && strcmp(a->setter, b->setter) == 0;
}

/* Puts b in the table (table_lock held), replacing the ban of its kind and mask: its seq,
 * or 0 when the table had it already as it is (or is full). */
static unsigned long long learn(const struct ban *b)
{
    int i = find(b->kind, b->mask);
    if (i >= 0 && same_ban(&bans[i], b))
        return 0;
    if (i >= 0)
        drop(i);
    if (nbans == BANS_MAX) {
        log_event(LOG_WARN, "more bans on the network than BANS_MAX, one ignored",
                  LOG_TEXT("mask", b->mask), LOG_NUM("max", BANS_MAX));
        return 0;
    }
    bans[nbans] = *b;
    bans[nbans].seq = ++last_seq;
    return bans[nbans++].seq;
}

unsigned long long ban_learn(const struct ban *b)
{
    pthread_mutex_lock(&table_lock);
    unsigned long long seq = bans ? learn(b) : 0;
    pthread_mutex_unlock(&table_lock);
    return seq;
}

int ban_forget(enum ban_kind kind, const char *mask)
{
    pthread_mutex_lock(&table_lock);
    int i = bans ? find(kind, mask) : -1;
    if (i >= 0)
        drop(i);
    pthread_mutex_unlock(&table_lock);
    return i >= 0;
}

unsigned long long ban_learn_all(const struct ban *list, int n)
{
    unsigned long long first = 0;
    pthread_mutex_lock(&table_lock);
    if (!bans) {
        pthread_mutex_unlock(&table_lock);
        return 0;
    }
    /* The bans the list lacks go; then the list's are learnt (those kept as they were keep
     * their number, so a sweep after this checks the new ones alone). */
    for (int i = 0; i < nbans;) {
        int listed = 0;
        for (int j = 0; j < n && !listed; j++)
            listed = list[j].kind == bans[i].kind && strcasecmp(list[j].mask, bans[i].mask) == 0;
        if (listed)
            i++;
        else
            drop(i);
    }
    for (int j = 0; j < n; j++) {
        unsigned long long seq = learn(&list[j]);
        if (seq && !first)
            first = seq;
    }
    pthread_mutex_unlock(&table_lock);
    return first;
}

static int matches(const struct ban *b, const char *user, const char *host)
{
    if (b->kind == BAN_DLINE)
        return cidr_has_host(&b->block, host);
    if (!user || !ircname_match(b->user, user))
        return 0;
    return b->is_cidr ? cidr_has_host(&b->block, host) : ircname_match(b->host, host);
}

int ban_find(const char *user, const char *host, struct ban *out)
{
    return ban_find_since(0, user, host, out);
}

int ban_find_since(unsigned long long seq, const char *user, const char *host, struct ban *out)
{
    long long now = now_s();
    int found = 0;
    pthread_mutex_lock(&table_lock);
    for (int i = 0; i < nbans && !found; i++) {
        if (bans[i].seq >= seq && in_force(&bans[i], now) && matches(&bans[i], user, host)) {
            found = 1;
            if (out)
                *out = bans[i];
        }
    }
    pthread_mutex_unlock(&table_lock);
    return found;
}

void ban_each(enum ban_kind kind, void (*fn)(void *arg, const struct ban *b), void *arg)
{
    long long now = now_s();
    pthread_mutex_lock(&table_lock);
    for (int i = 0; i < nbans; i++) {
        if (bans[i].kind == kind && in_force(&bans[i], now))
            fn(arg, &bans[i]);
    }
    pthread_mutex_unlock(&table_lock);
}

void ban_prune(long long now)
{
    struct ban gone[BAN_PRUNE_BATCH];
    int n;
    do {
        n = 0;
        pthread_mutex_lock(&table_lock);
        for (int i = 0; i < nbans && n < BAN_PRUNE_BATCH;) {
            if (in_force(&bans[i], now)) {
                i++;
                continue;
            }
            gone[n++] = bans[i];
            drop(i);
        }
        if (n)
            pthread_mutex_lock(&db_lock);
        pthread_mutex_unlock(&table_lock);
        for (int i = 0; i < n; i++) {
            log_event(LOG_INFO, "ban expired", LOG_TEXT("kind", kind_name(gone[i].kind)),
                      LOG_TEXT("mask", gone[i].mask));
            store_delete(&gone[i], BAN_SAVE_EXPIRE);
        }
        if (n)
            pthread_mutex_unlock(&db_lock);
    } while (n == BAN_PRUNE_BATCH);
}
