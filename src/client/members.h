/* members: who is in each channel we are in, as the server told us (NAMES, then JOIN, PART,
 * KICK, QUIT, NICK): what Tab completes. Bounded: at most MEMBERS_CHANNELS_MAX channels and
 * MEMBERS_PER_CHANNEL_MAX nicks each; past that, nicks are not tracked (completion then
 * misses them, nothing else depends on it). Main thread only. */
#ifndef TCPCHAT_CLIENT_MEMBERS_H
#define TCPCHAT_CLIENT_MEMBERS_H

#include <stddef.h>

#define MEMBERS_CHANNELS_MAX    64
#define MEMBERS_PER_CHANNEL_MAX 20000

struct members;

struct members *members_new(void);
void members_free(struct members *m);
/* nick (with or without channel prefixes such as "@+") is in channel. */
void members_add(struct members *m, const char *channel, const char *nick);
/* MODE: nick gets (adding) or loses channel status letter ('o' or 'v'). */
void members_mode(struct members *m, const char *channel, const char *nick, char letter,
                  int adding);
/* nick left channel (PART, KICK). */
void members_remove(struct members *m, const char *channel, const char *nick);
/* nick left every channel (QUIT). */
void members_quit(struct members *m, const char *nick);
/* nick is now called new_nick, everywhere. */
void members_rename(struct members *m, const char *nick, const char *new_nick);
/* We left channel: forget its members. */
void members_drop(struct members *m, const char *channel);
/* The index-th nick (0, 1, ...) of channel that starts with prefix (case-mapped), in
 * alphabetical order, or NULL when there are no more. */
const char *members_match(const struct members *m, const char *channel, const char *prefix,
                          int index);

/* The index-th member of channel for a nick list: operators ("@nick") first, then the voiced
 * ("+nick"), then the rest, each alphabetical; written into out (cap bytes). NULL past the
 * last. */
const char *members_ranked(const struct members *m, const char *channel, int index, char *out,
                           size_t cap);

#endif
