/* chan_net: channels across the nodes of a cluster (docs/cluster.md "Channels"). Every node
 * keeps a replica of every channel of the network: its members on this node and on the
 * others (a member of another node has worker WORKER_REMOTE and no count in wcount), its
 * modes, topic, lists and invitations.
 *
 * Two directions:
 * - Out. A change made here (a JOIN, a MODE...) is made on this node's replica under the
 *   channel's lock as on a single node, and then described to the network by a struct
 *   chan_change through srv->remote.chan, still under that lock, so the network hears one
 *   node's changes of a channel in the order they were made. A message is the exception: it
 *   is not delivered here first but handed to the network, and delivered on every node,
 *   this one too, in the order the channel's Redis server published it (chan_net_message).
 * - In. What other nodes changed arrives on the cluster thread as the chan_net_* calls
 *   below, which change the replica and tell this node's members.
 *
 * Without a cluster srv->remote.chan is NULL and nothing here runs. */
#ifndef TCPCHAT_CHAN_NET_H
#define TCPCHAT_CHAN_NET_H

#include <stdint.h>

#include "common/ircname.h"
#include "core/defines.h"

struct chan;
struct chan_pos;
struct event;
struct member;
struct server;

enum chan_change_kind {
    CC_JOIN = 'J',  /* who joined chans[0] (m is the new member) */
    CC_PART = 'P',  /* who left chans[0] */
    CC_KICK = 'K',  /* who was kicked out of chans[0] */
    CC_QUIT = 'Q',  /* who left every channel of chans (ev: the QUIT line, or NULL) */
    CC_NICK = 'N',  /* who is now called nick, in every channel of chans */
    CC_PEERS = 'A', /* ev (AWAY, SETNAME, ACCOUNT...) to who's peers in chans */
    CC_META = 'T',  /* chans[0]'s settings changed (TOPIC, MODE, INVITE): meta and edits */
    CC_MSG = 'M',   /* ev said in chans[0] by who (not delivered here yet) */
};

/* One change that the settings do not hold: a list entry or a member's status (of a MODE
 * line), or an invitation. */
struct chan_edit {
    char sign;   /* '+' or '-' */
    char letter; /* b e I (lists), o v (status), i (an invitation: '+' made, '-' lifted) */
    uint64_t id; /* o v: the member; i: the invitee */
    const char *mask, *set_by;
    long long set_at;
};

/* A change of this node's, for the network; the channels are locked. */
struct chan_change {
    enum chan_change_kind kind;
    struct chan *const *chans;
    int nchans;
    struct event *ev;       /* the line the members get (NULL: none) */
    uint64_t who;           /* the user concerned */
    int who_worker;         /* its worker here (CC_MSG: the sender's; CC_META: the invitee's) */
    const struct member *m; /* CC_JOIN */
    const char *account, *realname, *away; /* CC_JOIN: for extended-join and away-notify */
    const char *nick;                      /* CC_NICK */
    unsigned meta; /* CC_META, CC_JOIN: the parts of the settings changed (CHAN_META_*) */
    int nedits;
    struct chan_edit edits[MODES_PER_LINE * 2];
    int echo;    /* CC_MSG: the sender gets it back (echo-message) */
    char status; /* CC_MSG: only to members with this status ('@', '+'), or 0 */
};

/* Hands chg to the network (srv->remote.chan); a change of the settings (meta or edits) is
 * numbered (chans[0]->net_seq), and the parts it changed remember the number. Returns 0, or -1 when
 * it cannot go (no cluster, Redis away, the queue full): for CC_MSG the caller then delivers here
 * alone. */
int chan_net_publish(struct server *srv, const struct chan_change *chg);

/* --- in: the network's changes, on the cluster thread ------------------------------------ */

/* A channel's settings as the network describes them. An event carries them whole, with
 * the parts (CHAN_META_*, chan-t.h) its change made: only those are taken from it. */
struct chan_meta {
    char name[IRC_CHANNEL_MAX + 1];
    long long created;
    unsigned modes; /* CM_* */
    char chkey[KEY_MAX + 1];
    unsigned limit;
    int has_topic;
    char topic[TOPIC_MAX + 1];
    char topic_by[SOURCE_MAX + 1];
    long long topic_at;
    int ninvites;
    uint64_t invites[INVITES_MAX];
};

/* A member of another node. */
struct chan_remote_member {
    uint64_t id;
    int op, voice;
    char nick[IRC_NICK_MAX + 1];
    char userhost[USER_MAX + 1 + HOST_MAX];
};

/* A member of another node in channel key that the network knows by another nick (its NICK
 * came while this node's subscriber was away): source is how the replica has it
 * (nick!user@host), nick the network's. Called under the channel's lock: only note it. */
typedef void chan_renamed_fn(void *arg, const char *key, uint64_t id, const char *source,
                             const char *nick);

/* A channel as the network has it (its Redis server's keys), after this node's subscriber
 * was away: the replica takes its settings and members (those of node self, this one,
 * aside); members it lacked JOIN, and, with removals, members the network no longer has
 * PART, as this node's members see; members known by another nick now go to renamed (for a
 * chan_net_nick once their channels are all seen). */
void chan_net_reconcile(struct server *srv, const char *key, const struct chan_meta *meta,
                        const struct chan_remote_member *members, int nmembers, uint64_t self,
                        int removals, chan_renamed_fn *renamed, void *arg);
/* The same for every channel here that the network no longer has (listed(arg, key) 0):
 * its members of other nodes part. Returns how many. */
int chan_net_reconcile_absent(struct server *srv, int (*listed)(void *arg, const char *key),
                              void *arg, uint64_t self);
/* Every channel here with mine(arg, key) forgets the place of the last message delivered
 * (its server came back with new data: its streams' ids start again, from that server's
 * clock). */
void chan_net_forget_positions(struct server *srv, int (*mine)(void *arg, const char *key),
                               void *arg);
/* Reads ch's settings into out (ch locked). */
void chan_meta_get(const struct chan *ch, struct chan_meta *out);

/* mi joined key (created with meta's name when new); meta's parts (CHAN_META_*) are the
 * settings that changed (meta NULL or parts 0: none; a channel new here takes all of
 * meta); line is its JOIN, ext the extended-join form, away its away text ("" none). */
void chan_net_join(struct server *srv, const char *key, const struct chan_meta *meta,
                   unsigned parts, const struct chan_remote_member *mi, const char *line,
                   const char *ext, const char *account, const char *away);
/* This node's own JOIN of who to key, back from the network: an invitation of who that
 * reached this node after the join (made on another node just before it) is used too, as
 * on the other nodes (chan_net_join drops the joiner's invitation). */
void chan_net_joined(struct server *srv, const char *key, uint64_t who);
/* who left key (kick: kicked) and its members get line. */
void chan_net_part(struct server *srv, const char *key, uint64_t who, const char *line, int kick);
/* who left the channels mine (n of them, on the event's Redis server); others (m) are its
 * channels on other servers, whose events come apart. line ("" none) goes once to every
 * member sharing any of them, with the last of those events. */
void chan_net_quit(struct server *srv, uint64_t who, const char *line,
                   char (*mine)[IRC_CHANNEL_MAX + 1], int n, char (*others)[IRC_CHANNEL_MAX + 1],
                   int m);
/* who is called nick now in mine; line to its peers in mine and others, with the last of
 * the servers' events (as for a QUIT). */
void chan_net_nick(struct server *srv, uint64_t who, const char *nick, const char *line,
                   char (*mine)[IRC_CHANNEL_MAX + 1], int n, char (*others)[IRC_CHANNEL_MAX + 1],
                   int m);
/* line (for recipients with need_cap) to who's peers in keys (one event for all). */
void chan_net_peers(struct server *srv, uint64_t who, unsigned need_cap, const char *line,
                    char (*keys)[IRC_CHANNEL_MAX + 1], int n);
/* key's settings take meta's parts (CHAN_META_*; meta NULL: none), with edits applied; its
 * members get line (need_cap: only those with it); an invitation (invitee not 0) also goes
 * to the invitee if it is here. */
void chan_net_meta(struct server *srv, const char *key, const struct chan_meta *meta,
                   unsigned parts, const struct chan_edit *edits, int nedits, const char *line,
                   unsigned need_cap, uint64_t invitee, int invitee_worker,
                   const char *invite_line);
/* This node's own change number seq of key's settings, back from the network: each part of
 * it (meta's parts, the edits) that no later change made here has changed again is set
 * again, with nothing said to anyone. So every node ends, part by part, with the value of
 * the last change of that part in the network's order, even when two nodes changed it at
 * once; and no earlier change of ours undoes a later one meanwhile. */
void chan_net_settings(struct server *srv, const char *key, unsigned seq,
                       const struct chan_meta *meta, unsigned parts, const struct chan_edit *edits,
                       int nedits);
/* ev was said in key by sender (sender_worker: its worker if it is on this node, else -1):
 * stored and delivered to this node's members. pos is its place in the channel's stream
 * (NULL: not kept there, STATUSMSG and TAGMSG): a message at or before the last one
 * delivered here is one this node has had (caught up on, then published) and is only
 * stored, where the store keeps it once. */
void chan_net_message(struct server *srv, const char *key, struct event *ev, uint64_t sender,
                      int sender_worker, int echo, char status, const struct chan_pos *pos);
/* The place of the last message of key delivered here ({0, 0} if none, or no such
 * channel). */
struct chan_pos chan_net_position(struct server *srv, const char *key);
/* Every member of node leaves the channels keys, with a QUIT line (reason) for each. */
void chan_net_drop_node(struct server *srv, uint64_t node, char (*keys)[IRC_CHANNEL_MAX + 1], int n,
                        const char *reason);
/* fn(arg, ch) for every channel with members on this node, ch locked (the cluster thread
 * announcing them again after Redis came back). Returns how many. */
int chan_net_each_local(struct server *srv, void (*fn)(void *arg, const struct chan *ch),
                        void *arg);
/* A channel as the network holds it, at start (no local member can be in it yet). */
void chan_net_load(struct server *srv, const char *key, const struct chan_meta *meta,
                   const struct chan_remote_member *members, int nmembers);
/* key's lists (+b, +e, +I) as the network holds them: entries (each a '+' edit of letter b,
 * e or I) added, after emptying the lists when replace (a snapshot of a server that kept its
 * data: what was lifted meanwhile goes), all under the channel's lock. */
void chan_net_load_lists(struct server *srv, const char *key, const struct chan_edit *entries,
                         int n, int replace);

#endif
