/* small_store: opening the stores' small SQLite files (small_store.h). */
#include "small_store.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"

void small_store_failed(const char *dir, const char *file, const char *what, const char *hint,
                        sqlite3 **db, const char *err)
{
    fprintf(stderr, "tcpchatd: cannot use the %s %s/%s: %s\n  (%s)\n", what, dir, file,
            err   ? err
            : *db ? sqlite3_errmsg(*db)
                  : "?",
            hint);
    sqlite3_close(*db);
    *db = NULL;
}

int small_store_open(const char *dir, const char *file, const char *schema, const char *what,
                     const char *hint, sqlite3 **db)
{
    char path[4096];
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        fprintf(stderr, "tcpchatd: cannot create data directory %s: %s\n", dir, strerror(errno));
        return -1;
    }
    snprintf(path, sizeof path, "%s/%s", dir, file);
    char *err = NULL;
    int rc = sqlite3_open_v2(
        path, db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
    if (rc == SQLITE_OK)
        sqlite3_busy_timeout(*db, 1000);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(*db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL,
                          &err);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(*db, schema, NULL, NULL, &err);
    if (rc == SQLITE_OK)
        return 0;
    small_store_failed(dir, file, what, hint, db, err);
    sqlite3_free(err);
    return -1;
}

int small_store_open_readonly(const char *dir, const char *file, const char *what, sqlite3 **db)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    *db = NULL;
    if (access(path, F_OK) != 0)
        return 0;
    if (sqlite3_open_v2(path, db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(*db, 1000);
        return 1;
    }
    log_warn("cannot read the %s %s: %s", what, path, *db ? sqlite3_errmsg(*db) : "?");
    sqlite3_close(*db);
    *db = NULL;
    return -1;
}
