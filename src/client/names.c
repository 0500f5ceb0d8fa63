/* names: collects NAMES entries and sorts them by rank. A user's rank is their highest
 * channel prefix; with multi-prefix the server lists all of them ("@+alice"), the highest
 * first, and we show only that one: "@alice". */
#include "names.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/ircname.h"

/* Channel-membership prefixes, highest rank first: owner, admin, operator, half-operator,
 * voice (the common PREFIX=(qaohv)~&@%+ of ISUPPORT). Anything else is a plain member. */
#define NAMES_PREFIXES "~&@%+"
/* Entries kept per list at most, so a hostile server cannot make us grow without bound. */
#define NAMES_ENTRIES_MAX 100000
/* Display lines are wrapped at about this many bytes (a long list would be cut otherwise). */
#define NAMES_LINE_WIDTH 400
#define NAMES_LINE_MAX   (NAMES_LINE_WIDTH + IRC_CHANNEL_MAX + 64)
#define NAMES_FIRST_CAP  16

/* Owned by the session (main thread). entries are malloc'd strings with their prefixes. */
struct names {
    char channel[IRC_CHANNEL_MAX + 1]; /* the list being collected, "" for none */
    char **entries;
    size_t count;
    size_t cap;
};

struct names *names_new(void)
{
    return calloc(1, sizeof(struct names));
}

static void names_clear(struct names *n)
{
    for (size_t i = 0; i < n->count; i++)
        free(n->entries[i]);
    n->count = 0;
    n->channel[0] = '\0';
}

void names_free(struct names *n)
{
    if (!n)
        return;
    names_clear(n);
    free(n->entries);
    free(n);
}

static size_t prefix_len(const char *entry)
{
    return strspn(entry, NAMES_PREFIXES);
}

static size_t rank(const char *entry)
{
    const char *p = entry[0] ? strchr(NAMES_PREFIXES, entry[0]) : NULL;
    return p ? (size_t)(p - NAMES_PREFIXES) : strlen(NAMES_PREFIXES);
}

static int entry_cmp(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    size_t rx = rank(x), ry = rank(y);
    if (rx != ry)
        return rx < ry ? -1 : 1;
    int c = strcasecmp(x + prefix_len(x), y + prefix_len(y));
    return c ? c : strcmp(x, y);
}

/* Builds the display lines: "--- Users on #c: @a +b c (3 users)", wrapped when long. */
static void names_emit(struct names *n, names_emit_fn emit, void *arg)
{
    char line[NAMES_LINE_MAX];
    size_t len;
    if (n->count == 0) {
        snprintf(line, sizeof line, "--- No visible users on %s", n->channel);
        emit(line, arg);
        return;
    }
    qsort(n->entries, n->count, sizeof n->entries[0], entry_cmp);
    len = (size_t)snprintf(line, sizeof line, "--- Users on %s:", n->channel);
    for (size_t i = 0; i < n->count; i++) {
        const char *e = n->entries[i];
        size_t skip = prefix_len(e);
        const char *nick = e + skip;
        int shown = (int)strlen(nick) + (skip ? 1 : 0);
        if (len + 1 + (size_t)shown > NAMES_LINE_WIDTH && len > strlen("---")) {
            emit(line, arg);
            len = (size_t)snprintf(line, sizeof line, "---  ");
        }
        /* Only the highest prefix: "@+alice" reads as "@alice". */
        len += (size_t)snprintf(line + len, sizeof line - len, " %.*s%.*s", skip ? 1 : 0, e,
                                NAMES_LINE_WIDTH, nick);
        if (len >= sizeof line)
            len = sizeof line - 1;
    }
    snprintf(line + len, sizeof line - len, " (%zu user%s)", n->count, n->count == 1 ? "" : "s");
    emit(line, arg);
}

int names_add(struct names *n, const char *channel, const char *list, names_emit_fn emit, void *arg)
{
    if (n->channel[0] && ircname_cmp(n->channel, channel) != 0) {
        names_emit(n, emit, arg);
        names_clear(n);
    }
    snprintf(n->channel, sizeof n->channel, "%s", channel);
    int rc = 0;
    const char *p = list;
    for (;;) {
        p += strspn(p, " ");
        size_t len = strcspn(p, " ");
        if (len == 0)
            break;
        if (n->count >= NAMES_ENTRIES_MAX) {
            rc = -1;
            break;
        }
        if (n->count == n->cap) {
            size_t ncap = n->cap ? n->cap * 2 : NAMES_FIRST_CAP;
            char **e = realloc(n->entries, ncap * sizeof *e);
            if (!e) {
                rc = -1;
                break;
            }
            n->entries = e;
            n->cap = ncap;
        }
        char *entry = strndup(p, len);
        if (!entry) {
            rc = -1;
            break;
        }
        n->entries[n->count++] = entry;
        p += len;
    }
    return rc;
}

void names_end(struct names *n, const char *channel, names_emit_fn emit, void *arg)
{
    if (n->channel[0] && ircname_cmp(n->channel, channel) != 0) {
        names_emit(n, emit, arg);
        names_clear(n);
    }
    snprintf(n->channel, sizeof n->channel, "%s", channel);
    names_emit(n, emit, arg);
    names_clear(n);
}
