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

int ircname_channel_valid(const char *name)
{
    size_t len = strlen(name);
    if (len < 2 || len > IRC_CHANNEL_MAX || !ircname_is_channel(name))
        return 0;
    return strcspn(name, "\a\r\n ,:") == len;
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
