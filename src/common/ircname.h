/* ircname: nickname and channel-name rules and case folding (RFC 2812 2.2 and 2.3.1).
 * Names compare equal when their rfc1459 case folds are equal: A-Z fold to a-z and []\^ to {}|~. */
#ifndef TCPCHAT_IRCNAME_H
#define TCPCHAT_IRCNAME_H

#include <stddef.h>

/* Longest nickname accepted (advertised as NICKLEN; RFC 2812 says at least 9). */
#define IRC_NICK_MAX 30
/* Longest channel name, prefix included (RFC 2812 1.3: up to fifty characters). */
#define IRC_CHANNEL_MAX 50
/* Channel prefixes we serve (advertised as CHANTYPES). */
#define IRC_CHANTYPES "#"

/* 1 if nick is a valid nickname: a letter or one of []\`_^{|} first, then letters, digits,
 * those specials or '-', at most IRC_NICK_MAX bytes. */
int ircname_nick_valid(const char *nick);
/* 1 if name is a valid channel name: a CHANTYPES prefix, then at least one byte that is not
 * NUL, BEL, CR, LF, space, ',' or ':', at most IRC_CHANNEL_MAX bytes in all. */
int ircname_channel_valid(const char *name);
/* 1 if name starts with a channel prefix (so a PRIVMSG target is a channel, not a nick). */
int ircname_is_channel(const char *name);
/* The rfc1459 case fold of one byte (a byte-to-byte map: a fold has the name's length). */
unsigned char ircname_fold_char(unsigned char c);
/* Writes the rfc1459 case fold of name into out (cap includes the NUL; the result is
 * truncated to fit). Returns out. */
char *ircname_fold(const char *name, char *out, size_t cap);
/* 1 if name matches the glob mask ('*' any run, '?' one byte), case-insensitively under the
 * rfc1459 mapping. */
int ircname_match(const char *mask, const char *name);
/* Case-insensitive comparison under the rfc1459 mapping; 0 when equal. */
int ircname_cmp(const char *a, const char *b);

#endif
