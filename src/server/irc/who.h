/* who: formats one WHO reply line, classic (352) or WHOX (354, IRCv3 WHOX: the fields the
 * client asked for, in the fixed order t c u i h s n f d l a o r). */
#ifndef TCPCHAT_WHO_H
#define TCPCHAT_WHO_H

struct client;
struct nick_info;

/* What a WHO asked for: fields NULL for classic replies. */
struct who_query {
    const char *fields; /* WHOX field letters, or NULL */
    const char *token;  /* WHOX query token ("t"), or NULL */
};

/* Parses WHO's second parameter ("%fields[,token]"); fills q (pointing into param). */
void who_parse(char *param, struct who_query *q);
/* Sends one reply about info, seen in channel chname ("*" for none) with status prefix. */
void who_reply(struct client *c, const char *chname, const struct nick_info *info,
               const char *prefix, const struct who_query *q);

#endif
