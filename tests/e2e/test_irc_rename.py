"""IRCv3 draft/channel-rename (https://ircv3.net/specs/extensions/channel-rename, work in
progress: the draft/ cap name, as its notes say): RENAME keeps a channel's members, modes,
topic and lists under its new name; members with the capability get the RENAME line, the
others the fallback (PART of the old name, JOIN of the new one with its topic and NAMES);
the errors of its Errors section. Quotes are from the specification."""
import os
import signal

from conftest import Client, Msg, Server, barrier, is_command, is_numeric, take_until, cap_ls
from test_cluster import Redis, node_factory, redis  # noqa: F401 (fixtures)
from test_accounts import register_and_leave
from test_history import HISTORY_CAPS, history
from test_irc_read_marker import T0, T1, login, markread
from test_ircv3 import cap_client

CAP = "draft/channel-rename"


def joined(clients, chan):
    """Each client joins chan, in order (the first is its operator); waits for each 366."""
    for c in clients:
        c.send("JOIN " + chan)
        take_until(c, is_numeric("366"))
    for c in clients:
        barrier(c)


def fail_of(c):
    return Msg(c.expect(is_command("FAIL")))


def test_rename_is_offered_on_a_single_node_only(server, node_factory):  # noqa: F811
    """"Clients that negotiate this capability indicate that they are capable of handling
    the RENAME command" (Capabilities): offered where RENAME works. A cluster renames no
    channel yet, so it neither offers the capability nor renames (CANNOT_RENAME)."""
    c = Client(server.port, None)
    c.send("CAP LS 302")
    assert CAP in cap_ls(c)

    node = node_factory("a")
    n = Client(node.port, None)
    n.send("CAP LS 302")
    assert CAP not in cap_ls(n)
    alice = Client(node.port, "alice")
    joined([alice], "#old")
    alice.send("RENAME #old #new")
    m = fail_of(alice)
    assert m.params[:4] == ["RENAME", "CANNOT_RENAME", "#old", "#new"], m.line


def test_rename_keeps_the_channel_and_tells_each_member_as_it_can_understand(server):
    """"A channel rename preserves all channel state, such as membership, mode and topic";
    the server to client RENAME carries the reason (Messages); a client without the
    capability gets "a PART message for the old channel name, with part message matching
    the rename reason", then "a JOIN message followed by the usual messages that would be
    sent if the client had joined the new channel normally (RPL_TOPIC, RPL_TOPICWHOTIME,
    RPL_NAMREPLY, RPL_ENDOFNAMES etc)" (Fallback)."""
    alice = cap_client(server.port, "alice", CAP)
    bob = cap_client(server.port, "bob", CAP + " multi-prefix")
    carol = cap_client(server.port, "carol", "")
    joined([alice, bob, carol], "#boaring")
    alice.send("TOPIC #boaring :all about boring")
    alice.send("MODE #boaring +kv sesame bob")
    alice.send("MODE #boaring +b mallory!*@*")
    for c in (alice, bob, carol):
        c.expect(lambda l: "+b" in l)

    alice.send("RENAME #boaring #boring :Typo fix")
    for c in (alice, bob):
        m = Msg(c.expect(is_command("RENAME")))
        assert m.prefix.startswith("alice!") and m.params == ["#boaring", "#boring", "Typo fix"], \
            m.line
    part = Msg(carol.expect(is_command("PART")))
    assert part.prefix.startswith("carol!") and part.params == ["#boaring", "Typo fix"], part.line
    lines = take_until(carol, is_numeric("366"))
    seen = [Msg(l) for l in lines]
    assert seen[0].command == "JOIN" and seen[0].prefix.startswith("carol!") \
        and seen[0].params == ["#boring"], lines
    assert [m.command for m in seen[1:]] == ["332", "333", "353", "366"], lines
    assert seen[1].params[1:] == ["#boring", "all about boring"], lines
    assert sorted(seen[3].text.split()) == ["+bob", "@alice", "carol"], lines

    # The channel goes on under its new name, with its members, modes and lists.
    bob.send("PRIVMSG #boring :still here")
    for c in (alice, carol):
        m = Msg(c.expect(is_command("PRIVMSG")))
        assert m.params == ["#boring", "still here"], m.line
    bob.send("MODE #boring")
    m = Msg(bob.expect(is_numeric("324")))
    assert m.params[1] == "#boring" and "k" in m.params[2] and "n" in m.params[2], m.line
    bob.send("MODE #boring +b")
    assert Msg(bob.expect(is_numeric("367"))).params[1:3] == ["#boring", "mallory!*@*"]
    bob.send("NAMES #boring")
    m = Msg(bob.expect(is_numeric("353")))
    assert sorted(m.text.split()) == ["+bob", "@alice", "carol"], m.line
    bob.send("WHOIS carol")
    assert "#boring" in Msg(bob.expect(is_numeric("319"))).text
    # The old name is free: nobody is in it.
    bob.send("PRIVMSG #boaring :anyone?")
    m = Msg(bob.expect(lambda l: Msg(l).command in ("401", "403")))
    assert m.params[1] == "#boaring", m.line


def test_rename_without_reason_and_by_a_client_without_the_capability(server):
    """"The server to client command MUST always include the third parameter, an empty
    string MAY be used if no reason is provided" (Messages). "If a client sends a valid
    RENAME command without having negotiated the capability, the server SHOULD rename the
    channel, but use the fallback mechanism to report the name change to that client"
    (Fallback)."""
    op = cap_client(server.port, "op", "")
    bob = cap_client(server.port, "bob", CAP)
    joined([op, bob], "#coding")
    op.send("RENAME #coding #programming")
    m = Msg(bob.expect(is_command("RENAME")))
    assert m.params == ["#coding", "#programming", ""] and m.line.endswith(" :"), m.line
    part = Msg(op.expect(is_command("PART")))
    assert part.params == ["#coding"], part.line
    m = Msg(op.expect(is_command("JOIN")))
    assert m.params == ["#programming"], m.line
    names = Msg(op.expect(is_numeric("353")))
    assert sorted(names.text.split()) == ["@op", "bob"], names.line


def test_a_change_of_case_alone_is_allowed_and_needs_no_fallback(server):
    """"Implementations MUST allow channels to be renamed while only changing the casing of
    a channel name" (Messages); the fallback "SHOULD NOT be used if the rename only changes
    the case of the channel name" (Fallback)."""
    alice = cap_client(server.port, "alice", CAP)
    carol = cap_client(server.port, "carol", "")
    joined([alice, carol], "#case")
    alice.send("RENAME #case #CASE :louder")
    m = Msg(alice.expect(is_command("RENAME")))
    assert m.params == ["#case", "#CASE", "louder"], m.line
    assert not [l for l in barrier(carol) if " PART " in l or " JOIN " in l]
    carol.send("NAMES #case")
    assert Msg(carol.expect(is_numeric("366"))).params[1] == "#CASE"


def test_rename_errors(server):
    """Errors: 461, 403, 442 and 482 where "existing error numerics [...] are more
    appropriate"; "FAIL RENAME CHANNEL_NAME_IN_USE <old-channel> <new-channel>" when the
    name is taken; "FAIL RENAME CANNOT_RENAME" for an invalid name and for a channel
    "renamed recently" (the cooldown of Security Considerations)."""
    alice = cap_client(server.port, "alice", CAP)
    bob = cap_client(server.port, "bob", CAP)
    joined([alice, bob], "#evil")
    joined([alice], "#good")

    alice.send("RENAME #evil")
    assert Msg(alice.expect(is_numeric("461"))).params[1] == "RENAME"
    alice.send("RENAME #nowhere #else")
    assert Msg(alice.expect(is_numeric("403"))).params[1] == "#nowhere"
    bob.send("RENAME #good #better")
    assert Msg(bob.expect(is_numeric("442"))).params[1] == "#good"
    bob.send("RENAME #evil #nice")
    assert Msg(bob.expect(is_numeric("482"))).params[1] == "#evil"
    alice.send("RENAME #evil #Good :Don't be evil")
    m = fail_of(alice)
    assert m.params[:4] == ["RENAME", "CHANNEL_NAME_IN_USE", "#evil", "#Good"], m.line
    alice.send("RENAME #evil nochannel")
    m = fail_of(alice)
    assert m.params[:4] == ["RENAME", "CANNOT_RENAME", "#evil", "nochannel"], m.line
    # The server's default channel keeps its name.
    alice.send("RENAME #lobby #hall")
    m = fail_of(alice)
    assert m.params[:4] == ["RENAME", "CANNOT_RENAME", "#lobby", "#hall"], m.line

    alice.send("RENAME #evil #neutral")
    assert Msg(bob.expect(is_command("RENAME"))).params[:2] == ["#evil", "#neutral"]
    alice.send("RENAME #neutral #nice")
    m = fail_of(alice)
    assert m.params[:4] == ["RENAME", "CANNOT_RENAME", "#neutral", "#nice"], m.line
    assert "recently" in m.text
    # A change of case alone is not held back (it sends no fallback), as often as wanted.
    for name in ("#Neutral", "#NEUTRAL", "#neutral"):
        alice.send("RENAME #neutral " + name)
        assert Msg(bob.expect(is_command("RENAME"))).params[1] == name
    bob.send("PRIVMSG #neutral :works")
    assert Msg(alice.expect(is_command("PRIVMSG"))).params == ["#neutral", "works"]


def test_the_history_follows_the_new_name_and_the_old_name_starts_empty(server_factory):
    """The history goes with the channel, as the specification's Introduction asks of a
    rename ("avoids issues with [...] logging where history is split across multiple
    channel names"): CHATHISTORY and the replay on JOIN under the new name hold what was said
    under the old one, across a restart too. The old name is free: a stranger who creates it
    gets an empty channel and none of that history; and what the new name held before (a
    channel of that name that emptied) is not shown to the renamed channel's members."""
    srv = server_factory()
    alice = cap_client(srv.port, "alice", HISTORY_CAPS + " " + CAP)
    joined([alice], "#hidden")
    alice.send("PRIVMSG #hidden :long ago, another channel")
    alice.send("PART #hidden")
    alice.expect(is_command("PART"))
    joined([alice], "#secret")
    alice.send("PRIVMSG #secret :the plan")
    barrier(alice)
    alice.send("RENAME #secret #hidden")
    alice.expect(is_command("RENAME"))
    alice.send("PRIVMSG #hidden :after the rename")
    barrier(alice)

    def texts(c, target):
        return [m.text for m in history(c, "LATEST %s * 10" % target) if m.command == "PRIVMSG"]

    assert texts(alice, "#hidden") == ["the plan", "after the rename"]
    # A newcomer to the renamed channel gets its replay, old name's lines included.
    bob = Client(srv.port, "bob")
    bob.send("JOIN #hidden")
    replay = [Msg(l).text for l in take_until(bob, lambda l: "after the rename" in l)
              if Msg(l).command == "PRIVMSG"]
    assert replay == ["the plan", "after the rename"], replay

    # A server stop is not the channel emptying: its history is there when it comes back.
    assert srv.stop() == 0
    srv = server_factory()
    carol = cap_client(srv.port, "carol", HISTORY_CAPS)
    joined([carol], "#hidden")
    assert texts(carol, "#hidden") == ["the plan", "after the rename"]
    # The renamed channel is gone with the restart, so the old name leads nowhere: whoever
    # makes it again gets a channel of their own, with none of the past.
    carol.send("JOIN #secret")
    lines = take_until(carol, is_numeric("366"))
    assert [l for l in lines if is_numeric("353")(l)][0].endswith(":@carol"), lines
    assert not [l for l in lines if "the plan" in l], lines
    assert texts(carol, "#secret") == []


def test_a_join_of_the_old_name_leads_to_the_channel(server):
    """Channel redirection: "send a FAIL JOIN CHANNEL_RENAMED message to clients attempting
    to join the old channel name"; without the capability, "the 470 numeric
    (ERR_LINKCHANNEL) MAY be used [...] to redirect clients from the old channel to the new
    channel", followed by their JOIN of it (the specification's last examples). Once the
    channel is gone, the old name is an ordinary free name again."""
    alice = cap_client(server.port, "alice", CAP)
    joined([alice], "#foo")
    alice.send("TOPIC #foo :the topic")
    alice.send("RENAME #foo #bar")
    alice.expect(is_command("RENAME"))

    dave = cap_client(server.port, "dave", CAP)
    dave.send("JOIN #foo")
    m = fail_of(dave)
    assert m.params[:4] == ["JOIN", "CHANNEL_RENAMED", "#foo", "#bar"], m.line
    assert not [l for l in barrier(dave) if " JOIN " in l]

    carol = cap_client(server.port, "carol", "")
    carol.send("JOIN #FOO")
    lines = take_until(carol, is_numeric("366"))
    seen = [Msg(l) for l in lines]
    assert seen[0].command == "470" and seen[0].params[1:3] == ["#FOO", "#bar"], lines
    assert seen[1].command == "JOIN" and seen[1].params == ["#bar"], lines
    assert [m.command for m in seen[2:]] == ["332", "333", "353", "366"], lines
    assert Msg(alice.expect(lambda l: " JOIN #bar" in l)).prefix.startswith("carol!")

    for nick, c in (("alice", alice), ("carol", carol)):
        c.send("PART #bar")  # carol sees alice's PART first: wait for her own
        c.expect(lambda l, nick=nick: is_command("PART")(l) and l.startswith(":%s!" % nick))
    dave.send("JOIN #foo")
    lines = take_until(dave, is_numeric("366"))
    assert [l for l in lines if is_numeric("353")(l)][0].endswith(":@dave"), lines


def test_renames_while_members_talk_lose_nothing(server):
    """Members on other workers keep talking while the channel's case changes under them
    (each RENAME swaps the name they look it up by): every message arrives, once. Run under
    TSan in CI, this is also the check that those lookups never race with a rename."""
    alice = cap_client(server.port, "alice", CAP)
    talkers = [cap_client(server.port, "t%d" % i, CAP) for i in range(3)]
    joined([alice] + talkers, "#busy")
    for i in range(40):
        for t in talkers:
            t.send("PRIVMSG #busy :m%d" % i)
        alice.send("RENAME #busy " + ("#BUSY" if i % 2 == 0 else "#busy"))
    got = []
    while len(got) < 40 * len(talkers):
        got.append(Msg(alice.expect(is_command("PRIVMSG"))).text)
    assert sorted(got) == sorted("m%d" % i for i in range(40) for _ in talkers)
    for t in talkers:
        assert len([l for l in barrier(t) if " RENAME " in l]) == 40


def test_a_rename_the_store_had_not_committed_survives_kill_9(server_factory):
    """The move of the history is journaled with the messages around it: killed (-9) before
    its next commit, the server puts it back in order from the journal when it starts."""
    srv = Server()  # not the factory's: this one is meant to die
    try:
        alice = cap_client(srv.port, "alice", HISTORY_CAPS + " " + CAP)
        joined([alice], "#before")
        alice.send("PRIVMSG #before :said before")
        alice.send("RENAME #before #after")
        alice.expect(is_command("RENAME"))
        alice.send("PRIVMSG #after :said after")
        barrier(alice)
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait()
    finally:
        srv.stop()
        os.unlink(srv.log_path)
    srv = server_factory()
    carol = cap_client(srv.port, "carol", HISTORY_CAPS)
    joined([carol], "#after")
    assert [m.text for m in history(carol, "LATEST #after * 10") if m.command == "PRIVMSG"] == \
        ["said before", "said after"]
    joined([carol], "#before")
    assert [m for m in history(carol, "LATEST #before * 10") if m.command == "PRIVMSG"] == []


def test_read_markers_follow_the_rename(server_factory):
    """draft/read-marker's last-read time of a channel is the account's for that channel:
    after a rename it is the time of the channel under its new name, across a restart too
    (and a marker of the new name from before, of a channel that emptied, is gone)."""
    srv = server_factory()
    register_and_leave(srv, "alice")
    caps = "draft/read-marker server-time message-tags batch " + CAP
    alice = login(srv.port, "alice", caps)
    joined([alice], "#read")
    assert markread(alice, "MARKREAD #later " + T0).params == ["#later", T0]
    assert markread(alice, "MARKREAD #read " + T1).params == ["#read", T1]
    alice.send("RENAME #read #later")
    alice.expect(is_command("RENAME"))
    assert markread(alice, "MARKREAD #later").params == ["#later", T1]
    assert markread(alice, "MARKREAD #read").params == ["#read", "*"]
    barrier(alice)
    assert srv.stop() == 0
    srv = server_factory()
    alice = login(srv.port, "alice", caps)
    assert markread(alice, "MARKREAD #later").params == ["#later", T1]
    assert markread(alice, "MARKREAD #read").params == ["#read", "*"]
