"""Several tcpchatd nodes as one network through Redis (--cluster; docs/cluster.md).

Each test starts its own redis-server (a temporary directory, a free loopback port, no
persistence unless the test asks) and its own nodes, and stops them."""
import os
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import (ROOT_ARGS, SERVER_BIN, TIMEOUT, Client, Msg, Server, barrier,
                      closing_reason, free_port, is_command, is_numeric, take_until)

REDIS_BIN = "/usr/bin/redis-server"


class Redis:
    """A redis-server of the test's own."""

    def __init__(self, tmp_path, port=None, persist=False):
        self.port = port or free_port()
        self.persist = persist  # an append-only file, synced on every write
        self.dir = tmp_path / ("redis-%d" % self.port)
        self.dir.mkdir(exist_ok=True)
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(
            [REDIS_BIN, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes" if self.persist else "no", "--appendfsync", "always",
             "--dir", str(self.dir), "--logfile", "redis.log"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + TIMEOUT
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if time.time() > deadline or self.proc.poll() is not None:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=TIMEOUT)

    def keys(self, pattern="*"):
        out = subprocess.run(["redis-cli", "-p", str(self.port), "--raw", "KEYS", pattern],
                             capture_output=True, text=True, check=True).stdout
        return [k for k in out.split("\n") if k]

    @property
    def url(self):
        return "redis://127.0.0.1:%d" % self.port


@pytest.fixture
def redis(tmp_path):
    r = Redis(tmp_path)
    yield r
    r.stop()


@pytest.fixture
def node_factory(redis):
    """node(name, *args) starts a node of the network on redis (or on urls=...). A test that
    kills a node says so with kill(node)."""
    nodes = []

    def make(name, *args, urls=None, heartbeat=1, server_name="test.server"):
        n = Server(("--cluster", urls or redis.url, "--node-name", name, "--cluster-heartbeat",
                    str(heartbeat), "--data-dir", "data-" + name) + args, name=server_name)
        n.killed = False
        nodes.append(n)
        return n

    yield make
    # Every node stops before any is judged: a failed check must not leave the rest running.
    stopped = [(n, n.stop()) for n in nodes]
    for n, rc in stopped:
        log = open(n.log_path, errors="replace").read()
        for report in ("ERROR: AddressSanitizer", "runtime error:", "WARNING: ThreadSanitizer",
                       "ERROR: LeakSanitizer"):
            assert report not in log, log
        assert n.killed or rc == 0, "tcpchatd exited with %r\n%s" % (rc, log)
        os.unlink(n.log_path)


def kill(node):
    node.killed = True
    node.proc.kill()
    node.proc.wait()


@pytest.fixture
def clients():
    made = []

    def make(node, nick, **kw):
        c = Client(node.port, nick, **kw)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def welcomed(c):
    """c, registered (Client waits for the end of the welcome) and settled."""
    barrier(c)
    return c


def refused(*args):
    """What tcpchatd printed when it refused to start with args (it may have opened its port
    before the cluster refused it, so this waits for its exit rather than for the port)."""
    p = subprocess.run([SERVER_BIN, "--bind", "127.0.0.1", "--port", str(free_port())] + ROOT_ARGS
                       + list(args), capture_output=True, text=True, timeout=TIMEOUT)
    for report in ("ERROR: AddressSanitizer", "runtime error:", "WARNING: ThreadSanitizer",
                   "ERROR: LeakSanitizer"):
        assert report not in p.stderr, p.stderr
    assert p.returncode == 1, p.stderr
    return p.stderr


def ison(c, *nicks):
    """The nicks of nicks that c's node says are online."""
    c.send("ISON " + " ".join(nicks))
    return c.expect(is_numeric("303")).split(":", 2)[2].split()


def wait_until(cond, timeout=TIMEOUT):
    deadline = time.time() + timeout
    while not cond():
        assert time.time() < deadline, "timed out waiting"
        time.sleep(0.1)


def test_a_nick_is_unique_across_nodes(node_factory, clients):
    a, b = node_factory("a"), node_factory("b")
    welcomed(clients(a, "alice"))
    dup = Client(b.port, None)
    dup.send("NICK alice")
    dup.send("USER x 0 * :x")
    dup.expect(is_numeric("433"))
    # Case-mapped: ALICE and alice are the same nick (rfc1459 folding too: [ and {).
    dup.send("NICK ALICE")
    dup.expect(is_numeric("433"))
    welcomed(clients(a, "we[rd"))
    dup.send("NICK WE{RD")
    dup.expect(is_numeric("433"))
    dup.send("NICK alice2")
    dup.expect(is_numeric("001"))
    dup.close()


def test_nick_race_exactly_one_wins(node_factory):
    """Two nodes register the same nick at the same instant, 20 times: each time exactly one
    client is welcomed and the other gets 433."""
    a, b = node_factory("a"), node_factory("b")
    pairs = []
    for i in range(20):
        pair = [Client(a.port, None), Client(b.port, None)]
        pairs.append(pair)
    go = threading.Barrier(len(pairs) * 2)

    def register(c, nick):
        go.wait()
        c.send_raw(("NICK %s\r\nUSER u 0 * :u\r\n" % nick).encode())

    threads = [threading.Thread(target=register, args=(c, "racer%d" % i))
               for i, pair in enumerate(pairs) for c in pair]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, pair in enumerate(pairs):
        outcome = []
        for c in pair:
            line = c.expect(lambda l: Msg(l).command in ("001", "433"))
            outcome.append(Msg(line).command)
        assert sorted(outcome) == ["001", "433"], (i, outcome)
        for c in pair:
            c.close()


def test_private_message_across_nodes_with_tags(node_factory, clients):
    a, b = node_factory("a"), node_factory("b")
    alice = clients(a, "alice", register=False)
    alice.send("CAP REQ :echo-message message-tags server-time")
    alice.send("CAP END")
    alice.register("alice")
    bob = clients(b, "bob", register=False)
    bob.send("CAP REQ :message-tags server-time")
    bob.send("CAP END")
    bob.register("bob")
    # a user's arrival reaches the other nodes a moment after its welcome, as on any network
    wait_until(lambda: ison(alice, "bob") == ["bob"])
    alice.send("@+draft/reply=x PRIVMSG bob :hello from a")
    got = bob.expect(is_command("PRIVMSG", "alice", "bob"))
    echo = alice.expect(is_command("PRIVMSG", "alice", "bob"))
    assert Msg(got).text == "hello from a"
    tags = dict(t.split("=", 1) for t in got[1:].split(" ", 1)[0].split(";"))
    echo_tags = dict(t.split("=", 1) for t in echo[1:].split(" ", 1)[0].split(";"))
    assert tags["msgid"] == echo_tags["msgid"], (got, echo)
    assert tags["time"] == echo_tags["time"]
    assert tags["+draft/reply"] == "x"
    # and back, in order
    for i in range(20):
        bob.send("PRIVMSG alice :reply %d" % i)
    texts = [Msg(alice.expect(is_command("PRIVMSG", "bob"))).text for _ in range(20)]
    assert texts == ["reply %d" % i for i in range(20)]
    # NOTICE too; and a nick nobody holds is 401, as on one node
    bob.send("NOTICE alice :psst")
    assert Msg(alice.expect(is_command("NOTICE", "bob"))).text == "psst"
    bob.send("PRIVMSG nobody :x")
    bob.expect(is_numeric("401"))


def test_queries_answer_for_the_whole_network(node_factory, clients):
    a, b = node_factory("a"), node_factory("b")
    alice = welcomed(clients(a, "alice"))
    bob = welcomed(clients(b, "bob"))
    wait_until(lambda: ison(alice, "bob") == ["bob"])
    alice.send("WHOIS bob")
    line = alice.expect(is_numeric("311"))
    assert Msg(line).params[1:4] == ["bob", "~bob", "127.0.0.1"]
    alice.expect(is_numeric("318"))
    alice.send("USERHOST bob")
    assert "bob=+~bob@127.0.0.1" in alice.expect(is_numeric("302"))
    bob.send("AWAY :lunch")
    bob.expect(is_numeric("306"))
    wait_until(lambda: (alice.send("WHOIS bob") or True) and
               any(Msg(l).command == "301" for l in take_until(alice, is_numeric("318"))))
    # A nick change is seen by the other node: the old nick is free, the new one taken.
    bob.send("NICK robert")
    bob.expect(is_command("NICK", "bob"))
    wait_until(lambda: ison(alice, "bob", "robert") == ["robert"])
    welcomed(clients(a, "bob"))
    taken = Client(a.port, None)
    taken.send("NICK robert")
    taken.send("USER x 0 * :x")
    taken.expect(is_numeric("433"))
    taken.close()
    alice.send("LUSERS")
    assert " 3 users" in alice.expect(is_numeric("251"))


def test_whois_and_lusers_name_the_nodes(node_factory, clients):
    a, b = node_factory("a"), node_factory("b")
    alice = welcomed(clients(a, "alice"))
    welcomed(clients(b, "bob"))
    wait_until(lambda: ison(alice, "bob") == ["bob"])

    def whois_server():
        alice.send("WHOIS bob")
        lines = take_until(alice, is_numeric("318"))
        return [Msg(l) for l in lines if Msg(l).command == "312"][0].params[2]

    # The node table comes with the heartbeat (1 s here): bob's server is his node's name.
    wait_until(lambda: whois_server() == "b")
    alice.send("WHOIS alice")
    assert Msg(alice.expect(is_numeric("312"))).params[2] == a.name

    def lusers():
        alice.send("LUSERS")
        return {Msg(l).command: Msg(l) for l in take_until(alice, is_numeric("266"))}

    wait_until(lambda: "on 2 servers" in lusers()["251"].text)
    r = lusers()
    assert r["251"].text == "There are 2 users and 0 invisible on 2 servers"
    assert r["255"].text == "I have 1 client and 1 server"
    assert r["265"].params[1:3] == ["1", "1"]
    assert r["266"].params[1:3] == ["2", "2"]


def test_a_node_named_only_by_node_name_is_called_so_everywhere(node_factory, clients):
    """Without --server-name a node's replies come from its node name, the name the other
    nodes give its users, and not from the machine's host name."""
    node_factory("a", server_name=None)
    b = node_factory("b", server_name=None)
    bob = clients(b, "bob", register=False)
    bob.send("CAP END")
    bob.send("NICK bob")
    bob.send("USER bob 0 * :bob")
    welcome = [Msg(l) for l in take_until(bob, lambda l: " 376 " in l or " 422 " in l)]
    assert welcome[0].nick == "b"  # the source of its replies
    assert [m.text for m in welcome if m.command == "002"][0].startswith("Your host is b,")
    barrier(bob)
    alice = welcomed(clients(node_factory("c"), "alice"))
    wait_until(lambda: ison(alice, "bob") == ["bob"])
    for asker in (bob, alice):
        asker.send("WHOIS bob")
        assert Msg(asker.expect(is_numeric("312"))).params[2] == "b"
        asker.expect(is_numeric("318"))

    def links_name_all():
        bob.send("LINKS")
        names = [Msg(l).params[1] for l in take_until(bob, is_numeric("365"))
                 if Msg(l).command == "364"]
        return names[:1] == ["b"] and sorted(names) == ["a", "b", "c"]

    wait_until(links_name_all)


def test_links_and_stats_l_show_the_network(node_factory, clients, redis):
    """LINKS lists this server and every other node (one hop: they meet in Redis); STATS l
    this node's connections to Redis with what went over them."""
    a, b = node_factory("a"), node_factory("b")
    alice = welcomed(clients(a, "alice"))

    def links():
        alice.send("LINKS")
        return [Msg(l).params[1] for l in take_until(alice, is_numeric("365"))
                if Msg(l).command == "364"]

    wait_until(lambda: links() == [a.name, "b"])
    alice.send("STATS l")
    lines = {m.params[1]: m.params[2:] for m in map(Msg, take_until(alice, is_numeric("219")))
             if m.command == "211"}
    base = "redis:127.0.0.1:%d/" % redis.port
    assert set(lines) == {base + "cmd", base + "sub"}
    _, sent, _, received, _, open_s = map(int, lines[base + "cmd"])
    assert sent > 0 and received > 0 and open_s >= 0
    assert int(lines[base + "sub"][3]) > 0  # events received


def test_monitor_sees_users_of_other_nodes(node_factory, clients):
    a, b = node_factory("a"), node_factory("b")
    w = welcomed(clients(a, "watcher"))
    w.send("MONITOR + alice")
    assert Msg(w.expect(is_numeric("731"))).text == "alice"
    alice = welcomed(clients(b, "alice"))
    assert Msg(w.expect(is_numeric("730"))).text == "alice!~alice@127.0.0.1"
    alice.send("QUIT :bye")
    assert Msg(w.expect(is_numeric("731"))).text == "alice"


def mkpasswd(password):
    p = subprocess.run([SERVER_BIN, "--mkpasswd"], input=(password + "\n").encode(),
                       capture_output=True, timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr
    return p.stdout.decode().strip()


def test_operators_reach_every_node(tmp_path, node_factory, clients):
    conf = tmp_path / "tcpchatd.conf"
    conf.write_text("[oper \"alice\"]\npassword = %s\nhost = *@127.0.0.1\n"
                    % mkpasswd("wonderland"))
    a, b = node_factory("a", "--config", str(conf)), node_factory("b", "--config", str(conf))
    alice = welcomed(clients(a, "alice"))
    bob = welcomed(clients(b, "bob"))
    carol = welcomed(clients(b, "carol"))
    wait_until(lambda: ison(alice, "bob", "carol") == ["bob", "carol"])
    alice.send("OPER alice wonderland")
    alice.expect(is_numeric("381"))
    bob.send("MODE bob +w")
    bob.expect(is_command("MODE"))
    alice.send("WALLOPS :checking the servers")
    m = Msg(bob.expect(is_command("WALLOPS")))
    assert m.prefix.startswith("alice!") and m.text == "checking the servers"
    alice.send("ANNOUNCE :maintenance at noon")
    for c in (bob, carol):
        m = Msg(c.expect(is_command("NOTICE")))
        assert m.params == [c.nick, "maintenance at noon"], m
    a.say("the console speaks")
    for c in (bob, carol):
        assert Msg(c.expect(is_command("NOTICE"))).text == "the console speaks"
    # carol has no +w: the WALLOPS did not reach her
    assert not [l for l in barrier(carol) if "WALLOPS" in l]
    alice.send("KILL carol :spamming")
    assert "Killed (alice (spamming))" in closing_reason(carol.wait_closed())
    wait_until(lambda: ison(alice, "bob", "carol") == ["bob"])


def test_quit_frees_the_nick_network_wide(node_factory, clients):
    a, b = node_factory("a"), node_factory("b")
    bob = welcomed(clients(b, "bob"))
    alice = welcomed(clients(a, "alice"))
    wait_until(lambda: ison(alice, "bob") == ["bob"])
    bob.send("QUIT :bye")
    bob.wait_closed()
    wait_until(lambda: ison(alice, "bob") == [])
    welcomed(clients(a, "bob"))


def test_killed_node_leaves_within_the_heartbeat(node_factory, clients):
    a, b = node_factory("a"), node_factory("b", heartbeat=1)
    alice = welcomed(clients(a, "alice"))
    welcomed(clients(b, "bob"))
    wait_until(lambda: ison(alice, "bob") == ["bob"])
    t0 = time.time()
    kill(b)
    # Three missed heartbeats (3 s here) and the next beat of the survivor: well within 10 s.
    while ison(alice, "bob"):
        assert time.time() - t0 < 10, "the killed node's users are still online\n" + a.read_log()
        time.sleep(0.2)
    welcomed(clients(a, "bob"))  # its nick is free again
    assert "node b" in a.read_log()


def test_stopped_node_leaves_at_once(node_factory, clients):
    a, b = node_factory("a", heartbeat=30), node_factory("b", heartbeat=30)
    alice = welcomed(clients(a, "alice"))
    bob = welcomed(clients(b, "bob"))
    wait_until(lambda: ison(alice, "bob") == ["bob"])
    b.stop()
    assert "ERROR" in "\n".join(bob.wait_closed())
    # Long before a 30-second heartbeat could tell: the goodbye said so.
    wait_until(lambda: ison(alice, "bob") == [], timeout=5)
    welcomed(clients(a, "bob"))


def test_restarted_node_frees_what_its_last_run_held(node_factory, clients, redis):
    a = node_factory("a", heartbeat=60)
    welcomed(clients(a, "alice"))
    kill(a)
    # The same name again: no need to wait a minute for the heartbeat to lapse.
    a2 = node_factory("a", heartbeat=60)
    welcomed(clients(a2, "alice"))


def test_same_node_name_twice_is_refused(node_factory, redis):
    node_factory("a")
    assert "running already" in refused("--cluster", redis.url, "--node-name", "a",
                                        "--data-dir", "data-a2")


def test_redis_restart_degrades_then_recovers(node_factory, clients, redis):
    a, b = node_factory("a"), node_factory("b")
    alice = welcomed(clients(a, "alice"))
    bob = welcomed(clients(b, "bob"))
    wait_until(lambda: ison(alice, "bob") == ["bob"])
    redis.stop()
    # Told once, and still connected.
    note = alice.expect(lambda l: "degraded" in l and Msg(l).command == "NOTICE")
    assert "Redis" in note
    # A message that cannot be stored and published comes back as FAIL, never lost silently.
    alice.send("PRIVMSG bob :while down")
    fail = alice.expect(is_command("FAIL"))
    assert "TEMPORARILY_UNAVAILABLE" in fail
    alice.send("NICK alicia")
    alice.expect(is_numeric("437"))
    redis.start()  # empty: no persistence
    alice.expect(lambda l: "recovered" in l and Msg(l).command == "NOTICE")
    bob.expect(lambda l: "recovered" in l and Msg(l).command == "NOTICE")
    # The nodes announced their users again: nicks held, users known, messages flow.
    wait_until(lambda: ison(alice, "bob") == ["bob"])
    taken = Client(b.port, None)
    taken.send("NICK alice")
    taken.send("USER x 0 * :x")
    taken.expect(is_numeric("433"))
    taken.close()
    alice.send("PRIVMSG bob :after")
    assert Msg(bob.expect(is_command("PRIVMSG", "alice"))).text == "after"


def test_two_redis_servers_share_the_nicks(tmp_path, node_factory, clients):
    r1, r2 = Redis(tmp_path), Redis(tmp_path)
    try:
        urls = r1.url + "," + r2.url
        a, b = node_factory("a", urls=urls), node_factory("b", urls=urls)
        nicks = ["user%d" % i for i in range(12)]
        for i, n in enumerate(nicks):
            welcomed(clients(a if i % 2 else b, n))
        k1, k2 = r1.keys("tc:nick:*"), r2.keys("tc:nick:*")
        assert k1 and k2, (k1, k2)
        assert sorted(k1 + k2) == sorted("tc:nick:" + n for n in nicks)
        watcher = welcomed(clients(a, "watcher"))
        wait_until(lambda: sorted(ison(watcher, *nicks)) == sorted(nicks))
        # each nick is still unique, whichever server holds it
        for n in nicks:
            c = Client(b.port, None)
            c.send("NICK " + n)
            c.send("USER x 0 * :x")
            c.expect(is_numeric("433"))
            c.close()
    finally:
        r1.stop()
        r2.stop()


@pytest.mark.parametrize("url,why", [
    ("http://127.0.0.1:6379", "redis://"),
    ("redis://127.0.0.1:99999", "port"),
    ("redis://", "no host"),
    ("redis://127.0.0.1:1,redis://127.0.0.1:1", "named twice"),
])
def test_bad_cluster_urls_are_refused(server_factory, url, why):
    with pytest.raises(RuntimeError) as e:
        server_factory("--cluster", url)
    assert why in str(e.value)


def test_unreachable_redis_is_reported():
    assert "cannot reach Redis" in refused("--cluster", "redis://127.0.0.1:%d" % free_port())


def test_metrics_show_the_redis_links_and_nodes(node_factory, clients, redis):
    """/metrics of a node names its Redis links, up, and the nodes it hears; a link that
    falls is shown down."""
    from test_metrics import value, wait_for
    from test_tls import wait_port

    web = free_port()
    node_factory("a", "--http-port", str(web))
    node_factory("b")
    wait_port(web)
    got = wait_for(web, lambda g: value(g, "tcpchat_cluster_nodes") == 2, "two nodes heard")
    links = {dict(labels)["link"]: v for (name, labels), v in got.items()
             if name == "tcpchat_cluster_link_up"}
    assert links and all(v == 1 for v in links.values()), links
    redis.stop()
    wait_for(web, lambda g: any(v == 0 for (name, _), v in g.items()
                                if name == "tcpchat_cluster_link_up"), "a link shown down")
    redis.start()
