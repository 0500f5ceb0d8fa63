"""The web listener: HTTP for the web client's files, and IRC over WebSocket (RFC 6455, the
IRCv3 websocket specification) with python3-websockets and with hand-made frames on a raw
socket where a test needs bytes no library would send."""
import asyncio
import base64
import os
import socket
import ssl
import struct
import subprocess
import time

import pytest
import websockets

from conftest import TIMEOUT, free_port
from test_tls import read_until_closed, wait_port  # the web ports open after the IRC port


def web_server(server_factory, *args):
    port = free_port()
    srv = server_factory("--http-port", str(port), *args)
    srv.http_port = port
    wait_port(port)
    return srv


def http(port, request, ctx=None):
    """Sends raw request bytes (over TLS with ctx); returns everything read until the server
    closes, which it must."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw:
        s = ctx.wrap_socket(raw) if ctx else raw
        s.sendall(request)
        return read_until_closed(s)


def status_of(response):
    return int(response.split(b" ", 2)[1])


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT * 2))


async def ws_register(ws, nick):
    await ws.send("NICK " + nick)
    await ws.send("USER %s 0 * :%s" % (nick, nick))
    return await ws_until(ws, lambda m: " 366 " in m)


async def ws_until(ws, pred):
    seen = []
    while True:
        m = await asyncio.wait_for(ws.recv(), TIMEOUT)
        seen.append(m)
        if pred(m if isinstance(m, str) else m.decode("utf-8", "replace")):
            return seen


# --- HTTP -------------------------------------------------------------------------------


def test_web_client_page_is_served_with_a_strict_policy(server_factory):
    srv = web_server(server_factory)
    r = http(srv.http_port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, _, body = r.partition(b"\r\n\r\n")
    assert status_of(r) == 200
    assert b"Content-Type: text/html" in head
    csp = [h for h in head.split(b"\r\n") if h.startswith(b"Content-Security-Policy:")][0]
    assert b"script-src 'self'" in csp and b"unsafe-inline" not in csp
    assert b"X-Content-Type-Options: nosniff" in head
    length = int([h for h in head.split(b"\r\n") if h.startswith(b"Content-Length:")][0][15:])
    assert len(body) == length and b"<html" in body
    with open(os.path.join(os.path.dirname(__file__), "..", "..", "web", "index.html"), "rb") as f:
        assert body == f.read()


def test_http_errors_and_keep_alive(server_factory):
    srv = web_server(server_factory)
    # Two requests on one connection (keep-alive), the second with Connection: close.
    r = http(srv.http_port, b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
             b"HEAD /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    first, _, rest = r.partition(b"\r\n\r\n")
    assert status_of(first) == 404
    assert b"HTTP/1.1 200 OK" in rest and b"<html" not in rest  # HEAD: no body
    assert status_of(http(srv.http_port, b"POST / HTTP/1.1\r\nHost: x\r\n"
                          b"Content-Length: 3\r\n\r\nabc")) in (405, 413)
    assert status_of(http(srv.http_port, b"GET /irc HTTP/1.1\r\nHost: x\r\n\r\n")) == 426
    assert status_of(http(srv.http_port, b"NOT HTTP AT ALL\r\n\r\n")) == 400


def test_request_size_and_header_count_are_bounded(server_factory):
    srv = web_server(server_factory)
    big = b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 9000 + b"\r\n\r\n"
    assert status_of(http(srv.http_port, big)) == 431
    many = b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(60)) + b"\r\n"
    assert status_of(http(srv.http_port, many)) == 431
    long_url = b"GET /" + b"a" * 2000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    assert status_of(http(srv.http_port, long_url)) == 414
    # The server keeps working.
    assert status_of(http(srv.http_port, b"GET / HTTP/1.0\r\n\r\n")) == 200


def test_half_sent_request_is_closed(server_factory, client_factory):
    srv = web_server(server_factory, "--reg-timeout", "2")
    with socket.create_connection(("127.0.0.1", srv.http_port), timeout=TIMEOUT) as s:
        s.sendall(b"GET /irc HTTP/1.1\r\nHost: x\r\nUpgrade: websock")
        start = time.time()
        assert s.recv(100) == b""  # closed, without an answer to half a request
        assert time.time() - start < TIMEOUT
    client_factory(srv, "alive")  # and the IRC side did not notice


def test_web_root_serves_another_copy(server_factory, tmp_path):
    (tmp_path / "index.html").write_text("<html>mine</html>")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "app.js").write_text("export {};")
    (tmp_path / ".secret").write_text("no")
    srv = web_server(server_factory, "--web-root", str(tmp_path))
    r = http(srv.http_port, b"GET / HTTP/1.0\r\n\r\n")
    assert r.endswith(b"<html>mine</html>")
    r = http(srv.http_port, b"GET /sub/app.js HTTP/1.0\r\n\r\n")
    assert status_of(r) == 200 and b"text/javascript" in r
    assert status_of(http(srv.http_port, b"GET /.secret HTTP/1.0\r\n\r\n")) == 404
    assert status_of(http(srv.http_port, b"GET /../etc/passwd HTTP/1.0\r\n\r\n")) == 404


def test_web_port_options_are_checked(tmp_path):
    from conftest import SERVER_BIN, ROOT_ARGS
    def run_server(*args):
        return subprocess.run([SERVER_BIN, "--configtest", *ROOT_ARGS, *args],
                              capture_output=True, text=True, timeout=TIMEOUT)
    r = run_server("--port", "7000", "--http-port", "7000")
    assert r.returncode == 1 and "http-port and port must differ" in r.stderr
    r = run_server("--https-port", "8443")
    assert r.returncode == 1 and "needs tls-cert" in r.stderr
    r = run_server("--web-root", str(tmp_path / "missing"))
    assert r.returncode == 1 and "is not a directory" in r.stderr
    assert run_server("--http-port", "0").returncode == 0


# --- WebSocket --------------------------------------------------------------------------


def test_websocket_user_chats_with_a_tcp_user(server_factory, client_factory):
    srv = web_server(server_factory)
    bob = client_factory(srv, "bob")

    async def go():
        async with websockets.connect("ws://127.0.0.1:%d/irc" % srv.http_port,
                                      subprotocols=["text.ircv3.net"]) as ws:
            assert ws.subprotocol == "text.ircv3.net"
            seen = await ws_register(ws, "alice")
            assert all(isinstance(m, str) and not m.endswith("\n") for m in seen)
            assert seen[0].startswith(":test.server 001 alice ")
            bob.expect(lambda l: "JOIN" in l and "alice" in l)
            await ws.send("PRIVMSG #lobby :h\u00e9llo from the web")
            bob.expect(lambda l: l.endswith("PRIVMSG #lobby :h\u00e9llo from the web"))
            bob.send("PRIVMSG #lobby :hi web")
            await ws_until(ws, lambda m: m.endswith("PRIVMSG #lobby :hi web"))
            # The same rules as on the IRC port: a line's trailing CR LF is dropped.
            await ws.send("PRIVMSG bob :direct\r\n")
            bob.expect(lambda l: l.endswith("PRIVMSG bob :direct"))
            await ws.send("QUIT :gone")
            await ws_until(ws, lambda m: m.startswith("ERROR :Closing Link"))
            await ws.wait_closed()
            assert ws.close_code == 1000
        bob.expect(lambda l: "QUIT" in l and "gone" in l)

    run(go())


def test_binary_subprotocol_and_preference_order(server_factory):
    srv = web_server(server_factory)

    async def go():
        url = "ws://127.0.0.1:%d/irc" % srv.http_port
        async with websockets.connect(url, subprotocols=["binary.ircv3.net",
                                                         "text.ircv3.net"]) as ws:
            assert ws.subprotocol == "binary.ircv3.net"
            await ws.send(b"NICK bin")
            await ws.send(b"USER bin 0 * :bin")
            first = await asyncio.wait_for(ws.recv(), TIMEOUT)
            assert isinstance(first, bytes) and b" 001 bin " in first
        async with websockets.connect(url, subprotocols=["text.ircv3.net",
                                                         "binary.ircv3.net"]) as ws:
            assert ws.subprotocol == "text.ircv3.net"
        # None offered: text frames, and no protocol in the answer.
        async with websockets.connect("ws://127.0.0.1:%d/" % srv.http_port) as ws:
            assert ws.subprotocol is None
            await ws.send("NICK plain")
            await ws.send("USER plain 0 * :p")
            assert isinstance(await asyncio.wait_for(ws.recv(), TIMEOUT), str)

    run(go())


def test_origin_is_checked(server_factory):
    srv = web_server(server_factory)
    other = web_server(server_factory, "--web-origins", "https://chat.example.org")

    async def go():
        url = "ws://127.0.0.1:%d/irc" % srv.http_port
        with pytest.raises(websockets.exceptions.InvalidStatusCode) as e:
            await websockets.connect(url, origin="http://evil.example.com")
        assert e.value.status_code == 403
        own = "http://127.0.0.1:%d" % srv.http_port
        async with websockets.connect(url, origin=own) as ws:
            await ws_register(ws, "same")
        url2 = "ws://127.0.0.1:%d/irc" % other.http_port
        async with websockets.connect(url2, origin="https://chat.example.org") as ws:
            await ws_register(ws, "listed")
        with pytest.raises(websockets.exceptions.InvalidStatusCode):
            await websockets.connect(url2, origin="http://127.0.0.1:%d" % other.http_port)

    run(go())
    assert "origin http://evil.example.com" in srv.read_log()


def ws_handshake(port, extra=b""):
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    key = base64.b64encode(os.urandom(16))
    s.sendall(b"GET /irc HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
              b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + key +
              b"\r\nSec-WebSocket-Protocol: text.ircv3.net\r\n\r\n" + extra)
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert head.startswith(b"HTTP/1.1 101 "), head
    return s


def frame(payload, opcode=1, mask=True, fin=True):
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | opcode])
    mbit = 0x80 if mask else 0
    if n < 126:
        head += bytes([mbit | n])
    elif n < 65536:
        head += bytes([mbit | 126]) + struct.pack(">H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack(">Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def read_frames(s):
    """Reads frames until a close frame (returned last) or the end."""
    frames, buf = [], b""
    deadline = time.time() + TIMEOUT
    while time.time() < deadline:
        while len(buf) >= 2:
            n = buf[1] & 0x7f
            off = 2
            if n == 126:
                if len(buf) < 4:
                    break
                n, off = struct.unpack(">H", buf[2:4])[0], 4
            elif n == 127:
                if len(buf) < 10:
                    break
                n, off = struct.unpack(">Q", buf[2:10])[0], 10
            if len(buf) < off + n:
                break
            frames.append((buf[0] & 0x0f, buf[off:off + n]))
            buf = buf[off + n:]
            if frames[-1][0] == 8:
                return frames
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        buf += chunk
    return frames


def test_fragments_pings_and_pipelined_frames(server_factory):
    srv = web_server(server_factory)
    # Frames sent in the same packet as the handshake are read too.
    s = ws_handshake(srv.http_port, frame(b"NICK frag"))
    s.sendall(frame(b"USER frag 0 *", fin=False) + frame(b" :x", opcode=0, mask=True) +
              frame(b"are you there", opcode=9))
    got = b""
    while b" 366 " not in got:
        chunk = s.recv(65536)
        assert chunk
        got += chunk
    assert b"\x8a\x0dare you there" in got  # the PONG, with the PING's payload
    assert b" 001 frag " in got
    s.sendall(frame(b"QUIT", opcode=1))
    frames = read_frames(s)
    assert frames[-1][0] == 8 and frames[-1][1][:2] == struct.pack(">H", 1000)
    s.close()


def test_message_too_big_is_refused(server_factory, client_factory):
    srv = web_server(server_factory)
    s = ws_handshake(srv.http_port)
    s.sendall(frame(b"PRIVMSG #lobby :" + b"x" * 9000))
    frames = read_frames(s)
    assert frames[-1][0] == 8 and frames[-1][1][:2] == struct.pack(">H", 1009)
    s.close()
    client_factory(srv, "stillok")


def test_unmasked_frame_is_a_protocol_error(server_factory):
    srv = web_server(server_factory)
    s = ws_handshake(srv.http_port)
    s.sendall(frame(b"NICK x", mask=False))
    frames = read_frames(s)
    assert frames[-1][0] == 8 and frames[-1][1][:2] == struct.pack(">H", 1002)
    s.close()
    # The close frame may leave (wslay queues it) before the connection's close is logged.
    deadline = time.time() + TIMEOUT
    while "WebSocket protocol error" not in srv.read_log():
        assert time.time() < deadline, srv.read_log()
        time.sleep(0.05)


def test_bad_handshakes(server_factory):
    srv = web_server(server_factory)
    base = (b"GET /irc HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: %s\r\n\r\n")
    good_key = base64.b64encode(b"0123456789abcdef")
    assert status_of(http(srv.http_port, base % (good_key, b"8"))) == 426
    assert status_of(http(srv.http_port, base % (b"short", b"13"))) == 400
    assert status_of(http(srv.http_port, base.replace(b"/irc", b"/elsewhere") %
                          (good_key, b"13"))) == 404


def test_websocket_flood_is_held_like_tcp(server_factory):
    srv = web_server(server_factory, "--flood-burst", "5", "--flood-rate", "1")
    s = ws_handshake(srv.http_port)
    s.sendall(frame(b"NICK flood") + frame(b"USER f 0 * :f"))
    # Far more than the allowance and --recvq hold: the connection is closed, as on TCP.
    s.sendall(b"".join(frame(b"PRIVMSG #lobby :" + b"y" * 400) for _ in range(200)))
    frames = read_frames(s)
    texts = b"\n".join(p for op, p in frames if op == 1)
    assert b"ERROR :Closing Link" in texts and b"Excess Flood" in texts
    s.close()


def test_websocket_over_https(server_factory, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    port = free_port()
    srv = server_factory("--tls-port", str(free_port()), "--tls-cert", str(cert),
                         "--tls-key", str(key), "--https-port", str(port))
    wait_port(port)
    ctx = ssl.create_default_context(cafile=str(cert))
    ctx.check_hostname = False

    async def go():
        async with websockets.connect("wss://127.0.0.1:%d/irc" % port, ssl=ctx,
                                      subprotocols=["text.ircv3.net"]) as ws:
            seen = await ws_register(ws, "secure")
            assert seen[0].startswith(":test.server 001 secure ")
            # A burst bigger than a TLS record goes out whole.
            await ws.send("NAMES #lobby")
            await ws.send("LIST")
            await ws_until(ws, lambda m: " 323 " in m)

    run(go())
    data = http(port, b"GET / HTTP/1.0\r\n\r\n", ctx)
    assert status_of(data) == 200 and b"<html" in data
