/* payload: format and parse the bench message header. Parsing is on the receive hot path
 * (once per delivery), so it is a hand-written decimal scan, not sscanf. */
#include "payload.h"

#include <string.h>

/* Decimal digits of a uint64 at most (18446744073709551615). */
#define U64_DIGITS_MAX 20

static size_t payload_put_u64(char *out, uint64_t v)
{
    char tmp[U64_DIGITS_MAX];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

int payload_format(char *out, size_t cap, uint32_t sender, uint32_t seq, uint64_t send_ns,
                   size_t size)
{
    if (cap < PAYLOAD_HEADER_MAX || cap < size)
        return -1;
    size_t n = 0;
    /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): wire bytes, counted by n */
    memcpy(out, PAYLOAD_MAGIC, PAYLOAD_MAGIC_LEN);
    n += PAYLOAD_MAGIC_LEN;
    n += payload_put_u64(out + n, sender);
    out[n++] = ' ';
    n += payload_put_u64(out + n, seq);
    out[n++] = ' ';
    n += payload_put_u64(out + n, send_ns);
    if (n < size) {
        out[n++] = ' ';
        memset(out + n, 'x', size - n);
        n = size;
    }
    return (int)n;
}

/* Reads digits at *p (before end) into *v; at least one digit, at most U64_DIGITS_MAX. */
static int payload_get_u64(const char **p, const char *end, uint64_t *v)
{
    const char *s = *p;
    uint64_t x = 0;
    size_t digits = 0;
    while (s < end && *s >= '0' && *s <= '9' && digits < U64_DIGITS_MAX) {
        x = x * 10 + (uint64_t)(*s - '0');
        s++;
        digits++;
    }
    if (digits == 0)
        return -1;
    *p = s;
    *v = x;
    return 0;
}

int payload_parse(const char *text, size_t len, uint32_t *sender, uint32_t *seq, uint64_t *send_ns)
{
    const char *p = text, *end = text + len;
    uint64_t a, b, c;
    if (len < PAYLOAD_MAGIC_LEN || memcmp(p, PAYLOAD_MAGIC, PAYLOAD_MAGIC_LEN) != 0)
        return -1;
    p += PAYLOAD_MAGIC_LEN;
    if (payload_get_u64(&p, end, &a) < 0 || p >= end || *p++ != ' ')
        return -1;
    if (payload_get_u64(&p, end, &b) < 0 || p >= end || *p++ != ' ')
        return -1;
    if (payload_get_u64(&p, end, &c) < 0 || (p < end && *p != ' '))
        return -1;
    if (a > UINT32_MAX || b > UINT32_MAX)
        return -1;
    *sender = (uint32_t)a;
    *seq = (uint32_t)b;
    *send_ns = c;
    return 0;
}
