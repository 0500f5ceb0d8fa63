/* cap: capability names <-> bits. The list is short and fixed: the capabilities tcpchat
 * knows how to use. Anything else a server offers is simply not asked for. */
#include "cap.h"

#include <stdio.h>
#include <string.h>

static const struct {
    unsigned bit;
    const char *name;
} cap_table[] = {
    {CAP_SERVER_TIME, "server-time"},
    {CAP_ECHO_MESSAGE, "echo-message"},
    {CAP_MESSAGE_TAGS, "message-tags"},
    {CAP_MULTI_PREFIX, "multi-prefix"},
    {CAP_AWAY_NOTIFY, "away-notify"},
    {CAP_INVITE_NOTIFY, "invite-notify"},
    {CAP_BATCH, "batch"},
    {CAP_SASL, "sasl"},
    {CAP_CHATHISTORY, "draft/chathistory"},
};

#define CAP_COUNT (sizeof cap_table / sizeof cap_table[0])

/* The bit of the n-byte name at s, 0 when we do not know it. */
static unsigned cap_lookup(const char *s, size_t n)
{
    for (size_t i = 0; i < CAP_COUNT; i++)
        if (strlen(cap_table[i].name) == n && memcmp(cap_table[i].name, s, n) == 0)
            return cap_table[i].bit;
    return 0;
}

void cap_parse(const char *list, unsigned *added, unsigned *removed)
{
    *added = *removed = 0;
    const char *p = list ? list : "";
    while (*p) {
        p += strspn(p, " ");
        size_t n = strcspn(p, " ");
        if (n == 0)
            break;
        const char *name = p;
        int minus = name[0] == '-';
        name += minus;
        size_t len = strcspn(name, "= ");
        unsigned bit = cap_lookup(name, len);
        if (minus)
            *removed |= bit;
        else
            *added |= bit;
        p += n;
    }
}

int cap_names(unsigned mask, char *out, size_t cap)
{
    size_t o = 0;
    if (cap == 0)
        return -1;
    out[0] = '\0';
    for (size_t i = 0; i < CAP_COUNT; i++) {
        if (!(mask & cap_table[i].bit))
            continue;
        int n = snprintf(out + o, cap - o, "%s%s", o ? " " : "", cap_table[i].name);
        if (n < 0 || (size_t)n >= cap - o)
            return -1;
        o += (size_t)n;
    }
    return (int)o;
}

int cap_value(const char *list, const char *name, char *out, size_t cap)
{
    size_t want = strlen(name);
    const char *p = list ? list : "";
    while (*p) {
        p += strspn(p, " ");
        size_t n = strcspn(p, " ");
        if (n == 0)
            break;
        size_t len = strcspn(p, "= ");
        if (len == want && memcmp(p, name, len) == 0) {
            const char *value = len < n ? p + len + 1 : p + len;
            size_t vlen = n - (size_t)(value - p);
            if (vlen >= cap)
                return -1;
            memcpy(out, value, vlen);
            out[vlen] = '\0';
            return 1;
        }
        p += n;
    }
    return 0;
}
