/* opts: tcpchat-bench's command line and the named scenario presets it starts from.
 * A preset sets every load parameter; flags given with it override single values. */
#ifndef TCPCHAT_BENCH_OPTS_H
#define TCPCHAT_BENCH_OPTS_H

#include <sys/types.h>

#define OPTS_NAME_MAX     64
#define OPTS_SERVERS_MAX  512 /* --servers: the list as given */
#define BENCH_SERVERS_MAX 16  /* nodes one run spreads its clients over */

struct bench_opts {
    char scenario[OPTS_NAME_MAX]; /* preset name, or "custom" */
    char label[OPTS_NAME_MAX];    /* free text naming the server, echoed in the result */
    char host[OPTS_NAME_MAX];
    char port[OPTS_NAME_MAX];
    char servers[OPTS_SERVERS_MAX]; /* "HOST:PORT,HOST:PORT...": clients round robin; "" none */
    char nick_prefix[OPTS_NAME_MAX];
    char channel_prefix[OPTS_NAME_MAX];
    int clients;
    int channels;          /* 0: register only, join nothing */
    int senders;           /* clients 0..senders-1 send, each to its own channel */
    int messages;          /* per sender */
    int size;              /* payload bytes per message */
    double rate;           /* messages per second per sender; 0 = as fast as the server reads */
    double duration;       /* with rate: sets messages = rate * duration */
    int sources;           /* loopback source addresses 127.0.0.1 .. 127.0.0.<sources> */
    int connect_window;    /* connections connecting or registering at once */
    double timeout;        /* seconds for the whole run */
    double drain_idle;     /* seconds without progress before giving up on what is missing */
    int wait_join_notices; /* wait for every JOIN notice before sending */
    double settle;         /* then seconds of quiet before the joined snapshot and sending */
    pid_t server_pid;      /* 0: unknown, no server figures */
    int tls;               /* connect with TLS, without verifying the server's certificate */
    int websocket;         /* IRC over WebSocket (the server's --http-port) */
    int json;
    int quiet; /* no progress line */
};

enum { OPTS_OK = 0, OPTS_EXIT = 1, OPTS_ERROR = -1 };

/* Fills o from the preset named by --scenario (or the defaults), then from the other flags.
 * Returns OPTS_OK, OPTS_EXIT after printing --help, or OPTS_ERROR with a reason in err. */
int opts_parse(int argc, char **argv, struct bench_opts *o, char *err, size_t errlen);

#endif
