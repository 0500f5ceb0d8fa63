"""IRCv3 capabilities: negotiation (CAP LS/REQ/LIST/END), and what each capability changes on
the wire: server-time, message-tags (msgid, client-only tags, TAGMSG), echo-message,
extended-join, multi-prefix, away-notify, invite-notify, setname. Each test checks what the
other side actually received, and that clients without the capability see the plain line."""
import re

from conftest import Client, Msg, barrier, is_command, is_numeric, isupport, take_until, cap_ls

TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def tags_of(line):
    m = Msg(line)
    out = {}
    for part in (m.tags or "").split(";"):
        if part:
            k, _, v = part.partition("=")
            out[k] = v
    return out


def cap_client(port, nick, caps, join_lobby=True):
    """Registers nick after requesting caps (space-separated); waits for the lobby's 366."""
    c = Client(port, None)
    c.nick = nick
    c.send("CAP LS 302")
    cap_ls(c)
    if caps:
        c.send("CAP REQ :" + caps)
        line = c.expect(is_command("CAP"))
        assert Msg(line).params[1] == "ACK", line
    c.send("NICK " + nick)
    c.send("USER %s 0 * :Real %s" % (nick, nick))
    c.send("CAP END")
    c.expect(is_numeric("001"))
    if join_lobby:
        c.expect(is_numeric("366"))
    return c


def test_cap_ack_list_and_removal(server):
    c = cap_client(server.port, "alice", "server-time echo-message")
    c.send("CAP LIST")
    line = c.expect(is_command("CAP"))
    assert sorted(Msg(line).text.split()) == ["cap-notify", "echo-message", "server-time"], line
    c.send("CAP REQ :-echo-message")
    assert Msg(c.expect(is_command("CAP"))).params[1:] == ["ACK", "-echo-message"]
    c.send("CAP LIST")
    assert sorted(Msg(c.expect(is_command("CAP"))).text.split()) == ["cap-notify", "server-time"]
    c.send("CAP FOO")
    assert Msg(c.expect(is_numeric("410"))).params[:2] == ["alice", "FOO"]


def test_server_time_and_msgid(server):
    plain = cap_client(server.port, "plain", "")
    timed = cap_client(server.port, "timed", "server-time")
    tagged = cap_client(server.port, "tagged", "message-tags server-time")
    sender = cap_client(server.port, "sender", "")
    for c in (plain, timed, tagged):
        c.expect(is_command("JOIN", "sender"))
    sender.send("PRIVMSG #lobby :hello")
    p = plain.expect(is_command("PRIVMSG", "sender"))
    assert p == ":sender!~sender@127.0.0.1 PRIVMSG #lobby :hello"
    t = timed.expect(is_command("PRIVMSG", "sender"))
    assert list(tags_of(t)) == ["time"] and TIME_RE.match(tags_of(t)["time"]), t
    g = tagged.expect(is_command("PRIVMSG", "sender"))
    tg = tags_of(g)
    assert set(tg) == {"time", "msgid"} and tg["msgid"], g
    assert tg["time"] == tags_of(t)["time"]  # one event, one timestamp
    sender.send("PRIVMSG #lobby :again")
    g2 = tagged.expect(is_command("PRIVMSG", "sender"))
    assert tags_of(g2)["msgid"] != tg["msgid"]  # every message its own id


def test_client_tags_and_tagmsg_reach_message_tags_clients_only(server):
    plain = cap_client(server.port, "plain", "")
    tagged = cap_client(server.port, "tagged", "message-tags")
    sender = cap_client(server.port, "sender", "message-tags")
    plain.expect(is_command("JOIN", "sender"))
    tagged.expect(is_command("JOIN", "sender"))
    sender.send("@+draft/react=\\:);+example.com/x;server-only=1 PRIVMSG #lobby :tagged text")
    g = tagged.expect(is_command("PRIVMSG", "sender"))
    tg = tags_of(g)
    assert tg.get("+draft/react") == "\\:)" and "+example.com/x" in tg, g
    assert "server-only" not in tg, g  # only client-only (+) tags are relayed
    p = plain.expect(is_command("PRIVMSG", "sender"))
    assert not p.startswith("@"), p
    sender.send("@+typing=active TAGMSG #lobby")
    g = tagged.expect(is_command("TAGMSG", "sender"))
    assert tags_of(g).get("+typing") == "active", g
    assert Msg(g).params == ["#lobby"]
    barrier(plain)
    assert not any(Msg(l).command == "TAGMSG" for l in plain.lines), plain.lines


def test_echo_message_channel_and_private(server):
    echo = cap_client(server.port, "echo", "echo-message")
    other = cap_client(server.port, "other", "")
    echo.expect(is_command("JOIN", "other"))
    echo.send("PRIVMSG #lobby :to the room")
    assert echo.expect(is_command("PRIVMSG", "echo")) == \
        ":echo!~echo@127.0.0.1 PRIVMSG #lobby :to the room"
    other.expect(is_command("PRIVMSG", "echo"))
    echo.send("PRIVMSG other :just you")
    assert Msg(echo.expect(is_command("PRIVMSG", "echo"))).params == ["other", "just you"]
    other.expect(lambda l: Msg(l).params == ["other", "just you"])
    # Without echo-message, nothing comes back.
    other.send("PRIVMSG #lobby :no echo")
    echo.expect(is_command("PRIVMSG", "other"))
    barrier(other)
    assert not any(is_command("PRIVMSG", "other")(l) for l in other.lines)


def test_extended_join(server):
    ext = cap_client(server.port, "ext", "extended-join")
    plain = cap_client(server.port, "plain", "")
    line = ext.expect(is_command("JOIN", "plain"))
    assert Msg(line).params == ["#lobby", "*", "Real plain"], line
    joiner = cap_client(server.port, "joiner", "")
    line = plain.expect(is_command("JOIN", "joiner"))
    assert Msg(line).params == ["#lobby"], line
    del joiner


def test_multi_prefix_names(server):
    op = cap_client(server.port, "op", "multi-prefix", join_lobby=False)
    op.send("JOIN #mp")
    op.expect(is_numeric("366"))
    op.send("MODE #mp +v op")
    op.expect(is_command("MODE", "op"))
    op.send("NAMES #mp")
    line = op.expect(lambda l: Msg(l).command == "353" and "#mp" in Msg(l).params)
    assert Msg(line).text == "@+op", line
    plain = cap_client(server.port, "plain", "", join_lobby=False)
    plain.send("NAMES #mp")
    line = plain.expect(lambda l: Msg(l).command == "353" and "#mp" in Msg(l).params)
    assert Msg(line).text == "@op", line


def test_away_notify(server):
    watcher = cap_client(server.port, "watcher", "away-notify")
    plain = cap_client(server.port, "plain", "")
    away = cap_client(server.port, "away", "")
    watcher.expect(is_command("JOIN", "away"))
    plain.expect(is_command("JOIN", "away"))
    away.send("AWAY :lunch")
    away.expect(is_numeric("306"))
    assert watcher.expect(is_command("AWAY", "away")) == ":away!~away@127.0.0.1 AWAY :lunch"
    away.send("AWAY")
    away.expect(is_numeric("305"))
    assert watcher.expect(is_command("AWAY", "away")) == ":away!~away@127.0.0.1 AWAY"
    barrier(plain)
    assert not any(Msg(l).command == "AWAY" for l in plain.lines)


def test_away_notify_after_join_of_an_away_user(server):
    """IRCv3 away-notify: "when a user joins a channel ... and is marked as away, the server
    sends an AWAY message for that user", after the JOIN, to members with the capability."""
    watcher = cap_client(server.port, "watcher", "away-notify", join_lobby=False)
    plain = cap_client(server.port, "plain", "", join_lobby=False)
    for c in (watcher, plain):
        c.send("JOIN #room")
        c.expect(is_numeric("366"))
    away = cap_client(server.port, "away", "", join_lobby=False)
    away.send("AWAY :lunch")
    away.expect(is_numeric("306"))
    away.send("JOIN #room")
    away.expect(is_numeric("366"))
    lines = take_until(watcher, is_command("AWAY", "away"))
    joins = [l for l in lines if Msg(l).command == "JOIN" and Msg(l).prefix.startswith("away!")]
    assert joins and lines[-1] == ":away!~away@127.0.0.1 AWAY :lunch", lines
    assert lines.index(joins[-1]) < len(lines) - 1
    # Without the capability: the JOIN only.
    plain.expect(is_command("JOIN", "away"))
    assert not any(Msg(l).command == "AWAY" for l in barrier(plain))
    # The joiner is not told its own state.
    assert not any(Msg(l).command == "AWAY" for l in barrier(away))
    # Back from away, a join brings no AWAY line.
    away.send("AWAY")
    away.expect(is_numeric("305"))
    away.send("JOIN #other")
    away.expect(is_numeric("366"))
    watcher.send("JOIN #other")
    watcher.expect(is_numeric("366"))
    away.send("PART #other")
    away.send("JOIN #other")
    away.expect(is_numeric("366"))
    lines = take_until(watcher, lambda l: Msg(l).command == "JOIN" and l.startswith(":away!")
                       and "#other" in l)
    assert not any(Msg(l).command == "AWAY" for l in barrier(watcher))


def test_invite_notify(server):
    op = cap_client(server.port, "op", "", join_lobby=False)
    op.send("JOIN #inv")
    op.expect(is_numeric("366"))
    watcher = cap_client(server.port, "watcher", "invite-notify", join_lobby=False)
    watcher.send("JOIN #inv")
    watcher.expect(is_numeric("366"))
    guest = cap_client(server.port, "guest", "", join_lobby=False)
    op.send("INVITE guest #inv")
    op.expect(is_numeric("341"))
    assert guest.expect(is_command("INVITE", "op")) == ":op!~op@127.0.0.1 INVITE guest #inv"
    assert watcher.expect(is_command("INVITE", "op")) == ":op!~op@127.0.0.1 INVITE guest #inv"


def test_setname(server):
    me = cap_client(server.port, "me", "setname")
    peer = cap_client(server.port, "peer", "setname")
    plain = cap_client(server.port, "plain", "")
    peer.expect(is_command("JOIN", "plain"))
    me.send("SETNAME :New Name")
    assert me.expect(is_command("SETNAME", "me")) == ":me!~me@127.0.0.1 SETNAME :New Name"
    assert peer.expect(is_command("SETNAME", "me")) == ":me!~me@127.0.0.1 SETNAME :New Name"
    plain.send("WHOIS me")
    line = plain.expect(is_numeric("311"))
    assert Msg(line).text == "New Name", line
    barrier(plain)
    assert not any(Msg(l).command == "SETNAME" for l in plain.lines)


def test_labeled_echo_carries_the_label(server):
    """IRCv3 labeled-response with echo-message: "the echoed message ... MUST carry the label"
    (no ACK); with several targets the echoes come in one labeled-response batch. A labeled
    NICK's reply is the NICK message, with the label; an unknown command's 421 too."""
    other = cap_client(server.port, "other", "")
    c = cap_client(server.port, "lab", "labeled-response batch echo-message message-tags")
    other.expect(is_command("JOIN", "lab"))
    c.send("@label=m1 PRIVMSG #lobby :hi all")
    line = c.expect(lambda l: Msg(l).command in ("PRIVMSG", "ACK"))
    assert Msg(line).command == "PRIVMSG" and tags_of(line)["label"] == "m1", line
    assert Msg(line).params == ["#lobby", "hi all"]
    assert Msg(other.expect(is_command("PRIVMSG", "lab"))).text == "hi all"
    c.send("@label=m2 PRIVMSG other :psst")
    line = c.expect(lambda l: Msg(l).command in ("PRIVMSG", "ACK"))
    assert Msg(line).command == "PRIVMSG" and tags_of(line)["label"] == "m2", line
    c.send("@label=t1;+draft/react=x TAGMSG #lobby")
    line = c.expect(lambda l: Msg(l).command in ("TAGMSG", "ACK"))
    assert Msg(line).command == "TAGMSG" and tags_of(line)["label"] == "t1", line
    # Two targets: one batch, both echoes inside, nothing else echoed afterwards.
    c.send("@label=m3 PRIVMSG other,#lobby :both")
    start = c.expect(is_command("BATCH"))
    assert tags_of(start) == {"label": "m3"} and Msg(start).params[1] == "labeled-response"
    ref = Msg(start).params[0][1:]
    inside = take_until(c, lambda l: Msg(l).command == "BATCH" and Msg(l).params == ["-" + ref])
    echoes = [Msg(l) for l in inside if Msg(l).command == "PRIVMSG"]
    assert [e.params for e in echoes] == [["other", "both"], ["#lobby", "both"]], inside
    assert all(tags_of(l).get("batch") == ref for l in inside[:-1]), inside
    assert not [l for l in barrier(c) if Msg(l).command == "PRIVMSG"]
    # NICK: the reply is the NICK line, labeled; others still see it.
    c.send("@label=n1 NICK lab2")
    line = c.expect(lambda l: Msg(l).command in ("NICK", "ACK"))
    assert Msg(line).command == "NICK" and tags_of(line)["label"] == "n1", line
    assert Msg(line).params == ["lab2"]
    assert Msg(other.expect(is_command("NICK", "lab"))).params == ["lab2"]
    assert not [l for l in barrier(c) if Msg(l).command == "NICK"]
    c.send("@label=u1 FROBNICATE")
    assert tags_of(c.expect(is_numeric("421")))["label"] == "u1"


def test_labeled_response_single_batch_and_ack(server):
    c = cap_client(server.port, "lab", "labeled-response batch")
    # One reply: tagged with the label.
    c.send("@label=abc PING :x")
    line = c.expect(is_command("PONG"))
    assert tags_of(line) == {"label": "abc"}, line
    # Several replies: a labeled-response batch holding them all.
    c.send("@label=b2 NAMES #lobby")
    start = c.expect(is_command("BATCH"))
    m = Msg(start)
    assert tags_of(start) == {"label": "b2"} and m.params[1] == "labeled-response", start
    ref = m.params[0][1:]
    assert m.params[0][0] == "+"
    inside = []
    while True:
        line = c.expect(lambda l: True)
        if Msg(line).command == "BATCH":
            assert Msg(line).params == ["-" + ref], line
            break
        assert tags_of(line) == {"batch": ref}, line
        inside.append(Msg(line).command)
    assert inside == ["353", "366"], inside
    # No reply at all: ACK.
    c.send("@label=q PONG :nothing")
    line = c.expect(is_command("ACK"))
    assert tags_of(line) == {"label": "q"}, line
    # Errors are replies too.
    c.send("@label=e NOSUCHCMD")
    line = c.expect(is_numeric("421"))
    assert tags_of(line) == {"label": "e"}, line


def test_label_ignored_without_the_cap(server):
    c = cap_client(server.port, "plain", "")
    c.send("@label=abc PING :x")
    line = c.expect(is_command("PONG"))
    assert not line.startswith("@"), line


def monitor_targets(line):
    return Msg(line).text.split(",")


def test_monitor(server):
    """IRCv3 monitor: MONITOR + - C L S, 730/731 when a watched nick comes and goes (register,
    NICK, QUIT), 732/733, 734 past the limit that ISUPPORT MONITOR= gives."""
    w = Client(server.port, None)
    w.send("NICK watcher")
    w.send("USER w 0 * :w")
    assert isupport(take_until(w, is_numeric("366")))["MONITOR"] == "100"
    w.send("MONITOR + alice,Bob")
    assert sorted(monitor_targets(w.expect(is_numeric("731")))) == ["Bob", "alice"]
    alice = Client(server.port, "alice")
    assert monitor_targets(w.expect(is_numeric("730"))) == ["alice!~alice@127.0.0.1"]
    w.send("MONITOR L")
    lines = take_until(w, is_numeric("733"))
    assert sorted(t for l in lines if Msg(l).command == "732" for t in monitor_targets(l)) == [
        "Bob", "alice"]
    alice.send("NICK alice2")
    assert monitor_targets(w.expect(is_numeric("731"))) == ["alice"]
    w.send("MONITOR + alice2")
    assert monitor_targets(w.expect(is_numeric("730"))) == ["alice2!~alice@127.0.0.1"]
    alice.send("NICK alice")  # back: alice online, alice2 offline
    got = {Msg(w.expect(lambda l: Msg(l).command in ("730", "731"))).line for _ in range(2)}
    assert {Msg(l).command for l in got} == {"730", "731"}, got
    alice.send("QUIT :bye")
    assert monitor_targets(w.expect(is_numeric("731"))) == ["alice"]
    w.send("MONITOR S")
    assert sorted(monitor_targets(w.expect(is_numeric("731")))) == ["Bob", "alice", "alice2"]
    w.send("MONITOR - Bob,alice2")
    w.send("MONITOR L")
    lines = take_until(w, is_numeric("733"))
    assert [monitor_targets(l) for l in lines if Msg(l).command == "732"] == [["alice"]]
    w.send("MONITOR C")
    w.send("MONITOR L")
    lines = take_until(w, is_numeric("733"))
    assert not [l for l in lines if Msg(l).command == "732"]
    # The limit: the first 100 are watched, the rest refused with 734.
    w.send("MONITOR + " + ",".join("n%d" % i for i in range(60)))
    w.expect(is_numeric("731"))
    w.send("MONITOR + " + ",".join("n%d" % i for i in range(60, 110)))
    full = Msg(w.expect(is_numeric("734")))
    assert full.params[1] == "100" and full.params[2].split(",")[0] == "n100", full.line
    w.send("MONITOR L")
    lines = take_until(w, is_numeric("733"))
    assert sum(len(monitor_targets(l)) for l in lines if Msg(l).command == "732") == 100


def test_extended_monitor(server_factory):
    """IRCv3 extended-monitor: a watcher with extended-monitor gets the AWAY (with
    away-notify), SETNAME (setname) and ACCOUNT (account-notify) of a user it monitors
    without sharing a channel; one without extended-monitor, or the needed cap, does not;
    one that shares a channel gets each line once."""
    srv = server_factory("--default-channel", "")
    w = cap_client(srv.port, "watcher", "draft/extended-monitor away-notify setname",
                   join_lobby=False)
    plain = cap_client(srv.port, "plain", "away-notify setname", join_lobby=False)
    for c in (w, plain):
        c.send("MONITOR + alice")
        c.expect(is_numeric("731"))
    alice = cap_client(srv.port, "alice", "", join_lobby=False)
    w.expect(is_numeric("730"))
    alice.send("AWAY :lunch")
    m = Msg(w.expect(is_command("AWAY")))
    assert m.prefix == "alice!~alice@127.0.0.1" and m.text == "lunch"
    alice.send("SETNAME :Alice L.")
    assert Msg(w.expect(is_command("SETNAME"))).text == "Alice L."
    alice.send("REGISTER * * :correct horse")
    alice.expect(is_numeric("900"))
    assert not [l for l in barrier(w) if "ACCOUNT" in l.split(" ")[1:2]]  # no account-notify
    assert not [l for l in barrier(plain) if Msg(l).command in ("AWAY", "SETNAME")]
    # sharing a channel: the channel's copy only
    for c in (alice, w):
        c.send("JOIN #both")
        c.expect(is_numeric("366"))
    alice.send("AWAY")
    w.expect(is_command("AWAY"))
    assert not [l for l in barrier(w) if Msg(l).command == "AWAY"]


def test_bot_mode(server):
    """IRCv3 bot mode: ISUPPORT BOT=B; user mode +B; the bot tag on its messages (with
    message-tags); WHOIS 335; B in the WHO flags."""
    probe = Client(server.port, None)
    probe.send("NICK probe")
    probe.send("USER p 0 * :p")
    assert isupport(take_until(probe, is_numeric("366")))["BOT"] == "B"
    bot = cap_client(server.port, "robot", "")
    human = cap_client(server.port, "human", "message-tags")
    plain = cap_client(server.port, "plain", "")
    bot.send("MODE robot +B")
    assert Msg(bot.expect(is_command("MODE", "robot"))).params == ["robot", "+B"]
    bot.send("MODE robot")
    assert "B" in Msg(bot.expect(is_numeric("221"))).params[1]
    bot.send("PRIVMSG #lobby :beep")
    line = human.expect(is_command("PRIVMSG", "robot"))
    assert "bot" in tags_of(line) and tags_of(line)["bot"] == "", line
    assert plain.expect(is_command("PRIVMSG", "robot")) == ":robot!~robot@127.0.0.1 PRIVMSG #lobby :beep"
    human.send("WHOIS robot")
    lines = take_until(human, is_numeric("318"))
    assert [Msg(l).params[1:] for l in lines if Msg(l).command == "335"] == [
        ["robot", "is a bot"]], lines
    human.send("WHO robot")
    lines = take_until(human, is_numeric("315"))
    assert [Msg(l).params[6] for l in lines if Msg(l).command == "352"] == ["HB"], lines
    human.send("PRIVMSG #lobby :hello")
    assert "bot" not in tags_of(plain.expect(is_command("PRIVMSG", "human")))
    line = bot.expect(is_command("PRIVMSG", "human"))
    bot.send("MODE robot -B")
    bot.expect(is_command("MODE", "robot"))
    bot.send("PRIVMSG #lobby :human now")
    assert "bot" not in tags_of(human.expect(is_command("PRIVMSG", "robot")))


def test_no_implicit_names_and_standard_replies_offered(server):
    """IRCv3 no-implicit-names: after one's own JOIN, no 353/366 unless asked (NAMES); the
    topic still comes. standard-replies is offered (FAIL/WARN/NOTE are sent either way)."""
    c = Client(server.port, None)
    c.send("CAP LS 302")
    offered = cap_ls(c)
    assert "no-implicit-names" in offered and "standard-replies" in offered
    c.send("CAP REQ :no-implicit-names standard-replies")
    assert Msg(c.expect(is_command("CAP"))).params[1] == "ACK"
    c.send("NICK quiet")
    c.send("USER q 0 * :q")
    c.send("CAP END")
    c.expect(is_command("JOIN", "quiet"))  # the default channel
    lines = barrier(c)
    assert not [l for l in lines if Msg(l).command in ("353", "366")], lines
    c.send("JOIN #nin")
    c.expect(is_command("JOIN", "quiet"))
    lines = barrier(c)
    assert not [l for l in lines if Msg(l).command in ("353", "366")], lines
    c.send("NAMES #nin")
    assert "quiet" in Msg(c.expect(is_numeric("353"))).text
    c.expect(is_numeric("366"))
