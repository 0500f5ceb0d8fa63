"""The built-in web client (web/), in a real browser: headless Chromium driven by Selenium
against the real tcpchatd, with plain IRC clients (conftest.Client) on the other side. Each
test checks what a person sees: lines in the log, the channel list, the login form.

Needs chromium, chromium-driver and python3-selenium (Debian); without them the tests are
skipped, unless TCPCHAT_REQUIRE_BROWSER is set (CI), where that is a failure."""
import os
import shutil

import pytest

from conftest import TIMEOUT, Msg, barrier, is_command, is_numeric
from test_oper import conf_text, mkpasswd, oper
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

    def __init__(self, driver, srv):
        self.d = driver
        self.srv = srv
        driver.get("http://127.0.0.1:%d/" % srv.http_port)

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

    def badge(self, name):
        """(unread count text, mention marked) of a window in the channel list."""
        return self.js("""
            const b = document.querySelector('.window-button[data-window="' + CSS.escape(arguments[0]) + '"]');
            if (!b) return null;
            const badge = b.querySelector('.badge');
            return [badge ? badge.textContent : '', b.classList.contains('mentioned')];""", name)


@pytest.fixture
def browser():
    """open(srv, size=DESKTOP): a fresh headless Chromium on the server's web client; every
    one opened is quit at teardown."""
    need_browser()
    drivers = []

    def open_page(srv, size=DESKTOP):
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=%d,%d" % size):
            opts.add_argument(arg)
        d = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
        drivers.append(d)
        d.set_script_timeout(TIMEOUT)
        d.set_page_load_timeout(TIMEOUT)
        return Page(d, srv)

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
