/* iplimit: per-address connection limits: how many connections one address may hold at once
 * (--max-per-ip) and how fast it may open new ones (--conn-rate, a token bucket per minute).
 * Addresses in --ip-exempt (default: loopback) are not limited. A table under its own mutex,
 * a leaf lock: taken by the acceptor on accept and by workers when a connection closes. */
#ifndef TCPCHAT_IPLIMIT_H
#define TCPCHAT_IPLIMIT_H

#include <stdint.h>
#include <sys/socket.h>

enum iplimit_verdict { IPLIMIT_OK, IPLIMIT_EXEMPT, IPLIMIT_TOO_MANY, IPLIMIT_TOO_FAST };

/* Parses the exemption list "CIDR[,CIDR...]" ("" for none). Returns 0, or -1 if malformed. */
int iplimit_set_exempt(const char *list);
/* 1 if list would parse, for option checking. */
int iplimit_exempt_valid(const char *list);
/* Counts a new connection from sa (textual form host) against the limits, or refuses it. */
enum iplimit_verdict iplimit_acquire(const struct sockaddr *sa, const char *host, int max_per_ip,
                                     int per_minute, uint64_t now_ms);
/* Gives back a connection counted by iplimit_acquire (verdict IPLIMIT_OK). */
void iplimit_release(const char *host);
/* Forgets addresses with no connection whose rate allowance is full again. */
void iplimit_prune(int per_minute, uint64_t now_ms);
/* Frees the table (at exit). */
void iplimit_free(void);

#endif
