/* webfiles: the web client's files, as shared msgs (webfiles.h). */
#include "webfiles.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "defines.h"
#include "msg.h"

static struct webfile files[WEB_FILES_MAX];
static int nfiles;
static size_t total_bytes;

/* By extension; what is not listed is served as bytes the browser will not run. */
static const char *content_type(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".webmanifest", "application/manifest+json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
        {".woff2", "font/woff2"},
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++) {
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    }
    return "application/octet-stream";
}

static int add(const char *path, const void *data, size_t len, char *why, size_t whylen)
{
    if (nfiles == WEB_FILES_MAX || len > WEB_FILE_MAX || total_bytes + len > WEB_FILES_BYTES_MAX) {
        snprintf(why, whylen, "too much to serve: at most %d files of %u bytes, %u in all",
                 WEB_FILES_MAX, WEB_FILE_MAX, WEB_FILES_BYTES_MAX);
        return -1;
    }
    struct webfile *f = &files[nfiles];
    f->path = strdup(path);
    f->body = msg_raw(data, len);
    if (!f->path || !f->body) {
        free(f->path);
        if (f->body)
            msg_unref(f->body);
        snprintf(why, whylen, "out of memory loading the web files");
        return -1;
    }
    f->type = content_type(path);
    total_bytes += len;
    nfiles++;
    return 0;
}

/* nftw has no argument for its callback: the walk's state, for the one walk at start. */
static struct {
    const char *root;
    char *why;
    size_t whylen;
} walk;

static int visit(const char *fpath, const struct stat *st, int type, struct FTW *ftw)
{
    const char *base = fpath + ftw->base;
    if (ftw->level > 0 && base[0] == '.')
        return type == FTW_D ? FTW_SKIP_SUBTREE : FTW_CONTINUE;
    if (type != FTW_F || !S_ISREG(st->st_mode))
        return FTW_CONTINUE;
    FILE *in = fopen(fpath, "rb");
    char *data = in && st->st_size <= (off_t)WEB_FILE_MAX ? malloc((size_t)st->st_size + 1) : NULL;
    size_t len = data ? fread(data, 1, (size_t)st->st_size, in) : 0;
    int bad = !data || ferror(in);
    if (in)
        fclose(in);
    if (bad) {
        snprintf(walk.why, walk.whylen, "cannot read %s: %s", fpath,
                 st->st_size > (off_t)WEB_FILE_MAX ? "too big" : strerror(errno));
        free(data);
        return FTW_STOP;
    }
    /* fpath is root + "/" + the path served. */
    int r = add(fpath + strlen(walk.root), data, len, walk.why, walk.whylen);
    free(data);
    return r < 0 ? FTW_STOP : FTW_CONTINUE;
}

int webfiles_load(const char *root, char *why, size_t whylen)
{
    if (!root) {
        for (const struct webfile_data *d = webfile_data; d->path; d++) {
            if (add(d->path, d->data, d->len, why, whylen) < 0)
                return -1;
        }
        return 0;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", root);
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        dir[--n] = '\0';
    struct stat st;
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        snprintf(why, whylen, "web-root %s is not a directory", root);
        return -1;
    }
    walk.root = dir;
    walk.why = why;
    walk.whylen = whylen;
    why[0] = '\0';
    int r = nftw(dir, visit, 16, FTW_PHYS | FTW_ACTIONRETVAL);
    walk.root = NULL; /* dir is this function's */
    walk.why = NULL;
    if (r != 0 && !why[0])
        snprintf(why, whylen, "cannot read web-root %s: %s", root, strerror(errno));
    return r == 0 ? 0 : -1;
}

void webfiles_free(void)
{
    for (int i = 0; i < nfiles; i++) {
        free(files[i].path);
        msg_unref(files[i].body);
    }
    nfiles = 0;
    total_bytes = 0;
}

const struct webfile *webfiles_find(const char *path)
{
    if (strcmp(path, "/") == 0)
        path = "/index.html";
    for (int i = 0; i < nfiles; i++) {
        if (strcmp(files[i].path, path) == 0)
            return &files[i];
    }
    return NULL;
}
