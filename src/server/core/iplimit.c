/* iplimit: per-address connection counts and connection-rate buckets. */
#include "iplimit.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "common/log.h"
#include "defines.h"
#include "hash.h"

struct ip_entry {
    char host[HOST_MAX]; /* key: the textual address, as clients carry it */
    int conns;
    double tokens; /* new connections allowed now */
    uint64_t tokens_ms;
    UT_hash_handle hh;
};

static pthread_mutex_t ip_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ip_entry *table;  /* guarded by ip_lock */
static unsigned table_size;     /* guarded by ip_lock */
static struct cidr_list exempt; /* set before the workers start, read-only after */

int iplimit_exempt_valid(const char *list)
{
    struct cidr_list tmp;
    return cidr_list_parse(list, &tmp) == 0;
}

int iplimit_set_exempt(const char *list)
{
    return cidr_list_parse(list, &exempt);
}

static void refill(struct ip_entry *e, int per_minute, uint64_t now_ms)
{
    if (now_ms > e->tokens_ms) {
        e->tokens += (double)(now_ms - e->tokens_ms) * per_minute / 60000.0;
        if (e->tokens > per_minute)
            e->tokens = per_minute;
        e->tokens_ms = now_ms;
    }
}

enum iplimit_verdict iplimit_acquire(const struct sockaddr *sa, const char *host, int max_per_ip,
                                     int per_minute, uint64_t now_ms)
{
    if (cidr_list_has(&exempt, sa))
        return IPLIMIT_EXEMPT;
    enum iplimit_verdict v = IPLIMIT_OK;
    pthread_mutex_lock(&ip_lock);
    struct ip_entry *e = NULL;
    HASH_FIND_STR(table, host, e);
    if (!e) {
        if (table_size >= IP_TABLE_MAX || !(e = calloc(1, sizeof *e))) {
            /* Fail open rather than lock everyone out; the global --max-clients still holds. */
            pthread_mutex_unlock(&ip_lock);
            log_warn("per-address table full: %s not limited", host);
            return IPLIMIT_EXEMPT;
        }
        strncpy(e->host, host, sizeof e->host - 1);
        e->tokens = per_minute;
        e->tokens_ms = now_ms;
        HASH_ADD_STR(table, host, e);
        table_size++;
    }
    refill(e, per_minute, now_ms);
    if (e->conns >= max_per_ip)
        v = IPLIMIT_TOO_MANY;
    else if (e->tokens < 1.0)
        v = IPLIMIT_TOO_FAST;
    else {
        e->tokens -= 1.0;
        e->conns++;
    }
    pthread_mutex_unlock(&ip_lock);
    return v;
}

void iplimit_release(const char *host)
{
    pthread_mutex_lock(&ip_lock);
    struct ip_entry *e = NULL;
    HASH_FIND_STR(table, host, e);
    if (e && e->conns > 0)
        e->conns--;
    pthread_mutex_unlock(&ip_lock);
}

void iplimit_prune(int per_minute, uint64_t now_ms)
{
    pthread_mutex_lock(&ip_lock);
    struct ip_entry *e, *tmp;
    HASH_ITER(hh, table, e, tmp)
    {
        refill(e, per_minute, now_ms);
        if (e->conns == 0 && e->tokens >= per_minute) {
            /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): false positive, delete in HASH_ITER */
            HASH_DEL(table, e);
            free(e);
            table_size--;
        }
    }
    pthread_mutex_unlock(&ip_lock);
}

void iplimit_free(void)
{
    pthread_mutex_lock(&ip_lock);
    struct ip_entry *e, *tmp;
    HASH_ITER(hh, table, e, tmp)
    {
        /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): false positive, delete in HASH_ITER */
        HASH_DEL(table, e);
        free(e);
    }
    table_size = 0;
    pthread_mutex_unlock(&ip_lock);
}
