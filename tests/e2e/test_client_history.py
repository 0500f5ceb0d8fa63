"""End-to-end tests of how tcpchat shows replayed history (a chathistory batch the server sends
on JOIN): with each line's original time, marked "[history]", between a header and a footer,
while live lines look as always. Against the real tcpchatd, and against a scripted fake server
for what tcpchatd does not send (old dates, other batch types, garbage batches).

Nothing here sleeps for correctness: every wait polls the pane or the socket."""
import calendar
import time

import pytest

from conftest import Client
# The tmux pane and the scripted server of the client tests; fake and pane are their
# fixtures, imported so that pytest finds them here.
from test_client import PROMPT, fake, joined, pane, pane_line  # noqa: F401

HISTORY = "[history] "


def local_stamp(iso, dated=False):
    """What tcpchat shows for an ISO 8601 UTC time: "[HH:MM] ", or with the date."""
    t = calendar.timegm(time.strptime(iso.rstrip("Z").split(".")[0], "%Y-%m-%dT%H:%M:%S"))
    return time.strftime("[%Y-%m-%d %H:%M] " if dated else "[%H:%M] ", time.localtime(t))


def tag(line, key):
    """The value of tag key on a raw line, or None."""
    if not line.startswith("@"):
        return None
    for item in line[1:].split(" ", 1)[0].split(";"):
        k, _, v = item.partition("=")
        if k == key:
            return v
    return None


class TimedUser(Client):
    """A raw user with server-time and echo-message: its own messages come back stamped with
    the time the server stored them."""

    def __init__(self, port, nick):
        super().__init__(port, None)
        self.send("CAP REQ :server-time echo-message")
        self.send("NICK " + nick)
        self.send("USER %s 0 * :%s" % (nick, nick))
        self.expect(lambda l: " ACK " in l)
        self.send("CAP END")
        self.expect(lambda l: " 366 " in l)  # auto-joined to #lobby
        self.nick = nick

    def say(self, text):
        """Says text in #lobby; returns the server's @time of it."""
        self.send("PRIVMSG #lobby :" + text)
        echo = self.expect(lambda l: (" PRIVMSG #lobby :%s" % text) in l
                           and (":%s!" % self.nick) in l)
        return tag(echo, "time")


@pytest.fixture
def timed_user(server):
    users = []

    def make(nick):
        u = TimedUser(server.port, nick)
        users.append(u)
        return u

    yield make
    for u in users:
        u.close()


def history_block(text, channel="#lobby"):
    """The pane lines from the history header to its footer, both included."""
    lines = text.split("\n")
    start = [i for i, l in enumerate(lines) if ("--- history of %s ---" % channel) in l]
    end = [i for i, l in enumerate(lines) if ("--- end of history of %s" % channel) in l]
    assert len(start) == 1 and len(end) == 1 and start[0] < end[0], text
    return lines[start[0]:end[0] + 1]


# The real server: three lines said before tcpchat joins come back as history, then live.
def test_history_from_tcpchatd(pane, timed_user):
    alice = timed_user("alice")
    said = [("first words", alice.say("first words")),
            ("second thoughts", alice.say("second thoughts")),
            ("third time lucky", alice.say("third time lucky"))]
    for _, when in said:
        assert when, "tcpchatd sent no server-time"

    bob = pane("bob")
    joined(bob)
    text = bob.wait_for("--- end of history of #lobby (3 messages) ---")
    block = history_block(text)
    assert len(block) == 5, block
    for line, (words, when) in zip(block[1:-1], said):
        # Dated only if midnight passed between saying and showing.
        assert line.rstrip() in (local_stamp(when) + HISTORY + "<alice> " + words,
                                 local_stamp(when, dated=True) + HISTORY + "<alice> " + words)
    # The history follows our JOIN, which is not itself history.
    assert text.index("--> You joined #lobby") < text.index("--- history of #lobby ---")
    assert HISTORY not in pane_line(bob, "--> You joined #lobby")

    # A live line after it is shown as always, with the time it was said.
    when = alice.say("live and kicking")
    line = bob.wait_for("<alice> live and kicking") and pane_line(bob, "<alice> live and kicking")
    assert line.rstrip() == local_stamp(when) + "<alice> live and kicking", line
    assert bob.input_line() == PROMPT.rstrip()


# An empty history (a channel where nothing was said yet) shows nothing at all.
def test_no_history_no_header(pane, timed_user):
    alice = timed_user("alice")
    bob = pane("bob")
    joined(bob)
    alice.expect(lambda l: " :bob!" in l and " JOIN " in l)
    alice.say("now it starts")
    bob.wait_for("<alice> now it starts")
    assert "history" not in bob.text()


def negotiate(fake, nick):
    """Plays a server that offers batch and server-time; returns once tcpchat joined."""
    fake.expect("USER %s " % nick)
    fake.send(":fake.server CAP * LS :server-time batch message-tags echo-message")
    req = fake.expect("CAP REQ ")
    asked = req.split(" :", 1)[1].split()
    assert "batch" in asked and "server-time" in asked, asked
    fake.send(":fake.server CAP %s ACK :%s" % (nick, " ".join(asked)))
    fake.expect("CAP END")
    fake.welcome(nick)


# History from another day carries its date; our own old messages and old events in it
# change nothing (they are not echoes, not our parts).
def test_history_dates_and_no_side_effects(fake):
    bob = fake.pane("bob")
    negotiate(fake, "bob")
    joined(bob)
    old, today = "2001-02-03T04:05:06.789Z", time.strftime("%Y-%m-%dT%H:%M:%S.000Z",
                                                           time.gmtime())
    fake.send(":fake.server BATCH +x1 chathistory #lobby")
    fake.send("@batch=x1;time=%s :alice!a@h PRIVMSG #lobby :from long ago" % old)
    fake.send("@batch=x1;time=%s :bob!u@h PRIVMSG #lobby :my old words" % old)
    fake.send("@batch=x1;time=%s :bob!u@h PART #lobby :old part" % old)
    fake.send("@batch=x1;time=%s :alice!a@h PRIVMSG #lobby :from today" % today)
    fake.send(":fake.server BATCH -x1")
    text = bob.wait_for("--- end of history of #lobby (4 messages) ---")
    block = history_block(text)
    assert block[1].rstrip() == local_stamp(old, dated=True) + HISTORY + "<alice> from long ago"
    assert block[2].rstrip() == local_stamp(old, dated=True) + HISTORY + "<bob> my old words"
    assert block[3].rstrip().endswith(HISTORY + "<-- You left #lobby (old part)")
    # Today's line has no date (unless midnight passed since the line was made).
    assert block[4].rstrip() in (local_stamp(today) + HISTORY + "<alice> from today",
                                 local_stamp(today, dated=True) + HISTORY + "<alice> from today")
    # Still in #lobby, and a typed line goes there.
    assert bob.input_line() == PROMPT.rstrip()
    fake.send(":alice!a@h PRIVMSG #lobby :live one")
    line = bob.wait_for("<alice> live one") and pane_line(bob, "<alice> live one")
    assert HISTORY not in line
    bob.line("still here")
    fake.expect("PRIVMSG #lobby :still here")


# Lines of other batch types are shown as usual; garbage and unterminated batches break
# nothing, and a good history batch after them is still shown as history.
def test_other_and_garbage_batches(fake):
    bob = fake.pane("bob")
    negotiate(fake, "bob")
    joined(bob)
    fake.send(":fake.server BATCH +n1 netsplit irc.a irc.b")
    fake.send("@batch=n1 :carol!c@h QUIT :irc.a irc.b")
    fake.send(":fake.server BATCH -n1")
    bob.wait_for("<-- carol quit (irc.a irc.b)")
    assert HISTORY not in pane_line(bob, "<-- carol quit")
    for junk in ("BATCH", "BATCH +", "BATCH -", "BATCH +only-a-ref", "BATCH -never-opened",
                 "BATCH +%s chathistory #lobby" % ("r" * 300), "BATCH :+", "BATCH ++ +"):
        fake.send(":fake.server " + junk)
    # Many history batches that are never closed: only the newest few are remembered.
    for i in range(40):
        fake.send(":fake.server BATCH +open%d chathistory #lobby" % i)
    fake.send("@batch=open0 :alice!a@h PRIVMSG #lobby :forgotten batch")
    fake.send("@batch=open39 :alice!a@h PRIVMSG #lobby :newest open batch")
    fake.send("@batch=nosuch :alice!a@h PRIVMSG #lobby :unknown batch")
    fake.send("@batch=%s :alice!a@h PRIVMSG #lobby :long ref" % ("r" * 300))
    bob.wait_for("long ref")
    assert HISTORY not in pane_line(bob, "forgotten batch")
    assert HISTORY in pane_line(bob, "newest open batch")
    assert HISTORY not in pane_line(bob, "unknown batch")
    assert HISTORY not in pane_line(bob, "long ref")
    assert "BATCH" not in bob.text()

    fake.send(":fake.server BATCH +good chathistory #lobby")
    fake.send("@batch=good;time=2001-02-03T04:05:06.000Z :alice!a@h PRIVMSG #lobby :kept")
    fake.send(":fake.server BATCH -good")
    fake.send(":alice!a@h PRIVMSG #lobby :live again")
    text = bob.wait_for("<alice> live again")
    assert "--- end of history of #lobby (1 message) ---" in text
    assert pane_line(bob, "<alice> kept").rstrip().endswith(HISTORY + "<alice> kept")
    assert HISTORY not in pane_line(bob, "live again")
    bob.line("/quit")
    fake.expect("QUIT")
    fake.conn.close()
    assert bob.exit_status() == 0
