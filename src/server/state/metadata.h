/* metadata: the key-value pairs of IRCv3 draft/metadata-2 (display-name, avatar, homepage...)
 * on users and channels, held in memory for as long as the user is connected or the channel
 * exists. A channel's pairs hang off the channel (chan-t.h, ch->meta, under ch->lock); a
 * user's are in one table by client id behind its own lock, a leaf (nothing is locked under
 * it), so any worker may read another worker's user: readers get a copy. */
#ifndef TCPCHAT_METADATA_H
#define TCPCHAT_METADATA_H

#include <stdint.h>

/* One target's pairs, sorted by key, at most METADATA_KEYS_MAX of them (defines.h). */
struct metadata;

/* Whether key is a key name of the draft's grammar (one or more of a-z 0-9 _ . / -) and at
 * most METADATA_KEY_MAX bytes. */
int metadata_key_valid(const char *key);

/* What metadata_set and metadata_user_set did. */
enum {
    MD_CHANGED = 0,    /* set to a new value, or deleted */
    MD_UNCHANGED = 1,  /* set to the value it had */
    MD_NOT_SET = 2,    /* deleting a key that is not set */
    MD_LIMIT = 3,      /* a new key past METADATA_KEYS_MAX */
    MD_NO_MEMORY = -1, /* nothing changed */
};

/* Sets key (valid) to value, or deletes it when value is NULL; *md is allocated on first use
 * and freed (NULL) when its last key goes. Returns MD_*. */
int metadata_set(struct metadata **md, const char *key, const char *value);
/* key's value in md (NULL allowed), or NULL. */
const char *metadata_get(const struct metadata *md, const char *key);
/* The number of pairs, and pair i (0 .. n-1) in key order. */
int metadata_count(const struct metadata *md);
const char *metadata_key(const struct metadata *md, int i);
const char *metadata_value(const struct metadata *md, int i);
/* A copy of md (NULL for none, or without memory: then *oom is set if oom is not NULL). */
struct metadata *metadata_copy(const struct metadata *md, int *oom);
void metadata_free(struct metadata *md);

/* Users, by client id (the table's lock inside each call). */
int metadata_user_set(uint64_t id, const char *key, const char *value);
/* A copy of user id's pairs (NULL: none, or no memory). */
struct metadata *metadata_user_copy(uint64_t id);
/* Takes every pair of user id out (METADATA CLEAR, a disconnect); the caller frees them. */
struct metadata *metadata_user_take(uint64_t id);
/* Frees every user's pairs (at exit). */
void metadata_table_free(void);

#endif
