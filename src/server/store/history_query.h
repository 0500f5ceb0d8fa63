/* history_query: answers to history queries from the store (history.c's writer thread calls
 * it, on its own SQLite connection). */
#ifndef TCPCHAT_HISTORY_QUERY_H
#define TCPCHAT_HISTORY_QUERY_H

#include <sqlite3.h>
#include <stdint.h>

#include "history.h"

struct msg;

/* The answer to q from db, with the rows up to id upto (those stored before q was queued),
 * as the lines the client gets: a BATCH of type chathistory (with batch), the label it was
 * asked with, the rows tagged as its capabilities ask. srvname prefixes the server's lines;
 * *batch_seq numbers the BATCH references. NULL when there is nothing to send (a replay of
 * an empty channel) or no memory. */
struct msg *history_answer(sqlite3 *db, const char *srvname, uint64_t *batch_seq,
                           const struct hist_query *q, long long upto);
/* Carries out r on db: the message r->msgid of r's channel (its present lifetime) or
 * private conversation, if r's asker may delete it, is deleted. A HREDACT_* result. */
int history_redact_row(sqlite3 *db, const struct hist_redact *r);

#endif
