/* link: plain TCP or TLS to the server. The TLS side is OpenSSL with one context per
 * connection (the client makes one) and a common/tlsio session; every SSL call starts with an
 * empty error queue and leaves it empty, so a reason read from it belongs to the call that
 * failed. */
#include "link.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/net.h"
#include "common/tlsio.h"

/* A server that takes the connection but never answers the handshake (a plaintext port, say)
 * is given up on after this long. */
#define LINK_HANDSHAKE_TIMEOUT_S 30

struct link {
    int fd;
    SSL_CTX *ctx;     /* NULL for plain TCP */
    struct tlsio tls; /* tls.ssl NULL for plain TCP */
    char error[LINK_ERR_MAX];
};

/* 1 when host is an IPv4 or IPv6 address rather than a name. */
static int link_is_ip(const char *host)
{
    unsigned char addr[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
}

static void link_set_timeout(int fd, long seconds)
{
    struct timeval tv = {.tv_sec = seconds, .tv_usec = 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* The context: TLS 1.2 and later; unless insecure, a peer certificate is required and checked
 * against ca_file or the system trust store. Returns 0, or -1 with a reason in err. */
static int link_ctx_new(struct link *l, const struct link_tls *tls, char *err, size_t errlen)
{
    l->ctx = SSL_CTX_new(TLS_client_method());
    if (!l->ctx || SSL_CTX_set_min_proto_version(l->ctx, TLS1_2_VERSION) != 1) {
        snprintf(err, errlen, "TLS: cannot set up: %s", tlsio_take_error());
        return -1;
    }
    /* A server that closes without close_notify ends the stream like a TCP close. */
    SSL_CTX_set_options(l->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
    if (tls->insecure) {
        SSL_CTX_set_verify(l->ctx, SSL_VERIFY_NONE, NULL);
        return 0;
    }
    if (tls->ca_file) {
        if (SSL_CTX_load_verify_locations(l->ctx, tls->ca_file, NULL) != 1) {
            snprintf(err, errlen, "TLS: cannot load CA file %s: %s", tls->ca_file,
                     tlsio_take_error());
            return -1;
        }
    } else if (SSL_CTX_set_default_verify_paths(l->ctx) != 1) {
        snprintf(err, errlen, "TLS: cannot load the system trust store: %s", tlsio_take_error());
        return -1;
    }
    SSL_CTX_set_verify(l->ctx, SSL_VERIFY_PEER, NULL);
    return 0;
}

/* Says why tlsio_handshake returned r (saved: its errno), in one line. */
static void link_handshake_error(const struct link *l, int r, int saved, const char *host,
                                 const char *port, const struct link_tls *tls, char *err,
                                 size_t errlen)
{
    long vr = SSL_get_verify_result(l->tls.ssl);
    if (!tls->insecure && vr != X509_V_OK) {
        const char *what = X509_verify_cert_error_string(vr);
        if (vr == X509_V_ERR_HOSTNAME_MISMATCH || vr == X509_V_ERR_IP_ADDRESS_MISMATCH)
            snprintf(err, errlen,
                     "TLS: certificate verify failed: %s (the certificate is not for %s)", what,
                     host);
        else
            snprintf(err, errlen, "TLS: certificate verify failed: %s", what);
    } else if (r < 0 && (saved == EAGAIN || saved == EWOULDBLOCK)) {
        /* The socket is blocking: EAGAIN is its timeout (link_set_timeout). */
        snprintf(err, errlen, "TLS: handshake timed out after %d s (is port %s a TLS port?)",
                 LINK_HANDSHAKE_TIMEOUT_S, port);
    } else if (r == 0 || !l->tls.error) {
        snprintf(err, errlen, "TLS: handshake failed: %s",
                 r < 0 ? strerror(saved) : "the server closed the connection");
    } else {
        int reason = l->tls.error_reason;
        int plaintext =
            reason == SSL_R_WRONG_VERSION_NUMBER || reason == SSL_R_PACKET_LENGTH_TOO_LONG;
        snprintf(err, errlen, "TLS: handshake failed: %s%s%s%s", l->tls.error,
                 plaintext ? " (is port " : "", plaintext ? port : "",
                 plaintext ? " a TLS port?)" : "");
    }
}

/* The handshake, blocking (bounded by LINK_HANDSHAKE_TIMEOUT_S). Returns 0 or -1. */
static int link_tls_start(struct link *l, const char *host, const char *port,
                          const struct link_tls *tls, char *err, size_t errlen)
{
    if (tlsio_init(&l->tls, l->ctx, l->fd, TLSIO_CLIENT) < 0) {
        snprintf(err, errlen, "TLS: cannot set up: %s", l->tls.error);
        return -1;
    }
    int ip = link_is_ip(host);
    /* Server name indication carries names only, never addresses (RFC 6066 section 3). */
    if (!ip && SSL_set_tlsext_host_name(l->tls.ssl, host) != 1) {
        snprintf(err, errlen, "TLS: bad host name %s: %s", host, tlsio_take_error());
        return -1;
    }
    if (!tls->insecure) {
        /* The certificate must name host: a DNS name (wildcards only as a whole left-most
         * label), or an IP address in its subjectAltName. */
        int ok;
        if (ip) {
            ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(l->tls.ssl), host);
        } else {
            SSL_set_hostflags(l->tls.ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            ok = SSL_set1_host(l->tls.ssl, host);
        }
        if (ok != 1) {
            snprintf(err, errlen, "TLS: cannot check the certificate against %s: %s", host,
                     tlsio_take_error());
            return -1;
        }
    }
    link_set_timeout(l->fd, LINK_HANDSHAKE_TIMEOUT_S);
    int r = tlsio_handshake(&l->tls);
    if (r != 1) {
        link_handshake_error(l, r, errno, host, port, tls, err, errlen);
        return -1;
    }
    link_set_timeout(l->fd, 0);
    return 0;
}

struct link *link_open(const char *host, const char *port, const struct link_tls *tls, char *err,
                       size_t errlen)
{
    struct link *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    l->fd = -1;
    /* The context first: a CA file that cannot be read is an error before any connecting. */
    ERR_clear_error();
    if (tls->enabled && link_ctx_new(l, tls, err, errlen) < 0) {
        link_close(l);
        return NULL;
    }
    l->fd = net_connect(host, port, err, errlen);
    if (l->fd < 0) {
        link_close(l);
        return NULL;
    }
    if (tls->enabled && link_tls_start(l, host, port, tls, err, errlen) < 0) {
        link_close(l);
        return NULL;
    }
    if (net_set_nonblock(l->fd) < 0) {
        snprintf(err, errlen, "%s", strerror(errno));
        link_close(l);
        return NULL;
    }
    return l;
}

void link_close(struct link *l)
{
    if (!l)
        return;
    tlsio_shutdown(&l->tls);
    tlsio_free(&l->tls);
    SSL_CTX_free(l->ctx);
    if (l->fd >= 0)
        close(l->fd);
    free(l);
}

int link_fd(const struct link *l)
{
    return l->fd;
}

void link_describe(const struct link *l, char *out, size_t cap)
{
    if (!l->tls.ssl)
        snprintf(out, cap, "%s", "");
    else
        snprintf(out, cap, "%s, %s", SSL_get_version(l->tls.ssl), SSL_get_cipher_name(l->tls.ssl));
}

/* A plaintext recv/send result; on failure the reason is kept for link_error. */
static ssize_t plain_result(struct link *l, ssize_t n)
{
    if (n < 0) {
        int saved = errno;
        snprintf(l->error, sizeof l->error, "%s", strerror(saved));
        errno = saved;
    }
    return n;
}

/* A TLS read/write result; on failure the reason is kept for link_error. */
static ssize_t link_tls_result(struct link *l, ssize_t n)
{
    if (n < 0 && errno != EAGAIN) {
        int saved = errno;
        if (saved == EPROTO && l->tls.error)
            snprintf(l->error, sizeof l->error, "TLS: %s", l->tls.error);
        else
            snprintf(l->error, sizeof l->error, "%s", strerror(saved));
        errno = saved;
    }
    return n;
}

ssize_t link_read(struct link *l, void *buf, size_t len)
{
    if (!l->tls.ssl)
        return plain_result(l, recv(l->fd, buf, len, 0));
    return link_tls_result(l, tlsio_read(&l->tls, buf, len));
}

ssize_t link_write(struct link *l, const void *buf, size_t len)
{
    if (!l->tls.ssl)
        return plain_result(l, send(l->fd, buf, len, MSG_NOSIGNAL));
    return link_tls_result(l, tlsio_write(&l->tls, buf, len));
}

int link_pending(const struct link *l)
{
    return tlsio_pending(&l->tls);
}

int link_read_wants_write(const struct link *l)
{
    return l->tls.read_wants_write;
}

const char *link_error(const struct link *l)
{
    return l->error[0] ? l->error : "unknown error";
}
