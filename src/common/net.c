/* net: socket helpers shared by server, client and bench. */
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int net_set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -1;
    return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int listen_one(const struct addrinfo *ai, int backlog, char *err, size_t errlen)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
        int saved = errno;
        snprintf(err, errlen, "socket: %s", strerror(saved));
        errno = saved;
        return -1;
    }
    int one = 1, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ai->ai_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, backlog) < 0) {
        int saved = errno;
        char a[64];
        net_addr_str(ai->ai_addr, a, sizeof a);
        snprintf(err, errlen, "cannot listen on %s port %d: %s", a,
                 ntohs(((const struct sockaddr_in *)ai->ai_addr)->sin_port), strerror(saved));
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int net_listen(const char *addr, int port, int backlog, int *fds, int max, char *err, size_t errlen)
{
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    int any = !addr || !*addr;
    int n = 0;
    if (any) {
        /* Dual stack first; a host without IPv6 falls back to IPv4. */
        hints.ai_family = AF_INET6;
        if (getaddrinfo(NULL, portstr, &hints, &res) == 0) {
            int fd = listen_one(res, backlog, err, errlen);
            freeaddrinfo(res);
            if (fd >= 0 || errno == EADDRINUSE) {
                if (fd < 0)
                    return -1;
                fds[0] = fd;
                return 1;
            }
        }
        hints.ai_family = AF_INET;
        res = NULL;
    } else {
        hints.ai_family = AF_UNSPEC;
    }
    int rc = getaddrinfo(any ? NULL : addr, portstr, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "bad address '%s': %s", any ? "*" : addr, gai_strerror(rc));
        return -1;
    }
    for (struct addrinfo *ai = res; ai && n < max; ai = ai->ai_next) {
        int fd = listen_one(ai, backlog, err, errlen);
        if (fd < 0) {
            for (int i = 0; i < n; i++)
                close(fds[i]);
            freeaddrinfo(res);
            return -1;
        }
        fds[n++] = fd;
    }
    freeaddrinfo(res);
    if (n == 0)
        snprintf(err, errlen, "bad address '%s'", addr);
    return n ? n : -1;
}

int net_connect(const char *host, const char *port, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "unknown host '%s': %s", host, gai_strerror(rc));
        return -1;
    }
    int fd = -1, saved = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        saved = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, errlen, "cannot connect to %s port %s: %s", host, port, strerror(saved));
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

void net_addr_str(const struct sockaddr *sa, char *out, size_t cap)
{
    char host[NI_MAXHOST];
    if (getnameinfo(sa,
                    sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                              : sizeof(struct sockaddr_in),
                    host, sizeof host, NULL, 0, NI_NUMERICHOST) != 0) {
        snprintf(out, cap, "unknown");
        return;
    }
    /* An IPv4 peer on a dual-stack socket shows as ::ffff:a.b.c.d; print it as a.b.c.d. */
    const char *h = strncmp(host, "::ffff:", 7) == 0 && strchr(host, '.') ? host + 7 : host;
    /* IRC hosts must not start with ':' (it would read as a trailing parameter). */
    snprintf(out, cap, h[0] == ':' ? "0%s" : "%s", h);
}
