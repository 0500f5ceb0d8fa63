/* loop: epoll behind four functions. */
#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

struct loop {
    int epfd;
    int batch;
    void (*on_wake)(void *arg);
    void *wake_arg;
    uint64_t idle_ns;            /* time spent in epoll_wait */
    struct epoll_event events[]; /* batch of them, filled by each wait */
};

struct loop *loop_create(int batch)
{
    struct loop *l = calloc(1, sizeof *l + (size_t)batch * sizeof l->events[0]);
    if (!l)
        return NULL;
    l->batch = batch;
    l->on_wake = NULL;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) {
        free(l);
        return NULL;
    }
    return l;
}

void loop_destroy(struct loop *l)
{
    if (!l)
        return;
    close(l->epfd);
    free(l);
}

/* epoll_ctl(op) of fd for mask. */
static int watch(struct loop *l, int op, int fd, unsigned mask, struct loop_io *io)
{
    struct epoll_event ev = {.events = EPOLLRDHUP, .data.ptr = io};
    if (mask & LOOP_READ)
        ev.events |= EPOLLIN;
    if (mask & LOOP_WRITE)
        ev.events |= EPOLLOUT;
    if (mask & LOOP_EDGE)
        ev.events |= EPOLLET;
    return epoll_ctl(l->epfd, op, fd, &ev);
}

int loop_watch(struct loop *l, int fd, unsigned mask, struct loop_io *io, loop_fn *fn)
{
    io->fn = fn;
    return watch(l, EPOLL_CTL_ADD, fd, mask, io);
}

int loop_rewatch(struct loop *l, int fd, unsigned mask, struct loop_io *io)
{
    return watch(l, EPOLL_CTL_MOD, fd, mask, io);
}

void loop_unwatch(struct loop *l, int fd)
{
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
}

void loop_on_wake(struct loop *l, void (*fn)(void *arg), void *arg)
{
    l->on_wake = fn;
    l->wake_arg = arg;
}

uint64_t loop_idle_ns(const struct loop *l)
{
    return l->idle_ns;
}

int loop_wait(struct loop *l, int timeout_ms)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int n = epoll_wait(l->epfd, l->events, l->batch, timeout_ms);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    l->idle_ns += (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000u + (uint64_t)t1.tv_nsec -
                  (uint64_t)t0.tv_nsec;
    if (n < 0 && errno != EINTR)
        return -1;
    if (l->on_wake)
        l->on_wake(l->wake_arg);
    if (n < 0)
        return 0;
    for (int i = 0; i < n; i++) {
        unsigned got = l->events[i].events, mask = 0;
        if (got & EPOLLIN)
            mask |= LOOP_READ;
        if (got & EPOLLOUT)
            mask |= LOOP_WRITE;
        if (got & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            mask |= LOOP_HUP;
        struct loop_io *io = l->events[i].data.ptr;
        io->fn(io, mask);
    }
    return n;
}
