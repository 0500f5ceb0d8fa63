"""tcpchatd end to end: operators from the config file. OPER (381, 464, 491, +o), WHOIS 313,
LUSERS 252, KILL, WALLOPS, ANNOUNCE, REHASH and SIGHUP (a changed MOTD, a new operator)."""
import signal
import subprocess
import time

import pytest

from conftest import (take_until, SERVER_BIN, TIMEOUT, Msg, barrier, closing_reason, is_command,
                      cap_ls, is_numeric)


def mkpasswd(password):
    p = subprocess.run([SERVER_BIN, "--mkpasswd"], input=(password + "\n").encode(),
                       capture_output=True, timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr
    return p.stdout.decode().strip()


@pytest.fixture(scope="module")
def hashes():
    return {"alice": mkpasswd("wonderland"), "zed": mkpasswd("zzz")}


def conf_text(hashes, motd, opers=("alice",), extra=""):
    text = "[server]\nmotd = %s\n%s\n" % (motd, extra)
    for name in opers:
        text += "[oper \"%s\"]\npassword = %s\nhost = *@127.0.0.1\n" % (name, hashes[name])
    return text


@pytest.fixture
def setup(tmp_path, hashes, server_factory, client_factory):
    """A server on 2 workers with operator alice (password wonderland); returns
    (server, config path, motd path, make_user)."""
    motd = tmp_path / "motd"
    motd.write_text("first motd\n")
    conf = tmp_path / "tcpchatd.conf"
    conf.write_text(conf_text(hashes, motd))
    srv = server_factory("--config", str(conf), "-w", "2")

    def user(nick):
        return client_factory(srv, nick)

    return srv, conf, motd, user


def oper(c, name="alice", password="wonderland"):
    c.send("OPER %s %s" % (name, password))
    c.expect(is_numeric("381"))
    c.expect(lambda l: Msg(l).command == "MODE" and Msg(l).text == "+o")


# ---- OPER -------------------------------------------------------------------------------

def test_oper_success_gives_381_and_plus_o(setup):
    _, _, _, user = setup
    a = user("alice")
    a.send("OPER alice wonderland")
    m = Msg(a.expect(is_numeric("381")))
    assert m.text == "You are now an IRC operator"
    m = Msg(a.expect(is_command("MODE", "alice", "alice")))
    assert m.text == "+o"
    a.send("MODE alice")
    assert "o" in Msg(a.expect(is_numeric("221"))).params[1]


def test_stats_o_lists_the_oper_entries_to_operators_only(setup):
    """RFC 2812 3.4.4 STATS o: RPL_STATSOLINE (243) per entry, then 219; not an operator's
    business of anyone else (481)."""
    _, _, _, user = setup
    a, b = user("alice"), user("bob")
    b.send("STATS o")
    b.expect(is_numeric("481"))
    oper(a)
    a.send("STATS o")
    lines = [Msg(l) for l in take_until(a, is_numeric("219"))]
    assert [(m.command, m.params[1:]) for m in lines] == [
        ("243", ["O", "*@127.0.0.1", "*", "alice"]),
        ("219", ["o", "End of /STATS report"])]


def test_oper_wrong_password_464(setup):
    _, _, _, user = setup
    a = user("alice")
    a.send("OPER alice wrong")
    a.expect(is_numeric("464"))
    a.send("KILL alice :x")  # still not an operator
    a.expect(is_numeric("481"))


def test_three_wrong_opers_close_the_connection(setup):
    srv, _, _, user = setup
    a = user("alice")
    for i in range(3):
        a.send("OPER alice wrong%d" % i)
        a.expect(is_numeric("464"))
    assert closing_reason(a.wait_closed()) == "Too many failed OPER attempts"
    log = srv.read_log()
    assert log.count('oper failed addr=127.0.0.1 oper=alice nick=alice reason="bad password"') \
        == 3, log


def test_oper_guessing_does_not_stall_the_worker(tmp_path, hashes, server_factory,
                                                 client_factory):
    """Issue 21.1: argon2id (tens of ms, 64 MiB) ran on the worker serving the guesser, so
    everyone on that worker waited. With one worker, ten guesses queued at once must not hold
    up a chat on the same worker: the chat's round trips all complete while the guesses are
    still being checked (on the account thread, one at a time)."""
    conf = tmp_path / "tcpchatd.conf"
    motd = tmp_path / "motd"
    motd.write_text("motd\n")
    conf.write_text(conf_text(hashes, motd))
    srv = server_factory("--config", str(conf), "-w", "1")
    a, b = client_factory(srv, "chatter"), client_factory(srv, "listener")
    guessers = [client_factory(srv, "guess%d" % i) for i in range(10)]
    for g in guessers:
        g.send("OPER alice wrong")
    for i in range(20):
        a.send("PRIVMSG listener :ping %d" % i)
        assert Msg(b.expect(is_command("PRIVMSG", "chatter"))).text == "ping %d" % i
        b.send("PRIVMSG chatter :pong %d" % i)
        assert Msg(a.expect(is_command("PRIVMSG", "listener"))).text == "pong %d" % i
    answered = 0
    for g in guessers:
        g._fill(0)
        answered += any(Msg(l).command == "464" for l in g.lines)
    assert answered < len(guessers), "the chat waited for every guess to be checked"
    for g in guessers:  # and each guess is answered in the end
        g.expect(is_numeric("464"))


def test_oper_unknown_name_491(setup):
    _, _, _, user = setup
    a = user("alice")
    a.send("OPER nobody wonderland")
    assert Msg(a.expect(is_numeric("491"))).text == "No O-lines for your host"


def test_oper_host_mismatch_491(tmp_path, hashes, server_factory, client_factory):
    conf = tmp_path / "c.conf"
    conf.write_text("[oper \"alice\"]\npassword = %s\nhost = *@10.9.8.7\n" % hashes["alice"])
    srv = server_factory("--config", str(conf))
    a = client_factory(srv, "alice")
    a.send("OPER alice wonderland")
    a.expect(is_numeric("491"))


def test_oper_needs_params_and_registration(setup):
    srv, _, _, user = setup
    a = user("alice")
    a.send("OPER alice")
    a.expect(is_numeric("461", "OPER"))


def test_whois_313_and_lusers_252(setup):
    _, _, _, user = setup
    a, b = user("alice"), user("bob")
    b.send("LUSERS")
    seen = take_until(b, is_numeric("266"))
    assert not [l for l in seen if Msg(l).command == "252"], seen  # no operators: no 252
    b.send("WHOIS alice")
    lines = [Msg(l) for l in barrier(b)]
    assert not [m for m in lines if m.command == "313"]
    oper(a)
    b.send("WHOIS alice")
    m = Msg(b.expect(is_numeric("313", "alice")))
    assert m.text == "is an IRC operator"
    b.send("LUSERS")
    assert Msg(b.expect(is_numeric("252"))).params[1] == "1"
    # Dropping +o is the user's own choice.
    a.send("MODE alice -o")
    assert Msg(a.expect(is_command("MODE", "alice", "alice"))).text == "-o"
    b.send("LUSERS")
    seen = take_until(b, is_numeric("266"))
    assert not [l for l in seen if Msg(l).command == "252"], seen
    a.send("WALLOPS :no longer")
    a.expect(is_numeric("481"))


# ---- KILL -------------------------------------------------------------------------------

def test_kill_disconnects_victim_and_others_see_quit(setup):
    _, _, _, user = setup
    a, victim, watcher = user("alice"), user("bob"), user("carol")
    oper(a)
    barrier(watcher)
    a.send("KILL bob :spamming")
    lines = victim.wait_closed()
    kills = [Msg(l) for l in lines if Msg(l).command == "KILL"]
    assert kills and kills[0].params == ["bob", "spamming"], lines
    assert closing_reason(lines) == "Killed (alice (spamming))"
    q = Msg(watcher.expect(is_command("QUIT", "bob")))
    assert q.text == "Killed (alice (spamming))"
    a.send("WHOIS bob")
    a.expect(is_numeric("401", "bob"))


def test_who_flags_mark_operators(setup):
    """Modern IRC RPL_WHOREPLY flags: H/G, then * for an operator, then the channel
    status."""
    _, _, _, user = setup
    a = user("alice")
    b = user("bob")
    oper(a)
    a.send("JOIN #ops")
    a.expect(is_numeric("366"))
    b.send("JOIN #ops")
    b.expect(is_numeric("366"))
    b.send("WHO #ops")
    rows = {Msg(l).params[5]: Msg(l).params[6] for l in take_until(b, is_numeric("315"))
            if Msg(l).command == "352"}
    assert rows == {"alice": "H*@", "bob": "H"}, rows
    a.send("AWAY :away")
    a.expect(is_numeric("306"))
    b.send("WHO alice")
    rows = [Msg(l).params[6] for l in take_until(b, is_numeric("315")) if Msg(l).command == "352"]
    assert rows == ["G*"], rows


def test_kill_needs_oper_481(setup):
    _, _, _, user = setup
    a, b = user("alice"), user("bob")
    b.send("KILL alice :no")
    m = Msg(b.expect(is_numeric("481")))
    assert m.text == "Permission Denied- You're not an IRC operator"
    a.send("PING :still")
    a.expect(is_command("PONG"))


def test_kill_unknown_nick_401_and_missing_reason_461(setup):
    _, _, _, user = setup
    a = user("alice")
    oper(a)
    a.send("KILL ghost :bye")
    a.expect(is_numeric("401", "ghost"))
    a.send("KILL ghost")
    a.expect(is_numeric("461", "KILL"))


# ---- WALLOPS and ANNOUNCE ---------------------------------------------------------------

def test_wallops_reaches_plus_w_users_only(setup):
    _, _, _, user = setup
    a = user("alice")
    ws = [user("w%d" % i) for i in range(3)]  # spread over both workers
    plain = [user("p%d" % i) for i in range(3)]
    for w in ws:
        w.send("MODE %s +w" % w.nick)
        w.expect(is_command("MODE", w.nick, w.nick))
    plain[0].send("MODE p0 +w")
    plain[0].expect(is_command("MODE", "p0", "p0"))
    plain[0].send("MODE p0 -w")
    plain[0].expect(is_command("MODE", "p0", "p0"))
    oper(a)
    src = "alice!~alice@127.0.0.1"
    a.send("WALLOPS :server going down soon")
    for w in ws:
        m = Msg(w.expect(is_command("WALLOPS")))
        assert m.prefix == src and m.text == "server going down soon", m
    for p in plain:
        lines = barrier(p)
        assert not [l for l in lines if "WALLOPS" in l], lines
    lines = barrier(a)  # the sender has no +w
    assert not [l for l in lines if "WALLOPS" in l], lines


def test_wallops_needs_oper(setup):
    _, _, _, user = setup
    b = user("bob")
    b.send("WALLOPS :hi")
    b.expect(is_numeric("481"))


def test_announce_reaches_everyone(setup, client_factory):
    srv, _, _, user = setup
    a = user("alice")
    others = [user("u%d" % i) for i in range(4)]
    unregistered = client_factory(srv)
    unregistered.send("CAP LS 302")
    cap_ls(unregistered)
    oper(a)
    a.send("ANNOUNCE :maintenance at noon")
    for c in [a] + others:
        m = Msg(c.expect(is_command("NOTICE")))
        assert m.prefix == srv.name and m.params == [c.nick, "maintenance at noon"], m
    m = Msg(unregistered.expect(is_command("NOTICE")))
    assert m.params == ["*", "maintenance at noon"]


def test_announce_skips_a_web_request_in_progress(tmp_path, hashes, server_factory,
                                                  client_factory):
    """An announcement goes to IRC connections only: an HTTP request on the web port that is
    still arriving gets its response and nothing before it."""
    import socket
    from test_websocket import read_until_closed, web_server
    motd = tmp_path / "motd"
    motd.write_text("motd\n")
    conf = tmp_path / "tcpchatd.conf"
    conf.write_text(conf_text(hashes, motd))
    srv = web_server(server_factory, "--config", str(conf), "-w", "1")
    with socket.create_connection(("127.0.0.1", srv.http_port), timeout=TIMEOUT) as web:
        web.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # not done yet
        a = client_factory(srv, "alice")
        oper(a)
        a.send("ANNOUNCE :maintenance at noon")
        a.expect(is_command("NOTICE"))
        barrier(a)
        web.sendall(b"Connection: close\r\n\r\n")
        response = read_until_closed(web)
    assert response.startswith(b"HTTP/1.1 200 "), response[:200]
    assert b"maintenance" not in response


def test_announce_needs_oper(setup):
    _, _, _, user = setup
    b = user("bob")
    b.send("ANNOUNCE :hi")
    b.expect(is_numeric("481"))


# ---- REHASH and SIGHUP ------------------------------------------------------------------

def motd_text(c):
    c.send("MOTD")
    lines = []
    while True:
        m = Msg(c.expect(lambda l: Msg(l).command in ("372", "376", "422")))
        if m.command != "372":
            return lines
        lines.append(m.text)


def test_rehash_picks_up_motd_and_new_oper(setup, hashes):
    srv, conf, motd, user = setup
    a, z = user("alice"), user("zed")
    assert motd_text(z) == ["- first motd"]
    z.send("OPER zed zzz")
    z.expect(is_numeric("491"))
    z.send("REHASH")
    z.expect(is_numeric("481"))

    motd.write_text("second motd\n")
    conf.write_text(conf_text(hashes, motd, opers=("alice", "zed")))
    oper(a)
    a.send("REHASH")
    m = Msg(a.expect(is_numeric("382")))
    assert m.params[1] == str(conf) and m.text == "Rehashing"
    m = Msg(a.expect(is_command("NOTICE")))
    assert m.text.startswith("Rehash done"), m
    assert motd_text(z) == ["- second motd"]
    z.send("OPER zed zzz")
    z.expect(is_numeric("381"))
    # Operators already logged in stay so.
    a.send("WALLOPS :still here")
    lines = barrier(a)
    assert not [l for l in lines if " 481 " in l], lines


def test_rehash_with_bad_config_keeps_settings(setup, hashes):
    srv, conf, motd, user = setup
    a = user("alice")
    oper(a)
    conf.write_text("[server]\nmotd = %s\nflood-rate = lots\n" % motd)
    a.send("REHASH")
    a.expect(is_numeric("382"))
    m = Msg(a.expect(is_command("NOTICE")))
    assert m.text.startswith("Rehash failed"), m
    assert "%s:3: flood-rate wants" % conf in m.text, m
    assert motd_text(a) == ["- first motd"]
    a.send("OPER alice wonderland")  # the old operators are still there
    a.expect(is_numeric("381"))


def test_sighup_rehashes(setup, hashes):
    srv, conf, motd, user = setup
    z = user("zed")
    motd.write_text("after hangup\n")
    conf.write_text(conf_text(hashes, motd, opers=("zed",)))
    srv.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + TIMEOUT
    while motd_text(z) != ["- after hangup"]:
        assert time.time() < deadline, "MOTD not reloaded after SIGHUP"
        time.sleep(0.05)
    z.send("OPER zed zzz")
    z.expect(is_numeric("381"))
    z.send("OPER alice wonderland")  # removed from the file
    z.expect(is_numeric("491"))
    assert srv.proc.poll() is None


def test_rehash_under_traffic(setup):
    """Reloads while users chat: nothing is lost, and TSan sees no race on the settings."""
    srv, conf, motd, user = setup
    a, b = user("alice"), user("bob")
    oper(a)
    for i in range(5):
        b.send("PRIVMSG #lobby :msg %d" % i)
        a.send("REHASH")
        srv.proc.send_signal(signal.SIGHUP)
    msgs, notices = [], []
    deadline = time.time() + TIMEOUT
    while len(msgs) < 5 or len(notices) < 5:
        assert time.time() < deadline, (msgs, notices)
        m = Msg(a.expect(lambda l: Msg(l).command in ("PRIVMSG", "NOTICE")))
        (msgs if m.command == "PRIVMSG" else notices).append(m.text)
    assert msgs == ["msg %d" % i for i in range(5)]
    assert all(n.startswith("Rehash done") for n in notices), notices


# ---- SAMODE, DIE, RESTART (issue 20) ----------------------------------------------------

def test_samode_overrides_channel_modes_and_is_logged(setup):
    srv, _, _, user = setup
    bob = user("bob")  # the channel's operator
    bob.send("JOIN #quiet")
    bob.expect(is_numeric("366", "#quiet"))
    carol = user("carol")
    carol.send("JOIN #quiet")
    bob.expect(is_command("JOIN", "carol", "#quiet"))
    a = user("alice")
    a.send("SAMODE #quiet +o carol")
    a.expect(is_numeric("481"))  # not an operator yet
    oper(a)
    a.send("MODE #quiet +m")
    a.expect(is_numeric("442"))  # plain MODE still asks for membership
    a.send("SAMODE #quiet +mo carol")
    m = Msg(bob.expect(is_command("MODE", "alice", "#quiet")))
    assert m.params[1:] == ["+mo", "carol"], m
    carol.expect(is_command("MODE", "alice", "#quiet"))
    a.send("SAMODE #quiet")
    assert Msg(a.expect(is_numeric("324"))).params[2] == "+mnt"
    a.send("SAMODE nobody +i")
    a.expect(is_numeric("403"))
    deadline = time.time() + TIMEOUT
    while "operator override" not in srv.read_log():
        assert time.time() < deadline, srv.read_log()
        time.sleep(0.05)
    assert "SAMODE" in srv.read_log() and "+mo carol" in srv.read_log()


def test_die_tells_everyone_and_stops(setup):
    srv, _, _, user = setup
    a, b = user("alice"), user("bob")
    b.send("DIE")
    b.expect(is_numeric("481"))
    oper(a)
    a.send("DIE :disk swap")
    for c in (a, b):
        m = Msg(c.expect(is_command("NOTICE")))
        assert m.params[1] == "Server going down by alice: disk swap", m
        c.expect(lambda l: l.startswith("ERROR "))
        c.wait_closed()
    assert srv.proc.wait(timeout=TIMEOUT) == 0
    assert "stop asked" in srv.read_log()


def test_restart_runs_the_server_again_with_its_history(setup, client_factory):
    srv, _, _, user = setup
    a, b = user("alice"), user("bob")
    b.send("RESTART")
    b.expect(is_numeric("481"))
    b.send("PRIVMSG #lobby :said before the restart")
    a.expect(is_command("PRIVMSG", "bob", "#lobby"))
    oper(a)
    a.send("RESTART :new build")
    for c in (a, b):
        m = Msg(c.expect(is_command("NOTICE")))
        assert m.params[1] == "Server restarting by alice: new build", m
        c.wait_closed()
    pid = srv.proc.pid
    deadline = time.time() + TIMEOUT
    while True:  # the same process listens again
        assert srv.proc.poll() is None, srv.read_log()
        try:
            again = client_factory(srv, "carol", join=None)
            break
        except OSError:
            assert time.time() < deadline, srv.read_log()
            time.sleep(0.05)
    assert srv.proc.pid == pid
    again.expect(lambda l: "said before the restart" in l)  # the lobby's replay
    again.send("OPER alice wonderland")  # the same configuration
    again.expect(is_numeric("381"))
    assert "starting again (RESTART)" in srv.read_log()
