/* redis_url: parses --cluster. Strict: anything unexpected is an error, never a default. */
#include "redis_url.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A whole decimal number in [lo, hi] from s..s+n; 0 or -1. */
static int number(const char *s, size_t n, long lo, long hi, int *out)
{
    if (n == 0 || n > 9)
        return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

/* One URL of n bytes. 0, or -1 with why. */
static int parse_one(const char *url, size_t n, struct redis_server *rs, char *why, size_t whylen)
{
    static const char scheme[] = "redis://";
    memset(rs, 0, sizeof *rs);
    rs->port = 6379;
    /* What errors show: the URL without its user and password, which must not reach a log. */
    const char *shown = memrchr(url, '@', n);
    shown = shown ? shown + 1 : url;
    int shown_n = (int)(url + n - shown);
    if (n < sizeof scheme - 1 || strncmp(url, scheme, sizeof scheme - 1) != 0) {
        snprintf(why, whylen, "'%.*s' does not start with redis://", shown_n, shown);
        return -1;
    }
    const char *p = url + sizeof scheme - 1, *end = url + n;
    /* userinfo: the last '@' before the path (a password may hold '@' itself) */
    const char *slash = memchr(p, '/', (size_t)(end - p));
    const char *auth_end = slash ? slash : end;
    const char *at = NULL;
    for (const char *q = p; q < auth_end; q++)
        if (*q == '@')
            at = q;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *user_end = colon ? colon : at;
        size_t ulen = (size_t)(user_end - p);
        if (ulen >= sizeof rs->user) {
            snprintf(why, whylen, "user name too long in '%.*s'", shown_n, shown);
            return -1;
        }
        memcpy(rs->user, p, ulen);
        if (colon) {
            size_t plen = (size_t)(at - colon - 1);
            if (plen > REDIS_PASSWORD_MAX) {
                snprintf(why, whylen, "password too long");
                return -1;
            }
            memcpy(rs->password, colon + 1, plen);
        }
        p = at + 1;
    }
    const char *host = p, *host_end;
    if (p < auth_end && *p == '[') {
        const char *close = memchr(p, ']', (size_t)(auth_end - p));
        if (!close) {
            snprintf(why, whylen, "unclosed '[' in '%.*s'", shown_n, shown);
            return -1;
        }
        host = p + 1;
        host_end = close;
        p = close + 1;
    } else {
        host_end = p;
        while (host_end < auth_end && *host_end != ':')
            host_end++;
        p = host_end;
    }
    size_t hlen = (size_t)(host_end - host);
    if (hlen == 0 || hlen > REDIS_HOST_MAX) {
        snprintf(why, whylen, "no host in '%.*s'", shown_n, shown);
        return -1;
    }
    for (size_t i = 0; i < hlen; i++) {
        char ch = host[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '-' || ch == ':' || ch == '_')) {
            snprintf(why, whylen, "bad host in '%.*s'", shown_n, shown);
            return -1;
        }
    }
    memcpy(rs->host, host, hlen);
    if (p < auth_end) {
        if (*p != ':' || number(p + 1, (size_t)(auth_end - p - 1), 1, 65535, &rs->port) < 0) {
            snprintf(why, whylen, "bad port in '%.*s' (1 to 65535)", shown_n, shown);
            return -1;
        }
    }
    if (slash && slash + 1 < end &&
        number(slash + 1, (size_t)(end - slash - 1), 0, 1000000, &rs->db) < 0) {
        snprintf(why, whylen, "bad database number in '%.*s'", shown_n, shown);
        return -1;
    }
    return 0;
}

int redis_url_parse(const char *list, struct redis_server *out, int max, char *why, size_t whylen)
{
    int count = 0;
    const char *p = list;
    if (!*p) {
        snprintf(why, whylen, "wants redis://HOST:PORT[/DB], several separated by commas");
        return -1;
    }
    while (*p) {
        size_t n = strcspn(p, ",");
        if (count == max) {
            snprintf(why, whylen, "at most %d Redis servers", max);
            return -1;
        }
        if (parse_one(p, n, &out[count], why, whylen) < 0)
            return -1;
        for (int i = 0; i < count; i++)
            if (strcmp(out[i].host, out[count].host) == 0 && out[i].port == out[count].port &&
                out[i].db == out[count].db) {
                snprintf(why, whylen, "%s:%d/%d is named twice", out[i].host, out[i].port,
                         out[i].db);
                return -1;
            }
        count++;
        p += n;
        if (*p == ',') {
            p++;
            if (!*p) {
                snprintf(why, whylen, "empty server after ','");
                return -1;
            }
        }
    }
    return count;
}
