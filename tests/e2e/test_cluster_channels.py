"""Channels across the nodes of a network (--cluster; docs/cluster.md "Channels"): the same
members, modes, topic and messages on every node, in one order."""
import signal
import subprocess
import threading
import time

from conftest import (Client, Msg, barrier, is_command, is_numeric,  # noqa: F401
                      server_factory, take_until)
from test_cluster import (Redis, clients, ison, kill, node_factory, redis,  # noqa: F401
                          wait_until, welcomed)


def names(c, chan):
    """The nicks (with their prefixes) c's node lists in chan."""
    c.send("NAMES " + chan)
    out = []
    for line in take_until(c, is_numeric("366", chan)):
        if Msg(line).command == "353":
            out += Msg(line).text.split()
    return sorted(out)


def modes(c, chan):
    """The channel's modes as c's node has them (RPL_CHANNELMODEIS)."""
    c.send("MODE " + chan)
    return Msg(c.expect(is_numeric("324"))).params[2]


def joined(c, chan):
    c.send("JOIN " + chan)
    c.expect(is_numeric("366", chan))
    return c


def history_client(clients, node, nick):
    """A client of node with draft/chathistory, batch and message-tags, registered."""
    c = clients(node, nick, register=False)
    c.send("CAP REQ :draft/chathistory batch message-tags")
    c.send("CAP END")
    c.register(nick)
    barrier(c)
    return c


def two_nodes(node_factory, clients, *caps):
    a, b = node_factory("a"), node_factory("b")
    users = []
    for node, nick in ((a, "alice"), (b, "bob")):
        c = clients(node, nick, register=False)
        if caps:
            c.send("CAP REQ :" + " ".join(caps))
        c.send("CAP END")
        c.register(nick)
        barrier(c)  # the welcome burst (and #lobby's NAMES) read
        users.append(c)
    wait_until(lambda: ison(users[0], "bob") == ["bob"])
    return a, b, users[0], users[1]


def test_members_and_messages_cross_nodes(node_factory, clients):
    a, b, alice, bob = two_nodes(node_factory, clients, "echo-message", "message-tags")
    joined(alice, "#room")
    # bob's node learns that alice is in the room, and that she made it (op)
    wait_until(lambda: names(bob, "#room") == ["@alice"])
    joined(bob, "#room")
    assert names(bob, "#room") == ["@alice", "bob"]
    alice.expect(is_command("JOIN", "bob", "#room"))
    assert names(alice, "#room") == ["@alice", "bob"]
    # a message each way, with its tags, and the echo carrying the same msgid
    alice.send("@+draft/react=x PRIVMSG #room :hello b")
    got = Msg(bob.expect(is_command("PRIVMSG", "alice", "#room")))
    echo = Msg(alice.expect(is_command("PRIVMSG", "alice", "#room")))
    assert got.text == "hello b" and echo.text == "hello b"
    assert "+draft/react=x" in got.tags
    tag = lambda m, k: dict(t.split("=", 1) for t in m.tags.split(";"))[k]  # noqa: E731
    assert tag(got, "msgid") == tag(echo, "msgid")
    bob.send("NOTICE #room :hi a")
    assert Msg(alice.expect(is_command("NOTICE", "bob", "#room"))).text == "hi a"
    # a nick change and a part are seen on the other node, and NAMES follows
    bob.send("NICK robert")
    alice.expect(is_command("NICK", "bob"))
    wait_until(lambda: names(alice, "#room") == ["@alice", "robert"])
    bob.send("PART #room :bye")
    assert Msg(alice.expect(is_command("PART", "robert", "#room"))).text == "bye"
    assert names(alice, "#room") == ["@alice"]
    # a quit reaches the members of the other node, once, with its reason
    bob.send("JOIN #room,#two")
    alice.expect(is_command("JOIN", "robert", "#room"))
    joined(alice, "#two")
    bob.send("QUIT :gone home")
    quit_line = alice.expect(is_command("QUIT", "robert"))
    assert Msg(quit_line).text == "Quit: gone home"
    seen = barrier(alice)
    assert not any(Msg(l).command == "QUIT" for l in seen), seen
    assert names(alice, "#room") == ["@alice"]


def test_one_order_for_every_member(node_factory, clients):
    """Two senders on two nodes talk at once; the watchers on both nodes see the channel's
    messages in the same order, and every one of them."""
    a, b = node_factory("a"), node_factory("b")
    senders = [welcomed(clients(a, "s1")), welcomed(clients(b, "s2"))]
    watchers = [welcomed(clients(a, "w1")), welcomed(clients(b, "w2"))]
    wait_until(lambda: ison(watchers[0], "s2", "w2") == ["s2", "w2"])
    joined(senders[0], "#order")
    wait_until(lambda: names(watchers[1], "#order") == ["@s1"])
    for c in senders[1:] + watchers:
        joined(c, "#order")
    for w in watchers:
        wait_until(lambda: len(names(w, "#order")) == 4)
    go = threading.Barrier(2)

    def talk(c, tag):
        go.wait()
        for i in range(100):
            c.send("PRIVMSG #order :%s %d" % (tag, i))

    threads = [threading.Thread(target=talk, args=(c, c.nick)) for c in senders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seqs = []
    for w in watchers:
        got = []
        while len(got) < 200:
            got.append(Msg(w.expect(is_command("PRIVMSG"))).text)
        seqs.append(got)
    assert seqs[0] == seqs[1]
    for tag in ("s1", "s2"):  # each sender's own order kept, nothing lost
        assert [t for t in seqs[0] if t.startswith(tag)] == ["%s %d" % (tag, i) for i in range(100)]


def test_modes_topic_invite_kick_across_nodes(node_factory, clients):
    a, b, alice, bob = two_nodes(node_factory, clients, "invite-notify")
    carol = welcomed(clients(b, "carol"))
    joined(alice, "#club")
    wait_until(lambda: names(bob, "#club") == ["@alice"])
    alice.send("MODE #club +i")
    alice.expect(is_command("MODE", "alice", "#club"))
    # bob's node refuses him by the mode alice set on hers
    wait_until(lambda: "i" in modes(bob, "#club"))
    bob.send("JOIN #club")
    bob.expect(is_numeric("473"))
    alice.send("INVITE bob #club")
    alice.expect(is_numeric("341"))
    assert Msg(bob.expect(is_command("INVITE", "alice"))).params == ["bob", "#club"]
    joined(bob, "#club")
    alice.expect(is_command("JOIN", "bob", "#club"))
    # ops given on one node hold on the other: bob sets the topic and a ban there
    alice.send("MODE #club +o bob")
    bob.expect(is_command("MODE", "alice", "#club", "+o", "bob"))
    bob.send("TOPIC #club :members only")
    assert Msg(alice.expect(is_command("TOPIC", "bob", "#club"))).text == "members only"
    bob.send("MODE #club -i+b carol!*@*")
    alice.expect(is_command("MODE", "bob", "#club"))
    alice.send("MODE #club +b")
    bans = [Msg(l).params[2] for l in take_until(alice, is_numeric("368"))
            if Msg(l).command == "367"]
    assert bans == ["carol!*@*"]
    carol.send("JOIN #club")
    carol.expect(is_numeric("474"))
    alice.send("TOPIC #club")
    assert Msg(alice.expect(is_numeric("332"))).text == "members only"
    # a kick from one node takes the user out on the other: bob can no longer speak there
    alice.send("KICK #club bob :out")
    kick = Msg(bob.expect(is_command("KICK", "alice", "#club")))
    assert kick.params[1] == "bob" and kick.text == "out"
    bob.send("PRIVMSG #club :still here?")
    bob.expect(is_numeric("404"))
    assert names(alice, "#club") == ["@alice"]


def test_a_node_started_later_knows_the_channels(node_factory, clients):
    a, b = node_factory("a"), node_factory("b")
    alice = joined(welcomed(clients(a, "alice")), "#early")
    bob = welcomed(clients(b, "bob"))
    wait_until(lambda: names(bob, "#early") == ["@alice"])
    joined(bob, "#early")
    alice.send("TOPIC #early :set before c")
    bob.expect(is_command("TOPIC", "alice"))
    alice.send("MODE #early +kb secret dave!*@*")
    bob.expect(is_command("MODE", "alice", "#early"))
    c = node_factory("c")
    carol = welcomed(clients(c, "carol"))
    assert names(carol, "#early") == ["@alice", "bob"]
    carol.send("JOIN #early")
    carol.expect(is_numeric("475"))  # the key, loaded from the network
    carol.send("JOIN #early secret")
    assert Msg(carol.expect(is_numeric("332"))).text == "set before c"
    carol.expect(is_numeric("366"))
    alice.expect(is_command("JOIN", "carol", "#early"))
    bob.expect(is_command("JOIN", "carol", "#early"))
    dave = clients(c, "dave")
    dave.send("JOIN #early secret")
    dave.expect(is_numeric("474"))
    carol.send("PRIVMSG #early :hi from c")
    assert Msg(alice.expect(is_command("PRIVMSG", "carol"))).text == "hi from c"
    assert Msg(bob.expect(is_command("PRIVMSG", "carol"))).text == "hi from c"


def test_a_killed_nodes_members_quit(node_factory, clients):
    a, b = node_factory("a"), node_factory("b")
    alice = joined(welcomed(clients(a, "alice")), "#room")
    bob = welcomed(clients(b, "bob"))
    wait_until(lambda: names(bob, "#room") == ["@alice"])
    joined(bob, "#room")
    alice.expect(is_command("JOIN", "bob", "#room"))
    bob.send("MODE #room")  # settle
    kill(b)
    # within the heartbeat (1 s here, declared gone after 3), naming the node
    assert Msg(alice.expect(is_command("QUIT", "bob"), timeout=15)).text == "Node b is gone"
    assert names(alice, "#room") == ["@alice"]
    # and the network's copy of the channel lost bob too: a new node sees alice alone
    c = node_factory("c")
    carol = welcomed(clients(c, "carol"))
    assert names(carol, "#room") == ["@alice"]


def test_history_of_a_channel_on_every_node(node_factory, clients):
    a, b, alice, bob = two_nodes(node_factory, clients, "draft/chathistory", "batch",
                                 "server-time", "message-tags")
    joined(alice, "#log")
    wait_until(lambda: names(bob, "#log") == ["@alice"])
    joined(bob, "#log")
    alice.expect(is_command("JOIN", "bob", "#log"))
    for i in range(5):
        alice.send("PRIVMSG #log :line %d" % i)
    for i in range(5):
        bob.expect(is_command("PRIVMSG", "alice"))
    bob.send("CHATHISTORY LATEST #log * 10")
    got = [Msg(l).text for l in take_until(bob, lambda l: Msg(l).command == "BATCH" and
                                           Msg(l).params[0].startswith("-"))
           if Msg(l).command == "PRIVMSG"]
    assert got == ["line %d" % i for i in range(5)]


def test_channels_on_two_redis_servers(tmp_path, node_factory, clients):
    r1, r2 = Redis(tmp_path), Redis(tmp_path)
    try:
        urls = r1.url + "," + r2.url
        a, b = node_factory("a", urls=urls), node_factory("b", urls=urls)
        alice = welcomed(clients(a, "alice"))
        bob = welcomed(clients(b, "bob"))
        wait_until(lambda: ison(alice, "bob") == ["bob"])
        chans = ["#c%d" % i for i in range(8)]
        alice.send("JOIN " + ",".join(chans))
        for ch in chans:
            alice.expect(is_numeric("366", ch))
        wait_until(lambda: all(names(bob, ch) == ["@alice"] for ch in chans))
        bob.send("JOIN " + ",".join(chans))
        for ch in chans:
            bob.expect(is_numeric("366", ch))
        for ch in chans:
            assert names(bob, ch) == ["@alice", "bob"]
        assert r1.keys("tc:ch:*") and r2.keys("tc:ch:*")
        for ch in chans:
            alice.send("PRIVMSG %s :to %s" % (ch, ch))
        got = sorted(Msg(bob.expect(is_command("PRIVMSG", "alice"))).params[0] for _ in chans)
        assert got == sorted(chans)
        # a nick change spans both servers: one NICK line all the same
        bob.send("NICK robert")
        alice.expect(is_command("NICK", "bob"))
        seen = barrier(alice)
        assert not any(Msg(l).command == "NICK" for l in seen), seen
        wait_until(lambda: all(names(alice, ch) == ["@alice", "robert"] for ch in chans))
        bob.send("QUIT :bye")
        alice.expect(is_command("QUIT", "robert"))
        seen = barrier(alice)
        assert not any(Msg(l).command == "QUIT" for l in seen), seen
    finally:
        r1.stop()
        r2.stop()


def test_queries_and_status_messages_see_remote_members(node_factory, clients):
    a, b, alice, bob = two_nodes(node_factory, clients, "away-notify")
    carol = welcomed(clients(b, "carol"))
    joined(alice, "#q")
    wait_until(lambda: names(bob, "#q") == ["@alice"])
    carol.send("AWAY :out")
    carol.expect(is_numeric("306"))
    joined(bob, "#q")
    joined(carol, "#q")
    # away-notify: carol joined while away, alice (another node) learns it right after
    seen = take_until(alice, is_command("JOIN", "carol", "#q"))
    assert any(is_command("JOIN", "bob", "#q")(l) for l in seen), seen
    assert Msg(alice.expect(is_command("AWAY", "carol"))).text == "out"
    # WHO and WHOIS on alice's node list the members of bob's
    alice.send("WHO #q")
    who = sorted(Msg(l).params[5] for l in take_until(alice, is_numeric("315"))
                 if Msg(l).command == "352")
    assert who == ["alice", "bob", "carol"]
    alice.send("WHOIS bob")
    assert "#q" in Msg(alice.expect(is_numeric("319"))).text
    alice.send("LIST #q")
    assert Msg(alice.expect(is_numeric("322"))).params[2] == "3"
    # an away change later reaches alice's node too
    bob.send("AWAY :brb")
    assert Msg(alice.expect(is_command("AWAY", "bob"))).text == "brb"
    # STATUSMSG: to the ops of the channel, on every node
    alice.send("MODE #q +o carol")
    bob.expect(is_command("MODE", "alice", "#q", "+o", "carol"))
    bob.send("PRIVMSG @#q :ops only")
    assert Msg(alice.expect(is_command("PRIVMSG", "bob", "@#q"))).text == "ops only"
    assert Msg(carol.expect(is_command("PRIVMSG", "bob", "@#q"))).text == "ops only"


def settings(c, chan):
    """The channel's topic and its modes with their arguments (the key shown to a member),
    as c's node has them."""
    c.send("TOPIC " + chan)
    topic = Msg(c.expect(lambda l: Msg(l).command in ("331", "332"))).text
    c.send("MODE " + chan)
    return topic, Msg(c.expect(is_numeric("324"))).params[2:]


def settled(users, chan, want):
    """Waits until every user's node has the same settings of chan and want(them) holds;
    returns them. Both nodes can pass through the same earlier value while the last changes
    are still on their way (a node shows its own change at once, the network's order after
    it), so want names the last round's values."""
    seen = []

    def agree():
        seen[:] = [settings(c, chan) for c in users]
        return all(s == seen[0] for s in seen) and want(seen[0])

    try:
        wait_until(agree)
    except AssertionError:
        raise AssertionError("the nodes did not agree: %r" % (seen,))
    return seen[0]


def later_node_agrees(node_factory, clients, chan, final, wrong_key):
    """A node started afterwards has the same settings, and refuses the wrong key and lets
    its user in with the final one."""
    carol = welcomed(clients(node_factory("c"), "carol"))
    hidden = [final[1][0], "*"] + final[1][2:]  # not a member: the key is not shown
    assert settings(carol, chan) == (final[0], hidden)
    carol.send("JOIN %s %s" % (chan, wrong_key))
    carol.expect(is_numeric("475"))
    carol.send("JOIN %s %s" % (chan, final[1][1]))
    assert Msg(carol.expect(is_numeric("332"))).text == final[0]
    carol.expect(is_numeric("366", chan))
    assert settings(carol, chan) == final


def race_channel(node_factory, clients, chan):
    """Nodes a and b, and alice (on a) and bob (on b) in chan, both operators."""
    a, b, alice, bob = two_nodes(node_factory, clients)
    joined(alice, chan)
    wait_until(lambda: names(bob, chan) == ["@alice"])
    joined(bob, chan)
    alice.expect(is_command("JOIN", "bob", chan))
    alice.send("MODE %s +o bob" % chan)
    bob.expect(is_command("MODE", "alice", chan, "+o", "bob"))
    return a, b, alice, bob


def rounds(moves, n=30):
    """Each user's lines of round i (moves[user](i)) sent by all at the same instant, n
    rounds; then every line has been handled by its node."""
    go = threading.Barrier(len(moves))

    def play(c, lines):
        for i in range(n):
            go.wait()
            for line in lines(i):
                c.send(line)

    threads = [threading.Thread(target=play, args=item) for item in moves.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for c in moves:
        barrier(c)


def test_settings_changed_at_once_on_two_nodes_agree(node_factory, clients):
    """Two operators on two nodes set the topic and the key at the same instant, again and
    again: every node, and a node started afterwards, ends with the same values, those of
    the last round (the key too: a user of the later node joins with it)."""
    _, _, alice, bob = race_channel(node_factory, clients, "#race")
    rounds({c: (lambda i, c=c: ["TOPIC #race :%s %d" % (c.nick, i),
                                "MODE #race -k+k * %s%d" % (c.nick, i)])
            for c in (alice, bob)})
    final = settled((alice, bob), "#race",
                    lambda s: s[0].split()[1] == "29" and s[1][0] == "+ntk" and
                    s[1][1].endswith("29"))
    loser = "bob29" if final[1][1] == "alice29" else "alice29"
    later_node_agrees(node_factory, clients, "#race", final, loser)


def test_a_mode_and_a_topic_crossing_keep_both(node_factory, clients):
    """An operator on one node changes the key and the limit while one on another node
    changes the topic, at the same instant, again and again. A settings event names the
    parts it changes: neither puts back the other's older value, so every node (and one
    started afterwards) ends with the last key and limit and the last topic."""
    _, _, alice, bob = race_channel(node_factory, clients, "#cross")
    rounds({alice: lambda i: ["MODE #cross -k+kl * alice%d %d" % (i, 100 + i)],
            bob: lambda i: ["TOPIC #cross :bob %d" % i]})
    final = settled((alice, bob), "#cross",
                    lambda s: s[0] == "bob 29" and s[1] == ["+ntkl", "alice29", "129"])
    later_node_agrees(node_factory, clients, "#cross", final, "alice28")


def test_invitations_made_at_once_on_two_nodes_are_all_kept(node_factory, clients):
    """Two operators on two nodes invite different users into a +i channel at the same
    instant, again and again. An invitation travels as one edit, not as the whole list: no
    node's list replaces another's, so every invitee gets in, whichever node it is on."""
    a, b, alice, bob = race_channel(node_factory, clients, "#inv")
    alice.send("MODE #inv +i")
    bob.expect(is_command("MODE", "alice", "#inv", "+i"))
    guests = [welcomed(clients(a if i % 2 else b, "g%d" % i)) for i in range(14)]
    wait_until(lambda: ison(alice, *[g.nick for g in guests]) == [g.nick for g in guests] and
               ison(bob, *[g.nick for g in guests]) == [g.nick for g in guests])
    rounds({alice: lambda i: ["INVITE g%d #inv" % (2 * i)],
            bob: lambda i: ["INVITE g%d #inv" % (2 * i + 1)]}, n=7)
    late = welcomed(clients(node_factory("c"), "g14"))  # and one on a third node
    wait_until(lambda: ison(alice, "g14") == ["g14"])
    alice.send("INVITE g14 #inv")
    for g in guests + [late]:
        g.expect(is_command("INVITE", None, g.nick, "#inv"))  # its node has it
        g.send("JOIN #inv")
        line = g.expect(lambda l: is_command("JOIN", g.nick, "#inv")(l) or
                        is_numeric("473")(l))
        assert Msg(line).command == "JOIN", "%s was not let in: %s" % (g.nick, line)
    # used once: out and back in is refused again
    guests[0].send("PART #inv")
    guests[0].expect(is_command("PART", "g0", "#inv"))
    guests[0].send("JOIN #inv")
    guests[0].expect(is_numeric("473"))


def test_the_last_part_on_one_node_keeps_a_join_made_on_another(node_factory, clients):
    """alice (node a) joins and parts a channel while bob (node b) joins it at the same
    instant, round after round: when alice's PART leaves her node's replica empty before bob's
    JOIN has reached it, the network still has bob, so a node started afterwards lists him
    in every channel (before, the PART deleted the channel's keys, bob's membership with
    them)."""
    a, b, alice, bob = two_nodes(node_factory, clients)
    rounds({alice: lambda i: ["JOIN #r%d" % i, "PART #r%d" % i],
            bob: lambda i: ["JOIN #r%d" % i]}, n=10)
    carol = welcomed(clients(node_factory("c"), "carol"))
    wait_until(lambda: all(names(bob, "#r%d" % i)[-1].lstrip("@") == "bob" and
                           len(names(bob, "#r%d" % i)) == 1 for i in range(10)))
    assert [names(carol, "#r%d" % i) for i in range(10)] == \
        [names(bob, "#r%d" % i) for i in range(10)]


def test_three_nodes_300_clients_one_order(node_factory):
    """The issue's order test: 300 clients spread over 3 nodes in one channel, 10 senders on
    different nodes talking at once: every member sees every message, once, all in the same
    order."""
    nodes = [node_factory(n, "--default-channel", "") for n in ("a", "b", "c")]
    users = []
    try:
        for i in range(300):
            c = Client(nodes[i % 3].port, None)
            c.nick = "m%d" % i
            c.send("CAP REQ :echo-message")
            c.send("CAP END")
            c.register(c.nick)
            users.append(c)
        joined(users[0], "#big")
        wait_until(lambda: names(users[1], "#big") == ["@m0"] and
                   names(users[2], "#big") == ["@m0"])
        for c in users[1:]:
            joined(c, "#big")
        for c in users[:3]:
            wait_until(lambda: len(names(c, "#big")) == 300)
        senders = users[:10]  # m0..m9: on a, b, c in turn
        go = threading.Barrier(len(senders))

        def talk(c):
            go.wait()
            for k in range(20):
                c.send("PRIVMSG #big :%s %d" % (c.nick, k))

        threads = [threading.Thread(target=talk, args=(c,)) for c in senders]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seqs = []
        for c in users:
            got = []
            while len(got) < 200:
                got.append(Msg(c.expect(is_command("PRIVMSG", None, "#big"))).text)
            seqs.append(got)
        first = seqs[0]
        for s in seqs[1:]:
            assert s == first
        for c in senders:  # nothing lost or doubled, each sender's own order kept
            assert [t for t in first if t.split()[0] == c.nick] == \
                ["%s %d" % (c.nick, k) for k in range(20)]
    finally:
        for c in users:
            c.close()


def test_irssi_on_one_node_talks_with_tcpchat_on_another(node_factory):
    """What a person sees: irssi connected to node a and the tcpchat client (in tmux) to node
    b, in one channel of the network."""
    import os
    import shutil
    import tempfile

    import pytest
    if shutil.which("irssi") is None or shutil.which("tmux") is None:
        pytest.skip("irssi or tmux is not installed")
    from test_client import Pane
    from test_client import joined as pane_joined
    from test_realclients import IRSSI_CONFIG, Tmux
    a, b = node_factory("a"), node_factory("b")
    home = tempfile.mkdtemp(prefix="tcpchat-irssi-")
    with open(os.path.join(home, "config"), "w") as f:
        f.write(IRSSI_CONFIG)
    irc = Tmux(["irssi", "--home=" + home, "-n", "irs", "-c", "127.0.0.1", "-p", str(a.port)],
               env={"TERM": "screen", "LANG": "C.UTF-8", "HOME": home})
    tc = Pane(b.port, "tcu")
    try:
        pane_joined(tc)  # in #lobby, the network's default channel
        irc.wait_for(lambda t: "Welcome" in t or "001" in t)
        irc.line("/join #lobby")
        tc.wait_for("irs")  # tcpchat on node b shows irssi (node a) joining #lobby
        tc.line("hello from node b")
        irc.wait_for("hello from node b")
        irc.line("hi from irssi on node a")
        tc.wait_for("hi from irssi on node a")
    finally:
        texts = [tc.text()]
        tc.kill()
        irc.kill()
        shutil.rmtree(home, ignore_errors=True)
        for bad in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
            assert bad not in texts[0], texts[0]


def test_memberships_announced_again_after_redis_restart(node_factory, clients, redis):
    """Redis restarts empty: the nodes keep their channels, announce their members again, and
    a node started afterwards loads the channels from Redis as they are."""
    a, b = node_factory("a"), node_factory("b")
    alice = joined(welcomed(clients(a, "alice")), "#after")
    bob = welcomed(clients(b, "bob"))
    wait_until(lambda: names(bob, "#after") == ["@alice"])
    joined(bob, "#after")
    alice.expect(is_command("JOIN", "bob", "#after"))
    alice.send("TOPIC #after :kept")
    bob.expect(is_command("TOPIC", "alice", "#after"))
    redis.stop()
    alice.expect(lambda l: "degraded" in l and Msg(l).command == "NOTICE")
    redis.start()  # empty: no persistence
    alice.expect(lambda l: "recovered" in l and Msg(l).command == "NOTICE")
    bob.expect(lambda l: "recovered" in l and Msg(l).command == "NOTICE")
    alice.send("PRIVMSG #after :back")
    assert Msg(bob.expect(is_command("PRIVMSG", "alice", "#after"))).text == "back"
    carol = welcomed(clients(node_factory("c"), "carol"))
    assert names(carol, "#after") == ["@alice", "bob"]
    carol.send("TOPIC #after")
    assert Msg(carol.expect(is_numeric("332"))).text == "kept"


def test_bench_spreads_its_clients_over_the_nodes(node_factory):
    from conftest import free_port
    from test_bench import UNTHROTTLED, result, run_bench
    a, b = node_factory("a", *UNTHROTTLED), node_factory("b", *UNTHROTTLED)
    rc, out, err = run_bench("--servers", "127.0.0.1:%d,127.0.0.1:%d" % (a.port, b.port),
                             "--clients", 20, "--senders", 4, "--messages", 30,
                             "--channel-prefix", "#spread", "--timeout", 60)
    assert rc == 0, err
    r = result(out)
    assert r["status"] == "ok", err
    assert r["delivered"] == r["expected"] == str(4 * 30 * 19), err
    assert (r["lost"], r["reordered"], r["disconnects"]) == ("0", "0", "0"), err
    # round robin: with a second "server" where nobody listens, every other client fails
    rc, out, err = run_bench("--servers", "127.0.0.1:%d,127.0.0.1:%d" % (a.port, free_port()),
                             "--clients", 10, "--channels", 0, "--senders", 0, "--timeout", 20)
    r = result(out)
    assert (r["registered"], r["failed_connect"]) == ("5", "5"), err


def test_whowas_remembers_users_of_other_nodes(node_factory, clients):
    a, b = node_factory("a"), node_factory("b")
    alice = welcomed(clients(a, "alice"))
    bob = welcomed(clients(b, "bob"))
    wait_until(lambda: ison(alice, "bob") == ["bob"])
    bob.send("NICK robert")
    bob.expect(is_command("NICK", "bob"))
    wait_until(lambda: ison(alice, "robert") == ["robert"])
    bob.send("QUIT :bye")
    wait_until(lambda: ison(alice, "robert") == [])
    for nick in ("bob", "robert"):
        alice.send("WHOWAS " + nick)
        line = Msg(alice.expect(is_numeric("314")))
        assert line.params[1:4] == [nick, "~bob", "127.0.0.1"], line
        alice.expect(is_numeric("369"))


def test_a_node_taken_for_gone_comes_back_with_its_channels(node_factory, clients):
    """A node stopped (SIGSTOP) past its heartbeat is declared gone: its users quit on the
    others. When it runs again it announces its users and their channels again, and they
    are back, JOIN and all."""
    a, b, alice, bob = both_in(node_factory, clients, "#back")
    b.proc.send_signal(signal.SIGSTOP)
    try:
        alice.expect(is_command("QUIT", "bob"), timeout=15)
    finally:
        b.proc.send_signal(signal.SIGCONT)
    alice.expect(is_command("JOIN", "bob", "#back"), timeout=15)
    wait_until(lambda: names(alice, "#back") == ["@alice", "bob"])
    wait_until(lambda: ison(alice, "bob") == ["bob"])
    bob.send("PRIVMSG #back :still here")
    assert Msg(alice.expect(is_command("PRIVMSG", "bob", "#back"))).text == "still here"


def test_a_returning_user_whose_nick_was_taken_is_renamed(node_factory, clients):
    """A node taken for gone frees its users' nicks; one of them is taken on another node
    meanwhile. When the node runs again, its user is renamed (a NOTICE says why) and the
    network knows each of the two by its own nick."""
    a, b, alice, bob = both_in(node_factory, clients, "#back")
    b.proc.send_signal(signal.SIGSTOP)
    try:
        alice.expect(is_command("QUIT", "bob"), timeout=15)
        other = welcomed(clients(a, "bob"))  # the nick is free now
    finally:
        b.proc.send_signal(signal.SIGCONT)
    notice = Msg(bob.expect(lambda l: Msg(l).command == "NOTICE" and "taken" in l,
                            timeout=15))
    assert "you are now Guest" in notice.text, notice.line
    change = Msg(bob.expect(is_command("NICK", "bob")))
    guest = change.params[0]
    assert guest.startswith("Guest")
    wait_until(lambda: ison(alice, "bob " + guest) == ["bob", guest])
    wait_until(lambda: ison(bob, "bob " + guest) == ["bob", guest])  # b has learned of bob too
    alice.send("WHOIS bob")
    assert Msg(alice.expect(is_numeric("311"))).params[2] == "~" + "bob"
    bob.send("PRIVMSG bob :from the guest")
    assert Msg(other.expect(is_command("PRIVMSG", guest))).text == "from the guest"
    other.send("PRIVMSG %s :hello guest" % guest)
    assert Msg(bob.expect(is_command("PRIVMSG", "bob"))).text == "hello guest"
    wait_until(lambda: names(alice, "#back") == ["@alice", guest])


def kill_subscriber(redis, node_name):
    """Closes a node's subscriber connection from Redis's side (CLIENT KILL)."""
    out = subprocess.run(["redis-cli", "-p", str(redis.port), "CLIENT", "LIST"],
                         capture_output=True, text=True, check=True).stdout
    ids = [dict(f.split("=", 1) for f in line.split() if "=" in f)["id"]
           for line in out.splitlines() if " name=tcpchatd-%s-sub " % node_name in line]
    assert len(ids) == 1, out
    subprocess.run(["redis-cli", "-p", str(redis.port), "CLIENT", "KILL", "ID", ids[0]],
                   capture_output=True, check=True)


def test_a_node_whose_subscriber_was_away_catches_up(node_factory, clients, redis):
    """Events published while a node's subscriber connection was away: when it is back,
    the node's members see who left and who came meanwhile, and the messages of that time
    are in its history."""
    a, b = node_factory("a"), node_factory("b")
    alice = joined(welcomed(clients(a, "alice")), "#gap")
    carol = welcomed(clients(a, "carol"))
    bob = clients(b, "bob", register=False)
    bob.send("CAP REQ :draft/chathistory batch")
    bob.send("CAP END")
    bob.register("bob")
    barrier(bob)
    wait_until(lambda: names(bob, "#gap") == ["@alice"])
    joined(bob, "#gap")
    alice.expect(is_command("JOIN", "bob", "#gap"))
    b.proc.send_signal(signal.SIGSTOP)  # short of the heartbeat: b is not taken for gone
    try:
        kill_subscriber(redis, "b")
        joined(carol, "#gap")
        carol.send("PRIVMSG #gap :while b was not listening")
        alice.expect(is_command("PRIVMSG", "carol", "#gap"))
        alice.send("PART #gap :bye")
        alice.expect(is_command("PART", "alice", "#gap"))
        barrier(carol)
    finally:
        b.proc.send_signal(signal.SIGCONT)
    part = Msg(bob.expect(is_command("PART", "alice", "#gap"), timeout=15))
    assert "cut off" in part.text, part.line
    bob.expect(is_command("JOIN", "carol", "#gap"))
    wait_until(lambda: names(bob, "#gap") == ["bob", "carol"])
    # the history is filled right after the replicas (the same step of the node)
    wait_until(lambda: "while b was not listening" in latest(bob, "#gap"))
    carol.send("PRIVMSG #gap :and now")
    assert Msg(bob.expect(is_command("PRIVMSG", "carol", "#gap"))).text == "and now"


def alice_carol_bob(node_factory, clients, chan, urls=None):
    """Nodes a and b (on urls, or the test's Redis), alice and carol (node a) and bob (node b)
    in chan, alice its operator; returns a, b, alice, carol, bob."""
    a, b = node_factory("a", urls=urls), node_factory("b", urls=urls)
    alice = joined(welcomed(clients(a, "alice")), chan)
    carol = joined(welcomed(clients(a, "carol")), chan)
    bob = welcomed(clients(b, "bob"))
    wait_until(lambda: names(bob, chan) == ["@alice", "carol"])
    joined(bob, chan)
    alice.expect(is_command("JOIN", "bob", chan))
    return a, b, alice, carol, bob


def test_settings_changed_while_a_subscriber_was_away_are_told_there(node_factory, clients,
                                                                     redis):
    """The topic, modes, key, limit and a member's status changed while node b's subscriber
    connection was away: when it is back, bob (node b) is told each change (TOPIC from who
    set it, MODE from the server), not only given the new values silently."""
    a, b, alice, carol, bob = alice_carol_bob(node_factory, clients, "#set")
    alice.send("MODE #set +l 50")
    bob.expect(is_command("MODE", "alice", "#set"))
    b.proc.send_signal(signal.SIGSTOP)  # short of the heartbeat: b is not taken for gone
    try:
        kill_subscriber(redis, "b")
        for line in ("TOPIC #set :changed meanwhile", "MODE #set +imk-l sesame",
                     "MODE #set +o carol"):
            alice.send(line)
            alice.expect(lambda l: Msg(l).command in ("TOPIC", "MODE"))
        barrier(alice)
    finally:
        b.proc.send_signal(signal.SIGCONT)
    topic = Msg(bob.expect(is_command("TOPIC", None, "#set"), timeout=15))
    assert topic.text == "changed meanwhile" and topic.nick == "alice", topic.line
    told = [Msg(bob.expect(is_command("MODE", None, "#set"))) for _ in range(2)]
    assert sorted(m.params[1:] for m in told) == [["+imk-l", "sesame"], ["+o", "carol"]], told
    assert all(m.prefix == "test.server" for m in told)
    assert names(bob, "#set") == ["@alice", "@carol", "bob"]


def test_a_ban_lifted_while_a_subscriber_was_away_is_lifted_there_too(node_factory, clients,
                                                                       redis):
    """A ban lifted (and another set) while a node's subscriber connection was away: when it
    is back, the node's copy of the channel's ban list is the network's, the lifted ban gone
    (it held a user of that node out before)."""
    a, b, alice, bob = both_in(node_factory, clients, "#bans")

    def bans_on_b():
        bob.send("MODE #bans b")
        return sorted(Msg(l).params[2] for l in take_until(bob, is_numeric("368"))
                      if Msg(l).command == "367")
    alice.send("MODE #bans +b old!*@*")
    wait_until(lambda: bans_on_b() == ["old!*@*"])
    b.proc.send_signal(signal.SIGSTOP)  # short of the heartbeat: b is not taken for gone
    try:
        kill_subscriber(redis, "b")
        alice.send("MODE #bans -b+b old!*@* new!*@*")
        alice.expect(is_command("MODE", "alice", "#bans"))
    finally:
        b.proc.send_signal(signal.SIGCONT)
    wait_until(lambda: bans_on_b() == ["new!*@*"])
    old = clients(b, "old")
    old.send("JOIN #bans")
    old.expect(is_numeric("366", "#bans"))


def test_a_nick_changed_while_a_subscriber_was_away_is_seen_there(node_factory, clients,
                                                                    redis):
    """A user of node a changes nick while node b's subscriber connection is away: when it is
    back, b's members sharing channels with her see her NICK once (not once per channel), and
    b's NAMES and ISON know the new nick."""
    a, b, alice, bob = both_in(node_factory, clients, "#one")
    joined(alice, "#two")
    wait_until(lambda: names(bob, "#two") == ["@alice"])
    joined(bob, "#two")
    alice.expect(is_command("JOIN", "bob", "#two"))
    b.proc.send_signal(signal.SIGSTOP)  # short of the heartbeat: b is not taken for gone
    try:
        kill_subscriber(redis, "b")
        alice.send("NICK alicia")
        alice.expect(is_command("NICK", "alice"))
        barrier(alice)
    finally:
        b.proc.send_signal(signal.SIGCONT)
    nick = Msg(bob.expect(is_command("NICK", "alice"), timeout=15))
    assert nick.params == ["alicia"], nick.line
    assert names(bob, "#one") == ["@alicia", "bob"]
    assert names(bob, "#two") == ["@alicia", "bob"]
    assert not [l for l in barrier(bob) if " NICK " in l]
    wait_until(lambda: ison(bob, "alicia") == ["alicia"])


def test_private_messages_sent_while_a_subscriber_was_away_arrive(node_factory, clients, redis):
    """A private message published while its target's node was not listening (its subscriber
    connection closed, the node stopped short of the heartbeat) is in that node's inbox in
    Redis: when the node listens again its user gets it, once, before what comes after, and
    in the order sent."""
    a, b = node_factory("a"), node_factory("b")
    alice = welcomed(clients(a, "alice"))
    bob = welcomed(clients(b, "bob"))
    wait_until(lambda: ison(alice, "bob") == ["bob"])  # node a has learned of bob
    alice.send("PRIVMSG bob :before")
    assert Msg(bob.expect(is_command("PRIVMSG", "alice"))).text == "before"
    b.proc.send_signal(signal.SIGSTOP)
    try:
        kill_subscriber(redis, "b")
        for i in range(5):
            alice.send("PRIVMSG bob :while away %d" % i)
        barrier(alice)
    finally:
        b.proc.send_signal(signal.SIGCONT)
    alice.send("PRIVMSG bob :after")
    got = [Msg(bob.expect(is_command("PRIVMSG", "alice"), timeout=15)).text for _ in range(6)]
    assert got == ["while away %d" % i for i in range(5)] + ["after"]
    assert not any(Msg(l).command == "PRIVMSG" for l in barrier(bob))


def msgid(m):
    return dict(t.partition("=")[::2] for t in m.tags.split(";"))["msgid"]


def test_channel_messages_sent_while_a_subscriber_was_away_arrive(node_factory, clients, redis):
    """Channel messages published while a node was not listening (its subscriber connection
    closed, the node stopped short of the heartbeat) reach its members when it listens again:
    each once, with the msgids everyone else saw, in the channel's order and before what
    comes after; and its store has each once."""
    caps = ("draft/chathistory", "batch", "message-tags", "echo-message")
    a, b, alice, bob = both_in(node_factory, clients, "#away", *caps)
    alice.send("PRIVMSG #away :before")
    sent = [Msg(alice.expect(is_command("PRIVMSG", "alice", "#away")))]
    assert Msg(bob.expect(is_command("PRIVMSG", "alice", "#away"))).text == "before"
    b.proc.send_signal(signal.SIGSTOP)
    try:
        kill_subscriber(redis, "b")
        for i in range(5):
            alice.send("PRIVMSG #away :while away %d" % i)
            sent.append(Msg(alice.expect(is_command("PRIVMSG", "alice", "#away"))))
    finally:
        b.proc.send_signal(signal.SIGCONT)
    alice.send("PRIVMSG #away :after")  # maybe before b listens again, maybe after
    sent.append(Msg(alice.expect(is_command("PRIVMSG", "alice", "#away"))))
    got = [Msg(bob.expect(is_command("PRIVMSG", "alice", "#away"), timeout=15))
           for _ in range(6)]
    assert [m.text for m in got] == ["while away %d" % i for i in range(5)] + ["after"]
    assert [msgid(m) for m in got] == [msgid(m) for m in sent[1:]]
    assert not any(Msg(l).command == "PRIVMSG" for l in barrier(bob))
    assert history_texts(bob, "#away") == [m.text for m in sent]


def test_a_node_started_later_has_the_channels_history(node_factory, clients):
    """Channel messages are kept in Redis before any node delivers them: a node started
    afterwards has them (its join replay and CHATHISTORY), and a node restarted on its own
    store has each of them once."""
    a, b = node_factory("a"), node_factory("b")
    alice = joined(welcomed(clients(a, "alice")), "#hist")
    bob = welcomed(clients(b, "bob"))
    wait_until(lambda: names(bob, "#hist") == ["@alice"])
    joined(bob, "#hist")
    for i in range(5):
        alice.send("PRIVMSG #hist :before %d" % i)
    for i in range(5):
        bob.expect(is_command("PRIVMSG", "alice", "#hist"))
    c = node_factory("c")
    carol = welcomed(clients(c, "carol"))  # no chathistory: the replay on join
    carol.send("JOIN #hist")
    got = [Msg(l).text for l in take_until(carol, is_numeric("366", "#hist")) +
           carol.collect(0.5) if is_command("PRIVMSG", "alice", "#hist")(l)]
    assert got == ["before %d" % i for i in range(5)], got
    # b restarts on its own store, which has these already: each comes back once
    bob.close()
    b.stop()
    alice.send("PRIVMSG #hist :while b was away")
    barrier(alice)
    dave = history_client(clients, node_factory("b"), "dave")
    dave.send("JOIN #hist")
    dave.expect(is_numeric("366", "#hist"))
    dave.send("CHATHISTORY LATEST #hist * 20")
    got = [Msg(l).text for l in take_until(dave, lambda l: Msg(l).command == "BATCH" and
                                           Msg(l).params[0].startswith("-"))
           if Msg(l).command == "PRIVMSG"]
    assert got == ["before %d" % i for i in range(5)] + ["while b was away"], got


def test_a_restarted_node_catches_up_on_what_it_missed(node_factory, clients):
    """More messages than a replay holds, and more than catching up delivers live
    (CLUSTER_BACKFILL, 1,000), were said in a channel while a node was down: when it runs
    again its store has every one of them (the stream keeps --history-max), in the
    channel's order."""
    def unhurried(name, *args, **kw):  # alice may say it all at once
        return node_factory(name, "--flood-burst", "2000", "--flood-rate", "1000", *args, **kw)
    a, b, alice, bob = both_in(unhurried, clients, "#long")
    alice.send("PRIVMSG #long :first")
    bob.expect(is_command("PRIVMSG", "alice", "#long"))
    bob.close()
    b.stop()
    said = ["away %d" % i for i in range(1100)]
    for i, text in enumerate(said):
        alice.send("PRIVMSG #long :" + text)
        if i % 50 == 49:
            barrier(alice)
    dave = history_client(clients, node_factory("b"), "dave")
    joined(dave, "#long")
    got = history_texts(dave, "#long")
    assert got == ["first"] + said


def test_a_single_nodes_accounts_go_into_the_network(tmp_path, server_factory, node_factory,
                                                     clients):
    """A server that ran alone, with accounts, joins a network on the same data directory:
    its accounts are the network's, so they log in on any node."""
    from test_accounts import PASSWORD, register, sasl_client
    data = str(tmp_path / "alone")
    alone = server_factory("--data-dir", data)
    register(alone, "alice").close()
    alone.stop()
    node_factory("a", "--data-dir", data)
    b = node_factory("b")
    sasl_client(b.port, "alice", PASSWORD).close()
    sasl_client(b.port, "alice", "wrong password", expect_ok=False).close()


def test_accounts_are_the_networks(node_factory, clients, redis):
    """An account registered on node a logs in with SASL on node b, and its nick is
    protected on every node, also on a node started afterwards."""
    from test_accounts import PASSWORD, register, sasl_client
    a, b = node_factory("a"), node_factory("b")
    alice = register(a, "alice")
    alice.send("QUIT")
    alice.wait_closed()
    wait_until(lambda: "tc:acct:alice" in redis.keys("tc:acct:*"))
    # registered-nick protection on b (it learned the account from the network)
    squat = Client(b.port, None)
    squat.send("NICK alice")
    squat.send("USER x 0 * :x")
    line = Msg(squat.expect(lambda l: Msg(l).command in ("001", "433")))
    assert line.command == "433" and "registered" in line.text, line.line
    squat.close()
    # SASL on b with the password set on a; a wrong one is refused
    bad = sasl_client(b.port, "alice", "wrong password", expect_ok=False)
    bad.send("QUIT")
    bad.wait_closed()  # it held the nick while registering: closed, it has given it back
    good = sasl_client(b.port, "alice", PASSWORD)
    good.send("WHOIS alice")
    assert "alice" in Msg(good.expect(is_numeric("330"))).params[2]
    good.close()
    # a node started now knows the account too
    c = node_factory("c")
    squat = Client(c.port, None)
    squat.send("NICK alice")
    squat.send("USER x 0 * :x")
    assert Msg(squat.expect(lambda l: Msg(l).command in ("001", "433"))).command == "433"
    squat.close()


def latest(c, target, n=10):
    """The texts of target's last n messages, as c's node answers CHATHISTORY LATEST."""
    c.send("CHATHISTORY LATEST %s * %d" % (target, n))
    return [Msg(l).text for l in take_until(c, lambda l: Msg(l).command == "BATCH" and
                                            Msg(l).params[0].startswith("-"))
            if Msg(l).command in ("PRIVMSG", "NOTICE")]


def test_private_history_on_both_parties_nodes(node_factory, clients, redis):
    """A conversation between accounts on two nodes is in the history each of them reads
    on their own node."""
    from test_accounts import PASSWORD, register, sasl_client
    a, b = node_factory("a"), node_factory("b")
    for node, nick in ((a, "alice"), (b, "bob")):
        c = register(node, nick)
        c.send("QUIT")
        c.wait_closed()
    caps = "draft/chathistory batch server-time message-tags"
    alice = sasl_client(a.port, "alice", PASSWORD, caps)
    bob = sasl_client(b.port, "bob", PASSWORD, caps)
    wait_until(lambda: ison(alice, "bob") == ["bob"])
    alice.send("PRIVMSG bob :hi bob")
    bob.expect(is_command("PRIVMSG", "alice"))
    bob.send("PRIVMSG alice :hi alice")
    alice.expect(is_command("PRIVMSG", "bob"))
    assert latest(bob, "alice") == ["hi bob", "hi alice"]
    assert latest(alice, "bob") == ["hi bob", "hi alice"]
    # on a third node, alice's conversation comes from the network's stream once she logs in
    c = node_factory("c")
    alice.send("QUIT")
    alice.wait_closed()
    # Node a gives the nick back to the network after its user is gone: until then another
    # node refuses it (433).
    wait_until(lambda: "tc:nick:alice" not in redis.keys("tc:nick:*"))
    again = sasl_client(c.port, "alice", PASSWORD, caps)
    wait_until(lambda: latest(again, "bob") == ["hi bob", "hi alice"])


def both_in(node_factory, clients, chan, *caps):
    """two_nodes, with alice (op) and bob in chan."""
    a, b, alice, bob = two_nodes(node_factory, clients, *caps)
    joined(alice, chan)
    wait_until(lambda: names(bob, chan) == ["@alice"])
    joined(bob, chan)
    alice.expect(is_command("JOIN", "bob", chan))
    return a, b, alice, bob


def history_texts(c, chan):
    """Every message of chan in c's node's history, oldest first (pages of 100)."""
    got, query = [], "LATEST %s *" % chan
    while True:
        c.send("CHATHISTORY %s 100" % query)
        page = [Msg(l) for l in take_until(c, lambda l: Msg(l).command == "BATCH" and
                                           Msg(l).params[0].startswith("-"))
                if Msg(l).command == "PRIVMSG"]
        if not page:
            return got
        got = [m.text for m in page] + got
        tags = dict(t.partition("=")[::2] for t in page[0].tags.split(";"))
        query = "BEFORE %s msgid=%s" % (chan, tags["msgid"])


def test_kill_9_mid_chat_loses_nothing_anyone_received(node_factory, clients):
    """Node b is killed while its user and a user of node a are talking in a channel: every
    message anyone received is in the history of the surviving node, and b's user, back on
    node a, gets what was said after its node died."""
    caps = ("draft/chathistory", "batch", "message-tags")
    a, b, alice, bob = both_in(node_factory, clients, "#burst", *caps)
    for i in range(60):
        alice.send("PRIVMSG #burst :a%d" % i)
        bob.send("PRIVMSG #burst :b%d" % i)
    lines = take_until(alice, is_command("PRIVMSG", "bob"))  # bob's first is through
    kill(b)  # mid-burst: the rest of bob's lines may or may not have left b
    for i in range(60, 100):
        alice.send("PRIVMSG #burst :a%d" % i)
    lines += take_until(alice, is_command("QUIT", "bob"), timeout=15)
    received = [Msg(l).text for l in lines if is_command("PRIVMSG")(l)]  # bob's, to alice
    barrier(alice)
    # alice's node has her lines and every one of bob's that reached anyone, in one order
    stored = history_texts(alice, "#burst")
    assert ["a%d" % i for i in range(100)] == [t for t in stored if t[0] == "a"]
    bob_stored = [t for t in stored if t[0] == "b"]
    assert bob_stored == ["b%d" % i for i in range(len(bob_stored))]  # a prefix, in order
    assert len(bob_stored) >= 1
    assert set(received) <= set(stored)
    # bob comes back on node a and reads what was said after b died
    back = clients(a, "bob", register=False)
    back.send("CAP REQ :" + " ".join(caps))
    back.send("CAP END")
    back.register("bob")
    barrier(back)
    joined(back, "#burst")
    assert history_texts(back, "#burst") == stored


def test_redis_restart_mid_chat_delivers_nothing_unstored(node_factory, clients, redis):
    """Redis stops in the middle of a burst into a channel and comes back empty: every line
    that reached bob is in both nodes' history, every line that did not was refused to its
    sender with FAIL, and chat resumes by itself."""
    caps = ("draft/chathistory", "batch", "message-tags")
    a, b, alice, bob = both_in(node_factory, clients, "#mid", *caps)
    sent = ["m%d" % i for i in range(60)]
    for i, text in enumerate(sent):
        alice.send("PRIVMSG #mid :" + text)
        if i == 30:
            redis.stop()
    refused = [l for l in barrier(alice) if Msg(l).command == "FAIL"]
    assert refused, "lines sent while Redis was down are refused"
    redis.start()
    alice.expect(lambda l: "recovered" in l and Msg(l).command == "NOTICE", timeout=15)
    seen = take_until(bob, lambda l: "recovered" in l and Msg(l).command == "NOTICE",
                      timeout=15)
    received = [Msg(l).text for l in seen if is_command("PRIVMSG", "alice", "#mid")(l)]
    # what bob saw is what both stores have, in the order sent: nothing delivered unstored
    assert received == sent[:len(received)]
    assert history_texts(bob, "#mid") == received
    assert history_texts(alice, "#mid") == received
    assert len(received) + len(refused) == len(sent)
    # and chat resumes
    alice.send("PRIVMSG #mid :after")
    assert Msg(bob.expect(is_command("PRIVMSG", "alice", "#mid"))).text == "after"


def test_chghost_reaches_other_nodes(node_factory, clients):
    """--cloak-accounts on every node: a user of node b who logs in is shown as user/<account>
    on node a too (CHGHOST to members with chghost, NAMES, WHOIS)."""
    from test_accounts import PASSWORD
    a, b = node_factory("a", "--cloak-accounts", "on"), node_factory("b", "--cloak-accounts", "on")
    alice = clients(a, "alice", register=False)
    alice.send("CAP REQ :chghost userhost-in-names")
    alice.send("CAP END")
    alice.register("alice")
    barrier(alice)
    bob = welcomed(clients(b, "bob"))
    wait_until(lambda: "bob!~bob@127.0.0.1" in names(alice, "#lobby"))
    bob.send("REGISTER * * :" + PASSWORD)
    change = Msg(alice.expect(is_command("CHGHOST", "bob"), timeout=15))
    assert change.params == ["~bob", "user/bob"]
    wait_until(lambda: "bob!~bob@user/bob" in names(alice, "#lobby"))

    # WHOIS reads node a's directory, which learns the new host from bob's user event (the
    # CHGHOST came with the channel's): it may come a moment after.
    def whois_host():
        alice.send("WHOIS bob")
        host = Msg(alice.expect(is_numeric("311"))).params[3]
        alice.expect(is_numeric("318"))
        return host == "user/bob"
    wait_until(whois_host)


def test_a_persistent_redis_back_after_an_outage(tmp_path, node_factory, clients):
    """Redis with an append-only file is away longer than three heartbeats and comes back
    with its data: no node is taken for gone (no QUIT and JOIN of everyone), and a user who
    left meanwhile, whose QUIT could not reach Redis then, is gone from every node after,
    with her own QUIT line (kept by her node until Redis was back)."""
    store = Redis(tmp_path, persist=True)
    try:
        a, b, alice, carol, bob = alice_carol_bob(node_factory, clients, "#room",
                                                  urls=store.url)
        store.stop()
        alice.expect(lambda l: "degraded" in l and Msg(l).command == "NOTICE")
        carol.send("QUIT :bye")
        carol.wait_closed()
        time.sleep(4)  # past 3 heartbeats of 1 s: every alive key has lapsed
        store.start()
        seen = take_until(bob, lambda l: Msg(l).command in ("PART", "QUIT") and
                          Msg(l).nick == "carol", timeout=20)
        assert Msg(seen[-1]).command == "QUIT" and Msg(seen[-1]).text == "Quit: bye", seen
        wait_until(lambda: ison(bob, "carol") == [])
        wait_until(lambda: names(bob, "#room") == ["@alice", "bob"])
        seen += bob.collect(3)  # the others' heartbeats come and go: nobody is dropped
        left = [l for l in seen if Msg(l).command in ("QUIT", "PART")]
        assert len(left) == 1, seen
        bob.send("PRIVMSG #room :still one network")
        assert Msg(alice.expect(is_command("PRIVMSG", "bob", "#room"))).text == \
            "still one network"
        welcomed(clients(b, "carol"))  # the nick is free again
    finally:
        store.stop()


def test_accounts_never_logged_into_expire_network_wide(node_factory, clients, redis):
    """In a cluster an expired account goes from Redis, and every node frees its name."""
    from test_accounts import register
    a = node_factory("a")
    register(a, "squat").close()
    wait_until(lambda: "tc:acct:squat" in redis.keys("tc:acct:*"))
    subprocess.run(["redis-cli", "-p", str(redis.port), "HSET", "tc:acct:squat", "created",
                    str(int(time.time()) - 31 * 86400)], check=True, capture_output=True)
    node_factory("b")  # its account thread looks for expired accounts as it starts
    wait_until(lambda: "tc:acct:squat" not in redis.keys("tc:acct:*"))

    def nick_free():
        c = Client(a.port, None)
        c.send("NICK squat")
        c.send("USER x 0 * :x")
        got = Msg(c.expect(lambda l: Msg(l).command in ("001", "433")))
        c.close()
        return got.command == "001"

    wait_until(nick_free)  # node a heard the account go
