/* conffile: reads the INI config file with inih, one key at a time. inih tells a handler only
 * the section, key and value, so the file is fed to it through a reader that counts lines:
 * every error can then say where it is ("FILE:LINE: what is wrong"). */
#include "conffile.h"

#include <errno.h>
#include <ini.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "config.h"
#include "defines.h"

#define SECTION_SERVER "server"
#define SECTION_OPER   "oper"
#define SECTION_MAX    80 /* longer section names are errors anyway */

struct parse {
    struct config *cfg;
    FILE *f;
    const char *path;
    int line;          /* line inih is handling now (1-based) */
    int at_line_start; /* the next fgets starts a new line */
    int section_line;  /* line of the last "[section]" header */
    char section[SECTION_MAX + 1];
    int started;                    /* a first key has been seen, and section is set */
    int in_oper;                    /* the current section is an [oper] */
    int err_line;                   /* 0: no error yet */
    char err[CONFIG_ERROR_MAX / 2]; /* the first error; later ones are ignored */
};

static void fail(struct parse *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(struct parse *p, int line, const char *fmt, ...)
{
    if (p->err_line)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, sizeof p->err, fmt, ap);
    va_end(ap);
    p->err_line = line;
}

/* inih's reader: fgets that keeps count of lines and notes where sections start. */
static char *read_line(char *buf, int size, void *stream)
{
    struct parse *p = stream;
    if (!fgets(buf, size, p->f))
        return NULL;
    if (p->at_line_start)
        p->line++;
    size_t n = strlen(buf);
    p->at_line_start = n > 0 && buf[n - 1] == '\n';
    if (!p->at_line_start && !feof(p->f)) {
        fail(p, p->line, "line too long (at most %d bytes)", size - 3);
        return NULL;
    }
    /* inih skips any isspace() before a '[', \v and \f too: so must we, or the section's line
     * stays 0, which reads as "no error" and let an [oper] without a password through. */
    if (buf[strspn(buf, " \t\v\f\r")] == '[')
        p->section_line = p->line;
    return buf;
}

static int oper_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > OPER_NAME_MAX)
        return 0;
    for (; *s; s++) {
        if ((unsigned char)*s <= ' ' || *s == ',' || *s == '"' || *s == ':' || *s == 0x7f)
            return 0;
    }
    return 1;
}

/* The operator name in an [oper "name"] or [oper:name] header, copied to out; -1 if section
 * is not an oper section at all, -2 if it is one with a bad name. */
static int oper_section(const char *section, char *out, size_t outlen)
{
    size_t plen = strlen(SECTION_OPER);
    if (strncmp(section, SECTION_OPER, plen) != 0)
        return -1;
    const char *s = section + plen;
    char name[SECTION_MAX + 1];
    if (*s == ':') {
        s++;
        s += strspn(s, " \t");
        snprintf(name, sizeof name, "%s", s);
        name[strcspn(name, " \t")] = '\0';
        if (s[strlen(name) + strspn(s + strlen(name), " \t")] != '\0')
            return -2;
    } else if (*s == ' ' || *s == '\t') {
        s += strspn(s, " \t");
        const char *close = *s == '"' ? strchr(s + 1, '"') : NULL;
        if (!close || close[1 + strspn(close + 1, " \t")] != '\0')
            return -2;
        snprintf(name, sizeof name, "%.*s", (int)(close - s - 1), s + 1);
    } else {
        return -1;
    }
    size_t n = strlen(name);
    if (!oper_name_valid(name) || n >= outlen)
        return -2;
    memcpy(out, name, n + 1);
    return 0;
}

/* Starts a new section: [server], or a new operator entry. 0 or -1. */
static int begin_section(struct parse *p, const char *section)
{
    struct config *cfg = p->cfg;
    snprintf(p->section, sizeof p->section, "%s", section);
    p->in_oper = 0;
    if (strcmp(section, SECTION_SERVER) == 0)
        return 0;
    if (section[0] == '\0') {
        fail(p, p->line, "settings must follow a section header such as [server]");
        return -1;
    }
    char name[OPER_NAME_MAX + 1];
    int r = oper_section(section, name, sizeof name);
    if (r == -1) {
        fail(p, p->section_line, "unknown section [%s] (expected [server] or [oper \"name\"])",
             section);
        return -1;
    }
    if (r == -2) {
        fail(p, p->section_line,
             "bad operator section [%s]: the name must be 1-%d characters without spaces, "
             "commas, colons or quotes",
             section, OPER_NAME_MAX);
        return -1;
    }
    if (config_find_oper(cfg, name)) {
        fail(p, p->section_line, "operator '%s' is defined twice", name);
        return -1;
    }
    if (cfg->nopers >= OPERS_MAX) {
        fail(p, p->section_line, "too many operators (at most %d)", OPERS_MAX);
        return -1;
    }
    struct config_oper *n = realloc(cfg->opers, (size_t)(cfg->nopers + 1) * sizeof *n);
    if (!n) {
        fail(p, p->section_line, "out of memory");
        return -1;
    }
    cfg->opers = n;
    struct config_oper *o = &cfg->opers[cfg->nopers++];
    memset(o, 0, sizeof *o);
    snprintf(o->name, sizeof o->name, "%s", name);
    o->line = p->section_line;
    p->in_oper = 1;
    return 0;
}

static int set_oper_key(struct parse *p, const char *key, const char *value)
{
    struct config_oper *o = &p->cfg->opers[p->cfg->nopers - 1];
    char **slot;
    if (strcmp(key, "password") == 0) {
        /* Only hashes: a clear-text password in a file is what --mkpasswd exists to avoid. */
        if (strncmp(value, "$argon2id$", 10) != 0 && strncmp(value, "$argon2i$", 9) != 0) {
            fail(p, p->line,
                 "password of operator '%s' must be a hash from 'tcpchatd --mkpasswd' "
                 "($argon2id$...)",
                 o->name);
            return -1;
        }
        if (strlen(value) >= crypto_pwhash_STRBYTES) {
            fail(p, p->line, "password hash of operator '%s' is too long", o->name);
            return -1;
        }
        slot = &o->hash;
    } else if (strcmp(key, "host") == 0) {
        if (value[0] == '\0' || strcspn(value, " \t,") != strlen(value) || strlen(value) > 100) {
            fail(p, p->line, "host of operator '%s' must be a mask like *@127.0.0.1 (got '%s')",
                 o->name, value);
            return -1;
        }
        slot = &o->host;
    } else {
        fail(p, p->line, "unknown key '%s' in [oper \"%s\"] (expected password or host)", key,
             o->name);
        return -1;
    }
    free(*slot);
    *slot = strdup(value);
    if (!*slot) {
        fail(p, p->line, "out of memory");
        return -1;
    }
    return 0;
}

/* inih's handler: one "key = value" of section. Returns 1 to go on, 0 on error. */
static int handle_key(void *user, const char *section, const char *key, const char *value)
{
    struct parse *p = user;
    if (p->err_line)
        return 0;
    if (!p->started || strcmp(section, p->section) != 0) {
        p->started = 1;
        if (begin_section(p, section) < 0)
            return 0;
    }
    /* A value may be written in double quotes, e.g. to keep it empty: description = "". */
    char unquoted[CONFIG_ERROR_MAX];
    size_t n = strlen(value);
    if (n >= 2 && value[0] == '"' && value[n - 1] == '"' && n - 2 < sizeof unquoted) {
        memcpy(unquoted, value + 1, n - 2);
        unquoted[n - 2] = '\0';
        value = unquoted;
    }
    if (p->in_oper)
        return set_oper_key(p, key, value) == 0;
    char why[CONFIG_ERROR_MAX];
    if (config_set(p->cfg, key, value, why, sizeof why) < 0) {
        fail(p, p->line, "%s", why);
        return 0;
    }
    return 1;
}

int conffile_load(struct config *cfg, const char *path)
{
    struct parse p = {.cfg = cfg, .path = path, .at_line_start = 1};
    p.f = fopen(path, "r");
    if (!p.f) {
        snprintf(cfg->error, sizeof cfg->error, "%s: cannot read config file: %s", path,
                 strerror(errno));
        return -1;
    }
    int rc = ini_parse_stream(read_line, &p, handle_key, &p);
    fclose(p.f);
    if (rc > 0 && (!p.err_line || rc < p.err_line))
        fail(&p, rc, "expected 'key = value', '[section]' or a comment");
    if (rc == -2)
        fail(&p, p.line, "out of memory");
    for (int i = 0; i < cfg->nopers && !p.err_line; i++) {
        if (!cfg->opers[i].hash)
            fail(&p, cfg->opers[i].line, "operator '%s' has no password", cfg->opers[i].name);
    }
    if (p.err_line) {
        snprintf(cfg->error, sizeof cfg->error, "%.200s:%d: %s", path, p.err_line, p.err);
        return -1;
    }
    return 0;
}

int conffile_mkpasswd(FILE *in, FILE *out, char *why, size_t whylen)
{
    char pw[PASSWORD_MAX + 2]; /* the password, its newline and the terminator */
    int fd = fileno(in);
    struct termios saved, quiet;
    int tty = isatty(fd) && tcgetattr(fd, &saved) == 0;
    if (tty) {
        quiet = saved;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(fd, TCSAFLUSH, &quiet);
        fputs("Password: ", stderr);
    }
    char *got = fgets(pw, sizeof pw, in);
    if (tty) {
        tcsetattr(fd, TCSAFLUSH, &saved);
        fputc('\n', stderr);
    }
    int rc = -1;
    size_t n = got ? strcspn(pw, "\r\n") : 0;
    if (!got) {
        snprintf(why, whylen, "no password on standard input");
    } else if (n == 0) {
        snprintf(why, whylen, "the password is empty");
    } else if (n > PASSWORD_MAX) {
        snprintf(why, whylen, "the password is longer than %d bytes", PASSWORD_MAX);
    } else {
        char hash[crypto_pwhash_STRBYTES];
        if (crypto_pwhash_str(hash, pw, n, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
            snprintf(why, whylen, "cannot hash the password: out of memory");
        } else {
            fprintf(out, "%s\n", hash);
            rc = 0;
        }
    }
    sodium_memzero(pw, sizeof pw);
    return rc;
}
