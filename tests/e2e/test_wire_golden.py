"""The wire output of a scripted session, byte for byte, against a recorded transcript
(tests/e2e/golden/session.txt). It pins what every client sees, so that a change inside the
server (a module split, a new fan-out path) that alters a single byte of any reply fails here.

The script drives four clients through registration with and without capabilities, channels
(JOIN, PART, TOPIC, every channel mode, KICK, INVITE, LIST, NAMES), messages of every kind
(channel, private, STATUSMSG, NOTICE, TAGMSG, echo-message, labeled-response), queries (WHO,
WHOX, WHOIS, WHOWAS, ISON, USERHOST, LUSERS, VERSION, INFO, ADMIN, MOTD), AWAY, SETNAME, NICK,
accounts (REGISTER, SASL PLAIN), operator commands, history (the join replay and
CHATHISTORY), bad input, and QUIT. After each command every client is synchronised (two
rounds of PING, so that whatever the command caused has reached everyone before), and each
client's lines are recorded under that step. What varies from run to run (times, msgids,
dates) is replaced by a placeholder before comparing.

TCPCHAT_GOLDEN_UPDATE=1 rewrites the transcript instead of comparing (only on purpose: the
point of the file is that it does not change)."""
import base64
import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT, SERVER_BIN, Client, Msg, take_until

GOLDEN = os.path.join(ROOT, "tests", "e2e", "golden", "session.txt")

# What changes from run to run, and its placeholder.
VARIABLE = [
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"), "<TIME>"),
    (re.compile(r"msgid=[0-9a-z]+-[0-9a-z]+"), "msgid=<MSGID>"),
    (re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"), "<DATE>"),
    (re.compile(r"\b1\d{9}\b"), "<EPOCH>"),
    (re.compile(r"[A-Z][a-z]+day [A-Z][a-z]+ \d\d \d{4} -- \d\d:\d\d:\d\d \+00:00"), "<NOW>"),
]


def normalise(line):
    for pattern, repl in VARIABLE:
        line = pattern.sub(repl, line)
    return line


def mkpasswd(password):
    p = subprocess.run([SERVER_BIN, "--mkpasswd"], input=(password + "\n").encode(),
                       capture_output=True, check=True)
    return p.stdout.decode().strip()


class Session:
    """Named clients and the transcript of what each saw, step by step."""

    def __init__(self, port):
        self.port = port
        self.clients = {}
        self.order = []
        self.out = []
        self.sync = 0

    def connect(self, name):
        c = Client(self.port)
        self.clients[name] = c
        self.order.append(name)
        self.out.append("== connect %s" % name)
        return c

    def _settle(self):
        """Two rounds of PING on every client: the first proves the server handled the step,
        the second that anything the step posted to other workers' mailboxes went out before
        it (see the module docstring). Records each client's lines before the last PONG."""
        for _ in range(2):
            for name in self.order:
                c = self.clients[name]
                if c.closed:
                    continue
                self.sync += 1
                token = "golden%d" % self.sync
                seen = []
                try:
                    c.send("PING :" + token)
                    take_until(c, lambda l, t=token: seen.append(l) or (
                        Msg(l).command == "PONG" and Msg(l).text == t))
                    seen.pop()
                except (AssertionError, OSError):
                    c.closed = c.closed or not isinstance(sys.exc_info()[1], AssertionError)
                    if not c.closed:  # a KILL closes a connection mid-step
                        raise
                c.pending = getattr(c, "pending", []) + seen
        for name in list(self.order):
            c = self.clients[name]
            for line in getattr(c, "pending", []):
                self.out.append("<< %s: %s" % (name, normalise(line)))
            c.pending = []
            if c.closed:
                self.out.append("== %s closed" % name)
                self.order.remove(name)

    def step(self, name, line, wait=None):
        """name sends line (str or bytes); wait: (client name, predicate) to wait for before
        settling, for answers that come from another thread (the history writer, the account
        thread)."""
        c = self.clients[name]
        shown = line if isinstance(line, str) else line.decode("utf-8", "backslashreplace")
        self.out.append(">> %s: %s" % (name, shown))
        if isinstance(line, str):
            c.send(line)
        else:
            c.send_raw(line + b"\r\n")
        if wait:
            who, pred = wait
            w = self.clients[who]
            w.pending = getattr(w, "pending", []) + take_until(w, pred)
        self._settle()

    def quit(self, name, line="QUIT :bye"):
        c = self.clients[name]
        self.out.append(">> %s: %s" % (name, line))
        c.send(line)
        lines = c.wait_closed()
        for l in lines:
            self.out.append("<< %s: %s" % (name, normalise(l)))
        self.order.remove(name)
        c.close()
        self._settle()


def script(s):
    caps = ("message-tags server-time echo-message labeled-response batch extended-join "
            "multi-prefix away-notify account-notify invite-notify userhost-in-names setname "
            "account-tag cap-notify draft/chathistory sasl")
    s.connect("alice")
    s.step("alice", "CAP LS 302")
    s.step("alice", "CAP REQ :" + caps)
    s.step("alice", "NICK alice")
    s.step("alice", "USER alice 0 * :Alice Liddell")
    s.step("alice", "CAP END")
    s.connect("bob")
    s.step("bob", "NICK bob")
    s.step("bob", "USER bob 0 * :Bob")
    s.connect("carol")
    s.step("carol", "CAP REQ :multi-prefix extended-join away-notify")
    s.step("carol", "NICK carol")
    s.step("carol", "USER c4r0l!! 0 * :Carol")
    s.step("carol", "CAP END")

    # Channels and messages.
    s.step("alice", "JOIN #golden")
    s.step("bob", "JOIN #golden,#second")
    s.step("carol", "JOIN #golden")
    s.step("alice", "@label=l1 PRIVMSG #golden :hello everyone")
    s.step("bob", "PRIVMSG #golden :hi alice")
    s.step("carol", "NOTICE #golden :a notice")
    s.step("alice", "@+draft/react=x;label=l2 TAGMSG #golden")
    s.step("alice", "PRIVMSG bob :psst")
    s.step("bob", "PRIVMSG alice,carol :both of you")
    s.step("alice", "@label=l3 PRIVMSG nobody :where are you")
    s.step("alice", "PRIVMSG #nowhere :hello?")
    s.step("alice", "TOPIC #golden :The golden topic")
    s.step("bob", "TOPIC #golden")
    s.step("bob", "TOPIC #golden :not allowed")
    s.step("alice", "MODE #golden")
    s.step("alice", "MODE #golden +ov bob bob")
    s.step("alice", "MODE #golden +v carol")
    s.step("alice", "PRIVMSG @#golden :ops only")
    s.step("carol", "PRIVMSG +#golden :voiced and ops")
    s.step("alice", "NAMES #golden")
    s.step("carol", "NAMES #golden")
    s.step("alice", "MODE #golden +k-t secret")
    s.step("alice", "MODE #golden +l 10")
    s.step("alice", "MODE #golden +b dave!*@*")
    s.step("alice", "MODE #golden +e *!*@127.0.0.1")
    s.step("alice", "MODE #golden +I eve")
    s.step("alice", "MODE #golden b")
    s.step("alice", "MODE #golden e")
    s.step("carol", "MODE #golden I")
    s.step("carol", "MODE #golden +m")
    s.step("alice", "MODE #golden +xyz")
    s.step("alice", "MODE #golden +o nobody")
    s.step("alice", "MODE #golden +o")
    s.step("alice", "MODE #golden -k *")
    s.step("alice", "MODE #golden +smi-lv carol")
    s.step("carol", "MODE #golden")
    s.step("alice", "MODE alice")
    s.step("alice", "MODE alice +iw-x")
    s.step("alice", "MODE bob +i")
    s.step("alice", "INVITE dave #golden")
    s.connect("dave")
    s.step("dave", "NICK dave")
    s.step("dave", "USER dave 0 * :Dave")
    s.step("dave", "JOIN #golden")
    s.step("alice", "INVITE dave #golden")
    # The history replay comes from the writer thread: a PING's answer may overtake it.
    s.step("dave", "JOIN #golden", wait=("dave", lambda l: l.endswith(" :a notice")))
    s.step("alice", "MODE #golden -b dave!*@*")
    s.step("alice", "KICK #golden dave :out you go")
    s.step("alice", "KICK #golden carol,nobody")
    s.step("alice", "MODE #golden -o bob")
    s.step("bob", "KICK #golden alice")
    s.step("alice", "LIST")
    s.step("dave", "LIST")
    s.step("alice", "LIST #sec*")
    s.step("bob", "PART #second :leaving")
    s.step("bob", "PART #second")
    s.step("bob", "PART #nothere")

    # Queries.
    s.step("alice", "WHO #golden")
    s.step("alice", "WHO #golden %tcuhnfar,42")
    s.step("dave", "WHO #golden")
    s.step("alice", "WHO bob")
    s.step("alice", "WHOIS bob")
    s.step("alice", "WHOIS nobody")
    s.step("alice", "WHOWAS nobody")
    s.step("alice", "ISON bob nobody carol")
    s.step("alice", "USERHOST bob carol nobody")
    s.step("alice", "LUSERS")
    s.step("alice", "VERSION")
    s.step("alice", "ADMIN")
    s.step("alice", "INFO")
    s.step("alice", "MOTD")
    s.step("alice", "TIME")
    s.step("bob", "AWAY :gone fishing")
    s.step("alice", "PRIVMSG bob :are you there")
    s.step("alice", "WHOIS bob")
    s.step("bob", "AWAY")
    s.step("alice", "SETNAME :Alice in Wonderland")
    s.step("bob", "NICK robert")
    s.step("alice", "WHOWAS bob")

    # Accounts and operators.
    s.step("carol", "REGISTER * * :carolpassword",
           wait=("carol", lambda l: Msg(l).command in ("REGISTER", "FAIL")))
    s.connect("erin")
    s.step("erin", "CAP REQ :sasl")
    s.step("erin", "NICK erin")
    s.step("erin", "USER erin 0 * :Erin")
    s.step("erin", "AUTHENTICATE PLAIN")
    payload = base64.b64encode(b"\0carol\0carolpassword").decode()
    s.step("erin", "AUTHENTICATE " + payload,
           wait=("erin", lambda l: Msg(l).command in ("903", "904")))
    s.step("erin", "CAP END")
    # OPER passwords are checked on the account thread: wait for the answer.
    s.step("alice", "OPER admin wrong", wait=("alice", lambda l: Msg(l).command == "464"))
    s.step("alice", "OPER admin goldenpw", wait=("alice", lambda l: Msg(l).command == "MODE"))
    s.step("alice", "WALLOPS :to all operators")
    s.step("alice", "ANNOUNCE :hello world")
    s.step("bob", "KILL carol :no")
    # Everything erin is sent before the server closes it is read before anything is sent to
    # it again (a write after the close draws a reset, which may discard unread lines).
    s.step("alice", "KILL erin :goodbye", wait=("erin", lambda l: l.startswith("ERROR ")))

    # History.
    s.step("alice", "CHATHISTORY LATEST #golden * 5",
           wait=("alice", lambda l: Msg(l).command == "BATCH" and Msg(l).params[0][0] == "-"))
    s.step("alice", "@label=h2 CHATHISTORY BEFORE #golden timestamp=2099-01-01T00:00:00.000Z 2",
           wait=("alice", lambda l: Msg(l).command == "BATCH" and Msg(l).params[0][0] == "-"))
    s.step("alice", "CHATHISTORY TARGETS timestamp=2000-01-01T00:00:00.000Z "
           "timestamp=2099-01-01T00:00:00.000Z 10",
           wait=("alice", lambda l: Msg(l).command == "BATCH" and Msg(l).params[0][0] == "-"))
    s.step("alice", "CHATHISTORY LATEST #second * 5")
    s.step("alice", "CHATHISTORY FOO #golden * 5")
    s.step("dave", "JOIN #golden")
    s.step("alice", "INVITE dave #golden")
    s.step("dave", "JOIN #golden", wait=("dave", lambda l: l.endswith(" :a notice")))

    # Bad input.
    s.step("bob", "FROBNICATE now")
    s.step("bob", "JOIN")
    s.step("bob", b"PRIVMSG #golden :bad \xff\xfe utf8")
    s.step("bob", b"PRIVMSG #golden :nul \x00 byte")
    s.step("bob", "PRIVMSG #golden :" + "x" * 600)
    s.step("bob", "JOIN #" + "y" * 60)
    s.step("bob", "NICK 9lives")
    s.step("bob", "NICK carol")
    s.step("bob", "PING")
    s.step("bob", "USER again 0 * :again")

    s.step("alice", "PART #golden :bye now")
    s.quit("bob", "QUIT :see you")
    s.quit("dave")
    s.quit("alice")


@pytest.mark.parametrize("workers", ["1", "2"])
def test_wire_output_unchanged(server_factory, tmp_path, workers):
    conf = tmp_path / "golden.conf"
    conf.write_text("[oper \"admin\"]\npassword = %s\nhost = *\n" % mkpasswd("goldenpw"))
    motd = tmp_path / "motd.txt"
    motd.write_text("Welcome to the golden server.\nBe nice.\n")
    srv = server_factory("--workers", workers, "--config", str(conf), "--motd", str(motd),
                         "--flood-burst", "1000", "--flood-rate", "1000",
                         "--description", "golden test server")
    s = Session(srv.port)
    try:
        script(s)
    finally:
        with open(str(tmp_path / "transcript.txt"), "w") as f:  # kept for a failing run
            f.write("\n".join(s.out) + "\n")
    got = "\n".join(s.out) + "\n"
    if os.environ.get("TCPCHAT_GOLDEN_UPDATE"):
        os.makedirs(os.path.dirname(GOLDEN), exist_ok=True)
        with open(GOLDEN, "w") as f:
            f.write(got)
        return
    with open(GOLDEN) as f:
        want = f.read()
    if got != want:
        import difflib
        diff = "".join(difflib.unified_diff(want.splitlines(True), got.splitlines(True),
                                            "golden/session.txt", "this run", n=2))
        with open(os.path.join(os.environ.get("TMPDIR", "/tmp"),
                               "tcpchat-golden-%s.diff" % workers), "w") as f:
            f.write(diff)  # kept for a look after the run
        pytest.fail("wire output differs from the recorded session:\n" + diff[:20000])
