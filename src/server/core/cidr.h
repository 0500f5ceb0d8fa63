/* cidr: lists of address blocks ("127.0.0.0/8,::1"), as options name them (--ip-exempt,
 * --metrics-allow), and whether an address falls in one. An IPv4 peer on a dual-stack socket
 * (::ffff:a.b.c.d) matches IPv4 blocks. Plain data: parse once at start, read from any thread. */
#ifndef TCPCHAT_CIDR_H
#define TCPCHAT_CIDR_H

#include <sys/socket.h>

#include "defines.h"

struct cidr {
    int family; /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    int bits;
};

struct cidr_list {
    struct cidr block[CIDR_LIST_MAX];
    int n;
};

/* Parses one block ("10.0.0.0/8", "2001:db8::/32", or an address alone: all its bits) into
 * out. Returns 0, or -1 if malformed. */
int cidr_parse(const char *s, struct cidr *out);
/* 1 if the textual address host is in block b (an IPv4-mapped IPv6 address matches IPv4
 * blocks); 0 if not, or if host is no address. */
int cidr_has_host(const struct cidr *b, const char *host);
/* Parses "CIDR[,CIDR...]" ("" for none; an address alone is a block of one) into out.
 * Returns 0, or -1 if malformed or longer than CIDR_LIST_MAX. */
int cidr_list_parse(const char *list, struct cidr_list *out);
/* 1 if the address sa is in one of the list's blocks. */
int cidr_list_has(const struct cidr_list *l, const struct sockaddr *sa);
/* The same for a textual address (as clients carry it); 0 if host is no address. */
int cidr_list_has_host(const struct cidr_list *l, const char *host);

#endif
