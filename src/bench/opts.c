/* opts: parse tcpchat-bench's flags. The scenarios are the ones of issue 4 (fan-out, big room,
 * join storm, many rooms, latency, capacity); each is a row of the preset table below. */
#include "opts.h"

#include "payload.h"

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_HOST           "127.0.0.1"
#define DEFAULT_PORT           "6667"
#define DEFAULT_NICK_PREFIX    "b"
#define DEFAULT_CHANNEL_PREFIX "#bench"
#define DEFAULT_SOURCES        4 /* 127.0.0.1-4: four times one address's ephemeral ports */
#define DEFAULT_CONNECT_WINDOW                                                                     \
    10 /* ngircd overflows its accept queue at 50 (SYN cookies, resets) */
#define DEFAULT_DRAIN_IDLE 5.0
#define CLIENTS_MAX        1000000
#define SOURCES_MAX        254 /* 127.0.0.1 .. 127.0.0.254 */
#define WINDOW_MAX         100000
#define TIMEOUT_MAX        86400.0
#define NICK_PREFIX_MAX    3 /* prefix + 5-6 digits + a retry letter within 9 (RFC 2812) */

struct preset {
    const char *name;
    const char *what;
    int clients, channels, senders, messages, size;
    double rate, timeout;
    double settle; /* seconds between the last JOIN notice and the joined snapshot */
};

/* Sizes from issue 4. The fixed-rate ones send rate * duration messages: latency runs 15 s at
 * 20 msg/s, many rooms 30 s at 1 msg/s, capacity a 10 s chat among its idle crowd. Capacity
 * measures memory per idle client in rooms: it waits 3 s after the join storm (whose queued
 * notices and events are not the clients' state) before taking the server's RSS. */
static const struct preset presets[] = {
    {"custom", "100 clients, 1 room, 10 senders x 100 messages, full speed", 100, 1, 10, 100, 100,
     0, 120, 0},
    {"fanout", "1000 clients in one room, 10 senders x 1000 messages of 100 B, full speed", 1000, 1,
     10, 1000, 100, 0, 300, 0},
    {"bigroom", "5000 clients in one room, 5 senders x 200 messages, full speed", 5000, 1, 5, 200,
     100, 0, 600, 0},
    {"joinstorm", "4000 clients join one room; no messages", 4000, 1, 0, 0, 100, 0, 600, 0},
    {"manyrooms", "10000 clients in 1000 rooms of 10, each sending 1 msg/s for 30 s", 10000, 1000,
     10000, 30, 100, 1, 600, 0},
    {"latency", "1000 clients in one room, 10 senders at 20 msg/s for 15 s", 1000, 1, 10, 300, 100,
     20, 300, 0},
    {"capacity", "19000 idle clients in rooms of 10; 10 of them chat at 1 msg/s for 10 s", 19000,
     1900, 10, 10, 100, 1, 900, 3},
};

static const char usage_text[] =
    "Usage: tcpchat-bench [--scenario NAME] [options]\n"
    "Drives an IRC server with many clients and reports throughput and latency.\n"
    "  --scenario NAME     preset: fanout bigroom joinstorm manyrooms latency capacity\n"
    "  --host H --port P   server (default 127.0.0.1 6667)\n"
    "  --servers LIST      HOST:PORT,HOST:PORT,...: spread the clients over several\n"
    "                      servers (nodes of one network), round robin; instead of\n"
    "                      --host and --port\n"
    "  --tls               connect with TLS (tcpchatd's TLS port is 6697); the server's\n"
    "                      certificate is NOT verified: this is a load generator\n"
    "  --websocket         speak IRC over WebSocket (IRCv3 websocket, text frames) at /irc:\n"
    "                      --port is then tcpchatd's --http-port (8080; --https-port\n"
    "                      with --tls)\n"
    "  --clients N         client connections\n"
    "  --channels C        channels #bench0.. (clients join round robin; 0 = none)\n"
    "  --senders S         clients 0..S-1 send to their channel\n"
    "  --messages M        messages per sender\n"
    "  --size B            payload bytes per message (at most 400)\n"
    "  --rate R            messages/s per sender (0 = as fast as the server reads)\n"
    "  --duration D        with --rate: send for D seconds (messages = R x D)\n"
    "  --sources K         spread clients over 127.0.0.1..127.0.0.K (default 4)\n"
    "  --connect-window W  connections connecting/registering at once (default 10)\n"
    "  --timeout T         stop the whole run after T seconds\n"
    "  --drain-idle T      give up waiting for missing messages after T s idle (default 5)\n"
    "  --no-join-wait      start sending without waiting for every JOIN notice\n"
    "  --settle S          after the last JOIN notice, wait S s before measuring the server\n"
    "                      and sending (capacity: 3)\n"
    "  --server-pid PID    report the server's CPU time and memory\n"
    "  --label TEXT        server name to echo in the result\n"
    "  --nick-prefix P     nicks are P<number> (default b)\n"
    "  --channel-prefix P  channels are P<number> (default #bench)\n"
    "  --json              print the result as one JSON object instead of a RESULT line\n"
    "  --quiet             no progress line on stderr\n"
    "  -h, --help\n"
    "Exit status: 0 run completed, 1 bad usage or setup error, 2 timed out or failed.\n";

enum {
    OPT_SCENARIO = 256,
    OPT_HOST,
    OPT_SERVERS,
    OPT_PORT,
    OPT_TLS,
    OPT_WEBSOCKET,
    OPT_CLIENTS,
    OPT_CHANNELS,
    OPT_SENDERS,
    OPT_MESSAGES,
    OPT_SIZE,
    OPT_RATE,
    OPT_DURATION,
    OPT_SOURCES,
    OPT_WINDOW,
    OPT_TIMEOUT,
    OPT_DRAIN_IDLE,
    OPT_NO_JOIN_WAIT,
    OPT_SETTLE,
    OPT_SERVER_PID,
    OPT_LABEL,
    OPT_NICK_PREFIX,
    OPT_CHANNEL_PREFIX,
    OPT_JSON,
    OPT_QUIET,
};

static const struct option long_opts[] = {
    {"scenario", required_argument, NULL, OPT_SCENARIO},
    {"host", required_argument, NULL, OPT_HOST},
    {"servers", required_argument, NULL, OPT_SERVERS},
    {"port", required_argument, NULL, OPT_PORT},
    {"tls", no_argument, NULL, OPT_TLS},
    {"websocket", no_argument, NULL, OPT_WEBSOCKET},
    {"clients", required_argument, NULL, OPT_CLIENTS},
    {"channels", required_argument, NULL, OPT_CHANNELS},
    {"senders", required_argument, NULL, OPT_SENDERS},
    {"messages", required_argument, NULL, OPT_MESSAGES},
    {"size", required_argument, NULL, OPT_SIZE},
    {"rate", required_argument, NULL, OPT_RATE},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"sources", required_argument, NULL, OPT_SOURCES},
    {"connect-window", required_argument, NULL, OPT_WINDOW},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"drain-idle", required_argument, NULL, OPT_DRAIN_IDLE},
    {"no-join-wait", no_argument, NULL, OPT_NO_JOIN_WAIT},
    {"settle", required_argument, NULL, OPT_SETTLE},
    {"server-pid", required_argument, NULL, OPT_SERVER_PID},
    {"label", required_argument, NULL, OPT_LABEL},
    {"nick-prefix", required_argument, NULL, OPT_NICK_PREFIX},
    {"channel-prefix", required_argument, NULL, OPT_CHANNEL_PREFIX},
    {"json", no_argument, NULL, OPT_JSON},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int opts_int(const char *s, long lo, long hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

static int opts_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

static int opts_str(const char *s, char *out)
{
    size_t n = strlen(s);
    if (n >= OPTS_NAME_MAX)
        return -1;
    memcpy(out, s, n + 1);
    return 0;
}

static void opts_apply_preset(struct bench_opts *o, const struct preset *p)
{
    opts_str(p->name, o->scenario);
    o->clients = p->clients;
    o->channels = p->channels;
    o->senders = p->senders;
    o->messages = p->messages;
    o->size = p->size;
    o->rate = p->rate;
    o->timeout = p->timeout;
    o->settle = p->settle;
}

static const struct preset *opts_find_preset(const char *name)
{
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (strcmp(presets[i].name, name) == 0)
            return &presets[i];
    return NULL;
}

static void opts_defaults(struct bench_opts *o)
{
    memset(o, 0, sizeof *o);
    opts_apply_preset(o, &presets[0]);
    opts_str(DEFAULT_HOST, o->host);
    opts_str(DEFAULT_PORT, o->port);
    opts_str(DEFAULT_NICK_PREFIX, o->nick_prefix);
    opts_str(DEFAULT_CHANNEL_PREFIX, o->channel_prefix);
    o->sources = DEFAULT_SOURCES;
    o->connect_window = DEFAULT_CONNECT_WINDOW;
    o->drain_idle = DEFAULT_DRAIN_IDLE;
    o->wait_join_notices = 1;
}

/* Flags given explicitly, as opposed to values from the preset. */
struct opts_given {
    int messages, channels, senders;
};

/* Checks the combination once every flag is in. A preset's channels and senders shrink to
 * fit fewer --clients; explicit values that do not fit are an error. */
static int opts_check(struct bench_opts *o, const struct opts_given *given, char *err,
                      size_t errlen)
{
    if (!given->channels && o->channels > o->clients)
        o->channels = o->clients;
    if (!given->senders && o->senders > o->clients)
        o->senders = o->clients;
    if (o->duration > 0) {
        if (o->rate <= 0) {
            snprintf(err, errlen, "--duration needs --rate");
            return -1;
        }
        if (!given->messages)
            o->messages = (int)(o->rate * o->duration + 0.5);
    }
    if (o->channels > o->clients) {
        snprintf(err, errlen, "--channels (%d) exceeds --clients (%d)", o->channels, o->clients);
        return -1;
    }
    if (o->senders > o->clients) {
        snprintf(err, errlen, "--senders (%d) exceeds --clients (%d)", o->senders, o->clients);
        return -1;
    }
    if (o->channels == 0 && o->senders > 0 && o->messages > 0) {
        snprintf(err, errlen, "senders need a channel: --channels 0 with --senders %d", o->senders);
        return -1;
    }
    if (o->size < PAYLOAD_HEADER_MAX)
        o->size = PAYLOAD_HEADER_MAX; /* the header must fit; say so in the result */
    return 0;
}

int opts_parse(int argc, char **argv, struct bench_opts *o, char *err, size_t errlen)
{
    opts_defaults(o);
    /* First pass: the preset, so that the flags after it (in any order) override it. */
    for (int i = 1; i < argc; i++) {
        const char *name = NULL;
        /* NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker): argv[i] is set for i < argc */
        if (strcmp(argv[i], "--scenario") == 0 && i + 1 < argc)
            name = argv[i + 1];
        else if (strncmp(argv[i], "--scenario=", 11) == 0)
            name = argv[i] + 11;
        if (name) {
            const struct preset *p = opts_find_preset(name);
            if (!p) {
                snprintf(err, errlen,
                         "unknown scenario '%s' (fanout bigroom joinstorm "
                         "manyrooms latency capacity)",
                         name);
                return OPTS_ERROR;
            }
            opts_apply_preset(o, p);
        }
    }
    int c;
    struct opts_given given = {0};
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        const char *bad = NULL;
        switch (c) {
        case OPT_SCENARIO:
            break; /* applied above */
        case OPT_HOST:
            if (opts_str(optarg, o->host) < 0)
                bad = "--host is too long";
            break;
        case OPT_PORT:
            if (opts_str(optarg, o->port) < 0)
                bad = "--port is too long";
            break;
        case OPT_SERVERS:
            if (strlen(optarg) >= sizeof o->servers || !strchr(optarg, ':'))
                bad = "--servers wants HOST:PORT,HOST:PORT,... (at most 511 characters)";
            else
                snprintf(o->servers, sizeof o->servers, "%s", optarg);
            break;
        case OPT_TLS:
            o->tls = 1;
            break;
        case OPT_WEBSOCKET:
            o->websocket = 1;
            break;
        case OPT_CLIENTS:
            if (opts_int(optarg, 1, CLIENTS_MAX, &o->clients) < 0)
                bad = "--clients wants 1 to 1000000";
            break;
        case OPT_CHANNELS:
            if (opts_int(optarg, 0, CLIENTS_MAX, &o->channels) < 0)
                bad = "--channels wants 0 to 1000000";
            given.channels = 1;
            break;
        case OPT_SENDERS:
            if (opts_int(optarg, 0, CLIENTS_MAX, &o->senders) < 0)
                bad = "--senders wants 0 to 1000000";
            given.senders = 1;
            break;
        case OPT_MESSAGES:
            if (opts_int(optarg, 0, INT32_MAX, &o->messages) < 0)
                bad = "--messages wants a count";
            given.messages = 1;
            break;
        case OPT_SIZE:
            if (opts_int(optarg, 1, PAYLOAD_SIZE_MAX, &o->size) < 0)
                bad = "--size wants 1 to 400 bytes";
            break;
        case OPT_RATE:
            if (opts_double(optarg, 0, 1e6, &o->rate) < 0)
                bad = "--rate wants messages per second, 0 to 1000000";
            break;
        case OPT_DURATION:
            if (opts_double(optarg, 0, TIMEOUT_MAX, &o->duration) < 0)
                bad = "--duration wants seconds";
            break;
        case OPT_SOURCES:
            if (opts_int(optarg, 1, SOURCES_MAX, &o->sources) < 0)
                bad = "--sources wants 1 to 254";
            break;
        case OPT_WINDOW:
            if (opts_int(optarg, 1, WINDOW_MAX, &o->connect_window) < 0)
                bad = "--connect-window wants 1 to 100000";
            break;
        case OPT_TIMEOUT:
            if (opts_double(optarg, 0.1, TIMEOUT_MAX, &o->timeout) < 0)
                bad = "--timeout wants seconds, 0.1 to 86400";
            break;
        case OPT_DRAIN_IDLE:
            if (opts_double(optarg, 0.1, TIMEOUT_MAX, &o->drain_idle) < 0)
                bad = "--drain-idle wants seconds";
            break;
        case OPT_NO_JOIN_WAIT:
            o->wait_join_notices = 0;
            break;
        case OPT_SETTLE:
            if (opts_double(optarg, 0, TIMEOUT_MAX, &o->settle) < 0)
                bad = "--settle wants seconds";
            break;
        case OPT_SERVER_PID: {
            int pid = 0;
            if (opts_int(optarg, 1, INT32_MAX, &pid) < 0)
                bad = "--server-pid wants a process id";
            o->server_pid = pid;
            break;
        }
        case OPT_LABEL:
            if (opts_str(optarg, o->label) < 0 || strpbrk(optarg, " \t\"\\"))
                bad = "--label wants a short word without spaces or quotes";
            break;
        case OPT_NICK_PREFIX:
            if (strlen(optarg) < 1 || strlen(optarg) > NICK_PREFIX_MAX ||
                strspn(optarg, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") !=
                    strlen(optarg) ||
                opts_str(optarg, o->nick_prefix) < 0)
                bad = "--nick-prefix wants 1 to 3 letters";
            break;
        case OPT_CHANNEL_PREFIX:
            if (optarg[0] != '#' || strpbrk(optarg, " ,:\a") || opts_str(optarg, o->channel_prefix))
                bad = "--channel-prefix wants a '#' name without spaces, commas or colons";
            break;
        case OPT_JSON:
            o->json = 1;
            break;
        case OPT_QUIET:
            o->quiet = 1;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return OPTS_EXIT;
        default:
            snprintf(err, errlen, "unknown or incomplete option '%s' (try --help)",
                     argv[optind - 1]);
            return OPTS_ERROR;
        }
        if (bad) {
            snprintf(err, errlen, "%s (got '%s')", bad, optarg);
            return OPTS_ERROR;
        }
    }
    if (optind < argc) {
        snprintf(err, errlen, "unexpected argument '%s' (try --help)", argv[optind]);
        return OPTS_ERROR;
    }
    return opts_check(o, &given, err, errlen) < 0 ? OPTS_ERROR : OPTS_OK;
}
