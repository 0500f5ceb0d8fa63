"""Issue 20, logs an operator can use: at info, one line per connection opened (address, port,
transport, worker) and closed (address, nick, reason, duration) and per failed login (address,
account, mechanism); --log-format text|logfmt (and log-format in the config file, changed by
a reload). Every logfmt line is parsed here by a parser of the test's own, strict enough that
a forged field (a duplicate key) or a forged line (one that does not parse) fails it: nicks and
quit reasons are anyone's text."""
import asyncio
import re
import signal
import socket
import ssl
import time

import websockets

from conftest import TIMEOUT, Client, NoPongClient, free_port, is_numeric
from test_accounts import sasl_client
from test_tls import certs, tls_server, wait_port  # noqa: F401

KEY = re.compile(rb"[a-z_]+=")
ESCAPES = {ord("n"): b"\n", ord("r"): b"\r", ord("t"): b"\t", ord('"'): b'"', ord("\\"): b"\\"}


def logfmt(line):
    """The fields of one logfmt line (bytes) as {key: str}. Values are unquoted and
    unescaped (\\n \\r \\t \\" \\\\ \\xNN \\uNNNN, as Go's strconv.Unquote); raises ValueError
    for anything that is not key=value pairs separated by one space, or for a key twice."""
    fields, i, n = {}, 0, len(line)
    while i < n:
        m = KEY.match(line, i)
        if not m:
            raise ValueError("no key at %d: %r" % (i, line))
        key, i = m.group()[:-1].decode(), m.end()
        if key in fields:
            raise ValueError("%s twice: %r" % (key, line))
        value = bytearray()
        if line[i:i + 1] == b'"':
            i += 1
            while True:
                if i >= n:
                    raise ValueError("unterminated value: %r" % line)
                ch = line[i]
                if ch == ord('"'):
                    i += 1
                    break
                if ch < 0x20 or ch == 0x7f:
                    raise ValueError("raw control character: %r" % line)
                if ch != ord("\\"):
                    value.append(ch)
                    i += 1
                    continue
                esc = line[i + 1]
                if esc in ESCAPES:
                    value += ESCAPES[esc]
                    i += 2
                elif esc == ord("x"):
                    value.append(int(line[i + 2:i + 4], 16))
                    i += 4
                elif esc == ord("u"):
                    value += chr(int(line[i + 2:i + 6], 16)).encode()
                    i += 6
                else:
                    raise ValueError("unknown escape: %r" % line)
        else:
            end = line.find(b" ", i)
            end = n if end < 0 else end
            value += line[i:end]
            if not value or b'"' in value or b"=" in value or b"\\" in value:
                raise ValueError("bad bare value: %r" % line)
            i = end
        if i < n:
            if line[i:i + 1] != b" " or i + 1 == n:
                raise ValueError("fields must be one space apart: %r" % line)
            i += 1
        fields[key] = value.decode("utf-8", "surrogateescape")
    return fields


def test_the_parser_itself():
    assert logfmt(b'a=1 b="x \\"y\\" \\\\ \\n\\x01\\u2028" c=""') == \
        {"a": "1", "b": 'x "y" \\ \n\x01\u2028', "c": ""}
    for bad in (b'a=1 a=2', b'a="x', b'a=x"y', b'a=1  b=2', b'a="x"b=1', b'msg', b'a= b=1',
                b'a="x\x01"'):
        try:
            logfmt(bad)
        except ValueError:
            continue
        raise AssertionError("parsed %r" % bad)


def raw_log(srv):
    srv.log.flush()
    with open(srv.log_path, "rb") as f:
        return f.read()


def logfmt_lines(srv):
    """Every line of a --log-format logfmt server's log, parsed; each must parse and carry
    time, level and msg first."""
    out = []
    for line in raw_log(srv).split(b"\n")[:-1]:
        f = logfmt(line)
        assert list(f)[:3] == ["time", "level", "msg"], line
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", f["time"]), line
        assert f["level"] in ("error", "warn", "info", "debug"), line
        out.append(f)
    return out


def wait_for(srv, pred, parse=logfmt_lines):
    """The first parsed line for which pred is true, waiting for it to be written."""
    deadline = time.time() + TIMEOUT
    while True:
        lines = [f for f in parse(srv) if pred(f)]
        if lines:
            return lines[0]
        assert time.time() < deadline, raw_log(srv).decode("utf-8", "replace")
        time.sleep(0.05)


def text_lines(srv):
    """The event lines of a --log-format text server: "<time> <level> <msg> key=value..." with
    the message one of the events'; the fields parsed as logfmt."""
    out = []
    events = rb"(connection opened|connection closed|login failed|oper failed)"
    for line in raw_log(srv).split(b"\n")[:-1]:
        m = re.match(rb"^\S+Z (\w+) +" + events + rb" (.*)$", line)
        if m:
            f = {"level": m.group(1).decode(), "msg": m.group(2).decode()}
            f.update(logfmt(m.group(3)))
            out.append(f)
    return out


def opened(port):
    """Predicate: the "connection opened" line of the client whose local port is port."""
    return lambda f: f["msg"] == "connection opened" and f.get("port") == str(port)


def closed(conn_id):
    return lambda f: f["msg"] == "connection closed" and f["id"] == conn_id


def test_connection_lines_in_logfmt(server_factory):
    srv = server_factory("--log-format", "logfmt")
    bob = Client(srv.port, "bob")
    port = bob.sock.getsockname()[1]
    bob.send("QUIT :see you")
    bob.wait_closed()
    o = wait_for(srv, opened(port))
    assert o["level"] == "info" and o["addr"] == "127.0.0.1" and o["transport"] == "irc", o
    assert re.match(r"^\d+$", o["worker"]) and re.match(r"^\d+$", o["id"]), o
    c = wait_for(srv, closed(o["id"]))
    assert c["level"] == "info" and c["addr"] == "127.0.0.1" and c["nick"] == "bob", c
    assert c["reason"] == "Quit: see you" and c["transport"] == "irc", c
    assert re.match(r"^\d+\.\d{3}s$", c["duration"]), c
    assert "account" not in c  # not logged in


def test_connection_lines_in_text_say_why(server_factory):
    """The default format: the message as it is, then the same fields, quoted where needed. A
    connection that never registered has no nick; a ping timeout gives its reason."""
    srv = server_factory("--ping-interval", "1", "--ping-timeout", "1")
    quiet = NoPongClient(srv.port, "quiet")
    port = quiet.sock.getsockname()[1]
    quiet.wait_closed()
    o = wait_for(srv, opened(port), text_lines)
    c = wait_for(srv, closed(o["id"]), text_lines)
    assert c["level"] == "info" and c["nick"] == "quiet", c
    assert re.match(r"^Ping timeout: \d+ seconds$", c["reason"]), c
    log = raw_log(srv).decode()
    assert re.search(r' info  connection closed id=%s addr=127\.0\.0\.1 nick=quiet '
                     r'transport=irc reason="Ping timeout: \d+ seconds" duration=\d+\.\d{3}s\n'
                     % o["id"], log), log
    silent = socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT)
    port = silent.getsockname()[1]
    silent.close()
    o = wait_for(srv, opened(port), text_lines)
    c = wait_for(srv, closed(o["id"]), text_lines)
    assert "nick" not in c and c["reason"] == "Connection closed", c


def test_quit_reasons_and_nicks_cannot_forge_fields_or_lines(server_factory):
    srv = server_factory("--log-format", "logfmt")
    forged = 'x" level=error msg="forged\\" a=b \x01\x0b\x1b[2J\u0085\u2028=end'
    eve = Client(srv.port, "eve")
    port = eve.sock.getsockname()[1]
    # A nick with a quote or a space is refused (432), and logs nothing.
    eve.send('NICK e"ve')
    eve.send("NICK level=error")
    eve.expect(is_numeric("432"))
    eve.send("QUIT :" + forged)
    eve.wait_closed()
    o = wait_for(srv, opened(port))
    c = wait_for(srv, closed(o["id"]))
    assert c["reason"] == "Quit: " + forged and c["level"] == "info", c
    assert c["nick"] == "eve" and c["msg"] == "connection closed", c
    # A line break in a QUIT ends the IRC line there: the rest is a command of its own, and
    # the log line holds only what came before it.
    mallory = Client(srv.port, "mallory")
    port = mallory.sock.getsockname()[1]
    mallory.send_raw(b"QUIT :bye\ntime=2000-01-01T00:00:00.000Z level=error msg=forged\r\n")
    mallory.wait_closed()
    o = wait_for(srv, opened(port))
    c = wait_for(srv, closed(o["id"]))
    assert c["reason"] == "Quit: bye", c
    lines = logfmt_lines(srv)  # every line parses
    assert not [f for f in lines if f["level"] == "error" or "forged" in f["msg"]], lines
    # The same in text: one line, the reason quoted and escaped.
    text = server_factory()
    eve = Client(text.port, "eve")
    port = eve.sock.getsockname()[1]
    eve.send("QUIT :" + forged)
    eve.wait_closed()
    o = wait_for(text, opened(port), text_lines)
    c = wait_for(text, closed(o["id"]), text_lines)
    assert c["reason"] == "Quit: " + forged and c["level"] == "info", c
    assert b"\x1b" not in raw_log(text) and b"\x01" not in raw_log(text)


def test_failed_login_lines_name_the_address(server_factory):
    srv = server_factory("--log-format", "logfmt")
    bad = sasl_client(srv.port, "nobody", "not a password", expect_ok=False)
    f = wait_for(srv, lambda f: f["msg"] == "login failed")
    assert f["level"] == "warn" and f["addr"] == "127.0.0.1", f
    assert f["account"] == "nobody" and f["mechanism"] == "PLAIN", f
    assert f["reason"] == "bad password or no such account", f
    bad.send("QUIT")
    bad.wait_closed()
    # An account name with characters a nick may have, logged as it is (no quotes needed).
    weird = sasl_client(srv.port, "[w]`^{x}|", "wrong", expect_ok=False)
    f = wait_for(srv, lambda f: f["msg"] == "login failed" and f["account"] != "nobody")
    assert f["account"] == "[w]`^{x}|", f
    weird.close()


def test_transports_of_the_tls_and_web_ports(server_factory, certs):  # noqa: F811
    web_port = free_port()
    srv = tls_server(server_factory, certs["a"], "--log-format", "logfmt", "--http-port",
                     str(web_port))
    wait_port(web_port)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", srv.tls_port), timeout=TIMEOUT) as raw:
        port = raw.getsockname()[1]
        with ctx.wrap_socket(raw) as s:
            s.sendall(b"NICK tlsuser\r\nUSER t 0 * :t\r\nQUIT :over tls\r\n")
            while s.recv(4096):
                pass
    o = wait_for(srv, opened(port))
    assert o["transport"] == "irc-tls", o
    c = wait_for(srv, closed(o["id"]))
    assert c["transport"] == "irc-tls" and c["reason"] == "Quit: over tls", c

    with socket.create_connection(("127.0.0.1", web_port), timeout=TIMEOUT) as s:
        port = s.getsockname()[1]
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        while s.recv(65536):
            pass
    o = wait_for(srv, opened(port))
    assert o["transport"] == "http", o
    assert wait_for(srv, closed(o["id"]))["transport"] == "http"

    async def websocket():
        async with websockets.connect("ws://127.0.0.1:%d/irc" % web_port) as ws:
            port = ws.transport.get_extra_info("sockname")[1]
            await ws.send("NICK webuser")
            await ws.send("USER w 0 * :w")
            while " 001 " not in await asyncio.wait_for(ws.recv(), TIMEOUT):
                pass
            await ws.send("QUIT :from the web")
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), TIMEOUT)
            except websockets.ConnectionClosed:
                pass
            return port
    port = asyncio.run(websocket())
    o = wait_for(srv, opened(port))
    assert o["transport"] == "http", o  # the web port speaks HTTP until the handshake
    c = wait_for(srv, closed(o["id"]))
    assert c["transport"] == "websocket" and c["nick"] == "webuser", c
    assert c["reason"] == "Quit: from the web", c


def test_log_format_from_the_config_file_changes_on_reload(server_factory, tmp_path):
    conf = tmp_path / "tcpchatd.conf"
    conf.write_text("[server]\nlog-format = text\n")
    srv = server_factory("-c", str(conf))
    first = Client(srv.port, "first")
    port = first.sock.getsockname()[1]
    wait_for(srv, opened(port), text_lines)
    conf.write_text("[server]\nlog-format = logfmt\n")
    srv.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + TIMEOUT
    while b"Rehash done" not in raw_log(srv):
        assert time.time() < deadline, raw_log(srv)
        time.sleep(0.05)
    second = Client(srv.port, "second")
    port = second.sock.getsockname()[1]

    def logfmt_tail(s):  # the lines after the reload
        tail = raw_log(s).split(b"Rehash done", 1)[1].split(b"\n", 1)[1]
        return [logfmt(line) for line in tail.split(b"\n")[:-1]]
    f = wait_for(srv, opened(port), logfmt_tail)
    assert f["level"] == "info" and f["addr"] == "127.0.0.1", f
    conf.write_text("[server]\nlog-format = json\n")
    srv.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + TIMEOUT
    while b"Rehash failed" not in raw_log(srv):
        assert time.time() < deadline, raw_log(srv)
        time.sleep(0.05)
    assert b"log-format wants text or logfmt (got 'json')" in raw_log(srv)
    for c in (first, second):
        c.close()
