/* config: command-line options of tcpchatd, checked strictly: a bad value is an error, never
 * silently a default. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/ircmsg.h"
#include "common/ircname.h"
#include "defines.h"

static const char usage_text[] =
    "usage: tcpchatd [options]\n"
    "  -p, --port N            TCP port (default 6667)\n"
    "  -b, --bind ADDR         address to listen on (default: all IPv4 and IPv6)\n"
    "  -w, --workers N         worker threads (default: number of CPUs)\n"
    "      --server-name NAME  server name (default: host name)\n"
    "      --motd FILE         message of the day\n"
    "      --default-channel C channel joined on login (default #lobby, '' for none)\n"
    "      --password PASS     server password (PASS) required to register\n"
    "      --max-clients N     connections at once (default 10000)\n"
    "      --sendq BYTES       send queue hard bound, disconnect past it (default 1048576)\n"
    "      --sendq-soft BYTES  send queue soft bound, stop reading past it (default 65536)\n"
    "      --recvq BYTES       unprocessed input held per client (default 16384)\n"
    "      --flood-rate N      lines per second a client may send (default 10)\n"
    "      --flood-burst N     lines a client may send at once (default 40)\n"
    "      --reg-timeout S     seconds to finish registering (default 60)\n"
    "      --ping-interval S   idle seconds before PING (default 120)\n"
    "      --ping-timeout S    seconds to answer PING (default 120)\n"
    "      --log-level L       error, warn, info or debug (default info)\n"
    "  -h, --help              this help\n"
    "  -V, --version           version\n";

enum {
    OPT_SERVER_NAME = 256,
    OPT_MOTD,
    OPT_DEFAULT_CHANNEL,
    OPT_PASSWORD,
    OPT_MAX_CLIENTS,
    OPT_SENDQ,
    OPT_SENDQ_SOFT,
    OPT_RECVQ,
    OPT_FLOOD_RATE,
    OPT_FLOOD_BURST,
    OPT_REG_TIMEOUT,
    OPT_PING_INTERVAL,
    OPT_PING_TIMEOUT,
    OPT_LOG_LEVEL,
};

static const struct option long_options[] = {
    {"port", required_argument, NULL, 'p'},
    {"bind", required_argument, NULL, 'b'},
    {"workers", required_argument, NULL, 'w'},
    {"server-name", required_argument, NULL, OPT_SERVER_NAME},
    {"motd", required_argument, NULL, OPT_MOTD},
    {"default-channel", required_argument, NULL, OPT_DEFAULT_CHANNEL},
    {"password", required_argument, NULL, OPT_PASSWORD},
    {"max-clients", required_argument, NULL, OPT_MAX_CLIENTS},
    {"sendq", required_argument, NULL, OPT_SENDQ},
    {"sendq-soft", required_argument, NULL, OPT_SENDQ_SOFT},
    {"recvq", required_argument, NULL, OPT_RECVQ},
    {"flood-rate", required_argument, NULL, OPT_FLOOD_RATE},
    {"flood-burst", required_argument, NULL, OPT_FLOOD_BURST},
    {"reg-timeout", required_argument, NULL, OPT_REG_TIMEOUT},
    {"ping-interval", required_argument, NULL, OPT_PING_INTERVAL},
    {"ping-timeout", required_argument, NULL, OPT_PING_TIMEOUT},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* Parses a whole decimal integer in [lo, hi]; 0 or -1. */
static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int set_str(char **dst, const char *src)
{
    free(*dst);
    *dst = strdup(src);
    return *dst ? 0 : -1;
}

/* A server name goes into every reply's prefix: no spaces, no ':' first, sane length. */
static int server_name_valid(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n <= 63 && s[0] != ':' && strcspn(s, " \t\r\n,!@*?") == n;
}

static int load_motd(struct config *cfg)
{
    FILE *f = fopen(cfg->motd_path, "r");
    if (!f) {
        fprintf(stderr, "tcpchatd: cannot read MOTD file %s: %s\n", cfg->motd_path,
                strerror(errno));
        return -1;
    }
    cfg->motd = calloc(MOTD_LINES_MAX, sizeof *cfg->motd);
    if (!cfg->motd) {
        fclose(f);
        return -1;
    }
    char line[MOTD_LINE_MAX + 2];
    while (cfg->motd_lines < MOTD_LINES_MAX && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        cfg->motd[cfg->motd_lines] = strdup(line);
        if (!cfg->motd[cfg->motd_lines])
            break;
        cfg->motd_lines++;
    }
    fclose(f);
    return 0;
}

enum config_result config_parse(struct config *cfg, int argc, char **argv)
{
    memset(cfg, 0, sizeof *cfg);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    cfg->port = DEFAULT_PORT;
    cfg->workers = cpus < 1 ? 1 : cpus > WORKERS_MAX ? WORKERS_MAX : (int)cpus;
    cfg->max_clients = DEFAULT_MAX_CLIENTS;
    cfg->sendq = DEFAULT_SENDQ;
    cfg->sendq_soft = DEFAULT_SENDQ_SOFT;
    cfg->recvq = DEFAULT_RECVQ;
    cfg->flood_rate = DEFAULT_FLOOD_RATE;
    cfg->flood_burst = DEFAULT_FLOOD_BURST;
    cfg->reg_timeout = DEFAULT_REG_TIMEOUT;
    cfg->ping_interval = DEFAULT_PING_INTERVAL;
    cfg->ping_timeout = DEFAULT_PING_TIMEOUT;
    cfg->log_level = LOG_INFO;
    char host[256] = "localhost";
    if (gethostname(host, sizeof host - 1) != 0 || !server_name_valid(host))
        strcpy(host, "localhost");
    if (set_str(&cfg->server_name, host) || set_str(&cfg->default_channel, DEFAULT_CHANNEL))
        return CONFIG_ERROR;

    optind = 1;
    int c;
    long v;
    while ((c = getopt_long(argc, argv, "p:b:w:hV", long_options, NULL)) != -1) {
        const char *bad = NULL;
        switch (c) {
        case 'p':
            if (parse_long(optarg, 1, 65535, &v) < 0)
                bad = "--port wants a number from 1 to 65535";
            cfg->port = (int)v;
            break;
        case 'b':
            if (set_str(&cfg->bind, optarg))
                return CONFIG_ERROR;
            break;
        case 'w':
            if (parse_long(optarg, 1, WORKERS_MAX, &v) < 0)
                bad = "--workers wants a number from 1 to 256";
            cfg->workers = (int)v;
            break;
        case OPT_SERVER_NAME:
            if (!server_name_valid(optarg))
                bad = "--server-name must be 1-63 characters without spaces or ,!@*?";
            else if (set_str(&cfg->server_name, optarg))
                return CONFIG_ERROR;
            break;
        case OPT_MOTD:
            if (set_str(&cfg->motd_path, optarg))
                return CONFIG_ERROR;
            break;
        case OPT_DEFAULT_CHANNEL:
            if (optarg[0] && !ircname_channel_valid(optarg))
                bad = "--default-channel must be a valid channel name like #lobby, or ''";
            else if (set_str(&cfg->default_channel, optarg))
                return CONFIG_ERROR;
            break;
        case OPT_PASSWORD:
            if (strlen(optarg) == 0 || strlen(optarg) > PASSWORD_MAX || strchr(optarg, ' '))
                bad = "--password must be 1-128 characters without spaces";
            else if (set_str(&cfg->password, optarg))
                return CONFIG_ERROR;
            break;
        case OPT_MAX_CLIENTS:
            if (parse_long(optarg, 1, 1000000, &v) < 0)
                bad = "--max-clients wants a number from 1 to 1000000";
            cfg->max_clients = (int)v;
            break;
        case OPT_SENDQ:
            if (parse_long(optarg, IRC_LINE_MAX, 1L << 30, &v) < 0)
                bad = "--sendq wants a byte count from 512 to 1073741824";
            cfg->sendq = (size_t)v;
            break;
        case OPT_SENDQ_SOFT:
            if (parse_long(optarg, IRC_LINE_MAX, 1L << 30, &v) < 0)
                bad = "--sendq-soft wants a byte count from 512 to 1073741824";
            cfg->sendq_soft = (size_t)v;
            break;
        case OPT_RECVQ:
            if (parse_long(optarg, 1024, 1L << 24, &v) < 0)
                bad = "--recvq wants a byte count from 1024 to 16777216";
            cfg->recvq = (size_t)v;
            break;
        case OPT_FLOOD_RATE:
            if (parse_long(optarg, 1, 1000000, &v) < 0)
                bad = "--flood-rate wants a number of lines per second from 1 to 1000000";
            cfg->flood_rate = (double)v;
            break;
        case OPT_FLOOD_BURST:
            if (parse_long(optarg, 1, 1000000, &v) < 0)
                bad = "--flood-burst wants a number of lines from 1 to 1000000";
            cfg->flood_burst = (double)v;
            break;
        case OPT_REG_TIMEOUT:
            if (parse_long(optarg, 1, 3600, &v) < 0)
                bad = "--reg-timeout wants seconds from 1 to 3600";
            cfg->reg_timeout = (int)v;
            break;
        case OPT_PING_INTERVAL:
            if (parse_long(optarg, 1, 86400, &v) < 0)
                bad = "--ping-interval wants seconds from 1 to 86400";
            cfg->ping_interval = (int)v;
            break;
        case OPT_PING_TIMEOUT:
            if (parse_long(optarg, 1, 86400, &v) < 0)
                bad = "--ping-timeout wants seconds from 1 to 86400";
            cfg->ping_timeout = (int)v;
            break;
        case OPT_LOG_LEVEL:
            if (log_parse_level(optarg, &cfg->log_level) < 0)
                bad = "--log-level wants error, warn, info or debug";
            break;
        case 'h':
            fputs(usage_text, stdout);
            return CONFIG_EXIT_OK;
        case 'V':
            printf("tcpchatd %s\n", TCPCHAT_VERSION);
            return CONFIG_EXIT_OK;
        default:
            fputs("Try 'tcpchatd --help' for the options.\n", stderr);
            return CONFIG_ERROR;
        }
        if (bad) {
            fprintf(stderr, "tcpchatd: %s (got '%s')\n", bad, optarg);
            return CONFIG_ERROR;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "tcpchatd: unexpected argument '%s'\nTry 'tcpchatd --help'.\n",
                argv[optind]);
        return CONFIG_ERROR;
    }
    if (cfg->sendq_soft > cfg->sendq)
        cfg->sendq_soft = cfg->sendq;
    if (cfg->motd_path && load_motd(cfg) < 0)
        return CONFIG_ERROR;
    return CONFIG_OK;
}

void config_free(struct config *cfg)
{
    free(cfg->bind);
    free(cfg->server_name);
    free(cfg->motd_path);
    free(cfg->default_channel);
    free(cfg->password);
    for (int i = 0; i < cfg->motd_lines; i++)
        free(cfg->motd[i]);
    free(cfg->motd);
    memset(cfg, 0, sizeof *cfg);
}
