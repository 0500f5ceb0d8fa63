/* linebuf: a bounded input buffer that splits a byte stream into lines.
 * A line ends at CR, LF or CR LF (bare CR and bare LF are accepted, as most servers do).
 * Nothing is allocated until bytes arrive; the buffer starts small and grows on demand up to a
 * hard bound, so no peer can make it grow past that bound, and linebuf_release gives it back
 * once every byte has been taken, so an idle connection holds no buffer at all. */
#ifndef TCPCHAT_LINEBUF_H
#define TCPCHAT_LINEBUF_H

#include <stddef.h>

struct linebuf {
    char *data;
    size_t cap;      /* bytes allocated */
    size_t max;      /* bound on cap: bytes of unprocessed input held at most */
    size_t line_max; /* longest line accepted, terminator excluded */
    size_t start;    /* first unconsumed byte */
    size_t len;      /* bytes filled, from 0 */
    int discarding;  /* dropping the rest of an overlong line up to its terminator */
    int skip_lf;     /* the last line ended in a CR that was the last byte buffered */
};

enum { LINEBUF_NONE = 0, LINEBUF_LINE = 1, LINEBUF_TOOLONG = -1 };

/* line_max < max is required. Returns 0, or -1 on bad bounds. Allocates nothing. */
int linebuf_init(struct linebuf *lb, size_t line_max, size_t max);
void linebuf_free(struct linebuf *lb);
/* Frees the buffer if no byte is left in it (the state of a CR LF split across reads is
 * kept); the next linebuf_space allocates again. */
void linebuf_release(struct linebuf *lb);
/* Where to read more bytes into, and how many fit; allocates, grows or compacts as needed.
 * Returns NULL (with *avail 0) when the buffer holds max bytes of unconsumed input (or no
 * memory could be had). */
char *linebuf_space(struct linebuf *lb, size_t *avail);
/* Records that n bytes were written at the space returned by linebuf_space. */
void linebuf_commit(struct linebuf *lb, size_t n);
/* Takes the next line: LINEBUF_LINE with *line NUL-terminated in place (valid until the next
 * call that changes the buffer) and *len its length, which may be 0 for an empty line;
 * LINEBUF_NONE when no whole line is buffered; LINEBUF_TOOLONG once for each line longer than
 * line_max, whose bytes are dropped. */
int linebuf_next(struct linebuf *lb, char **line, size_t *len);
/* Bytes buffered and not yet taken as lines. */
size_t linebuf_pending(const struct linebuf *lb);

#endif
