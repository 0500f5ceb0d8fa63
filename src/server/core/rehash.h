/* rehash: reloads the config file while the server runs (REHASH, SIGHUP).
 * The workers read srv->cfg without a lock, so it may only change while no worker runs: the
 * main thread parses the file first (the slow part; nobody waits for it), then has every
 * worker park on its own thread (fanout_call_worker); once all are parked the main thread moves the
 * reloadable settings into srv->cfg and lets them go. Parking and release go through one mutex,
 * which orders the change before anything a worker reads next. Port, bind address, worker count and
 * server name never change. */
#ifndef TCPCHAT_REHASH_H
#define TCPCHAT_REHASH_H

#include <stdint.h>

struct server;

/* Sets up srv->rehash. argv is kept (not copied): the command line still overrides the file
 * on every reload. Returns 0 or -1. */
int rehash_init(struct server *srv, int argc, char **argv);
void rehash_free(struct server *srv);
/* An eventfd the main thread watches: readable when a REHASH command is waiting. */
int rehash_fd(const struct server *srv);
/* From a worker (the REHASH command): asks the main thread to reload, and to tell the client
 * (worker, id, nick) the outcome in a NOTICE. */
void rehash_request(struct server *srv, int worker, uint64_t id, const char *nick);
/* Main thread: reloads now (SIGHUP, or rehash_fd readable). Returns 0, or -1 when the file has
 * an error (logged; the running settings stay as they were). */
int rehash_run(struct server *srv);

#endif
