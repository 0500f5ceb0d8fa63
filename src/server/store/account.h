/* account: user accounts (account name = nick) with argon2id password hashes (libsodium) in
 * SQLite (DATA_DIR/accounts.db), or in a cluster in Redis (account_redis.h), and the thread
 * that checks and creates them.
 *
 * Hashing is slow on purpose (argon2id, libsodium's "interactive" limits: about 60 ms and
 * 64 MiB each), so it never runs on a worker (OPER passwords are checked here too): a worker queues
 * the request and the answer comes back to the client's worker as a call (fanout_call). One thread
 * does them one at a time, which also bounds the memory they take and how fast anyone can guess
 * passwords on this server. It has two bounded queues (account.c): logins from addresses that
 * did not fail lately go before REGISTERs and the requests of addresses that did. Budgets per
 * address and for the whole server refuse failed logins past them without a check. Which names
 * are registered is also kept in memory, so that NICK can be checked without the disk.
 */
#ifndef TCPCHAT_ACCOUNT_H
#define TCPCHAT_ACCOUNT_H

#include <stdint.h>

struct client;
struct server;

enum account_op {
    ACCOUNT_VERIFY,   /* SASL PLAIN: name and password */
    ACCOUNT_REGISTER, /* REGISTER: name and password */
    ACCOUNT_EXTERNAL, /* SASL EXTERNAL: the account whose certificate is certfp (and, when
                         name is not "", which must be name) */
    ACCOUNT_OPER,     /* OPER: password against an [oper] entry's hash (account_request_oper) */
    ACCOUNT_PASSWD, /* NickServ PASSWD: name, its password, and the new one (account_request_change)
                     */
    ACCOUNT_DROP,   /* NickServ DROP: name and its password; the account is deleted */
};

enum account_result {
    ACCOUNT_OK,
    ACCOUNT_BAD_PASSWORD, /* verify: no such account or wrong password (not told apart) */
    ACCOUNT_EXISTS,       /* register: the name is taken */
    ACCOUNT_ERROR,        /* the store failed, or the queue is full */
};

/* Opens (creating if need be) the account store under srv->cfg.data_dir and starts the
 * thread. Returns 0, or -1 after printing why on stderr. */
int account_open(struct server *srv);
/* Stops the thread (dropping requests still queued) and closes the store. */
void account_close(struct server *srv);

/* The answer to a request, on the client's worker while it is still connected: op, an
 * account_result, and the account's name. */
typedef void account_done_fn(struct client *c, int op, int result, const char *name);
/* Queues op for client id (from address host) on worker; done gets the answer. certfp is the
 * client's TLS certificate fingerprint or NULL: a PLAIN login or a REGISTER made with a
 * certificate binds it to the account, for EXTERNAL later. Returns 0; -1 when its queue is
 * full (--login-queue: the server is busy); -2 without an account store or memory. The caller
 * answers a refusal itself. */
int account_request(struct server *srv, enum account_op op, int worker, uint64_t id,
                    const char *host, const char *name, const char *password, const char *certfp,
                    account_done_fn *done);
/* Queues the check of an OPER password against hash (the [oper] entry's, copied: a reload
 * may change the entry meanwhile) for client id on worker; done gets ACCOUNT_OK or
 * ACCOUNT_BAD_PASSWORD with the entry's name. Returns as account_request. */
int account_request_oper(struct server *srv, int worker, uint64_t id, const char *host,
                         const char *oper, const char *hash, const char *password,
                         account_done_fn *done);
/* Queues op (ACCOUNT_PASSWD: newpass replaces the password; ACCOUNT_DROP: the account is
 * deleted, and every node forgets its name) once password proves name's owner; done gets
 * ACCOUNT_OK, ACCOUNT_BAD_PASSWORD or ACCOUNT_ERROR. Returns as account_request. */
int account_request_change(struct server *srv, enum account_op op, int worker, uint64_t id,
                           const char *host, const char *name, const char *password,
                           const char *newpass, account_done_fn *done);
/* Per-address budgets (--login-fail-limit, --register-limit): seconds host must wait before
 * its next login, or registration, may be tried (0: now); and counting one failed login (plain:
 * a PLAIN one, counted by the global budget too), or one registration asked for. */
long account_login_wait(struct server *srv, const char *host);
void account_login_failed(struct server *srv, const char *host, int plain);
/* The global budget (--login-fail-global; account.c says why): seconds before a PLAIN login
 * from host may be tried (0: now, always for an address trusted by a recent successful login);
 * and trusting host after a successful login. */
long account_login_busy(struct server *srv, const char *host);
void account_login_ok(struct server *srv, const char *host);
long account_register_wait(struct server *srv, const char *host);
void account_register_counted(struct server *srv, const char *host);
/* Is name (any case) a registered account? From memory. */
int account_exists(struct server *srv, const char *name);
/* In a cluster: is name a registered account that is not another one than the account of
 * that name in this node's own accounts.db (carried into the network at start, or there
 * already with its password)? A name the network had for someone else is not: what this node's
 * other files say of that name (its channels.db) is not about the network's account. */
int account_of_this_node(struct server *srv, const char *name);
/* An account of the network expired (cluster: another node deleted it): its name is free. */
void account_forget(struct server *srv, const char *name);
/* In a cluster: another node registered name (its "R" event); NICK checks know it from now. */
void account_learn(struct server *srv, const char *name);

#endif
