/* iplimit: per-address connection counts and connection-rate buckets. */
#include "iplimit.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

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

struct cidr {
    int family;
    unsigned char addr[16];
    int bits;
};

static pthread_mutex_t ip_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ip_entry *table;            /* guarded by ip_lock */
static unsigned table_size;               /* guarded by ip_lock */
static struct cidr exempt[IP_EXEMPT_MAX]; /* set before the workers start, read-only after */
static int nexempt;

static int parse_cidr(const char *s, size_t len, struct cidr *out)
{
    char buf[INET6_ADDRSTRLEN + 8];
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *slash = strchr(buf, '/');
    if (slash)
        *slash = '\0';
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, buf, out->addr) == 1) {
        out->family = AF_INET;
        out->bits = 32;
    } else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
        out->family = AF_INET6;
        out->bits = 128;
    } else {
        return -1;
    }
    if (slash) {
        char *end;
        long b = strtol(slash + 1, &end, 10);
        if (*end || end == slash + 1 || b < 0 || b > out->bits)
            return -1;
        out->bits = (int)b;
    }
    return 0;
}

static int parse_list(const char *list, struct cidr *out, int max)
{
    int n = 0;
    const char *p = list;
    while (*p) {
        size_t len = strcspn(p, ",");
        if (len > 0) {
            if (n == max || parse_cidr(p, len, &out[n]) < 0)
                return -1;
            n++;
        }
        p += len;
        if (*p == ',')
            p++;
    }
    return n;
}

int iplimit_exempt_valid(const char *list)
{
    struct cidr tmp[IP_EXEMPT_MAX];
    return parse_list(list, tmp, IP_EXEMPT_MAX) >= 0;
}

int iplimit_set_exempt(const char *list)
{
    int n = parse_list(list, exempt, IP_EXEMPT_MAX);
    if (n < 0)
        return -1;
    nexempt = n;
    return 0;
}

static int prefix_match(const unsigned char *a, const unsigned char *b, int bits)
{
    int bytes = bits / 8, rest = bits % 8;
    if (memcmp(a, b, (size_t)bytes) != 0)
        return 0;
    if (rest == 0)
        return 1;
    unsigned char mask = (unsigned char)(0xFF << (8 - rest));
    return (a[bytes] & mask) == (b[bytes] & mask);
}

static int is_exempt(const struct sockaddr *sa)
{
    unsigned char v4[4];
    const unsigned char *v6 = NULL;
    int have_v4 = 0;
    if (sa->sa_family == AF_INET) {
        memcpy(v4, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        have_v4 = 1;
    } else if (sa->sa_family == AF_INET6) {
        v6 = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
        /* An IPv4 peer on a dual-stack socket arrives as ::ffff:a.b.c.d. */
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
        if (memcmp(v6, mapped, sizeof mapped) == 0) {
            memcpy(v4, v6 + 12, 4);
            have_v4 = 1;
        }
    }
    for (int i = 0; i < nexempt; i++) {
        if (exempt[i].family == AF_INET && have_v4 &&
            prefix_match(v4, exempt[i].addr, exempt[i].bits))
            return 1;
        if (exempt[i].family == AF_INET6 && v6 && prefix_match(v6, exempt[i].addr, exempt[i].bits))
            return 1;
    }
    return 0;
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
    if (is_exempt(sa))
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
