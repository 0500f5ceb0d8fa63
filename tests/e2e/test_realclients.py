"""Real IRC clients from Debian against tcpchatd: irssi (in a tmux pane), WeeChat (headless,
driven through its FIFO plugin, read through its logger plugin) and ii (files and fifos).

Each test chats both ways with a raw-socket user, changes nick, sets a topic and gets kicked,
and checks what the other side actually received. Every wait polls (pane, log file, socket),
bounded by conftest.TIMEOUT. A test is skipped only when its client binary is missing.

TCPCHAT_PEER=ngircd runs the same tests against ngircd (see conftest) to check the tests."""
import errno
import re
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import (PEER, TIMEOUT, Client, Msg, NgircdServer, is_command, is_numeric,
                      take_until)

POLL = 0.05


@pytest.fixture
def srv(server_factory):
    """tcpchatd with its defaults (everyone auto-joins #lobby), or the TCPCHAT_PEER."""
    if PEER == "ngircd":
        s = NgircdServer()
        yield s
        s.stop()
    else:
        yield server_factory()


@pytest.fixture
def raw(srv):
    """make(nick, *channels): a raw-socket user, member of #lobby and channels (the first
    to join a new channel is its op)."""
    users = []

    def make(nick, *channels):
        c = Client(srv.port, nick)
        users.append(c)
        if PEER:
            channels = ("#lobby",) + channels
        else:
            c.expect(is_numeric("366", "#lobby"))  # tcpchatd's auto-join
        for ch in channels:
            c.send("JOIN " + ch)
            c.expect(is_numeric("366", ch))
        return c

    yield make
    for c in users:
        c.close()


def wait_until(what, cond, timeout=TIMEOUT):
    """Polls cond() until it returns something true; returns it."""
    deadline = time.time() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(POLL)


def event(user, command, nick, *params, context=None):
    """Waits for `command` from nick to the raw user; on time out the failure shows
    context() (the real client's screen or log)."""
    try:
        return Msg(user.expect(is_command(command, nick, *params)))
    except AssertionError:
        raise AssertionError("%s never received %s from %s %s\n%s" % (
            user.nick, command, nick, " ".join(params), context() if context else ""))


def wait_member(user, channel, nick, context=None):
    """Polls NAMES channel until nick is listed (the client may have joined before user
    connected, so its JOIN is not necessarily seen)."""
    deadline = time.time() + TIMEOUT
    while True:
        user.send("NAMES " + channel)
        lines = take_until(user, is_numeric("366", channel))
        for l in lines:
            m = Msg(l)
            if m.command == "353" and nick in [n.lstrip("@+") for n in m.text.split()]:
                return
        if time.time() > deadline:
            raise AssertionError("%s never joined %s\n%s" % (nick, channel,
                                                             context() if context else ""))
        time.sleep(0.1)


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


# ---------------------------------------------------------------------------------------------
# irssi in tmux

class Tmux:
    """A program in a pane of a private tmux server (socket in a directory of its own)."""

    def __init__(self, argv, width=200, height=50, env=None):
        self.dir = tempfile.mkdtemp(prefix="tcpchat-rc-tmux-")
        self.sock = os.path.join(self.dir, "tmux")
        cmd = ["env"] + ["%s=%s" % kv for kv in (env or {}).items()] + list(argv)
        self._tmux("-f", "/dev/null", "new-session", "-d", "-s", "main", "-x", str(width),
                   "-y", str(height), *cmd)
        self._tmux("set-option", "-t", "main", "remain-on-exit", "on")

    def _tmux(self, *args):
        return subprocess.run(["tmux", "-S", self.sock] + list(args), check=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=TIMEOUT).stdout.decode("utf-8", "replace")

    def text(self):
        return self._tmux("capture-pane", "-p", "-J", "-S", "-1000", "-t", "main")

    def wait_for(self, pred, timeout=TIMEOUT):
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

    def line(self, text):
        self._tmux("send-keys", "-t", "main", "-l", text)
        self._tmux("send-keys", "-t", "main", "Enter")

    def kill(self):
        try:
            subprocess.run(["tmux", "-S", self.sock, "kill-server"], timeout=TIMEOUT,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except (OSError, subprocess.SubprocessError):
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


IRSSI_CONFIG = """servers = ( );
chatnets = { };
channels = ( );
aliases = { };
settings = {
  core = {
    real_name = "Irssi Tester";
    user_name = "irsu";
    nick = "irs";
    settings_autosave = "no";
    awaylog_file = "";
    recode = "no";
  };
  "irc/core" = {
    alternate_nick = "irs_";
    skip_motd = "no";
    cmd_queue_speed = "0";
    cmds_max_at_once = "1000";
    usermode = "";
  };
  "fe-common/core" = {
    autolog = "no";
    beep_msg_level = "";
    show_nickmode = "yes";
    theme = "default";
  };
  "fe-text" = { actlist_sort = "refnum"; };
  "perl/core/scripts" = { };
};
"""


@pytest.fixture
def irssi(srv):
    if shutil.which("irssi") is None or shutil.which("tmux") is None:
        pytest.skip("irssi or tmux is not installed")
    home = tempfile.mkdtemp(prefix="tcpchat-irssi-")
    with open(os.path.join(home, "config"), "w") as f:
        f.write(IRSSI_CONFIG)
    pane = Tmux(["irssi", "--home=" + home, "-n", "irs", "-c", "127.0.0.1", "-p",
                 str(srv.port)], env={"TERM": "screen", "LANG": "C.UTF-8", "HOME": home})
    yield pane
    pane.kill()
    shutil.rmtree(home, ignore_errors=True)


def test_irssi_chat_nick_topic_kick(srv, raw, irssi):
    r = raw("raw", "#t")  # raw creates #t first: raw is its op
    # irssi registers; /join makes #lobby its active window (on tcpchatd it is already a
    # member: the server auto-joins everyone to #lobby).
    irssi.wait_for(lambda t: "Welcome" in t or "001" in t)
    irssi.line("/join #lobby")
    wait_member(r, "#lobby", "irs", context=irssi.text)
    irssi.wait_for("#lobby")

    # irssi -> raw: a line typed in the pane arrives as PRIVMSG.
    irssi.line("hello from irssi")
    m = event(r, "PRIVMSG", "irs", "#lobby", context=irssi.text)
    assert m.text == "hello from irssi", m.line
    # raw -> irssi: shown in the pane.
    r.send("PRIVMSG #lobby :hi irssi, raw here")
    irssi.wait_for("hi irssi, raw here")

    # /nick: raw, sharing #lobby, sees NICK.
    irssi.line("/nick irs2")
    m = event(r, "NICK", "irs", context=irssi.text)
    assert m.params == ["irs2"], m.line
    irssi.wait_for("You're now known as irs2")

    # /topic on a channel irssi created (so it is op there): raw sees TOPIC.
    irssi.line("/join #irs")
    wait_member(r, "#irs", "irs2", context=irssi.text)  # irssi first: it is op
    r.send("JOIN #irs")
    r.expect(is_numeric("366", "#irs"))
    irssi.wait_for(lambda t: re.search(r"raw \[\S+\] has joined #irs", t))
    irssi.line("/topic #irs the irssi topic")
    m = event(r, "TOPIC", "irs2", "#irs", context=irssi.text)
    assert m.text == "the irssi topic", m.line

    # raw (op of #t) kicks irssi: the pane shows the kick.
    irssi.line("/join #t")
    event(r, "JOIN", "irs2", "#t", context=irssi.text)
    irssi.wait_for(lambda t: "has joined #t" in t)
    r.send("KICK #t irs2 :irssi must go")
    event(r, "KICK", "raw", "#t", "irs2", context=irssi.text)
    text = irssi.wait_for(lambda t: "was kicked from #t by raw" in t)
    assert "irssi must go" in text, text


# ---------------------------------------------------------------------------------------------
# WeeChat (headless), through its FIFO, read through its logs

class WeeChat:
    def __init__(self, port):
        self.dir = tempfile.mkdtemp(prefix="tcpchat-weechat-")
        self.fifo = os.path.join(self.dir, "weechat_fifo")
        self.logs = os.path.join(self.dir, "logs")
        commands = "; ".join([
            "/set fifo.file.path %s" % self.fifo,
            "/set fifo.file.enabled on",
            "/set logger.file.flush_delay 0",
            "/set logger.file.path %s" % self.logs,
            "/set irc.look.temporary_servers off",
            "/server add t 127.0.0.1/%d -notls -nicks=wee,wee_ -username=weeu "
            "-realname=WeeTester -autojoin=#lobby -anti_flood_prio_high=0 "
            "-anti_flood_prio_low=0" % port,
            "/connect t",
        ])
        self.out = open(os.path.join(self.dir, "stdout"), "wb")
        self.proc = subprocess.Popen(
            ["weechat-headless", "--dir", self.dir, "--stdout", "-P", "irc,fifo,logger",
             "-r", commands],
            stdin=subprocess.DEVNULL, stdout=self.out, stderr=subprocess.STDOUT,
            env=dict(os.environ, HOME=self.dir, LANG="C.UTF-8"))

    def command(self, buffer, text):
        """Writes "buffer *text" to the FIFO (text: a message or a /command)."""
        line = ("%s *%s\n" % (buffer, text)).encode()
        deadline = time.time() + TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("weechat exited: " + read(self.out.name))
            try:
                fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError as e:
                if e.errno not in (errno.ENOENT, errno.ENXIO) or time.time() > deadline:
                    raise
                time.sleep(POLL)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    def log(self, buffer):
        return read(os.path.join(self.logs, buffer.lower() + ".weechatlog"))

    def wait_log(self, buffer, pred):
        if isinstance(pred, str):
            needle = pred
            pred = lambda t: needle in t  # noqa: E731
        try:
            return wait_until("%s in %s" % (pred, buffer),
                              lambda: pred(self.log(buffer)) and self.log(buffer))
        except AssertionError:
            raise AssertionError("weechat log of %s:\n%s\nlogs: %r" % (
                buffer, self.log(buffer), os.listdir(self.logs) if os.path.isdir(self.logs)
                else None))

    def context(self):
        """Every log file and weechat's own output (for failure messages)."""
        parts = []
        if os.path.isdir(self.logs):
            for name in sorted(os.listdir(self.logs)):
                parts.append("== %s\n%s" % (name, read(os.path.join(self.logs, name))))
        parts.append("== stdout\n" + read(self.out.name)[-3000:])
        return "\n".join(parts)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def weechat(srv):
    if shutil.which("weechat-headless") is None:
        pytest.skip("weechat-headless is not installed")
    w = WeeChat(srv.port)
    yield w
    w.stop()


def test_weechat_chat_nick_topic_kick(srv, raw, weechat):
    r = raw("raw", "#wk")  # raw creates #wk first: raw is its op
    wait_member(r, "#lobby", "wee", context=weechat.context)
    weechat.wait_log("irc.t.#lobby", "Channel #lobby:")  # joined, NAMES seen

    # weechat -> raw
    weechat.command("irc.t.#lobby", "hello from weechat")
    m = event(r, "PRIVMSG", "wee", "#lobby", context=weechat.context)
    assert m.text == "hello from weechat", m.line
    # raw -> weechat
    r.send("PRIVMSG #lobby :hi weechat, raw here")
    weechat.wait_log("irc.t.#lobby", "hi weechat, raw here")

    # /nick
    weechat.command("irc.server.t", "/nick wee2")
    m = event(r, "NICK", "wee", context=weechat.context)
    assert m.params == ["wee2"], m.line

    # /topic on a channel weechat created (op there)
    weechat.command("irc.server.t", "/join #wt")
    weechat.wait_log("irc.t.#wt", "Channel #wt:")
    r.send("JOIN #wt")
    r.expect(is_numeric("366", "#wt"))
    weechat.command("irc.t.#wt", "/topic the weechat topic")
    m = event(r, "TOPIC", "wee2", "#wt", context=weechat.context)
    assert m.text == "the weechat topic", m.line

    # raw kicks weechat from #wk; weechat's log shows the kick with its reason.
    weechat.command("irc.server.t", "/join #wk")
    event(r, "JOIN", "wee2", "#wk", context=weechat.context)
    r.send("KICK #wk wee2 :weechat must go")
    event(r, "KICK", "raw", "#wk", "wee2", context=weechat.context)
    text = weechat.wait_log("irc.t.#wk", "weechat must go")
    assert "kicked" in text and "wee2" in text, text


# ---------------------------------------------------------------------------------------------
# ii (files and fifos)

@pytest.fixture
def ii(srv):
    if shutil.which("ii") is None:
        pytest.skip("ii is not installed")
    d = tempfile.mkdtemp(prefix="tcpchat-ii-")
    out = open(os.path.join(d, "stdout"), "wb")
    p = subprocess.Popen(["ii", "-s", "127.0.0.1", "-p", str(srv.port), "-n", "iinick",
                          "-f", "ii tester", "-i", d], stdin=subprocess.DEVNULL, stdout=out,
                         stderr=subprocess.STDOUT)
    p.dir = os.path.join(d, "127.0.0.1")

    def context():
        found = []
        for root, _, files in os.walk(p.dir):
            for f in files:
                if f == "out":
                    found.append("== %s\n%s" % (os.path.join(root, f), read(os.path.join(root, f))))
        return "\n".join(found) + "\n== stdout\n" + read(out.name)

    p.context = context
    yield p
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    out.close()
    shutil.rmtree(d, ignore_errors=True)


def write_fifo(proc, path, text):
    deadline = time.time() + TIMEOUT
    while True:
        if proc.poll() is not None:
            raise AssertionError("ii exited with %r" % proc.returncode)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError as e:
            if e.errno not in (errno.ENOENT, errno.ENXIO) or time.time() > deadline:
                raise
            time.sleep(POLL)
    try:
        os.write(fd, text.encode() + b"\n")
    finally:
        os.close(fd)


def test_ii_chat_through_fifos(srv, raw, ii):
    r = raw("raw")
    write_fifo(ii, os.path.join(ii.dir, "in"), "/j #lobby")
    wait_member(r, "#lobby", "iinick", context=ii.context)
    chan_in = os.path.join(ii.dir, "#lobby", "in")
    chan_out = os.path.join(ii.dir, "#lobby", "out")
    # ii -> raw
    write_fifo(ii, chan_in, "hello from ii")
    m = event(r, "PRIVMSG", "iinick", "#lobby", context=ii.context)
    assert m.text == "hello from ii", m.line
    # raw -> ii: in #lobby/out
    r.send("PRIVMSG #lobby :hi ii, raw here")
    text = wait_until("raw's line in ii's #lobby/out",
                      lambda: "hi ii, raw here" in read(chan_out) and read(chan_out))
    line = [l for l in text.splitlines() if "hi ii, raw here" in l][0]
    assert "<raw>" in line, line
    # A private message lands in ii's raw/ directory.
    r.send("PRIVMSG iinick :private hello")
    wait_until("raw's private line in ii's raw/out",
               lambda: "private hello" in read(os.path.join(ii.dir, "raw", "out")))
