/* config: tcpchatd's settings, from the config file (conffile.c) and the command line, which
 * overrides the file. The workers read them without a lock: only rehash.c changes them, while
 * every worker is parked (see rehash.h). */
#ifndef TCPCHAT_CONFIG_H
#define TCPCHAT_CONFIG_H

#include <stddef.h>

#include "cidr.h"
#include "common/log.h"
#include "defines.h"

/* One [oper "name"] entry of the config file. */
struct config_oper {
    char name[OPER_NAME_MAX + 1];
    char *hash; /* crypto_pwhash_str() output ($argon2id$...) */
    char *host; /* mask matched against user@host (or host, when it has no '@'); "*" default */
    int line;   /* where the section starts, for error messages */
};

struct config {
    int port;
    int tls_port;   /* 0: no TLS; DEFAULT_TLS_PORT once a certificate is given */
    char *tls_cert; /* PEM certificate (chain) and key for the TLS port; both or neither */
    char *tls_key;
    char *bind; /* NULL: every address */
    /* The web listener (web.h); set at start only. */
    int http_port;          /* 0: none */
    int https_port;         /* 0: none (always without a certificate) */
    int http_port_default;  /* not given: if busy, the server runs without it */
    int https_port_default; /* likewise */
    char *web_root;         /* NULL: the built-in web client */
    char *web_origins;      /* NULL: same origin only; "*": any; else a comma-separated list */
    struct cidr_list metrics_allow; /* who may read /metrics on the web listener */
    int workers;
    char *server_name;
    int server_name_given; /* by --server-name or the file, not the host name */
    char *description;     /* the server's one-line description (WHOIS 312) */
    char *config_path;     /* --config FILE, or NULL */
    char *motd_path;       /* NULL: no MOTD (422) */
    char *default_channel; /* "" or NULL: no auto-join */
    char *password;        /* NULL: no server password */
    int max_clients;
    size_t sendq;
    size_t sendq_soft;
    size_t sendq_new; /* a new client's bound on others' lines (SENDQ_NEW_MS); 0: none */
    size_t recvq;
    size_t backlog_max; /* srv->backlog bound (server.h), DEFAULT_BACKLOG_MAX */
    double flood_rate;
    double flood_burst;
    int reg_timeout;
    int ping_interval;
    int ping_timeout;
    enum log_level log_level;
    enum log_format log_format; /* text or logfmt (common/log.h) */
    int max_per_ip;             /* connections one address may hold */
    int conn_rate;              /* new connections per minute from one address */
    int login_fail_limit;       /* failed logins per address per LOGIN_WINDOW_S */
    int login_fail_global;      /* failed PLAIN logins, all addresses, per LOGIN_GLOBAL_WINDOW_S */
    int login_queue;            /* requests waiting in each account queue (store/account.c) */
    int register_limit; /* accounts registered per address per REGISTER_WINDOW_S (0: none) */
    char *ip_exempt;    /* CIDR list not limited per address (set at start only) */
    /* The history store (history.h); set at start only. */
    char *data_dir;            /* holds history.db */
    int history;               /* 0: no store, no replay, no chathistory */
    int history_replay;        /* messages replayed on JOIN to clients without chathistory */
    int history_days;          /* retention by age, 0: for ever */
    long history_max;          /* retention by count per channel or conversation, 0: no cap */
    int require_sasl;          /* only users logged in with SASL may register */
    int cloak_accounts;        /* a logged-in user's shown host is user/<account> */
    int default_channel_owned; /* the default channel's ops are the operators' to have */
    int account_expire_days;   /* accounts never logged into (SASL) go after this, 0: never */
    char *user;                /* --user: drop to this user after binding (privs.h) */
    char *admin_email;         /* ADMIN's contact line, or NULL */
    int allow_root;            /* --allow-root: run as root without --user */
    int configtest;            /* -t: check everything, start nothing */
    /* The cluster (docs/cluster.md); set at start only. cluster NULL: a single node. */
    char *cluster;   /* --cluster: the Redis servers, as given */
    char *node_name; /* NULL: the server name; given without --server-name, it is that too */
    char *cluster_password_file; /* NULL: the password in the URL, if any */
    int cluster_heartbeat;       /* seconds */
    /* Loaded from motd_path at start-up and at each rehash. */
    char **motd;
    int motd_lines;
    struct config_oper *opers; /* from the config file */
    int nopers;
    int mkpasswd;                 /* --mkpasswd: hash a password and exit */
    char error[CONFIG_ERROR_MAX]; /* why config_load failed */
};

enum config_result { CONFIG_OK, CONFIG_EXIT_OK, CONFIG_ERROR };

/* Fills cfg from argv. CONFIG_EXIT_OK after --help/--version (already printed); CONFIG_ERROR
 * after printing the reason on stderr. */
enum config_result config_parse(struct config *cfg, int argc, char **argv);
/* Like config_parse, but prints nothing on error: the reason is left in cfg->error (the
 * rehash path, which reports it itself). */
enum config_result config_load(struct config *cfg, int argc, char **argv);
/* Sets one option by its long name ("port", "sendq"...; "name" is "server-name") to value, as
 * the command line would. Returns 0, or -1 with the reason in why. */
int config_set(struct config *cfg, const char *key, const char *value, char *why, size_t whylen);
/* Moves the settings that may change while the server runs (everything but port, tls-port,
 * bind, workers and server name) from fresh into live; fresh gets live's old ones, to be
 * freed. */
void config_take_reloadable(struct config *live, struct config *fresh);
/* The operator entry called name, or NULL. */
const struct config_oper *config_find_oper(const struct config *cfg, const char *name);
void config_free(struct config *cfg);

#endif
