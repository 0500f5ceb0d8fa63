/* fuzz_ircmsg: libFuzzer target for the wire-facing code in src/common. Each input is one raw
 * line: it is parsed, serialised and parsed again (the parse must be stable), its tags are
 * looked up, and the same bytes go through linebuf in reads of an input-chosen size. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ircmsg.h"
#include "common/linebuf.h"
#include "common/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Small bounds so that overlong lines and a full buffer are reached often. */
#define FUZZ_LINE_MAX 32
#define FUZZ_BUF_MAX  64

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static int same_or_both_null(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

/* What a parse guarantees about its result, whatever the input. */
static void check_parsed(const struct ircmsg *msg)
{
    CHECK(msg->command && msg->command[0] != '\0');
    CHECK(msg->nparams >= 0 && msg->nparams <= IRC_PARAMS_MAX);
    for (int i = 0; i < msg->nparams; i++) {
        const char *p = msg->params[i];
        CHECK(p != NULL);
        if (i < msg->nparams - 1)
            CHECK(p[0] != '\0' && p[0] != ':' && !strchr(p, ' '));
    }
    if (msg->tags)
        CHECK(strlen(msg->tags) + 2 <= IRC_TAGS_MAX);
}

static void check_tags(const char *tags)
{
    static char val[IRC_TAGS_MAX + 1];
    static const char *keys[] = {"time", "msgid", "+draft/reply", "a", ""};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        int r = ircmsg_tag_get(tags, keys[i], val, sizeof val);
        CHECK(r == 0 || r == 1); /* val holds any value of a tag section this long */
        if (r == 1)
            CHECK(strlen(val) <= strlen(tags));
        r = ircmsg_tag_get(tags, keys[i], val, 4);
        CHECK(r >= -1 && r <= 1);
        if (r == 1)
            CHECK(strlen(val) < 4);
    }
    /* The first key of the section is always found. */
    size_t klen = strcspn(tags, "=;");
    if (klen > 0 && klen < 64) {
        char key[64];
        memcpy(key, tags, klen);
        key[klen] = '\0';
        CHECK(ircmsg_tag_get(tags, key, val, sizeof val) == 1);
    }
}

/* Serialise a parsed message and parse the result again: the same message must come back. */
static void check_round_trip(const struct ircmsg *msg, size_t input_len)
{
    static char out[IRC_RAW_LINE_MAX + 16];
    static char reparse[IRC_RAW_LINE_MAX + 16];
    static char out2[IRC_RAW_LINE_MAX + 16];
    int n = ircmsg_serialise(msg, out, sizeof out);
    if (n < 0) {
        /* A parsed message is well formed and fits; only CR or LF in a parameter, tags or
         * prefix is refused (the parser splits on spaces, so those hold none). */
        int has_crlf = (msg->tags && strpbrk(msg->tags, "\r\n")) ||
                       (msg->prefix && strpbrk(msg->prefix, "\r\n"));
        for (int i = 0; i < msg->nparams; i++)
            has_crlf |= strpbrk(msg->params[i], "\r\n") != NULL;
        CHECK(has_crlf);
        return;
    }
    CHECK((size_t)n == strlen(out));
    CHECK(n >= 2 && out[n - 2] == '\r' && out[n - 1] == '\n');
    CHECK((size_t)n <= input_len + 4);   /* at most '@'.. kept, plus ':' and CR LF */
    memcpy(reparse, out, (size_t)n - 2); /* the parse works in place; out is kept */
    reparse[n - 2] = '\0';

    struct ircmsg again;
    CHECK(ircmsg_parse(reparse, &again) == IRCMSG_OK);
    CHECK(strcmp(again.command, msg->command) == 0);
    CHECK(again.nparams == msg->nparams);
    for (int i = 0; i < msg->nparams; i++)
        CHECK(strcmp(again.params[i], msg->params[i]) == 0);
    CHECK(same_or_both_null(again.prefix, msg->prefix));
    if (msg->tags && msg->tags[0])
        CHECK(same_or_both_null(again.tags, msg->tags));
    else
        CHECK(again.tags == NULL);

    /* And serialising the re-parsed message gives the same bytes. */
    int n2 = ircmsg_serialise(&again, out2, sizeof out2);
    CHECK(n2 == n);
    CHECK(memcmp(out, out2, (size_t)n) == 0);
}

/* The reference splitter: the next event of the whole input from *pos, as linebuf should
 * report it. Empty lines are skipped on both sides: linebuf reports an extra empty line when a
 * CR LF is split across reads (see tests/unit/test_linebuf.c, crlf_split_across_commits). */
static int reference_next(const uint8_t *data, size_t size, size_t *pos, const uint8_t **line,
                          size_t *len)
{
    while (*pos < size) {
        size_t start = *pos;
        size_t i = start;
        while (i < size && data[i] != '\r' && data[i] != '\n')
            i++;
        if (i == size) {
            *pos = size;
            /* An unterminated tail stays pending unless it is already too long. */
            return size - start > FUZZ_LINE_MAX ? LINEBUF_TOOLONG : LINEBUF_NONE;
        }
        *pos = i + 1;
        if (data[i] == '\r' && i + 1 < size && data[i + 1] == '\n')
            *pos = i + 2;
        if (i - start > FUZZ_LINE_MAX)
            return LINEBUF_TOOLONG;
        *line = data + start;
        *len = i - start;
        return LINEBUF_LINE;
    }
    return LINEBUF_NONE;
}

/* Feeds the bytes through a small linebuf in reads of a size taken from the input, and checks
 * the lines against the reference splitter. */
static void check_linebuf(const uint8_t *data, size_t size)
{
    struct linebuf lb;
    CHECK(linebuf_init(&lb, FUZZ_LINE_MAX, FUZZ_BUF_MAX) == 0);
    size_t chunk = size > 0 ? (size_t)(data[0] % 16) + 1 : 1;
    size_t pos = 0;
    size_t ref_pos = 0;
    while (pos < size) {
        size_t avail = 0;
        char *space = linebuf_space(&lb, &avail);
        CHECK(space != NULL && avail > 0); /* draining after each read keeps room */
        CHECK(lb.cap <= FUZZ_BUF_MAX);
        size_t k = size - pos < chunk ? size - pos : chunk;
        if (k > avail)
            k = avail;
        memcpy(space, data + pos, k);
        linebuf_commit(&lb, k);
        pos += k;

        char *line;
        size_t len;
        int r;
        while ((r = linebuf_next(&lb, &line, &len)) != LINEBUF_NONE) {
            CHECK(r == LINEBUF_LINE || r == LINEBUF_TOOLONG);
            if (r == LINEBUF_LINE) {
                CHECK(len <= FUZZ_LINE_MAX);
                CHECK(line[len] == '\0');
                CHECK(memchr(line, '\r', len) == NULL && memchr(line, '\n', len) == NULL);
            }
            const uint8_t *want = NULL;
            size_t want_len = 0;
            CHECK(reference_next(data, size, &ref_pos, &want, &want_len) == r);
            if (r == LINEBUF_LINE) {
                CHECK(want_len == len && memcmp(want, line, len) == 0);
                struct ircmsg msg; /* the parse cuts the line in place: compare first */
                if (ircmsg_parse(line, &msg) == IRCMSG_OK)
                    check_parsed(&msg);
            }
        }
        CHECK(linebuf_pending(&lb) <= FUZZ_BUF_MAX);
    }
    /* Nothing the reference reports is missing, except a short unterminated tail. */
    const uint8_t *want = NULL;
    size_t want_len = 0;
    CHECK(reference_next(data, size, &ref_pos, &want, &want_len) == LINEBUF_NONE);
    linebuf_free(&lb);
}

/* Escaping any value and looking it up again gives the value back. */
static void check_tag_escape(const char *value)
{
    static char esc[2 * IRC_RAW_LINE_MAX + 8];
    static char tags[2 * IRC_RAW_LINE_MAX + 16];
    static char back[IRC_RAW_LINE_MAX + 1];
    int n = ircmsg_tag_escape(value, esc, sizeof esc);
    CHECK(n >= 0 && (size_t)n == strlen(esc));
    CHECK(strpbrk(esc, "; \r\n") == NULL);
    snprintf(tags, sizeof tags, "a=1;k=%s;z", esc);
    CHECK(ircmsg_tag_get(tags, "k", back, sizeof back) == 1);
    CHECK(strcmp(back, value) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char line[IRC_RAW_LINE_MAX + 1];
    static char raw[IRC_RAW_LINE_MAX + 1];
    if (size > IRC_RAW_LINE_MAX)
        return 0;
    memcpy(line, data, size);
    line[size] = '\0';
    memcpy(raw, line, size + 1);

    struct ircmsg msg;
    int r = ircmsg_parse(line, &msg);
    CHECK(r <= IRCMSG_OK && r >= IRCMSG_ETAGS);
    if (r == IRCMSG_OK) {
        check_parsed(&msg);
        if (msg.tags)
            check_tags(msg.tags);
        check_round_trip(&msg, strlen(raw));
    }

    check_linebuf(data, size);
    check_tag_escape(raw);

    size_t t = utf8_trim((const char *)data, size);
    CHECK(t <= size && size - t < 4);
    if (utf8_valid((const char *)data, size))
        CHECK(t == size);
    return 0;
}
