/* cidr: address block lists and matching (cidr.h). */
#include "cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

static int parse_block(const char *s, size_t len, struct cidr *out)
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

int cidr_parse(const char *s, struct cidr *out)
{
    return parse_block(s, strlen(s), out);
}

int cidr_list_parse(const char *list, struct cidr_list *out)
{
    struct cidr_list l = {.n = 0};
    const char *p = list;
    while (*p) {
        size_t len = strcspn(p, ",");
        if (len > 0) {
            if (l.n == CIDR_LIST_MAX || parse_block(p, len, &l.block[l.n]) < 0)
                return -1;
            l.n++;
        }
        p += len;
        if (*p == ',')
            p++;
    }
    *out = l;
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

/* v4: the IPv4 address (4 bytes) or NULL; v6: the IPv6 one (16 bytes) or NULL. */
static int block_has(const struct cidr *b, const unsigned char *v4, const unsigned char *v6)
{
    return (b->family == AF_INET && v4 && prefix_match(v4, b->addr, b->bits)) ||
           (b->family == AF_INET6 && v6 && prefix_match(v6, b->addr, b->bits));
}

static int has(const struct cidr_list *l, const unsigned char *v4, const unsigned char *v6)
{
    for (int i = 0; i < l->n; i++) {
        if (block_has(&l->block[i], v4, v6))
            return 1;
    }
    return 0;
}

/* An IPv4 peer on a dual-stack socket arrives as ::ffff:a.b.c.d: its last four bytes. */
static const unsigned char *mapped_v4(const unsigned char *v6)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    return memcmp(v6, mapped, sizeof mapped) == 0 ? v6 + 12 : NULL;
}

int cidr_list_has(const struct cidr_list *l, const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return has(l, (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr, NULL);
    if (sa->sa_family == AF_INET6) {
        const unsigned char *v6 = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
        return has(l, mapped_v4(v6), v6);
    }
    return 0;
}

int cidr_list_has_host(const struct cidr_list *l, const char *host)
{
    unsigned char a[16];
    if (inet_pton(AF_INET, host, a) == 1)
        return has(l, a, NULL);
    if (inet_pton(AF_INET6, host, a) == 1)
        return has(l, mapped_v4(a), a);
    return 0;
}

int cidr_has_host(const struct cidr *b, const char *host)
{
    unsigned char a[16];
    if (inet_pton(AF_INET, host, a) == 1)
        return block_has(b, a, NULL);
    if (inet_pton(AF_INET6, host, a) == 1)
        return block_has(b, mapped_v4(a), a);
    return 0;
}
