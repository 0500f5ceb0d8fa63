/* hash: uthash with its tables in the pool (pool.h), like the objects they index: every
 * server file includes uthash through this header, so each table is allocated and freed by
 * the same functions wherever its macros expand. */
#ifndef TCPCHAT_HASH_H
#define TCPCHAT_HASH_H

#include "pool.h"

#define uthash_malloc(sz)    pool_alloc(sz)
#define uthash_free(ptr, sz) pool_free((ptr), (sz))
#include <uthash.h>

#endif
