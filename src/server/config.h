/* config: tcpchatd's settings, from the command line. */
#ifndef TCPCHAT_CONFIG_H
#define TCPCHAT_CONFIG_H

#include <stddef.h>

#include "common/log.h"

struct config {
    int port;
    char *bind; /* NULL: every address */
    int workers;
    char *server_name;
    char *motd_path;       /* NULL: no MOTD (422) */
    char *default_channel; /* "" or NULL: no auto-join */
    char *password;        /* NULL: no server password */
    int max_clients;
    size_t sendq;
    size_t sendq_soft;
    size_t recvq;
    double flood_rate;
    double flood_burst;
    int reg_timeout;
    int ping_interval;
    int ping_timeout;
    enum log_level log_level;
    /* Loaded from motd_path at start-up. */
    char **motd;
    int motd_lines;
};

enum config_result { CONFIG_OK, CONFIG_EXIT_OK, CONFIG_ERROR };

/* Fills cfg from argv. CONFIG_EXIT_OK after --help/--version (already printed); CONFIG_ERROR
 * after printing the reason on stderr. */
enum config_result config_parse(struct config *cfg, int argc, char **argv);
void config_free(struct config *cfg);

#endif
