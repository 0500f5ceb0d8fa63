/* fuzz_input: libFuzzer target for tcpchatd's whole per-connection input path, in process.
 * Up to three clients send the input's bytes; they go through conn (read, linebuf, flood
 * control), the command layer, the channel fan-out through the worker's mailbox and the send
 * queues, and every reply read back must be a well-formed IRC line. One worker whose thread is
 * never started: the harness turns its loop by hand (worker_drain). Each client is one end of
 * a socketpair; the harness holds the other end. Everything is freed after each input, so
 * LeakSanitizer sees any leak.
 *
 * Input: one flags byte, then records. A record is a selector byte and the bytes up to and
 * including the next LF (or the end):
 *   '~'  the client picked by the record's first byte closes its end (the server reads EOF);
 *   '@'  the clock moves on by 2 s times the record's first byte, then every client's timers
 *        run (registration and ping timeouts, PING);
 *   else the client (selector % clients) sends the record's bytes.
 * Each record is one loop turn: read, run the mailbox until it is empty, flush, read replies.
 * Flags: bits 0-1 how many clients (1 + value % 3); bit 2 tight limits (small send and receive
 * queues, strict flood control); bit 3 a server password ("fuzzpass"). Operator "fuzz" with
 * password "fuzzpw" exists (a cheap argon2id hash, so OPER is fast enough to fuzz). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/ircmsg.h"
#include "common/log.h"
#include "server/chan.h"
#include "server/cmd.h"
#include "server/client.h"
#include "server/config.h"
#include "server/conn.h"
#include "server/nick.h"
#include "server/rehash.h"
#include "server/server.h"
#include "server/worker.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CLIENTS    3
#define FUZZ_INPUT_MAX  16384 /* longer inputs teach nothing new and slow every run */
#define FUZZ_TURNS_MAX  64    /* mailbox passes per record; a close takes two or three */
#define FUZZ_START_MS   1000000
#define FUZZ_TICK_STEP  2000 /* ms the clock moves per unit of a '@' record */
#define FUZZ_OUT_MAX    (2 * IRC_RAW_LINE_MAX)
#define FUZZ_READ_CHUNK 65536

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

enum { PROFILE_DEFAULT, PROFILE_TIGHT, PROFILE_PASSWORD, PROFILES };

/* The settings of each profile, loaded once; copied into the server for each input and never
 * changed by it (only rehash changes a running server's config, and it never runs here). */
static struct config profiles[PROFILES];
static char conf_path[64];
static char *profile_argv[PROFILES][24];
static int profile_argc[PROFILES];

static const char *const hosts[FUZZ_CLIENTS] = {"127.0.0.1", "2001:db8::7", "192.0.2.33"};

/* A client's state in the harness: the client's id (the struct may be freed under us) and our
 * end of its socketpair, with the reply bytes not yet ending in CR LF. */
struct peer {
    uint64_t id;
    int fd;
    char out[FUZZ_OUT_MAX];
    size_t outlen;
};

static struct server srv;
static struct worker wk;
static struct peer peers[FUZZ_CLIENTS];
static int npeers;
static int verbose; /* FUZZ_VERBOSE=1 prints every reply, to see what an input does */

static void add_args(int p, const char *const *args)
{
    int *n = &profile_argc[p];
    if (*n == 0)
        profile_argv[p][(*n)++] = (char *)"tcpchatd";
    for (; *args; args++)
        profile_argv[p][(*n)++] = (char *)*args;
    profile_argv[p][*n] = NULL;
}

/* Writes the config file with the operator entry; its hash uses argon2id's lowest costs. */
static void write_conf(void)
{
    char hash[crypto_pwhash_STRBYTES];
    CHECK(crypto_pwhash_str(hash, "fuzzpw", 6, crypto_pwhash_OPSLIMIT_MIN,
                            crypto_pwhash_MEMLIMIT_MIN) == 0);
    snprintf(conf_path, sizeof conf_path, "/tmp/fuzz_input.%d.conf", (int)getpid());
    FILE *f = fopen(conf_path, "w");
    CHECK(f != NULL);
    fprintf(f, "[server]\ndescription = fuzzing\n\n[oper \"fuzz\"]\npassword = %s\nhost = *\n",
            hash);
    CHECK(fclose(f) == 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    CHECK(sodium_init() >= 0);
    verbose = getenv("FUZZ_VERBOSE") != NULL;
    log_set_level(LOG_ERROR);
    write_conf();
    static const char *const common[] = {"--config",    conf_path,       "--workers",
                                         "1",           "--server-name", "fuzz.server",
                                         "--log-level", "error",         NULL};
    static const char *const fast[] = {"--flood-burst", "1000000", "--flood-rate", "1000000", NULL};
    static const char *const tight[] = {
        "--sendq",       "4096", "--sendq-soft", "512", "--recvq", "1024",
        "--flood-burst", "5",    "--flood-rate", "1",   NULL};
    static const char *const pass[] = {"--password", "fuzzpass", NULL};
    for (int p = 0; p < PROFILES; p++)
        add_args(p, common);
    add_args(PROFILE_DEFAULT, fast);
    add_args(PROFILE_TIGHT, tight);
    add_args(PROFILE_PASSWORD, fast);
    add_args(PROFILE_PASSWORD, pass);
    for (int p = 0; p < PROFILES; p++) {
        if (config_load(&profiles[p], profile_argc[p], profile_argv[p]) != CONFIG_OK) {
            fprintf(stderr, "fuzz_input: profile %d: %s\n", p, profiles[p].error);
            abort();
        }
    }
    unlink(conf_path); /* read already; REHASH only queues a request here */
    log_set_level(LOG_ERROR);
    return 0;
}

/* A reply line must be what a client can parse: no NUL, no bare CR or LF, within bounds. */
static void check_reply(char *line, size_t len)
{
    CHECK(len > 0);
    CHECK(len <= IRC_RAW_LINE_MAX);
    CHECK(memchr(line, '\0', len) == NULL);
    CHECK(memchr(line, '\r', len) == NULL);
    line[len] = '\0';
    if (verbose)
        fprintf(stderr, "%s\n", line);
    struct ircmsg m;
    CHECK(ircmsg_parse(line, &m) == IRCMSG_OK);
}

/* Reads what the server wrote to p and checks each complete line. */
static void read_replies(struct peer *p)
{
    static char buf[FUZZ_READ_CHUNK];
    for (;;) {
        ssize_t n = read(p->fd, buf, sizeof buf);
        if (n <= 0)
            return;
        for (ssize_t i = 0; i < n; i++) {
            char ch = buf[i];
            if (ch == '\n') {
                CHECK(p->outlen > 0 && p->out[p->outlen - 1] == '\r');
                if (verbose)
                    fprintf(stderr, "%d< ", (int)(p - peers));
                check_reply(p->out, p->outlen - 1);
                p->outlen = 0;
                continue;
            }
            CHECK(p->outlen < IRC_RAW_LINE_MAX + 1); /* a line ends within bounds */
            p->out[p->outlen++] = ch;
        }
    }
}

/* One loop turn and then some: runs mailbox items until none is left (a close posts its QUIT
 * for a later pass), then reads every client's replies. */
static void turn(void)
{
    for (int i = 0; i < FUZZ_TURNS_MAX; i++) {
        worker_drain(&wk);
        /* The worker's thread never runs: nobody else touches the mailbox. */
        if (!wk.mb.head && !wk.closing && !wk.dirty && !wk.to_free)
            break;
    }
    for (int i = 0; i < npeers; i++)
        read_replies(&peers[i]);
}

static struct client *live_client(int i)
{
    struct client *c = worker_find_client(&wk, peers[i].id);
    return c && !c->dead ? c : NULL;
}

static void setup(const uint8_t flags)
{
    int profile = flags & 4 ? PROFILE_TIGHT : flags & 8 ? PROFILE_PASSWORD : PROFILE_DEFAULT;
    memset(&srv, 0, sizeof srv);
    srv.cfg = profiles[profile]; /* shared, read-only: not freed with the server */
    pthread_mutex_init(&srv.nick_lock, NULL);
    pthread_mutex_init(&srv.chan_lock, NULL);
    atomic_init(&srv.next_client_id, 0);
    atomic_init(&srv.next_chan_id, 0);
    atomic_init(&srv.nclients, 0);
    snprintf(srv.created, sizeof srv.created, "2026-01-01 00:00:00 UTC");
    srv.nworkers = 1;
    srv.workers = &wk;
    CHECK(worker_init(&wk, &srv, 0) == 0);
    CHECK(rehash_init(&srv, profile_argc[profile], profile_argv[profile]) == 0);
    cmd_install(&srv);
    wk.now_ms = FUZZ_START_MS;

    npeers = 1 + (flags & 3) % FUZZ_CLIENTS;
    for (int i = 0; i < npeers; i++) {
        int sv[2];
        CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
        atomic_fetch_add(&srv.nclients, 1); /* as the acceptor counts it */
        struct client *c = conn_create(&wk, sv[0], hosts[i], 0);
        CHECK(c != NULL);
        peers[i].id = c->id;
        peers[i].fd = sv[1];
        peers[i].outlen = 0;
    }
}

static void teardown(void)
{
    for (int i = 0; i < npeers; i++) {
        struct client *c = live_client(i);
        if (c)
            conn_close_later(c, "Fuzz input done");
    }
    turn();
    for (int i = 0; i < npeers; i++)
        close(peers[i].fd);
    CHECK(atomic_load(&srv.nclients) == 0);
    CHECK(wk.clients == NULL); /* every QUIT came back and freed its client */
    worker_destroy(&wk);
    chan_table_free(&srv);
    nick_table_free(&srv);
    rehash_free(&srv);
    pthread_mutex_destroy(&srv.nick_lock);
    pthread_mutex_destroy(&srv.chan_lock);
    memset(&srv.cfg, 0, sizeof srv.cfg);
}

static void send_bytes(int i, const uint8_t *p, size_t n)
{
    struct client *c = live_client(i);
    if (!c || n == 0)
        return;
    /* The socket buffer takes a whole record: records are at most FUZZ_INPUT_MAX bytes. */
    CHECK(write(peers[i].fd, p, n) == (ssize_t)n);
    conn_on_readable(c, 0);
}

static void hang_up(int i)
{
    struct client *c = live_client(i);
    if (!c)
        return;
    shutdown(peers[i].fd, SHUT_WR);
    conn_on_readable(c, 1); /* epoll reports EPOLLRDHUP with it */
}

static void tick(unsigned steps)
{
    wk.now_ms += (uint64_t)steps * FUZZ_TICK_STEP;
    struct client *c, *tmp;
    HASH_ITER(hh, wk.clients, c, tmp)
    {
        conn_tick(c);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > FUZZ_INPUT_MAX)
        return 0;
    setup(data[0]);
    size_t pos = 1;
    while (pos < size) {
        uint8_t sel = data[pos++];
        const uint8_t *rec = data + pos;
        const uint8_t *lf = memchr(rec, '\n', size - pos);
        size_t n = lf ? (size_t)(lf - rec) + 1 : size - pos;
        pos += n;
        if (sel == '~')
            hang_up(n > 0 ? rec[0] % npeers : 0);
        else if (sel == '@')
            tick(n > 0 ? rec[0] : 1);
        else
            send_bytes(sel % npeers, rec, n);
        turn();
    }
    teardown();
    return 0;
}
