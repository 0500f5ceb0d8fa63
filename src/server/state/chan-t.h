/* chan-t: the channel's types, for the modules that read or change a channel under its lock:
 * chan.c (membership and order) and the channel commands (cmd_chan.c, cmd_mode.c, WHO and
 * WHOIS in cmd_query.c). Everyone else goes through chan.h's functions. A channel is shared
 * by every worker: its fields are guarded by its own lock, and lock order is the server's
 * (server.h). HAProxy's shape: types here, functions in chan.h. */
#ifndef TCPCHAT_CHAN_T_H
#define TCPCHAT_CHAN_T_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "common/ircname.h"
#include "core/defines.h"
#include "core/hash.h"

/* One member of a channel, in its member table (under the channel's lock). */
struct member {
    uint64_t id; /* client id: the hash key */
    int worker;
    unsigned op : 1;
    unsigned voice : 1;
    UT_hash_handle hh;
    char nick[IRC_NICK_MAX + 1];
    char userhost[]; /* "user@host", for userhost-in-names, allocated at its length */
};

/* Channel modes without a parameter (CHANMODES type D). */
enum {
    CM_INVITE = 1 << 0,     /* i: join by invitation only */
    CM_MODERATED = 1 << 1,  /* m: only ops and voiced users speak */
    CM_NOEXTERNAL = 1 << 2, /* n: only members send to it */
    CM_SECRET = 1 << 3,     /* s: hidden from LIST and WHOIS of non-members */
    CM_TOPICLOCK = 1 << 4,  /* t: only ops set the topic */
    CM_NOCTCP = 1 << 5,     /* C: no CTCP to the channel but ACTION (Modern IRC) */
};

/* The parts of a channel's settings. A change names the parts it made (struct chan_change's
 * meta): in a cluster, its event carries the whole settings, but every node, and the
 * channel's stored settings in Redis, take only those parts, so a change of one part made
 * on one node never puts back another part's older value over a change made meanwhile on
 * another (docs/cluster.md "Settings events"). */
enum {
    CHAN_META_CREATED = 1 << 0, /* the name it was created with, and when */
    CHAN_META_MODES = 1 << 1,   /* CM_* */
    CHAN_META_KEY = 1 << 2,     /* +k */
    CHAN_META_LIMIT = 1 << 3,   /* +l */
    CHAN_META_TOPIC = 1 << 4,   /* its text, who set it, when */
    CHAN_META_INVITES = 1 << 5, /* the invitations (all of them: one part) */
    CHAN_META_PARTS = 6,
    CHAN_META_ALL = (1 << CHAN_META_PARTS) - 1,
    CHAN_META_EDITS = CHAN_META_PARTS, /* net_part_seq's slot for list and status edits */
};

/* A message's place in its channel's stream in Redis (a cluster), the entry id "ms-seq"
 * as two numbers; {0, 0} is before every message. */
struct chan_pos {
    uint64_t ms, seq;
};

/* The list modes: bans (+b), ban exceptions (+e), invite exceptions (+I). */
enum { LIST_BAN, LIST_EXCEPT, LIST_INVEX, LIST_KINDS };

struct mask_entry {
    char mask[MASK_MAX + 1];
    char set_by[SOURCE_MAX + 1];
    time_t set_at;
};

struct mask_list {
    struct mask_entry *v;
    int n, cap;
};

/* A channel's name. A label never changes; RENAME puts a new one in place (chan_rename), and
 * the old one lives on until every worker has finished what it was doing (chan.c). */
struct chan_label {
    char key[IRC_CHANNEL_MAX + 1];  /* folded name, the table key */
    char name[IRC_CHANNEL_MAX + 1]; /* as given */
};

struct chan {
    uint64_t id; /* fixed at creation: orders channel locks */
    /* The name: &first, or the one a RENAME gave it. Changed only with srv->chan_lock and the
     * channel's lock held; read through chan_name and chan_key. */
    _Atomic(struct chan_label *) label;
    struct chan_label first;
    time_t renamed_at;    /* the last RENAME (its cooldown), 0 if none */
    UT_hash_handle hh;    /* in srv->chans, under srv->chan_lock, keyed by the label's key */
    atomic_int refs;      /* the table's, plus one per joined client */
    pthread_mutex_t lock; /* guards everything below */
    struct member *members;
    unsigned nmembers;
    unsigned *wcount; /* members on each worker (nworkers of them) */
    int nworkers;
    int in_table;   /* still in srv->chans (also under srv->chan_lock) */
    unsigned modes; /* CM_* */
    char chkey[KEY_MAX + 1];
    unsigned limit; /* 0: none */
    time_t created;
    /* Allocated only when used, so the many small channels of a big network stay small: */
    char *topic; /* "text\0nick!user@host\0" (topic_by), or NULL when none is set */
    time_t topic_at;
    int unstored_warned; /* the history store's failing episode a sender was warned of */
    /* Cluster: this node's changes of the settings handed to the network, counted, and for
     * each part (CHAN_META_*, then CHAN_META_EDITS) the number of the last one that changed
     * it; a change that comes back sets again the parts no later one of ours has changed
     * (chan_net.h). */
    unsigned net_seq;
    unsigned net_part_seq[CHAN_META_PARTS + 1];
    /* Cluster: the place in the channel's stream of the last message this node delivered,
     * so a message caught up on after the subscriber was away is delivered once. */
    struct chan_pos net_pos;
    uint64_t *invites; /* INVITES_MAX client ids invited while +i matters, or NULL */
    int ninvites;
    struct mask_list lists[LIST_KINDS]; /* +b bans, +e exceptions, +I invite exceptions */
    struct metadata *meta;              /* draft/metadata-2 pairs (state/metadata.h), or NULL */
};

/* For chan.c, chan_net.c and the channel commands: the parts of a channel's life they share. */

struct client;
struct fanout_chan;
struct server;

/* A new channel, not yet in the table. NULL without memory. */
struct chan *chan_new(struct server *srv, const char *name, const char *key);
/* Puts ch in the table under its label's key (srv->chan_lock held). */
void chan_table_add(struct server *srv, struct chan *ch);
/* The channel whose folded name is key (srv->chan_lock held), or NULL. */
struct chan *chan_table_get(struct server *srv, const char *key);
/* ch (locked) as the fan-out sees it. */
struct fanout_chan chan_fan(const struct chan *ch);
void chan_member_free(struct member *m);
/* Drops a reference to ch; the last frees it. */
void chan_unref(struct chan *ch);
/* On the kicked client's worker, after its KICK (fanout_chan_kick): forgets channel id. */
void chan_kicked(struct client *c, uint64_t id);
/* Renames ch (its lock and the table's held) to name, whose folded form key no other channel
 * has, by source (nick!user@host) for reason (cut to RENAME_REASON_MAX by the caller). Members
 * with draft/channel-rename get the RENAME line; the others, unless only the case changed, see
 * themselves part the old name and join the new one (topic, NAMES), as the specification's
 * fallback says. The history of the old name ends there, as if it had emptied. 0, or -1
 * without memory (nothing changed). */
int chan_rename(struct server *srv, struct chan *ch, const char *name, const char *key,
                const char *source, const char *reason);
/* Adds mask (set by by, at at) to list kind of ch (locked), or removes it (removed, MASK_MAX
 * + 1 bytes or NULL: the entry's mask as it was set). 0 when the list changed. */
int chan_list_edit(struct chan *ch, int kind, int adding, const char *mask, const char *by,
                   time_t at, char *removed);

#endif
