/* journal: the history store's log of messages stored but not yet committed to SQLite.
 *
 * Why a log of our own in front of SQLite: a message must be in the store before anyone
 * receives it (kill -9 must not lose what was delivered), and a SQLite COMMIT writes every
 * page the transaction touched. With 1,000 busy channels each message lands on its channel's
 * own index page, so committing each batch wrote ~2 pages of 4 KiB (and 4 pwrite calls) per
 * message of ~200 bytes and held its delivery meanwhile. Now the thread that relays a message
 * appends its row to this file (one write(2)) and delivers it; the history writer inserts
 * the rows into an open SQLite transaction and about once a second seals the file (history.c:
 * it is renamed history.journal.N and a new one started), commits, and deletes the sealed
 * file. At start-up the rows of every journal file left are inserted again. Like SQLite's own
 * WAL without fsync (synchronous=NORMAL), what write(2) has taken survives the process, not a
 * power cut.
 *
 * Record: u32 body length, u32 FNV-1a of the body, then the body: i64 id, i64 time_ms and six
 * strings (target, pm_from, pm_to, msgid, tags, line), each a u32 length and the bytes with a
 * NUL after them. A record cut short (the process died inside write) or damaged ends the log:
 * replay stops before it and cuts the file there. */
#ifndef TCPCHAT_JOURNAL_H
#define TCPCHAT_JOURNAL_H

#include <stddef.h>

/* One stored row: strings NUL-terminated but the line (line_len bytes; replay gives it
 * NUL-terminated too), pm_from/pm_to "" when not private. */
struct jrec {
    long long id, time_ms;
    const char *target, *pm_from, *pm_to, *msgid, *tags, *line;
    size_t line_len;
};

struct journal {
    int fd;     /* -1 when closed */
    size_t len; /* bytes of whole records in the file */
    char *buf;  /* records added but not yet written */
    size_t buf_len, buf_cap;
};

#define JOURNAL_RECORD_MAX 65536 /* body bytes; a stored line is at most ~9 KB with tags */

/* Opens (creating, mode 0600) the log at path. 0, or -1 with errno set. */
int journal_open(struct journal *j, const char *path);
void journal_close(struct journal *j);
/* Adds a record to the buffer, writing the buffer out first when it holds 256 KiB or more.
 * 0, or -1 (record too big, no memory, or the write failed: errno). */
int journal_add(struct journal *j, const struct jrec *r);
/* Writes the buffer. On failure (errno set) the file is cut back to its last whole record. */
int journal_flush(struct journal *j);
/* Drops the buffer and cuts the file back to len (a journal.len taken before). */
void journal_rewind(struct journal *j, size_t len);
/* Calls fn on every whole record from the start, in order, until fn returns non-zero; cuts
 * off a damaged or partial tail. The number of records read, or -1 (read error or fn). */
int journal_replay(struct journal *j, int (*fn)(void *arg, const struct jrec *r), void *arg);

#endif
