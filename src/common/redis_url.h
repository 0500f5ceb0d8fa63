/* redis_url: the --cluster setting, one or more Redis servers as
 * redis://[[user]:password@]host[:port][/db], separated by commas. The order matters: a
 * channel or nick lives on the server its hash picks among them, so every node must name
 * the same servers in the same order. */
#ifndef TCPCHAT_REDIS_URL_H
#define TCPCHAT_REDIS_URL_H

#include <stddef.h>

#define REDIS_SHARDS_MAX   16
#define REDIS_HOST_MAX     255
#define REDIS_PASSWORD_MAX 255

struct redis_server {
    char host[REDIS_HOST_MAX + 1];         /* name or address, without brackets */
    int port;                              /* 6379 unless given */
    int db;                                /* 0 unless given */
    char user[64];                         /* "" for none (Redis 6 ACL user) */
    char password[REDIS_PASSWORD_MAX + 1]; /* "" for none */
};

/* Parses a comma-separated list into out (at most REDIS_SHARDS_MAX). Returns how many, or -1
 * with the reason in why. */
int redis_url_parse(const char *list, struct redis_server *out, int max, char *why, size_t whylen);

#endif
