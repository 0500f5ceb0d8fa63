/* cmd: turns one line the user typed into IRC wire lines plus the text to show for it.
 * Pure functions: no I/O, no state, so every command is testable without a terminal. */
#ifndef TCPCHAT_CLIENT_CMD_H
#define TCPCHAT_CLIENT_CMD_H

#include <stddef.h>

#include "common/ircmsg.h"

/* Longest line the user may type; longer messages are refused rather than cut silently. */
#define CMD_INPUT_MAX 4096
/* Room for the wire lines of the longest input once split into IRC-sized PRIVMSGs. */
#define CMD_WIRE_MAX (4 * CMD_INPUT_MAX)
/* Room for what we show for a command (an echo of the message, or a hint). */
#define CMD_ECHO_MAX (CMD_INPUT_MAX + 256)

enum cmd_kind {
    CMD_NONE,  /* empty line: nothing to do */
    CMD_SEND,  /* send wire, show echo (if not empty) */
    CMD_QUIT,  /* send wire (a QUIT), then wait for the server to close */
    CMD_HELP,  /* show cmd_help_lines() */
    CMD_ERROR, /* nothing sent; echo holds the hint to show */
    CMD_LOCAL, /* nothing sent; the session does res->local with res->arg */
};

/* What a CMD_LOCAL asks of the session. */
enum cmd_local {
    LOCAL_QUERY,     /* plain text goes to the nick in arg from now on */
    LOCAL_CLOSE,     /* the private conversation shown ends: back to the last channel */
    LOCAL_IGNORE,    /* hide messages from arg (a nick or a nick!user@host mask); "" lists */
    LOCAL_UNIGNORE,  /* stop hiding arg */
    LOCAL_CLEAR,     /* clear the screen */
    LOCAL_WINDOW,    /* full-screen mode: show window number arg */
    LOCAL_NICKLIST,  /* full-screen mode: show or hide the nick list */
    LOCAL_SERVER,    /* leave for the server "HOST PORT [PASSWORD]" in arg */
    LOCAL_LASTLOG,   /* full-screen mode: show the window's lines holding arg again */
    LOCAL_HIDEJOINS, /* hide others' joins, parts and quits, or show them again */
};

/* Who we are and where plain text goes: a channel, or a nick after /query. channel is NULL
 * when there is neither. */
struct cmd_ctx {
    const char *nick;
    const char *channel;
};

struct cmd_result {
    enum cmd_kind kind;
    char wire[CMD_WIRE_MAX]; /* zero or more lines, each ending in CR LF */
    size_t wire_len;
    /* One display line without timestamp, "" for none. For CMD_SEND it is the local echo of
     * a message, which the caller shows only when the server will not echo it back. */
    char echo[CMD_ECHO_MAX];
    int joins;    /* 1 when wire holds a JOIN (the caller waits for its answer) */
    int messages; /* PRIVMSG and NOTICE lines in wire (each comes back with echo-message) */
    enum cmd_local local;
    char arg[CMD_INPUT_MAX + 1]; /* CMD_LOCAL's argument */
};

/* Interprets input (one typed line, no line terminator). Always fills res; returns 0, or -1
 * when res->kind is CMD_ERROR. */
int cmd_parse(const char *input, const struct cmd_ctx *ctx, struct cmd_result *res);

/* The /help text, one display line per entry, NULL-terminated. */
const char *const *cmd_help_lines(void);

#endif
