"""Users who leave while Redis is away (docs/cluster.md "Redis persistence", "Failures"):
their node keeps their QUIT lines (a bounded record, tests/unit/test_quits.c), and when
Redis returns, with its data or empty, the users of the other nodes who shared a channel with
them see each one quit with its own reason, once, rather than a generic line."""
import socket
import threading

import pytest
from conftest import Msg, free_port, is_numeric, take_until
from test_cluster import (Redis, clients, ison, node_factory, redis,  # noqa: F401
                          wait_until, welcomed)
from test_cluster_channels import joined, names


def shard_of(name, n):
    """The Redis server (of n) a name lives on: FNV-1a of its folded form, as cluster.c."""
    h = 2166136261
    for ch in name.lower().translate(str.maketrans("[]\\~", "{}|^")).encode():
        h = ((h ^ ch) * 16777619) & 0xFFFFFFFF
    return h % n


def names_seen(c, chan, seen):
    """The nicks c's node lists in chan; every line read meanwhile goes into seen."""
    c.send("NAMES " + chan)
    out = []
    for line in take_until(c, is_numeric("366", chan)):
        seen.append(line)
        if Msg(line).command == "353":
            out += Msg(line).text.split()
    return sorted(out)


def quits_of(lines, nick):
    return [Msg(l) for l in lines if Msg(l).command == "QUIT" and Msg(l).nick == nick]


def parts_of(lines, nick):
    return [Msg(l) for l in lines if Msg(l).command == "PART" and Msg(l).nick == nick]


def quit_seen_once(seen, nick, reason):
    """Among the lines seen, nick quit once, with its own reason, and parted nowhere."""
    assert [q.text for q in quits_of(seen, nick)] == ["Quit: " + reason], seen
    assert not parts_of(seen, nick), seen


def told_degraded(*users):
    """Waits until each user has been told the network is degraded."""
    for c in users:
        c.expect(lambda l: "degraded" in l and Msg(l).command == "NOTICE")


def redis_away(store, *users):
    """Stops store, and waits until each user has been told the network is degraded."""
    store.stop()
    told_degraded(*users)


def two_nodes_in(store, node_factory, clients, chan, on_a, on_b):
    """Nodes a and b on store, and users of the nicks on_a (node a) and on_b (node b) in chan,
    each seen there by the first of on_a; returns a, b and the users by nick."""
    a, b = node_factory("a", urls=store.url), node_factory("b", urls=store.url)
    users = {nick: joined(welcomed(clients(node, nick)), chan)
             for node, nicks in ((a, on_a), (b, on_b)) for nick in nicks}
    wait_until(lambda: len(names(users[on_a[0]], chan)) == len(users))
    return a, b, users


@pytest.mark.parametrize("persist", [True, False], ids=["with-its-data", "empty"])
def test_a_quit_while_redis_was_away_arrives_with_its_reason(tmp_path, node_factory, clients,
                                                             persist):
    """Two users of node b leave while Redis is away, one with QUIT and a reason, one whose
    connection drops. When Redis is back (having kept its data, or restarted empty) the user
    of node a sharing a channel with them sees each QUIT once, with its real reason; nothing
    is seen before Redis is back."""
    store = Redis(tmp_path, persist=persist)
    try:
        a, b, u = two_nodes_in(store, node_factory, clients, "#room", ["alice"], ["bob", "dave"])
        alice, bob, dave = u["alice"], u["bob"], u["dave"]
        redis_away(store, alice, bob)
        bob.send("QUIT :gone fishing")
        bob.wait_closed()
        dave.close()  # the connection lost: its node says why
        seen = alice.collect(1.5)  # nothing reaches node a while Redis is away
        assert not quits_of(seen, "bob") and not quits_of(seen, "dave"), seen
        store.start()
        wait_until(lambda: names_seen(alice, "#room", seen) == ["@alice"], timeout=30)
        seen += alice.collect(1)
        quit_seen_once(seen, "bob", "gone fishing")
        dropped = quits_of(seen, "dave")
        assert len(dropped) == 1 and not dropped[0].text.startswith("Left while"), seen
        assert not parts_of(seen, "dave"), seen
        wait_until(lambda: ison(alice, "bob", "dave") == [])
        welcomed(clients(a, "bob"))  # the nick is free again
    finally:
        store.stop()


@pytest.mark.parametrize("persist", [True, False], ids=["with-its-data", "empty"])
def test_parts_and_kicks_while_redis_was_away_reach_the_network(tmp_path, node_factory, clients,
                                                                persist):
    """While Redis is away, bob (node b) parts #room with a reason, carol (node b) parts and
    joins again, and bob's node kicks dave (node a) out of #ops. When Redis is back, alice
    (node a) sees bob's PART with its reason and carol still there; dave is out of #ops on
    his own node too; and a user joining later on a third node finds the same members. (Before,
    the PART and the KICK never left node b: alice kept seeing bob in #room.)"""
    store = Redis(tmp_path, persist=persist)
    try:
        a, b, u = two_nodes_in(store, node_factory, clients, "#room", ["alice"], ["bob", "carol"])
        alice, bob, carol = u["alice"], u["bob"], u["carol"]
        joined(bob, "#ops")
        dave = joined(welcomed(clients(a, "dave")), "#ops")
        wait_until(lambda: names(alice, "#room") == ["@alice", "bob", "carol"] and
                   names(bob, "#ops") == ["@bob", "dave"])
        redis_away(store, alice, bob)
        bob.send("PART #room :off to lunch")
        bob.expect(lambda l: Msg(l).command == "PART")
        carol.send("PART #room")
        carol.expect(lambda l: Msg(l).command == "PART")
        joined(carol, "#room")
        bob.send("KICK #ops dave :not now")
        bob.expect(lambda l: Msg(l).command == "KICK")
        seen = alice.collect(1)
        assert not parts_of(seen, "bob"), seen
        store.start()
        wait_until(lambda: names_seen(alice, "#room", seen) == ["@alice", "carol"], timeout=30)
        seen += alice.collect(1)
        assert [p.text for p in parts_of(seen, "bob")] == ["off to lunch"], seen
        kick = Msg(dave.expect(lambda l: Msg(l).command == "KICK"))
        assert kick.params[:2] == ["#ops", "dave"] and kick.text == "not now"
        assert names(dave, "#ops") == ["@bob"]
        erin = welcomed(clients(node_factory("c", urls=store.url), "erin"))
        assert names(erin, "#room") == ["@alice", "carol"]
        assert names(erin, "#ops") == ["@bob"]
    finally:
        store.stop()


def test_a_quit_spanning_two_redis_servers_is_seen_once(tmp_path, node_factory, clients):
    """A user in two channels that live on two Redis servers quits while both are away: a
    user of another node sharing both channels sees one QUIT, with its reason."""
    r1, r2 = Redis(tmp_path), Redis(tmp_path)
    try:
        first = next("#one%d" % i for i in range(100) if shard_of("#one%d" % i, 2) == 0)
        second = next("#two%d" % i for i in range(100) if shard_of("#two%d" % i, 2) == 1)
        urls = r1.url + "," + r2.url
        a, b = node_factory("a", urls=urls), node_factory("b", urls=urls)
        alice = joined(joined(welcomed(clients(a, "alice")), first), second)
        bob = joined(joined(welcomed(clients(b, "bob")), first), second)
        wait_until(lambda: names(alice, second) == ["@alice", "bob"])
        r1.stop()
        r2.stop()
        told_degraded(alice, bob)
        bob.send("QUIT :gone fishing")
        bob.wait_closed()
        seen = alice.collect(0.5)
        r1.start()
        r2.start()
        wait_until(lambda: names_seen(alice, first, seen) == ["@alice"] and
                   names_seen(alice, second, seen) == ["@alice"], timeout=30)
        seen += alice.collect(1.5)
        quit_seen_once(seen, "bob", "gone fishing")
    finally:
        r1.stop()
        r2.stop()


class Cut:
    """A TCP relay to a Redis server that can be cut (every connection closed, new ones
    refused) and joined again: one node's way to Redis, while the others keep theirs."""

    def __init__(self, port):
        self.target = port
        self.port = free_port()
        self.conns = []
        self.lock = threading.Lock()
        self.listener = None
        self.join()

    def join(self):
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(16)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def cut(self):
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes its accept (Linux)
        except OSError:
            pass
        self.listener.close()
        with self.lock:
            for s in self.conns:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            self.conns = []

    def _accept(self, listener):
        while True:
            try:
                near, _ = listener.accept()
            except OSError:
                return  # cut
            far = socket.create_connection(("127.0.0.1", self.target))
            with self.lock:
                self.conns += [near, far]
            for src, dst in ((near, far), (far, near)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    @property
    def url(self):
        return "redis://127.0.0.1:%d" % self.port


def test_a_node_back_after_the_quit_was_published_still_sees_its_reason(node_factory, clients,
                                                                         redis):
    """Both nodes lose Redis; a user of node b quits; node b comes back first and publishes
    the QUIT while node a is still cut off. Node a, back later, finds the QUIT kept on the
    server (tc:left) and shows it, rather than a PART "Left while this server was cut off"."""
    to_a, to_b = Cut(redis.port), Cut(redis.port)
    try:
        a, b = node_factory("a", urls=to_a.url), node_factory("b", urls=to_b.url)
        alice = joined(welcomed(clients(a, "alice")), "#room")
        bob = joined(welcomed(clients(b, "bob")), "#room")
        wait_until(lambda: names(alice, "#room") == ["@alice", "bob"])
        to_a.cut()
        to_b.cut()
        told_degraded(alice, bob)
        bob.send("QUIT :gone fishing")
        bob.wait_closed()
        to_b.join()
        wait_until(lambda: redis.keys("tc:left") == ["tc:left"])  # published, node a away
        seen = alice.collect(0.5)
        to_a.join()
        wait_until(lambda: names_seen(alice, "#room", seen) == ["@alice"], timeout=30)
        seen += alice.collect(1)
        quit_seen_once(seen, "bob", "gone fishing")
    finally:
        to_a.cut()
        to_b.cut()


def test_a_channel_registered_while_redis_was_away_reaches_the_network(tmp_path, node_factory,
                                                                        clients):
    """A channel registered (ChanServ) while the first Redis server is away holds on its node
    at once, and reaches the network when Redis is back with its data (before, the server's
    list replaced the node's, and the registration was gone)."""
    from test_services import join, register, service_notice
    store = Redis(tmp_path, persist=True)
    try:
        a = node_factory("a", urls=store.url)
        alice = register(a, "alice")
        join(alice, "#proj")
        redis_away(store, alice)
        alice.send("CS REGISTER #proj")
        m = service_notice(alice, "ChanServ", "#proj is registered to alice")
        assert "not be saved yet" in m.text, m
        store.start()
        alice.expect(lambda l: "recovered" in l and Msg(l).command == "NOTICE")
        wait_until(lambda: store.keys("tc:creg") == ["tc:creg"])
        late = welcomed(clients(node_factory("b", urls=store.url), "late"))
        late.send("CS INFO #proj")
        service_notice(late, "ChanServ", "#proj: founder alice")
        alice.send("CS INFO #proj")
        service_notice(alice, "ChanServ", "#proj: founder alice")
    finally:
        store.stop()


@pytest.mark.parametrize("persist", [True, False], ids=["with-its-data", "empty"])
def test_settings_changed_while_redis_was_away_reach_the_network(tmp_path, node_factory,
                                                                  clients, persist):
    """An operator on node a sets the topic and a key while Redis is away: they hold on node a
    at once, and when Redis is back (with its data, or empty) bob on node b sees the TOPIC
    and the MODE, node b and a node started later have them (before, they stayed on node a:
    node b kept the old topic)."""
    store = Redis(tmp_path, persist=persist)
    try:
        a, b, u = two_nodes_in(store, node_factory, clients, "#room", ["alice"], ["bob"])
        alice, bob = u["alice"], u["bob"]
        alice.send("TOPIC #room :before")
        bob.expect(lambda l: Msg(l).command == "TOPIC")
        redis_away(store, alice)
        alice.send("TOPIC #room :set while away")
        alice.expect(lambda l: Msg(l).command == "TOPIC")
        alice.send("MODE #room +k sesame")
        alice.expect(lambda l: Msg(l).command == "MODE")
        store.start()
        # live, or from node b's reconciling if it was subscribed again only after
        topic = Msg(bob.expect(lambda l: Msg(l).command == "TOPIC", timeout=30))
        assert topic.text == "set while away"
        mode = Msg(bob.expect(lambda l: Msg(l).command == "MODE"))
        assert mode.params[1:] == ["+k", "sesame"]
        carol = welcomed(clients(node_factory("c", urls=store.url), "carol"))
        carol.send("JOIN #room sesame")
        assert Msg(carol.expect(is_numeric("332"))).text == "set while away"
    finally:
        store.stop()
