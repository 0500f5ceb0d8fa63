/* nick: the server-wide nick table, folded nick -> (worker, client id). Guarded by
 * srv->nick_lock, held only inside these functions. */
#ifndef TCPCHAT_NICK_H
#define TCPCHAT_NICK_H

#include <stdint.h>

struct server;

/* Claims nick for the client, releasing old (may be NULL or "") in the same step, so the
 * client never holds two nicks nor none. Changing only the case of one's own nick is allowed.
 * Returns 0, or -1 when someone else holds nick (or on allocation failure). */
int nick_claim(struct server *srv, const char *nick, const char *old, int worker, uint64_t id);
/* Releases nick if this client holds it. */
void nick_release(struct server *srv, const char *nick, uint64_t id);
/* Finds who holds nick. Returns 0 and fills worker/id, or -1. */
int nick_find(struct server *srv, const char *nick, int *worker, uint64_t *id);
/* Frees the table (at exit, with no worker running). */
void nick_table_free(struct server *srv);

#endif
