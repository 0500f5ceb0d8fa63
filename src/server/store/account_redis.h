/* account_redis: the account store of a cluster (--cluster): accounts live in Redis, on the
 * first server named, so a user registered on one node logs in on any other
 * (docs/cluster.md "Accounts"). Used by the account thread alone (account.c), over one
 * blocking connection: the thread waits on argon2 anyway, and a Redis answer takes far less.
 *
 * Keys: tc:acct:<folded name> (hash: display, hash, created, certfp), tc:accts (set of the
 * names as registered), tc:acctcert:<certfp> (the folded name a certificate is bound to).
 * A new account is announced on tc:ev ("R", name) for every node's list of registered names. */
#ifndef TCPCHAT_ACCOUNT_REDIS_H
#define TCPCHAT_ACCOUNT_REDIS_H

#include <stddef.h>

struct config;
struct account_redis;

/* Connects to the first server of cfg->cluster. NULL after logging why. */
struct account_redis *account_redis_open(const struct config *cfg);
void account_redis_free(struct account_redis *ar);

/* fn(arg, name) for every registered name (as registered). 0, or -1 if Redis failed. */
int account_redis_each(struct account_redis *ar, void (*fn)(void *arg, const char *name),
                       void *arg);
/* The password hash of account key (folded) into hash: 0; -1 no such account; -2 Redis failed. */
int account_redis_hash(struct account_redis *ar, const char *key, char *hash, size_t cap);
/* Creates account key (folded) as display with hash: 0; 1 it exists; -2 Redis failed. */
int account_redis_create(struct account_redis *ar, const char *key, const char *display,
                         const char *hash);
/* What a node carried into the network from the files it kept alone (tc:carried, a set of
 * memo strings: the kind, the name and what identifies the value). _carried: 1 if memo was
 * carried once (if the network has dropped it since, it stays dropped), 0 if not, -2 Redis
 * failed; _mark_carried records it: 0 or -2. */
int account_redis_carried(struct account_redis *ar, const char *memo);
int account_redis_mark_carried(struct account_redis *ar, const char *memo);
/* Account key (folded) was logged into now (SASL): it never expires. 0 or -2. */
int account_redis_touch(struct account_redis *ar, const char *key);
/* Deletes the accounts never logged into that were created before before (seconds since the
 * epoch), announcing each ("r" on tc:ev); fn(arg, name) for each. How many, or -1 if Redis
 * failed. */
int account_redis_expire(struct account_redis *ar, long long before,
                         void (*fn)(void *arg, const char *name), void *arg);
/* Replaces account key's (folded) password hash: 0, -1 no such account, -2 Redis failed. */
int account_redis_set_hash(struct account_redis *ar, const char *key, const char *hash);
/* Deletes account key (folded) and its certificate binding, announcing it ("r" on tc:ev) so
 * that every node frees the name: 0, -1 no such account, -2 Redis failed. */
int account_redis_drop(struct account_redis *ar, const char *key);
/* Binds certificate certfp to account key (it leaves whatever it was bound to). 0 or -2. */
int account_redis_bind_cert(struct account_redis *ar, const char *key, const char *certfp);
/* The account certfp is bound to: its folded name into key and display name into display;
 * 0, -1 none, -2 Redis failed. */
int account_redis_by_cert(struct account_redis *ar, const char *certfp, char *key, size_t kcap,
                          char *display, size_t dcap);

#endif
