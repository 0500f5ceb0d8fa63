"""IRCv3 draft/metadata-2 (https://ircv3.net/specs/extensions/metadata, work in progress: the
draft/ cap name, as its notes say; the revision implemented is named in
docs/server-behaviour.md): METADATA GET, LIST, SET, CLEAR, SUB, UNSUB, SUBS and SYNC on
oneself, other users and channels; METADATA notifications to subscribers who share a channel;
the bounds of the CAP value. Section names in the docstrings are the specification's."""
from conftest import Client, Msg, barrier, cap_ls, is_command, is_numeric, take_until
from test_cluster import Redis, node_factory, redis  # noqa: F401 (fixtures)
from test_irc_rename import joined
from test_ircv3 import cap_client

CAP = "draft/metadata-2"
CAPS = CAP + " batch"
MAX_SUBS, MAX_KEYS, MAX_VALUE = 50, 20, 256


def metadata_client(port, nick, caps=CAPS):
    return cap_client(port, nick, caps)


def answer(c, line):
    """Sends line and returns what came back before the barrier's PONG, as Msgs."""
    c.send(line)
    return [Msg(l) for l in barrier(c)]


def batch(msgs, kind="metadata"):
    """The batch of kind in msgs: (its parameters after the type, its lines as Msgs). Asserts
    it is opened once and closed, and that every line in between carries its tag."""
    opens = [m for m in msgs if m.command == "BATCH" and m.params[0].startswith("+")
             and m.params[1] == kind]
    assert len(opens) == 1, msgs
    ref = opens[0].params[0][1:]
    start = msgs.index(opens[0])
    end = [i for i, m in enumerate(msgs) if m.command == "BATCH" and m.params[0] == "-" + ref]
    assert len(end) == 1 and end[0] > start, msgs
    inner = msgs[start + 1:end[0]]
    assert all(m.tags == "batch=" + ref for m in inner), msgs
    return opens[0].params[2:], inner


def fails(msgs):
    return [m.params for m in msgs if m.command == "FAIL"]


def test_the_cap_says_its_limits_and_a_cluster_does_not_offer_it(server, node_factory):  # noqa: F811
    """draft/metadata-2 Capability: the value's tokens max-subs, max-keys and max-value-bytes
    (the limits every other test checks). A cluster node keeps no metadata yet: it neither
    offers the capability nor acknowledges it, and has no METADATA command."""
    c = Client(server.port, None)
    c.send("CAP LS 302")
    offered = cap_ls(c)
    assert all(len(l) <= 510 for l in c.lines if " CAP " in l), c.lines  # several lines
    assert "%s=max-subs=%d,max-keys=%d,max-value-bytes=%d" % (
        CAP, MAX_SUBS, MAX_KEYS, MAX_VALUE) in offered, offered

    node = node_factory("a")
    n = Client(node.port, None)
    n.send("CAP LS 302")
    assert not [t for t in cap_ls(n) if t.startswith(CAP)]
    n.send("CAP REQ :" + CAP)
    assert Msg(n.expect(is_command("CAP"))).params[1] == "NAK"
    alice = Client(node.port, "alice")
    alice.send("METADATA * LIST")
    assert Msg(alice.expect(is_numeric("421"))).params[1] == "METADATA"


def test_a_client_with_the_cap_gets_its_empty_metadata_on_connecting(server):
    """Notifications: "clients receive their non-transient metadata ... If none exists, the
    server MUST send an empty batch instead" (nothing outlives a connection here)."""
    c = Client(server.port, None)
    c.nick = "alice"
    c.send("CAP LS 302")
    c.send("CAP REQ :" + CAPS)
    c.send("NICK alice")
    c.send("USER alice 0 * :Alice")
    c.send("CAP END")
    lines = take_until(c, is_numeric("366"))
    params, inner = batch([Msg(l) for l in lines])
    assert params == ["alice"] and inner == [], lines


def test_set_get_list_and_clear_on_oneself(server):
    """METADATA SET: "responds with one RPL_KEYVALUE event, representing the new value", and
    RPL_KEYNOTSET once removed; removing a key that is not set is KEY_NOT_SET. METADATA GET:
    a metadata batch with RPL_KEYVALUE, RPL_KEYNOTSET or FAIL KEY_INVALID "for every key in
    order". METADATA LIST: every key set. METADATA CLEAR: a batch with one line per cleared
    key. The target * is oneself (METADATA client command)."""
    alice = metadata_client(server.port, "alice")
    got = answer(alice, "METADATA * SET display-name :Alice A.")
    assert [m.line for m in got] == [":test.server 761 alice alice display-name * :Alice A."]
    got = answer(alice, "METADATA alice SET homepage :https://example.org/~alice")
    assert [m.line for m in got] == [
        ":test.server 761 alice alice homepage * :https://example.org/~alice"]
    got = answer(alice, "METADATA * SET status :")  # an empty value is a value
    assert [m.line for m in got] == [":test.server 761 alice alice status * :"]

    params, inner = batch(answer(alice, "METADATA * GET homepage avatar Bad!Key display-name"))
    assert params == ["alice"]
    assert [m.line.split(" ", 1)[1] for m in inner] == [
        ":test.server 761 alice alice homepage * :https://example.org/~alice",
        ":test.server 766 alice alice avatar :key not set",
        "FAIL METADATA KEY_INVALID Bad!Key :invalid key",
        ":test.server 761 alice alice display-name * :Alice A."]

    params, inner = batch(answer(alice, "METADATA * LIST"))
    assert params == ["alice"]
    assert [m.params[1:] for m in inner] == [
        ["alice", "display-name", "*", "Alice A."],
        ["alice", "homepage", "*", "https://example.org/~alice"],
        ["alice", "status", "*", ""]]

    got = answer(alice, "METADATA * SET status")
    assert [m.line for m in got] == [":test.server 766 alice alice status :key not set"]
    got = answer(alice, "METADATA * SET status")
    assert [m.line for m in got] == ["FAIL METADATA KEY_NOT_SET alice status :key not set"]

    params, inner = batch(answer(alice, "METADATA * CLEAR"))
    assert [m.params[1:3] for m in inner] == [["alice", "display-name"], ["alice", "homepage"]]
    assert all(m.command == "766" for m in inner)
    params, inner = batch(answer(alice, "METADATA * LIST"))
    assert inner == []


def test_another_users_metadata_is_read_not_written(server):
    """Clients set metadata "on themselves, and on channels they administer" (Concepts);
    another user's is KEY_NO_PERMISSION to SET and CLEAR (with * as the key), and readable
    by GET and LIST. A nick nobody has is INVALID_TARGET, as is a channel that does not
    exist; an unknown subcommand is SUBCOMMAND_INVALID (Standard Replies)."""
    alice = metadata_client(server.port, "alice")
    bob = metadata_client(server.port, "bob")
    answer(alice, "METADATA * SET avatar :https://example.org/a.png")
    _, inner = batch(answer(bob, "METADATA Alice GET avatar"))
    assert [m.line.split(" ", 1)[1] for m in inner] == [
        ":test.server 761 bob alice avatar * :https://example.org/a.png"]
    _, inner = batch(answer(bob, "METADATA alice LIST"))
    assert [m.params[1:] for m in inner] == [["alice", "avatar", "*", "https://example.org/a.png"]]
    assert [m.line for m in answer(bob, "METADATA alice SET avatar :mine")] == [
        "FAIL METADATA KEY_NO_PERMISSION alice avatar :permission denied"]
    assert [m.line for m in answer(bob, "METADATA alice CLEAR")] == [
        "FAIL METADATA KEY_NO_PERMISSION alice * :permission denied"]
    assert [m.line for m in answer(bob, "METADATA nobody GET avatar")] == [
        "FAIL METADATA INVALID_TARGET nobody :invalid metadata target"]
    assert [m.line for m in answer(bob, "METADATA #nowhere LIST")] == [
        "FAIL METADATA INVALID_TARGET #nowhere :invalid metadata target"]
    assert [m.line for m in answer(bob, "METADATA * DESTROY")] == [
        "FAIL METADATA SUBCOMMAND_INVALID DESTROY :invalid subcommand"]
    _, inner = batch(answer(alice, "METADATA * GET avatar"))
    assert inner[0].params[4] == "https://example.org/a.png"  # unchanged


def test_a_channels_metadata_is_set_by_its_operators_and_read_by_its_members(server):
    """Concepts: metadata on "channels they administer": an operator sets it, another member
    gets KEY_NO_PERMISSION but reads it; Ergo's choice for who may read, followed here: the
    channel's members (someone outside gets KEY_NO_PERMISSION)."""
    alice, bob, carol = (metadata_client(server.port, n) for n in ("alice", "bob", "carol"))
    joined([alice, bob], "#meta")
    assert [m.line for m in answer(alice, "METADATA #Meta SET url :https://meta.example")] == [
        ":test.server 761 alice #meta url * :https://meta.example"]
    assert [m.line for m in answer(bob, "METADATA #meta SET url :https://bob.example")] == [
        "FAIL METADATA KEY_NO_PERMISSION #meta url :permission denied"]
    assert [m.line for m in answer(bob, "METADATA #meta CLEAR")] == [
        "FAIL METADATA KEY_NO_PERMISSION #meta * :permission denied"]
    params, inner = batch(answer(bob, "METADATA #meta GET url"))
    assert params == ["#meta"]
    assert [m.line.split(" ", 1)[1] for m in inner] == [
        ":test.server 761 bob #meta url * :https://meta.example"]
    assert [m.line for m in answer(carol, "METADATA #meta LIST")] == [
        "FAIL METADATA KEY_NO_PERMISSION #meta * :permission denied"]
    _, inner = batch(answer(alice, "METADATA #meta CLEAR"))
    assert [m.line.split(" ", 1)[1] for m in inner] == [
        ":test.server 766 alice #meta url :key not set"]


def test_sub_unsub_and_subs(server):
    """METADATA SUB: each valid key in RPL_METADATASUBOK (already subscribed ones too), an
    invalid one FAIL KEY_INVALID and the rest still processed; METADATA UNSUB:
    RPL_METADATAUNSUBOK, subscribed or not; METADATA SUBS: RPL_METADATASUBS (in a
    metadata-subs batch), each key once."""
    alice = metadata_client(server.port, "alice")
    got = answer(alice, "METADATA * SUB avatar website $url foo")
    assert [m.line for m in got] == [
        "FAIL METADATA KEY_INVALID $url :invalid key",
        ":test.server 770 alice :avatar website foo"]
    got = answer(alice, "METADATA * SUB website")
    assert [m.line for m in got] == [":test.server 770 alice :website"]
    _, inner = batch(answer(alice, "METADATA * SUBS"), "metadata-subs")
    assert [m.line.split(" ", 1)[1] for m in inner] == [":test.server 772 alice :avatar website foo"]
    got = answer(alice, "METADATA * UNSUB foo bar")
    assert [m.line for m in got] == [":test.server 771 alice :foo bar"]
    _, inner = batch(answer(alice, "METADATA * SUBS"), "metadata-subs")
    assert [m.params[1] for m in inner] == ["avatar website"]
    answer(alice, "METADATA * UNSUB avatar website")
    _, inner = batch(answer(alice, "METADATA * SUBS"), "metadata-subs")
    assert inner == []


def test_too_many_subscriptions(server):
    """METADATA SUB, max-subs: past the limit "the server does not process any further keys"
    and TOO_MANY_SUBS names "this first key that the client could not subscribe to", even one
    already subscribed (the third TOO_MANY_SUBS example)."""
    alice = metadata_client(server.port, "alice")
    keys = ["k%d" % i for i in range(MAX_SUBS + 2)]
    for i in range(0, MAX_SUBS - 2, 12):
        chunk = keys[i:min(i + 12, MAX_SUBS - 2)]
        assert [m.line for m in answer(alice, "METADATA * SUB " + " ".join(chunk))] == [
            ":test.server 770 alice :" + " ".join(chunk)]
    last = keys[MAX_SUBS - 2:]  # two fit, the third does not, nor what follows it
    got = answer(alice, "METADATA * SUB %s k0 z" % " ".join(last))
    assert [m.line for m in got] == [
        ":test.server 770 alice :%s %s" % (last[0], last[1]),
        "FAIL METADATA TOO_MANY_SUBS %s :too many subscriptions" % last[2]]
    _, inner = batch(answer(alice, "METADATA * SUBS"), "metadata-subs")
    listed = " ".join(m.params[1] for m in inner).split()
    assert listed == keys[:MAX_SUBS]
    assert all(len(m.line) <= 512 for m in inner)


def test_changes_reach_subscribers_sharing_a_channel_on_other_workers(server_factory):
    """Notifications: a user's change goes to "all users sharing a channel with that user",
    a channel's to its members, as a METADATA message (METADATA server message: "METADATA
    <Target> <Key> <Visibility> <Value>"), to those subscribed to the key and with the
    capability; not to the one who made it. Clients connect in turn to a server of 2
    workers, which gives each the least loaded: neighbours are on different workers."""
    srv = server_factory("--workers", "2")
    alice = metadata_client(srv.port, "alice")
    bob = metadata_client(srv.port, "bob")
    carol = metadata_client(srv.port, "carol")          # subscribed to nothing
    dave = cap_client(srv.port, "dave", "batch")        # subscribed, without the capability
    erin = metadata_client(srv.port, "erin")            # subscribed, shares no channel
    erin.send("PART #lobby")  # where everyone starts (--default-channel)
    erin.expect(is_command("PART"))
    joined([alice, bob, carol, dave], "#room")
    for c in (bob, dave, erin, alice):
        answer(c, "METADATA * SUB display-name url")

    alice.send("METADATA * SET display-name :Alice A.")
    alice.expect(is_numeric("761"))
    m = Msg(bob.expect(is_command("METADATA")))
    assert m.prefix.startswith("alice!") and m.params == ["alice", "display-name", "*",
                                                          "Alice A."], m.line
    alice.send("METADATA #room SET url :https://room.example")
    m = Msg(bob.expect(is_command("METADATA")))
    assert m.line.endswith(" METADATA #room url * :https://room.example") \
        and m.prefix.startswith("alice!"), m.line
    alice.send("METADATA * SET display-name")
    m = Msg(bob.expect(is_command("METADATA")))
    assert m.params == ["alice", "display-name", "*"], m.line
    for c in (alice, carol, dave, erin):
        assert not [l for l in barrier(c) if " METADATA " in l], c.nick
    # Another key nobody subscribed to, and a no-op SET, say nothing either.
    alice.send("METADATA * SET avatar :x")
    alice.send("METADATA #room SET url :https://room.example")
    assert not [l for l in barrier(bob) if " METADATA " in l]


def test_a_joiner_gets_the_channels_and_members_subscribed_values(server_factory):
    """Concepts: "On joining a channel, users will get the channel's current metadata sent
    to them with METADATA messages, and get the same information for all users who are in
    the channel ... for the keys they are subscribed to"; METADATA SYNC sends the same, in a
    metadata batch, on request."""
    srv = server_factory("--workers", "2")
    alice = metadata_client(srv.port, "alice")
    bob = metadata_client(srv.port, "bob")
    joined([alice], "#room")
    answer(alice, "METADATA * SET avatar :https://example.org/a.png")
    answer(alice, "METADATA * SET secret :not subscribed")
    answer(alice, "METADATA #room SET url :https://room.example")
    answer(bob, "METADATA * SUB avatar url")
    answer(bob, "METADATA * SET avatar :https://example.org/b.png")
    bob.send("JOIN #room")
    msgs = [Msg(l) for l in take_until(bob, is_numeric("366"))] + answer(bob, "")
    assert msgs[0].command == "JOIN"
    params, inner = batch(msgs)
    assert params == ["#room"]
    assert sorted(m.line.split(" ", 1)[1] for m in inner) == sorted([
        ":test.server METADATA #room url * :https://room.example",
        ":test.server METADATA alice avatar * :https://example.org/a.png",
        ":test.server METADATA bob avatar * :https://example.org/b.png"])
    first_batch = [i for i, m in enumerate(msgs) if m.command == "BATCH"][0]
    assert first_batch > [i for i, m in enumerate(msgs) if m.command == "366"][0]

    params, inner2 = batch(answer(bob, "METADATA #room SYNC"))
    assert params == ["#room"] and sorted(m.line.split(" ", 1)[1] for m in inner2) == \
        sorted(m.line.split(" ", 1)[1] for m in inner)
    params, inner3 = batch(answer(bob, "METADATA alice SYNC"))
    assert params == ["alice"] and [m.params for m in inner3] == [
        ["alice", "avatar", "*", "https://example.org/a.png"]]
    # A client that subscribed to nothing is told nothing on joining.
    carol = metadata_client(srv.port, "carol")
    carol.send("JOIN #room")
    take_until(carol, is_numeric("366"))
    assert not [l for l in barrier(carol) if "BATCH" in l or "METADATA" in l]


def test_bounds_on_keys_values_and_counts(server):
    """Keys and Values: key names are "a-z, 0-9, and _./-" (nothing else, not empty), and
    KEY_INVALID otherwise (a key longer than our 64 bytes too); values are UTF-8 of at most
    max-value-bytes, VALUE_INVALID otherwise; past max-keys on a user or a channel,
    LIMIT_REACHED (METADATA SET)."""
    alice = metadata_client(server.port, "alice")
    for key in ("Avatar", "a:b", "\u00e9", "k" * 65):
        got = answer(alice, "METADATA * SET %s :v" % key)
        assert [m.line for m in got] == ["FAIL METADATA KEY_INVALID %s :invalid key" % key], got
    assert answer(alice, "METADATA * SET " + "k" * 64 + " :v")[0].command == "761"
    assert answer(alice, "METADATA * SET a_b.c/d-9 :v")[0].command == "761"

    assert answer(alice, "METADATA * SET long :" + "x" * MAX_VALUE)[0].command == "761"
    got = answer(alice, "METADATA * SET long :" + "x" * (MAX_VALUE + 1))
    assert [m.line for m in got] == ["FAIL METADATA VALUE_INVALID :value is too long or not UTF-8"]
    # A value that is not UTF-8 never reaches METADATA: the line itself is refused (the
    # server's rule for every command), and nothing is set.
    alice.send_raw(b"METADATA * SET bad :\xff\xfe\r\n")
    got = [Msg(l) for l in barrier(alice)]
    assert fails(got) == [["METADATA", "INVALID_UTF8", got[0].params[-1]]], got
    _, inner = batch(answer(alice, "METADATA * GET bad"))
    assert [m.command for m in inner] == ["766"]
    assert answer(alice, "METADATA * SET utf8 :\u00e9\u00e8\u00ea \U0001f600")[0].command == "761"

    answer(alice, "METADATA * CLEAR")
    for i in range(MAX_KEYS):
        assert answer(alice, "METADATA * SET k%d :%d" % (i, i))[0].command == "761"
    assert [m.line for m in answer(alice, "METADATA * SET one-more :x")] == [
        "FAIL METADATA LIMIT_REACHED alice :metadata limit reached"]
    assert answer(alice, "METADATA * SET k0 :changed")[0].command == "761"  # not a new key

    joined([alice], "#full")
    for i in range(MAX_KEYS):
        assert answer(alice, "METADATA #full SET k%d :%d" % (i, i))[0].command == "761"
    assert [m.line for m in answer(alice, "METADATA #full SET one-more :x")] == [
        "FAIL METADATA LIMIT_REACHED #full :metadata limit reached"]


def test_a_users_metadata_goes_when_it_disconnects(server):
    """Metadata set by a client lives with its connection (nothing here is "non-transient"):
    once alice has gone, her nick is no target, and whoever takes it next has none."""
    alice = metadata_client(server.port, "alice")
    bob = metadata_client(server.port, "bob")
    answer(alice, "METADATA * SET avatar :https://example.org/a.png")
    alice.send("QUIT :bye")
    alice.wait_closed()
    barrier(bob)
    assert [m.line for m in answer(bob, "METADATA alice LIST")] == [
        "FAIL METADATA INVALID_TARGET alice :invalid metadata target"]
    alice = metadata_client(server.port, "alice")
    _, inner = batch(answer(alice, "METADATA * LIST"))
    assert inner == []
    _, inner = batch(answer(bob, "METADATA alice GET avatar"))
    assert [m.command for m in inner] == ["766"]


def test_users_on_every_worker_set_and_read_each_other_at_once(server_factory):
    """Thread safety (run under TSan in CI): users on 4 workers set their own keys, read
    each other's (GET, SYNC), join and leave a shared channel, all at once; every change is
    then seen as made, and each subscriber got each change it could see once."""
    srv = server_factory("--workers", "4")
    users = [metadata_client(srv.port, "u%d" % i) for i in range(4)]
    joined(users, "#busy")
    for u in users:
        answer(u, "METADATA * SUB score")
    rounds = 30
    for r in range(rounds):
        for i, u in enumerate(users):
            u.send("METADATA * SET score :%d-%d" % (i, r))
            u.send("METADATA u%d GET score" % ((i + 1) % len(users)))
            u.send("METADATA #busy SYNC")
            if r % 10 == 5:
                u.send("PART #lobby")
                u.send("JOIN #lobby")
    def note(line):
        m = Msg(line)
        return m.command == "METADATA" and not m.tags  # not a SYNC batch's line

    notes = [[Msg(l) for l in barrier(u) if note(l)] for u in users]
    want = (len(users) - 1) * rounds  # #busy is shared all along: every other user's change
    for i, u in enumerate(users):
        while len(notes[i]) < want:
            notes[i].append(Msg(u.expect(note)))
        assert not [l for l in barrier(u) if note(l)], "more than once"
        for j in range(len(users)):
            if j != i:  # each change of each other user once, in the order made
                seen = [m.params[3] for m in notes[i] if m.params[0] == "u%d" % j]
                assert seen == ["%d-%d" % (j, r) for r in range(rounds)], (i, j, seen)
    for i, u in enumerate(users):
        other = (i + 1) % len(users)
        _, inner = batch(answer(u, "METADATA u%d GET score" % other))
        assert [m.params[1:] for m in inner] == [["u%d" % other, "score", "*",
                                                  "%d-%d" % (other, rounds - 1)]]
