/* config: the options of tcpchatd, from the config file (--config, read by conffile.c) and then
 * the command line, checked strictly: a bad value is an error, never silently a default. A
 * file key is the long option's name, so both go through one switch (apply). */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/ircmsg.h"
#include "common/ircname.h"
#include "common/redis_url.h"
#include "iplimit.h"
#include "conffile.h"
#include "defines.h"

static const char usage_text[] =
    "usage: tcpchatd [options]\n"
    "  -p, --port N            TCP port (default 6667)\n"
    "  -b, --bind ADDR         address to listen on (default: all IPv4 and IPv6)\n"
    "      --tls-port N        TLS port (default 6697 when a certificate is given)\n"
    "      --tls-cert FILE     TLS certificate (PEM, chain allowed)\n"
    "      --tls-key FILE      TLS private key (PEM)\n"
    "      --http-port N       HTTP port: the web client and WebSocket at /irc (default 8080;\n"
    "                          0: none)\n"
    "      --https-port N      HTTPS port, with the TLS certificate (default 8443 when a\n"
    "                          certificate is given; 0: none)\n"
    "      --web-root DIR      serve the web client from DIR instead of the built-in copy\n"
    "      --web-origins LIST  origins (scheme://host[:port], comma-separated, or *) whose\n"
    "                          pages may open a WebSocket (default: the server's own only)\n"
    "      --metrics-allow LIST  addresses or CIDRs that may read /metrics (Prometheus) on\n"
    "                          the web listener (default 127.0.0.0/8,::1; '' for none)\n"
    "  -w, --workers N         worker threads (default: number of CPUs)\n"
    "  -c, --config FILE       read settings and operators from FILE (INI); options override it\n"
    "      --mkpasswd          read a password on stdin, print its hash for an [oper] entry\n"
    "  -t, --configtest        check the options, the config file and the TLS certificate,\n"
    "                          say what is wrong (FILE:LINE), exit 0 or 1; starts nothing\n"
    "      --server-name NAME  server name (default: host name; in a network, the node name)\n"
    "      --description TEXT  one-line server description (WHOIS)\n"
    "      --admin-email TEXT  contact address shown by ADMIN\n"
    "      --motd FILE         message of the day\n"
    "      --default-channel C channel joined on login (default #lobby, '' for none)\n"
    "      --default-channel-owned on|off  the default channel belongs to the server's\n"
    "                          operators: ops go to operators (and the accounts ChanServ\n"
    "                          names), not to whoever joins first (default off)\n"
    "      --password PASS     server password (PASS) required to register\n"
    "      --max-clients N     connections at once (default 10000)\n"
    "      --sendq BYTES       send queue hard bound, disconnect past it (default 1048576)\n"
    "      --sendq-soft BYTES  send queue soft bound, stop reading past it (default 65536)\n"
    "      --sendq-new BYTES   in its first 30 s, what a client may have waiting of others'\n"
    "                          lines beyond its own replies; past it, dropped (default\n"
    "                          32768; 0: no such bound)\n"
    "      --recvq BYTES       unprocessed input held per client (default 16384)\n"
    "      --backlog-max BYTES server-wide: mailbox items and messages waiting for the\n"
    "                          history writer; past it no client's input is run until it\n"
    "                          drains (default 33554432)\n"
    "      --flood-rate N      lines per second a client may send (default 10)\n"
    "      --flood-burst N     lines a client may send at once (default 40)\n"
    "      --reg-timeout S     seconds to finish registering (default 60)\n"
    "      --ping-interval S   idle seconds before PING (default 120)\n"
    "      --ping-timeout S    seconds to answer PING (default 120)\n"
    "      --max-per-ip N      connections one address may hold (default 10)\n"
    "      --conn-rate N       new connections per minute from one address (default 30)\n"
    "      --login-fail-limit N  failed logins one address may make in 10 minutes before\n"
    "                          its logins are refused until then (default 10)\n"
    "      --login-fail-global N  failed logins per minute from all addresses together;\n"
    "                          past it, logins are refused at once (\"server busy\") except\n"
    "                          from addresses that logged in within a day (default 600)\n"
    "      --login-queue N     password checks that may wait in each of the account\n"
    "                          thread's two queues; past it, refused (default 256)\n"
    "      --register-limit N  accounts one address may register per hour (default 3; 0: no\n"
    "                          REGISTER)\n"
    "      --account-expire-days N  an account nobody logged into (SASL) since it was\n"
    "                          registered is deleted after N days (default 30; 0: never)\n"
    "      --ip-exempt LIST    CIDRs not limited per address, e.g. 127.0.0.0/8,::1 (default:\n"
    "                          none)\n"
    "      --data-dir DIR      where the history store lives (default ./data)\n"
    "      --history on|off    store and replay messages (default on)\n"
    "      --history-replay N  messages replayed on JOIN without chathistory (default 50)\n"
    "      --history-days N    keep messages this many days, 0 for ever (default 30)\n"
    "      --history-max N     keep at most N messages per channel, 0 for no cap (default 10000)\n"
    "      --require-sasl on|off  only users logged in with SASL may connect (default off)\n"
    "      --cloak-accounts on|off  a logged-in user's host is shown as user/<account>\n"
    "                          (IRCv3 chghost tells those who share a channel; default off)\n"
    "      --cluster URLS      join a network of nodes through Redis: redis://HOST:PORT[/DB],\n"
    "                          several separated by commas (docs/cluster.md)\n"
    "      --node-name NAME    this node's name in the network (default: the server name)\n"
    "      --cluster-password-file FILE  Redis password, read from FILE\n"
    "      --cluster-heartbeat S  seconds between a node's heartbeats; a node silent for 3\n"
    "                          of them has left the network (default 2)\n"
    "      --user NAME         started as root: drop to this user once the ports are open\n"
    "      --allow-root        run as root all the same (refused without --user otherwise)\n"
    "      --log-level L       error, warn, info or debug (default info)\n"
    "      --log-format F      text or logfmt (key=value fields, for log collectors; default\n"
    "                          text)\n"
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
    OPT_SENDQ_NEW,
    OPT_RECVQ,
    OPT_BACKLOG_MAX,
    OPT_FLOOD_RATE,
    OPT_FLOOD_BURST,
    OPT_REG_TIMEOUT,
    OPT_PING_INTERVAL,
    OPT_PING_TIMEOUT,
    OPT_LOG_LEVEL,
    OPT_LOG_FORMAT,
    OPT_DESCRIPTION,
    OPT_MKPASSWD,
    OPT_CONFIGTEST,
    OPT_TLS_PORT,
    OPT_TLS_CERT,
    OPT_TLS_KEY,
    OPT_MAX_PER_IP,
    OPT_CONN_RATE,
    OPT_IP_EXEMPT,
    OPT_DATA_DIR,
    OPT_HISTORY,
    OPT_HISTORY_REPLAY,
    OPT_HISTORY_DAYS,
    OPT_HISTORY_MAX,
    OPT_REQUIRE_SASL,
    OPT_CLOAK_ACCOUNTS,
    OPT_DEFAULT_CHANNEL_OWNED,
    OPT_USER,
    OPT_ALLOW_ROOT,
    OPT_ADMIN_EMAIL,
    OPT_LOGIN_FAIL_LIMIT,
    OPT_LOGIN_FAIL_GLOBAL,
    OPT_LOGIN_QUEUE,
    OPT_REGISTER_LIMIT,
    OPT_ACCOUNT_EXPIRE,
    OPT_CLUSTER,
    OPT_NODE_NAME,
    OPT_CLUSTER_PASSWORD_FILE,
    OPT_CLUSTER_HEARTBEAT,
    OPT_HTTP_PORT,
    OPT_HTTPS_PORT,
    OPT_WEB_ROOT,
    OPT_WEB_ORIGINS,
    OPT_METRICS_ALLOW,
};

static const struct option long_options[] = {
    {"port", required_argument, NULL, 'p'},
    {"bind", required_argument, NULL, 'b'},
    {"tls-port", required_argument, NULL, OPT_TLS_PORT},
    {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
    {"tls-key", required_argument, NULL, OPT_TLS_KEY},
    {"http-port", required_argument, NULL, OPT_HTTP_PORT},
    {"https-port", required_argument, NULL, OPT_HTTPS_PORT},
    {"web-root", required_argument, NULL, OPT_WEB_ROOT},
    {"web-origins", required_argument, NULL, OPT_WEB_ORIGINS},
    {"metrics-allow", required_argument, NULL, OPT_METRICS_ALLOW},
    {"workers", required_argument, NULL, 'w'},
    {"config", required_argument, NULL, 'c'},
    {"mkpasswd", no_argument, NULL, OPT_MKPASSWD},
    {"configtest", no_argument, NULL, 't'},
    {"server-name", required_argument, NULL, OPT_SERVER_NAME},
    {"description", required_argument, NULL, OPT_DESCRIPTION},
    {"motd", required_argument, NULL, OPT_MOTD},
    {"default-channel", required_argument, NULL, OPT_DEFAULT_CHANNEL},
    {"password", required_argument, NULL, OPT_PASSWORD},
    {"max-clients", required_argument, NULL, OPT_MAX_CLIENTS},
    {"sendq", required_argument, NULL, OPT_SENDQ},
    {"sendq-soft", required_argument, NULL, OPT_SENDQ_SOFT},
    {"sendq-new", required_argument, NULL, OPT_SENDQ_NEW},
    {"recvq", required_argument, NULL, OPT_RECVQ},
    {"backlog-max", required_argument, NULL, OPT_BACKLOG_MAX},
    {"flood-rate", required_argument, NULL, OPT_FLOOD_RATE},
    {"flood-burst", required_argument, NULL, OPT_FLOOD_BURST},
    {"reg-timeout", required_argument, NULL, OPT_REG_TIMEOUT},
    {"ping-interval", required_argument, NULL, OPT_PING_INTERVAL},
    {"ping-timeout", required_argument, NULL, OPT_PING_TIMEOUT},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
    {"max-per-ip", required_argument, NULL, OPT_MAX_PER_IP},
    {"login-fail-limit", required_argument, NULL, OPT_LOGIN_FAIL_LIMIT},
    {"login-fail-global", required_argument, NULL, OPT_LOGIN_FAIL_GLOBAL},
    {"login-queue", required_argument, NULL, OPT_LOGIN_QUEUE},
    {"register-limit", required_argument, NULL, OPT_REGISTER_LIMIT},
    {"account-expire-days", required_argument, NULL, OPT_ACCOUNT_EXPIRE},
    {"conn-rate", required_argument, NULL, OPT_CONN_RATE},
    {"ip-exempt", required_argument, NULL, OPT_IP_EXEMPT},
    {"data-dir", required_argument, NULL, OPT_DATA_DIR},
    {"history", required_argument, NULL, OPT_HISTORY},
    {"history-replay", required_argument, NULL, OPT_HISTORY_REPLAY},
    {"history-days", required_argument, NULL, OPT_HISTORY_DAYS},
    {"history-max", required_argument, NULL, OPT_HISTORY_MAX},
    {"require-sasl", required_argument, NULL, OPT_REQUIRE_SASL},
    {"cloak-accounts", required_argument, NULL, OPT_CLOAK_ACCOUNTS},
    {"default-channel-owned", required_argument, NULL, OPT_DEFAULT_CHANNEL_OWNED},
    {"user", required_argument, NULL, OPT_USER},
    {"admin-email", required_argument, NULL, OPT_ADMIN_EMAIL},
    {"allow-root", no_argument, NULL, OPT_ALLOW_ROOT},
    {"cluster", required_argument, NULL, OPT_CLUSTER},
    {"node-name", required_argument, NULL, OPT_NODE_NAME},
    {"cluster-password-file", required_argument, NULL, OPT_CLUSTER_PASSWORD_FILE},
    {"cluster-heartbeat", required_argument, NULL, OPT_CLUSTER_HEARTBEAT},
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
        snprintf(cfg->error, sizeof cfg->error, "cannot read MOTD file %s: %s", cfg->motd_path,
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

/* The long name of option opt, for messages. */
static const char *option_name(int opt)
{
    for (const struct option *o = long_options; o->name; o++) {
        if (o->val == opt)
            return o->name;
    }
    return "?";
}

/* Applies one option that takes a value. Returns NULL, or what is wrong with arg (a phrase
 * that follows the option's name). */
static const char *apply(struct config *cfg, int opt, const char *arg)
{
    static const char *const oom = "could not be stored: out of memory";
    long v;
    switch (opt) {
    case 'p':
        if (parse_long(arg, 1, 65535, &v) < 0)
            return "wants a number from 1 to 65535";
        cfg->port = (int)v;
        return NULL;
    case 'b':
        return set_str(&cfg->bind, arg) ? oom : NULL;
    case OPT_TLS_PORT:
        if (parse_long(arg, 1, 65535, &v) < 0)
            return "wants a number from 1 to 65535";
        cfg->tls_port = (int)v;
        return NULL;
    case OPT_TLS_CERT:
        return set_str(&cfg->tls_cert, arg) ? oom : NULL;
    case OPT_HTTP_PORT:
    case OPT_HTTPS_PORT:
        if (parse_long(arg, 0, 65535, &v) < 0)
            return "wants a number from 0 to 65535 (0: none)";
        *(opt == OPT_HTTP_PORT ? &cfg->http_port : &cfg->https_port) = (int)v;
        return NULL;
    case OPT_WEB_ROOT:
        if (!arg[0])
            return "wants a directory";
        return set_str(&cfg->web_root, arg) ? oom : NULL;
    case OPT_WEB_ORIGINS:
        if (strlen(arg) > WEB_ORIGINS_MAX || strcspn(arg, " \t\r\n") != strlen(arg))
            return "wants origins like https://chat.example.org, separated by commas";
        return set_str(&cfg->web_origins, arg) ? oom : NULL;
    case OPT_METRICS_ALLOW:
        if (cidr_list_parse(arg, &cfg->metrics_allow) < 0)
            return "wants a comma-separated list of addresses or CIDRs (at most 16), or ''";
        return NULL;
    case OPT_TLS_KEY:
        return set_str(&cfg->tls_key, arg) ? oom : NULL;
    case 'w':
        if (parse_long(arg, 1, WORKERS_MAX, &v) < 0)
            return "wants a number from 1 to 256";
        cfg->workers = (int)v;
        return NULL;
    case 'c':
        return set_str(&cfg->config_path, arg) ? oom : NULL;
    case OPT_SERVER_NAME:
        if (!server_name_valid(arg))
            return "must be 1-63 characters without spaces or ,!@*?";
        cfg->server_name_given = 1;
        return set_str(&cfg->server_name, arg) ? oom : NULL;
    case OPT_DESCRIPTION:
        if (strlen(arg) > DESCRIPTION_MAX || strcspn(arg, "\r\n") != strlen(arg))
            return "must be one line of at most 200 bytes";
        return set_str(&cfg->description, arg) ? oom : NULL;
    case OPT_MOTD:
        return set_str(&cfg->motd_path, arg) ? oom : NULL;
    case OPT_DEFAULT_CHANNEL:
        if (arg[0] && !ircname_channel_valid(arg))
            return "must be a valid channel name like #lobby, or ''";
        return set_str(&cfg->default_channel, arg) ? oom : NULL;
    case OPT_PASSWORD:
        if (strlen(arg) == 0 || strlen(arg) > PASSWORD_MAX || strchr(arg, ' '))
            return "must be 1-128 characters without spaces";
        return set_str(&cfg->password, arg) ? oom : NULL;
    case OPT_MAX_CLIENTS:
        if (parse_long(arg, 1, 1000000, &v) < 0)
            return "wants a number from 1 to 1000000";
        cfg->max_clients = (int)v;
        return NULL;
    case OPT_SENDQ:
        if (parse_long(arg, IRC_LINE_MAX, 1L << 30, &v) < 0)
            return "wants a byte count from 512 to 1073741824";
        cfg->sendq = (size_t)v;
        return NULL;
    case OPT_SENDQ_SOFT:
        if (parse_long(arg, IRC_LINE_MAX, 1L << 30, &v) < 0)
            return "wants a byte count from 512 to 1073741824";
        cfg->sendq_soft = (size_t)v;
        return NULL;
    case OPT_SENDQ_NEW:
        if (parse_long(arg, 0, 1L << 30, &v) < 0)
            return "wants a byte count from 0 (none) to 1073741824";
        cfg->sendq_new = (size_t)v;
        return NULL;
    case OPT_RECVQ:
        if (parse_long(arg, 1024, 1L << 24, &v) < 0)
            return "wants a byte count from 1024 to 16777216";
        cfg->recvq = (size_t)v;
        return NULL;
    case OPT_BACKLOG_MAX:
        if (parse_long(arg, 1L << 16, 1L << 40, &v) < 0)
            return "wants a byte count from 65536 to 1099511627776";
        cfg->backlog_max = (size_t)v;
        return NULL;
    case OPT_FLOOD_RATE:
        if (parse_long(arg, 1, 1000000, &v) < 0)
            return "wants a number of lines per second from 1 to 1000000";
        cfg->flood_rate = (double)v;
        return NULL;
    case OPT_FLOOD_BURST:
        if (parse_long(arg, 1, 1000000, &v) < 0)
            return "wants a number of lines from 1 to 1000000";
        cfg->flood_burst = (double)v;
        return NULL;
    case OPT_REG_TIMEOUT:
        if (parse_long(arg, 1, 3600, &v) < 0)
            return "wants seconds from 1 to 3600";
        cfg->reg_timeout = (int)v;
        return NULL;
    case OPT_PING_INTERVAL:
        if (parse_long(arg, 1, 86400, &v) < 0)
            return "wants seconds from 1 to 86400";
        cfg->ping_interval = (int)v;
        return NULL;
    case OPT_PING_TIMEOUT:
        if (parse_long(arg, 1, 86400, &v) < 0)
            return "wants seconds from 1 to 86400";
        cfg->ping_timeout = (int)v;
        return NULL;
    case OPT_MAX_PER_IP:
        if (parse_long(arg, 1, 1000000, &v) < 0)
            return "wants a number from 1 to 1000000";
        cfg->max_per_ip = (int)v;
        return NULL;
    case OPT_LOGIN_FAIL_LIMIT:
        if (parse_long(arg, 1, 1000000, &v) < 0)
            return "wants a number from 1 to 1000000";
        cfg->login_fail_limit = (int)v;
        return NULL;
    case OPT_LOGIN_FAIL_GLOBAL:
        if (parse_long(arg, 1, 1000000, &v) < 0)
            return "wants a number of failed logins per minute from 1 to 1000000";
        cfg->login_fail_global = (int)v;
        return NULL;
    case OPT_LOGIN_QUEUE:
        if (parse_long(arg, 1, LOGIN_QUEUE_MAX, &v) < 0)
            return "wants a number of requests from 1 to 100000";
        cfg->login_queue = (int)v;
        return NULL;
    case OPT_REGISTER_LIMIT:
        if (parse_long(arg, 0, 1000000, &v) < 0)
            return "wants a number from 0 to 1000000";
        cfg->register_limit = (int)v;
        return NULL;
    case OPT_ACCOUNT_EXPIRE:
        if (parse_long(arg, 0, 36500, &v) < 0)
            return "wants a number of days from 0 to 36500";
        cfg->account_expire_days = (int)v;
        return NULL;
    case OPT_CONN_RATE:
        if (parse_long(arg, 1, 1000000, &v) < 0)
            return "wants a number of connections per minute from 1 to 1000000";
        cfg->conn_rate = (int)v;
        return NULL;
    case OPT_IP_EXEMPT:
        if (!iplimit_exempt_valid(arg))
            return "wants a comma-separated list of addresses or CIDRs (at most 16), or ''";
        return set_str(&cfg->ip_exempt, arg) ? oom : NULL;
    case OPT_DATA_DIR:
        if (!arg[0])
            return "wants a directory";
        return set_str(&cfg->data_dir, arg) ? oom : NULL;
    case OPT_HISTORY:
        if (strcmp(arg, "on") != 0 && strcmp(arg, "off") != 0)
            return "wants on or off";
        cfg->history = strcmp(arg, "on") == 0;
        return NULL;
    case OPT_HISTORY_REPLAY:
        if (parse_long(arg, 0, HISTORY_QUERY_MAX, &v) < 0)
            return "wants a number of messages from 0 to 100";
        cfg->history_replay = (int)v;
        return NULL;
    case OPT_HISTORY_DAYS:
        if (parse_long(arg, 0, 36500, &v) < 0)
            return "wants a number of days from 0 to 36500";
        cfg->history_days = (int)v;
        return NULL;
    case OPT_HISTORY_MAX:
        if (parse_long(arg, 0, 1000000000, &v) < 0)
            return "wants a number of messages from 0 to 1000000000";
        cfg->history_max = v;
        return NULL;
    case OPT_CLUSTER: {
        struct redis_server rs[REDIS_SHARDS_MAX];
        static _Thread_local char why[CONFIG_ERROR_MAX / 2];
        if (redis_url_parse(arg, rs, REDIS_SHARDS_MAX, why, sizeof why) < 0)
            return why;
        return set_str(&cfg->cluster, arg) ? oom : NULL;
    }
    case OPT_NODE_NAME:
        if (!server_name_valid(arg))
            return "wants a name of 1 to 63 characters without spaces or ,!@*?";
        return set_str(&cfg->node_name, arg) ? oom : NULL;
    case OPT_CLUSTER_PASSWORD_FILE:
        return set_str(&cfg->cluster_password_file, arg) ? oom : NULL;
    case OPT_CLUSTER_HEARTBEAT:
        if (parse_long(arg, 1, 60, &v) < 0)
            return "wants seconds from 1 to 60";
        cfg->cluster_heartbeat = (int)v;
        return NULL;
    case OPT_ADMIN_EMAIL:
        if (strlen(arg) > DESCRIPTION_MAX || strcspn(arg, "\r\n") != strlen(arg))
            return "must be one line of at most 200 bytes";
        return set_str(&cfg->admin_email, arg) ? oom : NULL;
    case OPT_USER:
        if (!arg[0])
            return "wants a user name";
        return set_str(&cfg->user, arg) ? oom : NULL;
    case OPT_REQUIRE_SASL:
        if (strcmp(arg, "on") != 0 && strcmp(arg, "off") != 0)
            return "wants on or off";
        cfg->require_sasl = strcmp(arg, "on") == 0;
        return NULL;
    case OPT_CLOAK_ACCOUNTS:
        if (strcmp(arg, "on") != 0 && strcmp(arg, "off") != 0)
            return "wants on or off";
        cfg->cloak_accounts = strcmp(arg, "on") == 0;
        return NULL;
    case OPT_DEFAULT_CHANNEL_OWNED:
        if (strcmp(arg, "on") != 0 && strcmp(arg, "off") != 0)
            return "wants on or off";
        cfg->default_channel_owned = strcmp(arg, "on") == 0;
        return NULL;
    case OPT_LOG_LEVEL:
        if (log_parse_level(arg, &cfg->log_level) < 0)
            return "wants error, warn, info or debug";
        return NULL;
    case OPT_LOG_FORMAT:
        if (log_parse_format(arg, &cfg->log_format) < 0)
            return "wants text or logfmt";
        return NULL;
    }
    return "is not a setting";
}

int config_set(struct config *cfg, const char *key, const char *value, char *why, size_t whylen)
{
    const char *shown = key; /* as the file spells it */
    if (strcmp(key, "name") == 0)
        key = "server-name";
    for (const struct option *o = long_options; o->name; o++) {
        /* --config and --mkpasswd only make sense on the command line. */
        if (strcmp(o->name, key) != 0 || o->has_arg != required_argument || o->val == 'c')
            continue;
        const char *bad = apply(cfg, o->val, value);
        if (bad) {
            snprintf(why, whylen, "%s %s (got '%s')", shown, bad, value);
            return -1;
        }
        return 0;
    }
    snprintf(why, whylen, "unknown key '%s'", key);
    return -1;
}

static void set_defaults(struct config *cfg)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    cfg->port = DEFAULT_PORT;
    cfg->http_port = cfg->https_port = -1; /* the defaults, if free (check_ports) */
    cfg->cluster_heartbeat = DEFAULT_CLUSTER_HEARTBEAT;
    cfg->workers = cpus < 1 ? 1 : cpus > WORKERS_MAX ? WORKERS_MAX : (int)cpus;
    cfg->max_clients = DEFAULT_MAX_CLIENTS;
    cfg->sendq = DEFAULT_SENDQ;
    cfg->sendq_soft = DEFAULT_SENDQ_SOFT;
    cfg->sendq_new = SENDQ_NEW_BYTES;
    cfg->recvq = DEFAULT_RECVQ;
    cfg->backlog_max = DEFAULT_BACKLOG_MAX;
    cfg->flood_rate = DEFAULT_FLOOD_RATE;
    cfg->flood_burst = DEFAULT_FLOOD_BURST;
    cfg->reg_timeout = DEFAULT_REG_TIMEOUT;
    cfg->ping_interval = DEFAULT_PING_INTERVAL;
    cfg->ping_timeout = DEFAULT_PING_TIMEOUT;
    cfg->log_level = LOG_INFO;
    cfg->log_format = LOG_FORMAT_TEXT;
    cfg->max_per_ip = DEFAULT_MAX_PER_IP;
    cfg->login_fail_limit = DEFAULT_LOGIN_FAILURES;
    cfg->login_fail_global = DEFAULT_LOGIN_FAIL_GLOBAL;
    cfg->login_queue = DEFAULT_LOGIN_QUEUE;
    cfg->register_limit = DEFAULT_REGISTERS;
    cfg->account_expire_days = DEFAULT_ACCOUNT_EXPIRE_DAYS;
    cfg->conn_rate = DEFAULT_CONN_RATE;
    cfg->history = 1;
    cfg->history_replay = DEFAULT_HISTORY_REPLAY;
    cfg->history_days = DEFAULT_HISTORY_DAYS;
    cfg->history_max = DEFAULT_HISTORY_MAX;
}

/* The TLS port never serves plaintext: asking for it without a certificate is an error. */
static int check_tls(struct config *cfg)
{
    if (!cfg->tls_cert != !cfg->tls_key) {
        snprintf(cfg->error, sizeof cfg->error, "tls-cert and tls-key go together: give both");
        return -1;
    }
    if (!cfg->tls_cert) {
        if (cfg->tls_port == 0)
            return 0;
        snprintf(cfg->error, sizeof cfg->error,
                 "tls-port %d needs tls-cert FILE and tls-key FILE; for a test certificate:\n"
                 "  openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj /CN=localhost "
                 "-keyout key.pem -out cert.pem",
                 cfg->tls_port);
        return -1;
    }
    if (cfg->tls_port == 0)
        cfg->tls_port = DEFAULT_TLS_PORT;
    if (cfg->tls_port == cfg->port) {
        snprintf(cfg->error, sizeof cfg->error, "tls-port and port must differ (both %d)",
                 cfg->port);
        return -1;
    }
    return 0;
}

/* The web ports: given, or the defaults (8080, and 8443 with a certificate), which give way
 * to each other and to the IRC ports rather than fail. Two ports given the same is an error. */
static int check_ports(struct config *cfg)
{
    cfg->http_port_default = cfg->http_port < 0;
    cfg->https_port_default = cfg->https_port < 0;
    if (cfg->http_port < 0)
        cfg->http_port = DEFAULT_HTTP_PORT;
    if (cfg->https_port < 0)
        cfg->https_port = cfg->tls_cert ? DEFAULT_HTTPS_PORT : 0;
    if (cfg->https_port && !cfg->tls_cert) {
        snprintf(cfg->error, sizeof cfg->error,
                 "https-port %d needs tls-cert FILE and tls-key FILE", cfg->https_port);
        return -1;
    }
    const int ports[] = {cfg->port, cfg->tls_cert ? cfg->tls_port : 0, cfg->http_port,
                         cfg->https_port};
    const char *const names[] = {"port", "tls-port", "http-port", "https-port"};
    for (int i = 2; i < 4; i++) {
        for (int j = 0; j < i && ports[i]; j++) {
            if (ports[i] != ports[j])
                continue;
            snprintf(cfg->error, sizeof cfg->error, "%s and %s must differ (both %d)", names[i],
                     names[j], ports[i]);
            return -1;
        }
    }
    return 0;
}

enum config_result config_load(struct config *cfg, int argc, char **argv)
{
    memset(cfg, 0, sizeof *cfg);
    set_defaults(cfg);
    char host[256] = "localhost";
    if (gethostname(host, sizeof host - 1) != 0 || !server_name_valid(host))
        strcpy(host, "localhost");
    if (set_str(&cfg->server_name, host) || set_str(&cfg->default_channel, DEFAULT_CHANNEL) ||
        set_str(&cfg->description, DEFAULT_DESCRIPTION) ||
        set_str(&cfg->ip_exempt, DEFAULT_IP_EXEMPT) || set_str(&cfg->data_dir, DEFAULT_DATA_DIR)) {
        snprintf(cfg->error, sizeof cfg->error, "out of memory");
        return CONFIG_ERROR;
    }
    cidr_list_parse(DEFAULT_METRICS_ALLOW, &cfg->metrics_allow);

    /* First pass: --help, --version, --mkpasswd and --config, so that the file is read before
     * the other options, which override it. Errors wait for the second pass. */
    int c;
    opterr = 0;
    optind = 0; /* glibc: 0 also resets getopt's internal state, for a second run */
    /* '+': stop at the first non-option rather than move it to the end. argv is parsed twice
     * here and again on every rehash, and must read the same each time ("x -c" would become
     * "-c x" for the second pass, and pass). */
    while ((c = getopt_long(argc, argv, "+p:b:w:c:htV", long_options, NULL)) != -1) {
        if (c == 'h') {
            fputs(usage_text, stdout);
            return CONFIG_EXIT_OK;
        }
        if (c == 'V') {
            printf("tcpchatd %s\n", TCPCHAT_VERSION);
            return CONFIG_EXIT_OK;
        }
        if (c == OPT_MKPASSWD)
            cfg->mkpasswd = 1;
        if (c == 't')
            cfg->configtest = 1;
        if (c == 'c' && set_str(&cfg->config_path, optarg)) {
            snprintf(cfg->error, sizeof cfg->error, "out of memory");
            return CONFIG_ERROR;
        }
    }
    if (cfg->mkpasswd)
        return CONFIG_OK;
    if (cfg->config_path && conffile_load(cfg, cfg->config_path) < 0)
        return CONFIG_ERROR;

    optind = 0;
    while ((c = getopt_long(argc, argv, "+p:b:w:c:htV", long_options, NULL)) != -1) {
        if (c == 'c' || c == OPT_MKPASSWD || c == 't')
            continue;
        if (c == OPT_ALLOW_ROOT) {
            cfg->allow_root = 1;
            continue;
        }
        if (c == '?' || c == ':') {
            const char *what = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
            snprintf(cfg->error, sizeof cfg->error,
                     "bad option or missing value: '%s'\nTry 'tcpchatd --help' for the options.",
                     what);
            return CONFIG_ERROR;
        }
        const char *bad = apply(cfg, c, optarg);
        if (bad) {
            snprintf(cfg->error, sizeof cfg->error, "--%s %s (got '%s')", option_name(c), bad,
                     optarg);
            return CONFIG_ERROR;
        }
    }
    if (optind < argc) {
        snprintf(cfg->error, sizeof cfg->error, "unexpected argument '%s'\nTry 'tcpchatd --help'.",
                 argv[optind]);
        return CONFIG_ERROR;
    }
    if (cfg->sendq_soft > cfg->sendq)
        cfg->sendq_soft = cfg->sendq;
    /* A node of a network named only by --node-name is called so in its own replies too, as
     * the other nodes call it (WHOIS, WHO, LINKS), rather than by the machine's host name. */
    if (cfg->cluster && cfg->node_name && !cfg->server_name_given &&
        set_str(&cfg->server_name, cfg->node_name)) {
        snprintf(cfg->error, sizeof cfg->error, "out of memory");
        return CONFIG_ERROR;
    }
    if (check_tls(cfg) < 0 || check_ports(cfg) < 0)
        return CONFIG_ERROR;
    if (cfg->motd_path && load_motd(cfg) < 0)
        return CONFIG_ERROR;
    return CONFIG_OK;
}

enum config_result config_parse(struct config *cfg, int argc, char **argv)
{
    enum config_result r = config_load(cfg, argc, argv);
    if (r == CONFIG_ERROR)
        fprintf(stderr, "tcpchatd: %s\n", cfg->error[0] ? cfg->error : "out of memory");
    return r;
}

void config_take_reloadable(struct config *live, struct config *fresh)
{
    /* Swapped, not copied: fresh then owns the old strings and arrays, and frees them. */
#define SWAP(field)                                                                                \
    do {                                                                                           \
        __typeof__(live->field) tmp_ = live->field;                                                \
        live->field = fresh->field;                                                                \
        fresh->field = tmp_;                                                                       \
    } while (0)
    SWAP(description);
    SWAP(admin_email);
    SWAP(tls_cert); /* the context built from them is swapped by rehash.c */
    SWAP(tls_key);
    SWAP(motd_path);
    SWAP(default_channel);
    SWAP(password);
    SWAP(max_clients);
    SWAP(sendq);
    SWAP(sendq_soft);
    SWAP(sendq_new);
    SWAP(recvq);
    SWAP(backlog_max);
    SWAP(flood_rate);
    SWAP(flood_burst);
    SWAP(reg_timeout);
    SWAP(ping_interval);
    SWAP(ping_timeout);
    SWAP(log_level);
    SWAP(log_format);
    SWAP(max_per_ip);
    SWAP(login_fail_limit);
    SWAP(login_fail_global);
    SWAP(login_queue);
    SWAP(register_limit);
    SWAP(account_expire_days);
    SWAP(conn_rate);
    SWAP(require_sasl);
    SWAP(cloak_accounts);
    SWAP(default_channel_owned);
    SWAP(motd);
    SWAP(motd_lines);
    SWAP(opers);
    SWAP(nopers);
#undef SWAP
}

const struct config_oper *config_find_oper(const struct config *cfg, const char *name)
{
    for (int i = 0; i < cfg->nopers; i++) {
        if (strcmp(cfg->opers[i].name, name) == 0)
            return &cfg->opers[i];
    }
    return NULL;
}

void config_free(struct config *cfg)
{
    free(cfg->bind);
    free(cfg->tls_cert);
    free(cfg->tls_key);
    free(cfg->server_name);
    free(cfg->description);
    free(cfg->config_path);
    for (int i = 0; i < cfg->nopers; i++) {
        free(cfg->opers[i].hash);
        free(cfg->opers[i].host);
    }
    free(cfg->opers);
    free(cfg->motd_path);
    free(cfg->default_channel);
    free(cfg->password);
    free(cfg->ip_exempt);
    free(cfg->data_dir);
    free(cfg->user);
    free(cfg->admin_email);
    free(cfg->cluster);
    free(cfg->node_name);
    free(cfg->cluster_password_file);
    free(cfg->web_root);
    free(cfg->web_origins);
    for (int i = 0; i < cfg->motd_lines; i++)
        free(cfg->motd[i]);
    free(cfg->motd);
    memset(cfg, 0, sizeof *cfg);
}
