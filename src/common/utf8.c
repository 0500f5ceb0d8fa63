/* utf8: strict UTF-8 validation, written out so that each rule of RFC 3629 table 3.9 is
 * visible, with a fast path over ASCII; a table-driven DFA would be faster on other text, but
 * lines are at most 8 KiB and chat is mostly ASCII. */
#include "utf8.h"

#include <stdint.h>
#include <string.h>

/* The length of the valid UTF-8 sequence at s (left bytes there), or 0 if none starts there. */
static size_t seq_len(const unsigned char *s, size_t left)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        if (c == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        if (c == 0xF4)
            hi = 0x8F; /* past U+10FFFF */
    } else {
        return 0;
    }
    if (left <= need)
        return 0;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t k = 2; k <= need; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 0;
    }
    return need + 1;
}

int utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < len;) {
        /* Most text is ASCII: eight bytes at a time while no high bit is set. Every line a
         * WebSocket text frame carries passes here once per recipient, and every line a client
         * sends once (UTF8ONLY). */
        uint64_t word;
        if (len - i >= sizeof word) {
            memcpy(&word, s + i, sizeof word);
            if (!(word & UINT64_C(0x8080808080808080))) {
                i += sizeof word;
                continue;
            }
        }
        size_t n = seq_len(s + i, len - i);
        if (n == 0)
            return 0;
        i += n;
    }
    return 1;
}

size_t utf8_repair(char *dst, size_t cap, const char *src, size_t len)
{
    static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */
    const unsigned char *s = (const unsigned char *)src;
    size_t out = 0;
    for (size_t i = 0; i < len;) {
        size_t n = seq_len(s + i, len - i);
        const char *from = n ? src + i : replacement;
        size_t take = n ? n : 3;
        if (out + take >= cap)
            break;
        memcpy(dst + out, from, take);
        out += take;
        i += n ? n : 1;
    }
    if (cap > 0)
        dst[out] = '\0';
    return out;
}

size_t utf8_trim(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t start = len;
    /* Walk back over at most three continuation bytes to the lead byte of the last char. */
    while (start > 0 && len - start < 4 && (s[start - 1] & 0xC0) == 0x80)
        start--;
    if (start == 0 || s[start - 1] < 0xC0)
        return len; /* ends in ASCII, or only stray continuation bytes: nothing to cut */
    unsigned char lead = s[start - 1];
    size_t want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
    size_t have = len - (start - 1);
    return have >= want ? len : start - 1;
}

size_t utf8_cut(const char *s, size_t max)
{
    size_t n = strlen(s);
    return n > max ? utf8_trim(s, max) : n;
}

size_t utf8_copy(char *dst, const char *src, size_t max)
{
    size_t n = utf8_cut(src, max);
    memcpy(dst, src, n);
    dst[n] = '\0';
    return n;
}
