"""The account thread is everyone's (issue "abuse": 20 connections looping failed SASL PLAIN
logins made a good login take 3.3 s instead of 0.15 s). The global budget of failed logins
(--login-fail-global) refuses PLAIN at once past it, except from addresses that logged in
lately; the thread's two bounded queues (--login-queue) keep REGISTERs and the logins of
addresses that failed lately from delaying the others, and refuse what does not fit.

Different users come from different addresses of loopback (127.0.0.0/8 all reaches the
server on Linux). The fixture exempts loopback from the per-address connection limits only;
the login budgets apply to it as to anyone."""
import subprocess

from conftest import SERVER_BIN, Client, Msg, is_numeric
from test_accounts import PASSWORD, plain, register_and_leave
from test_metrics import value, wait_for
from test_websocket import web_server

BUSY_GLOBAL = "SASL authentication failed (server busy: too many failed logins; try again in"
BUSY_QUEUE = "SASL authentication failed (server busy; try again later)"


def sasl_conn(port, nick, source):
    """A connection from source that asked for sasl and sent NICK and USER (registration
    waits for the login)."""
    c = Client(port, None, source=source)
    c.nick = nick
    c.send("CAP LS 302")
    c.send("CAP REQ :sasl")
    c.expect(lambda l: Msg(l).command == "CAP" and Msg(l).params[1] == "ACK")
    c.send("NICK " + nick)
    c.send("USER %s 0 * :%s" % (nick, nick))
    return c


def start_plain(c):
    """AUTHENTICATE PLAIN: None when the server asks for the message, or the 904 refusing."""
    c.send("AUTHENTICATE PLAIN")
    m = Msg(c.expect(lambda l: l == "AUTHENTICATE +" or Msg(l).command in ("903", "904")))
    return None if m.command == "AUTHENTICATE" else m


def login(port, nick, account, password, source):
    """A login as account from source: the connection and the 903 or 904 it got."""
    c = sasl_conn(port, nick, source)
    refused = start_plain(c)
    if refused:
        return c, refused
    c.send("AUTHENTICATE " + plain(account, password))
    return c, Msg(c.expect(lambda l: Msg(l).command in ("903", "904")))


def test_global_budget_refuses_at_once_but_not_a_trusted_address(server_factory):
    """--login-fail-global 2: after two failed logins (from one address, under its own
    budget), a PLAIN login from any other address is refused at once with the busy 904 (no
    password asked for, so no argon2id check), while an address that logged in successfully
    still logs in."""
    srv = server_factory("--login-fail-global", "2", "--login-fail-limit", "100")
    register_and_leave(srv, "alice")  # registering trusts no address; logging in does
    c, m = login(srv.port, "alice", "alice", PASSWORD, "127.0.0.1")
    assert m.command == "903", m.line
    c.close()
    early = sasl_conn(srv.port, "early", "127.0.0.6")
    assert start_plain(early) is None  # started while the budget lasted
    for i in range(2):
        c, m = login(srv.port, "bad%d" % i, "alice", "not the password", "127.0.0.2")
        assert m.command == "904" and m.text == "SASL authentication failed", m.line
        c.close()
    # Its message comes after the budget ran out: refused all the same, unchecked.
    early.send("AUTHENTICATE " + plain("alice", PASSWORD))
    m = Msg(early.expect(lambda l: Msg(l).command in ("903", "904")))
    assert m.command == "904" and BUSY_GLOBAL in m.text, m.line
    for source in ("127.0.0.3", "127.0.0.2"):
        c = sasl_conn(srv.port, "other", source)
        m = start_plain(c)
        assert m is not None and m.command == "904" and BUSY_GLOBAL in m.text, m and m.line
        wait = int(m.text.split("try again in ")[1].split()[0])
        assert 0 < wait <= 60, m.line
        # The refusal is the server's state, not the client's fault: no failure counted, the
        # connection stays (three failures would close it).
        for _ in range(3):
            assert BUSY_GLOBAL in start_plain(c).text
        c.send("PING :still")
        c.expect(lambda l: Msg(l).command == "PONG")
        c.close()
    # The trusted address: asked for the message, and logged in.
    c, m = login(srv.port, "alice", "alice", PASSWORD, "127.0.0.1")
    assert m.command == "903", m.line
    c.send("CAP END")
    c.expect(is_numeric("001"))
    log = srv.read_log()
    assert log.count('reason="too many failed logins on the server"') >= 3, log


def test_global_budget_leaves_register_alone(server_factory):
    """The global budget guards argon2id logins: past it REGISTER still works (it has budgets of
    its own, --register-limit) and the refused PLAIN does not close the connection."""
    srv = server_factory("--login-fail-global", "1", "--login-fail-limit", "100")
    register_and_leave(srv, "alice")
    c, m = login(srv.port, "bad", "alice", "not the password", "127.0.0.2")
    assert m.command == "904" and m.text == "SASL authentication failed", m.line
    c.close()
    c = Client(srv.port, "bob", source="127.0.0.4")
    c.expect(is_numeric("366"))
    c.send("REGISTER * * :" + PASSWORD)
    line = c.expect(lambda l: Msg(l).command in ("REGISTER", "FAIL"))
    assert line == "REGISTER SUCCESS bob :Account created", line


def test_full_queue_refuses_and_clean_logins_pass(server_factory):
    """--login-queue 1: REGISTERs sent at once overflow their queue and the ones that do not fit
    are refused with FAIL REGISTER TEMPORARILY_UNAVAILABLE (the server is busy), not queued. A
    login from an address that failed lately shares that queue and is refused with the busy
    904; a login from an address without failures has the other queue and goes through."""
    srv = web_server(server_factory, "--login-queue", "1", "--register-limit", "100",
                     "--login-fail-limit", "100", "--workers", "1")
    register_and_leave(srv, "alice")
    # 127.0.0.7 fails once: its logins go to the slow queue from now on.
    c, m = login(srv.port, "bad", "alice", "not the password", "127.0.0.7")
    assert m.command == "904", m.line
    c.close()
    failing = sasl_conn(srv.port, "failing", "127.0.0.7")
    assert start_plain(failing) is None
    clean = sasl_conn(srv.port, "alice", "127.0.0.5")
    assert start_plain(clean) is None
    users = [Client(srv.port, "user%d" % i, source="127.0.0.%d" % (10 + i)) for i in range(8)]
    for u in users:
        u.expect(is_numeric("366"))
    for u in users:  # at once: argon2id takes tens of ms each, one at a time
        u.send("REGISTER * * :" + PASSWORD)
    failing.send("AUTHENTICATE " + plain("alice", PASSWORD))
    clean.send("AUTHENTICATE " + plain("alice", PASSWORD))
    answers = [Msg(u.expect(lambda l: Msg(l).command in ("REGISTER", "FAIL"))) for u in users]
    busy = [m for m in answers if m.command == "FAIL"]
    done = [m for m in answers if m.command == "REGISTER"]
    assert busy and done, [m.line for m in answers]
    for m in busy:
        assert m.params[:2] == ["REGISTER", "TEMPORARILY_UNAVAILABLE"], m.line
        assert m.text == "Server busy (too many requests waiting); try again later", m.line
    m = Msg(failing.expect(lambda l: Msg(l).command in ("903", "904")))
    assert m.command == "904" and m.text == BUSY_QUEUE, m.line
    m = Msg(clean.expect(lambda l: Msg(l).command in ("903", "904")))
    assert m.command == "903", m.line
    # Refused for lack of room, not for a wrong password: the connection may try again.
    assert start_plain(failing) is None
    failing.send("AUTHENTICATE *")
    failing.expect(is_numeric("906"))
    # /metrics counts each refusal for a full queue (the REGISTERs and the busy 904).
    wait_for(srv.http_port,
             lambda got: value(got, "tcpchat_busy_refusals_total", reason="login_queue")
             == len(busy) + 1, "refusals for a full login queue counted")


def test_options_in_the_config_file_and_their_bounds(tmp_path):
    """login-fail-global and login-queue are keys of [server] too; 0 is refused."""
    conf = tmp_path / "t.conf"
    conf.write_text("[server]\nlogin-fail-global = 5\nlogin-queue = 3\n")
    r = subprocess.run([SERVER_BIN, "-t", "-c", str(conf)], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    for opt, value in (("--login-fail-global", "0"), ("--login-queue", "0"),
                       ("--login-queue", "100001")):
        r = subprocess.run([SERVER_BIN, "-t", opt, value], capture_output=True, text=True,
                           timeout=30)
        assert r.returncode == 1 and opt[2:] in r.stderr, r.stderr
