/* caps: the IRCv3 capabilities tcpchatd offers (CAP LS/REQ), as bits in client->caps, and
 * how they select the rendering of relayed lines (event.h). */
#ifndef TCPCHAT_CAPS_H
#define TCPCHAT_CAPS_H

#include <stddef.h>

enum {
    CAP_CAP_NOTIFY = 1 << 0,
    CAP_MESSAGE_TAGS = 1 << 1,
    CAP_SERVER_TIME = 1 << 2,
    CAP_ECHO_MESSAGE = 1 << 3,
    CAP_MULTI_PREFIX = 1 << 4,
    CAP_EXTENDED_JOIN = 1 << 5,
    CAP_AWAY_NOTIFY = 1 << 6,
    CAP_INVITE_NOTIFY = 1 << 7,
    CAP_SETNAME = 1 << 8,
    CAP_ACCOUNT_NOTIFY = 1 << 9,
    CAP_ACCOUNT_TAG = 1 << 10,
    CAP_CHGHOST = 1 << 11,
    CAP_BATCH = 1 << 12,
    CAP_LABELED_RESPONSE = 1 << 13,
    CAP_CHATHISTORY = 1 << 14, /* draft/chathistory: offered only with the history store */
    CAP_SASL = 1 << 15,
    CAP_ACCOUNT_REGISTRATION = 1 << 16, /* draft/account-registration */
    CAP_USERHOST_IN_NAMES = 1 << 17,
    CAP_NO_IMPLICIT_NAMES = 1 << 18, /* no-implicit-names: no NAMES after one's own JOIN */
    CAP_STANDARD_REPLIES = 1 << 19,  /* standard-replies: FAIL/WARN/NOTE (sent anyway) */
    CAP_EXTENDED_MONITOR = 1 << 20,  /* extended-monitor (and its draft/ name) */
    CAP_EVENT_PLAYBACK = 1 << 21,    /* draft/event-playback: JOIN, MODE... in history batches */
    CAP_READ_MARKER = 1 << 22,       /* draft/read-marker: MARKREAD */
    CAP_MESSAGE_REDACTION = 1 << 23, /* draft/message-redaction: REDACT (with history only) */
    CAP_MULTILINE = 1 << 24,         /* draft/multiline: client batches */
    CAP_CHANNEL_RENAME = 1 << 25,    /* draft/channel-rename: RENAME (on a single node) */
    CAP_METADATA = 1 << 26,          /* draft/metadata-2: METADATA (on a single node) */
};

/* The caps offered by a server with (1) or without (0) its history store, on a single node
 * (0) or a cluster (1). */
unsigned caps_offered(int history, int cluster);

/* The bit for a capability name, or 0 if we do not offer it. */
unsigned caps_lookup(const char *name, size_t len);
/* Writes the space-separated names of the caps in mask (all offered ones for ~0u), with
 * their CAP 302 values (sasl=PLAIN) when values. */
void caps_names(unsigned mask, int values, char *out, size_t cap);
/* The event.h rendering variant for a client with these caps. */
unsigned caps_variant(unsigned caps);

#endif
