/* redis_conn: what the cluster's start and the account store share about Redis: the
 * password file, and a blocking connection (connected, authenticated, on its database). The
 * cluster thread's own connections are asynchronous (cluster.c); these are for the start and
 * for the account thread, which waits on argon2 anyway. */
#ifndef TCPCHAT_REDIS_CONN_H
#define TCPCHAT_REDIS_CONN_H

#include <stddef.h>

#include "common/redis_url.h"

struct redisContext;

/* The first line of path into out (REDIS_PASSWORD_MAX + 1 bytes): 0, or -1 after logging
 * why (who: the part of the server asking, for the message). */
int redis_password_file(const char *who, const char *path, char *out);
/* A blocking connection to rs (with password when not "", else rs's own), with timeout_s for
 * the connection and each command; NULL after logging why. */
struct redisContext *redis_connect_blocking(const char *who, const struct redis_server *rs,
                                            const char *password, int timeout_s);

#endif
