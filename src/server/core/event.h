/* event: one relayed happening (a message, a join, a nick change...) as every recipient may
 * need to see it. The line is serialised once without tags; each distinct rendering that
 * recipients' IRCv3 capabilities call for (server-time, message-tags with msgid and client
 * tags, extended-join) is built at most once, on first use, by whichever worker needs it
 * first, and shared by reference from then on (Solanum's msgbuf cache does the same).
 * Immutable but for that cache; refcounted; any thread may use it. */
#ifndef TCPCHAT_EVENT_H
#define TCPCHAT_EVENT_H

#include <stdatomic.h>
#include <stdint.h>

#include "msg.h"

/* Recipient capabilities that change the bytes of a relayed line. */
enum {
    EV_TIME = 1 << 0,    /* server-time: @time= */
    EV_TAGS = 1 << 1,    /* message-tags: @msgid= and the sender's client-only tags */
    EV_EXTJOIN = 1 << 2, /* extended-join: JOIN carries account and real name */
    EV_ACCOUNT = 1 << 3, /* account-tag: @account= when the sender is logged in */
    EV_VARIANTS = 1 << 4,
};

#define EVENT_TIME_MAX 32 /* "2026-11-26T16:50:13.123Z" */
#define EVENT_MSGID_MAX                                                                            \
    52 /* base-36 numbers of up to 15 digits: start time, [".", node,] "-", count */

struct event {
    atomic_uint refs;
    unsigned need_cap; /* CAP_* a recipient must have to get it at all (0: none) */
    int tags_only;     /* TAGMSG: nothing to send to a client without message-tags */
    char time[EVENT_TIME_MAX];
    long long time_ms; /* the same time, in milliseconds since the epoch */
    char msgid[EVENT_MSGID_MAX];
    char *client_tags;    /* the sender's "+name=value;..." tags, escaped as received */
    char account[32];     /* the sender's account (account-tag), "" if none */
    int bot;              /* the sender is a bot (+B): the "bot" tag, with message-tags */
    struct msg *line;     /* the line without tags */
    struct msg *line_ext; /* extended-join form of line, or NULL */
    _Atomic(struct msg *) render[EV_VARIANTS];
};

/* A new event whose line is built from fmt (cut to 512 bytes like msg_printf), stamped with
 * the current time and a fresh msgid. client_tags may be NULL. One reference; NULL on
 * allocation failure. */
struct event *event_new(const char *client_tags, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* An event received from another node of the cluster: its line (without CR LF), msgid and
 * time as the sending node stamped them. NULL without memory. */
struct event *event_from(const char *client_tags, const char *msgid, const char *time,
                         long long time_ms, const char *line);
/* Makes msgids unique across the nodes of a cluster by naming the node in them (0: none). */
void event_set_node(uint64_t node);
/* Adds the extended-join form of the line. Returns 0 or -1. */
int event_set_ext(struct event *ev, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The line for a recipient with the given EV_* variant, or NULL when it gets nothing. The
 * msg stays owned by the event (valid while the caller holds an event reference). */
struct msg *event_render(struct event *ev, unsigned variant);
struct event *event_ref(struct event *ev);
void event_unref(struct event *ev);

#endif
