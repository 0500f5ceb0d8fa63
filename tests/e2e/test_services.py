"""tcpchatd end to end: the built-in services. ChanServ: a registered channel's founder (and
the accounts its access list names) get ops back after a restart while a stranger who arrives
first does not; its history outlives its empty spells; the bounds on channels per founder and
on the access list; the default channel owned by the operators (--default-channel-owned).
NickServ: IDENTIFY, PASSWD, DROP, GHOST, REGAIN, LOGOUT OTHERS, SESSIONS, and the service
nicks reserved."""
import pytest

from conftest import Client, Msg, barrier, closing_reason, is_command, is_numeric, take_until
from test_accounts import register as register_with

PASSWORD = "staple-battery"  # NickServ takes words: its passwords have no spaces


def register(server, nick):
    return register_with(server, nick, PASSWORD)
from test_cluster import clients, node_factory, redis  # noqa: F401 (fixtures)
from test_oper import conf_text, hashes, oper  # noqa: F401 (hashes is a fixture)

CHANREG_PER_ACCOUNT = 20  # src/server/core/defines.h
CHANREG_ACCESS_MAX = 50


def service_notice(c, service, text):
    """The next NOTICE from service (NickServ or ChanServ) to c that contains text."""
    def pred(line):
        m = Msg(line)
        return (m.command == "NOTICE" and m.prefix == "%s!%s@services" % (service, service)
                and text in m.text)
    return Msg(c.expect(pred))


def names_of(c, chan):
    """The nicks (with their prefixes) of chan's NAMES reply that c receives next."""
    got = []
    for line in take_until(c, is_numeric("366", chan)):
        m = Msg(line)
        if m.command == "353" and m.params[2].lower() == chan.lower():
            got += m.params[-1].split()
    return got


def join(c, chan):
    c.send("JOIN " + chan)
    return names_of(c, chan)


def identify(c, account, password=PASSWORD):
    c.send("PRIVMSG NickServ :IDENTIFY %s %s" % (account, password))
    c.expect(is_numeric("900"))
    service_notice(c, "NickServ", "You are now identified for " + account)


def test_founder_gets_ops_back_after_restart_and_a_stranger_does_not(server_factory):
    srv = server_factory()
    alice = register(srv, "alice")  # creator of #proj: ops as usual
    bob = register(srv, "bob")
    assert "@alice" in join(alice, "#proj")
    alice.send("PRIVMSG ChanServ :REGISTER #proj")
    service_notice(alice, "ChanServ", "#proj is registered to alice")
    alice.send("CS AMODE #proj +o bob")
    service_notice(alice, "ChanServ", "bob gets it on joining")
    # Only an op may register, and only the founder change the list.
    bob.send("CS REGISTER #other")
    service_notice(bob, "ChanServ", "You must be an operator of #other")
    bob.send("CS AMODE #proj +o bob")
    service_notice(bob, "ChanServ", "Only the founder of #proj may do that")
    alice.send("CS INFO #proj")
    service_notice(alice, "ChanServ", "#proj: founder alice, registered")
    service_notice(alice, "ChanServ", "+o bob")
    srv.stop()

    srv = server_factory(port=srv.port)
    mallory = Client(srv.port, "mallory")
    assert join(mallory, "#proj") == ["mallory"]  # first, and no ops
    mallory.send("MODE #proj +o mallory")
    mallory.expect(is_numeric("482", "#proj"))
    alice = Client(srv.port, "alice_")
    identify(alice, "alice")
    assert "@alice_" in join(alice, "#proj")
    m = Msg(mallory.expect(lambda l: Msg(l).command == "MODE"))
    assert m.prefix == "ChanServ!ChanServ@services" and m.params == ["#proj", "+o", "alice_"]
    bob = Client(srv.port, "bob_")
    identify(bob, "bob")
    assert "@bob_" in join(bob, "#proj")
    m = Msg(mallory.expect(lambda l: Msg(l).command == "MODE"))
    assert m.params == ["#proj", "+o", "bob_"]
    # A stranger on the access list of nobody can still be given ops by the founder.
    alice.send("CS OP #proj mallory")
    m = Msg(mallory.expect(lambda l: Msg(l).command == "MODE"))
    assert m.params == ["#proj", "+o", "mallory"]
    # Once dropped, the channel is like any other again.
    alice.send("CS DROP #proj")
    service_notice(alice, "ChanServ", "#proj is no longer registered")
    alice.send("CS INFO #proj")
    service_notice(alice, "ChanServ", "#proj is not registered")


def test_registered_channel_keeps_its_history_while_empty(server):
    alice = register(server, "alice")
    join(alice, "#proj")
    alice.send("CS REGISTER #proj")
    service_notice(alice, "ChanServ", "registered to alice")
    alice.send("PRIVMSG #proj :kept for the owners")
    alice.send("PART #proj")
    alice.expect(is_command("PART"))
    join(alice, "#open")  # an unregistered channel, for comparison
    alice.send("PRIVMSG #open :gone with the channel")
    alice.send("PART #open")
    alice.expect(lambda l: Msg(l).command == "PART" and "#open" in l)
    alice.send("JOIN #proj")
    alice.expect(lambda l: "kept for the owners" in l)
    alice.send("JOIN #open")
    alice.send("PART #proj")
    alice.send("JOIN #proj")
    # The history store answers in order: #open's replay, if any, comes before #proj's.
    lines = take_until(alice, lambda l: "kept for the owners" in l)
    assert not any("gone with the channel" in l for l in lines)


def test_channel_registration_bounds(server_factory):
    srv = server_factory("--flood-rate", "1000", "--flood-burst", "1000")
    alice = register(srv, "alice")
    for i in range(CHANREG_PER_ACCOUNT + 1):
        alice.send("JOIN #c%d" % i)
        alice.send("CS REGISTER #c%d" % i)
    for i in range(CHANREG_PER_ACCOUNT):
        service_notice(alice, "ChanServ", "#c%d is registered to alice" % i)
    service_notice(alice, "ChanServ", "may found at most %d channels" % CHANREG_PER_ACCOUNT)
    for i in range(CHANREG_ACCESS_MAX + 1):
        alice.send("CS AMODE #c0 +v user%d" % i)
    for i in range(CHANREG_ACCESS_MAX):
        service_notice(alice, "ChanServ", "user%d gets it on joining" % i)
    service_notice(alice, "ChanServ", "is full (%d accounts)" % CHANREG_ACCESS_MAX)


def test_default_channel_owned_by_the_operators(tmp_path, hashes, server_factory):  # noqa: F811
    motd = tmp_path / "motd"
    motd.write_text("motd\n")
    conf = tmp_path / "tcpchatd.conf"
    conf.write_text(conf_text(hashes, motd, opers=("alice", "zed")))
    srv = server_factory("--config", str(conf), "--default-channel-owned", "on")
    bob = Client(srv.port, "bob")
    assert names_of(bob, "#lobby") == ["bob"]  # the first one in: no ops
    alice = Client(srv.port, "alice")
    alice.expect(is_numeric("366", "#lobby"))
    alice.send("CS OP #lobby")
    service_notice(alice, "ChanServ", "You may not do that on #lobby")
    oper(alice)
    alice.send("CS OP #lobby")
    m = Msg(bob.expect(lambda l: Msg(l).command == "MODE"))
    assert m.prefix == "ChanServ!ChanServ@services" and m.params == ["#lobby", "+o", "alice"]
    # An operator joining it later gets ops at once.
    carol = Client(srv.port, "carol")
    carol.expect(is_numeric("366", "#lobby"))
    oper(carol, "zed", "zzz")
    carol.send("PART #lobby")
    carol.expect(is_command("PART"))
    assert "@carol" in join(carol, "#lobby")


def test_nickserv_identify_passwd_and_drop(server):
    alice = register(server, "alice")
    alice.close()
    c = Client(server.port, "guest")
    c.send("PRIVMSG NickServ :IDENTIFY alice wrongpassword")
    service_notice(c, "NickServ", "Invalid password for alice")
    identify(c, "alice")
    c.send("NS PASSWD wrongpassword newpassword1")
    service_notice(c, "NickServ", "Invalid password for alice")
    c.send("NS PASSWD %s newpassword1" % PASSWORD)
    service_notice(c, "NickServ", "Password of alice changed")
    d = Client(server.port, "other")
    d.send("NS IDENTIFY alice " + PASSWORD)
    service_notice(d, "NickServ", "Invalid password for alice")
    identify(d, "alice", "newpassword1")
    c.send("NS SESSIONS")
    service_notice(c, "NickServ", "2 sessions logged into alice")
    c.send("NS DROP newpassword1")
    c.expect(is_numeric("901"))
    service_notice(c, "NickServ", "Account alice dropped")
    assert closing_reason(d.wait_closed()) == "Account alice was dropped"
    # The name is free: anyone may take the nick now.
    e = Client(server.port, "alice")


def regained(c, watcher, stale):
    """alice_ (c, logged into alice) sends REGAIN: the stale alice is closed (watcher sees her
    QUIT naming the REGAIN) and c is alice, with no NICK of its own."""
    c.send("NS REGAIN alice")
    service_notice(c, "NickServ", "alice has been disconnected; taking the nick")
    m = Msg(c.expect(lambda l: Msg(l).command == "NICK"))
    assert m.nick == "alice_" and m.params == ["alice"]
    quit = Msg(watcher.expect(lambda l: Msg(l).command == "QUIT" and l.startswith(":alice!")))
    assert "REGAIN command used by alice_" in quit.text
    stale.wait_closed()


def test_nickserv_ghost_and_regain(server):
    stale = register(server, "alice")  # a connection the user lost track of
    watcher = Client(server.port, "watcher")
    watcher.expect(is_numeric("366", "#lobby"))
    c = Client(server.port, "alice_")
    c.send("NS REGAIN alice")
    service_notice(c, "NickServ", "You are not logged in")
    identify(c, "alice")
    regained(c, watcher, stale)
    # GHOST: only one's own nick, or a session of one's own account.
    bystander = Client(server.port, "bystander")  # noqa: F841 (kept open)
    c.send("NS GHOST bystander")
    service_notice(c, "NickServ", "bystander is not yours")
    c.send("NS GHOST alice")
    service_notice(c, "NickServ", "alice is you")
    second = Client(server.port, "phone")
    identify(second, "alice")
    c.send("NS GHOST phone")
    service_notice(c, "NickServ", "phone has been disconnected")
    second.wait_closed()


def test_nickserv_logout_others(server):
    alice = register(server, "alice")
    laptop = Client(server.port, "laptop")
    identify(laptop, "alice")
    phone = Client(server.port, "phone")
    identify(phone, "alice")
    alice.send("NS LOGOUT OTHERS")
    service_notice(alice, "NickServ", "2 other sessions of alice closed")
    laptop.wait_closed()
    phone.wait_closed()
    alice.send("NS LOGOUT")
    alice.expect(is_numeric("901"))
    service_notice(alice, "NickServ", "You are logged out of alice")


@pytest.mark.parametrize("nick", ["NickServ", "chanserv"])
def test_service_nicks_are_reserved(server, nick):
    c = Client(server.port)
    c.send("NICK " + nick)
    c.expect(is_numeric("432"))


def test_services_help_and_unknown_commands(server):
    c = Client(server.port, "someone")
    c.send("PRIVMSG NickServ :HELP")
    service_notice(c, "NickServ", "GHOST <nick>")
    c.send("CS HELP")
    service_notice(c, "ChanServ", "AMODE <#channel>")
    c.send("PRIVMSG ChanServ :FROBNICATE")
    service_notice(c, "ChanServ", "Unknown command FROBNICATE")


def test_nickserv_changes_reach_every_node_of_a_cluster(node_factory, clients, redis):
    """In a cluster the accounts are the network's (Redis): a password changed on node a is
    the one node b checks, and an account dropped on a frees its nick on b."""
    from test_cluster import wait_until
    a, b = node_factory("a"), node_factory("b")
    alice = register(a, "alice")
    alice.send("NS PASSWD %s newpassword1" % PASSWORD)
    service_notice(alice, "NickServ", "Password of alice changed")
    guest = clients(b, "guest")
    guest.send("NS IDENTIFY alice " + PASSWORD)
    service_notice(guest, "NickServ", "Invalid password for alice")
    identify(guest, "alice", "newpassword1")
    alice.send("NS DROP newpassword1")
    service_notice(alice, "NickServ", "Account alice dropped")
    assert closing_reason(guest.wait_closed()) == "Account alice was dropped"
    wait_until(lambda: not redis.keys("tc:acct:*"))
    alice.send("NICK somebody")
    alice.expect(is_command("NICK"))

    def nick_free_on_b():
        c = Client(b.port, None)
        c.send("NICK alice")
        c.send("USER x 0 * :x")
        ok = Msg(c.expect(lambda l: Msg(l).command in ("001", "433"))).command == "001"
        c.close()
        return ok
    wait_until(nick_free_on_b)


def test_regain_takes_the_nick_from_a_ghost_on_another_node(node_factory, clients):
    """NickServ REGAIN in a cluster: the ghost is on node a, its owner logs in on node b; the
    ghost is closed on a and, once its QUIT has crossed the network, the nick is b's user's
    without another NICK from them (as on one node)."""
    a, b = node_factory("a"), node_factory("b")
    stale = register(a, "alice")
    watcher = clients(a, "watcher")
    watcher.send("JOIN #lobby")
    watcher.expect(is_numeric("366", "#lobby"))
    c = clients(b, "alice_")
    identify(c, "alice")
    regained(c, watcher, stale)
    # node a learns (a moment after the NICK) that the nick is now the user of b
    from test_cluster import wait_until

    def whois_alice_from_b():
        watcher.send("WHOIS alice")
        lines = take_until(watcher, is_numeric("318"))
        return any(Msg(l).command == "312" and Msg(l).params[2] == "b" for l in lines)
    wait_until(whois_alice_from_b)


def test_channel_registrations_are_the_networks(node_factory, clients, redis):
    """In a cluster a channel registered on node a is registered on every node (Redis keeps
    it): a stranger first into it on node b gets no ops, its founder joining on b does (the
    members on a see ChanServ's MODE), and a node started later knows it."""
    from test_cluster import wait_until
    a, b = node_factory("a"), node_factory("b")
    alice = register(a, "alice")
    join(alice, "#proj")
    alice.send("CS REGISTER #proj")
    service_notice(alice, "ChanServ", "#proj is registered to alice")
    wait_until(lambda: redis.keys("tc:creg"))
    alice.send("PART #proj")
    alice.expect(is_command("PART"))
    mallory = clients(b, "mallory")

    def empty_on_b():
        mallory.send("NAMES #proj")
        return names_of(mallory, "#proj") == []
    wait_until(empty_on_b)  # alice's PART has reached b
    assert join(mallory, "#proj") == ["mallory"]
    watcher = clients(a, "watcher")

    def mallory_in_on_a():
        watcher.send("NAMES #proj")
        return names_of(watcher, "#proj") == ["mallory"]
    wait_until(mallory_in_on_a)  # her JOIN has reached a
    assert sorted(join(watcher, "#proj")) == ["mallory", "watcher"]  # nobody has ops
    alice_b = clients(b, "alice_b")
    identify(alice_b, "alice")
    assert "@alice_b" in join(alice_b, "#proj")
    for c in (mallory, watcher):
        m = Msg(c.expect(lambda l: Msg(l).command == "MODE"))
        assert m.prefix == "ChanServ!ChanServ@services" and m.params == ["#proj", "+o", "alice_b"]
    c = node_factory("c")
    late = clients(c, "late")
    late.send("CS INFO #proj")
    service_notice(late, "ChanServ", "#proj: founder alice")
    alice_b.send("CS DROP #proj")
    service_notice(alice_b, "ChanServ", "#proj is no longer registered")
    wait_until(lambda: not redis.keys("tc:creg"))
    late.send("CS INFO #proj")
    service_notice(late, "ChanServ", "#proj is not registered")
