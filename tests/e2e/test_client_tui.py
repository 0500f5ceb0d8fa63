"""End-to-end tests of the terminal client's full-screen mode (the default on a terminal):
tcpchat in a tmux pane against the real tcpchatd, raw-socket IRC users on the other side.
What the user sees is read with capture-pane: the topic line at the top, the shown window's
lines, the status line and the input line at the bottom.

Every wait polls the pane until what it waits for appears, bounded by conftest.TIMEOUT."""
import re
import shutil
import time

import pytest

from conftest import TIMEOUT
from test_client import POLL, Pane, Proxy

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

WIDTH, HEIGHT = 100, 30


class Screen(Pane):
    """tcpchat full-screen in a tmux pane."""

    def __init__(self, port, nick, width=WIDTH, height=HEIGHT, options=()):
        super().__init__(port, nick, width=width, height=height, options=options,
                         fullscreen=True)

    def rows(self):
        """The screen as it is now, one string per row (no scroll-back: curses has none)."""
        out = self._tmux("capture-pane", "-p", "-t", "main")
        return [r.rstrip() for r in out.split("\n")]

    def screen(self):
        return "\n".join(self.rows())

    def wait_screen(self, pred, timeout=TIMEOUT):
        """Polls the screen until pred (a substring, or a function of the rows) holds."""
        if isinstance(pred, str):
            needle = pred
            pred = lambda rows: needle in "\n".join(rows)  # noqa: E731
        deadline = time.time() + timeout
        while True:
            rows = self.rows()
            if pred(rows):
                return rows
            if time.time() > deadline:
                raise AssertionError("screen never showed what we waited for:\n" +
                                     "\n".join(rows))
            time.sleep(POLL)

    def bottom(self, rows=None):
        """(status line, input line): the last two rows that are not blank."""
        rows = [r for r in (rows or self.rows()) if r]
        return (rows[-2], rows[-1]) if len(rows) >= 2 else ("", "")

    def status(self):
        return self.bottom()[0]

    def wait_status(self, needle, timeout=TIMEOUT):
        return self.wait_screen(lambda rows: needle in self.bottom(rows)[0], timeout=timeout)

    def page_up_until(self, needle):
        """PgUp until needle is on the screen (a window's older lines, fetched or not)."""
        for _ in range(40):
            if needle in self.screen():
                return
            self.keys("PPage")
            time.sleep(POLL)
        self.wait_screen(needle, timeout=1)

    def wait_input(self, text):
        return self.wait_screen(lambda rows: self.bottom(rows)[1] == text)

    def keys(self, *keys):
        self._tmux("send-keys", "-t", "main", *keys)


@pytest.fixture
def screen(server):
    screens = []

    def make(nick, port=None, **kw):
        s = Screen(port or server.port, nick, **kw)
        screens.append(s)
        return s

    yield make
    texts = []
    for s in screens:
        try:
            texts.append(s.text())
        except Exception:  # noqa: BLE001 - the pane may be gone already
            pass
        s.kill()
    for text in texts:
        for bad in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
            assert bad not in text, text


def in_lobby(s, joined_shown=True):
    """Waits until the client joined #lobby and shows its window."""
    if joined_shown:
        s.wait_screen("--> You joined #lobby")
    s.wait_status("[2:#lobby]")
    s.wait_input("#lobby>")


# Windows per channel and private conversation on the status line; Alt-N, Ctrl-N/P and /win
# switch; unread counts and the mention mark; /join of a joined channel shows its window.
def test_windows_activity_and_switching(screen, connect):
    alice = screen("alice")
    in_lobby(alice)
    bob = connect("bob")
    bob.expect(" 366 ")
    alice.line("/join #dev")
    alice.wait_status("[3:#dev]")
    alice.wait_input("#dev>")
    assert "2:#lobby" in alice.status()
    bob.send("PRIVMSG #lobby :nobody reads this yet")
    bob.send("PRIVMSG #lobby :alice: but this is for you")
    alice.wait_status("2:#lobby(2!)")
    # The lines went to #lobby's window, not the one shown.
    assert "nobody reads this" not in alice.screen()

    alice.keys("M-2")
    rows = alice.wait_status("[2:#lobby]")
    text = "\n".join(rows)
    assert "<bob> nobody reads this yet" in text and "<bob> alice: but this is for you" in text
    assert "3:#dev" in alice.status() and "(2" not in alice.status()
    alice.wait_input("#lobby>")
    # Plain text goes to the window shown.
    alice.line("hello lobby")
    bob.expect("PRIVMSG #lobby :hello lobby")

    alice.keys("C-n")
    alice.wait_status("[3:#dev]")
    alice.wait_input("#dev>")
    assert "nobody reads this" not in alice.screen()
    alice.keys("C-p")
    alice.wait_status("[2:#lobby]")
    alice.line("/win 3")
    alice.wait_status("[3:#dev]")
    alice.line("/win 9")
    alice.wait_screen("There is no window 9")
    alice.line("/join #lobby")
    alice.wait_status("[2:#lobby]")
    alice.wait_input("#lobby>")
    alice.keys("M-1")
    alice.wait_status("[1:status]")

    # A private message opens a window of its own, marked as for us.
    bob.send("PRIVMSG alice :psst, a secret")
    alice.wait_status("4:bob(1!)")
    alice.keys("M-4")
    alice.wait_screen("*bob* psst, a secret")
    alice.wait_input("bob>")
    alice.line("the secret is safe")
    bob.expect("PRIVMSG bob :the secret is safe")


# /close closes the window of a private conversation or of a channel one has left (not of one
# one is in); the window before it is shown, and the status line no longer lists it.
def test_close_windows(screen, connect):
    alice = screen("alice")
    in_lobby(alice)
    bob = connect("bob")
    bob.expect(" 366 ")
    alice.line("/join #dev")
    alice.wait_status("[3:#dev]")
    alice.line("/close")
    alice.wait_screen("/part leaves a channel")
    alice.line("/part")
    alice.wait_status("[2:#lobby]")  # the client goes back to a channel it is in
    alice.keys("M-3")  # #dev's window stays, with what was said there
    alice.wait_status("[3:#dev]")
    alice.wait_screen("You left #dev")
    alice.line("/close")
    alice.wait_status("[2:#lobby]")
    alice.wait_input("#lobby>")
    assert "#dev" not in alice.status()
    bob.send("PRIVMSG alice :hello there")
    alice.wait_status("3:bob(1!)")
    alice.keys("M-3")
    alice.wait_input("bob>")
    alice.line("/close")
    alice.wait_status("[2:#lobby]")
    assert "bob" not in alice.status()
    alice.wait_screen("Closed the conversation with bob")


# The topic line shows the shown channel's topic, set before joining or while in it.
def test_topic_line(screen, connect):
    alice = screen("alice")
    in_lobby(alice)
    alice.line("/topic #lobby the lobby's topic")
    alice.wait_screen(lambda rows: rows[0].startswith(" #lobby(+nt): the lobby's topic"))
    bob = connect("bob")
    bob.expect(" 366 ")
    bob.send("JOIN #topical")
    bob.expect(" 366 ")
    bob.send("TOPIC #topical :all about topics")
    bob.expect(" TOPIC ")
    alice.line("/join #topical")
    alice.wait_screen(lambda rows: rows[0].startswith(" #topical(+nt): all about topics"))
    alice.keys("M-2")
    alice.wait_screen(lambda rows: rows[0].startswith(" #lobby(+nt): the lobby's topic"))


# F2 (or /nicklist) shows the channel's members at the right, and hides them again.
def test_nick_list_toggle(screen, connect):
    alice = screen("alice")
    in_lobby(alice)
    bob = connect("bobby")
    bob.expect(" 366 ")
    alice.wait_screen("bobby joined")

    def shown(rows):
        return [r[WIDTH - 16:].strip() for r in rows[1:-2] if len(r) > WIDTH - 16]

    def listed(rows):  # alice made #lobby: its operator, marked, and first
        names = shown(rows)
        return "@alice" in names and "bobby" in names

    alice.keys("F2")
    alice.wait_screen(listed)
    alice.keys("F2")
    alice.wait_screen(lambda rows: not listed(rows))
    alice.line("/nicklist")
    alice.wait_screen(listed)
    # MODE changes show: operators first, then the voiced, then the rest.
    carol = connect("carol")
    carol.expect(" 366 ")
    alice.line("/mode +v carol")
    alice.wait_screen(lambda rows: [n for n in shown(rows) if n.strip("@+") in
                                    ("alice", "bobby", "carol")] == ["@alice", "+carol", "bobby"])
    alice.line("/mode -v+o carol carol")
    alice.wait_screen(lambda rows: [n for n in shown(rows) if n.strip("@+") in
                                    ("alice", "bobby", "carol")] == ["@alice", "@carol", "bobby"])


# PgUp shows older lines; at the top the client fetches older history (CHATHISTORY BEFORE)
# than the 50 lines it got on joining, page by page, and PgDn comes back.
def test_scrollback_fetches_older_history(screen, connect):
    bob = connect("bob")
    bob.expect(" 366 ")
    for i in range(150):
        bob.send("PRIVMSG #lobby :message %03d" % i)
    bob.send("PING :sync")
    bob.expect("PONG")
    alice = screen("alice")
    in_lobby(alice, joined_shown=False)
    alice.wait_screen("<bob> message 149")
    assert "message 099" not in alice.screen()

    alice.page_up_until("<bob> message 100")
    alice.page_up_until("<bob> message 050")  # older than what the join brought: fetched
    alice.page_up_until("<bob> message 000")
    assert "more below" in alice.status()
    for _ in range(60):
        if "message 149" in alice.screen():
            break
        alice.keys("NPage")
        time.sleep(POLL)
    alice.wait_screen("<bob> message 149")
    alice.wait_screen(lambda rows: "more below" not in alice.bottom(rows)[0])


# A smaller terminal: the status and input lines stay the last two rows, nothing wider than
# the screen; a larger one again fills it.
def test_resize_keeps_the_layout(screen, connect):
    alice = screen("alice")
    in_lobby(alice)
    bob = connect("bob")
    bob.expect(" 366 ")
    bob.send("PRIVMSG #lobby :" + "a long line " * 20)
    alice.wait_screen("a long line a long")
    alice._tmux("resize-window", "-t", "main", "-x", "50", "-y", "12")

    def sane(rows, width, height):
        rows = rows[:height]
        return (len(rows) == height and "[2:#lobby]" in rows[height - 2]
                and rows[height - 1].startswith("#lobby>")
                and all(len(r) <= width for r in rows))

    alice.wait_screen(lambda rows: sane(rows, 50, 12))
    alice._tmux("resize-window", "-t", "main", "-x", "90", "-y", "25")
    alice.wait_screen(lambda rows: sane(rows, 90, 25))
    alice.line("still here")
    bob.expect("PRIVMSG #lobby :still here")


# The input line: Up brings back what was typed, emacs keys edit it, Tab completes nicks.
def test_input_history_and_completion(screen, connect):
    alice = screen("alice")
    in_lobby(alice)
    bob = connect("bob")
    bob.expect(" 366 ")
    alice.wait_screen("bob joined")
    alice.line("first line")
    bob.expect("PRIVMSG #lobby :first line")
    alice.line("second line")
    bob.expect("PRIVMSG #lobby :second line")
    alice.keys("Up")
    alice.wait_input("#lobby> second line")
    alice.keys("Up")
    alice.wait_input("#lobby> first line")
    alice.keys("Down")
    alice.wait_input("#lobby> second line")
    alice.keys("C-a")
    alice.type("my ")
    alice.keys("C-e")
    alice.type(" again")
    alice.wait_input("#lobby> my second line again")
    alice.keys("C-w")
    alice.wait_input("#lobby> my second line")
    alice.keys("C-u")
    alice.wait_input("#lobby>")
    alice.type("bo")
    alice.keys("Tab")
    alice.wait_input("#lobby> bob:")
    alice.type("hi")
    alice.keys("Enter")
    bob.expect("PRIVMSG #lobby :bob: hi")
    alice.type("/jo")
    alice.keys("Tab")
    alice.wait_input("#lobby> /join")


# /quit leaves the terminal as it was.
def test_quit_restores_the_terminal(screen):
    alice = screen("alice")
    in_lobby(alice)
    alice.line("/quit bye")
    assert alice.exit_status() == 0
    assert re.search(r"\[exit 0\]", alice.text())


# mIRC formatting becomes the terminal's attributes through curses (bold, colours), nick
# colours too; no control byte of the message reaches the screen; a link is shown as it is.
def test_formatting_nick_colours_and_links(screen, connect):
    alice = screen("alice")
    in_lobby(alice)
    bob = connect("bob")
    bob.expect(" 366 ")
    bob.send("PRIVMSG #lobby :\x02loud\x02 and \x0304red\x03 at https://example.org/a?b=c&d")
    alice.wait_screen("<bob> loud and red at https://example.org/a?b=c&d")
    styled = alice._tmux("capture-pane", "-p", "-e", "-t", "main")
    line = next(l for l in styled.split("\n") if "https://example.org" in l)
    # bold before "loud", a colour before "red", a colour for the nick.
    assert re.search(r"\x1b\[[0-9;]*1[0-9;]*mloud", line), repr(line)
    assert re.search(r"\x1b\[[0-9;]*[39][0-9][0-9;]*mred", line), repr(line)
    assert re.search(r"\x1b\[[0-9;]*3[0-9][0-9;]*mbob", line), repr(line)
    assert "\x02" not in styled and "\x03" not in styled


# A nick change and a quit show in the window of every channel the person was in, not only in
# the one shown.
def test_quit_and_nick_in_every_shared_window(screen, connect):
    alice = screen("alice")
    in_lobby(alice)
    bob = connect("bob")
    bob.expect(" 366 ")
    bob.send("JOIN #dev")
    bob.expect(" 366 ")
    alice.line("/join #dev")
    alice.wait_status("[3:#dev]")
    alice.wait_screen("--- Users on #dev:")
    bob.send("NICK robert")
    alice.wait_screen("--- bob is now known as robert")
    bob.send("QUIT :gone fishing")
    alice.wait_screen("<-- robert quit (Quit: gone fishing)")
    alice.keys("M-2")
    alice.wait_status("[2:#lobby]")
    text = alice.wait_screen("<-- robert quit (Quit: gone fishing)")
    assert "--- bob is now known as robert" in "\n".join(text)
    alice.keys("M-1")
    alice.wait_status("[1:status]")
    assert "robert" not in "\n".join(alice.rows()[1:-2])


# A message for us rings the terminal's bell when its window is not the one shown (tmux
# notes a bell in its window flag); in the window shown it is bold and quiet.
def test_bell_for_a_mention_elsewhere(screen, connect):
    alice = screen("alice")
    in_lobby(alice)
    bob = connect("bob")
    bob.expect(" 366 ")

    def bell():
        return alice._tmux("display", "-p", "-t", "main", "#{window_bell_flag}").strip()

    bob.send("PRIVMSG #lobby :alice: you are looking at this")
    alice.wait_screen("<bob> alice: you are looking at this")
    styled = alice._tmux("capture-pane", "-p", "-e", "-t", "main")
    line = next(l for l in styled.split("\n") if "you are looking" in l)
    assert re.search(r"\x1b\[[0-9;]*1[0-9;]*m", line), repr(line)  # bold
    assert bell() == "0"
    bob.send("PRIVMSG alice :but not at this")
    alice.wait_status("3:bob(1!)")
    deadline = time.time() + TIMEOUT
    while bell() != "1":
        assert time.time() < deadline, "no bell"
        time.sleep(POLL)


# While the connection is down the status line says so, counting down to the next try; once
# registered again the note goes, and the windows are as they were.
def test_status_line_while_reconnecting(screen, connect, server):
    relay = Proxy(server.port)
    try:
        alice = screen("alice", port=relay.port)
        in_lobby(alice)
        relay.refusing = True
        relay.cut()
        alice.wait_status("[disconnected; reconnecting in 2 s]")  # the second try's wait
        alice.wait_status("[disconnected; reconnecting in 1 s]")
        relay.refusing = False
        alice.wait_screen("Connected to 127.0.0.1 port %d again" % relay.port)
        alice.wait_screen(lambda rows: "[2:#lobby]" in self_status(alice, rows)
                          and "connect" not in self_status(alice, rows))
        bob = connect("bob")
        bob.send("PRIVMSG #lobby :welcome back")
        alice.wait_screen("<bob> welcome back")
    finally:
        relay.close()


# A server gone silent: once the keepalive PING is 3 s late, the status line says how long it
# has been silent, counting; when the server answers, the note goes.
def test_status_line_shows_the_lag_of_a_silent_server(screen, server):
    relay = Proxy(server.port)
    try:
        alice = screen("alice", port=relay.port, options=("--keepalive", "6"))
        in_lobby(alice)
        relay.freeze()
        alice.wait_status("[lag: no answer for ", timeout=TIMEOUT + 9)
        relay.thaw()  # before the keepalive gives up (12 s of silence)
        alice.wait_screen(lambda rows: "lag" not in self_status(alice, rows), timeout=TIMEOUT)
        assert "Disconnected" not in alice.screen()
    finally:
        relay.close()


def self_status(s, rows):
    return s.bottom(rows)[0]


# A private conversation follows the other person's nick change: its window is renamed, says
# so, and goes on (their messages, and what we type) under the new nick.
def test_query_window_follows_a_nick_change(screen, connect):
    alice = screen("alice")
    in_lobby(alice)
    bob = connect("bob")
    bob.expect(" 366 ")
    bob.send("PRIVMSG alice :psst")
    alice.wait_status("3:bob(1!)")
    alice.keys("M-3")
    alice.wait_input("bob>")
    bob.send("NICK robert")
    alice.wait_status("[3:robert]")
    alice.wait_input("robert>")
    alice.wait_screen("--- bob is now known as robert")
    bob.send("PRIVMSG alice :still me")
    alice.wait_screen("*robert* still me")
    assert "4:" not in alice.status()
    alice.line("hello robert")
    bob.expect("PRIVMSG robert :hello robert")
    alice.keys("M-2")
    alice.wait_status("[2:#lobby]")
    bob.send("PRIVMSG alice :over here")
    alice.wait_status("3:robert(1!)")


# PgUp at the top of a private conversation's window fetches its older messages too
# (CHATHISTORY BEFORE; the server keeps private history between accounts).
def talked_before(screen, server, tmp_path, said, answer=None):
    """Accounts alice and bob; alice (a raw client, returned) says each of said to bob, who
    answers with answer, before bob's client (full-screen, logged in, returned) runs."""
    from test_accounts import PASSWORD, register_and_leave, sasl_client
    from test_client import password_file
    register_and_leave(server, "alice")
    register_and_leave(server, "bob")
    alice = sasl_client(server.port, "alice", PASSWORD)
    earlier = sasl_client(server.port, "bob", PASSWORD)  # bob, before this client
    for text in said:
        alice.send("PRIVMSG bob :" + text)
    earlier.expect(lambda l: l.endswith(said[-1]))
    if answer:
        earlier.send("PRIVMSG alice :" + answer)
        alice.expect(lambda l: l.endswith(answer))
    earlier.send("QUIT")
    earlier.wait_closed()
    bob = screen("bob", options=("--sasl-file", password_file(tmp_path, PASSWORD)))
    in_lobby(bob)
    return alice, bob


def test_scrollback_of_a_private_conversation(screen, server, tmp_path):
    alice, bob = talked_before(screen, server, tmp_path,
                               ["private %03d" % i for i in range(150)])
    alice.send("PRIVMSG bob :and now")
    bob.wait_status("3:alice(1!)")
    bob.keys("M-3")
    bob.wait_screen("*alice* and now")
    assert "private 149" not in bob.screen()

    bob.page_up_until("*alice* private 149")
    bob.page_up_until("*alice* private 050")
    bob.page_up_until("*alice* private 000")
    assert "more below" in bob.status()


# /query of someone we talked with before this client ran shows that conversation's latest
# messages, as joining a channel shows its latest (the server keeps them between accounts).
def test_a_new_query_window_shows_the_conversation_so_far(screen, server, tmp_path):
    _, bob = talked_before(screen, server, tmp_path, ["yesterday %d" % i for i in range(3)],
                           "see you tomorrow")
    bob.line("/query alice")
    bob.wait_screen("-> *alice* see you tomorrow")  # ours, as the history shows it
    text = bob.screen()
    assert text.index("*alice* yesterday 0") < text.index("*alice* yesterday 2") \
        < text.index("-> *alice* see you tomorrow"), text
    assert text.count("yesterday 1") == 1, text


# The status line names us with our user modes and marks us away; the topic line shows the
# channel's modes (not a key's secret), following MODE changes, without the client's own
# question for them showing as a line.
def test_status_shows_our_modes_away_and_channel_modes(screen):
    alice = screen("alice")
    in_lobby(alice)
    alice.wait_status("[alice]")
    alice.wait_screen(lambda rows: rows[0].startswith(" #lobby(+nt)"))
    assert "--- Modes of #lobby" not in alice.screen()
    alice.line("/mode alice +i")
    alice.wait_status("[alice(+i)]")
    alice.line("/mode +mk secret")
    alice.wait_screen(lambda rows: rows[0].startswith(" #lobby(+ntmk)"))
    assert "secret" not in alice.rows()[0]
    alice.line("/mode -m")
    alice.wait_screen(lambda rows: rows[0].startswith(" #lobby(+ntk)"))
    alice.line("/mode #lobby")  # asked for: shown
    alice.wait_screen("--- Modes of #lobby: +ntk")
    alice.line("/nick alicia")
    alice.wait_status("[alicia(+i)]")
    alice.line("/away out for lunch")
    alice.wait_status("[alicia(+i)] (zZzZ)")
    alice.line("/away")
    alice.wait_screen(lambda rows: "zZzZ" not in alice.bottom(rows)[0]
                      and "[alicia(+i)]" in alice.bottom(rows)[0])


# The keys and short commands an irssi user reaches for: Alt-Left/Alt-Right, Ctrl-Y (what
# Ctrl-U, Ctrl-W or Ctrl-K cut), Alt-B/Alt-F, Tab on channel names and on the other person of
# a private conversation, and /j /q /w /n /t /m /wc.
def test_irssi_keys_and_short_commands(screen, connect):
    alice = screen("alice")
    in_lobby(alice)
    bob = connect("bob")
    bob.expect(" 366 ")
    alice.line("/j #development")
    alice.wait_status("[3:#development]")
    alice.keys("M-Left")
    alice.wait_status("[2:#lobby]")
    alice.keys("M-Right")
    alice.wait_status("[3:#development]")
    alice.keys("M-Right")  # round the end
    alice.wait_status("[1:status]")
    alice.keys("M-2")
    alice.wait_input("#lobby>")

    alice.type("/j #dev")
    alice.keys("Tab")
    alice.wait_input("#lobby> /j #development")
    alice.keys("C-u")
    alice.wait_input("#lobby>")
    alice.keys("C-y")
    alice.wait_input("#lobby> /j #development")
    alice.keys("C-w")
    alice.wait_input("#lobby> /j")
    alice.keys("C-y")
    alice.wait_input("#lobby> /j #development")
    alice.keys("C-a", "M-f")
    alice.type("!")
    alice.wait_input("#lobby> /j! #development")
    alice.keys("M-b")
    alice.type("x")
    alice.wait_input("#lobby> x/j! #development")
    alice.keys("C-a", "C-k")
    alice.wait_input("#lobby>")
    alice.keys("C-y")
    alice.wait_input("#lobby> x/j! #development")
    alice.keys("C-u")

    alice.line("/w")
    alice.wait_screen("--- Users on #lobby: @alice bob (2 users)")
    alice.line("/t a topic by alias")
    alice.wait_screen(lambda rows: rows[0].startswith(" #lobby(+nt): a topic by alias"))
    alice.line("/m bob short and sweet")
    bob.expect("PRIVMSG bob :short and sweet")
    bob.send("PRIVMSG alice :hi")
    alice.wait_status("4:bob")
    alice.keys("M-4")
    alice.wait_input("bob>")
    alice.type("b")
    alice.keys("Tab")
    alice.wait_input("bob> bob:")
    alice.keys("C-u")
    alice.line("/wc")
    alice.wait_screen("Closed the conversation with bob")
    assert "bob" not in alice.status()
    alice.line("/q bob")
    alice.wait_input("bob>")


# /lastlog TEXT shows the window's lines that hold TEXT (any case) again at its end, under a
# header that counts them; other windows' lines are not searched.
def test_lastlog_searches_the_window(screen, connect):
    alice = screen("alice")
    in_lobby(alice)
    bob = connect("bob")
    bob.expect(" 366 ")
    bob.send("JOIN #dev")
    bob.expect(" 366 ")
    bob.send("PRIVMSG #lobby :the Deploy is at noon")
    for i in range(40):
        bob.send("PRIVMSG #lobby :filler %d" % i)
    bob.send("PRIVMSG #lobby :deploy done")
    alice.line("/join #dev")
    alice.wait_status("[3:#dev]")
    bob.send("PRIVMSG #dev :a deploy elsewhere")
    alice.wait_screen("<bob> a deploy elsewhere")
    alice.keys("M-2")
    alice.wait_screen("<bob> deploy done")
    assert "the Deploy is at noon" not in alice.screen()  # scrolled away
    alice.line("/lastlog deploy")
    rows = alice.wait_screen('--- lastlog: 2 lines holding "deploy"')
    text = "\n".join(rows)
    after = text[text.index("--- lastlog"):]
    assert "<bob> the Deploy is at noon" in after and "<bob> deploy done" in after, text
    assert "elsewhere" not in text
    alice.line("/lastlog nothing like it")
    alice.wait_screen('--- lastlog: 0 lines holding "nothing like it"')


# After a reconnect, what the other person of a private conversation said meanwhile goes into
# that conversation's window, each message once, counted as unread; away is restored.
def test_reconnect_fills_the_query_window(screen, server, tmp_path):
    from test_accounts import PASSWORD, register_and_leave, sasl_client
    from test_client import password_file
    from conftest import barrier
    register_and_leave(server, "alice")
    register_and_leave(server, "bob")
    relay = Proxy(server.port)
    try:
        bob = screen("bob", port=relay.port, height=40,
                     options=("--sasl-file", password_file(tmp_path, PASSWORD)))
        in_lobby(bob)
        alice = sasl_client(server.port, "alice", PASSWORD)
        alice.send("PRIVMSG bob :seen before")
        bob.wait_status("3:alice(1!)")
        bob.line("/away brb")
        bob.wait_status("(zZzZ)")
        relay.freeze()
        for i in range(5):
            alice.send("PRIVMSG bob :while away %d" % i)
        barrier(alice)
        relay.cut()
        bob.wait_screen("Connected to 127.0.0.1 port %d again" % relay.port)
        # Away again: the server says so a second time (the status line kept the mark).
        bob.wait_screen(lambda rows: "\n".join(rows).count("--- You are marked as away") == 2)
        assert "(zZzZ)" in bob.status()
        bob.wait_status("3:alice(6!)")  # what was missed counts as unread
        bob.keys("M-3")
        rows = bob.wait_screen("*alice* while away 4")
        text = "\n".join(rows)
        for i in range(5):
            assert text.count("*alice* while away %d" % i) == 1, text
        assert text.count("*alice* seen before") == 1, text
    finally:
        relay.close()
