/* metrics_page: the web listener's /metrics page (Prometheus text format), installed as the
 * server's metrics_page hook by cmd_install. */
#ifndef TCPCHAT_METRICS_PAGE_H
#define TCPCHAT_METRICS_PAGE_H

struct server;
struct msg;

/* The page as one msg, or NULL without memory. Runs on any worker. */
struct msg *metrics_page(struct server *srv);

#endif
