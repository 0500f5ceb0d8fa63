"""The history store: replay on JOIN, IRCv3 draft/chathistory (every subcommand, limits and
bad parameters), persistence across restarts and kill -9, retention, and a clear refusal of a
damaged or unusable data directory. Each server runs in the test's own directory, so its
default ./data store is the test's."""
import os
import re
import signal
import sqlite3
import struct
import subprocess
import threading
import time

import pytest

from conftest import (ROOT_ARGS, SERVER_BIN, TIMEOUT, Client, Msg, Server, barrier, free_port,
                      cap_ls, is_command, is_numeric, take_until)
from test_ircv3 import cap_client, tags_of

FAST = ("--flood-rate", "1000000", "--flood-burst", "1000000")
HISTORY_CAPS = "batch server-time message-tags draft/chathistory labeled-response"


def say(client, n, prefix="line", target="#lobby"):
    for i in range(n):
        client.send("PRIVMSG %s :%s %d" % (target, prefix, i))
    barrier(client)


def batch_of(client, start_pred=None):
    """Reads one BATCH +ref ... BATCH -ref; returns (start Msg, [Msg inside])."""
    start = Msg(client.expect(lambda l: Msg(l).command == "BATCH" and
                              Msg(l).params[0].startswith("+")))
    ref = start.params[0][1:]
    inside = []
    while True:
        m = Msg(client.expect(lambda l: True))
        if m.command == "BATCH" and m.params[0] == "-" + ref:
            return start, inside
        assert tags_of(m.line).get("batch") == ref, m.line
        inside.append(m)


def texts(msgs):
    return [m.text for m in msgs]


def history(client, *args):
    client.send("CHATHISTORY " + " ".join(args))
    return batch_of(client)[1]


# --- replay on JOIN ----------------------------------------------------------------------


def test_replay_on_join_with_original_time_and_msgid(server):
    watcher = cap_client(server.port, "watcher", "message-tags server-time")
    alice = Client(server.port, "alice")
    alice.expect(is_numeric("366"))
    say(alice, 3)
    live = [Msg(watcher.expect(is_command("PRIVMSG", "alice"))) for _ in range(3)]
    bob = cap_client(server.port, "bob", "batch server-time message-tags", join_lobby=False)
    seen = take_until(bob, is_numeric("366"))
    assert any(is_command("JOIN", "bob")(l) for l in seen)
    start, inside = batch_of(bob)
    assert start.params[1:] == ["chathistory", "#lobby"]
    assert texts(inside) == ["line 0", "line 1", "line 2"]
    for old, now in zip(inside, live):
        assert old.prefix == now.prefix and old.params == now.params
        assert tags_of(old.line)["time"] == tags_of(now.line)["time"]
        assert tags_of(old.line)["msgid"] == tags_of(now.line)["msgid"]
    # Live messages follow the replay, outside any batch.
    alice.send("PRIVMSG #lobby :after")
    line = bob.expect(is_command("PRIVMSG", "alice"))
    assert Msg(line).text == "after" and "batch" not in tags_of(line)


def test_replay_for_a_plain_client_comes_after_names(server):
    alice = Client(server.port, "alice")
    alice.expect(is_numeric("366"))
    say(alice, 2)
    bob = Client(server.port, None)
    bob.nick = "bob"
    bob.send("NICK bob")
    bob.send("USER bob 0 * :bob")
    take_until(bob, is_numeric("366"))
    lines = take_until(bob, "line 1")
    assert lines == [":alice!~alice@127.0.0.1 PRIVMSG #lobby :line 0",
                     ":alice!~alice@127.0.0.1 PRIVMSG #lobby :line 1"]


def test_replay_on_join_during_a_stream_comes_before_what_follows_the_join(server_factory):
    """Clients join while a message stream flows into the channel: each gets the replay of
    what was said before its JOIN, then the stream live, with nothing missing, doubled or
    out of order in between (posts wait behind a replay only for the joiner's worker)."""
    srv = server_factory("--workers", "2", *FAST)
    alice = Client(srv.port, "alice")
    alice.expect(is_numeric("366"))
    total = 2000

    def stream():
        for base in range(0, total, 20):
            alice.sock.sendall(b"".join(b"PRIVMSG #lobby :n %d\r\n" % i
                                        for i in range(base, base + 20)))
            time.sleep(0.002)

    t = threading.Thread(target=stream)
    t.start()
    joiners = []
    for i in range(6):
        time.sleep(0.03)
        joiners.append(Client(srv.port, "bob%d" % i))
    t.join(TIMEOUT)
    for bob in joiners:
        take_until(bob, is_numeric("366"))
        got = [int(Msg(l).text.split()[1])
               for l in take_until(bob, "n %d" % (total - 1))
               if is_command("PRIVMSG", "alice")(l)]
        assert got == list(range(got[0], total)), (bob.nick, got[:80])
        assert got[0] <= max(0, total - 50)  # the replay (50) came first, then the stream


def test_replay_holds_the_last_n_and_only_messages(server_factory):
    srv = server_factory("--history-replay", "2", *FAST)
    alice = Client(srv.port, "alice")
    alice.expect(is_numeric("366"))
    say(alice, 5)
    alice.send("TOPIC #lobby :not a message")
    alice.send("PRIVMSG alice :to myself, private")
    alice.send("NOTICE #lobby :a notice counts")
    barrier(alice)
    bob = cap_client(srv.port, "bob", "batch", join_lobby=True)
    _, inside = batch_of(bob)
    assert texts(inside) == ["line 4", "a notice counts"]
    assert [m.command for m in inside] == ["PRIVMSG", "NOTICE"]


def test_no_replay_when_client_asks_for_history_itself(server):
    alice = Client(server.port, "alice")
    alice.expect(is_numeric("366"))
    say(alice, 2)
    bob = cap_client(server.port, "bob", HISTORY_CAPS)
    lines = barrier(bob) + bob.collect(0.5)
    assert not [l for l in lines if "PRIVMSG" in l or "BATCH" in l]


def test_no_replay_into_an_empty_channel_history(server):
    bob = cap_client(server.port, "bob", "batch")
    assert not [l for l in barrier(bob) + bob.collect(0.5) if "BATCH" in l]


def test_replay_off_with_zero(server_factory):
    srv = server_factory("--history-replay", "0")
    alice = Client(srv.port, "alice")
    alice.expect(is_numeric("366"))
    say(alice, 2)
    bob = Client(srv.port, "bob")
    bob.expect(is_numeric("366"))
    assert not [l for l in barrier(bob) + bob.collect(0.5) if "PRIVMSG" in l]


# --- CHATHISTORY -------------------------------------------------------------------------


@pytest.fixture
def chat(server_factory):
    """A server with 20 messages "m 0".."m 19" in #lobby; returns (server, reader, msgids)."""
    srv = server_factory(*FAST)
    alice = Client(srv.port, "alice")
    alice.expect(is_numeric("366"))
    reader = cap_client(srv.port, "reader", HISTORY_CAPS)
    say(alice, 20, "m")
    ids = [tags_of(reader.expect(is_command("PRIVMSG", "alice")))["msgid"] for _ in range(20)]
    return srv, reader, ids


def test_isupport_and_cap(chat):
    srv, _, _ = chat
    c = Client(srv.port, None)
    c.send("CAP LS 302")
    assert "draft/chathistory" in cap_ls(c)
    c.send("NICK x")
    c.send("USER x 0 * :x")
    c.send("CAP END")
    isupport = " ".join(take_until(c, is_numeric("422")))
    assert "CHATHISTORY=100" in isupport and "MSGREFTYPES=msgid,timestamp" in isupport


def test_latest(chat):
    _, r, ids = chat
    assert texts(history(r, "LATEST #lobby * 3")) == ["m 17", "m 18", "m 19"]
    assert texts(history(r, "LATEST #lobby msgid=%s 100" % ids[16])) == ["m 17", "m 18", "m 19"]
    # latest within the window: the newest ones after the reference
    assert texts(history(r, "LATEST #lobby msgid=%s 2" % ids[10])) == ["m 18", "m 19"]


def test_before_and_after_by_msgid(chat):
    _, r, ids = chat
    assert texts(history(r, "BEFORE #lobby msgid=%s 3" % ids[5])) == ["m 2", "m 3", "m 4"]
    assert texts(history(r, "AFTER #lobby msgid=%s 3" % ids[5])) == ["m 6", "m 7", "m 8"]
    assert texts(history(r, "BEFORE #lobby msgid=%s 10" % ids[1])) == ["m 0"]
    assert history(r, "AFTER #lobby msgid=%s 10" % ids[19]) == []


def test_replayed_lines_carry_time_msgid_and_batch(chat):
    _, r, ids = chat
    msgs = history(r, "LATEST #LOBBY * 2")
    assert [tags_of(m.line)["msgid"] for m in msgs] == ids[18:]
    assert all(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", tags_of(m.line)["time"])
               for m in msgs)
    assert all(m.prefix.startswith("alice!") and m.params[0] == "#lobby" for m in msgs)


def test_around_and_between(chat):
    _, r, ids = chat
    assert texts(history(r, "AROUND #lobby msgid=%s 4" % ids[10])) == ["m 8", "m 9", "m 10",
                                                                      "m 11"]
    fwd = history(r, "BETWEEN #lobby msgid=%s msgid=%s 100" % (ids[3], ids[7]))
    assert texts(fwd) == ["m 4", "m 5", "m 6"]
    # First reference after the second: the messages nearest the first one.
    back = history(r, "BETWEEN #lobby msgid=%s msgid=%s 2" % (ids[7], ids[3]))
    assert texts(back) == ["m 5", "m 6"]
    fwd2 = history(r, "BETWEEN #lobby msgid=%s msgid=%s 2" % (ids[3], ids[7]))
    assert texts(fwd2) == ["m 4", "m 5"]


def test_timestamps(chat):
    _, r, ids = chat
    everything = history(r, "LATEST #lobby * 100")
    assert len(everything) == 20
    t5 = tags_of(everything[5].line)["time"]
    before = texts(history(r, "BEFORE #lobby timestamp=2999-01-01T00:00:00.000Z 2"))
    assert before == ["m 18", "m 19"]
    after = texts(history(r, "AFTER #lobby timestamp=2000-01-01T00:00:00.000Z 2"))
    assert after == ["m 0", "m 1"]
    # Messages strictly before the time of m 5 (several may share a millisecond).
    older = texts(history(r, "BEFORE #lobby timestamp=%s 100" % t5))
    assert older == ["m %d" % i for i in range(len(older))] and "m 5" not in older
    between = history(r, "BETWEEN #lobby timestamp=2000-01-01T00:00:00.000Z "
                      "timestamp=2999-01-01T00:00:00.000Z 100")
    assert len(between) == 20


def test_targets(chat):
    srv, r, _ = chat
    r.send("JOIN #quiet,#busy")
    barrier(r)
    r.send("PRIVMSG #busy :x")
    barrier(r)
    r.send("CHATHISTORY TARGETS timestamp=2000-01-01T00:00:00.000Z "
           "timestamp=2999-01-01T00:00:00.000Z 10")
    start, inside = batch_of(r)
    assert start.params[1] == "draft/chathistory-targets"
    assert [(m.command, m.params[0], m.params[1]) for m in inside] == [
        ("CHATHISTORY", "TARGETS", "#lobby"), ("CHATHISTORY", "TARGETS", "#busy")]
    assert re.match(r"^\d{4}-.*Z$", inside[0].params[2])


def test_event_playback_replays_channel_events_only_to_clients_that_ask(server_factory):
    """IRCv3 chathistory, "Returned message notes": "If the client has not negotiated the
    event-playback capability, the server MUST NOT send any lines other than PRIVMSG and
    NOTICE in the reply batch. If the client has negotiated event-playback, the server SHOULD
    send additional lines relevant to the chat history, including but not limited to [...]
    JOIN, PART, QUIT, MODE, TOPIC, and NICK" (the draft's cap name, draft/event-playback, per
    its "Notes for implementing work-in-progress version"). Each line as it went out live,
    with its msgid; a QUIT or NICK in each of the user's channels. The msgid of a JOIN a
    client saw live is a reference for both kinds of client (the spec's "display(CHATHISTORY(
    BEFORE, join_message.msgid))")."""
    srv = server_factory(*FAST)
    ev = cap_client(srv.port, "ev", HISTORY_CAPS + " draft/event-playback")
    plain = cap_client(srv.port, "plain", HISTORY_CAPS)
    ev.send("JOIN #ev")
    take_until(ev, is_numeric("366"))
    bob = Client(srv.port, "bob")
    bob.expect(is_numeric("366"))
    carol = Client(srv.port, "carol")
    carol.expect(is_numeric("366"))
    for u in (bob, carol):
        u.send("JOIN #ev")
        take_until(u, is_numeric("366"))
    ev.send("PRIVMSG #ev :hello")
    ev.send("TOPIC #ev :the topic")
    ev.send("MODE #ev +v bob")
    barrier(ev)
    bob.send("NICK bobby")
    bob.send("NOTICE #ev :a notice")
    bob.send("PART #ev :bye")
    barrier(bob)
    ev.send("KICK #ev carol :out")
    barrier(ev)
    dave = Client(srv.port, "dave")
    dave.expect(is_numeric("366"))
    dave.send("JOIN #ev")
    take_until(dave, is_numeric("366"))
    dave.send("QUIT :gone")
    dave.wait_closed()
    plain.send("JOIN #ev")
    join_line = plain.expect(is_command("JOIN", "plain"))
    take_until(plain, is_numeric("366"))
    barrier(ev)

    lines = history(ev, "LATEST #ev * 100")
    assert [(m.command, m.prefix.split("!")[0], m.params) for m in lines] == [
        ("JOIN", "ev", ["#ev"]),
        ("JOIN", "bob", ["#ev"]),
        ("JOIN", "carol", ["#ev"]),
        ("PRIVMSG", "ev", ["#ev", "hello"]),
        ("TOPIC", "ev", ["#ev", "the topic"]),
        ("MODE", "ev", ["#ev", "+v", "bob"]),
        ("NICK", "bob", ["bobby"]),
        ("NOTICE", "bobby", ["#ev", "a notice"]),
        ("PART", "bobby", ["#ev", "bye"]),
        ("KICK", "ev", ["#ev", "carol", "out"]),
        ("JOIN", "dave", ["#ev"]),
        ("QUIT", "dave", ["Quit: gone"]),
        ("JOIN", "plain", ["#ev"]),
    ]
    assert tags_of(lines[-1].line)["msgid"] == tags_of(join_line)["msgid"]
    # The same history without the capability: its messages only.
    assert [(m.command, m.text) for m in history(plain, "LATEST #ev * 100")] == [
        ("PRIVMSG", "hello"), ("NOTICE", "a notice")]
    # A JOIN's msgid as the reference: what came before it, for both.
    ref = "msgid=" + tags_of(join_line)["msgid"]
    assert [m.command for m in history(plain, "BEFORE #ev %s 2" % ref)] == ["PRIVMSG", "NOTICE"]
    assert [m.command for m in history(ev, "BEFORE #ev %s 2" % ref)] == ["JOIN", "QUIT"]
    # A QUIT and a NICK are in every channel of the user's, #lobby too.
    assert ("NICK", "bob") in [(m.command, m.prefix.split("!")[0])
                               for m in history(ev, "LATEST #lobby * 100")]
    # The replay on JOIN of a client without draft/chathistory is messages only.
    erin = cap_client(srv.port, "erin", "batch")
    erin.send("JOIN #ev")
    _, inside = batch_of(erin)
    assert [m.command for m in inside] == ["PRIVMSG", "NOTICE"]


def test_event_playback_offered_only_with_history(server_factory):
    """draft/event-playback is offered with draft/chathistory, and only then: without the
    store there are no events to play back (CAP LS lists what the server implements)."""
    for args, offered in (((), True), (("--history", "off"), False)):
        srv = server_factory(*args)
        c = Client(srv.port, None)
        c.send("CAP LS 302")
        caps = cap_ls(c)
        assert ("draft/event-playback" in caps) == offered
        assert ("draft/chathistory" in caps) == offered
        srv.stop()


def test_a_store_made_before_events_were_kept_is_taken(server_factory):
    """A history.db without the event column (made by an earlier tcpchatd) is taken as it
    is: its rows are messages, and events are stored beside them from then on."""
    os.makedirs("data")
    db = sqlite3.connect(os.path.join("data", "history.db"))
    db.executescript(
        "CREATE TABLE messages(id INTEGER PRIMARY KEY AUTOINCREMENT, target TEXT NOT NULL,"
        " pm_from TEXT, pm_to TEXT, time_ms INTEGER NOT NULL, msgid TEXT NOT NULL,"
        " tags TEXT NOT NULL DEFAULT '', line TEXT NOT NULL);"
        "CREATE UNIQUE INDEX messages_msgid_once ON messages(msgid)"
        " WHERE msgid <> '' AND line <> '';")
    db.execute("INSERT INTO messages(target, time_ms, msgid, line) VALUES ('#lobby', ?, 'old-1',"
               " ':alice!~alice@127.0.0.1 PRIVMSG #lobby :from before')",
               (int(time.time() * 1000) - 1000,))
    db.commit()
    db.close()
    srv = server_factory()
    ev = cap_client(srv.port, "ev", HISTORY_CAPS + " draft/event-playback")
    ev.send("NICK ev2")
    barrier(ev)
    assert [(m.command, m.params[-1]) for m in history(ev, "LATEST #lobby * 10")] == [
        ("PRIVMSG", "from before"), ("JOIN", "#lobby"), ("NICK", "ev2")]


def test_limit_is_capped_at_the_advertised_maximum(server_factory):
    srv = server_factory(*FAST)
    alice = cap_client(srv.port, "alice", HISTORY_CAPS)
    say(alice, 120)
    assert len(history(alice, "LATEST #lobby * 5000")) == 100


def test_labeled_request_labels_the_batch(chat):
    _, r, _ = chat
    r.send("@label=abc CHATHISTORY LATEST #lobby * 1")
    line = r.expect(lambda l: Msg(l).command == "BATCH")
    assert tags_of(line).get("label") == "abc"
    assert not [l for l in barrier(r) if " ACK" in l]


def test_bad_requests_get_fail_replies(chat):
    _, r, ids = chat
    cases = [
        ("CHATHISTORY", "FAIL CHATHISTORY NEED_MORE_PARAMS"),
        ("CHATHISTORY LATEST #lobby *", "FAIL CHATHISTORY NEED_MORE_PARAMS LATEST"),
        ("CHATHISTORY SIDEWAYS #lobby * 3", "FAIL CHATHISTORY INVALID_PARAMS SIDEWAYS"),
        ("CHATHISTORY LATEST #lobby * zero", "FAIL CHATHISTORY INVALID_PARAMS LATEST"),
        ("CHATHISTORY LATEST #lobby * 0", "FAIL CHATHISTORY INVALID_PARAMS LATEST"),
        ("CHATHISTORY BEFORE #lobby * 3", "FAIL CHATHISTORY INVALID_PARAMS BEFORE"),
        ("CHATHISTORY AFTER #lobby id=%s 3" % ids[0], "FAIL CHATHISTORY INVALID_PARAMS AFTER"),
        ("CHATHISTORY AFTER #lobby timestamp=yesterday 3",
         "FAIL CHATHISTORY INVALID_PARAMS AFTER"),
        ("CHATHISTORY TARGETS msgid=%s timestamp=2999-01-01T00:00:00.000Z 3" % ids[0],
         "FAIL CHATHISTORY INVALID_PARAMS TARGETS"),
        ("CHATHISTORY LATEST #elsewhere * 3",
         "FAIL CHATHISTORY INVALID_TARGET LATEST #elsewhere"),
        ("CHATHISTORY LATEST bad,target * 3",
         "FAIL CHATHISTORY INVALID_TARGET LATEST bad,target"),
    ]
    for line, want in cases:
        r.send(line)
        got = [l for l in barrier(r) if l.startswith("FAIL ")]
        assert len(got) == 1 and got[0].startswith(want + " "), (line, got)


def test_history_of_a_channel_one_left_is_refused(chat):
    srv, r, _ = chat
    r.send("PART #lobby")
    r.send("CHATHISTORY LATEST #lobby * 5")
    got = [l for l in barrier(r) if l.startswith("FAIL ")]
    assert got == ["FAIL CHATHISTORY INVALID_TARGET LATEST #lobby :Messages could not be "
                   "retrieved"]


def test_unknown_msgid_and_private_target_give_empty_batches(chat):
    srv, r, _ = chat
    assert history(r, "BEFORE #lobby msgid=nosuchid 5") == []
    # Private history is shown only to its two parties, which takes accounts to know.
    r.send("PRIVMSG alice :secret")
    barrier(r)
    mallory = cap_client(srv.port, "mallory", HISTORY_CAPS)
    assert history(mallory, "LATEST alice * 10") == []
    assert history(r, "LATEST alice * 10") == []


# --- persistence ---------------------------------------------------------------------------


def test_history_survives_a_restart(server_factory):
    srv = server_factory()
    alice = Client(srv.port, "alice")
    alice.expect(is_numeric("366"))
    say(alice, 3)
    alice.close()
    assert srv.stop() == 0
    srv2 = server_factory()
    bob = cap_client(srv2.port, "bob", "batch")
    _, inside = batch_of(bob)
    assert texts(inside) == ["line 0", "line 1", "line 2"]


def test_kill_9_mid_burst_loses_nothing_anyone_received(server_factory):
    """10,000 messages sent as fast as the server takes them, in chunks of 100; kill -9
    while they flow. Every message the receiver got is in the store after restart, and paging
    through the history returns them in the order they were sent."""
    srv = Server(FAST)  # not the factory's: this one is meant to die
    try:
        receiver = cap_client(srv.port, "receiver", "message-tags")
        sender = Client(srv.port, "sender")
        sender.expect(is_numeric("366"))
        total = 10000

        def send_all():
            try:
                for base in range(0, total, 100):
                    sender.sock.sendall(b"".join(b"PRIVMSG #lobby :burst %d\r\n" % i
                                                 for i in range(base, base + 100)))
                    time.sleep(0.005)
            except OSError:
                pass  # the server died under us, as planned

        t = threading.Thread(target=send_all)
        t.start()
        got = []
        while len(got) < 3000:
            got.append(Msg(receiver.expect(is_command("PRIVMSG", "sender"))))
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait()
        t.join(TIMEOUT)
        # Whatever was already on its way to the receiver counts as received too.
        for line in receiver.wait_closed():
            if is_command("PRIVMSG", "sender")(line):
                got.append(Msg(line))
    finally:
        srv.stop()
        os.unlink(srv.log_path)
    received = [m.text for m in got]
    assert received == ["burst %d" % i for i in range(len(received))]
    assert len(received) < total, "the kill came too late to test anything"

    # The store is history.db plus history.journal, the rows not yet committed to it (about a
    # second's worth), which the restart puts back; after it, the db has every message.
    journal = os.path.getsize(os.path.join("data", "history.journal"))
    srv2 = server_factory(*FAST)
    reader = cap_client(srv2.port, "reader", HISTORY_CAPS)
    replay = history(reader, "AFTER #lobby timestamp=2000-01-01T00:00:00.000Z 100")
    while True:
        more = history(reader, "AFTER #lobby msgid=%s 100" % tags_of(replay[-1].line)["msgid"])
        if not more:
            break
        replay += more
    assert texts(replay) == ["burst %d" % i for i in range(len(replay))]
    assert len(replay) >= len(received)
    # The port listens before the store is opened: look at the db once the server answered.
    db = sqlite3.connect(os.path.join("data", "history.db"))
    stored_ids = {row[0] for row in db.execute("SELECT msgid FROM messages")}
    db.close()
    missing = [m.text for m in got if tags_of(m.line)["msgid"] not in stored_ids]
    assert missing == []
    print("kill -9 after %d received; %d stored; journal %d bytes" %
          (len(received), len(replay), journal))


def journal_record(row_id, ms, target, msgid, line, tags=""):
    """One record of history.journal, as src/server/journal.h describes it."""
    body = struct.pack("<qq", row_id, ms)
    for field in (target, "", "", msgid, tags, line):
        data = field.encode() + b"\0"
        body += struct.pack("<I", len(data)) + data
    h = 2166136261  # FNV-1a, 32 bits
    for b in body:
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return struct.pack("<II", len(body), h) + body


def test_journal_left_by_a_crash_is_put_back(server_factory):
    """Rows in history.journal (stored and maybe delivered, not yet committed when the server
    died) go back into the store at start; a record cut short by the crash, and what follows
    it, are dropped; new messages come after the put-back ones."""
    srv = server_factory()
    alice = Client(srv.port, "alice")
    alice.expect(is_numeric("366"))
    say(alice, 1, "committed")
    alice.close()
    assert srv.stop() == 0
    assert os.path.getsize(os.path.join("data", "history.journal")) == 0  # a clean stop commits
    now = int(time.time() * 1000)
    records = [journal_record(1000 + i, now + i, "#lobby", "crash-%d" % i,
                              ":alice!~alice@127.0.0.1 PRIVMSG #lobby :journal %d" % i)
               for i in range(3)]
    torn = records[2][:len(records[2]) - 7]
    with open(os.path.join("data", "history.journal"), "wb") as f:
        f.write(records[0] + records[1] + torn)
    srv2 = server_factory()
    carol = cap_client(srv2.port, "carol", HISTORY_CAPS)
    carol.send("PRIVMSG #lobby :after the crash")
    barrier(carol)
    kept = history(carol, "LATEST #lobby * 100")
    assert "history: 2 messages put back from history.journal" in srv2.read_log()
    assert texts(kept) == ["committed 0", "journal 0", "journal 1", "after the crash"]
    assert [tags_of(m.line)["msgid"] for m in kept[1:3]] == ["crash-0", "crash-1"]
    with open(os.path.join("data", "history.journal"), "rb") as f:
        assert b"crash-" not in f.read()  # committed at start: the journal started over


def test_sealed_journal_segments_left_by_a_crash_are_put_back(server_factory):
    """The journal is sealed into history.journal.N about once a second and each sealed
    segment deleted once its rows are committed; a crash can leave several. At start every
    segment goes back in, oldest first, then the live history.journal; then they are gone."""
    srv = server_factory()
    assert srv.stop() == 0
    now = int(time.time() * 1000)

    def rec(i):
        return journal_record(2000 + i, now + i, "#lobby", "seg-%d" % i,
                              ":alice!~alice@127.0.0.1 PRIVMSG #lobby :segment %d" % i)

    segments = {"history.journal.7": rec(0) + rec(1), "history.journal.8": rec(2),
                "history.journal": rec(3)}
    for name, data in segments.items():
        with open(os.path.join("data", name), "wb") as f:
            f.write(data)
    srv2 = server_factory()
    carol = cap_client(srv2.port, "carol", HISTORY_CAPS)
    kept = history(carol, "LATEST #lobby * 100")
    assert "history: 4 messages put back from history.journal" in srv2.read_log()
    assert texts(kept) == ["segment 0", "segment 1", "segment 2", "segment 3"]
    assert not os.path.exists(os.path.join("data", "history.journal.7"))
    assert not os.path.exists(os.path.join("data", "history.journal.8"))
    # Committed at start: the journal started over (carol's JOIN may be in it since).
    with open(os.path.join("data", "history.journal"), "rb") as f:
        assert b"seg-" not in f.read()


def test_the_journal_is_sealed_and_committed_while_chat_goes_on(server_factory):
    """Under steady traffic the live journal is sealed and committed about once a second: the
    rows reach history.db without a stop, and no sealed segment piles up."""
    srv = server_factory(*FAST)
    alice = Client(srv.port, "alice")
    alice.expect(is_numeric("366"))
    db_path = os.path.join("data", "history.db")
    deadline = time.time() + TIMEOUT
    i = 0
    while True:
        say(alice, 1, "steady %d" % i)
        i += 1
        db = sqlite3.connect(db_path)
        committed = db.execute("SELECT count(*) FROM messages").fetchone()[0]
        db.close()
        if committed >= 3:
            break
        assert time.time() < deadline, "nothing committed while the server ran"
        time.sleep(0.2)
    sealed = [n for n in os.listdir("data") if n.startswith("history.journal.")]
    assert len(sealed) <= 2, sealed  # at most the ones being committed right now
    assert srv.stop() == 0
    assert [n for n in os.listdir("data") if n.startswith("history.journal.")] == []
    assert os.path.getsize(os.path.join("data", "history.journal")) == 0


# --- retention -----------------------------------------------------------------------------


def test_retention_by_count(server_factory):
    srv = server_factory("--history-max", "3", *FAST)
    alice = cap_client(srv.port, "alice", HISTORY_CAPS)
    say(alice, 10)
    alice.close()
    srv.stop()
    # Retention runs at start-up (and each minute on the channels stored to).
    srv2 = server_factory("--history-max", "3", *FAST)
    bob = cap_client(srv2.port, "bob", HISTORY_CAPS)
    assert texts(history(bob, "LATEST #lobby * 100")) == ["line 7", "line 8", "line 9"]
    # Channel events (event-playback) are not counted with the messages (alice's QUIT did
    # not push "line 7" out), and are kept to as many as the messages, none older than them.
    ev = cap_client(srv2.port, "ev", HISTORY_CAPS + " draft/event-playback")
    everything = history(ev, "LATEST #lobby * 100")
    assert [m.text for m in everything if m.command == "PRIVMSG"] == texts(
        history(bob, "LATEST #lobby * 100"))
    assert [m.command for m in everything][:1] == ["PRIVMSG"]


def test_retention_by_age(server_factory):
    srv = server_factory()
    alice = Client(srv.port, "alice")
    alice.expect(is_numeric("366"))
    say(alice, 1)
    alice.close()
    srv.stop()
    db = sqlite3.connect(os.path.join("data", "history.db"))
    old_ms = int((time.time() - 40 * 86400) * 1000)
    db.execute("INSERT INTO messages(target, time_ms, msgid, line) VALUES "
               "('#lobby', ?, 'old-1', ':x!~x@h PRIVMSG #lobby :forty days old')", (old_ms,))
    db.commit()
    db.close()
    srv2 = server_factory("--history-days", "30")
    bob = cap_client(srv2.port, "bob", HISTORY_CAPS)
    assert texts(history(bob, "LATEST #lobby * 100")) == ["line 0"]


# --- history off and bad data directories ------------------------------------------------


def test_history_off(server_factory):
    srv = server_factory("--history", "off")
    c = Client(srv.port, None)
    c.send("CAP LS 302")
    assert "draft/chathistory" not in cap_ls(c)
    c.send("CAP REQ :draft/chathistory")
    assert Msg(c.expect(is_command("CAP"))).params[1] == "NAK"
    c.send("NICK c")
    c.send("USER c 0 * :c")
    c.send("CAP END")
    isupport = " ".join(take_until(c, is_numeric("366")))
    assert "CHATHISTORY=" not in isupport
    c.send("PRIVMSG #lobby :not kept")
    c.send("CHATHISTORY LATEST #lobby * 5")
    assert any(is_numeric("421")(l) for l in barrier(c))
    d = Client(srv.port, "d")
    d.expect(is_numeric("366"))
    assert not [l for l in barrier(d) if "PRIVMSG" in l]
    assert not os.path.exists(os.path.join("data", "history.db"))  # accounts.db only


def start_fails(*args):
    p = subprocess.run([SERVER_BIN, "--bind", "127.0.0.1", "--port", str(free_port())] + ROOT_ARGS +
                       list(args), stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=TIMEOUT)
    return p.returncode, p.stderr.decode()


def test_damaged_store_is_refused_at_start():
    os.mkdir("data")
    with open("data/history.db", "wb") as f:
        f.write(b"this is not a database, it is junk" * 200)
    rc, err = start_fails()
    assert rc == 1
    assert "tcpchatd: cannot use the history store ./data/history.db: " in err
    assert "--history off" in err


def test_unusable_data_directory_is_refused_at_start():
    with open("occupied", "w") as f:
        f.write("a file, not a directory")
    rc, err = start_fails("--data-dir", "occupied")
    assert rc == 1 and "cannot use the history store occupied/history.db" in err
    rc, err = start_fails("--data-dir", "/proc/no/such/place")
    assert rc == 1 and "cannot create data directory /proc/no/such/place" in err


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs of the test's own (mounting needs root, as CI has; else skipped)."""
    path = tmp_path / "small"
    path.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(path)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield str(path)
    subprocess.run(["umount", "-l", str(path)], check=False)


def fill(path):
    """Writes a file until the file system is full; returns its name."""
    name = os.path.join(path, "filler")
    with open(name, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    return name


def test_disk_full_keeps_chat_going_and_storing_resumes(server_factory, small_disk):
    """The store's disk fills up while the server runs: messages keep flowing to everyone,
    the failure is logged loudly, the sender warned, and storing resumes once there is space
    again. What was
    said while the disk was full is not in the history (docs/server-behaviour.md)."""
    srv = server_factory("--data-dir", small_disk, *FAST)
    alice = Client(srv.port, "alice")
    alice.expect(is_numeric("366"))
    bob = Client(srv.port, "bob")
    bob.expect(is_numeric("366"))
    say(alice, 1, "before")
    bob.expect("before 0")
    filler = fill(small_disk)
    big = "x" * 400
    for i in range(300):
        alice.send("PRIVMSG #lobby :full %d %s" % (i, big))
    # The sender is told, once for the channel in this episode (issue 21: only the log did).
    warns = [Msg(l) for l in barrier(alice) if Msg(l).command == "WARN"]
    assert [w.params[:3] for w in warns] == [["PRIVMSG", "MESSAGE_NOT_STORED", "#lobby"]], warns
    for i in range(300):
        assert Msg(bob.expect(is_command("PRIVMSG", "alice"))).text.startswith("full %d " % i)
    deadline = time.time() + TIMEOUT
    while "CANNOT STORE MESSAGES" not in srv.read_log():
        assert time.time() < deadline, srv.read_log()
        time.sleep(0.1)
    os.unlink(filler)
    say(alice, 1, "after")
    bob.expect("after 0")
    deadline = time.time() + TIMEOUT
    while "storing again" not in srv.read_log():
        assert time.time() < deadline, srv.read_log()
        time.sleep(0.1)
    carol = cap_client(srv.port, "carol", HISTORY_CAPS)
    kept = texts(history(carol, "LATEST #lobby * 100"))
    assert kept[0] == "before 0" and kept[-1] == "after 0"
    assert not any(t.startswith("full 29") for t in kept)  # the last ones, surely lost
    carol.send("PRIVMSG #lobby :still chatting")
    bob.expect("still chatting")


def test_a_channel_history_belongs_to_its_lifetime(server_factory):
    """Issue 21.2: an owner made #vault +s+i+k, talked and left; a stranger joined the empty
    name, became its creator, and read the old lines (replay and CHATHISTORY). History belongs
    to one lifetime of a channel: the new #vault starts empty. A server stop does not end a
    lifetime (the members did not leave), and the default channel is the server's own."""
    srv = server_factory()
    owner = cap_client(srv.port, "owner", HISTORY_CAPS)
    owner.send("JOIN #vault")
    owner.expect(is_numeric("366"))
    owner.send("MODE #vault +sik sekrit")
    owner.expect(is_command("MODE", "owner"))
    say(owner, 3, "secret", "#vault")
    say(owner, 1, "lobby talk")
    assert texts(history(owner, "LATEST #vault * 10")) == ["secret 0", "secret 1", "secret 2"]
    owner.send("PART #vault")
    owner.expect(is_command("PART", "owner"))
    stranger = cap_client(srv.port, "stranger", "batch server-time")  # gets the join replay
    stranger.send("JOIN #vault")
    lines = take_until(stranger, is_numeric("366"))
    assert not [l for l in barrier(stranger) + lines if "secret" in l]
    asker = cap_client(srv.port, "asker", HISTORY_CAPS)
    asker.send("JOIN #vault")
    asker.expect(is_numeric("366"))
    assert history(asker, "LATEST #vault * 10") == []
    say(asker, 1, "new era", "#vault")
    assert texts(history(asker, "LATEST #vault * 10")) == ["new era 0"]
    # The default channel keeps its history when it empties.
    for c in (owner, stranger, asker):
        c.send("QUIT")
        c.wait_closed()
    late = cap_client(srv.port, "late", HISTORY_CAPS)
    assert "lobby talk 0" in texts(history(late, "LATEST #lobby * 10"))


def test_a_server_stop_does_not_end_a_channel_lifetime(server_factory):
    srv = server_factory()
    alice = Client(srv.port, "alice")
    alice.expect(is_numeric("366"))
    alice.send("JOIN #keep")
    alice.expect(is_numeric("366"))
    say(alice, 2, "kept", "#keep")
    assert srv.stop() == 0  # alice is still in #keep when the server stops
    alice.close()
    srv2 = server_factory()
    bob = cap_client(srv2.port, "bob", HISTORY_CAPS)
    bob.send("JOIN #keep")
    bob.expect(is_numeric("366"))
    assert texts(history(bob, "LATEST #keep * 10")) == ["kept 0", "kept 1"]
