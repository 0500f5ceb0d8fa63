/* cmd: the command layer's entry points: one received line in, replies and events out. The
 * command table is in cmd.c; the handlers, one file per family: cmd_reg.c (registration and
 * upkeep), cmd_chan.c (JOIN, PART, NAMES, TOPIC, KICK, INVITE, LIST), cmd_mode.c (MODE),
 * cmd_msg.c (PRIVMSG, NOTICE, TAGMSG), cmd_query.c (WHO, WHOIS and the other questions),
 * cmd_oper.c (operators), cmd_ban.c (KLINE, DLINE), cmd_account.c (SASL, REGISTER),
 * cmd_history.c (CHATHISTORY), cmd_batch.c (a client's draft/multiline BATCH),
 * cmd_metadata.c (METADATA). */
#ifndef TCPCHAT_CMD_H
#define TCPCHAT_CMD_H

#include <stddef.h>

#include "common/ircmsg.h"

struct client;
struct event;
struct server;

/* message-tags: a client's tag data may be at most 4094 bytes. */
#define CLIENT_TAGS_MAX 4094

/* Makes the command layer the server's protocol (server.h conn_hooks): lines go to
 * cmd_dispatch, a closing connection to cmd_closing. Before the workers start. */
void cmd_install(struct server *srv);
/* Checks and parses one line of len bytes (no terminator; may hold NUL bytes) and runs it. */
void cmd_dispatch(struct client *c, char *line, size_t len);
/* Tells c a line was dropped for being too long (417). */
void cmd_input_too_long(struct client *c);
/* c's connection is closing: its nick is released, WHOWAS remembers it, and everyone who
 * shares a channel with it sees it QUIT with the close reason (cmd_reg.c). */
void cmd_closing(struct client *c);
/* c's shown host may have changed (a login with --cloak-accounts): the user, its channels'
 * members (chghost) and the nick table learn the new one (cmd_reg.c). */
void cmd_host_changed(struct client *c);
/* Command i of the table (0, 1...): its name and how often it was used, with its bytes, since
 * the start. 0, or -1 past the last. */
int cmd_usage(size_t i, const char **name, unsigned long *count, unsigned long *bytes);
/* conn_hooks.nick_lost (cmd_reg.c). */
void cmd_nick_lost(struct client *c, int op, int result, const char *nick);

/* The user's public facts changed (away, account, modes, real name): a cluster node tells the
 * network (cmd_reg.c). */
void cmd_user_changed(struct client *c);

/* Handlers, each for one command. The dispatcher has checked registration and the minimum
 * parameter count. */
void cmd_cap(struct client *c, struct ircmsg *m);
void cmd_pass(struct client *c, struct ircmsg *m);
void cmd_nick(struct client *c, struct ircmsg *m);
void cmd_user(struct client *c, struct ircmsg *m);
void cmd_ping(struct client *c, struct ircmsg *m);
void cmd_pong(struct client *c, struct ircmsg *m);
void cmd_quit(struct client *c, struct ircmsg *m);
void cmd_motd(struct client *c, struct ircmsg *m);
/* The numeric for an error chan_join or chan_part passed on as a number (cmd_chan.c). */
void send_chan_error(struct client *c, int err, const char *name);
void cmd_join(struct client *c, struct ircmsg *m);
void cmd_part(struct client *c, struct ircmsg *m);
void cmd_names(struct client *c, struct ircmsg *m);
void cmd_privmsg(struct client *c, struct ircmsg *m);
void cmd_notice(struct client *c, struct ircmsg *m);
void cmd_tagmsg(struct client *c, struct ircmsg *m);
/* Copies the client-only tags ("+name[=value]") of raw (may be NULL) into out. Returns 0, -1
 * when they exceed the client tag budget, -2 when a value holds a control character
 * (cmd_msg.c). */
int cmd_client_tags(const char *raw, char *out, size_t cap);
/* ev, a message of verb (PRIVMSG or NOTICE) built for the one target, to that target as a
 * PRIVMSG or NOTICE command would send it: echo, errors, history (cmd_msg.c). */
void cmd_msg_relay(struct client *c, const char *verb, const char *target, struct event *ev);
/* BATCH from a client: opens and closes a draft/multiline batch (cmd_batch.c). */
void cmd_batch(struct client *c, struct ircmsg *m);
/* A line tagged batch=: the open batch takes it, or it is refused (cmd_batch.c). */
void cmd_batch_line(struct client *c, struct ircmsg *m, const char *ref);
void cmd_setname(struct client *c, struct ircmsg *m);
void cmd_topic(struct client *c, struct ircmsg *m);
void cmd_mode(struct client *c, struct ircmsg *m);
/* SAMODE: MODE on any channel as one of its operators (IRC operators; logged). */
void cmd_samode(struct client *c, struct ircmsg *m);
/* Logged in as name (SASL, REGISTER, NickServ IDENTIFY): the user, and with account-notify
 * everyone sharing a channel, are told. cmd_logged_out undoes it. */
void cmd_logged_in(struct client *c, const char *name);
void cmd_logged_out(struct client *c);
/* A password c gave for account failed (mechanism: "PLAIN", "IDENTIFY"...): counted against
 * its address and the server (the login budgets), and logged. */
void cmd_login_failed(struct client *c, const char *account, const char *mechanism);
/* The services NickServ and ChanServ (cmd_services.c): PRIVMSG to them and NS/CS. */
int services_is(const char *target);
void services_message(struct client *c, const char *target, const char *text);
void cmd_ns(struct client *c, struct ircmsg *m);
void cmd_cs(struct client *c, struct ircmsg *m);
/* Nick was freed on this node (its holder left): a REGAIN waiting for it takes it. */
void services_nick_freed(struct server *srv, const char *nick);
/* ChanServ gives nick (a member of channel name) +o or +v (letter): 0, or -1 when nick is not
 * on the channel. */
int cmd_mode_service(struct server *srv, const char *name, const char *nick, char letter);
/* DIE and RESTART [:reason]: stop the server, or stop it and run it again (IRC operators). */
void cmd_die(struct client *c, struct ircmsg *m);
void cmd_restart(struct client *c, struct ircmsg *m);
void cmd_kick(struct client *c, struct ircmsg *m);
void cmd_rename(struct client *c, struct ircmsg *m);
void cmd_invite(struct client *c, struct ircmsg *m);
void cmd_list(struct client *c, struct ircmsg *m);
void cmd_who(struct client *c, struct ircmsg *m);
void cmd_whois(struct client *c, struct ircmsg *m);
void cmd_ison(struct client *c, struct ircmsg *m);
void cmd_monitor(struct client *c, struct ircmsg *m);
void cmd_userhost(struct client *c, struct ircmsg *m);
void cmd_lusers(struct client *c, struct ircmsg *m);
void cmd_version(struct client *c, struct ircmsg *m);
void cmd_time(struct client *c, struct ircmsg *m);
void cmd_away(struct client *c, struct ircmsg *m);
void cmd_whowas(struct client *c, struct ircmsg *m);
void cmd_oper(struct client *c, struct ircmsg *m);
void cmd_kill(struct client *c, struct ircmsg *m);
void cmd_wallops(struct client *c, struct ircmsg *m);
void cmd_announce(struct client *c, struct ircmsg *m);
void cmd_rehash(struct client *c, struct ircmsg *m);
/* Server bans (cmd_ban.c). */
void cmd_kline(struct client *c, struct ircmsg *m);
void cmd_unkline(struct client *c, struct ircmsg *m);
void cmd_dline(struct client *c, struct ircmsg *m);
void cmd_undline(struct client *c, struct ircmsg *m);
/* If a ban keeps c out (a K-line on its user@host, a D-line on its address), tells c (465 for
 * a K-line), closes it and returns 1; else 0. At registration. */
int cmd_ban_check(struct client *c);
/* Closes the users of every worker that the bans numbered seq and later match (a ban the
 * network set: conn_hooks.ban_sweep). */
void cmd_ban_sweep(struct server *srv, unsigned long long seq);
/* The K-lines (letter 'k') or D-lines ('d') in force, one 216 or 225 each, for STATS. */
void cmd_ban_stats(struct client *c, char letter);
void cmd_chathistory(struct client *c, struct ircmsg *m);
void cmd_markread(struct client *c, struct ircmsg *m);
void cmd_redact(struct client *c, struct ircmsg *m);
void cmd_info(struct client *c, struct ircmsg *m);
/* METADATA (draft/metadata-2, cmd_metadata.c), and its hooks: after c's JOIN of name (the
 * subscribed values of the channel and its members), after the welcome (the empty batch of
 * c's own metadata), and as c's connection closes (its pairs go). */
void cmd_metadata(struct client *c, struct ircmsg *m);
void metadata_joined(struct client *c, const char *name);
void metadata_welcome(struct client *c);
void metadata_closing(struct client *c);
void cmd_admin(struct client *c, struct ircmsg *m);
/* 1 if c has user mode +o; else tells c so (481) and returns 0 (cmd_oper.c). */
int cmd_need_oper(struct client *c);
void cmd_links(struct client *c, struct ircmsg *m);
void cmd_stats(struct client *c, struct ircmsg *m);
void cmd_authenticate(struct client *c, struct ircmsg *m);
void cmd_register(struct client *c, struct ircmsg *m);
/* Completes registration if everything it waits for is there (cmd_reg.c). */
void reg_try(struct client *c);
/* The 005 ISUPPORT lines (in the welcome and after VERSION). */
void cmd_isupport(struct client *c);

#endif
