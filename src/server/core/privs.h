/* privs: running as root. tcpchatd needs root for nothing but binding a port below 1024, so
 * started as root it binds, opens its stores, then drops to --user NAME for good; without
 * --user it refuses to run as root unless --allow-root says that is really wanted. */
#ifndef TCPCHAT_PRIVS_H
#define TCPCHAT_PRIVS_H

struct config;

/* Before anything is opened: refuses root without --user or --allow-root, and a --user that
 * does not exist or is root. Not started as root, --user only draws a warning (there is
 * nothing to drop). Returns 0, or -1 after saying why on stderr. */
int privs_check(const struct config *cfg);
/* After binding and opening the stores: hands the data directory and its files to --user and
 * becomes that user, for every thread. Returns 0 (also when there is nothing to do), or -1
 * after saying why on stderr. */
int privs_drop(const struct config *cfg);

#endif
