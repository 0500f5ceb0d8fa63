/* whowas: a ring of recently given-up nicknames. */
#include "whowas.h"

#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t whowas_lock = PTHREAD_MUTEX_INITIALIZER;
static struct whowas_entry ring[WHOWAS_MAX]; /* guarded by whowas_lock */
static int ring_next, ring_count;

void whowas_add(const char *nick, const char *user, const char *host, const char *realname)
{
    pthread_mutex_lock(&whowas_lock);
    struct whowas_entry *e = &ring[ring_next];
    snprintf(e->nick, sizeof e->nick, "%s", nick);
    snprintf(e->user, sizeof e->user, "%s", user);
    snprintf(e->host, sizeof e->host, "%s", host);
    snprintf(e->realname, sizeof e->realname, "%s", realname);
    e->when = time(NULL);
    ring_next = (ring_next + 1) % WHOWAS_MAX;
    if (ring_count < WHOWAS_MAX)
        ring_count++;
    pthread_mutex_unlock(&whowas_lock);
}

int whowas_find(const char *nick, struct whowas_entry *out, int max)
{
    int n = 0;
    pthread_mutex_lock(&whowas_lock);
    for (int k = 1; k <= ring_count && n < max; k++) {
        const struct whowas_entry *e = &ring[(ring_next - k + WHOWAS_MAX) % WHOWAS_MAX];
        if (ircname_cmp(e->nick, nick) == 0)
            out[n++] = *e;
    }
    pthread_mutex_unlock(&whowas_lock);
    return n;
}
