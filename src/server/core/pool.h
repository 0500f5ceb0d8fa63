/* pool: memory for what stays as long as a connection or a channel does (the connection, its
 * nick entry and strings, channel memberships, hash tables), kept apart from malloc's heap
 * where the hot path's short-lived events, lines and queue rings come and go. */
#ifndef TCPCHAT_POOL_H
#define TCPCHAT_POOL_H

#include <stddef.h>

/* n zeroed bytes, aligned for any object; NULL on allocation failure. Thread-safe. */
void *pool_alloc(size_t n);
/* Frees what pool_alloc(n) or pool_realloc(.., n) returned; n must be that same size. */
void pool_free(void *p, size_t n);
/* Resizes p (of size old; NULL allowed) to n bytes, keeping the first min(old, n). Bytes past
 * old are not zeroed. NULL on failure, p then untouched. */
void *pool_realloc(void *p, size_t old, size_t n);
/* A copy of s in the pool (free it with pool_free(p, strlen(p) + 1)), or NULL. */
char *pool_strdup(const char *s);

#endif
