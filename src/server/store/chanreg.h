/* chanreg: registered channels (ChanServ REGISTER). A registered channel has a founder, an
 * account, and an access list of accounts given ops (o) or voice (v) when they join; nobody
 * else gets ops by being the first to join it, so a channel survives a restart with its owners
 * in charge. Its history also outlives its empty spells (history_end is not called for it).
 *
 * Kept in memory for the JOIN path and in SQLite (DATA_DIR/channels.db) so that it survives a
 * restart. One table for the process under a leaf lock of its own; a change is written to the
 * store on the worker of the user who made it (rare, one small WAL commit without an fsync),
 * outside the table's lock, as the server bans do (store/ban.h). A cluster's nodes each keep
 * their own (docs/cluster.md says so). */
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

/* Opens (creating if need be) DATA_DIR/channels.db and loads it. 0, or -1 after printing
 * why on stderr. */
int chanreg_open(const char *data_dir);
/* Closes the store and frees the table (at exit, with no worker running). */
void chanreg_close(void);

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

#endif
