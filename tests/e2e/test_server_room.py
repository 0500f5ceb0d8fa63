"""tcpchatd end to end: channels, relaying and the notices other users see."""
import threading
import time

from conftest import (TIMEOUT, Client, Msg, barrier, closing_reason, is_command, is_numeric,
                      cap_ls, take_until)


def lobby(connect, nick):
    c = connect(nick)
    c.expect(is_numeric("366", "#lobby"))
    return c


def privmsgs(lines, target):
    return [Msg(l) for l in lines if is_command("PRIVMSG", None, target)(l)]


def test_channel_message_reaches_others_not_sender(server, connect):
    a = lobby(connect, "alice")
    b = lobby(connect, "bob")
    c = lobby(connect, "carol")
    a.send("PRIVMSG #lobby :hello everyone")
    for r in (b, c):
        line = r.expect(is_command("PRIVMSG", "alice", "#lobby"))
        m = Msg(line)
        assert m.text == "hello everyone", line
        assert m.prefix.startswith("alice!") and "@" in m.prefix, line
    before = barrier(a)
    assert not any(Msg(l).command == "PRIVMSG" for l in before), before
    # NOTICE is relayed the same way; lower-case commands work.
    b.send("notice #lobby :a notice")
    for r in (a, c):
        line = r.expect(is_command("NOTICE", "bob", "#lobby"))
        assert Msg(line).text == "a notice"


def test_join_nick_part_quit_notices(server, connect):
    a = lobby(connect, "alice")
    b = lobby(connect, "bob")
    c = lobby(connect, "carol")
    for r in (a, b):
        r.expect(is_command("JOIN", "carol", "#lobby"))

    # NICK: to the user and everyone sharing a channel.
    c.send("NICK carla")
    for r in (a, b, c):
        line = r.expect(is_command("NICK", "carol"))
        assert Msg(line).params[0] == "carla", line
    # The new nick is in use now and the old one is free.
    b.send("PRIVMSG carla :direct")
    assert Msg(c.expect(is_command("PRIVMSG", "bob", "carla"))).text == "direct"

    # PART with a reason: to all members, the parter included.
    c.send("PART #lobby :see you")
    for r in (a, b, c):
        line = r.expect(is_command("PART", "carla", "#lobby"))
        assert Msg(line).text == "see you", line
    # After PART, carla no longer gets channel traffic.
    a.send("PRIVMSG #lobby :after part")
    b.expect(is_command("PRIVMSG", "alice", "#lobby"))
    a.send("PRIVMSG carla :marker")
    seen = take_until(c, is_command("PRIVMSG", "alice", "carla"))
    assert not any("after part" in l for l in seen), seen

    # QUIT with a reason: others see "Quit: reason", the quitter gets ERROR and is closed.
    b.send("QUIT :gone fishing")
    line = a.expect(is_command("QUIT", "bob"))
    assert Msg(line).text == "Quit: gone fishing", line
    assert closing_reason(b.wait_closed()) == "Quit: gone fishing"


def test_peer_going_away_is_a_quit(server, connect):
    a = lobby(connect, "alice")
    b = lobby(connect, "bob")
    a.expect(is_command("JOIN", "bob", "#lobby"))
    b.close()
    line = a.expect(is_command("QUIT", "bob"))
    assert Msg(line).text == "Connection closed", line
    # The nick is free again.
    b2 = lobby(connect, "bob")
    a.expect(is_command("JOIN", "bob", "#lobby"))
    b2.send("PRIVMSG #lobby :back")
    assert Msg(a.expect(is_command("PRIVMSG", "bob", "#lobby"))).text == "back"


def test_quit_without_reason(server, connect):
    a = lobby(connect, "alice")
    b = lobby(connect, "bob")
    b.send("QUIT")
    line = a.expect(is_command("QUIT", "bob"))
    assert Msg(line).text.startswith("Quit"), line
    b.wait_closed()


def test_private_message_and_401(server, connect):
    a = lobby(connect, "alice")
    b = lobby(connect, "bob")
    c = lobby(connect, "carol")
    a.send("PRIVMSG bob :just for you")
    line = b.expect(is_command("PRIVMSG", "alice", "bob"))
    assert Msg(line).text == "just for you"
    # Nick targets are case-insensitive.
    a.send("PRIVMSG BOB :shouting")
    line = b.expect(is_command("PRIVMSG", "alice"))
    assert Msg(line).text == "shouting"
    a.send("NOTICE bob :a private notice")
    assert Msg(b.expect(is_command("NOTICE", "alice"))).text == "a private notice"
    # Carol saw none of it.
    a.send("PRIVMSG carol :marker")
    seen = take_until(c, is_command("PRIVMSG", "alice", "carol"))
    assert not any("just for you" in l or "shouting" in l or "private notice" in l
                   for l in seen), seen

    a.send("PRIVMSG nobody :hello?")
    line = a.expect(lambda l: Msg(l).command in ("401", "PRIVMSG"))
    assert Msg(line).command == "401", line
    assert Msg(line).params[:2] == ["alice", "nobody"], line


def test_411_412(server, connect):
    a = lobby(connect, "alice")
    a.send("PRIVMSG")
    line = a.expect(lambda l: Msg(l).command in ("411", "461", "412"))
    assert Msg(line).command == "411", line
    a.send("PRIVMSG #lobby")
    line = a.expect(lambda l: Msg(l).command in ("411", "461", "412"))
    assert Msg(line).command == "412", line


def test_404_not_a_member_and_403_invalid_channel(server, connect):
    a = lobby(connect, "alice")
    b = lobby(connect, "bob")
    a.send("JOIN #private")
    a.expect(is_numeric("366", "#private"))
    b.send("PRIVMSG #private :let me in")
    line = b.expect(lambda l: Msg(l).command in ("404", "403", "401", "442"))
    assert Msg(line).command == "404", line
    assert Msg(line).params[:2] == ["bob", "#private"], line
    seen = barrier(a)
    assert not any("let me in" in l for l in seen), seen

    for bad in ("nohash", "#", "#bad\x07name"):
        b.send("JOIN " + bad)
        line = b.expect(lambda l: Msg(l).command in ("403", "476", "JOIN", "366", "461"))
        assert Msg(line).command == "403", (bad, line)


def test_442_part_not_on_channel(server, connect):
    a = lobby(connect, "alice")
    b = lobby(connect, "bob")
    a.send("JOIN #elsewhere")
    a.expect(is_numeric("366", "#elsewhere"))
    b.send("PART #elsewhere")
    line = b.expect(lambda l: Msg(l).command in ("442", "403", "PART"))
    assert Msg(line).command == "442", line


def test_join_and_part_other_channels_messages_reach_members_only(server, connect):
    a = lobby(connect, "alice")
    b = lobby(connect, "bob")
    c = lobby(connect, "carol")

    a.send("JOIN #dev")
    lines = take_until(a, is_numeric("366", "#dev"))
    assert any(is_command("JOIN", "alice", "#dev")(l) for l in lines), lines
    names = [Msg(l).text.split() for l in lines if is_numeric("353", "=", "#dev")(l)]
    assert names == [["@alice"]], lines  # the creator is the channel operator

    b.send("JOIN #dev")
    lines = take_until(b, is_numeric("366", "#dev"))
    names = sorted(n.lstrip("@+") for l in lines if is_numeric("353")(l)
                   for n in Msg(l).text.split())
    assert names == ["alice", "bob"], lines
    a.expect(is_command("JOIN", "bob", "#dev"))

    a.send("PRIVMSG #dev :dev talk")
    assert Msg(b.expect(is_command("PRIVMSG", "alice", "#dev"))).text == "dev talk"
    a.send("PRIVMSG #lobby :lobby talk")
    for r in (b, c):
        assert Msg(r.expect(is_command("PRIVMSG", "alice", "#lobby"))).text == "lobby talk"
    # Carol, not in #dev, got only the lobby message (the lobby message, sent after the
    # #dev one by the same sender, acts as the barrier).
    a.send("PRIVMSG carol :marker")
    seen = take_until(c, is_command("PRIVMSG", "alice", "carol"))
    assert not any("dev talk" in l for l in seen), seen

    b.send("PART #dev :bye dev")
    for r in (a, b):
        assert Msg(r.expect(is_command("PART", "bob", "#dev"))).text == "bye dev"
    a.send("PRIVMSG #dev :after bob left")
    a.send("PRIVMSG bob :marker")
    seen = take_until(b, is_command("PRIVMSG", "alice", "bob"))
    assert not any("after bob left" in l for l in seen), seen
    # Bob is still in #lobby.
    a.send("PRIVMSG #lobby :still here?")
    assert Msg(b.expect(is_command("PRIVMSG", "alice", "#lobby"))).text == "still here?"

    # Leaving the default channel works too; the user then gets no lobby traffic.
    c.send("PART #lobby")
    c.expect(is_command("PART", "carol", "#lobby"))
    a.send("PRIVMSG #lobby :carol left")
    a.send("PRIVMSG carol :marker2")
    seen = take_until(c, is_command("PRIVMSG", "alice", "carol"))
    assert not any("carol left" in l for l in seen), seen


def test_join_several_channels_at_once(server, connect):
    a = lobby(connect, "alice")
    a.send("JOIN #one,#two")
    a.expect(is_numeric("366", "#one"))
    a.expect(is_numeric("366", "#two"))
    b = lobby(connect, "bob")
    b.send("JOIN #two")
    b.expect(is_numeric("366", "#two"))
    b.send("PRIVMSG #two :in two")
    assert Msg(a.expect(is_command("PRIVMSG", "bob", "#two"))).text == "in two"


def test_channel_names_are_case_insensitive(server, connect):
    a = lobby(connect, "alice")
    b = lobby(connect, "bob")
    a.send("JOIN #Dev")
    a.expect(is_numeric("366"))
    b.send("JOIN #dEV")
    lines = take_until(b, is_numeric("366"))
    names = sorted(n.lstrip("@+") for l in lines if is_numeric("353")(l)
                   for n in Msg(l).text.split())
    assert names == ["alice", "bob"], lines
    b.send("PRIVMSG #DEV :same channel")
    assert Msg(a.expect(is_command("PRIVMSG", "bob"))).text == "same channel"


def test_announcement_reaches_every_client(server, connect):
    a = lobby(connect, "alice")
    b = lobby(connect, "bob")
    b.send("PART #lobby")
    b.expect(is_command("PART", "bob", "#lobby"))  # bob is in no channel now
    u = connect(register=False)
    u.send("CAP LS 302")  # a reply proves the server has taken the connection in
    cap_ls(u)

    server.say("Maintenance at noon")
    for c, target in ((a, "alice"), (b, "bob"), (u, "*")):
        line = c.expect(lambda l: is_command("NOTICE")(l) and "Maintenance" in l)
        m = Msg(line)
        assert m.prefix == server.name, line
        assert m.params == [target, "Maintenance at noon"], line
    # A second announcement, UTF-8 text.
    server.say("Wartung um 12 Uhr \u2014 bitte speichern")
    for c in (a, b, u):
        line = c.expect(lambda l: is_command("NOTICE")(l) and "Wartung" in l)
        assert Msg(line).text == "Wartung um 12 Uhr \u2014 bitte speichern", line


def test_200_clients_10_concurrent_senders_same_order(server_factory):
    nclients, nsenders, nmsgs = 200, 10, 20
    srv = server_factory("-w", "4", "--max-clients", "1000", "--flood-rate", "1000",
                         "--flood-burst", "1000")
    clients = []
    try:
        for i in range(nclients):
            clients.append(Client(srv.port, None))
        for i, c in enumerate(clients):  # pipelined registration
            c.nick = "u%03d" % i
            c.send("NICK %s" % c.nick)
            c.send("USER %s 0 * :User %d" % (c.nick, i))
        for c in clients:
            c.expect(is_numeric("366", "#lobby"))
        # Everyone has joined once the first user has seen the last JOIN.
        clients[0].expect(is_command("JOIN", clients[-1].nick, "#lobby"))

        # Senders spread over the list so they land on different workers.
        senders = clients[::nclients // nsenders][:nsenders]
        start = threading.Barrier(len(senders))
        errors = []

        def blast(c):
            try:
                start.wait(TIMEOUT)
                for seq in range(nmsgs):
                    c.send("PRIVMSG #lobby :m %s %d" % (c.nick, seq))
            except Exception as e:  # noqa: BLE001
                errors.append(e)

        threads = [threading.Thread(target=blast, args=(c,)) for c in senders]
        for t in threads:
            t.start()
        for t in threads:
            t.join(TIMEOUT)
        assert not errors, errors

        sender_nicks = {c.nick for c in senders}
        all_msgs = {(c.nick, s) for c in senders for s in range(nmsgs)}
        received = {}
        for c in clients:
            want = nsenders * nmsgs - (nmsgs if c.nick in sender_nicks else 0)
            got = []
            while len(got) < want:
                line = c.expect(is_command("PRIVMSG", None, "#lobby"))
                m = Msg(line)
                _, nick, seq = m.text.split()
                assert m.nick == nick, line
                got.append((nick, int(seq)))
            received[c.nick] = got

        ref = received[next(c.nick for c in clients if c.nick not in sender_nicks)]
        assert set(ref) == all_msgs and len(ref) == len(all_msgs)
        for s in sender_nicks:  # each sender's messages in the order sent
            assert [q for n, q in ref if n == s] == list(range(nmsgs)), ref
        for c in clients:
            expected = [m for m in ref if m[0] != c.nick]
            assert received[c.nick] == expected, "client %s saw another order" % c.nick
        # Nobody got anything extra (e.g. their own messages echoed).
        for c in senders:
            extra = barrier(c)
            assert not any(is_command("PRIVMSG")(l) for l in extra), extra
    finally:
        for c in clients:
            c.close()


def test_paced_output_of_a_busy_room_leaves_on_its_own(server_factory):
    """One worker writing to 150 members, a message every ~2 ms: every member's lines follow
    each other closely, which engages output pacing (docs/server-behaviour.md), a flush
    waiting a few ms to merge what comes meanwhile. Held lines leave without any further
    traffic, in order, and a member that sends a command meanwhile gets its answer."""
    n = 150
    srv = server_factory("-w", "1", "--max-clients", "1000", "--flood-rate", "1000",
                         "--flood-burst", "1000")
    clients = []
    try:
        for i in range(n):
            c = Client(srv.port, None)
            c.nick = "p%03d" % i
            c.send("NICK %s" % c.nick)
            c.send("USER %s 0 * :P %d" % (c.nick, i))
            clients.append(c)
        for c in clients:
            c.expect(is_numeric("366", "#lobby"))
        clients[0].expect(is_command("JOIN", clients[-1].nick, "#lobby"))
        sender, asker = clients[0], clients[1]
        relayed = is_command("PRIVMSG", "p000", "#lobby")
        for round_ in range(3):
            texts = ["r%d m%d" % (round_, k) for k in range(60)]
            for k, text in enumerate(texts):
                sender.send("PRIVMSG #lobby :" + text)
                if k == len(texts) // 2:
                    asker.send("PING :mid-%d" % round_)
                time.sleep(0.002)  # pacing the sender, not a deadline
            got, pong = [], False  # the PONG comes among the relayed lines
            while len(got) < len(texts) or not pong:
                line = asker.expect(lambda l: is_command("PONG")(l) or relayed(l))
                if Msg(line).command == "PONG":
                    pong = True
                else:
                    got.append(Msg(line).text)
            assert got == texts, got
            for c in clients[2:]:
                got = [Msg(c.expect(relayed)).text for _ in texts]
                assert got == texts, (c.nick, got)
    finally:
        for c in clients:
            c.close()


def test_nick_and_quit_reach_a_user_once_across_shared_channels(server, connect):
    a = lobby(connect, "alice")
    b = lobby(connect, "bob")
    for c in (a, b):
        for ch in ("#dev", "#ops"):
            c.send("JOIN " + ch)
            c.expect(is_numeric("366", ch))
    b.send("NICK robert")
    b.expect(is_command("NICK", "bob"))
    b.send("QUIT :done")
    b.wait_closed()
    seen = take_until(a, is_command("QUIT", "robert"))
    seen += barrier(a)
    assert sum(1 for l in seen if is_command("NICK", "bob")(l)) == 1, seen
    assert sum(1 for l in seen if is_command("QUIT", "robert")(l)) == 1, seen


def test_private_messages_keep_order_across_workers(server_factory):
    nsenders, nmsgs = 6, 30
    srv = server_factory("-w", "4", "--flood-rate", "1000", "--flood-burst", "1000")
    receiver = Client(srv.port, "receiver")
    senders = [Client(srv.port, "s%d" % i) for i in range(nsenders)]
    try:
        start = threading.Barrier(nsenders)
        errors = []

        def blast(c):
            try:
                start.wait(TIMEOUT)
                for seq in range(nmsgs):
                    c.send("PRIVMSG receiver :%s %d" % (c.nick, seq))
            except Exception as e:  # noqa: BLE001
                errors.append(e)

        threads = [threading.Thread(target=blast, args=(c,)) for c in senders]
        for t in threads:
            t.start()
        for t in threads:
            t.join(TIMEOUT)
        assert not errors, errors
        got = []
        for _ in range(nsenders * nmsgs):
            m = Msg(receiver.expect(is_command("PRIVMSG", None, "receiver")))
            nick, seq = m.text.split()
            assert m.nick == nick
            got.append((nick, int(seq)))
        for c in senders:
            assert [q for n, q in got if n == c.nick] == list(range(nmsgs)), got
    finally:
        for c in [receiver] + senders:
            c.close()


def test_concurrent_nick_race_has_one_winner(server_factory):
    n, rounds = 8, 5
    srv = server_factory("-w", "4", "--flood-rate", "1000", "--flood-burst", "1000")
    clients = [Client(srv.port, "racer%d" % i) for i in range(n)]
    try:
        for c in clients:
            c.expect(is_numeric("366", "#lobby"))
        racing = list(clients)
        for r in range(rounds):
            want = "winner%d" % r
            start = threading.Barrier(len(racing))

            def go(c):
                start.wait(TIMEOUT)
                c.send("NICK " + want)

            threads = [threading.Thread(target=go, args=(c,)) for c in racing]
            for t in threads:
                t.start()
            for t in threads:
                t.join(TIMEOUT)
            winners = []
            for c in racing:
                seen = take_until(c, lambda l: is_numeric("433")(l) or (
                    is_command("NICK", c.nick)(l) and Msg(l).params[0] == want))
                if Msg(seen[-1]).command == "NICK":
                    winners.append(c)
                elif not [l for l in seen if is_command("NICK")(l) and Msg(l).params[0] == want]:
                    # The winner's NICK is relayed (through the history writer) and may come
                    # after our own 433.
                    seen += take_until(c, lambda l: is_command("NICK")(l) and
                                       Msg(l).params[0] == want)
                seen += barrier(c)
                # Everyone (all share #lobby) sees exactly one change to that nick.
                changes = [l for l in seen if Msg(l).command == "NICK" and
                           Msg(l).params[0] == want]
                assert len(changes) == 1, (c.nick, seen)
            assert len(winners) == 1, [c.nick for c in winners]
            winners[0].nick = want
            # Nick changes are rate-limited (NICK_BURST): later rounds race without the
            # winners so far.
            racing = [c for c in racing if c is not winners[0]]
            # And the name routes to the winner.
            sender = clients[0] if winners[0] is not clients[0] else clients[1]
            sender.send("PRIVMSG %s :to the winner %d" % (want, r))
            line = winners[0].expect(is_command("PRIVMSG", sender.nick))
            assert Msg(line).text == "to the winner %d" % r
    finally:
        for c in clients:
            c.close()


def test_join_part_churn_keeps_membership_consistent(server_factory):
    # No replay on JOIN: each rejoin would replay the channel's history again.
    srv = server_factory("-w", "4", "--flood-rate", "1000", "--flood-burst", "1000",
                         "--history-replay", "0")
    stay = Client(srv.port, "stayer")
    talker = Client(srv.port, "talker")
    churners = [Client(srv.port, "churn%d" % i) for i in range(4)]
    everyone = [stay, talker] + churners
    try:
        for c in (stay, talker):
            c.send("JOIN #churn")
            c.expect(is_numeric("366", "#churn"))
        nmsgs, cycles = 30, 10
        errors = []
        seen = {c.nick: [] for c in churners}

        def churn(i, c):
            try:
                for k in range(cycles):
                    c.send("JOIN #churn")
                    seen[c.nick] += take_until(c, is_command("JOIN", c.nick, "#churn"))
                    if k == cycles - 1 and i % 2 == 0:
                        break  # even churners end inside the channel
                    c.send("PART #churn")
                    seen[c.nick] += take_until(c, is_command("PART", c.nick, "#churn"))
            except Exception as e:  # noqa: BLE001
                errors.append(e)

        def talk():
            try:
                for seq in range(nmsgs):
                    talker.send("PRIVMSG #churn :t %d" % seq)
            except Exception as e:  # noqa: BLE001
                errors.append(e)

        threads = [threading.Thread(target=churn, args=(i, c)) for i, c in enumerate(churners)]
        threads.append(threading.Thread(target=talk))
        for t in threads:
            t.start()
        for t in threads:
            t.join(2 * TIMEOUT)
        assert not errors, errors
        # The permanent member got every message, in order.
        got = [int(Msg(stay.expect(is_command("PRIVMSG", "talker", "#churn"))).text.split()[1])
               for _ in range(nmsgs)]
        assert got == list(range(nmsgs))
        # Churners got some subset, each in order, never duplicated.
        for c in churners:
            lines = seen[c.nick] + barrier(c)
            seqs = [int(Msg(l).text.split()[1]) for l in lines
                    if is_command("PRIVMSG", "talker", "#churn")(l)]
            assert seqs == sorted(set(seqs)), (c.nick, seqs)
        # A newcomer's NAMES shows exactly the current members.
        check = Client(srv.port, "checker")
        everyone.append(check)
        check.send("JOIN #churn")
        lines = take_until(check, is_numeric("366", "#churn"))
        names = sorted(n.lstrip("@+") for l in lines if is_numeric("353", "=", "#churn")(l)
                       for n in Msg(l).text.split())
        expected = sorted(["stayer", "talker", "checker"] +
                          [c.nick for i, c in enumerate(churners) if i % 2 == 0])
        assert names == expected, lines
    finally:
        for c in everyone:
            c.close()
