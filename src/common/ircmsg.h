/* ircmsg: parse and serialise one IRC message line (RFC 1459 2.3.1, IRCv3 message-tags).
 * Parsing is in place and allocation-free: the struct points into the caller's buffer. */
#ifndef TCPCHAT_IRCMSG_H
#define TCPCHAT_IRCMSG_H

#include <stddef.h>

/* RFC 1459 2.3: a message is at most 512 bytes including the trailing CR LF. */
#define IRC_LINE_MAX 512
/* IRCv3 message-tags: the tag section ('@' .. the space after it) may add up to 8191 bytes. */
#define IRC_TAGS_MAX 8191
/* Longest raw line the parser ever sees: tags plus the message proper, without CR LF. */
#define IRC_RAW_LINE_MAX (IRC_TAGS_MAX + IRC_LINE_MAX - 2)
/* RFC 2812 2.3.1: at most 15 parameters (14 middle plus trailing). */
#define IRC_PARAMS_MAX 15

struct ircmsg {
    char *tags;    /* tag section without '@', NULL when absent */
    char *prefix;  /* source without ':', NULL when absent */
    char *command; /* letters or a three-digit numeric, as sent (case kept) */
    int nparams;
    char *params[IRC_PARAMS_MAX];
};

enum ircmsg_error {
    IRCMSG_OK = 0,
    IRCMSG_EEMPTY = -1,      /* nothing but spaces */
    IRCMSG_ENOCOMMAND = -2,  /* tags or prefix but no command */
    IRCMSG_EBADCOMMAND = -3, /* command is neither letters nor three digits */
    IRCMSG_ETAGS = -4,       /* tag section longer than IRC_TAGS_MAX */
};

/* Parses the NUL-terminated line (without CR LF) in place. Returns IRCMSG_OK or an error. */
int ircmsg_parse(char *line, struct ircmsg *msg);

/* Writes msg as one wire line ending in CR LF into out (NUL-terminated as well). A middle
 * parameter that is empty, starts with ':' or has a space makes it fail, as does a result
 * that does not fit in cap. Returns the length without the NUL, or -1. */
int ircmsg_serialise(const struct ircmsg *msg, char *out, size_t cap);

/* Looks up key in a raw tag section (as in ircmsg.tags) and unescapes its value into out.
 * A tag without a value yields "". Returns 1 when found, 0 when absent, -1 if out is too
 * small. */
int ircmsg_tag_get(const char *tags, const char *key, char *out, size_t cap);

/* Escapes a tag value for the wire (message-tags "Escaping values"). Returns the length
 * written without the NUL, or -1 if it does not fit. */
int ircmsg_tag_escape(const char *value, char *out, size_t cap);

/* Case-insensitive ASCII comparison of a command name, e.g. ircmsg_is(msg, "PRIVMSG"). */
int ircmsg_is(const struct ircmsg *msg, const char *command);

#endif
