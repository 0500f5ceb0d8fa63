"""tcpchatd end to end: process life cycle (signals, stdin), command line, address families."""
import os
import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import (ROOT_ARGS, SERVER_BIN, TIMEOUT, Client, Msg, barrier, free_port, is_command,
                      cap_ls, is_numeric)

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:", "WARNING: ThreadSanitizer",
                   "ERROR: LeakSanitizer")


def run(*args):
    """Runs tcpchatd with args to completion; returns (exit status, stdout, stderr)."""
    p = subprocess.run([SERVER_BIN] + ROOT_ARGS + list(args), stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=TIMEOUT)
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    for mark in SANITIZER_MARKS:
        assert mark not in err, err
    return p.returncode, out, err


# ---- signals and stdin ------------------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_graceful_shutdown(server_factory, client_factory, sig):
    srv = server_factory("-w", "2")
    clients = [client_factory(srv, "user%d" % i) for i in range(3)]
    unreg = client_factory(srv)
    unreg.send("CAP LS 302")  # a reply proves the server has taken the connection in
    cap_ls(unreg)
    for c in clients:
        barrier(c)
    rc = srv.stop(sig)
    assert rc == 0, open(srv.log_path, errors="replace").read()
    for c in clients + [unreg]:
        lines = c.wait_closed()
        assert "ERROR :Server shutting down" in lines, lines


def test_stdin_eof_does_not_stop_server(server_factory, client_factory):
    srv = server_factory(stdin=subprocess.DEVNULL)
    a = client_factory(srv, "alice")
    time.sleep(0.3)  # give the server time to see EOF (it must not react to it)
    assert srv.proc.poll() is None
    barrier(a)
    b = client_factory(srv, "bob")
    b.send("PRIVMSG #lobby :still up")
    assert Msg(a.expect(is_command("PRIVMSG", "bob", "#lobby"))).text == "still up"


def test_closing_stdin_pipe_does_not_stop_server(server_factory, client_factory):
    srv = server_factory()
    a = client_factory(srv, "alice")
    srv.say("last words")
    assert Msg(a.expect(is_command("NOTICE"))).text == "last words"
    srv.proc.stdin.close()
    time.sleep(0.3)  # not a speed assertion: the server must simply still be there
    assert srv.proc.poll() is None
    b = client_factory(srv, "bob")
    b.send("PRIVMSG #lobby :still up")
    assert Msg(a.expect(is_command("PRIVMSG", "bob", "#lobby"))).text == "still up"


# ---- command line -----------------------------------------------------------------------

@pytest.mark.parametrize("opt", ["--help", "-h"])
def test_help(opt):
    rc, out, err = run(opt)
    assert rc == 0, (out, err)
    text = out + err
    for option in ("--port", "--bind", "--workers", "--max-clients", "--sendq"):
        assert option in text, text


@pytest.mark.parametrize("opt", ["--version", "-V"])
def test_version(opt):
    rc, out, err = run(opt)
    assert rc == 0, (out, err)
    assert "tcpchat" in (out + err), (out, err)


@pytest.mark.parametrize("args", [
    ["--no-such-option"],
    ["-Z"],
    ["--port", "notaport"],
    ["--port", "70000"],
    ["--workers", "abc"],
    ["--log-level", "loud"],
    ["--max-clients", "-5"],
    ["--port"],  # missing argument
])
def test_bad_option_exits_1(args):
    rc, out, err = run(*args)
    assert rc == 1, (args, rc, out, err)
    assert err.strip(), "no message on stderr for %r" % (args,)


def test_port_in_use_exits_1(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        rc, out, err = run("--bind", "127.0.0.1", "--port", str(port))
    assert rc == 1, (rc, out, err)
    low = err.lower()
    assert "in use" in low or str(port) in low, err


@pytest.mark.parametrize("addr", ["999.1.1.1", "not an address", "192.0.2.1"])
def test_bad_bind_address_exits_1(addr):
    rc, out, err = run("--bind", addr, "--port", str(free_port()))
    assert rc == 1, (addr, rc, out, err)
    assert err.strip(), err


# ---- address families -------------------------------------------------------------------

def has_ipv6_loopback():
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


class ManualServer:
    """tcpchatd started with exactly the given address options (server_factory always adds
    --bind 127.0.0.1 and waits on IPv4)."""

    def __init__(self, args, probe_host):
        self.port = free_port()
        self.log_path = os.path.join(os.environ.get("TMPDIR", "/tmp"),
                                     "tcpchatd-manual-%d.log" % self.port)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([SERVER_BIN] + ROOT_ARGS + ["--port", str(self.port), "--server-name",
                                      "test.server"] + list(args),
                                     stdin=subprocess.PIPE, stdout=self.log, stderr=self.log)
        deadline = time.time() + TIMEOUT
        while True:
            assert self.proc.poll() is None, "tcpchatd exited: %s" % self.stop_and_log()[1]
            try:
                socket.create_connection((probe_host, self.port), timeout=1).close()
                return
            except OSError:
                assert time.time() < deadline, "tcpchatd did not listen on " + probe_host
                time.sleep(0.05)

    def stop_and_log(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        self.proc.stdin.close()
        with open(self.log_path, "rb") as f:
            return self.proc.returncode, f.read().decode("utf-8", "replace")


def check_stopped(srv):
    rc, err = srv.stop_and_log()
    for mark in SANITIZER_MARKS:
        assert mark not in err, err
    assert rc == 0, err


def chat_over(host, port):
    a = Client(port, "alice", host=host)
    b = Client(port, "bob", host=host)
    try:
        b.expect(is_numeric("366", "#lobby"))
        b.send("PRIVMSG #lobby :over " + host)
        assert Msg(a.expect(is_command("PRIVMSG", "bob", "#lobby"))).text == "over " + host
    finally:
        a.close()
        b.close()


@pytest.mark.skipif(not has_ipv6_loopback(), reason="no IPv6 loopback")
def test_ipv6_bind_loopback():
    srv = ManualServer(["--bind", "::1", "--log-level", "debug"], "::1")
    try:
        chat_over("::1", srv.port)
    finally:
        check_stopped(srv)


@pytest.mark.skipif(not has_ipv6_loopback(), reason="no IPv6 loopback")
def test_default_bind_serves_ipv4_and_ipv6():
    srv = ManualServer(["--log-level", "debug"], "127.0.0.1")
    try:
        a = Client(srv.port, "alice", host="127.0.0.1")
        b = Client(srv.port, "bob", host="::1")
        try:
            b.expect(is_numeric("366", "#lobby"))
            b.send("PRIVMSG #lobby :v6 to v4")
            assert Msg(a.expect(is_command("PRIVMSG", "bob", "#lobby"))).text == "v6 to v4"
        finally:
            a.close()
            b.close()
    finally:
        check_stopped(srv)


def test_workers_option_each_count_serves(server_factory, client_factory):
    for workers in ("1", "3"):
        srv = server_factory("-w", workers)
        users = [client_factory(srv, "w%s_%d" % (workers, i)) for i in range(4)]
        users[0].send("PRIVMSG #lobby :hello workers")
        for u in users[1:]:
            assert Msg(u.expect(is_command("PRIVMSG", users[0].nick))).text == "hello workers"


def test_log_lines_carry_syslog_priorities_for_the_journal(tmp_path):
    """Issue 20: with stderr going to journald (systemd sets JOURNAL_STREAM to that stream's
    device:inode), each line starts with its syslog priority ("<6>" info, "<4>" warning) and
    no time of its own; elsewhere lines keep their time and level."""
    log_path = tmp_path / "journal.log"
    port = free_port()
    with open(log_path, "wb") as log:
        st = os.fstat(log.fileno())
        env = dict(os.environ, JOURNAL_STREAM="%d:%d" % (st.st_dev, st.st_ino))
        proc = subprocess.Popen([SERVER_BIN, "--bind", "127.0.0.1", "--port", str(port),
                                 "--data-dir", str(tmp_path / "d")] + ROOT_ARGS,
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
    deadline = time.time() + TIMEOUT
    while b"listening" not in log_path.read_bytes():
        assert time.time() < deadline and proc.poll() is None, log_path.read_bytes()
        time.sleep(0.05)
    proc.terminate()
    assert proc.wait(timeout=TIMEOUT) == 0
    lines = [l for l in log_path.read_text().split("\n") if l]
    assert lines and all(re.match(r"^<[3-7]>", l) for l in lines), lines
    assert any(l.startswith("<6>tcpchatd ") and "listening" in l for l in lines), lines


def test_systemd_notify_ready_reloading_stopping(tmp_path):
    """Issue 20, systemd Type=notify: on NOTIFY_SOCKET the server says READY=1 once its port
    takes connections, RELOADING=1 (with MONOTONIC_USEC) and READY=1 around a SIGHUP reload,
    and STOPPING=1 on SIGTERM."""
    path = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(TIMEOUT)
    port = free_port()
    env = dict(os.environ, NOTIFY_SOCKET=path)
    log = open(tmp_path / "log", "wb")
    proc = subprocess.Popen([SERVER_BIN, "--bind", "127.0.0.1", "--port", str(port),
                             "--data-dir", str(tmp_path / "d")] + ROOT_ARGS,
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
    try:
        assert sock.recv(4096) == b"READY=1"
        socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT).close()  # it is so
        proc.send_signal(signal.SIGHUP)
        reloading = sock.recv(4096).decode()
        assert re.fullmatch(r"RELOADING=1\nMONOTONIC_USEC=\d+", reloading), reloading
        assert sock.recv(4096) == b"READY=1"
        proc.terminate()
        assert sock.recv(4096) == b"STOPPING=1"
        assert proc.wait(timeout=TIMEOUT) == 0, (tmp_path / "log").read_text(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
        sock.close()
        log.close()
