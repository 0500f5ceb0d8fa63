/* small_store: the SQLite files of the stores that change rarely and are written by the
 * workers themselves, one change at a time (the server bans' bans.db, the registered
 * channels' channels.db): how they are opened and how a file that cannot be used is
 * reported, in one place. */
#ifndef TCPCHAT_SMALL_STORE_H
#define TCPCHAT_SMALL_STORE_H

#include <stddef.h>
#include <sqlite3.h>

/* Opens DIR/FILE (creating the directory and the file) into *db: WAL, synchronous=NORMAL (a
 * commit without an fsync), FULLMUTEX (workers write one at a time under the store's own lock;
 * it costs nothing at this rate), a busy timeout of a second, then schema (SQL statements).
 * Returns 0, or -1 after printing why on stderr, naming the store as what ("ban store") with
 * hint (what to do about it) and closing *db. */
int small_store_open(const char *dir, const char *file, const char *schema, const char *what,
                     const char *hint, sqlite3 **db);
/* Reports on stderr that what's file in dir (open as db) cannot be used, then closes db. */
void small_store_failed(const char *dir, const char *file, const char *what, const char *hint,
                        sqlite3 **db, const char *err);
/* Opens DIR/FILE read-only into *db, to read what a store kept there without changing it (a
 * node carrying the file into a network, docs/cluster.md). 1 opened; 0 there is no such file;
 * -1 it cannot be opened (logged as what's). */
int small_store_open_readonly(const char *dir, const char *file, const char *what, sqlite3 **db);

#endif
