/* history: the message store (SQLite in WAL mode under --data-dir, with a journal in front
 * of it) and the thread that writes it, so that a worker never waits on SQLite.
 *
 * Stored before delivered: the worker relaying a channel or private message appends its row
 * to the journal (journal.h: one write(2), under the channel's lock) and queues it for the
 * writer, then posts it to the workers at once. So no one receives a message the store does
 * not have: the journal is in the operating system's hands once write(2) returned, and a
 * kill -9 of the server cannot undo it (no fsync: a power cut may lose the last second; see
 * docs/server-behaviour.md). The writer inserts the queued rows into an open transaction and
 * commits about once a second, after sealing the journal they are in.
 *
 * History queries (the replay on JOIN and CHATHISTORY) go through the writer's queue, behind
 * the rows stored before them; while one's answer is on its way to a worker, the posts for
 * that worker queue behind it (the fan-out's ordering gate, fanout.h), so a replay queued under the
 * channel lock right after a JOIN holds exactly the messages before the JOIN, and the messages
 * after it follow it live. */
#ifndef TCPCHAT_HISTORY_H
#define TCPCHAT_HISTORY_H

#include <stdint.h>

#include "common/ircmsg.h"
#include "common/ircname.h"
#include "core/defines.h"
#include "core/event.h"

struct client;
struct server;

/* A point in a target's history: CHATHISTORY's "*", timestamp= or msgid=. */
enum hist_ref_kind { HREF_NONE, HREF_STAR, HREF_TIME, HREF_MSGID };

struct hist_ref {
    enum hist_ref_kind kind;
    long long ms; /* HREF_TIME: milliseconds since the epoch */
    char msgid[EVENT_MSGID_MAX];
};

enum hist_op {
    HOP_REPLAY,
    HOP_LATEST,
    HOP_BEFORE,
    HOP_AFTER,
    HOP_AROUND,
    HOP_BETWEEN,
    HOP_TARGETS
};

struct hist_query {
    enum hist_op op;
    int worker; /* the asking client's worker and id: where the answer goes */
    uint64_t client;
    unsigned caps;                    /* its CAP_* bits: batch, server-time, message-tags */
    char target[IRC_CHANNEL_MAX + 1]; /* as the client wrote it, for the BATCH line */
    char key[IRC_CHANNEL_MAX + 1];    /* folded channel name; "" for a private target */
    char account[IRC_NICK_MAX + 1];   /* private: the asking client's account, folded */
    char peer[IRC_NICK_MAX + 1];      /* private: the other party (nick = account), folded */
    struct hist_ref a, b;             /* the references the operation takes */
    int limit;
    char label[LABEL_MAX * 2 + 1]; /* escaped labeled-response label, or "" */
    int ntargets;                  /* HOP_TARGETS: the folded channels the client is in */
    char targets[CHANNELS_PER_USER][IRC_CHANNEL_MAX + 1];
};

/* A REDACT (IRCv3 draft/message-redaction) for the writer to check against the stored
 * message and carry out (its row deleted), then to report with done(client, 0, result, text)
 * on the asker's worker: result a HREDACT_*, text "<target> <msgid>\x01<label>\x01<reason>". */
enum { HREDACT_DONE, HREDACT_UNKNOWN, HREDACT_FORBIDDEN };

struct hist_redact {
    int worker;
    uint64_t client;
    char target[IRC_CHANNEL_MAX + 1]; /* as the client wrote it */
    char key[IRC_CHANNEL_MAX + 1];    /* folded channel, or "" for a private conversation */
    char nick[IRC_NICK_MAX + 1];      /* the asker's nick, folded */
    char account[IRC_NICK_MAX + 1];   /* the asker's account, folded, or "" */
    char peer[IRC_NICK_MAX + 1];      /* private: the other party, folded */
    int any;                          /* a channel operator: anyone's message may go */
    char msgid[EVENT_MSGID_MAX];
    char reason[REDACT_REASON_MAX + 1];
    char label[LABEL_MAX + 1]; /* labeled-response: the asker's label, as sent, or "" */
    void (*done)(struct client *c, int op, int result, const char *text);
};

/* Opens (creating if need be) the store under srv->cfg.data_dir and starts the writer, when
 * history is on. Returns 0, or -1 after printing why on stderr. */
int history_open(struct server *srv);
/* Waits (at most a few seconds) until everything queued so far has reached the workers. */
void history_drain(struct server *srv);
/* Stores and hands on what is still queued, stops the writer, closes the store. */
void history_close(struct server *srv);

/* Stores ev (a PRIVMSG or NOTICE) under key (a folded channel name, or "" for a private
 * message): appended to the journal and queued for the writer. Call it before posting the
 * deliveries, under the same lock. Returns 0 (stored, or history off); -1 when the writer is
 * too far behind and the message must be refused; or, when the journal cannot be written
 * (a full disk), the number (1, 2...) of this failing episode: the message is relayed
 * unstored, as logged, and the caller warns its sender once per channel per episode. */
int history_store(struct server *srv, struct event *ev, const char *key);
/* Channel key emptied (its last member parted, quit or was kicked; not at a server stop):
 * its history so far belongs to that lifetime, and whoever creates it again reads none of
 * it (a marker row, journaled like a message). Not for the default channel, the server's
 * own. Under the channel's lock, like stores. */
void history_end(struct server *srv, const char *key);
/* Channel from (a folded name) is now called to (folded, a name no channel has): its present
 * lifetime's history moves to to, in order with everything stored before and after (a
 * journaled marker the writer acts on), and from's lifetime ends, as with history_end.
 * What to held before (lifetimes that ended) is set aside, never shown under to. Under the
 * channel's lock, like stores. When the store is behind, nothing is moved nor ended (logged),
 * as with history_end. */
void history_rename(struct server *srv, const char *from, const char *to);
/* Stores a channel event of key (JOIN, PART, KICK, QUIT, NICK, MODE, TOPIC) the same way,
 * for the clients that ask for events in their history (IRCv3 draft/event-playback); the
 * others never see it. Never refused: when the store is behind or cannot write, the event
 * is left out of it. Under the channel's lock, like stores. */
void history_store_event(struct server *srv, struct event *ev, const char *key);
/* The same for a private message, with the accounts of its sender and recipient ("" for
 * someone not logged in): its history is shown only to those two accounts. */
int history_store_private(struct server *srv, struct event *ev, const char *from, const char *to);
/* 1 if a message to key (a folded channel name) was ever stored, so there may be history to
 * replay (channel events alone do not count); 0 also when history is off. */
int history_has(struct server *srv, const char *key);
/* The time (ms since the epoch) of the newest message of key that has reached history.db
 * (not what is still queued or journaled), or -1 for none. Reads the file on a connection
 * of its own: for the cluster thread, catching up on a channel's stream. */
long long history_newest_ms(struct server *srv, const char *key);
/* The writer's backlog, for the metrics page. */
struct history_stats {
    int queued;           /* messages waiting for the writer */
    uint64_t lag_ms;      /* how long the oldest item has waited (0: none waits) */
    size_t journal_bytes; /* the journal: the live segment and those sealed, not deleted */
    long long unstored;   /* messages relayed unstored since the journal last failed */
};
void history_stats(struct server *srv, struct history_stats *out);
/* Keeps account's read marker of target (both folded; draft/read-marker, readmark.h) in
 * history.db, through the writer's queue. */
void history_mark(struct server *srv, const char *account, const char *target, long long ms);
/* Queues r behind what is stored so far; the writer reports to r->client. Copies r. */
void history_redact(struct server *srv, const struct hist_redact *r);
/* Queues q; the writer answers it to q->client. Copies q. */
void history_query(struct server *srv, const struct hist_query *q);

/* Parses a CHATHISTORY reference ("*" only where star is allowed). 0 or -1. */
int history_parse_ref(const char *s, int star, struct hist_ref *out);

#endif
