/* linebuf: a bounded input buffer that splits a byte stream into lines. */
#include "linebuf.h"

#include <stdlib.h>
#include <string.h>

/* First allocation: one classic IRC line fits, which covers nearly every client. */
#define LINEBUF_INITIAL 512

int linebuf_init(struct linebuf *lb, size_t line_max, size_t max)
{
    memset(lb, 0, sizeof *lb);
    if (line_max == 0 || line_max >= max)
        return -1;
    lb->max = max;
    lb->line_max = line_max;
    return 0;
}

void linebuf_free(struct linebuf *lb)
{
    free(lb->data);
    lb->data = NULL;
    lb->cap = lb->len = lb->start = 0;
}

void linebuf_release(struct linebuf *lb)
{
    if (lb->len == lb->start)
        linebuf_free(lb);
}

size_t linebuf_pending(const struct linebuf *lb)
{
    return lb->len - lb->start;
}

char *linebuf_space(struct linebuf *lb, size_t *avail)
{
    if (lb->start > 0) {
        memmove(lb->data, lb->data + lb->start, lb->len - lb->start);
        lb->len -= lb->start;
        lb->start = 0;
    }
    if (lb->len == lb->cap && lb->cap < lb->max) {
        size_t ncap = lb->cap == 0 ? LINEBUF_INITIAL : lb->cap * 2;
        if (ncap > lb->max)
            ncap = lb->max;
        char *n = realloc(lb->data, ncap);
        if (n) {
            lb->data = n;
            lb->cap = ncap;
        }
    }
    *avail = lb->cap - lb->len;
    return *avail ? lb->data + lb->len : NULL;
}

void linebuf_commit(struct linebuf *lb, size_t n)
{
    lb->len += n;
}

int linebuf_next(struct linebuf *lb, char **line, size_t *len)
{
    for (;;) {
        if (lb->start == lb->len)
            return LINEBUF_NONE; /* also when nothing is allocated */
        char *p = lb->data + lb->start;
        size_t avail = lb->len - lb->start;
        if (lb->skip_lf && avail > 0) {
            /* The LF of a CR LF split across reads: part of the previous terminator. */
            lb->skip_lf = 0;
            if (p[0] == '\n') {
                lb->start++;
                continue;
            }
        }
        size_t i = 0;
        while (i < avail && p[i] != '\r' && p[i] != '\n')
            i++;
        if (i == avail) {
            /* No terminator yet. Past line_max the line can never be accepted: drop it
             * now so the buffer keeps room, and say so once. */
            if (avail > lb->line_max) {
                lb->start = lb->len = 0;
                if (!lb->discarding) {
                    lb->discarding = 1;
                    return LINEBUF_TOOLONG;
                }
            }
            return LINEBUF_NONE;
        }
        /* CR LF is one terminator; a lone CR or LF is one too. */
        size_t next = i + 1;
        if (p[i] == '\r' && next < avail && p[next] == '\n')
            next++;
        else if (p[i] == '\r' && next == avail)
            lb->skip_lf = 1; /* LF may follow in the next read */
        lb->start += next;
        if (lb->discarding) {
            lb->discarding = 0;
            continue;
        }
        if (i > lb->line_max)
            return LINEBUF_TOOLONG;
        p[i] = '\0';
        *line = p;
        *len = i;
        return LINEBUF_LINE;
    }
}
