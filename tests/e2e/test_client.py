"""End-to-end tests of the terminal client: tcpchat runs in a real terminal (a tmux pane) or on
a pipe, against the real tcpchatd, with raw-socket IRC users on the other side.

Nothing here sleeps for correctness: every wait polls the pane, the socket or the process
until what it waits for appears, bounded by conftest.TIMEOUT."""
import calendar
import os
import re
import select
import shlex
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import CLIENT_BIN, TIMEOUT, Client, barrier, free_port

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

POLL = 0.05
PROMPT = "#lobby> "


class Pane:
    """tcpchat in a tmux pane, on a tmux server of its own (socket in a private directory).
    In line mode (--plain) unless fullscreen: these tests are the line mode's; the full-screen
    mode has test_client_tui.py."""

    def __init__(self, port, nick, host="127.0.0.1", width=120, height=30, options=(),
                 fullscreen=False):
        # A private tmux server per pane, its socket in a directory of its own.
        self.dir = tempfile.mkdtemp(prefix="tcpchat-tmux-")
        self.sock = os.path.join(self.dir, "tmux")
        mode = [] if fullscreen else ["--plain"]
        client = " ".join(shlex.quote(a)
                          for a in [CLIENT_BIN] + mode + list(options) + [host, str(port), nick])
        # The pane stays open after tcpchat exits so the test can read its last words, its
        # exit status and the terminal modes it left behind (canonical mode and echo must be
        # back on). The shell ignores Ctrl-C so that only tcpchat reacts to it. No user
        # inputrc or tmux config may change what is tested.
        modes = "stty -a | tr ' ;' '\\n\\n' | grep -E '^-?(icanon|echo)$' | tr '\\n' ' '"
        script = ('trap : INT; %s; echo "[exit $?]"; echo "[stty $(%s)]"; exec sleep 3600'
                  % (client, modes))
        self._tmux("-f", "/dev/null", "new-session", "-d", "-s", "main", "-x", str(width),
                   "-y", str(height), "env", "INPUTRC=/dev/null", "sh", "-c", script)

    def _tmux(self, *args):
        return subprocess.run(["tmux", "-S", self.sock] + list(args), check=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=TIMEOUT).stdout.decode("utf-8", "replace")

    def text(self):
        """Everything the pane shows, scroll-back included."""
        return self._tmux("capture-pane", "-p", "-J", "-S", "-1000", "-t", "main")

    def input_line(self):
        """The last non-blank line on screen: the prompt and what is being typed."""
        lines = [l.rstrip() for l in self._tmux("capture-pane", "-p", "-t", "main").split("\n")]
        lines = [l for l in lines if l]
        return lines[-1] if lines else ""

    def wait_for(self, pred, timeout=TIMEOUT):
        """Polls the pane until pred (a substring or a function of the text) holds."""
        if isinstance(pred, str):
            needle = pred
            pred = lambda t: needle in t  # noqa: E731
        deadline = time.time() + timeout
        while True:
            text = self.text()
            if pred(text):
                return text
            if time.time() > deadline:
                raise AssertionError("pane never showed what we waited for:\n" + text)
            time.sleep(POLL)

    def type(self, text, enter=False):
        if text:
            self._tmux("send-keys", "-t", "main", "-l", text)
        if enter:
            self._tmux("send-keys", "-t", "main", "Enter")

    def line(self, text):
        self.type(text, enter=True)

    def exit_status(self):
        """Waits for tcpchat to exit; returns its status after checking it restored the
        terminal."""
        text = self.wait_for("[stty ")
        modes = text.split("[stty ", 1)[1].split("]", 1)[0].split()
        assert sorted(modes) == ["echo", "icanon"], "terminal left in raw mode: %r" % modes
        return int(text.split("[exit ", 1)[1].split("]", 1)[0])

    def kill(self):
        # A client still running is killed outright first: hung up by a vanishing tmux, an
        # ASan build's exit-time leak check can spin for ever (its tracer stuck), which left
        # orphans burning CPU after the suite.
        try:
            pid = self._tmux("display", "-p", "-t", "main", "#{pane_pid}").strip()
            if pid.isdigit():
                subprocess.run(["pkill", "-KILL", "-P", pid], timeout=TIMEOUT)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pass
        subprocess.run(["tmux", "-S", self.sock, "kill-server"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=TIMEOUT)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def pane(server):
    panes = []

    def make(nick, port=None, **kw):
        p = Pane(port or server.port, nick, **kw)
        panes.append(p)
        return p

    yield make
    texts = []
    for p in panes:
        try:
            texts.append(p.text())
        except subprocess.CalledProcessError:
            pass
        p.kill()
    # Sanitizer reports of a client in a pane land in the pane.
    for text in texts:
        for bad in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
            assert bad not in text, text


def joined(pane_obj):
    """Waits until tcpchat has joined #lobby and shows its prompt."""
    pane_obj.wait_for("--> You joined #lobby")
    deadline = time.time() + TIMEOUT
    while not pane_obj.input_line().startswith(PROMPT.rstrip()):
        assert time.time() < deadline, pane_obj.text()
        time.sleep(POLL)


class Piped:
    """tcpchat with stdin and stdout on pipes, as a script would run it."""

    def __init__(self, port, nick):
        self.proc = subprocess.Popen([CLIENT_BIN, "127.0.0.1", str(port), nick],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.out = b""

    def send(self, line):
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def expect_out(self, needle, timeout=TIMEOUT):
        deadline = time.time() + timeout
        while needle.encode() not in self.out:
            left = deadline - time.time()
            assert left > 0, "stdout never showed %r:\n%s" % (needle, self.out.decode())
            r, _, _ = select.select([self.proc.stdout], [], [], min(left, 0.5))
            if r:
                data = os.read(self.proc.stdout.fileno(), 65536)
                assert data, "tcpchat closed stdout:\n" + self.out.decode()
                self.out += data

    def finish(self):
        """Closes stdin and returns (status, stdout, stderr)."""
        out, err = self.proc.communicate(timeout=TIMEOUT)
        return self.proc.returncode, (self.out + out).decode(), err.decode()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def piped(server):
    procs = []

    def make(nick):
        p = Piped(server.port, nick)
        procs.append(p)
        return p

    yield make
    for p in procs:
        p.kill()


def is_privmsg(sender, target, text):
    return lambda l: l.startswith(":%s!" % sender) and l.endswith(
        " PRIVMSG %s :%s" % (target, text))


# (1) a typed line reaches the room
def test_typed_line_reaches_the_room(pane, connect):
    alice = connect("alice")
    bob = pane("bob")
    joined(bob)
    alice.expect(lambda l: l.startswith(":bob!") and " JOIN " in l)
    bob.line("hello world")
    alice.expect(is_privmsg("bob", "#lobby", "hello world"))
    # Our own message is shown too (the server does not echo it), and the input is empty.
    bob.wait_for("<bob> hello world")
    assert bob.input_line() == PROMPT.rstrip()


# (2) a message that arrives while the user types does not garble the input line
def test_incoming_message_keeps_the_input_line(pane, connect):
    alice = connect("alice")
    bob = pane("bob")
    joined(bob)
    alice.expect(lambda l: l.startswith(":bob!") and " JOIN " in l)
    bob.type("half a li")
    bob.wait_for(lambda t: bob.input_line() == PROMPT + "half a li")
    alice.send("PRIVMSG #lobby :news from alice")
    bob.wait_for("<alice> news from alice")
    assert bob.input_line() == PROMPT + "half a li"
    # The incoming line sits above the input line, with a timestamp.
    text = bob.text()
    assert text.index("<alice> news from alice") < text.rindex(PROMPT + "half a li")
    assert any(l.startswith("[") and l[3] == ":" and "<alice> news from alice" in l
               for l in text.split("\n"))
    bob.type("ne", enter=True)
    alice.expect(is_privmsg("bob", "#lobby", "half a line"))


# (3) /nick, /me, /msg, /who, /quit as the other side sees them
def test_slash_commands(pane, connect):
    alice = connect("alice")
    bob = pane("bob")
    joined(bob)
    alice.expect(lambda l: l.startswith(":bob!") and " JOIN " in l)

    bob.line("/me waves")
    alice.expect(is_privmsg("bob", "#lobby", "\x01ACTION waves\x01"))
    bob.wait_for("* bob waves")

    bob.line("/msg alice psst, a secret")
    alice.expect(is_privmsg("bob", "alice", "psst, a secret"))

    bob.line("/nick bobby")
    alice.expect(lambda l: l.startswith(":bob!") and l.split()[1] == "NICK" and "bobby" in l)
    bob.wait_for("You are now known as bobby")

    bob.line("/who")
    bob.wait_for(lambda t: any("Users on #lobby:" in l and "alice" in l and "bobby" in l
                               for l in t.split("\n")))

    bob.line("/frobnicate")
    bob.wait_for("Unknown command /frobnicate")
    bob.line("/help")
    bob.wait_for("/quit [REASON]")

    bob.line("hello again")
    alice.expect(is_privmsg("bobby", "#lobby", "hello again"))

    bob.line("/quit see you later")
    alice.expect(lambda l: l.startswith(":bobby!") and " QUIT " in l and "see you later" in l)
    assert bob.exit_status() == 0


def test_ctrl_c_and_ctrl_d_quit(pane, connect):
    alice = connect("alice")
    bob = pane("bob")
    dave = pane("dave")
    joined(bob)
    joined(dave)
    bob.type("some unsent text")
    bob._tmux("send-keys", "-t", "main", "C-c")
    alice.expect(lambda l: l.startswith(":bob!") and " QUIT" in l)
    assert bob.exit_status() == 0
    dave._tmux("send-keys", "-t", "main", "C-d")
    alice.expect(lambda l: l.startswith(":dave!") and " QUIT" in l)
    assert dave.exit_status() == 0


# (3b) /join, /part and /msg from another channel, and private messages to us
def test_join_part_and_private(pane, connect):
    alice = connect("alice")
    bob = pane("bob")
    joined(bob)
    bob.line("/join #dev")
    bob.wait_for("--> You joined #dev")
    bob.wait_for(lambda t: bob.input_line() == "#dev>")
    alice.send("JOIN #dev")
    bob.wait_for("--> alice joined #dev")
    bob.line("in dev")
    alice.expect(is_privmsg("bob", "#dev", "in dev"))
    alice.send("PRIVMSG #lobby :lobby talk")
    bob.wait_for("[#lobby] <alice> lobby talk")
    alice.send("PRIVMSG bob :just you")
    bob.wait_for("*alice* just you")
    bob.line("/part #dev done here")
    alice.expect(lambda l: l.startswith(":bob!") and " PART #dev" in l and "done here" in l)
    bob.wait_for(lambda t: bob.input_line() == PROMPT.rstrip())


# issue 17, bug 1: /join of a channel one is in already switches to it (it froze the input)
def test_join_of_a_joined_channel_switches_to_it(pane, connect):
    alice = connect("alice")
    bob = pane("bob")
    joined(bob)
    bob.line("/join #dev")
    bob.wait_for("--> You joined #dev")
    bob.wait_for(lambda t: bob.input_line() == "#dev>")
    bob.line("/join #lobby")
    bob.wait_for("--- Talking in #lobby now")
    bob.wait_for(lambda t: bob.input_line() == PROMPT.rstrip())
    bob.line("back in the lobby")
    alice.expect(is_privmsg("bob", "#lobby", "back in the lobby"))
    bob.line("/j #dev")
    bob.wait_for(lambda t: bob.input_line() == "#dev>")
    bob.line("in dev again")
    alice.send("JOIN #dev")
    alice.expect(lambda l: " 366 " in l)
    bob.line("and heard")
    alice.expect(is_privmsg("bob", "#dev", "and heard"))


# issue 17, bugs 6 and 7: a refused join says which mode refused it; a server without a MOTD
# does not read like an error; counts are in good English
def test_join_refusals_and_welcome_texts(pane, connect):
    op = connect("op")
    op.send("JOIN #closed")
    op.expect(lambda l: " 366 " in l)
    op.send("MODE #closed +b bob!*@*")
    op.expect(lambda l: " MODE #closed +b " in l)
    bob = pane("bob")
    joined(bob)
    text = bob.text()
    assert "(this server has no message of the day)" in text and "MOTD File" not in text, text
    assert "There are 2 users and 0 invisible on 1 server" in text, text
    bob.line("/join #closed")
    bob.wait_for("Cannot join channel (+b)")
    bob.wait_for(lambda t: bob.input_line() == PROMPT.rstrip())


# issue 17, bug 2: Tab completes nicks of the current channel and command names, never file
# names of the working directory (which could leak into a message)
def test_tab_completes_nicks_and_commands_not_files(pane, connect, tmp_path):
    (tmp_path / "alice.pw").write_text("secret\n")  # in the directory the client runs in
    alice = connect("alice")
    connect("albert")
    bob = pane("bob")
    joined(bob)
    bob.type("hello ali")
    bob._tmux("send-keys", "-t", "main", "Tab")
    bob.wait_for(lambda t: bob.input_line() == PROMPT + "hello alice")
    bob.type("how are you", enter=True)
    alice.expect(is_privmsg("bob", "#lobby", "hello alice how are you"))
    # At the start of the line: "nick: "
    bob.type("ali")
    bob._tmux("send-keys", "-t", "main", "Tab")
    bob.type("hi", enter=True)
    alice.expect(is_privmsg("bob", "#lobby", "alice: hi"))
    # Someone who joins later is completed too; someone who left is not.
    carl = connect("carlos")
    bob.wait_for("carlos joined")
    bob.type("car")
    bob._tmux("send-keys", "-t", "main", "Tab")
    bob.wait_for(lambda t: bob.input_line() == PROMPT + "carlos:")
    bob._tmux("send-keys", "-t", "main", "C-u")
    carl.send("QUIT :bye")
    bob.wait_for("carlos quit")
    bob.type("x car")
    bob._tmux("send-keys", "-t", "main", "Tab")
    time.sleep(0.3)
    assert bob.input_line() == PROMPT + "x car", bob.input_line()
    bob._tmux("send-keys", "-t", "main", "C-u")
    # Commands; and no file name ever.
    bob.type("/whoi")
    bob._tmux("send-keys", "-t", "main", "Tab")
    bob.wait_for(lambda t: bob.input_line() == PROMPT + "/whois")
    bob._tmux("send-keys", "-t", "main", "C-u")
    bob.type("see alice.p")
    bob._tmux("send-keys", "-t", "main", "Tab")
    time.sleep(0.3)
    assert bob.input_line() == PROMPT + "see alice.p", bob.input_line()


# issue 17: CTCP VERSION, PING and TIME are answered (by NOTICE), at most once a second
def test_ctcp_requests_are_answered(pane, connect):
    alice = connect("alice")
    bob = pane("bob")
    joined(bob)
    alice.send("PRIVMSG bob :\x01VERSION\x01")
    line = alice.expect(lambda l: l.startswith(":bob!") and " NOTICE alice :" in l)
    assert "\x01VERSION tcpchat-" in line and line.endswith("\x01"), line
    time.sleep(1.1)  # one answer a second
    alice.send("PRIVMSG bob :\x01PING 1234 5678\x01")
    line = alice.expect(lambda l: l.startswith(":bob!") and " NOTICE alice :" in l)
    assert line.endswith(":\x01PING 1234 5678\x01"), line
    time.sleep(1.1)
    alice.send("PRIVMSG bob :\x01TIME\x01")
    alice.send("PRIVMSG bob :\x01VERSION\x01")  # the same second: not answered
    line = alice.expect(lambda l: l.startswith(":bob!") and " NOTICE alice :" in l)
    assert "\x01TIME " in line, line
    assert not [l for l in barrier(alice) if " NOTICE alice :" in l]
    bob.wait_for("--- CTCP TIME from alice")


# (4) other people's joins, parts, nick changes, quits and server notices show up
def test_system_messages(pane, connect, server):
    bob = pane("bob")
    joined(bob)
    carol = connect("carol")
    bob.wait_for("--> carol joined #lobby")
    carol.send("NICK caroline")
    bob.wait_for("--- carol is now known as caroline")
    carol.send("PART #lobby :brb")
    bob.wait_for("<-- caroline left #lobby (brb)")
    carol.send("JOIN #lobby")
    bob.wait_for(lambda t: t.count("--> caroline joined #lobby") == 1)
    carol.send("QUIT :off to bed")
    bob.wait_for(lambda t: any("<-- caroline quit" in l and "off to bed" in l
                               for l in t.split("\n")))
    server.say("maintenance at noon")
    bob.wait_for("maintenance at noon")
    assert bob.input_line() == PROMPT.rstrip()


# (5) connection refused, unknown host, bad usage, and the server going away
def test_connection_refused():
    port = free_port()
    r = subprocess.run([CLIENT_BIN, "127.0.0.1", str(port), "bob"], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=TIMEOUT)
    assert r.returncode == 1
    assert r.stderr.decode() == \
        "tcpchat: cannot connect to 127.0.0.1 port %d: Connection refused\n" % port


def test_unknown_host():
    r = subprocess.run([CLIENT_BIN, "no-such-host.invalid", "6667", "bob"],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)
    assert r.returncode == 1
    err = r.stderr.decode()
    assert err.startswith("tcpchat: unknown host 'no-such-host.invalid'") and err.count("\n") == 1


def test_usage():
    for args in ([], ["127.0.0.1"], ["127.0.0.1", "6667"], ["a", "b", "c", "d"]):
        r = subprocess.run([CLIENT_BIN] + args, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=TIMEOUT)
        assert r.returncode == 2
        assert r.stderr.decode().startswith("usage: tcpchat HOST PORT NICK")


# issue 17, bug 5: ports and nicks are checked before anything is tried, and say the rule
@pytest.mark.parametrize("port", ["99999", "0", "notaport", "+1", " 80", "6667x", ""])
def test_bad_port_is_refused(port):
    r = subprocess.run([CLIENT_BIN, "127.0.0.1", port, "bob"], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=TIMEOUT)
    assert r.returncode == 2
    assert r.stderr.decode() == ("tcpchat: invalid port '%s' (a number from 1 to 65535)\n"
                                 % port)


def test_bad_nick_says_the_rule():
    r = subprocess.run([CLIENT_BIN, "127.0.0.1", "6667", "9lives"], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=TIMEOUT)
    assert r.returncode == 2
    err = r.stderr.decode()
    assert err.startswith("tcpchat: invalid nickname '9lives' (1 to 30 ") and "digit" in err


def test_refused_in_a_terminal():
    pane_obj = Pane(free_port(), "bob")
    try:
        assert pane_obj.exit_status() == 1
        assert "tcpchat: cannot connect to 127.0.0.1 port" in pane_obj.text()
    finally:
        pane_obj.kill()


def test_server_closing_the_connection(server, piped):
    bob = piped("bob")
    bob.expect_out("--> You joined #lobby")
    server.stop()
    status, _, err = bob.finish()
    assert status == 1
    assert err.startswith("tcpchat: server closed the connection")
    assert err.count("\n") == 1


def test_server_closing_in_a_terminal(server, pane):
    bob = pane("bob", options=("--no-reconnect",))
    joined(bob)
    server.stop()
    text = bob.wait_for("[exit ")
    assert "tcpchat: server closed the connection" in text
    assert bob.exit_status() == 1


# (6) nickname in use: the user picks another one and registration completes
def test_nick_in_use_prompts_for_another(pane, connect):
    alice = connect("alice")
    other = pane("alice")
    other.wait_for(lambda t: other.input_line().startswith(
        "Nickname alice is in use, choose another:"))
    # A nickname the server refuses (432) asks again.
    other.line("9lives")
    other.wait_for(lambda t: other.input_line().startswith(
        "Nickname 9lives is not allowed, choose another:"))
    other.line("alice2")
    joined(other)
    alice.expect(lambda l: l.startswith(":alice2!") and " JOIN " in l)
    other.line("hi, I am the other alice")
    alice.expect(is_privmsg("alice2", "#lobby", "hi, I am the other alice"))


# issue 17, bug 3: the server's reason for refusing a nick is shown (a registered nick)
def test_registered_nick_reason_is_shown(pane, connect):
    owner = connect("alice")
    owner.send("REGISTER * * :a-long-password")
    owner.expect(lambda l: " REGISTER SUCCESS " in l or " 900 " in l)
    owner.send("QUIT")
    owner.wait_closed()
    other = pane("alice")
    text = other.wait_for("type another one.")
    assert "Nickname alice is in use (" in text and "registered to an account" in text, text
    other.line("alice2")
    joined(other)


# (7) piped stdin: scripts work, and nothing is sent before registration completes
def test_piped_stdin(server, connect):
    alice = connect("alice")
    script = "hello from a script\n/me scripts\n/msg alice private line\n/quit done\n"
    r = subprocess.run([CLIENT_BIN, "127.0.0.1", str(server.port), "bob"],
                       input=script.encode(), capture_output=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert r.stderr == b""
    alice.expect(is_privmsg("bob", "#lobby", "hello from a script"))
    alice.expect(is_privmsg("bob", "#lobby", "\x01ACTION scripts\x01"))
    alice.expect(is_privmsg("bob", "alice", "private line"))
    alice.expect(lambda l: l.startswith(":bob!") and " QUIT " in l and "done" in l)
    out = r.stdout.decode()
    assert "--> You joined #lobby" in out and "<bob> hello from a script" in out


def test_piped_end_of_input_quits(server, connect):
    alice = connect("alice")
    r = subprocess.run([CLIENT_BIN, "127.0.0.1", str(server.port), "bob"],
                       input=b"last words", capture_output=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    alice.expect(is_privmsg("bob", "#lobby", "last words"))
    alice.expect(lambda l: l.startswith(":bob!") and " QUIT " in l)


def test_piped_nick_in_use(server, connect):
    connect("alice")
    r = subprocess.run([CLIENT_BIN, "127.0.0.1", str(server.port), "alice"],
                       input=b"alice3\nhere I am\n", capture_output=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert "Nickname alice is in use" in r.stdout.decode()
    assert "<alice3> here I am" in r.stdout.decode()


# Hostile text: no escape sequence from a peer reaches the terminal.
def test_control_characters_are_neutralised(piped, connect):
    alice = connect("alice")
    bob = piped("bob")
    bob.expect_out("--> You joined #lobby")
    alice.expect(lambda l: l.startswith(":bob!") and " JOIN " in l)
    alice.send_raw(b"PRIVMSG #lobby :evil \x1b]0;pwned\x07 \x1b[2J \x02bold\x02 "
                   b"\x0304,12colour\x03 \xc2\x9b2J end\r\n")
    bob.expect_out("end")
    line = [l for l in bob.out.split(b"\n") if b"evil" in l][0]
    assert b"\x1b" not in bob.out and b"\x07" not in bob.out and b"\x9b" not in bob.out
    assert line.endswith(b"<alice> evil ?]0;pwned? ?[2J bold colour ?2J end")
    status, _, _ = bob.finish()  # end of input quits
    assert status == 0


# ---------------------------------------------------------------------------------------------
# IRCv3 capabilities, away, names, topic, kick, whois (issue 3).

class FakeServer:
    """A scripted IRC server on a raw socket: the test plays the server's part, so it sees
    exactly what the client sends and decides what comes back, and in which order."""

    def __init__(self):
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.listener.settimeout(TIMEOUT)
        self.port = self.listener.getsockname()[1]
        self.conn = None
        self.buf = b""
        self.seen = []   # every line the client sent, in order
        self.lines = []  # those not yet consumed by expect

    def accept(self):
        self.conn, _ = self.listener.accept()
        self.conn.settimeout(TIMEOUT)

    def send(self, line):
        self.conn.sendall(line.encode() + b"\r\n")

    def expect(self, pred, timeout=TIMEOUT):
        """Consumes client lines up to the first for which pred holds, and returns it."""
        if isinstance(pred, str):
            prefix = pred
            pred = lambda l: l.startswith(prefix)  # noqa: E731
        deadline = time.time() + timeout
        while True:
            while self.lines:
                line = self.lines.pop(0)
                if pred(line):
                    return line
            left = deadline - time.time()
            assert left > 0, "client never sent the line; it sent:\n" + "\n".join(self.seen)
            r, _, _ = select.select([self.conn], [], [], min(left, 0.5))
            if r:
                data = self.conn.recv(65536)
                assert data, "client closed the connection:\n" + "\n".join(self.seen)
                self.buf += data
                while b"\n" in self.buf:
                    line, self.buf = self.buf.split(b"\n", 1)
                    line = line.rstrip(b"\r").decode("utf-8", "replace")
                    self.seen.append(line)
                    self.lines.append(line)

    def welcome(self, nick):
        """Registration replies, then what tcpchat waits for: the answer to its post-MOTD
        PING and the JOIN of the default channel."""
        self.send(":fake.server 001 %s :Welcome, %s" % (nick, nick))
        self.send(":fake.server 422 %s :MOTD File is missing" % nick)
        token = self.expect("PING ").split(" ", 1)[1].lstrip(":")
        self.send(":fake.server PONG fake.server :" + token)
        self.send(":%s!u@h JOIN #lobby" % nick)

    def close(self):
        for s in (self.conn, self.listener):
            if s:
                s.close()


@pytest.fixture
def fake():
    """A FakeServer and panes connected to it; fake.pane(nick) starts one."""
    srv = FakeServer()
    panes = []

    def make(nick):
        p = Pane(srv.port, nick)
        panes.append(p)
        srv.accept()
        return p

    srv.pane = make
    yield srv
    for p in panes:
        text = p.text()
        p.kill()
        for bad in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
            assert bad not in text, text
    srv.close()


def stamp(iso):
    """The "[HH:MM]" tcpchat shows for an ISO 8601 UTC time, in local time."""
    t = calendar.timegm(time.strptime(iso.rstrip("Z").split(".")[0], "%Y-%m-%dT%H:%M:%S"))
    return time.strftime("[%H:%M]", time.localtime(t))


def pane_line(pane_obj, needle):
    """The one line of the pane that contains needle."""
    lines = [l for l in pane_obj.text().split("\n") if needle in l]
    assert len(lines) == 1, (needle, lines)
    return lines[0]


# (8) capability negotiation: a multi-line CAP LS, a REQ of what helps, CAP END on ACK
def test_cap_negotiation_server_time_and_echo_message(fake):
    bob = fake.pane("bob")
    # CAP LS 302 comes first, so the server holds registration until CAP END.
    assert fake.expect(lambda l: True) == "CAP LS 302"
    fake.expect("NICK bob")
    fake.expect("USER bob ")
    fake.send(":fake.server CAP * LS * :multi-prefix server-time sasl=PLAIN,EXTERNAL batch")
    fake.send(":fake.server CAP * LS :echo-message account-tag away-notify")
    req = fake.expect("CAP REQ ")
    asked = req.split(" :", 1)[1].split()
    assert sorted(asked) == ["away-notify", "batch", "echo-message", "multi-prefix",
                             "server-time"]
    fake.send(":fake.server CAP bob ACK :" + " ".join(asked))
    fake.expect("CAP END")
    fake.welcome("bob")
    joined(bob)

    # server-time: the stamp is the message's @time in local time, not the clock's. Two
    # times 12 hours apart: the local clock cannot match both.
    for iso, text in (("2001-02-03T04:05:06.789Z", "early bird"),
                      ("2001-02-03T16:47:00.000Z", "late owl")):
        fake.send("@time=%s :alice!a@h PRIVMSG #lobby :%s" % (iso, text))
        bob.wait_for("<alice> " + text)
        assert pane_line(bob, "<alice> " + text).startswith(stamp(iso) + " <alice> " + text)

    # echo-message: a typed line is not shown when sent, but when the server relays it back.
    bob.line("mine")
    fake.expect("PRIVMSG #lobby :mine")
    # Everything tcpchat printed before sending is on screen once this later line is.
    fake.send(":alice!a@h PRIVMSG #lobby :between")
    bob.wait_for("<alice> between")
    assert "<bob> mine" not in bob.text()
    fake.send("@time=2001-02-03T04:05:00.000Z :bob!u@h PRIVMSG #lobby :mine")
    text = bob.wait_for("<bob> mine")
    assert text.count("<bob> mine") == 1
    assert text.index("<alice> between") < text.index("<bob> mine")
    assert pane_line(bob, "<bob> mine").startswith(stamp("2001-02-03T04:05:00Z") + " ")
    # A private message comes back the same way, shown as sent to its target.
    bob.line("/msg alice psst")
    fake.expect("PRIVMSG alice :psst")
    fake.send(":bob!u@h PRIVMSG alice :psst")
    text = bob.wait_for("-> *alice* psst")
    assert text.count("psst") == 1
    assert bob.input_line() == PROMPT.rstrip()


# (8b) with echo-message, /quit waits for the echoes of the last messages, but not forever
def test_quit_waits_for_echoes(fake):
    bob = fake.pane("bob")
    fake.expect("USER bob ")
    fake.send(":fake.server CAP * LS :echo-message")
    fake.expect("CAP REQ :echo-message")
    fake.send(":fake.server CAP bob ACK :echo-message")
    fake.expect("CAP END")
    fake.welcome("bob")
    joined(bob)
    # Echoed: the QUIT follows the echo.
    bob.line("last words")
    fake.expect("PRIVMSG #lobby :last words")
    bob.type("/quit bye")
    bob.wait_for(lambda t: bob.input_line() == PROMPT + "/quit bye")
    bob.type("", enter=True)
    bob.wait_for(lambda t: bob.input_line() == PROMPT.rstrip())  # /quit taken
    fake.send(":fake.server PING :held")  # answered after the /quit was handled
    fake.expect("PONG ")
    assert not any(l.startswith("QUIT") for l in fake.seen), fake.seen
    fake.send(":bob!u@h PRIVMSG #lobby :last words")
    fake.expect("QUIT :bye")
    bob.wait_for("<bob> last words")
    fake.conn.close()
    assert bob.exit_status() == 0

    # Never echoed: the QUIT goes anyway after a while.
    fake.conn = None
    carol = fake.pane("carol")
    fake.expect("USER carol ")
    fake.send(":fake.server CAP * LS :echo-message")
    fake.send(":fake.server CAP carol ACK :echo-message")
    fake.expect("CAP END")
    fake.welcome("carol")
    joined(carol)
    carol.line("into the void")
    carol.line("/quit")
    fake.expect("PRIVMSG #lobby :into the void")
    fake.expect("QUIT")
    fake.conn.close()
    assert carol.exit_status() == 0
    assert "<carol> into the void" not in carol.text()


# (9) a server without CAP: a 421 for it, or no answer at all, and registration goes on
@pytest.mark.parametrize("answer", ["421", "silence"])
def test_server_without_cap(fake, answer):
    bob = fake.pane("bob")
    fake.expect("CAP LS 302")
    if answer == "421":
        fake.send(":fake.server 421 * CAP :Unknown command")
    fake.expect("NICK bob")
    fake.expect("USER bob ")
    fake.welcome("bob")
    joined(bob)
    # Without echo-message our own line is shown as it is sent.
    bob.line("plain old irc")
    fake.expect("PRIVMSG #lobby :plain old irc")
    text = bob.wait_for("<bob> plain old irc")
    assert text.count("<bob> plain old irc") == 1
    assert not any(l.startswith("CAP ") for l in fake.seen[1:]), fake.seen
    assert "Error" not in text and "Unknown command" not in text, text


# (10) the real server: echo-message and server-time are on, own lines shown once
def test_echo_message_with_tcpchatd(pane, connect):
    alice = connect("alice")
    bob = pane("bob")
    joined(bob)
    alice.expect(lambda l: l.startswith(":bob!") and " JOIN " in l)
    bob.line("/quote CAP LIST")
    text = bob.wait_for("Capabilities in use:")
    caps = pane_line(bob, "Capabilities in use:").split("Capabilities in use:", 1)[1].split()
    assert {"server-time", "echo-message", "multi-prefix", "away-notify"} <= set(caps)
    bob.line("said once")
    alice.expect(is_privmsg("bob", "#lobby", "said once"))
    bob.wait_for("<bob> said once")
    alice.send("PRIVMSG #lobby :and answered")
    text = bob.wait_for("<alice> and answered")
    assert text.count("<bob> said once") == 1
    assert text.index("<bob> said once") < text.index("<alice> and answered")
    line = pane_line(bob, "<alice> and answered")
    assert line[0] == "[" and line[3] == ":" and line[6] == "]", line


# (11) away: /away and /away back, 301 to whoever messages us, away-notify for peers
def test_away(pane, connect):
    alice = connect("alice")
    bob = pane("bob")
    joined(bob)
    alice.expect(lambda l: l.startswith(":bob!") and " JOIN " in l)
    bob.line("/away gone fishing")
    bob.wait_for("--- You are marked as away")
    alice.send("PRIVMSG bob :are you there?")
    line = alice.expect(lambda l: " 301 " in l)
    assert line.split(" 301 ", 1)[1] == "alice bob :gone fishing"
    bob.wait_for("*alice* are you there?")
    bob.line("/away")
    bob.wait_for("--- You are no longer marked as away")

    alice.send("AWAY :lunch")
    bob.wait_for("--- alice is away (lunch)")
    bob.line("/msg alice back soon?")
    alice.expect(is_privmsg("bob", "alice", "back soon?"))
    bob.wait_for("--- alice is away: lunch")
    alice.send("AWAY")
    bob.wait_for("--- alice is back")


# (12) names: ops first, then voiced users, then the rest, with a count; /mode, /whois
def test_who_lists_ops_first(pane, connect):
    zara = pane("zara")  # first in the channel: its operator
    joined(zara)
    zara.wait_for("--- Users on #lobby: @zara (1 user)")
    connect("yuri")
    zara.wait_for("--> yuri joined #lobby")
    connect("abe")
    zara.wait_for("--> abe joined #lobby")
    zara.line("/mode +v yuri")
    zara.wait_for("--- You set mode +v yuri on #lobby")
    zara.line("/who")
    zara.wait_for("--- Users on #lobby: @zara +yuri abe (3 users)")
    zara.line("/whois yuri")
    zara.wait_for("--- End of WHOIS for yuri")
    assert "--- yuri is ~yuri@" in zara.text()
    assert "--- yuri is on +#lobby" in zara.text()


# (13) /topic, topic changes by others, /kick and being kicked, /invite
def test_topic_and_kick(pane, connect):
    zara = pane("zara")
    joined(zara)
    yuri = connect("yuri")
    zara.wait_for("--> yuri joined #lobby")
    abe = connect("abe")
    zara.wait_for("--> abe joined #lobby")

    zara.line("/topic fresh paint")
    yuri.expect(lambda l: l.startswith(":zara!") and l.endswith(" TOPIC #lobby :fresh paint"))
    zara.wait_for("--- You set the topic: fresh paint")
    zara.line("/mode +o yuri")
    zara.wait_for("--- You set mode +o yuri on #lobby")
    yuri.send("TOPIC #lobby :yuri was here")
    zara.wait_for("--- yuri set the topic: yuri was here")
    zara.line("/topic")
    zara.wait_for("--- Topic for #lobby: yuri was here")
    zara.wait_for("--- Topic set by yuri")

    zara.line("/kick abe out you go")
    abe.expect(lambda l: l.startswith(":zara!") and " KICK #lobby abe" in l and "out you go" in l)
    zara.wait_for("<-- abe was kicked from #lobby by zara (out you go)")
    zara.line("/invite abe")
    abe.expect(lambda l: l.startswith(":zara!") and " INVITE abe " in l and "#lobby" in l)
    zara.wait_for("--- You invited abe to #lobby")
    yuri.send("KICK #lobby zara :your turn")
    zara.wait_for("<-- You were kicked from #lobby by yuri (your turn)")
    zara.wait_for(lambda t: zara.input_line() == ">")


def test_help_lists_the_new_commands(pane):
    bob = pane("bob")
    joined(bob)
    bob.line("/help")
    text = bob.wait_for("/help                      this list")
    for command in ("/away [MESSAGE]", "/topic [#CHANNEL] [TEXT]", "/whois NICK",
                    "/kick NICK [REASON]", "/mode [#CHANNEL] [MODES]", "/invite NICK",
                    "/query NICK [TEXT]", "/close", "/notice NICK|#CHANNEL TEXT",
                    "/ctcp NICK COMMAND [ARGS]", "/list [FILTER]", "/ban [#CHANNEL] NICK|MASK",
                    "/unban [#CHANNEL] MASK", "/ignore [NICK|MASK]", "/unignore NICK|MASK",
                    "/register PASSWORD", "/clear", "/names [#CHANNEL]"):
        assert command in text, command


# issue 17: the commands irssi users reach for first
def test_query_and_close(pane, connect):
    alice = connect("alice")
    bob = pane("bob")
    joined(bob)
    bob.line("/query alice")
    bob.wait_for("--- Talking with alice now (/close ends it)")
    bob.wait_for(lambda t: bob.input_line() == "alice>")
    bob.line("just between us")
    alice.expect(is_privmsg("bob", "alice", "just between us"))
    bob.line("/part")  # a query is not a channel
    bob.wait_for("You are not in a channel. Usage: /part #CHANNEL [REASON]")
    bob.line("/close")
    bob.wait_for("--- Closed the conversation with alice")
    bob.wait_for(lambda t: bob.input_line() == PROMPT.rstrip())
    bob.line("/close")
    bob.wait_for("No private conversation to close; /part leaves a channel.")
    bob.line("back in the room")
    alice.expect(is_privmsg("bob", "#lobby", "back in the room"))
    bob.line("/query alice one more")  # with text: said at once, the target stays
    alice.expect(is_privmsg("bob", "alice", "one more"))
    assert bob.input_line() == PROMPT.rstrip()


def test_notice_and_ctcp(pane, connect):
    alice = connect("alice")
    bob = pane("bob")
    joined(bob)
    bob.line("/notice alice heads up")
    alice.expect(lambda l: l.startswith(":bob!") and l.endswith(" NOTICE alice :heads up"))
    bob.wait_for("-> -alice- heads up")
    bob.line("/ctcp alice version")
    alice.expect(lambda l: l.startswith(":bob!") and l.endswith(" PRIVMSG alice :\x01VERSION\x01"))
    bob.wait_for("--- CTCP VERSION sent to alice")
    alice.send("NOTICE bob :\x01VERSION rawclient 0.1\x01")
    bob.wait_for("--- CTCP VERSION reply from alice: rawclient 0.1")
    bob.line("/ctcp alice ping 12345")
    alice.expect(lambda l: l.endswith(" PRIVMSG alice :\x01PING 12345\x01"))
    bob.line("/ctcp alice ver-sion")
    bob.wait_for("A CTCP command is letters and digits, like VERSION or PING.")
    bob.line("/notice alice")
    bob.wait_for("Usage: /notice NICK|#CHANNEL TEXT")


def test_list_with_a_filter(pane, connect):
    alice = connect("alice")
    for chan in ("#dev", "#design", "#other"):
        alice.send("JOIN " + chan)
        alice.expect(lambda l, c=chan: " 366 " in l and c in l)
    alice.send("TOPIC #dev :all things code")
    alice.expect(lambda l: " TOPIC #dev " in l)
    bob = pane("bob")
    joined(bob)
    bob.line("/list de")
    text = bob.wait_for("--- End of the channel list")
    assert "--- #dev (1 user): all things code" in text
    assert "--- #design (1 user)" in text
    assert "#other" not in text
    bob.line("/list")
    text = bob.wait_for(lambda t: t.count("--- End of the channel list") == 2)
    assert "--- #other (1 user)" in text and "--- #lobby (2 users)" in text


def test_ban_and_unban(pane, connect):
    bob = pane("bob")
    joined(bob)
    bob.line("/join #mine")  # its creator: an operator there
    bob.wait_for(lambda t: bob.input_line() == "#mine>")
    alice = connect("alice")
    alice.send("JOIN #mine")
    bob.wait_for("--> alice joined #mine")
    bob.line("/ban alice")
    alice.expect(lambda l: l.startswith(":bob!") and l.endswith(" MODE #mine +b alice!*@*"))
    bob.line("/unban #mine alice!*@*")
    alice.expect(lambda l: l.startswith(":bob!") and l.endswith(" MODE #mine -b alice!*@*"))
    bob.line("/ban *!*@evil.example")
    alice.expect(lambda l: l.endswith(" MODE #mine +b *!*@evil.example"))
    bob.line("/close")
    bob.line("/ban")
    bob.wait_for("Usage: /ban [#CHANNEL] NICK|MASK")


def test_op_voice_and_kickban(pane, connect):
    """irssi's /op, /deop, /voice, /devoice (several nicks: MODE lines of three) and /kb."""
    bob = pane("bob")
    joined(bob)
    bob.line("/join #mine")  # its creator: an operator there
    bob.wait_for(lambda t: bob.input_line() == "#mine>")
    guests = [connect(n) for n in ("alice", "carol", "dave", "erin")]
    for g in guests:
        g.send("JOIN #mine")
    bob.wait_for("--> erin joined #mine")
    alice = guests[0]
    bob.line("/op alice carol dave erin")
    alice.expect(lambda l: l.startswith(":bob!") and l.endswith(" MODE #mine +ooo alice carol dave"))
    alice.expect(lambda l: l.startswith(":bob!") and l.endswith(" MODE #mine +o erin"))
    bob.line("/deop #mine carol")
    alice.expect(lambda l: l.endswith(" MODE #mine -o carol"))
    bob.line("/voice dave")
    alice.expect(lambda l: l.endswith(" MODE #mine +v dave"))
    bob.line("/devoice dave")
    alice.expect(lambda l: l.endswith(" MODE #mine -v dave"))
    bob.line("/kb erin out you go")
    alice.expect(lambda l: l.endswith(" MODE #mine +b erin!*@*"))
    alice.expect(lambda l: l.startswith(":bob!") and l.endswith(" KICK #mine erin :out you go"))
    guests[3].send("JOIN #mine")
    guests[3].expect(lambda l: " 474 " in l)  # banned
    bob.line("/op")
    bob.wait_for("Usage: /op [#CHANNEL] NICK...")


def test_ignore_hides_messages_ctcp_and_invites(pane, connect):
    alice = connect("alice")
    carol = connect("carol")
    bob = pane("bob")
    joined(bob)
    alice.expect(lambda l: l.startswith(":bob!") and " JOIN " in l)
    bob.line("/ignore")
    bob.wait_for("--- You are not ignoring anyone")
    bob.line("/ignore ALICE")  # nicks compare in any case
    bob.wait_for("--- Ignoring ALICE: their messages, notices, CTCPs and invitations are hidden")
    alice.send("PRIVMSG #lobby :secret in the room")
    alice.send("PRIVMSG bob :secret in private")
    alice.send("NOTICE bob :secret notice")
    alice.send("PRIVMSG bob :\x01VERSION\x01")
    alice.send("INVITE bob #lobby")
    barrier(alice)
    carol.send("PRIVMSG #lobby :carol is heard")
    bob.wait_for("<carol> carol is heard")
    carol.send("PRIVMSG bob :\x01VERSION\x01")  # carol's CTCP is answered, alice's was not
    carol.expect(lambda l: l.startswith(":bob!") and " NOTICE carol :\x01VERSION " in l)
    assert not [l for l in barrier(alice) if " NOTICE alice " in l]
    assert "secret" not in bob.text() and "CTCP VERSION from alice" not in bob.text()
    bob.line("/ignore *!*@127.0.0.1")
    bob.wait_for("--- Ignoring *!*@127.0.0.1")
    carol.send("PRIVMSG #lobby :carol secret by the mask")
    bob.line("/ignore")
    bob.wait_for("--- Ignoring *!*@127.0.0.1\n")
    bob.line("/unignore *!*@127.0.0.1")
    bob.wait_for("--- No longer ignoring *!*@127.0.0.1")
    bob.line("/unignore alice")
    bob.wait_for("--- No longer ignoring alice")
    bob.line("/unignore alice")
    bob.wait_for("--- You were not ignoring alice")
    alice.send("PRIVMSG #lobby :heard again")
    bob.wait_for("<alice> heard again")
    assert "secret" not in bob.text()


def test_ignore_list_is_bounded(piped):
    bob = piped("bob")
    bob.expect_out("You joined #lobby")
    for i in range(64):
        bob.send("/ignore nick%d" % i)
    bob.expect_out("--- Ignoring nick63")
    bob.send("/ignore one-too-many")
    bob.expect_out("--- Ignoring 64 already, the most there can be; /unignore one first")
    bob.send("/ignore " + "x" * 129 + "!*@*")
    bob.expect_out("--- Too long to ignore (128 characters at most)")


def test_register_says_it_plainly(pane):
    bob = pane("bob")
    joined(bob)
    bob.line("/register correct-horse-battery")
    bob.wait_for("--- Your account bob is registered; log in with it next time (tcpchat --sasl)")
    assert "correct-horse-battery" not in bob.text().split("\n", 1)[-1].replace(
        "/register correct-horse-battery", "")
    bob.line("/register another-one-here")
    bob.wait_for(lambda t: "Error: " in t and "[REGISTER " in t)


def test_login_while_connected(pane, connect):
    owner = connect("alice")
    owner.send("REGISTER * * :a-long-password")
    owner.expect(lambda l: " REGISTER SUCCESS " in l or " 900 " in l)
    owner.send("QUIT")
    owner.wait_closed()
    bob = pane("bob")
    joined(bob)
    bob.line("/login alice wrong-password")
    bob.wait_for("Invalid password for alice")
    bob.line("/login alice a-long-password")
    bob.wait_for("You are now identified for alice")
    assert "a-long-password" not in bob.text().replace("/login alice a-long-password", "")


def test_clear_empties_the_screen(pane, connect):
    alice = connect("alice")
    bob = pane("bob")
    joined(bob)
    alice.send("PRIVMSG #lobby :before the clear")
    bob.wait_for("<alice> before the clear")
    bob.line("/clear")
    deadline = time.time() + TIMEOUT
    while True:
        screen = [l.rstrip() for l in bob._tmux("capture-pane", "-p", "-t", "main").split("\n")]
        if [l for l in screen if l] == [PROMPT.rstrip()]:
            break
        assert time.time() < deadline, screen
        time.sleep(POLL)
    alice.send("PRIVMSG #lobby :after the clear")
    bob.wait_for("<alice> after the clear")


# Hostile text in topics, away messages and whois replies is neutralised too.
def test_control_characters_in_new_texts(piped, connect):
    alice = connect("alice")  # first in #lobby: may set the topic
    bob = piped("bob")
    bob.expect_out("--> You joined #lobby")
    alice.expect(lambda l: l.startswith(":bob!") and " JOIN " in l)
    alice.send_raw(b"TOPIC #lobby :top\x1b]0;pwned\x07ic\r\n")
    bob.expect_out("alice set the topic: top")
    alice.send_raw(b"AWAY :out\x1b[2J\xc2\x9bside\r\n")
    bob.expect_out("alice is away (out")
    bob.send("/whois alice")
    bob.expect_out("End of WHOIS for alice")
    bob.send("/topic")
    bob.expect_out("Topic set by alice")
    assert b"\x1b" not in bob.out and b"\x07" not in bob.out and b"\x9b" not in bob.out
    assert b"alice set the topic: top?]0;pwned?ic" in bob.out
    assert b"alice is away (out?[2J?side)" in bob.out
    assert b"alice is away: out?[2J?side" in bob.out
    status, _, _ = bob.finish()
    assert status == 0


# ---------------------------------------------------------------------------------------------
# SASL PLAIN login: --password and --password-file (issue 6, client part). A scripted server
# plays the login, so the test sees the exact AUTHENTICATE payload.

import base64  # noqa: E402


@pytest.fixture
def sasl_fake():
    """A FakeServer; sasl_fake.pane(nick, *options, accept=True) starts tcpchat with options
    in a pane (accept=False: the test accepts once tcpchat has its password)."""
    srv = FakeServer()
    panes = []

    def make(nick, *options, accept=True):
        p = Pane(srv.port, nick, options=options)
        panes.append(p)
        if accept:
            srv.accept()
        return p

    srv.pane = make
    yield srv
    for p in panes:
        text = p.text()
        p.kill()
        for bad in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
            assert bad not in text, text
    srv.close()


def password_file(tmp_path, password, name="password"):
    path = tmp_path / name
    path.write_text(password + "\n")
    return str(path)


def sasl_payload(nick, password):
    return base64.b64encode(b"\0" + nick.encode() + b"\0" + password.encode()).decode()


def offer_sasl(srv, nick, offer="sasl=PLAIN,EXTERNAL server-time"):
    """CAP LS with sasl; expects the REQ to include it and ACKs it."""
    srv.expect("CAP LS 302")
    srv.expect("NICK %s" % nick)
    srv.expect("USER %s " % nick)
    srv.send(":fake.server CAP * LS :" + offer)
    asked = srv.expect("CAP REQ ").split(" :", 1)[1].split()
    assert "sasl" in asked, asked
    srv.send(":fake.server CAP %s ACK :%s" % (nick, " ".join(asked)))


def authenticate(srv):
    """Plays AUTHENTICATE PLAIN; returns the payload lines the client sent."""
    srv.expect("AUTHENTICATE PLAIN")
    assert not any(l.startswith("CAP END") for l in srv.seen), srv.seen
    srv.send("AUTHENTICATE +")
    chunks = []
    while True:
        chunk = srv.expect("AUTHENTICATE ").split(" ", 1)[1]
        chunks.append(chunk)
        if len(chunk) < 400:
            return chunks


# Success: the exact payload (cut in 400-byte lines, "+" after an exact multiple), then CAP
# END only after 903, and the account is shown.
@pytest.mark.parametrize("password", ["hunter2", "x" * 593, "y" * 700],
                         ids=["short", "exactly-800", "three-lines"])
def test_sasl_login(sasl_fake, tmp_path, password):
    alice = sasl_fake.pane("alice", "--password-file", password_file(tmp_path, password))
    offer_sasl(sasl_fake, "alice")
    chunks = authenticate(sasl_fake)
    payload = sasl_payload("alice", password)
    assert all(len(c) == 400 for c in chunks[:-1]), chunks
    if len(payload) % 400 == 0:
        assert chunks[-1] == "+"
        chunks = chunks[:-1]
    assert "".join(chunks) == payload
    sasl_fake.send(":fake.server 900 alice alice!u@h alice :You are now logged in as alice")
    sasl_fake.send(":fake.server 903 alice :SASL authentication successful")
    sasl_fake.expect("CAP END")
    sasl_fake.welcome("alice")
    joined(alice)
    text = alice.wait_for("--- You are now logged in as alice")
    assert password not in text
    assert not any(password in l for l in sasl_fake.seen)  # only ever in base64


# Failure: one clear line, exit status 1, no registration.
def test_sasl_login_failed(sasl_fake, tmp_path):
    alice = sasl_fake.pane("alice", "--password-file", password_file(tmp_path, "wrong"))
    offer_sasl(sasl_fake, "alice")
    chunks = authenticate(sasl_fake)
    assert chunks == [sasl_payload("alice", "wrong")]
    sasl_fake.send(":fake.server 904 alice :SASL authentication failed")
    assert alice.exit_status() == 1
    text = alice.text()
    assert text.count("tcpchat: login failed: SASL authentication failed\n") == 1, text
    assert "CAP END" not in sasl_fake.seen


# A server without SASL, or without CAP at all, or without PLAIN: the password is not sent.
@pytest.mark.parametrize("server", ["no-sasl", "no-cap", "no-plain"])
def test_sasl_not_offered(sasl_fake, tmp_path, server):
    alice = sasl_fake.pane("alice", "--password-file", password_file(tmp_path, "hunter2"))
    sasl_fake.expect("USER alice ")
    if server == "no-sasl":
        sasl_fake.send(":fake.server CAP * LS :server-time echo-message")
    elif server == "no-plain":
        sasl_fake.send(":fake.server CAP * LS :server-time sasl=EXTERNAL")
    else:
        sasl_fake.send(":fake.server 421 * CAP :Unknown command")
        sasl_fake.send(":fake.server 001 alice :Welcome")
    assert alice.exit_status() == 1
    text = alice.text()
    lines = [l for l in text.split("\n") if l.startswith("tcpchat: ")]
    assert len(lines) == 1, text
    assert "SASL" in lines[0] and "password was not sent" in lines[0], lines
    assert not any(l.startswith("AUTHENTICATE") or "hunter2" in l for l in sasl_fake.seen)


# --password on a terminal: asked before connecting, not echoed.
def test_sasl_password_prompt(sasl_fake):
    alice = sasl_fake.pane("alice", "--password", accept=False)
    alice.wait_for("Password for alice on 127.0.0.1: ")
    alice.type("s3cret word", enter=True)
    sasl_fake.accept()
    offer_sasl(sasl_fake, "alice")
    assert authenticate(sasl_fake) == [sasl_payload("alice", "s3cret word")]
    sasl_fake.send(":fake.server 900 alice alice!u@h alice :You are now logged in as alice")
    sasl_fake.send(":fake.server 903 alice :SASL authentication successful")
    sasl_fake.expect("CAP END")
    sasl_fake.welcome("alice")
    joined(alice)
    assert "s3cret" not in alice.text()


# --password with stdin on a pipe: the first line is the password, the rest is the chat.
def test_sasl_password_from_pipe(tmp_path):
    srv = FakeServer()
    proc = subprocess.Popen([CLIENT_BIN, "--password", "127.0.0.1", str(srv.port), "alice"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        proc.stdin.write(b"piped pass\nhello after login\n")
        proc.stdin.flush()
        srv.accept()
        offer_sasl(srv, "alice")
        assert authenticate(srv) == [sasl_payload("alice", "piped pass")]
        srv.send(":fake.server 903 alice :SASL authentication successful")
        srv.expect("CAP END")
        # As tcpchatd does: the JOIN of the default channel before the PONG (welcome() sends
        # it after, and a piped line would be read before there is a channel for it).
        srv.send(":fake.server 001 alice :Welcome, alice")
        srv.send(":fake.server 422 alice :MOTD File is missing")
        token = srv.expect("PING ").split(" ", 1)[1].lstrip(":")
        srv.send(":alice!u@h JOIN #lobby")
        srv.send(":fake.server PONG fake.server :" + token)
        srv.expect("PRIVMSG #lobby :hello after login")
        proc.stdin.close()
        srv.expect("QUIT")
        srv.conn.close()
        assert proc.wait(timeout=TIMEOUT) == 0
        assert b"piped pass" not in proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        srv.close()


def test_password_options_usage(tmp_path):
    r = subprocess.run([CLIENT_BIN, "--password", "--password-file", "x", "h", "1", "n"],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)
    assert r.returncode == 2
    r = subprocess.run([CLIENT_BIN, "--password-file", str(tmp_path / "missing"), "127.0.0.1",
                        "1", "alice"], stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=TIMEOUT)
    assert r.returncode == 1
    assert r.stderr.decode().startswith("tcpchat: cannot read the password file ")
    empty = tmp_path / "empty"
    empty.write_text("\n")
    r = subprocess.run([CLIENT_BIN, "--password-file", str(empty), "127.0.0.1", "1", "alice"],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)
    assert r.returncode == 1 and "is empty" in r.stderr.decode()


# issue 17, bug 4: the server's own password (IRC PASS) has its options, apart from the SASL
# login (--sasl, --sasl-file; --password and --password-file stay as their old names)
def test_server_password(server_factory, tmp_path):
    srv = server_factory("--password", "letmein")
    good = Pane(srv.port, "alice",
                options=["--server-password-file", password_file(tmp_path, "letmein", "srv")])
    bad = None
    try:
        joined(good)
        bad = Pane(srv.port, "bob",
                   options=["--server-password-file", password_file(tmp_path, "nope", "bad")])
        assert bad.exit_status() == 1
        assert "Bad password" in bad.text() or "Password incorrect" in bad.text(), bad.text()
    finally:
        for p in (good, bad):
            if p:
                p.kill()
    r = subprocess.run([CLIENT_BIN, "--server-password", "--server-password-file", "x", "h", "1",
                        "n"], stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)
    assert r.returncode == 2 and "contradict" in r.stderr.decode()
    r = subprocess.run([CLIENT_BIN, "--sasl", "--sasl-file", "x", "h", "1", "n"],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)
    assert r.returncode == 2 and "--sasl and --sasl-file contradict" in r.stderr.decode()
    r = subprocess.run([CLIENT_BIN, "--help"], capture_output=True, timeout=TIMEOUT)
    for option in ("--sasl ", "--sasl-file", "--server-password ", "--server-password-file"):
        assert option in r.stdout.decode(), option


# The real server: an account registered with REGISTER, then tcpchat logs in to it; a wrong
# password ends tcpchat with the server's reason.
def test_sasl_with_tcpchatd(server, tmp_path):
    from test_accounts import PASSWORD, register_and_leave
    register_and_leave(server, "alice")
    register_and_leave(server, "bob")
    good = Pane(server.port, "alice",
                options=["--password-file", password_file(tmp_path, PASSWORD, "good")])
    bad = None
    try:
        joined(good)
        good.wait_for("--- You are now logged in as alice")
        good.line("/whois alice")
        good.wait_for("--- alice is logged in as alice")
        bad = Pane(server.port, "bob",
                   options=["--password-file", password_file(tmp_path, "not it", "bad")])
        assert bad.exit_status() == 1
        lines = [l for l in bad.text().split("\n") if l.startswith("tcpchat: ")]
        assert lines == ["tcpchat: login failed: SASL authentication failed"], lines
    finally:
        for p in (good, bad):
            if p:
                text = p.text()
                p.kill()
                assert "Sanitizer" not in text and "runtime error:" not in text, text


# --- reconnecting (issue 17) -------------------------------------------------------------------

class Proxy:
    """A TCP relay on 127.0.0.1 between tcpchat and the server, which the test can cut (every
    connection closed), make refuse (new connections closed at once), or freeze (nothing
    forwarded on the connections open now, either way, while they stay open: a server that
    vanished; later connections are relayed)."""

    def __init__(self, target_port):
        self.target = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.pairs = []
        self.refusing = False
        self.frozen = []
        self.lock = threading.Lock()
        self.done = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.done:
            with self.lock:
                socks = [self.listener]
                socks += [s for pair in self.pairs if pair not in self.frozen for s in pair]
                readable, _, _ = select.select(socks, [], [], 0.05)
                for s in readable:
                    if s is self.listener:
                        self._accept()
                    else:
                        self._forward(s)

    def _accept(self):
        c, _ = self.listener.accept()
        if self.refusing:
            c.close()
            return
        try:
            u = socket.create_connection(("127.0.0.1", self.target), timeout=TIMEOUT)
        except OSError:
            c.close()
            return
        self.pairs.append((c, u))

    def _forward(self, s):
        pair = next((p for p in self.pairs if s in p), None)
        if not pair:
            return
        other = pair[1] if s is pair[0] else pair[0]
        try:
            data = s.recv(65536)
            if data:
                other.sendall(data)
                return
        except OSError:
            pass
        self._drop(pair)

    def _drop(self, pair):
        for s in pair:
            s.close()
        self.pairs.remove(pair)

    def freeze(self):
        with self.lock:
            self.frozen = list(self.pairs)

    def thaw(self):
        with self.lock:
            self.frozen = []

    def cut(self):
        with self.lock:
            for pair in list(self.pairs):
                self._drop(pair)

    def close(self):
        self.done = True
        self.thread.join(TIMEOUT)
        self.cut()
        self.listener.close()


@pytest.fixture
def proxy():
    made = []

    def make(port):
        p = Proxy(port)
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


def wait_quit(client, nick):
    client.expect(lambda l: l.startswith(":%s!" % nick) and " QUIT " in l)


def test_reconnect_rejoins_and_shows_exactly_what_was_missed(server, pane, connect, proxy):
    relay = proxy(server.port)
    bob = pane("bob", port=relay.port)
    joined(bob)
    bob.line("/join #dev")
    bob.wait_for(lambda t: bob.input_line() == "#dev>")
    alice = connect("alice")
    alice.send("JOIN #dev")
    bob.wait_for("--> alice joined #dev")
    alice.send("PRIVMSG #dev :before the cut")
    bob.wait_for("<alice> before the cut")
    bob.line("/query alice")
    bob.wait_for(lambda t: bob.input_line() == "alice>")

    relay.refusing = True
    relay.cut()
    bob.wait_for("--- Disconnected: ")
    bob.wait_for("--- Reconnecting to 127.0.0.1 port %d in 1 s" % relay.port)
    wait_quit(alice, "bob")
    for i in range(150):  # more than one page of CHATHISTORY AFTER
        alice.send("PRIVMSG #dev :missed %d" % i)
    barrier(alice)
    bob.wait_for("--- Reconnecting to 127.0.0.1 port %d in 2 s" % relay.port)  # backing off
    relay.refusing = False

    bob.wait_for("--- Connected to 127.0.0.1 port %d again; registering." % relay.port)
    alice.expect(lambda l: l.startswith(":bob!") and l.endswith(" JOIN #dev"))
    text = bob.wait_for("<alice> missed 149")
    for i in range(150):
        assert text.count("<alice> missed %d\n" % i) == 1, i
    assert text.count("<alice> before the cut") == 1
    assert text.index("missed 99\n") < text.index("missed 100\n")
    # The current target is still the private conversation; the channel is joined again.
    bob.wait_for(lambda t: bob.input_line() == "alice>")
    bob.line("still here")
    alice.expect(is_privmsg("bob", "alice", "still here"))
    bob.line("/join #dev")
    bob.wait_for(lambda t: bob.input_line() == "#dev>")
    bob.line("back in dev")
    alice.expect(is_privmsg("bob", "#dev", "back in dev"))


# Private conversations are caught up too (CHATHISTORY AFTER the last msgid seen of each, page
# by page; the server keeps private history for logged-in users), and /away is said again.
# The relay is frozen first, so the server sends alice's messages to a connection that never
# delivers them.
def test_reconnect_catches_up_private_conversations_and_away(server, pane, proxy, tmp_path):
    from test_accounts import PASSWORD, register_and_leave, sasl_client
    register_and_leave(server, "alice")
    register_and_leave(server, "bob")
    relay = proxy(server.port)
    bob = pane("bob", port=relay.port,
               options=("--sasl-file", password_file(tmp_path, PASSWORD)))
    joined(bob)
    alice = sasl_client(server.port, "alice", PASSWORD)
    alice.send("PRIVMSG bob :before the cut")
    bob.wait_for("*alice* before the cut")
    bob.line("/msg alice and my answer")
    alice.expect(is_privmsg("bob", "alice", "and my answer"))
    bob.line("/away gone fishing")
    bob.wait_for("--- You are marked as away")

    relay.freeze()
    for i in range(120):  # more than one page
        alice.send("PRIVMSG bob :missed %d" % i)
    barrier(alice)
    relay.cut()
    bob.wait_for("--- Disconnected: ")
    wait_quit(alice, "bob")
    text = bob.wait_for("*alice* missed 119")
    for i in range(120):
        assert text.count("*alice* missed %d\n" % i) == 1, i
    assert text.count("*alice* before the cut") == 1
    assert text.count("and my answer") == 1
    assert text.index("missed 99\n") < text.index("missed 100\n")
    alice.send("WHOIS bob")
    away = alice.expect(lambda l: " 301 " in l or " 318 " in l)
    assert " 301 alice bob :gone fishing" in away, away
    alice.send("PRIVMSG bob :live again")
    bob.wait_for("*alice* live again")


def test_reconnect_across_a_server_restart(server_factory, pane, connect, proxy):
    srv = server_factory()
    relay = proxy(srv.port)
    bob = pane("bob", port=relay.port)
    joined(bob)
    alice = Client(srv.port, "alice")
    alice.send("PRIVMSG #lobby :said before the restart")
    bob.wait_for("<alice> said before the restart")
    relay.refusing = True  # bob comes back only once the test has spoken
    srv.stop()
    bob.wait_for("--- Disconnected: ")
    again = server_factory(port=srv.port)
    alice = Client(again.port, "alice")
    alice.send("PRIVMSG #lobby :said while bob was away")
    barrier(alice)
    relay.refusing = False
    text = bob.wait_for("[history] <alice> said while bob was away")
    assert text.count("said before the restart") == 1
    alice.send("PRIVMSG #lobby :live again")
    bob.wait_for("<alice> live again")
    bob.line("hello again")
    alice.expect(is_privmsg("bob", "#lobby", "hello again"))
    alice.close()


def test_keepalive_notices_a_silent_server(server, pane, connect, proxy):
    relay = proxy(server.port)
    bob = pane("bob", port=relay.port, options=("--keepalive", "1"))
    joined(bob)
    relay.freeze()
    bob.wait_for("--- Disconnected: connection to the server lost: no answer from the server")
    # The server has not seen the old connection go: its nick is taken, so bob_.
    bob.wait_for("--- Nickname bob is in use; trying bob_")
    alice = connect("alice")
    alice.send("PRIVMSG #lobby :who is here")
    bob.wait_for("<alice> who is here")
    bob.line("me, as bob_")
    alice.expect(is_privmsg("bob_", "#lobby", "me, as bob_"))
    relay.thaw()  # the old connection's end reaches the server
    wait_quit(alice, "bob")


def test_ctrl_c_while_waiting_to_reconnect_quits(server, pane, proxy):
    """(A pipe does not reconnect: test_server_closing_the_connection.)"""
    relay = proxy(server.port)
    bob = pane("bob", port=relay.port)
    joined(bob)
    relay.refusing = True
    relay.cut()
    bob.wait_for("--- Reconnecting to ")
    bob._tmux("send-keys", "-t", "main", "C-c")
    assert bob.exit_status() == 0


# /server HOST PORT [PASSWORD] leaves this server (QUIT) for another, with its password (IRC
# PASS), joining the same channels there; the current channel stays the current one.
def test_server_command_switches_servers(server, server_factory, pane, connect):
    other = server_factory("--password", "letmein")
    alice = pane("alice")
    joined(alice)
    alice.line("/join #dev")
    alice.wait_for(lambda t: alice.input_line() == "#dev>")
    carol = connect("carol")
    carol.expect(" 366 ")
    alice.line("/server elsewhere")
    alice.wait_for("Usage: /server HOST PORT [PASSWORD] (PORT: 1 to 65535)")
    bob = Client(other.port)
    bob.send("PASS letmein")
    bob.register("bob")
    bob.send("JOIN #dev")
    bob.expect(" 366 ")

    alice.line("/server 127.0.0.1 %d letmein" % other.port)
    carol.expect(lambda l: l.startswith(":alice!") and " QUIT :Quit: Changing servers" in l)
    alice.wait_for("--- Connecting to 127.0.0.1 port %d" % other.port)
    bob.expect(lambda l: l.startswith(":alice!") and l.endswith(" JOIN #dev"))
    alice.wait_for(lambda t: alice.input_line() == "#dev>")
    alice.line("hello over here")
    bob.expect(is_privmsg("alice", "#dev", "hello over here"))
    bob.send("PRIVMSG #dev :welcome")
    alice.wait_for("<bob> welcome")
    bob.close()


# A /server that cannot be had (a refused password, a port nobody listens on) is tried 3 times;
# then the client goes back to the server it was on, with that server's password, and its
# channels.
@pytest.mark.parametrize("why", ["password", "port"])
def test_server_gives_up_and_goes_back(server_factory, why):
    home = server_factory("--password", "homepw")
    other = server_factory("--password", "letmein")
    carol = Client(home.port)
    carol.send("PASS homepw")
    carol.register("carol")
    carol.expect(" 366 ")
    alice = Pane(home.port, "alice", options=("--server-password",))
    try:
        alice.wait_for("Server password for 127.0.0.1: ")
        alice.line("homepw")
        joined(alice)
        target = ("%d wrong" % other.port) if why == "password" else str(free_port())
        alice.line("/server 127.0.0.1 " + target)
        alice.wait_for("--- Giving up on 127.0.0.1 port %s after 3 tries; back to 127.0.0.1 "
                       "port %d" % (target.split()[0], home.port))
        carol.expect(lambda l: l.startswith(":alice!") and l.endswith(" JOIN #lobby"))
        alice.wait_for(lambda t: alice.input_line() == "#lobby>")
        alice.line("home again")
        carol.expect(is_privmsg("alice", "#lobby", "home again"))
    finally:
        text = alice.text()
        alice.kill()
        carol.close()
        assert "Sanitizer" not in text and "runtime error:" not in text, text


# /hidejoins hides others' joins, parts and quits (not ours, nor their messages); again shows
# them. Tab still knows who joined meanwhile.
def test_hidejoins_toggles_join_part_and_quit_lines(pane, connect):
    alice = pane("alice")
    joined(alice)
    alice.line("/hidejoins")
    alice.wait_for("--- Others' joins, parts and quits are hidden now")
    bob = connect("bob")
    bob.expect(" 366 ")
    bob.send("PRIVMSG #lobby :quiet entrance")
    alice.wait_for("<bob> quiet entrance")
    bob.send("PART #lobby")
    bob.send("JOIN #lobby")
    bob.expect(" 366 ")
    alice.line("/join #dev")
    alice.wait_for("--> You joined #dev")
    alice.line("/hidejoins")
    alice.wait_for("--- Others' joins, parts and quits are shown again")
    carol = connect("carol")
    carol.send("JOIN #dev")
    alice.wait_for("--> carol joined #dev")
    text = alice.text()
    assert "bob joined" not in text and "bob left" not in text, text


# --- nick colours, mentions (issue 17) ----------------------------------------------------------

def pane_escaped(p):
    """The pane with its colours and attributes as escape sequences (tmux capture-pane -e)."""
    return p._tmux("capture-pane", "-p", "-e", "-J", "-S", "-1000", "-t", "main")


def bell_rang(p):
    return p._tmux("display", "-p", "-t", "main", "#{window_bell_flag}").strip() == "1"


def screen_line(text, needle):
    return next(l for l in text.split("\n") if needle in l)


def test_nicks_in_colour_and_mentions_in_bold_with_the_bell(pane, connect):
    alice = connect("alice")
    bob = pane("bob")
    joined(bob)
    alice.send("PRIVMSG #lobby :just chatting about bobby tables")
    bob.wait_for("just chatting about bobby tables")
    line = screen_line(pane_escaped(bob), "just chatting")
    # alice's nick in a colour of its own (SGR 31-36), back to the default after it
    assert re.search(r"<\x1b\[3[1-6]malice\x1b\[39m>", line), repr(line)
    assert "\x1b[1m" not in line  # "bobby" is not bob
    assert not bell_rang(bob)
    alice.send("PRIVMSG #lobby :hey BOB, look at this")
    bob.wait_for("hey BOB, look at this")
    line = screen_line(pane_escaped(bob), "hey BOB")
    assert "\x1b[1m" in line, repr(line)  # for us: bold
    bob.wait_for(lambda t: bell_rang(bob))
    carol = connect("carol")
    carol.send("PRIVMSG #lobby :same colour every time?")
    alice.send("PRIVMSG #lobby :again from alice")
    bob.wait_for("again from alice")
    text = pane_escaped(bob)
    colour = re.search(r"<(\x1b\[3[1-6]m)alice", screen_line(text, "again from alice")).group(1)
    assert colour == re.search(r"<(\x1b\[3[1-6]m)alice", screen_line(text, "just chatting")).group(1)


def test_a_pipe_gets_no_escape_codes_or_bell(piped, connect):
    alice = connect("alice")
    bob = piped("bob")
    bob.expect_out("You joined #lobby")
    alice.send("PRIVMSG #lobby :bob: plain text please")
    bob.expect_out("<alice> bob: plain text please")
    assert b"\x1b" not in bob.out and b"\a" not in bob.out


def test_mirc_formatting_is_rendered_in_a_terminal_and_dropped_on_a_pipe(pane, piped, connect):
    alice = connect("alice")
    bob = pane("bob")
    joined(bob)
    carol = piped("carol")
    carol.expect_out("You joined #lobby")
    alice.send("PRIVMSG #lobby :\x02loud\x02 then \x0304red\x03 then \x1dslanted\x1d "
               "then \x1b[31mraw escape")
    bob.wait_for("raw escape")
    line = screen_line(pane_escaped(bob), "raw escape")
    assert re.search(r"\x1b\[1mloud", line), repr(line)
    assert re.search(r"\x1b\[(\d+;)*91mred", line), repr(line)
    assert re.search(r"\x1b\[3mslanted", line), repr(line)
    assert "?[31mraw escape" in line, repr(line)  # a peer's own escape is never passed on
    assert line.rstrip().endswith("raw escape") or "\x1b[0m" in line
    carol.expect_out("<alice> loud then red then slanted then ?[31mraw escape")
    assert b"\x02" not in carol.out and b"\x03" not in carol.out
