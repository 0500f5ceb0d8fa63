/* nick: the server-wide nick table, folded nick -> who holds it, and the public facts about
 * that user that other workers' commands need (WHO, WHOIS, USERHOST, ISON, AWAY replies).
 * Guarded by srv->nick_lock, held only inside these functions. */
#ifndef TCPCHAT_NICK_H
#define TCPCHAT_NICK_H

#include <stdint.h>

#include "common/ircname.h"
#include "core/defines.h"

struct server;
struct nick_stats;

/* A copy of one user's public facts, taken under the lock. */
struct nick_info {
    int worker;
    uint64_t id;
    char nick[IRC_NICK_MAX + 1];
    char user[USER_MAX + 1];
    char host[HOST_MAX];
    char realname[REALNAME_MAX + 1];
    char away[AWAY_MAX + 1];        /* "" when not away */
    char account[IRC_NICK_MAX + 1]; /* logged in as, "" if not */
    unsigned registered : 1;
    unsigned invisible : 1;
    unsigned wallops : 1;
    unsigned secure : 1; /* connected over TLS (WHOIS 671) */
    unsigned oper : 1;   /* user mode +o: OPER succeeded */
    unsigned bot : 1;    /* user mode +B: a bot (IRCv3 bot mode) */
};

/* Claims nick for the client, releasing old (may be NULL or "") in the same step, so the
 * client never holds two nicks nor none. Changing only the case of one's own nick is allowed.
 * Returns 0, or -1 when someone else holds nick (or on allocation failure). */
int nick_claim(struct server *srv, const char *nick, const char *old, int worker, uint64_t id);
/* nick_claim of a nick the cluster's network has granted the client: a local client that
 * holds it without having registered gives way (its own claim on the network fails). */
int nick_claim_granted(struct server *srv, const char *nick, const char *old, int worker,
                       uint64_t id);
/* Releases nick if this client holds it. */
void nick_release(struct server *srv, const char *nick, uint64_t id);
/* Finds who holds nick. Returns 0 and fills worker/id, or -1. */
int nick_find(struct server *srv, const char *nick, int *worker, uint64_t *id);
/* Copies what is known of nick's holder into info. Returns 0, or -1 if nobody holds it. */
int nick_info(struct server *srv, const char *nick, struct nick_info *info);
/* Records the user's details once registered (nick must be held by id). */
void nick_set_user(struct server *srv, const char *nick, uint64_t id, const char *user,
                   const char *host, const char *realname);
/* Records the account the user is logged in as. */
void nick_set_account(struct server *srv, const char *nick, uint64_t id, const char *account);
/* Marks the user as connected over TLS. */
void nick_set_secure(struct server *srv, const char *nick, uint64_t id);
/* Sets or clears ("" ) the away message. */
void nick_set_away(struct server *srv, const char *nick, uint64_t id, const char *away);
/* Sets user modes i, w and B (each -1 to leave as is). */
void nick_set_modes(struct server *srv, const char *nick, uint64_t id, int invisible, int wallops,
                    int bot);
/* Counts for LUSERS, kept up to date as users come, go and change modes. */
void nick_count(struct server *srv, struct nick_stats *out);
/* Sets (1) or clears (0) user mode o. */
void nick_set_oper(struct server *srv, const char *nick, uint64_t id, int oper);
/* --- users on other nodes of a cluster (cluster.h) ---------------------------------------- */

/* Enters or updates a user of another node from info (worker: WORKER_REMOTE + its worker
 * there). The network has given it the nick, so an entry of a local client that has not
 * finished registering gives way (that client's own claim through the network then fails).
 * Returns 0, or -1 when a registered local user holds the nick or without memory. */
int nick_put_remote(struct server *srv, const struct nick_info *info);
/* A remote user id changes nick: like nick_claim, except that an unregistered local holder
 * of new gives way. Returns 0, or -1 when id holds no entry or new is taken by a registered
 * user. */
int nick_rename_remote(struct server *srv, const char *old, const char *nick, uint64_t id);
/* Removes every user whose id is on node (the id's top bits, CLUSTER_NODE_SHIFT; UINT64_MAX:
 * every remote user), calling
 * fn(arg, nick, id) for each while the table is locked (fn must not call back here). Returns
 * how many. */
int nick_drop_node(struct server *srv, uint64_t node,
                   void (*fn)(void *arg, const char *nick, uint64_t id), void *arg);
/* Calls fn(arg, info) for every registered local user (worker < WORKER_REMOTE), with the table
 * locked: the cluster announces them so. Returns how many. */
int nick_each_local(struct server *srv, void (*fn)(void *arg, const struct nick_info *info),
                    void *arg);

/* Copies into out (room for max) the registered users, local or remote, whose nick matches
 * mask, or whose nick!user@host does when mask holds '!' or '@' (case-mapped globs).
 * Returns how many were copied. */
int nick_match(struct server *srv, const char *mask, struct nick_info *out, int max);

/* Copies into out (room for max) the registered users, local or remote, logged in as account.
 * Returns how many were copied. */
int nick_of_account(struct server *srv, const char *account, struct nick_info *out, int max);
/* Frees the table (at exit, with no worker running). */
void nick_table_free(struct server *srv);

#endif
