/* journal: the history store's log of rows not yet committed to SQLite (see journal.h). */
#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define JOURNAL_BUF_FLUSH (256 * 1024) /* journal_add writes the buffer out past this */
#define NSTR              6

static uint32_t fnv1a(const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 16777619u;
    }
    return h;
}

int journal_open(struct journal *j, const char *path)
{
    memset(j, 0, sizeof *j);
    j->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (j->fd < 0)
        return -1;
    struct stat st;
    if (fstat(j->fd, &st) < 0) {
        int e = errno;
        close(j->fd);
        j->fd = -1;
        errno = e;
        return -1;
    }
    j->len = (size_t)st.st_size;
    return 0;
}

void journal_close(struct journal *j)
{
    if (j->fd >= 0)
        close(j->fd);
    free(j->buf);
    memset(j, 0, sizeof *j);
    j->fd = -1;
}

static int reserve(struct journal *j, size_t more)
{
    if (j->buf_cap - j->buf_len >= more)
        return 0;
    size_t cap = j->buf_cap ? j->buf_cap : 4096;
    while (cap - j->buf_len < more)
        cap *= 2;
    char *p = realloc(j->buf, cap);
    if (!p)
        return -1;
    j->buf = p;
    j->buf_cap = cap;
    return 0;
}

static void put(struct journal *j, const void *p, size_t n)
{
    memcpy(j->buf + j->buf_len, p, n);
    j->buf_len += n;
}

int journal_add(struct journal *j, const struct jrec *r)
{
    const char *s[NSTR] = {r->target, r->pm_from, r->pm_to, r->msgid, r->tags, r->line};
    size_t len[NSTR];
    size_t body = 2 * sizeof(int64_t);
    for (int i = 0; i < NSTR; i++) {
        len[i] = i == NSTR - 1 ? r->line_len : strlen(s[i]);
        if (memchr(s[i], 0, len[i])) {
            errno = EINVAL; /* replay could not tell where it ends */
            return -1;
        }
        body += sizeof(uint32_t) + len[i] + 1;
    }
    if (body > JOURNAL_RECORD_MAX) {
        errno = EMSGSIZE;
        return -1;
    }
    if (j->buf_len >= JOURNAL_BUF_FLUSH && journal_flush(j) < 0)
        return -1;
    if (reserve(j, 2 * sizeof(uint32_t) + body) < 0) {
        errno = ENOMEM;
        return -1;
    }
    size_t start = j->buf_len;
    uint32_t u = (uint32_t)body;
    put(j, &u, sizeof u);
    put(j, &u, sizeof u); /* the checksum's place */
    int64_t v = r->id;
    put(j, &v, sizeof v);
    v = r->time_ms;
    put(j, &v, sizeof v);
    for (int i = 0; i < NSTR; i++) {
        u = (uint32_t)len[i] + 1;
        put(j, &u, sizeof u);
        put(j, s[i], len[i]);
        put(j, "", 1);
    }
    const char *b = j->buf + start + 2 * sizeof(uint32_t);
    u = fnv1a(b, body);
    memcpy(j->buf + start + sizeof(uint32_t), &u, sizeof u);
    return 0;
}

int journal_flush(struct journal *j)
{
    size_t off = 0;
    while (off < j->buf_len) {
        ssize_t n = write(j->fd, j->buf + off, j->buf_len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;
            /* No partial record may stay for the next write to follow. */
            if (ftruncate(j->fd, (off_t)j->len) < 0) {
                /* The cut failed too: replay will stop at the partial record. */
            }
            j->buf_len = 0;
            errno = e;
            return -1;
        }
        off += (size_t)n;
    }
    j->len += j->buf_len;
    j->buf_len = 0;
    return 0;
}

void journal_rewind(struct journal *j, size_t len)
{
    j->buf_len = 0;
    if (len < j->len && ftruncate(j->fd, (off_t)len) == 0)
        j->len = len;
}

/* Reads exactly n bytes at off: 0, 1 at the end of the file or short, -1 on error. */
static int read_at(int fd, void *p, size_t n, off_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (char *)p + got, n - got, off + (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            return 1;
        got += (size_t)r;
    }
    return 0;
}

/* Parses a record's body into r (pointing into body). 0, or -1 if it does not hold up. */
static int parse(char *body, size_t len, struct jrec *r)
{
    if (len < 2 * sizeof(int64_t))
        return -1;
    int64_t v;
    memcpy(&v, body, sizeof v);
    r->id = v;
    memcpy(&v, body + sizeof v, sizeof v);
    r->time_ms = v;
    size_t off = 2 * sizeof(int64_t);
    const char **s[NSTR] = {&r->target, &r->pm_from, &r->pm_to, &r->msgid, &r->tags, &r->line};
    for (int i = 0; i < NSTR; i++) {
        uint32_t n;
        if (len - off < sizeof n)
            return -1;
        memcpy(&n, body + off, sizeof n);
        off += sizeof n;
        if (n == 0 || n > len - off || body[off + n - 1] != '\0' ||
            memchr(body + off, 0, n) != body + off + n - 1)
            return -1;
        *s[i] = body + off;
        off += n;
    }
    r->line_len = strlen(r->line);
    return off == len ? 0 : -1;
}

int journal_replay(struct journal *j, int (*fn)(void *arg, const struct jrec *r), void *arg)
{
    char *body = malloc(JOURNAL_RECORD_MAX);
    if (!body)
        return -1;
    off_t off = 0;
    int count = 0, rc = 0;
    for (;;) {
        uint32_t head[2];
        int e = read_at(j->fd, head, sizeof head, off);
        if (e != 0) {
            rc = e < 0 ? -1 : 0;
            break;
        }
        if (head[0] > JOURNAL_RECORD_MAX)
            break;
        e = read_at(j->fd, body, head[0], off + (off_t)sizeof head);
        if (e != 0) {
            rc = e < 0 ? -1 : 0;
            break;
        }
        struct jrec r;
        if (fnv1a(body, head[0]) != head[1] || parse(body, head[0], &r) < 0)
            break;
        if (fn(arg, &r) != 0) {
            rc = -1;
            break;
        }
        count++;
        off += (off_t)(sizeof head + head[0]);
    }
    free(body);
    if (rc < 0)
        return -1;
    /* Whatever follows the last whole record is cut, so appends follow whole records. */
    struct stat st;
    if (fstat(j->fd, &st) == 0 && st.st_size > off && ftruncate(j->fd, off) < 0)
        return -1;
    j->len = (size_t)off;
    return count;
}
