"""Shared fixtures for the end-to-end tests: start the real tcpchatd on 127.0.0.1 on a free
port and talk IRC to it over real sockets.

TCPCHAT_BUILD selects the build directory (build, build/asan, build/tsan)."""
import os
import select
import signal
import socket
import subprocess
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, os.environ.get("TCPCHAT_BUILD", "build"))
SERVER_BIN = os.path.join(BUILD, "tcpchatd")
CLIENT_BIN = os.path.join(BUILD, "tcpchat")
# tcpchatd refuses to run as root without --user or --allow-root; CI runs the tests as root.
ROOT_ARGS = ["--allow-root"] if os.geteuid() == 0 else []

# Generous: sanitizer builds are several times slower than the plain one. Timeouts only bound
# how long a failing test waits; no test asserts on speed.
TIMEOUT = float(os.environ.get("TCPCHAT_TEST_TIMEOUT", "20"))


_ports_given = set()


def free_port():
    """A free port on 127.0.0.1 not handed out before in this run (the kernel may offer a
    just-closed one again, e.g. the same port for a server's plain and TLS ports)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _ports_given:
            _ports_given.add(port)
            return port


class Server:
    """A running tcpchatd. stdin is a pipe so tests can type announcements."""

    def __init__(self, args=(), stdin=subprocess.PIPE, port=None, name="test.server"):
        self.port = port or free_port()  # a given port: a restart where the last one was
        self.name = name  # None: no --server-name (the host name, or a node's name)
        # Every test client comes from loopback: exempt it from the per-address limits, as
        # a test of those limits says again (--ip-exempt "" among its args, which come after).
        cmd = [SERVER_BIN, "--bind", "127.0.0.1", "--port", str(self.port)] + \
            (["--server-name", name] if name else []) + ["--log-level", "debug",
               "--ip-exempt", "127.0.0.0/8,::1", "--http-port", "0"] + ROOT_ARGS + list(args)
        self.log_path = os.path.join(os.environ.get("TMPDIR", "/tmp"), "tcpchatd-%d-%d.log"
                                     % (self.port, os.getpid()))
        if port:  # a restart: the last one's log stays its own
            self.log_path = self.log_path[:-4] + "-%d.log" % time.monotonic_ns()
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdin=stdin, stdout=self.log, stderr=self.log)
        deadline = time.time() + TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("tcpchatd exited early: " + self.read_log())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise RuntimeError("tcpchatd did not start listening")
                time.sleep(0.05)

    def read_log(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def say(self, text):
        """Types a line at the server console (the operator's announcement)."""
        self.proc.stdin.write(text.encode() + b"\n")
        self.proc.stdin.flush()

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


@pytest.fixture(autouse=True)
def private_cwd(tmp_path, monkeypatch):
    """Each test runs in a directory of its own, so that a server started on its defaults
    keeps its history store (./data) to itself."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def server_factory():
    servers = []

    def make(*args, **kw):
        s = Server(args, **kw)
        servers.append(s)
        return s

    yield make
    # Every server stops before any is judged: a failed check must not leave the rest running.
    stopped = [(s, s.stop()) for s in servers]
    for s, rc in stopped:
        log = s.read_log() if not s.log.closed else open(s.log_path, errors="replace").read()
        # Sanitizer reports go to stderr: a test whose server reported one fails here.
        assert "ERROR: AddressSanitizer" not in log, log
        assert "runtime error:" not in log, log
        assert "WARNING: ThreadSanitizer" not in log, log
        assert "ERROR: LeakSanitizer" not in log, log
        assert rc == 0, "tcpchatd exited with %r\n%s" % (rc, log)
        os.unlink(s.log_path)  # kept only when the test failed, for its log


@pytest.fixture
def server(server_factory):
    return server_factory()


class Client:
    """A raw IRC connection: send lines, wait for lines matching a predicate."""

    def __init__(self, port, nick=None, host="127.0.0.1", register=True, rcvbuf=None,
                 source=None):
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                                  socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if source:  # another address of loopback's 127.0.0.0/8, as another user's (Linux)
            self.sock.bind((source, 0))
        self.sock.settimeout(TIMEOUT)
        self.sock.connect((host, port))
        self.buf = b""
        self.lines = []  # every line received, in order (decoded, without CR LF)
        self.nick = nick
        self.closed = False
        if nick and register:
            self.register(nick)

    def send(self, line):
        if isinstance(line, str):
            line = line.encode()
        self.sock.sendall(line + b"\r\n")

    def send_raw(self, data):
        self.sock.sendall(data)

    def register(self, nick, user=None):
        self.send("NICK " + nick)
        self.send("USER %s 0 * :%s" % (user or nick, nick))
        self.expect(lambda l: " 376 " in l or " 422 " in l)

    def _fill(self, timeout):
        r, _, _ = select.select([self.sock], [], [], timeout)
        if not r:
            return False
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
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

    def expect(self, pred, timeout=TIMEOUT):
        """Returns the first not yet consumed line for which pred(line) is true, consuming
        every line up to it. Raises AssertionError on timeout or close."""
        if isinstance(pred, str):
            text = pred
            pred = lambda l: text in l  # noqa: E731
        deadline = time.time() + timeout
        while True:
            while self.lines:
                line = self.lines.pop(0)
                if pred(line):
                    return line
            if self.closed:
                raise AssertionError("connection closed while waiting")
            left = deadline - time.time()
            if left <= 0:
                raise AssertionError("timed out waiting")
            self._fill(min(left, 0.5))

    def collect(self, duration):
        """Reads for duration seconds; returns and consumes every line seen."""
        deadline = time.time() + duration
        while time.time() < deadline and not self.closed:
            self._fill(max(0, min(0.2, deadline - time.time())))
        out, self.lines = self.lines, []
        return out

    def wait_closed(self, timeout=TIMEOUT):
        """Reads until the server closes the connection; returns every line seen."""
        deadline = time.time() + timeout
        while not self.closed:
            if time.time() > deadline:
                raise AssertionError("server did not close the connection")
            self._fill(0.5)
        out, self.lines = self.lines, []
        return out

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


@pytest.fixture
def connect(server):
    clients = []

    def make(nick=None, **kw):
        c = Client(server.port, nick, **kw)
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()


# ---------------------------------------------------------------------------------------------
# Helpers for the server tests (tests/e2e/test_server_*.py). Appended; nothing above changed.

class Msg:
    """One parsed IRC line: tags, prefix, command and params (trailing one included)."""

    def __init__(self, line):
        self.line = line
        self.tags = None
        self.prefix = None
        rest = line
        if rest.startswith("@"):
            self.tags, _, rest = rest[1:].partition(" ")
        rest = rest.lstrip(" ")
        if rest.startswith(":"):
            self.prefix, _, rest = rest[1:].partition(" ")
        words = []
        while True:
            rest = rest.lstrip(" ")
            if not rest:
                break
            if rest.startswith(":") and words:
                words.append(rest[1:])
                break
            word, _, rest = rest.partition(" ")
            words.append(word)
        self.command = words[0].upper() if words else ""
        self.params = words[1:]

    @property
    def nick(self):
        """Nick of the source (the part of the prefix before '!'), or None."""
        return self.prefix.split("!", 1)[0] if self.prefix else None

    @property
    def text(self):
        """Last parameter (the trailing text), or ''."""
        return self.params[-1] if self.params else ""

    def __repr__(self):
        return "Msg(%r)" % self.line


def msg(line):
    return Msg(line)


def is_numeric(code, *params):
    """Predicate: line is numeric `code` and (optionally) params[1:] start with `params`
    (params[0] is the target nick, which is not checked)."""
    def pred(line):
        m = Msg(line)
        if m.command != code:
            return False
        return all(i + 1 < len(m.params) and m.params[i + 1].lower() == p.lower()
                   for i, p in enumerate(params))
    return pred


def is_command(command, nick=None, *params):
    """Predicate: line is `command` from source `nick` (if given) whose first params are
    `params` (case-insensitive)."""
    def pred(line):
        m = Msg(line)
        if m.command != command:
            return False
        if nick is not None and (m.nick or "").lower() != nick.lower():
            return False
        return all(i < len(m.params) and m.params[i].lower() == p.lower()
                   for i, p in enumerate(params))
    return pred


def cap_ls(client, timeout=TIMEOUT):
    """Reads the whole reply to CAP LS and returns the capabilities offered (with their
    values under 302). A list too long for one line comes in several, each but the last with
    "*" before it (IRCv3 capability negotiation 302, "Multiline replies to CAP LS")."""
    offered = []
    while True:
        m = Msg(client.expect(lambda l: Msg(l).command == "CAP" and Msg(l).params[1] == "LS",
                              timeout))
        offered += m.text.split()
        if not (len(m.params) > 3 and m.params[2] == "*"):
            return offered


def take_until(client, pred, timeout=TIMEOUT):
    """Like Client.expect, but returns every line consumed, the matching one last."""
    if isinstance(pred, str):
        text = pred
        pred = lambda l: text in l  # noqa: E731
    seen = []

    def record(line):
        seen.append(line)
        return pred(line)

    client.expect(record, timeout)
    return seen


_barrier_count = [0]


def barrier(client, timeout=TIMEOUT):
    """Sends PING with a fresh token and waits for its PONG: the server has handled every
    line this client sent before. Returns the lines received before the PONG."""
    _barrier_count[0] += 1
    token = "sync%d" % _barrier_count[0]
    client.send("PING :" + token)
    seen = take_until(client, lambda l: Msg(l).command == "PONG" and Msg(l).text == token,
                      timeout)
    return seen[:-1]


def pump(clients, cond, timeout=TIMEOUT):
    """Reads from every client (so each keeps answering PINGs) until cond() is true.
    Lines stay in each client's .lines. Raises AssertionError on timeout."""
    deadline = time.time() + timeout
    while not cond():
        if time.time() > deadline:
            raise AssertionError("timed out waiting")
        for c in clients:
            if not c.closed:
                c._fill(0.02)


class NoPongClient(Client):
    """A Client that never answers the server's PING (Client._fill does)."""

    def _fill(self, timeout):
        r, _, _ = select.select([self.sock], [], [], timeout)
        if not r:
            return False
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            self.closed = True
            return False
        self.buf += data
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            self.lines.append(line.rstrip(b"\r").decode("utf-8", "replace"))
        return True


@pytest.fixture
def client_factory():
    """make(srv, nick=None, join="#lobby", cls=Client, **kw): a Client of any Server, closed
    at teardown. With a nick it registers and, unless join is None, waits for the 366 of
    the channel the server auto-joins (so the user is a member when make returns)."""
    clients = []

    def make(srv, nick=None, join="#lobby", cls=Client, **kw):
        c = cls(srv.port, nick, **kw)
        clients.append(c)
        if nick and kw.get("register", True) and join:
            c.expect(is_numeric("366", join))
        return c

    yield make
    for c in clients:
        c.close()


def closing_reason(lines):
    """The reason in the last "ERROR :Closing Link: host (reason)" line of lines; fails the
    test if there is none or it is not in that form."""
    import re
    errors = [l for l in lines if Msg(l).command == "ERROR"]
    assert errors, "no ERROR line in %r" % (lines[-10:],)
    m = re.match(r"^ERROR :Closing Link: \S+ \((.*)\)$", errors[-1])
    assert m, "not an ERROR :Closing Link line: %r" % errors[-1]
    return m.group(1)


# ---------------------------------------------------------------------------------------------
# Helpers for the IRC command tests (tests/e2e/test_irc_*.py) and the real-client tests
# (tests/e2e/test_realclients.py). Appended; nothing above changed.
#
# TCPCHAT_PEER=ngircd runs those tests against ngircd from Debian instead of tcpchatd, so
# anyone can check that the tests themselves are right (a reference server must pass them,
# except where tcpchatd deliberately differs: such tests are marked tcpchatd_only).

import re as _re
import shutil as _shutil
import tempfile as _tempfile

PEER = os.environ.get("TCPCHAT_PEER", "")


class NgircdServer:
    """ngircd (Debian package) on 127.0.0.1:<free port>, same interface as Server."""

    def __init__(self, motd=None):
        self.port = free_port()
        self.name = "test.server"
        self.dir = _tempfile.mkdtemp(prefix="tcpchat-ngircd-")
        conf = os.path.join(self.dir, "ngircd.conf")
        motd_path = os.path.join(self.dir, "motd")
        with open(motd_path, "w") as f:
            f.write(motd if motd is not None else "")
        with open(conf, "w") as f:
            f.write("[Global]\n Name = %s\n Info = tcpchat test peer\n Listen = 127.0.0.1\n"
                    " Ports = %d\n PidFile = %s/pid\n MotdFile = %s\n"
                    " AdminInfo1 = a\n AdminInfo2 = b\n AdminEMail = c@d\n"
                    "[Limits]\n MaxConnectionsIP = 0\n MaxJoins = 0\n PingTimeout = 120\n"
                    " PongTimeout = 60\n MaxNickLength = 30\n"
                    "[Options]\n DNS = no\n Ident = no\n PAM = no\n"
                    % (self.name, self.port, self.dir, motd_path))
        self.log_path = os.path.join(self.dir, "log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(["ngircd", "-n", "-f", conf], stdout=self.log,
                                     stderr=self.log, stdin=subprocess.DEVNULL)
        deadline = time.time() + TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("ngircd exited early: " + self.read_log())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise RuntimeError("ngircd did not start listening")
                time.sleep(0.05)

    def read_log(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        _shutil.rmtree(self.dir, ignore_errors=True)
        return 0


@pytest.fixture
def ircd_factory(server_factory):
    """make(motd=None, lobby=False): tcpchatd (or the TCPCHAT_PEER) for the protocol tests.
    By default without an auto-joined channel, so replies only show what the test did."""
    peers = []

    def make(motd=None, lobby=False):
        if PEER == "ngircd":
            s = NgircdServer(motd=motd)
            peers.append(s)
            return s
        args = [] if lobby else ["--default-channel", ""]
        if motd is not None:
            path = os.path.join(os.environ.get("TMPDIR", "/tmp"),
                                "tcpchat-motd-%d-%d" % (os.getpid(), len(peers)))
            with open(path, "w") as f:
                f.write(motd)
            peers.append(path)
            args += ["--motd", path]
        return server_factory(*args)

    yield make
    for p in peers:
        if isinstance(p, str):
            os.unlink(p)
        else:
            p.stop()


@pytest.fixture
def ircd(ircd_factory):
    return ircd_factory()


tcpchatd_only = pytest.mark.skipif(PEER != "", reason="tcpchatd behaviour, not the peer's")


class _Any:
    def __eq__(self, other):
        return True

    def __repr__(self):
        return "ANY"


ANY = _Any()  # matches any one parameter in want()/reply()


class IrcUser(Client):
    """A registered raw IRC user with a real name of its own; .source is nick!user@host as
    the server shows it (learnt from the user's own first JOIN, see join())."""

    def __init__(self, port, nick, user=None, realname=None):
        super().__init__(port, None)
        self.nick = nick
        self.user = user or nick
        self.realname = realname or ("Real " + nick)
        self.source = None
        self.send("NICK " + nick)
        self.send("USER %s 0 * :%s" % (self.user, self.realname))
        self.expect(lambda l: Msg(l).command in ("376", "422"))

    @property
    def userhost(self):
        return self.source.split("!", 1)[1]


@pytest.fixture
def irc_user(ircd):
    """make(nick, user=None, realname=None, srv=None): a registered IrcUser of ircd."""
    users = []

    def make(nick, user=None, realname=None, srv=None):
        u = IrcUser((srv or ircd).port, nick, user, realname)
        users.append(u)
        return u

    yield make
    for u in users:
        u.close()


def want(m, command, *params):
    """Asserts Msg m is `command` with exactly `params` (ANY matches one parameter)."""
    if isinstance(m, str):
        m = Msg(m)
    assert m.command == command and list(m.params) == list(params), \
        "observed %r\nexpected %s %s" % (m.line, command, " ".join(repr(p) for p in params))
    return m


def run(client, line):
    """Sends line and returns (as Msg) every line received before the server answered a PING
    sent right after it: every direct reply to that line."""
    client.send(line)
    return [Msg(l) for l in barrier(client)]


def reply(client, seen, command, *params, timeout=TIMEOUT):
    """The first message `command` in `seen` (as returned by run), or else the next one the
    client receives, checked with want(). When `seen` already holds other numerics the reply
    is taken as missing at once (the server answered something else)."""
    for m in seen:
        if m.command == command:
            return want(m, command, *params)
    numerics = [m.line for m in seen if m.command.isdigit() or m.command in ("FAIL", "ERROR")]
    assert not numerics, "expected %s %s\nobserved instead:\n  %s" % (
        command, " ".join(repr(p) for p in params), "\n  ".join(numerics))
    try:
        line = client.expect(lambda l: Msg(l).command == command, timeout)
    except AssertionError:
        raise AssertionError("no %s %s reply; lines seen: %r" % (
            command, " ".join(repr(p) for p in params), [m.line for m in seen]))
    return want(line, command, *params)


def no_reply(seen, command):
    """Asserts no message `command` is among `seen`."""
    bad = [m.line for m in seen if m.command == command]
    assert not bad, "unexpected %s: %r" % (command, bad)


def join(user, channel, key=None):
    """JOINs channel and waits for its 366; sets user.source from the JOIN echo. Returns
    every line (as Msg) up to the 366."""
    user.send("JOIN %s%s" % (channel, " " + key if key else ""))
    lines = [Msg(l) for l in take_until(user, lambda l: Msg(l).command == "366"
                                         or Msg(l).command in ("403", "405", "471", "473",
                                                               "474", "475", "476"))]
    want(lines[-1], "366", user.nick, ANY, ANY)
    echo = [m for m in lines if m.command == "JOIN" and m.nick == user.nick]
    assert echo, "no JOIN echo: %r" % [m.line for m in lines]
    user.source = echo[0].prefix
    return lines


def names(user, channel):
    """NAMES channel: {nick: prefix string} from its 353 lines (up to the 366)."""
    user.send("NAMES " + channel)
    out = {}
    for l in take_until(user, lambda l: Msg(l).command == "366"):
        m = Msg(l)
        if m.command == "353":
            for n in m.text.split():
                nick = n.lstrip("@+%&~")
                out[nick] = n[:len(n) - len(nick)]
    return out


def isupport(lines):
    """{TOKEN: value or True} from the 005 lines among lines."""
    out = {}
    for l in lines:
        m = Msg(l) if isinstance(l, str) else l
        if m.command == "005":
            for tok in m.params[1:-1]:
                k, eq, v = tok.partition("=")
                out[k] = v if eq else True
    return out
