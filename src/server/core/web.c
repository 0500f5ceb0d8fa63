/* web: HTTP/1.1 requests (Node's http-parser) and the WebSocket transport (RFC 6455: wslay
 * parses what clients send; see web.h). */
#include "web.h"

#include <errno.h>
#include <http_parser.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <wslay/wslay.h>

#include "cidr.h"
#include "client.h"
#include "common/ircmsg.h"
#include "common/log.h"
#include "common/tlsio.h"
#include "common/utf8.h"
#include "conn.h"
#include "defines.h"
#include "msg.h"
#include "sendq.h"
#include "tls.h"
#include "webfiles.h"
#include "worker.h"

/* The request headers the answer depends on; the others are counted and skipped. */
enum hdr { H_OTHER, H_HOST, H_ORIGIN, H_UPGRADE, H_CONNECTION, H_KEY, H_VERSION, H_PROTOCOL, H_N };
#define HDR_VALUE_MAX 256
#define URL_MAX       1024

/* The request being read, while the connection speaks HTTP (2.5 KB, gone once it is a
 * WebSocket). The parser comes first: its callbacks get this struct from it. */
struct http_req {
    http_parser parser;
    char url[URL_MAX];
    size_t url_len;
    char field[32]; /* the header name being read (longer ones are not ours) */
    size_t field_len;
    int field_long;
    enum hdr which;
    int in_value; /* the last callback was a header value */
    int nheaders;
    char value[H_N][HDR_VALUE_MAX];
    size_t value_len[H_N];
    size_t bytes; /* of this request so far */
    int complete; /* a whole request is in: answer it */
    int status;   /* an error the callbacks found (413, 414, 431), or 0 */
};

struct web {
    struct http_req *req; /* NULL once a WebSocket */
    /* WebSocket: wslay's parser (9 KB) while a frame or a reply to one is in flight; it goes
     * back between frames, so an idle WebSocket costs about what an idle TCP client does. */
    wslay_event_context_ptr ws;
    /* Bytes that go out before anything else: the handshake's reply, control frames, and
     * whatever part of a write the socket did not take (TLS retries it with the same bytes). */
    char *out;
    size_t out_len, out_off;
    char *left; /* bytes read past the handshake, for the frame parser first */
    size_t left_len, left_off;
    uint64_t fed, parsed; /* bytes given to ws, and in the frames it has finished */
    uint64_t frame_bytes; /* the size of the frame being parsed, header included */
    uint64_t since_ms;    /* HTTP: when the last request was answered (or the connection came) */
    size_t budget;        /* bytes this read may take from the socket (room in c->in) */
    size_t got;           /* bytes of lines this read added to c->in */
    unsigned requests;    /* HTTP requests answered */
    int read_errno;       /* a read failed inside wslay's callback */
    unsigned binary : 1;  /* binary.ircv3.net negotiated (else text frames) */
    unsigned in_msg : 1;  /* a fragmented message is half in */
    unsigned eof : 1;     /* the peer closed the TCP connection */
    unsigned again : 1;   /* the socket said EAGAIN */
    unsigned peer_closed : 1;  /* the peer sent a close frame */
    unsigned close_queued : 1; /* our close frame is to follow the last line */
    unsigned close_sent : 1;   /* our close frame is out: nothing more may follow */
    unsigned close_after : 1;  /* HTTP: close once the response is out */
    unsigned overflow : 1;     /* a message did not fit c->in */
};

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"; /* RFC 6455 1.3 */

/* What every response says, to keep the web client's page from running anything but its own
 * files (the message text is rendered as text; this is the second wall). */
static const char security_headers[] =
    "Content-Security-Policy: default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'none'\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "Referrer-Policy: no-referrer\r\n";

int web_http(const struct client *c)
{
    return c->web && c->web->req;
}

/* read(2) or its TLS counterpart. */
static ssize_t sock_read(struct client *c, void *buf, size_t len)
{
    ssize_t n = c->tls.ssl ? tlsio_read(&c->tls, buf, len) : read(c->fd, buf, len);
    if (n > 0)
        c->w->metrics.bytes_in += (uint64_t)n;
    return n;
}

static ssize_t sock_write(struct client *c, const void *buf, size_t len)
{
    return c->tls.ssl ? tlsio_write(&c->tls, buf, len) : write(c->fd, buf, len);
}

/* A read failed with errno: c closes, saying why. */
static void read_failed(struct client *c, int err)
{
    char why[96];
    if (c->tls.error)
        snprintf(why, sizeof why, "TLS error: %s", c->tls.error);
    else
        snprintf(why, sizeof why, "Read error: %s", strerror(err));
    conn_close_later(c, why);
}

/* Writes len bytes, or what the socket takes; the rest waits in w->out, which is written
 * first next time (the same bytes, as TLS wants). 0, or -1 with errno (ENOBUFS past
 * WS_OUT_MAX: a peer that sends pings and reads nothing). */
static int out_write(struct client *c, const char *data, size_t len)
{
    struct web *w = c->web;
    size_t off = 0;
    if (!w->out) {
        while (off < len) {
            ssize_t n = sock_write(c, data + off, len - off);
            if (n > 0)
                off += (size_t)n;
            else if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            else if (errno != EINTR)
                return -1;
        }
        if (off == len)
            return 0;
    }
    size_t keep = w->out_len - w->out_off, add = len - off;
    if (keep + add > WS_OUT_MAX + (size_t)IRC_RAW_LINE_MAX * 4) {
        errno = ENOBUFS;
        return -1;
    }
    char *n = malloc(keep + add);
    if (!n)
        return -1;
    if (keep && w->out)
        memcpy(n, w->out + w->out_off, keep);
    memcpy(n + keep, data + off, add);
    free(w->out);
    w->out = n;
    w->out_len = keep + add;
    w->out_off = 0;
    return 0;
}

/* Writes what w->out holds. 0 (whether or not all of it went), or -1 with errno. */
static int drain_out(struct client *c)
{
    struct web *w = c->web;
    while (w->out && w->out_off < w->out_len) {
        ssize_t n = sock_write(c, w->out + w->out_off, w->out_len - w->out_off);
        if (n > 0)
            w->out_off += (size_t)n;
        else if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        else if (errno != EINTR)
            return -1;
    }
    free(w->out);
    w->out = NULL;
    w->out_len = w->out_off = 0;
    return 0;
}

/* --- HTTP ----------------------------------------------------------------------------- */

static struct http_req *req_of(http_parser *p)
{
    return (struct http_req *)(void *)p; /* the parser is the first member */
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    struct http_req *r = req_of(p);
    if (r->url_len + len >= sizeof r->url) {
        r->status = 414;
        return -1;
    }
    memcpy(r->url + r->url_len, at, len);
    r->url_len += len;
    r->url[r->url_len] = '\0';
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    struct http_req *r = req_of(p);
    if (r->in_value || r->nheaders == 0) { /* a new header (else the rest of a split name) */
        if (++r->nheaders > HTTP_HEADERS_MAX) {
            r->status = 431;
            return -1;
        }
        r->in_value = 0;
        r->field_len = 0;
        r->field_long = 0;
    }
    if (r->field_len + len >= sizeof r->field) {
        r->field_long = 1;
    } else {
        memcpy(r->field + r->field_len, at, len);
        r->field_len += len;
        r->field[r->field_len] = '\0';
    }
    return 0;
}

static enum hdr header_kind(const struct http_req *r)
{
    static const char *const names[H_N] = {
        [H_HOST] = "Host",
        [H_ORIGIN] = "Origin",
        [H_UPGRADE] = "Upgrade",
        [H_CONNECTION] = "Connection",
        [H_KEY] = "Sec-WebSocket-Key",
        [H_VERSION] = "Sec-WebSocket-Version",
        [H_PROTOCOL] = "Sec-WebSocket-Protocol",
    };
    for (int h = 1; !r->field_long && h < H_N; h++) {
        if (strcasecmp(r->field, names[h]) == 0)
            return (enum hdr)h;
    }
    return H_OTHER;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    struct http_req *r = req_of(p);
    if (!r->in_value) {
        r->in_value = 1;
        r->which = header_kind(r);
        /* A header given twice is one list (RFC 9110 5.3), as browsers may split
         * Sec-WebSocket-Protocol. */
        if (r->which != H_OTHER && r->value_len[r->which] > 0 && on_header_value(p, ", ", 2) < 0)
            return -1;
    }
    if (r->which == H_OTHER)
        return 0;
    size_t *n = &r->value_len[r->which];
    if (*n + len >= HDR_VALUE_MAX) {
        r->status = 431;
        return -1;
    }
    memcpy(r->value[r->which] + *n, at, len);
    *n += len;
    r->value[r->which][*n] = '\0';
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    (void)at;
    (void)len;
    req_of(p)->status = 413; /* nothing here takes a body */
    return -1;
}

static int on_message_complete(http_parser *p)
{
    req_of(p)->complete = 1;
    http_parser_pause(p, 1); /* answered before the next pipelined request is read */
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* Clears what was read of the last request; the parser goes on by itself. */
static void req_reset(struct http_req *r)
{
    r->url_len = r->field_len = r->bytes = 0;
    r->url[0] = '\0';
    r->field_long = r->in_value = r->nheaders = r->complete = r->status = 0;
    r->which = H_OTHER;
    memset(r->value_len, 0, sizeof r->value_len);
    for (int h = 0; h < H_N; h++)
        r->value[h][0] = '\0';
}

static const char *status_text(int status)
{
    switch (status) {
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 426:
        return "Upgrade Required";
    case 431:
        return "Request Header Fields Too Large";
    default:
        return "Error";
    }
}

static void queue(struct client *c, struct msg *m)
{
    /* Straight into the queue, past conn_send's bound: a file is one shared msg however
     * big, and the soft bound stops the reading of further requests meanwhile. */
    if (m && sendq_push(&c->sq, m) < 0)
        conn_close_later(c, "Out of memory");
    worker_mark_dirty(c->w, c);
}

/* Queues a response: body (a shared file) or text (a short message) as the content. */
static void respond(struct client *c, int status, const char *type, struct msg *body,
                    const char *text, const char *extra, int keep_alive, int head_only)
{
    struct web *w = c->web;
    if (!text)
        text = "";
    size_t len = body ? body->len : strlen(text);
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    char head[1536];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: tcpchatd\r\nContent-Type: %s\r\n"
                     "Content-Length: %zu\r\nCache-Control: no-cache\r\n%s%sConnection: %s\r\n\r\n",
                     status, status_text(status), date, type, len, security_headers, extra,
                     keep_alive ? "keep-alive" : "close");
    struct msg *m = msg_raw(head, n < (int)sizeof head ? (size_t)n : sizeof head - 1);
    queue(c, m);
    msg_unref(m);
    if (!head_only && body) {
        queue(c, body);
    } else if (!head_only && len) {
        m = msg_raw(text, len);
        queue(c, m);
        msg_unref(m);
    }
    if (!keep_alive)
        w->close_after = 1;
}

static void respond_error(struct client *c, int status, const char *text, const char *extra)
{
    char body[256];
    snprintf(body, sizeof body, "%d %s: %s\n", status, status_text(status), text);
    respond(c, status, "text/plain; charset=utf-8", NULL, body, extra, 0, 0);
}

/* 1 if the comma-separated list holds token (case-insensitive). */
static int has_token(const char *list, const char *token)
{
    size_t tl = strlen(token);
    for (const char *p = list; *p;) {
        p += strspn(p, " \t,");
        size_t n = strcspn(p, " \t,");
        if (n == tl && strncasecmp(p, token, n) == 0)
            return 1;
        p += n;
    }
    return 0;
}

/* The Origin check against cross-site WebSocket hijacking: a page from another site must not
 * open a connection that carries the user's address and cookies. No Origin at all is a
 * program, not a browser's page, and is let in. */
static int origin_allowed(const struct client *c, const struct http_req *r)
{
    const char *origin = r->value[H_ORIGIN];
    const char *allowed = client_cfg(c)->web_origins;
    if (!origin[0])
        return 1;
    if (allowed) {
        if (strcmp(allowed, "*") == 0)
            return 1;
        size_t ol = strlen(origin);
        for (const char *p = allowed; *p;) {
            size_t n = strcspn(p, ",");
            if (n == ol && strncasecmp(p, origin, n) == 0)
                return 1;
            p += n + (p[n] == ',');
        }
        return 0;
    }
    const char *scheme = c->tls.ssl ? "https://" : "http://";
    size_t sl = strlen(scheme);
    return r->value[H_HOST][0] && strncasecmp(origin, scheme, sl) == 0 &&
           strcasecmp(origin + sl, r->value[H_HOST]) == 0;
}

/* /metrics (metrics.h) for the addresses --metrics-allow names; a 403 for others, which
 * says where to look without showing anything. */
static void answer_metrics(struct client *c, int keep, int head)
{
    if (!cidr_list_has_host(&client_cfg(c)->metrics_allow, c->host)) {
        respond_error(c, 403, "metrics are for the addresses in --metrics-allow", "");
        return;
    }
    struct msg *page = client_srv(c)->hooks.metrics_page(client_srv(c));
    if (!page) {
        conn_close_later(c, "Out of memory");
        return;
    }
    respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", page, NULL, "", keep, head);
    msg_unref(page);
}

/* The subprotocol: the client's first of ours, in its order (IRCv3 websocket); none offered
 * is text, as browsers' own WebSocket programs expect. */
static const char *pick_protocol(const char *offered, int *binary)
{
    *binary = 0;
    for (const char *p = offered; *p;) {
        p += strspn(p, " \t,");
        size_t n = strcspn(p, " \t,");
        if (n == 16 && strncmp(p, "binary.ircv3.net", n) == 0) {
            *binary = 1;
            return "binary.ircv3.net";
        }
        if (n == 14 && strncmp(p, "text.ircv3.net", n) == 0)
            return "text.ircv3.net";
        p += n;
    }
    return NULL;
}

/* Refused origins are logged, at most 5 lines a second (attacker-made lines). */
static struct log_budget origins_logged = LOG_BUDGET_INIT;

/* The handshake's answer (RFC 6455 4.2.2); rest holds the bytes read past it. */
static void upgrade(struct client *c, const char *rest, size_t restlen)
{
    struct web *w = c->web;
    struct http_req *r = w->req;
    unsigned char key[32], md[EVP_MAX_MD_SIZE];
    size_t keylen = 0;
    unsigned mdlen = 0;
    if (strcmp(r->value[H_VERSION], "13") != 0) {
        respond_error(c, 426, "this server speaks WebSocket version 13",
                      "Sec-WebSocket-Version: 13\r\n");
        return;
    }
    if (!has_token(r->value[H_CONNECTION], "upgrade") || !r->value[H_HOST][0] ||
        sodium_base642bin(key, sizeof key, r->value[H_KEY], r->value_len[H_KEY], NULL, &keylen,
                          NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        keylen != 16) {
        respond_error(c, 400, "not a WebSocket handshake (RFC 6455 4.1)", "");
        return;
    }
    if (!origin_allowed(c, r)) {
        log_limited(&origins_logged, 5, LOG_INFO, "refusing a WebSocket from %s: origin %s",
                    c->host, r->value[H_ORIGIN]);
        respond_error(c, 403, "pages from this origin may not connect (--web-origins)", "");
        return;
    }
    if (sendq_bytes(&c->sq) > 0) { /* a pipelined earlier response is still going out */
        respond_error(c, 400, "send the handshake on its own", "");
        return;
    }
    char accept_in[HDR_VALUE_MAX + sizeof ws_guid];
    int n = snprintf(accept_in, sizeof accept_in, "%s%s", r->value[H_KEY], ws_guid);
    char accept[64];
    if (EVP_Digest(accept_in, (size_t)n, md, &mdlen, EVP_sha1(), NULL) != 1) {
        respond_error(c, 400, "cannot compute the handshake", "");
        return;
    }
    sodium_bin2base64(accept, sizeof accept, md, mdlen, sodium_base64_VARIANT_ORIGINAL);
    int binary;
    const char *proto = pick_protocol(r->value[H_PROTOCOL], &binary);
    char reply[512];
    n = snprintf(reply, sizeof reply,
                 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s%s%s\r\n",
                 accept, proto ? "Sec-WebSocket-Protocol: " : "", proto ? proto : "",
                 proto ? "\r\n" : "");
    if (restlen) {
        w->left = malloc(restlen);
        if (!w->left) {
            conn_close_later(c, "Out of memory");
            return;
        }
        memcpy(w->left, rest, restlen);
        w->left_len = restlen;
    }
    free(w->req);
    w->req = NULL;
    w->binary = binary != 0;
    log_debug("client %llu (%s): WebSocket, %s", (unsigned long long)c->id, c->host,
              proto ? proto : "no subprotocol (text)");
    if (out_write(c, reply, (size_t)n) < 0)
        read_failed(c, errno);
}

/* A whole request is in: answers it. rest: the bytes read after it. */
static void answer(struct client *c, const char *rest, size_t restlen)
{
    struct web *w = c->web;
    struct http_req *r = w->req;
    http_parser *p = &r->parser;
    w->since_ms = c->w->now_ms;
    w->requests++;
    int keep = http_should_keep_alive(p) && w->requests < HTTP_REQUESTS_MAX;
    char path[URL_MAX];
    snprintf(path, sizeof path, "%.*s", (int)strcspn(r->url, "?#"), r->url);
    int head = p->method == HTTP_HEAD;
    if (p->method != HTTP_GET && !head) {
        respond_error(c, 405, "only GET and HEAD here", "Allow: GET, HEAD\r\n");
        return;
    }
    if (p->upgrade || has_token(r->value[H_UPGRADE], "websocket")) {
        if (head || (strcmp(path, "/irc") != 0 && strcmp(path, "/") != 0))
            respond_error(c, 404, "WebSocket is at /irc", "");
        else if (!has_token(r->value[H_UPGRADE], "websocket"))
            respond_error(c, 400, "only an upgrade to websocket is offered", "");
        else
            upgrade(c, rest, restlen);
        return;
    }
    if (strcmp(path, "/irc") == 0) {
        respond_error(c, 426, "this address is for WebSocket clients (IRCv3 websocket)",
                      "Upgrade: websocket\r\n");
        return;
    }
    if (strcmp(path, "/metrics") == 0 && client_srv(c)->hooks.metrics_page) {
        answer_metrics(c, keep, head);
        return;
    }
    const struct webfile *f = webfiles_find(path);
    if (!f) {
        respond(c, 404, "text/plain; charset=utf-8", NULL, "404 Not Found\n", "", keep, head);
        return;
    }
    respond(c, 200, f->type, f->body, NULL, "", keep, head);
}

/* Runs the parser over what was read, answering each whole request. */
static void http_feed(struct client *c, const char *data, size_t len)
{
    struct web *w = c->web;
    size_t off = 0;
    while (off < len && w->req && !w->close_after && !c->closing) {
        struct http_req *r = w->req;
        size_t n = http_parser_execute(&r->parser, &parser_settings, data + off, len - off);
        off += n;
        r->bytes += n;
        if (r->bytes > HTTP_REQUEST_MAX) {
            respond_error(c, 431, "the request is too large", "");
            return;
        }
        if (r->complete) {
            http_parser_pause(&r->parser, 0);
            answer(c, data + off, len - off);
            if (!w->req)
                return; /* a WebSocket now: the rest went to it */
            req_reset(r);
            continue;
        }
        enum http_errno e = HTTP_PARSER_ERRNO(&r->parser);
        if (e != HPE_OK || r->status) {
            respond_error(c, r->status ? r->status : 400,
                          r->status ? "the request is too large" : http_errno_description(e), "");
            return;
        }
    }
}

static enum web_input http_input(struct client *c)
{
    struct web *w = c->web;
    if (w->close_after) { /* answered for the last time: what more it sends is not read */
        c->want_read = 0;
        return WEB_AGAIN;
    }
    if (sendq_bytes(&c->sq) > client_cfg(c)->sendq_soft)
        return WEB_FULL; /* pipelined requests wait until their answers have gone */
    char buf[4096];
    ssize_t n = sock_read(c, buf, sizeof buf);
    if (n > 0) {
        c->active_ms = c->w->now_ms;
        http_feed(c, buf, (size_t)n);
        return WEB_LINES;
    }
    if (n == 0)
        conn_close_later(c, "Connection closed");
    else if (errno == EAGAIN || errno == EWOULDBLOCK)
        c->want_read = 0;
    else if (errno == EINTR)
        return WEB_LINES;
    else
        read_failed(c, errno);
    return WEB_AGAIN;
}

/* --- WebSocket ------------------------------------------------------------------------ */

static ssize_t ws_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user)
{
    (void)flags;
    struct client *c = user;
    struct web *w = c->web;
    if (w->left) {
        size_t n = w->left_len - w->left_off < len ? w->left_len - w->left_off : len;
        memcpy(buf, w->left + w->left_off, n);
        w->left_off += n;
        if (w->left_off == w->left_len) {
            free(w->left);
            w->left = NULL;
        }
        w->fed += n;
        return (ssize_t)n;
    }
    if (w->budget == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    ssize_t n = sock_read(c, buf, len < w->budget ? len : w->budget);
    if (n > 0) {
        w->budget -= (size_t)n;
        w->fed += (uint64_t)n;
        c->active_ms = c->w->now_ms;
        c->ping_pending = 0;
        return n;
    }
    if (n == 0) {
        w->eof = 1;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        w->again = errno != EINTR;
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    } else {
        w->read_errno = errno;
    }
    wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
}

/* wslay's own frames (PONG, the close that answers a close or a bad frame). */
static ssize_t ws_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *user)
{
    (void)flags;
    if (out_write(user, (const char *)data, len) < 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return (ssize_t)len;
}

static void ws_frame_start(wslay_event_context_ptr ctx,
                           const struct wslay_event_on_frame_recv_start_arg *arg, void *user)
{
    (void)ctx;
    struct web *w = ((struct client *)user)->web;
    uint64_t len = arg->payload_length;
    /* A client's frames are masked (4 bytes), their length in 7 bits, 16 or 64. */
    w->frame_bytes = 2 + 4 + (len < 126 ? 0 : len < 65536 ? 2 : 8) + len;
    if (!(arg->opcode & 0x8)) /* data or continuation, not control */
        w->in_msg = !arg->fin;
}

static void ws_frame_end(wslay_event_context_ptr ctx, void *user)
{
    (void)ctx;
    struct web *w = ((struct client *)user)->web;
    w->parsed += w->frame_bytes;
}

/* A message: one IRC line (its CR LF, if a client sent one, dropped), or a control frame. */
static void ws_message(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                       void *user)
{
    (void)ctx;
    struct client *c = user;
    struct web *w = c->web;
    if (arg->opcode == WSLAY_TEXT_FRAME || arg->opcode == WSLAY_BINARY_FRAME) {
        size_t len = arg->msg_length;
        const char *msg = (const char *)arg->msg;
        while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == '\r'))
            len--;
        if (linebuf_pending(&c->in) + len + 2 > c->in.max) {
            w->overflow = 1;
            return;
        }
        for (size_t done = 0; done < len + 2;) {
            size_t avail;
            char *space = linebuf_space(&c->in, &avail);
            if (!space) {
                w->overflow = 1;
                return;
            }
            size_t take = len + 2 - done < avail ? len + 2 - done : avail;
            for (size_t i = 0; i < take; i++, done++) {
                if (done < len)
                    space[i] = msg[done];
                else if (done == len)
                    space[i] = '\r';
                else
                    space[i] = '\n';
            }
            linebuf_commit(&c->in, take);
        }
        w->got += len + 2;
    } else if (arg->opcode == WSLAY_PING) {
        c->tokens -= 1.0; /* a PING costs a line of the flood allowance, as IRC's PING does */
        worker_mark_dirty(c->w, c);
    } else if (arg->opcode == WSLAY_CONNECTION_CLOSE) {
        w->peer_closed = 1;
    }
}

static const struct wslay_event_callbacks ws_callbacks = {
    .recv_callback = ws_recv,
    .send_callback = ws_send,
    .on_frame_recv_start_callback = ws_frame_start,
    .on_frame_recv_end_callback = ws_frame_end,
    .on_msg_recv_callback = ws_message,
};

/* Gives the parser back between frames, when nothing of a frame or a reply is pending. */
static void ws_release_if_idle(struct web *w)
{
    if (w->ws && w->fed == w->parsed && !w->in_msg && !w->left && !w->peer_closed &&
        wslay_event_want_read(w->ws) && !wslay_event_want_write(w->ws)) {
        wslay_event_context_free(w->ws);
        w->ws = NULL;
        w->fed = w->parsed = 0;
    }
}

static enum web_input ws_input(struct client *c)
{
    struct web *w = c->web;
    size_t pending = linebuf_pending(&c->in), need = c->in.line_max + 2;
    /* Room for what this read may complete: every byte read may be a byte of a line, and the
     * message wslay holds half-read may be a whole line more. */
    if (pending + need + 64 > c->in.max) {
        if (pending > 0)
            return WEB_FULL;
        w->budget = 64;
    } else {
        w->budget = c->in.max - pending - need;
    }
    if (!w->ws) {
        if (wslay_event_context_server_init(&w->ws, &ws_callbacks, c) != 0) {
            w->ws = NULL;
            conn_close_later(c, "Out of memory");
            return WEB_AGAIN;
        }
        wslay_event_config_set_max_recv_msg_length(w->ws, c->in.line_max);
    }
    w->got = 0;
    w->again = 0;
    int r = wslay_event_recv(w->ws);
    if (w->eof) {
        conn_close_later(c, "Connection closed");
        return WEB_AGAIN;
    }
    if (r != 0 || w->overflow) {
        if (w->read_errno)
            read_failed(c, w->read_errno);
        else
            conn_close_later(c, w->overflow ? CONN_EXCESS_FLOOD : "Out of memory");
        return WEB_AGAIN;
    }
    if (w->peer_closed) {
        conn_close_later(c, "Connection closed");
        return WEB_AGAIN;
    }
    if (!wslay_event_want_read(w->ws)) { /* wslay refused a frame and queued its close */
        conn_close_later(c, wslay_event_get_status_code_sent(w->ws) == WSLAY_CODE_MESSAGE_TOO_BIG
                                ? "WebSocket message too big"
                                : "WebSocket protocol error");
        return WEB_AGAIN;
    }
    if (wslay_event_want_write(w->ws))
        worker_mark_dirty(c->w, c);
    if (w->again)
        c->want_read = 0;
    ws_release_if_idle(w);
    return w->got || !w->again ? WEB_LINES : WEB_AGAIN;
}

/* Appends a frame header for a server's (unmasked) frame of len bytes; returns its size. */
static size_t frame_header(char *p, int opcode, size_t len)
{
    p[0] = (char)(0x80 | opcode);
    if (len < 126) {
        p[1] = (char)len;
        return 2;
    }
    if (len < 65536) {
        p[1] = 126;
        p[2] = (char)(len >> 8);
        p[3] = (char)(len & 0xff);
        return 4;
    }
    p[1] = 127;
    for (int i = 0; i < 8; i++)
        p[2 + i] = (char)((uint64_t)len >> (56 - 8 * i));
    return 10;
}

/* Frames the lines queued into framed (cap bytes), as many as fit; returns its length and
 * sets *used to the bytes of the queue they were. The server writes its own frames rather
 * than queue each line in wslay, which would copy every line of the fan-out into a buffer of
 * its own per recipient; a header is two to four bytes. */
static size_t frame_lines(struct client *c, char *framed, size_t cap, size_t *used)
{
    static _Thread_local char raw[2 * IRC_RAW_LINE_MAX + 16];
    static _Thread_local char fixed[3 * IRC_RAW_LINE_MAX + 4];
    size_t n = sendq_peek(&c->sq, raw, sizeof raw), at = 0, fl = 0;
    int opcode = c->web->binary ? WSLAY_BINARY_FRAME : WSLAY_TEXT_FRAME;
    while (at < n) {
        char *lf = memchr(raw + at, '\n', n - at);
        size_t end = lf ? (size_t)(lf - raw) + 1 : n;
        if (!lf && at > 0)
            break; /* a line cut by the peek: the next batch */
        const char *line = raw + at;
        size_t len = lf ? (size_t)(lf - line) : n - at;
        if (len > 0 && line[len - 1] == '\r')
            len--;
        /* Text frames must be UTF-8 (IRCv3 websocket): a stray byte becomes U+FFFD. */
        if (!c->web->binary && !utf8_valid(line, len)) {
            len = utf8_repair(fixed, sizeof fixed, line, len);
            line = fixed;
        }
        if (fl + 10 + len > cap)
            break;
        fl += frame_header(framed + fl, opcode, len);
        memcpy(framed + fl, line, len);
        fl += len;
        at = end;
    }
    *used = at;
    return fl;
}

/* Lines one writev frames at most. */
#define WS_WRITEV_LINES 256

/* A plain socket's frames, written straight from the queued msgs with one writev: a header
 * of two to four bytes, then the line where it lies, as sendq_flush writes lines for TCP. So
 * a line of the fan-out is not copied for each recipient, nor framed by wslay into a buffer
 * of its own. A line that is not UTF-8 goes repaired in a text frame (then ends the batch:
 * the repair has one buffer). What the socket does not take of the last frame it began is
 * kept in w->out. Returns 1 when the socket is full, 0 when it took all, -1 on an error. */
static int ws_writev_lines(struct client *c)
{
    struct web *w = c->web;
    static _Thread_local char fixed[3 * IRC_RAW_LINE_MAX + 4];
    struct iovec src[WS_WRITEV_LINES], iov[2 * WS_WRITEV_LINES];
    char head[WS_WRITEV_LINES][4];
    size_t take[WS_WRITEV_LINES]; /* bytes of the queue each frame is (its CR LF too) */
    int first[WS_WRITEV_LINES];   /* each frame's first entry in iov */
    int opcode = w->binary ? WSLAY_BINARY_FRAME : WSLAY_TEXT_FRAME;
    int n = sendq_iov(&c->sq, src, WS_WRITEV_LINES, WRITEV_BYTES);
    int k = 0, ni = 0, repaired = 0;
    size_t total = 0;
    for (int i = 0; i < n && k < WS_WRITEV_LINES && !repaired; i++) {
        const char *p = src[i].iov_base;
        size_t left = src[i].iov_len;
        while (left > 0 && k < WS_WRITEV_LINES && !repaired) {
            const char *lf = memchr(p, '\n', left);
            size_t end = lf ? (size_t)(lf - p) + 1 : left;
            size_t len = lf ? (size_t)(lf - p) : left;
            if (len > 0 && p[len - 1] == '\r')
                len--;
            const char *line = p;
            if (!w->binary && !utf8_valid(line, len)) {
                len = utf8_repair(fixed, sizeof fixed, line, len);
                line = fixed;
                repaired = 1;
            }
            first[k] = ni;
            iov[ni].iov_base = head[k];
            iov[ni].iov_len = frame_header(head[k], opcode, len); /* len < 65536: 4 at most */
            total += iov[ni++].iov_len;
            if (len) {
                iov[ni].iov_base = (char *)line;
                iov[ni].iov_len = len;
                total += iov[ni++].iov_len;
            }
            take[k++] = end;
            p += end;
            left -= end;
        }
    }
    if (ni == 0)
        return 0;
    ssize_t wr;
    do {
        wr = writev(c->fd, iov, ni);
    } while (wr < 0 && errno == EINTR);
    if (wr < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? 1 : -1;
    size_t done = (size_t)wr, used = 0;
    for (int j = 0; j < k; j++) {
        int e = first[j], last = j + 1 < k ? first[j + 1] : ni;
        size_t flen = 0;
        for (int x = e; x < last; x++)
            flen += iov[x].iov_len;
        if (done >= flen) {
            done -= flen;
            used += take[j];
            continue;
        }
        if (done > 0) { /* a frame half out: the rest of it goes first next time */
            for (int x = e; x < last; x++) {
                size_t skip = done < iov[x].iov_len ? done : iov[x].iov_len;
                done -= skip;
                if (out_write(c, (const char *)iov[x].iov_base + skip, iov[x].iov_len - skip) < 0)
                    return -1;
            }
            used += take[j];
        }
        break;
    }
    sendq_advance(&c->sq, used);
    return (size_t)wr < total ? 1 : 0;
}

static int ws_flush(struct client *c)
{
    struct web *w = c->web;
    static _Thread_local char framed[3 * IRC_RAW_LINE_MAX + 64];
    for (;;) {
        if (drain_out(c) < 0)
            return -1;
        if (w->out)
            return 0; /* the socket is full */
        if (w->ws && wslay_event_want_write(w->ws)) {
            if (wslay_event_send(w->ws) != 0)
                return -1;
            continue;
        }
        if (w->close_sent || (w->ws && wslay_event_get_close_sent(w->ws))) {
            sendq_advance(&c->sq, sendq_bytes(&c->sq)); /* nothing may follow a close */
            return 0;
        }
        if (sendq_bytes(&c->sq) == 0) {
            if (w->close_queued) { /* normal closure, after the ERROR line */
                const char close_frame[] = {(char)0x88, 2, 0x03, (char)0xe8};
                w->close_sent = 1;
                if (out_write(c, close_frame, sizeof close_frame) < 0)
                    return -1;
                continue;
            }
            ws_release_if_idle(w);
            return 0;
        }
        if (!c->tls.ssl) {
            int r = ws_writev_lines(c);
            if (r < 0)
                return -1;
            if (r > 0)
                return 0; /* the socket is full */
            continue;
        }
        size_t used;
        size_t n = frame_lines(c, framed, sizeof framed, &used);
        if (used == 0)
            return 0; /* cannot happen: a line always fits an empty batch */
        sendq_advance(&c->sq, used);
        if (n && out_write(c, framed, n) < 0)
            return -1;
    }
}

/* --- The connection's side -------------------------------------------------------------- */

int web_start(struct client *c)
{
    struct web *w = calloc(1, sizeof *w);
    struct http_req *r = w ? calloc(1, sizeof *r) : NULL;
    if (!r) {
        free(w);
        conn_close_later(c, "Out of memory");
        return -1;
    }
    http_parser_init(&r->parser, HTTP_REQUEST);
    w->req = r;
    w->since_ms = c->w->now_ms;
    c->web = w;
    return 0;
}

enum web_input web_input(struct client *c)
{
    return c->web->req ? http_input(c) : ws_input(c);
}

int web_flush(struct client *c)
{
    struct web *w = c->web;
    if (w->req) {
        size_t before = sendq_bytes(&c->sq);
        int r = c->tls.ssl ? tls_conn_flush(&c->tls, &c->sq) : sendq_flush(&c->sq, c->fd);
        if (sendq_bytes(&c->sq) < before)
            w->since_ms = c->w->now_ms; /* a slow reader, but a reader */
        if (r == 0 && w->close_after && sendq_bytes(&c->sq) == 0)
            conn_close_later(c, "HTTP request answered");
        return r;
    }
    return ws_flush(c);
}

void web_last_words(struct client *c, const char *line)
{
    struct web *w = c->web;
    if (w->req)
        return; /* HTTP: the response is all there is */
    if (!w->peer_closed && !(w->ws && wslay_event_get_close_sent(w->ws)) && !w->close_sent) {
        struct msg *m = msg_printf("%s", line);
        if (m) {
            sendq_push(&c->sq, m);
            msg_unref(m);
        }
        w->close_queued = 1;
    }
    ws_flush(c);
}

int web_tick(struct client *c)
{
    struct web *w = c->web;
    if (!w->req)
        return 0;
    uint64_t limit = (uint64_t)client_cfg(c)->reg_timeout * 1000;
    if (c->w->now_ms - w->since_ms >= (limit < HTTP_IDLE_MS ? limit : HTTP_IDLE_MS))
        conn_close_later(c, CONN_HTTP_TIMEOUT);
    return 1;
}

void web_free(struct client *c)
{
    struct web *w = c->web;
    if (!w)
        return;
    if (w->ws)
        wslay_event_context_free(w->ws);
    free(w->req);
    free(w->out);
    free(w->left);
    free(w);
    c->web = NULL;
}
