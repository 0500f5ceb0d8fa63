"""TLS on the TLS port (--tls-port, --tls-cert, --tls-key): registering and chatting over TLS
next to plaintext users, TLS 1.2+ only, hostile or silent peers on the TLS port, certificate
reload on SIGHUP without dropping connections, refusal to start without a certificate, and
large output in many records. Certificates are throwaway self-signed ones made with openssl
once per test session."""
import hashlib
import os
import select
import shutil
import signal
import socket
import ssl
import subprocess
import time

import pytest

from conftest import (ROOT_ARGS, SERVER_BIN, TIMEOUT, Client, barrier, free_port, is_command, is_numeric,
                      msg)


@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    """Two self-signed certificates for localhost: {"a": (cert, key), "b": (cert, key)}."""
    d = tmp_path_factory.mktemp("tls")
    out = {}
    for name in ("a", "b"):
        cert, key = str(d / ("%s-cert.pem" % name)), str(d / ("%s-key.pem" % name))
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=localhost", "-keyout", key, "-out", cert],
                       check=True, capture_output=True)
        out[name] = (cert, key)
    return out


def fingerprint_of_file(cert):
    with open(cert) as f:
        return hashlib.sha256(ssl.PEM_cert_to_DER_cert(f.read())).hexdigest()


def wait_port(port):
    """The conftest waits for the plaintext port; the TLS one opens right after it."""
    deadline = time.time() + TIMEOUT
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.05)


def tls_server(server_factory, cert_key, *args):
    """A tcpchatd with a TLS port; .tls_port is set."""
    tls_port = free_port()
    srv = server_factory("--tls-port", str(tls_port), "--tls-cert", cert_key[0],
                         "--tls-key", cert_key[1], *args)
    srv.tls_port = tls_port
    wait_port(tls_port)
    return srv


def client_context(cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = True
    return ctx


class TlsClient(Client):
    """A Client over TLS, verifying the server's certificate against cafile for "localhost"."""

    def __init__(self, port, nick=None, cafile=None, register=True, rcvbuf=None,
                 suppress_ragged_eofs=True):
        super().__init__(port, None, rcvbuf=rcvbuf)
        self.sock = client_context(cafile).wrap_socket(
            self.sock, server_hostname="localhost", suppress_ragged_eofs=suppress_ragged_eofs)
        self.nick = nick
        self.eof_error = None  # the SSL error that ended the stream, if not a clean end
        if nick and register:
            self.register(nick)

    def fingerprint(self):
        return hashlib.sha256(self.sock.getpeercert(binary_form=True)).hexdigest()

    def _fill(self, timeout):
        # Decrypted bytes may wait inside the SSL object, where select cannot see them.
        if not self.sock.pending():
            r, _, _ = select.select([self.sock], [], [], timeout)
            if not r:
                return False
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, ssl.SSLError) as e:
            self.eof_error = e
            data = b""
        if not data:
            self.closed = True
            return False
        self.buf += data
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            line = line.rstrip(b"\r").decode("utf-8", "replace")
            self.lines.append(line)
            if line.startswith("PING "):
                self.send("PONG " + line[5:])
        return True


@pytest.fixture
def tls_clients():
    """make(port, nick, cafile, join="#lobby", **kw): a TlsClient, closed at teardown; with a
    nick it waits for the auto-joined channel's 366."""
    made = []

    def make(port, nick, cafile, join="#lobby", cls=TlsClient, **kw):
        c = cls(port, nick, cafile=cafile, **kw)
        made.append(c)
        if nick and kw.get("register", True) and join:
            c.expect(is_numeric("366", join))
        return c

    yield make
    for c in made:
        c.close()


def read_until_closed(sock, timeout=TIMEOUT):
    """Every byte the peer sends until it closes (EOF or reset)."""
    sock.settimeout(timeout)
    data = b""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk
    raise AssertionError("the server did not close the connection")


def test_register_and_chat_over_tls(server_factory, certs, tls_clients):
    srv = tls_server(server_factory, certs["a"])
    cafile = certs["a"][0]
    alice = tls_clients(srv.tls_port, "alice", cafile)
    bob = tls_clients(srv.tls_port, "bob", cafile)
    assert alice.sock.version() in ("TLSv1.2", "TLSv1.3")
    assert alice.fingerprint() == fingerprint_of_file(certs["a"][0])
    alice.expect(is_command("JOIN", "bob", "#lobby"))
    alice.send("PRIVMSG #lobby :hello over TLS")
    m = msg(bob.expect(is_command("PRIVMSG", "alice", "#lobby")))
    assert m.text == "hello over TLS"
    bob.send("PRIVMSG alice :private, encrypted")
    assert msg(alice.expect(is_command("PRIVMSG", "bob", "alice"))).text == "private, encrypted"


def test_tls_and_plaintext_users_see_each_other(server_factory, client_factory, certs,
                                                tls_clients):
    srv = tls_server(server_factory, certs["a"])
    secure = tls_clients(srv.tls_port, "secure", certs["a"][0])
    plain = client_factory(srv, "plain")
    secure.expect(is_command("JOIN", "plain", "#lobby"))
    secure.send("PRIVMSG #lobby :from TLS")
    assert msg(plain.expect(is_command("PRIVMSG", "secure", "#lobby"))).text == "from TLS"
    plain.send("PRIVMSG #lobby :from plaintext")
    assert msg(secure.expect(is_command("PRIVMSG", "plain", "#lobby"))).text == "from plaintext"
    # WHOIS tells who is on a secure connection (671), and only them.
    plain.send("WHOIS secure")
    line = plain.expect(lambda l: msg(l).command in ("671", "318"))
    assert msg(line).command == "671" and msg(line).params[1] == "secure", line
    secure.send("WHOIS plain")
    line = secure.expect(lambda l: msg(l).command in ("671", "318"))
    assert msg(line).command == "318", line


def test_without_tls_options_only_plaintext(server_factory, client_factory):
    """No TLS option: the server is exactly the plaintext one (no TLS port, no TLS log)."""
    srv = server_factory()
    c = client_factory(srv, "solo")
    barrier(c)
    assert "TLS" not in srv.read_log()


def test_tls_1_1_refused(server_factory, certs, tls_clients):
    srv = tls_server(server_factory, certs["a"])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(certs["a"][0])
    # Let the client offer TLS 1.1 at all (Debian's default security level forbids it), so
    # that the refusal shown is the server's.
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    raw = socket.create_connection(("127.0.0.1", srv.tls_port), timeout=TIMEOUT)
    with pytest.raises(ssl.SSLError):
        ctx.wrap_socket(raw, server_hostname="localhost")
    raw.close()
    deadline = time.time() + TIMEOUT
    while "TLS error: unsupported protocol" not in srv.read_log():
        assert time.time() < deadline, srv.read_log()
        time.sleep(0.05)
    # TLS 1.2 exactly is fine.
    ctx12 = client_context(certs["a"][0])
    ctx12.maximum_version = ssl.TLSVersion.TLSv1_2
    s = ctx12.wrap_socket(socket.create_connection(("127.0.0.1", srv.tls_port), timeout=TIMEOUT),
                          server_hostname="localhost")
    assert s.version() == "TLSv1.2"
    s.close()


@pytest.mark.parametrize("junk", [
    b"NICK mallory\r\nUSER mallory 0 * :m\r\n",
    b"GET / HTTP/1.0\r\n\r\n",
    bytes(range(256)) * 16,
], ids=["irc", "http", "binary"])
def test_plaintext_on_tls_port_is_closed(server_factory, client_factory, certs, tls_clients,
                                         junk):
    srv = tls_server(server_factory, certs["a"])
    raw = socket.create_connection(("127.0.0.1", srv.tls_port), timeout=TIMEOUT)
    raw.sendall(junk)
    data = read_until_closed(raw)
    raw.close()
    # At most a TLS alert record (content type 21): never IRC in the clear.
    assert b"Closing Link" not in data and b"test.server" not in data
    assert data == b"" or data[0] == 21, data[:32]
    # Everyone else carries on, on both ports.
    secure = tls_clients(srv.tls_port, "secure", certs["a"][0])
    plain = client_factory(srv, "plain")
    plain.send("PRIVMSG #lobby :still here")
    assert msg(secure.expect(is_command("PRIVMSG", "plain", "#lobby"))).text == "still here"
    assert "TLS error" in srv.read_log()


def test_stalled_handshakes_time_out(server_factory, client_factory, certs, tls_clients):
    srv = tls_server(server_factory, certs["a"], "--reg-timeout", "1")
    silent = socket.create_connection(("127.0.0.1", srv.tls_port), timeout=TIMEOUT)
    # A handshake record header that promises 512 bytes and never sends them.
    halfway = socket.create_connection(("127.0.0.1", srv.tls_port), timeout=TIMEOUT)
    halfway.sendall(b"\x16\x03\x01\x02\x00\x01")
    # Meanwhile a TLS user and a plaintext user register and chat.
    secure = tls_clients(srv.tls_port, "secure", certs["a"][0])
    plain = client_factory(srv, "plain")
    secure.send("PRIVMSG #lobby :not blocked")
    assert msg(plain.expect(is_command("PRIVMSG", "secure", "#lobby"))).text == "not blocked"
    start = time.time()
    for s in (silent, halfway):
        read_until_closed(s, timeout=10)
        s.close()
    assert time.time() - start < 10
    assert srv.read_log().count("TLS handshake timed out") == 2
    plain.send("PRIVMSG #lobby :after the timeouts")
    assert msg(secure.expect(is_command("PRIVMSG", "plain", "#lobby"))).text == \
        "after the timeouts"


def wait_log(srv, text, count=1):
    deadline = time.time() + TIMEOUT
    while srv.read_log().count(text) < count:
        assert time.time() < deadline, "no %r in the log:\n%s" % (text, srv.read_log())
        time.sleep(0.05)


def test_sighup_reloads_certificate_keeping_connections(server_factory, certs, tls_clients,
                                                        tmp_path):
    cert, key = str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")
    shutil.copy(certs["a"][0], cert)
    shutil.copy(certs["a"][1], key)
    srv = tls_server(server_factory, (cert, key))
    old = tls_clients(srv.tls_port, "old", certs["a"][0])
    assert old.fingerprint() == fingerprint_of_file(certs["a"][0])

    shutil.copy(certs["b"][0], cert)
    shutil.copy(certs["b"][1], key)
    srv.proc.send_signal(signal.SIGHUP)
    wait_log(srv, "TLS certificate %s reloaded" % cert)

    new = tls_clients(srv.tls_port, "new", certs["b"][0])
    assert new.fingerprint() == fingerprint_of_file(certs["b"][0])
    # A client that still trusts only the old certificate no longer gets in.
    with pytest.raises(ssl.SSLCertVerificationError):
        TlsClient(srv.tls_port, None, cafile=certs["a"][0])
    # The connection made before the reload keeps its session and keeps chatting.
    old.expect(is_command("JOIN", "new", "#lobby"))
    old.send("PRIVMSG #lobby :made before the reload")
    assert msg(new.expect(is_command("PRIVMSG", "old", "#lobby"))).text == \
        "made before the reload"
    new.send("PRIVMSG #lobby :made after it")
    assert msg(old.expect(is_command("PRIVMSG", "new", "#lobby"))).text == "made after it"
    assert old.fingerprint() == fingerprint_of_file(certs["a"][0])


def test_config_file_tls_and_failed_reload(server_factory, certs, tls_clients, tmp_path):
    """tls-port, tls-cert and tls-key from the config file; a reload with a key that does not
    match keeps the running certificate; a good one then takes over."""
    tls_port = free_port()
    conf = tmp_path / "tcpchatd.conf"

    def write_conf(cert, key):
        conf.write_text("[server]\ntls-port = %d\ntls-cert = %s\ntls-key = %s\n"
                        % (tls_port, cert, key))

    write_conf(*certs["a"])
    srv = server_factory("--config", str(conf))
    wait_port(tls_port)
    first = tls_clients(tls_port, "first", certs["a"][0])

    write_conf(certs["b"][0], certs["a"][1])  # b's certificate with a's key
    srv.proc.send_signal(signal.SIGHUP)
    wait_log(srv, "Rehash failed")
    assert "does not match" in srv.read_log()
    still_a = tls_clients(tls_port, "still", certs["a"][0])
    assert still_a.fingerprint() == fingerprint_of_file(certs["a"][0])

    write_conf(*certs["b"])
    srv.proc.send_signal(signal.SIGHUP)
    wait_log(srv, "reloaded")
    now_b = tls_clients(tls_port, "nowb", certs["b"][0])
    assert now_b.fingerprint() == fingerprint_of_file(certs["b"][0])
    first.send("PRIVMSG #lobby :survived two reloads")
    assert msg(now_b.expect(is_command("PRIVMSG", "first", "#lobby"))).text == \
        "survived two reloads"


def run_server(*args):
    return subprocess.run([SERVER_BIN, "--bind", "127.0.0.1", "--port", str(free_port())] + ROOT_ARGS
                          + list(args), capture_output=True, text=True, timeout=TIMEOUT,
                          stdin=subprocess.DEVNULL)


def test_tls_port_without_certificate_refuses_to_start(certs):
    r = run_server("--tls-port", str(free_port()))
    assert r.returncode == 1
    assert "needs tls-cert" in r.stderr and "openssl req -x509" in r.stderr
    r = run_server("--tls-cert", certs["a"][0])
    assert r.returncode == 1 and "tls-key" in r.stderr
    r = run_server("--tls-port", str(free_port()), "--tls-cert", "/nonexistent/cert.pem",
                   "--tls-key", certs["a"][1])
    assert r.returncode == 1 and "No such file" in r.stderr
    r = run_server("--tls-port", str(free_port()), "--tls-cert", certs["b"][0],
                   "--tls-key", certs["a"][1])
    assert r.returncode == 1 and "does not match" in r.stderr
    r = run_server("--tls-port", str(free_port()), "--tls-cert", certs["a"][1],
                   "--tls-key", certs["a"][1])  # a key is not a certificate
    assert r.returncode == 1 and "certificate" in r.stderr


def test_large_output_over_tls_arrives_intact(server_factory, client_factory, certs,
                                              tls_clients, tmp_path):
    """10,000 lines of 300 bytes (3 MB: hundreds of TLS records, and writes that block on a
    reader with a small receive buffer that only reads at the end, so SSL_write is retried),
    and a 40 KB MOTD at registration."""
    motd = tmp_path / "motd"
    motd_lines = ["%03d " % i + "m" * 380 for i in range(100)]
    motd.write_text("\n".join(motd_lines) + "\n")
    srv = tls_server(server_factory, certs["a"], "--flood-rate", "50000", "--flood-burst",
                     "50000", "--sendq", "8000000", "--motd", str(motd),
                     "--sendq-new", "0")  # the reader reads only at the end
    reader = TlsClient(srv.tls_port, None, cafile=certs["a"][0], rcvbuf=4096)
    reader.send("NICK reader")
    reader.send("USER reader 0 * :reader")
    got_motd = []
    while True:
        line = reader.expect(lambda l: msg(l).command in ("372", "376"))
        if msg(line).command == "376":
            break
        got_motd.append(msg(line).text)
    assert got_motd == ["- " + l for l in motd_lines]
    reader.expect(is_numeric("366", "#lobby"))
    barrier(reader)

    sender = client_factory(srv, "sender")
    n = 10000
    payload = [("%04d " % i) + "x" * 295 for i in range(n)]
    sender.send_raw(b"".join(b"PRIVMSG #lobby :%s\r\n" % p.encode() for p in payload))
    barrier(sender)  # the server has taken every line (and queued it for reader)
    got = []
    while len(got) < n:
        m = msg(reader.expect(lambda l: msg(l).command == "PRIVMSG"))
        got.append(m.text)
    assert got == payload
    reader.close()


def test_close_notify_on_quit_and_shutdown(server_factory, certs, tls_clients):
    """The server ends TLS sessions properly (close_notify), so a strict client sees a clean
    end of stream both when it quits and when the server shuts down."""
    srv = tls_server(server_factory, certs["a"])
    quitter = tls_clients(srv.tls_port, "quitter", certs["a"][0], suppress_ragged_eofs=False)
    quitter.send("QUIT :bye")
    lines = quitter.wait_closed()
    assert any(l.startswith("ERROR :Closing Link") for l in lines)
    assert quitter.eof_error is None  # close_notify, not a bare TCP close
    stayer = tls_clients(srv.tls_port, "stayer", certs["a"][0], suppress_ragged_eofs=False)
    barrier(stayer)
    assert srv.stop() == 0
    lines = stayer.wait_closed()
    assert "ERROR :Server shutting down" in lines
    assert stayer.eof_error is None


def test_resumed_session_registers(server_factory, certs):
    """A client that resumes the session its last connection got (a TLS 1.3 ticket, as
    browsers and many IRC clients do) is let in, and chats as before."""
    srv = tls_server(server_factory, certs["a"])
    ctx = client_context(certs["a"][0])
    session = None
    for nick in ("first", "again"):
        raw = socket.create_connection(("127.0.0.1", srv.tls_port), timeout=TIMEOUT)
        with ctx.wrap_socket(raw, server_hostname="localhost", session=session) as s:
            s.sendall(("NICK %s\r\nUSER %s 0 * :%s\r\n" % (nick, nick, nick)).encode())
            got = b""
            while b" 001 " not in got:  # tickets arrive after the handshake, before 001
                chunk = s.recv(65536)
                assert chunk, "the server closed the connection: %r" % got
                got += chunk
            reused, session = s.session_reused, s.session
    assert reused, "the second connection resumed the first one's session"
