/* loop: an event loop over epoll that knows nothing of what it watches (redis's ae.c is the
 * model). A watcher is a struct loop_io embedded in its owner (a connection, a mailbox, a
 * listening socket): it names the function that handles the descriptor's events, and the
 * owner is found from it with container_of. One loop per thread; only its thread uses it. */
#ifndef TCPCHAT_LOOP_H
#define TCPCHAT_LOOP_H

#include <stddef.h>
#include <stdint.h>

/* What a descriptor is watched for, and what happened to it. */
enum {
    LOOP_READ = 1 << 0,  /* readable */
    LOOP_WRITE = 1 << 1, /* writable */
    LOOP_HUP = 1 << 2,   /* (events only) the peer shut down or the socket failed */
    LOOP_EDGE = 1 << 3,  /* (watch only) edge-triggered: an event once per change */
};

struct loop;
struct loop_io;
typedef void loop_fn(struct loop_io *io, unsigned events);

struct loop_io {
    loop_fn *fn;
};

/* The owner of an embedded loop_io. */
#define loop_owner(io, type, member) ((type *)(void *)((char *)(io)-offsetof(type, member)))

/* A loop that takes at most batch events per wait. NULL on failure (errno set). */
struct loop *loop_create(int batch);
void loop_destroy(struct loop *l);
/* Watches fd for mask (LOOP_READ, LOOP_WRITE, LOOP_EDGE); io->fn gets its events. Peer
 * shutdown and errors are always reported. 0, or -1 with errno. */
int loop_watch(struct loop *l, int fd, unsigned mask, struct loop_io *io, loop_fn *fn);
/* Changes what a watched fd is watched for (io->fn stays). 0, or -1 with errno. */
int loop_rewatch(struct loop *l, int fd, unsigned mask, struct loop_io *io);
/* Stops watching fd (before it is closed). */
void loop_unwatch(struct loop *l, int fd);
/* Called each time a wait returns, before any handler (ae.c's "aftersleep"): the owner reads
 * its clock there. */
void loop_on_wake(struct loop *l, void (*fn)(void *arg), void *arg);
/* Waits up to timeout_ms (-1: no limit) and calls the handler of each descriptor that had
 * events. Returns how many it handled, or -1 with errno (EINTR is not an error: 0). */
int loop_wait(struct loop *l, int timeout_ms);
/* Nanoseconds spent waiting in loop_wait so far: the rest of the thread's time is work. */
uint64_t loop_idle_ns(const struct loop *l);

#endif
