"""tcpchatd end to end: server bans. KLINE (user@host: a matching user is disconnected with
its reason and others see the QUIT; one reconnecting gets 465), UNKLINE, DLINE (refused at
connect with an ERROR line), timed bans expiring, bans kept across a restart, 481 for
non-operators, the bound on their number, STATS k and d.

Every test client comes from loopback: K-lines tell users apart by their user name; a D-lined
client connects from 127.0.0.2 (the server listens on 127.0.0.1, and Linux routes all of
127.0.0.0/8 locally)."""
import socket
import time

import pytest

from conftest import (TIMEOUT, Client, Msg, closing_reason, is_command, is_numeric, take_until)
from test_oper import conf_text, hashes, mkpasswd, oper  # noqa: F401 (hashes is a fixture)

BANS_MAX = 1000  # src/server/core/defines.h


class ClientFrom(Client):
    """A Client whose connection comes from source address src."""

    def __init__(self, port, nick=None, src="127.0.0.2", user=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(TIMEOUT)
        self.sock.bind((src, 0))
        self.sock.connect(("127.0.0.1", port))
        self.buf = b""
        self.lines = []
        self.nick = nick
        self.closed = False
        if nick:
            self.register(nick, user)


@pytest.fixture
def setup(tmp_path, hashes, server_factory, client_factory):  # noqa: F811
    """A server on 2 workers with operator alice (password wonderland) and its data in
    tmp_path/data; returns (server, make_user, start) where start() starts another server on
    the same config and data (for restarts)."""
    motd = tmp_path / "motd"
    motd.write_text("motd\n")
    conf = tmp_path / "tcpchatd.conf"
    conf.write_text(conf_text(hashes, motd))
    data = str(tmp_path / "data")

    def start(*extra, data=data):
        return server_factory("--config", str(conf), "-w", "2", "--data-dir", data, *extra)

    srv = start()

    def user(nick, srv=srv, **kw):
        return client_factory(srv, nick, **kw)

    return srv, user, start


def notice(c, text):
    """The next NOTICE to c containing text."""
    return Msg(c.expect(lambda l: Msg(l).command == "NOTICE" and text in l))


def register_raw(c, nick, user):
    c.send("NICK " + nick)
    c.send("USER %s 0 * :%s" % (user, nick))


def stats(c, letter):
    lines = [Msg(l) for l in take_until(c, is_numeric("219"))]
    assert lines[-1].params[1] == letter
    return [m.params[1:] for m in lines[:-1] if m.command in ("216", "225")]


# ---- KLINE ------------------------------------------------------------------------------

def wait_log(srv, *words):
    """The server's log line holding every one of words (waits for it)."""
    deadline = time.time() + TIMEOUT
    while True:
        for line in srv.read_log().splitlines():
            if all(w in line for w in words):
                return line
        assert time.time() < deadline, "no log line with %r" % (words,)
        time.sleep(0.1)


def test_kline_disconnects_the_matching_user_and_others_see_the_quit(setup):
    srv, user, _ = setup
    a, v, w = user("alice"), user("victim"), user("watcher")
    oper(a)
    a.send("KLINE ~victim@127.0.0.1 :spamming the lobby")
    m = notice(a, "Added K-line")
    assert "~victim@127.0.0.1" in m.text and "spamming the lobby" in m.text
    lines = v.wait_closed()
    assert any(Msg(l).command == "465" and "spamming the lobby" in l for l in lines), lines
    assert closing_reason(lines) == "K-lined: spamming the lobby"
    q = Msg(w.expect(is_command("QUIT")))
    assert q.nick == "victim" and q.text == "K-lined: spamming the lobby"
    # The others are still here.
    for c in (a, w):
        c.send("PING :still")
        c.expect(is_command("PONG"))
    # Who set what is logged.
    line = wait_log(srv, "ban set", "~victim@127.0.0.1")
    assert "alice!~alice@127.0.0.1" in line and "spamming the lobby" in line, line
    a.send("UNKLINE ~victim@127.0.0.1")
    notice(a, "is removed")
    wait_log(srv, "ban removed", "~victim@127.0.0.1", "alice!~alice@127.0.0.1")


def test_klined_user_gets_465_at_registration_then_unkline_lets_them_in(setup):
    srv, user, _ = setup
    a = user("alice")
    oper(a)
    a.send("KLINE ~bad*@127.0.0.0/8 :go away")
    notice(a, "Added K-line")
    c = Client(srv.port)
    register_raw(c, "baddie", "baddie")
    lines = c.wait_closed()
    m = [Msg(l) for l in lines if Msg(l).command == "465"]
    assert m and m[0].text == "You are banned from this server: go away", lines
    assert not any(Msg(l).command == "001" for l in lines)
    assert closing_reason(lines) == "K-lined: go away"
    c.close()
    # Another user name is not matched.
    user("good")
    a.send("UNKLINE ~bad*@127.0.0.0/8")
    notice(a, "is removed")
    b = user("baddie")
    b.send("PING :in")
    b.expect(is_command("PONG"))
    a.send("UNKLINE ~bad*@127.0.0.0/8")
    notice(a, "No K-line for")


# ---- DLINE ------------------------------------------------------------------------------

def test_dline_closes_a_matching_connection_at_connect_with_error(setup, client_factory):
    srv, user, _ = setup
    a, w = user("alice"), user("watcher")
    v = ClientFrom(srv.port, "victim")
    v.expect(is_numeric("366", "#lobby"))
    oper(a)
    a.send("DLINE 127.0.0.2 :bad network")
    notice(a, "Added D-line")
    lines = v.wait_closed()
    assert closing_reason(lines) == "D-lined: bad network"
    q = Msg(w.expect(is_command("QUIT")))
    assert q.nick == "victim" and q.text == "D-lined: bad network"
    v.close()
    # A new connection from there hears nothing but the ERROR, before any registration.
    c = ClientFrom(srv.port)
    lines = c.wait_closed()
    assert len(lines) == 1 and closing_reason(lines) == "D-lined: bad network", lines
    c.close()
    # Loopback's other addresses are not banned.
    user("fine")
    a.send("STATS d")
    assert stats(a, "d") == [["D", "127.0.0.2", "bad network"]]
    a.send("UNDLINE 127.0.0.2")
    notice(a, "is removed")
    ok = ClientFrom(srv.port, "victim")  # registered: it had the welcome
    ok.send("PING :in")
    ok.expect(is_command("PONG"))
    ok.close()


def test_dline_of_a_block_refuses_every_address_in_it(setup):
    srv, user, _ = setup
    a = user("alice")
    oper(a)
    a.send("DLINE 127.0.0.0/30 :block")  # 127.0.0.0-3: alice, on 127.0.0.1, goes too
    lines = a.wait_closed()
    assert closing_reason(lines) == "D-lined: block"
    c = ClientFrom(srv.port, src="127.0.0.3")
    assert closing_reason(c.wait_closed()) == "D-lined: block"
    c.close()
    d = ClientFrom(srv.port, "outside", src="127.0.0.4")  # registered: it had the welcome
    d.send("PING :in")
    d.expect(is_command("PONG"))
    d.close()


# ---- expiry, persistence ----------------------------------------------------------------

def test_a_timed_kline_expires(setup):
    srv, user, _ = setup
    a, v = user("alice"), user("victim")
    oper(a)
    a.send("KLINE 3s ~victim@127.0.0.1 :cool off")
    notice(a, "Added temporary K-line")
    notice(a, "expires in 3 seconds")
    assert closing_reason(v.wait_closed()) == "K-lined: cool off"
    a.send("STATS k")
    assert stats(a, "k") == [["k", "127.0.0.1", "*", "~victim", "cool off"]]
    # Back in once it has expired (polling: no test asserts on time).
    deadline = time.time() + TIMEOUT
    while True:
        c = Client(srv.port)
        register_raw(c, "victim", "victim")
        first = c.expect(lambda l: Msg(l).command in ("001", "465"))
        c.close()
        if Msg(first).command == "001":
            break
        assert time.time() < deadline, "the K-line never expired"
        time.sleep(0.5)
    a.send("STATS k")
    assert stats(a, "k") == []


def test_durations_in_minutes_and_units_and_invalid_ones(setup):
    _, user, _ = setup
    a = user("alice")
    oper(a)
    a.send("KLINE 30 ~x@10.0.0.1 :minutes")
    notice(a, "expires in 30 minutes")
    a.send("KLINE 2h ~y@10.0.0.1 :hours")
    notice(a, "expires in 2 hours")
    a.send("DLINE 0 10.1.0.0/16 :permanent")
    m = notice(a, "Added D-line")
    assert "temporary" not in m.text
    a.send("KLINE 10x ~z@10.0.0.1 :bad")
    m = Msg(a.expect(is_numeric("400")))
    assert m.params[1] == "KLINE" and "Invalid duration" in m.text
    a.send("KLINE 5")
    a.expect(is_numeric("461", "KLINE"))
    a.send("KLINE")
    a.expect(is_numeric("461", "KLINE"))
    for bad in ("*@*", "*", "a@b@c", "nick!u@h", "u@1.2.3.0/33", "u@0.0.0.0/1"):
        a.send("KLINE %s :nope" % bad)
        m = Msg(a.expect(is_numeric("400")))
        assert m.params[1] == "KLINE", bad
    for bad in ("not-an-address", "1.2.3.4/40", "0.0.0.0/0", "*"):
        a.send("DLINE %s :nope" % bad)
        m = Msg(a.expect(is_numeric("400")))
        assert m.params[1] == "DLINE", bad
    a.send("KLINE ~x@10.0.0.1 :again")
    notice(a, "already K-lined")
    a.send("STATS k")
    assert stats(a, "k") == [["k", "10.0.0.1", "*", "~x", "minutes"],
                             ["k", "10.0.0.1", "*", "~y", "hours"]]
    a.send("STATS d")
    assert stats(a, "d") == [["D", "10.1.0.0/16", "permanent"]]


def test_bans_survive_a_restart(setup):
    srv, user, start = setup
    a = user("alice")
    oper(a)
    a.send("KLINE ~kept@127.0.0.1 :kept across restarts")
    notice(a, "Added K-line")
    a.send("DLINE 1h 192.0.2.0/24 :documentation")
    notice(a, "Added temporary D-line")
    a.send("KLINE ~lifted@127.0.0.1 :lifted")
    notice(a, "Added K-line")
    a.send("UNKLINE ~lifted@127.0.0.1")
    notice(a, "is removed")
    a.close()
    assert srv.stop() == 0
    again = start()
    c = Client(again.port)
    register_raw(c, "kept", "kept")
    lines = c.wait_closed()
    assert closing_reason(lines) == "K-lined: kept across restarts"
    c.close()
    b = user("alice", srv=again)
    oper(b)
    b.send("STATS k")
    assert stats(b, "k") == [["K", "127.0.0.1", "*", "~kept", "kept across restarts"]]
    b.send("STATS d")
    assert stats(b, "d") == [["d", "192.0.2.0/24", "documentation"]]
    l = user("lifted", srv=again)
    l.send("PING :in")
    l.expect(is_command("PONG"))


# ---- who may ----------------------------------------------------------------------------

def test_help_describes_the_ban_commands(setup):
    _, user, _ = setup
    b = user("bob")
    for name in ("KLINE", "UNKLINE", "DLINE", "UNDLINE"):
        b.send("HELP " + name)
        m = Msg(b.expect(is_numeric("704")))
        assert m.params[1] == name and m.text.startswith(name)
        b.expect(is_numeric("706"))
    b.send("HELP STATS")
    assert "k|d" in Msg(b.expect(is_numeric("704"))).text


def test_non_operators_get_481(setup):
    _, user, _ = setup
    b = user("bob")
    for line in ("KLINE ~x@127.0.0.1 :r", "UNKLINE ~x@127.0.0.1", "DLINE 10.0.0.1 :r",
                 "UNDLINE 10.0.0.1", "STATS k", "STATS d"):
        b.send(line)
        b.expect(is_numeric("481"))
    b.send("PING :still")
    b.expect(is_command("PONG"))


def test_the_number_of_bans_is_bounded(setup, tmp_path):
    """BANS_MAX bans at most, both kinds together; the next is refused, and lifting one makes
    room. A fast flood allowance lets the operator set them quickly."""
    _, user, start = setup
    srv = start("--flood-rate", "100000", "--flood-burst", "100000",
                data=str(tmp_path / "data-bound"))
    a = user("alice", srv=srv)
    oper(a)
    batch = 100
    for first in range(0, BANS_MAX, batch):
        a.send_raw("".join("KLINE ~u%d@10.0.0.1 :r\r\n" % i
                           for i in range(first, first + batch)).encode())
        for _ in range(batch):
            notice(a, "Added K-line")
    a.send("DLINE 10.9.9.9 :one too many")
    m = Msg(a.expect(is_numeric("400")))
    assert m.params[1] == "DLINE" and "Too many bans" in m.text
    a.send("STATS k")
    assert len(stats(a, "k")) == BANS_MAX
    a.send("UNKLINE ~u0@10.0.0.1")
    notice(a, "is removed")
    a.send("DLINE 10.9.9.9 :room now")
    notice(a, "Added D-line")
