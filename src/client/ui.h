/* ui: the terminal. Full-screen on a terminal (tui.c: a window per channel and private
 * conversation); in line mode (--plain) a readline input line (callback interface) with output
 * printed above it without disturbing what is being typed; on a pipe, plain lines in and out
 * so the client can be scripted. Every line shown is timestamped and made terminal-safe. */
#ifndef TCPCHAT_CLIENT_UI_H
#define TCPCHAT_CLIENT_UI_H

#include <stddef.h>
#include <time.h>

/* Starts the UI on stdin/stdout with the given prompt: full-screen when fullscreen is asked
 * and both are terminals that curses can drive, else line mode. Returns 0, or -1 with a
 * reason. */
int ui_init(const char *prompt, int fullscreen, char *err, size_t errlen);
/* Restores the terminal. Safe to call more than once, and without ui_init. */
void ui_shutdown(void);
/* 1 when the input is a terminal (readline mode). */
int ui_is_tty(void);

/* Changes the input prompt (made terminal-safe here). */
void ui_set_prompt(const char *prompt);
/* Prints one line above the input line as "[HH:MM] text", the time being now. */
void ui_print(const char *text);
/* The same with the time the line is about (e.g. a message's server-time, in seconds since
 * the epoch), shown in local time; when is 0 means now. */
void ui_print_at(time_t when, const char *text);
void ui_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints a replayed line (history the server sent on JOIN) as "[HH:MM] [history] text",
 * with the date as well ("[2026-11-25 23:20]") when it is not from today; on a terminal the
 * stamp and the marker are dim. when is as for ui_print_at. missed: a message said while we
 * were disconnected, counted as unread in its full-screen window (alert: for us, the bell). */
void ui_print_history(time_t when, const char *text, int missed, int alert);

/* Reads what stdin has (call when poll says it is readable). Returns 0, or -1 on a read
 * error (end of input is not an error: it shows up as ui_next's end-of-input). */
int ui_read(void);
/* The terminal went away (hang-up without data): input is over, as at end of file. */
void ui_hangup(void);
/* 1 when a typed line (or the end of input) is ready for ui_next. */
int ui_pending(void);
/* Takes the next typed line: 1 with *line set (malloc'd, the caller frees it), 0 at end of
 * input (Ctrl-D, or the end of a pipe), -1 when no line is ready. */
int ui_next(char **line);
/* 1 once the end of input has been read (stdin need not be polled any more). */
int ui_input_closed(void);
/* What Tab completes: complete(text, at_start, state) returns the state-th (0, 1, ...) match
 * for the word text (at_start: it begins the line), malloc'd, or NULL after the last. Never
 * file names. */
typedef char *ui_complete_fn(const char *text, int at_start, int state);
void ui_set_completion(ui_complete_fn *complete);
/* A message from a person: as ui_print_at, and on a terminal the sender's nick (the nick_len
 * bytes at nick_off of text) in a colour of its own; with alert (a message for us) the line in
 * bold, and the bell. */
void ui_print_chat(time_t when, const char *text, size_t nick_off, size_t nick_len, int alert);
/* Clears the screen, keeping the prompt and the typed text (a terminal only). */
void ui_clear(void);
/* Call after SIGWINCH so readline redraws for the new width. */
void ui_resize(void);
/* Brings the screen up to date (full-screen mode draws once per turn of the main loop). */
void ui_flush(void);

/* --- windows: full-screen mode only; in line mode these do nothing ------------------------ */

/* 1 in full-screen mode. */
int ui_is_fullscreen(void);
/* What the UI asks of the session (all may be NULL): the user showed the window of name (a
 * channel, a nick, or "" for the status window); the index-th nick of channel for the nick
 * list (NULL after the last); the top of name's scrollback was reached (fetch older lines,
 * then ui_older_end). arg is passed back. */
struct ui_hooks {
    void (*switched)(const char *name, void *arg);
    const char *(*member)(const char *channel, int index, void *arg);
    void (*older)(const char *name, void *arg);
    void *arg;
};
void ui_set_hooks(const struct ui_hooks *hooks);
/* The window the lines printed from now on belong to (a channel or a nick, copied), NULL
 * for the one shown. With create, a window is opened for name when the first line comes. */
void ui_set_target(const char *name, int create);
/* Shows name's window (opened if need be): the session's current channel or query changed. */
void ui_set_current(const char *name);
/* channel's topic, for its topic line (made terminal-safe here). */
void ui_set_topic(const char *channel, const char *topic);
/* Shows window n (1 is the status window). Returns 0, or -1 when there is none. */
int ui_window(int n);
/* Full-screen: closes name's window. Returns 0, or -1 when there is none (or no windows). */
int ui_close_window(const char *name);
/* Shows or hides the nick list. */
void ui_toggle_nicklist(void);
/* Older lines of name follow (an answer to hooks.older): they go above what its window holds,
 * in their order, until ui_older_end; lines is how many came (0: there are no more). */
void ui_older_begin(const char *name);
void ui_older_end(const char *name, unsigned lines);
/* Full-screen: name's window is to's from now on (a nick change of the other person of a
 * private conversation); nothing when there is none, or to has one already. */
void ui_rename_window(const char *name, const char *to);
/* Who we are on the status line: text is our nick with its user modes ("alice(+i)"); away
 * adds the away mark. */
void ui_set_self(const char *text, int away);
/* channel's modes ("+nt", "" unknown) for its topic line. */
void ui_set_modes(const char *channel, const char *modes);
/* Full-screen: the shown window's lines that hold text (in any case) are shown again at its
 * end, under a header saying how many. */
void ui_lastlog(const char *text);
/* The state of the connection on the status line ("disconnected", "reconnecting in 4 s"); NULL
 * or "" when it is up. */
void ui_set_note(const char *note);

#endif
