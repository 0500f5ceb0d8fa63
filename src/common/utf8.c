/* utf8: strict UTF-8 validation, written out so that each rule of RFC 3629 table 3.9 is
 * visible; a table-driven DFA would be faster but lines are at most 8 KiB. */
#include "utf8.h"

#include <string.h>

int utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
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
        if (len - i <= need)
            return 0;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return 0;
        for (size_t k = 2; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
        }
        i += need + 1;
    }
    return 1;
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
