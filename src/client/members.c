/* members: per channel, a sorted array of nicks (sorted by their rfc1459 fold), so that a
 * completion finds the first nick with a prefix by binary search. */
#include "members.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ircname.h"

/* Channel-membership prefixes a NAMES entry may carry ("@+alice" with multi-prefix). */
#define MEMBER_PREFIXES "~&@%+"

/* A member's status bits (NAMES prefixes, then MODE +o/+v). */
enum { ST_OP = 1, ST_VOICE = 2 };

struct channel_members {
    char name[IRC_CHANNEL_MAX + 1];
    char (*nicks)[IRC_NICK_MAX + 1];
    unsigned char *status; /* ST_* of nicks[i] */
    int n, cap;
};

struct members {
    struct channel_members ch[MEMBERS_CHANNELS_MAX];
    int n;
};

struct members *members_new(void)
{
    return calloc(1, sizeof(struct members));
}

void members_free(struct members *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->n; i++) {
        free(m->ch[i].nicks);
        free(m->ch[i].status);
    }
    free(m);
}

static struct channel_members *find(const struct members *m, const char *channel)
{
    for (int i = 0; i < m->n; i++)
        if (ircname_cmp(m->ch[i].name, channel) == 0)
            return (struct channel_members *)&m->ch[i];
    return NULL;
}

/* Compares the first n bytes of a and b under the rfc1459 fold (n = -1: whole strings). */
static int fold_cmp(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char x = ircname_fold_char((unsigned char)a[i]);
        unsigned char y = ircname_fold_char((unsigned char)b[i]);
        if (x != y || !x)
            return (int)x - (int)y;
    }
    return 0;
}

/* The first index whose nick is not before key (its first n bytes, n = -1: all). */
static int lower_bound(const struct channel_members *c, const char *key, size_t n)
{
    int lo = 0, hi = c->n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (fold_cmp(c->nicks[mid], key, n) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The status a NAMES entry's prefixes give ("@+alice": op and voice). */
static unsigned char prefix_status(const char *entry, size_t n)
{
    unsigned char st = 0;
    for (size_t i = 0; i < n; i++)
        st |= entry[i] == '+' ? ST_VOICE : ST_OP; /* ~ & @ %: ops of some kind */
    return st;
}

/* Adds nick with status st to channel; an existing nick takes st when set is true. */
static void add(struct members *m, const char *channel, const char *nick, unsigned char st, int set)
{
    if (!ircname_nick_valid(nick) || !ircname_is_channel(channel))
        return;
    struct channel_members *c = find(m, channel);
    if (!c) {
        if (m->n == MEMBERS_CHANNELS_MAX || strlen(channel) > IRC_CHANNEL_MAX)
            return;
        c = &m->ch[m->n++];
        memset(c, 0, sizeof *c);
        memcpy(c->name, channel, strlen(channel) + 1);
    }
    int at = lower_bound(c, nick, (size_t)-1);
    if (at < c->n && ircname_cmp(c->nicks[at], nick) == 0) {
        memcpy(c->nicks[at], nick, strlen(nick) + 1); /* its case may have changed */
        if (set)
            c->status[at] = st;
        return;
    }
    if (c->n == c->cap) {
        if (c->cap == MEMBERS_PER_CHANNEL_MAX)
            return;
        int cap = c->cap ? c->cap * 2 : 16;
        if (cap > MEMBERS_PER_CHANNEL_MAX)
            cap = MEMBERS_PER_CHANNEL_MAX;
        void *grown = realloc(c->nicks, (size_t)cap * sizeof c->nicks[0]);
        if (!grown)
            return;
        c->nicks = grown;
        unsigned char *sg = realloc(c->status, (size_t)cap);
        if (!sg)
            return;
        c->status = sg;
        c->cap = cap;
    }
    memmove(c->nicks[at + 1], c->nicks[at], (size_t)(c->n - at) * sizeof c->nicks[0]);
    memmove(c->status + at + 1, c->status + at, (size_t)(c->n - at));
    memcpy(c->nicks[at], nick, strlen(nick) + 1);
    c->status[at] = st;
    c->n++;
}

void members_add(struct members *m, const char *channel, const char *nick)
{
    size_t n = strspn(nick, MEMBER_PREFIXES);
    add(m, channel, nick + n, prefix_status(nick, n), 1);
}

void members_mode(struct members *m, const char *channel, const char *nick, char letter, int adding)
{
    struct channel_members *c = find(m, channel);
    if (!c || (letter != 'o' && letter != 'v'))
        return;
    int at = lower_bound(c, nick, (size_t)-1);
    if (at >= c->n || ircname_cmp(c->nicks[at], nick) != 0)
        return;
    unsigned char bit = letter == 'o' ? ST_OP : ST_VOICE;
    c->status[at] =
        adding ? (unsigned char)(c->status[at] | bit) : (unsigned char)(c->status[at] & ~bit);
}

/* Removes nick from c: its status (ST_*) plus one, or 0 when it was not there. */
static int remove_from(struct channel_members *c, const char *nick)
{
    int at = lower_bound(c, nick, (size_t)-1);
    if (at < c->n && ircname_cmp(c->nicks[at], nick) == 0) {
        int st = c->status[at];
        memmove(c->nicks[at], c->nicks[at + 1], (size_t)(c->n - at - 1) * sizeof c->nicks[0]);
        memmove(c->status + at, c->status + at + 1, (size_t)(c->n - at - 1));
        c->n--;
        return st + 1;
    }
    return 0;
}

void members_remove(struct members *m, const char *channel, const char *nick)
{
    struct channel_members *c = find(m, channel);
    if (c)
        remove_from(c, nick);
}

void members_quit(struct members *m, const char *nick)
{
    for (int i = 0; i < m->n; i++)
        remove_from(&m->ch[i], nick);
}

void members_rename(struct members *m, const char *nick, const char *new_nick)
{
    for (int i = 0; i < m->n; i++) {
        struct channel_members *c = &m->ch[i];
        int was = remove_from(c, nick);
        if (was) /* the new nick keeps the old one's status */
            add(m, c->name, new_nick, (unsigned char)(was - 1), 1);
    }
}

void members_drop(struct members *m, const char *channel)
{
    struct channel_members *c = find(m, channel);
    if (!c)
        return;
    free(c->nicks);
    free(c->status);
    *c = m->ch[--m->n];
}

const char *members_match(const struct members *m, const char *channel, const char *prefix,
                          int index)
{
    const struct channel_members *c = find(m, channel);
    if (!c || index < 0)
        return NULL;
    size_t n = strlen(prefix);
    int at = lower_bound(c, prefix, n) + index;
    if (at >= c->n || fold_cmp(c->nicks[at], prefix, n) != 0)
        return NULL;
    return c->nicks[at];
}

const char *members_ranked(const struct members *m, const char *channel, int index, char *out,
                           size_t cap)
{
    const struct channel_members *c = find(m, channel);
    if (!c || index < 0 || cap < 2)
        return NULL;
    /* Operators first, then the voiced, then the rest, each in alphabetical order. */
    for (int rank = 0; rank < 3; rank++) {
        for (int i = 0; i < c->n; i++) {
            int st = c->status[i];
            int r = (st & ST_OP) ? 0 : (st & ST_VOICE) ? 1 : 2;
            if (r != rank || index-- > 0)
                continue;
            snprintf(out, cap, "%s%s", r == 0 ? "@" : r == 1 ? "+" : "", c->nicks[i]);
            return out;
        }
    }
    return NULL;
}
