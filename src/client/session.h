/* session: the client's side of one IRC connection (registration, nickname, channels, quit).
 * It never touches the socket: lines from the server come in through session_handle_line,
 * typed lines through session_handle_input, and what to send waits in an output buffer that
 * main writes out. What the user should see goes to the ui module. */
#ifndef TCPCHAT_CLIENT_SESSION_H
#define TCPCHAT_CLIENT_SESSION_H

#include <stddef.h>

/* Longest password for a SASL login, NUL included (SASL PLAIN itself has no limit; the
 * server's AUTHENTICATE takes the payload in 400-byte pieces). */
#define SESSION_PASSWORD_MAX 1024

enum session_state {
    SESSION_RUNNING,
    SESSION_RECONNECT, /* the connection was lost: main connects again, then session_restart */
    SESSION_QUITTING,  /* QUIT sent; waiting for the server to close the connection */
    SESSION_DONE,      /* finished as the user asked: exit status 0 */
    SESSION_FAILED,    /* finished on an error: session_error says why, exit status 1 */
};

struct session;

/* A session that will register as nick. Returns NULL on allocation failure. */
struct session *session_new(const char *nick);
void session_free(struct session *s);
/* Sends PASS password (the server's own password) first when registering (copied). Returns 0,
 * or -1 when it is empty, too long or holds a line break. */
int session_set_server_password(struct session *s, const char *password);
/* Tab completes nicks of the current channel and command names for s (after ui_init); in
 * full-screen mode s also follows the window shown, lists the nick list and fetches older
 * history when a window's scrollback reaches its top (ui_set_hooks). */
void session_enable_completion(struct session *s);
/* Log in with SASL PLAIN as the nick given to session_new, with this password (copied; the
 * copy is kept for logging in again after a reconnect, and wiped by session_free). Without the
 * server's sasl capability, or when the login fails, the session fails: the password is never sent
 * another way. Call before session_start. Returns 0, or -1 when the password is empty or
 * SESSION_PASSWORD_MAX bytes or longer. */
int session_set_password(struct session *s, const char *password);

/* Queues the registration (NICK, USER). Returns 0, or -1 if the output buffer is full. */
int session_start(struct session *s);
/* With on, a lost connection (after registering once) is not the end: the session goes to
 * SESSION_RECONNECT instead of failing. Off by default. */
void session_set_reconnect(struct session *s, int on);
/* On a new connection after SESSION_RECONNECT: forgets the old connection's state, keeps the
 * channels, the private conversation shown, /ignore and the passwords, and queues the
 * registration again; once registered, it rejoins the channels and asks each for what was
 * said since the last message seen (CHATHISTORY AFTER). Returns as session_start. */
int session_restart(struct session *s);
/* After SESSION_RECONNECT: 1 when the user asked for another server (/server), named by
 * *host and *port (valid until the next call); main connects there at once. 0: the same
 * server again, after the usual wait. */
int session_take_server(struct session *s, const char **host, const char **port);
/* The server of the last /server could not be reached: the password of the one before it
 * is sent again (main connects back there). */
void session_server_back(struct session *s);
/* Keepalive: sends a PING the server must answer (its PONG is not shown). */
void session_keepalive(struct session *s);
/* One line from the server, without CR LF (parsed in place). */
void session_handle_line(struct session *s, char *line);
/* One line the user typed; NULL at the end of input (which quits). */
void session_handle_input(struct session *s, const char *line);
/* Sends QUIT (with reason, or none when NULL) and starts waiting for the server to close.
 * With echo-message, while our last messages have not come back yet, the QUIT is held until
 * they do (so they are shown), or until session_release_quit. */
void session_quit(struct session *s, const char *reason);
/* 1 while a QUIT is held back waiting for echoes. */
int session_quit_held(const struct session *s);
/* Sends a held QUIT now: the echoes are taking too long. */
void session_release_quit(struct session *s);
/* The connection ended (EOF, or an error when why is not NULL). */
void session_closed(struct session *s, const char *why);

/* 1 when typed lines should be read now. Not before registration completes and the
 * default channel is known (so a script's first line does not go nowhere), not while a
 * JOIN is unanswered, not after QUIT: meanwhile typed lines wait in the input. */
int session_wants_input(const struct session *s);
enum session_state session_state(const struct session *s);
/* 1 once this connection's registration is complete (001). */
int session_registered(const struct session *s);
/* Why the session failed (for "tcpchat: <reason>" on stderr); "" if it did not. */
const char *session_error(const struct session *s);

/* Bytes waiting to be sent, and how many of them were written. */
const char *session_output(const struct session *s, size_t *len);
void session_output_done(struct session *s, size_t n);

#endif
