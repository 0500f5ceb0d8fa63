/* history_query: the answers to history queries (the replay on JOIN and CHATHISTORY): the SQL
 * that finds a target's rows around the references given, and their rendering as the lines
 * the asking client gets (a chathistory BATCH, tags as its capabilities ask, its label). Runs
 * on the history writer's thread, on the store's connection (history.c). */
#include "history_query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/caps.h"
#include "common/log.h"
#include "core/msg.h"

/* What the answers need of the store: its connection, the server's name for the BATCH lines,
 * and the writer's counter of BATCH references. */
struct hq {
    sqlite3 *db;
    const char *srvname;
    uint64_t *batch_seq;
};

/* "2026-11-26T16:50:13.123Z" -> milliseconds since the epoch; -1 if malformed. */
static long long parse_time(const char *s)
{
    struct tm tm = {0};
    if (strlen(s) < 20 || s[4] != '-' || s[10] != 'T')
        return -1;
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p)
        return -1;
    int ms = 0;
    if (*p == '.') {
        int digits = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, digits++) {
            if (digits < 3)
                ms = ms * 10 + (*p - '0');
        }
        if (digits == 0)
            return -1;
        for (; digits < 3; digits++)
            ms *= 10;
    }
    if (strcmp(p, "Z") != 0)
        return -1;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    return (long long)t * 1000 + ms;
}

static void format_time(long long ms, char *out, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, cap - n, ".%03lldZ", ms % 1000);
}

int history_parse_ref(const char *s, int star, struct hist_ref *out)
{
    memset(out, 0, sizeof *out);
    if (star && strcmp(s, "*") == 0) {
        out->kind = HREF_STAR;
        return 0;
    }
    if (strncmp(s, "timestamp=", 10) == 0) {
        out->ms = parse_time(s + 10);
        out->kind = HREF_TIME;
        return out->ms < 0 ? -1 : 0;
    }
    if (strncmp(s, "msgid=", 6) == 0) {
        size_t n = strlen(s + 6);
        if (n == 0 || n >= sizeof out->msgid)
            return -1;
        memcpy(out->msgid, s + 6, n + 1);
        out->kind = HREF_MSGID;
        return 0;
    }
    return -1;
}

struct answer {
    struct msgbuf b;
    const struct hist_query *q;
    char batch[24]; /* the BATCH reference, or "" without batch */
    char srvname[64];
};

/* One stored row as the client gets it: tags as its capabilities ask, inside the batch. */
static void answer_row(struct answer *a, long long ms, const char *msgid, const char *ctags,
                       const char *line)
{
    char tags[IRC_TAGS_MAX + 1];
    size_t n = 0;
    unsigned caps = a->q->caps;
    if (a->batch[0])
        n += (size_t)snprintf(tags + n, sizeof tags - n, ";batch=%s", a->batch);
    if (caps & CAP_SERVER_TIME) {
        char t[EVENT_TIME_MAX];
        format_time(ms, t, sizeof t);
        n += (size_t)snprintf(tags + n, sizeof tags - n, ";time=%s", t);
    }
    if (caps & CAP_MESSAGE_TAGS) {
        n += (size_t)snprintf(tags + n, sizeof tags - n, ";msgid=%s", msgid);
        if (ctags[0] && n + strlen(ctags) + 2 < sizeof tags)
            n += (size_t)snprintf(tags + n, sizeof tags - n, ";%s", ctags);
    }
    if (n >= sizeof tags)
        n = 0;
    tags[n] = '\0';
    msgbuf_raw(&a->b, n ? tags + 1 : NULL, line, strlen(line));
}

static void answer_begin(struct hq *h, struct answer *a, const struct hist_query *q,
                         const char *type)
{
    memset(a, 0, sizeof *a);
    a->q = q;
    snprintf(a->srvname, sizeof a->srvname, "%s", h->srvname);
    if (q->caps & CAP_BATCH) {
        snprintf(a->batch, sizeof a->batch, "h%llu", (unsigned long long)++*h->batch_seq);
        char line[IRC_LINE_MAX], tag[LABEL_MAX * 2 + 8];
        if (q->op == HOP_TARGETS)
            snprintf(line, sizeof line, ":%s BATCH +%s %s", a->srvname, a->batch, type);
        else
            snprintf(line, sizeof line, ":%s BATCH +%s %s %s", a->srvname, a->batch, type,
                     q->target);
        snprintf(tag, sizeof tag, "label=%s", q->label);
        msgbuf_raw(&a->b, q->label[0] ? tag : NULL, line, strlen(line));
    }
}

static struct msg *answer_end(struct answer *a, int rows)
{
    const struct hist_query *q = a->q;
    if (a->batch[0]) {
        char line[sizeof a->srvname + sizeof a->batch + 16];
        snprintf(line, sizeof line, ":%s BATCH -%s", a->srvname, a->batch);
        msgbuf_raw(&a->b, NULL, line, strlen(line));
    } else if (rows == 0 && q->label[0]) {
        char line[80], tag[LABEL_MAX * 2 + 8];
        snprintf(line, sizeof line, ":%s ACK", a->srvname);
        snprintf(tag, sizeof tag, "label=%s", q->label);
        msgbuf_raw(&a->b, tag, line, strlen(line));
    }
    return msgbuf_finish(&a->b);
}

/* Appends the rows sql selects (time_ms, msgid, tags, line), in the order it gives them or,
 * when reverse, in the opposite one. Returns how many. */
static int rows(struct answer *a, sqlite3_stmt *st, int reverse)
{
    struct row {
        long long ms;
        char *msgid, *tags, *line;
    } *v = NULL;
    int n = 0, cap = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == cap) {
            int ncap = cap ? cap * 2 : 16;
            struct row *nv = realloc(v, (size_t)ncap * sizeof *nv);
            if (!nv)
                break;
            v = nv;
            cap = ncap;
        }
        v[n].ms = sqlite3_column_int64(st, 0);
        v[n].msgid = strdup((const char *)sqlite3_column_text(st, 1));
        v[n].tags = strdup((const char *)sqlite3_column_text(st, 2));
        v[n].line = strdup((const char *)sqlite3_column_text(st, 3));
        if (!v[n].msgid || !v[n].tags || !v[n].line) {
            free(v[n].msgid);
            free(v[n].tags);
            free(v[n].line);
            break;
        }
        n++;
    }
    for (int i = 0; i < n; i++) {
        struct row *r = &v[reverse ? n - 1 - i : i];
        answer_row(a, r->ms, r->msgid, r->tags, r->line);
    }
    for (int i = 0; i < n; i++) {
        free(v[i].msgid);
        free(v[i].tags);
        free(v[i].line);
    }
    free(v);
    return n;
}

/* A reference as a position: a msgid becomes its row id (and time), a timestamp stays a
 * time. Returns 0, or -1 for a msgid this target does not have. */
struct pos {
    int by_id;
    long long id, ms;
};

/* Which rows a query may see: a channel's, or one private conversation's (both ways). */
/* A channel's history is that of its present lifetime: the rows after the last end marker
 * (an empty line, stored when the channel emptied: history.h history_end), markers left out.
 * Whoever creates the channel again by the same name reads nothing said before. The rows
 * answered (answer) hold channel events (JOIN, MODE...) only for a client that asked for
 * them with draft/event-playback ("the server MUST NOT send any lines other than PRIVMSG and
 * NOTICE" to the others); a reference (not answer) may be any row, so that a client can ask
 * for what came before the msgid of a JOIN it saw. */
static const char *scope_sql(const struct hist_query *q, int answer)
{
    if (!q->key[0])
        return "target = '' AND ((pm_from = ? AND pm_to = ?) OR (pm_from = ? AND pm_to = ?))";
    return answer && !(q->caps & CAP_EVENT_PLAYBACK)
               ? "target = ? AND line != '' AND event = 0 AND id > coalesce((SELECT max(id) "
                 "FROM messages WHERE target = ? AND line = ''), 0)"
               : "target = ? AND line != '' AND id > coalesce((SELECT max(id) FROM messages"
                 " WHERE target = ? AND line = ''), 0)";
}

static void scope_bind(sqlite3_stmt *st, const struct hist_query *q, int *i)
{
    if (q->key[0]) {
        sqlite3_bind_text(st, (*i)++, q->key, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, (*i)++, q->key, -1, SQLITE_STATIC);
        return;
    }
    sqlite3_bind_text(st, (*i)++, q->account, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, (*i)++, q->peer, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, (*i)++, q->peer, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, (*i)++, q->account, -1, SQLITE_STATIC);
}

static int resolve(struct hq *h, const struct hist_query *q, const struct hist_ref *r,
                   struct pos *p)
{
    memset(p, 0, sizeof *p);
    if (r->kind == HREF_TIME) {
        p->ms = r->ms;
        return 0;
    }
    sqlite3_stmt *st = NULL;
    int found = 0;
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT id, time_ms FROM messages WHERE msgid = ? AND %s",
             scope_sql(q, 0));
    if (sqlite3_prepare_v2(h->db, sql, -1, &st, NULL) == SQLITE_OK) {
        int i = 1;
        sqlite3_bind_text(st, i++, r->msgid, -1, SQLITE_STATIC);
        scope_bind(st, q, &i);
        if (sqlite3_step(st) == SQLITE_ROW) {
            p->by_id = 1;
            p->id = sqlite3_column_int64(st, 0);
            p->ms = sqlite3_column_int64(st, 1);
            found = 1;
        }
    }
    sqlite3_finalize(st);
    return found ? 0 : -1;
}

/* One condition on a position: "id < ?" or "time_ms < ?" and the value to bind. */
struct cnd {
    const char *sql;
    long long val;
};

/* op is "<", ">" or ">=". */
static struct cnd cond(const struct pos *p, const char *op)
{
    static const char *const forms[2][3] = {
        {"time_ms < ?", "time_ms > ?", "time_ms >= ?"},
        {"id < ?", "id > ?", "id >= ?"},
    };
    int k = op[0] == '<' ? 0 : op[1] == '=' ? 2 : 1;
    return (struct cnd){forms[p->by_id][k], p->by_id ? p->id : p->ms};
}

/* Runs one SELECT over the target's rows up to upto, with up to two conditions (NULL for
 * none), newest first when desc (the answer is still in ascending order). */
static int select_rows(struct hq *h, struct answer *a, long long upto, const struct cnd *c1,
                       const struct cnd *c2, int desc, int limit)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT time_ms, msgid, tags, line FROM messages WHERE %s AND id <= ?"
             "%s%s%s%s ORDER BY id %s LIMIT ?",
             scope_sql(a->q, 1), c1 ? " AND " : "", c1 ? c1->sql : "", c2 ? " AND " : "",
             c2 ? c2->sql : "", desc ? "DESC" : "ASC");
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(h->db, sql, -1, &st, NULL) != SQLITE_OK) {
        log_error("history: %s", sqlite3_errmsg(h->db));
        return 0;
    }
    int i = 1;
    scope_bind(st, a->q, &i);
    sqlite3_bind_int64(st, i++, upto);
    if (c1)
        sqlite3_bind_int64(st, i++, c1->val);
    if (c2)
        sqlite3_bind_int64(st, i++, c2->val);
    sqlite3_bind_int(st, i, limit);
    int n = rows(a, st, desc);
    sqlite3_finalize(st);
    return n;
}

/* The other party of a private line, as the line names it: the sender when the asker
 * (account, folded) did not send it, else the target (":src PRIVMSG target :text"). */
static void pm_partner(const char *line, const char *from, const char *account, char *out,
                       size_t cap)
{
    out[0] = '\0';
    if (!line || line[0] != ':')
        return;
    const char *p = line;
    if (strcmp(from, account) != 0) {
        snprintf(out, cap, "%.*s", (int)strcspn(p + 1, "! "), p + 1);
        return;
    }
    p = strchr(p, ' ');
    p = p ? strchr(p + 1, ' ') : NULL;
    size_t len = p ? strcspn(p + 1, " ") : 0;
    snprintf(out, cap, "%.*s", (int)len, p ? p + 1 : "");
}

/* How many private conversations TARGETS lists at most. */
#define TARGETS_PRIVATE_MAX 100

/* CHATHISTORY TARGETS: the client's channels and private conversations with messages between
 * the two times, oldest latest-message first. */
static int answer_targets(struct hq *h, struct answer *a, long long upto)
{
    const struct hist_query *q = a->q;
    long long lo = q->a.ms < q->b.ms ? q->a.ms : q->b.ms;
    long long hi = q->a.ms < q->b.ms ? q->b.ms : q->a.ms;
    struct {
        long long ms;
        int idx;
        char name[IRC_CHANNEL_MAX + 1];
    } found[CHANNELS_PER_USER + TARGETS_PRIVATE_MAX];
    int n = 0;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(h->db,
                           "SELECT max(time_ms), line FROM messages WHERE target = ?1 AND id <= ?2"
                           " AND time_ms > ?3 AND time_ms < ?4 AND line != '' AND event = 0"
                           " AND id > coalesce("
                           "(SELECT max(id) FROM messages WHERE target = ?1 AND line = ''), 0)",
                           -1, &st, NULL) != SQLITE_OK)
        return 0;
    for (int i = 0; i < q->ntargets; i++) {
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, q->targets[i], -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, upto);
        sqlite3_bind_int64(st, 3, lo);
        sqlite3_bind_int64(st, 4, hi);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
            found[n].ms = sqlite3_column_int64(st, 0);
            found[n].idx = i;
            /* The channel as the line names it: ":src PRIVMSG #Chan :text". */
            const char *line = (const char *)sqlite3_column_text(st, 1);
            const char *p = line ? strchr(line, ' ') : NULL;
            p = p ? strchr(p + 1, ' ') : NULL;
            size_t len = p ? strcspn(p + 1, " ") : 0;
            if (len == 0 || len > IRC_CHANNEL_MAX)
                snprintf(found[n].name, sizeof found[n].name, "%s", q->targets[i]);
            else
                snprintf(found[n].name, sizeof found[n].name, "%.*s", (int)len, p + 1);
            n++;
        }
    }
    sqlite3_finalize(st);
    st = NULL;
    /* Private conversations: the latest line with each other party (private history is its
     * parties', known by their accounts: nothing for someone not logged in). */
    if (q->account[0] &&
        sqlite3_prepare_v2(h->db,
                           "SELECT max(time_ms), line, pm_from,"
                           " CASE WHEN pm_from = ?1 THEN pm_to ELSE pm_from END AS other"
                           " FROM messages WHERE target = '' AND (pm_from = ?1 OR pm_to = ?1)"
                           " AND id <= ?2 AND time_ms > ?3 AND time_ms < ?4"
                           " GROUP BY other ORDER BY 1 DESC LIMIT ?5",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, q->account, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, upto);
        sqlite3_bind_int64(st, 3, lo);
        sqlite3_bind_int64(st, 4, hi);
        sqlite3_bind_int(st, 5, TARGETS_PRIVATE_MAX);
        while (sqlite3_step(st) == SQLITE_ROW) {
            const char *from = (const char *)sqlite3_column_text(st, 2);
            found[n].ms = sqlite3_column_int64(st, 0);
            found[n].idx = -1;
            pm_partner((const char *)sqlite3_column_text(st, 1), from ? from : "", q->account,
                       found[n].name, sizeof found[n].name);
            if (found[n].name[0])
                n++;
        }
    }
    sqlite3_finalize(st);
    /* A few dozen at most: insertion sort by time. */
    for (int i = 1; i < n; i++) {
        for (int j = i; j > 0 && found[j - 1].ms > found[j].ms; j--) {
            __typeof__(found[0]) t = found[j];
            found[j] = found[j - 1];
            found[j - 1] = t;
        }
    }
    if (n > q->limit)
        n = q->limit;
    for (int i = 0; i < n; i++) {
        char t[EVENT_TIME_MAX], line[IRC_LINE_MAX], tags[32] = "";
        format_time(found[i].ms, t, sizeof t);
        snprintf(line, sizeof line, ":%s CHATHISTORY TARGETS %s %s", a->srvname, found[i].name, t);
        if (a->batch[0])
            snprintf(tags, sizeof tags, "batch=%s", a->batch);
        msgbuf_raw(&a->b, tags[0] ? tags : NULL, line, strlen(line));
    }
    return n;
}

struct msg *history_answer(sqlite3 *db, const char *srvname, uint64_t *batch_seq,
                           const struct hist_query *q, long long upto)
{
    struct hq ctx = {.db = db, .srvname = srvname, .batch_seq = batch_seq}, *h = &ctx;
    struct answer a;
    answer_begin(h, &a, q, q->op == HOP_TARGETS ? "draft/chathistory-targets" : "chathistory");
    int n = 0, lim = q->limit;
    struct pos pa, pb;
    struct cnd c1, c2;
    if (q->key[0] == '\0' && q->op != HOP_TARGETS && (!q->account[0] || !q->peer[0])) {
        /* Private history is shown only to its parties, known by their accounts: nothing
         * for someone not logged in. */
    } else {
        switch (q->op) {
        case HOP_REPLAY:
            n = select_rows(h, &a, upto, NULL, NULL, 1, lim);
            break;
        case HOP_LATEST:
            if (q->a.kind == HREF_STAR) {
                n = select_rows(h, &a, upto, NULL, NULL, 1, lim);
            } else if (resolve(h, q, &q->a, &pa) == 0) {
                c1 = cond(&pa, ">");
                n = select_rows(h, &a, upto, &c1, NULL, 1, lim);
            }
            break;
        case HOP_BEFORE:
            if (resolve(h, q, &q->a, &pa) == 0) {
                c1 = cond(&pa, "<");
                n = select_rows(h, &a, upto, &c1, NULL, 1, lim);
            }
            break;
        case HOP_AFTER:
            if (resolve(h, q, &q->a, &pa) == 0) {
                c1 = cond(&pa, ">");
                n = select_rows(h, &a, upto, &c1, NULL, 0, lim);
            }
            break;
        case HOP_AROUND:
            if (resolve(h, q, &q->a, &pa) == 0) {
                c1 = cond(&pa, "<");
                c2 = cond(&pa, ">=");
                n = select_rows(h, &a, upto, &c1, NULL, 1, lim / 2);
                n += select_rows(h, &a, upto, &c2, NULL, 0, lim - lim / 2);
            }
            break;
        case HOP_BETWEEN:
            if (resolve(h, q, &q->a, &pa) == 0 && resolve(h, q, &q->b, &pb) == 0) {
                /* Two msgids compare by row; otherwise both compare by time. */
                if (!pa.by_id || !pb.by_id)
                    pa.by_id = pb.by_id = 0;
                int forward = pa.by_id ? pa.id < pb.id : pa.ms < pb.ms;
                const struct pos *lo = forward ? &pa : &pb, *hi = forward ? &pb : &pa;
                c1 = cond(lo, ">");
                c2 = cond(hi, "<");
                /* From the first reference towards the second. */
                n = select_rows(h, &a, upto, &c1, &c2, !forward, lim);
            }
            break;
        case HOP_TARGETS:
            n = answer_targets(h, &a, upto);
            break;
        }
    }
    if (q->op == HOP_REPLAY && n == 0) {
        msg_unref(msgbuf_finish(&a.b)); /* nothing said yet: no empty batch for a plain join */
        return NULL;
    }
    return answer_end(&a, n);
}

/* The sender's nick of a stored line ":nick!user@host ...", folded. */
static void line_nick(const char *line, char *out, size_t cap)
{
    char nick[IRC_NICK_MAX + 1] = "";
    if (line[0] == ':')
        snprintf(nick, sizeof nick, "%.*s", (int)strcspn(line + 1, "! "), line + 1);
    ircname_fold(nick, out, cap);
}

int history_redact_row(sqlite3 *db, const struct hist_redact *r)
{
    /* The same rows CHATHISTORY shows (scope_sql), messages only. */
    struct hist_query q = {.caps = 0};
    snprintf(q.key, sizeof q.key, "%s", r->key);
    snprintf(q.account, sizeof q.account, "%s", r->account);
    snprintf(q.peer, sizeof q.peer, "%s", r->peer);
    if (!q.key[0] && (!q.account[0] || !q.peer[0]))
        return HREDACT_UNKNOWN; /* private history is its accounts' only */
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT id, line, coalesce(pm_from, '') FROM messages WHERE msgid = ?"
             " AND %s",
             scope_sql(&q, 1));
    sqlite3_stmt *st = NULL;
    int result = HREDACT_UNKNOWN;
    long long id = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        log_error("history: %s", sqlite3_errmsg(db));
        return HREDACT_UNKNOWN;
    }
    int i = 1;
    sqlite3_bind_text(st, i++, r->msgid, -1, SQLITE_STATIC);
    scope_bind(st, &q, &i);
    if (sqlite3_step(st) == SQLITE_ROW) {
        char sender[IRC_NICK_MAX + 1];
        line_nick((const char *)sqlite3_column_text(st, 1), sender, sizeof sender);
        const char *from = (const char *)sqlite3_column_text(st, 2);
        /* One's own message: sent by one's account (private rows know it), or by one's nick
         * or account's name (an account is named after its nick); or, for a channel
         * operator, anyone's in the channel. */
        int own = q.key[0] ? strcmp(sender, r->nick) == 0 ||
                                 (r->account[0] && strcmp(sender, r->account) == 0)
                           : strcmp(from, r->account) == 0;
        result = own || (q.key[0] && r->any) ? HREDACT_DONE : HREDACT_FORBIDDEN;
        id = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    if (result != HREDACT_DONE)
        return result;
    st = NULL;
    if (sqlite3_prepare_v2(db, "DELETE FROM messages WHERE id = ?", -1, &st, NULL) != SQLITE_OK ||
        (sqlite3_bind_int64(st, 1, id), sqlite3_step(st)) != SQLITE_DONE) {
        log_error("history: a redacted message was not deleted: %s", sqlite3_errmsg(db));
        result = HREDACT_UNKNOWN;
    }
    sqlite3_finalize(st);
    return result;
}
