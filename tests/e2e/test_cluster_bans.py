"""Server bans across the nodes of a network (--cluster; docs/cluster.md "Server bans"): a
KLINE or DLINE set on one node is the network's, kept in Redis: it closes the matching users
of every node, every node refuses them, a node started later loads it, STATS k/d on any node
lists it, and lifting or expiry on one node is seen on all.

Each test has its own redis-server and nodes (test_cluster.py's fixtures). A D-lined client
connects from 127.0.0.2 (Linux routes all of 127.0.0.0/8 locally), as in test_bans.py."""
import time

from conftest import TIMEOUT, Client, Msg, closing_reason, is_command, is_numeric, take_until
from test_cluster import (Redis, clients, ison, mkpasswd, node_factory, redis,  # noqa: F401
                          wait_until, welcomed)


def oper_conf(tmp_path):
    conf = tmp_path / "tcpchatd.conf"
    if not conf.exists():
        conf.write_text("[oper \"alice\"]\npassword = %s\nhost = *@127.0.0.1\n"
                        % mkpasswd("wonderland"))
    return str(conf)


def oper(c):
    c.send("OPER alice wonderland")
    c.expect(is_numeric("381"))


def notice(c, text):
    return Msg(c.expect(lambda l: Msg(l).command == "NOTICE" and text in l))


def stats(c, letter):
    c.send("STATS " + letter)
    lines = [Msg(l) for l in take_until(c, is_numeric("219"))]
    return [m.params[1:] for m in lines[:-1] if m.command in ("216", "225")]


def attempt(node, nick, source=None):
    """Registers nick (user name nick) on node: the first line that says how it went, 001,
    the 465 of a K-line, the ERROR of a D-line, or 433 (the nick of a user just closed is
    freed on the network a moment after)."""
    c = Client(node.port, source=source)
    try:
        try:
            c.send("NICK " + nick)
            c.send("USER %s 0 * :%s" % (nick, nick))
        except OSError:  # a D-line: closed at once, its ERROR is there to read
            pass
        line = c.expect(lambda l: Msg(l).command in ("001", "465", "ERROR", "433"))
    finally:
        c.close()
    return line


def until_attempt(node, nick, command, source=None):
    """attempt() until its answer is command (an event reaches another node a moment later;
    a refusal is checked so too, as the nick may be busy for a moment); returns that line."""
    deadline = time.time() + TIMEOUT
    while True:
        line = attempt(node, nick, source)
        if Msg(line).command == command:
            return line
        assert time.time() < deadline, "still %r" % line
        time.sleep(0.2)


def test_kline_on_one_node_closes_and_refuses_on_every_node(tmp_path, node_factory, clients):
    conf = oper_conf(tmp_path)
    data = tmp_path / "data-a"
    a = node_factory("a", "--config", conf, "--data-dir", str(data))
    b = node_factory("b", "--config", conf)
    alice = welcomed(clients(a, "alice"))
    victim = welcomed(clients(b, "victim"))
    watcher = welcomed(clients(b, "watcher"))
    bob = welcomed(clients(b, "bob"))  # an operator of b
    # They are all in #lobby, where every user starts.
    wait_until(lambda: ison(alice, "victim", "watcher") == ["victim", "watcher"])
    oper(alice)
    oper(bob)
    alice.send("KLINE ~victim@127.0.0.1 :spamming the lobby")
    notice(alice, "Added K-line")
    # The user of the other node goes at once, as one of this node would.
    lines = victim.wait_closed()
    assert any(Msg(l).command == "465" and "spamming the lobby" in l for l in lines), lines
    assert closing_reason(lines) == "K-lined: spamming the lobby"
    q = Msg(watcher.expect(is_command("QUIT")))
    assert q.nick == "victim" and q.text == "K-lined: spamming the lobby"
    # Node b refuses a new connection with the reason; a (where it was set) too.
    for node in (b, a):
        m = Msg(until_attempt(node, "victim", "465"))
        assert m.text.endswith("spamming the lobby"), m
    # STATS k on the other node lists the network's ban.
    assert stats(bob, "k") == [["K", "127.0.0.1", "*", "~victim", "spamming the lobby"]]
    # A node started after the ban was set loads it from Redis.
    c = node_factory("c", "--config", conf)
    m = Msg(until_attempt(c, "victim", "465"))
    assert m.text.endswith("spamming the lobby"), m
    carol = welcomed(clients(c, "carol"))
    oper(carol)
    assert stats(carol, "k") == [["K", "127.0.0.1", "*", "~victim", "spamming the lobby"]]
    # Lifted on b, the user gets in on a, and on c.
    bob.send("UNKLINE ~victim@127.0.0.1")
    notice(bob, "is removed")
    until_attempt(a, "victim", "001")
    until_attempt(c, "victim", "001")
    wait_until(lambda: stats(alice, "k") == [])
    # Redis is the store in a cluster: no bans.db in a node's data directory.
    assert data.is_dir() and not (data / "bans.db").exists()


def test_dline_on_one_node_closes_and_refuses_on_every_node(tmp_path, node_factory, clients):
    conf = oper_conf(tmp_path)
    a, b = node_factory("a", "--config", conf), node_factory("b", "--config", conf)
    alice = welcomed(clients(a, "alice"))
    watcher = welcomed(clients(b, "watcher"))
    bob = welcomed(clients(b, "bob"))  # an operator of b
    victim = Client(b.port, "victim", source="127.0.0.2")
    # They are all in #lobby, where every user starts.
    wait_until(lambda: ison(alice, "victim", "watcher") == ["victim", "watcher"])
    oper(alice)
    oper(bob)
    alice.send("DLINE 127.0.0.2 :bad network")
    notice(alice, "Added D-line")
    lines = victim.wait_closed()
    victim.close()
    assert closing_reason(lines) == "D-lined: bad network"
    q = Msg(watcher.expect(is_command("QUIT")))
    assert q.nick == "victim" and q.text == "D-lined: bad network"
    # b's acceptor refuses the address before any IRC, with the reason.
    c = Client(b.port, source="127.0.0.2")
    lines = c.wait_closed()
    c.close()
    assert len(lines) == 1 and closing_reason(lines) == "D-lined: bad network", lines
    assert stats(bob, "d") == [["D", "127.0.0.2", "bad network"]]
    # A node started later refuses it too.
    n = node_factory("c", "--config", conf)
    assert closing_reason([attempt(n, "victim", source="127.0.0.2")]) == "D-lined: bad network"
    # UNDLINE on b lets the address in on a.
    bob.send("UNDLINE 127.0.0.2")
    notice(bob, "is removed")
    until_attempt(a, "victim", "001", source="127.0.0.2")
    until_attempt(n, "victim", "001", source="127.0.0.2")


def test_a_timed_ban_expires_on_every_node(tmp_path, node_factory, clients, redis):
    conf = oper_conf(tmp_path)
    a, b = node_factory("a", "--config", conf), node_factory("b", "--config", conf)
    alice = welcomed(clients(a, "alice"))
    victim = welcomed(clients(b, "victim"))
    wait_until(lambda: ison(alice, "victim") == ["victim"])
    oper(alice)
    alice.send("KLINE 3s ~victim@127.0.0.1 :cool off")
    notice(alice, "Added temporary K-line")
    assert closing_reason(victim.wait_closed()) == "K-lined: cool off"
    watcher = welcomed(clients(b, "watcher"))
    oper(watcher)
    assert stats(watcher, "k") == [["k", "127.0.0.1", "*", "~victim", "cool off"]]
    assert redis.keys("tc:bans") == ["tc:bans"]
    # Back in on b once it has expired (polling: no test asserts on time).
    until_attempt(b, "victim", "001")
    assert stats(watcher, "k") == []
    # The network's copy goes once a node drops it (a STATS prunes the expired bans).
    wait_until(lambda: stats(alice, "k") == [] and redis.keys("tc:bans") == [])


def test_bans_go_back_into_a_redis_that_restarted_empty(tmp_path, node_factory, clients, redis):
    conf = oper_conf(tmp_path)
    a = node_factory("a", "--config", conf)
    alice = welcomed(clients(a, "alice"))
    oper(alice)
    alice.send("KLINE ~victim@127.0.0.1 :kept by the nodes")
    notice(alice, "Added K-line")
    wait_until(lambda: redis.keys("tc:bans") == ["tc:bans"])
    redis.stop()
    alice.expect(lambda l: "degraded" in l and Msg(l).command == "NOTICE")
    redis.start()  # empty: no persistence
    alice.expect(lambda l: "recovered" in l and Msg(l).command == "NOTICE")
    # The node that held the ban put it back: a node started now refuses the user too.
    wait_until(lambda: redis.keys("tc:bans") == ["tc:bans"])
    b = node_factory("b", "--config", conf)
    m = Msg(until_attempt(b, "victim", "465"))
    assert m.text.endswith("kept by the nodes"), m
    assert stats(alice, "k") == [["K", "127.0.0.1", "*", "~victim", "kept by the nodes"]]


def test_a_redis_that_kept_its_data_gets_the_changes_made_meanwhile(tmp_path, node_factory,
                                                                     clients):
    """Redis with an append-only file goes away and comes back with its bans. A ban set and
    one lifted meanwhile hold on their node at once (its operator is told they are not saved
    yet), and go to the network when Redis is back, after which every node, one started
    later too, has the network's bans with those changes."""
    store = Redis(tmp_path, persist=True)
    try:
        conf = oper_conf(tmp_path)
        a = node_factory("a", "--config", conf, urls=store.url)
        alice = welcomed(clients(a, "alice"))
        oper(alice)
        for line in ("KLINE ~victim@127.0.0.1 :kept by Redis",
                     "KLINE ~pardoned@127.0.0.1 :lifted while away"):
            alice.send(line)
            notice(alice, "Added K-line")
        wait_until(lambda: store.keys("tc:bans") == ["tc:bans"])
        store.stop()
        alice.expect(lambda l: "degraded" in l and Msg(l).command == "NOTICE")
        alice.send("KLINE ~other@127.0.0.1 :while away")
        m = notice(alice, "Added K-line")
        assert "not saved yet" in m.text, m
        assert Msg(attempt(a, "other")).command == "465"
        alice.send("UNKLINE ~pardoned@127.0.0.1")
        notice(alice, "is removed")
        store.start()
        alice.expect(lambda l: "recovered" in l and Msg(l).command == "NOTICE")
        want = [["K", "127.0.0.1", "*", "~other", "while away"],
                ["K", "127.0.0.1", "*", "~victim", "kept by Redis"]]
        wait_until(lambda: sorted(stats(alice, "k")) == want)
        b = node_factory("b", "--config", conf, urls=store.url)
        until_attempt(b, "victim", "465")
        until_attempt(b, "other", "465")
        until_attempt(b, "pardoned", "001")
        bob = welcomed(clients(b, "bob"))
        oper(bob)
        assert sorted(stats(bob, "k")) == want
    finally:
        store.stop()
