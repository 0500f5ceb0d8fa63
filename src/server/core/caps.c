/* caps: the IRCv3 capability table. */
#include "caps.h"

#include <stdio.h>
#include <string.h>

#include "defines.h"
#include "event.h"

/* The CAP 302 value of draft/multiline (its limits, defines.h). */
#define STR_(x) #x
#define STR(x)  STR_(x)
#define MULTILINE_VALUE                                                                            \
    "=max-bytes=" STR(MULTILINE_MAX_BYTES) ",max-lines=" STR(MULTILINE_MAX_LINES)
/* And of draft/metadata-2. */
#define METADATA_VALUE                                                                             \
    "=max-subs=" STR(METADATA_SUBS_MAX) ",max-keys=" STR(                                          \
        METADATA_KEYS_MAX) ",max-value-bytes=" STR(METADATA_VALUE_MAX)

static const struct {
    const char *name;
    unsigned bit;
} cap_table[] = {
    {"account-notify", CAP_ACCOUNT_NOTIFY},
    {"account-tag", CAP_ACCOUNT_TAG},
    {"away-notify", CAP_AWAY_NOTIFY},
    {"batch", CAP_BATCH},
    {"cap-notify", CAP_CAP_NOTIFY},
    {"chghost", CAP_CHGHOST},
    {"draft/account-registration", CAP_ACCOUNT_REGISTRATION},
    {"draft/channel-rename", CAP_CHANNEL_RENAME},
    {"draft/chathistory", CAP_CHATHISTORY},
    {"draft/event-playback", CAP_EVENT_PLAYBACK},
    /* The specification's work-in-progress name, and the name clients use since it was
     * ratified: either turns it on. */
    {"draft/extended-monitor", CAP_EXTENDED_MONITOR},
    {"draft/message-redaction", CAP_MESSAGE_REDACTION},
    {"draft/metadata-2", CAP_METADATA},
    {"draft/multiline", CAP_MULTILINE},
    {"draft/read-marker", CAP_READ_MARKER},
    {"echo-message", CAP_ECHO_MESSAGE},
    {"extended-join", CAP_EXTENDED_JOIN},
    {"extended-monitor", CAP_EXTENDED_MONITOR},
    {"invite-notify", CAP_INVITE_NOTIFY},
    {"labeled-response", CAP_LABELED_RESPONSE},
    {"message-tags", CAP_MESSAGE_TAGS},
    {"multi-prefix", CAP_MULTI_PREFIX},
    {"no-implicit-names", CAP_NO_IMPLICIT_NAMES},
    {"sasl", CAP_SASL},
    {"server-time", CAP_SERVER_TIME},
    {"setname", CAP_SETNAME},
    {"standard-replies", CAP_STANDARD_REPLIES},
    {"userhost-in-names", CAP_USERHOST_IN_NAMES},
};

unsigned caps_lookup(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof cap_table / sizeof cap_table[0]; i++) {
        if (strlen(cap_table[i].name) == len && memcmp(cap_table[i].name, name, len) == 0)
            return cap_table[i].bit;
    }
    return 0;
}

void caps_names(unsigned mask, int values, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof cap_table / sizeof cap_table[0]; i++) {
        if (!(mask & cap_table[i].bit))
            continue;
        const char *value = !values                             ? ""
                            : cap_table[i].bit == CAP_SASL      ? "=PLAIN,EXTERNAL"
                            : cap_table[i].bit == CAP_MULTILINE ? MULTILINE_VALUE
                            : cap_table[i].bit == CAP_METADATA  ? METADATA_VALUE
                                                                : "";
        n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, "%s%s%s", n ? " " : "",
                              cap_table[i].name, value);
    }
}

unsigned caps_offered(int history, int cluster)
{
    /* Without the store there is no history to page through or play back, and no record of
     * who sent a message, which a REDACT needs. A cluster renames no channel (cmd_chan.c),
     * and keeps no metadata: a user's and a channel's live on this node only (metadata.h). */
    unsigned no_history = CAP_CHATHISTORY | CAP_EVENT_PLAYBACK | CAP_MESSAGE_REDACTION;
    return ~((history ? 0u : no_history) |
             (cluster ? (unsigned)(CAP_CHANNEL_RENAME | CAP_METADATA) : 0u));
}

unsigned caps_variant(unsigned caps)
{
    return ((caps & CAP_SERVER_TIME) ? EV_TIME : 0) | ((caps & CAP_MESSAGE_TAGS) ? EV_TAGS : 0) |
           ((caps & CAP_EXTENDED_JOIN) ? EV_EXTJOIN : 0) |
           ((caps & CAP_ACCOUNT_TAG) ? EV_ACCOUNT : 0) |
           ((caps & CAP_MULTILINE) && (caps & CAP_BATCH) ? EV_MULTILINE : 0);
}
