/* utf8: strict UTF-8 validation (RFC 3629: no overlongs, no surrogates, nothing past
 * U+10FFFF). Used to keep invalid text off the wire (ISUPPORT UTF8ONLY). */
#ifndef TCPCHAT_UTF8_H
#define TCPCHAT_UTF8_H

#include <stddef.h>

/* 1 if the len bytes at s are valid UTF-8, else 0. */
int utf8_valid(const char *s, size_t len);
/* Copies the len bytes at src into dst (cap bytes), each byte that does not start a valid
 * sequence replaced by U+FFFD, NUL-terminated; stops where the next character would not fit.
 * Returns the length written. */
size_t utf8_repair(char *dst, size_t cap, const char *src, size_t len);
/* The largest n <= len such that s[0..n) does not end inside a multi-byte sequence; used to
 * truncate text without splitting a character. */
size_t utf8_trim(const char *s, size_t len);
/* The length of the string s cut to at most max bytes without splitting a character. */
size_t utf8_cut(const char *s, size_t max);
/* Copies the string src, cut as utf8_cut(src, max) does, into dst (max + 1 bytes at least),
 * NUL-terminated. Returns the length copied. */
size_t utf8_copy(char *dst, const char *src, size_t max);

#endif
