"""Channel lists (+b bans, +e exceptions, +I invite exceptions), STATUSMSG, WHOX and WHOWAS,
checked against the Modern IRC reply formats."""
from conftest import Client, Msg, barrier, is_command, is_numeric, take_until


def user(port, nick):
    c = Client(port, nick)
    c.expect(is_numeric("366"))
    return c


def join(c, chan, key=None):
    c.send("JOIN %s%s" % (chan, " " + key if key else ""))
    return c.expect(lambda l: Msg(l).command in ("366", "471", "473", "474", "475")
                    and chan in Msg(l).params)


def test_ban_blocks_join_and_speech_exception_lets_through(server):
    op = user(server.port, "op")
    join(op, "#b")
    bob = user(server.port, "bob")
    join(bob, "#b")
    op.expect(is_command("JOIN", "bob"))
    op.send("MODE #b +b bob")
    line = op.expect(is_command("MODE", "op"))
    assert Msg(line).params == ["#b", "+b", "bob!*@*"], line
    # A banned member stays but may not speak.
    bob.expect(is_command("MODE", "op"))
    bob.send("PRIVMSG #b :hello?")
    assert Msg(bob.expect(is_numeric("404"))).params[:2] == ["bob", "#b"]
    # The list shows the entry with who set it.
    op.send("MODE #b b")
    line = op.expect(is_numeric("367"))
    assert Msg(line).params[:4] == ["op", "#b", "bob!*@*", "op!~op@127.0.0.1"], line
    assert Msg(op.expect(is_numeric("368"))).params[:2] == ["op", "#b"]
    # Banned users cannot join again...
    bob.send("PART #b")
    bob.expect(is_command("PART", "bob"))
    line = join(bob, "#b")
    assert Msg(line).command == "474" and Msg(line).params[:2] == ["bob", "#b"], line
    # ...unless an exception matches.
    op.send("MODE #b +e *!~bob@*")
    op.expect(is_command("MODE", "op"))
    assert Msg(join(bob, "#b")).command == "366"
    bob.send("PRIVMSG #b :back")
    op.expect(is_command("PRIVMSG", "bob"))
    # Removing the ban.
    op.send("MODE #b -b bob!*@*")
    assert Msg(op.expect(is_command("MODE", "op"))).params == ["#b", "-b", "bob!*@*"]


def test_invex_passes_invite_only(server):
    op = user(server.port, "op")
    join(op, "#i")
    op.send("MODE #i +i")
    op.expect(is_command("MODE", "op"))
    guest = user(server.port, "guest")
    assert Msg(join(guest, "#i")).command == "473"
    op.send("MODE #i +I guest!*@*")
    op.expect(is_command("MODE", "op"))
    assert Msg(join(guest, "#i")).command == "366"
    op.send("MODE #i I")
    line = op.expect(is_numeric("346"))
    assert Msg(line).params[:3] == ["op", "#i", "guest!*@*"], line
    op.expect(is_numeric("347"))


def test_non_op_cannot_ban(server):
    op = user(server.port, "op")
    join(op, "#n")
    bob = user(server.port, "bob")
    join(bob, "#n")
    bob.send("MODE #n +b op")
    assert Msg(bob.expect(is_numeric("482"))).params[:2] == ["bob", "#n"]
    bob.send("MODE #n b")  # anyone may see the (empty) list
    assert Msg(bob.expect(is_numeric("368"))).params[:2] == ["bob", "#n"]


def test_statusmsg_reaches_ops_only(server):
    op = user(server.port, "op")
    join(op, "#s")
    voiced = user(server.port, "voiced")
    join(voiced, "#s")
    plain = user(server.port, "plain")
    join(plain, "#s")
    op.send("MODE #s +v voiced")
    plain.expect(is_command("MODE", "op"))
    plain.send("PRIVMSG @#s :ops only")
    assert op.expect(is_command("PRIVMSG", "plain")) == \
        ":plain!~plain@127.0.0.1 PRIVMSG @#s :ops only"
    plain.send("PRIVMSG +#s :voiced and ops")
    voiced.expect(lambda l: Msg(l).params == ["+#s", "voiced and ops"])
    op.expect(lambda l: Msg(l).params == ["+#s", "voiced and ops"])
    barrier(voiced)
    assert not any("ops only" in l for l in voiced.lines), voiced.lines


def test_whox(server):
    a = user(server.port, "alice")
    b = user(server.port, "bob")
    a.expect(is_command("JOIN", "bob"))
    a.send("WHO #lobby %tcnuhfr,42")
    rows = []
    while True:
        line = a.expect(lambda l: Msg(l).command in ("354", "315"))
        if Msg(line).command == "315":
            break
        rows.append(Msg(line).params)
    assert sorted(rows) == sorted([
        ["alice", "42", "#lobby", "~alice", "127.0.0.1", "alice", "H@", "alice"],
        ["alice", "42", "#lobby", "~bob", "127.0.0.1", "bob", "H", "bob"],
    ]), rows
    a.send("WHO bob %na")
    line = a.expect(is_numeric("354"))
    assert Msg(line).params == ["alice", "bob", "0"], line
    del b


def test_whowas(server):
    a = user(server.port, "alice")
    b = user(server.port, "bob")
    b.send("NICK robert")
    a.expect(is_command("NICK", "bob"))
    a.send("WHOWAS bob")
    line = a.expect(is_numeric("314"))
    assert Msg(line).params == ["alice", "bob", "~bob", "127.0.0.1", "*", "bob"], line
    a.expect(is_numeric("312"))
    assert Msg(a.expect(is_numeric("369"))).params[:2] == ["alice", "bob"]
    a.send("WHOWAS nobody-ever")
    assert Msg(a.expect(is_numeric("406"))).params[:2] == ["alice", "nobody-ever"]
    a.expect(is_numeric("369"))
    b.send("QUIT :bye")
    a.expect(is_command("QUIT", "robert"))
    a.send("WHOWAS robert")
    assert Msg(a.expect(is_numeric("314"))).params[1] == "robert"


def test_one_list_per_mode_command(server):
    """A list query answers once per MODE (issue 21: "MODE #c bbbb..." with a long ban list
    multiplied it by the length of the line). Solanum and InspIRCd show one list per MODE."""
    op = user(server.port, "op")
    join(op, "#many")
    for i in range(5):
        op.send("MODE #many +b ban%d!*@*" % i)
        op.expect(is_command("MODE", "op"))
    op.send("MODE #many " + "b" * 400)
    lines = barrier(op)
    assert sum(Msg(l).command == "367" for l in lines) == 5, lines
    assert sum(Msg(l).command == "368" for l in lines) == 1, lines
    # A list and a change in one MODE: the change is made, the list shown once.
    op.send("MODE #many +bbb ban9!*@*")
    lines = barrier(op)
    assert [Msg(l).params for l in lines if Msg(l).command == "MODE"] == [
        ["#many", "+b", "ban9!*@*"]], lines
    assert sum(Msg(l).command == "367" for l in lines) == 6, lines
    assert sum(Msg(l).command == "368" for l in lines) == 1, lines


def list_names(c, arg):
    c.send("LIST " + arg)
    lines = take_until(c, is_numeric("323"))
    return sorted(Msg(l).params[1] for l in lines if Msg(l).command == "322")


def test_list_filters_elist(server):
    """ISUPPORT ELIST=CMNTU (Modern IRC): masks, !masks, >n / <n users, C>n / C<n (created
    more / less than n minutes ago), T>n / T<n (topic set more / less than n minutes ago)."""
    a = user(server.port, "ela")
    b = user(server.port, "elb")
    join(a, "#ela")
    join(a, "#elb")
    join(b, "#elb")
    a.send("TOPIC #elb :about b")
    a.expect(is_command("TOPIC", "ela"))
    assert list_names(a, "#el*") == ["#ela", "#elb"]
    assert list_names(a, "#el*,>1") == ["#elb"]
    assert list_names(a, "#el*,<2") == ["#ela"]
    assert list_names(a, "#el*,!#ela") == ["#elb"]
    assert list_names(a, "#el*,C<10") == ["#ela", "#elb"]
    assert list_names(a, "#el*,C>10") == []
    assert list_names(a, "#el*,T<10") == ["#elb"]
    assert list_names(a, "#el*,T>10") == []
    a.send("LIST >x")
    lines = take_until(a, is_numeric("323"))
    assert [Msg(l).command for l in lines] == ["400", "323"], lines
