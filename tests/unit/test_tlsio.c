/* Unit tests for src/common/tlsio.c over a real TLS session between the two ends of a
 * socketpair in one process: a self-signed certificate made here, handshakes stepped by hand,
 * and the read(2)/send(2) answers (EAGAIN and its direction, data, end of stream, EPROTO). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/tlsio.h"

/* Handshake steps before giving up: TLS 1.3 needs two round trips at most. */
#define STEPS_MAX 16
/* More than a socketpair's buffers hold, so a writer meets a full socket. */
#define BULK_BYTES (4 * 1024 * 1024)

static SSL_CTX *server_ctx, *client_ctx;

/* The two ends of one session: srv on fd[0], cli on fd[1]. */
struct pair {
    int fd[2];
    struct tlsio srv, cli;
};

static X509 *make_cert(EVP_PKEY *key)
{
    X509 *x = X509_new();
    if (!x)
        return NULL;
    X509_NAME *name = X509_get_subject_name(x);
    if (X509_set_version(x, 2) != 1 || ASN1_INTEGER_set(X509_get_serialNumber(x), 1) != 1 ||
        !X509_gmtime_adj(X509_getm_notBefore(x), 0) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), 3600) ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1,
                                   -1, 0) != 1 ||
        X509_set_issuer_name(x, name) != 1 || X509_set_pubkey(x, key) != 1 ||
        X509_sign(x, key, EVP_sha256()) == 0) {
        X509_free(x);
        return NULL;
    }
    return x;
}

/* One server context with a fresh self-signed certificate, one client context that trusts
 * anything. Both take a bare TCP close as the end of the stream, as the server's, the
 * client's and the bench's contexts do. */
static int group_setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN); /* OpenSSL writes with write(2), not send(MSG_NOSIGNAL) */
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *cert = key ? make_cert(key) : NULL;
    server_ctx = SSL_CTX_new(TLS_server_method());
    client_ctx = SSL_CTX_new(TLS_client_method());
    int ok = cert && server_ctx && client_ctx && SSL_CTX_use_certificate(server_ctx, cert) == 1 &&
             SSL_CTX_use_PrivateKey(server_ctx, key) == 1;
    X509_free(cert);
    EVP_PKEY_free(key);
    if (!ok)
        return -1;
    SSL_CTX_set_verify(client_ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_options(server_ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_options(client_ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    SSL_CTX_free(server_ctx);
    SSL_CTX_free(client_ctx);
    return 0;
}

static void pair_open(struct pair *p)
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, p->fd), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(fcntl(p->fd[i], F_SETFL, O_NONBLOCK), 0);
    assert_int_equal(tlsio_init(&p->srv, server_ctx, p->fd[0], TLSIO_SERVER), 0);
    assert_int_equal(tlsio_init(&p->cli, client_ctx, p->fd[1], TLSIO_CLIENT), 0);
}

/* Steps both handshakes in turn until both are done; each step either finishes or asks to
 * wait for the socket to be readable (never writable: the socketpair has room). */
static void pair_handshake(struct pair *p)
{
    int cli_done = 0, srv_done = 0;
    for (int step = 0; step < STEPS_MAX && !(cli_done && srv_done); step++) {
        if (!cli_done) {
            int r = tlsio_handshake(&p->cli);
            if (r != 1) {
                assert_int_equal(r, -1);
                assert_int_equal(errno, EAGAIN);
                assert_false(p->cli.read_wants_write);
            }
            cli_done = r == 1;
        }
        if (!srv_done) {
            int r = tlsio_handshake(&p->srv);
            if (r != 1) {
                assert_int_equal(r, -1);
                assert_int_equal(errno, EAGAIN);
                assert_false(p->srv.read_wants_write);
            }
            srv_done = r == 1;
        }
    }
    assert_true(cli_done && srv_done);
    assert_true(tlsio_ready(&p->cli) && tlsio_ready(&p->srv));
}

static void pair_close(struct pair *p)
{
    tlsio_free(&p->srv);
    tlsio_free(&p->cli);
    for (int i = 0; i < 2; i++)
        if (p->fd[i] >= 0)
            close(p->fd[i]);
}

/* Writes all of s through t (the socket has room for it). */
static void send_all(struct tlsio *t, const char *s)
{
    size_t len = strlen(s);
    assert_int_equal(tlsio_write(t, s, len), (ssize_t)len);
    assert_false(t->write_pending);
}

/* Reads exactly strlen(want) bytes from t and compares them with want. */
static void expect_read(struct tlsio *t, const char *want)
{
    char buf[256];
    size_t len = strlen(want);
    assert_true(len <= sizeof buf);
    assert_int_equal(tlsio_read(t, buf, len), (ssize_t)len);
    assert_memory_equal(buf, want, len);
}

static void test_handshake_by_hand(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p);
    assert_false(tlsio_ready(&p.cli));
    /* The client's first step sends its hello and then waits to read the answer. */
    assert_int_equal(tlsio_handshake(&p.cli), -1);
    assert_int_equal(errno, EAGAIN);
    assert_false(p.cli.read_wants_write);
    pair_handshake(&p);
    assert_int_equal(tlsio_handshake(&p.cli), 1); /* done stays done */
    assert_null(p.cli.error);
    assert_null(p.srv.error);
    pair_close(&p);
}

static void test_read_with_nothing_there_is_eagain(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p);
    pair_handshake(&p);
    char buf[64];
    for (int i = 0; i < 2; i++) { /* the client first takes the server's session tickets */
        assert_int_equal(tlsio_read(&p.cli, buf, sizeof buf), -1);
        assert_int_equal(errno, EAGAIN);
        assert_false(p.cli.read_wants_write);
        assert_int_equal(tlsio_read(&p.srv, buf, sizeof buf), -1);
        assert_int_equal(errno, EAGAIN);
        assert_false(p.srv.read_wants_write);
    }
    assert_false(tlsio_pending(&p.cli));
    assert_false(p.cli.failed || p.srv.failed);
    pair_close(&p);
}

static void test_data_round_trips(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p);
    pair_handshake(&p);
    send_all(&p.cli, "NICK alice\r\n");
    expect_read(&p.srv, "NICK alice\r\n");
    send_all(&p.srv, ":srv 001 alice :Welcome\r\n");
    /* A short read leaves the rest of the record decrypted inside the session, where poll
     * cannot see it: tlsio_pending says so. */
    expect_read(&p.cli, ":srv 001");
    assert_true(tlsio_pending(&p.cli));
    expect_read(&p.cli, " alice :Welcome\r\n");
    assert_false(tlsio_pending(&p.cli));
    pair_close(&p);
}

/* A read that must write first (the server's last handshake step sends the session tickets)
 * while the socket is full stops with EAGAIN and read_wants_write; once the socket has room,
 * the same read goes on. */
static void test_read_that_must_write_says_so(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p);
    assert_int_equal(tlsio_handshake(&p.cli), -1); /* ClientHello */
    assert_int_equal(tlsio_handshake(&p.srv), -1); /* ServerHello ... Finished */
    assert_int_equal(tlsio_handshake(&p.cli), 1);  /* Finished */
    /* Fill the server's direction with bytes that are taken back raw below. */
    char fill[4096];
    memset(fill, 0, sizeof fill);
    size_t filled = 0;
    ssize_t n;
    while ((n = write(p.fd[0], fill, sizeof fill)) > 0)
        filled += (size_t)n;
    assert_int_equal(errno, EAGAIN);
    char buf[64];
    assert_int_equal(tlsio_read(&p.srv, buf, sizeof buf), -1);
    assert_int_equal(errno, EAGAIN);
    assert_true(p.srv.read_wants_write);
    while (filled > 0) {
        n = read(p.fd[1], fill, filled < sizeof fill ? filled : sizeof fill);
        assert_true(n > 0);
        filled -= (size_t)n;
    }
    assert_int_equal(tlsio_read(&p.srv, buf, sizeof buf), -1);
    assert_int_equal(errno, EAGAIN);
    assert_false(p.srv.read_wants_write); /* tickets out: now it waits to read */
    assert_true(tlsio_ready(&p.srv));
    send_all(&p.cli, "PING :x\r\n");
    expect_read(&p.srv, "PING :x\r\n");
    pair_close(&p);
}

/* A write before the handshake starts it and then waits for the server's answer: EAGAIN with
 * write_wants_read, and the same bytes go out once it is done. */
static void test_write_before_handshake_waits_to_read(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p);
    const char *line = "PING :early\r\n";
    assert_int_equal(tlsio_write(&p.cli, line, strlen(line)), -1);
    assert_int_equal(errno, EAGAIN);
    assert_true(p.cli.write_wants_read);
    assert_true(p.cli.write_pending);
    /* The server reads (the handshake is its first reads): its flight goes out. */
    char buf[64];
    assert_int_equal(tlsio_read(&p.srv, buf, sizeof buf), -1);
    assert_int_equal(errno, EAGAIN);
    send_all(&p.cli, line);
    assert_false(p.cli.write_wants_read);
    expect_read(&p.srv, line);
    assert_true(tlsio_ready(&p.srv));
    pair_close(&p);
}

/* A full socket stops a write with EAGAIN and a record half written; once the reader drains
 * it, the retry with the same bytes goes on, and every byte arrives once, in order. */
static void test_full_socket_resumes_in_order(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p);
    pair_handshake(&p);
    unsigned char *out = malloc(BULK_BYTES), *in = malloc(BULK_BYTES);
    assert_non_null(out);
    assert_non_null(in);
    for (size_t i = 0; i < BULK_BYTES; i++)
        out[i] = (unsigned char)(i * 7 + i / 251);
    size_t sent = 0, got = 0;
    int stalls = 0;
    while (got < BULK_BYTES) {
        while (sent < BULK_BYTES) {
            /* Each retry starts from the same offset, as bconn and the client do. */
            ssize_t n = tlsio_write(&p.cli, out + sent, BULK_BYTES - sent);
            if (n < 0) {
                assert_int_equal(errno, EAGAIN);
                assert_true(p.cli.write_pending);
                assert_false(p.cli.write_wants_read);
                stalls++;
                break;
            }
            assert_true(n > 0);
            sent += (size_t)n;
        }
        for (;;) {
            ssize_t n = tlsio_read(&p.srv, in + got, BULK_BYTES - got);
            if (n < 0) {
                assert_int_equal(errno, EAGAIN);
                break;
            }
            assert_true(n > 0);
            got += (size_t)n;
        }
    }
    assert_true(stalls > 0);
    assert_false(p.cli.write_pending);
    assert_int_equal(sent, BULK_BYTES);
    assert_memory_equal(in, out, BULK_BYTES);
    free(out);
    free(in);
    pair_close(&p);
}

/* close_notify ends the stream: 0, and the session stays healthy, so that it may still write
 * and answer with its own close_notify. */
static void test_close_notify_is_end_of_stream(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p);
    pair_handshake(&p);
    char buf[64];
    tlsio_shutdown(&p.cli);
    assert_int_equal(tlsio_read(&p.srv, buf, sizeof buf), 0);
    assert_false(p.srv.failed);
    assert_null(p.srv.error);
    send_all(&p.srv, "ERROR :Closing Link\r\n");
    tlsio_shutdown(&p.srv);
    expect_read(&p.cli, "ERROR :Closing Link\r\n");
    assert_int_equal(tlsio_read(&p.cli, buf, sizeof buf), 0);
    pair_close(&p);
}

/* Once the peer has sent close_notify, a write its socket refuses is EPIPE, and the session
 * is not failed for it. */
static void test_write_after_close_notify_is_epipe(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p);
    pair_handshake(&p);
    char buf[64];
    tlsio_shutdown(&p.cli);
    assert_int_equal(tlsio_read(&p.srv, buf, sizeof buf), 0);
    tlsio_free(&p.cli);
    close(p.fd[1]);
    p.fd[1] = -1;
    assert_int_equal(tlsio_write(&p.srv, "x", 1), -1);
    assert_int_equal(errno, EPIPE);
    assert_false(p.srv.failed);
    pair_close(&p);
}

/* A bare TCP close (no close_notify) ends the stream as well. */
static void test_bare_close_is_end_of_stream(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p);
    pair_handshake(&p);
    /* The client takes the server's session tickets first: a socket closed with unread
     * input resets the connection instead of ending it. */
    char buf[64];
    assert_int_equal(tlsio_read(&p.cli, buf, sizeof buf), -1);
    assert_int_equal(errno, EAGAIN);
    send_all(&p.cli, "QUIT\r\n");
    tlsio_free(&p.cli);
    close(p.fd[1]);
    p.fd[1] = -1;
    expect_read(&p.srv, "QUIT\r\n");
    assert_int_equal(tlsio_read(&p.srv, buf, sizeof buf), 0);
    assert_null(p.srv.error);
    pair_close(&p);
}

/* Writing to a socket whose peer is gone gives the socket's own errno. */
static void test_write_to_closed_socket_is_epipe(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p);
    pair_handshake(&p);
    tlsio_free(&p.cli);
    close(p.fd[1]);
    p.fd[1] = -1;
    assert_int_equal(tlsio_write(&p.srv, "PING :x\r\n", 9), -1);
    assert_int_equal(errno, EPIPE);
    assert_true(p.srv.failed);
    assert_null(p.srv.error);
    pair_close(&p);
}

/* Plaintext IRC sent to a TLS port: EPROTO, with OpenSSL's reason kept (and its code, which
 * the client uses to ask "is this a TLS port?"). */
static void test_plaintext_peer_is_eproto(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p);
    const char *irc = "NICK alice\r\nUSER alice 0 * :Alice\r\n";
    assert_int_equal(write(p.fd[1], irc, strlen(irc)), (ssize_t)strlen(irc));
    char buf[64];
    assert_int_equal(tlsio_read(&p.srv, buf, sizeof buf), -1);
    assert_int_equal(errno, EPROTO);
    assert_true(p.srv.failed);
    assert_non_null(p.srv.error);
    assert_string_not_equal(p.srv.error, "unknown error");
    assert_int_equal(p.srv.error_reason, SSL_R_WRONG_VERSION_NUMBER);
    assert_int_equal(ERR_peek_error(), 0); /* the queue is left empty */
    assert_int_equal(tlsio_read(&p.srv, buf, sizeof buf), -1);
    assert_int_equal(errno, EPROTO);
    pair_close(&p);
}

/* A forged record in an established session: EPROTO with a reason; the session is dead. */
static void test_garbage_record_is_eproto(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p);
    pair_handshake(&p);
    /* An application data record (type 23, legacy version 3.3) of 32 bytes nobody sealed. */
    unsigned char junk[5 + 32] = {23, 3, 3, 0, 32};
    memset(junk + 5, 0x5a, 32);
    assert_int_equal(write(p.fd[1], junk, sizeof junk), (ssize_t)sizeof junk);
    char buf[64];
    assert_int_equal(tlsio_read(&p.srv, buf, sizeof buf), -1);
    assert_int_equal(errno, EPROTO);
    assert_true(p.srv.failed);
    assert_non_null(p.srv.error);
    assert_string_not_equal(p.srv.error, "unknown error");
    assert_int_equal(ERR_peek_error(), 0);
    assert_int_equal(tlsio_write(&p.srv, "x", 1), -1);
    assert_int_equal(errno, EPROTO);
    assert_false(tlsio_pending(&p.srv));
    tlsio_shutdown(&p.srv); /* forbidden after a fatal error: must do nothing */
    pair_close(&p);
}

static void test_take_error_gives_the_oldest_and_clears(void **state)
{
    (void)state;
    ERR_clear_error();
    assert_string_equal(tlsio_take_error(), "unknown error");
    /* A missing file: the root cause is fopen's errno, which has no OpenSSL reason text. */
    assert_int_not_equal(
        SSL_CTX_use_certificate_file(client_ctx, "/nonexistent/tlsio.pem", SSL_FILETYPE_PEM), 1);
    assert_string_equal(tlsio_take_error(), strerror(ENOENT));
    assert_int_equal(ERR_peek_error(), 0);
    ERR_raise(ERR_LIB_SSL, SSL_R_WRONG_VERSION_NUMBER);
    ERR_raise(ERR_LIB_SSL, SSL_R_PACKET_LENGTH_TOO_LONG);
    assert_string_equal(tlsio_take_error(), "wrong version number");
    assert_int_equal(ERR_peek_error(), 0);
}

static void test_no_session_is_harmless(void **state)
{
    (void)state;
    struct tlsio t = {0};
    assert_false(tlsio_ready(&t));
    assert_false(tlsio_pending(&t));
    tlsio_shutdown(&t);
    tlsio_free(&t);
    tlsio_free(&t);
    assert_null(t.ssl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_by_hand),
        cmocka_unit_test(test_read_with_nothing_there_is_eagain),
        cmocka_unit_test(test_data_round_trips),
        cmocka_unit_test(test_read_that_must_write_says_so),
        cmocka_unit_test(test_write_before_handshake_waits_to_read),
        cmocka_unit_test(test_full_socket_resumes_in_order),
        cmocka_unit_test(test_close_notify_is_end_of_stream),
        cmocka_unit_test(test_write_after_close_notify_is_epipe),
        cmocka_unit_test(test_bare_close_is_end_of_stream),
        cmocka_unit_test(test_write_to_closed_socket_is_epipe),
        cmocka_unit_test(test_plaintext_peer_is_eproto),
        cmocka_unit_test(test_garbage_record_is_eproto),
        cmocka_unit_test(test_take_error_gives_the_oldest_and_clears),
        cmocka_unit_test(test_no_session_is_harmless),
    };
    return cmocka_run_group_tests_name("tlsio", tests, group_setup, group_teardown);
}
