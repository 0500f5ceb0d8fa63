/* conffile: tcpchatd's INI config file (read with inih). [server] holds the options, each under
 * its long option name; each [oper "name"] (or [oper:name]) section is an operator with a
 * password hash and an optional host mask. Also makes those hashes (--mkpasswd). */
#ifndef TCPCHAT_CONFFILE_H
#define TCPCHAT_CONFFILE_H

#include <stdio.h>

struct config;

/* Reads path into cfg (over what cfg holds). Returns 0, or -1 with "PATH:LINE: what is wrong"
 * in cfg->error. */
int conffile_load(struct config *cfg, const char *path);
/* Reads one line (a password) from in and prints its argon2id hash on out. Returns 0, or -1
 * with the reason in why. sodium_init() must have run. */
int conffile_mkpasswd(FILE *in, FILE *out, char *why, size_t whylen);

#endif
