/* ircname: nickname and channel-name rules and rfc1459 case folding. */
#include "ircname.h"

#include <string.h>

static int is_letter(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_special(unsigned char c)
{
    return c != '\0' && strchr("[]\\`_^{|}", c) != NULL;
}

int ircname_nick_valid(const char *nick)
{
    size_t len = strlen(nick);
    if (len == 0 || len > IRC_NICK_MAX)
        return 0;
    if (!is_letter((unsigned char)nick[0]) && !is_special((unsigned char)nick[0]))
        return 0;
    for (size_t i = 1; i < len; i++) {
        unsigned char c = (unsigned char)nick[i];
        if (!is_letter(c) && !is_special(c) && !(c >= '0' && c <= '9') && c != '-')
            return 0;
    }
    return 1;
}

int ircname_is_channel(const char *name)
{
    return name[0] != '\0' && strchr(IRC_CHANTYPES, name[0]) != NULL;
}

/* The length of the invisible formatting character (Unicode category Cf) that s starts with,
 * or 0: soft hyphen, zero-width and joiner characters, bidirectional controls, word joiner and
 * invisible operators, the byte order mark. A channel name holding one would look like
 * another. */
static size_t format_char(const unsigned char *s)
{
    if (s[0] == 0xC2 && s[1] == 0xAD)
        return 2; /* U+00AD */
    if (s[0] == 0xE2 && s[1] == 0x80 &&
        ((s[2] >= 0x8B && s[2] <= 0x8F) || (s[2] >= 0xAA && s[2] <= 0xAE)))
        return 3; /* U+200B..U+200F, U+202A..U+202E */
    if (s[0] == 0xE2 && s[1] == 0x81 && s[2] >= 0xA0 && s[2] <= 0xAF)
        return 3; /* U+2060..U+206F */
    if (s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF)
        return 3; /* U+FEFF */
    return 0;
}

int ircname_channel_valid(const char *name)
{
    size_t len = strlen(name);
    if (len < 2 || len > IRC_CHANNEL_MAX || !ircname_is_channel(name))
        return 0;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        /* Control characters (BEL, CR, LF, CTCP's \x01, tab...), space, comma and colon end
         * or split a name on the wire or on a screen. */
        if (*p < 0x20 || *p == 0x7f || *p == ' ' || *p == ',' || *p == ':' || format_char(p))
            return 0;
    }
    return 1;
}

unsigned char ircname_fold_char(unsigned char c)
{
    if (c >= 'A' && c <= '^') /* A-Z plus []\^ map to a-z plus {}|~ (rfc1459) */
        return (unsigned char)(c + 32);
    return c;
}

char *ircname_fold(const char *name, char *out, size_t cap)
{
    size_t i = 0;
    if (cap == 0)
        return out;
    for (; name[i] && i + 1 < cap; i++)
        out[i] = (char)ircname_fold_char((unsigned char)name[i]);
    out[i] = '\0';
    return out;
}

int ircname_cmp(const char *a, const char *b)
{
    for (;; a++, b++) {
        unsigned char x = ircname_fold_char((unsigned char)*a),
                      y = ircname_fold_char((unsigned char)*b);
        if (x != y)
            return x < y ? -1 : 1;
        if (x == '\0')
            return 0;
    }
}

int ircname_match(const char *mask, const char *name)
{
    /* Iterative glob with one backtrack point: linear in practice, no recursion to exploit. */
    const char *star = NULL, *resume = NULL;
    while (*name) {
        if (*mask == '*') {
            star = mask++;
            resume = name;
        } else if (*mask == '?' || (*mask && ircname_fold_char((unsigned char)*mask) ==
                                                 ircname_fold_char((unsigned char)*name))) {
            mask++;
            name++;
        } else if (star) {
            mask = star + 1;
            name = ++resume;
        } else {
            return 0;
        }
    }
    while (*mask == '*')
        mask++;
    return *mask == '\0';
}
