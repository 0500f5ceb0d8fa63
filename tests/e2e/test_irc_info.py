"""INFO, ADMIN (Modern IRC: 371/374, 256-259, 402 for another server), LINKS, STATS and the IRCv3
userhost-in-names capability (NAMES with nick!user@host)."""
from conftest import Client, Msg, barrier, is_numeric, take_until
from test_ircv3 import cap_client


def test_info(server):
    c = Client(server.port, "alice")
    c.expect(is_numeric("366"))
    c.send("INFO")
    lines = [Msg(l) for l in barrier(c)]
    assert [m.command for m in lines][-1] == "374"
    assert lines[-1].params == ["alice", "End of INFO list"]
    infos = [m for m in lines if m.command == "371"]
    assert len(infos) >= 2 and all(m.params[0] == "alice" for m in infos)
    assert any("tcpchat-" in m.text for m in infos)


def test_admin(server_factory):
    srv = server_factory("--admin-email", "ops@example.org", "--description", "Test box")
    c = Client(srv.port, "alice")
    c.expect(is_numeric("366"))
    c.send("ADMIN")
    lines = [Msg(l) for l in barrier(c)]
    assert [(m.command, m.params[1:]) for m in lines] == [
        ("256", ["test.server", "Administrative info"]),
        ("257", ["Test box"]),
        ("258", [lines[2].text]),
        ("259", ["ops@example.org"]),
    ]
    c.send("ADMIN test.server")
    assert is_numeric("256")(barrier(c)[0])


def test_info_and_admin_of_another_server_402(server):
    c = Client(server.port, "alice")
    for cmd in ("INFO", "ADMIN"):
        c.send(cmd + " irc.elsewhere.net")
        m = Msg(c.expect(is_numeric("402")))
        assert m.params[1:] == ["irc.elsewhere.net", "No such server"]


def test_userhost_in_names(server):
    plain = Client(server.port, "plain")
    plain.expect(is_numeric("366"))
    c = cap_client(server.port, "alice", "userhost-in-names multi-prefix", join_lobby=False)
    names = Msg(c.expect(is_numeric("353")))
    assert sorted(names.text.split()) == ["@plain!~plain@127.0.0.1", "alice!~alice@127.0.0.1"]
    c.send("NAMES #lobby")
    again = Msg(c.expect(is_numeric("353")))
    assert sorted(again.text.split()) == sorted(names.text.split())
    # Without the capability: nicks only.
    plain.send("NAMES #lobby")
    assert sorted(Msg(plain.expect(is_numeric("353"))).text.split()) == ["@plain", "alice"]


def test_names_of_a_big_room_splits_into_whole_lines(server):
    """60 members with long nicks: NAMES spans several 353 lines, each within 512 bytes, every
    member listed once, with and without userhost-in-names."""
    crowd = []
    for i in range(60):
        c = Client(server.port, "member%022d" % i)
        c.expect(is_numeric("366"))
        crowd.append(c)
    for i, caps in enumerate(("multi-prefix", "userhost-in-names multi-prefix")):
        # a new nick each round: the last round's looker may still be leaving on another worker
        looker = "looker%d" % i
        want = sorted([c.nick for c in crowd] + [looker])  # the default channel holds it too
        c = cap_client(server.port, looker, caps, join_lobby=False)
        c.send("NAMES #lobby")
        lines = take_until(c, is_numeric("366"))
        rows = [l for l in lines if Msg(l).command == "353"]
        assert len(rows) > 1, lines
        assert all(len(l.encode()) + 2 <= 512 for l in rows), [len(l) for l in rows]
        got = [n.lstrip("@+").split("!")[0] for l in rows for n in Msg(l).text.split()]
        assert sorted(got) == want
        if "userhost" in caps:
            assert all(n.endswith("@127.0.0.1") and "!~" in n for l in rows for n in Msg(l).text.split())
        c.close()
    for c in crowd:
        c.close()


def test_links_names_this_server(server):
    """RFC 2812 3.4.5 LINKS: RPL_LINKS (364) "<mask> <server> :<hopcount> <info>" for each
    server matching the mask, then 365. Alone, this server is the network."""
    c = Client(server.port, "alice")
    c.expect(is_numeric("366"))
    c.send("LINKS")
    lines = [Msg(l) for l in take_until(c, is_numeric("365"))]
    assert [(m.command, m.params[1:3]) for m in lines] == [
        ("364", ["test.server", "test.server"]), ("365", ["*", "End of /LINKS list"])]
    assert lines[0].text.split()[0] == "0"
    c.send("LINKS *.elsewhere")
    assert [Msg(l).command for l in take_until(c, is_numeric("365"))] == ["365"]


def test_stats_uptime_and_commands(server):
    """RFC 2812 3.4.4 STATS u (242 then 219) and m (212 "<command> <count> <bytes> 0" for each
    command used); an unknown letter gets only the end (219)."""
    c = Client(server.port, "alice")
    c.expect(is_numeric("366"))
    c.send("STATS u")
    lines = [Msg(l) for l in take_until(c, is_numeric("219"))]
    assert lines[0].command == "242" and lines[0].text.startswith("Server Up 0 days, 0:00:")
    assert lines[-1].params[1:] == ["u", "End of /STATS report"]
    for _ in range(3):
        c.send("TIME")
    barrier(c)
    c.send("STATS m")
    used = {m.params[1]: m.params[2:] for m in map(Msg, take_until(c, is_numeric("219")))
            if m.command == "212"}
    assert int(used["TIME"][0]) >= 3 and int(used["TIME"][1]) >= 3 * len("TIME")
    assert "NICK" in used and "USER" in used
    c.send("STATS l")  # no cluster: no links
    assert [Msg(l).command for l in take_until(c, is_numeric("219"))] == ["219"]
    c.send("STATS x")
    assert [Msg(l).params[1] for l in take_until(c, is_numeric("219"))] == ["x"]
