/* net: socket helpers shared by server, client and bench (listen, connect, non-blocking). */
#ifndef TCPCHAT_NET_H
#define TCPCHAT_NET_H

#include <stddef.h>
#include <sys/socket.h>

#define NET_ERR_MAX    256
#define NET_LISTEN_MAX 8 /* listening sockets for one bind address (one per resolved address) */

/* Opens non-blocking listening sockets on addr:port. addr NULL or "" means every address:
 * one IPv6 socket that also takes IPv4 (dual stack), or IPv4 only where IPv6 is missing.
 * Fills fds, returns how many (>= 1), or -1 with a reason in err. */
int net_listen(const char *addr, int port, int backlog, int *fds, int max, char *err,
               size_t errlen);
/* Connects (blocking) to host:port over TCP, trying each resolved address in turn. Returns
 * the socket, or -1 with a reason in err ("unknown host", "connection refused", ...). */
int net_connect(const char *host, const char *port, char *err, size_t errlen);
int net_set_nonblock(int fd);
/* Writes a numeric "host" or "[v6host]" into out, for logs and IRC host fields. */
void net_addr_str(const struct sockaddr *sa, char *out, size_t cap);

#endif
