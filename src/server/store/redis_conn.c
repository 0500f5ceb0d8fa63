/* redis_conn: blocking Redis connections and the password file (redis_conn.h). */
#include "redis_conn.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "common/log.h"

int redis_password_file(const char *who, const char *path, char *out)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        log_error("%s: cannot read %s: %s", who, path, strerror(errno));
        return -1;
    }
    char line[REDIS_PASSWORD_MAX + 2] = "";
    int ok = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    if (!ok || !line[0]) {
        log_error("%s: %s holds no password", who, path);
        return -1;
    }
    size_t n = strlen(line);
    if (n > REDIS_PASSWORD_MAX) {
        log_error("%s: the password in %s is longer than %d bytes", who, path, REDIS_PASSWORD_MAX);
        return -1;
    }
    memcpy(out, line, n + 1);
    return 0;
}

struct redisContext *redis_connect_blocking(const char *who, const struct redis_server *rs,
                                            const char *password, int timeout_s)
{
    struct timeval tv = {timeout_s, 0};
    redisContext *c = redisConnectWithTimeout(rs->host, rs->port, tv);
    if (!c || c->err) {
        log_error("%s: cannot reach Redis at %s:%d: %s", who, rs->host, rs->port,
                  c ? c->errstr : "out of memory");
        if (c)
            redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    const char *pw = password && password[0] ? password : rs->password;
    redisReply *r = NULL;
    if (pw[0])
        r = rs->user[0] ? redisCommand(c, "AUTH %s %s", rs->user, pw)
                        : redisCommand(c, "AUTH %s", pw);
    if (pw[0] && (!r || r->type == REDIS_REPLY_ERROR)) {
        log_error("%s: Redis at %s:%d refused the password: %s", who, rs->host, rs->port,
                  r ? r->str : c->errstr);
        freeReplyObject(r);
        redisFree(c);
        return NULL;
    }
    freeReplyObject(r);
    r = redisCommand(c, "SELECT %d", rs->db);
    int ok = r && r->type != REDIS_REPLY_ERROR;
    if (!ok)
        log_error("%s: Redis at %s:%d: SELECT %d: %s", who, rs->host, rs->port, rs->db,
                  r ? r->str : c->errstr);
    freeReplyObject(r);
    if (!ok) {
        redisFree(c);
        return NULL;
    }
    return c;
}
