/* view: turns one IRC message from the server into the line the user reads (no timestamp).
 * Pure functions: no I/O, no state. Everything a peer controls goes through view_sanitize, so
 * no terminal escape sequence sent by a hostile user ever reaches the terminal. */
#ifndef TCPCHAT_CLIENT_VIEW_H
#define TCPCHAT_CLIENT_VIEW_H

#include <stddef.h>
#include <time.h>

#include "common/ircmsg.h"

/* Longest display line we build; longer text is cut (IRC lines are shorter anyway). */
#define VIEW_LINE_MAX 2048

/* What the formatter needs to know about us: our nickname (to tell our own joins, nick
 * changes and private messages from other people's) and the channel we talk in (messages
 * there are shown without the channel name). channel may be NULL. */
struct view_ctx {
    const char *nick;
    const char *channel;
    struct view_marks *marks; /* NULL, or filled for a message from a person (below) */
};

/* Where a message's sender is in the display text, for colouring it, and whether the message
 * is for us: our nick in its text (as a word, in any case), or a private message. A line
 * without a sender has nick_len 0. */
struct view_marks {
    size_t nick_off, nick_len;
    int alert;
};

/* Writes the display text for msg into out (NUL-terminated, cut to fit cap). Returns its
 * length, or 0 when the message is not worth showing (PING, PONG, 366, ...). */
size_t view_format(const struct ircmsg *msg, const struct view_ctx *ctx, char *out, size_t cap);

/* When msg happened by its IRCv3 server-time tag (@time=2026-11-26T17:15:16.372Z), in
 * seconds since the epoch; 0 when it has no (valid) time tag. */
time_t view_msg_time(const struct ircmsg *msg);

/* Copies in to out making it safe for a terminal: mIRC formatting codes (bold, colour with
 * its digits, ...) are dropped; other control bytes, DEL, C1 controls and bytes that are not
 * valid UTF-8 become '?'. Valid UTF-8 text is kept. Returns the length written. */
size_t view_sanitize(const char *in, char *out, size_t cap);

/* 1 when text holds nick as a word (not inside a longer nick), compared under the IRC case
 * mapping. */
int view_mentions(const char *text, const char *nick);

/* As view_sanitize, but mIRC formatting (bold, italic, underline, reverse, strikethrough, the
 * 16 colours) becomes the terminal's own SGR sequences, ending in a reset when any was set.
 * For a terminal only. */
size_t view_render(const char *in, char *out, size_t cap);

/* The nickname part of a "nick!user@host" source, copied into out. */
void view_source_nick(const char *prefix, char *out, size_t cap);

#endif
