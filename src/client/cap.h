/* cap: the IRCv3 capabilities the client asks for, and reading the capability lists the
 * server sends in CAP LS / ACK / NEW / DEL (ircv3.net/specs/extensions/capability-negotiation).
 * Pure functions: the negotiation itself (what to send when) is the session's. */
#ifndef TCPCHAT_CLIENT_CAP_H
#define TCPCHAT_CLIENT_CAP_H

#include <stddef.h>

/* The capabilities that change what the user sees; a set of them is a bit mask. */
enum cap_bit {
    CAP_SERVER_TIME = 1u << 0,   /* @time on messages: their timestamps */
    CAP_ECHO_MESSAGE = 1u << 1,  /* our own messages come back as the server relayed them */
    CAP_MESSAGE_TAGS = 1u << 2,  /* tags on every message (server-time rides on them) */
    CAP_MULTI_PREFIX = 1u << 3,  /* NAMES shows every prefix ("@+nick"), not just the highest */
    CAP_AWAY_NOTIFY = 1u << 4,   /* AWAY from channel peers as they go away and come back */
    CAP_INVITE_NOTIFY = 1u << 5, /* INVITEs to our channels, not only those to us */
    CAP_BATCH = 1u << 6,         /* BATCH framing: replayed history comes as a chathistory batch */
    CAP_SASL = 1u << 7,          /* AUTHENTICATE: logging in to an account (asked for with a
                                  * password only) */
    CAP_CHATHISTORY = 1u << 8,   /* draft/chathistory: we ask for a channel's history on joining
                                  * (and, after a reconnect, for exactly what we missed) */
};

/* Reads a capability list ("a b=value -c"): the capabilities we know named without '-' go
 * into *added, those named with '-' (ACK of a removal) into *removed. Values after '=' and
 * names we do not know are ignored. */
void cap_parse(const char *list, unsigned *added, unsigned *removed);

/* Writes the names of the capabilities in mask, space-separated, into out. Returns the
 * length, or -1 when out is too small. */
int cap_names(unsigned mask, char *out, size_t cap);

/* Finds capability name in a list and copies its value (after '=', "" when it has none) into
 * out. Returns 1 when the list names it, 0 when not, -1 when the value does not fit. */
int cap_value(const char *list, const char *name, char *out, size_t cap);

#endif
