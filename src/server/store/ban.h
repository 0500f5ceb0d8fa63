/* ban: the server bans operators set at run time (KLINE, DLINE), kept in memory for every
 * check and in SQLite (DATA_DIR/bans.db) so that they survive a restart. A K-line bans a
 * user@host mask (globs, or a CIDR block for the host), checked when a client registers; a
 * D-line bans an address or a CIDR block, checked when a connection is accepted. A timed ban
 * stops applying when it expires and is removed soon after (ban_prune).
 *
 * One table for the process under a leaf lock of its own, read by the acceptor (D-lines) and
 * by every worker (registration, sweeps). Bans change rarely: the SQLite write of a change
 * runs on the worker of the operator who made it, one small WAL commit without an fsync
 * (synchronous=NORMAL), outside the table's lock so that no check waits for the disk.
 *
 * In a cluster (--cluster) the bans are the network's and Redis keeps them, not bans.db
 * (docs/cluster.md "Server bans"): the table then has no store of its own; a change made here
 * goes to the network through the save function of ban_use_network, and what the network
 * changes comes in through ban_learn, ban_forget and ban_learn_all. */
#ifndef TCPCHAT_BAN_H
#define TCPCHAT_BAN_H

#include <stddef.h>

#include "core/cidr.h"
#include "core/defines.h"

enum ban_kind { BAN_KLINE, BAN_DLINE };

struct ban {
    enum ban_kind kind;
    char mask[BAN_MASK_MAX + 1]; /* as set, lower-cased: "user@host" (K) or "addr[/bits]" (D) */
    char reason[BAN_REASON_MAX + 1];
    char setter[SOURCE_MAX + 1]; /* nick!user@host of the operator who set it */
    long long set_at;            /* seconds since the epoch */
    long long expires;           /* seconds since the epoch; 0: never */
    unsigned long long seq;      /* the order bans were set in this process, from 1 */
    /* The mask taken apart, for matching. */
    char user[USER_MAX + 1]; /* K: glob on the user name ("*" for a host alone) */
    char host[HOST_MAX];     /* K: glob on the address, unless is_cidr */
    int is_cidr;             /* K: the host is a block; D: always */
    struct cidr block;
};

enum ban_result {
    BAN_OK,
    BAN_INVALID, /* the mask is malformed, or too wide (why says which) */
    BAN_EXISTS,  /* ban_add: the same mask is banned already */
    BAN_FULL,    /* ban_add: BANS_MAX bans are set */
    BAN_NONE,    /* ban_remove: no such ban */
};

/* Opens (creating if need be) DATA_DIR/bans.db and loads the bans it holds, dropping those
 * expired; data_dir NULL: a table without a store (a cluster's node, ban_use_network).
 * Returns 0, or -1 after printing why on stderr. */
int ban_open(const char *data_dir);
/* Closes the store and frees the table (at exit, with no worker running). */
void ban_close(void);
/* Calls fn(arg, b) for each ban in force that DATA_DIR/bans.db holds, oldest first, reading
 * the file without changing it (a node that ran alone carrying its bans into a network,
 * docs/cluster.md "Server bans"); the table is not touched. How many, 0 without a file, or -1
 * when it cannot be read (logged). */
int ban_file_each(const char *data_dir, void (*fn)(void *arg, const struct ban *b), void *arg);

/* Checks mask for kind and takes it apart into out (mask, user, host, block). Returns
 * BAN_OK, or BAN_INVALID with why (cap bytes) saying what is wrong. */
enum ban_result ban_parse(enum ban_kind kind, const char *mask, struct ban *out, char *why,
                          size_t cap);
/* Sets a ban: mask as ban_parse takes it, for duration_s seconds (0: for good); stored
 * before it returns. The ban set is copied into out (may be NULL). stored is set to 0 when it
 * applies but the store could not keep it (logged). */
enum ban_result ban_add(enum ban_kind kind, const char *mask, const char *reason,
                        const char *setter, long long duration_s, struct ban *out, char *why,
                        size_t cap, int *stored);
/* Lifts the ban of kind on mask (compared without case). BAN_OK, or BAN_NONE. */
enum ban_result ban_remove(enum ban_kind kind, const char *mask);

/* 1, with the ban copied into out (may be NULL), if a ban in force bans a client from
 * address host with user name user: a D-line on its address, or (user not NULL) a K-line
 * on user@host. 0 if none. */
int ban_find(const char *user, const char *host, struct ban *out);
/* The same among the bans set since the one numbered seq (its seq and later): a sweep after
 * a new ban checks the clients against it alone. */
int ban_find_since(unsigned long long seq, const char *user, const char *host, struct ban *out);
/* Calls fn(arg, ban) for every ban of kind in force, in the order they were set, with the
 * table locked (fn must not call back here). */
void ban_each(enum ban_kind kind, void (*fn)(void *arg, const struct ban *b), void *arg);
/* Removes the bans expired by now (seconds since the epoch), from memory and the store. */
void ban_prune(long long now);
/* What a change of the table is, for the network's store. */
enum ban_save {
    BAN_SAVE_SET,    /* an operator of this node set b */
    BAN_SAVE_LIFT,   /* an operator of this node lifted b */
    BAN_SAVE_EXPIRE, /* b expired (every node sees it: the network's copy goes if it is b) */
};
/* Takes a change to the network (never waits on it): 0, or -1 if it cannot go now. */
typedef int ban_save_fn(void *arg, const struct ban *b, enum ban_save how);
/* From now on the table's changes go to save(arg, ...) instead of bans.db; call before the
 * workers start. save runs on the thread making the change, in the table's order, with the
 * store's lock held (it only queues). */
void ban_use_network(ban_save_fn *save, void *arg);
/* A ban the network set (b as ban_parse makes it, with its reason, setter and times): put in
 * the table, replacing the same kind and mask, without telling the network. Its seq (for
 * ban_find_since), or 0 when nothing changed. */
unsigned long long ban_learn(const struct ban *b);
/* A ban the network lifted: taken out, without telling the network. 1, or 0 if not here. */
int ban_forget(enum ban_kind kind, const char *mask);
/* The network's whole list (Redis's, at start or when it comes back): the table becomes
 * list. The seq of the first ban new or changed (sweep from it), or 0. */
unsigned long long ban_learn_all(const struct ban *list, int n);

/* How to write a duration for people: "permanent", or "5 minutes" (the largest unit that
 * divides it). */
void ban_duration_str(long long seconds, char *out, size_t cap);
/* Parses a duration: minutes ("30", as Solanum and InspIRCd take them), or a number with a
 * unit ("10s", "5m", "2h", "3d", "1w"); 0 is permanent. Longer than BAN_DURATION_MAX is cut
 * to it. Returns the seconds, or -1 if malformed. */
long long ban_parse_duration(const char *text);

#endif
