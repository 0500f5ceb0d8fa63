/* history: the message store: the journal every message is appended to before anyone gets
 * it, the writer thread that inserts its rows into SQLite and commits, seals and deletes
 * journal segments and applies retention, and the ordering gate that keeps live messages
 * behind a history answer (history.h). The answers themselves are history_query.c's. */
#include "history.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "core/hash.h"
#include "journal.h"
#include "core/fanout.h"
#include "history_query.h"
#include "core/msg.h"
#include "core/send.h"
#include "core/server.h"
#include "store/readmark.h"

enum hitem_kind { HI_POST, HI_STORE, HI_QUERY, HI_COMMIT, HI_MARK, HI_REDACT };

/* One entry of the writer's queue. */
struct hitem {
    struct hitem *next;
    enum hitem_kind kind;
    int worker;           /* HI_POST, HI_QUERY: the worker whose mailbox gets it */
    struct mb_item *post; /* HI_POST */
    struct event *ev;     /* HI_STORE (a reference) */
    long long id; /* HI_STORE: the row's id; HI_COMMIT: the last segment it commits; HI_MARK:
                   * the read time */
    size_t bytes; /* HI_COMMIT: the size of the segment sealed for it (0: none) */
    size_t cost;  /* HI_STORE: its bytes in the server's backlog (server.h) until inserted */
    struct hist_query *q;  /* HI_QUERY */
    struct hist_redact *r; /* HI_REDACT */
    struct hkeys *k;       /* HI_STORE: where it is stored, allocated with the item; HI_MARK:
                            * key the target, pm_from the account */
};

/* Where a message is stored: only HI_STORE items carry it, so the other items stay small. */
struct hkeys {
    char key[IRC_CHANNEL_MAX + 1];
    char pm_from[IRC_NICK_MAX + 1], pm_to[IRC_NICK_MAX + 1]; /* private: folded accounts */
};

/* A channel stored to since the last retention run; or (h->stored) one with rows at all. */
struct touched {
    char key[IRC_CHANNEL_MAX + 1];
    int msgs; /* h->stored: a message among them, not only channel events */
    UT_hash_handle hh;
};

/* The journal's files, in the data directory: history.journal, the live segment, where every
 * message is appended before anyone receives it, and history.journal.N (N = 1, 2, ...), the
 * sealed segments, deleted once their rows are committed to history.db. */
#define JPATH_MAX (PATH_MAX + 64)

struct history {
    struct server *srv;
    sqlite3 *db;
    sqlite3_stmt *insert;
    pthread_t thread;
    char dir[PATH_MAX];   /* the data directory */
    pthread_mutex_t lock; /* guards the queue and the fields down to stored_unknown */
    pthread_cond_t wake;  /* the writer waits on it for work */
    pthread_cond_t idle;  /* history_drain waits on it */
    struct hitem *head, *tail;
    uint64_t first_ms; /* when the oldest item in the queue came */
    int nudged;        /* an item other than a row is queued: the writer takes the queue now */
    int busy;          /* the writer is working on a batch it took */
    int stop;
    /* Channels that ever had a row stored (since the store was created; a channel emptied
     * by retention stays), and whether a message was among them, so a JOIN of a channel
     * without messages asks the writer for no replay (its JOINs and PARTs are no replay). */
    struct touched *stored;
    int stored_unknown;              /* an allocation failed: assume every channel has history */
    atomic_int queued_store;         /* HI_STORE items queued: the bound senders meet */
    atomic_int pending[WORKERS_MAX]; /* per worker: its HI_POST and HI_QUERY items not yet
                                      * posted (queued or in the writer's hands) */
    /* The journal (journal.h), appended by whoever stores a message, sealed by the writer.
     * Under jlock: */
    pthread_mutex_t jlock;
    struct journal jr;            /* the live segment */
    long long last_id;            /* id given to the last message journaled (never reused) */
    unsigned long long next_seal; /* the number the live segment gets when it is sealed */
    size_t sealed_bytes;          /* in sealed segments not yet deleted */
    int failing;                  /* the last message could not be journaled */
    int episode;                  /* how many times storing has started failing */
    long long lost;               /* messages relayed unstored since the journal failed */
    atomic_size_t live_bytes;     /* jr.len, for the writer to read without the lock */
    /* The writer's own, no lock: */
    long long seen;                  /* id of the last row the writer took */
    int in_tx;                       /* a transaction is open */
    uint64_t commit_ms;              /* when to seal and commit, or (db_failing) to try again */
    int sealing;                     /* a HI_COMMIT is queued */
    uint64_t seal_retry_ms;          /* sealing failed: the next try not before this */
    int db_failing;                  /* history.db refused a row: rows wait in the journal */
    unsigned long long first_sealed; /* the oldest sealed segment on disk (== next_seal: none) */
    size_t sealed_since;             /* bytes of the segments sealed since the last COMMIT */
    uint64_t next_prune_ms;
    uint64_t batch_seq; /* BATCH references: "h" and this, unique on every connection */
    int days;           /* retention, copied at start */
    long max;
    struct touched *touched; /* channels to cap by count at the next retention run */
    /* A read connection of its own for history_newest_ms (the cluster thread's). */
    pthread_mutex_t peek_lock;
    sqlite3 *peek;
    sqlite3_stmt *peek_newest;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* --- the store ------------------------------------------------------------------------- */

static const char schema[] =
    /* A page cache of up to 16 MiB (SQLite's default is 2 MiB), taken only as pages are
     * used: every channel written to keeps a hot leaf page in the target index, and with
     * 1,000 busy channels (bench/ manyrooms) those pages no longer fit in 2 MiB, so each
     * insert read its page back from the file. p99 latency there fell from ~460 to ~330 ms. */
    "PRAGMA cache_size=-16384;"
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "CREATE TABLE IF NOT EXISTS messages("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " target TEXT NOT NULL,"     /* folded channel name, '' for a private message */
    " pm_from TEXT, pm_to TEXT," /* private: sender's and recipient's accounts (folded) */
    " time_ms INTEGER NOT NULL,"
    " msgid TEXT NOT NULL,"
    " tags TEXT NOT NULL DEFAULT '',"     /* the sender's client-only tags */
    " line TEXT NOT NULL,"                /* the line as relayed, without tags and CR LF */
    " event INTEGER NOT NULL DEFAULT 0);" /* 1: JOIN, PART, MODE... (draft/event-playback) */
    "CREATE INDEX IF NOT EXISTS messages_target ON messages(target, id);"
    "CREATE INDEX IF NOT EXISTS messages_msgid ON messages(msgid);"
    /* Partial: a channel message (most of them) costs no entry here. */
    "CREATE INDEX IF NOT EXISTS messages_pm ON messages(pm_from, pm_to, id) WHERE target = '';"
    /* A channel's lifetimes end at rows with an empty line (history_end): few, found fast. */
    "CREATE INDEX IF NOT EXISTS messages_end ON messages(target, id) WHERE line = '';"
    /* No index on time: each one costs every insert, and retention by age walks the oldest
     * rows in id order instead (times rise with ids). */
    /* draft/read-marker (readmark.h): each account's last-read time per target, folded. */
    "CREATE TABLE IF NOT EXISTS read_markers(account TEXT NOT NULL, target TEXT NOT NULL,"
    " time_ms INTEGER NOT NULL, PRIMARY KEY(account, target));"
    "DROP INDEX IF EXISTS messages_time;";

static int exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    if (rc != SQLITE_OK) {
        log_error("history: %s", err ? err : sqlite3_errstr(rc));
        sqlite3_free(err);
    }
    return rc;
}

/* A message is kept once by its msgid: in a cluster a node that starts fills its store from
 * the network's copy (docs/cluster.md), which may hold what it stored before it stopped, and
 * INSERT OR IGNORE then leaves those alone. Channel events are not in it: a QUIT or NICK is
 * one event, with one msgid, stored in each of its user's channels (the index before events
 * were kept, messages_msgid_once, is replaced). A store written before this index whose
 * msgids are not unique keeps working without it (logged). Always true: the store opens
 * either way. */
static int msgid_once(sqlite3 *db)
{
    if (exec(db, "DROP INDEX IF EXISTS messages_msgid_once;"
                 "CREATE UNIQUE INDEX IF NOT EXISTS messages_msgid_unique ON messages(msgid) "
                 "WHERE msgid <> '' AND line <> '' AND event = 0") != SQLITE_OK)
        log_warn("history: messages are not unique by msgid in this store; a cluster node may "
                 "store a message twice");
    return 1;
}

/* A store made before channel events were kept has no event column: every row of it is a
 * message (0). Always true, like msgid_once; an ALTER that fails is logged and stops the
 * INSERT from preparing, which refuses the store clearly. */
static int event_column(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int has =
        sqlite3_prepare_v2(db, "SELECT event FROM messages LIMIT 0", -1, &st, NULL) == SQLITE_OK;
    sqlite3_finalize(st);
    if (!has)
        exec(db, "ALTER TABLE messages ADD COLUMN event INTEGER NOT NULL DEFAULT 0");
    return 1;
}

/* Whether a stored line is a channel event (JOIN, PART, KICK, QUIT, NICK, MODE, TOPIC) rather
 * than a message (PRIVMSG, NOTICE) or an end marker (empty): its command, after the
 * ":source ". Told from the line, so the journal's records need no field for it. */
static int line_is_event(const char *line, size_t len)
{
    const char *end = line + len, *p = line;
    if (len == 0)
        return 0;
    if (*p == ':') {
        p = memchr(p, ' ', len);
        if (!p)
            return 0;
        p++;
    }
    size_t n = (size_t)(end - p);
    const char *sp = memchr(p, ' ', n);
    size_t cmd = sp ? (size_t)(sp - p) : n;
    return !(cmd == 7 && memcmp(p, "PRIVMSG", 7) == 0) &&
           !(cmd == 6 && memcmp(p, "NOTICE", 6) == 0);
}

/* Refuses a damaged store at start: PRAGMA quick_check reads every page once. */
static int store_check(sqlite3 *db, char *why, size_t cap)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        snprintf(why, cap, "%s", sqlite3_errmsg(db));
        sqlite3_finalize(st);
        return -1;
    }
    const char *res = (const char *)sqlite3_column_text(st, 0);
    int ok = res && strcmp(res, "ok") == 0;
    if (!ok)
        snprintf(why, cap, "damaged: %s", res ? res : "?");
    sqlite3_finalize(st);
    return ok ? 0 : -1;
}

static void touch(struct history *h, const char *key);
static void mark_stored(struct history *h, const char *key, int msgs);
static void prune(struct history *h);
static int restore(struct history *h);
static void db_failed(struct history *h);
static void delete_sealed(struct history *h, unsigned long long upto);

static void live_path(const struct history *h, char *out, size_t cap)
{
    snprintf(out, cap, "%s/history.journal", h->dir);
}

static void sealed_path(const struct history *h, unsigned long long n, char *out, size_t cap)
{
    snprintf(out, cap, "%s/history.journal.%llu", h->dir, n);
}

/* The sealed segments a stop left on disk: first_sealed .. next_seal - 1. */
static void find_sealed(struct history *h)
{
    unsigned long long lo = 0, hi = 0;
    DIR *d = opendir(h->dir);
    const struct dirent *e;
    while (d && (e = readdir(d))) {
        const char *p = e->d_name;
        if (strncmp(p, "history.journal.", 16) != 0 || p[16] < '1' || p[16] > '9')
            continue;
        char *end;
        unsigned long long n = strtoull(p + 16, &end, 10);
        if (*end || n == ULLONG_MAX)
            continue;
        if (!lo || n < lo)
            lo = n;
        if (n > hi)
            hi = n;
    }
    if (d)
        closedir(d);
    h->next_seal = hi + 1;
    h->first_sealed = lo ? lo : h->next_seal;
}

/* The read markers kept, into readmark's table. */
static void load_marks(struct history *h)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(h->db, "SELECT account, target, time_ms FROM read_markers", -1, &st,
                           NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW)
            readmark_load((const char *)sqlite3_column_text(st, 0),
                          (const char *)sqlite3_column_text(st, 1), sqlite3_column_int64(st, 2));
    }
    sqlite3_finalize(st);
}

/* HI_MARK: a read marker into history.db, in the open transaction if there is one. Lost
 * while history.db fails (a marker is best effort; the next one brings it up to date). */
static void take_mark(struct history *h, const struct hitem *it)
{
    sqlite3_stmt *st = NULL;
    if (h->db_failing)
        return;
    if (sqlite3_prepare_v2(h->db,
                           "INSERT OR REPLACE INTO read_markers(account, target, time_ms) "
                           "VALUES (?, ?, ?)",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, it->k->pm_from, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, it->k->key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, it->id);
        if (sqlite3_step(st) != SQLITE_DONE)
            log_warn("history: a read marker was not kept: %s", sqlite3_errmsg(h->db));
    }
    sqlite3_finalize(st);
}

static int store_open(struct history *h, const char *dir)
{
    char path[JPATH_MAX], why[256] = "";
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        fprintf(stderr, "tcpchatd: cannot create data directory %s: %s\n", dir, strerror(errno));
        return -1;
    }
    snprintf(h->dir, sizeof h->dir, "%s", dir);
    snprintf(path, sizeof path, "%s/history.db", dir);
    int rc = sqlite3_open_v2(
        path, &h->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK)
        sqlite3_busy_timeout(h->db, 5000);
    char *err = NULL;
    if (rc == SQLITE_OK && store_check(h->db, why, sizeof why) == 0 &&
        sqlite3_exec(h->db, schema, NULL, NULL, &err) == SQLITE_OK && event_column(h->db) &&
        msgid_once(h->db) &&
        sqlite3_prepare_v2(h->db,
                           "INSERT OR IGNORE INTO messages(id, target, time_ms, msgid, tags, "
                           "line, pm_from, pm_to, event) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           -1, &h->insert, NULL) == SQLITE_OK) {
        /* Ids are given here, never reused: the highest ever given (AUTOINCREMENT keeps it
         * in sqlite_sequence even when retention deleted that row), then the journal's. */
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(
                h->db,
                "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE "
                "name = 'messages'), 0), coalesce((SELECT max(id) FROM messages), 0))",
                -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            h->last_id = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        find_sealed(h);
        live_path(h, path, sizeof path);
        if (journal_open(&h->jr, path) < 0) {
            fprintf(stderr, "tcpchatd: cannot use the history journal %s: %s\n", path,
                    strerror(errno));
            return -1;
        }
        if (h->jr.len > 0 || h->first_sealed < h->next_seal) {
            int n = restore(h);
            if (n < 0) {
                fprintf(stderr, "tcpchatd: cannot read the history journal %s: %s\n", path,
                        sqlite3_errmsg(h->db));
                return -1;
            }
            log_warn("history: %d message%s put back from history.journal (left uncommitted at "
                     "the last stop)",
                     n, PLURAL(n));
            if (sqlite3_exec(h->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK) {
                h->in_tx = 0;
                delete_sealed(h, h->next_seal - 1);
                journal_rewind(&h->jr, 0);
            } else {
                db_failed(h); /* the rows stay in the journal; the writer tries again */
            }
        }
        atomic_store(&h->live_bytes, h->jr.len);
        h->seen = h->last_id;
        /* Retention runs at start-up over every channel, then each minute over the ones
         * stored to since. */
        st = NULL;
        if (sqlite3_prepare_v2(h->db, "SELECT DISTINCT target FROM messages WHERE target != ''", -1,
                               &st, NULL) == SQLITE_OK) {
            while (sqlite3_step(st) == SQLITE_ROW) {
                const char *key = (const char *)sqlite3_column_text(st, 0);
                touch(h, key);
                mark_stored(h, key, 1);
            }
        }
        sqlite3_finalize(st);
        load_marks(h);
        if (!h->db_failing)
            prune(h);
        h->next_prune_ms = now_ms() + HISTORY_PRUNE_MS;
        return 0;
    }
    if (!why[0])
        snprintf(why, sizeof why, "%s", err ? err : h->db ? sqlite3_errmsg(h->db) : "?");
    fprintf(stderr,
            "tcpchatd: cannot use the history store %s: %s\n"
            "  (move it away to start with an empty history, or run with --history off)\n",
            path, why);
    sqlite3_free(err);
    return -1;
}

static void touch(struct history *h, const char *key)
{
    struct touched *t = NULL;
    if (h->max <= 0 || !key[0])
        return;
    HASH_FIND_STR(h->touched, key, t);
    if (t || !(t = calloc(1, sizeof *t)))
        return;
    snprintf(t->key, sizeof t->key, "%s", key);
    HASH_ADD_STR(h->touched, key, t);
}

/* Records that key (a folded channel) has history, messages among it when msgs; with h->lock
 * held once the writer runs. Without memory for it, every channel counts as having some. */
static void mark_stored(struct history *h, const char *key, int msgs)
{
    struct touched *t = NULL;
    HASH_FIND_STR(h->stored, key, t);
    if (!t) {
        if (!(t = calloc(1, sizeof *t))) {
            h->stored_unknown = 1;
            return;
        }
        snprintf(t->key, sizeof t->key, "%s", key);
        HASH_ADD_STR(h->stored, key, t);
    }
    t->msgs = t->msgs || msgs;
}

static void free_keys(struct touched **set)
{
    struct touched *t, *tmp;
    HASH_ITER(hh, *set, t, tmp)
    {
        /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): false positive, delete in HASH_ITER */
        HASH_DEL(*set, t);
        free(t);
    }
}

/* Retention: by age (an index range), then by count in each channel stored to since the
 * last run (so the work follows the traffic, not the size of the store). The count is of
 * messages: a channel's events (event-playback) are not counted with them, lest a busy
 * channel's JOINs and PARTs push its messages out; events older than the oldest message
 * kept go with it, and a channel keeps at most as many events as messages. */
static void prune(struct history *h)
{
    char sql[256];
    if (h->days > 0) {
        /* The oldest rows first, in id order, a bounded number per run. */
        snprintf(sql, sizeof sql,
                 "DELETE FROM messages WHERE id IN (SELECT id FROM messages ORDER BY id "
                 "LIMIT 100000) AND time_ms < %lld",
                 (long long)now_ms() - (long long)h->days * 86400000LL);
        exec(h->db, sql);
    }
    sqlite3_stmt *st = NULL;
    if (h->touched &&
        sqlite3_prepare_v2(h->db,
                           "DELETE FROM messages WHERE target = ?1 AND (id <= (SELECT id FROM "
                           "messages WHERE target = ?1 AND event = 0 ORDER BY id DESC LIMIT 1 "
                           "OFFSET ?2) OR (event = 1 AND id <= (SELECT id FROM messages WHERE "
                           "target = ?1 AND event = 1 ORDER BY id DESC LIMIT 1 OFFSET ?2)))",
                           -1, &st, NULL) != SQLITE_OK)
        log_error("history: %s", sqlite3_errmsg(h->db));
    struct touched *t, *tmp;
    HASH_ITER(hh, h->touched, t, tmp)
    {
        if (st) {
            sqlite3_reset(st);
            sqlite3_bind_text(st, 1, t->key, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 2, h->max);
            if (sqlite3_step(st) != SQLITE_DONE)
                log_error("history: %s", sqlite3_errmsg(h->db));
        }
        /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): false positive, delete in HASH_ITER */
        HASH_DEL(h->touched, t);
        free(t);
    }
    sqlite3_finalize(st);
}

/* Strips the CR LF a msg's line ends with. */
static size_t line_len(const struct msg *m)
{
    size_t n = m->len;
    while (n > 0 && (m->data[n - 1] == '\n' || m->data[n - 1] == '\r'))
        n--;
    return n;
}

/* A rename marker (history_rename): the end marker of a channel's lifetime whose tags, which a
 * client's always start with '+', are RENAME_MARK and the key that lifetime moved to. */
#define RENAME_MARK '>'

/* The writer meets rename marker id of key from: the rows of from's lifetime before it take
 * the name to. Whatever to held (lifetimes that ended, or one a server stop left open) is
 * set aside under "!" and its key, which no channel has, for retention to take in time:
 * the renamed channel's members must not read a stranger's past. Run only when the marker
 * row was new (a journal replayed twice moves nothing twice). */
static int move_lifetime(struct history *h, const char *from, const char *to, long long id)
{
    static const char *const sql[] = {
        "UPDATE messages SET target = '!' || target WHERE target = ?2",
        "UPDATE messages SET target = ?2 WHERE target = ?1 AND id < ?3 AND id > coalesce("
        "(SELECT max(id) FROM messages WHERE target = ?1 AND line = '' AND id < ?3), 0)",
        /* The read markers go with it (readmark_rename did the same in memory). */
        "DELETE FROM read_markers WHERE target = ?2",
        "UPDATE read_markers SET target = ?2 WHERE target = ?1",
    };
    int rc = SQLITE_OK;
    for (size_t i = 0; i < sizeof sql / sizeof sql[0] && rc == SQLITE_OK; i++) {
        sqlite3_stmt *st = NULL;
        rc = sqlite3_prepare_v2(h->db, sql[i], -1, &st, NULL);
        if (rc == SQLITE_OK) {
            sqlite3_bind_text(st, 1, from, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, to, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 3, id);
            rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(h->db);
        }
        sqlite3_finalize(st);
    }
    touch(h, to);
    return rc;
}

/* Inserts r (an id given before) in the open transaction. */
static int insert_row(struct history *h, const struct jrec *r)
{
    sqlite3_stmt *st = h->insert;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, r->id);
    sqlite3_bind_text(st, 2, r->target, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, r->time_ms);
    sqlite3_bind_text(st, 4, r->msgid, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, r->tags, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, r->line, (int)r->line_len, SQLITE_STATIC);
    if (r->pm_from[0])
        sqlite3_bind_text(st, 7, r->pm_from, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 7);
    if (r->pm_to[0])
        sqlite3_bind_text(st, 8, r->pm_to, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 8);
    sqlite3_bind_int(st, 9, line_is_event(r->line, r->line_len));
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE && r->line_len == 0 && r->tags[0] == RENAME_MARK &&
        sqlite3_changes(h->db) == 1)
        return move_lifetime(h, r->target, r->tags + 1, r->id);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* replay callback: a row of the journal back into the open transaction. */
static int restore_row(void *arg, const struct jrec *r)
{
    struct history *h = arg;
    if (insert_row(h, r) != SQLITE_OK)
        return -1;
    if (r->id > h->last_id)
        h->last_id = r->id;
    touch(h, r->target);
    return 0;
}

/* Puts the rows of the journal file at path back; a file that is not there holds none. */
static int restore_file(struct history *h, const char *path)
{
    if (access(path, F_OK) < 0)
        return 0;
    struct journal j;
    if (journal_open(&j, path) < 0)
        return -1;
    int n = journal_replay(&j, restore_row, h);
    journal_close(&j);
    return n;
}

/* Opens a new transaction and puts every row of the journal (sealed segments, then the live
 * one) in it; rows already in history.db stay as they are (INSERT OR IGNORE by id). At
 * start-up, and when history.db takes rows again after a failure. The rows read, or -1. */
static int restore(struct history *h)
{
    if (!sqlite3_get_autocommit(h->db))
        sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
    h->in_tx = 0;
    if (sqlite3_exec(h->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return -1;
    h->in_tx = 1;
    h->commit_ms = now_ms() + HISTORY_COMMIT_MS;
    int total = 0;
    char path[JPATH_MAX];
    pthread_mutex_lock(&h->jlock); /* the live segment holds still meanwhile */
    for (unsigned long long n = h->first_sealed; n < h->next_seal && total >= 0; n++) {
        sealed_path(h, n, path, sizeof path);
        int k = restore_file(h, path);
        total = k < 0 ? -1 : total + k;
    }
    if (total >= 0) {
        int k = journal_replay(&h->jr, restore_row, h);
        total = k < 0 ? -1 : total + k;
        atomic_store(&h->live_bytes, h->jr.len);
    }
    pthread_mutex_unlock(&h->jlock);
    return total;
}

/* history.db refused a row or a COMMIT (disk full, I/O error): the transaction is rolled back
 * and the rows wait in the journal (so they survive the process) until a later try puts them
 * back. Logged loudly the first time. */
static void db_failed(struct history *h)
{
    if (!h->db_failing)
        log_error("history: CANNOT WRITE %s/history.db (%s): messages wait in the journal until "
                  "it works again",
                  h->dir, sqlite3_errmsg(h->db));
    if (!sqlite3_get_autocommit(h->db))
        sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
    h->in_tx = 0;
    h->db_failing = 1;
    h->commit_ms = now_ms() + HISTORY_COMMIT_MS;
}

/* After a failure: puts the journal back into history.db. 0 once it worked. */
static int db_retry(struct history *h)
{
    if (!h->db_failing)
        return 0;
    if (restore(h) < 0) {
        db_failed(h); /* quietly: logged when it began */
        return -1;
    }
    h->db_failing = 0;
    log_warn("history: history.db takes rows again");
    return 0;
}

/* Deletes the sealed segments up to upto: their rows are committed. */
static void delete_sealed(struct history *h, unsigned long long upto)
{
    char path[JPATH_MAX];
    for (; h->first_sealed <= upto; h->first_sealed++) {
        sealed_path(h, h->first_sealed, path, sizeof path);
        if (unlink(path) < 0 && errno != ENOENT)
            log_error("history: cannot delete %s: %s", path, strerror(errno));
    }
}

/* The row of the message ev, stored as it says (its id as given so far). */
static struct jrec row_of(const struct hitem *it, const struct event *ev)
{
    return (struct jrec){
        .id = it->id,
        .time_ms = ev->time_ms,
        .target = it->k->key,
        .pm_from = it->k->pm_from,
        .pm_to = it->k->pm_to,
        .msgid = ev->msgid,
        .tags = ev->client_tags ? ev->client_tags : "",
        .line = ev->line->data,
        .line_len = line_len(ev->line),
    };
}

/* The writer takes a stored row: into the open transaction (one is begun if none is). */
static void take_row(struct history *h, const struct hitem *it)
{
    h->seen = it->id;
    touch(h, it->k->key);
    if (h->db_failing)
        return; /* it is in the journal: put back once history.db works again */
    if (!h->in_tx) {
        if (sqlite3_exec(h->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
            db_failed(h);
            return;
        }
        h->in_tx = 1;
        h->commit_ms = now_ms() + HISTORY_COMMIT_MS;
    }
    struct jrec r = row_of(it, it->ev);
    if (insert_row(h, &r) != SQLITE_OK)
        db_failed(h);
}

/* HI_COMMIT: every row of the segments up to upto is in the transaction now; commit it and
 * delete those segments. A failure leaves them for the next try. */
static void commit(struct history *h, unsigned long long upto, size_t bytes)
{
    h->sealing = 0;
    h->sealed_since += bytes;
    if (db_retry(h) < 0)
        return;
    if (h->in_tx) {
        if (sqlite3_exec(h->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
            db_failed(h);
            return;
        }
        h->in_tx = 0;
    }
    delete_sealed(h, upto);
    pthread_mutex_lock(&h->jlock);
    h->sealed_bytes -= h->sealed_since;
    pthread_mutex_unlock(&h->jlock);
    h->sealed_since = 0;
    /* Retention between transactions; queries later in the queue never see what it cut. */
    uint64_t now = now_ms();
    if (now >= h->next_prune_ms && !h->in_tx) {
        prune(h);
        h->next_prune_ms = now + HISTORY_PRUNE_MS;
    }
}

/* --- the writer ------------------------------------------------------------------------ */

/* A query's answer, from the rows the writer has taken so far (those stored before it), to
 * the asking client. */
static void answer(struct history *h, const struct hist_query *q)
{
    struct msg *m = history_answer(h->db, h->srv->cfg.server_name, &h->batch_seq, q, h->seen);
    if (m)
        fanout_reply(h->srv, q->worker, q->client, m);
}

/* HI_REDACT: the row is there (the rows queued before it are in the transaction): checked,
 * deleted, and the outcome posted to the asker's worker. */
static void redact(struct history *h, const struct hist_redact *r)
{
    int result = HREDACT_UNKNOWN;
    if (!h->db_failing) {
        db_retry(h);
        result = history_redact_row(h->db, r);
    }
    char text[IRC_CHANNEL_MAX + EVENT_MSGID_MAX + LABEL_MAX + REDACT_REASON_MAX + 8];
    snprintf(text, sizeof text, "%s %s\x01%s\x01%s", r->target, r->msgid, r->label, r->reason);
    fanout_call(h->srv, r->worker, r->client, r->done, 0, result, text);
}

/* The items of a batch bound for one worker's mailbox, posted together. */
struct chain {
    struct mb_item *first, *last;
};

static void post_chains(struct history *h, struct chain *chains)
{
    for (int w = 0; w < h->srv->nworkers; w++) {
        if (chains[w].first)
            fanout_release(h->srv, w, chains[w].first, chains[w].last);
        chains[w].first = chains[w].last = NULL;
    }
}

/* Works through a batch in order: rows into the transaction, commits, and the posts and
 * answers that wait behind a query, each worker's in one mailbox post. */
static void process(struct history *h, struct hitem *batch)
{
    struct chain chains[WORKERS_MAX] = {{NULL, NULL}};
    int posted[WORKERS_MAX] = {0};
    long long cost = 0;
    while (batch) {
        struct hitem *it = batch;
        batch = it->next;
        switch (it->kind) {
        case HI_STORE:
            take_row(h, it);
            event_unref(it->ev);
            cost += (long long)it->cost;
            break;
        case HI_POST: {
            struct chain *c = &chains[it->worker];
            it->post->next = NULL;
            if (c->last)
                c->last->next = it->post;
            else
                c->first = it->post;
            c->last = it->post;
            posted[it->worker]++;
            break;
        }
        case HI_QUERY:
            post_chains(h, chains);
            /* After a failure, the rows it asks for are put back first if they can be. */
            db_retry(h);
            answer(h, it->q);
            posted[it->worker]++;
            free(it->q);
            break;
        case HI_COMMIT:
            commit(h, (unsigned long long)it->id, it->bytes);
            break;
        case HI_MARK:
            take_mark(h, it);
            break;
        case HI_REDACT:
            redact(h, it->r);
            free(it->r);
            break;
        }
        free(it);
    }
    post_chains(h, chains);
    for (int w = 0; w < h->srv->nworkers; w++) {
        if (posted[w])
            atomic_fetch_sub(&h->pending[w], posted[w]);
    }
    atomic_fetch_sub_explicit(&h->srv->backlog, cost, memory_order_relaxed);
}

/* Appends it to the writer's queue; h->lock held. Rows wake the writer only when the queue
 * was empty (it then sleeps HISTORY_NAP_MS to take them in one batch) or holds a full batch;
 * anything else wakes it at once. */
static void enqueue_locked(struct history *h, struct hitem *it)
{
    int was_empty = h->head == NULL;
    if (h->tail)
        h->tail->next = it;
    else
        h->head = it;
    h->tail = it;
    if (was_empty)
        h->first_ms = now_ms();
    int wake = was_empty;
    if (it->kind == HI_STORE) {
        wake |= atomic_fetch_add(&h->queued_store, 1) + 1 == HISTORY_BATCH;
    } else {
        if (it->kind != HI_COMMIT)
            atomic_fetch_add(&h->pending[it->worker], 1);
        wake |= !h->nudged;
        h->nudged = 1;
    }
    if (wake)
        pthread_cond_signal(&h->wake);
}

/* Seals the live segment of the journal (it becomes history.journal.N, a fresh live one
 * takes its place) and queues the HI_COMMIT that commits its rows: every row journaled
 * before is queued before it, since both happen under jlock. */
static void seal(struct history *h)
{
    struct hitem *it = calloc(1, sizeof *it);
    if (!it) {
        h->seal_retry_ms = now_ms() + HISTORY_COMMIT_MS;
        return;
    }
    it->kind = HI_COMMIT;
    char live[JPATH_MAX], to[JPATH_MAX];
    live_path(h, live, sizeof live);
    pthread_mutex_lock(&h->jlock);
    sealed_path(h, h->next_seal, to, sizeof to);
    it->id = (long long)h->next_seal - 1; /* without a new segment: the older ones */
    struct journal nj;
    if (h->jr.len > 0 && h->jr.fd >= 0) {
        /* A crash in between leaves no live segment, which start-up creates. Failing, this
         * is tried again a commit interval later, not at once. */
        h->seal_retry_ms = now_ms() + HISTORY_COMMIT_MS;
        if (rename(live, to) < 0) {
            log_error("history: cannot rename %s: %s", live, strerror(errno));
        } else if (journal_open(&nj, live) < 0) {
            log_error("history: cannot create %s: %s", live, strerror(errno));
            if (rename(to, live) < 0) /* else the rows stay in "to", put back at start-up */
                log_error("history: cannot rename %s back: %s", to, strerror(errno));
        } else {
            it->id = (long long)h->next_seal++;
            it->bytes = h->jr.len;
            h->sealed_bytes += h->jr.len;
            journal_close(&h->jr);
            h->jr = nj;
            atomic_store(&h->live_bytes, 0);
            h->seal_retry_ms = 0;
        }
    }
    pthread_mutex_lock(&h->lock);
    enqueue_locked(h, it);
    pthread_mutex_unlock(&h->lock);
    pthread_mutex_unlock(&h->jlock);
    h->sealing = 1;
}

/* Time to seal and commit: a transaction open for HISTORY_COMMIT_MS (or a failure to retry
 * after it), or a live segment of HISTORY_JOURNAL_COMMIT bytes. */
static int seal_due(const struct history *h, uint64_t now)
{
    if (h->sealing || now < h->seal_retry_ms)
        return 0;
    return ((h->in_tx || h->db_failing) && now >= h->commit_ms) ||
           atomic_load(&h->live_bytes) >= HISTORY_JOURNAL_COMMIT;
}

static void *writer_main(void *arg)
{
    struct history *h = arg;
    pthread_setname_np(pthread_self(), "tcpchatd-hist"); /* for top -H, perf, gdb */
    int stopping = 0;
    for (;;) {
        pthread_mutex_lock(&h->lock);
        h->busy = 0;
        for (;;) {
            uint64_t now = now_ms();
            if (h->stop || h->nudged || atomic_load(&h->queued_store) >= HISTORY_BATCH ||
                (h->head && now >= h->first_ms + HISTORY_NAP_MS) || seal_due(h, now))
                break;
            if (!h->head)
                pthread_cond_broadcast(&h->idle);
            uint64_t until = h->head ? h->first_ms + HISTORY_NAP_MS : UINT64_MAX;
            uint64_t seal_at = h->commit_ms > h->seal_retry_ms ? h->commit_ms : h->seal_retry_ms;
            if (!h->sealing && (h->in_tx || h->db_failing) && seal_at < until)
                until = seal_at;
            if (until == UINT64_MAX) {
                pthread_cond_wait(&h->wake, &h->lock);
            } else {
                struct timespec ts = {.tv_sec = (time_t)(until / 1000),
                                      .tv_nsec = (long)(until % 1000) * 1000000L};
                pthread_cond_timedwait(&h->wake, &h->lock, &ts);
            }
        }
        struct hitem *batch = h->head;
        h->head = h->tail = NULL;
        atomic_store(&h->queued_store, 0);
        h->nudged = 0;
        h->busy = 1;
        int stop = h->stop;
        pthread_mutex_unlock(&h->lock);
        process(h, batch);
        if (!stop) {
            if (seal_due(h, now_ms()))
                seal(h);
        } else if (!stopping) {
            /* A stop seals once more: a clean stop leaves every row in history.db and an
             * empty journal. */
            stopping = 1;
            seal(h);
        } else if (!batch && !h->sealing) {
            break;
        }
    }
    pthread_mutex_lock(&h->lock);
    h->busy = 0;
    pthread_cond_broadcast(&h->idle);
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

/* The ordering gate (fanout.h), installed while history is on: lets an item go straight to
 * its mailbox unless a query's answer for that worker is on its way, in which case it goes
 * behind the answer, through the writer's queue. The messages before the answer are already
 * stored (journaled), so nothing else makes a post wait. A post after such a query (a live
 * message after a JOIN's replay) goes behind it, and so does every later post for that worker
 * until the writer has posted them. pending is raised under the lock of whoever queued the
 * query (the channel's, for a replay) and lowered after the posts, so a post that sees it 0
 * overtakes nothing it must follow. */
static int gate(void *arg, int worker, struct mb_item *it)
{
    struct history *h = arg;
    if (atomic_load(&h->pending[worker]) == 0)
        return 0;
    struct hitem *hi = calloc(1, sizeof *hi);
    if (!hi) {
        log_error("history: out of memory, posting unordered");
        return 0;
    }
    hi->kind = HI_POST;
    hi->worker = worker;
    hi->post = it;
    pthread_mutex_lock(&h->lock);
    enqueue_locked(h, hi);
    pthread_mutex_unlock(&h->lock);
    return 1;
}

/* Appends r to the journal with the next id; jlock held. 0, or -1 when it cannot be stored
 * (the journal cannot be written, or is full while history.db fails): the message is relayed
 * all the same, and the first such failure logged loudly. */
static int journal_put(struct history *h, struct jrec *r)
{
    const char *why = NULL;
    r->id = h->last_id + 1;
    if (h->jr.fd < 0)
        why = "no journal";
    else if (h->sealed_bytes + h->jr.len >= HISTORY_JOURNAL_MAX)
        why = "the journal is full: history.db does not take its rows";
    else if (journal_add(&h->jr, r) < 0 || journal_flush(&h->jr) < 0)
        why = strerror(errno);
    if (why) {
        journal_rewind(&h->jr, h->jr.len); /* drops a record left in the buffer */
        if (!h->failing) {
            log_error("history: CANNOT STORE MESSAGES (%s): relaying them without history "
                      "until the store works again",
                      why);
            h->episode++;
        }
        h->failing = 1;
        h->lost++;
        return -1;
    }
    h->last_id = r->id;
    atomic_store(&h->live_bytes, h->jr.len);
    if (h->failing) {
        log_warn("history: storing again; %lld message%s relayed but not stored", h->lost,
                 PLURAL(h->lost));
        h->failing = 0;
        h->lost = 0;
    }
    return 0;
}

/* Stores ev: appended to the journal (in one write(2), by the storing thread, under the
 * channel's lock: ids follow the channel's order) and queued for the writer, which inserts
 * it into history.db. The message may be relayed as soon as this returns: it is in the store
 * and survives the process. -1 when the writer's queue is full (the sender is told to try
 * again); a store that cannot write is reported and the message relayed unstored. */
static int store(struct server *srv, struct event *ev, const char *key, const char *from,
                 const char *to)
{
    struct history *h = srv->hist;
    if (!h)
        return 0;
    if (atomic_load(&h->queued_store) >= HISTORY_QUEUE_MAX)
        return -1;
    struct hitem *hi = calloc(1, sizeof *hi + sizeof *hi->k);
    if (!hi)
        return -1;
    hi->kind = HI_STORE;
    hi->k = (struct hkeys *)(hi + 1);
    snprintf(hi->k->key, sizeof hi->k->key, "%s", key);
    if (from && from[0])
        ircname_fold(from, hi->k->pm_from, sizeof hi->k->pm_from);
    if (to && to[0])
        ircname_fold(to, hi->k->pm_to, sizeof hi->k->pm_to);
    struct jrec r = row_of(hi, ev);
    int rc = 0;
    pthread_mutex_lock(&h->jlock);
    if (journal_put(h, &r) < 0) {
        rc = h->episode > 0 ? h->episode : 1;
    } else {
        hi->id = r.id;
        hi->ev = event_ref(ev);
        hi->cost = sizeof *hi + sizeof *hi->k + event_cost(ev);
        atomic_fetch_add_explicit(&srv->backlog, (long long)hi->cost, memory_order_relaxed);
        pthread_mutex_lock(&h->lock);
        if (key[0])
            mark_stored(h, key, !line_is_event(r.line, r.line_len));
        enqueue_locked(h, hi);
        pthread_mutex_unlock(&h->lock);
        hi = NULL;
    }
    pthread_mutex_unlock(&h->jlock);
    free(hi);
    return rc;
}

/* Whether key has rows stored: messages only (msgs), or any, channel events too. */
static int has_rows(struct history *h, const char *key, int msgs)
{
    if (!h)
        return 0;
    struct touched *t = NULL;
    pthread_mutex_lock(&h->lock);
    HASH_FIND_STR(h->stored, key, t);
    int has = (t != NULL && (t->msgs || !msgs)) || h->stored_unknown;
    pthread_mutex_unlock(&h->lock);
    return has;
}

int history_has(struct server *srv, const char *key)
{
    return has_rows(srv->hist, key, 1);
}

/* A message, or each line of a multiline one (event.h) as a message of its own: history
 * replays them as lines, blank ones left out. Refused whole when the queue cannot take them
 * all; else the worst outcome of its lines. */
static int store_msg(struct server *srv, struct event *ev, const char *key, const char *from,
                     const char *to)
{
    if (!ev->ml)
        return store(srv, ev, key, from, to);
    struct history *h = srv->hist;
    if (h && atomic_load(&h->queued_store) + ev->ml->n >= HISTORY_QUEUE_MAX)
        return -1;
    int rc = 0;
    for (int i = 0; i < ev->ml->n; i++) {
        if (ev->ml->lines[i].blank)
            continue;
        int r = store(srv, ev->ml->lines[i].ev, key, from, to);
        if (r < 0 || (r > 0 && rc == 0))
            rc = r;
    }
    return rc;
}

int history_store(struct server *srv, struct event *ev, const char *key)
{
    return store_msg(srv, ev, key, NULL, NULL);
}

void history_store_event(struct server *srv, struct event *ev, const char *key)
{
    /* Never refused: a JOIN happens whatever the store's state. Behind or failing, the event
     * is left out of the history (messages are what the bound and the warnings are for). */
    if (ev && !ev->tags_only)
        (void)store(srv, ev, key, NULL, NULL);
}

int history_store_private(struct server *srv, struct event *ev, const char *from, const char *to)
{
    return store_msg(srv, ev, "", from, to);
}

long long history_newest_ms(struct server *srv, const char *key)
{
    struct history *h = srv->hist;
    if (!h)
        return -1;
    long long ms = -1;
    pthread_mutex_lock(&h->peek_lock);
    if (!h->peek) {
        char path[JPATH_MAX];
        snprintf(path, sizeof path, "%s/history.db", h->dir);
        if (sqlite3_open_v2(path, &h->peek, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
                SQLITE_OK ||
            sqlite3_prepare_v2(h->peek,
                               "SELECT time_ms FROM messages WHERE target = ? AND event = 0 "
                               "ORDER BY id DESC LIMIT 1",
                               -1, &h->peek_newest, NULL) != SQLITE_OK) {
            log_warn("history: cannot read %s: %s", path, sqlite3_errmsg(h->peek));
            sqlite3_close(h->peek);
            h->peek = NULL;
        } else {
            sqlite3_busy_timeout(h->peek, 5000);
        }
    }
    if (h->peek_newest) {
        sqlite3_bind_text(h->peek_newest, 1, key, -1, SQLITE_STATIC);
        if (sqlite3_step(h->peek_newest) == SQLITE_ROW)
            ms = sqlite3_column_int64(h->peek_newest, 0);
        sqlite3_reset(h->peek_newest);
        sqlite3_clear_bindings(h->peek_newest);
    }
    pthread_mutex_unlock(&h->peek_lock);
    return ms;
}

void history_end(struct server *srv, const char *key)
{
    if (!has_rows(srv->hist, key, 0))
        return; /* nothing was said or done in it: nothing to close */
    /* The default channel is the server's own (its operator names it): it is not re-created
     * by whoever comes, and its history stays across its empty moments. */
    const char *lobby = srv->cfg.default_channel;
    char fold[IRC_CHANNEL_MAX + 1];
    if (lobby && *lobby && strcmp(ircname_fold(lobby, fold, sizeof fold), key) == 0)
        return;
    struct event *ev = event_new(NULL, "%s", ""); /* an empty line: the end marker */
    if (ev && store(srv, ev, key, NULL, NULL) < 0)
        log_warn("history: could not mark the end of %s (the writer is behind)", key);
    event_unref(ev);
}

void history_rename(struct server *srv, const char *from, const char *to)
{
    struct history *h = srv->hist;
    if (!h)
        return;
    pthread_mutex_lock(&h->lock);
    struct touched *t = NULL;
    HASH_FIND_STR(h->stored, from, t);
    int rows = t != NULL || h->stored_unknown, msgs = (t && t->msgs) || h->stored_unknown;
    pthread_mutex_unlock(&h->lock);
    if (!rows)
        return; /* nothing was said or done in it: nothing to move */
    char tag[1 + IRC_CHANNEL_MAX + 1];
    snprintf(tag, sizeof tag, "%c%s", RENAME_MARK, to);
    struct event *ev = event_new(tag, "%s", ""); /* an end marker, which names to */
    if (ev && store(srv, ev, from, NULL, NULL) == 0) {
        pthread_mutex_lock(&h->lock);
        mark_stored(h, to, msgs);
        pthread_mutex_unlock(&h->lock);
    } else {
        log_warn("history: could not move the history of %s to %s (the writer is behind)", from,
                 to);
    }
    event_unref(ev);
}

void history_mark(struct server *srv, const char *account, const char *target, long long ms)
{
    struct history *h = srv->hist;
    if (!h)
        return;
    struct hitem *hi = calloc(1, sizeof *hi + sizeof *hi->k);
    if (!hi)
        return;
    hi->kind = HI_MARK;
    hi->k = (struct hkeys *)(hi + 1);
    snprintf(hi->k->key, sizeof hi->k->key, "%s", target);
    snprintf(hi->k->pm_from, sizeof hi->k->pm_from, "%s", account);
    hi->id = ms;
    pthread_mutex_lock(&h->lock);
    enqueue_locked(h, hi);
    pthread_mutex_unlock(&h->lock);
}

void history_redact(struct server *srv, const struct hist_redact *r)
{
    struct history *h = srv->hist;
    if (!h)
        return;
    struct hitem *hi = calloc(1, sizeof *hi);
    struct hist_redact *copy = malloc(sizeof *copy);
    if (!hi || !copy) {
        free(hi);
        free(copy);
        return;
    }
    *copy = *r;
    hi->kind = HI_REDACT;
    hi->r = copy;
    pthread_mutex_lock(&h->lock);
    enqueue_locked(h, hi);
    pthread_mutex_unlock(&h->lock);
}

void history_query(struct server *srv, const struct hist_query *q)
{
    struct history *h = srv->hist;
    if (!h)
        return;
    struct hitem *hi = calloc(1, sizeof *hi);
    struct hist_query *copy = malloc(sizeof *copy);
    if (!hi || !copy) {
        free(hi);
        free(copy);
        return;
    }
    *copy = *q;
    hi->kind = HI_QUERY;
    hi->worker = q->worker;
    hi->q = copy;
    pthread_mutex_lock(&h->lock);
    enqueue_locked(h, hi);
    pthread_mutex_unlock(&h->lock);
}

static void history_free(struct history *h)
{
    free_keys(&h->touched);
    free_keys(&h->stored);
    journal_close(&h->jr);
    sqlite3_finalize(h->insert);
    sqlite3_close(h->db);
    sqlite3_finalize(h->peek_newest);
    sqlite3_close(h->peek);
    pthread_mutex_destroy(&h->peek_lock);
    pthread_mutex_destroy(&h->lock);
    pthread_mutex_destroy(&h->jlock);
    pthread_cond_destroy(&h->wake);
    pthread_cond_destroy(&h->idle);
    free(h);
}

int history_open(struct server *srv)
{
    if (!srv->cfg.history)
        return 0;
    struct history *h = calloc(1, sizeof *h);
    if (!h)
        return -1;
    h->srv = srv;
    h->days = srv->cfg.history_days;
    h->max = srv->cfg.history_max;
    h->jr.fd = -1;
    pthread_mutex_init(&h->lock, NULL);
    pthread_mutex_init(&h->peek_lock, NULL);
    pthread_mutex_init(&h->jlock, NULL);
    pthread_cond_init(&h->wake, NULL);
    pthread_cond_init(&h->idle, NULL);
    if (store_open(h, srv->cfg.data_dir) < 0) {
        history_free(h);
        return -1;
    }
    if (pthread_create(&h->thread, NULL, writer_main, h) != 0) {
        fprintf(stderr, "tcpchatd: cannot start the history writer\n");
        history_free(h);
        return -1;
    }
    srv->hist = h;
    fanout_set_gate(srv, gate, h);
    log_info("history store %s/history.db (replay %d, keep %d days, at most %ld per channel)",
             srv->cfg.data_dir, srv->cfg.history_replay, h->days, h->max);
    return 0;
}

void history_stats(struct server *srv, struct history_stats *out)
{
    struct history *h = srv->hist;
    memset(out, 0, sizeof *out);
    if (!h)
        return;
    uint64_t now = now_ms();
    pthread_mutex_lock(&h->lock);
    out->queued = atomic_load(&h->queued_store);
    out->lag_ms = h->head && now > h->first_ms ? now - h->first_ms : 0;
    pthread_mutex_unlock(&h->lock);
    pthread_mutex_lock(&h->jlock);
    out->journal_bytes = h->sealed_bytes + h->jr.len;
    out->unstored = h->lost;
    pthread_mutex_unlock(&h->jlock);
}

void history_drain(struct server *srv)
{
    struct history *h = srv->hist;
    if (!h)
        return;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    pthread_mutex_lock(&h->lock);
    while (h->head || h->busy) {
        if (pthread_cond_timedwait(&h->idle, &h->lock, &until) != 0)
            break;
    }
    pthread_mutex_unlock(&h->lock);
}

void history_close(struct server *srv)
{
    struct history *h = srv->hist;
    if (!h)
        return;
    pthread_mutex_lock(&h->lock);
    h->stop = 1;
    pthread_cond_signal(&h->wake);
    pthread_mutex_unlock(&h->lock);
    pthread_join(h->thread, NULL);
    /* The writer took everything before it stopped; a late item cannot come (the workers
     * are gone), but hand on whatever is there all the same. */
    process(h, h->head);
    fanout_set_gate(srv, NULL, NULL);
    history_free(h);
    srv->hist = NULL;
}
