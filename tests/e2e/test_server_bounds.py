"""tcpchatd end to end: every bound the server enforces (line length, send queue, flood,
registration and ping timeouts, connection count). Loops are bounded in count and time."""
import re
import threading
import time

from conftest import (TIMEOUT, Client, Msg, NoPongClient, barrier, closing_reason, is_command,
                      is_numeric, pump, take_until)


# ---- line length ------------------------------------------------------------------------

def test_overlong_line_417_and_connection_kept(server, connect):
    a = connect("alice")
    b = connect("bob")
    b.expect(is_numeric("366", "#lobby"))
    a.expect(is_command("JOIN", "bob", "#lobby"))
    a.send("PRIVMSG #lobby :" + "x" * 600)  # 616 bytes + CR LF
    line = a.expect(lambda l: Msg(l).command in ("417", "ERROR"))
    assert Msg(line).command == "417", line
    assert Msg(line).params[0] == "alice", line
    assert Msg(line).text == "Input line was too long", line
    a.send("PRIVMSG #lobby :still works")
    seen = take_until(b, is_command("PRIVMSG", "alice", "#lobby"))
    assert Msg(seen[-1]).text == "still works", seen
    assert not any("xxxx" in l for l in seen), seen


def test_line_of_512_bytes_is_accepted(server, connect):
    a = connect("alice")
    b = connect("bob")
    b.expect(is_numeric("366", "#lobby"))
    head = "PRIVMSG #lobby :"
    text = "y" * (510 - len(head))
    a.send(head + text)  # exactly 512 bytes with CR LF: the RFC maximum
    before = barrier(a)
    assert not any(Msg(l).command == "417" for l in before), before
    line = b.expect(is_command("PRIVMSG", "alice", "#lobby"))
    # The relayed line may be cut to fit 512 bytes with the longer source prefix.
    assert Msg(line).text and set(Msg(line).text) == {"y"}, line


def test_long_tags_do_not_count_towards_the_limit(server, connect):
    a = connect("alice")
    b = connect("bob")
    b.expect(is_numeric("366", "#lobby"))
    a.send("@+example/tag=" + "t" * 4000 + " PRIVMSG #lobby :tagged")
    before = barrier(a)
    assert not any(Msg(l).command == "417" for l in before), before
    assert Msg(b.expect(is_command("PRIVMSG", "alice", "#lobby"))).text == "tagged"


def test_100k_line_without_newline_417_and_connection_kept(server, connect):
    a = connect("alice")
    b = connect("bob")
    b.expect(is_numeric("366", "#lobby"))
    a.send_raw(b"PRIVMSG #lobby :" + b"A" * 100 * 1024)
    a.send_raw(b"\r\n")
    a.send("PRIVMSG #lobby :after the big one")
    seen = take_until(b, is_command("PRIVMSG", "alice", "#lobby"))
    assert Msg(seen[-1]).text == "after the big one", seen
    assert not any("AAAA" in l for l in seen), seen
    before = barrier(a)
    assert [Msg(l).command for l in before].count("417") == 1, before
    assert not any(Msg(l).command == "ERROR" for l in before), before


# ---- send queue -------------------------------------------------------------------------

def test_slow_reader_dropped_at_sendq_others_get_everything(server_factory, client_factory):
    srv = server_factory("-w", "2", "--sendq", "65536", "--sendq-soft", "16384",
                         "--flood-rate", "100000", "--flood-burst", "100000")
    reader = client_factory(srv, "reader")
    slow = client_factory(srv, "slow", rcvbuf=4096)  # never reads after registering
    sender = client_factory(srv, "sender")
    reader.expect(is_command("JOIN", "sender", "#lobby"))

    payload = "p" * 380  # ~400-byte lines
    batch_size = 50
    max_bytes = 50 * 1024 * 1024
    deadline = time.time() + 6 * TIMEOUT
    sent = 0
    sent_bytes = 0
    got = []
    slow_quit = None

    def drain_until(last_seq):
        nonlocal slow_quit
        while True:
            line = reader.expect(lambda l: is_command("PRIVMSG", "sender", "#lobby")(l) or
                                 is_command("QUIT", "slow")(l))
            m = Msg(line)
            if m.command == "QUIT":
                slow_quit = line
                continue
            got.append(int(m.text.split()[0]))
            if got[-1] == last_seq:
                return

    while slow_quit is None:
        assert sent_bytes < max_bytes, "slow reader never dropped after %d bytes" % sent_bytes
        assert time.time() < deadline, "slow reader never dropped (time bound)"
        data = b"".join(b"PRIVMSG #lobby :%d %s\r\n" % (sent + i, payload.encode())
                        for i in range(batch_size))
        sender.send_raw(data)
        sent += batch_size
        sent_bytes += len(data)
        drain_until(sent - 1)

    assert Msg(slow_quit).text == "Max SendQ exceeded", slow_quit
    # Traffic goes on for the others after the drop.
    data = b"".join(b"PRIVMSG #lobby :%d after\r\n" % (sent + i) for i in range(batch_size))
    sender.send_raw(data)
    sent += batch_size
    drain_until(sent - 1)
    assert got == list(range(sent)), "the reader lost or reordered messages"
    # The slow client's socket gets closed by the server (reading it now drains it).
    slow.wait_closed()


def test_soft_sendq_pauses_a_client_that_does_not_read_its_replies(server_factory,
                                                                   client_factory):
    # The client sends many PINGs without reading the PONGs. Over the soft bound the server
    # stops reading it (TCP pushes back) instead of queueing replies past the hard bound, so
    # the client is not dropped and, once it reads, gets every reply.
    srv = server_factory("--sendq", "393216", "--sendq-soft", "65536",
                         "--flood-rate", "1000000", "--flood-burst", "1000000")
    c = client_factory(srv, "pinger", rcvbuf=4096)
    n = 150000  # ~5 MB of replies: more than the hard bound plus what kernel buffers hold
    data = b"PING x\r\n" * n
    errors = []

    def push():
        try:
            c.sock.sendall(data)
        except OSError as e:
            errors.append(e)

    t = threading.Thread(target=push)
    t.start()
    t.join(1.0)  # let the replies pile up unread for a while (bounded)
    pongs = 0
    deadline = time.time() + 6 * TIMEOUT
    while pongs < n:
        assert time.time() < deadline, "only %d of %d PONGs" % (pongs, n)
        line = c.expect(lambda l: Msg(l).command in ("PONG", "ERROR"))
        assert Msg(line).command == "PONG", line
        pongs += 1
    t.join(TIMEOUT)
    assert not errors, errors
    barrier(c)


# ---- flood ------------------------------------------------------------------------------

def test_flood_gets_excess_flood(server_factory, client_factory):
    srv = server_factory("--flood-rate", "5", "--flood-burst", "10", "--recvq", "4096")
    obs = client_factory(srv, "observer")
    fl = client_factory(srv, "flooder")
    obs.expect(is_command("JOIN", "flooder", "#lobby"))
    n = 2000
    data = b"".join(b"PRIVMSG #lobby :f%d\r\n" % i for i in range(n))

    def blast():
        try:
            fl.sock.sendall(data)
        except OSError:
            pass  # the server may close while we are still sending

    t = threading.Thread(target=blast)
    t.start()
    lines = fl.wait_closed()
    t.join(TIMEOUT)
    assert closing_reason(lines) == "Excess Flood", lines

    seen = take_until(obs, is_command("QUIT", "flooder"))
    assert Msg(seen[-1]).text == "Excess Flood", seen[-1]
    relayed = [Msg(l).text for l in seen if is_command("PRIVMSG", "flooder")(l)]
    assert len(relayed) < n, "no flood control: all %d lines were relayed" % n
    assert relayed == ["f%d" % i for i in range(len(relayed))], relayed  # a prefix, in order
    # The observer is fine.
    obs.send("PING :ok")
    obs.expect(is_command("PONG"))


def test_burst_under_flood_limit_is_delivered(server_factory, client_factory):
    srv = server_factory("--flood-rate", "5", "--flood-burst", "10", "--recvq", "4096")
    obs = client_factory(srv, "observer")
    s = client_factory(srv, "sender")
    obs.expect(is_command("JOIN", "sender", "#lobby"))
    n = 6  # with NICK and USER, within the burst of 10
    s.send_raw(b"".join(b"PRIVMSG #lobby :b%d\r\n" % i for i in range(n)))
    got = [Msg(obs.expect(is_command("PRIVMSG", "sender", "#lobby"))).text for _ in range(n)]
    assert got == ["b%d" % i for i in range(n)]
    before = barrier(s)
    assert not any(Msg(l).command == "ERROR" for l in before), before


# ---- timeouts ---------------------------------------------------------------------------

def test_registration_timeout(server_factory, client_factory):
    srv = server_factory("--reg-timeout", "1")
    ok = client_factory(srv, "prompt")
    silent = client_factory(srv)  # sends nothing at all
    half = client_factory(srv)
    half.send("NICK halfway")  # never sends USER
    for c in (silent, half):
        lines = c.wait_closed()
        assert closing_reason(lines) == "Registration timed out", lines
        assert not any(Msg(l).command == "001" for l in lines), lines
    # A registered client is not affected by the registration timeout.
    before = barrier(ok)
    assert not any(Msg(l).command == "ERROR" for l in before), before


def test_ping_timeout_and_a_ponging_client_stays(server_factory, client_factory):
    srv = server_factory("--ping-interval", "1", "--ping-timeout", "1")
    obs = client_factory(srv, "observer")  # Client answers PING inside _fill
    mute = client_factory(srv, "mute", cls=NoPongClient)
    obs.expect(is_command("JOIN", "mute", "#lobby"))

    pump([obs, mute], lambda: mute.closed)
    lines = mute.lines
    cmds = [Msg(l).command for l in lines]
    assert "PING" in cmds, lines
    reason = closing_reason(lines)
    assert re.match(r"^Ping timeout: \d+ seconds$", reason), lines
    assert cmds.index("PING") < cmds.index("ERROR"), lines

    pump([obs], lambda: any(is_command("QUIT", "mute")(l) for l in obs.lines))
    quit_line = next(l for l in obs.lines if is_command("QUIT", "mute")(l))
    assert Msg(quit_line).text == reason, quit_line

    # The observer answers every PING: it stays connected for several intervals.
    end = time.time() + 3.5
    pump([obs], lambda: time.time() > end)
    assert not obs.closed
    assert sum(1 for l in obs.lines if Msg(l).command == "PING") >= 1, obs.lines
    assert not any(Msg(l).command == "ERROR" for l in obs.lines), obs.lines
    barrier(obs)


# ---- connection count -------------------------------------------------------------------

def test_max_clients(server_factory, client_factory):
    srv = server_factory("--max-clients", "3")
    first = [register_when_room(srv, "c%d" % i) for i in range(3)]
    extra = client_factory(srv)
    lines = extra.wait_closed()
    assert closing_reason(lines) == "Too many connections", lines
    for c in first:
        barrier(c)  # the others are unaffected

    first[0].send("QUIT :making room")
    first[0].wait_closed()
    # The server may notice the free slot a moment after closing: retries are bounded.
    register_when_room(srv, "newcomer").close()
    for c in first:
        c.close()


def register_when_room(srv, nick):
    """Connects and registers, retrying (bounded) while the server answers "Too many
    connections" (it may not yet have noticed a connection that was just closed, such as the
    start-up probe of server_factory). Returns the registered Client."""
    deadline = time.time() + TIMEOUT
    while True:
        c = Client(srv.port, None)
        try:
            c.send("NICK " + nick)
            c.send("USER %s 0 * :%s" % (nick, nick))
        except OSError:
            pass  # refused and closed already
        pump([c], lambda: c.closed or any(Msg(l).command == "001" for l in c.lines))
        if any(Msg(l).command == "001" for l in c.lines):
            c.nick = nick
            c.expect(is_numeric("366", "#lobby"))
            return c
        c.close()
        assert any("Too many connections" in l for l in c.lines), c.lines
        assert time.time() < deadline, "a slot never became free"
        time.sleep(0.1)
