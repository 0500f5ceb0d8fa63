/* webfiles: the files the web listener serves (web.c): the web client built into the binary
 * (web/, embedded at build time by scripts/embed-web.sh), or another copy read from
 * --web-root at start. Each file's body is one shared msg, queued by reference like any
 * line: serving a file copies nothing. Loaded once before the workers start; read-only after. */
#ifndef TCPCHAT_WEBFILES_H
#define TCPCHAT_WEBFILES_H

#include <stddef.h>

struct msg;

/* One embedded file (the generated table ends with a NULL path). */
struct webfile_data {
    const char *path; /* "/index.html" */
    const unsigned char *data;
    size_t len;
};
extern const struct webfile_data webfile_data[];

struct webfile {
    char *path;       /* "/index.html" */
    const char *type; /* its Content-Type */
    struct msg *body;
};

/* Loads the files: from root (every regular file below it, dot files aside, within
 * WEB_FILES_MAX, WEB_FILE_MAX and WEB_FILES_BYTES_MAX), or the built-in ones when root is
 * NULL. 0, or -1 with why. */
int webfiles_load(const char *root, char *why, size_t whylen);
void webfiles_free(void);
/* The file at path ("/" is "/index.html"), or NULL. */
const struct webfile *webfiles_find(const char *path);

#endif
