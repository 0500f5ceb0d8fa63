"""tcpchatd end to end: malformed and hostile input. After each, the connection (or at least
the server and every other client) keeps working and nothing other clients sent is lost."""
import random
import threading
import time

from conftest import TIMEOUT, Msg, barrier, is_command, is_numeric, take_until


def pair(connect):
    a = connect("alice")
    b = connect("bob")
    b.expect(is_numeric("366", "#lobby"))
    a.expect(is_command("JOIN", "bob", "#lobby"))
    return a, b


def relayed(b, nick, n):
    return [Msg(b.expect(is_command("PRIVMSG", nick, "#lobby"))).text for _ in range(n)]


def test_invalid_utf8_fail_and_line_dropped(server, connect):
    a, b = pair(connect)
    a.send_raw(b"PRIVMSG #lobby :bad \xff\xfe bytes\r\n")
    line = a.expect(lambda l: Msg(l).command in ("FAIL", "ERROR", "400"))
    m = Msg(line)
    assert m.command == "FAIL" and m.params[:2] == ["PRIVMSG", "INVALID_UTF8"], line
    a.send_raw(b"PRIVMSG #lobby :overlong \xc0\xaf and surrogate \xed\xa0\x80\r\n")
    line = a.expect(lambda l: Msg(l).command in ("FAIL", "ERROR", "400"))
    assert Msg(line).params[:2] == ["PRIVMSG", "INVALID_UTF8"], line
    a.send("PRIVMSG #lobby :caf\u00e9 \u2713 \U0001f600")  # valid UTF-8 passes untouched
    seen = take_until(b, is_command("PRIVMSG", "alice", "#lobby"))
    assert Msg(seen[-1]).text == "caf\u00e9 \u2713 \U0001f600", seen
    assert not any("bad" in l or "overlong" in l for l in seen), seen


def test_nul_byte_400_and_line_dropped(server, connect):
    a, b = pair(connect)
    a.send_raw(b"PRIVMSG #lobby :nul\x00here\r\n")
    line = a.expect(lambda l: Msg(l).command in ("400", "FAIL", "ERROR"))
    m = Msg(line)
    assert m.command == "400" and m.params[:2] == ["alice", "PRIVMSG"], line
    a.send("PRIVMSG #lobby :clean")
    seen = take_until(b, is_command("PRIVMSG", "alice", "#lobby"))
    assert Msg(seen[-1]).text == "clean", seen
    assert not any("nul" in l for l in seen), seen


def test_bare_cr_and_bare_lf_terminate_lines(server, connect):
    a, b = pair(connect)
    a.send_raw(b"PRIVMSG #lobby :one\rPRIVMSG #lobby :two\nPRIVMSG #lobby :three\r\n"
               b"PRIVMSG #lobby :four\n\rPRIVMSG #lobby :five\r\r\n")
    assert relayed(b, "alice", 5) == ["one", "two", "three", "four", "five"]
    before = barrier(a)
    assert not any(Msg(l).command in ("421", "417", "400", "ERROR") for l in before), before


def test_empty_lines_are_ignored(server, connect):
    a, b = pair(connect)
    a.send_raw(b"\r\n\r\n\n\r\n\r" + b"\r\n" * 20 + b"PRIVMSG #lobby :after blanks\r\n")
    assert relayed(b, "alice", 1) == ["after blanks"]
    before = barrier(a)
    assert not any(Msg(l).command in ("421", "417", "400", "ERROR") for l in before), before


def test_line_split_across_writes(server, connect):
    a, b = pair(connect)
    for part in (b"PRIV", b"MSG #lo", b"bby :sp", b"lit", b"\r", b"\nPRIVMSG #lobby :x\r\n"):
        a.send_raw(part)
        time.sleep(0.02)  # separate segments (not a speed assertion)
    assert relayed(b, "alice", 2) == ["split", "x"]


def test_random_binary_junk(server, connect):
    a, b = pair(connect)
    rng = random.Random(20240601)
    junk_reg = connect("junky")
    junk_unreg = connect(register=False)
    a.expect(is_command("JOIN", "junky", "#lobby"))
    b.expect(is_command("JOIN", "junky", "#lobby"))

    def spray(c):
        data = rng.randbytes(64 * 1024)
        try:
            for i in range(0, len(data), 4096):
                c.send_raw(data[i:i + 4096])
        except OSError:
            pass  # the server may drop a junk sender; that is allowed

    def reader(c, stop):
        while not stop.is_set() and not c.closed:
            c._fill(0.05)

    stop = threading.Event()
    readers = [threading.Thread(target=reader, args=(c, stop)) for c in (junk_reg, junk_unreg)]
    for t in readers:
        t.start()
    try:
        # Alice talks while the junk flows: bob must get every message, in order.
        for i in range(10):
            if i == 2:
                spray(junk_reg)
            if i == 5:
                spray(junk_unreg)
            a.send("PRIVMSG #lobby :during %d" % i)
        assert relayed(b, "alice", 10) == ["during %d" % i for i in range(10)]
    finally:
        stop.set()
        for t in readers:
            t.join(TIMEOUT)
    # The server and the other clients still work.
    barrier(a)
    barrier(b)
    b.send("PRIVMSG #lobby :reply")
    assert relayed(a, "bob", 1) == ["reply"]
    c = connect("newcomer")
    barrier(c)
    # A junk sender that survived is still usable after a line terminator.
    for j in (junk_reg,):
        if not j.closed:
            try:
                j.send_raw(b"\r\n")
                barrier(j, timeout=TIMEOUT)
            except (OSError, AssertionError):
                pass  # dropped by the server (e.g. Excess Flood): allowed


def test_junk_before_registration_then_register(server, connect):
    c = connect(register=False)
    c.send_raw(b"\x01\x02\x03 garbage \xff\r\n:prefix-only\r\n@tags-only\r\n123\r\n")
    c.send("NICK late")
    c.send("USER late 0 * :Late")
    line = c.expect(lambda l: Msg(l).command in ("001", "ERROR"))
    assert Msg(line).command == "001", line


def test_commands_with_prefix_and_odd_spacing(server, connect):
    a, b = pair(connect)
    # A client may send a source prefix (ignored) and extra spaces between parameters.
    a.send(":alice PRIVMSG #lobby :with prefix")
    a.send("PRIVMSG   #lobby   :extra spaces")
    a.send("PRIVMSG #lobby single-word")
    assert relayed(b, "alice", 3) == ["with prefix", "extra spaces", "single-word"]


def test_channel_names_refuse_control_and_invisible_characters(server, connect):
    """Issue 21: a channel name with \\x01, escape, tab or an invisible formatting character
    (zero width space, right-to-left override, byte order mark) would look like another or
    mangle screens: 403, and no channel is made."""
    a = connect("alice")
    a.expect(is_numeric("366"))  # the default channel
    for name in ("#a\x01b", "#\x1b[31mred", "#a\tb", "#lob\u200bby", "#\u202eybbol", "#\ufefflobby"):
        a.send("JOIN " + name)
        m = Msg(a.expect(lambda l: Msg(l).command in ("403", "JOIN", "366")))
        assert m.command == "403", (name, m.line)
    a.send("LIST")
    listed = [Msg(l).params[1] for l in take_until(a, is_numeric("323")) if " 322 " in l]
    assert all(n.isprintable() and "\u200b" not in n for n in listed), listed


def test_client_tags_at_the_budget_and_control_characters(server, connect):
    """message-tags: client tag data up to 4094 bytes is relayed whole (a 4093-byte tag was
    dropped silently); a tag value holding a control character is refused with FAIL, and the
    message is not relayed (it would reach terminals raw)."""
    from test_ircv3 import cap_client, tags_of
    rx = cap_client(server.port, "rx", "message-tags")
    tx = connect("tx")
    rx.expect(is_command("JOIN", "tx"))
    value = "v" * (4094 - len("+big=") - 1)  # with the '@' the tag section is 4094 bytes
    tx.send("@+big=%s PRIVMSG #lobby :big tag" % value)
    line = rx.expect(is_command("PRIVMSG", "tx"))
    assert tags_of(line)["+big"] == value and Msg(line).text == "big tag"
    tx.send_raw(b"@+evil=a\x07b PRIVMSG #lobby :bell\r\n")
    fail = Msg(tx.expect(is_command("FAIL")))
    assert fail.params[:2] == ["PRIVMSG", "INVALID_TAGS"], fail.line
    tx.send("PRIVMSG #lobby :after")
    assert Msg(rx.expect(is_command("PRIVMSG", "tx"))).text == "after"  # bell never came
