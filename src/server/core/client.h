/* client: one connection and the user on it. A client belongs to the worker that accepted it
 * for its whole life: only that worker's thread reads or writes these fields. Other threads
 * name a client by (worker index, id), never by pointer. */
#ifndef TCPCHAT_CLIENT_H
#define TCPCHAT_CLIENT_H

#include <stdint.h>
#include <stdio.h>

#include "common/ircname.h"
#include "common/linebuf.h"
#include "defines.h"
#include "hash.h"
#include "loop.h"
#include "sendq.h"
#include "server.h"
#include "tls.h"
#include "worker.h"

struct worker;
struct chan;
struct mlbatch;
struct md_subs;

struct client {
    uint64_t id;
    struct worker *w;
    UT_hash_handle hh; /* in w->clients, by id */
    struct loop_io io; /* the socket's watcher in w's loop */

    char nick[IRC_NICK_MAX + 1]; /* "" until NICK */
    char user[USER_MAX + 1];
    char host[HOST_MAX];
    /* Output pacing (worker.h): when the last line for this client was queued, in worker
     * milliseconds modulo 2^16 (the pacing only compares gaps of a few ms). */
    uint16_t line_ms;
    int fd; /* -1 once closed */
    /* Strings of their own length on the heap (conn_set_str), "" (conn_no_str) until set, so
     * an idle connection carries no fixed-size buffers for them. */
    char *realname;     /* at most REALNAME_MAX bytes */
    char *source;       /* nick!user@host, the prefix of what this user sends; "" before */
    char *close_reason; /* at most CLOSE_REASON_MAX bytes; "" until conn_close_later */

    unsigned has_nick : 1; /* holds nick in the nick table */
    unsigned has_user : 1;
    unsigned cap_pending : 1; /* CAP LS/REQ seen, no CAP END yet: registration waits */
    unsigned pass_ok : 1;
    unsigned registered : 1;
    unsigned away : 1;         /* has an away message (its text is in the nick table) */
    unsigned oper_pending : 1; /* an OPER password is being checked (account thread) */
    unsigned dead : 1;         /* closed; kept until its QUIT item passes through w's mailbox */
    unsigned closing : 1;      /* on w's close list */
    unsigned dirty : 1;        /* on w's flush list */
    unsigned urgent : 1;       /* sent a command since its last flush: its replies are not held */
    unsigned stalled : 1;      /* on w's stalled list: input paused by flood or send queue */
    unsigned want_read : 1;    /* the socket may hold unread bytes (edge-triggered epoll) */
    unsigned peer_done : 1;    /* the peer shut down or the socket failed: read to the end */
    unsigned wallops : 1;      /* user mode +w, also here: MB_WALLOPS checks every client */
    unsigned bot : 1;          /* user mode +B, also here: its messages carry the bot tag */
    unsigned ping_pending : 1;
    unsigned backlog_paused : 1; /* input paused by the server-wide backlog (counted once) */
    unsigned ip_counted : 1;     /* counted by iplimit (given back on close) */
    unsigned cap_302 : 1;        /* "CAP LS 302" seen: capability values are listed */
    unsigned sasl_started : 1;   /* AUTHENTICATE PLAIN accepted, data coming */
    unsigned sasl_pending : 1;   /* a password is being checked: registration waits */
    unsigned sasl_external : 1;  /* the mechanism started is EXTERNAL (else PLAIN) */
    unsigned label_taken : 1;    /* its answer comes later, labelled by whoever sends it */
    unsigned net_pending : 1;    /* cluster: a nick is being claimed on the network */
    unsigned net_nick : 1;       /* cluster: the network has given this client its nick */
    unsigned caps;               /* CAP_* negotiated (caps.h) */
    unsigned variant;            /* caps_variant(caps): how relayed lines are rendered for us */
    int sasl_failures;
    int oper_failures;   /* wrong OPER passwords */
    int unstored_warned; /* the history store's failing episode this sender was warned of */
    char (*monitor)[IRC_NICK_MAX + 1]; /* MONITOR list (malloc'd, MONITOR_MAX), or NULL */
    int nmonitor;
    struct sendq *held; /* replies held while a labeled command runs (label.h), or NULL */
    const char *label;  /* that command's label, or NULL */
    char *account;      /* logged in as (SASL or REGISTER), "" (conn_no_str) if not */
    char *sasl_buf;     /* base64 received so far (sasl_len bytes), or NULL */
    size_t sasl_len;
    uint64_t batch_seq; /* last BATCH reference used on this connection */
    /* The draft/multiline batch the client has open (irc/cmd_batch.c), or NULL: one flat
     * allocation, bounded by MULTILINE_MAX_BYTES, freed with free() (conn_free). */
    struct mlbatch *ml;
    /* The keys this client subscribed to (draft/metadata-2, irc/cmd_metadata.c), or NULL:
     * one flat allocation, freed with free() (conn_free). */
    struct md_subs *md_subs;

    struct linebuf in;
    struct sendq sq;
    /* The TLS session (common/tlsio.h, and tls.h for the server's part); tls.ssl is NULL on
     * the plaintext port. */
    struct tlsio tls;
    /* From the web listener (web.h): HTTP, then a WebSocket; NULL for an IRC port's client. */
    struct web *web;
    double tokens;      /* flood control: lines that may be processed now */
    uint64_t tokens_ms; /* when tokens was last topped up */
    double nick_tokens; /* nick changes allowed now (NICK_BURST, NICK_INTERVAL_MS) */
    uint64_t nick_ms;   /* when nick_tokens was last topped up, 0 before the first change */
    uint64_t connected_ms, active_ms, ping_ms;
    /* Registered less than SENDQ_NEW_MS ago (conn_registered) until new_until_ms: other users'
     * lines may then add at most SENDQ_NEW_BYTES to new_own, what its own commands queued
     * since it connected (conn_deliver_event). */
    uint64_t new_until_ms;
    size_t new_own;

    struct client *next_dirty, *next_close, *next_stalled, *next_free, *next_urgent;
    uint64_t mark; /* w->gen when last sent an event, to send each event once */

    struct chan **chans; /* channels joined, each holding a reference */
    int nchans, chans_cap;
};

/* The server c belongs to, and its configuration (read-only on the workers: rehash.h). */
static inline struct server *client_srv(const struct client *c)
{
    return c->w->srv;
}

static inline const struct config *client_cfg(const struct client *c)
{
    return &c->w->srv->cfg;
}

/* The host others see for c: "user/<account>" for a logged-in user with --cloak-accounts,
 * else its address (c->host, which stays the address for every limit and ban). */
static inline void client_shown_host(const struct client *c, char *out, size_t cap)
{
    if (client_cfg(c)->cloak_accounts && c->account[0])
        snprintf(out, cap, "user/%s", c->account);
    else
        snprintf(out, cap, "%s", c->host);
}

#endif
