"""The built-in web client (web/), in a real browser: headless Chromium driven by Selenium
against the real tcpchatd, with plain IRC clients (conftest.Client) on the other side. Each
test checks what a person sees: lines in the log, the channel list, the login form.

Needs chromium, chromium-driver and python3-selenium (Debian); without them the tests are
skipped, unless TCPCHAT_REQUIRE_BROWSER is set (CI), where that is a failure."""
import os
import shutil
import socket
import ssl
import subprocess

import pytest

from conftest import TIMEOUT, Msg, barrier, free_port, is_command, is_numeric
from test_accounts import PASSWORD, register
from test_oper import conf_text, mkpasswd, oper
from test_tls import read_until_closed, wait_port
from test_websocket import web_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

try:
    from selenium import webdriver
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
    SELENIUM = True
except ImportError:
    SELENIUM = False

# No throttle for the clients that fill the history.
FAST = ("--flood-rate", "1000000", "--flood-burst", "1000000")
DESKTOP = (1200, 750)
PHONE = (390, 844)


def need_browser():
    missing = [what for what, ok in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER),
                                     ("python3-selenium", SELENIUM)) if not ok]
    if not missing:
        return
    why = "web client tests need %s (Debian: chromium chromium-driver python3-selenium)" % \
        ", ".join(missing)
    if os.environ.get("TCPCHAT_REQUIRE_BROWSER"):
        pytest.fail(why + "; TCPCHAT_REQUIRE_BROWSER is set")
    pytest.skip(why)


class Page:
    """One browser tab on the web client, and what a user does and sees there."""

    def __init__(self, driver, srv, url=None):
        self.d = driver
        self.srv = srv
        driver.get(url or "http://127.0.0.1:%d/" % srv.http_port)

    def wait(self, cond, what, timeout=TIMEOUT):
        """Waits until cond() is true (polled every 50 ms, at most timeout); returns its value."""
        return WebDriverWait(self.d, timeout, poll_frequency=0.05).until(
            lambda _: cond(), message="waiting for " + what)

    def el(self, css):
        return self.d.find_element(By.CSS_SELECTOR, css)

    def js(self, script, *args):
        return self.d.execute_script(script, *args)

    def login(self, nick, password="", register=False, lands=True):
        self.wait(lambda: self.el("#login-nick").is_displayed(), "the login form")
        for field, value in (("#login-nick", nick), ("#login-password", password)):
            self.el(field).clear()
            self.el(field).send_keys(value)
        box = self.el("#login-register")
        if box.is_selected() != register:
            box.click()
        self.el("#login-submit").click()
        if lands:
            self.wait(lambda: self.active() == "#lobby", "landing in #lobby after login")

    def login_error(self):
        """The error the login form shows, once it shows one."""
        return self.wait(lambda: self.el("#login-error").is_displayed() and
                         self.el("#login-error").text, "an error in the login form")

    def active(self):
        return self.js("const b = document.querySelector('.window-button[aria-current]');"
                       "return b && b.dataset.window;")

    def lines(self, window=None):
        """The lines of a window's log (the one shown when window is None), as dicts: cls,
        nick (the sender), text, msgid."""
        return self.js("""
            const log = arguments[0] === null ? document.querySelector('.log:not([hidden])')
                : document.querySelector('.log[data-window="' + CSS.escape(arguments[0]) + '"]');
            return log ? [...log.querySelectorAll('.line')].map((l) => ({
                cls: l.className,
                nick: (l.querySelector('.sender') || {}).textContent || '',
                text: (l.querySelector('.text') || {}).textContent || '',
                msgid: l.dataset.msgid || '' })) : [];""", window)

    def wait_line(self, pred, what, window=None):
        def find():
            hits = [l for l in self.lines(window) if pred(l)]
            return hits[0] if hits else None
        return self.wait(find, what)

    def texts(self, window=None):
        return [l["text"] for l in self.lines(window)]

    def send(self, text):
        box = self.el("#input")
        box.send_keys(text)
        box.send_keys(Keys.ENTER)

    def open_window(self, name):
        self.el('.window-button[data-window="%s"]' % name).click()
        self.wait(lambda: self.active() == name, "window %s shown" % name)

    def chat(self, window=None):
        """The texts of the messages (not the status lines) of a window."""
        return [l["text"] for l in self.lines(window) if " msg " in " %s " % l["cls"]]

    def infos(self, window=None):
        """The texts of the status lines (joins, kicks, nick changes...) of a window."""
        return [l["text"] for l in self.lines(window) if " msg " not in " %s " % l["cls"]]

    def users(self):
        """The nick list shown: [(nick, away, title)]."""
        return [tuple(u) for u in self.js("""
            return [...document.querySelectorAll('#user-list .user')].map((li) => [
                li.querySelector('.nick').textContent, li.classList.contains('away'),
                li.querySelector('.nick').title]);""")]

    def scroll_to_top_until(self, text, window=None):
        """Scrolls the log shown to its top until a line with text is loaded."""
        def loaded():
            page_js = "document.querySelector('.log:not([hidden])').scrollTop = 0;"
            self.js(page_js)
            return text in self.texts(window)
        self.wait(loaded, "%r after scrolling up" % text)

    def badge(self, name):
        """(unread count text, mention marked) of a window in the channel list."""
        return self.js("""
            const b = document.querySelector('.window-button[data-window="' + CSS.escape(arguments[0]) + '"]');
            if (!b) return null;
            const badge = b.querySelector('.badge');
            return [badge ? badge.textContent : '', b.classList.contains('mentioned')];""", name)


@pytest.fixture
def browser():
    """open(srv, size=DESKTOP, url=None, args=()): a fresh headless Chromium (with extra
    command-line args) on the server's web client, or on url; every one opened is quit at
    teardown."""
    need_browser()
    drivers = []

    def open_page(srv, size=DESKTOP, url=None, args=()):
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=%d,%d" % size) + tuple(args):
            opts.add_argument(arg)
        d = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
        drivers.append(d)
        d.set_script_timeout(TIMEOUT)
        d.set_page_load_timeout(TIMEOUT)
        return Page(d, srv, url)

    yield open_page
    for d in drivers:
        d.quit()


def said(nick, target, text):
    """Predicate: a PRIVMSG from nick to target carrying text."""
    def pred(line):
        m = Msg(line)
        return is_command("PRIVMSG", nick, target)(line) and m.text == text
    return pred


def test_login_lands_in_lobby_and_chats_both_ways(server_factory, client_factory, browser):
    srv = web_server(server_factory)
    page = browser(srv)
    page.login("wanda")
    bob = client_factory(srv, "bob")
    page.wait(lambda: "bob" in page.el("#user-list").text, "bob in the nick list")

    page.send("hello from the browser")
    bob.expect(said("wanda", "#lobby", "hello from the browser"))
    mine = page.wait_line(lambda l: l["text"] == "hello from the browser", "my own line")
    assert mine["nick"] == "wanda" and mine["msgid"]  # shown once, from the server's echo

    bob.send("PRIVMSG #lobby :hi wanda")
    line = page.wait_line(lambda l: l["text"] == "hi wanda", "bob's line")
    assert line["nick"] == "bob" and "mention" in line["cls"]

    bob.send("PRIVMSG #lobby :\x01ACTION waves\x01")
    action = page.wait_line(lambda l: l["text"] == "waves", "bob's action")
    assert "action" in action["cls"] and action["nick"] == "bob"
    page.send("/me waves back")
    bob.expect(said("wanda", "#lobby", "\x01ACTION waves back\x01"))

    # CTCP: VERSION and PING are answered by NOTICE, as IRC clients do; every request is a
    # small status line where wanda is (no window opens for it), and one not known is not
    # answered.
    bob.send("PRIVMSG wanda :\x01VERSION\x01")
    reply = Msg(bob.expect(is_command("NOTICE", "wanda", "bob")))
    assert reply.text == "\x01VERSION tcpchat web client\x01"
    bob.send("PRIVMSG wanda :\x01PING 1234 5678\x01")
    assert Msg(bob.expect(is_command("NOTICE", "wanda", "bob"))).text == "\x01PING 1234 5678\x01"
    bob.send("PRIVMSG #lobby :\x01FINGER\x01")
    page.wait_line(lambda l: l["text"] == "CTCP FINGER from bob to #lobby", "the FINGER request")
    ctcp = [l for l in page.lines() if "ctcp" in l["cls"]]
    assert [l["text"] for l in ctcp] == ["CTCP VERSION from bob (answered)",
                                         "CTCP PING 1234 5678 from bob (answered)",
                                         "CTCP FINGER from bob to #lobby"]
    assert page.badge("bob") is None
    assert not [l for l in barrier(bob) if is_command("NOTICE", "wanda")(l)]

    # Tab completes a nick ("nick: " at the start of the line); Up recalls the line sent.
    box = page.el("#input")
    box.send_keys("bo", Keys.TAB)
    assert box.get_attribute("value") == "bob: "
    box.send_keys("ping", Keys.ENTER)
    bob.expect(said("wanda", "#lobby", "bob: ping"))
    box.send_keys(Keys.ARROW_UP)
    assert box.get_attribute("value") == "bob: ping"
    box.send_keys(Keys.ARROW_DOWN)
    assert box.get_attribute("value") == ""

    # The topic bar, and the nick list after a MODE sent as a raw command (/mode is not one
    # the client knows): operators first, with their @.
    page.send("/topic Welcome <i>here</i>, see https://example.com/t")
    bob.expect(is_command("TOPIC", "wanda", "#lobby"))
    page.wait(lambda: page.el("#topic").text == "Welcome <i>here</i>, see https://example.com/t",
              "the topic bar")
    assert page.el("#topic a").get_attribute("href") == "https://example.com/t"
    page.send("/mode #lobby +o bob")
    page.wait(lambda: page.el("#user-list").text.split("\n") == ["@", "bob", "@", "wanda"],
              "bob an operator in the nick list")

    # Joins are folded: bob's join is one line ("bob joined"), carol's adds to it.
    client_factory(srv, "carol")
    page.wait_line(lambda l: l["text"] == "carol joined", "carol's join line")
    assert page.texts().count("hi wanda") == 1


def test_message_text_is_shown_as_text(server_factory, client_factory, browser):
    srv = web_server(server_factory)
    page = browser(srv)
    page.login("wanda")
    bob = client_factory(srv, "bob")
    evil = ["<img src=x onerror=alert(1)>", "<b>x</b>",
            "see https://example.com/a?b=1, and javascript:alert(2)"]
    for text in evil:
        bob.send("PRIVMSG #lobby :" + text)
    page.wait_line(lambda l: l["text"] == evil[-1], "the last line")
    texts = page.texts()
    assert evil[0] in texts and evil[1] in texts
    log = page.el(".log:not([hidden])")
    assert not log.find_elements(By.CSS_SELECTOR, "img, b, script, iframe")
    links = log.find_elements(By.CSS_SELECTOR, "a")
    assert [a.get_attribute("href") for a in links] == ["https://example.com/a?b=1"]
    assert set(links[0].get_attribute("rel").split()) >= {"noopener", "noreferrer"}
    assert links[0].get_attribute("target") == "_blank"
    with pytest.raises(NoAlertPresentException):
        page.d.switch_to.alert.text


def test_history_on_join_and_scrolling_up(server_factory, client_factory, browser):
    srv = web_server(server_factory, *FAST)
    bob = client_factory(srv, "bob")
    for i in range(120):
        bob.send("PRIVMSG #lobby :history %03d" % i)
    barrier(bob)
    page = browser(srv)
    page.login("wanda")
    page.wait_line(lambda l: l["text"] == "history 119", "the latest history")
    assert "history 000" not in page.texts()  # one page (50) on joining, not everything

    def scrolled_to_oldest():
        page.js("document.querySelector('.log:not([hidden])').scrollTop = 0;")
        return "history 000" in page.texts()
    page.wait(scrolled_to_oldest, "the oldest message after scrolling up")
    history = [t for t in page.texts() if t.startswith("history ")]
    assert history == ["history %03d" % i for i in range(120)]  # in order, each once
    # Scrolling up did not jump: the reader still sees the top of what was loaded last.
    assert page.js("return document.querySelector('.log:not([hidden])').scrollTop") < 2000


def test_account_created_in_browser_then_logged_into(server_factory, client_factory, browser):
    srv = web_server(server_factory)
    client_factory(srv, "taken")
    page = browser(srv)
    page.login("taken", lands=False)
    assert "already in use" in page.login_error()

    page.login("carol", password="short", register=True, lands=False)  # FAIL REGISTER
    assert "Could not create the account: Passwords are 8 to" in page.login_error()
    page.login("carol", password="s3cret pässword", register=True)
    page.wait(lambda: "Account carol created" in page.js(
        "return document.querySelector('.log[data-window=\"*\"]').textContent"),
        "the account created")
    page.send("/quit bye")
    page.wait(lambda: page.el("#login").is_displayed(), "the login form again")

    page.login("carol", password="wrong password", lands=False)
    assert "Wrong nick or password" in page.login_error()

    other = browser(srv)
    other.login("carol", password="s3cret pässword")
    tcp = client_factory(srv, "dave")
    tcp.send("WHOIS carol")
    assert Msg(tcp.expect(is_numeric("330", "carol"))).params[2] == "carol"


def test_unread_counts_mentions_and_private_messages(server_factory, client_factory, browser):
    srv = web_server(server_factory)
    page = browser(srv)
    page.login("wanda")
    page.send("/join #side")
    page.wait(lambda: page.active() == "#side", "#side shown after /join")
    # Alt+Up: the window above in the list (the server's, #lobby, #side).
    ActionChains(page.d).key_down(Keys.ALT).send_keys(Keys.ARROW_UP).key_up(Keys.ALT).perform()
    page.wait(lambda: page.active() == "#lobby", "#lobby shown after Alt+Up")
    bob = client_factory(srv, "bob", join=None)
    bob.send("JOIN #side")
    bob.expect(is_numeric("366", "#side"))
    bob.send("PRIVMSG #side :nothing for you")
    bob.send("PRIVMSG #side :wanda: look here")
    page.wait(lambda: page.badge("#side") == ["2", True], "#side: 2 unread, a mention")
    assert page.d.title.startswith("(2!)")
    assert page.badge("#lobby") == ["", False]

    bob.send("PRIVMSG wanda :psst")
    page.wait(lambda: page.badge("bob") == ["1", True], "a conversation with bob, unread")
    page.open_window("bob")
    page.wait_line(lambda l: l["text"] == "psst" and l["nick"] == "bob", "bob's private line")
    assert page.badge("bob") == ["", False]
    page.send("hi bob")
    bob.expect(said("wanda", "bob", "hi bob"))
    page.open_window("#side")
    assert page.badge("#side") == ["", False] and not page.d.title.startswith("(")


def test_reconnect_after_kill_shows_every_missed_line_once(tmp_path, server_factory,
                                                            client_factory, browser):
    conf = tmp_path / "tcpchatd.conf"
    motd = tmp_path / "motd"
    motd.write_text("hello\n")
    conf.write_text(conf_text({"alice": mkpasswd("wonderland")}, motd))
    srv = web_server(server_factory, "--config", str(conf), *FAST)
    alice = client_factory(srv, "alice")
    oper(alice)
    alice.send("JOIN #second")
    alice.expect(is_numeric("366", "#second"))
    page = browser(srv)
    page.login("erin")
    page.send("/join #second")
    page.wait(lambda: page.active() == "#second", "#second shown")
    alice.send("PRIVMSG #lobby :before the kill")
    page.wait_line(lambda l: l["text"] == "before the kill", "a line before", "#lobby")

    alice.send("KILL erin :testing reconnects")
    alice.expect(is_command("QUIT", "erin"))
    # More than one page of CHATHISTORY AFTER (100): the client asks again while pages are full.
    missed = ["missed %03d" % i for i in range(150)]
    alice.send_raw("".join("PRIVMSG #lobby :%s\r\n" % t for t in missed).encode())
    alice.send("PRIVMSG #second :missed in second")
    page.wait(lambda: "reconnecting" in page.el("#status").text.lower(), "a reconnecting status")
    page.wait(lambda: not page.el("#status").text, "connected again")
    alice.expect(is_command("JOIN", "erin", "#second"))

    page.wait(lambda: "missed 149" in page.texts("#lobby"), "the missed lines")
    alice.send("PRIVMSG #lobby :after the reconnect")
    page.wait_line(lambda l: l["text"] == "after the reconnect", "a live line", "#lobby")
    texts = page.texts("#lobby")
    seen = [t for t in texts if t in missed or t in ("before the kill", "after the reconnect")]
    assert seen == ["before the kill"] + missed + ["after the reconnect"]  # each once, in order
    page.wait(lambda: page.texts("#second").count("missed in second") == 1,
              "the line missed in #second")


def test_phone_layout_hides_the_channel_list_behind_a_button(server_factory, browser):
    srv = web_server(server_factory)
    page = browser(srv, size=PHONE)
    page.login("wanda")
    sidebar = page.el("#sidebar")
    toggle = page.el("#toggle-sidebar")
    assert not sidebar.is_displayed() and toggle.is_displayed()
    assert page.el("#input").is_displayed()
    toggle.click()
    page.wait(sidebar.is_displayed, "the channel list shown")
    assert toggle.get_attribute("aria-expanded") == "true"
    page.el("body").send_keys(Keys.ESCAPE)
    page.wait(lambda: not sidebar.is_displayed(), "Escape hides the channel list")
    toggle.click()
    page.wait(sidebar.is_displayed, "the channel list shown again")
    page.el('.window-button[data-window="#lobby"]').click()  # choosing a window closes it
    page.wait(lambda: not sidebar.is_displayed(), "the list closed after choosing")


def test_private_conversations_load_their_history(server_factory, browser):
    """A conversation opened from the nick list, by a message from someone, or by /msg shows
    what was said in it before (CHATHISTORY LATEST nick), and scrolling up loads the rest. The
    server keeps private history for two accounts, so everyone here has one."""
    srv = web_server(server_factory, "--register-limit", "10", *FAST)
    wanda, bob, carol, dave = (register(srv, nick) for nick in ("wanda", "bob", "carol", "dave"))
    earlier = ["pm %03d" % i for i in range(120)]
    bob.send_raw("".join("PRIVMSG wanda :%s\r\n" % t for t in earlier).encode())
    barrier(bob)
    wanda.send("PRIVMSG bob :and a reply")
    carol.send("PRIVMSG wanda :earlier from carol")
    wanda.send("PRIVMSG dave :earlier to dave")
    wanda.expect("earlier from carol")
    barrier(wanda)
    wanda.send("QUIT")
    wanda.wait_closed()

    page = browser(srv)
    page.login("wanda", password=PASSWORD)
    page.wait(lambda: ("bob", False, "Talk to bob privately") in page.users(),
              "bob in the nick list")
    page.js("""[...document.querySelectorAll('#user-list .nick')]
               .find((b) => b.textContent === 'bob').click();""")
    page.wait(lambda: page.active() == "bob", "the conversation with bob, from the nick list")
    page.wait(lambda: page.chat()[-1:] == ["and a reply"], "its latest history")
    assert page.lines()[-1]["nick"] == "wanda"
    assert "pm 000" not in page.texts()  # one page (50), the rest on scrolling up
    page.scroll_to_top_until("pm 000")
    assert page.chat() == earlier + ["and a reply"]  # in order, each once
    assert {l["nick"] for l in page.lines()[:-1]} == {"bob"}
    assert not any("mention" in l["cls"] for l in page.lines())  # not all highlighted

    carol.send("PRIVMSG wanda :now from carol")
    page.wait(lambda: page.chat("carol") == ["earlier from carol", "now from carol"],
              "carol's conversation: its history, then the new line")
    assert page.badge("carol") == ["1", True]

    page.send("/msg dave hello dave")
    dave.expect(said("wanda", "dave", "hello dave"))
    page.wait(lambda: page.active() == "dave" and page.chat() == ["earlier to dave", "hello dave"],
              "dave's conversation: its history, then what was just sent, once")


def test_kicks_nick_changes_away_and_quits_as_seen(server_factory, client_factory, browser):
    srv = web_server(server_factory)
    bob = client_factory(srv, "bob")
    bob.send("JOIN #ops")  # the first in: bob is its operator
    bob.expect(is_numeric("366", "#ops"))
    bob.send("AWAY :at lunch")
    bob.expect(is_numeric("306"))
    carol = client_factory(srv, "carol")
    carol.send("JOIN #ops")
    carol.expect(is_numeric("366", "#ops"))

    # Away: bob was away before wanda came (WHO tells), then comes back and goes again
    # (away-notify); wanda's own /away marks her too.
    page = browser(srv)
    page.login("wanda")
    page.wait(lambda: ("bob", True, "bob is away") in page.users(), "bob shown away")
    assert ("carol", False, "Talk to carol privately") in page.users()
    # The WHO asked for that is not shown (its replies would read "#lobby ~bob ... G 0 bob").
    assert not [t for t in page.texts() + page.texts("*")
                if "End of WHO" in t or t.startswith("#lobby ")]
    bob.send("AWAY")
    page.wait(lambda: ("bob", False, "Talk to bob privately") in page.users(), "bob back")
    bob.send("AWAY :in a meeting")
    page.wait(lambda: ("bob", True, "bob is away: in a meeting") in page.users(),
              "bob away with his reason")
    page.send("/away brb")
    page.wait(lambda: ("wanda", True, "wanda is away") in page.users(), "wanda shown away")
    page.send("/away")
    page.wait(lambda: ("wanda", False, "Talk to wanda privately") in page.users(), "wanda back")

    # Kicks: someone else's, then wanda's own: said plainly, the channel marked as left, a
    # line typed there not sent; /join brings her back.
    page.send("/join #ops")
    page.wait(lambda: page.active() == "#ops", "#ops shown")
    bob.send("KICK #ops carol :spamming")
    page.wait(lambda: "carol was kicked out by bob (spamming)" in page.infos(), "carol's kick")
    page.wait(lambda: [u[0] for u in page.users()] == ["bob", "wanda"], "carol gone from the list")
    bob.send("KICK #ops wanda :enough")
    kicked = page.wait_line(lambda l: l["text"].startswith("You were kicked"), "wanda's kick")
    assert kicked["text"] == "You were kicked out of #ops by bob (enough). /join #ops to go back."
    assert "error" in kicked["cls"]
    assert page.js("""return document.querySelector('.window-button[data-window="#ops"]')
                      .classList.contains('parted')""")
    assert page.users() == [] and page.el("#user-count").text == "You are not in this channel"
    page.send("still here?")
    page.wait(lambda: page.texts()[-1] == "You are not in #ops: /join #ops to go back.",
              "a line typed in a channel left")
    page.send("/join #ops")
    bob.expect(is_command("JOIN", "wanda", "#ops"))
    page.wait(lambda: [u[0] for u in page.users()] == ["bob", "wanda"], "back in #ops")
    assert not page.js("""return document.querySelector('.window-button[data-window="#ops"]')
                          .classList.contains('parted')""")
    assert "still here?" not in [Msg(l).text for l in barrier(bob)]

    # Nick changes: in each channel, in the conversation (renamed), and wanda's own.
    page.send("/query bob")
    page.wait(lambda: page.active() == "bob", "a conversation with bob")
    bob.send("NICK robert")
    page.wait(lambda: page.active() == "robert" and
              page.infos() == ["bob is now known as robert"], "the conversation renamed")
    for channel in ("#lobby", "#ops"):
        assert page.infos(channel)[-1] == "bob is now known as robert"
    page.send("/nick wanda2")
    page.wait(lambda: page.infos("#lobby")[-1] == "You are now known as wanda2", "wanda's nick")
    assert page.infos("#ops")[-1] == "You are now known as wanda2"

    # A quit: in every channel robert was in with wanda and in their conversation.
    page.send("/join #side")
    page.wait(lambda: page.active() == "#side", "#side shown")
    robert = bob
    robert.send("QUIT :gone home")
    for window in ("#lobby", "#ops", "robert"):
        page.wait(lambda: page.infos(window)[-1:] == ["robert quit (gone home)"],
                  "robert's quit in " + window)
    assert not any("robert" in t for t in page.texts("#side"))
    page.open_window("#lobby")
    assert "robert" not in [u[0] for u in page.users()]


def legibility(page):
    """(The relative luminance of the log's background, the lowest contrast ratio of any
    READABLE text shown against what is behind it, and which text that is.)"""
    return page.js("""
        const rgba = (c) => (c.match(/[\\d.]+/g) || [0, 0, 0, 0]).map(Number)
          .concat([1]).slice(0, 4);
        // The colour behind el: its ancestors' backgrounds, blended from the page up.
        function behind(el) {
          const layers = [];
          for (let e = el; e; e = e.parentElement) {
            const c = rgba(getComputedStyle(e).backgroundColor);
            if (c[3] > 0) layers.push(c);
            if (c[3] >= 1) break;
          }
          let out = [255, 255, 255];
          for (const c of layers.reverse()) out = out.map((v, i) => v * (1 - c[3]) + c[i] * c[3]);
          return out;
        }
        const lum = (c) => {
          const [r, g, b] = c.slice(0, 3).map((v) => {
            v /= 255;
            return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
          });
          return 0.2126 * r + 0.7152 * g + 0.0722 * b;
        };
        const ratio = (a, b) =>
          (Math.max(lum(a), lum(b)) + 0.05) / (Math.min(lum(a), lum(b)) + 0.05);
        let worst = [99, ''];
        for (const sel of arguments[0]) {
          for (const el of document.querySelectorAll(sel)) {
            if (!el.offsetParent) continue;
            const r = ratio(rgba(getComputedStyle(el).color), behind(el));
            if (r < worst[0]) worst = [r, sel + ' ' + el.textContent.slice(0, 30)];
          }
        }
        return [lum(behind(document.querySelector('.log:not([hidden])'))), worst[0], worst[1]];
        """, READABLE)


# What must be readable in either theme: messages, nicks, status lines, times, the lists, the
# unread badges, the input line.
READABLE = [".log:not([hidden]) .line .text", ".log:not([hidden]) .sender",
            ".log:not([hidden]) .time", ".window-label", ".badge", "#user-list .nick",
            ".user-count", "#window-name", "#topic", "#input", ".input-form button", ".keys"]
# WCAG 2 AA for normal text.
CONTRAST_MIN = 4.5


def test_dark_theme_is_dark_and_readable(server_factory, client_factory, browser):
    srv = web_server(server_factory)
    page = browser(srv)
    page.login("wanda")
    bob = client_factory(srv, "bob")
    bob.send("TOPIC #lobby :the topic, https://example.com/")
    bob.send("PRIVMSG #lobby :wanda: a mention")
    bob.send("PRIVMSG #lobby :\x01ACTION waves\x01")
    bob.send("NOTICE #lobby :a notice")
    bob.send("PRIVMSG wanda :a private line")
    page.wait(lambda: page.badge("bob") == ["1", True], "a mention badge for bob's line")
    page.send("/join #side")
    page.wait(lambda: page.active() == "#side", "#side shown")
    bob.send("PRIVMSG #lobby :unread")
    page.wait(lambda: page.badge("#lobby") == ["1", False], "an unread badge")
    page.open_window("#lobby")
    page.send("/nosuchcommand")  # an error line
    page.wait(lambda: any("error" in l["cls"] for l in page.lines()), "an error line")
    page.send("/join #side")

    bg, contrast, where = legibility(page)
    assert bg > 0.8, "the light theme's background"
    assert contrast >= CONTRAST_MIN, "light theme: %.2f for %s" % (contrast, where)
    page.d.execute_cdp_cmd("Emulation.setEmulatedMedia", {
        "features": [{"name": "prefers-color-scheme", "value": "dark"}]})
    page.wait(lambda: page.js("return matchMedia('(prefers-color-scheme: dark)').matches"),
              "the dark scheme emulated")
    for window in ("#side", "#lobby"):
        page.open_window(window)
        bg, contrast, where = legibility(page)
        assert bg < 0.05, "the dark theme's background"
        assert contrast >= CONTRAST_MIN, "dark theme: %.2f for %s" % (contrast, where)


def resumes_tls(port):
    """Does the server take back a TLS session it gave (as browsers ask on their next
    connection)? One HTTPS request, then another resuming the first one's session."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    session = None
    for _ in range(2):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw:
                with ctx.wrap_socket(raw, session=session) as s:
                    s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                    read_until_closed(s)  # TLS 1.3 tickets come after the handshake
                    reused, session = s.session_reused, s.session
        except (ssl.SSLError, ConnectionError):
            return False
    return reused


def test_client_over_https_uses_wss(server_factory, client_factory, browser, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    port = free_port()
    srv = server_factory("--tls-port", str(free_port()), "--tls-cert", str(cert),
                         "--tls-key", str(key), "--https-port", str(port))
    wait_port(port)
    # Found by this test: Chromium loads app.js over a resumed session, which the server
    # refused while it asked for client certificates without a session id context.
    assert resumes_tls(port), "the server takes back the TLS sessions it gave"
    page = browser(srv, url="https://127.0.0.1:%d/" % port, args=("--ignore-certificate-errors",))
    page.login("wanda")
    assert page.js("return location.protocol") == "https:"
    bob = client_factory(srv, "bob")
    page.send("hello over wss")
    bob.expect(said("wanda", "#lobby", "hello over wss"))
    bob.send("PRIVMSG #lobby :hi back")
    page.wait_line(lambda l: l["text"] == "hi back", "bob's line")
