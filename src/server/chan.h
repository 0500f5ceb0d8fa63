/* chan: channels, shared by every worker. The table (srv->chans) is guarded by srv->chan_lock;
 * each channel's members, topic and per-worker member counts by its own lock. Every event of a
 * channel is posted to the workers' mailboxes while its lock is held, which gives all members
 * one order of events (DESIGN.md "Fan-out with one total order per channel").
 * All functions here run on the thread of the client they are given. */
#ifndef TCPCHAT_CHAN_H
#define TCPCHAT_CHAN_H

#include <stdint.h>

struct chan;
struct client;
struct event;
struct msg;
struct server;

/* Joins c to name (valid, checked by the caller); members get the JOIN, c also the topic and
 * NAMES. Returns 0 (also when already a member) or an error numeric. */
int chan_join(struct client *c, const char *name, const char *key);
/* Parts c from name with an optional reason. Returns 0 or an error numeric. */
int chan_part(struct client *c, const char *name, const char *reason);
/* Sends m to every member of name but c. Returns 0 or an error numeric. */
int chan_send(struct client *c, const char *name, struct event *m);
/* c leaves every channel; m (a QUIT line, or NULL when nobody is to be told) goes once to
 * everyone who shared one with c. Always posts c's own MB_QUIT, after which c is freed. */
void chan_quit(struct client *c, struct event *m);
/* Records c's new nick (already in c->nick) in its channels and sends m (the NICK line) once
 * to everyone who shares one with c, and to c. */
void chan_nick(struct client *c, struct event *m);
/* STATUSMSG: sends m to the members of name with at least status ('@' ops, '+' voiced
 * and ops). Returns 0 or an error numeric. */
int chan_send_status(struct client *c, const char *name, char status, struct event *m);
/* Sends m once to everyone who shares a channel with c (and to c too if self), in the order
 * of those channels; used for AWAY and SETNAME notices. */
void chan_peers(struct client *c, struct event *m, int self);
/* The NAMES reply for name, as one msg (353 lines and 366) for c. */
struct msg *chan_names(struct client *c, const char *name);
/* Index of name in c's channel list, or -1. */
int chan_find_joined(const struct client *c, const char *name);
/* The channel's name as created (fixed for its life, so no lock is needed). */
const char *chan_name(const struct chan *ch);
/* The channel's id (for replicas). */
uint64_t chan_id(const struct chan *ch);
/* TOPIC: shows the topic (text NULL) or sets it, with the replies. */
void chan_topic(struct client *c, const char *name, const char *text);
/* MODE on a channel: params[0] the mode string (or nparams 0 to query), then arguments. */
void chan_mode(struct client *c, const char *name, int nparams, char **params);
/* KICK nick out of name. */
void chan_kick(struct client *c, const char *name, const char *nick, const char *reason);
/* On the kicked client's worker: forgets the channel with this id. */
void chan_kicked(struct client *c, uint64_t id);
/* INVITE nick to name. */
void chan_invite(struct client *c, const char *nick, const char *name);
/* WHO for a channel: 352 lines and 315. */
struct who_query;
void chan_who(struct client *c, const char *name, const struct who_query *q);
/* WHOIS: the 319 lines listing who's channels that c may see. */
struct nick_info;
void chan_whois_channels(struct client *c, const struct nick_info *who);
/* LIST: 321, 322 per visible channel matching any of the masks (all if none), 323. */
void chan_list(struct client *c, const char *const *masks, int nmasks);
/* Channels in existence (LUSERS). */
int chan_count(struct server *srv);
/* Frees every channel (at exit, with no worker running). */
void chan_table_free(struct server *srv);

#endif
