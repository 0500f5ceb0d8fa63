"""Memory under attack: 5,000 misbehaving connections at once (silent, half a line and
never the rest, registered but never reading, flooding junk) while two normal users chat.
The server's peak RSS must stay under the bound its limits promise, and the normal users must
get every message. The figures are printed (pytest -s) for the closing note."""
import os
import resource
import socket
import time

from conftest import Client, Msg, is_command, is_numeric

CROWD = {"silent": 2000, "half_line": 1000, "non_reader": 1000, "flooder": 1000}
SENDQ, RECVQ = 65536, 4096
# Per connection at most one receive buffer and one send queue, plus the client's own state
# (a few KiB, generously): the bound the limits promise.
PER_CONN_BOUND = RECVQ + SENDQ + 8192


def rss_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def drain(*clients):
    """Reads what has arrived, as a normal client does all along: the crowd's JOIN and QUIT
    notices alone would fill a user's send queue (64 KiB here) if it stopped reading."""
    for c in clients:
        while c._fill(0):
            pass


def expect_draining(c, pred, others, timeout=20.0):
    """c.expect(pred), while reading the others all along: waiting on one user without
    reading the other would let the crowd's JOIN and QUIT notices pile up in the other's
    send queue until the server drops it, as it should drop a client that stops reading."""
    deadline = time.time() + timeout
    last = []
    while True:
        drain(*others)
        for o in others:
            assert not o.closed, "%s was disconnected: %r" % (o.nick, o.lines[-3:])
        while c.lines:
            line = c.lines.pop(0)
            if pred(line):
                return line
            last = (last + [line])[-3:]
        assert not c.closed, "%s was disconnected: %r" % (c.nick, last)
        assert time.time() < deadline, "timed out waiting"
        c._fill(0.05)


def test_5000_misbehaving_connections_keep_memory_bounded(server_factory):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = sum(CROWD.values()) + 200
    if hard < need:
        import pytest
        pytest.skip("open-file limit %d is below %d" % (hard, need))
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    srv = server_factory("--max-clients", "6000", "--sendq", str(SENDQ), "--sendq-soft", "16384",
                         "--recvq", str(RECVQ), "--flood-rate", "100", "--flood-burst", "50",
                         "--reg-timeout", "60")
    pid = srv.proc.pid
    rss_before = rss_kib(pid, "VmRSS")
    talk_a = Client(srv.port, "alice")
    talk_b = Client(srv.port, "bob")
    talk_a.expect(is_command("JOIN", "bob"))
    crowd = []
    try:
        for kind, n in CROWD.items():
            for i in range(n):
                s = socket.socket()
                if kind == "non_reader":
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.connect(("127.0.0.1", srv.port))
                s.setblocking(False)
                crowd.append((kind, s))
                if i % 50 == 0:
                    drain(talk_a, talk_b)
                try:
                    if kind == "half_line":
                        s.send(b"PRIVMSG #lobby :" + b"x" * 3000)
                    elif kind == "non_reader":
                        s.send(b"NICK nr%d\r\nUSER nr 0 * :nr\r\n" % i)
                    elif kind == "flooder":
                        s.send((b"\xff\x00junk " * 50 + b"\r\n") * 20)
                except OSError:
                    pass
        # The normal users chat through it all and lose nothing.
        for i in range(200):
            talk_a.send("PRIVMSG #lobby :message %d %s" % (i, "y" * 300))
            if i % 10 == 9:  # stay within --recvq: wait for the server to take them
                talk_a.send("PING :%d" % i)
                expect_draining(talk_a, lambda l, i=i: Msg(l).command == "PONG" and
                                Msg(l).text == str(i), [talk_b])
        got = []
        while len(got) < 200:
            line = expect_draining(talk_b, is_command("PRIVMSG", "alice"), [talk_a])
            got.append(int(Msg(line).text.split()[1]))
        assert got == list(range(200))
        peak = rss_kib(pid, "VmHWM")
        now = rss_kib(pid, "VmRSS")
        n = sum(CROWD.values())
        bound_kib = rss_before + n * PER_CONN_BOUND // 1024
        print("\nmemory under attack: %d connections, RSS before %d KiB, now %d KiB, peak %d KiB "
              "(%.1f KiB per connection), bound %d KiB"
              % (n, rss_before, now, peak, (peak - rss_before) / n, bound_kib))
        assert peak < bound_kib, (peak, bound_kib)
        talk_b.send("PRIVMSG #lobby :still fine")
        talk_a.expect(is_command("PRIVMSG", "bob"))
    finally:
        for _, s in crowd:
            s.close()
        talk_a.close()
        talk_b.close()
