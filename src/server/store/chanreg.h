/* chanreg: registered channels (ChanServ REGISTER). A registered channel has a founder, an
 * account, and an access list of accounts given ops (o) or voice (v) when they join; nobody
 * else gets ops by being the first to join it, so a channel survives a restart with its owners
 * in charge. Its history also outlives its empty spells (history_end is not called for it).
 *
 * Kept in memory for the JOIN path and in SQLite (DATA_DIR/channels.db) so that it survives a
 * restart. One table for the process under a leaf lock of its own; a change is written to the
 * store on the worker of the user who made it (rare, one small WAL commit without an fsync),
 * outside the table's lock, as the server bans do (store/ban.h).
 *
 * In a cluster (--cluster) the registrations are the network's and Redis keeps them, not
 * channels.db (docs/cluster.md "Channel registrations"): a change made here goes to the network
 * through the save function of chanreg_use_network, and what the network changes comes in
 * through chanreg_learn, chanreg_unlearn and a sync (chanreg_sync_begin, _end). */
#ifndef TCPCHAT_CHANREG_H
#define TCPCHAT_CHANREG_H

#include "common/ircname.h"
#include "core/defines.h"

/* What an account is on a channel. */
enum chanreg_role {
    CHANREG_UNREGISTERED, /* the channel is not registered */
    CHANREG_NONE,         /* registered; the account is not on its access list */
    CHANREG_VOICE,        /* on the access list with +v */
    CHANREG_OP,           /* on the access list with +o */
    CHANREG_FOUNDER,      /* the founder: ops, and the right to change the list or drop it */
};

enum chanreg_result {
    CHANREG_OK,
    CHANREG_EXISTS,    /* register: it is registered already */
    CHANREG_TOO_MANY,  /* register: the founder has CHANREG_PER_ACCOUNT; access: list full */
    CHANREG_NOT_FOUND, /* not registered (or the account is not on the list) */
    CHANREG_FAILED,    /* the store could not write it (it applies until a restart; logged) */
};

struct chanreg_access {
    char account[IRC_NICK_MAX + 1];
    char mode; /* 'o' or 'v' */
};

struct chanreg_info {
    char name[IRC_CHANNEL_MAX + 1]; /* as registered */
    char founder[IRC_NICK_MAX + 1]; /* the founder's account */
    long long registered;           /* seconds since the epoch */
    int naccess;
    struct chanreg_access access[CHANREG_ACCESS_MAX];
};

/* Opens (creating if need be) DATA_DIR/channels.db and loads it; data_dir NULL: a table
 * without a store (a cluster's node, chanreg_use_network). 0, or -1 after printing why on
 * stderr. */
int chanreg_open(const char *data_dir);
/* Closes the store and frees the table (at exit, with no worker running). */
void chanreg_close(void);
/* Calls fn(arg, info) for each registration DATA_DIR/channels.db holds, oldest first, with
 * its access list (at most CHANREG_ACCESS_MAX), reading the file without changing it (a node
 * that ran alone carrying its registrations into a network, docs/cluster.md "Channel
 * registrations"); the table is not touched. How many, 0 without a file, or -1 when it cannot
 * be read (logged). */
int chanreg_file_each(const char *data_dir, void (*fn)(void *arg, const struct chanreg_info *info),
                      void *arg);

/* The role of account ("" or NULL: not logged in) on channel name (any case). */
enum chanreg_role chanreg_role(const char *name, const char *account);
/* Registers channel name with founder. */
enum chanreg_result chanreg_register(const char *name, const char *founder);
/* Drops channel name's registration. */
enum chanreg_result chanreg_drop(const char *name);
/* Sets account's mode on name's access list: 'o', 'v', or 0 to take it off. */
enum chanreg_result chanreg_access(const char *name, const char *account, char mode);
/* Copies name's registration into out: CHANREG_OK or CHANREG_NOT_FOUND. */
enum chanreg_result chanreg_info(const char *name, struct chanreg_info *out);
/* An account was dropped: the channels it founded are dropped, and it leaves every access
 * list. Returns how many channels were dropped. */
int chanreg_forget_account(const char *account);

/* --- a cluster's registrations --------------------------------------------------------- */

/* Takes a change to the network (never waits on it): name's registration is now info, or
 * info NULL: dropped. 0, or -1 if it cannot go now (the change holds here only). */
typedef int chanreg_save_fn(void *arg, const char *name, const struct chanreg_info *info);
/* From now on the table's changes go to save(arg, ...) instead of channels.db; call before
 * the workers start (NULL: back to none). save runs on the thread making the change, in the
 * table's order, with the store's lock held (it only queues). */
void chanreg_use_network(chanreg_save_fn *save, void *arg);
/* The network's registration of info->name: replaces this node's, without telling the
 * network. */
void chanreg_learn(const struct chanreg_info *info);
/* The network dropped name's registration: gone here too, without telling the network. */
void chanreg_unlearn(const char *name);
/* The network's whole list is coming (Redis's, at start or when it comes back): every
 * registration here is marked until chanreg_learn sees it again. chanreg_sync_end then drops
 * those still marked (drop: the network's list is the truth), or hands each to put_back(arg,
 * info) and keeps it (the network lost its data: this node puts back what it had). */
void chanreg_sync_begin(void);
void chanreg_sync_end(int drop, void (*put_back)(void *arg, const struct chanreg_info *info),
                      void *arg);

#endif
