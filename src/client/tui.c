/* tui: the full-screen UI on ncursesw. The screen, top to bottom: the topic line, the shown
 * window's lines (with the nick list at the right when it is on), the status line, the input
 * line. Everything is drawn again from the model (windows, input) when something changed, once
 * per turn of the main loop (tui_flush); curses sends only the difference to the terminal.
 *
 * The input line is a small editor of our own on curses' get_wch, not readline's callback
 * interface: curses owns the terminal and decodes its keys (PgUp, F2, Alt-N, resizes), and
 * readline would read the same bytes with a key decoder of its own, bind Alt-digits, Ctrl-N/P
 * and the page keys to other things, and need its redisplay replaced by a hook anyway. The
 * emacs keys of the line mode are few, and all here: Ctrl-A/E/B/F/K/U/W/D/H, the arrows, Home,
 * End, Delete, Up/Down through the history, Tab for the session's completion. */
#include "tui.h"

#include <curses.h>
#include <locale.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#include "cmd.h"
#include "common/ircname.h"
#include "view.h"

/* A window's name: a channel or a nick (the longest a chathistory batch target can be). */
#define TUI_NAME_MAX  256
#define TUI_TOPIC_MAX 1024
/* The status line's text, and the prompt. */
#define TUI_STATUS_MAX 2048
#define TUI_PROMPT_MAX 256
#define TUI_NOTE_MAX   128
/* The nick list's width (a separator column included), shown only when the screen is at
 * least twice as wide. */
#define TUI_NICKLIST_WIDTH 18
/* Line slots a window starts with (doubled as it fills). */
#define TUI_LINES_FIRST 64
/* The smallest screen drawn; below it only a note. */
#define TUI_MIN_ROWS 4
#define TUI_MIN_COLS 20
/* Columns kept for typing: a prompt that leaves fewer is not shown. */
#define TUI_INPUT_MIN 10
/* Rows that are not the shown window's lines: topic, status, input. */
#define TUI_CHROME_ROWS 3
/* How long an ESC waits for the rest of a key (Alt-1 comes as ESC '1'). */
#define TUI_ESCDELAY_MS 25
#define TUI_STATUS_NAME "status"
/* The status line's mark of being away (irssi's). */
#define TUI_AWAY_MARK "(zZzZ)"
/* Keys as get_wch gives them without keypad decoding. */
#define TUI_CTRL(c) ((c)&0x1f)
#define TUI_KEY_ESC 27
#define TUI_KEY_DEL 127
/* /lastlog shows at most this many lines (the newest that match). */
#define TUI_LASTLOG_MAX 200
/* Alt-Left and Alt-Right as xterm sends them (modifier 3: Alt), and the key codes we give
 * them when the terminal's description has none (past curses' own). */
#define TUI_ALT_LEFT_SEQ  "\033[1;3D"
#define TUI_ALT_RIGHT_SEQ "\033[1;3C"
#define TUI_KEY_ALT_LEFT  (KEY_MAX + 1)
#define TUI_KEY_ALT_RIGHT (KEY_MAX + 2)
/* Window number of Alt-0. */
#define TUI_ALT0_WINDOW 10
/* The SGR parameters (ECMA-48 8.3.117) ui.c and view_render write, and what they become. */
#define SGR_RESET        0
#define SGR_BOLD         1
#define SGR_DIM          2
#define SGR_ITALIC       3
#define SGR_UNDERLINE    4
#define SGR_REVERSE      7
#define SGR_FG_FIRST     30
#define SGR_FG_DEFAULT   39
#define SGR_BG_FIRST     40
#define SGR_BG_DEFAULT   49
#define SGR_FG_BRIGHT    90
#define SGR_BG_BRIGHT    100
#define SGR_COLOURS      8 /* per range: 30-37, 90-97, ... */
#define SGR_PARAM_MAX    1000
#define TUI_COLOURS      16 /* the 8 colours and their bright forms */
#define TUI_COLOUR_DFLT  (-1)
#define TUI_COLOUR_SLOTS (TUI_COLOURS + 1) /* a colour or the default */
/* UTF-8 (RFC 3629): lead bytes and the bits they carry. */
#define UTF8_CONT_MASK 0x3f
#define UTF8_2_LEAD    0xc0
#define UTF8_3_LEAD    0xe0
#define UTF8_4_LEAD    0xf0
#define UTF8_ASCII_MAX 0x7f
#define UTF8_2_MAX     0x7ff
#define UTF8_3_MAX     0xffff
#define UTF8_CONT_BITS 6
#define UTF8_CONT      0x80
#define UTF8_BYTES_MAX 4
#define UTF8_2_BITS    0x1fU /* what a lead byte carries of the character */
#define UTF8_3_BITS    0x0fU
#define UTF8_4_BITS    0x07U

/* One window: a channel, a private conversation, or the status window (name ""). */
struct tui_window {
    char name[TUI_NAME_MAX];   /* as the server spells it, for finding the window */
    char label[TUI_NAME_MAX];  /* the same made terminal-safe, for showing */
    char topic[TUI_TOPIC_MAX]; /* terminal-safe */
    char modes[TUI_NOTE_MAX];  /* a channel's modes ("+nt"), terminal-safe; "" unknown */
    char **lines;              /* oldest first, each malloc'd */
    size_t nlines, cap;
    size_t scroll;   /* lines hidden below the view (0: the newest shown) */
    unsigned unread; /* messages from people since it was last shown */
    int mention;     /* one of them was for us */
    long older_at;   /* where older lines go while they come, -1 when none are */
    int older_asked; /* hooks.older called, tui_older_end not yet */
    int older_none;  /* the server had nothing older */
};

/* Text attributes as the SGR sequences so far set them. */
struct tui_style {
    attr_t attrs;
    int fg, bg; /* 0-15, or TUI_COLOUR_DFLT */
};

/* The UI is a singleton (curses is one). Main thread only. */
static struct {
    int started;
    SCREEN *screen;
    int dirty;
    tui_line_fn *on_line;
    struct ui_hooks hooks;
    ui_complete_fn *complete;
    struct tui_window win[TUI_WINDOWS_MAX];
    int nwin, active;
    char target[TUI_NAME_MAX]; /* where tui_print goes; "" with has_target 0: the shown one */
    int has_target, target_create;
    char prompt[TUI_PROMPT_MAX];
    wchar_t input[CMD_INPUT_MAX + 1];
    size_t len, point;
    char *history[TUI_HISTORY_MAX]; /* oldest first */
    int nhistory, hist_at;          /* hist_at == nhistory: the line being typed */
    char *hist_saved;               /* that line, while Up shows older ones */
    int tab_active;                 /* the last key was Tab: another Tab takes the next match */
    size_t tab_start;
    int tab_state, tab_at_start;
    char tab_prefix[CMD_INPUT_MAX * UTF8_BYTES_MAX + 1];
    int escape;                    /* ESC read: the next key is Alt-key */
    wchar_t killed[CMD_INPUT_MAX]; /* what Ctrl-U, Ctrl-W or Ctrl-K cut last, for Ctrl-Y */
    size_t nkilled;
    int key_alt_left, key_alt_right; /* curses' codes for Alt-Left and Alt-Right */
    int nicklist;
    char note[TUI_NOTE_MAX]; /* the connection's state on the status line, "" when up */
    char self[TUI_NOTE_MAX]; /* our nick and user modes, "" before we know them */
    int away;
    short pairs[TUI_COLOUR_SLOTS * TUI_COLOUR_SLOTS]; /* colour pair per (fg, bg), 0: none yet */
    short npairs;
} tui;

/* --- UTF-8 -------------------------------------------------------------------------------- */

/* Decodes the character at p (valid UTF-8: every line shown went through view_sanitize) into
 * *wc; returns its length. */
static size_t utf8_decode(const char *p, wchar_t *wc)
{
    const unsigned char *u = (const unsigned char *)p;
    if (u[0] <= UTF8_ASCII_MAX) {
        *wc = u[0];
        return 1;
    }
    size_t n = u[0] >= UTF8_4_LEAD ? 4 : u[0] >= UTF8_3_LEAD ? 3 : 2;
    unsigned v = u[0] & (n == 4 ? UTF8_4_BITS : n == 3 ? UTF8_3_BITS : UTF8_2_BITS);
    for (size_t i = 1; i < n; i++) {
        if ((u[i] & ~UTF8_CONT_MASK) != UTF8_CONT) {
            *wc = L'?';
            return i;
        }
        v = (v << UTF8_CONT_BITS) | (u[i] & UTF8_CONT_MASK);
    }
    *wc = (wchar_t)v;
    return n;
}

/* Encodes wc into out (room for UTF8_BYTES_MAX); returns the length. */
static size_t utf8_encode(wchar_t wc, char *out)
{
    unsigned v = (unsigned)wc;
    if (v <= UTF8_ASCII_MAX) {
        out[0] = (char)v;
        return 1;
    }
    size_t n = v <= UTF8_2_MAX ? 2 : v <= UTF8_3_MAX ? 3 : 4;
    static const unsigned char lead[] = {0, 0, UTF8_2_LEAD, UTF8_3_LEAD, UTF8_4_LEAD};
    for (size_t i = n - 1; i > 0; i--) {
        out[i] = (char)(UTF8_CONT | (v & UTF8_CONT_MASK));
        v >>= UTF8_CONT_BITS;
    }
    out[0] = (char)(lead[n] | v);
    return n;
}

/* input[from, to) as UTF-8 into out (cap >= (to - from) * UTF8_BYTES_MAX + 1). */
static void input_text(size_t from, size_t to, char *out)
{
    size_t o = 0;
    for (size_t i = from; i < to; i++)
        o += utf8_encode(tui.input[i], out + o);
    out[o] = '\0';
}

/* Replaces the input with text (UTF-8), the cursor at its end. */
static void input_set(const char *text)
{
    tui.len = 0;
    while (*text && tui.len < CMD_INPUT_MAX)
        text += utf8_decode(text, &tui.input[tui.len++]);
    tui.point = tui.len;
}

static int char_width(wchar_t wc)
{
    int w = wcwidth(wc);
    return w < 0 ? 1 : w; /* unknown to the locale: shown as '?' */
}

/* --- windows ------------------------------------------------------------------------------ */

static int window_find(const char *name)
{
    for (int i = 0; i < tui.nwin; i++)
        if (ircname_cmp(tui.win[i].name, name) == 0)
            return i;
    return -1;
}

/* name's window, opened when missing (the status window when there is no room). */
static int window_open(const char *name)
{
    int i = window_find(name);
    if (i >= 0)
        return i;
    if (tui.nwin == TUI_WINDOWS_MAX)
        return 0;
    struct tui_window *w = &tui.win[tui.nwin];
    memset(w, 0, sizeof *w);
    snprintf(w->name, sizeof w->name, "%s", name);
    view_sanitize(name, w->label, sizeof w->label);
    w->older_at = -1;
    tui.dirty = 1;
    return tui.nwin++;
}

static void window_add(struct tui_window *w, char *line)
{
    if (w->older_at < 0 && w->nlines == TUI_SCROLLBACK_MAX) {
        free(w->lines[0]);
        memmove(w->lines, w->lines + 1, (w->nlines - 1) * sizeof *w->lines);
        w->nlines--;
    }
    if (w->nlines == TUI_SCROLLBACK_MAX) {
        free(line); /* older lines past what we keep */
        return;
    }
    if (w->nlines == w->cap) {
        size_t ncap = w->cap ? w->cap * 2 : TUI_LINES_FIRST;
        char **n = realloc(w->lines, ncap * sizeof *n);
        if (!n) {
            free(line);
            return;
        }
        w->lines = n;
        w->cap = ncap;
    }
    if (w->older_at >= 0) {
        size_t at = (size_t)w->older_at++;
        memmove(w->lines + at + 1, w->lines + at, (w->nlines - at) * sizeof *w->lines);
        w->lines[at] = line;
        w->nlines++;
        return;
    }
    w->lines[w->nlines++] = line;
    if (w->scroll)
        w->scroll++; /* the view stays where the reader is */
}

/* Shows window i; tells the session when the user chose it. */
static void window_show(int i, int by_user)
{
    if (i < 0 || i >= tui.nwin)
        return;
    tui.active = i;
    tui.win[i].unread = 0;
    tui.win[i].mention = 0;
    tui.dirty = 1;
    if (by_user && tui.hooks.switched)
        tui.hooks.switched(tui.win[i].name, tui.hooks.arg);
}

void tui_set_target(const char *name, int create)
{
    tui.has_target = name != NULL;
    tui.target_create = create;
    snprintf(tui.target, sizeof tui.target, "%s", name ? name : "");
}

void tui_set_current(const char *name)
{
    if (!tui.started)
        return;
    int i = window_open(name);
    if (i != tui.active)
        window_show(i, 0);
}

void tui_set_topic(const char *channel, const char *topic)
{
    if (!tui.started)
        return;
    struct tui_window *w = &tui.win[window_open(channel)];
    snprintf(w->topic, sizeof w->topic, "%s", topic);
    tui.dirty = 1;
}

int tui_window(int n)
{
    if (n < 1 || n > tui.nwin)
        return -1;
    window_show(n - 1, 1);
    return 0;
}

int tui_close(const char *name)
{
    int i = name[0] ? window_find(name) : -1; /* never the status window */
    if (!tui.started || i <= 0)
        return -1;
    struct tui_window *w = &tui.win[i];
    for (size_t k = 0; k < w->nlines; k++)
        free(w->lines[k]);
    free(w->lines);
    memmove(&tui.win[i], &tui.win[i + 1], (size_t)(tui.nwin - i - 1) * sizeof tui.win[0]);
    tui.nwin--;
    if (tui.active > i)
        tui.active--;
    else if (tui.active == i) /* the one before it is shown, and becomes the current one */
        window_show(i - 1, 1);
    tui.dirty = 1;
    return 0;
}

void tui_rename(const char *name, const char *to)
{
    int i = name[0] ? window_find(name) : -1, j = window_find(to);
    if (!tui.started || i <= 0 || (j >= 0 && j != i))
        return;
    struct tui_window *w = &tui.win[i];
    snprintf(w->name, sizeof w->name, "%s", to);
    view_sanitize(to, w->label, sizeof w->label);
    tui.dirty = 1;
}

void tui_toggle_nicklist(void)
{
    tui.nicklist = !tui.nicklist;
    tui.dirty = 1;
}

void tui_set_hooks(const struct ui_hooks *hooks)
{
    tui.hooks = *hooks;
}

void tui_set_completion(ui_complete_fn *complete)
{
    tui.complete = complete;
}

void tui_older_begin(const char *name)
{
    int i = window_find(name);
    if (i >= 0)
        tui.win[i].older_at = 0;
}

void tui_older_end(const char *name, unsigned lines)
{
    int i = window_find(name);
    if (i < 0)
        return;
    struct tui_window *w = &tui.win[i];
    w->older_at = -1;
    w->older_asked = 0;
    if (lines == 0)
        w->older_none = 1;
    tui.dirty = 1;
}

void tui_set_self(const char *text, int away)
{
    snprintf(tui.self, sizeof tui.self, "%s", text);
    tui.away = away;
    tui.dirty = 1;
}

void tui_set_modes(const char *channel, const char *modes)
{
    if (!tui.started)
        return;
    int i = window_find(channel);
    if (i < 0)
        return;
    snprintf(tui.win[i].modes, sizeof tui.win[i].modes, "%s", modes);
    tui.dirty = 1;
}

void tui_set_note(const char *note)
{
    if (strcmp(tui.note, note) == 0)
        return;
    snprintf(tui.note, sizeof tui.note, "%s", note);
    tui.dirty = 1;
}

void tui_print(const char *text, int chat, int alert)
{
    if (!tui.started)
        return;
    int i = tui.active;
    if (tui.has_target) {
        i = window_find(tui.target);
        if (i < 0)
            i = tui.target_create ? window_open(tui.target) : tui.active;
    }
    char *copy = strdup(text);
    if (!copy)
        return;
    struct tui_window *w = &tui.win[i];
    window_add(w, copy);
    if (i != tui.active && w->older_at < 0) {
        w->unread += chat != 0;
        if (alert) {
            w->mention = 1;
            beep(); /* a message for us where we are not looking */
        }
    }
    tui.dirty = 1;
}

/* line without the SGR sequences ui.c put in, into out (cap > 0). */
static void plain_text(const char *line, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = line; *p && o + 1 < cap;) {
        if (p[0] == '\033' && p[1] == '[') {
            size_t n = strspn(p + 2, "0123456789;");
            p += 2 + n + (p[2 + n] == 'm');
            continue;
        }
        out[o++] = *p++;
    }
    out[o] = '\0';
}

void tui_lastlog(const char *text)
{
    if (!tui.started)
        return;
    struct tui_window *w = &tui.win[tui.active];
    size_t end = w->nlines, found = 0, from = end;
    static char plain[VIEW_LINE_MAX * 2]; /* main thread only */
    /* The newest TUI_LASTLOG_MAX matches: find where they start, then copy them in order. */
    while (from > 0 && found < TUI_LASTLOG_MAX) {
        plain_text(w->lines[--from], plain, sizeof plain);
        found += strcasestr(plain, text) != NULL;
    }
    /* Copied before any is added: adding to a full window drops its oldest line. */
    char *copies[TUI_LASTLOG_MAX];
    size_t ncopies = 0;
    for (size_t i = from; i < end && ncopies < found; i++) {
        plain_text(w->lines[i], plain, sizeof plain);
        if (strcasestr(plain, text) && (copies[ncopies] = strdup(w->lines[i])) != NULL)
            ncopies++;
    }
    char head[TUI_STATUS_MAX];
    snprintf(head, sizeof head, "--- lastlog: %zu line%s holding \"%s\"%s", found,
             found == 1 ? "" : "s", text, found == TUI_LASTLOG_MAX ? " (the newest)" : "");
    char *copy = strdup(head);
    if (copy)
        window_add(w, copy);
    for (size_t i = 0; i < ncopies; i++)
        window_add(w, copies[i]);
    w->scroll = 0;
    tui.dirty = 1;
}

/* --- drawing ------------------------------------------------------------------------------ */

static void style_reset(struct tui_style *st)
{
    st->attrs = A_NORMAL;
    st->fg = st->bg = TUI_COLOUR_DFLT;
}

/* One SGR sequence's parameters ("0;1;91"). */
static void style_apply(struct tui_style *st, const char *p, size_t len)
{
    const char *end = p + len;
    for (;;) {
        int v = 0;
        while (p < end && *p >= '0' && *p <= '9') {
            if (v < SGR_PARAM_MAX)
                v = v * 10 + (*p - '0');
            p++;
        }
        if (v == SGR_RESET)
            style_reset(st);
        else if (v == SGR_BOLD)
            st->attrs |= A_BOLD;
        else if (v == SGR_DIM)
            st->attrs |= A_DIM;
        else if (v == SGR_ITALIC)
            st->attrs |= A_ITALIC;
        else if (v == SGR_UNDERLINE)
            st->attrs |= A_UNDERLINE;
        else if (v == SGR_REVERSE)
            st->attrs |= A_REVERSE;
        else if (v >= SGR_FG_FIRST && v < SGR_FG_FIRST + SGR_COLOURS)
            st->fg = v - SGR_FG_FIRST;
        else if (v >= SGR_FG_BRIGHT && v < SGR_FG_BRIGHT + SGR_COLOURS)
            st->fg = v - SGR_FG_BRIGHT + SGR_COLOURS;
        else if (v == SGR_FG_DEFAULT)
            st->fg = TUI_COLOUR_DFLT;
        else if (v >= SGR_BG_FIRST && v < SGR_BG_FIRST + SGR_COLOURS)
            st->bg = v - SGR_BG_FIRST;
        else if (v >= SGR_BG_BRIGHT && v < SGR_BG_BRIGHT + SGR_COLOURS)
            st->bg = v - SGR_BG_BRIGHT + SGR_COLOURS;
        else if (v == SGR_BG_DEFAULT)
            st->bg = TUI_COLOUR_DFLT;
        /* strikethrough (9) has no curses attribute: the text shows plain */
        if (p >= end)
            return;
        p++; /* ';' */
    }
}

/* The colour pair for fg on bg, made on first use; 0 (the terminal's default) when the
 * terminal has no colours or no pairs left. A bright colour on an 8-colour terminal is the
 * basic one in bold. */
static short colour_pair(int fg, int bg, attr_t *attrs)
{
    if (!has_colors() || (fg == TUI_COLOUR_DFLT && bg == TUI_COLOUR_DFLT))
        return 0;
    if (COLORS < TUI_COLOURS) {
        if (fg >= SGR_COLOURS) {
            fg -= SGR_COLOURS;
            *attrs |= A_BOLD;
        }
        if (bg >= SGR_COLOURS)
            bg -= SGR_COLOURS;
    }
    int slot = (fg + 1) * TUI_COLOUR_SLOTS + (bg + 1);
    if (!tui.pairs[slot]) {
        if (tui.npairs + 1 >= COLOR_PAIRS)
            return 0;
        short pair = (short)(tui.npairs + 1);
        if (init_pair(pair, (short)fg, (short)bg) == ERR)
            return 0;
        tui.npairs = pair;
        tui.pairs[slot] = pair;
    }
    return tui.pairs[slot];
}

/* Lays text (terminal-safe UTF-8 and our SGR sequences) out in rows of width columns, from
 * column x: counts its rows and, with draw, puts rows skip to skip + rows - 1 of it on the
 * screen from row y. base is or'ed into every character's attributes. Returns the rows. */
static int layout(const char *text, int width, int draw, int y, int x, int skip, int rows,
                  attr_t base)
{
    struct tui_style st;
    style_reset(&st);
    int row = 0, col = 0;
    for (const char *p = text; *p;) {
        if (p[0] == '\033' && p[1] == '[') {
            size_t n = strspn(p + 2, "0123456789;");
            if (p[2 + n] == 'm')
                style_apply(&st, p + 2, n);
            p += 2 + n + (p[2 + n] == 'm');
            continue;
        }
        wchar_t wc;
        p += utf8_decode(p, &wc);
        if (wcwidth(wc) < 0)
            wc = L'?';
        int cw = char_width(wc);
        if (col + cw > width && col > 0) {
            row++;
            col = 0;
        }
        if (draw && row >= skip && row < skip + rows) {
            attr_t attrs = st.attrs | base;
            short pair = colour_pair(st.fg, st.bg, &attrs);
            attr_set(attrs, pair, NULL);
            mvaddnwstr(y + row - skip, x + col, &wc, 1);
        }
        col += cw;
    }
    attr_set(A_NORMAL, 0, NULL);
    return row + 1;
}

static int view_rows(void)
{
    return LINES - TUI_CHROME_ROWS;
}

static int nicklist_shown(const struct tui_window *w)
{
    return tui.nicklist && tui.hooks.member && ircname_is_channel(w->name) &&
           COLS >= 2 * TUI_NICKLIST_WIDTH;
}

static int text_width(const struct tui_window *w)
{
    return COLS - (nicklist_shown(w) ? TUI_NICKLIST_WIDTH : 0);
}

/* Which lines the view shows: from *first (its first *skip rows cut off) to the one before
 * end. Returns 1 when that reaches the oldest line kept. */
static int view_span(const struct tui_window *w, size_t *first, int *skip)
{
    size_t scroll = w->scroll < w->nlines ? w->scroll : w->nlines;
    size_t end = w->nlines - scroll, i = end;
    int used = 0, height = view_rows(), width = text_width(w);
    while (i > 0 && used < height) {
        i--;
        used += layout(w->lines[i], width, 0, 0, 0, 0, 0, A_NORMAL);
    }
    *first = i;
    *skip = used > height ? used - height : 0;
    return i == 0 && *skip == 0;
}

static void draw_lines(const struct tui_window *w)
{
    size_t first;
    int skip, y = 1, height = view_rows(), width = text_width(w);
    view_span(w, &first, &skip);
    size_t end = w->nlines - (w->scroll < w->nlines ? w->scroll : w->nlines);
    for (size_t i = first; i < end && y <= height; i++) {
        int rows = layout(w->lines[i], width, 1, y, 0, skip, height + 1 - y, A_NORMAL);
        y += rows - skip;
        skip = 0;
    }
}

static void draw_nicklist(const struct tui_window *w)
{
    int x = COLS - TUI_NICKLIST_WIDTH;
    mvvline(1, x, ACS_VLINE, view_rows());
    for (int i = 0; i < view_rows(); i++) {
        const char *nick = tui.hooks.member(w->name, i, tui.hooks.arg);
        if (!nick)
            break;
        /* A nick is the server's text: addnstr shows control bytes as ^X, never sends them. */
        mvaddnstr(1 + i, x + 2, nick, TUI_NICKLIST_WIDTH - 2);
    }
}

/* "[09:14] [2:#lobby] 3:#dev(4) 4:bob(1!)": the time, then every window, the shown one in
 * brackets, the others with their unread messages ('!' when one is for us). */
static void draw_status(void)
{
    char line[TUI_STATUS_MAX];
    size_t o = 0;
    time_t now = time(NULL);
    struct tm tm;
    if (localtime_r(&now, &tm))
        o = strftime(line, sizeof line, "[%H:%M]", &tm);
    line[o] = '\0';
    if (tui.self[0]) {
        int n = snprintf(line + o, sizeof line - o, " [%s]%s", tui.self,
                         tui.away ? " " TUI_AWAY_MARK : "");
        o += n > 0 ? (size_t)n : 0;
    }
    for (int i = 0; i < tui.nwin && o < sizeof line; i++) {
        const struct tui_window *w = &tui.win[i];
        const char *name = w->name[0] ? w->label : TUI_STATUS_NAME;
        int n;
        if (i == tui.active)
            n = snprintf(line + o, sizeof line - o, " [%d:%s]", i + 1, name);
        else if (w->unread || w->mention)
            n = snprintf(line + o, sizeof line - o, " %d:%s(%u%s)", i + 1, name, w->unread,
                         w->mention ? "!" : "");
        else
            n = snprintf(line + o, sizeof line - o, " %d:%s", i + 1, name);
        if (n < 0)
            break;
        o += (size_t)n;
    }
    const struct tui_window *w = &tui.win[tui.active];
    if (w->scroll && o < sizeof line)
        o += (size_t)snprintf(line + o, sizeof line - o, "  -- more below (PgDn) --");
    if (tui.note[0] && o < sizeof line)
        snprintf(line + o, sizeof line - o, "  [%s]", tui.note);
    attr_set(A_REVERSE, 0, NULL);
    mvhline(LINES - 2, 0, ' ', COLS);
    layout(line, COLS, 1, LINES - 2, 0, 0, 1, A_REVERSE);
}

static void draw_topic(const struct tui_window *w)
{
    char line[TUI_NAME_MAX + TUI_NOTE_MAX + TUI_TOPIC_MAX + 8];
    snprintf(line, sizeof line, " %s%s%s%s%s%s", w->name[0] ? w->label : TUI_STATUS_NAME,
             w->modes[0] ? "(" : "", w->modes, w->modes[0] ? ")" : "", w->topic[0] ? ": " : "",
             w->topic);
    attr_set(A_REVERSE, 0, NULL);
    mvhline(0, 0, ' ', COLS);
    layout(line, COLS, 1, 0, 0, 0, 1, A_REVERSE);
}

/* The prompt and the typed text, scrolled sideways so that the cursor is on screen. */
static void draw_input(void)
{
    int y = LINES - 1;
    int pw = 0;
    for (const char *p = tui.prompt; *p;) {
        wchar_t wc;
        p += utf8_decode(p, &wc);
        pw += char_width(wc);
    }
    int avail = COLS - 1 - pw;
    int show_prompt = avail >= TUI_INPUT_MIN;
    if (!show_prompt)
        avail = COLS - 1;
    size_t from = 0;
    for (;;) {
        int w = 0;
        for (size_t i = from; i < tui.point; i++)
            w += char_width(tui.input[i]);
        if (w <= avail || from >= tui.point)
            break;
        from++;
    }
    int x = 0;
    if (show_prompt) {
        layout(tui.prompt, COLS, 1, y, 0, 0, 1, A_NORMAL);
        x = pw;
    }
    int cursor = x;
    for (size_t i = from; i < tui.len; i++) {
        int cw = char_width(tui.input[i]);
        if (x + cw > COLS)
            break;
        if (i == tui.point)
            cursor = x;
        wchar_t wc = wcwidth(tui.input[i]) < 0 ? L'?' : tui.input[i];
        mvaddnwstr(y, x, &wc, 1);
        x += cw;
    }
    if (tui.point >= tui.len)
        cursor = x;
    move(y, cursor < COLS ? cursor : COLS - 1);
}

static void draw(void)
{
    erase();
    if (LINES < TUI_MIN_ROWS || COLS < TUI_MIN_COLS) {
        mvaddstr(0, 0, "(too small)");
        refresh();
        return;
    }
    const struct tui_window *w = &tui.win[tui.active];
    draw_topic(w);
    draw_lines(w);
    if (nicklist_shown(w))
        draw_nicklist(w);
    draw_status();
    draw_input();
    refresh();
}

void tui_flush(void)
{
    if (!tui.started || !tui.dirty)
        return;
    tui.dirty = 0;
    draw();
}

void tui_clear(void)
{
    if (!tui.started)
        return;
    struct tui_window *w = &tui.win[tui.active];
    for (size_t i = 0; i < w->nlines; i++)
        free(w->lines[i]);
    w->nlines = 0;
    w->scroll = 0;
    clearok(curscr, TRUE);
    tui.dirty = 1;
}

void tui_resize(void)
{
    struct winsize ws;
    if (!tui.started)
        return;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0)
        resize_term(ws.ws_row, ws.ws_col);
    clearok(curscr, TRUE);
    tui.dirty = 1;
    tui_flush();
}

/* --- keys --------------------------------------------------------------------------------- */

/* PgUp: a page back; reaching the oldest line asks the session for older history. */
static void page_up(void)
{
    struct tui_window *w = &tui.win[tui.active];
    size_t first;
    int skip;
    int page = view_rows() > 2 ? view_rows() - 1 : 1;
    if (!view_span(w, &first, &skip)) {
        w->scroll += (size_t)page;
        if (w->scroll >= w->nlines)
            w->scroll = w->nlines ? w->nlines - 1 : 0;
    }
    if (view_span(w, &first, &skip) && !w->older_asked && !w->older_none && tui.hooks.older &&
        w->name[0]) { /* a channel's or a private conversation's window, not the status one */
        w->older_asked = 1;
        tui.hooks.older(w->name, tui.hooks.arg);
    }
    tui.dirty = 1;
}

static void page_down(void)
{
    struct tui_window *w = &tui.win[tui.active];
    size_t page = (size_t)(view_rows() > 2 ? view_rows() - 1 : 1);
    w->scroll = w->scroll > page ? w->scroll - page : 0;
    tui.dirty = 1;
}

static void input_insert(const wchar_t *s, size_t n)
{
    if (tui.len + n > CMD_INPUT_MAX) {
        beep();
        return;
    }
    memmove(tui.input + tui.point + n, tui.input + tui.point,
            (tui.len - tui.point) * sizeof *tui.input);
    memcpy(tui.input + tui.point, s, n * sizeof *s);
    tui.len += n;
    tui.point += n;
}

static void input_delete(size_t from, size_t to)
{
    memmove(tui.input + from, tui.input + to, (tui.len - to) * sizeof *tui.input);
    tui.len -= to - from;
    if (tui.point > to)
        tui.point -= to - from;
    else if (tui.point > from)
        tui.point = from;
}

static void history_add(const char *line)
{
    if (tui.nhistory > 0 && strcmp(tui.history[tui.nhistory - 1], line) == 0)
        return;
    char *copy = strdup(line);
    if (!copy)
        return;
    if (tui.nhistory == TUI_HISTORY_MAX) {
        free(tui.history[0]);
        memmove(tui.history, tui.history + 1, (TUI_HISTORY_MAX - 1) * sizeof *tui.history);
        tui.nhistory--;
    }
    tui.history[tui.nhistory++] = copy;
}

/* Up (step -1) and Down (+1) through the lines typed before. */
static void history_step(int step)
{
    int to = tui.hist_at + step;
    if (to < 0 || to > tui.nhistory)
        return;
    if (tui.hist_at == tui.nhistory) {
        static char text[CMD_INPUT_MAX * UTF8_BYTES_MAX + 1];
        input_text(0, tui.len, text);
        free(tui.hist_saved);
        tui.hist_saved = strdup(text);
    }
    tui.hist_at = to;
    input_set(to == tui.nhistory ? (tui.hist_saved ? tui.hist_saved : "") : tui.history[to]);
}

static void accept_line(void)
{
    static char text[CMD_INPUT_MAX * UTF8_BYTES_MAX + 1];
    input_text(0, tui.len, text);
    tui.len = tui.point = 0;
    free(tui.hist_saved);
    tui.hist_saved = NULL;
    if (text[0]) {
        history_add(text);
        tui.on_line(text);
    }
    tui.hist_at = tui.nhistory;
}

/* Tab: the word before the cursor becomes the session's first match for it; Tab again takes
 * the next match in its place, and after the last the first again. */
static void complete_word(void)
{
    if (!tui.complete)
        return;
    if (!tui.tab_active) {
        size_t start = tui.point;
        while (start > 0 && tui.input[start - 1] != L' ')
            start--;
        tui.tab_start = start;
        tui.tab_at_start = start == 0;
        tui.tab_state = 0;
        input_text(start, tui.point, tui.tab_prefix);
    } else {
        tui.tab_state++;
    }
    char *match = tui.complete(tui.tab_prefix, tui.tab_at_start, tui.tab_state);
    if (!match && tui.tab_state > 0) {
        tui.tab_state = 0;
        match = tui.complete(tui.tab_prefix, tui.tab_at_start, 0);
    }
    if (!match) {
        beep();
        return;
    }
    input_delete(tui.tab_start, tui.point);
    wchar_t wide[CMD_INPUT_MAX];
    size_t n = 0;
    for (const char *p = match; *p && n < CMD_INPUT_MAX - 1;)
        p += utf8_decode(p, &wide[n++]);
    wide[n++] = L' ';
    input_insert(wide, n);
    free(match);
    tui.tab_active = 1;
}

/* Cuts input[from, to) into the kill buffer (Ctrl-Y puts it back). */
static void input_kill(size_t from, size_t to)
{
    if (to <= from)
        return;
    memcpy(tui.killed, tui.input + from, (to - from) * sizeof *tui.input);
    tui.nkilled = to - from;
    input_delete(from, to);
}

/* Where the word after the cursor ends (Alt-F). */
static size_t word_end(void)
{
    size_t i = tui.point;
    while (i < tui.len && tui.input[i] == L' ')
        i++;
    while (i < tui.len && tui.input[i] != L' ')
        i++;
    return i;
}

static size_t word_start(void)
{
    size_t i = tui.point;
    while (i > 0 && tui.input[i - 1] == L' ')
        i--;
    while (i > 0 && tui.input[i - 1] != L' ')
        i--;
    return i;
}

/* Shows the window step (+1, -1) away from the one shown, round the end. */
static void window_step(int step)
{
    window_show((tui.active + tui.nwin + step) % tui.nwin, 1);
}

/* A key with Alt (ESC first): Alt-1 ... Alt-9, Alt-0 show windows 1 to 10; Alt-B and Alt-F
 * move a word back and forward. */
static void alt_key(wint_t key)
{
    if (key >= L'1' && key <= L'9')
        tui_window((int)(key - L'0'));
    else if (key == L'0')
        tui_window(TUI_ALT0_WINDOW);
    else if (key == L'b' || key == L'B')
        tui.point = word_start();
    else if (key == L'f' || key == L'F')
        tui.point = word_end();
}

static void function_key(wint_t key, int alt)
{
    /* Alt-Left, Alt-Right: irssi's previous and next window (also ESC then an arrow). */
    if ((int)key == tui.key_alt_left || (alt && key == KEY_LEFT)) {
        window_step(-1);
        return;
    }
    if ((int)key == tui.key_alt_right || (alt && key == KEY_RIGHT)) {
        window_step(1);
        return;
    }
    switch (key) {
    case KEY_PPAGE:
        page_up();
        break;
    case KEY_NPAGE:
        page_down();
        break;
    case KEY_UP:
        history_step(-1);
        break;
    case KEY_DOWN:
        history_step(1);
        break;
    case KEY_LEFT:
        tui.point -= tui.point > 0;
        break;
    case KEY_RIGHT:
        tui.point += tui.point < tui.len;
        break;
    case KEY_HOME:
        tui.point = 0;
        break;
    case KEY_END:
        tui.point = tui.len;
        break;
    case KEY_DC:
        if (tui.point < tui.len)
            input_delete(tui.point, tui.point + 1);
        break;
    case KEY_BACKSPACE:
        if (tui.point > 0)
            input_delete(tui.point - 1, tui.point);
        break;
    case KEY_ENTER:
        accept_line();
        break;
    case KEY_F(2):
        tui_toggle_nicklist();
        break;
    case KEY_RESIZE:
        tui_resize();
        break;
    default:
        break;
    }
}

/* One typed character. Returns 1 at the end of input. */
static int char_key(wint_t key)
{
    switch (key) {
    case TUI_KEY_ESC:
        tui.escape = 1;
        break;
    case L'\r':
    case L'\n':
        accept_line();
        break;
    case L'\t':
        complete_word();
        break;
    case TUI_CTRL(L'a'):
        tui.point = 0;
        break;
    case TUI_CTRL(L'e'):
        tui.point = tui.len;
        break;
    case TUI_CTRL(L'b'):
        tui.point -= tui.point > 0;
        break;
    case TUI_CTRL(L'f'):
        tui.point += tui.point < tui.len;
        break;
    case TUI_CTRL(L'k'):
        input_kill(tui.point, tui.len);
        break;
    case TUI_CTRL(L'u'):
        input_kill(0, tui.point);
        break;
    case TUI_CTRL(L'w'):
        input_kill(word_start(), tui.point);
        break;
    case TUI_CTRL(L'y'):
        input_insert(tui.killed, tui.nkilled);
        break;
    case TUI_CTRL(L'd'):
        if (tui.len == 0)
            return 1;
        if (tui.point < tui.len)
            input_delete(tui.point, tui.point + 1);
        break;
    case TUI_CTRL(L'h'):
    case TUI_KEY_DEL:
        if (tui.point > 0)
            input_delete(tui.point - 1, tui.point);
        break;
    case TUI_CTRL(L'l'):
        clearok(curscr, TRUE);
        break;
    case TUI_CTRL(L'n'):
        window_step(1);
        break;
    case TUI_CTRL(L'p'):
        window_step(-1);
        break;
    default:
        if (key >= L' ') {
            wchar_t wc = (wchar_t)key;
            input_insert(&wc, 1);
        }
        break;
    }
    return 0;
}

/* Called when stdin polled readable yet gave no key: a terminal that hung up (its tmux
 * killed, say) polls readable for ever, and reading it gives nothing; that is the end of the
 * input, or the loop would spin. */
static int terminal_gone(void)
{
    struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
    int avail = 0;
    if (poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLHUP | POLLERR | POLLNVAL)))
        return 1;
    return ioctl(STDIN_FILENO, FIONREAD, &avail) < 0;
}

int tui_read(void)
{
    if (!tui.started)
        return 0;
    wint_t key;
    int rc, eof = 0, keys = 0;
    while (!eof && (rc = get_wch(&key)) != ERR) {
        keys++;
        int was_tab = tui.tab_active;
        if (tui.escape && rc != KEY_CODE_YES && key != TUI_KEY_ESC) {
            tui.escape = 0;
            alt_key(key);
        } else if (rc == KEY_CODE_YES) {
            int alt = tui.escape;
            tui.escape = 0;
            function_key(key, alt);
        } else {
            eof = char_key(key);
        }
        if (was_tab && key != L'\t')
            tui.tab_active = 0;
        tui.dirty = 1;
    }
    if (!keys && terminal_gone())
        eof = 1;
    tui_flush();
    return eof;
}

/* --- start and end ------------------------------------------------------------------------ */

/* The code curses gives for a key that xterm, tmux and most terminals send as xterm_seq:
 * the terminal description's own (its extended kLFT3, kRIT3 ...), or else code, bound to the
 * sequence here. Returns -1 when neither can be had. */
static int key_code(const char *xterm_seq, int code)
{
    int k = key_defined(xterm_seq);
    if (k > 0)
        return k;
    return define_key(xterm_seq, code) == OK ? code : -1;
}

int tui_init(const char *prompt, tui_line_fn *on_line, char *err, size_t errlen)
{
    const char *term = getenv("TERM");
    if (!term || !*term || strcmp(term, "dumb") == 0) {
        snprintf(err, errlen, "the terminal (TERM) cannot show a full screen");
        return -1;
    }
    /* Wide characters need the user's character set (UTF-8 in practice). */
    setlocale(LC_CTYPE, "");
    memset(&tui, 0, sizeof tui);
    tui.screen = newterm(NULL, stdout, stdin);
    if (!tui.screen) {
        snprintf(err, errlen, "curses cannot drive the terminal '%s'", term);
        return -1;
    }
    set_term(tui.screen);
    cbreak(); /* Ctrl-C stays a signal: it quits as in line mode */
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    intrflush(stdscr, FALSE);
    set_escdelay(TUI_ESCDELAY_MS);
    if (has_colors()) {
        start_color();
        use_default_colors();
    }
    tui.key_alt_left = key_code(TUI_ALT_LEFT_SEQ, TUI_KEY_ALT_LEFT);
    tui.key_alt_right = key_code(TUI_ALT_RIGHT_SEQ, TUI_KEY_ALT_RIGHT);
    tui.on_line = on_line;
    snprintf(tui.prompt, sizeof tui.prompt, "%s", prompt);
    tui.nwin = 1; /* the status window */
    tui.win[0].older_at = -1;
    tui.started = 1;
    tui.dirty = 1;
    tui_flush();
    return 0;
}

void tui_shutdown(void)
{
    if (!tui.started)
        return;
    endwin();
    delscreen(tui.screen);
    for (int i = 0; i < tui.nwin; i++) {
        for (size_t j = 0; j < tui.win[i].nlines; j++)
            free(tui.win[i].lines[j]);
        free(tui.win[i].lines);
    }
    for (int i = 0; i < tui.nhistory; i++)
        free(tui.history[i]);
    free(tui.hist_saved);
    tui.started = 0;
}

void tui_set_prompt(const char *prompt)
{
    snprintf(tui.prompt, sizeof tui.prompt, "%s", prompt);
    tui.dirty = 1;
}
