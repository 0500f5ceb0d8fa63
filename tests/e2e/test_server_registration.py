"""tcpchatd end to end: connection registration (docs/server-behaviour.md, "Wire").

Welcome burst 001-005, MOTD, auto-join, NICK/USER/PASS/CAP errors, PING."""
import pytest

from conftest import Msg, barrier, closing_reason, is_command, is_numeric, take_until, cap_ls


def register_raw(c, nick, user=None):
    c.send("NICK " + nick)
    c.send("USER %s 0 * :Real %s" % (user or nick, nick))


def commands(lines):
    return [Msg(l).command for l in lines]


def test_welcome_burst_without_motd_then_lobby(server, connect):
    c = connect(register=False)
    register_raw(c, "alice")
    lines = take_until(c, is_numeric("366", "#lobby"))
    cmds = commands(lines)
    for code in ("001", "002", "003", "004", "005", "422", "JOIN", "353", "366"):
        assert code in cmds, (code, lines)
    # RFC 2812 5.1 order: 001..004 first, then 005, then the MOTD part, then the join.
    order = [cmds.index(code) for code in ("001", "002", "003", "004", "005", "422", "JOIN",
                                           "353", "366")]
    assert order == sorted(order), lines
    assert "375" not in cmds and "376" not in cmds, lines

    by = {Msg(l).command: Msg(l) for l in lines}
    for code in ("001", "002", "003", "004", "005", "422", "353", "366"):
        assert by[code].prefix == server.name, by[code]
        assert by[code].params[0] == "alice", by[code]
    assert by["001"].text.startswith("Welcome to the tcpchat IRC network, alice!"), by["001"]
    assert "@" in by["001"].text
    assert by["002"].text.startswith("Your host is %s, running version tcpchat-" % server.name)
    assert by["003"].text.startswith("This server was created")
    assert by["004"].params[1] == server.name and by["004"].params[2].startswith("tcpchat-")
    assert len(by["004"].params) >= 5, by["004"]
    assert by["005"].text == "are supported by this server", by["005"]
    tokens = [t.split("=", 1)[0] for l in lines if Msg(l).command == "005"
              for t in Msg(l).params[1:-1]]
    assert "CHANTYPES" in tokens and "NICKLEN" in tokens, lines
    assert by["422"].text == "MOTD File is missing", by["422"]

    join = by["JOIN"]
    assert join.nick == "alice" and "!" in join.prefix and "@" in join.prefix, join
    assert join.params[0] == "#lobby", join
    assert by["353"].params[1:3] == ["=", "#lobby"], by["353"]
    assert [n.lstrip("@+") for n in by["353"].text.split()] == ["alice"], by["353"]
    assert by["366"].params[1] == "#lobby" and by["366"].text == "End of /NAMES list"


def test_motd_file(server_factory, client_factory, tmp_path):
    motd = tmp_path / "motd.txt"
    motd.write_text("Hello from the MOTD\nSecond line\n")
    srv = server_factory("--motd", str(motd))
    c = client_factory(srv, register=False)
    register_raw(c, "alice")
    lines = take_until(c, is_numeric("366", "#lobby"))
    cmds = commands(lines)
    assert "422" not in cmds, lines
    assert cmds.index("375") < cmds.index("372") < cmds.index("376") < cmds.index("JOIN")
    body = [Msg(l).text for l in lines if Msg(l).command == "372"]
    assert len(body) == 2, lines
    assert "Hello from the MOTD" in body[0] and "Second line" in body[1], body


def test_names_lists_every_member(server, connect):
    a = connect("alice")
    a.expect(is_numeric("366", "#lobby"))
    b = connect("bob")
    lines = take_until(b, is_numeric("366", "#lobby"))
    names = []
    for line in lines:
        if is_numeric("353")(line):
            names += [n.lstrip("@+") for n in Msg(line).text.split()]
    assert sorted(names) == ["alice", "bob"], lines
    a.expect(is_command("JOIN", "bob", "#lobby"))


def test_default_channel_disabled(server_factory, client_factory):
    srv = server_factory("--default-channel", "")
    c = client_factory(srv, "alice", join=None)
    before = barrier(c)
    assert not any(Msg(l).command in ("JOIN", "353", "366") for l in before), before
    # The user is in no channel: sending to #lobby is refused (it does not exist).
    c.send("PRIVMSG #lobby :hello")
    assert Msg(c.expect(lambda l: Msg(l).command in ("403", "404", "401"))).command


def test_default_channel_other(server_factory, client_factory):
    srv = server_factory("--default-channel", "#other")
    c = client_factory(srv, register=False)
    register_raw(c, "alice")
    lines = take_until(c, is_numeric("366", "#other"))
    assert any(is_command("JOIN", "alice", "#other")(l) for l in lines), lines
    assert any(is_numeric("353", "=", "#other")(l) for l in lines), lines
    assert not any("#lobby" in l for l in lines), lines
    b = client_factory(srv, "bob", join="#other")
    c.expect(is_command("JOIN", "bob", "#other"))
    b.send("PRIVMSG #other :hi there")
    line = c.expect(is_command("PRIVMSG", "bob", "#other"))
    assert Msg(line).text == "hi there"


def test_nick_collision_433(server, connect):
    connect("alice")
    c = connect(register=False)
    register_raw(c, "alice")
    line = c.expect(lambda l: Msg(l).command in ("433", "001"))
    assert Msg(line).command == "433", line
    assert Msg(line).params[1] == "alice", line
    # Case folding (rfc1459): ALICE is the same nick.
    c.send("NICK ALICE")
    line = c.expect(lambda l: Msg(l).command in ("433", "001"))
    assert Msg(line).command == "433", line
    # A free nick completes the registration.
    c.send("NICK alice2")
    line = c.expect(lambda l: Msg(l).command in ("433", "001"))
    assert Msg(line).command == "001" and Msg(line).params[0] == "alice2", line


def test_nick_change_collision_433(server, connect):
    connect("alice")
    b = connect("bob")
    b.send("NICK alice")
    line = b.expect(lambda l: Msg(l).command in ("433", "NICK"))
    assert Msg(line).command == "433", line


@pytest.mark.parametrize("bad", ["9lives", "-dash", "bad!nick", "bad@nick", "#chan", "a*b"])
def test_invalid_nick_432(server, connect, bad):
    c = connect(register=False)
    c.send("NICK " + bad)
    line = c.expect(lambda l: Msg(l).command in ("432", "001", "433", "431"))
    assert Msg(line).command == "432", line
    # The connection still registers with a good nick.
    register_raw(c, "good")
    line = c.expect(lambda l: Msg(l).command in ("001", "432"))
    assert Msg(line).command == "001", line


def test_no_nick_431(server, connect):
    c = connect(register=False)
    c.send("NICK")
    line = c.expect(lambda l: Msg(l).command in ("431", "461", "001"))
    assert Msg(line).command == "431", line
    c2 = connect("alice")
    c2.send("NICK")
    line = c2.expect(lambda l: Msg(l).command in ("431", "461", "NICK"))
    assert Msg(line).command == "431", line


@pytest.mark.parametrize("line", ["JOIN #x", "PRIVMSG #lobby :hi", "PART #lobby"])
def test_451_before_registration(server, connect, line):
    c = connect(register=False)
    c.send(line)
    reply = c.expect(lambda l: Msg(l).command in ("451", "421", "JOIN", "PRIVMSG", "353"))
    assert Msg(reply).command == "451", reply
    # Nothing happened: registering now is a normal registration.
    register_raw(c, "late")
    c.expect(is_numeric("001"))


def test_461_not_enough_parameters(server, connect):
    c = connect(register=False)
    c.send("USER onlyone")
    line = c.expect(lambda l: Msg(l).command in ("461", "001"))
    assert Msg(line).command == "461" and Msg(line).params[1] == "USER", line
    assert Msg(line).text == "Not enough parameters", line
    a = connect("alice")
    for cmd in ("JOIN", "PART"):
        a.send(cmd)
        line = a.expect(lambda l: Msg(l).command in ("461", "421", "403"))
        assert Msg(line).command == "461", line
        assert Msg(line).params[:2] == ["alice", cmd], line
        assert Msg(line).text == "Not enough parameters", line


def test_user_with_an_empty_real_name_is_461(server, connect):
    """Modern IRC, USER: "If ... the <realname> parameter is empty, the server SHOULD reply
    with ERR_NEEDMOREPARAMS"; the client may send USER again."""
    c = connect(register=False)
    c.send("NICK emptyreal")
    c.send("USER u 0 * :")
    line = c.expect(lambda l: Msg(l).command in ("461", "001"))
    assert Msg(line).command == "461" and Msg(line).params[1] == "USER", line
    c.send("USER u 0 * :Real Name")
    c.expect(is_numeric("001"))


def test_user_real_name_not_utf8_still_registers(server, connect):
    """ISUPPORT UTF8ONLY refuses invalid UTF-8, but a USER whose real name is in another
    encoding (Latin-1) must not leave the client unregistered: the invalid bytes become
    U+FFFD."""
    c = connect(register=False)
    c.send("NICK latin")
    c.sock.sendall(b"USER u 0 * :Jos\xe9 M\xfcller\r\n")
    c.expect(is_numeric("001"))
    c.send("WHOIS latin")
    line = c.expect(is_numeric("311"))
    assert Msg(line).text == "Jos\ufffd M\ufffdller", line
    # Other commands with invalid UTF-8 are still refused.
    c.sock.sendall(b"PRIVMSG latin :\xff\r\n")
    assert "INVALID_UTF8" in c.expect(is_command("FAIL"))


def test_462_already_registered(server, connect):
    a = connect("alice")
    a.send("USER again 0 * :Again")
    line = a.expect(lambda l: Msg(l).command in ("462", "001"))
    assert Msg(line).command == "462" and Msg(line).params[0] == "alice", line


def test_421_unknown_command(server, connect):
    a = connect("alice")
    a.send("FROBNICATE now")
    line = a.expect(lambda l: Msg(l).command in ("421",))
    assert Msg(line).params[:2] == ["alice", "FROBNICATE"], line
    # Commands are case-insensitive: a lower-case PING is not unknown.
    a.send("ping :lower")
    line = a.expect(lambda l: Msg(l).command in ("PONG", "421"))
    assert Msg(line).command == "PONG" and Msg(line).text == "lower", line


def test_ping_pong(server, connect):
    a = connect("alice")
    a.send("PING :hello-token")
    line = a.expect(is_command("PONG"))
    m = Msg(line)
    assert m.prefix == server.name, line
    assert m.text == "hello-token", line


class TestPassword:
    def test_right_password(self, server_factory, client_factory):
        srv = server_factory("--password", "s3cret")
        c = client_factory(srv, register=False)
        c.send("PASS s3cret")
        register_raw(c, "alice")
        line = c.expect(lambda l: Msg(l).command in ("001", "464", "ERROR"))
        assert Msg(line).command == "001", line

    @pytest.mark.parametrize("password", ["wrong", None])
    def test_wrong_or_missing_password(self, server_factory, client_factory, password):
        srv = server_factory("--password", "s3cret")
        c = client_factory(srv, register=False)
        if password:
            c.send("PASS " + password)
        register_raw(c, "alice")
        lines = c.wait_closed()
        assert not any(Msg(l).command == "001" for l in lines), lines
        # 464 and/or "ERROR :Closing Link: host (Bad password)", then the close.
        has_error = any(Msg(l).command == "ERROR" for l in lines)
        assert any(Msg(l).command == "464" for l in lines) or has_error, lines
        if has_error:
            assert closing_reason(lines) == "Bad password", lines
        # Other users are not affected.
        ok = client_factory(srv, register=False)
        ok.send("PASS s3cret")
        register_raw(ok, "bob")
        ok.expect(is_numeric("001"))


class TestCap:
    def test_cap_ls_holds_registration_until_cap_end(self, server, connect):
        c = connect(register=False)
        c.send("CAP LS 302")
        register_raw(c, "alice")
        offered = cap_ls(c)
        assert "server-time" in offered and "message-tags" in offered, offered
        # Registration waits: no welcome while CAP negotiation is open.
        early = c.collect(0.5)
        assert not any(Msg(l).command == "001" for l in early), early
        c.send("CAP END")
        line = c.expect(is_numeric("001"))
        assert Msg(line).params[0] == "alice"

    def test_cap_ls_without_version(self, server, connect):
        c = connect(register=False)
        c.send("CAP LS")
        line = c.expect(is_command("CAP"))
        assert Msg(line).params[:2] == ["*", "LS"], line
        assert "*" not in Msg(line).params[2:-1], line  # without 302, names only: one line

    def test_cap_req_unknown_is_nakked_as_a_whole(self, server, connect):
        c = connect(register=False)
        c.send("CAP LS 302")
        cap_ls(c)
        c.send("CAP REQ :multi-prefix no-such-cap")
        line = c.expect(is_command("CAP"))
        m = Msg(line)
        assert m.params[1] == "NAK" and m.text == "multi-prefix no-such-cap", line
        c.send("CAP LIST")
        line = c.expect(is_command("CAP"))
        assert Msg(line).params[1:] == ["LIST", "cap-notify"], line  # 302 implies cap-notify
        c.send("CAP END")
        register_raw(c, "alice")
        c.expect(is_numeric("001"))


def test_user_and_nick_in_any_order(server, connect):
    c = connect(register=False)
    c.send("USER first 0 * :Real Name")
    c.send("NICK second")
    line = c.expect(is_numeric("001"))
    assert Msg(line).params[0] == "second"
    assert "second!" in Msg(line).text
    c.expect(is_command("JOIN", "second", "#lobby"))



def test_help_covers_every_command(server, connect):
    """Modern IRC HELP: 704/705/706 for a subject, 524 for an unknown one. Every command in the
    index has its help, and every one of them is a command the server knows (not 421)."""
    c = connect("helper")
    c.send("HELP")
    lines = take_until(c, is_numeric("706"))
    index = [Msg(l) for l in lines if Msg(l).command in ("704", "705")]
    assert index[0].command == "704" and index[0].params[1] == "index"
    commands = " ".join(m.text for m in index[1:]).split()
    for expected in ("JOIN", "PRIVMSG", "MONITOR", "WHO", "CHATHISTORY", "HELP", "OPER"):
        assert expected in commands, commands
    for name in commands:
        c.send("HELP " + name.lower())
        got = [Msg(l) for l in take_until(c, lambda l: Msg(l).command in ("706", "524"))]
        assert [m.command for m in got[-3:]] == ["704", "705", "706"], (name, got)
        assert got[-3].params[1] == name and got[-3].text.upper().startswith(name), got[-3]
        assert got[-2].text, got[-2]
        if name != "QUIT":  # the command exists, whatever it says about having no arguments
            c.send(name)
            assert not [l for l in barrier(c) if Msg(l).command == "421"], name
    c.send("HELP FROBNICATE")
    m = Msg(c.expect(is_numeric("524")))
    assert m.params[1] == "FROBNICATE" and m.text == "No help available on this topic"
