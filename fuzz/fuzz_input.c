/* fuzz_input: libFuzzer target for tcpchatd's whole per-connection input path, in process.
 * Up to three clients send the input's bytes; they go through conn (read, linebuf, flood
 * control), the command layer, the channel fan-out through the worker's mailbox and the send
 * queues, and every reply read back must be a well-formed IRC line. The server is the tests'
 * in-process one (tests/inproc/inproc.h): one worker whose thread is never started, its loop
 * turned by hand, each client one end of a socketpair. Everything is freed after each input,
 * so LeakSanitizer sees any leak.
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
#include <sys/mman.h>
#include <unistd.h>

#include "common/log.h"
#include "inproc/inproc.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CLIENTS   3
#define FUZZ_INPUT_MAX 16384 /* longer inputs teach nothing new and slow every run */
#define FUZZ_TICK_STEP 2000  /* ms the clock moves per unit of a '@' record */
#define FUZZ_ARGS_MAX  24

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

enum { PROFILE_DEFAULT, PROFILE_TIGHT, PROFILE_PASSWORD, PROFILES };

/* The options of each profile (inproc_start adds one worker and no history store). */
static const char *profile_opts[PROFILES][FUZZ_ARGS_MAX];
static int profile_n[PROFILES];
static char conf_path[64];

static const char *const hosts[FUZZ_CLIENTS] = {"127.0.0.1", "2001:db8::7", "192.0.2.33"};

static struct inproc *ip;
static int nclients;
static int verbose; /* FUZZ_VERBOSE=1 prints every line, to see what an input does */

static void add_opts(int p, const char *const *opts)
{
    for (; *opts; opts++)
        profile_opts[p][profile_n[p]++] = *opts;
    profile_opts[p][profile_n[p]] = NULL;
}

/* Writes the config file with the operator entry into a memfd, read again by each input's
 * config_load; its hash uses argon2id's lowest costs. */
static void write_conf(void)
{
    char hash[crypto_pwhash_STRBYTES];
    CHECK(crypto_pwhash_str(hash, "fuzzpw", 6, crypto_pwhash_OPSLIMIT_MIN,
                            crypto_pwhash_MEMLIMIT_MIN) == 0);
    int fd = memfd_create("fuzz_input.conf", 0);
    CHECK(fd >= 0);
    snprintf(conf_path, sizeof conf_path, "/proc/self/fd/%d", fd);
    FILE *f = fdopen(dup(fd), "w");
    CHECK(f != NULL);
    fprintf(f, "[server]\ndescription = fuzzing\n\n[oper \"fuzz\"]\npassword = %s\nhost = *\n",
            hash);
    CHECK(fclose(f) == 0);
}

static struct inproc *start(int profile)
{
    char why[256];
    struct inproc *s = inproc_start(profile_opts[profile], why, sizeof why);
    if (!s) {
        fprintf(stderr, "fuzz_input: profile %d: %s\n", profile, why);
        abort();
    }
    if (verbose)
        inproc_trace(s, stderr);
    return s;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    CHECK(sodium_init() >= 0);
    verbose = getenv("FUZZ_VERBOSE") != NULL;
    log_set_level(LOG_ERROR);
    write_conf();
    static const char *const common[] = {"--config", conf_path, "--server-name", "fuzz.server",
                                         NULL};
    static const char *const fast[] = {"--flood-burst", "1000000", "--flood-rate", "1000000", NULL};
    static const char *const tight[] = {
        "--sendq",       "4096", "--sendq-soft", "512", "--recvq", "1024",
        "--flood-burst", "5",    "--flood-rate", "1",   NULL};
    static const char *const pass[] = {"--password", "fuzzpass", NULL};
    for (int p = 0; p < PROFILES; p++)
        add_opts(p, common);
    add_opts(PROFILE_DEFAULT, fast);
    add_opts(PROFILE_TIGHT, tight);
    add_opts(PROFILE_PASSWORD, fast);
    add_opts(PROFILE_PASSWORD, pass);
    char why[256];
    for (int p = 0; p < PROFILES; p++) /* a bad profile fails here, not on the first input */
        CHECK(inproc_close(start(p), why, sizeof why) == 0);
    return 0;
}

/* After each record: every line received so far was well formed; they are not kept. */
static void check_replies(void)
{
    const char *err = inproc_error(ip);
    if (err) {
        fprintf(stderr, "fuzz_input: %s\n", err);
        abort();
    }
    for (int i = 0; i < nclients; i++)
        inproc_clear(ip, i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > FUZZ_INPUT_MAX)
        return 0;
    uint8_t flags = data[0];
    ip = start(flags & 4 ? PROFILE_TIGHT : flags & 8 ? PROFILE_PASSWORD : PROFILE_DEFAULT);
    nclients = 1 + (flags & 3) % FUZZ_CLIENTS;
    for (int i = 0; i < nclients; i++)
        CHECK(inproc_connect(ip, hosts[i]) == i);
    size_t pos = 1;
    while (pos < size) {
        uint8_t sel = data[pos++];
        const uint8_t *rec = data + pos;
        const uint8_t *lf = memchr(rec, '\n', size - pos);
        size_t n = lf ? (size_t)(lf - rec) + 1 : size - pos;
        pos += n;
        if (sel == '~')
            inproc_hang_up(ip, n > 0 ? rec[0] % nclients : 0);
        else if (sel == '@')
            inproc_advance(ip, (uint64_t)(n > 0 ? rec[0] : 1) * FUZZ_TICK_STEP);
        else
            inproc_send(ip, sel % nclients, rec, n); /* -1 once that client is closed */
        inproc_run(ip);
        check_replies();
    }
    /* Every client is closed, every QUIT comes back and frees its client, and the last lines
     * are well formed too. */
    char why[256];
    if (inproc_close(ip, why, sizeof why) < 0) {
        fprintf(stderr, "fuzz_input: %s\n", why);
        abort();
    }
    ip = NULL;
    return 0;
}
