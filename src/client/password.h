/* password: getting the password for a SASL login before connecting, from a file, from the
 * terminal without echo, or from the first line of a piped stdin. */
#ifndef TCPCHAT_CLIENT_PASSWORD_H
#define TCPCHAT_CLIENT_PASSWORD_H

#include <stddef.h>

/* Reads the first line of path (without its line ending) into out. Returns 0, or -1 with a
 * reason in err (cannot open, empty, longer than cap - 1). */
int password_from_file(const char *path, char *out, size_t cap, char *err, size_t errlen);

/* On a terminal: prints prompt on stderr and reads a line with echo off (the terminal's
 * modes are restored, also when a signal ends the process meanwhile). On a pipe: reads the
 * first line of stdin, one byte at a time so that the rest stays for the chat. Returns 0, or
 * -1 with a reason in err. */
int password_prompt(const char *prompt, char *out, size_t cap, char *err, size_t errlen);

#endif
