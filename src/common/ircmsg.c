/* ircmsg: parse and serialise one IRC message line (RFC 1459 2.3.1, IRCv3 message-tags).
 * The grammar is the Modern IRC one: spaces separate fields, runs of spaces count as one,
 * and a parameter starting with ':' takes the rest of the line. */
#include "ircmsg.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

static char *skip_spaces(char *p)
{
    while (*p == ' ')
        p++;
    return p;
}

/* Cuts the field at p at the next space; returns where the next field may start. */
static char *cut_field(char *p)
{
    char *sp = strchr(p, ' ');
    if (!sp)
        return p + strlen(p);
    *sp = '\0';
    return skip_spaces(sp + 1);
}

static int command_valid(const char *c)
{
    if (c[0] == '\0')
        return 0;
    if (isdigit((unsigned char)c[0]))
        return strlen(c) == 3 && isdigit((unsigned char)c[1]) && isdigit((unsigned char)c[2]);
    for (; *c; c++) {
        if (!isalpha((unsigned char)*c))
            return 0;
    }
    return 1;
}

int ircmsg_parse(char *line, struct ircmsg *msg)
{
    memset(msg, 0, sizeof *msg);
    char *p = skip_spaces(line);
    if (*p == '\0')
        return IRCMSG_EEMPTY;
    if (*p == '@') {
        msg->tags = p + 1;
        p = cut_field(p);
        if (strlen(msg->tags) + 2 > IRC_TAGS_MAX)
            return IRCMSG_ETAGS;
    }
    if (*p == ':') {
        msg->prefix = p + 1;
        p = cut_field(p);
    }
    if (*p == '\0')
        return IRCMSG_ENOCOMMAND;
    msg->command = p;
    p = cut_field(p);
    if (!command_valid(msg->command))
        return IRCMSG_EBADCOMMAND;
    while (*p != '\0') {
        if (*p == ':' || msg->nparams == IRC_PARAMS_MAX - 1) {
            /* Trailing parameter: the rest of the line, spaces included. RFC 2812 lets the
             * fifteenth parameter omit its ':'. */
            msg->params[msg->nparams++] = *p == ':' ? p + 1 : p;
            break;
        }
        msg->params[msg->nparams++] = p;
        p = cut_field(p);
    }
    return IRCMSG_OK;
}

/* Appends s to out at *len; returns -1 when it does not fit (leaving room for the NUL). */
static int append(char *out, size_t cap, size_t *len, const char *s, size_t n)
{
    if (*len + n + 1 > cap)
        return -1;
    memcpy(out + *len, s, n);
    *len += n;
    return 0;
}

int ircmsg_serialise(const struct ircmsg *msg, char *out, size_t cap)
{
    size_t len = 0;
    if (!msg->command || !command_valid(msg->command) || msg->nparams < 0 ||
        msg->nparams > IRC_PARAMS_MAX)
        return -1;
    /* A space or line break in the tags or prefix would change the line or start another. */
    if ((msg->tags && strpbrk(msg->tags, " \r\n")) ||
        (msg->prefix && strpbrk(msg->prefix, " \r\n")))
        return -1;
    if (msg->tags && *msg->tags) {
        if (append(out, cap, &len, "@", 1) ||
            append(out, cap, &len, msg->tags, strlen(msg->tags)) || append(out, cap, &len, " ", 1))
            return -1;
    }
    if (msg->prefix) {
        if (append(out, cap, &len, ":", 1) ||
            append(out, cap, &len, msg->prefix, strlen(msg->prefix)) ||
            append(out, cap, &len, " ", 1))
            return -1;
    }
    if (append(out, cap, &len, msg->command, strlen(msg->command)))
        return -1;
    for (int i = 0; i < msg->nparams; i++) {
        const char *param = msg->params[i];
        int last = i == msg->nparams - 1;
        int needs_colon = param[0] == '\0' || param[0] == ':' || strchr(param, ' ');
        if (needs_colon && !last)
            return -1;
        if (strpbrk(param, "\r\n"))
            return -1;
        if (append(out, cap, &len, needs_colon ? " :" : " ", needs_colon ? 2 : 1) ||
            append(out, cap, &len, param, strlen(param)))
            return -1;
    }
    if (append(out, cap, &len, "\r\n", 2))
        return -1;
    out[len] = '\0';
    return (int)len;
}

int ircmsg_tag_get(const char *tags, const char *key, char *out, size_t cap)
{
    size_t klen = strlen(key);
    const char *val = NULL, *vend = NULL;
    for (const char *p = tags; p && *p; p = *vend ? vend + 1 : vend) {
        const char *end = strchr(p, ';');
        if (!end)
            end = p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        const char *kend = eq ? eq : end;
        /* message-tags: with a key given more than once, only the final occurrence counts. */
        if ((size_t)(kend - p) == klen && memcmp(p, key, klen) == 0)
            val = eq ? eq + 1 : end;
        vend = end;
    }
    if (!val)
        return 0;
    if (cap == 0)
        return -1;
    size_t n = 0;
    const char *end = val + strcspn(val, ";");
    for (const char *v = val; v < end; v++) {
        char c = *v;
        if (c == '\\') {
            v++;
            if (v == end)
                break; /* a trailing lone backslash is dropped */
            switch (*v) {
            case ':':
                c = ';';
                break;
            case 's':
                c = ' ';
                break;
            case 'r':
                c = '\r';
                break;
            case 'n':
                c = '\n';
                break;
            default:
                c = *v;
                break; /* "\\" and unknown escapes: the character */
            }
        }
        if (n + 1 >= cap)
            return -1;
        out[n++] = c;
    }
    out[n] = '\0';
    return 1;
}

int ircmsg_tag_escape(const char *value, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *v = value; *v; v++) {
        const char *rep = NULL;
        switch (*v) {
        case ';':
            rep = "\\:";
            break;
        case ' ':
            rep = "\\s";
            break;
        case '\\':
            rep = "\\\\";
            break;
        case '\r':
            rep = "\\r";
            break;
        case '\n':
            rep = "\\n";
            break;
        default:
            break;
        }
        size_t w = rep ? 2 : 1;
        if (n + w + 1 > cap)
            return -1;
        if (rep) {
            memcpy(out + n, rep, 2);
        } else {
            out[n] = *v;
        }
        n += w;
    }
    if (cap == 0)
        return -1;
    out[n] = '\0';
    return (int)n;
}

int ircmsg_is(const struct ircmsg *msg, const char *command)
{
    return msg->command && strcasecmp(msg->command, command) == 0;
}
