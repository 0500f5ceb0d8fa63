/* names: a channel's member list as the server's NAMES replies bring it in (353 lines until
 * 366), shown once complete: operators first, then voiced users, then the rest, each group
 * in alphabetical order, with a count. The text lines go to a callback, so the module does
 * no I/O of its own. */
#ifndef TCPCHAT_CLIENT_NAMES_H
#define TCPCHAT_CLIENT_NAMES_H

/* Receives each display line of a finished list (not yet terminal-safe: names come from the
 * server, so the receiver sanitises as it does every other line). */
typedef void (*names_emit_fn)(const char *line, void *arg);

struct names;

/* An empty collector. Returns NULL on allocation failure. */
struct names *names_new(void);
void names_free(struct names *n);

/* One RPL_NAMREPLY: adds the space-separated entries of list ("@+alice bob") for channel.
 * A reply for a channel other than the one being collected first finishes that one. Returns
 * 0, or -1 when entries were dropped (out of memory, or past NAMES_ENTRIES_MAX). */
int names_add(struct names *n, const char *channel, const char *list, names_emit_fn emit,
              void *arg);

/* RPL_ENDOFNAMES for channel: emits its sorted list (or that it has no visible users) and
 * forgets it. */
void names_end(struct names *n, const char *channel, names_emit_fn emit, void *arg);

#endif
