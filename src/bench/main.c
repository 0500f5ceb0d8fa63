/* tcpchat-bench: a load generator for IRC servers (tcpchatd or any other). It opens many
 * client connections, joins them to channels, has some of them send, and reports delivery
 * rate, latency, loss, order and what the run cost the server. See bench/README.md. */
#include "opts.h"
#include "report.h"
#include "run.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

/* File descriptors kept for the bench itself: stdio, epoll, /proc reads. */
#define FD_RESERVE 16

enum { EXIT_DONE = 0, EXIT_USAGE = 1, EXIT_INCOMPLETE = 2 };

/* Raises the open-file soft limit to the hard one; caps clients at what fits, and says so. */
static void main_fd_limit(struct bench_opts *o)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY && (rlim_t)o->clients + FD_RESERVE > rl.rlim_cur) {
        int cap = (int)rl.rlim_cur - FD_RESERVE;
        fprintf(stderr, "tcpchat-bench: open-file limit %llu: clients capped at %d (asked %d)\n",
                (unsigned long long)rl.rlim_cur, cap, o->clients);
        o->clients = cap;
        if (o->channels > cap)
            o->channels = cap;
        if (o->senders > cap)
            o->senders = cap;
    }
}

int main(int argc, char **argv)
{
    struct bench_opts o;
    char err[256];
    int rc = opts_parse(argc, argv, &o, err, sizeof err);
    if (rc == OPTS_EXIT)
        return EXIT_DONE;
    if (rc != OPTS_OK) {
        fprintf(stderr, "tcpchat-bench: %s\n", err);
        return EXIT_USAGE;
    }
    /* A write to a connection the server closed must be an error, not a signal. */
    signal(SIGPIPE, SIG_IGN);
    main_fd_limit(&o);
    struct bench_result *r = malloc(sizeof *r);
    if (!r) {
        fprintf(stderr, "tcpchat-bench: out of memory\n");
        return EXIT_USAGE;
    }
    int ok = run_bench(&o, r) == 0;
    report_print(&o, r);
    int setup_failed = !ok && r->status == RUN_FAILED && r->connected == 0;
    free(r);
    if (ok)
        return EXIT_DONE;
    return setup_failed ? EXIT_USAGE : EXIT_INCOMPLETE;
}
