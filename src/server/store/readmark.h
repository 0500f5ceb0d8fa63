/* readmark: IRCv3 draft/read-marker's last-read times, per account and target (a channel or
 * a nick, folded), and the connections of each account to tell when one changes. One table
 * for the process under a leaf lock of its own (taken under a channel's lock by JOIN, posting
 * nothing while held); kept in history.db (table read_markers) when history is on, so the
 * times outlive the server, and in memory only without it. */
#ifndef TCPCHAT_READMARK_H
#define TCPCHAT_READMARK_H

#include <stddef.h>
#include <stdint.h>

struct client;
struct server;

/* Whose markers a client's are: its account, folded; or, not logged in, its connection's own
 * ("~<id>", never an account's name), forgotten when it closes (readmark_closing). */
void readmark_owner(const struct client *c, char *out, size_t cap);

/* One connection of an account, for readmark_sessions. */
struct readmark_session {
    int worker;
    uint64_t id;
};

/* The last-read time (ms since the epoch) of account on target, both folded; -1 for none. */
long long readmark_get(const char *account, const char *target);
/* Sets it to ms unless it is at or past that already (a read time only grows) and stores
 * it. Returns the time now kept (ms or the later one kept before), and *changed; -1 without
 * memory, or past READMARK_TARGETS_MAX targets for the account. */
long long readmark_set(struct server *srv, const char *account, const char *target, long long ms,
                       int *changed);
/* Channel from (folded) is now called to: every account's marker of from becomes its marker
 * of to, and the markers of to from before (of a channel of that name that emptied) go. The
 * store follows through history_rename's marker, in order with the markers set around it. */
void readmark_rename(const char *from, const char *to);
/* A time read back from the store at start (no storing again). */
void readmark_load(const char *account, const char *target, long long ms);
/* Connection id on worker is account's, with the capability: told of changes from now on
 * (the oldest forgotten past READMARK_SESSIONS_MAX); detach when it closes. */
void readmark_attach(const char *account, int worker, uint64_t id);
void readmark_detach(const char *account, uint64_t id);
/* c is closing: no longer told of its account's changes, and the markers it kept before
 * logging in (its own) are dropped. */
void readmark_closing(const struct client *c);
/* The connections of account attached, at most max; returns how many. */
int readmark_sessions(const char *account, struct readmark_session *out, int max);
/* "timestamp=YYYY-MM-DDThh:mm:ss.sssZ" for ms, or "*" for -1. */
void readmark_format(long long ms, char *out, size_t cap);
/* Frees the table (at exit). */
void readmark_free(void);

#endif
