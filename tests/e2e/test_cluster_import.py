"""A server that ran alone and then joins a network (--cluster) on the same data directory
carries its server bans (bans.db) and its channel registrations (channels.db) into the
network, as it carries its accounts (docs/cluster.md "Server bans", "Channel registrations"):
every node, the ones running already too, applies them; what the network has already stays
the network's; a registration whose founder is not that server's account on the network is
left out; an expired ban is not carried; starting again carries nothing twice.

Each test has its own redis-server and nodes (test_cluster.py's fixtures)."""
import subprocess
import time

from conftest import Client, Msg, closing_reason, is_command
from test_accounts import register as register_with
from test_cluster import clients, node_factory, redis, wait_until, welcomed  # noqa: F401
from test_cluster_bans import attempt, oper, oper_conf, stats, until_attempt
from test_services import PASSWORD, identify, join, service_notice


def register(node, nick, password=PASSWORD):
    return register_with(node, nick, password)


def hash_len(redis, key):
    out = subprocess.run(["redis-cli", "-p", str(redis.port), "--raw", "HLEN", key],
                         capture_output=True, text=True, check=True).stdout
    return int(out)


def info(c, chan):
    """ChanServ's first line about chan for c: "#chan: founder ..." or "#chan is not
    registered"."""
    c.send("CS INFO " + chan)
    return service_notice(c, "ChanServ", chan).text


def test_a_single_nodes_bans_go_into_the_network(tmp_path, server_factory, node_factory,
                                                  clients, redis):
    conf = oper_conf(tmp_path)
    data = str(tmp_path / "alone")
    alone = server_factory("--config", conf, "--data-dir", data)
    op = welcomed(Client(alone.port, "op"))
    oper(op)
    for line in ("KLINE ~victim@127.0.0.1 :spamming the lobby",
                 "DLINE 127.0.0.2 :bad network",
                 "KLINE ~other@127.0.0.1 :the file's reason",
                 "KLINE 2s ~brief@127.0.0.1 :cool off"):
        op.send(line)
        op.expect(lambda l: Msg(l).command == "NOTICE" and "Added" in l)
    op.close()
    alone.stop()
    time.sleep(2.5)  # the timed ban is past its end in the file: it is not carried

    # A network running already: one of its operators banned ~other with another reason.
    b = node_factory("b", "--config", conf)
    bob = welcomed(clients(b, "bob"))
    oper(bob)
    bob.send("KLINE ~other@127.0.0.1 :the network's reason")
    bob.expect(lambda l: Msg(l).command == "NOTICE" and "Added K-line" in l)
    victim = welcomed(clients(b, "victim"))

    # The server joins the network: its bans are everyone's, the user of b goes at once.
    a = node_factory("a", "--config", conf, "--data-dir", data)
    lines = victim.wait_closed()
    assert closing_reason(lines) == "K-lined: spamming the lobby", lines
    for node in (a, b):
        m = Msg(until_attempt(node, "victim", "465"))
        assert m.text.endswith("spamming the lobby"), m
        assert closing_reason([attempt(node, "victim", source="127.0.0.2")]) == \
            "D-lined: bad network"
        # the network's ban on ~other stays as it was set there
        m = Msg(until_attempt(node, "other", "465"))
        assert m.text.endswith("the network's reason"), m
        until_attempt(node, "brief", "001")  # busy a moment: the last loop's brief
    assert "the network's stays" in a.read_log()
    want_k = [["K", "127.0.0.1", "*", "~other", "the network's reason"],
              ["K", "127.0.0.1", "*", "~victim", "spamming the lobby"]]
    assert sorted(stats(bob, "k")) == want_k
    assert stats(bob, "d") == [["D", "127.0.0.2", "bad network"]]

    # Started again, the node carries nothing twice; the file is as it was.
    a.stop()
    a = node_factory("a", "--config", conf, "--data-dir", data)
    alice = welcomed(clients(a, "alice"))
    oper(alice)
    assert sorted(stats(alice, "k")) == want_k
    assert stats(alice, "d") == [["D", "127.0.0.2", "bad network"]]
    assert hash_len(redis, "tc:bans") == 3
    alone = server_factory("--config", conf, "--data-dir", data)
    op = welcomed(Client(alone.port, "op"))
    oper(op)
    assert sorted(stats(op, "k")) == [["K", "127.0.0.1", "*", "~other", "the file's reason"],
                                      ["K", "127.0.0.1", "*", "~victim", "spamming the lobby"]]
    op.close()


def test_a_single_nodes_channel_registrations_go_into_the_network(tmp_path, server_factory,
                                                                  node_factory, clients, redis):
    data = str(tmp_path / "alone")
    # The network, running: its own dave, and #taken registered by zed.
    b = node_factory("b")
    register(b, "dave", "the network's dave").close()
    zed = register(b, "zed")
    join(zed, "#taken")
    zed.send("CS REGISTER #taken")
    service_notice(zed, "ChanServ", "#taken is registered to zed")
    zed.close()

    # The server alone: alice founds #proj (bob on its access list) and #taken; its dave,
    # who is not the network's dave, founds #dave.
    alone = server_factory("--data-dir", data)
    alice, bob, dave = (register(alone, n) for n in ("alice", "bob", "dave"))
    for c, chan in ((alice, "#proj"), (alice, "#taken"), (dave, "#dave")):
        join(c, chan)
        c.send("CS REGISTER " + chan)
        service_notice(c, "ChanServ", "%s is registered to %s" % (chan, c.nick))
    alice.send("CS AMODE #proj +o bob")
    service_notice(alice, "ChanServ", "bob gets it on joining")
    for c in (alice, bob, dave):
        c.close()
    alone.stop()

    a = node_factory("a", "--data-dir", data)
    mallory = welcomed(clients(b, "mallory"))
    # b, running already, learns #proj; the others stay as the network had them.
    wait_until(lambda: info(mallory, "#proj").startswith("#proj: founder alice"))
    assert info(mallory, "#taken").startswith("#taken: founder zed")
    assert info(mallory, "#dave") == "#dave is not registered"
    log = a.read_log()
    assert "#taken" in log and "the network's registration stays" in log
    assert "#dave" in log and "not carried" in log
    # A stranger first into #proj on b gets no ops; its founder and bob, logging in on b, do.
    assert join(mallory, "#proj") == ["mallory"]
    for nick in ("alice", "bob"):
        c = clients(b, nick + "_")
        identify(c, nick)
        assert "@%s_" % nick in join(c, "#proj")
        m = Msg(mallory.expect(is_command("MODE")))
        assert m.prefix == "ChanServ!ChanServ@services" and m.params == ["#proj", "+o", nick + "_"]
    # On a too.
    watcher = welcomed(clients(a, "watcher"))
    assert info(watcher, "#proj").startswith("#proj: founder alice")

    # Started again, the node carries nothing twice and changes nothing.
    a.stop()
    a = node_factory("a", "--data-dir", data)
    watcher = welcomed(clients(a, "watcher2"))
    assert info(watcher, "#proj").startswith("#proj: founder alice")
    assert info(watcher, "#taken").startswith("#taken: founder zed")
    assert hash_len(redis, "tc:creg") == 2


def test_what_the_network_lifted_or_dropped_stays_so(tmp_path, server_factory, node_factory,
                                                     clients, redis):
    """A ban, a registration and an account carried from a single node's files, then lifted
    or dropped on the network, do not come back when that node starts again with the same
    files: each file's entries are carried once (remembered in Redis)."""
    conf = oper_conf(tmp_path)
    data = str(tmp_path / "alone")
    alone = server_factory("--config", conf, "--data-dir", data)
    op = welcomed(Client(alone.port, "op"))
    oper(op)
    op.send("KLINE ~victim@127.0.0.1 :spamming the lobby")
    op.expect(lambda l: Msg(l).command == "NOTICE" and "Added" in l)
    op.close()
    alice, carl = register(alone, "alice"), register(alone, "carl")
    join(alice, "#proj")
    alice.send("CS REGISTER #proj")
    service_notice(alice, "ChanServ", "#proj is registered to alice")
    alice.close()
    carl.close()
    alone.stop()

    a = node_factory("a", "--config", conf, "--data-dir", data)
    until_attempt(a, "victim", "465")
    boss = welcomed(clients(a, "boss"))
    oper(boss)
    boss.send("UNKLINE ~victim@127.0.0.1")
    boss.expect(lambda l: Msg(l).command == "NOTICE" and "is removed" in l)
    alice = clients(a, "alice_")  # a registered nick needs its login first
    identify(alice, "alice")
    alice.send("CS DROP #proj")
    service_notice(alice, "ChanServ", "#proj is no longer registered")
    carl = clients(a, "carl_")
    identify(carl, "carl")
    carl.send("NS DROP " + PASSWORD)
    service_notice(carl, "NickServ", "Account carl dropped")
    for c in (boss, alice, carl):
        c.close()

    a.stop()
    a = node_factory("a", "--config", conf, "--data-dir", data)
    until_attempt(a, "victim", "001")
    watcher = welcomed(clients(a, "watcher"))
    assert info(watcher, "#proj") == "#proj is not registered"
    assert hash_len(redis, "tc:bans") == 0 and hash_len(redis, "tc:creg") == 0
    carl = clients(a, "carl2")
    carl.send("NS IDENTIFY carl " + PASSWORD)
    service_notice(carl, "NickServ", "Invalid password for carl")
    # alice's account was not dropped: it is still the one carried
    alice = clients(a, "alice2")
    identify(alice, "alice")
