"""Accounts: REGISTER (IRCv3 draft/account-registration), SASL PLAIN, nick ownership,
account-tag / account-notify / extended-join / WHOIS 330, failed-login throttling,
--require-sasl, private history shown only to its two accounts, and accounts that outlive a
restart. An account is named after the nick that registers it."""
import base64
import time

from conftest import TIMEOUT, Client, Msg, barrier, is_command, is_numeric, take_until, cap_ls
from test_history import HISTORY_CAPS, batch_of, history
from test_ircv3 import cap_client, tags_of
from test_tls import TlsClient, certs, client_context, tls_server  # noqa: F401

PASSWORD = "correct horse"


def plain(nick, password, authzid=""):
    return base64.b64encode(("%s\0%s\0%s" % (authzid, nick, password)).encode()).decode()


def sasl_client(port, nick, password, caps="", expect_ok=True, join_lobby=True, account=None):
    """Registers nick, logging in with SASL PLAIN (as account, the nick by default) before
    CAP END."""
    c = Client(port, None)
    c.nick = nick
    c.send("CAP LS 302")
    cap_ls(c)
    c.send("CAP REQ :" + ("sasl " + caps).strip())
    assert Msg(c.expect(is_command("CAP"))).params[1] == "ACK"
    c.send("NICK " + nick)
    c.send("USER %s 0 * :%s" % (nick, nick))
    send_plain(c, plain(account or nick, password))
    done = Msg(c.expect(lambda l: Msg(l).command in ("903", "904")))
    assert (done.command == "903") == expect_ok, done.line
    if expect_ok:
        c.send("CAP END")
        c.expect(is_numeric("001"))
        if join_lobby:
            c.expect(is_numeric("366"))
    return c


def send_plain(c, payload):
    """AUTHENTICATE PLAIN, then the base64 payload once the server asks for it."""
    c.send("AUTHENTICATE PLAIN")
    c.expect(lambda l: l == "AUTHENTICATE +")
    c.send("AUTHENTICATE " + payload)


def before_sasl(port, nick):
    """A connection that asked for sasl and sent NICK and USER (registration waits)."""
    c = Client(port, None)
    c.nick = nick
    c.send("CAP REQ :sasl")
    c.expect(is_command("CAP"))
    c.send("NICK " + nick)
    c.send("USER %s 0 * :%s" % (nick, nick))
    return c


def register(server, nick, password=PASSWORD, caps=None):
    c = cap_client(server.port, nick, caps) if caps else Client(server.port, nick)
    if not caps:
        c.expect(is_numeric("366"))
    c.send("REGISTER * * :" + password)
    line = c.expect(lambda l: Msg(l).command in ("REGISTER", "FAIL"))
    assert line == "REGISTER SUCCESS %s :Account created" % nick, line
    m = Msg(c.expect(is_numeric("900")))
    assert m.params[1:] == ["%s!~%s@127.0.0.1" % (nick, nick), nick,
                            "You are now logged in as " + nick]
    return c


def register_and_leave(server, nick):
    """Registers account nick, then quits and waits until the nick is free again."""
    c = register(server, nick)
    c.send("QUIT")
    c.wait_closed()


def test_cap_ls_offers_sasl_plain_and_registration(server):
    c = Client(server.port, None)
    c.send("CAP LS 302")
    caps = cap_ls(c)
    assert "sasl=PLAIN,EXTERNAL" in caps and "draft/account-registration" in caps
    old = Client(server.port, None)
    old.send("CAP LS")  # before CAP 302, no values
    assert "sasl" in cap_ls(old)


def test_register_then_log_in_with_sasl(server):
    alice = register(server, "alice")
    alice.send("WHOIS alice")
    assert Msg(alice.expect(is_numeric("330"))).params[1:] == ["alice", "alice",
                                                              "is logged in as"]
    alice.send("QUIT")
    alice.wait_closed()
    again = sasl_client(server.port, "alice", PASSWORD)
    again.send("WHOIS alice")
    assert Msg(again.expect(is_numeric("330"))).params[2] == "alice"


def test_sasl_success_numerics(server):
    register_and_leave(server, "alice")
    c = before_sasl(server.port, "alice")
    send_plain(c, plain("alice", PASSWORD))
    lines = take_until(c, is_numeric("903"))
    m900 = Msg([l for l in lines if is_numeric("900")(l)][0])
    assert m900.params == ["alice", "alice!~alice@127.0.0.1", "alice",
                           "You are now logged in as alice"] or m900.params[2] == "alice"
    assert Msg(lines[-1]).text == "SASL authentication successful"
    assert not [l for l in lines if is_numeric("001")(l)]  # registration waits for CAP END
    c.send("CAP END")
    c.expect(is_numeric("001"))


def test_wrong_password_fails_and_three_failures_close(server):
    register_and_leave(server, "alice")
    c = before_sasl(server.port, "guesser")
    for i in range(3):
        send_plain(c, plain("alice", "guess %d" % i))
        assert Msg(c.expect(is_numeric("904"))).text == "SASL authentication failed"
    lines = c.wait_closed()
    assert "Too many failed login attempts" in lines[-1]
    # No such account fails the same way.
    d = Client(server.port, None)
    d.send("CAP REQ :sasl")
    d.expect(is_command("CAP"))
    send_plain(d, plain("nobody", "whatever1"))
    d.expect(is_numeric("904"))


def test_sasl_protocol_errors(server):
    register_and_leave(server, "alice")
    c = Client(server.port, None)
    c.send("NICK x")
    c.send("AUTHENTICATE PLAIN")  # without the capability
    c.expect(is_numeric("904"))
    c.send("CAP REQ :sasl")
    c.expect(is_command("CAP"))
    c.send("AUTHENTICATE SCRAM-SHA-256")
    assert Msg(c.expect(is_numeric("908"))).params[1:] == ["PLAIN,EXTERNAL",
                                                          "are available SASL mechanisms"]
    c.expect(is_numeric("904"))
    c.send("AUTHENTICATE PLAIN")
    c.expect(lambda l: l == "AUTHENTICATE +")
    c.send("AUTHENTICATE *")
    assert Msg(c.expect(is_numeric("906"))).text == "SASL authentication aborted"
    send_plain(c, "A" * 401)
    assert Msg(c.expect(is_numeric("905"))).text == "SASL message too long"
    # Someone else's authorization identity is refused.
    send_plain(c, plain("alice", PASSWORD, authzid="root"))
    c.expect(is_numeric("904"))
    # A message split into 400-byte chunks is put together.
    c.send("AUTHENTICATE PLAIN")
    c.expect(lambda l: l == "AUTHENTICATE +")
    payload = base64.b64encode(b"\0alice\0" + PASSWORD.encode() + b"x" * 280).decode()
    assert len(payload) == 400
    c.send("AUTHENTICATE " + payload)
    c.send("AUTHENTICATE +")
    c.expect(is_numeric("904"))  # wrong password, but parsed and checked
    send_plain(c, plain("alice", PASSWORD))
    c.expect(is_numeric("903"))
    c.send("AUTHENTICATE PLAIN")
    assert Msg(c.expect(is_numeric("907"))).text == "You have already authenticated using SASL"


def test_register_errors(server):
    pre = Client(server.port, None)
    pre.send("NICK early")
    pre.send("REGISTER * * :" + PASSWORD)
    assert pre.expect("FAIL REGISTER").startswith(
        "FAIL REGISTER COMPLETE_CONNECTION_REQUIRED early ")
    alice = register(server, "alice")
    alice.send("REGISTER * * :" + PASSWORD)
    assert alice.expect("FAIL REGISTER").startswith("FAIL REGISTER ALREADY_AUTHENTICATED alice ")
    bob = Client(server.port, "bob")
    bob.send("REGISTER somebody * :" + PASSWORD)
    assert bob.expect("FAIL REGISTER").startswith(
        "FAIL REGISTER ACCOUNT_NAME_MUST_BE_NICK somebody ")
    bob.send("REGISTER bob * :short")
    assert bob.expect("FAIL REGISTER").startswith("FAIL REGISTER WEAK_PASSWORD bob ")
    bob.send("REGISTER bob")
    assert bob.expect("FAIL REGISTER").startswith("FAIL REGISTER NEED_MORE_PARAMS ")
    alice.send("QUIT")
    alice.wait_closed()
    # alice's nick is free again, but not hers to take without logging in.
    bob.send("NICK alice")
    line = bob.expect(is_numeric("433"))
    assert "registered" in Msg(line).text


def test_registered_nick_is_refused_at_login_without_sasl(server):
    register_and_leave(server, "alice")
    c = Client(server.port, None)
    c.send("NICK alice")
    c.send("USER a 0 * :a")
    m = Msg(c.expect(is_numeric("433")))
    assert m.params[1] == "alice" and "log in with SASL" in m.text
    c.send("NICK alice_")
    c.expect(is_numeric("001"))
    # And the owner can log in while the impostor is around.
    owner = sasl_client(server.port, "alice", PASSWORD)
    owner.send("PRIVMSG alice_ :hello")
    assert Msg(c.expect(is_command("PRIVMSG", "alice"))).text == "hello"


def test_account_tag_extended_join_and_account_notify(server):
    watcher = cap_client(server.port, "watcher", "account-tag extended-join account-notify")
    plainw = Client(server.port, "plainw")
    plainw.expect(is_numeric("366"))
    register_and_leave(server, "alice")
    watcher.expect(is_command("QUIT", "alice"))
    alice = sasl_client(server.port, "alice", PASSWORD)
    join = Msg(watcher.expect(lambda l: is_command("JOIN", "alice")(l) and "#lobby" in l))
    assert join.params == ["#lobby", "alice", "alice"]
    alice.send("PRIVMSG #lobby :tagged")
    line = watcher.expect(is_command("PRIVMSG", "alice"))
    assert tags_of(line).get("account") == "alice"
    assert plainw.expect(is_command("PRIVMSG", "alice")) == \
        ":alice!~alice@127.0.0.1 PRIVMSG #lobby :tagged"
    # Logging in after connecting (REGISTER) is announced with ACCOUNT.
    register(server, "carol")
    m = Msg(watcher.expect(is_command("ACCOUNT", "carol")))
    assert m.params == ["carol"]
    assert not [l for l in barrier(plainw) if " ACCOUNT " in l]


def test_private_history_only_for_its_two_accounts(server_factory):
    srv = server_factory()
    for nick in ("alice", "bob", "mallory"):
        register_and_leave(srv, nick)
    alice = sasl_client(srv.port, "alice", PASSWORD)
    bob = sasl_client(srv.port, "bob", PASSWORD, caps=HISTORY_CAPS)
    alice.send("PRIVMSG bob :just between us")
    bob.expect("just between us")
    bob.send("PRIVMSG alice :indeed")
    alice.expect("indeed")
    got = history(bob, "LATEST alice * 10")
    assert [(m.nick, m.text) for m in got] == [("alice", "just between us"), ("bob", "indeed")]
    mallory = sasl_client(srv.port, "mallory", PASSWORD, caps=HISTORY_CAPS)
    assert history(mallory, "LATEST alice * 10") == []
    assert history(mallory, "LATEST bob * 10") == []
    anon = cap_client(srv.port, "anon", HISTORY_CAPS)
    assert history(anon, "LATEST alice * 10") == []
    # bob's conversation with alice survives bob's nick being taken by someone else later.
    bob.send("QUIT")
    bob.wait_closed()
    impostor = cap_client(srv.port, "bob2", HISTORY_CAPS)
    assert history(impostor, "LATEST alice * 10") == []


def test_require_sasl(server_factory):
    srv = server_factory("--require-sasl", "on")
    c = Client(srv.port, None)
    c.send("NICK anon")
    c.send("USER anon 0 * :anon")
    lines = c.wait_closed()
    assert "SASL authentication required" in lines[-1]
    assert any(is_numeric("904")(l) for l in lines)
    assert not any(is_numeric("001")(l) for l in lines)


def test_accounts_survive_a_restart(server_factory):
    srv = server_factory()
    register_and_leave(srv, "alice")
    assert srv.stop() == 0
    srv2 = server_factory()
    sasl_client(srv2.port, "alice", PASSWORD)
    bad = sasl_client(srv2.port, "alice", "not it at all", expect_ok=False)
    bad.close()


def test_logins_do_not_stall_chat(server):
    """Password checks run on the account thread: chat flows while several are pending."""
    register_and_leave(server, "alice")
    talker = Client(server.port, "talker")
    talker.expect(is_numeric("366"))
    hearer = Client(server.port, "hearer")
    hearer.expect(is_numeric("366"))
    tries = []
    for i in range(4):
        c = Client(server.port, None)
        c.send("CAP REQ :sasl")
        c.send("NICK try%d" % i)
        c.send("AUTHENTICATE PLAIN")
        tries.append(c)
    for c in tries:
        c.expect(lambda l: l == "AUTHENTICATE +")
        c.send("AUTHENTICATE " + plain("alice", "wrong one"))
    talker.send("PRIVMSG #lobby :still here")
    hearer.expect("still here", timeout=TIMEOUT)
    for c in tries:
        c.expect(is_numeric("904"))


# --- SASL EXTERNAL: a TLS client certificate names the account -------------------------------


class CertClient(TlsClient):
    """A TlsClient presenting a client certificate (cert, key), or none."""

    def __init__(self, port, cafile, client_cert=None):
        Client.__init__(self, port, None)
        ctx = client_context(cafile)
        if client_cert:
            ctx.load_cert_chain(*client_cert)
        self.sock = ctx.wrap_socket(self.sock, server_hostname="localhost")
        self.eof_error = None


def external_login(c, nick, authzid=None):
    c.nick = nick
    c.send("CAP REQ :sasl")
    c.expect(is_command("CAP"))
    c.send("NICK " + nick)
    c.send("USER %s 0 * :%s" % (nick, nick))
    c.send("AUTHENTICATE EXTERNAL")
    first = c.expect(lambda l: l == "AUTHENTICATE +" or is_numeric("904")(l))
    if first != "AUTHENTICATE +":
        return Msg(first)
    c.send("AUTHENTICATE " + (base64.b64encode(authzid.encode()).decode() if authzid else "+"))
    return Msg(c.expect(lambda l: Msg(l).command in ("903", "904")))


def test_sasl_external_with_the_certificate_bound_at_register(server_factory, certs):
    srv = tls_server(server_factory, certs["a"])
    cafile = certs["a"][0]
    # REGISTER over a connection with certificate b binds it to the account.
    alice = CertClient(srv.tls_port, cafile, certs["b"])
    alice.nick = "alice"
    alice.register("alice")
    alice.send("REGISTER * * :" + PASSWORD)
    alice.expect("REGISTER SUCCESS alice")
    alice.send("QUIT")
    alice.wait_closed()
    again = CertClient(srv.tls_port, cafile, certs["b"])
    done = external_login(again, "alice")
    assert done.command == "903", done.line
    again.send("CAP END")
    again.expect(is_numeric("001"))
    again.send("WHOIS alice")
    assert Msg(again.expect(is_numeric("330"))).params[2] == "alice"
    # With the right authorization id too, and refused with someone else's.
    other = CertClient(srv.tls_port, cafile, certs["b"])
    assert external_login(other, "bob", authzid="bob").command == "904"
    # Another certificate, or none, gets nothing.
    stranger = CertClient(srv.tls_port, cafile, certs["a"])
    assert external_login(stranger, "mallory").command == "904"
    bare = CertClient(srv.tls_port, cafile)
    m = external_login(bare, "nobody")
    assert m.command == "904" and "client certificate" in m.text
    plain = Client(srv.port, None)
    plain.send("CAP REQ :sasl")
    plain.send("AUTHENTICATE EXTERNAL")
    plain.expect(is_numeric("904"))


def test_sasl_plain_login_binds_the_certificate(server_factory, certs):
    srv = tls_server(server_factory, certs["a"])
    cafile = certs["a"][0]
    register_and_leave(srv, "alice")
    c = CertClient(srv.tls_port, cafile, certs["b"])
    c.nick = "alice"
    c.send("CAP REQ :sasl")
    c.expect(is_command("CAP"))
    c.send("NICK alice")
    c.send("USER alice 0 * :a")
    send_plain(c, plain("alice", PASSWORD))
    c.expect(is_numeric("903"))
    c.send("QUIT")
    c.wait_closed()
    again = CertClient(srv.tls_port, cafile, certs["b"])
    assert external_login(again, "alice").command == "903"


def test_chathistory_targets_lists_private_conversations(server_factory):
    """draft/chathistory TARGETS: "channels and private conversations" with messages in the
    interval, oldest latest-message first; private ones only for their parties' accounts."""
    srv = server_factory("--register-limit", "10")  # four accounts from one address
    for nick in ("alice", "bob", "carol", "mallory"):
        register_and_leave(srv, nick)
    alice = sasl_client(srv.port, "alice", PASSWORD, caps=HISTORY_CAPS)
    bob = sasl_client(srv.port, "bob", PASSWORD, caps=HISTORY_CAPS)
    carol = sasl_client(srv.port, "carol", PASSWORD)
    carol.send("PRIVMSG alice :from carol")
    alice.expect("from carol")
    time.sleep(0.01)  # server times are in milliseconds: let the three differ
    alice.send("PRIVMSG #lobby :in the lobby")
    bob.expect("in the lobby")
    time.sleep(0.01)
    alice.send("PRIVMSG bob :to bob, latest")
    bob.expect("to bob, latest")

    def targets(client):
        client.send("CHATHISTORY TARGETS timestamp=2000-01-01T00:00:00.000Z "
                    "timestamp=2999-01-01T00:00:00.000Z 10")
        start, inside = batch_of(client)
        assert start.params[1] == "draft/chathistory-targets"
        return [m.params[1] for m in inside]

    assert targets(alice) == ["carol", "#lobby", "bob"]
    assert targets(bob) == ["#lobby", "alice"]
    mallory = sasl_client(srv.port, "mallory", PASSWORD, caps=HISTORY_CAPS)
    assert targets(mallory) == ["#lobby"]
    anon = cap_client(srv.port, "anon", HISTORY_CAPS)
    assert targets(anon) == ["#lobby"]


def test_registrations_per_address_are_limited(server_factory):
    """Issue 21.3: one address registered 40 accounts in 7 s. --register-limit N: N per address
    per hour, then FAIL REGISTER TEMPORARILY_UNAVAILABLE saying when; 0 turns REGISTER off."""
    srv = server_factory("--register-limit", "2")
    for nick in ("one", "two"):
        register_and_leave(srv, nick)
    c = Client(srv.port, "three")
    c.expect(is_numeric("366"))
    c.send("REGISTER * * :" + PASSWORD)
    line = c.expect(lambda l: Msg(l).command in ("REGISTER", "FAIL"))
    m = Msg(line)
    assert m.params[:3] == ["REGISTER", "TEMPORARILY_UNAVAILABLE", "three"], line
    assert "Too many accounts registered from your address" in m.text, line
    off = server_factory("--register-limit", "0")
    c = Client(off.port, "someone")
    c.expect(is_numeric("366"))
    c.send("REGISTER * * :" + PASSWORD)
    assert "turned off" in Msg(c.expect(is_command("FAIL"))).text


def test_failed_logins_per_address_are_limited(server_factory):
    """Issue 21.3: failed logins cost an argon2id check each on the account thread. Past
    --login-fail-limit failures from one address in 10 minutes, its logins are refused at once
    (904 saying how long to wait), even with the right password; failures are logged."""
    srv = server_factory("--login-fail-limit", "2")
    register_and_leave(srv, "alice")
    for _ in range(2):
        bad = sasl_client(srv.port, "alice", "not the password", expect_ok=False)
        bad.close()
    c = Client(srv.port, None)
    c.send("CAP LS 302")
    c.send("CAP REQ :sasl")
    c.expect(lambda l: Msg(l).command == "CAP" and Msg(l).params[1] == "ACK")
    c.send("NICK alice")
    c.send("USER alice 0 * :alice")
    c.send("AUTHENTICATE PLAIN")
    m = Msg(c.expect(lambda l: Msg(l).command in ("904", "903") or l == "AUTHENTICATE +"))
    assert m.command == "904" and "too many failed logins from your address" in m.text, m.line
    log = srv.read_log()
    assert log.count("login failed addr=127.0.0.1 account=alice mechanism=PLAIN") == 2, log
    # The refused third try is a failed login too, before any account is named.
    assert log.count('login failed addr=127.0.0.1 mechanism=PLAIN reason="too many failed '
                     'logins from the address"') == 1, log


def test_sasl_message_of_1200_bytes_is_taken(server):
    """A SASL message of 1,200 bytes (three full chunks, then "+") is decoded (here: not a
    valid PLAIN message, so 904); over 1,200 bytes, 905."""
    c = Client(server.port, None)
    c.send("CAP LS 302")
    c.send("CAP REQ :sasl")
    c.expect(lambda l: Msg(l).command == "CAP" and Msg(l).params[1] == "ACK")
    for total, want in ((1600, "905"), (1200, "904")):
        c.send("AUTHENTICATE PLAIN")
        c.expect(lambda l: l == "AUTHENTICATE +")
        for _ in range(total // 400):
            c.send("AUTHENTICATE " + "A" * 400)
        if want == "904":
            c.send("AUTHENTICATE +")
        assert Msg(c.expect(lambda l: Msg(l).command in ("904", "905"))).command == want


def test_cloak_accounts_shows_user_slash_account(server_factory):
    """--cloak-accounts on: a user logged in is shown as ~user@user/<account> (its address
    hidden) in its own prefix, WHOIS, WHO and NAMES; one who logs in later is changed with
    IRCv3 chghost ("CHGHOST <user> <host>", to those with the capability, itself included)."""
    srv = server_factory("--cloak-accounts", "on")
    register_and_leave(srv, "alice")
    alice = sasl_client(srv.port, "alice", PASSWORD)
    alice.send("WHOIS alice")
    assert Msg(alice.expect(is_numeric("311"))).params[2:4] == ["~alice", "user/alice"]
    bob = cap_client(srv.port, "bob", "chghost userhost-in-names")
    carol = cap_client(srv.port, "carol", "")
    bob.send("NAMES #lobby")
    assert "@alice!~alice@user/alice" in Msg(bob.expect(is_numeric("353"))).text.split()
    dave = cap_client(srv.port, "dave", "chghost")  # shares #lobby with bob
    # bob registers an account now: everyone with chghost sees his new host, he too
    bob.send("REGISTER * * :" + PASSWORD)
    lines = take_until(bob, is_command("CHGHOST"))
    assert any(Msg(l).command == "900" for l in lines)  # logged in, then shown anew
    change = Msg(lines[-1])
    assert change.prefix == "bob!~bob@127.0.0.1" and change.params == ["~bob", "user/bob"]
    assert Msg(dave.expect(is_command("CHGHOST"))).params == ["~bob", "user/bob"]
    carol.send("WHO bob")
    assert Msg(carol.expect(is_numeric("352"))).params[3] == "user/bob"
    assert not [l for l in barrier(carol) if "CHGHOST" in l]  # without the capability
    bob.send("PRIVMSG #lobby :cloaked")
    assert Msg(carol.expect(is_command("PRIVMSG"))).prefix == "bob!~bob@user/bob"


def test_cloak_off_by_default_shows_the_address(server):
    register_and_leave(server, "alice")
    alice = sasl_client(server.port, "alice", PASSWORD)
    alice.send("WHOIS alice")
    assert Msg(alice.expect(is_numeric("311"))).params[3] == "127.0.0.1"


def test_accounts_never_logged_into_expire(tmp_path, server_factory):
    """--account-expire-days (default 30): an account nobody logged into with SASL since it
    was registered is deleted once that old (its name free again); one that was logged into
    stays. The store is aged by hand between two runs of the server."""
    import sqlite3
    data = str(tmp_path / "data")
    first = server_factory("--data-dir", data)
    for nick in ("squat", "used"):
        register_and_leave(first, nick)
    sasl_client(first.port, "used", PASSWORD).close()
    first.stop()
    db = sqlite3.connect(tmp_path / "data" / "accounts.db")
    db.execute("UPDATE accounts SET created = created - 31 * 86400")
    db.commit()
    db.close()
    again = server_factory("--data-dir", data)
    sasl_client(again.port, "used", PASSWORD).close()
    failed = sasl_client(again.port, "squat", PASSWORD, expect_ok=False)
    failed.send("QUIT")
    failed.wait_closed()  # it held the nick while registering
    c = Client(again.port, "squat")  # registered (no 433): the name is free
    c.send("WHOIS squat")
    assert Msg(c.expect(is_numeric("311"))).params[1] == "squat"
    assert "squat expired" in again.read_log()
