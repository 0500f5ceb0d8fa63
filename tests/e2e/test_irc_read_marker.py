"""IRCv3 draft/read-marker (https://ircv3.net/specs/extensions/read-marker, work in progress:
the draft/ cap name per its "Notes for implementing work-in-progress version"): MARKREAD
get and set, the marker after one's JOIN, the account's other connections told of a change,
a time that only grows, the errors, and markers kept across a restart of the server."""
from conftest import Client, Msg, barrier, is_command, is_numeric, take_until, cap_ls
from test_accounts import register_and_leave, sasl_client
from test_ircv3 import cap_client

CAPS = "draft/read-marker server-time message-tags batch"
T1 = "timestamp=2026-01-02T03:04:05.678Z"
T0 = "timestamp=2025-12-31T23:59:59.000Z"


def login(port, nick, caps, account="alice", password="correct horse"):
    """nick logs in to account with SASL PLAIN (a connection of the account under another
    nick: the account's devices); returns it after the lobby's 366, with what came from its
    JOIN on (as Msg) in .joined."""
    c = sasl_client(port, nick, password, caps, join_lobby=False, account=account)
    lines = take_until(c, is_numeric("366"))
    c.joined = [Msg(l) for l in lines[[i for i, l in enumerate(lines) if " JOIN " in l][0]:]]
    return c


def markread(c, line):
    """Sends line; returns the next MARKREAD or FAIL the server sends, as Msg."""
    c.send(line)
    return Msg(c.expect(lambda l: Msg(l).command in ("MARKREAD", "FAIL")))


def test_read_marker_is_offered(server):
    c = Client(server.port, None)
    c.send("CAP LS 302")
    assert "draft/read-marker" in cap_ls(c)


def test_markread_set_get_and_the_accounts_other_connections(server_factory):
    """"MARKREAD <target> <timestamp>" is answered with a MARKREAD ("The server MUST reply to
    a successful MARKREAD client set command using a MARKREAD server command"), and "after
    the last read timestamp of a target changes, the server SHOULD send a MARKREAD command
    for that target to all the clients of the user"; an older time is answered with the one
    kept ("The last read timestamp of a target SHOULD only ever increase"); "MARKREAD
    <target>" gets it, "*" when none. After one's JOIN, "the server MUST send a MARKREAD
    command for that channel [...] before the RPL_ENDOFNAMES". The times are the account's,
    kept by the server across a restart."""
    srv = server_factory()
    register_and_leave(srv, "alice")
    phone = login(srv.port, "alice", CAPS)
    joined = phone.joined
    cmds = [m.command for m in joined]
    assert cmds.index("JOIN") < cmds.index("MARKREAD") < cmds.index("353")
    assert [m for m in joined if m.command == "MARKREAD"][0].params == ["#lobby", "*"]
    # Other connections of the account, under other nicks.
    laptop = login(srv.port, "alice_laptop", CAPS)
    other = login(srv.port, "alice_old", "")

    m = markread(phone, "MARKREAD #lobby " + T1)
    assert m.prefix == srv.name and m.params == ["#lobby", T1], m.line
    m = Msg(laptop.expect(is_command("MARKREAD")))
    assert m.prefix == srv.name and m.params == ["#lobby", T1], m.line
    # Older: the newer time kept is the answer, and nobody else hears of it.
    assert markread(phone, "MARKREAD #LOBBY " + T0).params == ["#LOBBY", T1]
    assert markread(laptop, "MARKREAD #lobby").params == ["#lobby", T1]
    assert not [l for l in barrier(laptop) if "MARKREAD" in l]
    assert not [l for l in barrier(other) if "MARKREAD" in l]  # no capability, no line
    # A conversation with a nick is a target too, "*" until set.
    assert markread(phone, "MARKREAD bob").params == ["bob", "*"]
    # A time in the future is taken as now.
    m = markread(phone, "MARKREAD bob timestamp=2999-01-01T00:00:00.000Z")
    assert m.params[0] == "bob" and "2999" not in m.params[1] and m.params[1] > T1
    # Errors, as standard replies.
    m = markread(phone, "MARKREAD")
    assert m.params[:2] == ["MARKREAD", "NEED_MORE_PARAMS"], m.line
    m = markread(phone, "MARKREAD #lobby msgid=abc")
    assert m.params[:2] == ["MARKREAD", "INVALID_PARAMS"], m.line
    m = markread(phone, "MARKREAD #lobby yesterday")
    assert m.params[:2] == ["MARKREAD", "INVALID_PARAMS"], m.line

    for c in (phone, laptop, other):
        c.close()
    srv.stop()
    srv2 = server_factory()
    again = login(srv2.port, "alice", CAPS)
    assert [m.params for m in again.joined if m.command == "MARKREAD"] == [["#lobby", T1]]


def test_markread_without_an_account_is_the_connections_own(server):
    """Not logged in, a connection's markers are its own while it lasts: another connection
    (of anyone) never sees them ("Servers MUST NOT leak read markers sent by a user to other
    users")."""
    a = cap_client(server.port, "anon", CAPS)
    b = cap_client(server.port, "anon2", CAPS)
    assert markread(a, "MARKREAD #lobby " + T1).params == ["#lobby", T1]
    assert markread(a, "MARKREAD #lobby").params == ["#lobby", T1]
    assert markread(b, "MARKREAD #lobby").params == ["#lobby", "*"]
    a.send("JOIN #other")
    joined = [Msg(l) for l in take_until(a, is_numeric("366"))]
    assert [m.params for m in joined if m.command == "MARKREAD"] == [["#other", "*"]]
