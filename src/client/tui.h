/* tui: the full-screen terminal UI on ncursesw, behind ui.c's API: a window per channel and
 * per private conversation (window 1 holds the server's lines), each with its own scrollback;
 * a topic line at the top, a status line with every window's activity, an optional nick list,
 * and an input line with history, emacs keys and Tab completion. Main thread only. */
#ifndef TCPCHAT_CLIENT_TUI_H
#define TCPCHAT_CLIENT_TUI_H

#include <stddef.h>

#include "ui.h"

/* Scrollback lines kept per window; the oldest go first. */
#define TUI_SCROLLBACK_MAX 5000
/* Windows at most (status included); lines for more go to the status window. */
#define TUI_WINDOWS_MAX 64
/* Typed lines remembered for Up and Down. */
#define TUI_HISTORY_MAX 500

/* Receives each line typed (Enter), UTF-8 without line break. */
typedef void tui_line_fn(const char *line);

/* Takes over the terminal (stdin, stdout). Returns 0, or -1 with a reason when curses cannot
 * drive it (the caller falls back to line mode). */
int tui_init(const char *prompt, tui_line_fn *on_line, char *err, size_t errlen);
/* Gives the terminal back as it was. Safe to call more than once. */
void tui_shutdown(void);
/* prompt: terminal-safe text. */
void tui_set_prompt(const char *prompt);
/* One line for the target window (tui_set_target): text is terminal-safe apart from the SGR
 * sequences ui.c itself puts in (colours, bold, dim, ...), which become curses attributes.
 * chat: a message from a person (counted as unread in a window not shown); alert: one for us
 * (marked on the status line, and the bell when its window is not shown). */
void tui_print(const char *text, int chat, int alert);
void tui_set_target(const char *name, int create);
void tui_set_current(const char *name);
void tui_set_topic(const char *channel, const char *topic);
int tui_window(int n);
/* Closes name's window (not the status window); the one before it is shown if it was.
 * Returns 0, or -1 when there is none. */
int tui_close(const char *name);
void tui_toggle_nicklist(void);
void tui_set_hooks(const struct ui_hooks *hooks);
void tui_set_completion(ui_complete_fn *complete);
void tui_older_begin(const char *name);
void tui_older_end(const char *name, unsigned lines);
void tui_rename(const char *name, const char *to);
/* The shown window's lines holding text (ASCII case ignored) again at its end. */
void tui_lastlog(const char *text);
/* text, modes: terminal-safe. */
void tui_set_self(const char *text, int away);
void tui_set_modes(const char *channel, const char *modes);
/* note: terminal-safe text shown at the end of the status line, "" for none. */
void tui_set_note(const char *note);
/* Handles the keys waiting on stdin. Returns 1 at the end of input (Ctrl-D on an empty
 * line), else 0. */
int tui_read(void);
void tui_clear(void);
/* The terminal's size changed (SIGWINCH). */
void tui_resize(void);
/* Redraws what changed since the last call. */
void tui_flush(void);

#endif
