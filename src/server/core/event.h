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
    EV_TIME = 1 << 0,     /* server-time: @time= */
    EV_TAGS = 1 << 1,     /* message-tags: @msgid= and the sender's client-only tags */
    EV_EXTJOIN = 1 << 2,  /* extended-join: JOIN carries account and real name */
    EV_ACCOUNT = 1 << 3,  /* account-tag: @account= when the sender is logged in */
    EV_VARIANTS = 1 << 4, /* renderings cached in render[]: the bits above */
    /* draft/multiline with batch: a multiline event as its BATCH (cached in ml->render[]);
     * without it, its lines one by one. Changes nothing else. */
    EV_MULTILINE = 1 << 4,
};

#define EVENT_TIME_MAX 32 /* "2026-11-26T16:50:13.123Z" */
#define EVENT_MSGID_MAX                                                                            \
    52 /* base-36 numbers of up to 15 digits: start time, [".", node,] "-", count */

/* One line of a multiline message: an event of its own (a PRIVMSG or NOTICE line with its
 * own msgid, the first one's the message's), which is what the history store keeps. */
struct event_ml_line {
    struct event *ev;
    int concat; /* draft/multiline-concat: joins the line before without a line feed */
    int blank;  /* no text: shown only inside the BATCH, neither stored nor sent alone */
};

/* A draft/multiline message (event_new_multiline): its lines and the BATCH around them. */
struct event_ml {
    char ref[EVENT_MSGID_MAX]; /* the batch reference the server gives it */
    struct msg *start;         /* ":source BATCH +ref draft/multiline target", untagged */
    struct msg *end;           /* ":source BATCH -ref" */
    _Atomic(struct msg *) render[EV_VARIANTS]; /* as a BATCH, by variant */
    int n;
    struct event_ml_line lines[];
};

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
    /* A multiline message, else NULL. Its line is then the lines without tags, as a client
     * without draft/multiline gets them (one msg of several lines). */
    struct event_ml *ml;
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
/* A draft/multiline message from source to target: n lines of text, concat[i] set on a line
 * that carries draft/multiline-concat; verb PRIVMSG or NOTICE. Stamped once: every line has
 * its time, the message and its first line its msgid. account and bot as for event_new's
 * callers. One reference; NULL without memory. */
struct event *event_new_multiline(const char *client_tags, const char *account, int bot,
                                  const char *source, const char *verb, const char *target, int n,
                                  const char *const *text, const int *concat);
/* The same message made on another node of a cluster, with its stamp: msgid, time and
 * time_ms, and each line's msgid (msgids[i]; the first line with text takes msgid). */
struct event *event_from_multiline(const char *client_tags, const char *account, int bot,
                                   const char *msgid, const char *time, long long time_ms,
                                   const char *source, const char *verb, const char *target, int n,
                                   const char *const *text, const int *concat,
                                   const char *const *msgids);
/* Makes msgids unique across the nodes of a cluster by naming the node in them (0: none). */
void event_set_node(uint64_t node);
/* Adds the extended-join form of the line. Returns 0 or -1. */
int event_set_ext(struct event *ev, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The line for a recipient with the given EV_* variant, or NULL when it gets nothing. The
 * msg stays owned by the event (valid while the caller holds an event reference). */
struct msg *event_render(struct event *ev, unsigned variant);
/* About the bytes ev holds or will: itself, its line with its tags, and two renderings of it
 * (most rooms have a client or two without tags); for the server's backlog (server.h). */
size_t event_cost(const struct event *ev);
struct event *event_ref(struct event *ev);
void event_unref(struct event *ev);

#endif
