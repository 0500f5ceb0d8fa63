/* budget: per-address budgets for what is costly or lasting: failed logins (each one an
 * argon2id check on the account thread) and account registrations. A budget allows max events
 * per window from one address; past it, the address waits until the window that started with
 * its first counted event is over. One table per kind, each under its own mutex (a leaf lock);
 * at most BUDGET_ADDRS_MAX addresses each, the oldest forgotten first. */
#ifndef TCPCHAT_BUDGET_H
#define TCPCHAT_BUDGET_H

#include <time.h>

struct budget;

/* A table for windows of window_s seconds. NULL without memory. */
struct budget *budget_new(int window_s);
void budget_free(struct budget *b);
/* Seconds host must wait before its next event is allowed (0: allowed now) with max allowed
 * per window. Counts nothing. */
long budget_wait(struct budget *b, const char *host, int max, time_t now);
/* Counts one event of host. */
void budget_count(struct budget *b, const char *host, time_t now);
/* Events of host counted in its current window (0: none, or its window is over). */
int budget_recent(struct budget *b, const char *host, time_t now);
/* Addresses the table remembers now (at most BUDGET_ADDRS_MAX). */
int budget_addrs(struct budget *b);

#endif
