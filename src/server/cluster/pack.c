/* pack: netstring fields for cluster payloads. */
#include "pack.h"

#include <stdio.h>
#include <string.h>

void pack_init(struct pack *p)
{
    p->len = 0;
    p->overflow = 0;
}

void pack_bytes(struct pack *p, const char *s, size_t n)
{
    char head[24];
    int h = snprintf(head, sizeof head, "%zu:", n);
    if (p->overflow || h < 0 || p->len + (size_t)h + n + 1 > sizeof p->buf) {
        p->overflow = 1;
        return;
    }
    memcpy(p->buf + p->len, head, (size_t)h);
    p->len += (size_t)h;
    if (n)
        memcpy(p->buf + p->len, s, n);
    p->len += n;
    p->buf[p->len++] = ',';
}

void pack_str(struct pack *p, const char *s)
{
    pack_bytes(p, s ? s : "", s ? strlen(s) : 0);
}

void pack_u64(struct pack *p, uint64_t v)
{
    char num[24];
    int n = snprintf(num, sizeof num, "%llu", (unsigned long long)v);
    pack_bytes(p, num, (size_t)n);
}

void unpack_init(struct unpack *u, const char *s, size_t len)
{
    u->p = s;
    u->end = s + len;
    u->bad = 0;
}

const char *unpack_bytes(struct unpack *u, size_t *n)
{
    *n = 0;
    if (u->bad)
        return NULL;
    size_t len = 0;
    int digits = 0;
    while (u->p < u->end && *u->p >= '0' && *u->p <= '9' && digits < 7) {
        len = len * 10 + (size_t)(*u->p - '0');
        u->p++;
        digits++;
    }
    /* A length of at most 7 digits, then ':', the bytes and ','. */
    if (!digits || u->p >= u->end || *u->p != ':' || (size_t)(u->end - u->p - 1) < len + 1 ||
        u->p[1 + len] != ',') {
        u->bad = 1;
        return NULL;
    }
    const char *field = u->p + 1;
    u->p += 1 + len + 1;
    *n = len;
    return field;
}

void unpack_str(struct unpack *u, char *out, size_t cap)
{
    size_t n;
    const char *s = unpack_bytes(u, &n);
    if (!s) {
        out[0] = '\0';
        return;
    }
    if (n >= cap)
        n = cap - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

uint64_t unpack_u64(struct unpack *u)
{
    size_t n;
    const char *s = unpack_bytes(u, &n);
    if (!s || n == 0 || n > 20) {
        u->bad = 1;
        return 0;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9' || v > (UINT64_MAX - 9) / 10) {
            u->bad = 1;
            return 0;
        }
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    return v;
}
