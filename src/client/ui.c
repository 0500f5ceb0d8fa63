/* ui: the full-screen UI (tui.c) on a terminal by default, readline's callback interface on a
 * terminal in line mode, plain line I/O on a pipe. In line mode:
 * Printing while the user types: save the typed text and cursor, blank the input line, print,
 * then put the prompt and the text back (readline redraws only what changed). Enter is bound
 * to our own accept function, which takes the text and clears the input line in place, so a
 * sent line is shown once (as the echo above the prompt), not twice. */
#include "ui.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "cmd.h"
#include "common/ircname.h"
#include "common/linebuf.h"
#include "tui.h"
#include "view.h"

/* Bytes read from a piped stdin per read(2). */
#define UI_READ_CHUNK 4096
/* Piped input: longest line accepted, and what may be buffered before it is taken. */
#define UI_PIPE_LINE_MAX CMD_INPUT_MAX
#define UI_PIPE_BUF_MAX  (2 * CMD_INPUT_MAX)
/* "[HH:MM] " or "[YYYY-MM-DD HH:MM] "; then the room for that, the history marker and its
 * dim on/off escapes */
#define UI_STAMP_MAX  32
#define UI_HEAD_MAX   64
#define UI_PROMPT_MAX 256
/* What tells a replayed line from a live one, in any terminal or log. */
#define UI_HISTORY_MARK "[history] "
/* SGR faint and reset (ECMA-48 8.3.117): the marker of a replayed line, on a terminal only. */
#define UI_DIM_ON  "\033[2m"
#define UI_DIM_OFF "\033[0m"
/* A chat line on a terminal: the sender's nick in one of six colours (SGR 31-36, chosen by
 * the nick, so a person keeps theirs), back to the default colour (39) after it; a line for us
 * in bold (1) to its end (0), with the bell (BEL) after it. */
#define UI_NICK_COLOURS  6
#define UI_NICK_COLOUR_0 31
#define UI_COLOUR_OFF    "\033[39m"
#define UI_BOLD_ON       "\033[1m"
#define UI_BOLD_OFF      "\033[0m"
#define UI_BELL          '\a'

/* Lines typed but not yet taken by ui_next. A paste can bring several at once. */
struct line_queue {
    char **items;
    size_t head;
    size_t count;
    size_t cap;
};

/* The UI is a process-wide singleton: readline itself is one. Used only by the main thread. */
static struct {
    int started;
    int tty;      /* a terminal: readline mode, or full-screen with full */
    int full;     /* full-screen mode (tui.c) */
    int eof;      /* end of input read */
    int eof_seen; /* ui_next has reported it */
    struct line_queue queue;
    struct linebuf in; /* pipe mode */
} ui;

static int queue_push(struct line_queue *q, char *line)
{
    if (q->count == q->cap) {
        size_t ncap = q->cap ? q->cap * 2 : 4;
        char **n = realloc(q->items, ncap * sizeof *n);
        if (!n)
            return -1;
        q->items = n;
        q->cap = ncap;
    }
    q->items[q->count++] = line;
    return 0;
}

static char *queue_pop(struct line_queue *q)
{
    if (q->head == q->count)
        return NULL;
    char *line = q->items[q->head++];
    if (q->head == q->count)
        q->head = q->count = 0;
    return line;
}

static void queue_free(struct line_queue *q)
{
    char *line;
    while ((line = queue_pop(q)))
        free(line);
    free(q->items);
    memset(q, 0, sizeof *q);
}

/* Queues each line of text (a bracketed paste may hold several). */
static void queue_text(const char *text)
{
    const char *p = text;
    for (;;) {
        size_t n = strcspn(p, "\r\n");
        char *line = strndup(p, n);
        if (!line || queue_push(&ui.queue, line) < 0) {
            free(line);
            ui_print("Out of memory: typed line dropped.");
            return;
        }
        p += n;
        if (!*p)
            return;
        p += (p[0] == '\r' && p[1] == '\n') ? 2 : 1;
        if (!*p)
            return;
    }
}

/* Bound to Enter: take the line, clear the input in place, keep it in the history. */
static int on_accept(int count, int key)
{
    (void)count;
    (void)key;
    char *text = rl_copy_text(0, rl_end);
    if (!text)
        return 0;
    rl_replace_line("", 1);
    rl_point = 0;
    rl_redisplay();
    if (*text) {
        add_history(text);
        using_history();
        queue_text(text);
    }
    free(text);
    return 0;
}

/* Tab: words of the chat (nicks, commands) as the session says, never readline's default of
 * file names from the working directory (which could leak into a message). */
static ui_complete_fn *completer;
static int completing_at_start;

void ui_set_completion(ui_complete_fn *complete)
{
    completer = complete;
    tui_set_completion(complete);
}

static char *complete_word(const char *text, int state)
{
    return completer ? completer(text, completing_at_start, state) : NULL;
}

static char **attempt_completion(const char *text, int start, int end)
{
    (void)end;
    rl_attempted_completion_over = 1; /* no file names, whatever matches */
    completing_at_start = start == 0;
    rl_completion_append_character = ' ';
    return rl_completion_matches(text, complete_word);
}

/* readline calls this only at end of input (Ctrl-D on an empty line): Enter is ours. */
static void on_line(char *line)
{
    if (!line) {
        ui.eof = 1;
        return;
    }
    queue_text(line);
    free(line);
}

static void stamp(time_t when, char *out, size_t cap)
{
    struct tm tm;
    if (when == 0)
        when = time(NULL);
    if (!localtime_r(&when, &tm) || strftime(out, cap, "[%H:%M] ", &tm) == 0)
        snprintf(out, cap, "[--:--] ");
}

/* The stamp of a replayed line: the date too when when is not today (local time). */
static void stamp_dated(time_t when, char *out, size_t cap)
{
    struct tm tm, today;
    time_t now = time(NULL);
    if (when == 0)
        when = now;
    if (!localtime_r(&when, &tm) || !localtime_r(&now, &today)) {
        snprintf(out, cap, "[--:--] ");
        return;
    }
    const char *fmt = tm.tm_year == today.tm_year && tm.tm_yday == today.tm_yday
                          ? "[%H:%M] "
                          : "[%Y-%m-%d %H:%M] ";
    if (strftime(out, cap, fmt, &tm) == 0)
        snprintf(out, cap, "[--:--] ");
}

int ui_init(const char *prompt, int fullscreen, char *err, size_t errlen)
{
    memset(&ui, 0, sizeof ui);
    ui.tty = isatty(STDIN_FILENO);
    if (ui.tty && fullscreen && isatty(STDOUT_FILENO)) {
        char safe[UI_PROMPT_MAX], why[UI_PROMPT_MAX];
        view_sanitize(prompt, safe, sizeof safe);
        /* A terminal curses cannot drive still has the line mode. */
        if (tui_init(safe, queue_text, why, sizeof why) == 0) {
            ui.full = 1;
            ui.started = 1;
            return 0;
        }
    }
    if (!ui.tty) {
        if (linebuf_init(&ui.in, UI_PIPE_LINE_MAX, UI_PIPE_BUF_MAX) < 0) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        ui.started = 1;
        return 0;
    }
    /* Signals are ours: readline would only see them while inside its own calls. */
    rl_catch_signals = 0;
    rl_catch_sigwinch = 0;
    rl_instream = stdin;
    rl_outstream = stdout;
    rl_readline_name = "tcpchat";
    rl_attempted_completion_function = attempt_completion;
    rl_completion_entry_function = complete_word;
    /* Nicks may hold []\`^{|}: only blanks end a word. */
    rl_basic_word_break_characters = " \t";
    char safe[UI_PROMPT_MAX];
    view_sanitize(prompt, safe, sizeof safe);
    rl_callback_handler_install(safe, on_line);
    /* After install: that is when readline reads ~/.inputrc, which must not win over this. */
    rl_bind_key_in_map('\r', on_accept, emacs_standard_keymap);
    rl_bind_key_in_map('\n', on_accept, emacs_standard_keymap);
    rl_bind_key_in_map('\r', on_accept, vi_insertion_keymap);
    rl_bind_key_in_map('\n', on_accept, vi_insertion_keymap);
    rl_bind_key_in_map('\r', on_accept, vi_movement_keymap);
    rl_bind_key_in_map('\n', on_accept, vi_movement_keymap);
    using_history();
    ui.started = 1;
    (void)err;
    (void)errlen;
    return 0;
}

void ui_shutdown(void)
{
    if (!ui.started)
        return;
    if (ui.full) {
        tui_shutdown();
    } else if (ui.tty) {
        /* Leave the cursor at the start of an empty line for the shell's prompt. */
        rl_set_prompt("");
        rl_replace_line("", 1);
        rl_redisplay();
        rl_callback_handler_remove();
        clear_history();
        fflush(stdout);
    } else {
        linebuf_free(&ui.in);
        fflush(stdout);
    }
    queue_free(&ui.queue);
    ui.started = 0;
}

int ui_is_tty(void)
{
    return ui.tty;
}

/* Hides the input line, prints text (if any) in its place, optionally changes the prompt,
 * then shows the prompt and the typed text again with the cursor where it was. */
static void with_input_hidden(const char *text, const char *new_prompt)
{
    int point = rl_point;
    char *saved = rl_copy_text(0, rl_end);
    rl_save_prompt();
    rl_replace_line("", 0);
    rl_redisplay();
    if (text) {
        fputs(text, stdout);
        fputc('\n', stdout);
    }
    rl_restore_prompt();
    if (new_prompt)
        rl_set_prompt(new_prompt);
    rl_replace_line(saved ? saved : "", 0);
    rl_point = point <= rl_end ? point : rl_end;
    rl_redisplay();
    fflush(stdout);
    free(saved);
}

void ui_set_prompt(const char *prompt)
{
    if (!ui.started || !ui.tty)
        return;
    char safe[UI_PROMPT_MAX];
    view_sanitize(prompt, safe, sizeof safe);
    if (ui.full)
        tui_set_prompt(safe);
    else
        with_input_hidden(NULL, safe);
}

/* One finished line on a terminal: into its window, or above readline's input line. */
static void show_line(const char *line, int chat, int alert)
{
    if (ui.full) {
        tui_print(line, chat, alert);
        return;
    }
    with_input_hidden(line, NULL);
    if (alert) {
        fputc(UI_BELL, stdout);
        fflush(stdout);
    }
}

void ui_print(const char *text)
{
    ui_print_at(0, text);
}

/* Prints head (ours: a stamp, perhaps escapes) and text (made safe) as one line. */
static void print_line_marked(const char *head, const char *text, int chat, int alert);

static void print_line(const char *head, const char *text)
{
    print_line_marked(head, text, 0, 0);
}

/* As print_line; on a terminal, chat and alert as for show_line. */
static void print_line_marked(const char *head, const char *text, int chat, int alert)
{
    char line[VIEW_LINE_MAX + UI_HEAD_MAX];
    snprintf(line, sizeof line, "%s", head);
    size_t n = strlen(line);
    /* The last line of defence: nothing printed here can carry an escape sequence. */
    view_sanitize(text, line + n, sizeof line - n);
    if (ui.started && ui.tty) {
        show_line(line, chat, alert);
    } else {
        fputs(line, stdout);
        fputc('\n', stdout);
        fflush(stdout);
    }
}

void ui_print_at(time_t when, const char *text)
{
    char head[UI_HEAD_MAX];
    stamp(when, head, sizeof head);
    print_line(head, text);
}

void ui_print_chat(time_t when, const char *text, size_t nick_off, size_t nick_len, int alert)
{
    size_t len = strlen(text);
    if (!ui.started || !ui.tty || nick_off + nick_len > len || nick_len >= IRC_LINE_MAX) {
        ui_print_at(when, text);
        return;
    }
    /* Three parts, each made safe on its own: what comes before the nick and the message
     * after it (mIRC formatting rendered, each ending in a reset), and the nick (plain). */
    char raw[VIEW_LINE_MAX], before[VIEW_LINE_MAX], nick[IRC_LINE_MAX], after[VIEW_LINE_MAX];
    snprintf(raw, sizeof raw, "%.*s", (int)nick_off, text);
    view_render(raw, before, sizeof before);
    snprintf(raw, sizeof raw, "%.*s", (int)nick_len, text + nick_off);
    view_sanitize(raw, nick, sizeof nick);
    view_render(text + nick_off + nick_len, after, sizeof after);
    unsigned h = 0;
    for (const char *p = nick; *p; p++)
        h = h * 31 + ircname_fold_char((unsigned char)*p);
    const char *bold = alert ? UI_BOLD_ON : "";
    char head[UI_HEAD_MAX], line[2 * VIEW_LINE_MAX + IRC_LINE_MAX + 2 * UI_HEAD_MAX];
    stamp(when, head, sizeof head);
    snprintf(line, sizeof line, "%s%s%s%s\033[%um%s" UI_COLOUR_OFF "%s%s%s", head, bold, before,
             bold, UI_NICK_COLOUR_0 + h % UI_NICK_COLOURS, nick, bold, after,
             alert ? UI_BOLD_OFF : "");
    show_line(line, 1, alert);
}

void ui_print_history(time_t when, const char *text, int missed, int alert)
{
    char when_text[UI_STAMP_MAX], head[UI_HEAD_MAX];
    stamp_dated(when, when_text, sizeof when_text);
    int tty = ui.started && ui.tty;
    snprintf(head, sizeof head, "%s%s%s%s", tty ? UI_DIM_ON : "", when_text, UI_HISTORY_MARK,
             tty ? UI_DIM_OFF : "");
    print_line_marked(head, text, missed, alert);
}

void ui_printf(const char *fmt, ...)
{
    char text[VIEW_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    ui_print(text);
}

static int read_pipe(void)
{
    size_t avail;
    char *space = linebuf_space(&ui.in, &avail);
    if (!space)
        return 0; /* full of lines not yet taken: ui_next drains them first */
    ssize_t n = read(STDIN_FILENO, space, avail);
    if (n < 0)
        return errno == EINTR || errno == EAGAIN ? 0 : -1;
    if (n == 0) {
        ui.eof = 1;
        return 0;
    }
    linebuf_commit(&ui.in, (size_t)n);
    return 0;
}

void ui_hangup(void)
{
    ui.eof = 1;
}

int ui_read(void)
{
    if (!ui.started || ui.eof)
        return 0;
    if (!ui.tty)
        return read_pipe();
    if (ui.full) {
        if (tui_read())
            ui.eof = 1;
        return 0;
    }
    rl_callback_read_char();
    return 0;
}

/* Moves complete piped lines into the queue. */
static void pipe_collect(void)
{
    char *line;
    size_t len;
    int rc;
    while ((rc = linebuf_next(&ui.in, &line, &len)) != LINEBUF_NONE) {
        if (rc == LINEBUF_TOOLONG) {
            ui_printf("Input line longer than %d bytes dropped.", UI_PIPE_LINE_MAX);
            continue;
        }
        char *copy = strndup(line, len);
        if (!copy || queue_push(&ui.queue, copy) < 0) {
            free(copy);
            ui_print("Out of memory: input line dropped.");
        }
    }
    /* A last line without a terminator still counts. */
    if (ui.eof && linebuf_pending(&ui.in) > 0) {
        char *tail = strndup(ui.in.data + ui.in.start, linebuf_pending(&ui.in));
        ui.in.start = ui.in.len = 0;
        if (tail && queue_push(&ui.queue, tail) < 0)
            free(tail);
    }
}

int ui_pending(void)
{
    if (!ui.started)
        return 0;
    if (!ui.tty)
        pipe_collect();
    return ui.queue.head < ui.queue.count || (ui.eof && !ui.eof_seen);
}

int ui_next(char **line)
{
    if (!ui_pending())
        return -1;
    *line = queue_pop(&ui.queue);
    if (*line)
        return 1;
    ui.eof_seen = 1;
    return 0;
}

int ui_input_closed(void)
{
    return ui.eof;
}

void ui_clear(void)
{
    /* readline clears with the terminal's own sequence (terminfo "clear") and redraws the
     * prompt and the typed text; a pipe has no screen to clear. */
    if (ui.started && ui.full)
        tui_clear();
    else if (ui.started && ui.tty)
        rl_clear_screen(0, 0);
}

void ui_resize(void)
{
    if (ui.started && ui.full)
        tui_resize();
    else if (ui.started && ui.tty)
        rl_resize_terminal();
}

void ui_flush(void)
{
    if (ui.started && ui.full)
        tui_flush();
}

int ui_is_fullscreen(void)
{
    return ui.started && ui.full;
}

void ui_set_hooks(const struct ui_hooks *hooks)
{
    tui_set_hooks(hooks);
}

void ui_set_target(const char *name, int create)
{
    if (ui.full)
        tui_set_target(name, create);
}

void ui_set_current(const char *name)
{
    if (ui.full)
        tui_set_current(name);
}

void ui_set_topic(const char *channel, const char *topic)
{
    char safe[VIEW_LINE_MAX];
    if (!ui.full)
        return;
    view_sanitize(topic, safe, sizeof safe);
    tui_set_topic(channel, safe);
}

int ui_window(int n)
{
    return ui.full ? tui_window(n) : -1;
}

int ui_close_window(const char *name)
{
    return ui.full ? tui_close(name) : -1;
}

void ui_toggle_nicklist(void)
{
    if (ui.full)
        tui_toggle_nicklist();
}

void ui_older_begin(const char *name)
{
    if (ui.full)
        tui_older_begin(name);
}

void ui_older_end(const char *name, unsigned lines)
{
    if (ui.full)
        tui_older_end(name, lines);
}

void ui_rename_window(const char *name, const char *to)
{
    if (ui.full)
        tui_rename(name, to);
}

void ui_set_self(const char *text, int away)
{
    char safe[VIEW_LINE_MAX];
    if (!ui.full)
        return;
    view_sanitize(text, safe, sizeof safe);
    tui_set_self(safe, away);
}

void ui_set_modes(const char *channel, const char *modes)
{
    char safe[VIEW_LINE_MAX];
    if (!ui.full)
        return;
    view_sanitize(modes, safe, sizeof safe);
    tui_set_modes(channel, safe);
}

void ui_lastlog(const char *text)
{
    char safe[VIEW_LINE_MAX];
    if (!ui.full)
        return;
    view_sanitize(text, safe, sizeof safe);
    tui_lastlog(safe);
}

void ui_set_note(const char *note)
{
    char safe[VIEW_LINE_MAX];
    if (!ui.full)
        return;
    view_sanitize(note ? note : "", safe, sizeof safe);
    tui_set_note(safe);
}
