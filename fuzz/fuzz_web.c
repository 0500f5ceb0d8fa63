/* fuzz_web: libFuzzer target for the web listener's input path (core/web.c), in process: HTTP
 * requests (http-parser), the WebSocket handshake, client frames (wslay) and the lines they
 * carry into the command layer, and the server's answers, which the harness checks as HTTP
 * answers and WebSocket frames (tests/inproc/inproc.h, inproc_connect_web). Client 0 comes from
 * the web listener; up to two more are plain IRC clients, so that what the web client says has
 * somebody to reach. Everything is freed after each input, so LeakSanitizer sees any leak.
 *
 * Input: one flags byte, then records; a record is a selector byte and the bytes up to and
 * including the next LF (or the end):
 *   '~'  the client picked by the record's first byte closes its end;
 *   '@'  the clock moves on by 2 s times the record's first byte, and the timers run;
 *   '!'  the web client sends the record's bytes as they are (HTTP, or frames made by hand);
 *   below 0x20: IRC client 1 + selector % (clients - 1) sends the record's bytes (the web client
 *        when it is alone);
 *   else the web client sends one WebSocket frame carrying the record: opcode = selector's low
 *        four bits, FIN when bit 4 is set, masked unless bit 7 is set. So '1' is a whole text
 *        frame, '2' binary, '9' a ping, '8' a close, 'A' a text frame with more to come, '0'
 *        its last continuation.
 * Flags: bit 0-1 IRC clients beside the web client (value % 3); bit 2 tight limits (small
 * queues, strict flood control); bit 3 the harness sends a WebSocket handshake first (text
 * subprotocol, or binary with bit 4); bit 5 an Origin from another site with it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "inproc/inproc.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_IRC_CLIENTS 2
#define FUZZ_INPUT_MAX   16384
#define FUZZ_TICK_STEP   2000
#define FUZZ_FRAME_MAX   (FUZZ_INPUT_MAX + 16)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static const char *const default_opts[] = {
    "--server-name", "fuzz.server", "--flood-burst", "1000000", "--flood-rate", "1000000", NULL};
static const char *const tight_opts[] = {
    "--server-name", "fuzz.server", "--sendq", "4096",          "--sendq-soft",
    "512",           "--recvq",     "1024",    "--flood-burst", "5",
    "--flood-rate",  "1",           NULL};

static int verbose;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    verbose = getenv("FUZZ_VERBOSE") != NULL;
    log_set_level(LOG_ERROR);
    return 0;
}

/* Sends one client frame: masked with a fixed key unless told not to (the server must refuse
 * an unmasked one), its length in the shortest form. */
static void send_frame(struct inproc *ip, uint8_t sel, const uint8_t *payload, size_t len)
{
    static uint8_t frame[FUZZ_FRAME_MAX];
    static const uint8_t key[4] = {0x5a, 0x13, 0xc7, 0x80};
    int masked = !(sel & 0x80);
    size_t at = 0;
    frame[at++] = (uint8_t)((sel & 0x10 ? 0x80 : 0) | (sel & 0x0f));
    uint8_t m = masked ? 0x80 : 0;
    if (len < 126) {
        frame[at++] = (uint8_t)(m | len);
    } else {
        frame[at++] = m | 126;
        frame[at++] = (uint8_t)(len >> 8);
        frame[at++] = (uint8_t)len;
    }
    if (masked) {
        memcpy(frame + at, key, 4);
        at += 4;
    }
    for (size_t k = 0; k < len; k++)
        frame[at + k] = masked ? payload[k] ^ key[k % 4] : payload[k];
    inproc_send(ip, 0, frame, at + len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > FUZZ_INPUT_MAX)
        return 0;
    uint8_t flags = data[0];
    char why[256];
    struct inproc *ip = inproc_start(flags & 4 ? tight_opts : default_opts, why, sizeof why);
    if (!ip) {
        fprintf(stderr, "fuzz_web: %s\n", why);
        abort();
    }
    if (verbose)
        inproc_trace(ip, stderr);
    CHECK(inproc_connect_web(ip, "192.0.2.80") == 0);
    int irc = (flags & 3) % (FUZZ_IRC_CLIENTS + 1);
    for (int i = 0; i < irc; i++)
        CHECK(inproc_connect(ip, i ? "2001:db8::9" : "127.0.0.1") == i + 1);
    if (flags & 8) {
        char hs[512];
        int n = snprintf(hs, sizeof hs,
                         "GET /irc HTTP/1.1\r\nHost: fuzz.server\r\nUpgrade: websocket\r\n"
                         "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                         "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n%s\r\n",
                         flags & 16 ? "binary.ircv3.net" : "text.ircv3.net",
                         flags & 32 ? "Origin: https://elsewhere.example\r\n" : "");
        inproc_send(ip, 0, hs, (size_t)n);
        inproc_run(ip);
    }
    size_t pos = 1;
    while (pos < size) {
        uint8_t sel = data[pos++];
        const uint8_t *rec = data + pos;
        const uint8_t *lf = memchr(rec, '\n', size - pos);
        size_t n = lf ? (size_t)(lf - rec) + 1 : size - pos;
        pos += n;
        if (sel == '~')
            inproc_hang_up(ip, n > 0 ? rec[0] % (irc + 1) : 0);
        else if (sel == '@')
            inproc_advance(ip, (uint64_t)(n > 0 ? rec[0] : 1) * FUZZ_TICK_STEP);
        else if (sel == '!')
            inproc_send(ip, 0, rec, n);
        else if (sel < 0x20)
            inproc_send(ip, irc ? 1 + sel % irc : 0, rec, n);
        else
            send_frame(ip, sel, rec, n);
        inproc_run(ip);
        const char *err = inproc_error(ip);
        if (err) {
            fprintf(stderr, "fuzz_web: %s\n", err);
            abort();
        }
        inproc_clear(ip, INPROC_ALL);
    }
    if (inproc_close(ip, why, sizeof why) < 0) {
        fprintf(stderr, "fuzz_web: %s\n", why);
        abort();
    }
    return 0;
}
