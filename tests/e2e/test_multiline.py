"""IRCv3 draft/multiline (https://ircv3.net/specs/extensions/multiline, work in progress:
the draft/ names per its "Notes for implementing work-in-progress version"): a client's
BATCH of PRIVMSG or NOTICE lines relayed as one message, a BATCH to recipients with the
capability and its lines to the others; echo-message and labeled-response; each FAIL code;
the max-bytes and max-lines bounds; an open batch that never ends; one open batch at a time;
a channel's other messages never inside a recipient's batch."""
import re

from conftest import Client, Msg, barrier, is_command, take_until, cap_ls
from test_cluster import node_factory, redis  # noqa: F401 (fixtures)
from test_ircv3 import cap_client

ML = "draft/multiline batch message-tags server-time"
MAX_BYTES = 4096
MAX_LINES = 100
# The batch's lines come faster than the default flood allowance (each line costs one).
FAST = ("--flood-burst", "1000", "--flood-rate", "1000")


def fail(c):
    """The next FAIL, as Msg."""
    return Msg(c.expect(is_command("FAIL")))


def batch_of(c):
    """Reads a whole BATCH (start to end) from c; returns (start, lines, end) as Msg."""
    start = Msg(c.expect(lambda l: Msg(l).command == "BATCH" and Msg(l).params[0][0] == "+"))
    ref = start.params[0][1:]
    seen = take_until(c, lambda l: Msg(l).command == "BATCH" and Msg(l).params == ["-" + ref])
    lines = [Msg(l) for l in seen[:-1]]
    return start, lines, Msg(seen[-1])


def tags(m):
    out = {}
    for t in (m.tags or "").split(";"):
        if t:
            k, _, v = t.partition("=")
            out[k] = v
    return out


def send_batch(c, target, lines, ref="ml1", verb="PRIVMSG", start_tags=""):
    """lines: texts, or (text, concat) pairs."""
    c.send("%sBATCH +%s draft/multiline %s" % (start_tags, ref, target))
    for line in lines:
        text, concat = (line, False) if isinstance(line, str) else line
        t = "batch=%s%s" % (ref, ";draft/multiline-concat" if concat else "")
        c.send("@%s %s %s :%s" % (t, verb, target, text))
    c.send("BATCH -" + ref)


def test_multiline_is_offered_with_its_limits(server):
    c = Client(server.port, None)
    c.send("CAP LS 302")
    offered = cap_ls(c)
    assert "draft/multiline=max-bytes=%d,max-lines=%d" % (MAX_BYTES, MAX_LINES) in offered


def test_channel_batch_to_multiline_and_plain_members(server):
    """A member with draft/multiline gets one BATCH: its start with the msgid and time, the
    lines in order, each tagged with the batch, then its end. A member without it gets the
    lines one by one, the msgid on the first only, no blank line ("Servers MUST NOT send
    blank lines to clients that have not negotiated the multiline capability")."""
    alice = cap_client(server.port, "alice", ML)
    bob = cap_client(server.port, "bob", ML)
    carol = cap_client(server.port, "carol", "message-tags server-time")
    barrier(alice)
    send_batch(alice, "#lobby", ["first", "", "second :with colon", "third"])
    start, lines, end = batch_of(bob)
    assert start.prefix.startswith("alice!")
    assert start.params[1:] == ["draft/multiline", "#lobby"]
    st = tags(start)
    assert st.get("msgid") and re.match(r"\d{4}-\d\d-\d\dT", st.get("time", ""))
    ref = start.params[0][1:]
    assert [m.text for m in lines] == ["first", "", "second :with colon", "third"]
    for m in lines:
        assert m.command == "PRIVMSG" and m.params[0] == "#lobby" and m.nick == "alice"
        assert tags(m)["batch"] == ref
    assert end.params == ["-" + ref]
    got = [Msg(carol.expect(is_command("PRIVMSG", "alice"))) for _ in range(3)]
    assert [m.text for m in got] == ["first", "second :with colon", "third"]
    assert tags(got[0])["msgid"] == st["msgid"]
    assert all("msgid" not in tags(m) for m in got[1:])
    assert all("time" in tags(m) for m in got)
    assert not any(Msg(l).command == "PRIVMSG" for l in barrier(carol))


def test_concat_lines(server):
    """draft/multiline-concat travels on the line in the BATCH; without the capability the
    lines come as the sender split them (the spec: "Servers SHOULD maintain the line
    composition sent by the client")."""
    alice = cap_client(server.port, "alice", ML)
    bob = cap_client(server.port, "bob", ML)
    carol = cap_client(server.port, "carol", "")
    barrier(alice)
    send_batch(alice, "#lobby", ["hello", "how is ", ("everyone?", True)])
    _, lines, _ = batch_of(bob)
    assert [(m.text, "draft/multiline-concat" in tags(m)) for m in lines] == [
        ("hello", False), ("how is ", False), ("everyone?", True)]
    got = [Msg(carol.expect(is_command("PRIVMSG", "alice"))).text for _ in range(3)]
    assert got == ["hello", "how is ", "everyone?"]


def test_echo_message_and_label(server):
    """With echo-message the sender gets its batch back; labeled, "Servers MUST only include
    the label tag on the opening BATCH command" (the label of the BATCH start, answered at
    the end, no ACK for the start)."""
    alice = cap_client(server.port, "alice", ML + " echo-message labeled-response")
    barrier(alice)
    send_batch(alice, "#lobby", ["one", "two"])
    start, lines, _ = batch_of(alice)
    assert "label" not in tags(start) and [m.text for m in lines] == ["one", "two"]
    send_batch(alice, "#lobby", ["three", "four"], ref="ml2", start_tags="@label=L1 ")
    seen = barrier(alice)
    starts = [Msg(l) for l in seen if Msg(l).command == "BATCH" and Msg(l).params[0][0] == "+"]
    assert len(starts) == 1 and tags(starts[0])["label"] == "L1"
    assert starts[0].params[1] == "draft/multiline"
    assert sum("label=" in l for l in seen) == 1
    assert not any(Msg(l).command == "ACK" for l in seen)
    assert [Msg(l).text for l in seen if Msg(l).command == "PRIVMSG"] == ["three", "four"]
    # The label on the BATCH end works the same.
    alice.send("BATCH +ml3 draft/multiline #lobby")
    alice.send("@batch=ml3 PRIVMSG #lobby :five")
    alice.send("@label=L2 BATCH -ml3")
    seen = barrier(alice)
    assert tags(Msg(seen[0]))["label"] == "L2" and Msg(seen[0]).command == "BATCH"
    assert sum("label=" in l for l in seen) == 1


def test_private_batch(server):
    alice = cap_client(server.port, "alice", ML + " echo-message", join_lobby=False)
    bob = cap_client(server.port, "bob", ML, join_lobby=False)
    carol = cap_client(server.port, "carol", "", join_lobby=False)
    send_batch(alice, "bob", ["a", "b"], verb="NOTICE")
    start, lines, _ = batch_of(bob)
    assert start.params[1:] == ["draft/multiline", "bob"]
    assert [(m.command, m.params[0], m.text) for m in lines] == [
        ("NOTICE", "bob", "a"), ("NOTICE", "bob", "b")]
    _, echoed, _ = batch_of(alice)
    assert [m.text for m in echoed] == ["a", "b"]
    send_batch(alice, "carol", ["x", "y"], ref="ml2")
    assert [Msg(carol.expect(is_command("PRIVMSG", "alice"))).text for _ in range(2)] == ["x", "y"]


def test_fail_codes(server):
    alice = cap_client(server.port, "alice", ML + " labeled-response")
    plain = cap_client(server.port, "plain", "message-tags")
    # Without the capabilities.
    plain.send("BATCH +p draft/multiline #lobby")
    assert fail(plain).params[:2] == ["BATCH", "MULTILINE_INVALID"]
    # A line for another target.
    alice.send("BATCH +t1 draft/multiline #lobby")
    alice.send("@batch=t1 PRIVMSG #lobby :ok")
    alice.send("@batch=t1 PRIVMSG #other :no")
    alice.send("BATCH -t1")
    f = fail(alice)
    assert f.params[:4] == ["BATCH", "MULTILINE_INVALID_TARGET", "#lobby", "#other"]
    # A concat tag on a blank line.
    send_batch(alice, "#lobby", ["a", ("", True)], ref="t2")
    assert fail(alice).params[:2] == ["BATCH", "MULTILINE_INVALID"]
    # Two commands in one batch.
    alice.send("BATCH +t3 draft/multiline #lobby")
    alice.send("@batch=t3 PRIVMSG #lobby :a")
    alice.send("@batch=t3 NOTICE #lobby :b")
    alice.send("BATCH -t3")
    assert fail(alice).params[:2] == ["BATCH", "MULTILINE_INVALID"]
    # Blank lines only; no lines; another command inside; an unknown batch.
    send_batch(alice, "#lobby", ["", ""], ref="t4")
    assert fail(alice).params[:2] == ["BATCH", "MULTILINE_INVALID"]
    send_batch(alice, "#lobby", [], ref="t5")
    assert fail(alice).params[:2] == ["BATCH", "MULTILINE_INVALID"]
    alice.send("BATCH +t6 draft/multiline #lobby")
    alice.send("@batch=t6 TOPIC #lobby :x")
    alice.send("BATCH -t6")
    assert fail(alice).params[:2] == ["BATCH", "MULTILINE_INVALID"]
    alice.send("BATCH -nope")
    assert fail(alice).params[:2] == ["BATCH", "MULTILINE_INVALID"]
    alice.send("@batch=nope PRIVMSG #lobby :x")
    assert fail(alice).params[:2] == ["BATCH", "MULTILINE_INVALID"]
    alice.send("BATCH +t7 other-type #lobby")
    assert fail(alice).params[:2] == ["BATCH", "MULTILINE_INVALID"]
    # A labeled start: its FAIL carries the label at the end, and the start gets no ACK.
    alice.send("@label=F1 BATCH +t8 draft/multiline #lobby")
    alice.send("@batch=t8 PRIVMSG #elsewhere :no")
    alice.send("BATCH -t8")
    seen = barrier(alice)
    assert [(Msg(l).command, tags(Msg(l)).get("label")) for l in seen] == [("FAIL", "F1")]
    # Nothing of these reached the channel.
    assert not any(Msg(l).command in ("PRIVMSG", "NOTICE", "BATCH") for l in barrier(plain))


def test_max_lines_and_max_bytes(server_factory):
    """max-lines lines pass, one more is MULTILINE_MAX_LINES <limit>; max-bytes counts the
    text and a line feed between lines (none before a concatenated one)."""
    srv = server_factory(*FAST)
    alice = cap_client(srv.port, "alice", ML)
    bob = cap_client(srv.port, "bob", ML)
    barrier(alice)
    send_batch(alice, "#lobby", ["l%d" % i for i in range(MAX_LINES)])
    _, lines, _ = batch_of(bob)
    assert len(lines) == MAX_LINES
    send_batch(alice, "#lobby", ["l%d" % i for i in range(MAX_LINES + 1)], ref="ml2")
    assert fail(alice).params[:3] == ["BATCH", "MULTILINE_MAX_LINES", str(MAX_LINES)]
    # 10 lines of 400 bytes and 9 line feeds: 4009; then 87 more bytes concatenated fit...
    chunk = "x" * 400
    exact = [chunk] * 10 + [("y" * 87, True)]
    send_batch(alice, "#lobby", exact, ref="ml3")
    _, lines, _ = batch_of(bob)
    assert sum(len(m.text) for m in lines) + 9 == MAX_BYTES
    # ...and one byte more does not.
    send_batch(alice, "#lobby", [chunk] * 10 + [("y" * 88, True)], ref="ml4")
    assert fail(alice).params[:3] == ["BATCH", "MULTILINE_MAX_BYTES", str(MAX_BYTES)]
    assert not any(Msg(l).command == "BATCH" for l in barrier(bob))


def test_second_open_batch_refused(server):
    alice = cap_client(server.port, "alice", ML)
    bob = cap_client(server.port, "bob", ML)
    barrier(alice)
    alice.send("BATCH +a draft/multiline #lobby")
    alice.send("@batch=a PRIVMSG #lobby :from a")
    alice.send("BATCH +b draft/multiline #lobby")
    assert fail(alice).params[:2] == ["BATCH", "MULTILINE_INVALID"]
    alice.send("@batch=b PRIVMSG #lobby :from b")  # dropped quietly
    alice.send("BATCH -b")
    alice.send("BATCH -a")
    _, lines, _ = batch_of(bob)
    assert [m.text for m in lines] == ["from a"]
    assert not any(Msg(l).command == "FAIL" for l in barrier(alice))


def test_unterminated_batch_then_disconnect(server_factory):
    """An open batch, full to its bounds, whose client goes away: nothing is relayed and its
    memory is freed (the sanitizer builds check the leak at the server's stop)."""
    srv = server_factory(*FAST)
    alice = cap_client(srv.port, "alice", ML)
    bob = cap_client(srv.port, "bob", ML)
    alice.send("BATCH +open draft/multiline #lobby")
    for i in range(MAX_LINES + 20):
        alice.send("@batch=open PRIVMSG #lobby :%s" % ("z" * 60))
    barrier(alice)
    alice.close()
    bob.expect(is_command("QUIT", "alice"))
    assert not any(Msg(l).command in ("BATCH", "PRIVMSG") for l in barrier(bob))
    # And one left open at the server's stop.
    carol = cap_client(srv.port, "carol", ML)
    carol.send("BATCH +open draft/multiline #lobby")
    carol.send("@batch=open PRIVMSG #lobby :never sent")
    barrier(carol)


def test_other_messages_not_inside_a_batch(server_factory):
    """While alice's batches go to the channel, bob talks in it too: in carol's stream every
    BATCH is whole, its lines only alice's, bob's lines between batches."""
    srv = server_factory(*FAST)
    alice = cap_client(srv.port, "alice", ML)
    bob = cap_client(srv.port, "bob", "")
    carol = cap_client(srv.port, "carol", ML)
    barrier(alice)
    rounds = 20
    for r in range(rounds):
        alice.send("BATCH +r%d draft/multiline #lobby" % r)
        for i in range(5):
            alice.send("@batch=r%d PRIVMSG #lobby :a%d-%d" % (r, r, i))
            bob.send("PRIVMSG #lobby :b%d-%d" % (r, i))
        alice.send("BATCH -r%d" % r)
    inside, batches, bobs = None, 0, 0
    while batches < rounds or bobs < rounds * 5 or inside is not None:
        l = carol.expect(lambda _: True)
        m = Msg(l)
        if m.command == "BATCH" and m.params[0].startswith("+"):
            assert inside is None
            inside, batches = m.params[0][1:], batches + 1
            got = []
        elif m.command == "BATCH":
            assert m.params[0] == "-" + inside
            assert got == ["a%d-%d" % (batches - 1, i) for i in range(5)]
            inside = None
        elif m.command == "PRIVMSG":
            if inside is not None:
                assert m.nick == "alice" and tags(m)["batch"] == inside, l
                got.append(m.text)
            else:
                assert m.nick == "bob", l
                bobs += 1
    assert batches == rounds and bobs == rounds * 5 and inside is None


def test_history_keeps_each_line(server_factory):
    """Each line is stored as a message: CHATHISTORY gives them back as lines (blank ones
    left out), the first with the batch's msgid."""
    srv = server_factory()
    alice = cap_client(srv.port, "alice", ML + " echo-message draft/chathistory")
    barrier(alice)
    send_batch(alice, "#lobby", ["h1", "", "h2"])
    start, _, _ = batch_of(alice)
    alice.send("CHATHISTORY LATEST #lobby * 10")
    start2, lines, _ = batch_of(alice)
    assert start2.params[1] == "chathistory"
    texts = [(m.text, tags(m).get("msgid")) for m in lines if m.command == "PRIVMSG"]
    assert [t for t, _ in texts][-2:] == ["h1", "h2"]
    assert texts[-2][1] == tags(start)["msgid"]


def test_multiline_across_the_nodes_of_a_cluster(node_factory):
    """On a cluster a multiline message travels between nodes whole (its lines, concat flags
    and msgids in the cluster event): a member of another node with draft/multiline gets the
    same BATCH (same msgid) as one of the sender's node, a member without it the lines; a
    private multiline message to a user of another node comes as a BATCH too; and the other
    node's history has its lines."""
    a, b = node_factory("a", *FAST), node_factory("b", *FAST)
    alice = cap_client(a.port, "alice", ML + " draft/chathistory")
    near = cap_client(a.port, "near", ML)
    bob = cap_client(b.port, "bob", ML + " draft/chathistory")
    carol = cap_client(b.port, "carol", "message-tags server-time")
    for c in (alice, bob):  # both nodes know every member of #lobby (bounded: 50 asks)
        for _ in range(50):
            c.send("NAMES #lobby")
            names = " ".join(Msg(l).text for l in take_until(c, lambda l: " 366 " in l)
                             if " 353 " in l)
            if all(n in names for n in ("alice", "near", "bob", "carol")):
                break
    send_batch(alice, "#lobby", ["one", "", "two ", ("three", True)])
    s_near, l_near, _ = batch_of(near)
    s_bob, l_bob, _ = batch_of(bob)
    assert tags(s_bob)["msgid"] == tags(s_near)["msgid"]
    assert [(m.text, "draft/multiline-concat" in tags(m)) for m in l_bob] == [
        ("one", False), ("", False), ("two ", False), ("three", True)]
    assert [m.text for m in l_bob] == [m.text for m in l_near]
    got = [Msg(carol.expect(is_command("PRIVMSG", "alice"))) for _ in range(3)]
    assert [m.text for m in got] == ["one", "two ", "three"]
    assert tags(got[0])["msgid"] == tags(s_bob)["msgid"]
    send_batch(alice, "bob", ["private", "lines"], ref="ml2")
    s_pm, l_pm, _ = batch_of(bob)
    assert s_pm.params[1:] == ["draft/multiline", "bob"]
    assert [m.text for m in l_pm] == ["private", "lines"]
    bob.send("CHATHISTORY LATEST #lobby * 10")
    texts = [Msg(l).text for l in take_until(
        bob, lambda l: Msg(l).command == "BATCH" and Msg(l).params[0].startswith("-"))
        if Msg(l).command == "PRIVMSG"]
    assert texts[-3:] == ["one", "two ", "three"]


def test_channel_rules_apply_to_the_batch(server):
    """The channel's checks are PRIVMSG's: in a +m channel an unvoiced member's batch is
    refused with 404 and reaches no one; a +C channel refuses a batch with a CTCP line."""
    alice = cap_client(server.port, "alice", ML, join_lobby=False)
    bob = cap_client(server.port, "bob", ML, join_lobby=False)
    alice.send("JOIN #m")
    alice.expect(is_command("JOIN", "alice", "#m"))
    bob.send("JOIN #m")
    bob.expect(is_command("JOIN", "bob", "#m"))
    alice.send("MODE #m +mC")
    bob.expect(is_command("MODE", "alice", "#m"))
    send_batch(bob, "#m", ["muted", "still muted"])
    assert Msg(bob.expect(lambda l: Msg(l).command == "404")).params[1] == "#m"
    send_batch(alice, "#m", ["fine", "\x01VERSION\x01"], ref="c1")
    assert Msg(alice.expect(lambda l: Msg(l).command == "404")).params[1] == "#m"
    assert not any(Msg(l).command in ("BATCH", "PRIVMSG") for l in barrier(bob))
    assert not any(Msg(l).command in ("BATCH", "PRIVMSG") for l in barrier(alice))
