/* chan: channels, shared by every worker. The table (srv->chans) is guarded by srv->chan_lock;
 * each channel's members, modes, topic and per-worker member counts by its own lock. Every
 * event of a channel is posted to the workers (fanout.h) while its lock is held, which gives
 * all members one order of events (docs/architecture.md "The life of a message").
 * All functions here run on the thread of the client they are given. */
#ifndef TCPCHAT_CHAN_H
#define TCPCHAT_CHAN_H

#include <stdint.h>

struct chan;
struct client;
struct event;
struct member;
struct msg;
struct server;

/* Joins c to name (valid, checked by the caller); members get the JOIN, c also the topic and
 * NAMES. Returns 0 (also when already a member) or an error numeric. */
int chan_join(struct client *c, const char *name, const char *key);
/* Whether name is the old name of a channel renamed within RENAME_REDIRECT_SECS that still
 * exists, no channel having taken the name since: its name now into to (IRC_CHANNEL_MAX + 1
 * bytes). JOIN sends the joiner there. */
int chan_redirect(struct server *srv, const char *name, char *to);
/* Parts c from name with an optional reason. Returns 0 or an error numeric. */
int chan_part(struct client *c, const char *name, const char *reason);
/* What chan_send and chan_send_status return, besides error numerics, when the channel has
 * members on other nodes and the network cannot take the message (Redis away): nobody gets
 * it, rather than only this node's members. */
#define CHAN_NETWORK_DOWN (-2)
/* Sends m to every member of name but c, and to c too with echo (echo-message: in the
 * channel's order, through c's mailbox). Returns 0, an error numeric or CHAN_NETWORK_DOWN;
 * *unstored is set when the history store could not keep m and c is the one to be warned of
 * it in this channel for this failing episode. */
int chan_send(struct client *c, const char *name, struct event *m, int echo, int *unstored);
/* c leaves every channel; m (a QUIT line, or NULL when nobody is to be told) goes once to
 * everyone who shared one with c. Always posts c's own MB_QUIT, after which c is freed. */
void chan_quit(struct client *c, struct event *m);
/* Records c's new nick (already in c->nick) in its channels and sends m (the NICK line) once
 * to everyone who shares one with c, and with self to c (through its mailbox). */
void chan_nick(struct client *c, struct event *m, int self);
/* STATUSMSG: sends m to the members of name with at least status ('@' ops, '+' voiced
 * and ops), c included only with echo. Returns 0 or an error numeric. */
int chan_send_status(struct client *c, const char *name, char status, struct event *m, int echo);
/* Sends m once to everyone who shares a channel with c (and to c too if self), in the order
 * of those channels; used for AWAY and SETNAME notices. */
void chan_peers(struct client *c, struct event *m, int self);
/* fn(member, 0, ev, text) once for everyone who shares a channel with c, c excepted, on their
 * workers, in the order of those channels: what each recipient filters for itself
 * (draft/metadata-2 subscriptions). fn is an mb_member_fn (core/mailbox.h). */
void chan_peers_each(struct client *c,
                     void (*fn)(struct client *m, uint64_t chan, struct event *ev,
                                const char *text),
                     struct event *ev, const char *text);
/* The NAMES reply for name, as one msg (353 lines and 366) for c. */
struct msg *chan_names(struct client *c, const char *name);
/* Index of name in c's channel list, or -1. */
int chan_find_joined(const struct client *c, const char *name);
/* The channel's name, and its folded form (the table key). A RENAME changes them: read them
 * on a worker's thread, or with the channel's or the table's lock held, and do not keep them
 * past the current command or item (chan-t.h, struct chan_label). */
const char *chan_name(const struct chan *ch);
const char *chan_key(const struct chan *ch);
/* The channel's id (for replicas). */
uint64_t chan_id(const struct chan *ch);
/* Channels in existence (LUSERS). */
int chan_count(struct server *srv);
/* Frees every channel (at exit, with no worker running). */
void chan_table_free(struct server *srv);

/* For the channel commands, which read and change a channel (chan-t.h) under its lock. */

/* The channel called name, locked, with a reference; NULL if there is none. */
struct chan *chan_lock_name(struct server *srv, const char *name);
/* Unlocks ch and drops that reference. */
void chan_unlock(struct chan *ch);
/* The channel called name with the table locked too, for a change that may empty it (KICK);
 * NULL (nothing locked) if there is none. chan_unlock_table undoes it. */
struct chan *chan_lock_name_table(struct server *srv, const char *name);
void chan_unlock_table(struct server *srv, struct chan *ch);
/* Each channel in turn, locked, under the table lock (LIST, WHOIS). */
void chan_foreach(struct server *srv, void (*fn)(struct chan *ch, void *arg), void *arg);
/* Whether user id is a member of one of c's channels (WHO of invisible users). */
int chan_shares(struct client *c, uint64_t id);
/* The member of ch (locked) with client id, or NULL. */
struct member *chan_member(struct chan *ch, uint64_t id);
/* Member id of ch (locked) is now shown as userhost (CHGHOST). 0, or -1 (no such member, or
 * no memory: it keeps the old one). */
int chan_member_set_userhost(struct chan *ch, uint64_t id, const char *userhost);
/* c's shown host changed (chghost): its member entries take userhost, and m (the CHGHOST line,
 * for clients with the capability) goes to everyone sharing a channel, on every node. */
void chan_chghost(struct client *c, struct event *m, const char *userhost);
/* A member's highest status prefix ("@", "+" or ""), and the prefixes shown to c (all of
 * them with multi-prefix). */
const char *chan_member_prefix(const struct member *m);
const char *chan_member_prefixes(const struct member *m, const struct client *c);
/* Whether client id holds an unused invitation to ch (locked). */
int chan_invited(const struct chan *ch, uint64_t id);
/* Records an invitation of id to ch (locked), which lets it past +i, +k, +l and bans once;
 * past INVITES_MAX the oldest is forgotten. 0, or -1 without memory. */
int chan_invite_add(struct chan *ch, uint64_t id);
/* Forgets id's invitation to ch (locked), used or lifted. 1 if it had one. */
int chan_invite_drop(struct chan *ch, uint64_t id);
/* Who set ch's topic (only while ch->topic is set). */
const char *chan_topic_by(const struct chan *ch);
/* Posts ev to every member of ch (locked) but skip (0: none): a MODE, TOPIC or notice. */
/* Channel ch emptied (its lock and the table's held): its history ends with this lifetime
 * (history_end), unless it is registered and was open (neither +i nor +k): its owners come
 * back to it, and anyone could have joined and read it anyway. */
void chan_emptied(struct server *srv, const struct chan *ch);
void chan_post(struct server *srv, const struct chan *ch, struct event *ev, uint64_t skip);
/* Removes member t from ch (table and channel locked: chan_lock_name_table), after posting ev
 * (the KICK line, NULL for none) to every member, t included. */
void chan_kick_member(struct server *srv, struct chan *ch, struct member *t, struct event *ev);

#endif
