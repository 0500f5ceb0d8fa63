/* account_redis: accounts in Redis for a cluster (account_redis.h). */
#include "account_redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "common/log.h"
#include "common/redis_url.h"
#include "core/config.h"
#include "redis_conn.h"

#define ACCOUNT_REDIS_TIMEOUT 2 /* seconds, to connect and for each command */

struct account_redis {
    struct redis_server rs;
    char password[REDIS_PASSWORD_MAX + 1];
    redisContext *c; /* NULL while disconnected: connected again on the next request */
};

/* Creates an account and announces it, in one step: KEYS the account's hash; ARGV folded
 * name, display name, hash, creation time. 1 created, 0 taken. */
static const char create_script[] =
    "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end "
    "redis.call('HSET', KEYS[1], 'display', ARGV[2], 'hash', ARGV[3], 'created', ARGV[4]) "
    "redis.call('SADD', 'tc:accts', ARGV[2]) "
    "redis.call('PUBLISH', 'tc:ev', '1:R,' .. #ARGV[2] .. ':' .. ARGV[2] .. ',') return 1";

/* Accounts never logged into (no last_login) created before ARGV[1] (seconds): deleted,
 * each announced ("r", name), their names returned. The names in tc:accts are folded here as
 * ircname_fold does (rfc1459: A-Z and []\\^ to a-z and {}|~). */
static const char expire_script[] =
    "local function fold(s) return (string.gsub(s, '[A-Z%[%]\\\\%^]', "
    "function(c) return string.char(string.byte(c) + 32) end)) end "
    "local out = {} "
    "for _, name in ipairs(redis.call('SMEMBERS', 'tc:accts')) do "
    "local k = 'tc:acct:' .. fold(name) "
    "local v = redis.call('HMGET', k, 'created', 'last_login', 'certfp') "
    "if not v[2] and tonumber(v[1] or '0') < tonumber(ARGV[1]) then "
    "redis.call('DEL', k) redis.call('SREM', 'tc:accts', name) "
    "if v[3] then redis.call('DEL', 'tc:acctcert:' .. v[3]) end "
    "redis.call('PUBLISH', 'tc:ev', '1:r,' .. #name .. ':' .. name .. ',') "
    "table.insert(out, name) end end return out";

/* Replaces a hash: KEYS the account's hash; ARGV the new hash. 1 done, 0 no such account. */
static const char set_hash_script[] = "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end "
                                      "redis.call('HSET', KEYS[1], 'hash', ARGV[1]) return 1";

/* Deletes an account and announces it, as expire_script does one: KEYS the account's hash.
 * 1 done, 0 no such account. */
static const char drop_script[] =
    "local v = redis.call('HMGET', KEYS[1], 'display', 'certfp') "
    "if not v[1] then return 0 end "
    "redis.call('DEL', KEYS[1]) redis.call('SREM', 'tc:accts', v[1]) "
    "if v[2] then redis.call('DEL', 'tc:acctcert:' .. v[2]) end "
    "redis.call('PUBLISH', 'tc:ev', '1:r,' .. #v[1] .. ':' .. v[1] .. ',') return 1";

/* Binds a certificate: KEYS the account's hash; ARGV folded name, certfp. */
static const char bind_script[] =
    "local old = redis.call('HGET', KEYS[1], 'certfp') "
    "if old and old ~= ARGV[2] then redis.call('DEL', 'tc:acctcert:' .. old) end "
    "redis.call('HSET', KEYS[1], 'certfp', ARGV[2]) "
    "redis.call('SET', 'tc:acctcert:' .. ARGV[2], ARGV[1]) return 1";

struct account_redis *account_redis_open(const struct config *cfg)
{
    struct account_redis *ar = calloc(1, sizeof *ar);
    if (!ar)
        return NULL;
    struct redis_server rs[REDIS_SHARDS_MAX];
    char why[256];
    if (redis_url_parse(cfg->cluster, rs, REDIS_SHARDS_MAX, why, sizeof why) < 1) {
        log_error("accounts: %s", why);
        free(ar);
        return NULL;
    }
    ar->rs = rs[0];
    if ((cfg->cluster_password_file &&
         redis_password_file("accounts", cfg->cluster_password_file, ar->password) < 0) ||
        !(ar->c =
              redis_connect_blocking("accounts", &ar->rs, ar->password, ACCOUNT_REDIS_TIMEOUT))) {
        free(ar);
        return NULL;
    }
    return ar;
}

void account_redis_free(struct account_redis *ar)
{
    if (!ar)
        return;
    if (ar->c)
        redisFree(ar->c);
    free(ar);
}

/* A command (argv form); a broken connection is made again once. NULL when Redis failed
 * (logged); an error reply is logged and returned as NULL too. */
static redisReply *run(struct account_redis *ar, int argc, const char **argv)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!ar->c && !(ar->c = redis_connect_blocking("accounts", &ar->rs, ar->password,
                                                       ACCOUNT_REDIS_TIMEOUT)))
            return NULL;
        redisReply *r = redisCommandArgv(ar->c, argc, argv, NULL);
        if (r && r->type == REDIS_REPLY_ERROR) {
            log_error("accounts: Redis: %s", r->str);
            freeReplyObject(r);
            return NULL;
        }
        if (r)
            return r;
        log_warn("accounts: Redis %s:%d: %s", ar->rs.host, ar->rs.port, ar->c->errstr);
        redisFree(ar->c);
        ar->c = NULL;
    }
    return NULL;
}

int account_redis_each(struct account_redis *ar, void (*fn)(void *arg, const char *name), void *arg)
{
    const char *argv[] = {"SMEMBERS", "tc:accts"};
    redisReply *r = run(ar, 2, argv);
    if (!r)
        return -1;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
        if (r->element[i]->type == REDIS_REPLY_STRING)
            fn(arg, r->element[i]->str);
    freeReplyObject(r);
    return 0;
}

int account_redis_hash(struct account_redis *ar, const char *key, char *hash, size_t cap)
{
    char k[96];
    snprintf(k, sizeof k, "tc:acct:%s", key);
    const char *argv[] = {"HGET", k, "hash"};
    redisReply *r = run(ar, 3, argv);
    if (!r)
        return -2;
    int rc = -1;
    if (r->type == REDIS_REPLY_STRING && r->len < cap) {
        memcpy(hash, r->str, r->len + 1);
        rc = 0;
    }
    freeReplyObject(r);
    return rc;
}

int account_redis_carried(struct account_redis *ar, const char *memo)
{
    const char *argv[] = {"SISMEMBER", "tc:carried", memo};
    redisReply *r = run(ar, 3, argv);
    int rc = r && r->type == REDIS_REPLY_INTEGER ? r->integer == 1 : -2;
    freeReplyObject(r);
    return rc;
}

int account_redis_mark_carried(struct account_redis *ar, const char *memo)
{
    const char *argv[] = {"SADD", "tc:carried", memo};
    redisReply *r = run(ar, 3, argv);
    int rc = r && r->type == REDIS_REPLY_INTEGER ? 0 : -2;
    freeReplyObject(r);
    return rc;
}

int account_redis_create(struct account_redis *ar, const char *key, const char *display,
                         const char *hash)
{
    char k[96], created[24];
    snprintf(k, sizeof k, "tc:acct:%s", key);
    snprintf(created, sizeof created, "%lld", (long long)time(NULL));
    const char *argv[] = {"EVAL", create_script, "1", k, key, display, hash, created};
    redisReply *r = run(ar, 8, argv);
    if (!r)
        return -2;
    int rc = r->type == REDIS_REPLY_INTEGER ? (r->integer == 1 ? 0 : 1) : -2;
    freeReplyObject(r);
    return rc;
}

int account_redis_touch(struct account_redis *ar, const char *key)
{
    char k[96], now[24];
    snprintf(k, sizeof k, "tc:acct:%s", key);
    snprintf(now, sizeof now, "%lld", (long long)time(NULL));
    const char *argv[] = {"HSET", k, "last_login", now};
    redisReply *r = run(ar, 4, argv);
    if (!r)
        return -2;
    freeReplyObject(r);
    return 0;
}

int account_redis_expire(struct account_redis *ar, long long before,
                         void (*fn)(void *arg, const char *name), void *arg)
{
    char cut[24];
    snprintf(cut, sizeof cut, "%lld", before);
    const char *argv[] = {"EVAL", expire_script, "0", cut};
    redisReply *r = run(ar, 4, argv);
    if (!r)
        return -1;
    int n = 0;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        if (r->element[i]->type == REDIS_REPLY_STRING) {
            fn(arg, r->element[i]->str);
            n++;
        }
    }
    freeReplyObject(r);
    return n;
}

int account_redis_bind_cert(struct account_redis *ar, const char *key, const char *certfp)
{
    char k[96];
    snprintf(k, sizeof k, "tc:acct:%s", key);
    const char *argv[] = {"EVAL", bind_script, "1", k, key, certfp};
    redisReply *r = run(ar, 6, argv);
    if (!r)
        return -2;
    freeReplyObject(r);
    return 0;
}

int account_redis_by_cert(struct account_redis *ar, const char *certfp, char *key, size_t kcap,
                          char *display, size_t dcap)
{
    char k[160];
    snprintf(k, sizeof k, "tc:acctcert:%s", certfp);
    const char *argv[] = {"GET", k};
    redisReply *r = run(ar, 2, argv);
    if (!r)
        return -2;
    int rc = -1;
    if (r->type == REDIS_REPLY_STRING && r->len < kcap) {
        memcpy(key, r->str, r->len + 1);
        rc = 0;
    }
    freeReplyObject(r);
    if (rc < 0)
        return rc;
    char a[96];
    snprintf(a, sizeof a, "tc:acct:%s", key);
    const char *hv[] = {"HGET", a, "display"};
    r = run(ar, 3, hv);
    if (!r)
        return -2;
    rc = -1;
    if (r->type == REDIS_REPLY_STRING && r->len < dcap) {
        memcpy(display, r->str, r->len + 1);
        rc = 0;
    }
    freeReplyObject(r);
    return rc;
}

/* Runs script on account key (folded) with arg (or none): 0 when it returned 1, -1 when 0,
 * -2 when Redis failed. */
static int account_script(struct account_redis *ar, const char *script, const char *key,
                          const char *arg)
{
    char k[96];
    snprintf(k, sizeof k, "tc:acct:%s", key);
    const char *argv[] = {"EVAL", script, "1", k, arg};
    redisReply *r = run(ar, arg ? 5 : 4, argv);
    if (!r)
        return -2;
    int rc = r->type == REDIS_REPLY_INTEGER ? (r->integer == 1 ? 0 : -1) : -2;
    freeReplyObject(r);
    return rc;
}

int account_redis_set_hash(struct account_redis *ar, const char *key, const char *hash)
{
    return account_script(ar, set_hash_script, key, hash);
}

int account_redis_drop(struct account_redis *ar, const char *key)
{
    return account_script(ar, drop_script, key, NULL);
}
